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

/// A CA of the development PKI, to issue further certificates and CRLs with.
type Ca = crate::dev::devcerts::DevCa;

impl Pki {
    /// `root-ca` or `intermediate-ca`, re-made as an rcgen issuer from its files.
    fn ca(&self, name: &str) -> Ca {
        Ca::from_files(
            &self.path(&format!("{name}.pem")),
            &self.path(&format!("{name}.key")),
        )
        .expect("CA")
    }

    /// Writes a CRL file: the intermediate's CRL (number `number`, next update `next`,
    /// revoking `revoked`), then the root's (number `number`, a year ahead) unless
    /// `with_root` is false. Returns the files with it as the only CRL file.
    fn with_crls(
        &self,
        file: &str,
        number: u64,
        next: time::OffsetDateTime,
        revoked: &[rcgen::SerialNumber],
        with_root: bool,
    ) -> TlsFiles {
        let year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
        let mut pem = crl_pem(&self.ca("intermediate-ca"), number, next, revoked);
        if with_root {
            pem += &crl_pem(&self.ca("root-ca"), number, year, &[]);
        }
        let path = self.path(file);
        std::fs::write(&path, pem).expect("write CRLs");
        TlsFiles {
            crls: vec![path],
            ..self.files()
        }
    }

    /// The serial number of a development client certificate.
    fn serial_of(&self, name: &str) -> rcgen::SerialNumber {
        let chain = self.chain(name);
        let (_, cert) = x509_parser::parse_x509_certificate(&chain[0]).expect("parses");
        rcgen::SerialNumber::from_slice(cert.raw_serial())
    }
}

/// A CRL by `ca`, issued an hour ago (a day before `next_update` if that is earlier).
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

/// A client leaf issued by `ca` with these key usages and extended key usages (empty: the
/// extension is left out).
fn issue_leaf(
    ca: &Ca,
    key_usages: &[rcgen::KeyUsagePurpose],
    ekus: &[rcgen::ExtendedKeyUsagePurpose],
) -> CertificateDer<'static> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "folkreg policy test");
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.key_usages = key_usages.to_vec();
    p.extended_key_usages = ekus.to_vec();
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(30);
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x10;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("leaf");
    CertificateDer::from(cert.der().to_vec())
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
    let config = server_config(&pki.files(), &failures, Utc::now()).expect("config");
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
        ("client-no-eku", FailureReason::InvalidPurpose),
        ("client-no-digital-signature", FailureReason::KeyUsage),
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
    let state = TlsState::new(&pki.files(), Utc::now()).expect("state");
    let first = state.current();
    let mut broken = pki.files();
    broken.key = pki.path("client-lund.key"); // does not match server.pem
    let err = state
        .reload(&broken, Utc::now())
        .expect_err("mismatched key");
    assert!(matches!(err, TlsError::ServerIdentity { .. }), "{err}");
    assert!(
        Arc::ptr_eq(&first, &state.current()),
        "old configuration kept"
    );
    let mut missing = pki.files();
    missing.client_ca = pki.path("nope.pem");
    assert!(matches!(
        state.reload(&missing, Utc::now()),
        Err(TlsError::Read { .. })
    ));
    assert!(Arc::ptr_eq(&first, &state.current()));
    state.reload(&pki.files(), Utc::now()).expect("good reload");
    assert!(
        !Arc::ptr_eq(&first, &state.current()),
        "new configuration in use"
    );
}

#[test]
fn counters_survive_a_reload() {
    let pki = Pki::new();
    let state = TlsState::new(&pki.files(), Utc::now()).expect("state");
    state.failures().record(FailureReason::Expired);
    state.reload(&pki.files(), Utc::now()).expect("reload");
    assert_eq!(state.failures().get(FailureReason::Expired), 1);
}

#[test]
fn expiry_lists_server_cas_and_crls() {
    let pki = Pki::new();
    let state = TlsState::new(&pki.files(), Utc::now()).expect("state");
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

#[test]
fn a_crl_past_its_next_update_is_refused_at_start_and_on_reload() {
    let pki = Pki::new();
    // At start, by the clock given: crl.pem's CRLs are current for ten years.
    let eleven_years_on = Utc::now() + chrono::Duration::days(11 * 366);
    let err = TlsState::new(&pki.files(), eleven_years_on)
        .err()
        .expect("expired at start");
    assert!(
        matches!(&err, TlsError::CrlExpired { path, index: 1, issuer, .. }
            if path.ends_with("crl.pem") && issuer == "folkreg dev intermediate CA"),
        "{err}"
    );
    assert!(err.to_string().contains("crl.pem"), "names the file: {err}");
    assert_eq!(err.refusal(), ReloadRefusal::CrlExpired);

    // On reload: refused whole, the configuration in force stays.
    let state = TlsState::new(&pki.files(), Utc::now()).expect("state");
    let first = state.current();
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let expired = pki.with_crls("crl-expired.pem", 2, yesterday, &[], true);
    let err = state.reload(&expired, Utc::now()).expect_err("expired CRL");
    assert!(
        matches!(&err, TlsError::CrlExpired { path, index: 1, .. } if path.ends_with("crl-expired.pem")),
        "{err}"
    );
    assert!(
        Arc::ptr_eq(&first, &state.current()),
        "old configuration kept"
    );
    assert_eq!(
        state
            .crls_in_force()
            .of(&issuer_der(&pki, "intermediate-ca")),
        Some(&crl::CrlAge {
            number: Some(1u32.into()),
            this_update: crl_this_update(&pki.path("crl.pem")),
        }),
        "the CRLs in force are still crl.pem's"
    );
}

#[test]
fn an_older_crl_is_refused_so_a_revoked_certificate_stays_revoked() {
    let pki = Pki::new();
    let year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let revoked = [pki.serial_of("client-revoked")];
    let five = pki.with_crls("crl-5.pem", 5, year, &revoked, true);
    let state = TlsState::new(&five, Utc::now()).expect("state");
    let first = state.current();

    // CRL number 4 no longer lists the certificate: taking it would un-revoke it.
    let four = pki.with_crls("crl-4.pem", 4, year, &[], true);
    let err = state.reload(&four, Utc::now()).expect_err("older CRL");
    assert!(
        matches!(&err, TlsError::CrlOlder { path, index: 1, issuer, found, newer }
            if path.ends_with("crl-4.pem")
                && issuer == "folkreg dev intermediate CA"
                && found == "CRL number 4"
                && newer == "CRL number 5 in force"),
        "{err}"
    );
    assert_eq!(err.refusal(), ReloadRefusal::CrlOlder);
    assert!(
        Arc::ptr_eq(&first, &state.current()),
        "old configuration kept"
    );

    // The same CRL again (a reload for the register's sake) and a newer one are taken.
    state.reload(&five, Utc::now()).expect("same CRL number");
    let six = pki.with_crls("crl-6.pem", 6, year, &revoked, true);
    state.reload(&six, Utc::now()).expect("newer CRL");
    let intermediate = issuer_der(&pki, "intermediate-ca");
    assert_eq!(
        state
            .crls_in_force()
            .of(&intermediate)
            .and_then(|a| a.number.clone()),
        Some(6u32.into())
    );
    // Now 5 is the older one.
    let err = state.reload(&five, Utc::now()).expect_err("older than 6");
    assert!(matches!(err, TlsError::CrlOlder { .. }), "{err}");

    // An old CRL beside the newest of the same CA, in either order: webpki would use the
    // first, so the files are refused (at start too, with nothing in force to compare).
    let intermediate_ca = pki.ca("intermediate-ca");
    let root = crl_pem(&pki.ca("root-ca"), 6, year, &[]);
    let newest = crl_pem(&intermediate_ca, 7, year, &revoked);
    let old = crl_pem(&intermediate_ca, 3, year, &[]);
    for (name, pem, index) in [
        ("old-first.pem", old.clone() + &newest + &root, 1),
        ("old-last.pem", newest.clone() + &root + &old, 3),
    ] {
        std::fs::write(pki.path(name), pem).expect("write");
        let files = TlsFiles {
            crls: vec![pki.path(name)],
            ..pki.files()
        };
        let err = TlsState::new(&files, Utc::now())
            .err()
            .expect("two CRLs of one CA");
        assert!(
            matches!(&err, TlsError::CrlOlder { index: i, found, newer, .. }
                if *i == index
                    && found == "CRL number 3"
                    && newer == "CRL number 7 of the same CA in these files"),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_partition_crl_is_compared_only_with_its_own_partition() {
    // A CRL with an issuing distribution point numbers its own sequence: number 2 of a
    // partition beside number 7 of the whole scope is not "older".
    let pki = Pki::new();
    let year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let intermediate = pki.ca("intermediate-ca");
    let partition = |number: u64| {
        rcgen::CertificateRevocationListParams {
            this_update: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
            next_update: year,
            crl_number: rcgen::SerialNumber::from(number),
            issuing_distribution_point: Some(rcgen::CrlIssuingDistributionPoint {
                distribution_point: rcgen::CrlDistributionPoint {
                    uris: vec!["http://crl.invalid/part-1.crl".into()],
                },
                scope: Some(rcgen::CrlScope::UserCertsOnly),
            }),
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&intermediate.cert, &intermediate.key)
        .and_then(|c| c.pem())
        .expect("partition CRL")
    };
    let whole = crl_pem(&intermediate, 7, year, &[]) + &crl_pem(&pki.ca("root-ca"), 7, year, &[]);
    let write = |name: &str, pem: String| {
        std::fs::write(pki.path(name), pem).expect("write");
        TlsFiles {
            crls: vec![pki.path(name)],
            ..pki.files()
        }
    };
    let state =
        TlsState::new(&write("p2.pem", whole.clone() + &partition(2)), Utc::now()).expect("state");
    state
        .reload(&write("p3.pem", whole.clone() + &partition(3)), Utc::now())
        .expect("the partition's next CRL");
    let err = state
        .reload(&write("p1.pem", whole + &partition(1)), Utc::now())
        .expect_err("the partition's older CRL");
    assert!(
        matches!(&err, TlsError::CrlOlder { index: 3, newer, .. } if newer == "CRL number 3 in force"),
        "{err}"
    );
}

#[test]
fn a_ca_of_the_bundle_without_a_crl_is_refused() {
    let pki = Pki::new();
    let year = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let without_root = pki.with_crls("crl-no-root.pem", 2, year, &[], false);
    let err = TlsState::new(&without_root, Utc::now())
        .err()
        .expect("root CA without a CRL at start");
    assert!(
        matches!(&err, TlsError::CrlMissing { path, index: 1, ca }
            if path.ends_with("ca-bundle.pem") && ca == "folkreg dev root CA"),
        "{err}"
    );
    assert!(err.to_string().contains("ca-bundle.pem"), "{err}");
    assert_eq!(err.refusal(), ReloadRefusal::CrlMissing);

    let state = TlsState::new(&pki.files(), Utc::now()).expect("state");
    let first = state.current();
    let err = state
        .reload(&without_root, Utc::now())
        .expect_err("reload without the root's CRL");
    assert!(matches!(err, TlsError::CrlMissing { .. }), "{err}");
    assert!(
        Arc::ptr_eq(&first, &state.current()),
        "old configuration kept"
    );

    // No CRLs at all: revocation is off (warned), and there is nothing to be missing.
    let no_crls = TlsFiles {
        crls: Vec::new(),
        ..pki.files()
    };
    state
        .reload(&no_crls, Utc::now())
        .expect("no CRLs configured");
}

#[test]
fn crl_age_is_the_crl_number_else_this_update() {
    let t = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    };
    let age = |n: Option<u32>, at: &str| crl::CrlAge {
        number: n.map(Into::into),
        this_update: t(at),
    };
    // The number decides, even against the dates.
    assert!(
        age(Some(4), "2026-02-01T00:00:00Z").is_older_than(&age(Some(5), "2026-01-01T00:00:00Z"))
    );
    assert!(
        !age(Some(5), "2026-01-01T00:00:00Z").is_older_than(&age(Some(5), "2026-02-01T00:00:00Z"))
    );
    // Without a number on both sides, thisUpdate decides.
    assert!(age(None, "2026-01-01T00:00:00Z").is_older_than(&age(Some(5), "2026-02-01T00:00:00Z")));
    assert!(!age(Some(1), "2026-02-01T00:00:00Z").is_older_than(&age(None, "2026-01-01T00:00:00Z")));
}

#[test]
fn client_leaves_need_digital_signature_and_client_auth() {
    use rcgen::ExtendedKeyUsagePurpose as Eku;
    use rcgen::KeyUsagePurpose as Ku;
    let pki = Pki::new();
    let ca = pki.ca("intermediate-ca");
    let v = pki.verifier();
    /// (what, key usages, extended key usages, what the policy finds, how the handshake
    /// refuses it)
    type Case<'a> = (
        &'a str,
        &'a [Ku],
        &'a [Eku],
        Vec<LeafProblem>,
        Option<FailureReason>,
    );
    let cases: [Case; 8] = [
        (
            "signing client",
            &[Ku::DigitalSignature],
            &[Eku::ClientAuth],
            vec![],
            None,
        ),
        (
            "signing and encryption, client and server",
            &[Ku::DigitalSignature, Ku::KeyEncipherment],
            &[Eku::ServerAuth, Eku::ClientAuth],
            vec![],
            None,
        ),
        (
            "no KeyUsage extension",
            &[],
            &[Eku::ClientAuth],
            vec![LeafProblem::NoKeyUsage],
            Some(FailureReason::KeyUsage),
        ),
        (
            "keyCertSign only",
            &[Ku::KeyCertSign],
            &[Eku::ClientAuth],
            vec![LeafProblem::NoDigitalSignature],
            Some(FailureReason::KeyUsage),
        ),
        (
            "keyEncipherment only",
            &[Ku::KeyEncipherment],
            &[Eku::ClientAuth],
            vec![LeafProblem::NoDigitalSignature],
            Some(FailureReason::KeyUsage),
        ),
        (
            "no ExtendedKeyUsage extension",
            &[Ku::DigitalSignature],
            &[],
            vec![LeafProblem::NoExtendedKeyUsage],
            Some(FailureReason::InvalidPurpose),
        ),
        (
            "anyExtendedKeyUsage only",
            &[Ku::DigitalSignature],
            &[Eku::Any],
            vec![LeafProblem::NoClientAuth],
            Some(FailureReason::InvalidPurpose),
        ),
        (
            "neither extension",
            &[],
            &[],
            vec![LeafProblem::NoKeyUsage, LeafProblem::NoExtendedKeyUsage],
            Some(FailureReason::KeyUsage),
        ),
    ];
    for (what, kus, ekus, problems, reason) in cases {
        let leaf = issue_leaf(&ca, kus, ekus);
        let policy = check_client_leaf_der(&leaf);
        assert_eq!(
            policy.err().map(|e| e.problems).unwrap_or_default(),
            problems,
            "{what}"
        );
        let before = v.failures().total();
        let verdict = verify(&v, &[leaf]);
        assert_eq!(
            verdict.as_ref().err().map(FailureReason::of),
            reason,
            "{what}: {verdict:?}"
        );
        let counted = u64::from(reason.is_some());
        assert_eq!(v.failures().total(), before + counted, "{what} counted");
        if let Some(r) = reason {
            assert!(v.failures().get(r) > 0, "{what} counted as {r:?}");
        }
    }
}

/// The DER subject of a development CA (what a CRL's issuer is compared with).
fn issuer_der(pki: &Pki, name: &str) -> Vec<u8> {
    let der = pki.chain(name);
    let (_, cert) = x509_parser::parse_x509_certificate(&der[0]).expect("parses");
    cert.subject().as_raw().to_vec()
}

/// thisUpdate of the first CRL of a file.
fn crl_this_update(path: &Path) -> DateTime<Utc> {
    let crls = read_crls(path).expect("crls");
    let (_, crl) = x509_parser::parse_x509_crl(&crls[0]).expect("parses");
    timestamp(crl.last_update().timestamp())
}
