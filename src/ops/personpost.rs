//! `personpostXML`: one person by identity number.

use super::OpError;
use crate::access::Access;
use crate::model::Folkbokforingspost;
use crate::pnr::Pnr;
use crate::store::Snapshot;

/// The answer to a lookup: the person as the caller may see it, or nothing.
///
/// A number the caller may not see (samordningsnummer or tilldelat personnummer without the
/// switch) answers exactly like a number that does not exist.
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    person_id: &Pnr,
) -> Result<Vec<Folkbokforingspost>, OpError> {
    let found = snapshot.get(person_id)?;
    Ok(found
        .and_then(|post| access.filter(post))
        .into_iter()
        .collect())
}
