//! The audit log: one JSON line per served request, durable before the answer leaves
//! (CONTRACT.md, "Audit log").
//!
//! Owns the files under the audit directory — `audit-YYYYMMDD-NNN.jsonl`, dated in
//! Europe/Stockholm time — both writing them ([`AuditLog`]: a queue, one writer thread, one
//! `fsync` per batch) and reading them for the data-protection officer ([`search`]).
//!
//! It must never rewrite or delete an acknowledged line, and never let an entry's contents
//! reach ordinary logs: tracing events from here carry file names, counts and I/O errors only.

mod search;
mod writer;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Stockholm;
use serde::{Deserialize, Serialize};

pub use search::{search, search_summary, AuditQuery, SearchSummary};
pub use writer::{AuditLog, AuditOptions, DEFAULT_MAX_BYTES, QUEUE_CAPACITY};

/// `outcome` of a request answered with data.
pub const OUTCOME_OK: &str = "ok";
/// `outcome` of a lookup or search answered with no person.
pub const OUTCOME_NOT_FOUND: &str = "not_found";

/// One served request, as one line of the audit log.
///
/// Identity numbers are the 12-digit form ([`crate::ids::pnr::Pnr::as_str`]). What a search asked
/// for (names, addresses) is deliberately absent: the log records whose data left, not what
/// the caller typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the line was written: stamped by [`AuditLog::record`] from the log's clock
    /// (whatever the caller put here is replaced), never earlier than the line before it, so
    /// lines are in time order and every line's Stockholm date is its file's date.
    /// On the wire RFC 3339 UTC with milliseconds, `2026-11-20T13:45:01.123Z`.
    #[serde(with = "millis_utc")]
    pub time: DateTime<Utc>,
    /// The caller's organisationsnummer, 12-digit wire form (`162021004748`).
    pub org: String,
    /// SHA-256 fingerprint of the client certificate, 64 lowercase hex digits: which of the
    /// organisation's certificates (which system) made the call.
    pub cert: String,
    /// The SOAP operation, as named on the wire (`personpostXML`, `namnsokning`).
    pub operation: String,
    /// The request's `Bestallning/BestallningsId`: the order (agreement) the call was made
    /// under, e.g. `00000079-FO01-0001`.
    pub bestallningsid: String,
    /// Identity numbers the request named (a lookup's `PersonId`, an infil page's
    /// `PersonNr`); empty for a search, whose terms are not logged.
    pub asked: Vec<String>,
    /// Identity numbers whose records were in the answer.
    pub returned: Vec<String>,
    /// Persons found: normally `returned.len()`; for a search refused as too many (`1103`)
    /// nothing is returned and this is the hits the search saw before it stopped — the limit
    /// plus one, meaning "more than the limit" (the search does not count further).
    pub hits: u32,
    /// [`OUTCOME_OK`], [`OUTCOME_NOT_FOUND`], or the fault code sent (`1201`).
    pub outcome: String,
    /// The server's id for the request, which also appears in its tracing events: the link
    /// between an audit line and the ordinary logs, without personal data in the latter.
    pub request_id: u64,
    /// For a call on SPAR's wire: who asked, as SPAR's `Identifieringsinformation` names them
    /// (absent from Navet lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spar: Option<SparCaller>,
}

/// SPAR's `Identifieringsinformation` of a request, for its audit line: the customer numbers
/// it was made under, the assignment, and the end user who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparCaller {
    /// `KundNrLeveransMottagare`.
    pub leveransmottagare: u32,
    /// `KundNrSlutkund`.
    pub slutkund: u32,
    /// `UppdragId`: the assignment (uppdrag) the search was made for.
    pub uppdrag_id: u64,
    /// `SlutAnvandarId`: the end user, as the customer identifies them.
    pub slut_anvandar_id: String,
}

/// What went wrong writing or reading the audit log. Write-side errors reach every request
/// whose line could not be made durable; the server answers those with a Server fault.
///
/// Carries paths, line numbers and I/O errors — never an entry's contents.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The audit directory cannot be created or listed.
    #[error("audit directory {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// An audit file cannot be opened or created.
    #[error("cannot open audit file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// Writing lines failed (disk full, I/O error); the batch is not durable.
    #[error("cannot write audit file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// `fsync` failed; the batch may not be on disk, and the file is not written again.
    #[error("cannot sync audit file {path}: {source}")]
    Sync {
        /// The file (or the directory, after creating a file in it).
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// An entry could not be turned into JSON.
    #[error("cannot encode audit entry: {0}")]
    Encode(Arc<serde_json::Error>),
    /// The writer thread cannot be started.
    #[error("cannot start the audit writer thread: {0}")]
    Spawn(Arc<std::io::Error>),
    /// The log has been shut down; nothing more is accepted.
    #[error("audit log is shut down")]
    Closed,
    /// The writer stopped (it panicked) before it answered.
    #[error("audit writer stopped unexpectedly")]
    WriterStopped,
    /// A file in the audit directory is named `audit-*.jsonl` but not
    /// `audit-YYYYMMDD-NNN.jsonl`, so search cannot place it in time.
    #[error("{path}: not an audit file name (audit-YYYYMMDD-NNN.jsonl)")]
    FileName {
        /// The file.
        path: PathBuf,
    },
    /// An audit file cannot be read.
    #[error("cannot read audit file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// A complete line (not a torn last one) is not an audit entry.
    #[error("{path}:{line}:{column}: {what}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// 1-based column where the JSON parser gave up.
        column: usize,
        /// What kind of problem (the parser's own message may quote the line, so it is not
        /// kept).
        what: &'static str,
    },
    /// Writing search results to the output failed.
    #[error("cannot write search output: {0}")]
    Output(Arc<std::io::Error>),
}

/// The date (Europe/Stockholm) that names the file a line stamped `t` goes to.
fn file_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Stockholm).date_naive()
}

/// `audit-YYYYMMDD-NNN.jsonl`.
fn file_name(date: NaiveDate, seq: u32) -> String {
    format!("audit-{}-{seq:03}.jsonl", date.format("%Y%m%d"))
}

/// What the name of an audit file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    /// `audit-YYYYMMDD-NNN.jsonl`: its date and number.
    Audit(NaiveDate, u32),
    /// `audit-*.jsonl` but not in that form.
    Malformed,
    /// Not an audit file at all.
    Other,
}

fn parse_file_name(name: &str) -> Name {
    let Some(middle) = name
        .strip_prefix("audit-")
        .and_then(|n| n.strip_suffix(".jsonl"))
    else {
        return Name::Other;
    };
    let Some((date, seq)) = middle.split_once('-') else {
        return Name::Malformed;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if date.len() != 8 || !digits(date) || seq.len() < 3 || !digits(seq) {
        return Name::Malformed;
    }
    match (
        NaiveDate::parse_from_str(date, "%Y%m%d"),
        seq.parse::<u32>(),
    ) {
        (Ok(d), Ok(n)) => Name::Audit(d, n),
        _ => Name::Malformed,
    }
}

/// RFC 3339 in UTC with exactly three fractional digits and `Z`.
mod millis_utc {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
