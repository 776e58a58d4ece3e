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
