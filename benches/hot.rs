//! Hot functions of a request, each next to a baseline measured in the same run:
//!
//! | group      | case                                   | baseline                                 |
//! |------------|----------------------------------------|------------------------------------------|
//! | `envelope` | `ops::Operation::parse` (personpost, namnsökning) | a quick-xml event scan of the same bytes |
//! | `decode`   | `model::decode` of a stored record     | copying the encoded bytes (`to_vec`)     |
//! | `render`   | `soap::response::answer`, one whole record | copying a pre-rendered answer of it  |
//! | `mask`     | `Access::view`, restricted and full    | `View::whole`                            |
//! | `store`    | `Snapshot::get`, `Snapshot::search`    | `model::decode` of an in-memory record   |
//! | `store`    | `Snapshot::get_for_answer` (a lookup: record + hänvisning protection) | `Snapshot::get` |
//! | `delivery` | one delivery record fetched: `Feed::records` + `FeedRecord::render_for` (rendered with the receiver's access now) | copying the record rendered once at production (the fetch before issue 17), and rendering it (the production-time cost before) |
//!
//! ```text
//! cargo bench --bench hot
//! FOLKREG_BENCH_PERSONS=100000 cargo bench --bench hot      # population (default 20,000)
//! ```
//!
//! After criterion, a table of each case's median and its ratio to its baseline is printed
//! (read from criterion's `new/estimates.json` of this run; a case filtered out or not
//! measured is shown as `-`).

#[path = "support/criterion_out.rs"]
mod criterion_out;
use criterion_out::{criterion_dir, median_ns};

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion};
use folkreg::access::Category;
use folkreg::access::{Access, View};
use folkreg::model::Folkbokforingspost;
use folkreg::ops::Operation;
use folkreg::search::{parse_patterns, SearchQuery};
use folkreg::soap::response::{self, Answer};
use folkreg::store::{SearchOutcome, Store};

/// Records each in-memory case cycles through (a spread of the population).
const SAMPLE: usize = 1024;
/// The namnsökning hit limit (WIRE.md: at most 100 hits).
const LIMIT: usize = 100;

/// (group, case, baseline): the rows of the ratio table.
const ROWS: [(&str, &str, &str); 12] = [
    ("envelope", "parse_personpost", "scan_personpost"),
    ("envelope", "parse_namnsokning", "scan_namnsokning"),
    ("decode", "decode", "to_vec"),
    ("render", "answer_whole", "copy_answer"),
    ("mask", "view_restricted", "view_whole"),
    ("mask", "view_full", "view_whole"),
    ("store", "get", "decode_in_memory"),
    ("store", "get_for_answer", "get"),
    ("store", "search_prefix_postort", "decode_in_memory"),
    ("delivery", "fetch_kept", "copy_rendered"),
    ("delivery", "fetch_kept", "render_notice"),
    ("delivery", "fetch_kept", "read_kept"),
];

fn persons() -> usize {
    std::env::var("FOLKREG_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a valid date")
}

/// Every `len / SAMPLE`-th record of the generated population.
fn sample_posts() -> Vec<Folkbokforingspost> {
    let all = folkreg::dev::generate::population(persons(), 1, today());
    let step = (all.len() / SAMPLE).max(1);
    all.into_iter().step_by(step).take(SAMPLE).collect()
}

/// A personpostXML request as Navet clients send it (tests/it/common.rs `personpost_body`).
fn personpost_body(pnr: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1">
<soapenv:Header/><soapenv:Body><v1:PersonpostRequest>
<v1:Bestallning><v1:OrgNr>162021004748</v1:OrgNr><v1:BestallningsId>00000079-FO01-0001</v1:BestallningsId></v1:Bestallning>
<v1:PersonId>{pnr}</v1:PersonId></v1:PersonpostRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

/// A namnsokningXML request with all ten SokvillkorNamn children, as WIRE.md requires
/// (tests/it/common.rs `namnsokning_body`): surname prefix and postort set, the rest empty.
fn namnsokning_body(efter_mellan: &str, postort: &str) -> String {
    let mut inner = String::new();
    for name in folkreg::soap::request::SOKVILLKOR_NAMN {
        let value = match name {
            "EfterMellanNamn" => efter_mellan,
            "Postort" => postort,
            _ => "",
        };
        inner.push_str(&format!("<v1:{name}>{value}</v1:{name}>"));
    }
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1">
<soapenv:Body><v1:NamnsokningRequest><v1:Bestallning><v1:OrgNr>162021004748</v1:OrgNr><v1:BestallningsId>00000079-FO01-0001</v1:BestallningsId></v1:Bestallning>
<v1:SokvillkorNamn>{inner}</v1:SokvillkorNamn></v1:NamnsokningRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

/// The baseline of parsing: read every event of the bytes with a plain quick-xml reader,
/// borrowing from the input (no buffer, no result built). Returns the number of events.
fn scan(body: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
        }
    }
}

fn envelope(c: &mut Criterion) {
    let personpost = personpost_body("198602212394").into_bytes();
    let namnsokning = namnsokning_body("ander*", "stockholm").into_bytes();
    assert!(
        matches!(Operation::parse(&personpost), Ok(Operation::Personpost(_))),
        "the personpost body parses"
    );
    assert!(
        matches!(
            Operation::parse(&namnsokning),
            Ok(Operation::Namnsokning(_))
        ),
        "the namnsokning body parses"
    );
    eprintln!(
        "envelope: personpost {} bytes, {} events; namnsokning {} bytes, {} events",
        personpost.len(),
        scan(&personpost),
        namnsokning.len(),
        scan(&namnsokning)
    );
    let mut g = c.benchmark_group("envelope");
    g.bench_function("scan_personpost", |b| {
        b.iter(|| scan(black_box(&personpost)))
    });
    g.bench_function("parse_personpost", |b| {
        b.iter(|| Operation::parse(black_box(&personpost)).is_ok())
    });
    g.bench_function("scan_namnsokning", |b| {
        b.iter(|| scan(black_box(&namnsokning)))
    });
    g.bench_function("parse_namnsokning", |b| {
        b.iter(|| Operation::parse(black_box(&namnsokning)).is_ok())
    });
    g.finish();
}

fn decode(c: &mut Criterion, posts: &[Folkbokforingspost]) {
    let encoded: Vec<Vec<u8>> = posts.iter().map(folkreg::model::encode).collect();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    eprintln!(
        "decode: {} records, {} encoded bytes on average",
        encoded.len(),
        bytes / encoded.len().max(1)
    );
    let mut g = c.benchmark_group("decode");
    let mut i = 0usize;
    g.bench_function("to_vec", |b| {
        b.iter(|| {
            i = (i + 1) % encoded.len();
            black_box(&encoded[i]).to_vec()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            i = (i + 1) % encoded.len();
            folkreg::model::decode(black_box(&encoded[i])).ok()
        })
    });
    g.finish();
}

fn render(c: &mut Criterion, posts: &[Folkbokforingspost]) {
    let full = Access::full();
    let views: Vec<View> = posts.iter().filter_map(|p| full.view(p.clone())).collect();
    let rendered: Vec<Vec<u8>> = views
        .iter()
        .map(|v| response::answer(Answer::Personpost, std::slice::from_ref(v)))
        .collect();
    let bytes: usize = rendered.iter().map(Vec::len).sum();
    eprintln!(
        "render: {} answers of one whole record, {} bytes on average",
        rendered.len(),
        bytes / rendered.len().max(1)
    );
    let mut g = c.benchmark_group("render");
    let mut i = 0usize;
    g.bench_function("copy_answer", |b| {
        b.iter(|| {
            i = (i + 1) % rendered.len();
            black_box(&rendered[i]).to_vec()
        })
    });
    g.bench_function("answer_whole", |b| {
        b.iter(|| {
            i = (i + 1) % views.len();
            response::answer(
                Answer::Personpost,
                std::slice::from_ref(black_box(&views[i])),
            )
        })
    });
    g.finish();
}

fn mask(c: &mut Criterion, posts: &[Folkbokforingspost]) {
    // An organisation with grund and relationer only, no switches (so samordningsnummer and
    // tilldelade personnummer are not seen, and hänvisningar to samordningsnummer removed).
    let restricted = Access::new([Category::Grund, Category::Relationer], []);
    let full = Access::full();
    let seen = posts
        .iter()
        .filter(|p| restricted.view((*p).clone()).is_some())
        .count();
    eprintln!(
        "mask: {} records, {seen} visible to the restricted organisation (terms {:?}); a record is {} bytes by value",
        posts.len(),
        restricted.mask(),
        std::mem::size_of::<Folkbokforingspost>()
    );
    // The record is cloned in the (untimed) setup: `view` takes it by value.
    let mut g = c.benchmark_group("mask");
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % posts.len();
        posts[i].clone()
    };
    g.bench_function("view_whole", |b| {
        b.iter_batched(&mut next, View::whole, BatchSize::SmallInput)
    });
    g.bench_function("view_full", |b| {
        b.iter_batched(&mut next, |p| full.view(p), BatchSize::SmallInput)
    });
    g.bench_function("view_restricted", |b| {
        b.iter_batched(&mut next, |p| restricted.view(p), BatchSize::SmallInput)
    });
    g.finish();
}

/// A namnsökning a client would send for this person: the first three letters of the
/// surname and `*`, plus the postort; `None` for a protected person or one without them.
fn query_for(post: &Folkbokforingspost) -> Option<(String, SearchQuery)> {
    if post.is_protected() {
        return None;
    }
    let p = &post.personpost;
    let surname = p.namn.efternamn.as_deref()?.split_whitespace().next()?;
    let prefix: String = surname.chars().take(3).collect();
    if prefix.chars().count() < 3 || !prefix.chars().all(char::is_alphabetic) {
        return None;
    }
    let postort = p
        .adresser
        .folkbokforingsadress
        .as_ref()?
        .postort
        .as_deref()?;
    let text = format!("{}* / {postort}", prefix.to_lowercase());
    let q = SearchQuery {
        efter_mellan: parse_patterns(&format!("{prefix}*")).ok()?,
        postort: parse_patterns(postort).ok()?,
        ..Default::default()
    };
    Some((text, q))
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let file = dir.path().join("full.xml.gz");
    let started = std::time::Instant::now();
    folkreg::dev::generate::write_full(persons(), 1, today(), Some(&file))
        .expect("generate the FULL delivery");
    let store = Store::open(&dir.path().join("store"), 256 << 20).expect("open the store");
    let report = folkreg::load::load_file(&store, &file, false).expect("load the delivery");
    eprintln!(
        "store: {} records loaded in {:.1} s ({report})",
        store.info().records,
        started.elapsed().as_secs_f64()
    );

    let snap = store.snapshot();
    let step = (persons() / 256).max(1);
    let sample: Vec<Folkbokforingspost> = snap
        .iter()
        .step_by(step)
        .map(|r| r.expect("read a stored record"))
        .collect();
    let pnrs: Vec<_> = sample.iter().map(Folkbokforingspost::pnr).collect();
    let encoded: Vec<Vec<u8>> = sample.iter().map(folkreg::model::encode).collect();
    let full = Access::full();
    let queries: Vec<SearchQuery> = sample
        .iter()
        .filter_map(query_for)
        .map(|(_, q)| q)
        .collect();
    assert!(!queries.is_empty(), "some records give a search");
    let (mut hits, mut too_many) = (Vec::new(), 0usize);
    for q in &queries {
        match snap.search(q, LIMIT, |p, protection| full.may_find(p, protection)) {
            Ok(SearchOutcome::Hits(h)) => hits.push(h.len()),
            Ok(SearchOutcome::TooMany) => too_many += 1,
            Err(e) => panic!("search failed in setup: {e}"),
        }
    }
    hits.sort_unstable();
    eprintln!(
        "store: {} lookups; {} searches (e.g. {:?}): {} answered with hits (median {}, max {}), {too_many} with more than {LIMIT} (fault 1103)",
        pnrs.len(),
        queries.len(),
        sample.iter().find_map(query_for).map(|(t, _)| t).unwrap_or_default(),
        hits.len(),
        hits.get(hits.len() / 2).copied().unwrap_or(0),
        hits.last().copied().unwrap_or(0),
    );

    // How many records the surname prefix alone matches: the search reads and decodes every
    // one of them when they are few (up to the store's narrowing threshold), to check the
    // other criteria on the record itself.
    let all: Vec<Folkbokforingspost> = snap
        .iter()
        .map(|r| r.expect("read a stored record"))
        .collect();
    let mut by_name: Vec<usize> = queries
        .iter()
        .take(32)
        .map(|q| {
            let name_only = SearchQuery {
                efter_mellan: q.efter_mellan.clone(),
                ..Default::default()
            };
            all.iter().filter(|p| name_only.matches(p)).count()
        })
        .collect();
    drop(all);
    by_name.sort_unstable();
    eprintln!(
        "store: the surname prefix alone matches median {} records, mean {}, max {} (of {} searches sampled)",
        by_name.get(by_name.len() / 2).copied().unwrap_or(0),
        by_name.iter().sum::<usize>() / by_name.len().max(1),
        by_name.last().copied().unwrap_or(0),
        by_name.len()
    );

    delivery(c, &store, &pnrs);

    let mut g = c.benchmark_group("store");
    g.sample_size(30);
    let mut i = 0usize;
    g.bench_function("decode_in_memory", |b| {
        b.iter(|| {
            i = (i + 1) % encoded.len();
            folkreg::model::decode(black_box(&encoded[i])).ok()
        })
    });
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 1) % pnrs.len();
            snap.get(black_box(&pnrs[i])).ok().flatten()
        })
    });
    // What a lookup reads: the record and the hänvisning links followed for protection.
    g.bench_function("get_for_answer", |b| {
        b.iter(|| {
            i = (i + 1) % pnrs.len();
            snap.get_for_answer(black_box(&pnrs[i])).ok().flatten()
        })
    });
    g.bench_function("search_prefix_postort", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            snap.search(black_box(&queries[i]), LIMIT, |p, protection| {
                full.may_find(p, protection)
            })
            .is_ok()
        })
    });
    g.finish();
}

/// One delivery of the sampled persons (an urval mot infil, svar direkt) for a receiver with
/// grund only: what fetching one of its records costs now, against what it cost when
/// deliveries were rendered at production and stored as bytes.
fn delivery(c: &mut Criterion, store: &Store, pnrs: &[folkreg::ids::pnr::Pnr]) {
    use folkreg::avisering::feed::{render, Feed, FeedRecord, OrderKey};
    use folkreg::avisering::select::{Fil, Notice};
    use folkreg::model::change::Posttyp;
    let register = folkreg::register::Register::parse(
        "[[organisation]]\norgnr = \"2021004748\"\nnamn = \"Bench\"\ncategories = [\"grund\"]\n\
         bestallningar = [\"U\"]\n[[organisation.urval]]\nid = \"U\"\ninfil = \"svar_direkt\"\n",
        std::path::Path::new("bench.toml"),
    )
    .expect("register");
    let org = &register.organisations()[0];
    let order = &org.urval[0];
    let feed = Feed::open(store).expect("feed");
    let now = chrono::Utc::now();
    feed.run_urval(store, &register, now, chrono::Duration::days(1))
        .expect("take up");
    let produced = feed
        .svar_direkt(store, org, order, pnrs, now)
        .expect("deliver");
    let key = OrderKey::new(&org.orgnr, &order.id);
    let n = produced.antal[0];
    let access = org.access();
    let snap = store.snapshot();
    // The same records as the earlier folkreg rendered them at production.
    let notices: Vec<Notice> = feed
        .records(&key, produced.lopnummer, Fil::A, 0, n)
        .expect("records")
        .into_iter()
        .map(|(pnr, _)| {
            let post = snap.get(&pnr).expect("read").expect("record");
            Notice {
                fil: Fil::A,
                kind: Posttyp::Total,
                terms: access.terms_for(&post),
                post,
                foregaende_adress: None,
            }
        })
        .collect();
    let rendered: Vec<Vec<u8>> = notices.iter().map(|n| render(n, None)).collect();
    let mut g = c.benchmark_group("delivery");
    g.sample_size(30);
    let mut i = 0u64;
    g.bench_function("fetch_kept", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            let records = feed
                .records(&key, produced.lopnummer, Fil::A, black_box(i), 1)
                .expect("read");
            records
                .iter()
                .filter_map(|(_, r): &(_, FeedRecord)| r.render_for(&access, &snap).ok().flatten())
                .map(|bytes| bytes.len())
                .sum::<usize>()
        })
    });
    // The storage part alone: the record read and decoded, not rendered.
    g.bench_function("read_kept", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            feed.records(&key, produced.lopnummer, Fil::A, black_box(i), 1)
                .expect("read")
                .len()
        })
    });
    let mut j = 0usize;
    g.bench_function("copy_rendered", |b| {
        b.iter(|| {
            j = (j + 1) % rendered.len();
            black_box(&rendered[j]).to_vec()
        })
    });
    g.bench_function("render_notice", |b| {
        b.iter(|| {
            j = (j + 1) % notices.len();
            render(black_box(&notices[j]), None)
        })
    });
    g.finish();
}

fn human(ns: Option<f64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) if ns < 1e3 => format!("{ns:.1} ns"),
        Some(ns) if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{:.2} ms", ns / 1e6),
    }
}

fn report(since: SystemTime) {
    let Some(dir) = criterion_dir() else {
        eprintln!("hot: criterion's output directory is unknown; no ratio table");
        return;
    };
    eprintln!(
        "\nhot functions: criterion medians of this run, ratio = case / baseline ({} persons)",
        persons()
    );
    eprintln!(
        "{:<9} {:<22} {:>11}  {:<17} {:>11} {:>8}",
        "group", "case", "median", "baseline", "median", "ratio"
    );
    for (group, case, base) in ROWS {
        let (m, b) = (
            median_ns(&dir, group, case, since),
            median_ns(&dir, group, base, since),
        );
        let ratio = match (m, b) {
            (Some(m), Some(b)) if b > 0.0 => format!("{:.1}x", m / b),
            _ => "-".into(),
        };
        eprintln!(
            "{group:<9} {case:<22} {:>11}  {base:<17} {:>11} {ratio:>8}",
            human(m),
            human(b)
        );
    }
}

fn main() {
    // A second earlier, so estimates written in the first second of the run are not missed
    // on file systems with coarse timestamps.
    let since = SystemTime::now() - Duration::from_secs(1);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    envelope(&mut c);
    let posts = sample_posts();
    decode(&mut c, &posts);
    render(&mut c, &posts);
    mask(&mut c, &posts);
    drop(posts);
    store(&mut c);
    c.final_summary();
    report(since);
}
