//! `hamtaAvisering`: one page of one file of an order's delivery (avisering or urval).
//! Asking for löpnummer N acknowledges every delivery before it (DOMAIN.md §5).

use super::{Caller, Context, OpError, Trail};
use crate::avisering::select::Fil;
use crate::avisering::urval::UrvalTyp;
use crate::soap::request::{bad, bestallning, Bestallning, Element};
use crate::soap::response::{self, AviseringPage, UrvalInfo};
use crate::soap::Fault;

/// `HamtaAviseringRequest{Bestallning, Lopnummer, Fil?, Sida?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HamtaAvisering {
    /// The avisering or urval order.
    pub bestallning: Bestallning,
    /// The delivery; asking for it acknowledges every earlier one.
    pub lopnummer: u64,
    /// File `A` (default) or `B`.
    pub fil_b: bool,
    /// Page, from 1.
    pub sida: u64,
}

impl HamtaAvisering {
    /// Reads the request from its operation element.
    pub fn parse(op: &Element) -> Result<HamtaAvisering, Fault> {
        let number = |name: &'static str, default: Option<u64>| -> Result<u64, Fault> {
            match (op.child(name)?.and_then(Element::value), default) {
                (Some(v), _) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(format!("{name} must be a whole number from 1"))),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(bad(format!("element {name} is missing"))),
            }
        };
        let fil_b = match op.child("Fil")?.and_then(Element::value) {
            None | Some("A") => false,
            Some("B") => true,
            Some(_) => return Err(bad("Fil must be A or B")),
        };
        Ok(HamtaAvisering {
            bestallning: bestallning(op)?,
            lopnummer: number("Lopnummer", None)?,
            fil_b,
            sida: number("Sida", Some(1))?,
        })
    }

    /// Acknowledges the earlier deliveries and answers the page asked for (or `EJ_KLAR`).
    /// The store work runs off the async workers.
    pub async fn apply(
        self,
        cx: &Context<'_>,
        caller: &Caller,
        trail: &mut Trail,
    ) -> Result<Vec<u8>, OpError> {
        let HamtaAvisering {
            lopnummer,
            fil_b,
            sida,
            ..
        } = self;
        let fil = if fil_b { Fil::B } else { Fil::A };
        let order = super::delivery_order_with(caller, fil)?;
        let posttyp = order.posttyp();
        let bestallningstyp = order.bestallningstyp(lopnummer);
        let page_size = cx.page_size;
        let key = caller.feed_key();
        let now = cx.now;
        // What leaves is decided now, with the receiver's register entry of this moment
        // (DOMAIN.md §4), not with the access the delivery was produced under.
        let access = caller.org.access();
        let page = cx
            .on_feed(move |feed, store| {
                let Some(header) = super::asked_delivery(feed, &key, lopnummer, now)? else {
                    return Ok(None);
                };
                let antal = header.antal[usize::from(fil_b)];
                let sidor = antal.div_ceil(page_size).max(1);
                if sida > sidor {
                    return Err(Fault::BadRequest(format!(
                        "Sida {sida}: file {} of delivery {lopnummer} has {sidor} page(s)",
                        if fil_b { "B" } else { "A" }
                    ))
                    .into());
                }
                // Protection reached through hänvisning is the store's of this moment too.
                let snapshot = store.snapshot();
                let mut records: Vec<(crate::ids::Pnr, Vec<u8>)> = Vec::new();
                for (pnr, r) in
                    feed.records(&key, lopnummer, fil, (sida - 1) * page_size, page_size)?
                {
                    if let Some(body) = r.render_for(&access, &snapshot)? {
                        records.push((pnr, body));
                    }
                }
                let meta = feed.urval_meta(&key, lopnummer)?;
                Ok(Some((header, sidor, records, meta)))
            })
            .await?;
        let Some((header, sidor, records, meta)) = page else {
            return Ok(response::avisering(None, &[]));
        };
        trail.returned = records.iter().map(|(p, _)| p.as_str().to_owned()).collect();
        let urval = meta.map(|m| UrvalInfo {
            typ: m.typ.name(),
            slumpfro: m.slumpfro,
            undergrupper: m.undergrupper,
            ej_funna: matches!(m.typ, UrvalTyp::Infil | UrvalTyp::SvarDirekt).then_some(m.ej_funna),
        });
        let info = AviseringPage {
            lopnummer,
            posttyp,
            fil: if fil_b { "B" } else { "A" },
            skapad: header
                .skapad
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            antal: header.antal,
            antal_sidor: sidor,
            sida,
            bestallningstyp,
            urval,
        };
        let bodies: Vec<&[u8]> = records.iter().map(|(_, r)| r.as_slice()).collect();
        Ok(response::avisering(Some(&info), &bodies))
    }
}
