//! `personpostXML`: one person by identity number.

use super::{Caller, Context, OpError, Trail};
use crate::access::{Access, View};
use crate::ids::pnr::Pnr;
use crate::soap::request::{bad, bestallning, Bestallning, Element};
use crate::soap::response::{self, Answer};
use crate::soap::Fault;
use crate::store::Snapshot;

/// `PersonpostRequest{Bestallning, PersonId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personpost {
    /// The order.
    pub bestallning: Bestallning,
    /// The number asked for.
    pub person_id: Pnr,
}

impl Personpost {
    /// Reads the request from its operation element.
    pub fn parse(op: &Element) -> Result<Personpost, Fault> {
        let v = op
            .required("PersonId")?
            .value()
            .ok_or_else(|| bad("PersonId is empty"))?;
        Ok(Personpost {
            bestallning: bestallning(op)?,
            person_id: Pnr::parse(v).map_err(|e| bad(format!("PersonId: {e}")))?,
        })
    }

    /// Looks the person up in one snapshot and renders what the caller may see.
    pub fn apply(
        self,
        cx: &Context<'_>,
        caller: &Caller,
        trail: &mut Trail,
    ) -> Result<Vec<u8>, OpError> {
        let access = caller.org.access();
        let posts = run(&cx.store.snapshot(), &access, &self.person_id)?;
        trail.answered(&posts);
        Ok(response::answer_at(Answer::Personpost, cx.version, &posts))
    }
}

/// The answer to a lookup: the person as the caller may see it, or nothing.
///
/// Old and new numbers (hänvisning) are separate records: a lookup answers the record of the
/// number asked for, whose `HanvisningsPersonNr` points the way the register holds it.
///
/// A person is protected under every number: the snapshot says whether a record linked by
/// hänvisning (either way) is protected, and [`Access::view`] answers such a record as
/// protected (DOMAIN.md §4).
///
/// Every organisation sees samordningsnummer and tilldelat personnummer here, whatever its
/// switches (Navet 3.5, DOMAIN.md §1: the switches govern deliveries only).
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    person_id: &Pnr,
) -> Result<Vec<View>, OpError> {
    let found = snapshot.get_for_answer(person_id)?;
    Ok(found
        .and_then(|found| access.view(found))
        .into_iter()
        .collect())
}
