//! Register tests: the checker's refusals (table-driven, with lines), authorisation, edits.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::TimeZone;

use super::*;

const FP_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const FP_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const FP_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/// A valid register: two organisations, three certificates (one with a window, one revoked).
const GOOD: &str = r#"# the development register
[[organisation]]
orgnr = "2021004748"            # Lunds universitet
namn = "Lunds universitet"
categories = ["grund", "relationer"]
switches = ["samordningsnummer"]
bestallningar = ["00000079-FO01-0001"]

[[organisation.certificate]]
sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
not_before = "2026-01-01T00:00:00Z"
not_after = "2028-01-01T00:00:00Z"
comment = "production server 1"

[[organisation.certificate]]
sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
revoked = false # kept

[[organisation]]
orgnr = "165560160680"
namn = "Exempel AB"
bestallningar = ["00000079-FO03-0001", "00000079-FO03-0002"]

[[organisation.certificate]]
sha256 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
revoked = true
"#;

fn fp(s: &str) -> [u8; 32] {
    parse_fingerprint(s).expect("fingerprint")
}

fn org(s: &str) -> OrgNr {
    OrgNr::parse(s).expect("orgnr")
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn parse(text: &str) -> Result<Register, RegisterError> {
    Register::parse(text, Path::new("register.toml"))
}

#[test]
fn good_register_parses_with_grund_implied() {
    let r = parse(GOOD).expect("valid");
    assert_eq!(r.organisations().len(), 2);
    let lund = r.organisation(&org("2021004748")).expect("lund");
    assert_eq!(lund.namn, "Lunds universitet");
    assert_eq!(
        lund.categories,
        BTreeSet::from([Category::Grund, Category::Relationer])
    );
    assert!(lund.has_switch(Switch::Samordningsnummer));
    assert!(lund.allows_bestallning("00000079-FO01-0001"));
    assert!(!lund.allows_bestallning("00000079-FO01-0002"));
    assert_eq!(lund.certificates.len(), 2);
    assert_eq!(lund.certificates[0].not_before, Some(at(2026, 1, 1)));
    assert_eq!(
        lund.certificates[0].comment.as_deref(),
        Some("production server 1")
    );
    let exempel = r
        .organisation(&org("5560160680"))
        .expect("12-digit form read");
    assert_eq!(exempel.categories, BTreeSet::from([Category::Grund]));
    assert!(exempel.switches.is_empty());
    assert_eq!(r.certificates().count(), 3);
}

#[test]
fn authorize_says_precisely_why() {
    let r = parse(GOOD).expect("valid");
    let lund = org("2021004748");
    let exempel = org("5560160680");
    let unknown = org("5591001234");
    let inside = at(2027, 6, 1);
    // (what, subject's organisation, fingerprint, now, decision)
    type Case = (
        &'static str,
        OrgNr,
        &'static str,
        DateTime<Utc>,
        Result<(), Denied>,
    );
    let cases: Vec<Case> = vec![
        ("permitted inside the window", lund, FP_A, inside, Ok(())),
        (
            "permitted at not_before",
            lund,
            FP_A,
            at(2026, 1, 1),
            Ok(()),
        ),
        (
            "before the window",
            lund,
            FP_A,
            at(2025, 12, 31),
            Err(Denied::NotYetPermitted {
                from: at(2026, 1, 1),
            }),
        ),
        (
            "at not_after (exclusive)",
            lund,
            FP_A,
            at(2028, 1, 1),
            Err(Denied::NoLongerPermitted {
                until: at(2028, 1, 1),
            }),
        ),
        ("no window", lund, FP_B, at(2099, 1, 1), Ok(())),
        ("revoked", exempel, FP_C, inside, Err(Denied::Revoked)),
        (
            "unregistered certificate of a listed organisation",
            lund,
            "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
            inside,
            Err(Denied::UnknownCertificate),
        ),
        (
            "unknown organisation",
            unknown,
            "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
            inside,
            Err(Denied::UnknownOrganisation),
        ),
        (
            "certificate of another organisation",
            exempel,
            FP_A,
            inside,
            Err(Denied::CertificateOfOtherOrganisation),
        ),
        (
            "registered certificate, subject names an unknown organisation",
            unknown,
            FP_A,
            inside,
            Err(Denied::CertificateOfOtherOrganisation),
        ),
    ];
    for (what, orgnr, fingerprint, now, want) in cases {
        let got = r.authorize(&orgnr, &fp(fingerprint), now).map(|_| ());
        assert_eq!(got, want, "{what}");
    }
}

/// One mistake per case: the text, the line the checker must name, the field, a word of the
/// message.
#[test]
fn check_refuses_with_line_and_field() {
    let org_a =
        |extra: &str| format!("[[organisation]]\norgnr = \"2021004748\"\nnamn = \"A\"\n{extra}");
    let cert = |lines: &str| format!("{}\n[[organisation.certificate]]\n{lines}", org_a(""));
    let cases: Vec<(&str, String, usize, &str, &str)> = vec![
        (
            "unknown category",
            org_a("categories = [\"grund\",\n  \"hemligt\"]\n"),
            5,
            "organisation.categories",
            "unknown category `hemligt`",
        ),
        (
            "category twice",
            org_a("categories = [\"taxering\", \"taxering\"]\n"),
            4,
            "organisation.categories",
            "listed twice",
        ),
        (
            "unknown switch",
            org_a("switches = [\"allt\"]\n"),
            4,
            "organisation.switches",
            "unknown switch `allt`",
        ),
        (
            "check digit",
            "\n[[organisation]]\norgnr = \"2021004747\"\nnamn = \"A\"\n".to_owned(),
            3,
            "organisation.orgnr",
            "check digit",
        ),
        (
            "orgnr length",
            "[[organisation]]\nnamn = \"A\"\norgnr = \"20210047\"\n".to_owned(),
            3,
            "organisation.orgnr",
            "8 characters",
        ),
        (
            "duplicate orgnr",
            format!("{}\n{}", org_a(""), "[[organisation]]\nnamn = \"B\"\norgnr = \"162021004748\"\n"),
            7,
            "organisation.orgnr",
            "listed twice (first on line 2)",
        ),
        (
            "empty namn",
            org_a("").replace("\"A\"", "\" \""),
            3,
            "organisation.namn",
            "empty",
        ),
        (
            "bad BestallningsId",
            org_a("bestallningar = [\"00000079 FO01\"]\n"),
            4,
            "organisation.bestallningar",
            "not a BestallningsId",
        ),
        (
            "fingerprint not hex",
            cert("sha256 = \"xyz\"\n"),
            6,
            "organisation.certificate.sha256",
            "64 lowercase hex",
        ),
        (
            "fingerprint upper case",
            cert(&format!("sha256 = \"{}\"\n", FP_A.to_uppercase())),
            6,
            "organisation.certificate.sha256",
            "lowercase",
        ),
        (
            "fingerprint twice in one organisation",
            cert(&format!(
                "sha256 = \"{FP_A}\"\n\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\n"
            )),
            9,
            "organisation.certificate.sha256",
            "this organisation (line 6)",
        ),
        (
            "fingerprint across organisations",
            format!(
                "{}\n[[organisation]]\norgnr = \"5560160680\"\nnamn = \"B\"\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\n",
                cert(&format!("sha256 = \"{FP_A}\"\n"))
            ),
            12,
            "organisation.certificate.sha256",
            "organisation 2021004748 (line 6)",
        ),
        (
            "window ends before it starts",
            cert(&format!(
                "sha256 = \"{FP_A}\"\nnot_before = \"2027-01-01T00:00:00Z\"\nnot_after = \"2026-01-01T00:00:00Z\"\n"
            )),
            8,
            "organisation.certificate.not_after",
            "ends",
        ),
        (
            "empty window",
            cert(&format!(
                "sha256 = \"{FP_A}\"\nnot_before = \"2027-01-01T00:00:00Z\"\nnot_after = 2027-01-01T00:00:00Z\n"
            )),
            8,
            "organisation.certificate.not_after",
            "before it starts",
        ),
        (
            "bad timestamp",
            cert(&format!("sha256 = \"{FP_A}\"\nnot_before = \"2026-13-01\"\n")),
            7,
            "organisation.certificate.not_before",
            "RFC 3339",
        ),
        (
            "timestamp without offset",
            cert(&format!("sha256 = \"{FP_A}\"\nnot_after = 2026-01-01T00:00:00\n")),
            7,
            "organisation.certificate.not_after",
            "RFC 3339",
        ),
        (
            "timestamp of the wrong type",
            cert(&format!("sha256 = \"{FP_A}\"\ncert_expires = 2026\n")),
            7,
            "organisation.certificate.cert_expires",
            "integer",
        ),
    ];
    for (what, text, line, field, words) in cases {
        match parse(&text) {
            Err(RegisterError::Invalid { path, problems }) => {
                assert_eq!(problems.len(), 1, "{what}: {problems:?}");
                let p = &problems[0];
                assert_eq!((p.line, p.field.as_str()), (line, field), "{what}: {p:?}");
                assert!(p.message.contains(words), "{what}: {}", p.message);
                assert_eq!(path, Path::new("register.toml"));
            }
            other => panic!("{what}: expected Invalid, got {other:?}\n{text}"),
        }
    }
}

/// "This organisation" means the same `[[organisation]]` table: two tables whose numbers are
/// unreadable, or the same, are still two organisations in the message.
#[test]
fn a_fingerprint_repeated_across_tables_names_the_first_table() {
    let two = |a: &str, b: &str| {
        format!(
            "[[organisation]]\norgnr = \"{a}\"\nnamn = \"A\"\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\n\
             [[organisation]]\norgnr = \"{b}\"\nnamn = \"B\"\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\n"
        )
    };
    let cases = [
        (
            "both numbers fail their check digit",
            two("2021004747", "5560160681"),
            "fingerprint already listed for the organisation on line 2 (line 5)",
        ),
        (
            "the same number twice",
            two("2021004748", "162021004748"),
            "fingerprint already listed for organisation 2021004748 (line 5)",
        ),
    ];
    for (what, text, want) in cases {
        let Err(RegisterError::Invalid { problems, .. }) = parse(&text) else {
            panic!("{what}: invalid expected")
        };
        let p = problems
            .iter()
            .find(|p| p.field == "organisation.certificate.sha256")
            .unwrap_or_else(|| panic!("{what}: no fingerprint problem in {problems:?}"));
        assert_eq!((p.line, p.message.as_str()), (10, want), "{what}");
    }
}

#[test]
fn structural_mistakes_name_line_and_field() {
    let cases = [
        (
            "unknown key",
            "[[organisation]]\norgnr = \"2021004748\"\nnamn = \"A\"\nkategorier = []\n",
            4,
            "kategorier",
        ),
        (
            "missing namn",
            "[[organisation]]\norgnr = \"2021004748\"\n",
            1,
            "namn",
        ),
        ("syntax", "[[organisation]\n", 1, ""),
        (
            "wrong type",
            "[[organisation]]\norgnr = 2021004748\nnamn = \"A\"\n",
            2,
            "string",
        ),
    ];
    for (what, text, line, words) in cases {
        match parse(text) {
            Err(RegisterError::Parse {
                line: got, message, ..
            }) => {
                assert_eq!(got, line, "{what}: {message}");
                assert!(message.contains(words), "{what}: {message}");
            }
            other => panic!("{what}: expected Parse, got {other:?}"),
        }
    }
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = format!(
        "[[organisation]]\norgnr = \"2021004747\"\nnamn = \"A\"\ncategories = [\"x\"]\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\nnot_after = \"never\"\n"
    );
    let Err(RegisterError::Invalid { problems, path }) = parse(&text) else {
        panic!("invalid expected")
    };
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 4, 7]);
    let shown = RegisterError::Invalid { path, problems }.to_string();
    assert!(
        shown.starts_with("register.toml:2: field `organisation.orgnr`"),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 3);
}

#[test]
fn an_empty_register_is_valid() {
    assert!(parse("").expect("empty").organisations().is_empty());
    assert!(parse("# nothing yet\n").is_ok());
}

#[test]
fn list_shows_every_certificate_with_its_state() {
    let r = parse(GOOD).expect("valid");
    let text = r.list(at(2027, 1, 1));
    assert!(text.contains("2021004748  Lunds universitet"), "{text}");
    assert!(text.contains(&format!("cert {FP_A}  permitted")), "{text}");
    assert!(
        text.contains(&format!("cert {FP_C}  revoked  [no window]")),
        "{text}"
    );
    assert!(text.contains("categories:    grund,relationer"), "{text}");
    let expired = parse(&format!(
        "[[organisation]]\norgnr = \"2021004748\"\nnamn = \"A\"\n[[organisation.certificate]]\nsha256 = \"{FP_A}\"\ncert_expires = \"2026-06-01T00:00:00Z\"\n"
    ))
    .expect("valid")
    .list(at(2027, 1, 1));
    assert!(
        expired
            .contains("permitted, certificate expired  [no window]  expires 2026-06-01T00:00:00Z"),
        "{expired}"
    );
    let later = r.list(at(2029, 1, 1));
    assert!(
        later.contains(&format!("cert {FP_A}  no longer permitted")),
        "{later}"
    );
}

#[test]
fn fingerprint_and_time_arguments() {
    let colons = FP_A
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(fp(&colons), fp(FP_A));
    assert!(matches!(
        parse_fingerprint("abc"),
        Err(RegisterError::BadFingerprint(_))
    ));
    assert_eq!(
        "sekretess".parse::<Category>().ok(),
        Some(Category::Sekretess)
    );
    assert_eq!(
        "sarskilda_uppgifter".parse::<Switch>().ok(),
        Some(Switch::SarskildaUppgifter)
    );
    assert!(matches!(
        "allt".parse::<Category>(),
        Err(crate::access::UnknownName {
            what: "category",
            ..
        })
    ));
}

mod edits {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("register.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).expect("read")
    }

    #[test]
    fn add_org_keeps_comments_and_appends() {
        let (_d, path) = file(GOOD);
        add_org(
            &path,
            &org("5591001234"),
            "Ny Kund AB",
            &BTreeSet::from([Category::Taxering]),
            &BTreeSet::from([Switch::TilldelatPersonnummer]),
            &["00000079-FO04-0001".to_owned()],
        )
        .expect("added");
        let text = read(&path);
        assert!(text.starts_with(GOOD), "existing text untouched:\n{text}");
        assert!(text.contains("orgnr = \"2021004748\"            # Lunds universitet"));
        let r = Register::load(&path).expect("valid after edit");
        let new = r.organisation(&org("5591001234")).expect("new org");
        assert_eq!(
            new.categories,
            BTreeSet::from([Category::Grund, Category::Taxering])
        );
        assert!(new.has_switch(Switch::TilldelatPersonnummer));
        assert!(new.allows_bestallning("00000079-FO04-0001"));
        let again = add_org(
            &path,
            &org("5591001234"),
            "x",
            &BTreeSet::new(),
            &BTreeSet::new(),
            &[],
        );
        assert!(matches!(
            again,
            Err(RegisterError::OrganisationExists { .. })
        ));
    }

    #[test]
    fn add_org_creates_a_missing_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("new.toml");
        add_org(
            &path,
            &org("2021004748"),
            "Lunds universitet",
            &BTreeSet::new(),
            &BTreeSet::new(),
            &["00000079-FO01-0001".to_owned()],
        )
        .expect("created");
        let r = Register::load(&path).expect("valid");
        assert_eq!(r.organisations().len(), 1);
        let text = read(&path);
        assert!(
            text.starts_with("# folkreg organisation register"),
            "{text}"
        );
    }

    #[test]
    fn add_cert_by_fingerprint_lands_under_its_organisation() {
        let (_d, path) = file(GOOD);
        let d = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
        add_cert(
            &path,
            &org("2021004748"),
            &CertSource::from_arg(d),
            Some(at(2026, 1, 1)),
            None,
            Some("server 2"),
        )
        .expect("added");
        let r = Register::load(&path).expect("valid");
        // Lund is the first organisation: the new table must not slide under the last one.
        let (owner, cert) = r.certificate(&fp(d)).expect("listed");
        assert_eq!(owner.orgnr, org("2021004748"));
        assert_eq!(cert.not_before, Some(at(2026, 1, 1)));
        assert_eq!(cert.comment.as_deref(), Some("server 2"));
        assert!(read(&path).contains("revoked = false # kept"));
        let dup = add_cert(
            &path,
            &org("5560160680"),
            &CertSource::from_arg(d),
            None,
            None,
            None,
        );
        assert!(matches!(dup, Err(RegisterError::CertificateExists { .. })));
        let none = add_cert(
            &path,
            &org("5591001234"),
            &CertSource::from_arg(FP_A.replace('a', "e").as_str()),
            None,
            None,
            None,
        );
        assert!(matches!(
            none,
            Err(RegisterError::NoSuchOrganisation { .. })
        ));
    }

    #[test]
    fn add_cert_to_an_organisation_without_certificates() {
        let text = "[[organisation]]\norgnr = \"2021004748\"\nnamn = \"A\"\n\n[[organisation]]\norgnr = \"5560160680\"\nnamn = \"B\"\n";
        let (_d, path) = file(text);
        add_cert(
            &path,
            &org("2021004748"),
            &CertSource::Fingerprint(fp(FP_A)),
            None,
            None,
            None,
        )
        .expect("added");
        let r = Register::load(&path).expect("valid");
        assert_eq!(
            r.certificate(&fp(FP_A)).map(|(o, _)| o.orgnr),
            Some(org("2021004748"))
        );
    }

    #[test]
    fn add_cert_from_a_pem_checks_the_organisation_and_records_expiry() {
        let dir = tempfile::tempdir().expect("dir");
        let register = dir.path().join("register.toml");
        crate::dev::devcerts::dev_certs(dir.path(), &register).expect("dev certs");
        let target = dir.path().join("r.toml");
        std::fs::write(&target, GOOD).expect("write");
        let pem = dir.path().join("client-unregistered.pem");
        let wrong = add_cert(
            &target,
            &org("5560160680"),
            &CertSource::File(pem.clone()),
            None,
            None,
            None,
        );
        assert!(
            matches!(wrong, Err(RegisterError::CertificateOrganisation { .. })),
            "{wrong:?}"
        );
        let added = add_cert(
            &target,
            &org("2021004748"),
            &CertSource::File(pem.clone()),
            None,
            None,
            None,
        )
        .expect("added");
        let peer =
            crate::tls::PeerIdentity::from_der(&crate::tls::read_certs(&pem).expect("pem")[0])
                .expect("identity");
        assert_eq!(added, peer.fingerprint, "add_cert returns what it added");
        assert_eq!(
            CertSource::File(pem.clone())
                .fingerprint()
                .expect("fingerprint"),
            peer.fingerprint,
            "the file's fingerprint is the SHA-256 of its DER"
        );
        let r = Register::load(&target).expect("valid");
        let (_, cert) = r.certificate(&peer.fingerprint).expect("listed");
        assert_eq!(cert.cert_expires, Some(peer.not_after));
        let no_number = add_cert(
            &target,
            &org("2021004748"),
            &CertSource::File(dir.path().join("client-no-orgnr.pem")),
            None,
            None,
            None,
        );
        assert!(matches!(
            no_number,
            Err(RegisterError::CertificateOrganisation { found: None, .. })
        ));
        let missing = CertSource::File(dir.path().join("no-such.pem")).fingerprint();
        assert!(
            matches!(&missing, Err(e @ RegisterError::Certificate { .. }) if e.is_input_error()),
            "{missing:?}"
        );
    }

    #[test]
    fn add_cert_refuses_a_certificate_not_meant_for_tls_clients() {
        use crate::tls::LeafProblem;
        let dir = tempfile::tempdir().expect("dir");
        let register = dir.path().join("register.toml");
        crate::dev::devcerts::dev_certs(dir.path(), &register).expect("dev certs");
        let target = dir.path().join("r.toml");
        std::fs::write(&target, GOOD).expect("write");
        // Each names its own organisation correctly: only what it may be used for is wrong.
        let cases = [
            (
                "client-no-digital-signature",
                LeafProblem::NoDigitalSignature,
            ),
            ("client-no-eku", LeafProblem::NoExtendedKeyUsage),
            ("client-server-eku", LeafProblem::NoClientAuth),
        ];
        for (name, problem) in cases {
            let pem = dir.path().join(format!("{name}.pem"));
            let orgnr =
                crate::tls::PeerIdentity::from_der(&crate::tls::read_certs(&pem).expect("pem")[0])
                    .expect("identity")
                    .orgnr
                    .expect("an organisation number");
            let r = add_cert(&target, &orgnr, &CertSource::File(pem), None, None, None);
            match r {
                Err(ref e @ RegisterError::CertificateUse { ref source, .. }) => {
                    assert_eq!(source.problems, vec![problem.clone()], "{name}");
                    assert!(e.is_input_error(), "{name}");
                    assert!(e.to_string().contains(&problem.to_string()), "{e}");
                    assert!(e.to_string().contains(&format!("{name}.pem")), "{e}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(read(&target), GOOD, "nothing written");
    }

    #[test]
    fn revoke_keeps_the_line_and_remove_drops_the_table() {
        let (_d, path) = file(GOOD);
        assert_eq!(
            revoke_cert(&path, &fp(FP_B)).expect("revoked"),
            org("2021004748")
        );
        let text = read(&path);
        assert!(text.contains("revoked = true # kept"), "{text}");
        let now = at(2027, 1, 1);
        let r = Register::load(&path).expect("valid");
        assert_eq!(
            r.authorize(&org("2021004748"), &fp(FP_B), now).map(|_| ()),
            Err(Denied::Revoked)
        );
        revoke_cert(&path, &fp(FP_A)).expect("revoked without a revoked key");
        assert!(Register::load(&path)
            .expect("valid")
            .certificate(&fp(FP_A))
            .is_some_and(|(_, c)| c.revoked));

        assert_eq!(
            remove_cert(&path, &fp(FP_A)).expect("removed"),
            org("2021004748")
        );
        let r = Register::load(&path).expect("valid");
        assert!(r.certificate(&fp(FP_A)).is_none());
        assert!(r.certificate(&fp(FP_B)).is_some());
        assert!(read(&path).contains("# the development register"));
        assert!(matches!(
            remove_cert(&path, &fp(FP_A)),
            Err(RegisterError::NoSuchCertificate { .. })
        ));
        assert!(matches!(
            revoke_cert(&path, &fp(FP_A)),
            Err(RegisterError::NoSuchCertificate { .. })
        ));
    }

    #[test]
    fn an_edit_that_would_make_the_file_invalid_is_refused_and_nothing_written() {
        let text = format!("{GOOD}\n[[organisation]]\norgnr = \"2021004747\"\nnamn = \"broken\"\n");
        let (_d, path) = file(&text);
        let r = revoke_cert(&path, &fp(FP_A));
        assert!(matches!(r, Err(RegisterError::Invalid { .. })), "{r:?}");
        assert_eq!(read(&path), text, "file untouched");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    /// Problems the edit would bring are the edit's (their lines are of text never written);
    /// problems the file already has are the file's, with its lines.
    #[test]
    fn a_refused_edit_says_whether_the_edit_or_the_file_is_at_fault() {
        let (_d, path) = file(GOOD);
        let empty_name = add_org(
            &path,
            &org("5591001234"),
            " ",
            &BTreeSet::new(),
            &BTreeSet::new(),
            &[],
        );
        match &empty_name {
            Err(e @ RegisterError::EditRefused { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].field, "organisation.namn");
                assert!(e.is_input_error());
                assert!(
                    e.to_string().ends_with(
                        "the edit would break field `organisation.namn`: must not be empty"
                    ),
                    "{e}"
                );
            }
            other => panic!("expected EditRefused, got {other:?}"),
        }
        let reversed = add_cert(
            &path,
            &org("2021004748"),
            &CertSource::from_arg(&FP_A.replace('a', "d")),
            Some(at(2030, 1, 1)),
            Some(at(2029, 1, 1)),
            None,
        );
        assert!(
            matches!(&reversed, Err(RegisterError::EditRefused { problems, .. })
                if problems[0].field == "organisation.certificate.not_after"),
            "{reversed:?}"
        );
        assert_eq!(read(&path), GOOD, "file untouched");
    }

    #[test]
    fn an_edit_may_repair_an_invalid_file() {
        let text = GOOD.replace(FP_B, FP_A);
        assert!(matches!(parse(&text), Err(RegisterError::Invalid { .. })));
        let (_d, path) = file(&text);
        remove_cert(&path, &fp(FP_A)).expect("removing the repeated fingerprint repairs the file");
        let r = Register::load(&path).expect("valid now");
        assert_eq!(r.certificates().count(), 2);
    }
}

#[test]
fn spar_customer_numbers_are_checked_and_decide_the_pair() {
    let text =
        format!("{GOOD}\n[[organisation.spar]]\nleveransmottagare = 500200\nslutkund = 500201\n");
    let r = parse(&text).expect("valid");
    let exempel = r.organisation(&org("165560160680")).expect("listed");
    assert!(exempel.allows_spar(500_200, 500_201));
    assert!(
        !exempel.allows_spar(500_201, 500_200),
        "the pair, in its order"
    );
    let lund = r.organisation(&org("2021004748")).expect("listed");
    assert!(lund.spar.is_empty() && !lund.allows_spar(500_200, 500_201));

    let cases = [
        (
            "leveransmottagare = 500000\nslutkund = 500201",
            "organisation.spar.leveransmottagare",
        ),
        (
            "leveransmottagare = 500200\nslutkund = 600000",
            "organisation.spar.slutkund",
        ),
        (
            "leveransmottagare = -1\nslutkund = 500201",
            "organisation.spar.leveransmottagare",
        ),
    ];
    for (pair, field) in cases {
        let text = format!("{GOOD}\n[[organisation.spar]]\n{pair}\n");
        match parse(&text) {
            Err(RegisterError::Invalid { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{pair}");
                assert_eq!(problems[0].field, field, "{pair}");
                assert!(problems[0].message.contains("500001–599999"), "{pair}");
            }
            other => panic!("{pair}: {other:?}"),
        }
    }
    let twice = "\n[[organisation.spar]]\nleveransmottagare = 500200\nslutkund = 500201\n";
    match parse(&format!("{GOOD}{twice}{twice}")) {
        Err(RegisterError::Invalid { problems, .. }) => {
            assert!(problems[0].message.contains("listed twice"), "{problems:?}")
        }
        other => panic!("{other:?}"),
    }
}
