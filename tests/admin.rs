//! The admin listener of the real binary: health, readiness, Prometheus metrics that move with
//! the traffic, and reload (good files taken, a broken register refused with the old one kept).

mod common;

use common::*;

const PP: &str = "/na/na_epersondata/V2/personpostXML";

/// The value of one series in a Prometheus text exposition.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

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
