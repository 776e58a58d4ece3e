//! The listener under abuse (issue 21, item 3): silent connections that never handshake
//! cannot keep a registered client out, one source cannot hold the listener, and a client
//! that never reads its answers loses its connection. Each bound here is a liveness bound
//! (the old listener held the client for the whole handshake timeout), not a speed claim.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

const PNR: &str = "196510213637";

fn lund_request() -> (CertEntry, String) {
    let lund = cert("client-lund");
    let body = personpost_body(
        lund.org.as_deref().expect("org"),
        lund.bestallningsid.as_deref().expect("bestallningsid"),
        PNR,
    );
    (lund, post_request(PP, &body))
}

/// Silent TCP connections (no ClientHello) fill every slot of the old listener for the whole
/// handshake timeout. With a budget of connections in their handshake, the oldest are shed
/// and a registered client is answered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_keep_a_client_out() {
    let server = TestServer::start_with(|c| {
        c.connections.max = 16;
        c.connections.max_handshaking = 8;
        c.connections.handshake_timeout = Duration::from_secs(120);
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Give the listener the moment to accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (lund, request) = lund_request();
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        raw_at(server.addr, &lund, request.as_bytes()),
    )
    .await
    .expect("answered while the silent connections are open (the old listener: 120 s)")
    .expect("answer");
    assert_eq!(answer.status, 200);
    let (_, text) = server.admin("GET", "/metrics").await;
    let shed = series(
        &text,
        "folkreg_connections_shed_total{reason=\"handshake_budget\"}",
    )
    .expect("counted");
    assert!(shed >= 24.0, "{shed}");
    drop(silent);
    server.stop().await;
}

/// One source past `max_connections_per_source`: its next connection is closed at accept;
/// another connection of it is taken once one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_cannot_hold_the_listener() {
    let server = TestServer::start_with(|c| {
        c.connections.max_per_source = 3;
        c.connections.handshake_timeout = Duration::from_secs(120);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (lund, request) = lund_request();
    let refused = raw_at(server.addr, &lund, request.as_bytes()).await;
    assert!(
        refused.is_err(),
        "the fourth from one source is closed: {refused:?}"
    );
    let (_, text) = server.admin("GET", "/metrics").await;
    assert!(
        series(
            &text,
            "folkreg_connections_shed_total{reason=\"per_source\"}"
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = raw_at(server.addr, &lund, request.as_bytes())
        .await
        .expect("a slot given back is taken");
    assert_eq!(answer.status, 200);
    drop(held);
    server.stop().await;
}

/// A client that sends requests and never reads the answers: once its receive window and the
/// socket buffers are full, the server's write waits — for at most `write_timeout`, then the
/// connection is closed (the old listener held it for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_loses_its_connection() {
    let server = TestServer::start_with(|c| {
        c.connections.write_timeout = Duration::from_secs(2);
    })
    .await;
    let (lund, request) = lund_request();
    let request = request.replace("Connection: close\r\n", "");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let tcp = socket.connect(server.addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector_for(&lund)
        .connect(name, tcp)
        .await
        .expect("handshake");
    // Pipelined requests, never read: each answer is ~2 KiB.
    let mut sent = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if tls.write_all(request.as_bytes()).await.is_err() {
                return "write failed";
            }
            sent += 1;
            if sent % 50 == 0 {
                let (_, text) = server.admin("GET", "/metrics").await;
                if series(
                    &text,
                    "folkreg_connections_shed_total{reason=\"write_timeout\"}",
                )
                .unwrap_or(0.0)
                    >= 1.0
                {
                    return "cut";
                }
            }
        }
    })
    .await
    .expect("the server cut the connection (the old listener never did)");
    assert!(["cut", "write failed"].contains(&outcome), "{outcome}");
    // Whatever was answered before can still be read, then the stream ends.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
    let (_, text) = server.admin("GET", "/metrics").await;
    assert_eq!(
        series(
            &text,
            "folkreg_connections_shed_total{reason=\"write_timeout\"}"
        ),
        Some(1.0)
    );
    server.stop().await;
}
