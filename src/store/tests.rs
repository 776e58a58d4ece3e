use super::*;
use crate::loadfile::DeliveryTyp;
use crate::model::term::TermMask;
use crate::model::tests::sample;
use crate::search::parse_patterns;

/// Opens the store again after `drop`, waiting out the file lock that sled's background
/// flusher holds for a moment after the handle is gone (longer on a busy machine).
fn reopen(dir: &std::path::Path, cache: u64) -> Store {
    open_when_unlocked(dir, cache).unwrap_or_else(|e| panic!("reopen the store: {e}"))
}

/// [`Store::open`], retried while the lock of the previous handle is still held.
fn open_when_unlocked(dir: &std::path::Path, cache: u64) -> Result<Store, StoreError> {
    for _ in 0..100 {
        match Store::open(dir, cache) {
            Err(StoreError::Locked(_)) => std::thread::sleep(std::time::Duration::from_millis(50)),
            other => return other,
        }
    }
    Store::open(dir, cache)
}

pub(crate) fn header(lopnummer: u64, typ: DeliveryTyp, antal: u64) -> DeliveryHeader {
    DeliveryHeader {
        lopnummer,
        typ,
        skapad: "2026-11-22T05:00:00+01:00".into(),
        antal,
    }
}

pub(crate) fn person(serial: u16, fornamn: &str, efternamn: &str) -> Folkbokforingspost {
    let mut p = sample();
    let date = chrono::NaiveDate::from_ymd_opt(1980, 1, 1 + (serial % 28) as u32).unwrap();
    p.personpost.person_id = Pnr::from_parts(date, serial, false).unwrap();
    p.personpost.namn.fornamn = Some(fornamn.into());
    p.personpost.namn.efternamn = Some(efternamn.into());
    p
}

pub(crate) fn total(p: Folkbokforingspost) -> DeliveryRecord {
    DeliveryRecord {
        posttyp: Posttyp::Total,
        post: p,
        present: TermMask::ALL,
    }
}

pub(crate) fn load_full(
    store: &Store,
    lopnummer: u64,
    posts: &[Folkbokforingspost],
) -> LoadSummary {
    let mut b = store
        .begin_full(&header(lopnummer, DeliveryTyp::Full, posts.len() as u64))
        .unwrap();
    for p in posts {
        b.add(&total(p.clone())).unwrap();
    }
    b.commit().unwrap()
}

#[test]
fn full_load_becomes_visible_only_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    assert!(!store.snapshot().has_data());
    let a = person(101, "Anna", "Berg");
    let mut b = store.begin_full(&header(1, DeliveryTyp::Full, 1)).unwrap();
    b.add(&total(a.clone())).unwrap();
    assert!(
        store.current.try_read().is_ok_and(|g| g.is_none()),
        "nothing visible before commit"
    );
    b.commit().unwrap();
    assert_eq!(store.snapshot().get(&a.pnr()).unwrap(), Some(a.clone()));
    assert_eq!(store.info().generation, 1);
    assert_eq!(store.info().lopnummer, Some(1));

    // A second full load replaces everything and removes the old generation's trees.
    let c = person(203, "Cecilia", "Dahl");
    load_full(&store, 5, std::slice::from_ref(&c));
    assert_eq!(store.snapshot().get(&a.pnr()).unwrap(), None);
    assert_eq!(store.snapshot().get(&c.pnr()).unwrap(), Some(c));
    assert_eq!(store.info().generation, 2);
    // The old generation's trees are dropped on a thread of their own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let names: Vec<_> = store
            .db
            .tree_names()
            .into_iter()
            .filter_map(|n| overlay_of(&n))
            .collect();
        if names.iter().all(|(g, _)| *g == 2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "old generation dropped: {names:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        segment_files(&store),
        ["g2.idx.seg", "g2.post.seg"],
        "old generation's segments removed"
    );
}

fn segment_files(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&store.segments)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn abandoned_build_leaves_the_old_generation() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 1 << 24).unwrap();
        load_full(&store, 1, &[person(101, "Anna", "Berg")]);
        // As if the process died while building generation 2: its trees, a finished segment,
        // an unfinished one and a sort run exist, the switch not.
        let t = store.db.open_tree(overlay_tree(2, 0, "post")).unwrap();
        t.insert(b"198602212394", model::encode(&sample())).unwrap();
        // And a delta of generation 1 that died before meta named its overlay version.
        let t = store.db.open_tree(overlay_tree(1, 1, "post")).unwrap();
        t.insert(b"198602212394", model::encode(&sample())).unwrap();
        store.flush().unwrap();
        for name in ["g2.post.seg", "g2.idx.tmp", "g2.post.0.run"] {
            std::fs::write(store.segments.join(name), b"partial").unwrap();
        }
    }
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    assert_eq!(store.info().generation, 1);
    assert_eq!(store.info().records, 1);
    let gens: Vec<_> = store
        .db
        .tree_names()
        .into_iter()
        .filter_map(|n| overlay_of(&n))
        .collect();
    assert!(
        gens.iter().all(|g| *g == (1, 0)),
        "leftover generation and overlay version dropped on open: {gens:?}"
    );
    assert_eq!(segment_files(&store), ["g1.idx.seg", "g1.post.seg"]);
    assert_eq!(store.snapshot().iter().count(), 1);
}

#[test]
fn duplicate_in_full_delivery_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    let a = person(101, "Anna", "Berg");
    let mut b = store.begin_full(&header(1, DeliveryTyp::Full, 2)).unwrap();
    b.add(&total(a.clone())).unwrap();
    b.add(&total(a)).unwrap();
    let err = b.commit().unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused(Refusal::Duplicate {
                position: 2,
                first: Some(1)
            })
        ),
        "{err}"
    );
    assert!(!store.snapshot().has_data());
}

/// A number repeated after the sort wrote runs to disk: both positions are still known, and
/// the runs are removed.
#[test]
fn duplicate_across_sort_runs_in_full_delivery_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), 1 << 24).unwrap();
    store.sort_budget = 64 * 1024;
    let n = 1_001;
    let mut b = store
        .begin_full(&header(1, DeliveryTyp::Full, n + 1))
        .unwrap();
    let numbered = |i: u64| {
        let mut p = sample();
        let day =
            chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Days::new(i / 1000);
        p.personpost.person_id = Pnr::from_parts(day, (i % 1000) as u16, false).unwrap();
        p
    };
    for i in 0..n {
        b.add(&total(numbered(i))).unwrap();
    }
    assert!(segment_files(&store).len() > 4, "runs were written");
    b.add(&total(numbered(0))).unwrap();
    let err = b.commit().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "record {}: the identity number already occurs in record 1 of this delivery",
            n + 1
        )
    );
    assert!(!store.snapshot().has_data());
    assert_eq!(segment_files(&store), Vec::<String>::new());
}

#[test]
fn delta_applies_in_order_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    let a = person(101, "Anna", "Berg");
    let b = person(203, "Bo", "Ek");
    load_full(&store, 10, &[a.clone(), b.clone()]);

    // Gap and repeat are refused, naming the expected löpnummer.
    let c = person(305, "Cecilia", "Dahl");
    let err = store
        .apply_delta(&header(12, DeltaTyp(), 1), &[total(c.clone())], false)
        .unwrap_err();
    assert!(err.to_string().contains("11 is expected"), "{err}");
    let err = store
        .apply_delta(&header(10, DeltaTyp(), 1), &[total(c.clone())], false)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Refused(Refusal::AlreadyApplied(10))
    ));

    // One bad record (a change for a missing person) refuses the whole file.
    let mut missing = person(407, "Dan", "Falk");
    missing.personpost.namn.efternamn = Some("Gran".into());
    let andring = DeliveryRecord {
        posttyp: Posttyp::Andring,
        post: missing,
        present: TermMask::NONE,
    };
    let err = store
        .apply_delta(
            &header(11, DeltaTyp(), 2),
            &[total(c.clone()), andring],
            false,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused(Refusal::Missing { position: 2, .. })
        ),
        "{err}"
    );
    assert_eq!(
        store.snapshot().get(&c.pnr()).unwrap(),
        None,
        "nothing half-applied"
    );

    // A good delta: add c, change a's surname (ändringspost), remove b.
    let mut a2 = a.clone();
    a2.personpost.namn.efternamn = Some("Holm".into());
    let present = TermMask::of(&[crate::model::term::Term::Namn]);
    let recs = vec![
        total(c.clone()),
        DeliveryRecord {
            posttyp: Posttyp::Andring,
            post: a2.clone(),
            present,
        },
        DeliveryRecord {
            posttyp: Posttyp::Borttag,
            post: b.clone(),
            present: TermMask::NONE,
        },
    ];
    let s = store
        .apply_delta(&header(11, DeltaTyp(), 3), &recs, false)
        .unwrap();
    assert_eq!(
        s,
        LoadSummary {
            added: 1,
            changed: 1,
            removed: 1
        }
    );
    let snap = store.snapshot();
    assert_eq!(
        snap.get(&a.pnr())
            .unwrap()
            .unwrap()
            .personpost
            .namn
            .efternamn
            .as_deref(),
        Some("Holm")
    );
    assert_eq!(snap.get(&b.pnr()).unwrap(), None);
    assert_eq!(snap.info().lopnummer, Some(11));
    assert_eq!(snap.info().records, 2);

    // Indexes follow: the old surname no longer finds a, the new one does.
    let q = |efternamn: &str| SearchQuery {
        efter_mellan: parse_patterns(efternamn).unwrap(),
        fornamn: parse_patterns("anna").unwrap(),
        ..Default::default()
    };
    assert_eq!(
        snap.search(&q("berg"), 10, |_, _| true).unwrap(),
        SearchOutcome::Hits(vec![])
    );
    match snap.search(&q("ho*"), 10, |_, _| true).unwrap() {
        SearchOutcome::Hits(h) => assert_eq!(h.len(), 1),
        other => panic!("{other:?}"),
    }
    drop(snap);

    // Survives reopening.
    drop(store);
    let store = reopen(dir.path(), 1 << 24);
    assert_eq!(store.info().lopnummer, Some(11));
    assert!(store.snapshot().get(&c.pnr()).unwrap().is_some());
}

#[allow(non_snake_case)]
fn DeltaTyp() -> DeliveryTyp {
    DeliveryTyp::Delta
}

#[test]
fn search_hit_limit_and_protected_persons() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    let mut posts: Vec<_> = (0..5)
        .map(|i| person(101 + 2 * i, "Sara", "Lind"))
        .collect();
    let mut hidden = person(999, "Sara", "Lind");
    hidden.sekretessmarkering = true;
    posts.push(hidden.clone());
    load_full(&store, 1, &posts);
    let q = SearchQuery {
        fornamn: parse_patterns("sara").unwrap(),
        efter_mellan: parse_patterns("lind").unwrap(),
        ..Default::default()
    };
    let snap = store.snapshot();
    match snap.search(&q, 5, |_, _| true).unwrap() {
        SearchOutcome::Hits(h) => {
            assert_eq!(h.len(), 5);
            assert!(h.iter().all(|p| p.pnr() != hidden.pnr()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        snap.search(&q, 4, |_, _| true).unwrap(),
        SearchOutcome::TooMany
    );
    // The hidden person is still there by number.
    assert!(snap.get(&hidden.pnr()).unwrap().is_some());
}

mod journal_tests {
    use super::*;

    fn changes(store: &Store, seq: u64) -> Vec<journal::Change> {
        store.changes(seq).collect::<Result<_, _>>().unwrap()
    }

    fn delta(lopnummer: u64, recs: Vec<DeliveryRecord>) -> (DeliveryHeader, Vec<DeliveryRecord>) {
        (
            header(lopnummer, DeliveryTyp::Delta, recs.len() as u64),
            recs,
        )
    }

    #[test]
    fn every_load_journals_exactly_the_records_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let (a, b, c) = (
            person(1, "Anna", "Ek"),
            person(2, "Bo", "Al"),
            person(3, "Cia", "Ask"),
        );
        load_full(&store, 1, &[a.clone(), b.clone(), c.clone()]);
        assert_eq!(store.load_seq().unwrap(), 1);
        assert_eq!(
            store.journal_len(),
            0,
            "the first FULL has nothing to compare with"
        );

        // A delta: a changed, b re-sent unchanged, c removed, d new.
        let mut a2 = a.clone();
        a2.personpost.namn.efternamn = Some("Ekström".into());
        let d = person(4, "Dan", "Berg");
        let (h, recs) = delta(
            2,
            vec![
                total(a2.clone()),
                total(b.clone()),
                DeliveryRecord {
                    posttyp: Posttyp::Borttag,
                    post: c.clone(),
                    present: TermMask::ALL,
                },
                total(d.clone()),
            ],
        );
        store.apply_delta(&h, &recs, false).unwrap();
        assert_eq!(store.load_seq().unwrap(), 2);
        let got = changes(&store, 2);
        let by = |p: &Folkbokforingspost| got.iter().find(|ch| ch.pnr == p.pnr()).cloned();
        assert_eq!(got.len(), 3, "b did not change: {got:?}");
        let ch = by(&a).unwrap();
        assert_eq!((ch.old, ch.new), (Some(a.clone()), Some(a2.clone())));
        let ch = by(&c).unwrap();
        assert_eq!((ch.old, ch.new), (Some(c.clone()), None));
        let ch = by(&d).unwrap();
        assert_eq!((ch.old, ch.new), (None, Some(d.clone())));
        assert!(by(&b).is_none());

        // A refused delta journals nothing and does not use a sequence number.
        let (h, recs) = delta(4, vec![total(a.clone())]);
        assert!(store.apply_delta(&h, &recs, false).is_err());
        assert_eq!(store.load_seq().unwrap(), 2);
        assert!(changes(&store, 3).is_empty());

        // A FULL replacing the generation journals the difference of the two.
        let mut b3 = b.clone();
        b3.personpost.namn.fornamn = Some("Bosse".into());
        let e = person(5, "Eva", "Lind");
        load_full(&store, 3, &[a2.clone(), b3.clone(), e.clone()]);
        assert_eq!(store.load_seq().unwrap(), 3);
        let got = changes(&store, 3);
        let mut seen: Vec<_> = got
            .iter()
            .map(|ch| (ch.pnr, ch.old.is_some(), ch.new.is_some()))
            .collect();
        seen.sort();
        let mut want = vec![
            (b.pnr(), true, true),
            (d.pnr(), true, false),
            (e.pnr(), false, true),
        ];
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(
            changes(&store, 2).len(),
            3,
            "earlier loads stay until forgotten"
        );

        store.forget_changes_through(2).unwrap();
        assert!(changes(&store, 2).is_empty());
        assert_eq!(changes(&store, 3).len(), 3);
        store.forget_changes_through(3).unwrap();
        assert_eq!(store.journal_len(), 0);
    }

    #[test]
    fn leftovers_of_a_crashed_load_are_not_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let a = person(1, "Anna", "Ek");
        load_full(&store, 1, &[a.clone(), person(2, "Bo", "Al")]);
        // A FULL that wrote its journal and crashed before the switch left this behind.
        let ghost = person(9, "Gus", "Gran");
        store
            .journal
            .insert(
                journal::key(2, ghost.pnr().as_bytes()),
                journal::value(None, Some(&model::encode(&ghost))).unwrap(),
            )
            .unwrap();
        let mut a2 = a.clone();
        a2.personpost.namn.fornamn = Some("Annika".into());
        let (h, recs) = delta(2, vec![total(a2)]);
        store.apply_delta(&h, &recs, false).unwrap();
        let got = changes(&store, 2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].pnr, a.pnr());
        // And the sequence number survives a reopen.
        drop(store);
        let store = reopen(dir.path(), 1 << 20);
        assert_eq!(store.load_seq().unwrap(), 2);
        assert_eq!(changes(&store, 2).len(), 1);
    }
}

/// A data directory written before segment files (records in sled trees, no format key) is
/// refused with the way out, never read as an empty or half store.
#[test]
fn a_store_of_the_earlier_format_is_refused_with_the_way_to_rebuild_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 1 << 24).unwrap();
        load_full(&store, 1, &[person(101, "Anna", "Berg")]);
        store.meta.remove(FORMAT_KEY).unwrap();
        store.flush().unwrap();
    }
    let err = match open_when_unlocked(dir.path(), 1 << 24) {
        Ok(_) => panic!("an earlier store was opened"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("older folkreg"), "{err}");
    assert!(err.contains("folkreg load --archive"), "{err}");
}

/// A damaged segment is an error naming the file, not a wrong answer.
#[test]
fn a_damaged_segment_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = person(101, "Anna", "Berg");
    {
        let store = Store::open(dir.path(), 1 << 24).unwrap();
        load_full(&store, 1, std::slice::from_ref(&a));
    }
    let path = dir.path().join(SEGMENTS).join("g1.post.seg");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let store = reopen(dir.path(), 1 << 24);
    let err = store.snapshot().get(&a.pnr()).unwrap_err().to_string();
    assert!(
        err.contains("g1.post.seg") && err.contains("checksum"),
        "{err}"
    );
}

/// Every way a search can find its candidates (a combined index, one word index, narrowing
/// or not) gives exactly the persons a check of every record gives; and after a delta that
/// renames and moves people, the overlay is searched with the segment.
#[test]
fn index_search_agrees_with_checking_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut people = crate::dev::generate::population(3_000, 5, today);
    load_full(&store, 1, &people);

    let check = |store: &Store, people: &[Folkbokforingspost]| {
        let sample: Vec<&Folkbokforingspost> = people
            .iter()
            .filter(|p| !p.is_protected())
            .step_by(97)
            .collect();
        let mut queries = 0;
        for p in sample {
            let n = &p.personpost.namn;
            let (Some(efter), Some(forn)) = (n.efternamn.as_deref(), n.fornamn.as_deref()) else {
                continue;
            };
            let ort = p
                .personpost
                .adresser
                .folkbokforingsadress
                .as_ref()
                .and_then(|a| a.postort.clone())
                .unwrap_or_default();
            let efter3: String = efter.chars().take(3).collect();
            let forn2: String = forn.chars().take(2).collect();
            let first_forn = forn.split_whitespace().next().unwrap_or(forn);
            for (e, f, o) in [
                (format!("{efter3}*"), String::new(), ort.clone()), // postort + name prefix
                (efter.to_owned(), format!("{forn2}*"), String::new()), // name + förnamn prefix
                (efter.to_owned(), first_forn.to_owned(), ort.clone()), // all three
                (format!("{efter3}*"), format!("{forn2}*"), String::new()), // word indexes only
                (String::new(), first_forn.to_owned(), ort.clone()), // förnamn + postort
            ] {
                let pat = |t: &str| {
                    if t.is_empty() {
                        Vec::new()
                    } else {
                        parse_patterns(t).unwrap()
                    }
                };
                let q = SearchQuery {
                    efter_mellan: pat(&e),
                    fornamn: pat(&f),
                    postort: pat(&o),
                    ..Default::default()
                };
                let mut expected: Vec<Pnr> = people
                    .iter()
                    .filter(|r| !r.is_protected() && q.matches(r))
                    .map(Folkbokforingspost::pnr)
                    .collect();
                expected.sort();
                let got = match store.snapshot().search(&q, 100_000, |_, _| true).unwrap() {
                    SearchOutcome::Hits(h) => {
                        h.iter().map(Folkbokforingspost::pnr).collect::<Vec<_>>()
                    }
                    SearchOutcome::TooMany => panic!("limit 100,000"),
                };
                assert!(expected.contains(&p.pnr()) || !q.matches(p), "{e} {f} {o}");
                assert_eq!(got, expected, "efternamn {e:?} förnamn {f:?} postort {o:?}");
                queries += 1;
            }
        }
        assert!(queries > 100, "{queries} queries");
    };
    check(&store, &people);

    // A delta: every 50th person gets another efternamn, förnamn and postort.
    let mut changed = Vec::new();
    for (i, p) in people.iter_mut().enumerate().filter(|(i, _)| i % 50 == 0) {
        p.personpost.namn.efternamn = Some(format!("Ändrad{}", i % 7));
        p.personpost.namn.fornamn = Some("Zelda".into());
        if let Some(a) = p.personpost.adresser.folkbokforingsadress.as_mut() {
            a.postort = Some("NYSTAD".into());
        }
        changed.push(total(p.clone()));
    }
    store
        .apply_delta(
            &header(2, DeltaTyp(), changed.len() as u64),
            &changed,
            false,
        )
        .unwrap();
    check(&store, &people);
}

#[test]
fn a_store_open_elsewhere_is_locked_not_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Store::open(dir.path(), 1 << 20).expect("first open");
    match Store::open(dir.path(), 1 << 20) {
        Err(StoreError::Locked(at)) => assert_eq!(at, dir.path()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second open of a held store succeeded"),
    }
    drop(first);
}

/// A reader's snapshot holds a generation, not a lock: a delta applies while it is held (no
/// wait), the held snapshot keeps seeing the data as it was, a new one sees the delta, and
/// the replaced overlay's trees go when the last snapshot holding them does.
#[test]
fn no_reader_waits_for_a_delta_and_no_delta_waits_for_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), 1 << 24).unwrap());
    let a = person(101, "Anna", "Berg");
    load_full(&store, 1, std::slice::from_ref(&a));
    let mut renamed = a.clone();
    renamed.personpost.namn.efternamn = Some("Lind".into());

    let held = store.snapshot();
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = {
        let store = store.clone();
        let renamed = renamed.clone();
        std::thread::spawn(move || {
            let r = store.apply_delta(&header(2, DeltaTyp(), 1), &[total(renamed)], false);
            let _ = tx.send(r.map(|s| s.changed));
        })
    };
    // On the old store the delta waited for the held snapshot's read lock: forever here.
    let applied = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the delta applies while a snapshot is held");
    assert_eq!(applied.unwrap(), 1);
    writer.join().unwrap();
    assert_eq!(
        held.get(&a.pnr()).unwrap(),
        Some(a.clone()),
        "the held view"
    );
    assert_eq!(
        store.snapshot().get(&a.pnr()).unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.snapshot().info().lopnummer, Some(2));

    let overlays = |store: &Store| -> Vec<(u64, u64)> {
        let mut v: Vec<_> = store
            .db
            .tree_names()
            .into_iter()
            .filter_map(|n| overlay_of(&n))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        overlays(&store),
        [(1, 0), (1, 1)],
        "version 0 lives while held"
    );
    drop(held);
    // ... and goes with the last snapshot, on a thread of its own (never the reader's).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while overlays(&store) != [(1, 1)] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            overlays(&store)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    // The version survives a restart, with the delta in it (the dropping thread lets go of
    // the database right after).
    let store = std::sync::Arc::into_inner(store).expect("one owner");
    drop(store);
    let store = loop {
        match Store::open(dir.path(), 1 << 24) {
            Ok(s) => break s,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    };
    assert_eq!(store.snapshot().get(&a.pnr()).unwrap(), Some(renamed));
    assert_eq!(overlays(&store), [(1, 1)]);
}

/// A FULL load switches while a snapshot of the old generation is held; the held snapshot
/// still reads the old generation's records, segment files and overlay included.
#[test]
fn a_full_load_does_not_wait_for_readers_of_the_old_generation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 24).unwrap();
    let a = person(101, "Anna", "Berg");
    let b = person(203, "Bo", "Ek");
    load_full(&store, 1, std::slice::from_ref(&a));
    let mut changed = a.clone();
    changed.personpost.namn.fornamn = Some("Annika".into());
    store
        .apply_delta(&header(2, DeltaTyp(), 1), &[total(changed.clone())], false)
        .unwrap();
    let held = store.snapshot();
    load_full(&store, 3, std::slice::from_ref(&b));
    assert_eq!(
        held.get(&a.pnr()).unwrap(),
        Some(changed),
        "overlay of the old generation"
    );
    assert_eq!(held.iter().count(), 1);
    assert_eq!(store.snapshot().get(&a.pnr()).unwrap(), None);
    assert_eq!(store.snapshot().get(&b.pnr()).unwrap(), Some(b));
}

#[test]
fn links_are_followed_in_the_segment_and_in_the_deltas_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = person(101, "Anna", "Berg");
    let mut b = person(203, "Bo", "Ek");
    b.personpost.hanvisning = vec![a.pnr()];
    b.sekretessmarkering = true;
    let c = person(305, "Cecilia", "Dahl");
    let linked = |store: &Store, p: &Folkbokforingspost| {
        let found = store.snapshot().get_for_answer(&p.pnr()).unwrap().unwrap();
        found.protection.linked
    };
    {
        let store = Store::open(dir.path(), 1 << 24).unwrap();
        load_full(&store, 1, &[a.clone(), b.clone(), c.clone()]);
        assert!(linked(&store, &a), "referred to by a protected record");
        assert!(!linked(&store, &c));
    }
    // Opened again, the segment's links are read from its index.
    let store = reopen(dir.path(), 1 << 24);
    assert!(linked(&store, &a));
    assert!(!linked(&store, &c));
    // A delta links a protected record to a number no record of the segment refers to.
    let mut d = person(407, "Dan", "Falk");
    d.personpost.hanvisning = vec![c.pnr()];
    d.sekretessmarkering = true;
    store
        .apply_delta(&header(2, DeltaTyp(), 1), &[total(d)], false)
        .unwrap();
    assert!(linked(&store, &c), "a link added by a delta");
    // A delta removes the segment's link.
    let removed = DeliveryRecord {
        posttyp: Posttyp::Borttag,
        post: b.clone(),
        present: TermMask::ALL,
    };
    store
        .apply_delta(&header(3, DeltaTyp(), 1), &[removed], false)
        .unwrap();
    assert!(!linked(&store, &a), "the referring record is gone");
    assert!(linked(&store, &c));
}
