//! `certs-dev/index.toml` drives these tests: every client certificate gets the outcome its
//! `expect` and `reason` say, from the verifier, the peer identity and the register — called
//! directly, and over real TLS handshakes (tokio-rustls on 127.0.0.1) for the handshake cases.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use folkreg::access::{Category, Switch};
use folkreg::dev::devcerts::{Expect, Index, IndexEntry, Kind};
use folkreg::register::Register;
use folkreg::tls::{
    client_verifier, FailureReason, HandshakeFailures, PeerIdentity, TlsFiles, TlsState,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::AlertDescription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev")
}

fn index() -> Index {
    Index::load(&certs_dir()).expect("certs-dev/index.toml")
}

fn path(file: &str) -> PathBuf {
    certs_dir().join(file)
}

fn chain(entry: &IndexEntry) -> Vec<CertificateDer<'static>> {
    let f = std::fs::File::open(path(&entry.cert)).expect("cert file");
    rustls_pemfile::certs(&mut BufReader::new(f))
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates")
}

fn key(entry: &IndexEntry) -> PrivateKeyDer<'static> {
    let name = entry.key.as_deref().expect("client entries carry a key");
    let f = std::fs::File::open(path(name)).expect("key file");
    rustls_pemfile::private_key(&mut BufReader::new(f))
        .expect("PEM key")
        .expect("a key")
}

/// The server's files as the index names them (the same files the default config uses).
fn tls_files(index: &Index) -> TlsFiles {
    let file = |name: &str| path(&index.entry(name).expect(name).cert);
    let server = index.entry("server").expect("server entry");
    TlsFiles {
        cert: path(&server.cert),
        key: path(server.key.as_deref().expect("server key")),
        client_ca: file("ca-bundle"),
        crls: index
            .cert
            .iter()
            .filter(|e| e.kind == Kind::Crl)
            .map(|e| path(&e.cert))
            .collect(),
    }
}

fn clients(index: &Index) -> impl Iterator<Item = &IndexEntry> {
    index.cert.iter().filter(|e| e.kind == Kind::Client)
}

fn register(index: &Index) -> Register {
    Register::load(&certs_dir().join(&index.register)).expect("the development register")
}

#[test]
fn index_lists_every_file_and_every_file_exists() {
    let index = index();
    let mut listed: Vec<String> = Vec::new();
    for e in &index.cert {
        assert!(path(&e.cert).is_file(), "{}: {} missing", e.name, e.cert);
        listed.push(e.cert.clone());
        if let Some(k) = &e.key {
            assert!(path(k).is_file(), "{}: {k} missing", e.name);
            listed.push(k.clone());
        }
        assert!(!e.why.is_empty(), "{} has a why", e.name);
        if e.kind == Kind::Client {
            assert!(e.expect.is_some(), "{} has an expect", e.name);
            assert_eq!(
                e.reason.is_some(),
                e.expect != Some(Expect::Accepted),
                "{}: refusals carry a reason",
                e.name
            );
        }
    }
    for f in std::fs::read_dir(certs_dir()).expect("certs-dev") {
        let name = f.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".pem") || name.ends_with(".key") {
            assert!(listed.contains(&name), "{name} is not in index.toml");
        }
    }
    // The contract's minimum: three accepted organisations with different categories and
    // one of each negative case.
    let accepted: Vec<_> = clients(&index)
        .filter(|e| e.expect == Some(Expect::Accepted))
        .collect();
    assert!(accepted.len() >= 3);
    let mut sets: Vec<_> = accepted.iter().map(|e| e.categories.clone()).collect();
    sets.dedup();
    assert_eq!(sets.len(), accepted.len(), "different categories");
    for reason in [
        "expired",
        "not_yet_valid",
        "revoked",
        "unknown_issuer",
        "invalid_purpose",
        "key_usage",
        "no_organisation_number",
        "unknown_organisation",
        "unknown_certificate",
        "no_longer_permitted",
    ] {
        assert!(
            clients(&index).any(|e| e.reason.as_deref() == Some(reason)),
            "a certificate refused for {reason}"
        );
    }
}

/// The whole decision, without a network: verifier → identity → register.
#[test]
fn every_client_entry_gets_its_expected_outcome() {
    let index = index();
    let files = tls_files(&index);
    let failures = Arc::new(HandshakeFailures::default());
    let verifier = client_verifier(&files.client_ca, &files.crls, &failures).expect("verifier");
    let register = register(&index);
    let now = UnixTime::now();
    let mut checked = 0;
    for e in clients(&index) {
        let chain = chain(e);
        let expect = e.expect.expect("expect");
        let verdict = verifier.verify_client_cert(&chain[0], &chain[1..], now);
        if expect == Expect::HandshakeRefused {
            let err = verdict.expect_err(&e.name);
            assert_eq!(
                Some(FailureReason::of(&err).as_str()),
                e.reason.as_deref(),
                "{}: {err}",
                e.name
            );
            checked += 1;
            continue;
        }
        verdict.unwrap_or_else(|err| panic!("{} must pass the handshake: {err}", e.name));
        // Clients that send only their leaf verify too (the bundle holds the intermediate).
        verifier
            .verify_client_cert(&chain[0], &[], now)
            .unwrap_or_else(|err| panic!("{} leaf alone: {err}", e.name));

        let peer = PeerIdentity::from_der(&chain[0]).expect("identity");
        assert_eq!(
            peer.orgnr.map(|o| o.wire()),
            e.org,
            "{}: organisation number read from the subject",
            e.name
        );
        let decision = match &peer.orgnr {
            None => Err("no_organisation_number".to_owned()),
            Some(orgnr) => register
                .authorize(orgnr, &peer.fingerprint, chrono::Utc::now())
                .map_err(|d| d.code().to_owned()),
        };
        match expect {
            Expect::Accepted => {
                let org = decision.unwrap_or_else(|d| panic!("{} refused: {d}", e.name));
                let cats: Vec<String> = org
                    .categories
                    .iter()
                    .map(|c: &Category| c.as_str().to_owned())
                    .collect();
                let switches: Vec<String> = org
                    .switches
                    .iter()
                    .map(|s: &Switch| s.as_str().to_owned())
                    .collect();
                assert_eq!(Some(cats), e.categories, "{} categories", e.name);
                assert_eq!(Some(switches), e.switches, "{} switches", e.name);
                let id = e.bestallningsid.as_deref().expect("bestallningsid");
                assert!(org.allows_bestallning(id), "{} BestallningsId", e.name);
            }
            Expect::RegisterRefused => {
                assert_eq!(decision.err(), e.reason, "{}", e.name);
            }
            Expect::HandshakeRefused => unreachable!(),
        }
        checked += 1;
    }
    assert_eq!(checked, clients(&index).count());
    let refused_at_handshake = clients(&index)
        .filter(|e| e.expect == Some(Expect::HandshakeRefused))
        .count() as u64;
    assert_eq!(
        failures.total(),
        refused_at_handshake,
        "each refusal counted once"
    );
}

/// Handshake-refused certificates are listed in the register, so nothing but TLS refuses them.
#[test]
fn handshake_refused_certificates_are_registered() {
    let index = index();
    let register = register(&index);
    for e in clients(&index).filter(|e| e.expect == Some(Expect::HandshakeRefused)) {
        let peer = PeerIdentity::from_der(&chain(e)[0]).expect("identity");
        let orgnr = peer.orgnr.expect("carries an organisation number");
        register
            .authorize(&orgnr, &peer.fingerprint, chrono::Utc::now())
            .unwrap_or_else(|d| panic!("{}: {d}", e.name));
    }
}

/// What a client saw.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Handshake done and the server's greeting read; the negotiated ALPN protocol.
    Served(Option<Vec<u8>>),
    /// The server's alert.
    Alert(AlertDescription),
    /// Something else went wrong.
    Other(String),
}

fn alert_of(e: &std::io::Error) -> Seen {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => Seen::Alert(*a),
        _ => Seen::Other(e.to_string()),
    }
}

/// One connection from a client presenting `client` (or no certificate) over `version`.
async fn connect(
    addr: std::net::SocketAddr,
    root: &Path,
    client: Option<&IndexEntry>,
    version: &'static rustls::SupportedProtocolVersion,
) -> Seen {
    let mut roots = rustls::RootCertStore::empty();
    let f = std::fs::File::open(root).expect("root");
    for c in rustls_pemfile::certs(&mut BufReader::new(f)) {
        roots.add(c.expect("root PEM")).expect("root cert");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .expect("versions")
    .with_root_certificates(roots);
    let mut config = match client {
        Some(e) => builder
            .with_client_auth_cert(chain(e), key(e))
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = match connector.connect(name, tcp).await {
        Ok(s) => s,
        Err(e) => return alert_of(&e),
    };
    // In TLS 1.3 the client finishes before the server has judged its certificate: the
    // verdict arrives with the first read.
    let mut buf = [0u8; 3];
    match tls.read_exact(&mut buf).await {
        Ok(_) if &buf == b"ok\n" => {
            Seen::Served(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
        }
        Ok(_) => Seen::Other(format!("unexpected greeting {buf:?}")),
        Err(e) => alert_of(&e),
    }
}

/// A server on 127.0.0.1:0 with the index's TLS files that greets each client with "ok\n".
async fn server(state: Arc<TlsState>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(state.current());
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"ok\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn real_handshakes_refuse_with_the_right_alert_and_count_the_reason() {
    let index = index();
    let state = Arc::new(TlsState::new(&tls_files(&index), chrono::Utc::now()).expect("TLS state"));
    let addr = server(state.clone()).await;
    let root = path(&index.entry("root-ca").expect("root-ca").cert);
    let accepted = clients(&index)
        .find(|e| e.expect == Some(Expect::Accepted))
        .expect("an accepted client");
    let refused: Vec<_> = clients(&index)
        .filter(|e| e.expect == Some(Expect::HandshakeRefused))
        .collect();
    let versions = [&rustls::version::TLS12, &rustls::version::TLS13];
    for version in versions {
        assert_eq!(
            connect(addr, &root, Some(accepted), version).await,
            Seen::Served(Some(b"http/1.1".to_vec())),
            "{} over {:?}",
            accepted.name,
            version.version
        );
        for e in &refused {
            let want = match e.reason.as_deref() {
                Some("expired" | "not_yet_valid") => AlertDescription::CertificateExpired,
                Some("revoked") => AlertDescription::CertificateRevoked,
                Some("unknown_issuer") => AlertDescription::UnknownCA,
                Some("invalid_purpose") => AlertDescription::UnsupportedCertificate,
                // folkreg's own refusal (KeyUsage), which rustls sends as "unknown".
                Some("key_usage") => AlertDescription::CertificateUnknown,
                other => panic!("{}: no alert known for {other:?}", e.name),
            };
            assert_eq!(
                connect(addr, &root, Some(e), version).await,
                Seen::Alert(want),
                "{} over {:?}",
                e.name,
                version.version
            );
        }
    }
    for e in &refused {
        let reason = FailureReason::ALL
            .into_iter()
            .find(|r| Some(r.as_str()) == e.reason.as_deref())
            .expect("a counted reason");
        let per_reason = refused.iter().filter(|x| x.reason == e.reason).count() as u64;
        assert_eq!(
            state.failures().get(reason),
            per_reason * versions.len() as u64,
            "{} counted by reason",
            e.name
        );
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let index = index();
    let state = Arc::new(TlsState::new(&tls_files(&index), chrono::Utc::now()).expect("TLS state"));
    let addr = server(state).await;
    let root = path(&index.entry("root-ca").expect("root-ca").cert);
    assert_eq!(
        connect(addr, &root, None, &rustls::version::TLS13).await,
        Seen::Alert(AlertDescription::CertificateRequired)
    );
    assert!(matches!(
        connect(addr, &root, None, &rustls::version::TLS12).await,
        Seen::Alert(_)
    ));
}
