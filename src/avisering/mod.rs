//! Ändringsavisering and urval (Navet 3.1–3.4, 9.6, bilagor 1–2; DOMAIN.md §5): each
//! organisation's orders, what each applied load means for each avisering order, whom each
//! urval order selects, and the deliveries both are fetched as.

pub mod feed;
pub mod select;
pub mod urval;

use crate::register::{orders as order, urval_orders, Organisation};

/// One of an organisation's delivery orders: avisering or urval.
#[derive(Debug, Clone, Copy)]
pub enum OrderRef<'a> {
    /// An avisering order.
    Avisering(&'a order::Order),
    /// An urval order.
    Urval(&'a urval_orders::UrvalOrder),
}

impl<'a> OrderRef<'a> {
    /// The organisation's delivery order with this id.
    pub fn find(org: &'a Organisation, id: &str) -> Option<OrderRef<'a>> {
        org.avisering
            .iter()
            .find(|o| o.id == id)
            .map(OrderRef::Avisering)
            .or_else(|| org.urval.iter().find(|o| o.id == id).map(OrderRef::Urval))
    }

    /// Whether its deliveries have a file B (fewer terms for protected persons).
    pub fn split(self) -> bool {
        match self {
            OrderRef::Avisering(o) => o.split(),
            OrderRef::Urval(o) => o.split(),
        }
    }

    /// Its records' posttyp, as a delivery header says: an urval delivers whole records.
    pub fn posttyp(self) -> &'static str {
        match self {
            OrderRef::Avisering(o) => match o.posttyp {
                order::Posttyp::Andring => "andringspost",
                _ => "totalpost",
            },
            OrderRef::Urval(_) => "totalpost",
        }
    }

    /// What delivery `lopnummer` is, as its file's `Bestallningstyp` says: an order's
    /// grunduttag is its delivery 1 (Navet 3.1) — a receiver's load replaces its store with
    /// it, and the ändringsavisering follows in `LopNr` order.
    pub fn bestallningstyp(self, lopnummer: u64) -> &'static str {
        use crate::loadfile::header::{ANDRINGSAVISERING, GRUNDUTTAG, URVAL};
        match self {
            OrderRef::Avisering(o) if o.grunduttag && lopnummer == 1 => GRUNDUTTAG,
            OrderRef::Avisering(_) => ANDRINGSAVISERING,
            OrderRef::Urval(_) => URVAL,
        }
    }

    /// Whether its population is an infil (`lamnaInfil`).
    pub fn takes_infil(self) -> bool {
        match self {
            OrderRef::Avisering(o) => o.population == order::Population::Infil,
            OrderRef::Urval(o) => o.infilrutin().is_some(),
        }
    }
}
