//! The sled store: person records by identity number, the search indexes, and generations.
//!
//! # Generations
//! Each full delivery becomes a new generation `N`: its records and its index keys are sorted
//! (an external sort, so memory stays flat for any size) and written to two immutable
//! [`segment`] files, `segments/g{N}.post.seg` and `segments/g{N}.idx.seg`, each synced and
//! renamed into place. Only then does the single `meta/current` key switch to `N`: one atomic
//! write, so a crash leaves either the old generation or the new one current. Segment files
//! and trees of any other generation are leftovers (a crashed build, or an old generation
//! whose removal was interrupted) and are removed when the store opens.
//!
//! A delta delivery changes the current generation in its *overlay*: two sled trees,
//! `g{N}:post` and `g{N}:idx`, whose entries override the segments' (a value starting with
//! byte 1 is the entry, byte 0 a removal). The delta is ONE sled transaction over the overlay,
//! the journal and `meta/current` (which carries the löpnummer and counts), so it is applied
//! all or nothing, and durable before [`Store::apply_delta`] returns. Reads merge the two.
//!
//! # Readers
//! A [`Snapshot`] holds a read lock on the current generation for as long as it lives; a
//! delta commit or a generation switch takes the write lock for its short final step. So a
//! request that reads several records sees one consistent state from start to end.
//! Snapshots are synchronous: never hold one across an `.await`.
//!
//! Owns nothing about who may see what; never logs record contents.

pub mod index;
pub mod journal;
pub mod segment;
mod sort;

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::access::{Found, Protection};
use crate::ids::pnr::Pnr;
use crate::loadfile::DeliveryHeader;
use crate::model::change::{merge, DeliveryRecord, Posttyp};
use crate::model::{self, Folkbokforingspost};
use crate::search::SearchQuery;

use segment::{Segment, SegmentWriter};
use sort::{Item, Sorter};

/// Memory each of a FULL build's two sorts (records, index keys) holds before it writes a run.
const SORT_BUDGET: usize = 64 << 20;

const META_TREE: &str = "meta";
const CURRENT_KEY: &[u8] = b"current";
/// `meta` key of the store's format: 3 = segment files with the combined name indexes. A
/// store without it was written before segment files (records in sled trees); 2 had segments
/// without the combined indexes (a search would miss persons), so it is refused as well.
const FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"3";
/// `meta` key of the current overlay version (absent = 0), written with `CURRENT_KEY`.
const OVERLAY_KEY: &[u8] = b"overlay";
/// The segment files' folder inside the store's directory.
const SEGMENTS: &str = "segments";

/// Overlay value tags: an entry, or the removal of the segment's entry.
const LIVE: u8 = 1;
const REMOVED: u8 = 0;

/// What the store says about its current generation; kept in `meta/current`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Generation number (0 = empty store, nothing loaded yet).
    pub generation: u64,
    /// Löpnummer of the last applied delivery.
    pub lopnummer: Option<u64>,
    /// Number of records.
    pub records: u64,
    /// When the last delivery was applied (RFC 3339, UTC).
    pub loaded_at: Option<String>,
    /// `Skapad` of the last applied delivery.
    pub skapad: Option<String>,
    /// Whether the last applied delivery was a FULL one.
    pub last_was_full: bool,
}

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (a running `folkreg serve`, another load) has the store open.
    #[error("the store in {0} is in use by another process")]
    Locked(PathBuf),
    /// sled failed (I/O or corruption).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record cannot be decoded.
    #[error("store: {0}")]
    Decode(#[from] model::DecodeError),
    /// The store's metadata cannot be decoded.
    #[error("store metadata is corrupt: {0}")]
    Meta(#[from] postcard::Error),
    /// A transaction was aborted.
    #[error("store transaction failed: {0}")]
    Transaction(String),
    /// Reading or writing a segment file failed.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    /// A segment file is damaged, or the store was written by an incompatible version.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// A delivery does not fit the store; nothing was changed.
    #[error("{0}")]
    Refused(Refusal),
}

/// sled's error for a directory another process holds, as [`StoreError::Locked`]. sled 0.34
/// reports its failed `flock` only as the text of an `io::Error` ("could not acquire lock on
/// …"), so this is the one place that reads it.
fn locked(dir: &Path, e: sled::Error) -> StoreError {
    match &e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked(dir.to_owned())
        }
        _ => StoreError::Sled(e),
    }
}

/// Why a delivery is refused. The position is the 1-based record number in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A delta's löpnummer is not the next one.
    #[error("löpnummer {got} is not the next delivery: the store is at löpnummer {at}, so {expected} is expected (gap or repeat; use --force to apply anyway)")]
    Lopnummer {
        /// The file's löpnummer.
        got: u64,
        /// The store's.
        at: u64,
        /// The next one.
        expected: u64,
    },
    /// A delta's löpnummer was already applied: loading it again would change nothing.
    #[error("löpnummer {0} is already applied; nothing was changed")]
    AlreadyApplied(u64),
    /// A delta on an empty store.
    #[error("the store is empty: the first delivery must be FULL")]
    NoBase,
    /// The same identity number twice in one delivery.
    #[error(
        "record {position}: the identity number already occurs in {} of this delivery",
        .first.map_or_else(|| "an earlier record".to_owned(), |f| format!("record {f}"))
    )]
    Duplicate {
        /// This record.
        position: u64,
        /// The earlier one, if known: a FULL delivery is checked against what earlier
        /// batches wrote, whose positions are not kept (that would be a map of every number).
        first: Option<u64>,
    },
    /// An ändringspost or borttag for a person the store does not have.
    #[error("record {position}: {kind} for a person the store does not have")]
    Missing {
        /// The record.
        position: u64,
        /// `ändringspost` or `borttag`.
        kind: &'static str,
    },
    /// A FULL delivery with a record that is not a totalpost.
    #[error("record {0}: a FULL delivery may hold only totalposter (Posttyp T)")]
    NotTotal(u64),
}

/// Counts of what a load changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Records that did not exist.
    pub added: u64,
    /// Records replaced or merged.
    pub changed: u64,
    /// Records removed.
    pub removed: u64,
}

/// One generation: its segments, its overlay of deltas, and what meta says about it. Never
/// changed once made: a delta makes a new one (a new overlay version, the same segments) and
/// the store swaps its pointer, so a reader's [`Snapshot`] is never locked by a load.
struct Generation {
    posts: Arc<Segment>,
    idx: Arc<Segment>,
    /// The numbers some record of `idx` refers to by hänvisning: a lookup scans `idx` for
    /// the records referring to a number only when it is here (few are; the scan was 8 % of
    /// a lookup's CPU). The overlay's links are always scanned.
    referred: Arc<Referred>,
    overlay: Arc<Overlay>,
    info: StoreInfo,
}

/// See [`Generation::referred`].
type Referred = std::collections::HashSet<[u8; 12]>;

/// The numbers the [`index::HANVISNING`] keys of an index segment refer to.
fn referred_in(idx: &Segment) -> Result<Referred, StoreError> {
    let mut out = Referred::new();
    for kv in idx.iter_from(&[index::HANVISNING]) {
        let (k, _) = kv?;
        if k.first() != Some(&index::HANVISNING) {
            break;
        }
        if let Some(target) = k.get(1..13).and_then(|t| <[u8; 12]>::try_from(t).ok()) {
            out.insert(target);
        }
    }
    Ok(out)
}

/// The deltas applied to a generation's segments since its FULL: two sled trees, one version
/// per applied delta (`g{N}:post` for version 0, `g{N}.{V}:post` after). Never written once
/// current; a retired overlay's trees are dropped when the last snapshot holding it goes.
struct Overlay {
    posts: sled::Tree,
    idx: sled::Tree,
    generation: u64,
    version: u64,
    db: sled::Db,
    retired: AtomicBool,
}

impl Overlay {
    /// Opens (creating if missing) the trees of version `version` of generation `generation`.
    fn open(db: &sled::Db, generation: u64, version: u64) -> Result<Overlay, StoreError> {
        Ok(Overlay {
            posts: db.open_tree(overlay_tree(generation, version, "post"))?,
            idx: db.open_tree(overlay_tree(generation, version, "idx"))?,
            generation,
            version,
            db: db.clone(),
            retired: AtomicBool::new(false),
        })
    }

    /// Its trees go when the last reader lets go of it.
    fn retire(&self) {
        self.retired.store(true, AtomicOrdering::Release);
    }
}

impl Drop for Overlay {
    /// The last holder may be a reader: dropping a tree of a large overlay takes long, so it
    /// is done on a thread of its own, never on the reader's.
    fn drop(&mut self) {
        if self.retired.load(AtomicOrdering::Acquire) {
            let db = self.db.clone();
            let (generation, version) = (self.generation, self.version);
            // Best effort: a failure leaves trees that the next open removes.
            let drop_trees = move || {
                let _ = drop_overlay(&db, generation, version);
            };
            if std::thread::Builder::new()
                .name("folkreg-overlay-drop".into())
                .spawn(drop_trees)
                .is_err()
            {
                // No thread to be had: the next open removes the trees.
            }
        }
    }
}

/// Entries in key order, `Err` where a read failed.
type Entries<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

impl Generation {
    fn open(
        db: &sled::Db,
        dir: &Path,
        info: StoreInfo,
        version: u64,
    ) -> Result<Generation, StoreError> {
        let n = info.generation;
        let idx = Segment::open(&segment_path(dir, n, "idx"))?;
        Ok(Generation {
            posts: Arc::new(Segment::open(&segment_path(dir, n, "post"))?),
            referred: Arc::new(referred_in(&idx)?),
            idx: Arc::new(idx),
            overlay: Arc::new(Overlay::open(db, n, version)?),
            info,
        })
    }

    /// The encoded record stored under `key`.
    fn get_post(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.posts.get(key)? {
            Some(v) => Ok(live(&v).map(<[u8]>::to_vec)),
            None => self.posts.get(key),
        }
    }

    /// Every (number, encoded record) in number order.
    fn posts(&self) -> Entries<'_> {
        Box::new(merged(self.posts.iter_from(b""), self.overlay.posts.iter()))
    }

    /// The index keys starting with `prefix`.
    fn idx_prefix(&self, prefix: &[u8]) -> Entries<'_> {
        let p = prefix.to_vec();
        let base = self
            .idx
            .iter_from(prefix)
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&p)));
        Box::new(merged(base, self.overlay.idx.scan_prefix(prefix)))
    }

    /// The keys of the records that refer to `pnr` by hänvisning.
    fn referring(&self, pnr: &Pnr) -> Entries<'_> {
        let mut prefix = vec![index::HANVISNING];
        prefix.extend_from_slice(pnr.as_bytes());
        if self.referred.contains(pnr.as_bytes()) {
            self.idx_prefix(&prefix)
        } else {
            Box::new(merged(
                std::iter::empty(),
                self.overlay.idx.scan_prefix(&prefix),
            ))
        }
    }

    /// The index keys in `start..end`.
    fn idx_range(&self, start: Vec<u8>, end: Vec<u8>) -> Entries<'_> {
        let stop = end.clone();
        let base = self
            .idx
            .iter_from(&start)
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| *k < stop));
        Box::new(merged(base, self.overlay.idx.range(start..end)))
    }
}

/// The overlay value's entry, or `None` for a removal.
fn live(v: &[u8]) -> Option<&[u8]> {
    match v.split_first() {
        Some((&LIVE, rest)) => Some(rest),
        _ => None,
    }
}

/// The segment's entries with the overlay's applied: an overlay entry replaces the segment's
/// entry of the same key, an overlay removal hides it.
fn merged<'a>(
    base: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a,
    overlay: sled::Iter,
) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a {
    let overlay = overlay.map(|kv| {
        let (k, v) = kv?;
        Ok((k.to_vec(), live(&v).map(<[u8]>::to_vec)))
    });
    Merged {
        base: base.peekable(),
        overlay: overlay.peekable(),
    }
}

struct Merged<A: Iterator, B: Iterator> {
    base: std::iter::Peekable<A>,
    overlay: std::iter::Peekable<B>,
}

impl<A, B> Iterator for Merged<A, B>
where
    A: Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>>,
    B: Iterator<Item = Result<(Vec<u8>, Option<Vec<u8>>), StoreError>>,
{
    type Item = Result<(Vec<u8>, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::cmp::Ordering;
        loop {
            let order = match (self.base.peek(), self.overlay.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(_), None) => Ordering::Less,
                (_, Some(Err(_))) | (None, Some(_)) => Ordering::Greater,
                (Some(Ok((a, _))), Some(Ok((b, _)))) => a.cmp(b),
            };
            if order == Ordering::Less {
                return self.base.next();
            }
            if order == Ordering::Equal {
                self.base.next();
            }
            match self.overlay.next()? {
                Ok((k, Some(v))) => return Some(Ok((k, v))),
                Ok((_, None)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    db: sled::Db,
    /// Where the segment files are.
    segments: PathBuf,
    meta: sled::Tree,
    /// The change journal ([`journal`]).
    journal: sled::Tree,
    /// The current generation; `None` until the first delivery is loaded.
    current: RwLock<Option<Arc<Generation>>>,
    /// One writer at a time (full build or delta).
    writer: Mutex<()>,
    /// Memory each sort of a FULL build holds before it writes a run ([`SORT_BUDGET`]).
    sort_budget: usize,
}

impl Store {
    /// Opens (or creates) the store in `dir`, and removes what an interrupted load left.
    ///
    /// `cache_bytes` bounds sled's page cache (which holds the overlays of deltas, the change
    /// feed and metadata; the segments are read through the operating system's page cache).
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| locked(dir, e))?;
        let segments = dir.join(SEGMENTS);
        std::fs::create_dir_all(&segments)?;
        let meta = db.open_tree(META_TREE)?;
        let info: Option<StoreInfo> = match meta.get(CURRENT_KEY)? {
            Some(v) => Some(postcard::from_bytes(&v)?),
            None => None,
        };
        if info.is_some() && meta.get(FORMAT_KEY)?.as_deref() != Some(FORMAT) {
            return Err(StoreError::Corrupt(format!(
                "{} was written by an older folkreg (another store format); move it away and \
                 rebuild it from the delivery archive with `folkreg load --archive`",
                dir.display()
            )));
        }
        let keep = info.as_ref().map(|i| i.generation);
        let version = match meta.get(OVERLAY_KEY)? {
            Some(v) => postcard::from_bytes(&v)?,
            None => 0,
        };
        // Trees of other generations, and overlay versions a crash left unfinished (made but
        // never named in meta) or unremoved (replaced but not yet dropped).
        for name in db.tree_names() {
            if let Some((gen, v)) = overlay_of(&name) {
                if Some(gen) != keep || v != version {
                    db.drop_tree(&name)?;
                }
            }
        }
        remove_leftover_files(&segments, keep)?;
        let current = match info {
            Some(info) => Some(Arc::new(Generation::open(&db, &segments, info, version)?)),
            None => None,
        };
        let journal = db.open_tree(journal::JOURNAL_TREE)?;
        Ok(Store {
            db,
            segments,
            meta,
            journal,
            current: RwLock::new(current),
            writer: Mutex::new(()),
            sort_budget: SORT_BUDGET,
        })
    }

    /// A consistent read view of the current generation: it holds the generation, not a lock,
    /// so a load never waits for it and it never waits for a load.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            generation: self
                .current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            _store: PhantomData,
        }
    }

    /// What the current generation is.
    pub fn info(&self) -> StoreInfo {
        self.snapshot().info()
    }

    /// Starts building a new generation from a FULL delivery. Nothing is visible until
    /// [`FullBuild::commit`]; dropping the builder (or an error) discards it.
    pub fn begin_full(&self, header: &DeliveryHeader) -> Result<FullBuild<'_>, StoreError> {
        let lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.info().generation + 1;
        // A leftover of the same number (a crash after open) must not leak into the new one.
        drop_overlay(&self.db, generation, 0)?;
        Ok(FullBuild {
            store: self,
            _lock: lock,
            generation,
            records: Sorter::new(
                &self.segments,
                &format!("g{generation}.post"),
                self.sort_budget,
            ),
            keys: Sorter::new(
                &self.segments,
                &format!("g{generation}.idx"),
                self.sort_budget,
            ),
            header: header.clone(),
            count: 0,
            committed: false,
        })
    }

    /// Applies a DELTA delivery all or nothing. The records are already validated one by one
    /// (the reader did that); here they are checked against the store: löpnummer order,
    /// duplicates, changes and removals of persons the store has.
    pub fn apply_delta(
        &self,
        header: &DeliveryHeader,
        records: &[DeliveryRecord],
        force: bool,
    ) -> Result<LoadSummary, StoreError> {
        let _lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(gen) = self.snapshot().generation_arc() else {
            return Err(StoreError::Refused(Refusal::NoBase));
        };
        let at = gen.info.lopnummer.unwrap_or(0);
        if !force {
            if header.lopnummer == at {
                return Err(StoreError::Refused(Refusal::AlreadyApplied(at)));
            }
            if header.lopnummer != at + 1 {
                return Err(StoreError::Refused(Refusal::Lopnummer {
                    got: header.lopnummer,
                    at,
                    expected: at + 1,
                }));
            }
        }
        let plan = plan_delta(&gen, records)?;
        let seq = journal::read_seq(&self.meta)? + 1;
        journal::clear(&self.journal, seq)?;
        let mut info = gen.info.clone();
        info.lopnummer = Some(header.lopnummer);
        info.records = (info.records + plan.summary.added).saturating_sub(plan.summary.removed);
        info.loaded_at = Some(now_rfc3339());
        info.skapad = Some(header.skapad.clone());
        info.last_was_full = false;
        let info_bytes = postcard::to_stdvec(&info)?;

        // The next overlay version: the current one copied, the delta applied, both invisible
        // until meta names the version; then the pointer is swapped. Readers keep reading the
        // generation they hold throughout.
        let version = gen.overlay.version + 1;
        drop_overlay(&self.db, gen.info.generation, version)?;
        // Everything before the meta batch is written with single inserts, not sled batches
        // or transactions: those hold sled's global write lock for their length, which every
        // read in every tree waits for (a 30,000-record batch stalled readers for a second).
        // Nothing written here is visible before meta names it: the overlay version, and the
        // journal's entries of a load sequence number meta does not have yet.
        let next = Overlay::open(&self.db, gen.info.generation, version)?;
        copy_tree(&gen.overlay.posts, &next.posts)?;
        copy_tree(&gen.overlay.idx, &next.idx)?;
        for (key, value) in &plan.posts {
            next.posts.insert(key.as_slice(), value.as_slice())?;
        }
        for k in &plan.idx_remove {
            next.idx.insert(k.as_slice(), &[REMOVED][..])?;
        }
        for k in &plan.idx_insert {
            next.idx.insert(k.as_slice(), &[LIVE][..])?;
        }
        for (pnr, value) in &plan.journal {
            self.journal
                .insert(journal::key(seq, pnr), value.as_slice())?;
        }
        // All of it is on disk before meta names it; then meta in one small atomic batch.
        self.db.flush()?;
        let mut switch = sled::Batch::default();
        switch.insert(CURRENT_KEY, info_bytes);
        switch.insert(OVERLAY_KEY, postcard::to_stdvec(&version)?);
        switch.insert(journal::SEQ_KEY, &journal::seq_bytes(seq)[..]);
        self.meta.apply_batch(switch)?;
        self.db.flush()?;
        let new = Arc::new(Generation {
            posts: gen.posts.clone(),
            idx: gen.idx.clone(),
            referred: gen.referred.clone(),
            overlay: Arc::new(next),
            info,
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(new);
        gen.overlay.retire();
        Ok(plan.summary)
    }

    /// A tree of the store's database for another part's state that must be as durable as
    /// the records (the change feed's deliveries and cursors).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Bytes the store occupies on disk (sled's files and the current segments).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        let segments = self
            .snapshot()
            .generation
            .as_ref()
            .map_or(0, |g| g.posts.bytes() + g.idx.bytes());
        Ok(self.db.size_on_disk()? + segments)
    }

    /// Memory the current generation's segment directories take (the only part of the
    /// records that is resident by design).
    pub fn directory_bytes(&self) -> usize {
        self.snapshot()
            .generation
            .as_ref()
            .map_or(0, |g| g.posts.directory_bytes() + g.idx.directory_bytes())
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The file of generation `n`'s segment of `kind` (`post` or `idx`).
fn segment_path(dir: &Path, n: u64, kind: &str) -> PathBuf {
    dir.join(format!("g{n}.{kind}.seg"))
}

/// Removes segment files of generations other than `keep`, unfinished segments and sort runs.
fn remove_leftover_files(dir: &Path, keep: Option<u64>) -> Result<(), StoreError> {
    let keep: Vec<String> = keep
        .map(|n| ["post", "idx"].map(|k| format!("g{n}.{k}.seg")).to_vec())
        .unwrap_or_default();
    let mut removed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) {
            std::fs::remove_file(entry.path())?;
            removed = true;
        }
    }
    if removed {
        crate::fsutil::sync_dir(dir)?;
    }
    Ok(())
}

/// The writes a delta makes to the overlay, computed before anything is written.
struct DeltaPlan {
    /// (number, tagged overlay value).
    posts: Vec<(Vec<u8>, Vec<u8>)>,
    /// (identity number, journal value) of each person whose record really changes.
    journal: Vec<(Vec<u8>, Vec<u8>)>,
    idx_remove: Vec<Vec<u8>>,
    idx_insert: Vec<Vec<u8>>,
    summary: LoadSummary,
}

fn plan_delta(gen: &Generation, records: &[DeliveryRecord]) -> Result<DeltaPlan, StoreError> {
    let mut seen: std::collections::HashMap<Pnr, u64> =
        std::collections::HashMap::with_capacity(records.len());
    let mut plan = DeltaPlan {
        posts: Vec::new(),
        journal: Vec::new(),
        idx_remove: Vec::new(),
        idx_insert: Vec::new(),
        summary: LoadSummary::default(),
    };
    for (i, rec) in records.iter().enumerate() {
        let position = i as u64 + 1;
        let pnr = rec.post.pnr();
        if let Some(first) = seen.insert(pnr, position) {
            return Err(StoreError::Refused(Refusal::Duplicate {
                position,
                first: Some(first),
            }));
        }
        let old_bytes = gen.get_post(pnr.as_bytes())?;
        let old = match &old_bytes {
            Some(v) => Some(model::decode(v)?),
            None => None,
        };
        let new = match (rec.posttyp, old.as_ref()) {
            (Posttyp::Total, _) => Some(rec.post.clone()),
            (Posttyp::Andring, Some(o)) => {
                let mut merged = o.clone();
                merge(&mut merged, &rec.post, rec.present);
                Some(merged)
            }
            (Posttyp::Andring, None) => {
                return Err(StoreError::Refused(Refusal::Missing {
                    position,
                    kind: "ändringspost",
                }))
            }
            // Navet's flyttsignal (9.6.2): a protected person has left the receiver's area,
            // so its store no longer keeps the person; a person it never had is left as is.
            (Posttyp::Flyttsignal, Some(_)) => None,
            (Posttyp::Flyttsignal, None) => continue,
            (Posttyp::Borttag, Some(_)) => None,
            (Posttyp::Borttag, None) => {
                return Err(StoreError::Refused(Refusal::Missing {
                    position,
                    kind: "borttag",
                }))
            }
        };
        let old_keys: BTreeSet<Vec<u8>> = old
            .as_ref()
            .map(index::keys)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let new_keys: BTreeSet<Vec<u8>> = new
            .as_ref()
            .map(index::keys)
            .unwrap_or_default()
            .into_iter()
            .collect();
        plan.idx_remove
            .extend(old_keys.difference(&new_keys).cloned());
        plan.idx_insert
            .extend(new_keys.difference(&old_keys).cloned());
        match (&old, &new) {
            (None, _) => plan.summary.added += 1,
            (Some(_), Some(_)) => plan.summary.changed += 1,
            (Some(_), None) => plan.summary.removed += 1,
        }
        let new_bytes = new.as_ref().map(model::encode);
        if old_bytes.as_deref() != new_bytes.as_deref() {
            plan.journal.push((
                pnr.as_bytes().to_vec(),
                journal::value(old_bytes.as_deref(), new_bytes.as_deref())?,
            ));
        }
        let tagged = match new_bytes {
            Some(b) => {
                let mut v = Vec::with_capacity(b.len() + 1);
                v.push(LIVE);
                v.extend_from_slice(&b);
                v
            }
            None => vec![REMOVED],
        };
        plan.posts.push((pnr.as_bytes().to_vec(), tagged));
    }
    Ok(plan)
}

/// A generation being built from a FULL delivery.
pub struct FullBuild<'a> {
    store: &'a Store,
    _lock: std::sync::MutexGuard<'a, ()>,
    generation: u64,
    records: Sorter,
    keys: Sorter,
    header: DeliveryHeader,
    count: u64,
    committed: bool,
}

/// A record of a FULL delivery as the build stores it: encoded, with its search keys — made
/// by [`Prepared::of`] on any thread (a load makes them on its reading threads), added in
/// file order by [`FullBuild::add_prepared`].
#[derive(Debug)]
pub struct Prepared {
    total: bool,
    number: Vec<u8>,
    value: Vec<u8>,
    keys: Vec<Vec<u8>>,
}

impl Prepared {
    /// The record encoded, with its search keys.
    pub fn of(rec: &DeliveryRecord) -> Prepared {
        Prepared {
            total: rec.posttyp == Posttyp::Total,
            number: rec.post.pnr().as_bytes().to_vec(),
            value: model::encode(&rec.post),
            keys: index::keys(&rec.post),
        }
    }
}

impl FullBuild<'_> {
    /// Adds one record. A FULL delivery holds only totalposter, each number once (checked
    /// when the sorted records are written, at [`FullBuild::commit`]).
    pub fn add(&mut self, rec: &DeliveryRecord) -> Result<(), StoreError> {
        self.add_prepared(Prepared::of(rec))
    }

    /// Adds one record made ready by [`Prepared::of`].
    pub fn add_prepared(&mut self, rec: Prepared) -> Result<(), StoreError> {
        self.count += 1;
        if !rec.total {
            return Err(StoreError::Refused(Refusal::NotTotal(self.count)));
        }
        let pos = self.count;
        self.records.push(Item {
            key: rec.number,
            pos,
            value: rec.value,
        })?;
        for key in rec.keys {
            self.keys.push(Item {
                key,
                pos,
                value: Vec::new(),
            })?;
        }
        Ok(())
    }

    /// Writes the segments, then makes the new generation current in one atomic step and
    /// removes the old one.
    pub fn commit(mut self) -> Result<LoadSummary, StoreError> {
        let dir = &self.store.segments;
        let posts = write_segment(
            &mut self.records,
            &segment_path(dir, self.generation, "post"),
            true,
        )?;
        let idx = write_segment(
            &mut self.keys,
            &segment_path(dir, self.generation, "idx"),
            false,
        )?;
        let new = Generation {
            posts: Arc::new(posts),
            referred: Arc::new(referred_in(&idx)?),
            idx: Arc::new(idx),
            overlay: Arc::new(Overlay::open(&self.store.db, self.generation, 0)?),
            info: StoreInfo::default(),
        };
        let old = self.store.info();
        // The difference to the generation it replaces, journaled before the switch.
        let seq = journal::read_seq(&self.store.meta)? + 1;
        journal::clear(&self.store.journal, seq)?;
        if let Some(previous) = self.store.snapshot().generation_arc() {
            journal::diff_generations(&self.store.journal, seq, previous.posts(), new.posts())?;
        }
        // Everything of the new generation is on disk before the switch is written.
        self.store.db.flush()?;
        let info = StoreInfo {
            generation: self.generation,
            lopnummer: Some(self.header.lopnummer),
            records: new.posts.len(),
            loaded_at: Some(now_rfc3339()),
            skapad: Some(self.header.skapad.clone()),
            last_was_full: true,
        };
        let bytes = postcard::to_stdvec(&info)?;
        let mut switch = sled::Batch::default();
        switch.insert(CURRENT_KEY, bytes);
        switch.insert(FORMAT_KEY, FORMAT);
        switch.insert(OVERLAY_KEY, postcard::to_stdvec(&0u64)?);
        switch.insert(journal::SEQ_KEY, &journal::seq_bytes(seq)[..]);
        self.store.meta.apply_batch(switch)?;
        self.store.db.flush()?;
        let previous = self
            .store
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(Arc::new(Generation {
                info: info.clone(),
                ..new
            }));
        self.committed = true;
        // Readers may still hold the old generation: its overlay trees go with the last of
        // them, and its segment files stay readable through the handles they hold (an
        // unlinked file lives while it is open).
        if let Some(previous) = previous {
            previous.overlay.retire();
            for kind in ["post", "idx"] {
                let path = segment_path(&self.store.segments, old.generation, kind);
                std::fs::remove_file(&path)?;
            }
            crate::fsutil::sync_dir(&self.store.segments)?;
        }
        Ok(LoadSummary {
            added: info.records.saturating_sub(old.records),
            changed: info.records.min(old.records),
            removed: old.records.saturating_sub(info.records),
        })
    }

    /// Number of records added so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Writes a sorted segment from a sort's merge. For records (`unique`), the same number twice
/// is refused with both record numbers; index keys are written once each.
fn write_segment(sorter: &mut Sorter, path: &Path, unique: bool) -> Result<Segment, StoreError> {
    let block = if unique {
        segment::RECORD_BLOCK
    } else {
        segment::KEY_BLOCK
    };
    let mut w = SegmentWriter::create(path, block)?;
    let mut last: Option<(Vec<u8>, u64)> = None;
    for item in sorter.finish()? {
        let item = item?;
        if let Some((key, pos)) = &last {
            if *key == item.key {
                if unique {
                    return Err(StoreError::Refused(Refusal::Duplicate {
                        position: item.pos,
                        first: Some(*pos),
                    }));
                }
                continue;
            }
        }
        w.add(&item.key, &item.value)?;
        last = Some((item.key, item.pos));
    }
    w.finish()
}

impl Drop for FullBuild<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a failure leaves a leftover that the next open removes.
            let _ = drop_overlay(&self.store.db, self.generation, 0);
            for kind in ["post", "idx"] {
                let _ =
                    std::fs::remove_file(segment_path(&self.store.segments, self.generation, kind));
            }
        }
    }
}

/// A consistent read view: the generation current when it was taken, whatever loads do
/// meanwhile. Holds no lock; a long-held snapshot only keeps a replaced overlay's trees (and
/// a replaced generation's open segment files) alive until it is dropped.
pub struct Snapshot<'a> {
    generation: Option<Arc<Generation>>,
    _store: PhantomData<&'a Store>,
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOutcome {
    /// At most `limit` hits, in identity-number order.
    Hits(Vec<Folkbokforingspost>),
    /// More hits than the limit (never a truncated list).
    TooMany,
}

impl Snapshot<'_> {
    fn generation_arc(&self) -> Option<Arc<Generation>> {
        self.generation.as_ref().cloned()
    }

    /// What this generation is.
    pub fn info(&self) -> StoreInfo {
        self.generation
            .as_ref()
            .map(|g| g.info.clone())
            .unwrap_or_default()
    }

    /// Whether anything is loaded.
    pub fn has_data(&self) -> bool {
        self.generation.is_some()
    }

    /// The record stored under this number.
    pub fn get(&self, pnr: &Pnr) -> Result<Option<Folkbokforingspost>, StoreError> {
        let Some(g) = self.generation.as_ref() else {
            return Ok(None);
        };
        match g.get_post(pnr.as_bytes())? {
            Some(v) => Ok(Some(model::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// The record stored under this number, with its [`Protection`]: whether it, or any
    /// record reachable from it through hänvisning links, is protected. What a direct lookup
    /// answers from: [`crate::access::Access::view`] takes it.
    pub fn get_for_answer(&self, pnr: &Pnr) -> Result<Option<Found>, StoreError> {
        let Some(g) = self.generation.as_ref() else {
            return Ok(None);
        };
        let Some(v) = g.get_post(pnr.as_bytes())? else {
            return Ok(None);
        };
        let post = model::decode(&v)?;
        let protection = protection_of(g, &post)?;
        Ok(Some(Found { post, protection }))
    }

    /// `post` (a record of this snapshot, or an earlier version of one) with the markings of
    /// the protected records linked to it by hänvisning put on it ([`Protection::mark`]): how
    /// a delivery judges and sends it, so a person is protected under every number there as
    /// in a lookup (DOMAIN.md §4).
    pub fn with_linked_markings(
        &self,
        mut post: Folkbokforingspost,
    ) -> Result<Folkbokforingspost, StoreError> {
        if let Some(g) = self.generation.as_ref() {
            protection_of(g, &post)?.mark(&mut post);
        }
        Ok(post)
    }

    /// The record stored under this number, judged as a delivery sends it
    /// ([`Snapshot::with_linked_markings`]).
    pub fn get_marked(&self, pnr: &Pnr) -> Result<Option<Folkbokforingspost>, StoreError> {
        Ok(self.get_for_answer(pnr)?.map(
            |Found {
                 mut post,
                 protection,
             }| {
                protection.mark(&mut post);
                post
            },
        ))
    }

    /// The numbers whose records refer to `pnr` by hänvisning.
    pub fn referring_to(&self, pnr: &Pnr) -> Result<Vec<Pnr>, StoreError> {
        let mut out = Vec::new();
        if let Some(g) = self.generation.as_ref() {
            referring(g, pnr, &mut out)?;
        }
        Ok(out)
    }

    /// Iterates over every record in identity-number order.
    pub fn iter(&self) -> impl Iterator<Item = Result<Folkbokforingspost, StoreError>> + '_ {
        self.generation
            .as_ref()
            .map(|g| g.posts())
            .into_iter()
            .flatten()
            .map(|kv| Ok(model::decode(&kv?.1)?))
    }

    /// Namnsökning: the persons matching every criterion, or [`SearchOutcome::TooMany`] when
    /// more than `limit` match. Protected persons are not in the indexes, so never found.
    /// `visible` filters hits the caller may not see before they are counted against the
    /// limit; it is given each matching record's [`Protection`] (a record linked by
    /// hänvisning to a protected one is in the indexes, and must be refused there).
    pub fn search(
        &self,
        q: &SearchQuery,
        limit: usize,
        visible: impl Fn(&Folkbokforingspost, Protection) -> bool,
    ) -> Result<SearchOutcome, StoreError> {
        let mut hits = Vec::new();
        let mut over = false;
        self.each_match(q, visible, |post| {
            if hits.len() == limit {
                over = true;
                return false;
            }
            hits.push(post);
            true
        })?;
        Ok(if over {
            SearchOutcome::TooMany
        } else {
            SearchOutcome::Hits(hits)
        })
    }

    /// Hands every person matching `q` that `visible` lets through to `each`, in number
    /// order, until `each` says stop (`false`). Protected persons are never handed out.
    fn each_match(
        &self,
        q: &SearchQuery,
        visible: impl Fn(&Folkbokforingspost, Protection) -> bool,
        mut each: impl FnMut(Folkbokforingspost) -> bool,
    ) -> Result<(), StoreError> {
        let Some(g) = self.generation.as_ref() else {
            return Ok(());
        };
        for key in self.candidates(g, q)?.unwrap_or_default() {
            let Some(v) = g.get_post(&key)? else { continue };
            let post = model::decode(&v)?;
            if post.is_protected() || !q.matches(&post) {
                continue;
            }
            if visible(&post, protection_of(g, &post)?) && !each(post) {
                break;
            }
        }
        Ok(())
    }

    /// The numbers that may match `q`, narrowed through the indexes; `None` when no
    /// criterion is in an index (then nothing is searched).
    fn candidates(
        &self,
        g: &Generation,
        q: &SearchQuery,
    ) -> Result<Option<Vec<[u8; 12]>>, StoreError> {
        let mut candidates: Option<Vec<[u8; 12]>> = None;
        // A whole word with a second criterion in a combined index (postort + name, name +
        // förnamn) gives exactly the persons with both, however common each is alone; the
        // two criteria it covers are not scanned again.
        let mut covered: Vec<(u8, usize)> = Vec::new();
        if let (Some((oi, o)), Some(e)) = (whole(&q.postort), q.efter_mellan.first()) {
            let prefix = index::pair_prefix(index::POSTORT_NAMN, &o.folded, &e.folded, e.prefix);
            candidates = Some(scan_set(g, &prefix)?);
            covered = vec![(index::POSTORT, oi), (index::EFTER_MELLAN, 0)];
        } else if let (Some((ei, e)), Some(f)) = (whole(&q.efter_mellan), q.fornamn.first()) {
            let prefix = index::pair_prefix(index::NAMN_FORNAMN, &e.folded, &f.folded, f.prefix);
            candidates = Some(scan_set(g, &prefix)?);
            covered = vec![(index::EFTER_MELLAN, ei), (index::FORNAMN, 0)];
        }
        // Then names (a search always has one) and the other criteria, each only while the
        // candidate set is large — a small one is cheaper to check on the records themselves
        // (every criterion is checked there in the end).
        const NARROW_ABOVE: usize = 2_000;
        let word_criteria = [
            (index::FORNAMN, &q.fornamn),
            (index::EFTER_MELLAN, &q.efter_mellan),
            (index::POSTORT, &q.postort),
            (index::ADRESS, &q.adress),
        ];
        for (kind, patterns) in word_criteria {
            for (i, p) in patterns.iter().enumerate() {
                if covered.contains(&(kind, i)) {
                    continue;
                }
                if candidates.as_ref().is_some_and(|c| c.len() <= NARROW_ABOVE) {
                    break;
                }
                let set = scan_set(g, &index::word_prefix(kind, &p.folded, p.prefix))?;
                candidates = Some(intersect(candidates, set));
            }
        }
        if candidates.as_ref().is_none_or(|c| c.len() > NARROW_ABOVE) {
            // The index holds real birth dates; the range covers every record that can match.
            if let Some((from, tom)) = q.fodelsetid_range() {
                let (from, tom) = (format!("{from:08}"), format!("{tom:08}"));
                let set = scan_range(g, index::FODELSETID, from.as_bytes(), tom.as_bytes())?;
                candidates = Some(intersect(candidates, set));
            }
            if q.postnr_from.is_some() || q.postnr_tom.is_some() {
                let from = format!("{:05}", q.postnr_from.unwrap_or(0));
                let tom = format!("{:05}", q.postnr_tom.unwrap_or(99999));
                let set = scan_range(g, index::POSTNUMMER, from.as_bytes(), tom.as_bytes())?;
                candidates = Some(intersect(candidates, set));
            }
        }
        Ok(candidates)
    }

    /// The numbers of every person [`Snapshot::search`] would find with no limit (for an
    /// answer that must say how many there were): the same candidates and checks, no record
    /// kept.
    pub fn matching_numbers(
        &self,
        q: &SearchQuery,
        visible: impl Fn(&Folkbokforingspost, Protection) -> bool,
    ) -> Result<Vec<Pnr>, StoreError> {
        let mut out = Vec::new();
        self.each_match(q, visible, |post| {
            out.push(post.pnr());
            true
        })?;
        Ok(out)
    }

    /// The number of records.
    pub fn len(&self) -> u64 {
        self.info().records
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `post`, or a record reachable from it through hänvisning links, is protected
/// (DOMAIN.md §4: "a person is protected under every number").
///
/// Follows the links both ways as the data holds them — a record's own `hanvisning`
/// numbers, and the records whose `hanvisning` names it (the [`index::HANVISNING`] keys) —
/// transitively, with a visited set (links form cycles: old → new → old), at most
/// [`Protection::MAX_LINKED`] records in all. Links left unfollowed at the bound make the
/// record count as protected through a link: the rule fails closed.
fn protection_of(g: &Generation, post: &Folkbokforingspost) -> Result<Protection, StoreError> {
    let mut protection = Protection {
        own: post.is_protected(),
        ..Protection::default()
    };
    let start = post.pnr();
    let mut visited: Vec<Pnr> = vec![start];
    let mut queue: Vec<Pnr> = post.personpost.hanvisning.clone();
    referring(g, &start, &mut queue)?;
    while let Some(next) = queue.pop() {
        if visited.contains(&next) {
            continue;
        }
        if visited.len() >= Protection::MAX_LINKED {
            protection.linked = true;
            break;
        }
        visited.push(next);
        if let Some(v) = g.get_post(next.as_bytes())? {
            let linked = model::decode(&v)?;
            protection.add_linked(&linked);
            queue.extend(linked.personpost.hanvisning.iter().copied());
        }
        referring(g, &next, &mut queue)?;
    }
    Ok(protection)
}

/// Adds the numbers whose records refer to `pnr` by hänvisning.
fn referring(g: &Generation, pnr: &Pnr, out: &mut Vec<Pnr>) -> Result<(), StoreError> {
    for kv in g.referring(pnr) {
        let (k, _) = kv?;
        if let Some(p) = index::pnr_of(&k).and_then(|b| Pnr::from_key(&b).ok()) {
            out.push(p);
        }
    }
    Ok(())
}

/// The first pattern that is a whole word, with its position.
fn whole(patterns: &[crate::search::WordPattern]) -> Option<(usize, &crate::search::WordPattern)> {
    patterns.iter().enumerate().find(|(_, p)| !p.prefix)
}

/// Sorted, distinct identity numbers of the index keys under a prefix.
fn scan_set(g: &Generation, prefix: &[u8]) -> Result<Vec<[u8; 12]>, StoreError> {
    pnrs_of(g.idx_prefix(prefix))
}

/// Sorted, distinct identity numbers of keys `kind | from ..= kind | tom | pnr`.
fn scan_range(
    g: &Generation,
    kind: u8,
    from: &[u8],
    tom: &[u8],
) -> Result<Vec<[u8; 12]>, StoreError> {
    let mut start = vec![kind];
    start.extend_from_slice(from);
    let mut end = vec![kind];
    end.extend_from_slice(tom);
    end.push(0xFF);
    pnrs_of(g.idx_range(start, end))
}

fn pnrs_of(keys: Entries<'_>) -> Result<Vec<[u8; 12]>, StoreError> {
    let mut out = Vec::new();
    for kv in keys {
        let (k, _) = kv?;
        if let Some(p) = index::pnr_of(&k) {
            out.push(p);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn intersect(a: Option<Vec<[u8; 12]>>, b: Vec<[u8; 12]>) -> Vec<[u8; 12]> {
    let Some(a) = a else { return b };
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .into_iter()
        .filter(|p| large.binary_search(p).is_ok())
        .collect()
}

/// The name of a tree of version `version` of generation `generation`'s overlay (version 0
/// keeps the name stores had before overlays had versions).
fn overlay_tree(generation: u64, version: u64, kind: &str) -> String {
    if version == 0 {
        format!("g{generation}:{kind}")
    } else {
        format!("g{generation}.{version}:{kind}")
    }
}

/// Drops both trees of version `version` of generation `generation`'s overlay.
fn drop_overlay(db: &sled::Db, generation: u64, version: u64) -> Result<(), StoreError> {
    for kind in ["post", "idx"] {
        db.drop_tree(overlay_tree(generation, version, kind))?;
    }
    Ok(())
}

/// The generation and overlay version of an overlay tree's name.
fn overlay_of(name: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(name).ok()?;
    let rest = s.strip_prefix('g')?;
    let (num, kind) = rest.split_once(':')?;
    matches!(kind, "post" | "idx").then_some(())?;
    match num.split_once('.') {
        None => Some((num.parse().ok()?, 0)),
        Some((g, v)) => Some((g.parse().ok()?, v.parse().ok()?)),
    }
}

/// Copies every entry of `from` into `to` (single inserts: see `apply_delta`).
fn copy_tree(from: &sled::Tree, to: &sled::Tree) -> Result<(), StoreError> {
    for kv in from.iter() {
        let (k, v) = kv?;
        to.insert(k, v)?;
    }
    Ok(())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
pub(crate) mod tests;
