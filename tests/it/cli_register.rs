//! `folkreg register check|list|add-org|add-cert|revoke-cert|remove-cert` as an operator uses
//! them, on temporary copies of `deploy/register.dev.toml` and with the certificates of
//! `certs-dev/`: a refusal exits 2 naming file, line and field; an edit keeps the comments,
//! and a refused edit leaves the file byte for byte as it was.

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::common::{folkreg, folkreg_env};

/// A temporary copy of the development register, and the folder it lives in.
struct Reg {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Reg {
    /// The development register as generated.
    fn dev() -> Reg {
        Reg::dev_with(|t| t.to_owned())
    }

    /// The development register, changed by `edit`.
    fn dev_with(edit: impl FnOnce(&str) -> String) -> Reg {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("register.toml");
        std::fs::write(&path, edit(&dev_text())).expect("write the copy");
        Reg { dir, path }
    }

    /// `folkreg register <args> --register PATH`, run in the temporary folder with no
    /// configuration around, so only `--register` can name the file.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["register"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--register", path_str(&self.path)]);
        folkreg(self.dir.path(), &all)
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).expect("read the register")
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read the register")
    }

    fn list(&self) -> String {
        let o = self.run(&["list"]);
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        stdout(&o)
    }
}

fn dev_text() -> String {
    std::fs::read_to_string(crate::common::repo().join("deploy/register.dev.toml"))
        .expect("deploy/register.dev.toml")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn both(o: &Output) -> String {
    format!("status {:?}\n{}{}", o.status.code(), stdout(o), stderr(o))
}

/// The certificate file of a `certs-dev/index.toml` entry.
fn cert_file(name: &str) -> PathBuf {
    crate::common::repo()
        .join("certs-dev")
        .join(crate::common::cert(name).cert)
}

/// SHA-256 of the certificate's DER, as the register writes it.
fn fingerprint(name: &str) -> String {
    let der = crate::common::read_certs(&cert_file(name))
        .into_iter()
        .next()
        .expect("a certificate in the PEM");
    hex::encode(Sha256::digest(der.as_ref()))
}

/// The lines `list` shows for one organisation: its heading line and the indented lines
/// under it.
fn org_block(list: &str, orgnr: &str) -> String {
    let mut lines = list.lines().skip_while(|l| !l.starts_with(orgnr));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("{orgnr} not listed:\n{list}"));
    let mut block = format!("{head}\n");
    for l in lines.take_while(|l| l.starts_with(' ')) {
        block.push_str(l);
        block.push('\n');
    }
    block
}

/// 1-based number of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line with `{needle}`"))
}

/// `text` with the first `from` replaced by `to`; `from` must be there.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "no `{from}` in the register");
    text.replacen(from, to, 1)
}

fn count_tables(text: &str, header: &str) -> usize {
    text.lines().filter(|l| l.trim() == header).count()
}

#[test]
fn check_accepts_the_development_register() {
    let reg = Reg::dev();
    let o = reg.run(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let text = reg.text();
    let want = format!(
        "register OK: {} organisations, {} certificates",
        count_tables(&text, "[[organisation]]"),
        count_tables(&text, "[[organisation.certificate]]")
    );
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with(&want), "{out}\nwanted {want}");
}

/// The register is found as `status` and `load` find their config: `--config`, then
/// `FOLKREG_CONFIG`, then `./folkreg.toml`; its `register` key is relative to its folder.
/// `--register` names the file directly and wins.
#[test]
fn check_finds_the_register_through_the_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    // As the binary sees its working folder (symbolic links resolved).
    let d = &dir.path().canonicalize().expect("canonical temp dir");
    std::fs::create_dir_all(d.join("good")).expect("mkdir");
    std::fs::create_dir_all(d.join("bad")).expect("mkdir");
    std::fs::write(d.join("good/register.toml"), dev_text()).expect("write");
    let broken = replace_once(&dev_text(), "switches = []", "switches = [\"allt\"]");
    std::fs::write(d.join("bad/register.toml"), &broken).expect("write");
    std::fs::write(
        d.join("good/folkreg.toml"),
        "register = \"register.toml\"\n",
    )
    .expect("write");
    std::fs::write(d.join("folkreg.toml"), "register = \"bad/register.toml\"\n").expect("write");
    let good_config = d.join("good/folkreg.toml");
    let bad_register = d.join("bad/register.toml");
    let good_register = d.join("good/register.toml");

    /// (how the file is found, arguments, environment, exit code, the register it names)
    type Case<'a> = (
        &'a str,
        Vec<&'a str>,
        Vec<(&'a str, &'a Path)>,
        i32,
        &'a Path,
    );
    let cases: Vec<Case> = vec![
        (
            "./folkreg.toml",
            vec!["register", "check"],
            vec![],
            2,
            &bad_register,
        ),
        (
            "--config",
            vec!["register", "check", "--config", path_str(&good_config)],
            vec![],
            0,
            &good_register,
        ),
        (
            "--config before the action",
            vec!["register", "--config", path_str(&good_config), "check"],
            vec![],
            0,
            &good_register,
        ),
        (
            "FOLKREG_CONFIG",
            vec!["register", "check"],
            vec![("FOLKREG_CONFIG", &good_config)],
            0,
            &good_register,
        ),
        (
            "--register wins over the config",
            vec!["register", "check", "--register", path_str(&bad_register)],
            vec![("FOLKREG_CONFIG", &good_config)],
            2,
            &bad_register,
        ),
    ];
    for (what, args, env, code, file) in cases {
        let o = folkreg_env(d, &args, &env);
        assert_eq!(o.status.code(), Some(code), "{what}: {}", both(&o));
        // The file is named the way the config resolved it.
        let named = format!("{}", file.display());
        assert!(both(&o).contains(&named), "{what}: {}", both(&o));
        if code == 2 {
            let line = line_of(&broken, "switches = [\"allt\"]");
            assert!(
                stderr(&o).contains(&format!(
                    "{named}:{line}: field `organisation.switches`: unknown switch `allt`"
                )),
                "{what}: {}",
                both(&o)
            );
        }
    }
}

/// Each mistake the check must refuse, one at a time: exit 2, and exactly one problem line
/// `PATH:LINE: field `FIELD`: message` naming where it is.
#[test]
fn check_refuses_each_mistake_with_file_line_and_field() {
    let lund = fingerprint("client-lund");
    let norrby = fingerprint("client-norrby");
    let expired = fingerprint("client-expired");
    let dev = dev_text();
    let lund_line = line_of(&dev, &lund);
    // Lund's certificate has a window; its end moves before its start.
    let first_end = dev
        .lines()
        .find(|l| l.starts_with("not_after = "))
        .expect("a certificate with not_after");
    let reversed = "not_after = \"2000-01-01T00:00:00Z\"";
    // (what, broken text, line, field, words of the message). Every change stays on its
    // line, so the development register's line numbers hold.
    let cases: Vec<(&str, String, usize, &str, String)> = vec![
        (
            "unknown category",
            replace_once(
                &dev,
                "categories = [\"grund\"]",
                "categories = [\"grund\", \"hemligt\"]",
            ),
            line_of(&dev, "categories = [\"grund\"]"),
            "organisation.categories",
            "unknown category `hemligt`".into(),
        ),
        (
            "unknown switch",
            replace_once(&dev, "switches = []", "switches = [\"allt\"]"),
            line_of(&dev, "switches = []"),
            "organisation.switches",
            "unknown switch `allt`".into(),
        ),
        (
            "organisation number failing its check digit",
            replace_once(&dev, "orgnr = \"2021004748\"", "orgnr = \"2021004747\""),
            line_of(&dev, "orgnr = \"2021004748\""),
            "organisation.orgnr",
            "check digit".into(),
        ),
        (
            "the same fingerprint under two organisations",
            replace_once(&dev, &norrby, &lund),
            line_of(&dev, &norrby),
            "organisation.certificate.sha256",
            format!("already listed for organisation 2021004748 (line {lund_line})"),
        ),
        (
            "the same fingerprint twice in one organisation",
            replace_once(&dev, &expired, &lund),
            line_of(&dev, &expired),
            "organisation.certificate.sha256",
            format!("already listed for this organisation (line {lund_line})"),
        ),
        (
            "permission ending before it starts",
            replace_once(&dev, first_end, reversed),
            line_of(&dev, first_end),
            "organisation.certificate.not_after",
            "before it starts".into(),
        ),
    ];
    for (what, text, line, field, words) in cases {
        let reg = Reg::dev_with(|_| text.clone());
        let o = reg.run(&["check"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", both(&o));
        let err = stderr(&o);
        let want = format!("{}:{line}: field `{field}`: ", reg.path.display());
        let problems: Vec<&str> = err.lines().filter(|l| l.contains("field `")).collect();
        assert_eq!(problems.len(), 1, "{what}: one problem expected\n{err}");
        assert!(
            problems[0].starts_with(&want),
            "{what}: wanted {want}\n{err}"
        );
        assert!(
            problems[0].contains(&words),
            "{what}: wanted {words}\n{err}"
        );
        assert!(err.contains("1 problem"), "{what}: summary\n{err}");
        assert!(stdout(&o).is_empty(), "{what}: nothing OK on stdout");
    }
}

#[test]
fn check_reports_every_problem_in_file_order() {
    let reg = Reg::dev_with(|t| {
        let t = replace_once(t, "orgnr = \"2021004748\"", "orgnr = \"2021004747\"");
        let t = replace_once(&t, "switches = []", "switches = [\"allt\"]");
        replace_once(&t, "\"sekretess\"]", "\"hemligt\"]")
    });
    let o = reg.run(&["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let text = reg.text();
    let p = reg.path.display();
    let want = [
        format!(
            "{p}:{}: field `organisation.orgnr`",
            line_of(&text, "2021004747")
        ),
        format!(
            "{p}:{}: field `organisation.switches`",
            line_of(&text, "\"allt\"")
        ),
        format!(
            "{p}:{}: field `organisation.categories`",
            line_of(&text, "\"hemligt\"")
        ),
    ];
    let err = stderr(&o);
    let got: Vec<&str> = err.lines().filter(|l| l.contains("field `")).collect();
    assert_eq!(got.len(), 3, "{err}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g.starts_with(w.as_str()), "wanted {w}\n{err}");
    }
    assert!(err.contains("3 problems"), "{err}");
}

/// A new organisation, then its certificate from a PEM file, then both in `list` and in a
/// passing check.
#[test]
fn add_org_then_add_cert_shows_in_list() {
    let reg = Reg::dev();
    let entry = crate::common::cert("client-unknown-org");
    let org12 = entry
        .org
        .clone()
        .expect("client-unknown-org carries an orgnr");
    let org10 = &org12[2..];
    let bestallning = entry.bestallningsid.clone().expect("a bestallningsid");
    let before = reg.text();
    assert!(!before.contains(org10), "not yet listed");

    let o = reg.run(&[
        "add-org",
        "--org",
        &org12,
        "--name",
        "Okänd Organisation AB",
        "--category",
        "relationer,taxering",
        "--switch",
        "samordningsnummer",
        "--bestallning",
        &bestallning,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(stdout(&o).contains(&format!("added organisation {org10}")));

    let fp = fingerprint("client-unknown-org");
    let cert = cert_file("client-unknown-org");
    let o = reg.run(&[
        "add-cert",
        "--org",
        org10,
        "--cert",
        path_str(&cert),
        "--not-before",
        "2026-01-01T00:00:00Z",
        "--not-after",
        "2031-01-01T01:00:00+01:00",
        "--comment",
        "test server",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        stdout(&o).contains(&fp),
        "prints the fingerprint: {}",
        both(&o)
    );

    let block = org_block(&reg.list(), org10);
    for want in [
        format!("{org10}  Okänd Organisation AB\n"),
        "  categories:    grund,relationer,taxering\n".to_owned(),
        "  switches:      samordningsnummer\n".to_owned(),
        format!("  bestallningar: {bestallning}\n"),
        format!("  cert {fp}  "),
        "[2026-01-01T00:00:00Z .. 2031-01-01T00:00:00Z]".to_owned(),
        "# test server".to_owned(),
    ] {
        assert!(block.contains(&want), "wanted {want:?} in\n{block}");
    }
    // The certificate's own notAfter was recorded for /metrics.
    assert!(block.contains("  expires "), "{block}");

    let o = reg.run(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let text = reg.text();
    assert!(stdout(&o).contains(&format!(
        "{} organisations, {} certificates",
        count_tables(&before, "[[organisation]]") + 1,
        count_tables(&before, "[[organisation.certificate]]") + 1
    )));
    assert!(text.starts_with(&before), "appended, the rest untouched");
}

/// A certificate of a listed organisation lands under that organisation, whose subject must
/// name it.
#[test]
fn add_cert_checks_the_certificate_names_the_organisation() {
    let reg = Reg::dev();
    let unregistered = cert_file("client-unregistered");
    let before = reg.bytes();
    let o = reg.run(&[
        "add-cert",
        "--org",
        "2120000134",
        "--cert",
        path_str(&unregistered),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(stderr(&o).contains("not 2120000134"), "{}", both(&o));
    assert_eq!(reg.bytes(), before, "refused: file unchanged");

    let o = reg.run(&[
        "add-cert",
        "--org",
        "202100-4748",
        "--cert",
        path_str(&unregistered),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let fp = fingerprint("client-unregistered");
    let lund = org_block(&reg.list(), "2021004748");
    assert!(lund.contains(&format!("cert {fp}")), "{lund}");
}

/// `add-cert` refuses a certificate a TLS client cannot use (no KeyUsage digitalSignature, no
/// clientAuth EKU), naming what it lacks, exactly as the handshake would refuse it.
#[test]
fn add_cert_refuses_a_certificate_without_digital_signature_or_client_auth() {
    let reg = Reg::dev();
    let cases = [
        (
            "client-no-digital-signature",
            "KeyUsage lacks digitalSignature",
        ),
        (
            "client-no-eku",
            "no ExtendedKeyUsage extension (clientAuth is required)",
        ),
        ("client-server-eku", "ExtendedKeyUsage lacks clientAuth"),
    ];
    for (name, lacks) in cases {
        // The development register lists them (so only TLS refuses them): take each out
        // first, so that nothing but its key usage can stop it being added back.
        let pem = cert_file(name);
        let o = reg.run(&["remove-cert", "--cert", path_str(&pem)]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", both(&o));
        let before = reg.bytes();
        let org = crate::common::cert(name)
            .org
            .expect("an organisation number");
        let o = reg.run(&["add-cert", "--org", &org, "--cert", path_str(&pem)]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", both(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{name}.pem")),
            "names the file: {err}"
        );
        assert!(err.contains("not a client certificate"), "{err}");
        assert!(err.contains(lacks), "{name} lacks {lacks:?}: {err}");
        assert!(err.contains("the register file is unchanged"), "{err}");
        assert_eq!(reg.bytes(), before, "{name} refused: file unchanged");
        assert!(
            !reg.text().contains(&fingerprint(name)),
            "{name} not listed"
        );
    }
    // A certificate a client can use is still added.
    let o = reg.run(&[
        "add-cert",
        "--org",
        "202100-4748",
        "--cert",
        path_str(&cert_file("client-unregistered")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
}

#[test]
fn revoke_cert_and_remove_cert_change_the_list() {
    let reg = Reg::dev();
    let fp = fingerprint("client-norrby");
    // Norrby's certificate has no window: permitted whatever the clock says.
    assert!(reg.list().contains(&format!("cert {fp}  permitted")));

    // A fingerprint as `openssl x509 -fingerprint -sha256` prints it.
    let openssl_style = fp
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let o = reg.run(&["revoke-cert", "--fingerprint", &openssl_style]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        stdout(&o).contains("organisation 2120000134"),
        "{}",
        both(&o)
    );
    let list = reg.list();
    assert!(list.contains(&format!("cert {fp}  revoked")), "{list}");
    assert!(!list.contains(&format!("cert {fp}  permitted")), "{list}");

    let before = count_tables(&reg.text(), "[[organisation.certificate]]");
    let o = reg.run(&[
        "remove-cert",
        "--cert",
        path_str(&cert_file("client-norrby")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let list = reg.list();
    assert!(!list.contains(&fp), "{list}");
    assert_eq!(
        count_tables(&reg.text(), "[[organisation.certificate]]"),
        before - 1
    );
    assert_eq!(reg.run(&["check"]).status.code(), Some(0));

    // Revoking by file works too.
    let lund = fingerprint("client-lund");
    let o = reg.run(&["revoke-cert", "--cert", path_str(&cert_file("client-lund"))]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(reg.list().contains(&format!("cert {lund}  revoked")));
}

/// Every refused edit exits 2, says so, and leaves the file byte for byte as it was, with no
/// temporary file beside it.
#[test]
fn a_refused_edit_leaves_the_file_byte_identical() {
    let lund_pem = cert_file("client-lund");
    let unregistered = cert_file("client-unregistered");
    let unknown = "0".repeat(64);
    let not_a_certificate = crate::common::repo().join("Cargo.toml");
    type Case<'a> = (&'a str, Vec<&'a str>, &'a str);
    // (what, arguments, words of the message)
    let cases: Vec<Case> = vec![
        (
            "the result fails the check: permission ends before it starts",
            vec![
                "add-cert",
                "--org",
                "2021004748",
                "--cert",
                path_str(&unregistered),
                "--not-before",
                "2030-01-01",
                "--not-after",
                "2029-01-01",
            ],
            "the edit would break field `organisation.certificate.not_after`",
        ),
        (
            "the result fails the check: empty name, bad BestallningsId",
            vec![
                "add-org",
                "--org",
                "5591001234",
                "--name",
                " ",
                "--bestallning",
                "not an id",
            ],
            "the edit would break field `organisation.namn`",
        ),
        (
            "certificate already listed",
            vec![
                "add-cert",
                "--org",
                "2021004748",
                "--cert",
                path_str(&lund_pem),
            ],
            "already listed",
        ),
        (
            "organisation already listed",
            vec!["add-org", "--org", "162021004748", "--name", "Lund igen"],
            "already listed",
        ),
        (
            "organisation not listed",
            vec!["add-cert", "--org", "5591001234", "--fingerprint", &unknown],
            "no organisation 5591001234",
        ),
        (
            "fingerprint not listed (revoke)",
            vec!["revoke-cert", "--fingerprint", &unknown],
            "no certificate",
        ),
        (
            "fingerprint not listed (remove)",
            vec!["remove-cert", "--fingerprint", &unknown],
            "no certificate",
        ),
        (
            "unknown category",
            vec![
                "add-org",
                "--org",
                "5591001234",
                "--name",
                "X",
                "--category",
                "hemligt",
            ],
            "unknown category `hemligt`",
        ),
        (
            "organisation number failing its check digit",
            vec!["add-org", "--org", "5591001235", "--name", "X"],
            "check digit",
        ),
        (
            "not a certificate",
            vec![
                "add-cert",
                "--org",
                "2021004748",
                "--cert",
                path_str(&not_a_certificate),
            ],
            "Cargo.toml",
        ),
    ];
    for (what, args, words) in cases {
        let reg = Reg::dev();
        let before = reg.bytes();
        let o = reg.run(&args);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", both(&o));
        assert!(
            stderr(&o).contains(words),
            "{what}: wanted {words}\n{}",
            both(&o)
        );
        assert!(reg.bytes() == before, "{what}: the file changed");
        let names: Vec<String> = std::fs::read_dir(reg.dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["register.toml"], "{what}: leftovers");
    }
}

/// An edit of a register that is already invalid is refused with the file's own problems,
/// on the file's own lines.
#[test]
fn an_edit_of_an_invalid_register_names_the_files_problems() {
    let reg = Reg::dev_with(|t| replace_once(t, "switches = []", "switches = [\"allt\"]"));
    let before = reg.bytes();
    let o = reg.run(&["add-org", "--org", "5591001234", "--name", "Ny AB"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let line = line_of(&reg.text(), "\"allt\"");
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:{line}: field `organisation.switches`",
            reg.path.display()
        )),
        "{err}"
    );
    assert!(err.contains("fix it first"), "{err}");
    assert_eq!(reg.bytes(), before);
}

/// Comments, blank lines and the order of keys survive every kind of edit: each comment line
/// of the original is still there, in the same order.
#[test]
fn comments_survive_edits() {
    let reg = Reg::dev();
    let original = reg.text();
    let comments: Vec<&str> = original
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    assert!(comments.len() > 5, "the development register is commented");
    let unregistered = cert_file("client-unregistered");
    for args in [
        vec!["add-org", "--org", "5591001234", "--name", "Ny AB"],
        vec![
            "add-cert",
            "--org",
            "2021004748",
            "--cert",
            path_str(&unregistered),
        ],
        vec![
            "revoke-cert",
            "--cert",
            path_str(&cert_file("client-norrby")),
        ],
    ] {
        let o = reg.run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", both(&o));
    }
    let edited = reg.text();
    let mut rest = edited.lines();
    for c in &comments {
        assert!(
            rest.any(|l| l == *c),
            "comment lost or moved: {c}\n{edited}"
        );
    }
    // Lines the edits did not touch keep their exact spelling.
    assert!(edited.contains(
        "switches = [\"samordningsnummer\", \"tilldelat_personnummer\", \"sarskilda_uppgifter\"]"
    ));
    assert!(edited.len() > original.len());
}
