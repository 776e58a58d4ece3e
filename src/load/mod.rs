//! The load job: applies delivery files to the store. The ONE load path, used by
//! `folkreg load`, by `serve`'s first start (demo data) and by the daily scheduler.
//!
//! Every record of a file is validated before anything of that file becomes visible: a FULL
//! file is streamed into a new generation that is switched to only at the end; a DELTA file is
//! read whole (validated) and applied in one transaction. Files are applied in löpnummer
//! order; each file is atomic on its own, and the first failure stops the run.
//!
//! Reports name files, record positions and elements — never identity numbers or names.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod job;
pub mod plan;

use plan::{Plan, Step};

use crate::loadfile::header::Fil;

use crate::loadfile::{DeliveryError, DeliveryReader, DeliveryTyp};
use crate::store::{LoadSummary, Store, StoreError};

/// What one applied file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub lopnummer: u64,
    /// FULL or DELTA.
    pub typ: DeliveryTyp,
    /// Records in the file.
    pub records: u64,
    /// What changed.
    pub summary: LoadSummary,
    /// Wall time.
    pub elapsed: Duration,
}

impl FileReport {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for FileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: löpnummer {} {}: {} records; added {}, changed {}, removed {}; {:.1} s, {:.0} records/s",
            self.path.display(),
            self.lopnummer,
            self.typ.code(),
            self.records,
            self.summary.added,
            self.summary.changed,
            self.summary.removed,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

/// Why a file was not applied. Nothing of that file is visible.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is invalid; the error names record and element.
    #[error("{path}: refused: {source}")]
    Delivery {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: DeliveryError,
    },
    /// The file does not fit the store (löpnummer, duplicates, missing persons).
    #[error("{path}: refused: {source}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// A delivery of several files is missing some of them.
    #[error("{path}: refused: {why}")]
    Incomplete {
        /// A file of it.
        path: PathBuf,
        /// Which files are missing.
        why: String,
    },
    /// The store failed.
    #[error("{path}: store failure: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
}

impl LoadError {
    /// The file it is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Delivery { path, .. }
            | LoadError::Refused { path, .. }
            | LoadError::Incomplete { path, .. }
            | LoadError::Store { path, .. } => path,
        }
    }

    /// Whether the input was at fault (exit code 2) rather than the machine (exit code 1).
    pub fn is_input_error(&self) -> bool {
        match self {
            LoadError::Delivery { source, .. } => {
                !matches!(source.kind, crate::loadfile::DeliveryErrorKind::Io(_))
                    || source.record.is_some()
            }
            LoadError::Refused { .. } | LoadError::Incomplete { .. } => true,
            LoadError::Store { .. } => false,
        }
    }
}

/// The extensions of a delivery file's name.
const DELIVERY_EXTENSIONS: [&str; 2] = [".xml.gz", ".xml"];

/// Whether a file name is a delivery's: `*.xml` or `*.xml.gz`, not starting with `.`. So a
/// sender that writes `NAME.part` (or `.NAME`) and renames when done is never read half-way,
/// and `NAME.reason` files are not deliveries.
pub fn is_delivery_name(name: &str) -> bool {
    !name.starts_with('.') && DELIVERY_EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// `NAME` with `.N` before its delivery extension (`l2.xml.gz` → `l2.1.xml.gz`): a free name
/// for a second copy that is still a delivery's name.
pub fn numbered_name(name: &str, n: u32) -> String {
    tagged_name(name, &n.to_string())
}

/// `NAME` with `.TAG` before its delivery extension (`full.xml.gz` → `full.B.xml.gz`).
pub fn tagged_name(name: &str, tag: &str) -> String {
    match DELIVERY_EXTENSIONS.iter().find(|e| name.ends_with(*e)) {
        Some(ext) => format!("{}.{tag}{ext}", &name[..name.len() - ext.len()]),
        None => format!("{name}.{tag}"),
    }
}

/// The delivery files in `dir` (regular files with [`is_delivery_name`]), in name order; a
/// missing folder has none.
pub fn deliveries_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let is_file = entry.file_type()?.is_file();
        if is_file && entry.file_name().to_str().is_some_and(is_delivery_name) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Applies files in löpnummer order; stops at the first failure. Returns what was applied
/// before it, and the failure.
///
/// `after_each` runs after each applied file (the change feed's production: one delivery per
/// load).
pub fn load_files(
    store: &Store,
    files: &[PathBuf],
    force: bool,
    after_each: &mut dyn FnMut(&Store),
) -> (Vec<FileReport>, Option<LoadError>) {
    let plan = match Plan::read(files) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), Some(e)),
    };
    if let Some(i) = plan.incomplete.first() {
        let path = i.have.first().cloned().unwrap_or_default();
        return (
            Vec::new(),
            Some(LoadError::Incomplete {
                path,
                why: i.to_string(),
            }),
        );
    }
    let mut done = Vec::new();
    for step in plan.steps {
        match load_delivery(store, &step, force) {
            Ok(r) => {
                after_each(store);
                done.push(r)
            }
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// Records per batch handed from the parsing thread to the building one.
const PIPELINE_BATCH: usize = 256;
/// Batches the parsing thread may be ahead.
const PIPELINE_DEPTH: usize = 8;

/// A batch of record chunks cut out of the byte stream, numbered for the reordering.
type Chunks = (u64, Vec<Result<(Vec<u8>, u64), DeliveryError>>);

/// Cuts records out of the file in batches into `tx` until the end, the first error (sent
/// as the batch's last item), or the receivers are gone.
fn split_ahead(
    splitter: &mut crate::loadfile::split::Splitter,
    tx: &std::sync::mpsc::SyncSender<Chunks>,
) {
    let mut seq = 0;
    let mut batch = Vec::with_capacity(PIPELINE_BATCH);
    loop {
        let next = splitter.next_chunk();
        let end = !matches!(next, Ok(Some(_)));
        match next {
            Ok(Some(chunk)) => batch.push(Ok(chunk)),
            Ok(None) => {}
            Err(e) => batch.push(Err(e)),
        }
        if end || batch.len() == PIPELINE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(PIPELINE_BATCH));
            if tx.send((seq, full)).is_err() || end {
                return;
            }
            seq += 1;
        }
    }
}

/// Reads, maps and `make`s batches of chunks (one of several such threads), each up to its
/// first error; results go out numbered as they came.
fn read_chunks<T>(
    rx: &std::sync::Mutex<std::sync::mpsc::Receiver<Chunks>>,
    tx: &std::sync::mpsc::SyncSender<(u64, Vec<Result<T, DeliveryError>>)>,
    make: &(dyn Fn(crate::model::change::DeliveryRecord) -> T + Sync),
) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((seq, chunks)) = next else {
            return;
        };
        let mut failed = false;
        let batch: Vec<Result<T, DeliveryError>> = chunks
            .into_iter()
            .map_while(|c| {
                if failed {
                    return None;
                }
                let r = c.and_then(|(bytes, pos)| {
                    let node = crate::loadfile::split::read_chunk(&bytes, pos)?;
                    crate::loadfile::reader::map_tree(node, pos).map(make)
                });
                failed = r.is_err();
                Some(r)
            })
            .collect();
        if tx.send((seq, batch)).is_err() {
            return;
        }
    }
}

/// Threads that read records when a FULL delivery is loaded: the machine's cores, at most 4.
fn readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// Reads every record of a FULL delivery's file on several threads
/// ([`crate::loadfile::split`]), which also `make` of each what the build needs, and hands
/// the results to `add` in file order, up to and including the first error in file order.
pub(crate) fn read_parallel<T: Send, E>(
    reader: DeliveryReader,
    make: &(dyn Fn(crate::model::change::DeliveryRecord) -> T + Sync),
    add: &mut dyn FnMut(Result<T, DeliveryError>) -> Result<(), E>,
) -> Result<(), E> {
    let mut splitter = reader.into_splitter();
    std::thread::scope(|scope| {
        let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Chunks>(PIPELINE_DEPTH);
        // Owned by the readers: when the last one stops (the records are done, or `add`
        // refused one and left), the receiver goes and the cutting thread stops too.
        let chunk_rx = std::sync::Arc::new(std::sync::Mutex::new(chunk_rx));
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(u64, Vec<Result<T, DeliveryError>>)>(PIPELINE_DEPTH);
        let splitter = &mut splitter;
        scope.spawn(move || split_ahead(splitter, &chunk_tx));
        for _ in 0..readers() {
            let (rx, tx) = (chunk_rx.clone(), tx.clone());
            scope.spawn(move || read_chunks(&rx, &tx, make));
        }
        drop(chunk_rx);
        drop(tx);
        let mut waiting: std::collections::BTreeMap<u64, Vec<Result<T, DeliveryError>>> =
            Default::default();
        let mut next = 0u64;
        for (seq, batch) in rx {
            waiting.insert(seq, batch);
            while let Some(batch) = waiting.remove(&next) {
                next += 1;
                for rec in batch {
                    add(rec)?;
                }
            }
        }
        Ok(())
    })
}

/// Applies the delivery of one file atomically (a delivery of several files needs them all:
/// [`load_files`]).
pub fn load_file(store: &Store, path: &Path, force: bool) -> Result<FileReport, LoadError> {
    let plan = Plan::read(&[path.to_owned()])?;
    if let Some(i) = plan.incomplete.first() {
        return Err(LoadError::Incomplete {
            path: path.to_owned(),
            why: i.to_string(),
        });
    }
    match plan.steps.first() {
        Some(step) => load_delivery(store, step, force),
        None => Err(LoadError::Incomplete {
            path: path.to_owned(),
            why: "no delivery in the file".into(),
        }),
    }
}

/// Applies one delivery, all of its files, atomically: nothing of it is visible until every
/// record of every file is read and valid.
pub fn load_delivery(store: &Store, step: &Step, force: bool) -> Result<FileReport, LoadError> {
    let started = Instant::now();
    let delivery = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Delivery { path, source }
    };
    let store_err = |source: StoreError| match source {
        StoreError::Refused(_) => LoadError::Refused {
            path: step.path.clone(),
            source,
        },
        other => LoadError::Store {
            path: step.path.clone(),
            source: other,
        },
    };
    let header = step.header.clone();
    let (records, summary) = match header.typ {
        DeliveryTyp::Full => {
            let mut build = store.begin_full(&header).map_err(store_err)?;
            for crate::load::plan::StepFile { path, .. } in &step.files {
                let reader = DeliveryReader::open(path).map_err(delivery(path))?;
                // Reading the XML is most of a load's work: one thread cuts the records out
                // of the byte stream, several read and validate them, while this one
                // encodes, indexes and sorts what they have read.
                read_parallel(
                    reader,
                    &|rec| crate::store::Prepared::of(&rec),
                    &mut |rec| {
                        build
                            .add_prepared(rec.map_err(delivery(path))?)
                            .map_err(store_err)
                    },
                )?;
            }
            let n = build.count();
            (n, build.commit().map_err(store_err)?)
        }
        DeliveryTyp::Delta => {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for crate::load::plan::StepFile { path, fil, .. } in &step.files {
                let recs = DeliveryReader::open(path)
                    .map_err(delivery(path))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(delivery(path))?;
                match fil {
                    Fil::A => a.extend(recs),
                    Fil::B => b.extend(recs),
                }
            }
            let read = (a.len() + b.len()) as u64;
            let recs = crate::loadfile::merge_files(a, b);
            let summary = store
                .apply_delta(&header, &recs, force)
                .map_err(store_err)?;
            (read, summary)
        }
    };
    let report = FileReport {
        path: step.path.clone(),
        lopnummer: header.lopnummer,
        typ: header.typ,
        records,
        summary,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        file = %step.path.display(),
        files = step.files.len(),
        lopnummer = header.lopnummer,
        typ = header.typ.code(),
        records,
        added = summary.added,
        changed = summary.changed,
        removed = summary.removed,
        seconds = report.elapsed.as_secs_f64(),
        "delivery applied"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::{is_delivery_name, numbered_name};

    #[test]
    fn delivery_names() {
        for name in ["l1.xml", "l1.xml.gz", "leverans-000004-DELTA.1.xml.gz"] {
            assert!(is_delivery_name(name), "{name}");
        }
        for name in [".l1.xml", "l1.xml.part", "l1.xml.gz.reason", "l1.gz", "l1"] {
            assert!(!is_delivery_name(name), "{name}");
        }
    }

    #[test]
    fn a_numbered_copy_is_still_a_delivery() {
        assert_eq!(numbered_name("l2.xml.gz", 1), "l2.1.xml.gz");
        assert_eq!(numbered_name("l2.xml", 3), "l2.3.xml");
        assert!(is_delivery_name(&numbered_name("l2.xml.gz", 12)));
        assert_eq!(numbered_name("odd", 1), "odd.1");
    }
}
