use super::*;
use crate::load::plan::decide;
use crate::loadfile::{DeliveryHeader, DeliveryTyp};
use chrono::{NaiveDate, TimeZone};

const PERSONS: usize = 60;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).expect("date")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 4, 30, 0).unwrap()
}

/// A FULL delivery and `deltas` deltas after it, made in `dir`; returns their paths in
/// löpnummer order.
fn chain(dir: &Path, deltas: usize) -> Vec<PathBuf> {
    let full = dir.join("leverans-000001-FULL.xml.gz");
    crate::dev::generate::write_full(PERSONS, 7, today(), Some(&full)).expect("full");
    let mut out = vec![full];
    for i in 0..deltas {
        let next = dir.join(format!("leverans-{:06}-DELTA.xml.gz", i + 2));
        let prev = out.last().expect("previous").clone();
        crate::dev::generate::write_delta(&prev, 5, 100 + i as u64, today(), Some(&next))
            .expect("delta");
        out.push(next);
    }
    out
}

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    inbox: PathBuf,
    made: Vec<PathBuf>,
    store: Store,
}

fn fixture(deltas: usize) -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let made_dir = tmp.path().join("made");
    std::fs::create_dir_all(&made_dir).expect("dir");
    let made = chain(&made_dir, deltas);
    let data = tmp.path().join("data");
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let store = Store::open(&data.join("store"), 8 << 20).expect("store");
    Fixture {
        _tmp: tmp,
        data,
        inbox,
        made,
        store,
    }
}

impl Fixture {
    /// Copies made file `i` into the inbox under `name`.
    fn deliver(&self, i: usize, name: &str) {
        std::fs::copy(&self.made[i], self.inbox.join(name)).expect("copy");
    }

    fn run(&self) -> JobState {
        let before = JobState::read(&self.data).expect("state");
        run(
            &self.store,
            &self.data,
            &self.inbox,
            &before,
            now(),
            &mut |_| {},
        )
    }

    fn names(&self, folder: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.inbox.join(folder))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[test]
fn applies_in_lopnummer_order_and_archives() {
    let f = fixture(2);
    // Names that sort opposite to the löpnummer: the headers decide the order.
    f.deliver(2, "a-third.xml.gz");
    f.deliver(1, "b-second.xml.gz");
    f.deliver(0, "c-first.xml.gz");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Ok, "{state:?}");
    let order: Vec<_> = state.files.iter().map(|h| h.lopnummer).collect();
    assert_eq!(order, [Some(1), Some(2), Some(3)]);
    assert!(state.files.iter().all(|h| h.result == FileResult::Applied));
    assert_eq!(state.files[0].records, PERSONS as u64);
    assert_eq!(f.store.info().lopnummer, Some(3));
    assert_eq!(state.store.lopnummer, Some(3));
    assert_eq!(state.last_ok, Some(now()));
    assert_eq!(f.names(""), Vec::<String>::new());
    assert_eq!(
        f.names(ARCHIVE),
        ["a-third.xml.gz", "b-second.xml.gz", "c-first.xml.gz"]
    );
    // The state file says the same, and the next run finds nothing.
    let read = JobState::read(&f.data).expect("state file");
    assert_eq!(read.outcome, Outcome::Ok);
    assert_eq!(read.files, state.files);
    assert_eq!(f.run().outcome, Outcome::Nothing);
}

#[test]
fn a_gap_is_refused_with_a_reason_and_stops_the_run() {
    let f = fixture(3);
    f.deliver(0, "l1.xml.gz");
    assert_eq!(f.run().outcome, Outcome::Ok);
    // Löpnummer 2 is lost: 3 must not be applied, and 4 must wait.
    f.deliver(2, "l3.xml.gz");
    f.deliver(3, "l4.xml.gz");
    let before = f.store.info();
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Failed);
    assert_eq!(f.store.info(), before, "nothing applied");
    assert_eq!(f.names(REJECTED), ["l3.xml.gz", "l3.xml.gz.reason"]);
    assert_eq!(
        f.names(""),
        ["l4.xml.gz"],
        "the later file waits in the inbox"
    );
    let reason =
        std::fs::read_to_string(f.inbox.join(REJECTED).join("l3.xml.gz.reason")).expect("reason");
    assert!(reason.contains("löpnummer 3"), "{reason}");
    assert!(reason.contains("2 is expected"), "{reason}");
    let rejected: Vec<_> = state.rejected().collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason.as_deref(), Some(reason.trim_end()));
    // The previous successful run is still on record.
    assert_eq!(
        state.last_ok,
        JobState::read(&f.data).expect("state").last_ok
    );
    // Once 2 arrives, 2 and then 4 … still needs 3: delivering 2 and 3 again completes it.
    f.deliver(1, "l2.xml.gz");
    f.deliver(2, "l3-again.xml.gz");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Ok, "{state:?}");
    assert_eq!(f.store.info().lopnummer, Some(4));
}

#[test]
fn an_unreadable_file_is_refused_before_anything_is_applied() {
    let f = fixture(1);
    f.deliver(0, "l1.xml.gz");
    std::fs::write(f.inbox.join("broken.xml"), b"<not a delivery").expect("write");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Failed);
    assert_eq!(f.store.info().generation, 0, "nothing applied");
    assert_eq!(f.names(REJECTED), ["broken.xml", "broken.xml.reason"]);
    assert_eq!(f.names(""), ["l1.xml.gz"]);
    // The next run goes on with what is left.
    assert_eq!(f.run().outcome, Outcome::Ok);
    assert_eq!(f.store.info().lopnummer, Some(1));
}

#[test]
fn a_repeated_delivery_is_archived_without_applying() {
    let f = fixture(1);
    f.deliver(0, "l1.xml.gz");
    f.deliver(1, "l2.xml.gz");
    assert_eq!(f.run().outcome, Outcome::Ok);
    let info = f.store.info();
    f.deliver(1, "l2.xml.gz");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Ok);
    assert_eq!(state.files.len(), 1);
    assert_eq!(state.files[0].result, FileResult::AlreadyApplied);
    assert_eq!(f.store.info(), info);
    // Kept apart from the applied files, so a restore never takes it.
    assert_eq!(f.names(ARCHIVE), ["l1.xml.gz", "l2.xml.gz"]);
    assert_eq!(f.names(REPEATED), ["l2.xml.gz"]);
    // A sender reusing one file name: filed beside the first copy, never over it.
    f.deliver(1, "l2.xml.gz");
    f.run();
    assert_eq!(f.names(REPEATED), ["l2.1.xml.gz", "l2.xml.gz"]);
    // The FULL the deltas built on, sent again, would take the store back: refused.
    f.deliver(0, "l1.xml.gz");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Failed);
    assert_eq!(f.store.info(), info);
    assert_eq!(f.names(REJECTED), ["l1.xml.gz", "l1.xml.gz.reason"]);
    assert!(state.files[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("older than the data served")));
}

#[test]
fn files_being_written_are_not_deliveries() {
    let f = fixture(0);
    f.deliver(0, "l1.xml.gz.part");
    f.deliver(0, ".l1.xml.gz");
    std::fs::create_dir_all(f.inbox.join("folder.xml")).expect("dir");
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Nothing);
    assert_eq!(f.names(""), [".l1.xml.gz", "l1.xml.gz.part"]);
}

#[test]
fn a_held_lock_skips_the_run() {
    let f = fixture(0);
    f.deliver(0, "l1.xml.gz");
    let held = LoadLock::try_acquire(&f.data).expect("lock");
    assert!(matches!(
        LoadLock::try_acquire(&f.data),
        Err(JobError::Locked(_))
    ));
    let state = f.run();
    assert_eq!(state.outcome, Outcome::Locked);
    assert_eq!(f.names(""), ["l1.xml.gz"], "untouched");
    drop(held);
    assert_eq!(f.run().outcome, Outcome::Ok);
}

#[test]
fn no_state_file_means_never_ran() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = JobState::read(tmp.path()).expect("read");
    assert_eq!(s.outcome, Outcome::Never);
    assert_eq!(s.last_run, None);
    std::fs::write(tmp.path().join(STATE_FILE), b"{").expect("write");
    let e = JobState::read(tmp.path()).unwrap_err();
    assert!(e.to_string().contains(STATE_FILE), "{e}");
}

#[test]
fn decisions_against_the_store() {
    let header = |lopnummer, typ, skapad: &str| DeliveryHeader {
        lopnummer,
        typ,
        skapad: skapad.into(),
        antal: 0,
    };
    let at = StoreInfo {
        generation: 3,
        lopnummer: Some(10),
        skapad: Some("2026-11-20T05:00:00+01:00".into()),
        ..StoreInfo::default()
    };
    let d = |h| decide(&at, &h);
    assert_eq!(d(header(11, DeliveryTyp::Delta, "x")), Decision::Apply);
    assert_eq!(
        d(header(12, DeliveryTyp::Delta, "x")),
        Decision::Apply,
        "the store refuses gaps"
    );
    assert!(matches!(
        d(header(10, DeliveryTyp::Delta, "x")),
        Decision::Already(_)
    ));
    assert!(matches!(
        d(header(3, DeliveryTyp::Delta, "x")),
        Decision::Already(_)
    ));
    assert_eq!(d(header(11, DeliveryTyp::Full, "x")), Decision::Apply);
    assert_eq!(
        d(header(10, DeliveryTyp::Full, "2026-11-21T05:00:00+01:00")),
        Decision::Apply,
        "a new FULL with the same number (a restarted sequence) replaces"
    );
    assert!(matches!(
        d(header(10, DeliveryTyp::Full, "2026-11-20T05:00:00+01:00")),
        Decision::Already(_)
    ));
    assert!(matches!(
        d(header(9, DeliveryTyp::Full, "x")),
        Decision::Refuse(_)
    ));
    let empty = StoreInfo::default();
    assert_eq!(
        decide(&empty, &header(9, DeliveryTyp::Delta, "x")),
        Decision::Apply
    );
}

#[test]
fn a_store_is_rebuilt_from_the_archive() {
    let f = fixture(4);
    // Archive: FULL 1, deltas 2 and 3, a repeat of 2, and 5 without 4 (a gap).
    for (i, name) in [(0, "a"), (1, "b"), (2, "c"), (1, "b2"), (4, "e")] {
        f.deliver(i, &format!("{name}.xml.gz"));
    }
    std::fs::write(f.inbox.join("e.xml.gz.reason"), "not a delivery").expect("write");
    let plan = crate::load::plan::restore(&f.inbox).expect("plan");
    let names: Vec<String> = plan.files.iter().map(|p| name_of(p)).collect();
    assert_eq!(names, ["a.xml.gz", "b.xml.gz", "c.xml.gz"]);
    assert_eq!(plan.left_out, 2);
    assert_eq!(plan.gap, Some(4));
    let (done, failure) = crate::load::load_files(&f.store, &plan.files, false, &mut |_| {});
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(done.len(), 3);
    assert_eq!(f.store.info().lopnummer, Some(3));
    // Nothing but deltas: nothing to restore from.
    let empty = tempfile::tempdir().expect("tmp");
    std::fs::copy(&f.made[1], empty.path().join("d.xml.gz")).expect("copy");
    let plan = crate::load::plan::restore(empty.path()).expect("plan");
    assert!(plan.files.is_empty());
}

/// Issue 21, item 1: a delta that sets a sekretessmarkering and holds one invalid record is
/// refused whole (right) — and then the failure stayed quiet: the next run with an empty
/// inbox cleared it and advanced "last success". Now the refusal stays pending, with the
/// count of persons whose protection waits, until a delivery is applied.
#[test]
fn a_refused_delivery_stays_pending_until_one_is_applied() {
    use crate::model::change::{DeliveryRecord, Posttyp};
    use crate::model::term::TermMask;
    let f = fixture(1);
    f.deliver(0, "l1.xml.gz");
    let first = f.run();
    assert_eq!(first.outcome, Outcome::Ok);
    assert_eq!(first.pending_refusal, None);
    // Löpnummer 2: one person becomes sekretessmarkerad, another's record is invalid.
    let people: Vec<_> = f
        .store
        .snapshot()
        .iter()
        .map(|p| p.expect("record"))
        .filter(|p| !p.is_protected() && p.personpost.avregistrering.is_none())
        .take(2)
        .collect();
    let (mut secret, broken) = (people[0].clone(), people[1].clone());
    secret.sekretessmarkering = true;
    let header = DeliveryHeader {
        lopnummer: 2,
        typ: DeliveryTyp::Delta,
        skapad: "2026-11-23T05:00:00+01:00".into(),
        antal: 2,
    };
    let total = |post| DeliveryRecord {
        posttyp: Posttyp::Total,
        post,
        present: TermMask::ALL,
    };
    let path = f.inbox.join("l2.xml");
    crate::loadfile::writer::write_delivery(
        &path,
        &header,
        &[total(secret), total(broken.clone())],
    )
    .expect("write");
    // Break the second record: its number gets a wrong check digit.
    let text = std::fs::read_to_string(&path).expect("read");
    let number = broken.pnr().as_str().to_owned();
    let mut wrong = number.clone();
    let last = wrong.pop().expect("digit");
    wrong.push(if last == '0' { '1' } else { '0' });
    std::fs::write(&path, text.replace(&number, &wrong)).expect("write");
    let later = |hours| now() + chrono::Duration::hours(hours);
    let before = JobState::read(&f.data).expect("state");
    let refused = run(&f.store, &f.data, &f.inbox, &before, later(24), &mut |_| {});
    assert_eq!(refused.outcome, Outcome::Failed);
    let pending = refused.pending_refusal.clone().expect("pending");
    assert_eq!(pending.sets_protection, 1, "{pending:?}");
    assert_eq!(pending.lopnummer, Some(2));
    assert_eq!(refused.last_ok, first.last_ok);
    // The next run finds nothing: still pending, and no new "last success".
    let quiet = run(
        &f.store,
        &f.data,
        &f.inbox,
        &refused,
        later(48),
        &mut |_| {},
    );
    assert_eq!(quiet.outcome, Outcome::Nothing);
    assert_eq!(quiet.pending_refusal, Some(pending));
    assert_eq!(quiet.last_ok, first.last_ok);
    // A delivery applied clears it.
    f.deliver(1, "l2-again.xml.gz");
    let applied = run(&f.store, &f.data, &f.inbox, &quiet, later(72), &mut |_| {});
    assert_eq!(applied.outcome, Outcome::Ok, "{applied:?}");
    assert_eq!(applied.pending_refusal, None);
    assert_eq!(applied.last_ok, Some(later(72)));
    // The state file keeps it across a restart.
    assert_eq!(JobState::read(&f.data).expect("state"), applied);
}
