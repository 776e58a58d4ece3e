//! `namnsokningXML`: search by name (`Fornamn` or `EfterMellanNamn`, alone or with the other
//! criteria; WIRE.md, "Requests").

use super::{Caller, Context, OpError, Trail};
use crate::access::{Access, Found, Protection, View};
use crate::search::{
    fodelsetid_bound, parse_patterns, postnummer_bound, Bound, BoundError, Kategori, SearchQuery,
    WordPattern,
};
use crate::soap::request::{bad, bestallning, Bestallning, Element};
use crate::soap::response::{self, Answer};
use crate::soap::Fault;
use crate::store::{SearchOutcome, Snapshot};

/// `NamnsokningRequest{Bestallning, SokvillkorNamn}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namnsokning {
    /// The order.
    pub bestallning: Bestallning,
    /// The criteria.
    pub query: Box<SearchQuery>,
}

impl Namnsokning {
    /// Reads the request from its operation element.
    pub fn parse(op: &Element) -> Result<Namnsokning, Fault> {
        Ok(Namnsokning {
            bestallning: bestallning(op)?,
            query: Box::new(query(op.required("SokvillkorNamn")?)?),
        })
    }

    /// Searches one snapshot and renders the hits as the caller may see them, off the async
    /// workers: a broad search reads many index entries and records, and rendering up to
    /// `max_hits` answers is CPU work that would hold up every other connection.
    pub async fn apply(
        self,
        cx: &Context<'_>,
        caller: &Caller,
        trail: &mut Trail,
    ) -> Result<Vec<u8>, OpError> {
        let access = caller.org.access();
        let (store, limit, version) = (cx.store.clone(), cx.max_hits, cx.version);
        let query = self.query;
        let searched = tokio::task::spawn_blocking(move || {
            run(&store.snapshot(), &access, &query, limit).map(|posts| {
                let answer = response::answer_at(Answer::Namnsokning, version, &posts);
                (posts, answer)
            })
        })
        .await
        .map_err(|_| OpError::Panicked)?;
        let (posts, answer) = match searched {
            Err(OpError::Fault(Fault::TooManyHits(limit))) => {
                // The store stopped at the first visible hit past the limit: it saw limit + 1.
                trail.hits_seen = Some(u32::try_from(limit.saturating_add(1)).unwrap_or(u32::MAX));
                return Err(Fault::TooManyHits(limit).into());
            }
            r => r?,
        };
        trail.answered(&posts);
        Ok(answer)
    }
}

/// The persons matching, as the caller may see them; more than `limit` is a fault, never a
/// truncated list. Protected persons are never found: the store does not index them, and
/// [`Access::may_find`] refuses them — and every record linked to a protected one by
/// hänvisning — before hits are counted, so such a record is exactly "no hit".
pub fn run(
    snapshot: &Snapshot<'_>,
    access: &Access,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<View>, OpError> {
    match snapshot.search(query, limit, |p, protection| access.may_find(p, protection))? {
        SearchOutcome::TooMany => Err(Fault::TooManyHits(limit).into()),
        SearchOutcome::Hits(hits) => Ok(found_views(access, hits)),
    }
}

/// A search's hits as the caller may see them. Every hit passed [`Access::may_find`]:
/// protected neither on its own nor through a link, so none carries a protection.
pub(crate) fn found_views(
    access: &Access,
    hits: impl IntoIterator<Item = crate::model::Folkbokforingspost>,
) -> Vec<View> {
    hits.into_iter()
        .filter_map(|post| {
            access.view(Found {
                post,
                protection: Protection::default(),
            })
        })
        .collect()
}

/// Reads `SokvillkorNamn` into a query; a query with no name criterion is refused.
fn query(s: &Element) -> Result<SearchQuery, Fault> {
    let words = |name: &'static str| -> Result<Vec<WordPattern>, Fault> {
        match s.child(name)?.and_then(Element::value) {
            None => Ok(Vec::new()),
            Some(v) if v.chars().count() > 100 => {
                Err(bad(format!("{name} is longer than 100 characters")))
            }
            Some(v) => parse_patterns(v).map_err(|e| bad(format!("{name}: {e}"))),
        }
    };
    // A leading part of a number, widened to the bound it gives (search::Bound).
    let bound = |name: &'static str,
                 end: Bound,
                 parse: fn(&str, Bound) -> Result<u32, BoundError>|
     -> Result<Option<u32>, Fault> {
        s.child(name)?
            .and_then(Element::value)
            .map(|v| parse(v, end).map_err(|e| bad(format!("{name} {e}"))))
            .transpose()
    };
    let kon = match s.child("Kon")?.and_then(Element::value) {
        None => None,
        Some("M") | Some("m") => Some(crate::model::Kon::M),
        Some("K") | Some("k") => Some(crate::model::Kon::K),
        Some(_) => return Err(bad("Kon must be M or K")),
    };
    let kategori = match s.child("Kategori")?.and_then(Element::value) {
        None => Kategori::Alla,
        Some(v) if v.eq_ignore_ascii_case("AL") => Kategori::Alla,
        Some(v) if v.eq_ignore_ascii_case("FB") => Kategori::Folkbokforda,
        Some(_) => return Err(bad("Kategori must be AL, FB or empty")),
    };
    let q = SearchQuery {
        fornamn: words("Fornamn")?,
        efter_mellan: words("EfterMellanNamn")?,
        postort: words("Postort")?,
        adress: words("Adress")?,
        fodelse_from: bound("FodelsetidFrom", Bound::From, fodelsetid_bound)?,
        fodelse_tom: bound("FodelsetidTom", Bound::Tom, fodelsetid_bound)?,
        kon,
        postnr_from: bound("PostnummerFrom", Bound::From, postnummer_bound)?,
        postnr_tom: bound("PostnummerTom", Bound::Tom, postnummer_bound)?,
        kategori,
    };
    if !q.has_name() {
        return Err(Fault::SearchTooBroad);
    }
    Ok(q)
}
