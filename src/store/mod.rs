//! The sled store: person records by identity number, the search indexes, and generations.
//!
//! # Generations
//! Each full delivery is loaded into a fresh pair of trees, `g{N}:post` and `g{N}:idx`. Only
//! when every record is written and flushed does the single `meta/current` key switch to `N`:
//! one atomic write, so a crash leaves either the old generation or the new one current.
//! Trees of any other generation are leftovers (a crashed build, or an old generation whose
//! removal was interrupted) and are dropped when the store opens.
//!
//! A delta delivery changes the current generation in place in ONE sled transaction over the
//! record tree, the index tree and `meta/current` (which carries the löpnummer and counts), so
//! it is applied all or nothing, and durable before [`Store::apply_delta`] returns.
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

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use serde::{Deserialize, Serialize};

use crate::delivery::{merge, DeliveryHeader, DeliveryRecord, Posttyp};
use crate::model::{self, Folkbokforingspost};
use crate::pnr::Pnr;
use crate::search::SearchQuery;

/// Records written per sled batch while building a generation: large enough to amortise the
/// batch overhead, small enough to keep memory flat for any file size.
const BUILD_BATCH: usize = 5_000;

const META_TREE: &str = "meta";
const CURRENT_KEY: &[u8] = b"current";

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
    /// sled failed (I/O, corruption, or the directory is locked by another process).
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
    /// A delivery does not fit the store; nothing was changed.
    #[error("{0}")]
    Refused(Refusal),
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

/// One generation's trees and what meta says about it.
struct Generation {
    posts: sled::Tree,
    idx: sled::Tree,
    info: StoreInfo,
}

/// The store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    /// The change journal ([`journal`]).
    journal: sled::Tree,
    /// The current generation; `None` until the first delivery is loaded.
    current: RwLock<Option<Arc<Generation>>>,
    /// One writer at a time (full build or delta).
    writer: Mutex<()>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, and drops trees left by an interrupted load.
    ///
    /// `cache_bytes` bounds sled's page cache.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let meta = db.open_tree(META_TREE)?;
        let info: Option<StoreInfo> = match meta.get(CURRENT_KEY)? {
            Some(v) => Some(postcard::from_bytes(&v)?),
            None => None,
        };
        let keep = info.as_ref().map(|i| i.generation);
        for name in db.tree_names() {
            if let Some(gen) = generation_of(&name) {
                if Some(gen) != keep {
                    db.drop_tree(&name)?;
                }
            }
        }
        let current = match info {
            Some(info) => Some(Arc::new(Generation {
                posts: db.open_tree(tree_name(info.generation, "post"))?,
                idx: db.open_tree(tree_name(info.generation, "idx"))?,
                info,
            })),
            None => None,
        };
        let journal = db.open_tree(journal::JOURNAL_TREE)?;
        Ok(Store {
            db,
            meta,
            journal,
            current: RwLock::new(current),
            writer: Mutex::new(()),
        })
    }

    /// A consistent read view of the current generation.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            guard: self.current.read().unwrap_or_else(|e| e.into_inner()),
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
        for kind in ["post", "idx"] {
            self.db.drop_tree(tree_name(generation, kind))?;
        }
        Ok(FullBuild {
            store: self,
            _lock: lock,
            generation,
            posts: self.db.open_tree(tree_name(generation, "post"))?,
            idx: self.db.open_tree(tree_name(generation, "idx"))?,
            batch_posts: sled::Batch::default(),
            batch_idx: sled::Batch::default(),
            pending: Vec::with_capacity(BUILD_BATCH),
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

        // The write lock keeps readers out only while the transaction commits.
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        use sled::Transactional;
        (&gen.posts, &gen.idx, &self.meta, &self.journal)
            .transaction(|(tp, ti, tm, tj)| {
                for (key, value) in &plan.posts {
                    match value {
                        Some(v) => tp.insert(key.as_slice(), v.as_slice())?,
                        None => tp.remove(key.as_slice())?,
                    };
                }
                for k in &plan.idx_remove {
                    ti.remove(k.as_slice())?;
                }
                for k in &plan.idx_insert {
                    ti.insert(k.as_slice(), &[][..])?;
                }
                for (pnr, value) in &plan.journal {
                    tj.insert(journal::key(seq, pnr), value.as_slice())?;
                }
                tm.insert(CURRENT_KEY, info_bytes.as_slice())?;
                tm.insert(journal::SEQ_KEY, &journal::seq_bytes(seq)[..])?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        self.db.flush()?;
        *current = Some(Arc::new(Generation {
            posts: gen.posts.clone(),
            idx: gen.idx.clone(),
            info,
        }));
        Ok(plan.summary)
    }

    /// A tree of the store's database for another part's state that must be as durable as
    /// the records (the change feed's deliveries and cursors).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The writes a delta makes, computed before anything is written.
struct DeltaPlan {
    posts: Vec<(Vec<u8>, Option<Vec<u8>>)>,
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
        let old_bytes = gen.posts.get(pnr.as_bytes())?;
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
        plan.posts.push((pnr.as_bytes().to_vec(), new_bytes));
    }
    Ok(plan)
}

/// A generation being built from a FULL delivery.
pub struct FullBuild<'a> {
    store: &'a Store,
    _lock: std::sync::MutexGuard<'a, ()>,
    generation: u64,
    posts: sled::Tree,
    idx: sled::Tree,
    batch_posts: sled::Batch,
    batch_idx: sled::Batch,
    /// Numbers in the current batch, to catch duplicates before the batch is written.
    pending: Vec<(Pnr, u64)>,
    header: DeliveryHeader,
    count: u64,
    committed: bool,
}

impl FullBuild<'_> {
    /// Adds one record. A FULL delivery holds only totalposter, each number once.
    pub fn add(&mut self, rec: &DeliveryRecord) -> Result<(), StoreError> {
        self.count += 1;
        if rec.posttyp != Posttyp::Total {
            return Err(StoreError::Refused(Refusal::NotTotal(self.count)));
        }
        let pnr = rec.post.pnr();
        self.pending.push((pnr, self.count));
        self.batch_posts
            .insert(pnr.as_bytes().as_slice(), model::encode(&rec.post));
        for k in index::keys(&rec.post) {
            self.batch_idx.insert(k, &[][..]);
        }
        if self.pending.len() >= BUILD_BATCH {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), StoreError> {
        // Duplicates inside the batch, then against what earlier batches wrote.
        self.pending.sort_unstable_by_key(|(p, _)| *p);
        for w in self.pending.windows(2) {
            if w[0].0 == w[1].0 {
                let (first, position) = (w[0].1.min(w[1].1), w[0].1.max(w[1].1));
                return Err(StoreError::Refused(Refusal::Duplicate {
                    position,
                    first: Some(first),
                }));
            }
        }
        for (pnr, position) in &self.pending {
            if self.posts.contains_key(pnr.as_bytes())? {
                return Err(StoreError::Refused(Refusal::Duplicate {
                    position: *position,
                    first: None,
                }));
            }
        }
        self.pending.clear();
        self.posts
            .apply_batch(std::mem::take(&mut self.batch_posts))?;
        self.idx.apply_batch(std::mem::take(&mut self.batch_idx))?;
        Ok(())
    }

    /// Makes the new generation current in one atomic step, then removes the old one.
    pub fn commit(mut self) -> Result<LoadSummary, StoreError> {
        self.write_batch()?;
        let old = self.store.info();
        // The difference to the generation it replaces, journaled before the switch.
        let seq = journal::read_seq(&self.store.meta)? + 1;
        journal::clear(&self.store.journal, seq)?;
        if let Some(previous) = self.store.snapshot().generation_arc() {
            journal::diff_generations(&self.store.journal, seq, &previous.posts, &self.posts)?;
        }
        // Everything of the new generation is on disk before the switch is written.
        self.store.db.flush()?;
        let info = StoreInfo {
            generation: self.generation,
            lopnummer: Some(self.header.lopnummer),
            records: self.posts.len() as u64,
            loaded_at: Some(now_rfc3339()),
            skapad: Some(self.header.skapad.clone()),
            last_was_full: true,
        };
        let bytes = postcard::to_stdvec(&info)?;
        let mut current = self
            .store
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut switch = sled::Batch::default();
        switch.insert(CURRENT_KEY, bytes);
        switch.insert(journal::SEQ_KEY, &journal::seq_bytes(seq)[..]);
        self.store.meta.apply_batch(switch)?;
        self.store.db.flush()?;
        *current = Some(Arc::new(Generation {
            posts: self.posts.clone(),
            idx: self.idx.clone(),
            info: info.clone(),
        }));
        drop(current);
        self.committed = true;
        // No reader can hold the old generation now: they all hold the lock we just had.
        if old.generation != 0 {
            for kind in ["post", "idx"] {
                self.store.db.drop_tree(tree_name(old.generation, kind))?;
            }
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

impl Drop for FullBuild<'_> {
    fn drop(&mut self) {
        if !self.committed {
            for kind in ["post", "idx"] {
                // Best effort: a failure leaves a leftover that the next open drops.
                let _ = self.store.db.drop_tree(tree_name(self.generation, kind));
            }
        }
    }
}

/// A consistent read view. Holds a read lock: keep it short and never across `.await`.
pub struct Snapshot<'a> {
    guard: RwLockReadGuard<'a, Option<Arc<Generation>>>,
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
        self.guard.as_ref().cloned()
    }

    /// What this generation is.
    pub fn info(&self) -> StoreInfo {
        self.guard
            .as_ref()
            .map(|g| g.info.clone())
            .unwrap_or_default()
    }

    /// Whether anything is loaded.
    pub fn has_data(&self) -> bool {
        self.guard.is_some()
    }

    /// The record stored under this number.
    pub fn get(&self, pnr: &Pnr) -> Result<Option<Folkbokforingspost>, StoreError> {
        let Some(g) = self.guard.as_ref() else {
            return Ok(None);
        };
        match g.posts.get(pnr.as_bytes())? {
            Some(v) => Ok(Some(model::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// The numbers whose records refer to `pnr` by hänvisning.
    pub fn referring_to(&self, pnr: &Pnr) -> Result<Vec<Pnr>, StoreError> {
        let Some(g) = self.guard.as_ref() else {
            return Ok(Vec::new());
        };
        let mut prefix = vec![index::HANVISNING];
        prefix.extend_from_slice(pnr.as_bytes());
        let mut out = Vec::new();
        for kv in g.idx.scan_prefix(prefix) {
            let (k, _) = kv?;
            if let Some(p) = index::pnr_of(&k).and_then(|b| Pnr::from_key(&b).ok()) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Iterates over every record in identity-number order.
    pub fn iter(&self) -> impl Iterator<Item = Result<Folkbokforingspost, StoreError>> + '_ {
        self.guard
            .as_ref()
            .map(|g| g.posts.iter())
            .into_iter()
            .flatten()
            .map(|kv| Ok(model::decode(&kv?.1)?))
    }

    /// Namnsökning: the persons matching every criterion, or [`SearchOutcome::TooMany`] when
    /// more than `limit` match. Protected persons are not in the indexes, so never found.
    /// `visible` filters hits the caller may not see (e.g. samordningsnummer without the
    /// switch) before they are counted against the limit.
    pub fn search(
        &self,
        q: &SearchQuery,
        limit: usize,
        visible: impl Fn(&Folkbokforingspost) -> bool,
    ) -> Result<SearchOutcome, StoreError> {
        let Some(g) = self.guard.as_ref() else {
            return Ok(SearchOutcome::Hits(Vec::new()));
        };
        let mut candidates: Option<Vec<[u8; 12]>> = None;
        // Names first (a search always has one); the other criteria narrow only a large
        // candidate set — a small one is cheaper to check on the records themselves.
        const NARROW_ABOVE: usize = 2_000;
        let word_criteria = [
            (index::FORNAMN, &q.fornamn),
            (index::EFTER_MELLAN, &q.efter_mellan),
            (index::POSTORT, &q.postort),
            (index::ADRESS, &q.adress),
        ];
        for (i, (kind, patterns)) in word_criteria.into_iter().enumerate() {
            for p in patterns.iter() {
                if i >= 2 && candidates.as_ref().is_some_and(|c| c.len() <= NARROW_ABOVE) {
                    break;
                }
                let set = scan_set(&g.idx, &index::word_prefix(kind, &p.folded, p.prefix))?;
                candidates = Some(intersect(candidates, set));
            }
        }
        if candidates.as_ref().is_none_or(|c| c.len() > NARROW_ABOVE) {
            if q.fodelse_from.is_some() || q.fodelse_tom.is_some() {
                let from = format!("{:08}", q.fodelse_from.unwrap_or(0));
                let tom = format!("{:08}", q.fodelse_tom.unwrap_or(99999999));
                let set = scan_range(&g.idx, index::FODELSETID, from.as_bytes(), tom.as_bytes())?;
                candidates = Some(intersect(candidates, set));
            }
            if q.postnr_from.is_some() || q.postnr_tom.is_some() {
                let from = format!("{:05}", q.postnr_from.unwrap_or(0));
                let tom = format!("{:05}", q.postnr_tom.unwrap_or(99999));
                let set = scan_range(&g.idx, index::POSTNUMMER, from.as_bytes(), tom.as_bytes())?;
                candidates = Some(intersect(candidates, set));
            }
        }
        let mut hits = Vec::new();
        for key in candidates.unwrap_or_default() {
            let Some(v) = g.posts.get(key)? else { continue };
            let post = model::decode(&v)?;
            if post.is_protected() || !q.matches(&post) || !visible(&post) {
                continue;
            }
            if hits.len() == limit {
                return Ok(SearchOutcome::TooMany);
            }
            hits.push(post);
        }
        Ok(SearchOutcome::Hits(hits))
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

/// Sorted, distinct identity numbers of the index keys under a prefix.
fn scan_set(idx: &sled::Tree, prefix: &[u8]) -> Result<Vec<[u8; 12]>, StoreError> {
    pnrs_of(idx.scan_prefix(prefix))
}

/// Sorted, distinct identity numbers of keys `kind | from ..= kind | tom | pnr`.
fn scan_range(
    idx: &sled::Tree,
    kind: u8,
    from: &[u8],
    tom: &[u8],
) -> Result<Vec<[u8; 12]>, StoreError> {
    let mut start = vec![kind];
    start.extend_from_slice(from);
    let mut end = vec![kind];
    end.extend_from_slice(tom);
    end.push(0xFF);
    pnrs_of(idx.range(start..end))
}

fn pnrs_of(keys: sled::Iter) -> Result<Vec<[u8; 12]>, StoreError> {
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

fn tree_name(generation: u64, kind: &str) -> String {
    format!("g{generation}:{kind}")
}

/// The generation number of a generation tree's name.
fn generation_of(name: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(name).ok()?;
    let rest = s.strip_prefix('g')?;
    let (num, kind) = rest.split_once(':')?;
    matches!(kind, "post" | "idx").then_some(())?;
    num.parse().ok()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
