//! The admin listener of the real binary: health, readiness, Prometheus metrics that move with
//! the traffic, and reload (good files taken, a broken register refused with the old one kept).

use std::sync::Arc;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_reload() {
    let server = RealServer::start(&[], &[]).await;
    assert_eq!(server.admin("GET", "/healthz").await, (200, "ok\n".into()));
    assert_eq!(
        server.admin("GET", "/readyz").await,
        (200, "ready\n".into())
    );
    assert_eq!(server.admin("POST", "/healthz").await.0, 405);
    assert_eq!(server.admin("GET", "/nothing").await.0, 404);

    // Traffic: two lookups, one refused certificate at the handshake.
    let lund = cert("client-lund");
    let (org, bid) = (
        lund.org.clone().expect("org"),
        lund.bestallningsid.clone().expect("id"),
    );
    for _ in 0..2 {
        let r = server
            .post(&lund, PP, &personpost_body(&org, &bid, "196510213637"))
            .await;
        assert_eq!(r.status, 200);
    }
    let expired = cert("client-expired");
    assert!(
        raw_at(server.addr, &expired, post_request(PP, "x").as_bytes())
            .await
            .is_err()
    );

    let (status, text) = server.admin("GET", "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        series(
            &text,
            r#"folkreg_requests_total{operation="personpostXML",outcome="ok"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            r#"folkreg_request_duration_seconds_count{operation="personpostXML"}"#
        ),
        Some(2.0)
    );
    assert_eq!(series(&text, "folkreg_store_records"), Some(12_000.0));
    assert_eq!(series(&text, "folkreg_maintenance"), Some(0.0));
    assert_eq!(
        series(
            &text,
            r#"folkreg_client_certificates_refused{reason="expired"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(series(&text, "folkreg_audit_lines").is_some_and(|n| n >= 2.0));
    // Days until expiry of the server certificate and of registered client certificates.
    let server_days: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("folkreg_tls_expiry_days{"))
        .collect();
    assert!(server_days.len() >= 3, "server, CAs, CRL: {text}");
    assert!(
        text.contains("folkreg_client_certificate_expiry_days{name=\"2021004748:client-lund\"}"),
        "{text}"
    );
    // No personal data in the metrics.
    assert!(!text.contains("196510213637"));

    assert_eq!(
        server.admin("POST", "/reload").await,
        (200, "reloaded\n".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_demo_an_empty_store_is_alive_but_not_ready() {
    let server = RealServer::start_custom(&[], &[], |_, mut config| {
        config.push_str("[load]\ndemo = false\n");
        config
    })
    .await;
    assert_eq!(server.admin("GET", "/livez").await, (200, "alive\n".into()));
    assert_eq!(
        server.admin("GET", "/readyz").await,
        (503, "no data\n".into())
    );
    assert_eq!(
        server.admin("GET", "/healthz").await,
        (503, "no data\n".into())
    );
    let (_, text) = server.admin("GET", "/metrics").await;
    assert_eq!(series(&text, "folkreg_store_records"), Some(0.0));
    assert!(
        !server.data().join("demo").exists(),
        "no demo population made"
    );
}

/// Issue 21, item 1: when deliveries simply stopped, nothing said so — `/readyz` stayed 200
/// and no metric showed how old the served data was. Now the data's source time and load
/// time are gauges, and past `[load] stale_after_hours` after the last applied delivery
/// `/readyz` fails and `folkreg_data_stale` is 1 (liveness and health stay as they were).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_data_fails_readiness_and_shows_in_the_metrics() {
    use folkreg::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let server = TestServer::start_at(clock.clone()).await;
    assert_eq!(
        server.admin("GET", "/readyz").await,
        (200, "ready\n".into())
    );
    let (_, text) = server.admin("GET", "/metrics").await;
    let loaded = series(&text, "folkreg_data_loaded_timestamp_seconds").expect("gauge");
    let created = series(&text, "folkreg_data_created_timestamp_seconds").expect("gauge");
    assert!(loaded > 0.0 && created > 0.0, "{loaded} {created}");
    assert_eq!(series(&text, "folkreg_data_stale"), Some(0.0));
    assert_eq!(series(&text, "folkreg_load_refused_pending"), Some(0.0));
    // 51 hours without a delivery applied: past the default 50.
    clock.advance(chrono::Duration::hours(51));
    let (status, body) = server.admin("GET", "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("stale data: the last delivery was applied"),
        "{body}"
    );
    let (_, text) = server.admin("GET", "/metrics").await;
    assert_eq!(series(&text, "folkreg_data_stale"), Some(1.0));
    assert_eq!(server.admin("GET", "/livez").await.0, 200);
}

/// `stale_after_hours = 0` turns the check off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_can_be_turned_off() {
    use folkreg::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let server = TestServer::start_full(|c| c.load.stale_after = None, clock.clone()).await;
    clock.advance(chrono::Duration::days(30));
    assert_eq!(
        server.admin("GET", "/readyz").await,
        (200, "ready\n".into())
    );
}
