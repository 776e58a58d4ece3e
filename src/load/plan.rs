//! The one load plan: which delivery files a load applies, in which order, and what the daily
//! job does with each given the store — for `folkreg load`, the daily job and a restore from
//! the archive alike. Applying a file is [`super::load_file`]'s.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use super::LoadError;
use crate::loadfile::header::{Aviseringsinformation, Fil};
use crate::loadfile::{
    DeliveryError, DeliveryErrorKind, DeliveryHeader, DeliveryReader, DeliveryTyp,
};
use crate::store::StoreInfo;

/// One delivery of a plan: its file(s) and what a load takes from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its first file (named in reports).
    pub path: PathBuf,
    /// Every file of the delivery in the order they are read: file A's parts by `FilNr`,
    /// then file B's (Bilaga 2).
    pub files: Vec<StepFile>,
    /// The delivery's load facts; `antal` counts the records of all its files.
    pub header: DeliveryHeader,
}

/// One file of a delivery, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFile {
    /// The file.
    pub path: PathBuf,
    /// File A or B.
    pub fil: Fil,
    /// Its records (`AntalPoster`).
    pub records: u64,
}

/// A delivery some of whose files have not arrived: nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// Its löpnummer.
    pub lopnummer: u64,
    /// The files that are there.
    pub have: Vec<PathBuf>,
    /// The `FilNr`s missing, of `AntalFiler`.
    pub missing: Vec<u16>,
    /// `AntalFiler`.
    pub of: u16,
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let missing: Vec<String> = self.missing.iter().map(u16::to_string).collect();
        write!(
            f,
            "delivery löpnummer {} is incomplete: file(s) {} of {} have not arrived ({} here, first {})",
            self.lopnummer,
            missing.join(", "),
            self.of,
            self.have.len(),
            self.have.first().map(|p| p.display().to_string()).unwrap_or_default()
        )
    }
}

/// The deliveries of one load, in the order they are applied: by löpnummer, a FULL before
/// a DELTA of the same number, whatever the file names say. A delivery of several files
/// (`AntalFiler`) is one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In application order.
    pub steps: Vec<Step>,
    /// Deliveries waiting for more files.
    pub incomplete: Vec<Incomplete>,
    /// Second copies of a file (the same delivery, `FilNr` and header), with the
    /// delivery's löpnummer: left out.
    pub repeats: Vec<(PathBuf, u64)>,
}

impl Plan {
    /// Reads every file's header, groups the files of each delivery and orders the
    /// deliveries. A file whose header cannot be read, or whose header disagrees with the
    /// other files of its delivery, fails the whole plan before anything is applied (the
    /// error names it).
    pub fn read(files: &[PathBuf]) -> Result<Plan, LoadError> {
        let mut groups: BTreeMap<_, Vec<(PathBuf, Aviseringsinformation)>> = BTreeMap::new();
        for path in files {
            let reader = DeliveryReader::open(path).map_err(|source| LoadError::Delivery {
                path: path.clone(),
                source,
            })?;
            let info = reader.info().clone();
            groups
                .entry(info.delivery_key())
                .or_default()
                .push((path.clone(), info));
        }
        let mut plan = Plan::default();
        for (_, group) in groups {
            let mut group = group;
            group.sort_by_key(|(_, i)| (i.fil(), i.utfil.fil_nr));
            // A file delivered twice is one file: the second copy is left out.
            let mut kept: Vec<(PathBuf, Aviseringsinformation)> = Vec::with_capacity(group.len());
            for (path, i) in group.drain(..) {
                match kept
                    .iter()
                    .find(|(_, k)| k.fil() == i.fil() && k.utfil.fil_nr == i.utfil.fil_nr)
                {
                    Some((_, k)) if *k == i => {
                        let lopnummer = i.utfil.lop_nr.map_or(0, u64::from);
                        plan.repeats.push((path, lopnummer))
                    }
                    Some(_) => {
                        return Err(LoadError::Delivery {
                            path,
                            source: DeliveryError::file(DeliveryErrorKind::Invalid(
                                "two different files of one delivery have the same FilNr".into(),
                            )),
                        })
                    }
                    None => kept.push((path, i)),
                }
            }
            let group = kept;
            let (first_path, first) = &group[0];
            let bad = |path: &PathBuf, what: &str| LoadError::Delivery {
                path: path.clone(),
                source: DeliveryError::file(DeliveryErrorKind::Invalid(format!(
                    "{what} (the delivery's first file is {})",
                    first_path.display()
                ))),
            };
            let mut header = first.load_facts().map_err(|source| LoadError::Delivery {
                path: first_path.clone(),
                source,
            })?;
            let of = first.utfil.antal_filer;
            let mut seen = Vec::new();
            let mut records = 0u64;
            for (path, i) in &group {
                if i.utfil.antal_filer != of
                    || i.utfil.antal_poster_totalt != first.utfil.antal_poster_totalt
                    || i.typ() != first.typ()
                {
                    return Err(bad(
                        path,
                        "AntalFiler, AntalPosterTotalt or Bestallningstyp differs between the files of one delivery",
                    ));
                }
                if seen.contains(&i.utfil.fil_nr) {
                    return Err(bad(path, "two files of one delivery have the same FilNr"));
                }
                seen.push(i.utfil.fil_nr);
                records += i.utfil.antal_poster;
            }
            let missing: Vec<u16> = (1..=of).filter(|n| !seen.contains(n)).collect();
            if !missing.is_empty() {
                plan.incomplete.push(Incomplete {
                    lopnummer: header.lopnummer,
                    have: group.iter().map(|(p, _)| p.clone()).collect(),
                    missing,
                    of,
                });
                continue;
            }
            if records != first.utfil.antal_poster_totalt {
                return Err(bad(
                    first_path,
                    &format!(
                        "AntalPosterTotalt is {} but the files' AntalPoster add up to {records}",
                        first.utfil.antal_poster_totalt
                    ),
                ));
            }
            header.antal = records;
            plan.steps.push(Step {
                path: first_path.clone(),
                files: group
                    .iter()
                    .map(|(p, i)| StepFile {
                        path: p.clone(),
                        fil: i.fil(),
                        records: i.utfil.antal_poster,
                    })
                    .collect(),
                header,
            });
        }
        plan.steps
            .sort_by_key(|s| (s.header.lopnummer, s.header.typ != DeliveryTyp::Full));
        plan.incomplete.sort_by_key(|i| i.lopnummer);
        Ok(plan)
    }

    /// The löpnummer of the first delivery still waiting for files: nothing from it on is
    /// applied, so that deliveries stay in order.
    pub fn waits_at(&self) -> Option<u64> {
        self.incomplete.first().map(|i| i.lopnummer)
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
    let plan = Plan::read(&paths)?;
    let total = paths.len();
    let steps = plan.steps;
    let Some((full_at, _)) = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.header.typ == DeliveryTyp::Full)
        .max_by(|(_, a), (_, b)| {
            (a.header.lopnummer, &a.header.skapad).cmp(&(b.header.lopnummer, &b.header.skapad))
        })
    else {
        return Ok(Restore {
            files: Vec::new(),
            left_out: total,
            gap: None,
        });
    };
    let full = &steps[full_at];
    let mut files: Vec<PathBuf> = full.files.iter().map(|f| f.path.clone()).collect();
    let mut next = full.header.lopnummer + 1;
    let mut gap = None;
    for s in &steps {
        if s.header.typ != DeliveryTyp::Delta || s.header.lopnummer < next {
            continue;
        }
        if s.header.lopnummer > next {
            gap = Some(next);
            break;
        }
        files.extend(s.files.iter().map(|f| f.path.clone()));
        next += 1;
    }
    if gap.is_none() {
        gap = plan
            .incomplete
            .iter()
            .map(|i| i.lopnummer)
            .find(|l| *l >= next);
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
