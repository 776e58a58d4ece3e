//! `namnsokningXML`: search by name plus at least one more criterion.

use super::OpError;
use crate::access::Access;
use crate::model::Folkbokforingspost;
use crate::search::SearchQuery;
use crate::soap::Fault;
use crate::store::{SearchOutcome, Snapshot};

/// The persons matching, as the caller may see them; more than `limit` is a fault, never a
/// truncated list. Protected persons are never found (the store does not index them).
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<Folkbokforingspost>, OpError> {
    match snapshot.search(query, limit, |p| access.may_see(p))? {
        SearchOutcome::TooMany => Err(Fault::TooManyHits(limit).into()),
        SearchOutcome::Hits(hits) => {
            Ok(hits.into_iter().filter_map(|p| access.filter(p)).collect())
        }
    }
}
