//! The one load plan: which delivery files a load applies, in which order, and what the daily
//! job does with each given the store — for `folkreg load`, the daily job and a restore from
//! the archive alike. Applying a file is [`super::load_file`]'s.

use std::path::{Path, PathBuf};

use super::LoadError;
use crate::loadfile::{DeliveryError, DeliveryHeader, DeliveryReader, DeliveryTyp};
use crate::store::StoreInfo;

/// One file of a plan, with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The delivery file.
    pub path: PathBuf,
    /// Its header.
    pub header: DeliveryHeader,
}

/// The files of one load, in the order they are applied: by löpnummer, a FULL before a
/// DELTA of the same number, whatever the file names say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In application order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Reads every file's header and orders them. A file whose header cannot be read fails
    /// the whole plan before anything is applied (the error names it).
    pub fn read(files: &[PathBuf]) -> Result<Plan, LoadError> {
        let mut steps = Vec::with_capacity(files.len());
        for path in files {
            let reader = DeliveryReader::open(path).map_err(|source| LoadError::Delivery {
                path: path.clone(),
                source,
            })?;
            steps.push(Step {
                path: path.clone(),
                header: reader.header().clone(),
            });
        }
        steps.sort_by_key(|s| (s.header.lopnummer, s.header.typ != DeliveryTyp::Full));
        Ok(Plan { steps })
    }
}

/// What to load to rebuild a store from a delivery archive (`inbox/archive/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    /// The newest FULL delivery, then the deltas after it, one per löpnummer, in order.
    pub files: Vec<PathBuf>,
    /// Files left out: older deliveries and repeats of a löpnummer.
    pub left_out: usize,
    /// The first missing löpnummer, if the deltas stop short of the newest one archived.
    pub gap: Option<u64>,
}

/// Plans a restore from the delivery files in `dir` ([`super::deliveries_in`]): the newest
/// FULL (highest löpnummer, then latest `Skapad`), then each later löpnummer once, up to the
/// first gap.
pub fn restore(dir: &Path) -> Result<Restore, LoadError> {
    let io = |e: std::io::Error| LoadError::Delivery {
        path: dir.to_owned(),
        source: DeliveryError::file(crate::loadfile::DeliveryErrorKind::Io(e)),
    };
    let paths = super::deliveries_in(dir).map_err(io)?;
    let headers: Vec<(PathBuf, DeliveryHeader)> = Plan::read(&paths)?
        .steps
        .into_iter()
        .map(|s| (s.path, s.header))
        .collect();
    let total = headers.len();
    let Some((full_at, _)) = headers
        .iter()
        .enumerate()
        .filter(|(_, (_, h))| h.typ == DeliveryTyp::Full)
        .max_by(|(_, (_, a)), (_, (_, b))| (a.lopnummer, &a.skapad).cmp(&(b.lopnummer, &b.skapad)))
    else {
        return Ok(Restore {
            files: Vec::new(),
            left_out: total,
            gap: None,
        });
    };
    let (full, full_header) = &headers[full_at];
    let mut files = vec![full.clone()];
    let mut next = full_header.lopnummer + 1;
    let mut gap = None;
    for (path, h) in &headers {
        if h.typ != DeliveryTyp::Delta || h.lopnummer < next {
            continue;
        }
        if h.lopnummer > next {
            gap = Some(next);
            break;
        }
        files.push(path.clone());
        next += 1;
    }
    Ok(Restore {
        left_out: total - files.len(),
        files,
        gap,
    })
}

/// What the daily job does with a delivery, given the store it would go into.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply it.
    Apply,
    /// Applied before (repeated delivery, or a crash between the commit and the move).
    Already(String),
    /// Would take the store back to older data.
    Refuse(String),
}

/// The daily job's decision (the CLI applies what it is given, `--force` past a gap).
pub fn decide(at: &StoreInfo, header: &DeliveryHeader) -> Decision {
    let Some(current) = at.lopnummer.filter(|_| at.generation > 0) else {
        return Decision::Apply;
    };
    let n = header.lopnummer;
    match header.typ {
        DeliveryTyp::Delta if n <= current => Decision::Already(format!(
            "löpnummer {n} is already applied (the store is at {current}); archived without applying"
        )),
        DeliveryTyp::Full
            if n == current && at.skapad.as_deref() == Some(header.skapad.as_str()) =>
        {
            Decision::Already(format!(
                "this FULL delivery (löpnummer {n}, created {}) is the one the store holds; archived without applying",
                header.skapad
            ))
        }
        DeliveryTyp::Full if n < current => Decision::Refuse(format!(
            "FULL delivery löpnummer {n} is older than the data served (löpnummer {current}); loading it would take the store back (use `folkreg load` to restore on purpose)"
        )),
        _ => Decision::Apply,
    }
}
