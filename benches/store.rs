//! Store benchmarks: lookup by identity number and surname-prefix search, on a store loaded
//! through the real load path from a generated delivery.
//!
//! `FOLKREG_BENCH_PERSONS` sets the population (default 100,000; the issue figures use
//! 1,000,000). Run: `FOLKREG_BENCH_PERSONS=1000000 cargo bench --bench store`.
//! The first figure, `lookup/decode_only`, is the in-run baseline: decoding a record already in
//! memory; `lookup/by_pnr` is reported against it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use folkreg::search::{parse_patterns, SearchQuery};
use folkreg::store::{SearchOutcome, Store};

fn persons() -> usize {
    std::env::var("FOLKREG_BENCH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    // An existing store (e.g. one `folkreg load` filled with 1,000,000 persons) saves the
    // minutes a large load takes; otherwise a fresh one is generated and loaded.
    let store = match std::env::var_os("FOLKREG_BENCH_STORE") {
        Some(path) => {
            Store::open(std::path::Path::new(&path), 256 << 20).expect("open existing store")
        }
        None => {
            let file = dir.path().join("full.xml.gz");
            let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
            folkreg::dev::generate::write_full(persons(), 1, today, Some(&file)).expect("generate");
            let store = Store::open(&dir.path().join("store"), 256 << 20).expect("open");
            let report = folkreg::load::load_file(&store, &file, false).expect("load");
            eprintln!("loaded {report}");
            store
        }
    };
    let n = store.info().records.max(1);
    let disk = store.size_on_disk().unwrap_or(0);
    eprintln!(
        "store: {n} records, {disk} bytes on disk = {} bytes/person",
        disk / n
    );

    let snap = store.snapshot();
    let pnrs: Vec<_> = snap
        .iter()
        .step_by(97)
        .filter_map(Result::ok)
        .map(|p| p.pnr())
        .take(4096)
        .collect();
    let encoded: Vec<_> = snap
        .iter()
        .step_by(97)
        .filter_map(Result::ok)
        .take(4096)
        .map(|p| folkreg::model::encode(&p))
        .collect();

    let mut g = c.benchmark_group("lookup");
    let mut i = 0usize;
    g.bench_function("decode_only", |b| {
        b.iter(|| {
            i = (i + 1) % encoded.len();
            black_box(folkreg::model::decode(&encoded[i]).ok())
        })
    });
    g.bench_function("by_pnr", |b| {
        b.iter(|| {
            i = (i + 1) % pnrs.len();
            black_box(snap.get(&pnrs[i]).ok())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("search");
    let surnames = ["johan*", "ander*", "karls*", "nils*", "lind*", "berg*"];
    let postorter = ["stockholm", "göteborg", "malmö", "uppsala", "lund", "umeå"];
    let queries: Vec<SearchQuery> = surnames
        .iter()
        .zip(postorter)
        .map(|(s, p)| SearchQuery {
            efter_mellan: parse_patterns(s).expect("pattern"),
            postort: parse_patterns(p).expect("pattern"),
            ..Default::default()
        })
        .collect();
    g.bench_function("surname_prefix_and_postort", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            black_box(matches!(
                snap.search(&queries[i], 100, |_, _| true),
                Ok(SearchOutcome::Hits(_))
            ))
        })
    });
    let exact: Vec<SearchQuery> = ["johansson", "andersson", "lindqvist"]
        .iter()
        .map(|s| SearchQuery {
            efter_mellan: parse_patterns(s).expect("pattern"),
            fornamn: parse_patterns("anna").expect("pattern"),
            ..Default::default()
        })
        .collect();
    g.bench_function("surname_and_fornamn", |b| {
        b.iter(|| {
            i = (i + 1) % exact.len();
            black_box(snap.search(&exact[i], 100, |_, _| true).is_ok())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
