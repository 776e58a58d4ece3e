use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::ids::pnr::Pnr;
use crate::ids::OrgNr;

fn pnr(serial: u16) -> Pnr {
    let born = NaiveDate::from_ymd_opt(1980, 5, 17).expect("date");
    Pnr::from_parts(born, serial, false).expect("pnr")
}

fn org(nine: &str) -> OrgNr {
    OrgNr::from_nine(nine).expect("orgnr")
}

fn entry(request_id: u64) -> AuditEntry {
    let p = pnr(238).as_str().to_owned();
    AuditEntry {
        time: DateTime::UNIX_EPOCH,
        org: org("202100474").wire(),
        cert: "ab".repeat(32),
        operation: "personpostXML".into(),
        bestallningsid: "00000079-FO01-0001".into(),
        asked: vec![p.clone()],
        returned: vec![p],
        hits: 1,
        outcome: OUTCOME_OK.into(),
        request_id,
        spar: None,
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .with_timezone(&Utc)
}

/// A clock the test sets, from RFC 3339 text.
#[derive(Clone)]
struct TestClock(ManualClock);

impl TestClock {
    fn at(t: &str) -> TestClock {
        TestClock(ManualClock::new(utc(t)))
    }
    fn set(&self, t: &str) {
        self.0.set(utc(t));
    }
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.0.clone())
    }
}

fn open(dir: &Path, clock: &TestClock) -> AuditLog {
    AuditLog::open(AuditOptions::new(dir), clock.clock()).expect("open audit log")
}

/// File names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The entries of one file.
fn entries_of(path: &Path) -> Vec<AuditEntry> {
    std::fs::read_to_string(path)
        .expect("read audit file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line"))
        .collect()
}

/// Every entry in `dir`, file by file.
fn all_entries(dir: &Path) -> Vec<AuditEntry> {
    names(dir)
        .iter()
        .flat_map(|n| entries_of(&dir.join(n)))
        .collect()
}

fn ids(entries: &[AuditEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.request_id).collect()
}

#[test]
fn entry_round_trips_with_time_in_utc_milliseconds() {
    let mut e = entry(42);
    e.time = utc("2026-11-20T13:45:01.123Z");
    e.asked.clear();
    e.outcome = "1201".into();
    let json = serde_json::to_string(&e).expect("encode");
    assert!(
        json.contains(r#""time":"2026-11-20T13:45:01.123Z""#),
        "{json}"
    );
    assert!(json.contains(r#""request_id":42"#), "{json}");
    let back: AuditEntry = serde_json::from_str(&json).expect("decode");
    assert_eq!(back, e);

    // Another offset in the file still reads as the same instant.
    let other = json.replace("2026-11-20T13:45:01.123Z", "2026-11-20T14:45:01.123+01:00");
    let back: AuditEntry = serde_json::from_str(&other).expect("decode offset");
    assert_eq!(back.time, e.time);
}

#[tokio::test]
async fn record_resolves_after_the_line_is_in_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = TestClock::at("2026-11-20T12:00:00.123456Z");
    let log = open(tmp.path(), &clock);
    log.record(entry(7)).await.expect("record");

    // Read right after the await, before anything else: the line is there.
    let file = tmp.path().join("audit-20261120-001.jsonl");
    let got = entries_of(&file);
    assert_eq!(ids(&got), [7]);
    assert_eq!(
        got[0].time,
        utc("2026-11-20T12:00:00.123Z"),
        "stamped by the log's clock, truncated to milliseconds"
    );
    assert_eq!((log.lines(), log.syncs()), (1, 1));
    log.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_records_share_few_fsyncs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = Arc::new(
        AuditLog::open(AuditOptions::new(tmp.path()), Arc::new(SystemClock)).expect("open"),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..1000 {
        let pending = log.record(entry(id));
        tasks.spawn(pending);
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("record");
    }
    let got: BTreeSet<u64> = ids(&all_entries(tmp.path())).into_iter().collect();
    assert_eq!(got, (0..1000).collect::<BTreeSet<u64>>());
    assert_eq!(log.lines(), 1000);
    assert!(
        log.syncs() <= 100,
        "1000 lines took {} fsyncs; group commit should need far fewer",
        log.syncs()
    );
}

#[tokio::test]
async fn size_rotation_begins_the_next_number() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let mut stamped = entry(10);
    stamped.time = utc("2026-11-20T12:00:00.000Z");
    let line = serde_json::to_vec(&stamped).expect("encode").len() as u64 + 1;
    let options = AuditOptions::new(tmp.path()).max_bytes(2 * line);
    let log = AuditLog::open(options, clock.clock()).expect("open");
    for id in 10..15 {
        log.record(entry(id)).await.expect("record");
    }
    log.shutdown().await.expect("shutdown");

    let want = [
        ("audit-20261120-001.jsonl", vec![10, 11]),
        ("audit-20261120-002.jsonl", vec![12, 13]),
        ("audit-20261120-003.jsonl", vec![14]),
    ];
    assert_eq!(names(tmp.path()), want.clone().map(|(n, _)| n.to_owned()));
    for (name, want_ids) in want {
        let path = tmp.path().join(name);
        assert_eq!(ids(&entries_of(&path)), want_ids, "{name}");
        let size = std::fs::metadata(&path).expect("meta").len();
        assert!(size <= 2 * line, "{name} has {size} bytes");
    }
}

#[tokio::test]
async fn a_line_larger_than_the_limit_gets_a_file_of_its_own() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let log =
        AuditLog::open(AuditOptions::new(tmp.path()).max_bytes(10), clock.clock()).expect("open");
    for id in 1..=2 {
        log.record(entry(id)).await.expect("record");
    }
    log.shutdown().await.expect("shutdown");
    assert_eq!(
        names(tmp.path()),
        ["audit-20261120-001.jsonl", "audit-20261120-002.jsonl"]
    );
}

#[tokio::test]
async fn day_rotation_follows_the_stockholm_date_not_utc() {
    // (before midnight, after midnight, file before, file after): in both cases the UTC date
    // does not change, the Stockholm date does.
    let cases = [
        (
            "2026-11-20T22:59:59.999Z", // 23:59:59.999 CET
            "2026-11-20T23:00:00.000Z", // 00:00 CET
            "audit-20261120-001.jsonl",
            "audit-20261121-001.jsonl",
        ),
        (
            "2026-06-30T21:59:59Z", // 23:59:59 CEST
            "2026-06-30T22:00:00Z", // 00:00 CEST
            "audit-20260630-001.jsonl",
            "audit-20260701-001.jsonl",
        ),
    ];
    for (before, after, file_before, file_after) in cases {
        let tmp = tempfile::tempdir().expect("tmp");
        let clock = TestClock::at(before);
        let log = open(tmp.path(), &clock);
        log.record(entry(1)).await.expect("record");
        clock.set(after);
        log.record(entry(2)).await.expect("record");
        log.shutdown().await.expect("shutdown");
        assert_eq!(names(tmp.path()), [file_before, file_after], "{before}");
        assert_eq!(ids(&entries_of(&tmp.path().join(file_before))), [1]);
        assert_eq!(ids(&entries_of(&tmp.path().join(file_after))), [2]);
    }
}

#[tokio::test]
async fn stamps_never_go_backwards_when_the_clock_does() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = TestClock::at("2026-11-21T00:00:01Z");
    let log = open(tmp.path(), &clock);
    log.record(entry(1)).await.expect("record");
    clock.set("2026-11-20T22:59:00Z"); // a step back across Stockholm midnight
    log.record(entry(2)).await.expect("record");
    log.shutdown().await.expect("shutdown");
    let got = all_entries(tmp.path());
    assert_eq!(names(tmp.path()), ["audit-20261121-001.jsonl"]);
    assert_eq!(got[1].time, utc("2026-11-21T00:00:01Z"));
}

#[tokio::test]
async fn opening_continues_todays_newest_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    // Yesterday's file and today's first are older; today's -002 is the one to continue.
    for (name, id) in [
        ("audit-20261119-001.jsonl", 1),
        ("audit-20261120-001.jsonl", 2),
        ("audit-20261120-002.jsonl", 3),
    ] {
        let line = serde_json::to_string(&entry(id)).expect("encode") + "\n";
        std::fs::write(dir.join(name), line).expect("write");
    }
    let log = open(dir, &clock);
    log.record(entry(4)).await.expect("record");
    log.shutdown().await.expect("shutdown");
    let log = open(dir, &clock);
    log.record(entry(5)).await.expect("record");
    log.shutdown().await.expect("shutdown");

    assert_eq!(names(dir).len(), 3, "no new file");
    assert_eq!(
        ids(&entries_of(&dir.join("audit-20261120-002.jsonl"))),
        [3, 4, 5]
    );
    assert_eq!(ids(&entries_of(&dir.join("audit-20261120-001.jsonl"))), [2]);
}

#[tokio::test]
async fn a_torn_file_is_never_appended_to() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let torn = serde_json::to_string(&entry(1)).expect("encode") + "\n{\"time\":\"2026-";
    std::fs::write(dir.join("audit-20261120-001.jsonl"), &torn).expect("write");
    let log = open(dir, &clock);
    log.record(entry(2)).await.expect("record");
    log.shutdown().await.expect("shutdown");

    let after = std::fs::read_to_string(dir.join("audit-20261120-001.jsonl")).expect("read");
    assert_eq!(after, torn, "the torn file is left as it was");
    assert_eq!(ids(&entries_of(&dir.join("audit-20261120-002.jsonl"))), [2]);
}

#[cfg(unix)]
#[tokio::test]
async fn directory_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("a").join("audit");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let log = open(&dir, &clock);
    log.record(entry(1)).await.expect("record");
    log.shutdown().await.expect("shutdown");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("audit-20261120-001.jsonl")), 0o600);
}

#[tokio::test]
async fn shutdown_writes_everything_queued_then_refuses() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let log = open(tmp.path(), &clock);
    // Never polled before shutdown, so never queued.
    let late = log.record(entry(999));
    // Poll each record once: with room in the queue, that puts its entry there.
    let mut cx = Context::from_waker(Waker::noop());
    let mut queued = Vec::new();
    for id in 0..200 {
        let mut pending = Box::pin(tokio::task::unconstrained(log.record(entry(id))));
        let first = pending.as_mut().poll(&mut cx);
        queued.push((pending, first));
    }
    log.shutdown().await.expect("shutdown");
    for (pending, first) in queued {
        let result = match first {
            Poll::Ready(r) => r,
            Poll::Pending => pending.await,
        };
        result.expect("queued before shutdown, so written");
    }
    assert_eq!(all_entries(tmp.path()).len(), 200);
    assert!(matches!(late.await, Err(AuditError::Closed)));
}

/// A disk that is full: today's file is `/dev/full`, where every write fails with ENOSPC.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_fails_its_batch_and_leaves_no_empty_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::os::unix::fs::symlink("/dev/full", dir.join("audit-20261120-001.jsonl")).expect("link");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    let log = open(dir, &clock);
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..50 {
        let pending = log.record(entry(id));
        tasks.spawn(async move { (id, pending.await) });
    }
    let (mut ok, mut failed) = (BTreeSet::new(), BTreeSet::new());
    while let Some(done) = tasks.join_next().await {
        match done.expect("task") {
            (id, Ok(())) => {
                ok.insert(id);
            }
            (id, Err(AuditError::Write { path, .. })) => {
                assert!(path.ends_with("audit-20261120-001.jsonl"), "{path:?}");
                failed.insert(id);
            }
            (_, Err(e)) => panic!("unexpected error: {e}"),
        }
    }
    assert!(!failed.is_empty(), "the first batch hit the full disk");
    assert_eq!(ok.len() + failed.len(), 50);
    log.record(entry(100))
        .await
        .expect("recovers in a new file");
    ok.insert(100);
    log.shutdown().await.expect("shutdown");
    // The failed file held no durable line: it is gone (issue 21 item 7: a full disk left
    // one empty file per failed batch), and the next file took its number.
    assert!(
        std::fs::symlink_metadata(dir.join("audit-20261120-001.jsonl"))
            .map(|m| m.is_file())
            .unwrap_or(true),
        "no empty file of the failed batch is left"
    );
    let files: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["audit-20261120-001.jsonl"], "{files:?}");
    let written: BTreeSet<u64> = ids(&entries_of(&dir.join("audit-20261120-001.jsonl")))
        .into_iter()
        .collect();
    assert_eq!(
        written, ok,
        "exactly the acknowledged lines are in the next file"
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_created_fails_the_request_not_the_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("audit");
    let clock = TestClock::at("2026-11-20T12:00:00Z");
    // Every line needs a new file, so the directory's removal is felt at once.
    let log = AuditLog::open(AuditOptions::new(&dir).max_bytes(1), clock.clock()).expect("open");
    log.record(entry(1)).await.expect("record");
    std::fs::remove_dir_all(&dir).expect("remove");
    let err = log.record(entry(2)).await.expect_err("no directory");
    assert!(matches!(err, AuditError::Dir { .. }), "{err}");
    std::fs::create_dir(&dir).expect("recreate");
    log.record(entry(3)).await.expect("record after recovery");
    log.shutdown().await.expect("shutdown");
    assert_eq!(ids(&all_entries(&dir)), [3]);
}

/// Writes a small history through the log: (time, org, asked, returned, request_id).
async fn history(dir: &Path) {
    let p = |s| pnr(s).as_str().to_owned();
    type Row = (&'static str, OrgNr, Vec<String>, Vec<String>, u64);
    let rows: [Row; 5] = [
        (
            "2026-11-19T09:00:00Z",
            org("202100474"),
            vec![p(1)],
            vec![p(1)],
            1,
        ),
        (
            "2026-11-19T10:00:00Z",
            org("556036079"),
            vec![p(2)],
            vec![],
            2,
        ),
        (
            "2026-11-20T08:00:00Z",
            org("202100474"),
            vec![],
            vec![p(1), p(2)],
            3,
        ),
        // 00:30 on the 21st in Stockholm, still the 20th in UTC.
        (
            "2026-11-20T23:30:00Z",
            org("556036079"),
            vec![p(3)],
            vec![p(3)],
            4,
        ),
        (
            "2026-11-21T12:00:00Z",
            org("202100474"),
            vec![p(3)],
            vec![p(3)],
            5,
        ),
    ];
    let clock = TestClock::at(rows[0].0);
    let log = open(dir, &clock);
    for (time, o, asked, returned, id) in rows {
        clock.set(time);
        let mut e = entry(id);
        e.org = o.wire();
        e.hits = returned.len() as u32;
        e.asked = asked;
        e.returned = returned;
        log.record(e).await.expect("record");
    }
    log.shutdown().await.expect("shutdown");
}

fn found(dir: &Path, query: &AuditQuery) -> (Vec<u64>, SearchSummary, Vec<u8>) {
    let mut out = Vec::new();
    let summary = search_summary(dir, query, &mut out).expect("search");
    let got: Vec<AuditEntry> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("output line"))
        .collect();
    assert_eq!(got.len(), summary.matched);
    (ids(&got), summary, out)
}

#[tokio::test]
async fn search_finds_exactly_the_matching_lines() {
    let tmp = tempfile::tempdir().expect("tmp");
    history(tmp.path()).await;
    let q = AuditQuery::default;
    let cases: Vec<(&str, AuditQuery, Vec<u64>)> = vec![
        ("everything", q(), vec![1, 2, 3, 4, 5]),
        (
            "pnr asked or returned",
            AuditQuery {
                pnr: Some(pnr(1)),
                ..q()
            },
            vec![1, 3],
        ),
        (
            "pnr asked, not found",
            AuditQuery {
                pnr: Some(pnr(2)),
                ..q()
            },
            vec![2, 3],
        ),
        (
            "pnr nobody asked for",
            AuditQuery {
                pnr: Some(pnr(4)),
                ..q()
            },
            vec![],
        ),
        (
            "org",
            AuditQuery {
                org: Some(org("556036079")),
                ..q()
            },
            vec![2, 4],
        ),
        (
            "org and pnr",
            AuditQuery {
                org: Some(org("202100474")),
                pnr: Some(pnr(3)),
                ..q()
            },
            vec![5],
        ),
        (
            "from is inclusive",
            AuditQuery {
                from: Some(utc("2026-11-20T08:00:00Z")),
                ..q()
            },
            vec![3, 4, 5],
        ),
        (
            "to is exclusive",
            AuditQuery {
                to: Some(utc("2026-11-20T08:00:00Z")),
                ..q()
            },
            vec![1, 2],
        ),
        (
            "a range within a day",
            AuditQuery {
                from: Some(utc("2026-11-19T09:30:00Z")),
                to: Some(utc("2026-11-20T23:30:00.001Z")),
                ..q()
            },
            vec![2, 3, 4],
        ),
    ];
    for (what, query, want) in cases {
        let (got, _, _) = found(tmp.path(), &query);
        assert_eq!(got, want, "{what}");
    }
}

#[tokio::test]
async fn search_writes_lines_unchanged_and_skips_days_outside_the_range() {
    let tmp = tempfile::tempdir().expect("tmp");
    history(tmp.path()).await;
    assert_eq!(
        names(tmp.path()),
        [
            "audit-20261119-001.jsonl",
            "audit-20261120-001.jsonl",
            "audit-20261121-001.jsonl"
        ]
    );
    // The Stockholm day of the 20th: 2026-11-19T23:00Z to 2026-11-20T23:00Z.
    let query = AuditQuery {
        from: Some(utc("2026-11-19T23:00:00Z")),
        to: Some(utc("2026-11-20T23:00:00Z")),
        ..AuditQuery::default()
    };
    let (got, summary, out) = found(tmp.path(), &query);
    assert_eq!(got, [3]);
    assert_eq!((summary.files_read, summary.files_skipped), (1, 2));
    let file = std::fs::read(tmp.path().join("audit-20261120-001.jsonl")).expect("read");
    assert_eq!(out, file, "the line as it is in the file");
    let mut plain = Vec::new();
    assert_eq!(search(tmp.path(), &query, &mut plain).expect("search"), 1);
    assert_eq!(plain, out);
}

#[tokio::test]
async fn a_torn_last_line_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().expect("tmp");
    history(tmp.path()).await;
    let last = tmp.path().join("audit-20261121-001.jsonl");
    let mut text = std::fs::read(&last).expect("read");
    text.extend_from_slice(br#"{"time":"2026-11-21T12:00:01.000Z","org":"16202"#);
    std::fs::write(&last, text).expect("write");
    let (got, summary, _) = found(tmp.path(), &AuditQuery::default());
    assert_eq!(got, [1, 2, 3, 4, 5]);
    assert_eq!(summary.torn, [last]);
}

#[test]
fn a_bad_line_elsewhere_is_an_error_naming_file_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("audit-20261120-001.jsonl");
    let good = serde_json::to_string(&entry(1)).expect("encode");
    for (bad, what) in [
        ("not json at all", "not JSON"),
        (
            r#"{"time":"2026-11-20T12:00:00.000Z"}"#,
            "JSON but not an audit entry",
        ),
        ("", "incomplete JSON"),
    ] {
        std::fs::write(&path, format!("{good}\n{bad}\n{good}\n")).expect("write");
        let err =
            search(tmp.path(), &AuditQuery::default(), &mut Vec::new()).expect_err("bad line");
        match &err {
            AuditError::BadLine {
                path: p,
                line,
                what: w,
                ..
            } => {
                assert_eq!((p, *line, *w), (&path, 2, what), "{bad}");
            }
            other => panic!("{bad}: {other}"),
        }
        assert!(
            err.to_string().contains("audit-20261120-001.jsonl:2:"),
            "{err}"
        );
    }
}

#[test]
fn only_audit_files_are_read_and_a_misnamed_one_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("README.txt"), "not an audit file").expect("write");
    std::fs::write(tmp.path().join("audit-20261120-001.jsonl.bak"), "x").expect("write");
    assert_eq!(
        search(tmp.path(), &AuditQuery::default(), &mut Vec::new()).expect("search"),
        0
    );
    std::fs::write(tmp.path().join("audit-old.jsonl"), "").expect("write");
    let err = search(tmp.path(), &AuditQuery::default(), &mut Vec::new()).expect_err("name");
    assert!(matches!(err, AuditError::FileName { .. }), "{err}");
}

#[test]
fn file_names_parse_and_sort_by_date_then_number() {
    let d = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    assert_eq!(file_name(d, 7), "audit-20261120-007.jsonl");
    assert_eq!(file_name(d, 1234), "audit-20261120-1234.jsonl");
    for (name, want) in [
        ("audit-20261120-007.jsonl", Name::Audit(d, 7)),
        ("audit-20261120-1234.jsonl", Name::Audit(d, 1234)),
        ("audit-20261120-07.jsonl", Name::Malformed),
        ("audit-20261320-001.jsonl", Name::Malformed),
        ("audit-2026112-0001.jsonl", Name::Malformed),
        ("audit-20261120-00a.jsonl", Name::Malformed),
        ("audit.jsonl", Name::Other),
        ("other-20261120-001.jsonl", Name::Other),
    ] {
        assert_eq!(parse_file_name(name), want, "{name}");
    }
}

/// Throughput with 64 concurrent writers on the temp directory's disk:
/// `cargo test --lib audit::tests::throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "measurement, not a check"]
async fn throughput_with_64_writers() {
    const WRITERS: u64 = 64;
    const EACH: u64 = 1000;
    let tmp = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("tmp");
    let log = Arc::new(
        AuditLog::open(AuditOptions::new(tmp.path()), Arc::new(SystemClock)).expect("open"),
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let log = Arc::clone(&log);
        tasks.spawn(async move {
            let mut slowest = Duration::ZERO;
            for i in 0..EACH {
                let t = Instant::now();
                log.record(entry(w * EACH + i)).await.expect("record");
                slowest = slowest.max(t.elapsed());
            }
            slowest
        });
    }
    let mut slowest = Duration::ZERO;
    while let Some(s) = tasks.join_next().await {
        slowest = slowest.max(s.expect("task"));
    }
    let elapsed = started.elapsed();
    let (lines, syncs) = (log.lines(), log.syncs());
    println!(
        "{WRITERS} writers × {EACH}: {lines} lines in {elapsed:.2?} = {:.0} lines/s, \
         {syncs} fsyncs = {:.1} lines/fsync, slowest record {slowest:.2?}",
        lines as f64 / elapsed.as_secs_f64(),
        lines as f64 / syncs as f64
    );
    assert_eq!(lines, WRITERS * EACH);
}
