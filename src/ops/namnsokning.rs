//! `namnsokningXML`: search by name plus at least one more criterion.

use super::{Caller, Context, OpError, Trail};
use crate::access::{Access, Found, Protection, View};
use crate::search::{parse_patterns, SearchQuery, WordPattern};
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

    /// Searches one snapshot and renders the hits as the caller may see them.
    pub fn apply(
        self,
        cx: &Context<'_>,
        caller: &Caller,
        trail: &mut Trail,
    ) -> Result<Vec<u8>, OpError> {
        let access = caller.org.access();
        let posts = match run(&cx.store.snapshot(), &access, &self.query, cx.max_hits) {
            Err(OpError::Fault(Fault::TooManyHits(limit))) => {
                // The store stopped at the first visible hit past the limit: it saw limit + 1.
                trail.hits_seen = Some(u32::try_from(limit.saturating_add(1)).unwrap_or(u32::MAX));
                return Err(Fault::TooManyHits(limit).into());
            }
            r => r?,
        };
        trail.answered(&posts);
        Ok(response::answer_at(Answer::Namnsokning, cx.version, &posts))
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
        // Every hit passed `may_find`: protected neither on its own nor through a link.
        SearchOutcome::Hits(hits) => Ok(hits
            .into_iter()
            .filter_map(|post| {
                access.view(Found {
                    post,
                    protection: Protection::default(),
                })
            })
            .collect()),
    }
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
    let date = |name: &'static str, end: bool| -> Result<Option<u32>, Fault> {
        s.child(name)?
            .and_then(Element::value)
            .map(|v| {
                birth_bound(v, end)
                    .ok_or_else(|| bad(format!("{name} must be YYYY, YYYYMM or YYYYMMDD")))
            })
            .transpose()
    };
    let postnr = |name: &'static str| -> Result<Option<u32>, Fault> {
        s.child(name)?
            .and_then(Element::value)
            .map(|v| {
                let digits: String = v.chars().filter(|c| *c != ' ').collect();
                (digits.len() == 5 && digits.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| digits.parse::<u32>().ok())
                    .flatten()
                    .ok_or_else(|| bad(format!("{name} must be five digits")))
            })
            .transpose()
    };
    let kon = match s.child("Kon")?.and_then(Element::value) {
        None => None,
        Some("M") | Some("m") => Some(crate::model::Kon::M),
        Some("K") | Some("k") => Some(crate::model::Kon::K),
        Some(_) => return Err(bad("Kon must be M or K")),
    };
    let endast_folkbokforda = match s.child("Kategori")?.and_then(Element::value) {
        None => false,
        Some("FB") => true,
        Some(_) => return Err(bad("Kategori must be empty or FB")),
    };
    let q = SearchQuery {
        fornamn: words("Fornamn")?,
        efter_mellan: words("EfterMellanNamn")?,
        postort: words("Postort")?,
        adress: words("Adress")?,
        fodelse_from: date("FodelsetidFrom", false)?,
        fodelse_tom: date("FodelsetidTom", true)?,
        kon,
        postnr_from: postnr("PostnummerFrom")?,
        postnr_tom: postnr("PostnummerTom")?,
        endast_folkbokforda,
    };
    if !q.is_specific_enough() {
        return Err(Fault::SearchTooBroad);
    }
    Ok(q)
}

/// A birth-time bound: `YYYY`, `YYYYMM` or `YYYYMMDD`, widened to the first (or, for `end`,
/// the last) day it covers, as `YYYYMMDD`.
fn birth_bound(v: &str, end: bool) -> Option<u32> {
    if !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = v.parse().ok()?;
    let (y, m, d) = match v.len() {
        4 => (n, if end { 12 } else { 1 }, if end { 31 } else { 1 }),
        6 => (n / 100, n % 100, if end { 31 } else { 1 }),
        8 => (n / 10000, n / 100 % 100, n % 100),
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1800..=2199).contains(&y) {
        return None;
    }
    if v.len() == 8 && chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_none() {
        return None;
    }
    Some(y * 10000 + m * 100 + d)
}
