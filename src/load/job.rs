//! The daily load job (DOMAIN.md §6): takes the deliveries waiting in `[load] inbox`, applies
//! them in löpnummer order through the one load path, and files each away:
//!
//! - applied, or already applied earlier (a repeated delivery, or a crash between the store's
//!   commit and the move) → `inbox/archive/`;
//! - refused (invalid, a gap in the löpnummer, a person the store does not have) →
//!   `inbox/rejected/` with `NAME.reason` beside it, and the run stops there: later files stay
//!   in the inbox, the service keeps serving what it had;
//! - the machine failed (disk full, I/O) → the file stays in the inbox for the next run. A
//!   store whose write failed takes no more writes until it is reopened (sled keeps the
//!   error); until `serve` is restarted every run says so ([`RESTART_HINT`]) and reads go on.
//!
//! Only regular files with a delivery's name are read ([`super::is_delivery_name`]), so a
//! sender that writes `NAME.part` (or `.NAME`) and renames when done is never read half-way.
//!
//! One run at a time per data directory: `DATA_DIR/load.lock` is held (an OS file lock, gone
//! with the process) for the whole run, by `serve`'s job and by `folkreg load` alike. The
//! job's state — last run, its outcome, the files it handled — is kept in
//! `DATA_DIR/loadjob.json` (replaced atomically), which `folkreg status` reads.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{self, Decision, Plan, Step};
use super::{load_delivery, LoadError};
use crate::config::Config;
use crate::schedule::Daily;
use crate::store::{Store, StoreInfo};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "load.lock";
/// Name of the state file in the data directory.
pub const STATE_FILE: &str = "loadjob.json";
/// Folder under the inbox for applied deliveries: what `folkreg load --archive` restores from.
pub const ARCHIVE: &str = "archive";
/// Folder under the inbox for deliveries already applied before (a repeat is kept, but apart
/// from the applied files, so a restore never takes a copy that was not the one applied).
pub const REPEATED: &str = "archive/repeated";
/// Folder under the inbox for refused deliveries.
pub const REJECTED: &str = "rejected";

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No run yet.
    #[default]
    Never,
    /// The inbox held no deliveries.
    Nothing,
    /// Every delivery was applied (or had been already).
    Ok,
    /// A delivery was refused or the store failed; the run stopped there.
    Failed,
    /// Another process held the load lock; nothing was done.
    Locked,
}

impl Outcome {
    /// Every outcome, for metrics.
    pub const ALL: [Outcome; 5] = [
        Outcome::Never,
        Outcome::Nothing,
        Outcome::Ok,
        Outcome::Failed,
        Outcome::Locked,
    ];

    /// The name used in the state file, the log and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Never => "never",
            Outcome::Nothing => "nothing",
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Locked => "locked",
        }
    }
}

/// What a run did with one delivery file (as the state file and the metrics name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileResult {
    /// Applied and archived.
    Applied,
    /// Applied before (a repeat, or a crash between the commit and the move): archived in
    /// `archive/repeated/` without applying.
    AlreadyApplied,
    /// Refused: moved to `rejected/` with its reason.
    Rejected,
    /// Left in the inbox for the next run: the machine failed, not the file.
    Kept,
}

impl FileResult {
    /// Every result, in the order status and metrics list them.
    pub const ALL: [FileResult; 4] = [
        FileResult::Applied,
        FileResult::AlreadyApplied,
        FileResult::Rejected,
        FileResult::Kept,
    ];

    /// The name in the state file, `folkreg status` and the metrics' `result` label.
    pub fn as_str(self) -> &'static str {
        match self {
            FileResult::Applied => "applied",
            FileResult::AlreadyApplied => "already_applied",
            FileResult::Rejected => "rejected",
            FileResult::Kept => "kept",
        }
    }
}

impl std::fmt::Display for FileResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What happened to one delivery file in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handled {
    /// File name (no folder).
    pub file: String,
    /// Its löpnummer, if its header could be read.
    pub lopnummer: Option<u64>,
    /// What the run did with it.
    pub result: FileResult,
    /// Records applied (for `applied`).
    #[serde(default)]
    pub records: u64,
    /// Why, for `rejected`, `kept` and `already_applied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `rejected`: valid records of it that would have set a protection on a person
    /// served unprotected (a count, never who).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sets_protection: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Handled {
    /// This refused file, noted as setting a protection on `n` persons (logged by [`run`]
    /// while it is pending).
    fn setting(mut self, n: u64) -> Handled {
        self.sets_protection = n;
        self
    }
}

/// The job's state, kept in `loadjob.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// When the last run started.
    pub last_run: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Outcome,
    /// What it did with each file it looked at.
    #[serde(default)]
    pub files: Vec<Handled>,
    /// When a run last ended without failure.
    pub last_ok: Option<DateTime<Utc>>,
    /// The store after the run (also written at `serve` start): lets `folkreg status` report
    /// while `serve` holds the store.
    #[serde(default)]
    pub store: StoreInfo,
    /// When this file was written.
    pub written: Option<DateTime<Utc>>,
    /// Where each avisering order stands (as `serve` last recorded it).
    #[serde(default)]
    pub avisering: Vec<crate::avisering::feed::OrderSummary>,
    /// A refused delivery that no applied delivery has followed yet: the data served is
    /// older than it should be until one is. Kept from run to run (a run that finds an
    /// empty inbox does not clear it); an applied delivery clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_refusal: Option<PendingRefusal>,
}

/// A refused delivery still in force as an alert ([`JobState::pending_refusal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRefusal {
    /// The file, as it is named in `rejected/`.
    pub file: String,
    /// Its löpnummer, when its header could be read.
    pub lopnummer: Option<u64>,
    /// When it was refused.
    pub at: DateTime<Utc>,
    /// Valid records of it that would have set a protection (sekretessmarkering or skyddad
    /// folkbokföring) on a person the store serves unprotected: until a delivery is applied,
    /// those persons' earlier data is what is served. A count only, never who.
    pub sets_protection: u64,
}

impl JobState {
    /// Reads the state file of `data_dir`; a missing file is the state "never ran".
    pub fn read(data_dir: &Path) -> Result<JobState, JobError> {
        let path = data_dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| JobError::State(path, e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JobState::default()),
            Err(e) => Err(JobError::Io(path, e)),
        }
    }

    /// Writes the state file atomically (temporary file, fsync, rename, fsync of the folder).
    pub fn write(&mut self, data_dir: &Path, now: DateTime<Utc>) -> Result<(), JobError> {
        self.written = Some(now);
        let me = &*self;
        let path = data_dir.join(STATE_FILE);
        let json = serde_json::to_vec_pretty(&me)
            .map_err(|e| JobError::State(path.clone(), e.to_string()))?;
        crate::fsutil::write_atomic(&path, &json).map_err(|e| JobError::Io(path.clone(), e))
    }

    /// The files the last run refused.
    pub fn rejected(&self) -> impl Iterator<Item = &Handled> {
        self.files
            .iter()
            .filter(|h| h.result == FileResult::Rejected)
    }
}

/// Why the job could not do its work at all (as opposed to refusing a file).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A file or folder of the job cannot be used.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The state file cannot be read or written.
    #[error("{0}: {1}")]
    State(PathBuf, String),
    /// Another process holds the load lock.
    #[error("{0}: another folkreg process is loading into this data directory")]
    Locked(PathBuf),
}

/// The held load lock of a data directory; released when dropped (or when the process ends,
/// however it ends).
#[derive(Debug)]
pub struct LoadLock {
    _file: File,
}

impl LoadLock {
    /// Takes the lock without waiting, or says who has it.
    pub fn try_acquire(data_dir: &Path) -> Result<LoadLock, JobError> {
        let path = data_dir.join(LOCK_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| JobError::Io(data_dir.to_owned(), e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| JobError::Io(path.clone(), e))?;
        match file.try_lock() {
            Ok(()) => Ok(LoadLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(JobError::Locked(path)),
            Err(std::fs::TryLockError::Error(e)) => Err(JobError::Io(path, e)),
        }
    }
}

/// The delivery files waiting in `inbox` ([`super::deliveries_in`]), in name order (the run
/// orders them by löpnummer).
pub fn waiting(inbox: &Path) -> Result<Vec<PathBuf>, JobError> {
    super::deliveries_in(inbox).map_err(|e| JobError::Io(inbox.to_owned(), e))
}

/// One run of the job over `inbox` into `store`. Holds the load lock of `data_dir` throughout
/// and writes the state file at the end. `previous` is the state before the run (its
/// `last_ok` carries over).
///
/// `after_each` runs after each applied delivery (the change feed's production).
pub fn run(
    store: &Store,
    data_dir: &Path,
    inbox: &Path,
    previous: &JobState,
    now: DateTime<Utc>,
    after_each: &mut dyn FnMut(&Store),
) -> JobState {
    let mut state = JobState {
        last_run: Some(now),
        last_ok: previous.last_ok,
        ..JobState::default()
    };
    let outcome = match LoadLock::try_acquire(data_dir) {
        Ok(_lock) => run_locked(store, inbox, &mut state.files, after_each),
        Err(e @ JobError::Locked(_)) => {
            tracing::warn!(error = %e, "load job skipped");
            Outcome::Locked
        }
        Err(e) => {
            tracing::error!(error = %e, "load job cannot take its lock");
            Outcome::Failed
        }
    };
    state.outcome = outcome;
    let applied = state.files.iter().any(|h| h.result == FileResult::Applied);
    state.pending_refusal = match state.rejected().last() {
        Some(h) => Some(PendingRefusal {
            file: h.file.clone(),
            lopnummer: h.lopnummer,
            at: now,
            sets_protection: h.sets_protection,
        }),
        None if applied => None,
        None => previous.pending_refusal.clone(),
    };
    // A run that ended well is a success only when no refusal is pending: an empty inbox
    // after a refused delivery is no news that the data is current.
    if matches!(outcome, Outcome::Ok | Outcome::Nothing) && state.pending_refusal.is_none() {
        state.last_ok = Some(now);
    }
    if let Some(p) = &state.pending_refusal {
        if p.sets_protection > 0 {
            tracing::error!(
                file = %p.file,
                sets_protection = p.sets_protection,
                "a refused delivery would have set a protection: until a delivery is applied, those persons' earlier data is served"
            );
        }
    }
    state.store = store.info();
    match outcome {
        Outcome::Failed => tracing::error!(
            outcome = outcome.as_str(),
            files = state.files.len(),
            lopnummer = state.store.lopnummer.unwrap_or(0),
            "load job run stopped; serving the data as it was"
        ),
        _ => tracing::info!(
            outcome = outcome.as_str(),
            files = state.files.len(),
            lopnummer = state.store.lopnummer.unwrap_or(0),
            "load job run done"
        ),
    }
    if let Err(e) = state.write(data_dir, now) {
        tracing::error!(error = %e, "cannot write the load job's state file");
    }
    state
}

fn run_locked(
    store: &Store,
    inbox: &Path,
    files: &mut Vec<Handled>,
    after_each: &mut dyn FnMut(&Store),
) -> Outcome {
    let paths = match waiting(inbox) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the inbox");
            return Outcome::Failed;
        }
    };
    if paths.is_empty() {
        return Outcome::Nothing;
    }
    // Headers first: the run order is the löpnummer order, whatever the names say. A file
    // whose header cannot be read has no place in that order, so nothing is applied.
    let plan = match Plan::read(&paths) {
        Ok(plan) => plan,
        Err(why) => {
            let path = why.path().to_owned();
            files.push(reject(inbox, &path, None, &why.to_string()));
            return Outcome::Failed;
        }
    };
    // A store that failed a write (a full disk) refuses every write after it until it is
    // reopened: trying would only repeat the old error, and blame the delivery's size.
    if let Err(e) = store.flush() {
        if let Some(Step { path, header, .. }) = plan.steps.first() {
            let why = format!(
                "the store cannot be written since an earlier failure ({e}); {RESTART_HINT}"
            );
            tracing::error!(error = %why, "load job run stopped; the deliveries stay in the inbox");
            files.push(kept(path, header.lopnummer, why));
        }
        return Outcome::Failed;
    }
    for (path, lopnummer) in &plan.repeats {
        let why = "a second copy of a file of a delivery in this run; archived without applying";
        tracing::warn!(file = %name_of(path), "{why}");
        files.push(archive(
            inbox,
            path,
            *lopnummer,
            FileResult::AlreadyApplied,
            0,
            Some(why.to_owned()),
        ));
    }
    // A delivery of several files waits until all are in; the ones after it wait with it.
    let waits_at = plan.waits_at();
    for i in &plan.incomplete {
        tracing::warn!(
            lopnummer = i.lopnummer,
            missing = i.missing.len(),
            of = i.of,
            "a delivery waits in the inbox for the rest of its files"
        );
    }
    for step in plan.steps {
        let lopnummer = step.header.lopnummer;
        if waits_at.is_some_and(|w| lopnummer >= w) {
            break;
        }
        let paths: Vec<&Path> = step.files.iter().map(|f| f.path.as_path()).collect();
        match plan::decide(&store.info(), &step.header) {
            Decision::Apply => {}
            Decision::Refuse(why) => {
                for path in &paths {
                    let sets = protection_set_in(store, path);
                    files.push(reject(inbox, path, Some(lopnummer), &why).setting(sets));
                }
                return Outcome::Failed;
            }
            Decision::Already(why) => {
                for path in &paths {
                    tracing::warn!(file = %name_of(path), lopnummer, "{why}");
                    files.push(archive(
                        inbox,
                        path,
                        lopnummer,
                        FileResult::AlreadyApplied,
                        0,
                        Some(why.clone()),
                    ));
                }
                continue;
            }
        }
        match load_delivery(store, &step, false) {
            Ok(_) => {
                after_each(store);
                for f in &step.files {
                    files.push(archive(
                        inbox,
                        &f.path,
                        lopnummer,
                        FileResult::Applied,
                        f.records,
                        None,
                    ));
                }
            }
            Err(e @ LoadError::Store { .. }) => {
                let mut why = e.to_string();
                if store.flush().is_err() {
                    why.push_str("; ");
                    why.push_str(RESTART_HINT);
                }
                tracing::error!(error = %why, "store failure; the delivery stays in the inbox");
                for path in &paths {
                    files.push(kept(path, lopnummer, why.clone()));
                }
                return Outcome::Failed;
            }
            Err(e) => {
                for path in &paths {
                    let sets = protection_set_in(store, path);
                    files.push(reject(inbox, path, Some(lopnummer), &e.to_string()).setting(sets));
                }
                return Outcome::Failed;
            }
        }
    }
    Outcome::Ok
}

/// How many valid records of the delivery at `path` would set a protection (sekretess-
/// markering or skyddad folkbokföring) on a person the store now serves unprotected (or
/// not at all): read when the delivery is refused, so that the operator knows whose
/// protection waits. Records that cannot be read are not counted; reading stops at the
/// first error the reader cannot go on after. A count only: never who.
fn protection_set_in(store: &Store, path: &Path) -> u64 {
    /// Errors after which the count stops (a reader that cannot resynchronise).
    const MAX_ERRORS: usize = 100;
    let Ok(reader) = crate::loadfile::reader::DeliveryReader::open(path) else {
        return 0;
    };
    let snapshot = store.snapshot();
    let mut count = 0u64;
    let mut errors = 0usize;
    for record in reader {
        let Ok(record) = record else {
            errors += 1;
            if errors >= MAX_ERRORS {
                break;
            }
            continue;
        };
        if !record.post.is_protected() {
            continue;
        }
        let unprotected_now = match snapshot.get(&record.post.pnr()) {
            Ok(Some(now)) => !now.is_protected(),
            Ok(None) => true,
            Err(_) => false,
        };
        if unprotected_now {
            count += 1;
        }
    }
    count
}

/// What a report adds when the store has stopped taking writes: sled keeps the first I/O
/// error of a write (e.g. a full disk) and refuses every later one until it is reopened,
/// while reads go on — so the data is still served, but nothing can be loaded.
pub const RESTART_HINT: &str = "the store takes no writes until it is reopened: \
     restart folkreg serve once the cause (e.g. a full disk) is fixed; it serves the data it has meanwhile";

/// A delivery left in the inbox for the next run: the machine failed, not the file.
fn kept(path: &Path, lopnummer: u64, why: String) -> Handled {
    Handled {
        file: name_of(path),
        lopnummer: Some(lopnummer),
        result: FileResult::Kept,
        records: 0,
        reason: Some(why),
        sets_protection: 0,
    }
}

/// Moves an applied delivery to `archive/`, or one already applied before to
/// `archive/repeated/`.
fn archive(
    inbox: &Path,
    path: &Path,
    lopnummer: u64,
    result: FileResult,
    records: u64,
    reason: Option<String>,
) -> Handled {
    let handled = Handled {
        file: name_of(path),
        lopnummer: Some(lopnummer),
        result,
        records,
        reason,
        sets_protection: 0,
    };
    let folder = if result == FileResult::AlreadyApplied {
        REPEATED
    } else {
        ARCHIVE
    };
    file_away(inbox, path, folder, handled)
}

/// Moves a refused file to `rejected/` and writes `NAME.reason` beside it.
fn reject(inbox: &Path, path: &Path, lopnummer: Option<u64>, why: &str) -> Handled {
    tracing::error!(file = %name_of(path), error = %why, "delivery refused; moved to rejected/");
    let handled = file_away(
        inbox,
        path,
        REJECTED,
        Handled {
            file: name_of(path),
            lopnummer,
            result: FileResult::Rejected,
            records: 0,
            reason: Some(why.to_owned()),
            sets_protection: 0,
        },
    );
    let reason = inbox
        .join(REJECTED)
        .join(format!("{}.reason", handled.file));
    if let Err(e) = std::fs::write(&reason, format!("{why}\n")) {
        tracing::error!(file = %reason.display(), error = %e, "cannot write the reason file");
    }
    handled
}

/// Moves `path` into `inbox/folder/`, under a free name (`l2.xml.gz`, `l2.1.xml.gz`, …: still
/// a delivery's name, so `load --archive` reads a sender's reused file name), and makes the
/// move durable. `handled.file` becomes the name it got there.
fn file_away(inbox: &Path, path: &Path, folder: &str, mut handled: Handled) -> Handled {
    let dir = inbox.join(folder);
    let moved = std::fs::create_dir_all(&dir).and_then(|()| {
        let name = name_of(path);
        let mut target = dir.join(&name);
        let mut n = 0;
        while target.exists() {
            n += 1;
            target = dir.join(super::numbered_name(&name, n));
        }
        std::fs::rename(path, &target)?;
        crate::fsutil::sync_dir(&dir)?;
        crate::fsutil::sync_dir(inbox)?;
        Ok(name_of(&target))
    });
    match moved {
        Ok(name) => handled.file = name,
        Err(e) => tracing::error!(
            file = %path.display(),
            folder,
            error = %e,
            "cannot move the delivery out of the inbox"
        ),
    }
    handled
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

/// The job as `serve` runs it: the daily time, the state (shared with `/metrics`, `/load`
/// and the log), and one run at a time within the process (the lock file covers other
/// processes).
#[derive(Debug)]
pub struct Job {
    data_dir: PathBuf,
    inbox: PathBuf,
    daily: Daily,
    state: ArcSwap<JobState>,
    running: Mutex<()>,
}

impl Job {
    /// The job of this configuration, with the state its last run left.
    pub fn new(config: &Config) -> Result<Job, JobError> {
        let daily = config.load.daily_at;
        Ok(Job {
            data_dir: config.data_dir.clone(),
            inbox: config.load.inbox.clone(),
            daily,
            state: ArcSwap::from_pointee(JobState::read(&config.data_dir)?),
            running: Mutex::new(()),
        })
    }

    /// The state after the last run.
    pub fn state(&self) -> Arc<JobState> {
        self.state.load_full()
    }

    /// The inbox.
    pub fn inbox(&self) -> &Path {
        &self.inbox
    }

    /// Whether a scheduled run was missed (the service was down at the daily time, or never
    /// ran the job): then it runs at start.
    pub fn missed(&self, now: DateTime<Utc>) -> bool {
        let due = self.daily.last_at_or_before(now);
        self.state().last_run.is_none_or(|t| t < due)
    }

    /// The next scheduled run after `now`.
    pub fn next_run(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.daily.next_after(now)
    }

    /// Runs the job now (blocking: call it off the async workers), after any run under way.
    pub fn run_now(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        after_each: &mut dyn FnMut(&Store),
    ) -> Arc<JobState> {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let next = Arc::new(run(
            store,
            &self.data_dir,
            &self.inbox,
            &self.state(),
            now,
            after_each,
        ));
        self.state.store(next.clone());
        next
    }

    /// Records the store and the avisering orders as they are now in the state file (at
    /// start and after each load run), so that `folkreg status` can report while `serve`
    /// holds the store.
    pub fn record_store(
        &self,
        store: &Store,
        avisering: Vec<crate::avisering::feed::OrderSummary>,
        now: DateTime<Utc>,
    ) {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = (*self.state()).clone();
        state.store = store.info();
        state.avisering = avisering;
        if let Err(e) = state.write(&self.data_dir, now) {
            tracing::warn!(error = %e, "cannot write the load job's state file");
        }
        self.state.store(Arc::new(state));
    }
}
