//! Unit tests of the TLS configuration and verifier against a freshly made development PKI.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::CertificateError;

use super::*;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        crate::dev::devcerts::dev_certs(dir.path(), &dir.path().join("register.dev.toml"))
            .expect("dev certs");
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: self.path("ca-bundle.pem"),
            crls: vec![self.path("crl.pem")],
        }
    }

    fn chain(&self, name: &str) -> Vec<CertificateDer<'static>> {
        read_certs(&self.path(&format!("{name}.pem"))).expect("chain")
    }

    fn verifier(&self) -> Arc<CountingVerifier> {
        let f = self.files();
        client_verifier(
            &f.client_ca,
            &f.crls,
            &Arc::new(HandshakeFailures::default()),
        )
        .expect("verifier")
    }
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

fn verify(v: &CountingVerifier, chain: &[CertificateDer<'static>]) -> Result<(), rustls::Error> {
    v.verify_client_cert(&chain[0], &chain[1..], now())
        .map(|_| ())
}

fn cert_error(r: Result<(), rustls::Error>) -> Option<CertificateError> {
    match r {
        Err(rustls::Error::InvalidCertificate(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn config_is_aead_suites_with_forward_secrecy_http11_no_resumption() {
    let pki = Pki::new();
    let failures = Arc::new(HandshakeFailures::default());
    let config = server_config(&pki.files(), &failures).expect("config");
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert_eq!(config.send_tls13_tickets, 0);
    let suites: Vec<String> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(suites.len(), 9);
    for s in &suites {
        assert!(
            s.contains("GCM") || s.contains("CHACHA20_POLY1305"),
            "AEAD only: {s}"
        );
        assert!(
            s.starts_with("TLS13_") || s.starts_with("TLS_ECDHE_"),
            "forward secrecy only: {s}"
        );
    }
}

#[test]
fn leaf_plus_intermediate_and_leaf_alone_both_verify() {
    let pki = Pki::new();
    let v = pki.verifier();
    let chain = pki.chain("client-lund");
    assert_eq!(chain.len(), 2, "client PEM holds leaf + intermediate");
    verify(&v, &chain).expect("leaf + intermediate");
    verify(&v, &chain[..1]).expect("leaf alone, intermediate from the bundle");
    assert_eq!(v.failures().total(), 0);
}

#[test]
fn intermediate_in_the_bundle_is_not_an_anchor() {
    // A bundle with only the intermediate has no root: refused when built.
    let pki = Pki::new();
    let only_intermediate = pki.path("intermediate-ca.pem");
    let err = client_verifier(
        &only_intermediate,
        &[],
        &Arc::new(HandshakeFailures::default()),
    )
    .expect_err("no anchor");
    assert!(matches!(err, TlsError::NoTrustAnchor { .. }), "{err}");
}

#[test]
fn each_bad_certificate_is_refused_and_counted_by_reason() {
    let pki = Pki::new();
    let v = pki.verifier();
    let cases = [
        ("client-expired", FailureReason::Expired),
        ("client-not-yet-valid", FailureReason::NotYetValid),
        ("client-revoked", FailureReason::Revoked),
        ("client-other-ca", FailureReason::UnknownIssuer),
        ("client-server-eku", FailureReason::InvalidPurpose),
    ];
    for (name, reason) in cases {
        let before = v.failures().get(reason);
        let r = verify(&v, &pki.chain(name));
        assert!(r.is_err(), "{name} must be refused");
        let err = r.err().map(|e| FailureReason::of(&e));
        assert_eq!(err, Some(reason), "{name}");
        assert_eq!(v.failures().get(reason), before + 1, "{name} counted");
    }
    assert_eq!(v.failures().total(), cases.len() as u64);
}

#[test]
fn server_auth_only_eku_is_invalid_purpose() {
    let pki = Pki::new();
    let e = cert_error(verify(&pki.verifier(), &pki.chain("client-server-eku")));
    assert!(
        matches!(
            e,
            Some(CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. })
        ),
        "{e:?}"
    );
}

#[test]
fn without_the_roots_crl_the_intermediate_status_is_unknown_and_refused() {
    // Fail closed: a CRL file holding only the intermediate's CRL leaves the intermediate's
    // own revocation status unknown.
    let pki = Pki::new();
    let text = std::fs::read_to_string(pki.path("crl.pem")).expect("crl");
    let first_end =
        text.find("-----END X509 CRL-----").expect("a CRL") + "-----END X509 CRL-----\n".len();
    let only_intermediate = pki.path("crl-intermediate-only.pem");
    std::fs::write(&only_intermediate, &text[..first_end]).expect("write");
    let failures = Arc::new(HandshakeFailures::default());
    let v = client_verifier(&pki.path("ca-bundle.pem"), &[only_intermediate], &failures)
        .expect("verifier");
    let r = verify(&v, &pki.chain("client-lund"));
    assert_eq!(
        r.err().map(|e| FailureReason::of(&e)),
        Some(FailureReason::RevocationUnknown)
    );
}

#[test]
fn der_crl_files_are_read() {
    let pki = Pki::new();
    let crls = read_crls(&pki.path("crl.pem")).expect("pem crls");
    assert_eq!(crls.len(), 2);
    let der_path = pki.path("intermediate.crl");
    std::fs::write(&der_path, crls[0].as_ref()).expect("write der");
    assert_eq!(read_crls(&der_path).expect("der crl").len(), 1);
}

#[test]
fn reload_swaps_only_a_configuration_that_builds() {
    let pki = Pki::new();
    let state = TlsState::new(&pki.files()).expect("state");
    let first = state.current();
    let mut broken = pki.files();
    broken.key = pki.path("client-lund.key"); // does not match server.pem
    let err = state.reload(&broken).expect_err("mismatched key");
    assert!(matches!(err, TlsError::ServerIdentity { .. }), "{err}");
    assert!(
        Arc::ptr_eq(&first, &state.current()),
        "old configuration kept"
    );
    let mut missing = pki.files();
    missing.client_ca = pki.path("nope.pem");
    assert!(matches!(state.reload(&missing), Err(TlsError::Read { .. })));
    assert!(Arc::ptr_eq(&first, &state.current()));
    state.reload(&pki.files()).expect("good reload");
    assert!(
        !Arc::ptr_eq(&first, &state.current()),
        "new configuration in use"
    );
}

#[test]
fn counters_survive_a_reload() {
    let pki = Pki::new();
    let state = TlsState::new(&pki.files()).expect("state");
    state.failures().record(FailureReason::Expired);
    state.reload(&pki.files()).expect("reload");
    assert_eq!(state.failures().get(FailureReason::Expired), 1);
}

#[test]
fn expiry_lists_server_cas_and_crls() {
    let pki = Pki::new();
    let state = TlsState::new(&pki.files()).expect("state");
    let report = state.expiry();
    let kinds: Vec<(ExpiryKind, &str)> = report
        .entries
        .iter()
        .map(|e| (e.kind, e.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ExpiryKind::ServerCertificate, "localhost"),
            (ExpiryKind::CaCertificate, "folkreg dev root CA"),
            (ExpiryKind::CaCertificate, "folkreg dev intermediate CA"),
            (ExpiryKind::CrlNextUpdate, "folkreg dev intermediate CA"),
            (ExpiryKind::CrlNextUpdate, "folkreg dev root CA"),
        ]
    );
    let days = report.days_until_expiry(Utc::now());
    let root = days
        .iter()
        .find(|(n, _)| n == "ca:folkreg dev root CA")
        .map(|(_, d)| *d)
        .unwrap_or_default();
    assert!((7200.0..7400.0).contains(&root), "root ~20 years: {root}");
    let server = days[0].1;
    assert!(
        (3600.0..3700.0).contains(&server),
        "server ~10 years: {server}"
    );
}

#[test]
fn files_name_themselves_in_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no pem here\n").expect("write");
    let err = read_certs(&empty).expect_err("no certs");
    assert!(err.to_string().contains("empty.pem"), "{err}");
    let err = read_key(&empty).expect_err("no key");
    assert!(matches!(err, TlsError::NoPrivateKey { .. }));
    let missing = Path::new("/nonexistent/folkreg/x.pem");
    assert!(matches!(read_certs(missing), Err(TlsError::Read { .. })));
}
