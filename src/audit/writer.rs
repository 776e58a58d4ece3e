//! [`AuditLog`]: a bounded queue in front of one writer thread that appends each batch of
//! lines, syncs it once, and only then answers every request in the batch (group commit).

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{file_date, file_name, parse_file_name, AuditEntry, AuditError, Name};
use crate::clock::Clock;

/// Default size at which a file is closed and the next number begun: small enough to copy,
/// grep and archive one at a time, large enough that a busy day makes a handful of files.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// How many entries may wait for the writer. Equal to the default `[soap] max_connections`
/// ([`crate::config::DEFAULT_MAX_CONNECTIONS`]):
/// HTTP/1 has at most one request in flight per connection, so while the disk keeps up every
/// request finds room at once. When the disk stalls the queue fills and requests wait for
/// room (backpressure) instead of memory growing; a full queue holds about 4096 × 1–3 KiB.
/// It is also the largest batch, so one `fsync` covers at most this many lines.
pub const QUEUE_CAPACITY: usize = 4096;

/// Where and how the log writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// The audit directory (created, mode 0700, if missing).
    pub dir: PathBuf,
    /// A file is closed and the next number begun before a line would take it past this
    /// size. A single line larger than this still goes into a file of its own.
    pub max_bytes: u64,
}

impl AuditOptions {
    /// Options for `dir` with [`DEFAULT_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> AuditOptions {
        AuditOptions {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The same options with another size limit.
    pub fn max_bytes(mut self, max_bytes: u64) -> AuditOptions {
        self.max_bytes = max_bytes;
        self
    }
}

/// Where a request waits for its line to be durable.
type Reply = oneshot::Sender<Result<(), AuditError>>;

enum Msg {
    /// A line to write, and who to tell.
    Entry(Box<AuditEntry>, Reply),
    /// Take nothing new; write what is queued, then stop.
    Close,
}

/// Counters shared with the writer.
#[derive(Debug, Default)]
struct Counters {
    syncs: AtomicU64,
    lines: AtomicU64,
}

/// The audit log writer: hand it one [`AuditEntry`] per served request with
/// [`AuditLog::record`] and send the answer only after that resolves `Ok`.
///
/// Lines go to `audit-YYYYMMDD-NNN.jsonl` (Europe/Stockholm date of the line's stamp) in the
/// configured directory, files mode 0600. A new file is begun when the date changes or the
/// current file would exceed [`AuditOptions::max_bytes`]. On open, the newest file of today is
/// continued (appended to), unless its last line is torn, in which case the next number is
/// begun so that the torn line stays the last line of its file.
#[derive(Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    writer: std::thread::JoinHandle<()>,
}

impl AuditLog {
    /// Creates the directory if needed, opens today's file and starts the writer thread.
    /// `clock` stamps the lines and dates the files (in service:
    /// [`crate::clock::SystemClock`]).
    ///
    /// Blocking file I/O: call it at startup (or inside `spawn_blocking`).
    pub fn open(options: AuditOptions, clock: Arc<dyn Clock>) -> Result<AuditLog, AuditError> {
        create_dir(&options.dir)?;
        let counters = Arc::new(Counters::default());
        let today = file_date(clock.now());
        let mut files = Files {
            dir: options.dir,
            max_bytes: options.max_bytes,
            clock,
            last: DateTime::<Utc>::MIN_UTC,
            current: None,
            counters: Arc::clone(&counters),
        };
        files.current = Some(files.continue_today(today)?);
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let writer = std::thread::Builder::new()
            .name("folkreg-audit".into())
            .spawn(move || files.run(rx))
            .map_err(|e| AuditError::Spawn(Arc::new(e)))?;
        Ok(AuditLog {
            tx,
            counters,
            writer,
        })
    }

    /// Queues `entry` and resolves once its line is written and `fsync`ed (with whatever else
    /// was queued at the same moment: one sync per batch).
    ///
    /// `entry.time` is replaced by the log's stamp. An `Err` means the line is not durable
    /// (the file could not be opened, written or synced, or the log is shut down): the server
    /// must then answer a Server fault, not the data. Waits for room while the queue is full.
    /// The returned future owns what it needs, so it may be spawned.
    pub fn record(
        &self,
        entry: AuditEntry,
    ) -> impl Future<Output = Result<(), AuditError>> + Send + 'static {
        let tx = self.tx.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            tx.send(Msg::Entry(Box::new(entry), reply))
                .await
                .map_err(|_| AuditError::Closed)?;
            answer.await.unwrap_or(Err(AuditError::WriterStopped))
        }
    }

    /// Successful `fsync`s of audit files so far (each covers one batch).
    pub fn syncs(&self) -> u64 {
        self.counters.syncs.load(Ordering::Relaxed)
    }

    /// Lines written and synced so far.
    pub fn lines(&self) -> u64 {
        self.counters.lines.load(Ordering::Relaxed)
    }

    /// Stops taking entries, writes and syncs everything already queued (those requests are
    /// answered as usual), and waits for the writer to stop. A `record` that had not reached
    /// the queue gets [`AuditError::Closed`]. For graceful shutdown, after the listeners have
    /// drained.
    pub async fn shutdown(self) -> Result<(), AuditError> {
        let AuditLog { tx, writer, .. } = self;
        // If the writer is already gone the send fails; the join below says why.
        let _ = tx.send(Msg::Close).await;
        drop(tx);
        match tokio::task::spawn_blocking(move || writer.join()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(AuditError::WriterStopped),
        }
    }
}

/// The writer's state: owned by the writer thread alone.
struct Files {
    dir: PathBuf,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
    /// The last stamp given, so stamps never go backwards when the clock does.
    last: DateTime<Utc>,
    /// The file being appended to; `None` after a failure, until the next line opens one.
    current: Option<Current>,
    counters: Arc<Counters>,
}

/// An open audit file and the batch part headed for it.
struct Current {
    file: File,
    path: PathBuf,
    date: NaiveDate,
    /// Bytes in the file that are synced (the file ends at a line boundary there).
    len: u64,
    /// Lines of this batch not yet written.
    pending: Vec<u8>,
    /// The requests whose lines are in `pending`.
    waiting: Vec<Reply>,
}

impl Current {
    /// Whether a line of `size` bytes stamped on `date` may go into this file.
    fn fits(&self, date: NaiveDate, size: usize, max_bytes: u64) -> bool {
        let before = self.len + self.pending.len() as u64;
        date == self.date && (before == 0 || before + size as u64 <= max_bytes)
    }
}

impl Files {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            while let Some(msg) = next {
                match msg {
                    Msg::Entry(entry, reply) => batch.push((entry, reply)),
                    // Queued entries are still received after `close`, then `None` ends the loop.
                    Msg::Close => rx.close(),
                }
                next = if batch.len() < QUEUE_CAPACITY {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            self.append(&mut batch);
        }
    }

    /// Writes a batch: each line to its file, one sync per file touched, then the answers.
    fn append(&mut self, batch: &mut Vec<(Box<AuditEntry>, Reply)>) {
        for (mut entry, reply) in batch.drain(..) {
            entry.time = self.stamp();
            let mut line = match serde_json::to_vec(&entry) {
                Ok(line) => line,
                Err(e) => {
                    let _ = reply.send(Err(AuditError::Encode(Arc::new(e))));
                    continue;
                }
            };
            line.push(b'\n');
            let date = file_date(entry.time);
            let cur = match self.current.take() {
                Some(cur) if cur.fits(date, line.len(), self.max_bytes) => self.current.insert(cur),
                old => {
                    if let Some(mut old) = old {
                        self.flush(&mut old);
                    }
                    match self.create(date) {
                        Ok(cur) => self.current.insert(cur),
                        Err(e) => {
                            let _ = reply.send(Err(e));
                            continue;
                        }
                    }
                }
            };
            cur.pending.extend_from_slice(&line);
            cur.waiting.push(reply);
        }
        if let Some(mut cur) = self.current.take() {
            if self.flush(&mut cur) {
                self.current = Some(cur);
            }
        }
    }

    /// Writes and syncs what is pending for `cur`, then answers its requests. Returns whether
    /// the file may be written again: after a failure it is not (after a failed `fsync` the
    /// kernel's state of the file is unknown), and the next line begins a new file.
    fn flush(&self, cur: &mut Current) -> bool {
        if cur.waiting.is_empty() {
            return true;
        }
        let result = cur
            .file
            .write_all(&cur.pending)
            .map_err(|e| AuditError::Write {
                path: cur.path.clone(),
                source: Arc::new(e),
            })
            .and_then(|()| {
                cur.file.sync_data().map_err(|e| AuditError::Sync {
                    path: cur.path.clone(),
                    source: Arc::new(e),
                })
            });
        let lines = cur.waiting.len() as u64;
        match &result {
            Ok(()) => {
                cur.len += cur.pending.len() as u64;
                self.counters.syncs.fetch_add(1, Ordering::Relaxed);
                self.counters.lines.fetch_add(lines, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, lines, "audit batch not durable; its requests fail");
                // Cut any partial write so the file still ends at a line boundary; only lines
                // whose requests are being failed are removed. Best effort: the file is
                // abandoned either way.
                let _ = cur.file.set_len(cur.len);
                // A file that never held a durable line is removed, not left behind: on a
                // full disk every failed batch would otherwise leave one more empty file.
                if cur.len == 0 {
                    match std::fs::remove_file(&cur.path) {
                        Ok(()) => {
                            let _ = sync_dir(&self.dir);
                        }
                        Err(e) => tracing::warn!(
                            file = %cur.path.display(),
                            error = %e,
                            "cannot remove the empty audit file of a failed batch"
                        ),
                    }
                }
            }
        }
        cur.pending.clear();
        for reply in cur.waiting.drain(..) {
            let _ = reply.send(result.clone());
        }
        result.is_ok()
    }

    /// The stamp for the next line: the clock to the millisecond, never before the last one.
    fn stamp(&mut self) -> DateTime<Utc> {
        let now = self.clock.now().trunc_subsecs(3);
        self.last = self.last.max(now);
        self.last
    }

    /// Today's newest file, appended to; or a new one if there is none or it ends torn.
    fn continue_today(&self, today: NaiveDate) -> Result<Current, AuditError> {
        let Some(seq) = newest(&self.dir, today)? else {
            return self.create(today);
        };
        let path = self.dir.join(file_name(today, seq));
        let open_err = |e| AuditError::Open {
            path: path.clone(),
            source: Arc::new(e),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(open_err)?;
        let len = file.metadata().map_err(open_err)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(open_err)?;
            if last[0] != b'\n' {
                tracing::warn!(
                    file = %path.display(),
                    "audit file ends in a torn line; beginning the next file"
                );
                return self.create(today);
            }
        }
        Ok(Current {
            file,
            path,
            date: today,
            len,
            pending: Vec::new(),
            waiting: Vec::new(),
        })
    }

    /// Creates the next-numbered file of `date` (never opening an existing one).
    fn create(&self, date: NaiveDate) -> Result<Current, AuditError> {
        let seq = newest(&self.dir, date)?.map_or(1, |n| n.saturating_add(1));
        let path = self.dir.join(file_name(date, seq));
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| AuditError::Open {
            path: path.clone(),
            source: Arc::new(e),
        })?;
        sync_dir(&self.dir)?;
        tracing::info!(file = %path.display(), "audit file begun");
        Ok(Current {
            file,
            path,
            date,
            len: 0,
            pending: Vec::new(),
            waiting: Vec::new(),
        })
    }
}

/// The highest number among `date`'s files in `dir`.
fn newest(dir: &Path, date: NaiveDate) -> Result<Option<u32>, AuditError> {
    let dir_err = |e| AuditError::Dir {
        dir: dir.to_owned(),
        source: Arc::new(e),
    };
    let mut max = None;
    for item in std::fs::read_dir(dir).map_err(dir_err)? {
        let item = item.map_err(dir_err)?;
        if let Some(Name::Audit(d, n)) = item.file_name().to_str().map(parse_file_name) {
            if d == date {
                max = max.max(Some(n));
            }
        }
    }
    Ok(max)
}

fn create_dir(dir: &Path) -> Result<(), AuditError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        if let Ok(meta) = std::fs::metadata(dir) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"),
                    "audit directory is open to others than its owner");
            }
        }
    }
    builder.create(dir).map_err(|e| AuditError::Dir {
        dir: dir.to_owned(),
        source: Arc::new(e),
    })
}

/// Makes a newly created file's name durable, not only its contents.
fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    #[cfg(unix)]
    crate::fsutil::sync_dir(dir).map_err(|e| AuditError::Sync {
        path: dir.to_owned(),
        source: Arc::new(e),
    })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
