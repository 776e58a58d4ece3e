//! The audit log through the real binary: every answered SOAP request has its line, durable
//! before the answer left — also when the server is killed with SIGKILL right after — and
//! `folkreg audit search` finds them by person and by organisation.

use std::collections::BTreeMap;

use crate::common::*;
use folkreg::audit::AuditEntry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_request_has_its_line_even_after_sigkill() {
    let mut server = RealServer::start(&[], &[]).await;
    let lund = cert("client-lund");
    let norrby = cert("client-norrby");
    let pop = demo_population();
    // Answered lookups: (certificate, asked number) → expected outcome.
    let mut answered: Vec<(String, String, &'static str)> = Vec::new();
    for (i, p) in pop.iter().step_by(250).take(40).enumerate() {
        let c = if i % 2 == 0 { &lund } else { &norrby };
        let (org, bid) = (
            c.org.clone().expect("org"),
            c.bestallningsid.clone().expect("id"),
        );
        let pnr = p.pnr().to_string();
        let r = server.post(c, PP, &personpost_body(&org, &bid, &pnr)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let outcome = if r.body.contains("<PersonNr>")
            || r.body.contains("<TilldelatPersonNrSamordningsNr>")
        {
            "ok"
        } else {
            "not_found"
        };
        answered.push((org, pnr, outcome));
    }
    // A search and a refused request are audited too.
    let (org, bid) = (
        lund.org.clone().expect("org"),
        lund.bestallningsid.clone().expect("id"),
    );
    let r = server
        .post(
            &lund,
            NS,
            &namnsokning_body(&org, &bid, &[("EfterMellanNamn", "an*"), ("Kon", "K")]),
        )
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1103"));
    let r = server
        .post(
            &lund,
            PP,
            &personpost_body("162120000134", &bid, "196510213637"),
        )
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1201"));

    // Killed without a chance to flush anything.
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();

    let audit_dir = server.data().join("audit");
    let lines = audit_lines(&audit_dir);
    assert_eq!(
        lines.len(),
        answered.len() + 2,
        "one line per answered request"
    );
    let by_asked: BTreeMap<&str, &AuditEntry> = lines
        .iter()
        .filter_map(|l| l.asked.first().map(|a| (a.as_str(), l)))
        .collect();
    for (org, pnr, outcome) in &answered {
        let line = by_asked.get(pnr.as_str()).expect("the lookup has its line");
        assert_eq!(&line.org, org);
        assert_eq!(line.operation, "personpostXML");
        assert_eq!(line.outcome, *outcome, "{pnr}");
        let returned: &[String] = if *outcome == "ok" {
            std::slice::from_ref(pnr)
        } else {
            &[]
        };
        assert_eq!(line.returned, returned);
        assert_eq!(line.cert.len(), 64);
    }
    let outcomes: Vec<&str> = lines.iter().map(|l| l.outcome.as_str()).collect();
    assert!(outcomes.contains(&"1103") && outcomes.contains(&"1201"));
    let search = lines
        .iter()
        .find(|l| l.operation == "namnsokningXML")
        .expect("search line");
    assert!(search.asked.is_empty(), "a search's terms are not logged");

    // The data-protection officer's search, by person and by organisation.
    let (_, some_pnr, _) = &answered[3];
    let out = std::process::Command::new(BIN)
        .args(["audit", "search", "--dir"])
        .arg(&audit_dir)
        .args(["--pnr", some_pnr])
        .output()
        .expect("folkreg audit search");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.contains(some_pnr.as_str()));
    let out = std::process::Command::new(BIN)
        .args(["audit", "search", "--dir"])
        .arg(&audit_dir)
        .args(["--org", "162120000134"])
        .output()
        .expect("folkreg audit search");
    let found = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(found.lines().count(), 20, "norrby's 20 lookups");
    // A bad argument is a usage error naming it.
    let out = std::process::Command::new(BIN)
        .args(["audit", "search", "--dir"])
        .arg(&audit_dir)
        .args(["--from", "yesterday"])
        .output()
        .expect("folkreg audit search");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("yesterday"));
}
