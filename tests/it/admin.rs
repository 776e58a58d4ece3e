//! The admin listener of the real binary: health, readiness, Prometheus metrics that move with
//! the traffic, and reload (good files taken, a broken register refused with the old one kept).

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
