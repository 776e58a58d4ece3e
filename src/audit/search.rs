//! [`search`]: the data-protection officer's questions — who received this person's data, what
//! did this organisation receive, and when — answered from the audit files as they are.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;

use super::{parse_file_name, AuditEntry, AuditError, Name};
use crate::ids::pnr::Pnr;
use crate::ids::OrgNr;

/// Which lines [`search`] returns: those matching every criterion given (none = all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Lines that asked for or returned this person.
    pub pnr: Option<Pnr>,
    /// Lines of this organisation (the line's `org` in any accepted form).
    pub org: Option<OrgNr>,
    /// Lines stamped at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Lines stamped before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditQuery {
    fn matches(&self, e: &AuditEntry) -> bool {
        self.from.is_none_or(|from| e.time >= from)
            && self.to.is_none_or(|to| e.time < to)
            && self
                .org
                .is_none_or(|org| OrgNr::parse(&e.org).is_ok_and(|o| o == org))
            && self
                .pnr
                .is_none_or(|pnr| e.asked.iter().chain(&e.returned).any(|p| p == pnr.as_str()))
    }

    /// Whether a file dated `date` can hold matching lines. Every line's stamp has its file's
    /// Stockholm date (the writer stamps and rotates by the same clock), so a file whose
    /// whole day lies outside `from..to` is not read.
    fn may_hold(&self, date: NaiveDate) -> bool {
        let (Some(start), Some(end)) = (midnight(date), date.succ_opt().and_then(midnight)) else {
            return true;
        };
        !(self.to.is_some_and(|to| to <= start) || self.from.is_some_and(|from| from >= end))
    }
}

/// Stockholm midnight beginning `date`, in UTC (it always exists: the clocks change at night
/// but not at midnight).
fn midnight(date: NaiveDate) -> Option<DateTime<Utc>> {
    Stockholm
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// What a [`search`] did, beyond the lines it wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchSummary {
    /// Lines written to the output.
    pub matched: usize,
    /// Files read.
    pub files_read: usize,
    /// Files not read because their date lies outside the query's time range.
    pub files_skipped: usize,
    /// Files whose last line was torn (a crash mid-write, or a file being written while read)
    /// and skipped.
    pub torn: Vec<PathBuf>,
}

/// Writes every line of the audit files in `dir` that matches `query` to `out`, unchanged
/// (a line is exactly as in the file, `\n`-terminated), oldest file first, and returns how
/// many. See [`search_summary`].
pub fn search(dir: &Path, query: &AuditQuery, out: &mut impl Write) -> Result<usize, AuditError> {
    search_summary(dir, query, out).map(|s| s.matched)
}

/// [`search`], telling also which files were read, skipped, or ended in a torn line.
///
/// Files are read in order of date and number, streaming. A torn last line (one without its
/// `\n` that does not parse) is skipped with a warning; any other line that is not an audit
/// entry is an error naming the file and line, as is a file named `audit-*.jsonl` whose name
/// does not give its date. Lines stream to `out` as found, so after an error `out` holds the
/// matches before it.
pub fn search_summary(
    dir: &Path,
    query: &AuditQuery,
    out: &mut impl Write,
) -> Result<SearchSummary, AuditError> {
    let mut summary = SearchSummary::default();
    for (date, _, path) in audit_files(dir)? {
        if !query.may_hold(date) {
            summary.files_skipped += 1;
            continue;
        }
        summary.files_read += 1;
        search_file(&path, query, out, &mut summary)?;
    }
    out.flush().map_err(|e| AuditError::Output(Arc::new(e)))?;
    Ok(summary)
}

/// The audit files in `dir`, ordered by date and number.
fn audit_files(dir: &Path) -> Result<Vec<(NaiveDate, u32, PathBuf)>, AuditError> {
    let dir_err = |e| AuditError::Dir {
        dir: dir.to_owned(),
        source: Arc::new(e),
    };
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir).map_err(dir_err)? {
        let path = item.map_err(dir_err)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        match parse_file_name(name) {
            Name::Audit(date, seq) => files.push((date, seq, path)),
            Name::Malformed => return Err(AuditError::FileName { path }),
            Name::Other => {}
        }
    }
    files.sort();
    Ok(files)
}

fn search_file(
    path: &Path,
    query: &AuditQuery,
    out: &mut impl Write,
    summary: &mut SearchSummary,
) -> Result<(), AuditError> {
    let read_err = |e| AuditError::Read {
        path: path.to_owned(),
        source: Arc::new(e),
    };
    let output_err = |e| AuditError::Output(Arc::new(e));
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(read_err)?);
    let mut line = Vec::with_capacity(1024);
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
            return Ok(());
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        let entry: AuditEntry = match serde_json::from_slice(&line) {
            Ok(entry) => entry,
            Err(_) if !complete => {
                tracing::warn!(
                    file = %path.display(),
                    line = number,
                    "audit file ends in a torn line; skipped"
                );
                summary.torn.push(path.to_owned());
                return Ok(());
            }
            Err(e) => {
                return Err(AuditError::BadLine {
                    path: path.to_owned(),
                    line: number,
                    column: e.column(),
                    what: what(&e),
                })
            }
        };
        if query.matches(&entry) {
            out.write_all(&line).map_err(output_err)?;
            if !complete {
                out.write_all(b"\n").map_err(output_err)?;
            }
            summary.matched += 1;
        }
    }
}

/// The kind of JSON error, without the text (which may hold identity numbers).
fn what(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON but not an audit entry",
        serde_json::error::Category::Eof => "incomplete JSON",
    }
}
