//! Urval, slumpmässigt urval and svar direkt mot infil on the real binary, over mutual TLS:
//! orders in the register, run by the nightly job (`POST /load` runs it now) or at once by
//! `lamnaInfil` with `SvarDirekt`, fetched page by page with `hamtaAvisering`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::*;
use chrono::Datelike;
use folkreg::model::Folkbokforingspost;

const LULEA: &str = "00000079-UR02-0009";
const NOTHING: &str = "00000079-UR02-0008";
const SOK: &str = "00000079-UR02-0001";
const DIREKT: &str = "00000079-UR02-0003";
const ENSTAKA: &str = "00000079-UR02-0007";
const PERIODISK: &str = "00000079-UR02-0006";
/// Navet 3.3 example 2: the age groups.
const GROUPS: [(u16, u16); 6] = [(20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 79)];

fn norrby() -> CertEntry {
    cert("client-norrby")
}

fn hamta(order: &str, lopnummer: u64, sida: u64) -> String {
    hamta_avisering_body("162120000134", order, lopnummer, None, Some(sida))
}

fn lamna(
    order: &str,
    sida: u64,
    antal_sidor: u64,
    svar_direkt: bool,
    numbers: &[String],
) -> String {
    lamna_infil_body(
        "162120000134",
        order,
        sida,
        antal_sidor,
        Some(svar_direkt),
        numbers,
    )
}

/// One delivered record: its undergroup and the texts of a few elements.
#[derive(Debug)]
struct Record {
    undergrupp: Option<u16>,
    pnr: String,
    kommun: Option<String>,
    lan: Option<String>,
    post_nr: Option<String>,
    efternamn: Option<String>,
}

fn records(body: &str) -> Vec<Record> {
    body.split("<Avisering ")
        .skip(1)
        .map(|r| {
            let r = &r[..r.find("</Avisering>").expect("end")];
            Record {
                undergrupp: r
                    .find("Undergrupp=\"")
                    .map(|i| &r[i + 12..])
                    .and_then(|s| s[..s.find('"')?].parse().ok()),
                pnr: element_text(r, "PersonNr")
                    .or_else(|| element_text(r, "TilldelatPersonNrSamordningsNr"))
                    .expect("number"),
                kommun: element_text(r, "KommunKod"),
                lan: element_text(r, "LanKod"),
                post_nr: element_text(r, "PostNr"),
                efternamn: element_text(r, "Efternamn"),
            }
        })
        .collect()
}

/// Every record of delivery `lopnummer` of `order`, page by page (validating each page),
/// with the first page's answer.
async fn fetch_all(server: &RealServer, order: &str, lopnummer: u64) -> (String, Vec<Record>) {
    let first = server
        .post(&norrby(), AV, &hamta(order, lopnummer, 1))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.text_of("Status").as_deref(),
        Some("KLAR"),
        "{}",
        first.body
    );
    validate_avisering(&first.body);
    let sidor: u64 = first
        .text_of("AntalSidor")
        .expect("sidor")
        .parse()
        .expect("n");
    let mut all = records(&first.body);
    for sida in 2..=sidor {
        let page = server
            .post(&norrby(), AV, &hamta(order, lopnummer, sida))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        validate_avisering(&page.body);
        all.extend(records(&page.body));
    }
    let antal: usize = first
        .text_of("AntalPosterA")
        .expect("antal")
        .parse()
        .expect("n");
    assert_eq!(all.len(), antal, "every record once across the pages");
    (first.body, all)
}

fn doc_text(body: &str, local: &str) -> Option<String> {
    element_text(body, local)
}

fn year_now() -> i32 {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .year()
}

fn age(pnr: &str, year: i32) -> u16 {
    let born: i32 = pnr[..4].parse().expect("year");
    u16::try_from(year - born).expect("age")
}

fn is_male(pnr: &str) -> bool {
    pnr.as_bytes()[10].wrapping_sub(b'0') % 2 == 1
}

/// A population where Luleå (kommun 2580) has at least 80 folkbokförda, unprotected men and
/// women in each of example 2's age groups: the generated population, with such persons
/// moved to Luleå (folkbokföring and address) until every group has 80.
fn population_with_lulea(dir: &Path) -> std::path::PathBuf {
    let mut posts: Vec<Folkbokforingspost> =
        folkreg::dev::generate::population(20_000, 31, demo_today());
    let year = year_now();
    let mut count: BTreeMap<(bool, usize), usize> = BTreeMap::new();
    for post in &mut posts {
        let p = &post.personpost;
        let eligible = p.avregistrering.is_none()
            && !post.sekretessmarkering
            && !post.skyddad_folkbokforing
            && p.identitetstyp == folkreg::model::Identitetstyp::Personnummer
            && p.folkbokforing.is_some();
        let pnr = p.person_id.as_str().to_owned();
        let a = age(&pnr, year);
        let Some(g) = GROUPS.iter().position(|(f, t)| (*f..=*t).contains(&a)) else {
            continue;
        };
        let key = (is_male(&pnr), g);
        let n = count.entry(key).or_default();
        let in_lulea = post
            .personpost
            .folkbokforing
            .as_ref()
            .is_some_and(|f| f.lan_kod == "25" && f.kommun_kod == "80");
        if in_lulea {
            *n += 1;
        } else if eligible && *n < 80 {
            *n += 1;
            let pp = &mut post.personpost;
            if let Some(f) = pp.folkbokforing.as_mut() {
                f.lan_kod = "25".into();
                f.kommun_kod = "80".into();
            }
            if let Some(a) = pp.adresser.folkbokforingsadress.as_mut() {
                a.post_nr = Some("97234".into());
                a.postort = Some("LULEÅ".into());
            }
        }
    }
    assert!(count.values().all(|n| *n >= 80), "{count:?}");
    let full = dir.join("leverans-000001-FULL.xml.gz");
    let header = folkreg::loadfile::DeliveryHeader {
        lopnummer: 1,
        typ: folkreg::loadfile::DeliveryTyp::Full,
        skapad: "2026-11-02T01:00:00+01:00".into(),
        antal: posts.len() as u64,
    };
    let records: Vec<folkreg::model::change::DeliveryRecord> = posts
        .into_iter()
        .map(|post| folkreg::model::change::DeliveryRecord {
            posttyp: folkreg::model::change::Posttyp::Total,
            post,
            present: folkreg::access::TermMask::ALL,
        })
        .collect();
    folkreg::loadfile::writer::write_delivery(&full, &header, &records).expect("write FULL");
    full
}

/// The development register with Norrby kommun's extra orders: example 2 for Luleå and an
/// urval that matches nothing.
fn register_with_extra_orders(work: &Path) -> std::path::PathBuf {
    let reg = std::fs::read_to_string(repo().join("deploy/register.dev.toml")).expect("reg");
    let undergrupper: Vec<String> = GROUPS
        .iter()
        .flat_map(|(f, t)| {
            ["M", "K"]
                .map(|kon| format!("{{ antal = 50, kon = \"{kon}\", alder = [\"{f}-{t}\"] }}"))
        })
        .collect();
    let reg = reg.replace(
        "\"00000079-UR02-0003\"]",
        &format!(
            "\"00000079-UR02-0003\", \"{LULEA}\", \"{NOTHING}\", \"{ENSTAKA}\", \"{PERIODISK}\"]"
        ),
    );
    // Norrby's tables are the register's first organisation's last: append after its last
    // urval table, before the next organisation.
    let at = reg
        .find("# Exempel Försäkring AB")
        .expect("the next organisation");
    let extra = format!(
        "[[organisation.urval]]\nid = \"{LULEA}\"\nsok = {{ kommun = [\"2580\"] }}\n\
         undergrupper = [{}]\n\n\
         [[organisation.urval]]\nid = \"{NOTHING}\"\nsok = {{ lan = [\"00\"] }}\n\n\
         [[organisation.urval]]\nid = \"{ENSTAKA}\"\ninfil = \"enstaka\"\n\n\
         [[organisation.urval]]\nid = \"{PERIODISK}\"\ninfil = \"periodisk\"\n\n",
        undergrupper.join(", ")
    );
    let reg = format!("{}{extra}{}", &reg[..at], &reg[at..]);
    let path = work.join("register.toml");
    std::fs::write(&path, reg).expect("register");
    path
}

async fn start(full: Option<&Path>) -> RealServer {
    RealServer::start_custom(&[], &[], |work, config| {
        let register = register_with_extra_orders(work);
        let inbox = work.join("data/inbox");
        std::fs::create_dir_all(&inbox).expect("inbox");
        if let Some(full) = full {
            std::fs::copy(full, inbox.join(full.file_name().expect("name"))).expect("copy");
        }
        let original = format!("{:?}", repo().join("deploy/register.dev.toml"));
        config.replace(&original, &format!("{register:?}")) + "[avisering]\npage_size = 100\n"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lulea_example_2_is_drawn_at_the_nightly_run() {
    let made = tempfile::tempdir().expect("tmp");
    let full = population_with_lulea(made.path());
    let server = start(Some(&full)).await;
    // Before the nightly run nothing is delivered; the run (POST /load) draws it.
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let (first, all) = fetch_all(&server, LULEA, 1).await;
    assert_eq!(
        doc_text(&first, "Typ").as_deref(),
        Some("slumpmassigt_urval")
    );
    assert_eq!(doc_text(&first, "Posttyp").as_deref(), Some("totalpost"));
    let seed: u64 = doc_text(&first, "Slumpfro")
        .expect("the seed is in the header")
        .parse()
        .expect("seed");
    // 12 undergroups (delbeställningar), each 50 wanted and 50 drawn.
    assert_eq!(first.matches("<Undergrupp>").count(), 12, "{first}");
    assert_eq!(
        first
            .matches("<Onskat>50</Onskat><Antal>50</Antal>")
            .count(),
        12,
        "{}",
        &first[first.find("<Urval>").unwrap_or(0)..first.find("</Urval>").unwrap_or(0)]
    );
    assert_eq!(all.len(), 600);
    // Each person once, from Luleå, of the undergroup's sex and age group.
    let year = year_now();
    let mut seen = BTreeSet::new();
    let mut per_group: BTreeMap<u16, usize> = BTreeMap::new();
    for r in &all {
        assert!(seen.insert(r.pnr.clone()), "{} twice", r.pnr);
        assert_eq!(
            (r.lan.as_deref(), r.kommun.as_deref()),
            (Some("25"), Some("80"))
        );
        let g = r.undergrupp.expect("undergroup");
        let (from, to) = GROUPS[usize::from((g - 1) / 2)];
        assert!(
            (from..=to).contains(&age(&r.pnr, year)),
            "{} in group {g}",
            r.pnr
        );
        assert_eq!(is_male(&r.pnr), g % 2 == 1, "{} in group {g}", r.pnr);
        *per_group.entry(g).or_default() += 1;
    }
    assert_eq!(per_group.len(), 12);
    assert!(per_group.values().all(|n| *n == 50), "{per_group:?}");
    // Reproducible: the recorded seed over the same data draws the same persons.
    let store_dir = made.path().join("store");
    let store = folkreg::store::Store::open(&store_dir, 32 << 20).expect("store");
    folkreg::load::load_file(&store, &full, false).expect("load");
    let register = folkreg::register::Register::load(&server.work.path().join("register.toml"))
        .expect("register");
    let org = register
        .organisations()
        .iter()
        .find(|o| o.urval.iter().any(|u| u.id == LULEA))
        .expect("Norrby");
    let order = org.urval.iter().find(|u| u.id == LULEA).expect("order");
    let again =
        folkreg::avisering::urval::select(order, &org.access(), &store.snapshot(), year, seed, &[])
            .expect("select");
    let again: Vec<String> = again
        .hits
        .iter()
        .map(|h| h.pnr.as_str().to_owned())
        .collect();
    let delivered: Vec<String> = all.iter().map(|r| r.pnr.clone()).collect();
    assert_eq!(again, delivered);
    // Once means once: the next nightly run does not draw again.
    let (code, _) = server.admin("POST", "/load").await;
    assert_eq!(code, 200);
    let second = server.post(&norrby(), AV, &hamta(LULEA, 2, 1)).await;
    assert_eq!(
        second.text_of("Status").as_deref(),
        Some("EJ_KLAR"),
        "{}",
        second.body
    );
    // The audit line of a page lists the persons delivered.
    let audit: String = std::fs::read_dir(server.data().join("audit"))
        .expect("audit dir")
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(audit
        .lines()
        .any(|l| l.contains(LULEA) && l.contains(&format!("\"{}\"", all[0].pnr))));
    // The service log says what ran, without naming anyone.
    let log = std::fs::read_to_string(&server.log).expect("log");
    assert!(
        log.contains("urval run") && !log.contains(&all[0].pnr),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urval_by_sokbegrepp_and_one_that_matches_nothing() {
    let server = start(None).await;
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    // Stockholm, aged 65-79 this year, by postnummer then efternamn.
    let (first, all) = fetch_all(&server, SOK, 1).await;
    assert_eq!(doc_text(&first, "Typ").as_deref(), Some("urval"));
    assert!(all.len() > 20, "{}", all.len());
    let year = year_now();
    for r in &all {
        // Stockholm (01 80), or a protected person whose folkbokföring Norrby does not get.
        assert!(
            r.kommun.is_none()
                || (r.lan.as_deref(), r.kommun.as_deref()) == (Some("01"), Some("80")),
            "{r:?}"
        );
        assert!((65..=79).contains(&age(&r.pnr, year)), "{}", r.pnr);
    }
    let visible: Vec<&Record> = all.iter().filter(|r| r.post_nr.is_some()).collect();
    for pair in visible.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            a.post_nr <= b.post_nr,
            "{:?} before {:?}",
            a.post_nr,
            b.post_nr
        );
    }
    // Protected persons (whose address Norrby does not get) come last.
    let first_hidden = all
        .iter()
        .position(|r| r.post_nr.is_none())
        .unwrap_or(all.len());
    assert!(all[first_hidden..].iter().all(|r| r.post_nr.is_none()));
    // Within one postnummer, efternamn in Swedish order.
    for pair in visible.windows(2) {
        if pair[0].post_nr == pair[1].post_nr {
            let (a, b) = (pair[0].efternamn.clone(), pair[1].efternamn.clone());
            assert!(
                folkreg::avisering::urval::collation::key(&a.unwrap_or_default())
                    <= folkreg::avisering::urval::collation::key(&b.unwrap_or_default())
            );
        }
    }
    // An urval that matches nothing: an empty delivery, not an error.
    let (none, records) = fetch_all(&server, NOTHING, 1).await;
    assert!(records.is_empty());
    assert_eq!(doc_text(&none, "AntalPosterA").as_deref(), Some("0"));
    // Status and metrics list the urval orders with the avisering ones.
    let (_, metrics) = server.admin("GET", "/metrics").await;
    assert_eq!(
        series(
            &metrics,
            &format!("folkreg_avisering_produced_lopnummer{{name=\"{SOK}\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svar_direkt_answers_each_infil_at_once() {
    let server = start(None).await;
    let n = norrby();
    let mut numbers = demo_numbers(150);
    numbers.push("191212121212".into()); // valid, not in the register
                                         // Page 2 of 2 with an invalid number: the page is refused, naming the position.
    let first = server
        .post(&n, INFIL, &lamna(DIREKT, 1, 2, true, &numbers[..100]))
        .await;
    assert_eq!(
        first.text_of("Status").as_deref(),
        Some("MOTTAGEN"),
        "{}",
        first.body
    );
    let mut bad = numbers[100..].to_vec();
    bad.insert(3, "196408233235".into());
    let refused = server
        .post(&n, INFIL, &lamna(DIREKT, 2, 2, true, &bad))
        .await;
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert_eq!(refused.text_of("Felkod").as_deref(), Some("1101"));
    assert!(refused.body.contains("PersonNr 4"), "{}", refused.body);
    // The page again, right: the whole infil is answered at once with delivery 1.
    let done = server
        .post(&n, INFIL, &lamna(DIREKT, 2, 2, true, &numbers[100..]))
        .await;
    assert_eq!(
        done.text_of("Status").as_deref(),
        Some("KLAR"),
        "{}",
        done.body
    );
    assert_eq!(done.text_of("AntalPersoner").as_deref(), Some("151"));
    assert_eq!(done.text_of("Lopnummer").as_deref(), Some("1"));
    validate_avisering(&done.body);
    let (head, all) = fetch_all(&server, DIREKT, 1).await;
    assert_eq!(doc_text(&head, "Typ").as_deref(), Some("svar_direkt"));
    assert_eq!(doc_text(&head, "AntalEjFunna").as_deref(), Some("1"));
    let got: BTreeSet<String> = all.iter().map(|r| r.pnr.clone()).collect();
    let want: BTreeSet<String> = numbers[..150].iter().cloned().collect();
    assert_eq!(got, want);
    // Another the same day: delivery 2.
    let again = server
        .post(&n, INFIL, &lamna(DIREKT, 1, 1, true, &numbers[..5]))
        .await;
    assert_eq!(
        again.text_of("Lopnummer").as_deref(),
        Some("2"),
        "{}",
        again.body
    );
    // SvarDirekt on an order that runs at night is a clear fault; so is an infil over
    // 2,000,000 numbers (more than 200 pages of 10,000); so is an unknown order.
    let avisering = server
        .post(
            &n,
            INFIL,
            &lamna("00000079-AV02-0002", 1, 1, true, &numbers[..5]),
        )
        .await;
    assert_eq!(avisering.text_of("Felkod").as_deref(), Some("1101"));
    assert!(
        avisering.body.contains("not answered directly"),
        "{}",
        avisering.body
    );
    let huge = server
        .post(&n, INFIL, &lamna(DIREKT, 1, 201, true, &numbers[..5]))
        .await;
    assert_eq!(
        huge.text_of("Felkod").as_deref(),
        Some("1101"),
        "{}",
        huge.body
    );
    assert!(huge.body.contains("at most 200 pages"), "{}", huge.body);
    let unknown = server
        .post(
            &n,
            INFIL,
            &lamna("00000079-UR02-7777", 1, 1, true, &numbers[..5]),
        )
        .await;
    assert_eq!(unknown.status, 500, "{}", unknown.body);
    assert!(unknown.text_of("Felkod").is_some(), "{}", unknown.body);
}

/// Numbers of the demo population the server loads (unprotected personnummer).
fn demo_numbers(n: usize) -> Vec<String> {
    demo_population()
        .iter()
        .filter(|p| {
            p.personpost.identitetstyp == folkreg::model::Identitetstyp::Personnummer
                && !p.is_protected()
        })
        .take(n)
        .map(|p| p.pnr().as_str().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infil_routines_enstaka_and_periodisk_run_at_night() {
    let server = start(None).await;
    let n = norrby();
    let numbers = demo_numbers(40);
    // Two infiler the same day for the one-off order: the later one is answered.
    for (order, count) in [(ENSTAKA, 10), (ENSTAKA, 20), (PERIODISK, 5)] {
        let r = server
            .post(&n, INFIL, &lamna(order, 1, 1, false, &numbers[..count]))
            .await;
        assert_eq!(r.text_of("Status").as_deref(), Some("KLAR"), "{}", r.body);
        assert_eq!(r.text_of("Lopnummer"), None, "answered at night, not now");
    }
    let before = server.post(&n, AV, &hamta(ENSTAKA, 1, 1)).await;
    assert_eq!(before.text_of("Status").as_deref(), Some("EJ_KLAR"));
    let (code, body) = server.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let (head, all) = fetch_all(&server, ENSTAKA, 1).await;
    assert_eq!(doc_text(&head, "Typ").as_deref(), Some("infil"));
    assert_eq!(all.len(), 20);
    assert_eq!(fetch_all(&server, PERIODISK, 1).await.1.len(), 5);
    // Enstaka has run: a new infil is refused (a new run needs a new order).
    let again = server
        .post(&n, INFIL, &lamna(ENSTAKA, 1, 1, false, &numbers[..3]))
        .await;
    assert_eq!(
        again.text_of("Felkod").as_deref(),
        Some("1101"),
        "{}",
        again.body
    );
    assert!(again.body.contains("has run"), "{}", again.body);
    // Periodisk: nothing new, nothing run; a new infil runs the next night.
    let (code, _) = server.admin("POST", "/load").await;
    assert_eq!(code, 200);
    let none = server.post(&n, AV, &hamta(PERIODISK, 2, 1)).await;
    assert_eq!(none.text_of("Status").as_deref(), Some("EJ_KLAR"));
    let r = server
        .post(&n, INFIL, &lamna(PERIODISK, 1, 1, false, &numbers[..33]))
        .await;
    assert_eq!(r.text_of("AntalPersoner").as_deref(), Some("33"));
    let (code, _) = server.admin("POST", "/load").await;
    assert_eq!(code, 200);
    assert_eq!(fetch_all(&server, PERIODISK, 2).await.1.len(), 33);
}
