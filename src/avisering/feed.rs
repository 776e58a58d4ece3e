//! The change feed's deliveries: produced after each applied load from the store's change
//! journal, kept in the store's database, fetched page by page.
//!
//! # Exactly once
//! Each order has a cursor: the last load sequence number its deliveries cover and the next
//! löpnummer. Producing delivery L of an order writes its records under L (after clearing
//! anything a crash left there), then — in ONE transaction — its header and the advanced
//! cursor. So a delivery exists exactly when its cursor says so, every journaled change is in
//! exactly one delivery of every order, and a crash at any point before the transaction is
//! repaired by producing L again from the same journal. The journal of a load is forgotten only
//! when every order's cursor has passed it.
//!
//! A daily order gets a delivery after every applied load (possibly empty, so the numbering
//! follows the loads); a weekly one after the first load of each ISO week (Stockholm time),
//! covering every load since its previous delivery. A new order starts at the load applied
//! when it is first seen: its population begins with a grunduttag (urval).
//!
//! Records are kept as records with the facts of their change, not rendered: what leaves is
//! decided when a page is fetched, with the receiver's access of that moment (DOMAIN.md §4).
//! Every tree is keyed by [`OrderKey`]: the organisation and the order.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{Access, Term, TermMask};
use crate::register::{Organisation, Register};
use crate::store::journal::Change;
use crate::store::{Snapshot, Store, StoreError};
use crate::xml::write::{write_post, write_svensk_adress, PostStyle};

use super::select::{changed_terms, notices_with_diff, Fil, Notice};
use super::urval::{self, UrvalTyp};
use crate::model::change::Posttyp;
use crate::register::orders::{Order, Periodicitet, Population};
use crate::register::urval_orders::{Infilrutin, Urval, UrvalOrder, UrvalPeriod};

const CURSORS: &str = "feed:cursor";
const HEADERS: &str = "feed:header";
const RECORDS: &str = "feed:record";
const INFIL: &str = "feed:infil";
const STAGING: &str = "feed:infil-staging";
const URVAL_STATE: &str = "feed:urval-state";
const URVAL_META: &str = "feed:urval-meta";

/// An order's place in the feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last load sequence number the order's deliveries cover.
    pub produced_seq: u64,
    /// The löpnummer of the next delivery.
    pub next_lopnummer: u64,
    /// The highest acknowledged löpnummer (0 = none).
    pub acked: u64,
    /// ISO (year, week) of the last delivery, for weekly orders.
    pub last_week: Option<(i32, u32)>,
    /// The generation of the order's current infil (0 = none given yet).
    pub infil_generation: u64,
}

/// What a delivery is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Its löpnummer.
    pub lopnummer: u64,
    /// When it was produced.
    pub skapad: DateTime<Utc>,
    /// Records in file A and file B.
    pub antal: [u64; 2],
    /// The load sequence numbers it covers.
    pub seqs: (u64, u64),
    /// When it was acknowledged (by asking for the next one).
    pub acked_at: Option<DateTime<Utc>>,
}

/// What one production run did for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    /// The order.
    pub order: String,
    /// The delivery's löpnummer.
    pub lopnummer: u64,
    /// Records in A and B.
    pub antal: [u64; 2],
}

/// Where one order stands, for `folkreg status` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// The order (BestallningsId).
    pub order: String,
    /// Its organisation.
    pub orgnr: String,
    /// The last delivery produced (0 = none yet).
    pub produced: u64,
    /// The last delivery acknowledged (0 = none yet).
    pub acknowledged: u64,
    /// When the last delivery was produced.
    pub produced_at: Option<DateTime<Utc>>,
}

impl OrderSummary {
    /// Deliveries produced and not yet acknowledged.
    pub fn backlog(&self) -> u64 {
        self.produced.saturating_sub(self.acknowledged)
    }
}

/// How long an acknowledged delivery is kept (`[avisering] keep_days`).
fn keep(days: u32) -> chrono::Duration {
    chrono::Duration::days(i64::from(days))
}

/// The feed's trees. Open one `Feed` per store and share it (`Arc`): its writer lock is what
/// keeps two writers of one cursor apart.
pub struct Feed {
    /// One writer of cursors at a time (production, infil replacement, urval runs): each
    /// reads a cursor, changes it and writes it back. (One process owns a store: sled locks
    /// it.)
    writer: std::sync::Mutex<()>,
    cursors: sled::Tree,
    headers: sled::Tree,
    records: sled::Tree,
    infil: sled::Tree,
    staging: sled::Tree,
    urval_state: sled::Tree,
    urval_meta: sled::Tree,
}

/// Where an urval order stands between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrvalState {
    /// The period of its last run (`engang`, a date, a week, a month or a year).
    pub last_period: Option<String>,
    /// Runs made.
    pub runs: u64,
    /// The infil generation its last run used.
    pub infil_run: u64,
}

/// What an urval delivery's header says beyond a delivery's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrvalMeta {
    /// Which kind of urval.
    pub typ: UrvalTyp,
    /// The seed of a slumpmässigt urval.
    pub slumpfro: Option<u64>,
    /// Per undergroup: (wanted, drawn).
    pub undergrupper: Vec<(u32, u32)>,
    /// Infil numbers not delivered.
    pub ej_funna: u64,
}

/// Where an upload stands after a page, before anything is done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// Pages received so far of this many.
    Receiving {
        /// Pages received.
        pages: u64,
        /// Pages in all.
        of: u64,
    },
    /// Every page is in: these numbers, sorted, each once.
    Complete(Vec<crate::ids::pnr::Pnr>),
}

/// Whose deliveries: an order of one organisation. Every tree of the feed is keyed by it, so
/// deliveries belong to the organisation and the order — a register edit that gives an order
/// id to another organisation starts that organisation's order afresh and never hands it the
/// first one's deliveries (DOMAIN.md §4). Written `ORGNR/ID` (an id holds letters, digits
/// and `-` only, so the two cannot run together).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderKey(String);

impl OrderKey {
    /// The key of order `id` of the organisation `orgnr`.
    pub fn new(orgnr: &crate::ids::OrgNr, id: &str) -> OrderKey {
        OrderKey(format!("{orgnr}/{id}"))
    }

    /// The order's id (BestallningsId).
    pub fn id(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for OrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes every entry of `tree` under `prefix`, in one batch.
fn clear_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for kv in tree.scan_prefix(prefix) {
        batch.remove(kv?.0);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// The value under `key`, decoded, if there is one.
fn read<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    Ok(match tree.get(key)? {
        Some(v) => Some(postcard::from_bytes(&v)?),
        None => None,
    })
}

fn order_key(order: &OrderKey) -> Vec<u8> {
    let mut k = order.as_bytes().to_vec();
    k.push(0);
    k
}

fn delivery_key(order: &OrderKey, lopnummer: u64) -> Vec<u8> {
    let mut k = order_key(order);
    k.extend_from_slice(&lopnummer.to_be_bytes());
    k
}

fn record_key(order: &OrderKey, lopnummer: u64, fil: Fil, index: u64) -> Vec<u8> {
    let mut k = delivery_key(order, lopnummer);
    k.push(fil as u8);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn infil_key(order: &OrderKey, generation: u64, pnr: &[u8]) -> Vec<u8> {
    let mut k = order_key(order);
    k.extend_from_slice(&generation.to_be_bytes());
    k.extend_from_slice(pnr);
    k
}

fn fil_index(fil: Fil) -> usize {
    match fil {
        Fil::A => 0,
        Fil::B => 1,
    }
}

impl Feed {
    /// The feed of this store.
    pub fn open(store: &Store) -> Result<Feed, StoreError> {
        Ok(Feed {
            writer: std::sync::Mutex::new(()),
            cursors: store.tree(CURSORS)?,
            headers: store.tree(HEADERS)?,
            records: store.tree(RECORDS)?,
            infil: store.tree(INFIL)?,
            staging: store.tree(STAGING)?,
            urval_state: store.tree(URVAL_STATE)?,
            urval_meta: store.tree(URVAL_META)?,
        })
    }

    /// An order's cursor, if the feed has seen the order.
    pub fn cursor(&self, order: &OrderKey) -> Result<Option<Cursor>, StoreError> {
        read(&self.cursors, order.as_bytes())
    }

    /// A delivery's header, if it exists (produced and not yet removed).
    pub fn header(&self, order: &OrderKey, lopnummer: u64) -> Result<Option<Header>, StoreError> {
        read(&self.headers, &delivery_key(order, lopnummer))
    }

    /// Records `from..from+count` of a delivery's file: whose, and what is kept of each, to
    /// be rendered for the receiver as it may see them when fetched ([`FeedRecord::render_for`]).
    pub fn records(
        &self,
        order: &OrderKey,
        lopnummer: u64,
        fil: Fil,
        from: u64,
        count: u64,
    ) -> Result<Vec<(crate::ids::pnr::Pnr, FeedRecord)>, StoreError> {
        let start = record_key(order, lopnummer, fil, from);
        let end = record_key(order, lopnummer, fil, from.saturating_add(count));
        self.records
            .range(start..end)
            .map(|kv| {
                let (_, v) = kv?;
                let pnr = v
                    .get(..12)
                    .and_then(|k| crate::ids::pnr::Pnr::from_key(k).ok())
                    .ok_or_else(|| {
                        StoreError::Transaction("feed record without a number".into())
                    })?;
                Ok((pnr, FeedRecord::read(v.subslice(12, v.len() - 12))?))
            })
            .collect()
    }

    /// Acknowledges every delivery of `order` up to `through` (the receiver asked for the next
    /// one): their retention period starts now.
    pub fn acknowledge(
        &self,
        order: &OrderKey,
        through: u64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _one = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut cursor) = self.cursor(order)? else {
            return Ok(());
        };
        let through = through.min(cursor.next_lopnummer.saturating_sub(1));
        if through <= cursor.acked {
            return Ok(());
        }
        for l in cursor.acked + 1..=through {
            if let Some(mut h) = self.header(order, l)? {
                h.acked_at.get_or_insert(now);
                self.headers
                    .insert(delivery_key(order, l), postcard::to_stdvec(&h)?)?;
            }
        }
        cursor.acked = through;
        self.cursors
            .insert(order.as_bytes(), postcard::to_stdvec(&cursor)?)?;
        Ok(())
    }

    /// Removes the deliveries of `order` acknowledged more than `keep` ago; returns how many.
    pub fn prune(
        &self,
        order: &OrderKey,
        keep: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        for kv in self.headers.scan_prefix(order_key(order)) {
            let (k, v) = kv?;
            let h: Header = postcard::from_bytes(&v)?;
            if h.acked_at.is_some_and(|t| t + keep < now) {
                clear_prefix(&self.records, &k)?;
                self.headers.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Where every order of the register stands (avisering and urval).
    pub fn summary(&self, register: &Register) -> Result<Vec<OrderSummary>, StoreError> {
        let mut out = Vec::new();
        for org in register.organisations() {
            for id in org.delivery_order_ids() {
                let key = OrderKey::new(&org.orgnr, id);
                let cursor = self.cursor(&key)?.unwrap_or_default();
                let produced = cursor.next_lopnummer.saturating_sub(1);
                let produced_at = match produced {
                    0 => None,
                    n => self.header(&key, n)?.map(|h| h.skapad),
                };
                out.push(OrderSummary {
                    order: id.to_owned(),
                    orgnr: org.orgnr.to_string(),
                    produced,
                    acknowledged: cursor.acked,
                    produced_at,
                });
            }
        }
        Ok(out)
    }

    /// Replaces an order's infil (its population) with these numbers, in one step: they are
    /// written under a new generation, which the cursor then names; the old one is removed.
    /// The order must be enrolled (seen by [`Feed::produce`]).
    pub fn replace_infil(
        &self,
        order: &OrderKey,
        pnrs: impl IntoIterator<Item = crate::ids::pnr::Pnr>,
    ) -> Result<u64, StoreError> {
        let _one = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut cursor) = self.cursor(order)? else {
            return Err(StoreError::Transaction(format!(
                "order {order} is not enrolled in the feed yet"
            )));
        };
        let old = cursor.infil_generation;
        let new = old + 1;
        // Leftovers of a crashed replacement under the new generation go first.
        clear_prefix(&self.infil, &infil_key(order, new, &[]))?;
        let mut batch = sled::Batch::default();
        let mut n = 0u64;
        for p in pnrs {
            batch.insert(infil_key(order, new, p.as_bytes()), &[][..]);
            n += 1;
        }
        self.infil.apply_batch(batch)?;
        cursor.infil_generation = new;
        self.cursors
            .insert(order.as_bytes(), postcard::to_stdvec(&cursor)?)?;
        self.infil.flush()?;
        clear_prefix(&self.infil, &infil_key(order, old, &[]))?;
        Ok(n)
    }

    /// Takes one page of an infil upload; when every page is in, hands over all the numbers
    /// (sorted, each once) and clears the upload.
    pub fn stage_pages(
        &self,
        order: &OrderKey,
        sida: u64,
        antal_sidor: u64,
        personer: &[crate::ids::pnr::Pnr],
    ) -> Result<Staged, StoreError> {
        let prefix = order_key(order);
        if sida == 1 {
            clear_prefix(&self.staging, &prefix)?;
        }
        let mut key = prefix.clone();
        key.extend_from_slice(&sida.to_be_bytes());
        let numbers: Vec<[u8; 12]> = personer.iter().map(|p| *p.as_bytes()).collect();
        self.staging
            .insert(key, postcard::to_stdvec(&(antal_sidor, numbers))?)?;
        let mut pages = 0u64;
        let mut all = Vec::new();
        for kv in self.staging.scan_prefix(&prefix) {
            let (_, v) = kv?;
            let (of, numbers): (u64, Vec<[u8; 12]>) = postcard::from_bytes(&v)?;
            if of != antal_sidor {
                continue;
            }
            pages += 1;
            all.extend(numbers);
        }
        if pages < antal_sidor {
            return Ok(Staged::Receiving {
                pages,
                of: antal_sidor,
            });
        }
        all.sort_unstable();
        all.dedup();
        let pnrs = all
            .iter()
            .filter_map(|b| crate::ids::pnr::Pnr::from_key(b).ok())
            .collect::<Vec<_>>();
        clear_prefix(&self.staging, &prefix)?;
        Ok(Staged::Complete(pnrs))
    }

    /// The numbers of an order's infil generation.
    fn infil_numbers(
        &self,
        order: &OrderKey,
        generation: u64,
    ) -> Result<Vec<crate::ids::pnr::Pnr>, StoreError> {
        let prefix = infil_key(order, generation, &[]);
        let mut out = Vec::new();
        for kv in self.infil.scan_prefix(&prefix) {
            let (k, _) = kv?;
            if let Some(p) = k
                .get(prefix.len()..)
                .and_then(|b| crate::ids::pnr::Pnr::from_key(b).ok())
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Takes over, for `key`, what a folkreg that kept deliveries by order id alone left under
    /// `id`: the organisation that holds the id in the register (an id is unique in it) is the
    /// one whose order it was. Returns whether `key` now has a cursor.
    ///
    /// Crash-safe: the values are copied under the new key first (repeatable), then one
    /// transaction moves the cursor and the urval state, then the old copies go.
    fn adopt_unowned(&self, id: &str, key: &OrderKey) -> Result<bool, StoreError> {
        if !self.cursors.contains_key(id.as_bytes())? {
            return Ok(false);
        }
        let mut old = id.as_bytes().to_vec();
        old.push(0);
        let new = order_key(key);
        let prefixed = [
            &self.headers,
            &self.records,
            &self.infil,
            &self.staging,
            &self.urval_meta,
        ];
        for tree in prefixed {
            for kv in tree.scan_prefix(&old) {
                let (k, v) = kv?;
                let mut moved = new.clone();
                moved.extend_from_slice(&k[old.len()..]);
                tree.insert(moved, v)?;
            }
        }
        for tree in prefixed {
            tree.flush()?;
        }
        use sled::Transactional;
        (&self.cursors, &self.urval_state)
            .transaction(|(tc, ts)| {
                if let Some(c) = tc.remove(id.as_bytes())? {
                    tc.insert(key.as_bytes(), c)?;
                }
                if let Some(st) = ts.remove(id.as_bytes())? {
                    ts.insert(key.as_bytes(), st)?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        for tree in prefixed {
            clear_prefix(tree, &old)?;
        }
        tracing::info!(order = %key, "deliveries kept under the order id alone taken over by its organisation");
        Ok(true)
    }

    /// Enrols the orders of the register the feed has not seen yet: an avisering order
    /// starts at load `seq` — with its grunduttag as delivery 1 if it has one
    /// ([`Order::grunduttag`]; taken up only once the store has data), else its population
    /// begins with a grunduttag of an urval — and an urval order at löpnummer 1. Durable at
    /// once: a lost enrolment would start an order later.
    fn enrol(
        &self,
        store: &Store,
        register: &Register,
        seq: u64,
        week: (i32, u32),
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut taken_up = false;
        for org in register.organisations() {
            for id in org.delivery_order_ids() {
                let key = OrderKey::new(&org.orgnr, id);
                if self.cursors.contains_key(key.as_bytes())? {
                    continue;
                }
                if self.adopt_unowned(id, &key)? {
                    taken_up = true;
                    continue;
                }
                let mut c = Cursor {
                    produced_seq: seq,
                    next_lopnummer: 1,
                    last_week: Some(week),
                    ..Cursor::default()
                };
                if let Some(order) = org.avisering.iter().find(|o| o.id == id && o.grunduttag) {
                    if !store.snapshot().has_data() {
                        continue;
                    }
                    // The delivery's transaction writes the cursor: a crash before it leaves
                    // the order to be taken up again.
                    self.produce_grund(store, org, order, &key, &mut c, seq, now)?;
                    taken_up = true;
                    continue;
                }
                self.cursors
                    .insert(key.as_bytes(), postcard::to_stdvec(&c)?)?;
                tracing::info!(order = %key, load = seq, "order taken up");
                taken_up = true;
            }
        }
        if taken_up {
            store.flush()?;
        }
        Ok(())
    }

    /// Produces, for every avisering order in the register, the delivery the loads applied
    /// since its last one call for. `now` decides weekly orders' weeks and the deliveries'
    /// time. New orders (avisering and urval) are taken up.
    ///
    /// Acknowledged deliveries older than `keep` are removed on the way.
    pub fn produce(
        &self,
        store: &Store,
        register: &Register,
        now: DateTime<Utc>,
        keep: chrono::Duration,
    ) -> Result<Vec<Produced>, StoreError> {
        let _one = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let seq = store.load_seq()?;
        let week = {
            let local = now.with_timezone(&chrono_tz::Europe::Stockholm).iso_week();
            (local.year(), local.week())
        };
        self.enrol(store, register, seq, week, now)?;
        let mut done = Vec::new();
        let mut oldest_needed = seq;
        // The merged changes since a sequence number, with their changed terms: computed once
        // and shared by every order at that point (usually all of them).
        let mut merged_since: BTreeMap<u64, Vec<(Change, TermMask)>> = BTreeMap::new();
        for org in register.organisations() {
            for order in &org.avisering {
                let key = OrderKey::new(&org.orgnr, &order.id);
                let Some(mut cursor) = self.cursor(&key)? else {
                    continue;
                };
                let due = cursor.produced_seq < seq
                    && match order.periodicitet {
                        Periodicitet::Daglig => true,
                        Periodicitet::Veckovis => cursor.last_week != Some(week),
                    };
                if due {
                    cursor.last_week = Some(week);
                    let changes = match merged_since.entry(cursor.produced_seq) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(merged_changes(store, cursor.produced_seq, seq)?)
                        }
                    };
                    done.push(self.produce_one(org, order, &mut cursor, changes, seq, now)?);
                    // Durable before anyone can fetch it: a fetched delivery is never lost.
                    store.flush()?;
                }
                oldest_needed = oldest_needed.min(cursor.produced_seq);
                self.prune(&key, keep, now)?;
            }
        }
        store.forget_changes_through(oldest_needed)?;
        Ok(done)
    }

    /// [`Feed::produce`], logging (never failing the load) if that cannot be done now: the
    /// journal keeps the changes, and the next call produces them.
    pub fn produce_logged(
        &self,
        store: &Store,
        register: &Register,
        now: DateTime<Utc>,
        keep_days: u32,
    ) {
        if let Err(e) = self.produce(store, register, now, keep(keep_days)) {
            tracing::error!(error = %e, "avisering deliveries not produced now; they will be on the next run");
        }
    }

    /// Writes an order's grunduttag as its delivery 1: every person of its population, as
    /// the store holds them now (load `seq`), as totalposter.
    #[allow(clippy::too_many_arguments)]
    fn produce_grund(
        &self,
        store: &Store,
        org: &Organisation,
        order: &Order,
        key: &OrderKey,
        cursor: &mut Cursor,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<Produced, StoreError> {
        let access = org.access();
        let year = now.with_timezone(&chrono_tz::Europe::Stockholm).year();
        let snapshot = store.snapshot();
        let records = snapshot.iter().filter_map(|post| {
            let post = match post {
                Ok(p) if order.includes(&p, false, year) => p,
                Ok(_) => return None,
                Err(e) => return Some(Err(e)),
            };
            let post = match snapshot.with_linked_markings(post) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            super::select::grund_notice(order, &access, &post, year)
                .map(|n| Ok((n.fil, n.post.pnr(), kept(&n, None))))
        });
        let produced = self.write_delivery(key, cursor, now, (seq, seq), records, None)?;
        tracing::info!(order = %key, "grunduttag produced as delivery 1");
        Ok(produced)
    }

    fn produce_one(
        &self,
        org: &Organisation,
        order: &Order,
        cursor: &mut Cursor,
        changes: &[(Change, TermMask)],
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<Produced, StoreError> {
        let access = org.access();
        let key = &OrderKey::new(&org.orgnr, &order.id);
        let year = now.with_timezone(&chrono_tz::Europe::Stockholm).year();
        let mut all: Vec<Notice> = Vec::new();
        for (change, diff) in changes {
            let in_infil = match order.population {
                Population::Infil => self.infil.contains_key(infil_key(
                    key,
                    cursor.infil_generation,
                    change.pnr.as_bytes(),
                ))?,
                Population::Sokbegrepp(_) => false,
            };
            all.extend(notices_with_diff(
                order, &access, change, *diff, in_infil, year,
            ));
        }
        // Sorted by utsökningsdatum — the same for every record of one delivery — then by
        // number. Not by a record's change time: a protected person's is withheld, and its
        // position would tell it (DOMAIN.md §4).
        all.sort_by_key(|n| (n.fil, n.post.pnr()));
        let seqs = (cursor.produced_seq + 1, seq);
        cursor.produced_seq = seq;
        let records = all.iter().map(|n| Ok((n.fil, n.post.pnr(), kept(n, None))));
        self.write_delivery(key, cursor, now, seqs, records, None)
    }

    /// Writes delivery `cursor.next_lopnummer` of `order_id`: clears what a crashed attempt
    /// left under that löpnummer, writes the records (file, number, rendered) in their order,
    /// then — in ONE transaction — its header, the advanced `cursor` and, for an urval, the
    /// order's state and the delivery's meta. Until that transaction the delivery does not
    /// exist; after it, it is whole.
    fn write_delivery(
        &self,
        order_id: &OrderKey,
        cursor: &mut Cursor,
        now: DateTime<Utc>,
        seqs: (u64, u64),
        records: impl Iterator<Item = Result<(Fil, crate::ids::pnr::Pnr, Vec<u8>), StoreError>>,
        urval: Option<(&UrvalState, &UrvalMeta)>,
    ) -> Result<Produced, StoreError> {
        /// Records between flushes: bounded memory for an urval of the whole register.
        const FLUSH_EVERY: usize = 10_000;
        let lopnummer = cursor.next_lopnummer;
        let prefix = delivery_key(order_id, lopnummer);
        clear_prefix(&self.records, &prefix)?;
        // Plain inserts, not one batch: the records need no atomicity of their own (the
        // delivery exists only from the transaction below), and sled 0.34 holds a large batch
        // — or many unflushed writes — in memory (sled#1303). Flushed every `FLUSH_EVERY`.
        let mut antal = [0u64; 2];
        for (written, r) in records.enumerate() {
            let (fil, pnr, rendered) = r?;
            let i = fil_index(fil);
            let mut value = pnr.as_bytes().to_vec();
            value.extend_from_slice(&rendered);
            self.records
                .insert(record_key(order_id, lopnummer, fil, antal[i]), value)?;
            antal[i] += 1;
            if (written + 1) % FLUSH_EVERY == 0 {
                self.records.flush()?;
            }
        }
        let header = Header {
            lopnummer,
            skapad: now,
            antal,
            seqs,
            acked_at: None,
        };
        cursor.next_lopnummer = lopnummer + 1;
        let header_bytes = postcard::to_stdvec(&header)?;
        let cursor_bytes = postcard::to_stdvec(&*cursor)?;
        let urval_bytes = match urval {
            Some((state, meta)) => Some((postcard::to_stdvec(state)?, postcard::to_stdvec(meta)?)),
            None => None,
        };
        use sled::Transactional;
        (
            &self.headers,
            &self.cursors,
            &self.urval_state,
            &self.urval_meta,
        )
            .transaction(|(th, tc, ts, tm)| {
                th.insert(prefix.as_slice(), header_bytes.as_slice())?;
                tc.insert(order_id.as_bytes(), cursor_bytes.as_slice())?;
                if let Some((state, meta)) = &urval_bytes {
                    ts.insert(order_id.as_bytes(), state.as_slice())?;
                    tm.insert(prefix.as_slice(), meta.as_slice())?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        let (a, b) = (antal[0], antal[1]);
        match urval {
            Some(_) => {
                tracing::info!(order = %order_id, lopnummer, a, b, "urval delivery produced")
            }
            None => {
                tracing::info!(order = %order_id, lopnummer, a, b, "avisering delivery produced")
            }
        }
        Ok(Produced {
            order: order_id.id().to_owned(),
            lopnummer,
            antal,
        })
    }

    /// An urval order's state (default before its first run).
    pub fn urval_state(&self, order: &OrderKey) -> Result<UrvalState, StoreError> {
        Ok(read(&self.urval_state, order.as_bytes())?.unwrap_or_default())
    }

    /// What an urval delivery's header says beyond a delivery's (None for avisering).
    pub fn urval_meta(
        &self,
        order: &OrderKey,
        lopnummer: u64,
    ) -> Result<Option<UrvalMeta>, StoreError> {
        read(&self.urval_meta, &delivery_key(order, lopnummer))
    }

    /// The nightly urval run (after the loads): each urval order that is due runs over the
    /// store as it is now and gets one delivery. Due: an urval by sökbegrepp (or slumpmässigt)
    /// once per period; an infil order `enstaka` once when it has an infil, `periodisk` after
    /// each new infil (which is then used up unless the order keeps it); `svar_direkt` never
    /// here. New orders are taken up; acknowledged deliveries older than `keep` are removed.
    pub fn run_urval(
        &self,
        store: &Store,
        register: &Register,
        now: DateTime<Utc>,
        keep: chrono::Duration,
    ) -> Result<Vec<Produced>, StoreError> {
        let _one = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let week = {
            let local = now.with_timezone(&chrono_tz::Europe::Stockholm).iso_week();
            (local.year(), local.week())
        };
        self.enrol(store, register, store.load_seq()?, week, now)?;
        let mut done = Vec::new();
        if !store.snapshot().has_data() {
            // An urval of no data would use up a one-off order for nothing.
            tracing::warn!("no data loaded: urval orders wait for the first FULL delivery");
            return Ok(done);
        }
        for org in register.organisations() {
            for order in &org.urval {
                let key = OrderKey::new(&org.orgnr, &order.id);
                let Some(mut cursor) = self.cursor(&key)? else {
                    continue;
                };
                let state = self.urval_state(&key)?;
                let period = period_key(order.periodicitet, now);
                let (due, typ) = match order.urval {
                    Urval::Infil(Infilrutin::Enstaka) => (
                        state.runs == 0 && cursor.infil_generation > 0,
                        UrvalTyp::Infil,
                    ),
                    Urval::Infil(Infilrutin::Periodisk) => {
                        (cursor.infil_generation > state.infil_run, UrvalTyp::Infil)
                    }
                    Urval::Infil(Infilrutin::SvarDirekt) => (false, UrvalTyp::SvarDirekt),
                    Urval::Sokbegrepp(_) => (
                        state.last_period.as_deref() != Some(period.as_str()),
                        UrvalTyp::Urval,
                    ),
                    Urval::Slump { .. } => (
                        state.last_period.as_deref() != Some(period.as_str()),
                        UrvalTyp::SlumpmassigtUrval,
                    ),
                };
                if due {
                    let generation = cursor.infil_generation;
                    let infil = match order.urval {
                        Urval::Infil(_) => self.infil_numbers(&key, generation)?,
                        _ => Vec::new(),
                    };
                    let run = UrvalRun {
                        org,
                        order,
                        typ,
                        period: Some(period),
                        infil: &infil,
                        now,
                    };
                    done.push(self.urval_delivery(store, &mut cursor, state, run)?);
                    store.flush()?;
                    // Bilaga 1: an infil is used up by its run, unless the order keeps it.
                    if order.infilrutin().is_some() && !order.behall_infil {
                        clear_prefix(&self.infil, &infil_key(&key, generation, &[]))?;
                    }
                }
                self.prune(&key, keep, now)?;
            }
        }
        Ok(done)
    }

    /// [`Feed::run_urval`], logging (never failing the nightly run) if it cannot be done
    /// now: what was not run stays due.
    pub fn run_urval_logged(
        &self,
        store: &Store,
        register: &Register,
        now: DateTime<Utc>,
        keep_days: u32,
    ) {
        if let Err(e) = self.run_urval(store, register, now, keep(keep_days)) {
            tracing::error!(error = %e, "urval not run now; it stays due for the next run");
        }
    }

    /// Svar direkt mot infil (bilaga 1 c): the persons of `infil` as one delivery of
    /// `order`, at once.
    pub fn svar_direkt(
        &self,
        store: &Store,
        org: &Organisation,
        order: &UrvalOrder,
        infil: &[crate::ids::pnr::Pnr],
        now: DateTime<Utc>,
    ) -> Result<Produced, StoreError> {
        let _one = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let key = OrderKey::new(&org.orgnr, &order.id);
        let Some(mut cursor) = self.cursor(&key)? else {
            return Err(StoreError::Transaction(format!(
                "order {} is not enrolled in the feed yet",
                order.id
            )));
        };
        let state = self.urval_state(&key)?;
        let run = UrvalRun {
            org,
            order,
            typ: UrvalTyp::SvarDirekt,
            period: None,
            infil,
            now,
        };
        let produced = self.urval_delivery(store, &mut cursor, state, run)?;
        store.flush()?;
        Ok(produced)
    }

    /// Runs one urval over the store as it is now and writes it as the order's next delivery.
    fn urval_delivery(
        &self,
        store: &Store,
        cursor: &mut Cursor,
        mut state: UrvalState,
        run: UrvalRun<'_>,
    ) -> Result<Produced, StoreError> {
        let UrvalRun {
            org,
            order,
            typ,
            period,
            infil,
            now,
        } = run;
        let access = org.access();
        let year = now.with_timezone(&chrono_tz::Europe::Stockholm).year();
        let seed = match order.urval {
            Urval::Slump {
                slumpfro: Some(s), ..
            } => s,
            _ => rand::random(),
        };
        let started = std::time::Instant::now();
        let snapshot = store.snapshot();
        let seq = store.load_seq()?;
        let selection = urval::select(order, &access, &snapshot, year, seed, infil)?;
        let selected_in = started.elapsed();
        let records = selection.hits.iter().map(|hit| {
            let post = snapshot.get_marked(&hit.pnr)?.ok_or_else(|| {
                StoreError::Transaction("a selected record is gone from its snapshot".into())
            })?;
            let notice = super::select::totalpost(order.skyddade_termer, &access, &post);
            Ok((notice.fil, hit.pnr, kept(&notice, hit.undergrupp)))
        });
        state.runs += 1;
        if let Some(p) = period {
            state.last_period = Some(p);
        }
        if order.infilrutin().is_some() {
            state.infil_run = cursor.infil_generation;
        }
        let meta = UrvalMeta {
            typ,
            slumpfro: matches!(order.urval, Urval::Slump { .. }).then_some(seed),
            undergrupper: selection
                .undergrupper
                .iter()
                .map(|(wanted, _, drawn)| (*wanted, *drawn))
                .collect(),
            ej_funna: selection.ej_funna,
        };
        let produced = self.write_delivery(
            &OrderKey::new(&org.orgnr, &order.id),
            cursor,
            now,
            (seq, seq),
            records,
            Some((&state, &meta)),
        )?;
        tracing::info!(
            order = %order.id,
            typ = typ.name(),
            lopnummer = produced.lopnummer,
            selected = selection.hits.len(),
            select_ms = selected_in.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "urval run"
        );
        Ok(produced)
    }
}

/// One urval run's inputs.
struct UrvalRun<'a> {
    org: &'a Organisation,
    order: &'a UrvalOrder,
    typ: UrvalTyp,
    /// The period it runs for (None for svar direkt).
    period: Option<String>,
    infil: &'a [crate::ids::pnr::Pnr],
    now: DateTime<Utc>,
}

/// The period an urval runs once in, as Stockholm's calendar has it at `now`.
pub fn period_key(period: UrvalPeriod, now: DateTime<Utc>) -> String {
    let local = now.with_timezone(&chrono_tz::Europe::Stockholm);
    match period {
        UrvalPeriod::Engang => "engang".into(),
        UrvalPeriod::Daglig => local.format("%Y-%m-%d").to_string(),
        UrvalPeriod::Veckovis => local.format("%G-W%V").to_string(),
        UrvalPeriod::Manadsvis => local.format("%Y-%m").to_string(),
        UrvalPeriod::Arlig => local.format("%Y").to_string(),
    }
}

/// Every change of the loads after `since` up to `seq`, merged per person (the first load's
/// old record, the last one's new), each with its changed terms; persons whose record ended
/// as it began are left out.
fn merged_changes(
    store: &Store,
    since: u64,
    seq: u64,
) -> Result<Vec<(Change, TermMask)>, StoreError> {
    let snapshot = store.snapshot();
    let mut merged: BTreeMap<[u8; 12], Change> = BTreeMap::new();
    for s in since + 1..=seq {
        for change in store.changes(s) {
            let change = change?;
            let key = *change.pnr.as_bytes();
            match merged.get_mut(&key) {
                Some(m) => {
                    m.new = change.new;
                    m.seq = change.seq;
                }
                None => {
                    merged.insert(key, change);
                }
            }
        }
    }
    let mut out = Vec::new();
    for mut c in merged.into_values().filter(|c| c.old != c.new) {
        // A record linked by hänvisning to a protected one is judged as protected, before
        // and after: the links are the store's as it is now (DOMAIN.md §4). The changed terms
        // are those of the records so judged, as `select::notices` computes them.
        c.old = c
            .old
            .map(|p| snapshot.with_linked_markings(p))
            .transpose()?;
        c.new = c
            .new
            .map(|p| snapshot.with_linked_markings(p))
            .transpose()?;
        let diff = match (&c.old, &c.new) {
            (Some(o), Some(n)) => changed_terms(o, n),
            _ => TermMask::NONE,
        };
        out.push((c, diff));
    }
    Ok(out)
}

/// The byte that starts a kept record (after its number): what is needed to render the record
/// when it is fetched. A record produced by a folkreg before deliveries were rendered at fetch
/// starts with `<` (its rendered XML).
const KEPT: u8 = 1;

/// A delivery record as the feed keeps it: the record and the facts of the change, not
/// rendered bytes, so what leaves is decided with the receiver's access when it is fetched
/// (DOMAIN.md §4).
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    kind: Posttyp,
    fil: Fil,
    /// The terms the order chose for it when produced, by name.
    terms: Vec<String>,
    /// The record (the store's encoding).
    post: Vec<u8>,
    foregaende_adress: Option<crate::model::SvenskAdress>,
    undergrupp: Option<u16>,
}

/// A notice as the feed keeps it (`KEPT` and the encoded [`Kept`]).
fn kept(n: &Notice, undergrupp: Option<u16>) -> Vec<u8> {
    let kept = Kept {
        kind: n.kind,
        fil: n.fil,
        terms: n.terms.terms().map(|t| t.name().to_owned()).collect(),
        post: crate::model::encode(&n.post),
        foregaende_adress: n.foregaende_adress.clone(),
        undergrupp,
    };
    let mut out = vec![KEPT];
    // Encoding plain data into a Vec cannot fail.
    out.extend(postcard::to_stdvec(&kept).unwrap_or_default());
    out
}

/// One record of a delivery as the feed holds it.
#[derive(Debug)]
pub enum FeedRecord {
    /// Kept, to be rendered when fetched.
    Kept {
        /// The notice as the order chose it when produced.
        notice: Box<Notice>,
        /// Its undergroup, in a slumpmässigt urval.
        undergrupp: Option<u16>,
    },
    /// Rendered when produced, by a folkreg before deliveries were rendered at fetch: served
    /// as it was produced.
    Rendered(sled::IVec),
}

impl FeedRecord {
    fn read(value: sled::IVec) -> Result<FeedRecord, StoreError> {
        if value.first() != Some(&KEPT) {
            return Ok(FeedRecord::Rendered(value));
        }
        let kept: Kept = postcard::from_bytes(&value[1..])?;
        let post = crate::model::decode(&kept.post)?;
        let terms = TermMask::from_names(kept.terms.iter().map(String::as_str));
        Ok(FeedRecord::Kept {
            notice: Box::new(Notice {
                fil: kept.fil,
                kind: kept.kind,
                terms,
                post,
                foregaende_adress: kept.foregaende_adress,
            }),
            undergrupp: kept.undergrupp,
        })
    }

    /// The notice as the receiver with `access` gets it now: the order's terms narrowed by
    /// what it may see at this moment ([`Access::delivered`]), judged with the markings of
    /// the records linked to it by hänvisning in `snapshot` (the store as it is now) on top
    /// of those it was produced with, the previous address only with the
    /// folkbokföringsadress; `None` when it may not see the record in a delivery now, or the
    /// record was rendered by an older folkreg ([`FeedRecord::Rendered`]).
    pub fn view_for(
        &self,
        access: &Access,
        snapshot: &Snapshot<'_>,
    ) -> Result<Option<(Notice, Option<u16>)>, StoreError> {
        let FeedRecord::Kept { notice, undergrupp } = self else {
            return Ok(None);
        };
        let post = snapshot.with_linked_markings(notice.post.clone())?;
        let Some(view) = access.delivered(post, notice.terms) else {
            return Ok(None);
        };
        Ok(Some((
            Notice {
                fil: notice.fil,
                kind: notice.kind,
                terms: view.terms,
                foregaende_adress: notice
                    .foregaende_adress
                    .clone()
                    .filter(|_| view.terms.contains(Term::Folkbokforingsadress)),
                post: view.post,
            },
            *undergrupp,
        )))
    }

    /// The record as the receiver with `access` gets it now, as a `hamtaAvisering` page
    /// carries it ([`FeedRecord::view_for`]); `None` when it may not see it now.
    pub fn render_for(
        &self,
        access: &Access,
        snapshot: &Snapshot<'_>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            FeedRecord::Rendered(bytes) => Ok(Some(bytes.to_vec())),
            FeedRecord::Kept { .. } => Ok(self
                .view_for(access, snapshot)?
                .map(|(n, undergrupp)| render(&n, undergrupp))),
        }
    }
}

/// One notice as it is sent: `<Avisering Posttyp= Fil= Termer=>` around the record, with
/// `Undergrupp=` for a record of a slumpmässigt urval.
pub fn render(n: &Notice, undergrupp: Option<u16>) -> Vec<u8> {
    use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
    let mut w = quick_xml::Writer::new(Vec::new());
    let mut root = BytesStart::new("Avisering");
    let typ = match n.kind {
        Posttyp::Total => "T",
        Posttyp::Andring => "A",
        Posttyp::Borttag => "B",
        Posttyp::Flyttsignal => "F",
    };
    root.push_attribute(("Posttyp", typ));
    root.push_attribute((
        "Fil",
        match n.fil {
            Fil::A => "A",
            Fil::B => "B",
        },
    ));
    let names: Vec<&str> = n.terms.terms().map(Term::name).collect();
    root.push_attribute(("Termer", names.join(" ").as_str()));
    if let Some(g) = undergrupp {
        root.push_attribute(("Undergrupp", g.to_string().as_str()));
    }
    // Writing to a Vec cannot fail.
    let _ = w.write_event(Event::Start(root));
    let _ = write_post(&mut w, &n.post, PostStyle::answer(n.terms));
    if n.kind == Posttyp::Flyttsignal {
        let _ = w.write_event(Event::Start(BytesStart::new("Flyttsignal")));
        let _ = w.write_event(Event::Start(BytesStart::new("LanKod")));
        let _ = w.write_event(Event::Text(BytesText::new("99")));
        let _ = w.write_event(Event::End(BytesEnd::new("LanKod")));
        let _ = w.write_event(Event::End(BytesEnd::new("Flyttsignal")));
    }
    if let Some(a) = &n.foregaende_adress {
        let _ = write_svensk_adress(&mut w, "ForegaendeFolkbokforingsadress", a);
    }
    let _ = w.write_event(Event::End(BytesEnd::new("Avisering")));
    w.into_inner()
}

#[cfg(test)]
mod tests;
