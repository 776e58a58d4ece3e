//! Who calls, under which order: the contract checks every operation needs, made once before
//! any operation runs — the request's `OrgNr` is the certificate's organisation (fault 1201),
//! and its `BestallningsId` is one of that organisation's (fault 1202).

use std::sync::Arc;

use crate::avisering::feed::OrderKey;
use crate::avisering::OrderRef;
use crate::ids::BestallningsId;
use crate::register::Organisation;
use crate::soap::request::Bestallning;
use crate::soap::Fault;

/// A caller that passed the contract checks.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its register entry as it was when the request arrived.
    pub org: Arc<Organisation>,
    /// The order it named, one of its own.
    pub order_id: BestallningsId,
}

impl Caller {
    /// Checks the request's `Bestallning` against the organisation the certificate belongs to.
    pub fn check(org: Arc<Organisation>, bestallning: &Bestallning) -> Result<Caller, Fault> {
        if bestallning.org_nr != org.orgnr {
            return Err(Fault::OrgMismatch);
        }
        if !org.allows_bestallning(bestallning.bestallnings_id.as_str()) {
            return Err(Fault::UnknownBestallning);
        }
        Ok(Caller {
            org,
            order_id: bestallning.bestallnings_id.clone(),
        })
    }

    /// Where the feed keeps the named order's deliveries: under this organisation and order.
    pub fn feed_key(&self) -> OrderKey {
        OrderKey::new(&self.org.orgnr, self.order_id.as_str())
    }

    /// The caller's delivery order (avisering or urval) it named, or a clear fault.
    pub fn delivery_order(&self) -> Result<OrderRef<'_>, Fault> {
        OrderRef::find(&self.org, self.order_id.as_str()).ok_or_else(|| {
            Fault::BadRequest(format!(
                "BestallningsId {} is not an avisering or urval order",
                self.order_id
            ))
        })
    }
}
