//! The change journal: for every applied load, the record before and after of each person the
//! load changed — what the change feed (ändringsavisering) is made from.
//!
//! Every applied load gets the next load sequence number (`meta/load_seq`). A delta writes its
//! journal entries in the same sled transaction as the records, so they exist exactly when
//! the change does. A FULL delivery that replaces a generation writes the difference between
//! the two generations before the switch, and the switch writes the new sequence number with
//! the new generation in one atomic batch; entries of a sequence number that never became
//! current (a crash before the switch) are cleared before that number is used again. The
//! first FULL delivery into an empty store is not journaled: nobody can have a copy of
//! nothing, so feeds start from a grunduttag after it.
//!
//! Keys: load sequence number (8 bytes, big-endian) ‖ identity number (12 ASCII digits).
//! Values: postcard of (old encoded record, new encoded record), either absent.

use crate::ids::pnr::Pnr;
use crate::model::{self, Folkbokforingspost};

use super::{Store, StoreError};

/// The journal tree.
pub(super) const JOURNAL_TREE: &str = "journal";
/// `meta` key of the last applied load's sequence number.
pub(super) const SEQ_KEY: &[u8] = b"load_seq";

/// One person's change in one load.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The load sequence number.
    pub seq: u64,
    /// Whose.
    pub pnr: Pnr,
    /// The record before the load (None: the person is new).
    pub old: Option<Folkbokforingspost>,
    /// The record after it (None: removed).
    pub new: Option<Folkbokforingspost>,
}

/// Journal key of a person in a load.
pub(super) fn key(seq: u64, pnr: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + pnr.len());
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(pnr);
    k
}

/// Journal value: the old and new encoded records.
pub(super) fn value(old: Option<&[u8]>, new: Option<&[u8]>) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_stdvec(&(old, new))?)
}

pub(super) fn seq_bytes(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(super) fn read_seq(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(match meta.get(SEQ_KEY)? {
        Some(v) => u64::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| StoreError::Transaction("meta/load_seq is not 8 bytes".into()))?,
        ),
        None => 0,
    })
}

/// Removes every entry of load sequence number `seq` (leftovers of a load that crashed
/// before it became current).
///
/// Entries of a sequence number meta does not have are invisible, so they are written and
/// removed one by one: a sled batch holds the global write lock every reader waits for.
pub(super) fn clear(journal: &sled::Tree, seq: u64) -> Result<(), StoreError> {
    for kv in journal.scan_prefix(seq.to_be_bytes()) {
        let (k, _) = kv?;
        journal.remove(k)?;
    }
    Ok(())
}

/// Writes the difference between two generations' record trees into the journal under `seq`,
/// by walking both in key order. Returns how many persons differ.
pub(super) fn diff_generations(
    journal: &sled::Tree,
    seq: u64,
    old: super::Entries<'_>,
    new: super::Entries<'_>,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    let (mut a, mut b) = (old, new);
    let (mut ca, mut cb) = (a.next().transpose()?, b.next().transpose()?);
    loop {
        let entry = match (&ca, &cb) {
            (None, None) => break,
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                let e = (va != vb).then(|| (ka.clone(), Some(va.clone()), Some(vb.clone())));
                ca = a.next().transpose()?;
                cb = b.next().transpose()?;
                e
            }
            (Some((ka, va)), Some((kb, _))) if ka < kb => {
                let e = Some((ka.clone(), Some(va.clone()), None));
                ca = a.next().transpose()?;
                e
            }
            (Some((ka, va)), None) => {
                let e = Some((ka.clone(), Some(va.clone()), None));
                ca = a.next().transpose()?;
                e
            }
            (_, Some((kb, vb))) => {
                let e = Some((kb.clone(), None, Some(vb.clone())));
                cb = b.next().transpose()?;
                e
            }
        };
        let Some((k, o, n)) = entry else { continue };
        // Single inserts: see `clear`.
        journal.insert(key(seq, &k), value(o.as_deref(), n.as_deref())?)?;
        changed += 1;
    }
    Ok(changed)
}

impl Store {
    /// The sequence number of the last applied load (0 = none yet).
    pub fn load_seq(&self) -> Result<u64, StoreError> {
        read_seq(&self.meta)
    }

    /// The changes of load `seq`, in identity-number order.
    pub fn changes(&self, seq: u64) -> impl Iterator<Item = Result<Change, StoreError>> + '_ {
        self.journal.scan_prefix(seq.to_be_bytes()).map(move |kv| {
            let (k, v) = kv?;
            let pnr = Pnr::from_key(&k[8..]).map_err(|e| {
                StoreError::Transaction(format!("journal key is no identity number: {e}"))
            })?;
            let (old, new): (Option<Vec<u8>>, Option<Vec<u8>>) = postcard::from_bytes(&v)?;
            let decode = |b: Option<Vec<u8>>| -> Result<_, StoreError> {
                Ok(match b {
                    Some(b) => Some(model::decode(&b)?),
                    None => None,
                })
            };
            Ok(Change {
                seq,
                pnr,
                old: decode(old)?,
                new: decode(new)?,
            })
        })
    }

    /// Forgets the changes of every load up to and including `seq` (every feed has them).
    pub fn forget_changes_through(&self, seq: u64) -> Result<(), StoreError> {
        let end = (seq.saturating_add(1)).to_be_bytes();
        let mut batch = sled::Batch::default();
        for kv in self.journal.range(..end.as_slice()) {
            let (k, _) = kv?;
            batch.remove(k);
        }
        self.journal.apply_batch(batch)?;
        Ok(())
    }

    /// Journal entries held (for metrics and tests).
    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }
}
