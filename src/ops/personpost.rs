//! `personpostXML`: one person by identity number.

use super::OpError;
use crate::access::{Access, View};
use crate::ids::pnr::Pnr;
use crate::store::Snapshot;

/// The answer to a lookup: the person as the caller may see it, or nothing.
///
/// Old and new numbers (hänvisning) are separate records: a lookup answers the record of the
/// number asked for, whose `HanvisningsPersonNr` points the way the register holds it.
///
/// A number the caller may not see (samordningsnummer or tilldelat personnummer without the
/// switch) answers exactly like a number that does not exist.
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    person_id: &Pnr,
) -> Result<Vec<View>, OpError> {
    let found = snapshot.get(person_id)?;
    Ok(found
        .and_then(|post| access.view(post))
        .into_iter()
        .collect())
}
