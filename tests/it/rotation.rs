//! Hot rotation without restart, against the real binary: while one client keeps sending
//! over one keep-alive connection and over a fresh connection per request, the server
//! certificate is replaced (`POST /reload`), a client certificate is removed from the
//! register (`folkreg register remove-cert`, then `SIGHUP`), and an unusable key is refused
//! with the previous files kept in force. Not one request may fail on the way.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A person of the demo population (README, "Try it").
const PNR: &str = "196510213637";
/// What the server logs after each reload it took (`AppState::reload`).
const RELOADED: &str = "reloaded TLS files, CRLs, the register and [maintenance]";
/// What it logs after one it refused.
const REFUSED: &str = "reload refused";

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Opens a TLS connection (checking the server's chain against the dev root) and an HTTP/1.1
/// client on it; also returns the DER of the server's leaf certificate.
async fn open(addr: SocketAddr, tls: &TlsConnector) -> Result<(Sender, Vec<u8>), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("localhost").expect("server name");
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or("no server certificate")?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, leaf))
}

/// One personpostXML request on an open connection: (status, body).
async fn send(sender: &mut Sender, body: &str, close: bool) -> Result<(u16, String), String> {
    let mut req = hyper::Request::post(PP)
        .header(HOST, "localhost")
        .header(CONTENT_TYPE, "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"");
    if close {
        req = req.header(CONNECTION, "close");
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    sender
        .ready()
        .await
        .map_err(|e| format!("connection not ready: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Why an answer to the person request is not the person record, if it is not.
fn not_the_record(answer: &Result<(u16, String), String>) -> Option<String> {
    match answer {
        Err(e) => Some(e.clone()),
        Ok((200, body))
            if body.contains("<Folkbokforingspost>")
                && body.contains(&format!("<PersonNr>{PNR}</PersonNr>")) =>
        {
            None
        }
        Ok((status, body)) => Some(format!("HTTP {status}: {}", &body[..body.len().min(400)])),
    }
}

fn request_body(client: &CertEntry) -> String {
    personpost_body(
        client.org.as_deref().expect("org"),
        client.bestallningsid.as_deref().expect("bestallningsid"),
        PNR,
    )
}

/// One fresh-connection handshake as the background client saw it.
struct Handshake {
    started: Instant,
    done: Instant,
    leaf: Vec<u8>,
}

/// What the background client saw.
#[derive(Default)]
struct Traffic {
    keepalive_ok: AtomicU64,
    fresh_ok: AtomicU64,
    /// Keep-alive connections opened (1 unless one broke).
    keepalive_opened: AtomicU64,
    failures: Mutex<Vec<String>>,
    handshakes: Mutex<Vec<Handshake>>,
}

impl Traffic {
    fn fail(&self, start: Instant, path: &str, why: String) {
        let mut f = self.failures.lock().expect("lock");
        f.push(format!("{path} at {:?}: {why}", start.elapsed()));
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.keepalive_ok.load(Ordering::SeqCst),
            self.fresh_ok.load(Ordering::SeqCst),
        )
    }
}

/// Requests over one keep-alive connection until `stop` (a new connection only if the old
/// one breaks, which is counted as a failure).
async fn keepalive_loop(
    addr: SocketAddr,
    tls: TlsConnector,
    body: String,
    traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
    start: Instant,
) {
    let mut sender: Option<Sender> = None;
    while !stop.load(Ordering::SeqCst) {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match open(addr, &tls).await {
                Ok((s, _)) => {
                    traffic.keepalive_opened.fetch_add(1, Ordering::SeqCst);
                    sender.insert(s)
                }
                Err(e) => {
                    traffic.fail(start, "keep-alive open", e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let answer = send(s, &body, false).await;
        match not_the_record(&answer) {
            None => {
                traffic.keepalive_ok.fetch_add(1, Ordering::SeqCst);
            }
            Some(why) => {
                traffic.fail(start, "keep-alive", why);
                sender = None;
            }
        }
    }
}

/// A new TCP + TLS connection for every request until `stop`.
async fn fresh_loop(
    addr: SocketAddr,
    tls: TlsConnector,
    body: String,
    traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
    start: Instant,
) {
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let (mut s, leaf) = match open(addr, &tls).await {
            Ok(x) => x,
            Err(e) => {
                traffic.fail(start, "fresh open", e);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        traffic.handshakes.lock().expect("lock").push(Handshake {
            started,
            done: Instant::now(),
            leaf,
        });
        let answer = send(&mut s, &body, true).await;
        match not_the_record(&answer) {
            None => {
                traffic.fresh_ok.fetch_add(1, Ordering::SeqCst);
            }
            Some(why) => traffic.fail(start, "fresh", why),
        }
    }
}

/// Waits until `done` holds, polling; panics with `what` after `limit`.
async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until both paths have answered `n` more requests than at `from`.
async fn wait_for_progress(traffic: &Traffic, n: u64, what: &str) {
    let (k0, f0) = traffic.counts();
    wait_until(what, Duration::from_secs(10), || {
        let (k, f) = traffic.counts();
        k >= k0 + n && f >= f0 + n
    })
    .await;
}

/// Replaces a file in one step: write a temporary file next to it, then rename.
fn write_atomic(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("rotate-tmp");
    std::fs::write(&tmp, contents).expect("write temporary file");
    std::fs::rename(&tmp, path).expect("rename over the file");
}

/// A new server certificate for the SANs of `certs-dev/server.pem`, with a new key, signed by
/// the development intermediate CA: (chain PEM leaf + intermediate, key PEM, leaf DER).
fn issue_server_cert() -> (String, String, Vec<u8>) {
    let dir = repo().join("certs-dev");
    let ca = cert("intermediate-ca");
    assert_eq!(ca.kind, "intermediate-ca");
    let ca_pem = std::fs::read_to_string(dir.join(&ca.cert)).expect("intermediate CA");
    let ca_key_pem =
        std::fs::read_to_string(dir.join(ca.key.as_deref().expect("CA key"))).expect("CA key");
    let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem).expect("CA key parses");
    // rcgen signs with an issuer `Certificate`: the CA's own subject and key, re-made.
    let issuer = rcgen::CertificateParams::from_ca_cert_pem(&ca_pem)
        .expect("CA certificate parses")
        .self_signed(&ca_key)
        .expect("issuer");

    // The names of the current server certificate.
    let old = read_certs(&dir.join("server.pem"));
    let (_, old) = x509_parser::parse_x509_certificate(&old[0]).expect("server.pem parses");
    let mut sans = Vec::new();
    for name in &old
        .subject_alternative_name()
        .expect("SAN extension parses")
        .expect("server.pem has SANs")
        .value
        .general_names
    {
        match name {
            x509_parser::extensions::GeneralName::DNSName(d) => {
                sans.push(rcgen::SanType::DnsName((*d).try_into().expect("DNS name")))
            }
            x509_parser::extensions::GeneralName::IPAddress(ip) => {
                let ip = match ip.len() {
                    4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*ip).expect("IPv4")),
                    16 => std::net::IpAddr::from(<[u8; 16]>::try_from(*ip).expect("IPv6")),
                    n => panic!("IP SAN of {n} bytes"),
                };
                sans.push(rcgen::SanType::IpAddress(ip));
            }
            other => panic!("unexpected SAN in server.pem: {other:?}"),
        }
    }
    assert!(sans.contains(&rcgen::SanType::DnsName(
        "localhost".try_into().expect("name")
    )));
    assert!(sans.contains(&rcgen::SanType::IpAddress([127, 0, 0, 1].into())));

    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = sans;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CountryName, "SE");
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "folkreg development");
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost (rotated)");
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(365);
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x10;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let leaf = p
        .signed_by(&key, &issuer, &ca_key)
        .expect("sign server certificate");

    // Its issuer is exactly the intermediate's subject (what chain building compares).
    let ca_der = read_certs(&dir.join(&ca.cert));
    let (_, ca_x509) = x509_parser::parse_x509_certificate(&ca_der[0]).expect("CA parses");
    let (_, leaf_x509) = x509_parser::parse_x509_certificate(leaf.der()).expect("leaf parses");
    assert_eq!(leaf_x509.issuer().as_raw(), ca_x509.subject().as_raw());

    (
        leaf.pem() + &ca_pem,
        key.serialize_pem(),
        leaf.der().to_vec(),
    )
}

/// The DER of the server leaf a fresh connection is shown now.
async fn leaf_now(addr: SocketAddr, tls: &TlsConnector) -> Vec<u8> {
    open(addr, tls).await.expect("fresh connection").1
}

/// How often the server has logged this line.
fn log_count(server: &RealServer, line: &str) -> usize {
    std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .matches(line)
        .count()
}

fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// `folkreg register --register FILE add-cert|remove-cert` for this client's certificate.
async fn register_cli(register: &Path, action: &str, client: &CertEntry, certs: &Path) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("register")
        .arg("--register")
        .arg(register)
        .arg(action);
    if action == "add-cert" {
        cmd.arg("--org").arg(client.org.as_deref().expect("org"));
    }
    let out = cmd
        .arg("--cert")
        .arg(certs.join(&client.cert))
        .env_remove("FOLKREG_CONFIG")
        .output()
        .await
        .expect("folkreg register");
    assert!(
        out.status.success(),
        "{action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The HTTP status of one request by this client on a fresh connection.
async fn lund_fresh(server: &RealServer, lund: &CertEntry) -> u16 {
    raw_at(
        server.addr,
        lund,
        post_request(PP, &request_body(lund)).as_bytes(),
    )
    .await
    .expect("an answer on a fresh connection")
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_without_restart_loses_no_request() {
    let t0 = Instant::now();
    let certs = repo().join("certs-dev");
    let server = RealServer::start_custom(&[], &[], |work, config| {
        let repo = repo();
        let mut config = config;
        for (original, copy) in [
            ("certs-dev/server.pem", "server.pem"),
            ("certs-dev/server.key", "server.key"),
            ("deploy/register.dev.toml", "register.toml"),
        ] {
            let from = repo.join(original);
            let to = work.join(copy);
            std::fs::copy(&from, &to).expect("copy into the work dir");
            let needle = format!("{from:?}");
            assert!(config.contains(&needle), "{needle} not in:\n{config}");
            config = config.replace(&needle, &format!("{to:?}"));
        }
        // Changed files are also reloaded by themselves (step 4), looked at every second.
        config.push_str("[reload]\nwatch_seconds = 1\n");
        config
    })
    .await;
    let work = server.work.path();
    let (cert_copy, key_copy, register_copy) = (
        work.join("server.pem"),
        work.join("server.key"),
        work.join("register.toml"),
    );
    let started_in = t0.elapsed();

    let norrby = cert("client-norrby");
    let lund = cert("client-lund");
    let norrby_tls = connector_for(&norrby);
    let lund_tls = connector_for(&lund);
    let old_leaf = read_certs(&certs.join("server.pem"))[0].as_ref().to_vec();
    assert_eq!(leaf_now(server.addr, &norrby_tls).await, old_leaf);

    // client-norrby, for the whole rotation: one keep-alive connection, and a fresh
    // connection per request.
    let traffic = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let keepalive = tokio::spawn(keepalive_loop(
        server.addr,
        norrby_tls.clone(),
        request_body(&norrby),
        traffic.clone(),
        stop.clone(),
        t0,
    ));
    let fresh = tokio::spawn(fresh_loop(
        server.addr,
        norrby_tls.clone(),
        request_body(&norrby),
        traffic.clone(),
        stop.clone(),
        t0,
    ));
    wait_for_progress(&traffic, 20, "traffic before the rotation").await;

    // (a) A new server certificate for the same names, written over the copies; POST /reload.
    let (chain_pem, key_pem, new_leaf) = issue_server_cert();
    assert_ne!(new_leaf, old_leaf);
    write_atomic(&cert_copy, chain_pem.as_bytes());
    write_atomic(&key_copy, key_pem.as_bytes());
    let before_reload = Instant::now();
    let keepalive_before_reload = traffic.counts().0;
    assert_eq!(
        server.admin("POST", "/reload").await,
        (200, "reloaded\n".into())
    );
    let reloaded = Instant::now();
    // Fresh connections are shown the new certificate (and verify it against the dev root).
    assert_eq!(leaf_now(server.addr, &norrby_tls).await, new_leaf);
    {
        let (mut s, leaf) = open(server.addr, &norrby_tls).await.expect("connect");
        assert_eq!(leaf, new_leaf);
        let answer = send(&mut s, &request_body(&norrby), true).await;
        assert_eq!(not_the_record(&answer), None);
    }
    // The keep-alive connection, made under the old certificate, carries on.
    wait_for_progress(&traffic, 20, "traffic after the certificate rotation").await;
    assert_eq!(traffic.keepalive_opened.load(Ordering::SeqCst), 1);
    assert!(traffic.counts().0 > keepalive_before_reload);

    // (b) The register: client-lund is permitted, on a keep-alive connection and a fresh one.
    let lund_fingerprint = sha256_hex(read_certs(&certs.join(&lund.cert))[0].as_ref());
    let register_text = std::fs::read_to_string(&register_copy).expect("register copy");
    assert!(register_text.contains(&lund_fingerprint));
    let (mut lund_keepalive, _) = open(server.addr, &lund_tls).await.expect("lund connects");
    let answer = send(&mut lund_keepalive, &request_body(&lund), false).await;
    assert_eq!(not_the_record(&answer), None, "client-lund before removal");
    let answer = raw_at(
        server.addr,
        &lund,
        post_request(PP, &request_body(&lund)).as_bytes(),
    )
    .await
    .expect("lund fresh");
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Its certificate is removed from the register copy with the real CLI...
    let out = tokio::process::Command::new(BIN)
        .arg("register")
        .arg("--register")
        .arg(&register_copy)
        .arg("remove-cert")
        .arg("--cert")
        .arg(certs.join(&lund.cert))
        .env_remove("FOLKREG_CONFIG")
        .output()
        .await
        .expect("folkreg register remove-cert");
    assert!(
        out.status.success(),
        "remove-cert: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let register_text = std::fs::read_to_string(&register_copy).expect("register copy");
    assert!(!register_text.contains(&lund_fingerprint));
    // ...and the server told with SIGHUP.
    let (ok_before, refused_before) = (log_count(&server, RELOADED), log_count(&server, REFUSED));
    let hup = tokio::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .await
        .expect("kill -HUP");
    assert!(hup.success());
    wait_until("the SIGHUP reload", Duration::from_secs(5), || {
        log_count(&server, RELOADED) > ok_before || log_count(&server, REFUSED) > refused_before
    })
    .await;
    assert_eq!(
        log_count(&server, REFUSED),
        refused_before,
        "SIGHUP reload refused:\n{}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    // The next request on client-lund's connection from before is refused: the register is
    // consulted per request, not per connection.
    let (status, body) = send(&mut lund_keepalive, &request_body(&lund), false)
        .await
        .expect("an answer on client-lund's keep-alive connection");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("1301"), "{body}");
    let answer = raw_at(
        server.addr,
        &lund,
        post_request(PP, &request_body(&lund)).as_bytes(),
    )
    .await
    .expect("lund fresh after removal");
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert!(answer.body.contains("1301"), "{}", answer.body);
    wait_for_progress(&traffic, 20, "traffic after the register change").await;

    // (3) An unusable key is refused, and with it the register edited at the same time: a
    // reload takes all of its files or none. The rotated certificate stays in force.
    write_atomic(
        &key_copy,
        b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    );
    register_cli(&register_copy, "add-cert", &lund, &certs).await;
    let (status, text) = server.admin("POST", "/reload").await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("refused"), "{text}");
    assert_eq!(leaf_now(server.addr, &norrby_tls).await, new_leaf);
    wait_for_progress(&traffic, 20, "traffic after the refused reload").await;
    assert_eq!(
        lund_fresh(&server, &lund).await,
        500,
        "the register edit is not in force"
    );
    // A valid key again: both taken, still the rotated certificate, client-lund permitted.
    write_atomic(&key_copy, key_pem.as_bytes());
    assert_eq!(
        server.admin("POST", "/reload").await,
        (200, "reloaded\n".into())
    );
    assert_eq!(leaf_now(server.addr, &norrby_tls).await, new_leaf);
    assert_eq!(lund_fresh(&server, &lund).await, 200);
    wait_for_progress(&traffic, 10, "traffic after the key was restored").await;

    // (4) No signal at all: client-lund's certificate is removed again with the real CLI,
    // and the file change alone puts that in force (a second or two: one look to see the
    // change, one to see it has settled).
    register_cli(&register_copy, "remove-cert", &lund, &certs).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while lund_fresh(&server, &lund).await != 500 {
        assert!(
            Instant::now() < deadline,
            "the register change was not picked up by itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        std::fs::read_to_string(&server.log)
            .unwrap_or_default()
            .contains("watched files changed; reloading"),
        "reloaded, but not by the file watch"
    );
    wait_for_progress(&traffic, 10, "traffic after the file-change reload").await;

    stop.store(true, Ordering::SeqCst);
    keepalive.await.expect("keep-alive client");
    fresh.await.expect("fresh-connection client");

    let failures = traffic.failures.lock().expect("lock");
    let (keepalive_ok, fresh_ok) = traffic.counts();
    assert!(
        failures.is_empty(),
        "{} failed requests ({keepalive_ok} keep-alive and {fresh_ok} fresh answered):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        traffic.keepalive_opened.load(Ordering::SeqCst),
        1,
        "the keep-alive connection was reopened"
    );
    assert!(keepalive_ok >= 80, "{keepalive_ok} keep-alive requests");
    assert!(fresh_ok >= 80, "{fresh_ok} fresh-connection requests");

    // Every fresh handshake was shown the old certificate until the reload was asked for,
    // and the new one from when it was answered.
    let handshakes = traffic.handshakes.lock().expect("lock");
    let (mut old_seen, mut new_seen) = (0, 0);
    for h in handshakes.iter() {
        let at = h.started.duration_since(t0);
        if h.leaf == old_leaf {
            old_seen += 1;
            assert!(
                h.started < reloaded,
                "handshake at {at:?} shown the old certificate after the reload"
            );
        } else if h.leaf == new_leaf {
            new_seen += 1;
            assert!(
                h.done > before_reload,
                "handshake at {at:?} shown the new certificate before the reload"
            );
        } else {
            panic!("handshake at {at:?} shown an unknown certificate");
        }
    }
    assert!(
        old_seen > 0 && new_seen > 0,
        "old {old_seen}, new {new_seen}"
    );
    eprintln!(
        "rotation: server started in {started_in:?}; {keepalive_ok} keep-alive and {fresh_ok} \
         fresh-connection requests answered ({old_seen} handshakes with the old certificate, \
         {new_seen} with the new), 0 failed; {:?} in all",
        t0.elapsed()
    );
}
