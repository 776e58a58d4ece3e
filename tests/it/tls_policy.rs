//! The CRL and client-certificate policy on the real server over real TLS: a reload that
//! brings an expired CRL, an older CRL or a CA without a CRL is refused whole (the previous
//! files stay in force, so clients keep connecting and a revoked certificate stays revoked),
//! is counted by reason in `/metrics`, and the same files stop the service from starting with
//! an error naming the file; a client certificate without KeyUsage `digitalSignature` or
//! without the clientAuth EKU is refused at the handshake and counted.
//!
//! CRLs are issued here with rcgen by the development CAs of `certs-dev/` (their keys are
//! published there for this).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use folkreg::tls::ReloadRefusal;
use rustls::AlertDescription;

use crate::common::*;

/// A person of the demo population.
const PNR: &str = "196510213637";

/// A development CA re-made as an rcgen issuer from its files in `certs-dev/`.
type Ca = folkreg::dev::devcerts::DevCa;

fn dev_ca(name: &str) -> Ca {
    let entry = cert(name);
    let dir = repo().join("certs-dev");
    Ca::from_files(
        &dir.join(&entry.cert),
        &dir.join(entry.key.as_deref().expect("CA key")),
    )
    .expect("CA")
}

/// One CRL by `ca`: number `number`, issued a day before `next_update` at the latest,
/// revoking `revoked`.
fn crl_pem(
    ca: &Ca,
    number: u64,
    next_update: time::OffsetDateTime,
    revoked: &[rcgen::SerialNumber],
) -> String {
    let this_update = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .min(next_update - time::Duration::days(1));
    ca.crl_pem(number, this_update, next_update, revoked)
        .expect("CRL")
}

fn in_a_year() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(365)
}

/// The CRL file a test server reads: the intermediate's CRL, then the root's unless left out.
fn crls(
    intermediate: (u64, time::OffsetDateTime, &[rcgen::SerialNumber]),
    root: Option<u64>,
) -> String {
    let (number, next, revoked) = intermediate;
    let mut pem = crl_pem(&dev_ca("intermediate-ca"), number, next, revoked);
    if let Some(n) = root {
        pem += &crl_pem(&dev_ca("root-ca"), n, in_a_year(), &[]);
    }
    pem
}

/// The serial number of a certificate of `certs-dev/`.
fn serial_of(name: &str) -> rcgen::SerialNumber {
    let der = read_certs(&repo().join("certs-dev").join(cert(name).cert));
    let (_, leaf) = x509_parser::parse_x509_certificate(&der[0]).expect("parses");
    rcgen::SerialNumber::from_slice(leaf.raw_serial())
}

/// Writes `text` over `path` in one step, as an operator should.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A server whose `[tls] crls` is one file of the test's, holding `initial`.
async fn server_with_crls(initial: &str) -> (TestServer, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let crl = dir.path().join("crl.pem");
    std::fs::write(&crl, initial).expect("write CRLs");
    let path = crl.clone();
    let server = TestServer::start_with(move |c| {
        c.tls.crls = vec![path];
        // No config file behind this one: a reload re-reads only the TLS files and register.
        c.source = None;
    })
    .await;
    (server, dir, crl)
}

/// The status of one personpostXML request by `client` on a fresh connection, or the
/// alert the server refused the handshake with.
async fn ask(server: &TestServer, client: &CertEntry) -> Result<u16, AlertDescription> {
    let body = personpost_body(
        client.org.as_deref().expect("org"),
        client.bestallningsid.as_deref().expect("bestallningsid"),
        PNR,
    );
    match raw_at(server.addr, client, post_request(PP, &body).as_bytes()).await {
        Ok(r) => Ok(r.status),
        Err(e) => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::AlertReceived(a)) => Err(*a),
            _ => panic!("{}: neither an answer nor an alert: {e}", client.name),
        },
    }
}

/// Reloads (as `POST /reload` and `SIGHUP` do) and returns why the TLS files were refused.
async fn reload_refused(server: &TestServer) -> (ReloadRefusal, String) {
    let state = server.state.clone();
    let result = tokio::task::spawn_blocking(move || state.reload())
        .await
        .expect("reload task");
    let error = result.expect_err("the reload must be refused");
    assert!(
        error.register.is_none() && error.config.is_none(),
        "only the TLS files are at fault: {error}"
    );
    let tls = error.tls.as_ref().expect("refused for the TLS files");
    (tls.refusal(), error.to_string())
}

async fn reload_taken(server: &TestServer) {
    let state = server.state.clone();
    tokio::task::spawn_blocking(move || state.reload())
        .await
        .expect("reload task")
        .expect("the reload is taken");
}

fn refused_metric(server: &TestServer, reason: &str) -> Option<f64> {
    series(
        &server.state.metrics_text(),
        &format!("folkreg_tls_reload_refused_total{{reason=\"{reason}\"}}"),
    )
}

#[tokio::test]
async fn a_reload_with_an_expired_crl_is_refused_and_clients_still_connect() {
    let (server, _dir, crl) = server_with_crls(&crls((2, in_a_year(), &[]), Some(2))).await;
    let lund = cert("client-lund");
    assert_eq!(ask(&server, &lund).await, Ok(200));
    for reason in ["crl_expired", "crl_older", "crl_missing", "other"] {
        assert_eq!(refused_metric(&server, reason), Some(0.0), "{reason} at 0");
    }

    // The intermediate's CRL as its CA failed to renew it: nextUpdate yesterday.
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    replace(&crl, &crls((3, yesterday, &[]), Some(3)));
    let (reason, message) = reload_refused(&server).await;
    assert_eq!(reason, ReloadRefusal::CrlExpired, "{message}");
    assert!(message.contains(&crl.display().to_string()), "{message}");
    assert!(message.contains("nextUpdate"), "{message}");

    // The previous CRLs are still in force: the client is not locked out.
    assert_eq!(ask(&server, &lund).await, Ok(200));
    assert_eq!(refused_metric(&server, "crl_expired"), Some(1.0));
    assert_eq!(
        series(
            &server.state.metrics_text(),
            r#"folkreg_reloads_total{outcome="refused"}"#
        ),
        Some(1.0)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reload_with_an_older_crl_is_refused_and_the_revoked_certificate_stays_revoked() {
    let revoked = [serial_of("client-revoked")];
    let (server, _dir, crl) = server_with_crls(&crls((5, in_a_year(), &revoked), Some(5))).await;
    let (lund, client_revoked) = (cert("client-lund"), cert("client-revoked"));
    assert_eq!(
        ask(&server, &client_revoked).await,
        Err(AlertDescription::CertificateRevoked)
    );

    // CRL number 4, which did not list it yet.
    replace(&crl, &crls((4, in_a_year(), &[]), Some(5)));
    let (reason, message) = reload_refused(&server).await;
    assert_eq!(reason, ReloadRefusal::CrlOlder, "{message}");
    assert!(message.contains("CRL number 4"), "{message}");
    assert!(message.contains("CRL number 5"), "{message}");
    assert_eq!(
        ask(&server, &client_revoked).await,
        Err(AlertDescription::CertificateRevoked),
        "still revoked"
    );
    assert_eq!(ask(&server, &lund).await, Ok(200));
    assert_eq!(refused_metric(&server, "crl_older"), Some(1.0));

    // The next CRL (number 6) is taken.
    replace(&crl, &crls((6, in_a_year(), &revoked), Some(6)));
    reload_taken(&server).await;
    assert_eq!(ask(&server, &lund).await, Ok(200));
    server.stop().await;
}

#[tokio::test]
async fn a_reload_that_leaves_a_ca_without_a_crl_is_refused() {
    let (server, _dir, crl) = server_with_crls(&crls((2, in_a_year(), &[]), Some(2))).await;
    let lund = cert("client-lund");

    // The root's CRL left out: the intermediate's own revocation could not be checked.
    replace(&crl, &crls((3, in_a_year(), &[]), None));
    let (reason, message) = reload_refused(&server).await;
    assert_eq!(reason, ReloadRefusal::CrlMissing, "{message}");
    assert!(message.contains("ca-bundle.pem"), "{message}");
    assert!(message.contains("folkreg dev root CA"), "{message}");
    assert_eq!(ask(&server, &lund).await, Ok(200));
    assert_eq!(refused_metric(&server, "crl_missing"), Some(1.0));
    server.stop().await;
}

/// At start the same CRLs are an error naming the file, by the service's clock (in process)
/// and from the real binary.
#[tokio::test]
async fn the_service_does_not_start_with_an_expired_crl_or_a_ca_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = repo();
    // Every path absolute, each start its own data directory, no demo population to make.
    let config_text = |crls: &Path, data: &str| {
        format!(
            "data_dir = {:?}\nregister = {:?}\n[soap]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[load]\ndemo = false\n[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\ncrls = [{:?}]\n",
            dir.path().join(data),
            repo.join("deploy/register.dev.toml"),
            repo.join("certs-dev/server.pem"),
            repo.join("certs-dev/server.key"),
            repo.join("certs-dev/ca-bundle.pem"),
            crls,
        )
    };
    let start_at = |crls: &Path, data: &str, secs: i64| {
        let config = folkreg::config::Config::from_str_at(
            &config_text(crls, data),
            &dir.path().join("folkreg.toml"),
        )
        .expect("config");
        let clock = folkreg::clock::ManualClock::new(
            chrono::DateTime::from_timestamp(secs, 0).expect("time"),
        );
        folkreg::app::build_state_with(config, Arc::new(clock), None)
            .err()
            .map(|e| e.to_string())
    };
    let dev_crl = repo.join("certs-dev/crl.pem");
    let next_update = {
        let der = first_crl_der(&dev_crl);
        let (_, first) = x509_parser::parse_x509_crl(&der).expect("CRL parses");
        first
            .next_update()
            .map(|t| t.timestamp())
            .expect("a nextUpdate")
    };
    // certs-dev's own CRLs: fine the second before their nextUpdate, refused from it on.
    assert_eq!(start_at(&dev_crl, "data-1", next_update - 1), None);
    let error = start_at(&dev_crl, "data-2", next_update).expect("refused at nextUpdate");
    assert!(error.contains("crl.pem"), "{error}");
    assert!(error.contains("nextUpdate"), "{error}");

    let without_root = dir.path().join("intermediate-only.pem");
    std::fs::write(&without_root, crls((2, in_a_year(), &[]), None)).expect("write");
    let error = start_at(&without_root, "data-3", chrono::Utc::now().timestamp())
        .expect("refused without the root's CRL");
    assert!(error.contains("ca-bundle.pem"), "{error}");
    assert!(error.contains("has no CRL"), "{error}");

    // The real binary says the same and exits.
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let expired = dir.path().join("expired.pem");
    std::fs::write(&expired, crls((2, yesterday, &[]), Some(2))).expect("write");
    let config = dir.path().join("folkreg.toml");
    std::fs::write(&config, config_text(&expired, "data-4")).expect("write config");
    let o = folkreg(
        dir.path(),
        &["serve", "--config", config.to_str().expect("UTF-8 path")],
    );
    let out = text(&o);
    // Unusable files the operator gave are invalid input: exit 2 (CONTRACT).
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains(&expired.display().to_string()), "{out}");
    assert!(out.contains("past its nextUpdate"), "{out}");

    // So does a register that cannot be used.
    let good = dir.path().join("good.pem");
    std::fs::write(&good, crls((2, in_a_year(), &[]), Some(2))).expect("write");
    let broken = dir.path().join("register.toml");
    std::fs::write(&broken, "[[organisation]]\norgnr = \"not a number\"\n").expect("write");
    let text_of_config = config_text(&good, "data-5").replace(
        &format!("{:?}", repo.join("deploy/register.dev.toml")),
        &format!("{broken:?}"),
    );
    std::fs::write(&config, text_of_config).expect("write config");
    let o = folkreg(
        dir.path(),
        &["serve", "--config", config.to_str().expect("UTF-8 path")],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("register.toml"), "{out}");
}

/// The first CRL's DER in a PEM file.
fn first_crl_der(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("CRL file");
    let first = rustls_pemfile::crls(&mut bytes.as_slice())
        .next()
        .expect("a CRL")
        .expect("PEM");
    first.to_vec()
}

#[tokio::test]
async fn leaves_without_digital_signature_or_client_auth_are_refused_at_the_handshake() {
    let server = TestServer::start().await;
    let cases = [
        (
            "client-no-digital-signature",
            AlertDescription::CertificateUnknown,
            "key_usage",
        ),
        (
            "client-no-eku",
            AlertDescription::UnsupportedCertificate,
            "invalid_purpose",
        ),
    ];
    for (name, alert, _) in cases {
        // Both are in the register: only the TLS layer can be what refuses them.
        assert_eq!(ask(&server, &cert(name)).await, Err(alert), "{name}");
    }
    let text = server.state.metrics_text();
    for (name, _, reason) in cases {
        assert_eq!(
            series(
                &text,
                &format!("folkreg_client_certificates_refused{{reason=\"{reason}\"}}")
            ),
            Some(1.0),
            "{name}: {text}"
        );
    }
    server.stop().await;
}

/// One HTTP/1.1 response read off a kept-alive stream: (status, head, body). The body is
/// read by its Content-Length.
async fn read_one<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> (u16, String, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.expect("read");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .expect("content-length");
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).await.expect("body");
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// Issue 21, item 4: after a CRL revoking a certificate was reloaded, a keep-alive
/// connection opened before it went on getting answers (12 of 12 over 60 s). Now the
/// connection's certificate is judged again by the configuration in force at its next
/// request: refused (fault 1301 with the reason, audited), and the connection is closed.
#[tokio::test]
async fn a_revocation_reaches_connections_already_open() {
    use tokio::io::AsyncWriteExt;
    let (server, _dir, crl) = server_with_crls(&crls((5, in_a_year(), &[]), Some(5))).await;
    let lund = cert("client-lund");
    let body = personpost_body(
        lund.org.as_deref().expect("org"),
        lund.bestallningsid.as_deref().expect("bestallningsid"),
        PNR,
    );
    let request = post_request(PP, &body).replace("Connection: close\r\n", "");
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector_for(&lund)
        .connect(name, tcp)
        .await
        .expect("handshake");
    tls.write_all(request.as_bytes()).await.expect("write");
    let (status, _, first) = read_one(&mut tls).await;
    assert_eq!(status, 200, "{first}");
    // A reload that changes nothing for this certificate keeps the connection answering.
    replace(&crl, &crls((6, in_a_year(), &[]), Some(6)));
    reload_taken(&server).await;
    tls.write_all(request.as_bytes()).await.expect("write");
    assert_eq!(read_one(&mut tls).await.0, 200);
    // The intermediate CA revokes it.
    replace(
        &crl,
        &crls((7, in_a_year(), &[serial_of("client-lund")]), Some(7)),
    );
    reload_taken(&server).await;
    tls.write_all(request.as_bytes()).await.expect("write");
    let (status, head, fault) = read_one(&mut tls).await;
    assert_eq!(status, 500, "a SOAP fault is HTTP 500: {fault}");
    assert!(fault.contains("1301"), "{fault}");
    assert!(fault.contains("no longer accepted"), "{fault}");
    assert!(!fault.contains("Folkbokforingspost"), "{fault}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // The connection is closed after that answer.
    let mut rest = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut rest).await;
    assert!(rest.is_empty(), "nothing more on a closed connection");
    // And a new connection is refused at the handshake.
    assert_eq!(
        ask(&server, &lund).await,
        Err(AlertDescription::CertificateRevoked)
    );
    server.stop().await;
}
