//! The maintenance window through the real server: an injected clock for the edges, and the
//! real binary under `faketime` for the black-box view.

use std::sync::Arc;

use crate::common::*;
use chrono::{DateTime, Utc};
use folkreg::clock::ManualClock;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_the_maintenance_fault_inside_the_window() {
    // Monday 2026-11-23 06:00–06:15 Stockholm (CET) = 05:00–05:15 UTC.
    let clock = ManualClock::new(utc("2026-11-23T04:59:59Z"));
    let server = TestServer::start_at(Arc::new(clock.clone())).await;
    let client = accepted_client(&[]);
    let (org, bid) = (
        client.org.clone().expect("org"),
        client.bestallningsid.clone().expect("id"),
    );
    let lookup = personpost_body(&org, &bid, "196510213637");
    let search = namnsokning_body(
        &org,
        &bid,
        &[("EfterMellanNamn", "Ekstr*"), ("Postort", "Solna")],
    );

    assert_eq!(server.post(&client, PP, &lookup).await.status, 200);

    for (at, retry) in [
        ("2026-11-23T05:00:00Z", "900"),
        ("2026-11-23T05:14:59Z", "1"),
    ] {
        clock.set(utc(at));
        for (path, body) in [(PP, &lookup), (NS, &search)] {
            let r = server.post(&client, path, body).await;
            assert_eq!(r.status, 500, "{at} {path}");
            assert_eq!(r.header("retry-after"), Some(retry), "{at}");
            assert_eq!(r.text_of("faultcode").as_deref(), Some("S:Server"));
            assert_eq!(r.text_of("Felkod").as_deref(), Some("1501"));
            assert_valid_fault(&r.body);
        }
    }
    clock.set(utc("2026-11-23T05:15:00Z"));
    assert_eq!(server.post(&client, PP, &lookup).await.status, 200);
    server.stop().await;
}

/// The real binary with its clock set by libfaketime to Monday 06:05 Stockholm time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_closes_under_faketime() {
    // libfaketime preloaded, not its `faketime` wrapper: the wrapper keeps a named semaphore
    // per process id in /dev/shm, which a killed server leaves behind, and a later process
    // with the same id then cannot start ("sem_open: File exists").
    let lib = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .expect("libfaketime is not installed (.ci/run installs faketime)");
    let server = RealServer::start(
        &[],
        &[
            ("TZ", "UTC"),
            ("LD_PRELOAD", lib),
            ("FAKETIME", "@2026-11-23 05:05:00"),
        ],
    )
    .await;
    let client = accepted_client(&[]);
    let body = personpost_body(
        client.org.as_deref().expect("org"),
        client.bestallningsid.as_deref().expect("id"),
        "196510213637",
    );
    let r = server.post(&client, PP, &body).await;
    assert_eq!(
        server.admin("GET", "/healthz").await,
        (503, "maintenance\n".into())
    );
    let (_, metrics) = server.admin("GET", "/metrics").await;
    assert!(metrics.contains("\nfolkreg_maintenance 1\n"), "{metrics}");
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1501"));
    // The window ends at 05:15:00 UTC; start-up took some faked seconds.
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=600).contains(&retry), "Retry-After {retry}");
}

/// `folkreg status` says whether a window is open and lists the next ones, in local time.
#[test]
fn status_lists_the_windows() {
    let work = tempfile::tempdir().expect("temp dir");
    let config = work.path().join("folkreg.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\n[maintenance]\nplanned = [{ from = \"2026-12-05 07:00\", to = \"2026-12-05 18:00\", reason = \"Planerat underhåll\" }]\n",
    )
    .expect("config");
    let out = std::process::Command::new("faketime")
        .arg("2026-11-23 05:05:00")
        .arg(BIN)
        .args(["status", "--config"])
        .arg(&config)
        .env("TZ", "UTC")
        .output()
        .expect("faketime folkreg status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("maintenance: OPEN until 2026-11-23 06:15 CET"),
        "{text}"
    );
    let windows: Vec<&str> = text.lines().filter(|l| l.contains("window:")).collect();
    assert_eq!(windows.len(), 3, "{text}");
    assert!(
        windows[0].contains("2026-11-23 06:00 CET – 2026-11-23 06:15 CET"),
        "{text}"
    );
    assert!(windows[1].contains("2026-11-30 06:00 CET"), "{text}");
    assert!(
        windows[2].contains("2026-12-05 07:00 CET – 2026-12-05 18:00 CET  Planerat underhåll"),
        "{text}"
    );
}

/// An operator announces a planned outage in the config file of the running service: it is
/// in force after a reload (no restart), and gone again when taken out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_outage_is_announced_without_a_restart() {
    // The watch is off: the reload here is the operator's POST /reload.
    let server = RealServer::start_custom(&[], &[], |_, mut config| {
        config.push_str("[reload]\nwatch_seconds = 0\n");
        config
    })
    .await;
    let client = accepted_client(&[]);
    let body = personpost_body(
        client.org.as_deref().expect("org"),
        client.bestallningsid.as_deref().expect("id"),
        "196510213637",
    );
    assert_eq!(server.post(&client, PP, &body).await.status, 200);
    let config_path = server.work.path().join("folkreg.toml");
    let original = std::fs::read_to_string(&config_path).expect("config");
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&chrono_tz::Europe::Stockholm)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let now = Utc::now();
    let (from, to) = (
        local(now - chrono::Duration::minutes(5)),
        local(now + chrono::Duration::minutes(30)),
    );
    std::fs::write(
        &config_path,
        format!(
            "{original}[maintenance]\nplanned = [ {{ from = \"{from}\", to = \"{to}\", reason = \"Planerat underhåll\" }} ]\n"
        ),
    )
    .expect("config");
    assert_eq!(
        server.post(&client, PP, &body).await.status,
        200,
        "not before the reload"
    );
    assert_eq!(
        server.admin("POST", "/reload").await,
        (200, "reloaded\n".into())
    );
    let r = server.post(&client, PP, &body).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1501"));
    assert!(r.body.contains("Planerat underhåll"), "{}", r.body);
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((60..=1860).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        server.admin("GET", "/healthz").await,
        (503, "maintenance\n".into())
    );
    // A broken [maintenance] is refused and the announced outage stays.
    std::fs::write(
        &config_path,
        format!("{original}[maintenance]\nplanned = [ {{ from = \"soon\", to = \"later\" }} ]\n"),
    )
    .expect("config");
    let (code, text) = server.admin("POST", "/reload").await;
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("config"), "{text}");
    assert_eq!(server.post(&client, PP, &body).await.status, 500);
    // Taken out: serving again.
    std::fs::write(&config_path, &original).expect("config");
    assert_eq!(
        server.admin("POST", "/reload").await,
        (200, "reloaded\n".into())
    );
    assert_eq!(server.post(&client, PP, &body).await.status, 200);
}
