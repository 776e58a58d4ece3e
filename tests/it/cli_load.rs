//! `folkreg generate`, `load` and `status` as an operator uses them: summaries, refusals with
//! exit code 2 and a report naming record and element, löpnummer order, nothing half-applied.

use crate::common::{folkreg, text};

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("folkreg.toml"),
        "data_dir = \"data\"\ncache_mb = 32\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let g = folkreg(
        dir.path(),
        &[
            "generate",
            "--persons",
            "3000",
            "--seed",
            "4",
            "--today",
            "2026-11-01",
            "--out",
            "in/full.xml.gz",
        ],
    );
    assert!(g.status.success(), "{}", text(&g));
    for (prev, out, today) in [
        ("in/full.xml.gz", "in/d2.xml.gz", "2026-11-02"),
        ("in/d2.xml.gz", "in/d3.xml", "2026-11-03"),
    ] {
        let g = folkreg(
            dir.path(),
            &[
                "generate",
                "--delta-of",
                prev,
                "--changes",
                "100",
                "--today",
                today,
                "--out",
                out,
            ],
        );
        assert!(g.status.success(), "{}", text(&g));
    }
    dir
}

#[test]
fn loads_in_lopnummer_order_and_refuses_gaps_and_repeats() {
    let dir = setup();
    let d = dir.path();
    // Given out of order, applied in löpnummer order; the summary counts what changed.
    let o = folkreg(d, &["load", "in/d3.xml", "in/full.xml.gz", "in/d2.xml.gz"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].contains("löpnummer 1 FULL: 3000 records; added 3000"),
        "{out}"
    );
    assert!(
        lines[1].contains("löpnummer 2 DELTA") && lines[2].contains("löpnummer 3 DELTA"),
        "{out}"
    );
    assert!(lines.iter().all(|l| l.contains("records/s")));

    // The same delta again changes nothing and says so; exit 2.
    let o = folkreg(d, &["load", "in/d3.xml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("löpnummer 3 is already applied; nothing was changed"),
        "{}",
        text(&o)
    );
    // An older one is a gap/repeat, refused; --force applies it anyway.
    let o = folkreg(d, &["load", "in/d2.xml.gz"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("3 is expected") || text(&o).contains("4 is expected"),
        "{}",
        text(&o)
    );

    let s = folkreg(d, &["status"]);
    assert!(
        String::from_utf8_lossy(&s.stdout).contains("löpnummer:  3"),
        "{}",
        text(&s)
    );
}

#[test]
fn an_invalid_record_refuses_the_whole_file_with_a_precise_report() {
    let dir = setup();
    let d = dir.path();
    assert!(folkreg(d, &["load", "in/full.xml.gz"]).status.success());
    let before = String::from_utf8_lossy(&folkreg(d, &["status"]).stdout).into_owned();

    // Break the 57th record of the plain-text delta: a check digit in a PersonNr.
    let xml = std::fs::read_to_string(d.join("in/d3.xml")).unwrap();
    let mut lines: Vec<String> = xml.lines().map(str::to_owned).collect();
    let records: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("<Folkbokforingspost>") || l.contains("<Folkbokforingspost "))
        .map(|(i, _)| i)
        .collect();
    let line = &mut lines[records[56]];
    let at = line.find("<PersonNr>").unwrap() + "<PersonNr>".len() + 11;
    let digit = line.as_bytes()[at];
    let wrong = if digit == b'9' {
        '0'
    } else {
        (digit + 1) as char
    };
    line.replace_range(at..at + 1, &wrong.to_string());
    let pnr_prefix = line[at - 11..at].to_owned();
    std::fs::write(d.join("bad.xml"), lines.join("\n")).unwrap();

    assert!(folkreg(d, &["load", "in/d2.xml.gz"]).status.success());
    let o = folkreg(d, &["load", "bad.xml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let report = text(&o);
    assert!(report.contains("record 57: element Personpost/PersonId/PersonNr: invalid value: identity number check digit is wrong"), "{report}");
    assert!(
        !report.contains(&pnr_prefix),
        "the report names no identity number: {report}"
    );
    let after = String::from_utf8_lossy(&folkreg(d, &["status"]).stdout).into_owned();
    assert!(
        after.contains("löpnummer:  2"),
        "nothing of the bad file applied: {after}"
    );
    assert_ne!(before, after);
}

#[test]
fn bad_usage_and_config_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(folkreg(d, &["load"]).status.code(), Some(2), "no files");
    std::fs::write(d.join("folkreg.toml"), "[soap]\nlisen = \"x\"\n").unwrap();
    let o = folkreg(d, &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("folkreg.toml:2"), "{}", text(&o));
}

/// Files shaped as Navet writes them, by hand (`tests/fixtures/navet/`): a grunduttag split
/// into file A and file B (protected persons, fewer terms), then ändringsavisering 2 in two
/// files — a name change that clears the särskild postadress and the civilstånd (empty
/// elements), a protection set (A: the number and `J`; B: the fewer terms), one lifted (A:
/// every term; B: the number and `$`) and a flyttsignal (län `99`).
#[test]
fn files_shaped_as_navet_writes_them_load_as_bilaga_2_says() {
    let dir = setup_empty();
    let d = dir.path();
    let fixtures = crate::common::repo().join("tests/fixtures/navet");
    for f in ["grund-A.xml", "grund-B.xml", "avi-2-A.xml", "avi-2-B.xml"] {
        let path = fixtures.join(f);
        crate::common::xmllint_schema(
            &std::fs::read_to_string(&path).unwrap(),
            &crate::common::repo()
                .join("../shared/reference/navet/v4-2023/schema/Navetavisering.xsd"),
        )
        .unwrap_or_else(|e| panic!("{f}: {e}"));
        std::fs::copy(&path, d.join(f)).unwrap();
    }
    // Half a delivery: refused, naming what is missing; nothing applied.
    let o = folkreg(d, &["load", "grund-B.xml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("delivery löpnummer 1 is incomplete: file(s) 1 of 2 have not arrived"),
        "{}",
        text(&o)
    );
    // All of it, in any order.
    let o = folkreg(
        d,
        &[
            "load",
            "avi-2-B.xml",
            "grund-B.xml",
            "avi-2-A.xml",
            "grund-A.xml",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report = text(&o);
    assert!(report.contains("löpnummer 1 FULL: 4 records"), "{report}");
    assert!(report.contains("löpnummer 2 DELTA: 6 records"), "{report}");

    let store = crate::common::open_store(&d.join("data/store"));
    let snap = store.snapshot();
    let get = |n: &str| snap.get(&folkreg::ids::Pnr::parse(n).unwrap()).unwrap();
    let asa = get("198001011231").expect("changed");
    assert_eq!(asa.personpost.namn.efternamn.as_deref(), Some("Lind"));
    assert_eq!(asa.personpost.adresser.sarskild_postadress, None, "cleared");
    assert_eq!(asa.personpost.civilstand, None, "cleared");
    assert!(asa.personpost.folkbokforing.is_some(), "not carried: kept");
    assert!(!asa.is_protected());
    let per = get("197512242343").expect("protected now");
    assert!(per.sekretessmarkering);
    assert_eq!(per.personpost.folkbokforing, None, "file B's fewer terms");
    assert_eq!(per.personpost.namn.fornamn.as_deref(), Some("Per"));
    let lena = get("196603153450").expect("lifted");
    assert!(!lena.is_protected());
    assert_eq!(
        lena.personpost
            .folkbokforing
            .as_ref()
            .map(|f| f.kommun_kod.as_str()),
        Some("80"),
        "file A's every term"
    );
    assert_eq!(
        get("201002024568"),
        None,
        "the flyttsignal let the person go"
    );
    assert_eq!(store.info().records, 3);
    assert_eq!(store.info().lopnummer, Some(2));
}

fn setup_empty() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("folkreg.toml"),
        "data_dir = \"data\"\ncache_mb = 32\n",
    )
    .unwrap();
    dir
}

/// `generate --files 3` splits a grunduttag into three files of one delivery; `load` takes
/// them only together, and `generate --delta-of` reads the split chain.
#[test]
fn a_grunduttag_in_three_files_loads_only_whole() {
    let dir = setup_empty();
    let d = dir.path();
    std::fs::create_dir(d.join("g")).unwrap();
    let g = folkreg(
        d,
        &[
            "generate",
            "--persons",
            "900",
            "--seed",
            "3",
            "--today",
            "2026-11-01",
            "--files",
            "3",
            "--out",
            "g/full.xml.gz",
        ],
    );
    assert!(g.status.success(), "{}", text(&g));
    let parts: Vec<String> = (1..=3).map(|i| format!("g/full.{i}.xml.gz")).collect();
    for p in &parts {
        assert!(d.join(p).is_file(), "{p}");
    }
    let o = folkreg(d, &["load", &parts[0], &parts[2]]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("file(s) 2 of 3 have not arrived"),
        "{}",
        text(&o)
    );
    let o = folkreg(d, &["load", &parts[0], &parts[1], &parts[2]]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("löpnummer 1 FULL: 900 records"),
        "{}",
        text(&o)
    );
    let g = folkreg(
        d,
        &[
            "generate",
            "--delta-of",
            &parts[1],
            "--changes",
            "50",
            "--seed",
            "4",
            "--today",
            "2026-11-02",
            "--out",
            "g/d2.xml",
        ],
    );
    assert!(g.status.success(), "{}", text(&g));
    let o = folkreg(d, &["load", "g/d2.xml"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// `generate --skyddade-termer namn`: a grunduttag and the ändringsavisering after it in
/// file A and file B, as Navet makes them for a receiver that chose fewer terms for protected
/// persons (Bilaga 2): valid against Navet's schema, and loaded as one delivery each, the
/// protected persons with the fewer terms.
#[test]
fn generated_a_and_b_files_are_navets_and_load_with_the_fewer_terms() {
    let dir = setup_empty();
    let d = dir.path();
    std::fs::create_dir(d.join("g")).unwrap();
    let run = |args: &[&str]| {
        let o = folkreg(d, args);
        assert!(o.status.success(), "{}", text(&o));
    };
    run(&[
        "generate",
        "--persons",
        "2000",
        "--seed",
        "8",
        "--today",
        "2026-11-01",
        "--skyddade-termer",
        "namn",
        "--out",
        "g/full.xml",
    ]);
    run(&[
        "generate",
        "--delta-of",
        "g/full.A.xml",
        "--changes",
        "400",
        "--seed",
        "9",
        "--today",
        "2026-11-02",
        "--skyddade-termer",
        "namn",
        "--out",
        "g/d2.xml",
    ]);
    let schema =
        crate::common::repo().join("../shared/reference/navet/v4-2023/schema/Navetavisering.xsd");
    let files = ["g/full.A.xml", "g/full.B.xml", "g/d2.A.xml", "g/d2.B.xml"];
    for f in files {
        let xml = std::fs::read_to_string(d.join(f)).unwrap();
        crate::common::xmllint_schema(&xml, &schema).unwrap_or_else(|e| panic!("{f}: {e}"));
        if f.ends_with(".B.xml") {
            assert!(
                !xml.contains("<Folkbokforingsadress>"),
                "{f}: fewer terms only"
            );
            assert!(xml.contains("<Filtyp>B</Filtyp>"), "{f}");
        }
    }
    // Bilaga 2: a protection set or lifted puts the person in both files of delivery 2.
    let numbers = |f: &str| -> std::collections::BTreeSet<String> {
        let xml = std::fs::read_to_string(d.join(f)).unwrap();
        xml.split("<PersonNr>")
            .skip(1)
            .map(|s| s[..12].to_owned())
            .collect()
    };
    let both = numbers("g/d2.A.xml")
        .intersection(&numbers("g/d2.B.xml"))
        .count();
    assert!(both > 0, "a protection set or lifted is in both files");
    let o = folkreg(d, &["load", files[3], files[1], files[2], files[0]]);
    assert!(o.status.success(), "{}", text(&o));
    let store = crate::common::open_store(&d.join("data/store"));
    let snap = store.snapshot();
    let (mut protected, mut unprotected) = (0, 0);
    for post in snap.iter() {
        let post = post.unwrap();
        if post.is_protected() {
            protected += 1;
            assert_eq!(post.personpost.folkbokforing, None, "file B's fewer terms");
            assert_eq!(post.personpost.adresser.folkbokforingsadress, None);
        } else if post.personpost.folkbokforing.is_some() {
            unprotected += 1;
        }
    }
    assert!(
        protected > 0 && unprotected > 1000,
        "{protected} {unprotected}"
    );
}
