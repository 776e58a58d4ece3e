//! Ändringsavisering on the real binary: an organisation's avisering order in the register,
//! deliveries produced by the load job after each applied delta, fetched page by page with
//! `hamtaAvisering` over mutual TLS; acknowledgement by asking for the next löpnummer,
//! "not yet produced", removal after the retention period, and the audit line.

use std::path::{Path, PathBuf};

use crate::common::*;

const ORDER: &str = "00000079-AV03-0001";

/// The demo population's FULL delivery (as serve makes it) and `n` deltas after it.
fn demo_chain(dir: &Path, n: usize) -> Vec<PathBuf> {
    delivery_chain(dir, demo_full(dir), n, 400, 70, demo_today())
}

fn request(lopnummer: u64, sida: Option<u64>) -> String {
    let exempel = cert("client-exempel");
    hamta_avisering_body(
        exempel.org.as_deref().expect("org"),
        ORDER,
        lopnummer,
        None,
        sida,
    )
}

fn count(body: &str, needle: &str) -> usize {
    body.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_follows_its_population_by_pulling_deliveries() {
    let made = tempfile::tempdir().expect("tmp");
    let chain = demo_chain(made.path(), 3);
    let server = RealServer::start_custom(&[], &[], |work, mut config| {
        // The register: Exempel Försäkring AB (client-exempel) gets an avisering order for
        // Stockholm (kommun 0180), ändringspost.
        let reg = std::fs::read_to_string(repo().join("deploy/register.dev.toml")).expect("reg");
        let reg = reg.replace(
            "bestallningar = [\"00000079-FO03-0001\"]",
            &format!("bestallningar = [\"00000079-FO03-0001\", \"{ORDER}\"]"),
        ) + &format!(
            "\n[[organisation.avisering]]\nid = \"{ORDER}\"\nposttyp = \"andringspost\"\n\
             lan = [\"01\"]\nflyttsignal = true\ntotalpost_vid_havning = true\nalltid_markering = true\n"
        );
        let copy = work.join("register.toml");
        std::fs::write(&copy, reg).expect("register copy");
        let original = format!("{:?}", repo().join("deploy/register.dev.toml"));
        assert!(config.contains(&original));
        config = config.replace(&original, &format!("{copy:?}"));
        config.push_str("[avisering]\npage_size = 50\nkeep_days = 0\n");
        config
    })
    .await;
    let exempel = cert("client-exempel");
    // Nothing produced yet: the order was enrolled at start, at the demo load.
    let r = server.post(&exempel, AV, &request(1, None)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<Status>EJ_KLAR</Status>"), "{}", r.body);
    validate_avisering(&r.body);

    // Two deltas arrive and are loaded: deliveries 1 and 2.
    let inbox = server.data().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    for f in &chain[1..3] {
        std::fs::copy(f, inbox.join(f.file_name().expect("name"))).expect("copy");
    }
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");

    // Delivery 1, page by page.
    let first = server.post(&exempel, AV, &request(1, None)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    validate_avisering(&first.body);
    let antal: u64 = first
        .text_of("AntalPosterA")
        .expect("antal")
        .parse()
        .expect("n");
    let sidor: u64 = first
        .text_of("AntalSidor")
        .expect("sidor")
        .parse()
        .expect("n");
    assert!(antal > 0, "{}", first.body);
    assert_eq!(sidor, antal.div_ceil(50));
    assert_eq!(first.text_of("Lopnummer").as_deref(), Some("1"));
    assert_eq!(first.text_of("Posttyp").as_deref(), Some("andringspost"));
    let mut seen = count(&first.body, "<Avisering ");
    for sida in 2..=sidor {
        let page = server.post(&exempel, AV, &request(1, Some(sida))).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen += count(&page.body, "<Avisering ");
    }
    assert_eq!(seen as u64, antal, "every record once across the pages");
    // Every record is in Stockholms län's population or just left it: län 01 before or after.
    assert!(first.body.contains("<LanKod>01</LanKod>") || first.body.contains("Posttyp=\"F\""));
    // A page past the end is a clear client fault.
    let past = server
        .post(&exempel, AV, &request(1, Some(sidor + 1)))
        .await;
    assert_eq!(
        past.text_of("Felkod").as_deref(),
        Some("1101"),
        "{}",
        past.body
    );

    // Delivery 2 exists; asking for it acknowledges 1. 3 is not produced yet.
    let second = server.post(&exempel, AV, &request(2, None)).await;
    assert_eq!(second.text_of("Status").as_deref(), Some("KLAR"));
    let third = server.post(&exempel, AV, &request(3, None)).await;
    assert!(third.body.contains("<Status>EJ_KLAR</Status>"));

    // The next load produces 3 and, with keep_days = 0, removes the acknowledged 1 and 2
    // (3 was asked for, which acknowledged 2).
    std::fs::copy(&chain[3], inbox.join("d4.xml.gz")).expect("copy");
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    std::fs::copy(&chain[3], inbox.join("again.xml.gz")).expect("copy");
    let _ = server.admin("POST", "/load").await;
    let gone = server.post(&exempel, AV, &request(1, None)).await;
    assert_eq!(
        gone.text_of("Felkod").as_deref(),
        Some("1203"),
        "{}",
        gone.body
    );
    let third = server.post(&exempel, AV, &request(3, None)).await;
    assert_eq!(
        third.text_of("Status").as_deref(),
        Some("KLAR"),
        "{}",
        third.body
    );

    // Operators see where the order stands: 3 produced, 2 acknowledged, backlog 1.
    let (_, metrics) = server.admin("GET", "/metrics").await;
    let label = format!("{{name=\"{ORDER}\"}}");
    assert_eq!(
        series(
            &metrics,
            &format!("folkreg_avisering_produced_lopnummer{label}")
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            &format!("folkreg_avisering_acknowledged_lopnummer{label}")
        ),
        Some(2.0)
    );
    assert_eq!(
        series(&metrics, &format!("folkreg_avisering_backlog{label}")),
        Some(1.0)
    );
    let status = std::process::Command::new(BIN)
        .args(["status", "--config"])
        .arg(server.work.path().join("folkreg.toml"))
        .output()
        .expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(ORDER), "{status}");
    assert!(status.contains("produced 3"), "{status}");

    // Another organisation cannot use the order; an ordinary BestallningsId is no avisering.
    let norrby = cert("client-norrby");
    let body = request(1, None).replace(
        exempel.org.as_deref().expect("org"),
        norrby.org.as_deref().expect("org"),
    );
    let r = server.post(&norrby, AV, &body).await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1202"), "{}", r.body);
    let body = request(1, None).replace(ORDER, "00000079-FO03-0001");
    let r = server.post(&exempel, AV, &body).await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1101"), "{}", r.body);

    // The WSDL and its schema are served for generic SOAP clients.
    let wsdl = raw_at(
        server.addr,
        &exempel,
        format!("GET {AV}?wsdl HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("wsdl");
    assert_eq!(wsdl.status, 200);
    assert!(
        wsdl.body.contains("hamtaAvisering?xsd=avisering.xsd"),
        "{}",
        wsdl.body
    );

    // The audit log names the persons delivered, the log does not.
    let audit_dir = server.data().join("audit");
    let lines: String = std::fs::read_dir(&audit_dir)
        .expect("audit dir")
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let av_lines: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("\"operation\":\"hamtaAvisering\""))
        .collect();
    assert!(av_lines
        .iter()
        .any(|l| l.contains("\"outcome\":\"ok\"") && l.contains("\"returned\":[\"")));
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(log.contains("avisering delivery produced"), "{log}");
}

fn infil_request(sida: u64, antal_sidor: u64, personer: &[String]) -> String {
    let exempel = cert("client-exempel");
    lamna_infil_body(
        exempel.org.as_deref().expect("org"),
        INFIL_ORDER,
        sida,
        antal_sidor,
        None,
        personer,
    )
}

const INFIL_ORDER: &str = "00000079-AV03-0002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infil_order_gets_changes_of_exactly_its_numbers() {
    let made = tempfile::tempdir().expect("tmp");
    let chain = demo_chain(made.path(), 1);
    let server = RealServer::start_custom(&[], &[], |work, mut config| {
        let reg = std::fs::read_to_string(repo().join("deploy/register.dev.toml")).expect("reg");
        let reg = reg.replace(
            "bestallningar = [\"00000079-FO03-0001\"]",
            &format!("bestallningar = [\"00000079-FO03-0001\", \"{INFIL_ORDER}\"]"),
        ) + &format!(
            "\n[[organisation.avisering]]\nid = \"{INFIL_ORDER}\"\nposttyp = \"totalpost\"\ninfil = true\n"
        );
        let copy = work.join("register.toml");
        std::fs::write(&copy, reg).expect("register copy");
        let original = format!("{:?}", repo().join("deploy/register.dev.toml"));
        config = config.replace(&original, &format!("{copy:?}"));
        config
    })
    .await;
    let exempel = cert("client-exempel");
    // The delta's changed persons: half of them go in the infil, in two pages.
    let mut reader = folkreg::loadfile::DeliveryReader::open(&chain[1]).expect("delta");
    let changed: Vec<String> = (&mut reader)
        .map(|r| r.expect("record").post.pnr().to_string())
        .collect();
    let mine: Vec<String> = changed.iter().step_by(2).cloned().collect();
    let (p1, p2) = mine.split_at(mine.len() / 2);
    let r = server
        .post(
            &exempel,
            "/na/na_avisering/V1/lamnaInfil",
            &infil_request(1, 2, p1),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.text_of("Status").as_deref(), Some("MOTTAGEN"));
    let r = server
        .post(
            &exempel,
            "/na/na_avisering/V1/lamnaInfil",
            &infil_request(2, 2, p2),
        )
        .await;
    assert_eq!(r.text_of("Status").as_deref(), Some("KLAR"), "{}", r.body);
    assert_eq!(r.text_of("AntalPersoner"), Some(mine.len().to_string()));
    validate_avisering(&r.body);
    // A bad number is refused, naming its place.
    let bad = infil_request(1, 1, &["198602212395".to_owned()]);
    let r = server
        .post(&exempel, "/na/na_avisering/V1/lamnaInfil", &bad)
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1101"), "{}", r.body);
    assert!(r.body.contains("PersonNr 1"), "{}", r.body);

    std::fs::create_dir_all(server.data().join("inbox")).expect("inbox");
    std::fs::copy(&chain[1], server.data().join("inbox/d2.xml.gz")).expect("copy");
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let body = request(1, None).replace(ORDER, INFIL_ORDER);
    let r = server.post(&exempel, AV, &body).await;
    assert_eq!(r.text_of("Status").as_deref(), Some("KLAR"), "{}", r.body);
    let antal: usize = r.text_of("AntalPosterA").expect("n").parse().expect("n");
    assert!(
        antal > 0 && antal <= mine.len(),
        "{antal} of {}",
        mine.len()
    );
    for p in &changed {
        let delivered = r
            .body
            .contains(&format!("<PersonId><PersonNr>{p}</PersonNr>"));
        if delivered {
            assert!(mine.contains(p), "{p} is not in the infil");
        }
    }
}
