//! The register checker: TOML text → checked organisations, or every mistake with its line
//! and field. The one checker behind `Register::load`, `folkreg register check` and every
//! edit (an edit is written only if its result passes).

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::{Category, CertPermission, OrgNr, Organisation, Problem, RegisterError, Switch};

use crate::ids::bestallning::MAX_LEN as MAX_BESTALLNINGSID;
use crate::ids::BestallningsId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegister {
    #[serde(default)]
    organisation: Vec<RawOrganisation>,
}

type Names = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganisation {
    orgnr: Spanned<String>,
    namn: Spanned<String>,
    #[serde(default)]
    categories: Option<Names>,
    #[serde(default)]
    switches: Option<Names>,
    #[serde(default)]
    bestallningar: Option<Names>,
    #[serde(default)]
    certificate: Vec<RawCertificate>,
    #[serde(default)]
    avisering: Vec<super::orders::RawOrder>,
    #[serde(default)]
    urval: Vec<super::urval_orders::RawUrval>,
    #[serde(default)]
    spar: Vec<RawSpar>,
}

/// `[[organisation.spar]]`: one pair of SPAR customer numbers the organisation may call with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpar {
    leveransmottagare: Spanned<i64>,
    slutkund: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    sha256: Spanned<String>,
    #[serde(default)]
    not_before: Option<Spanned<toml::Value>>,
    #[serde(default)]
    not_after: Option<Spanned<toml::Value>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    cert_expires: Option<Spanned<toml::Value>>,
    #[serde(default)]
    comment: Option<String>,
}

/// Collects problems with their lines.
struct Problems<'a> {
    text: &'a str,
    list: Vec<Problem>,
}

impl Problems<'_> {
    fn add(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.list.push(Problem {
            line: line_of(self.text, span.start),
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Checks the whole text; all organisations, or every problem found.
pub(super) fn check(text: &str, path: &Path) -> Result<Vec<Organisation>, RegisterError> {
    let raw: RawRegister = toml::from_str(text).map_err(|e| RegisterError::Parse {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: e.message().trim().to_owned(),
    })?;
    let mut problems = Problems {
        text,
        list: Vec::new(),
    };
    let mut orgs = Vec::new();
    // First line each number / fingerprint was seen on, for "duplicate of line N".
    let mut seen_orgnr: HashMap<OrgNr, usize> = HashMap::new();
    let mut seen_fingerprint: HashMap<[u8; 32], FirstSeen> = HashMap::new();
    // Order ids key the delivery feed: unique across the whole register.
    let mut seen_orders: HashMap<String, usize> = HashMap::new();
    for (ordinal, raw_org) in raw.organisation.into_iter().enumerate() {
        if let Some(org) = check_organisation(
            raw_org,
            ordinal,
            &mut problems,
            &mut seen_orgnr,
            &mut seen_fingerprint,
            &mut seen_orders,
        ) {
            orgs.push(org);
        }
    }
    if problems.list.is_empty() {
        Ok(orgs)
    } else {
        problems.list.sort_by_key(|p| p.line);
        Err(RegisterError::Invalid {
            path: path.to_owned(),
            problems: problems.list,
        })
    }
}

/// Where a fingerprint was first listed.
struct FirstSeen {
    /// Which `[[organisation]]` table (0-based): "the same organisation" means the same
    /// table, not the same label (two tables may both have an unreadable or repeated number).
    ordinal: usize,
    /// The organisation as messages name it.
    label: String,
    /// 1-based line of its `sha256`.
    line: usize,
}

fn check_organisation(
    raw: RawOrganisation,
    ordinal: usize,
    problems: &mut Problems<'_>,
    seen_orgnr: &mut HashMap<OrgNr, usize>,
    seen_fingerprint: &mut HashMap<[u8; 32], FirstSeen>,
    seen_orders: &mut HashMap<String, usize>,
) -> Option<Organisation> {
    let before = problems.list.len();
    let orgnr = match OrgNr::parse(raw.orgnr.get_ref()) {
        Ok(o) => {
            let line = line_of(problems.text, raw.orgnr.span().start);
            if let Some(first) = seen_orgnr.insert(o, line) {
                problems.add(
                    raw.orgnr.span(),
                    "organisation.orgnr",
                    format!("organisation {o} is listed twice (first on line {first})"),
                );
            }
            Some(o)
        }
        Err(e) => {
            problems.add(raw.orgnr.span(), "organisation.orgnr", e.to_string());
            None
        }
    };
    let org_label = match orgnr {
        Some(o) => format!("organisation {o}"),
        None => format!(
            "the organisation on line {}",
            line_of(problems.text, raw.orgnr.span().start)
        ),
    };
    if raw.namn.get_ref().trim().is_empty() {
        problems.add(raw.namn.span(), "organisation.namn", "must not be empty");
    }
    let mut categories = names(
        raw.categories.as_ref(),
        "organisation.categories",
        "category",
        Category::parse,
        problems,
    );
    categories.insert(Category::Grund);
    let switches = names(
        raw.switches.as_ref(),
        "organisation.switches",
        "switch",
        Switch::parse,
        problems,
    );
    let bestallningar = bestallningar(raw.bestallningar.as_ref(), problems);
    let mut certificates = Vec::new();
    for raw_cert in raw.certificate {
        let owner = (ordinal, org_label.as_str());
        if let Some(c) = check_certificate(raw_cert, owner, problems, seen_fingerprint) {
            certificates.push(c);
        }
    }
    let mut take = |id: &str, span: Range<usize>, field: &str, problems: &mut Problems<'_>| {
        if let Some(first) = seen_orders.get(id) {
            problems.add(
                span,
                field,
                format!("order `{id}` is listed twice (first on line {first})"),
            );
            false
        } else if !bestallningar.iter().any(|b| b == id) {
            problems.add(
                span,
                field,
                format!("order `{id}` is not among the organisation's bestallningar"),
            );
            false
        } else {
            seen_orders.insert(id.to_owned(), line_of(problems.text, span.start));
            true
        }
    };
    let mut avisering = Vec::new();
    for raw_order in raw.avisering {
        let span = raw_order.id.span();
        match raw_order.check() {
            Ok(order) => {
                if take(&order.id, span, "organisation.avisering.id", problems) {
                    avisering.push(order);
                }
            }
            Err(p) => problems.add(span, &format!("organisation.{}", p.field), p.message),
        }
    }
    let mut urval = Vec::new();
    for raw_order in raw.urval {
        let span = raw_order.id.span();
        match raw_order.check() {
            Ok(order) => {
                if take(&order.id, span, "organisation.urval.id", problems) {
                    urval.push(order);
                }
            }
            Err(p) => problems.add(span, &format!("organisation.{}", p.field), p.message),
        }
    }
    let spar = spar_kunder(raw.spar, problems);
    if problems.list.len() != before {
        return None;
    }
    Some(Organisation {
        avisering,
        urval,
        spar,
        orgnr: orgnr?,
        namn: raw.namn.into_inner(),
        categories,
        switches,
        bestallningar,
        certificates,
    })
}

/// The SPAR customer number pairs: each number in SPAR's range, no pair twice.
fn spar_kunder(raw: Vec<RawSpar>, problems: &mut Problems<'_>) -> Vec<super::SparKund> {
    let mut out: Vec<super::SparKund> = Vec::new();
    for r in raw {
        let number = |v: &Spanned<i64>, field: &str, problems: &mut Problems<'_>| {
            let n = u32::try_from(*v.get_ref())
                .ok()
                .filter(|n| super::SparKund::RANGE.contains(n));
            if n.is_none() {
                problems.add(
                    v.span(),
                    field,
                    format!(
                        "a SPAR customer number is {}–{}",
                        super::SparKund::RANGE.start(),
                        super::SparKund::RANGE.end()
                    ),
                );
            }
            n
        };
        let leverans = number(
            &r.leveransmottagare,
            "organisation.spar.leveransmottagare",
            problems,
        );
        let slut = number(&r.slutkund, "organisation.spar.slutkund", problems);
        if let (Some(leveransmottagare), Some(slutkund)) = (leverans, slut) {
            let kund = super::SparKund {
                leveransmottagare,
                slutkund,
            };
            if out.contains(&kund) {
                problems.add(
                    r.leveransmottagare.span(),
                    "organisation.spar",
                    format!("the pair {leveransmottagare}/{slutkund} is listed twice"),
                );
            } else {
                out.push(kund);
            }
        }
    }
    out
}

/// A list of category or switch names: each known, none twice.
fn names<T: Ord + Copy>(
    list: Option<&Names>,
    field: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
    problems: &mut Problems<'_>,
) -> BTreeSet<T> {
    let mut out = BTreeSet::new();
    for name in list.map(|l| l.get_ref().as_slice()).unwrap_or_default() {
        match parse(name.get_ref()) {
            Some(v) => {
                if !out.insert(v) {
                    problems.add(
                        name.span(),
                        field,
                        format!("{what} `{}` is listed twice", name.get_ref()),
                    );
                }
            }
            None => problems.add(
                name.span(),
                field,
                format!("unknown {what} `{}`", name.get_ref()),
            ),
        }
    }
    out
}

fn bestallningar(list: Option<&Names>, problems: &mut Problems<'_>) -> Vec<BestallningsId> {
    let field = "organisation.bestallningar";
    let mut out: Vec<BestallningsId> = Vec::new();
    for id in list.map(|l| l.get_ref().as_slice()).unwrap_or_default() {
        let s = id.get_ref();
        match BestallningsId::parse(s) {
            Err(_) => problems.add(
                id.span(),
                field,
                format!("`{s}` is not a BestallningsId (1–{MAX_BESTALLNINGSID} letters, digits and '-')"),
            ),
            Ok(b) if out.contains(&b) => {
                problems.add(id.span(), field, format!("`{s}` is listed twice"))
            }
            Ok(b) => out.push(b),
        }
    }
    out
}

/// `owner`: the organisation's ordinal and label.
fn check_certificate(
    raw: RawCertificate,
    owner: (usize, &str),
    problems: &mut Problems<'_>,
    seen: &mut HashMap<[u8; 32], FirstSeen>,
) -> Option<CertPermission> {
    let before = problems.list.len();
    let fingerprint = fingerprint(&raw.sha256, problems);
    if let Some(fp) = fingerprint {
        let line = line_of(problems.text, raw.sha256.span().start);
        if let Some(first) = seen.get(&fp) {
            let whose = if first.ordinal == owner.0 {
                "this organisation"
            } else {
                first.label.as_str()
            };
            problems.add(
                raw.sha256.span(),
                "organisation.certificate.sha256",
                format!(
                    "fingerprint already listed for {whose} (line {})",
                    first.line
                ),
            );
        } else {
            seen.insert(
                fp,
                FirstSeen {
                    ordinal: owner.0,
                    label: owner.1.to_owned(),
                    line,
                },
            );
        }
    }
    let not_before = timestamp(raw.not_before.as_ref(), "not_before", problems);
    let not_after = timestamp(raw.not_after.as_ref(), "not_after", problems);
    let cert_expires = timestamp(raw.cert_expires.as_ref(), "cert_expires", problems);
    if let (Some(from), Some(until), Some(span)) = (not_before, not_after, raw.not_after.as_ref()) {
        if until <= from {
            problems.add(
                span.span(),
                "organisation.certificate.not_after",
                format!(
                    "the permission ends ({}) before it starts ({})",
                    super::rfc3339(&until),
                    super::rfc3339(&from)
                ),
            );
        }
    }
    if problems.list.len() != before {
        return None;
    }
    Some(CertPermission {
        fingerprint: fingerprint?,
        not_before,
        not_after,
        revoked: raw.revoked,
        cert_expires,
        comment: raw.comment,
    })
}

/// 64 lowercase hex digits: the file keeps one canonical spelling so it can be grepped.
fn fingerprint(s: &Spanned<String>, problems: &mut Problems<'_>) -> Option<[u8; 32]> {
    let v = s.get_ref();
    let mut out = [0u8; 32];
    let lower_hex = v.len() == 64 && v.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if lower_hex && hex::decode_to_slice(v, &mut out).is_ok() {
        return Some(out);
    }
    problems.add(
        s.span(),
        "organisation.certificate.sha256",
        format!(
            "must be 64 lowercase hex digits (SHA-256 of the DER certificate); got {} characters",
            v.chars().count()
        ),
    );
    None
}

/// An RFC 3339 timestamp with offset, written as a string or as a TOML offset date-time.
fn timestamp(
    v: Option<&Spanned<toml::Value>>,
    name: &str,
    problems: &mut Problems<'_>,
) -> Option<DateTime<Utc>> {
    let v = v?;
    let field = format!("organisation.certificate.{name}");
    let text = match v.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            problems.add(
                v.span(),
                &field,
                format!(
                    "expected an RFC 3339 timestamp, found a {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match crate::clock::parse_instant(&text) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.add(v.span(), &field, e.to_string());
            None
        }
    }
}
