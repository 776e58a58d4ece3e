//! The maintenance window through the real server: an injected clock for the edges, and the
//! real binary under `faketime` for the black-box view.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use folkreg::schedule::ManualClock;

const PP: &str = "/na/na_epersondata/V2/personpostXML";
const NS: &str = "/na/na_epersondata/V2/namnsokningXML";

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
            assert_eq!(r.status, 503, "{at} {path}");
            assert_eq!(r.header("retry-after"), Some(retry), "{at}");
            assert_eq!(r.text_of("faultcode").as_deref(), Some("S:Server"));
            assert_eq!(r.text_of("Felkod").as_deref(), Some("FR1501"));
            assert_valid_fault(&r.body);
        }
    }
    clock.set(utc("2026-11-23T05:15:00Z"));
    assert_eq!(server.post(&client, PP, &lookup).await.status, 200);
    server.stop().await;
}

fn assert_valid_fault(body: &str) {
    assert!(
        body.contains("<S:Fault>") && body.contains("Beskrivning"),
        "{body}"
    );
}

/// The real binary with its clock set by libfaketime to Monday 06:05 Stockholm time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_closes_under_faketime() {
    if std::process::Command::new("faketime")
        .arg("--help")
        .output()
        .is_err()
    {
        panic!("faketime is not installed (.ci/run installs it)");
    }
    let work = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let repo = repo();
    let config = format!(
        "data_dir = {:?}\ncache_mb = 64\nregister = {:?}\n[soap]\nlisten = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\ncrls = [{:?}]\n",
        work.path().join("data"),
        repo.join("deploy/register.dev.toml"),
        repo.join("certs-dev/server.pem"),
        repo.join("certs-dev/server.key"),
        repo.join("certs-dev/ca-bundle.pem"),
        repo.join("certs-dev/crl.pem"),
    );
    let config_path = work.path().join("folkreg.toml");
    std::fs::write(&config_path, config).expect("config");
    let log_path = work.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = std::process::Command::new("faketime")
        .arg("2026-11-23 05:05:00")
        .arg(env!("CARGO_BIN_EXE_folkreg"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("TZ", "UTC")
        .stdout(std::process::Stdio::from(log.try_clone().expect("log")))
        .stderr(std::process::Stdio::from(log))
        .spawn()
        .expect("faketime folkreg serve");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("folkreg serving")
    {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "serve exited: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = accepted_client(&[]);
    let body = personpost_body(
        client.org.as_deref().expect("org"),
        client.bestallningsid.as_deref().expect("id"),
        "196510213637",
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let r = raw_at(addr, &client, post_request(PP, &body).as_bytes())
        .await
        .expect("answer");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.text_of("Felkod").as_deref(), Some("FR1501"));
    // The demo load took some faked seconds; the window ends at 05:15:00 UTC.
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=600).contains(&retry), "Retry-After {retry}");
}
