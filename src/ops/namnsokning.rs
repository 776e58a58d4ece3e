//! `namnsokningXML`: search by name plus at least one more criterion.

use super::OpError;
use crate::access::{Access, View};
use crate::search::SearchQuery;
use crate::soap::Fault;
use crate::store::{SearchOutcome, Snapshot};

/// The persons matching, as the caller may see them; more than `limit` is a fault, never a
/// truncated list. Protected persons are never found: the store does not index them, and
/// [`Access::may_find`] refuses them again before hits are counted.
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<View>, OpError> {
    match snapshot.search(query, limit, |p| access.may_find(p))? {
        SearchOutcome::TooMany => Err(Fault::TooManyHits(limit).into()),
        SearchOutcome::Hits(hits) => Ok(hits.into_iter().filter_map(|p| access.view(p)).collect()),
    }
}
