//! `lamnaInfil`: one page of an infil order's new population (Navet bilaga 1). The last page
//! puts the whole infil in force at once (avisering, and urval run at night), or, for an
//! order answered directly (`svar_direkt`), runs the urval at once: the answer names its
//! delivery.

use super::{Caller, Context, OpError};
use crate::avisering::feed::Staged;
use crate::avisering::OrderRef;
use crate::ids::pnr::Pnr;
use crate::register::urval_orders::Infilrutin;
use crate::soap::request::{bad, bestallning, Bestallning, Element};
use crate::soap::request::{MAX_INFIL_PAGE, MAX_INFIL_PAGES};
use crate::soap::response;
use crate::soap::Fault;

/// `LamnaInfilRequest{Bestallning, Sida, AntalSidor, PersonNr*, SvarDirekt?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LamnaInfil {
    /// The infil order.
    pub bestallning: Bestallning,
    /// This page, from 1.
    pub sida: u64,
    /// Pages in all.
    pub antal_sidor: u64,
    /// The identity numbers of this page.
    pub personer: Vec<Pnr>,
    /// `SvarDirekt`: answer the complete infil at once with a delivery (bilaga 1 c).
    pub svar_direkt: bool,
}

impl LamnaInfil {
    /// Reads the request from its operation element.
    pub fn parse(op: &Element) -> Result<LamnaInfil, Fault> {
        let number = |name: &'static str| -> Result<u64, Fault> {
            op.required(name)?
                .value()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(format!("{name} must be a whole number from 1")))
        };
        let (sida, antal_sidor) = (number("Sida")?, number("AntalSidor")?);
        if antal_sidor > MAX_INFIL_PAGES || sida > antal_sidor {
            return Err(bad(format!(
                "Sida {sida} of AntalSidor {antal_sidor}: at most {MAX_INFIL_PAGES} pages, Sida not past AntalSidor"
            )));
        }
        let mut personer = Vec::new();
        for (i, el) in op.children_named("PersonNr").enumerate() {
            let v = el
                .value()
                .ok_or_else(|| bad(format!("PersonNr {} is empty", i + 1)))?;
            personer.push(Pnr::parse(v).map_err(|e| bad(format!("PersonNr {}: {e}", i + 1)))?);
        }
        if personer.len() > MAX_INFIL_PAGE {
            return Err(bad(format!(
                "more than {MAX_INFIL_PAGE} PersonNr in one page"
            )));
        }
        let svar_direkt = match op.child("SvarDirekt")?.and_then(Element::value) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(bad("SvarDirekt must be true or false")),
        };
        Ok(LamnaInfil {
            bestallning: bestallning(op)?,
            sida,
            antal_sidor,
            personer,
            svar_direkt,
        })
    }

    /// Stages the page; on the last one, replaces the infil or answers it directly.
    pub async fn apply(self, cx: &Context<'_>, caller: &Caller) -> Result<Vec<u8>, OpError> {
        let order_id = caller.order_id.to_string();
        let key = caller.feed_key();
        let order = caller.delivery_order()?;
        if !order.takes_infil() {
            return Err(Fault::BadRequest(format!(
                "order {order_id} takes its population from sökbegrepp, not from an infil"
            ))
            .into());
        }
        let rutin = match order {
            OrderRef::Urval(u) => u.infilrutin(),
            OrderRef::Avisering(_) => None,
        };
        if self.svar_direkt && rutin != Some(Infilrutin::SvarDirekt) {
            return Err(Fault::BadRequest(format!(
                "order {order_id} is not answered directly (SvarDirekt): its infil is used at the nightly run"
            ))
            .into());
        }
        let org = caller.org.clone();
        let now = cx.now;
        let id = cx.request_id;
        let LamnaInfil {
            sida,
            antal_sidor,
            personer,
            ..
        } = self;
        cx.on_feed(move |feed, store| {
            if feed.cursor(&key)?.is_none() {
                return Err(Fault::BadRequest(format!(
                    "order {order_id} is not active yet (it is taken up when the register is next reloaded)"
                ))
                .into());
            }
            if rutin == Some(Infilrutin::Enstaka) && feed.urval_state(&key)?.runs > 0 {
                return Err(Fault::BadRequest(format!(
                    "order {order_id} (infil = enstaka) has run; a new run needs a new order (bilaga 1 a)"
                ))
                .into());
            }
            let pnrs = match feed.stage_pages(&key, sida, antal_sidor, &personer)? {
                Staged::Receiving { pages, of } => {
                    return Ok(response::lamna_infil(pages, of, None, None))
                }
                Staged::Complete(pnrs) => pnrs,
            };
            let n = pnrs.len() as u64;
            let Some(OrderRef::Urval(order)) = OrderRef::find(&org, &order_id)
                .filter(|_| rutin == Some(Infilrutin::SvarDirekt))
            else {
                let n = feed.replace_infil(&key, pnrs)?;
                tracing::info!(request_id = %id, persons = n, "infil replaced");
                return Ok(response::lamna_infil(antal_sidor, antal_sidor, Some(n), None));
            };
            let produced = feed.svar_direkt(store, &org, order, &pnrs, now)?;
            tracing::info!(request_id = %id, persons = n, lopnummer = produced.lopnummer, "infil answered directly");
            Ok(response::lamna_infil(
                antal_sidor,
                antal_sidor,
                Some(n),
                Some(produced.lopnummer),
            ))
        })
        .await
    }
}
