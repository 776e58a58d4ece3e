//! Deliveries as Navet's avisering files over mutual TLS (`GET
//! /na/na_avisering/V1/fil/{BestallningsId}/{LopNr}/{A|B}`): valid against Navet's own
//! `Navetavisering.xsd`, the same records as the `hamtaAvisering` pages, gzip on request —
//! and the whole round: a delivery downloaded from one folkreg and loaded into a second
//! store leaves that store equal to the first for the receiver's population and terms.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use folkreg::access::TermMask;
use folkreg::ids::Pnr;
use folkreg::xml::write::{write_post, PostStyle};

/// Norrby kommun's yearly urval: Stockholm, 65–79 (the development register).
const URVAL: &str = "00000079-UR02-0001";
/// An urval added for this test: Stockholm, every age, fewer terms for protected persons.
const SPLIT: &str = "00000079-UR02-0005";
const NAVET_XSD: &str = "../shared/reference/navet/v4-2023/schema/Navetavisering.xsd";

/// A response read as bytes (the body may be gzip-compressed).
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }
}

/// `GET path` with this client certificate on a fresh connection.
async fn get(server: &TestServer, client: &CertEntry, path: &str, gzip: bool) -> Got {
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector_for(client)
        .connect(name, tcp)
        .await
        .expect("handshake");
    let accept = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = &buf[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..eol]).expect("ascii").trim(), 16)
                    .expect("hex");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
    } else {
        body.extend_from_slice(rest);
    }
    let got = Got {
        status,
        headers,
        body,
    };
    let got = if gzip && got.header("content-encoding") == Some("gzip") {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&got.body[..]), &mut plain)
            .expect("gunzip");
        Got { body: plain, ..got }
    } else {
        got
    };
    capture_file(&got);
    got
}

/// Saves a delivered file into [`CAPTURE_DIR_ENV`] (if set): `.ci/run` validates every one
/// against Navet's own `Navetavisering.xsd` afterwards.
fn capture_file(got: &Got) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let Some(dir) = std::env::var_os(CAPTURE_DIR_ENV) else {
        return;
    };
    if got.status != 200 {
        return;
    }
    let name = format!(
        "file-{}-{}.xml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(name), &got.body))
        .expect("capture a delivery file");
}

fn fil_path(order: &str, lopnummer: u64, fil: &str) -> String {
    format!("/na/na_avisering/V1/fil/{order}/{lopnummer}/{fil}")
}

/// Every identity number in a document, in order.
fn numbers(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<PersonId>") {
        let r = &rest[i..];
        let end = r.find("</PersonId>").expect("end");
        out.push(
            element_text(&r[..end + 11], "PersonNr")
                .or_else(|| element_text(&r[..end + 11], "TilldelatPersonNrSamordningsNr"))
                .expect("number"),
        );
        rest = &r[end..];
    }
    out
}

/// The numbers of every record of a delivery's file over `hamtaAvisering`, page by page.
async fn paged(server: &TestServer, client: &CertEntry, order: &str, fil: &str) -> Vec<String> {
    let org = client.org.as_deref().expect("org");
    let mut out = Vec::new();
    for sida in 1.. {
        let r = server
            .post(
                client,
                AV,
                &hamta_avisering_body(org, order, 1, Some(fil), Some(sida)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for rec in r.body.split("<Avisering ").skip(1) {
            out.extend(numbers(&rec[..rec.find("</Avisering>").expect("end")]));
        }
        let sidor: u64 = r.text_of("AntalSidor").expect("sidor").parse().expect("n");
        if sida >= sidor {
            break;
        }
    }
    out
}

/// A record as an answer shows these terms — but not its time of change: a change the
/// receiver does not get (a term it does not receive) moves the first store's time only.
fn render(post: &folkreg::model::Folkbokforingspost, terms: TermMask) -> String {
    let terms = terms.without(TermMask::of(&[folkreg::access::Term::Arendeuppgift]));
    let mut w = quick_xml::Writer::new(Vec::new());
    write_post(&mut w, post, PostStyle::answer(terms)).expect("render");
    String::from_utf8(w.into_inner()).expect("UTF-8")
}

/// The second store holds exactly the persons of the file, each as the first store's record
/// as the receiver may see it in this order now.
fn assert_equal_for_receiver(
    server: &TestServer,
    second: &folkreg::store::Store,
    order: &str,
    delivered: &[String],
) {
    let client = cert("client-norrby");
    let register = server.state.register.load();
    let org = register
        .organisations()
        .iter()
        .find(|o| Some(o.orgnr.wire().as_str()) == client.org.as_deref())
        .expect("norrby");
    let access = org.access();
    let urval = org.urval.iter().find(|o| o.id == order).expect("order");
    let first = server.state.store.snapshot();
    let snap = second.snapshot();
    assert_eq!(second.info().records, delivered.len() as u64);
    let mut protected = 0;
    for n in delivered {
        let pnr = Pnr::parse(n).expect("number");
        let post = first.get(&pnr).expect("read").expect("in the first store");
        let post = first.with_linked_markings(post).expect("markings");
        protected += usize::from(post.is_protected());
        let terms = folkreg::avisering::urval::access_terms(urval, &access, &post);
        let view = access.delivered(post, terms).expect("visible");
        let want = render(&view.post, view.terms);
        let got = snap.get(&pnr).expect("read").expect("in the second store");
        assert_eq!(render(&got, TermMask::ALL), want, "{n}");
    }
    eprintln!(
        "{} persons equal for the receiver, {protected} protected",
        delivered.len()
    );
}

fn load_into_new_store(files: &[&Path]) -> (tempfile::TempDir, folkreg::store::Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = folkreg::store::Store::open(&dir.path().join("store"), 1 << 26).expect("store");
    let files: Vec<_> = files.iter().map(|p| p.to_path_buf()).collect();
    let (done, failure) = folkreg::load::load_files(&store, &files, false, &mut |_| {});
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(done.len(), 1, "one delivery");
    (dir, store)
}

/// The development register with Norrby kommun given order `id`, described by the TOML
/// table `order`, and (with `sekretess`) the sekretess category; in a folder of its own.
fn norrby_with(id: &str, order: &str, sekretess: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().expect("tmp");
    let register = work.path().join("register.toml");
    let reg = std::fs::read_to_string(repo().join("deploy/register.dev.toml")).expect("reg");
    let reg = reg.replacen(
        "\"00000079-UR02-0003\"]",
        &format!("\"00000079-UR02-0003\", \"{id}\"]"),
        1,
    );
    let reg = if sekretess {
        reg.replacen(
            "categories = [\"grund\", \"relationer\", \"medborgarskap\", \"taxering\"]",
            "categories = [\"grund\", \"relationer\", \"medborgarskap\", \"taxering\", \"sekretess\"]",
            1,
        )
    } else {
        reg
    };
    // Before Norrby's first urval order, so inside Norrby's entry.
    let reg = reg.replacen(
        "[[organisation.urval]]",
        &format!("{order}\n[[organisation.urval]]"),
        1,
    );
    std::fs::write(&register, reg).expect("register");
    (work, register)
}

async fn nightly_run(server: &TestServer) {
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("\"rejected\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urval_file_is_navets_and_loads_into_a_second_store_equal_for_the_receiver() {
    let server = TestServer::start().await;
    let norrby = cert("client-norrby");
    nightly_run(&server).await;
    // Not produced yet: 404, and nothing else leaves.
    let early = get(&server, &norrby, &fil_path(URVAL, 2, "A"), false).await;
    assert_eq!(early.status, 404, "{}", early.text());

    let plain = get(&server, &norrby, &fil_path(URVAL, 1, "A"), false).await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(
        plain.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert!(plain
        .header("content-disposition")
        .is_some_and(|d| d.contains(&format!("{URVAL}-00001-A.xml"))));
    let zipped = get(&server, &norrby, &fil_path(URVAL, 1, "A"), true).await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.body, plain.body, "gzip carries the same bytes");
    let xml = plain.text();
    xmllint_schema(&xml, &repo().join(NAVET_XSD)).unwrap_or_else(|e| panic!("{e}"));
    for (name, want) in [
        ("BestallningsId", URVAL),
        ("Bestallningstyp", "URVAL"),
        ("LopNr", "1"),
        ("AntalFiler", "1"),
        ("FilNr", "1"),
    ] {
        assert_eq!(element_text(&xml, name).as_deref(), Some(want), "{name}");
    }

    // The same records as the pages, each once.
    let in_file = numbers(&xml);
    assert!(in_file.len() > 10, "{}", in_file.len());
    assert_eq!(
        element_text(&xml, "AntalPoster"),
        Some(in_file.len().to_string())
    );
    assert_eq!(paged(&server, &norrby, URVAL, "A").await, in_file);

    // Each download has its audit line, with every number in the file, written before the
    // file left.
    let lines: Vec<_> = audit_lines(&server.state.config.audit_dir)
        .into_iter()
        .filter(|l| l.operation == "hamtaAviseringsfil" && l.outcome == "ok")
        .collect();
    assert_eq!(lines.len(), 2, "plain and gzip");
    for l in &lines {
        assert_eq!(l.returned, in_file);
        assert_eq!(l.bestallningsid, URVAL);
    }

    // The round: load the download into a second store.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("urval.xml.gz");
    std::fs::write(&file, gzip(&plain.body)).expect("write");
    let (_keep, second) = load_into_new_store(&[&file]);
    assert_equal_for_receiver(&server, &second, URVAL, &in_file);

    // Refusals name what is wrong and send no data.
    let exempel = cert("client-exempel");
    let other = get(&server, &exempel, &fil_path(URVAL, 1, "A"), false).await;
    assert_eq!(other.status, 403, "{}", other.text());
    assert!(other.text().starts_with("1202"), "{}", other.text());
    let no_b = get(&server, &norrby, &fil_path(URVAL, 1, "B"), false).await;
    assert_eq!(no_b.status, 400, "{}", no_b.text());
    let bad = get(
        &server,
        &norrby,
        &format!("/na/na_avisering/V1/fil/{URVAL}/x/A"),
        false,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_with_a_b_file_is_one_delivery_of_two_files_and_loads_as_bilaga_2_says() {
    // Norrby may see protected persons here (the sekretess category), with fewer terms.
    let (_work, register) = norrby_with(
        SPLIT,
        &format!(
            "[[organisation.urval]]\nid = \"{SPLIT}\"\nperiodicitet = \"arlig\"\nsok = {{ kommun = [\"0180\"] }}\nskyddade_termer = [\"namn\"]\n"
        ),
        true,
    );
    let server = TestServer::start_with(|c| c.register = register.clone()).await;
    nightly_run(&server).await;
    let norrby = cert("client-norrby");
    let a = get(&server, &norrby, &fil_path(SPLIT, 1, "A"), true).await;
    let b = get(&server, &norrby, &fil_path(SPLIT, 1, "B"), true).await;
    assert_eq!(
        (a.status, b.status),
        (200, 200),
        "{} {}",
        a.text(),
        b.text()
    );
    let (a_xml, b_xml) = (a.text(), b.text());
    for xml in [&a_xml, &b_xml] {
        xmllint_schema(xml, &repo().join(NAVET_XSD)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(element_text(xml, "AntalFiler").as_deref(), Some("2"));
    }
    assert_eq!(element_text(&b_xml, "Filtyp").as_deref(), Some("B"));
    assert_eq!(element_text(&b_xml, "FilNr").as_deref(), Some("2"));
    let (in_a, in_b) = (numbers(&a_xml), numbers(&b_xml));
    assert!(
        !in_b.is_empty(),
        "the demo has protected persons in Stockholm"
    );
    let total = (in_a.len() + in_b.len()).to_string();
    assert_eq!(
        element_text(&a_xml, "AntalPosterTotalt"),
        Some(total.clone())
    );
    assert_eq!(element_text(&b_xml, "AntalPosterTotalt"), Some(total));
    // File B: fewer terms (the number, the markings, the name), never an address.
    assert!(!b_xml.contains("<Folkbokforingsadress>"), "{b_xml}");
    assert_eq!(paged(&server, &norrby, SPLIT, "B").await, in_b);

    // Each file alone is half a delivery: nothing is applied.
    let dir = tempfile::tempdir().expect("tmp");
    let (fa, fb) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    std::fs::write(&fa, &a.body).expect("write");
    std::fs::write(&fb, &b.body).expect("write");
    let lone = tempfile::tempdir().expect("tmp");
    let store = folkreg::store::Store::open(&lone.path().join("store"), 1 << 26).expect("store");
    let (done, failure) =
        folkreg::load::load_files(&store, std::slice::from_ref(&fb), false, &mut |_| {});
    assert!(done.is_empty());
    let why = failure.expect("refused").to_string();
    assert!(why.contains("file(s) 1 of 2 have not arrived"), "{why}");
    assert_eq!(store.info().records, 0);
    drop(store);

    // Both: one delivery, every person once, the protected with file B's fewer terms.
    let (_keep, second) = load_into_new_store(&[&fb, &fa]);
    let all: Vec<String> = in_a.iter().chain(&in_b).cloned().collect();
    assert_equal_for_receiver(&server, &second, SPLIT, &all);
    server.stop().await;
}

/// The numbers of everyone protected in any record of these deliveries.
fn protected_in(files: &[std::path::PathBuf]) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for f in files {
        for r in folkreg::loadfile::DeliveryReader::open(f).expect("open") {
            let r = r.expect("record");
            if r.post.is_protected() {
                out.insert(r.post.pnr().as_str().to_owned());
            }
        }
    }
    out
}

/// Norrby's ändringsavisering for Stockholms län, beginning with a grunduttag (Navet 3.1).
const GRUND: &str = "00000079-AV02-0009";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grunduttag_then_andringsavisering_keep_a_second_store_equal_for_the_receiver() {
    let made = tempfile::tempdir().expect("tmp");
    let chain = delivery_chain(
        made.path(),
        demo_full(made.path()),
        2,
        400,
        91,
        demo_today(),
    );
    let (_work, register) = norrby_with(
        GRUND,
        &format!(
            "[[organisation.avisering]]\nid = \"{GRUND}\"\nposttyp = \"andringspost\"\nlan = [\"01\"]\n\
             flyttsignal = true\ntotalpost_vid_havning = true\nalltid_markering = true\ngrunduttag = true\n"
        ),
        false,
    );
    let server = TestServer::start_with(|c| c.register = register.clone()).await;
    let norrby = cert("client-norrby");
    // The nightly run takes the new order up: its delivery 1 is the grunduttag.
    nightly_run(&server).await;
    let d1 = get(&server, &norrby, &fil_path(GRUND, 1, "A"), true).await;
    assert_eq!(d1.status, 200, "{}", d1.text());
    let x1 = d1.text();
    xmllint_schema(&x1, &repo().join(NAVET_XSD)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        element_text(&x1, "Bestallningstyp").as_deref(),
        Some("GRUNDUTTAG")
    );
    assert!(
        !x1.contains("totalpost=\"N\""),
        "a grunduttag is totalposter only"
    );
    // The pages of the delivery say the same.
    let org = norrby.org.as_deref().expect("org");
    let page = server
        .post(
            &norrby,
            AV,
            &hamta_avisering_body(org, GRUND, 1, None, None),
        )
        .await;
    assert_eq!(
        page.text_of("Bestallningstyp").as_deref(),
        Some("GRUNDUTTAG"),
        "{}",
        page.body
    );
    // Two loads: deliveries 2 and 3, ändringsposter.
    let inbox = server.state.config.load.inbox.clone();
    std::fs::create_dir_all(&inbox).expect("inbox");
    let mut files = vec![(1u64, d1.body)];
    for (i, delta) in chain[1..].iter().enumerate() {
        std::fs::copy(delta, inbox.join(delta.file_name().expect("name"))).expect("copy");
        nightly_run(&server).await;
        let lop = i as u64 + 2;
        let d = get(&server, &norrby, &fil_path(GRUND, lop, "A"), false).await;
        assert_eq!(d.status, 200, "{}", d.text());
        let x = d.text();
        xmllint_schema(&x, &repo().join(NAVET_XSD)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            element_text(&x, "Bestallningstyp").as_deref(),
            Some("ANDRINGSAVISERING")
        );
        assert_eq!(element_text(&x, "LopNr"), Some(lop.to_string()));
        assert!(
            x.contains("totalpost=\"N\""),
            "ändringsposter in delivery {lop}"
        );
        files.push((lop, d.body));
    }
    // The receiver loads the three files, in any order: LopNr orders them.
    let dir = tempfile::tempdir().expect("tmp");
    let mut paths = Vec::new();
    for (lop, body) in files.iter().rev() {
        let p = dir.path().join(format!("navet-{lop}.xml"));
        std::fs::write(&p, body).expect("write");
        paths.push(p);
    }
    let second_dir = tempfile::tempdir().expect("tmp");
    let second =
        folkreg::store::Store::open(&second_dir.path().join("store"), 1 << 26).expect("store");
    let (done, failure) = folkreg::load::load_files(&second, &paths, false, &mut |_| {});
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(done.len(), 3);
    assert_eq!(second.info().lopnummer, Some(3));

    // Everyone in the order's population now is in the second store as the receiver may see
    // them now.
    let reg = server.state.register.load();
    let org = reg
        .organisations()
        .iter()
        .find(|o| Some(o.orgnr.wire().as_str()) == norrby.org.as_deref())
        .expect("norrby");
    let order = org.avisering.iter().find(|o| o.id == GRUND).expect("order");
    let access = org.access();
    let year =
        chrono::Datelike::year(&chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm));
    let protected_once = protected_in(&chain);
    let first = server.state.store.snapshot();
    let snap = second.snapshot();
    let mut checked = 0;
    for post in first.iter() {
        let post = first
            .with_linked_markings(post.expect("read"))
            .expect("markings");
        let Some(n) = folkreg::avisering::select::grund_notice(order, &access, &post, year) else {
            continue;
        };
        let view = access.delivered(n.post, n.terms).expect("visible");
        let pnr = view.post.pnr();
        let got = snap
            .get(&pnr)
            .expect("read")
            .unwrap_or_else(|| panic!("{} is in the population but not delivered", pnr.as_str()));
        // Back after a protection, a person comes with today's terms only (DOMAIN.md §4):
        // no historik from the protected period.
        let terms = if protected_once.contains(pnr.as_str()) && !view.post.is_protected() {
            view.terms
                .without(TermMask::of(&[folkreg::access::Term::Historik]))
        } else {
            view.terms
        };
        assert_eq!(
            render(&got, terms),
            render(&view.post, terms),
            "{}",
            pnr.as_str()
        );
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
    eprintln!("{checked} persons of the population equal after a grunduttag and two deliveries");
    server.stop().await;
}
