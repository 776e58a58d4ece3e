//! The daily load job inside the real `folkreg serve`: a run missed while the service was
//! down happens at start (deliveries applied in löpnummer order, a refused one filed in
//! `rejected/` with its reason, the service serving what it has); `POST /load` runs it now;
//! the lock keeps a second loader out; `folkreg status` and `/metrics` show the state; and on
//! a clock the test moves, the job runs by itself at `[load] daily_at`, day after day.

use std::path::{Path, PathBuf};

use crate::common::*;
use chrono::NaiveDate;

const PERSONS: usize = 300;

/// A FULL delivery and `deltas` deltas after it, made in `dir`, in löpnummer order.
fn chain(dir: &Path, deltas: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("dir");
    let today = NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
    let full = dir.join("leverans-000001-FULL.xml.gz");
    folkreg::dev::generate::write_full(PERSONS, 11, today, Some(&full)).expect("full");
    delivery_chain(dir, full, deltas, 10, 50, today)
}

/// An identity number the FULL delivery holds.
fn someone_in(full: &Path) -> String {
    let mut reader = folkreg::loadfile::DeliveryReader::open(full).expect("open");
    let first = reader.next().expect("a record").expect("valid");
    first.post.pnr().to_string()
}

fn status(server: &RealServer) -> String {
    let out = std::process::Command::new(BIN)
        .args(["status", "--config"])
        .arg(server.work.path().join("folkreg.toml"))
        .output()
        .expect("folkreg status");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_run_at_start_then_load_now_and_the_lock() {
    let made_dir = tempfile::tempdir().expect("tmp");
    let made = chain(made_dir.path(), 4);
    let pnr = someone_in(&made[0]);
    // Before the first start: FULL 1, DELTA 2, and DELTA 4 (3 is lost in transit).
    let server = RealServer::start_custom(&[], &[], |work, config| {
        let inbox = work.join("data/inbox");
        std::fs::create_dir_all(&inbox).expect("inbox");
        for (i, name) in [(0, "z-full.xml.gz"), (1, "y-d2.xml.gz"), (3, "x-d4.xml.gz")] {
            std::fs::copy(&made[i], inbox.join(name)).expect("copy");
        }
        config
    })
    .await;
    let inbox = server.data().join("inbox");
    // The start-up run: wait for its outcome in /metrics.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let metrics = loop {
        let (_, text) = server.admin("GET", "/metrics").await;
        if series(&text, r#"folkreg_load_last_outcome{outcome="failed"}"#) == Some(1.0) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no run at start:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // 1 and 2 applied in löpnummer order (the names sort the other way); 4 refused.
    assert_eq!(
        files_in(&inbox.join("archive")),
        ["y-d2.xml.gz", "z-full.xml.gz"]
    );
    assert_eq!(
        files_in(&inbox.join("rejected")),
        ["x-d4.xml.gz", "x-d4.xml.gz.reason"]
    );
    let reason =
        std::fs::read_to_string(inbox.join("rejected/x-d4.xml.gz.reason")).expect("reason");
    assert!(
        reason.contains("löpnummer 4") && reason.contains("3 is expected"),
        "{reason}"
    );
    assert_eq!(series(&metrics, "folkreg_store_lopnummer"), Some(2.0));
    assert_eq!(
        series(&metrics, r#"folkreg_load_last_run_files{result="applied"}"#),
        Some(2.0)
    );
    assert_eq!(
        series(
            &metrics,
            r#"folkreg_load_last_run_files{result="rejected"}"#
        ),
        Some(1.0)
    );
    assert!(series(&metrics, "folkreg_load_last_run_timestamp_seconds").is_some_and(|t| t > 1.7e9));
    // No demo population: the operator's deliveries are the data, and they are served.
    assert_eq!(server.admin("GET", "/healthz").await, (200, "ok\n".into()));
    let norrby = cert("client-norrby");
    let (org, bid) = (
        norrby.org.clone().expect("org"),
        norrby.bestallningsid.clone().expect("id"),
    );
    let r = server
        .post(&norrby, PP, &personpost_body(&org, &bid, &pnr))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Folkbokforingspost"), "{}", r.body);

    // `folkreg status` while serve holds the store: the state serve recorded.
    let text = status(&server);
    assert!(text.contains("in use by a running folkreg serve"), "{text}");
    assert!(text.contains("löpnummer:  2"), "{text}");
    assert!(text.contains("— failed"), "{text}");
    assert!(
        text.contains("rejected") && text.contains("x-d4.xml.gz"),
        "{text}"
    );
    assert!(text.contains("next run"), "{text}");

    // The missing delivery arrives, and the refused one is put back: POST /load.
    std::fs::copy(&made[2], inbox.join("d3.xml.gz")).expect("copy");
    std::fs::rename(
        inbox.join("rejected/x-d4.xml.gz"),
        inbox.join("x-d4.xml.gz"),
    )
    .expect("mv");
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(state["outcome"], "ok", "{body}");
    assert_eq!(state["store"]["lopnummer"], 4, "{body}");
    assert!(files_in(&inbox).is_empty());

    // Another loader holds the lock: the run is skipped, nothing is touched.
    std::fs::copy(&made[4], inbox.join("d5.xml.gz")).expect("copy");
    let held = folkreg::load::job::LoadLock::try_acquire(&server.data()).expect("lock");
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("\"locked\""), "{body}");
    assert_eq!(files_in(&inbox), ["d5.xml.gz"]);
    drop(held);
    // `folkreg load` cannot open the store serve holds, and says where to put the file.
    let out = std::process::Command::new(BIN)
        .args(["load", "--config"])
        .arg(server.work.path().join("folkreg.toml"))
        .arg(inbox.join("d5.xml.gz"))
        .output()
        .expect("folkreg load");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inbox") && err.contains("/load"), "{err}");
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["store"]["lopnummer"],
        5
    );
    // The log says what happened, without identity numbers.
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(
        log.contains("delivery refused; moved to rejected/"),
        "{log}"
    );
    assert!(!log.contains(&pnr));
}

/// Waits (in real time, bounded) until `done` holds: the job runs on a blocking thread.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The real server loop on a clock the test moves: the job runs by itself at `[load]
/// daily_at` (05:30 Stockholm time) and at no other moment, day after day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_by_itself_at_daily_at() {
    use folkreg::clock::ManualClock;
    let utc = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .to_utc()
    };
    let made_dir = tempfile::tempdir().expect("tmp");
    let made = chain(made_dir.path(), 1);
    // 05:29:50 Stockholm time (CET) with the job at 05:30: the start-up run (the job never
    // ran) loads the FULL; the DELTA put in afterwards waits for 05:30.
    let clock = ManualClock::new(utc("2026-11-24T04:29:50Z"));
    let full = made[0].clone();
    let server = TestServer::start_full(
        |config| {
            std::fs::create_dir_all(&config.load.inbox).expect("inbox");
            std::fs::copy(&full, config.load.inbox.join("full.xml.gz")).expect("copy");
            config.load.daily_at = folkreg::schedule::Daily::parse("05:30").expect("time");
        },
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let state = server.state.clone();
    let inbox = state.config.load.inbox.clone();
    let lopnummer = || state.store.info().lopnummer;
    until("FULL not loaded at start", || lopnummer() == Some(1)).await;
    until("FULL not archived", || files_in(&inbox).is_empty()).await;
    std::fs::copy(&made[1], inbox.join("delta.xml.gz")).expect("copy");
    // Time does not move: whatever the wall clock does, the job does not run.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(files_in(&inbox), ["delta.xml.gz"], "not before 05:30");
    clock.set(utc("2026-11-24T04:29:59Z"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(lopnummer(), Some(1), "not at 05:29:59");
    clock.set(utc("2026-11-24T04:30:00Z"));
    until("no run at 05:30", || lopnummer() == Some(2)).await;
    until("not archived after the run", || files_in(&inbox).is_empty()).await;
    let ran = |at: &str| state.loads.state().last_run == Some(utc(at));
    // The run's state is recorded after its files are archived: wait for it too.
    until("the 05:30 run not recorded", || ran("2026-11-24T04:30:00Z")).await;
    // The next day: nothing at 05:29, a run (with nothing to load) at 05:30.
    clock.set(utc("2026-11-25T04:29:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(ran("2026-11-24T04:30:00Z"), "no run before the next 05:30");
    clock.set(utc("2026-11-25T04:30:00Z"));
    until("no run the next day at 05:30", || {
        ran("2026-11-25T04:30:00Z")
    })
    .await;
    server.stop().await;
}
