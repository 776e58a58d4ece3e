//! Does a reader wait for a load? (hardening, item 2.)
//!
//! A store of `FOLKREG_BENCH_PERSONS` persons (default 100,000) is loaded from a generated
//! FULL delivery; then a generated DELTA of `FOLKREG_BENCH_CHANGES` changes (default
//! 30,000) is loaded through the real load path (`load::load_file`: read, validate, apply) while
//! `FOLKREG_BENCH_READERS` reader threads (default 1) look persons up (`Store::snapshot` + `get`, what every SOAP lookup does)
//! as fast as they can; then the same readers run as long again on the idle store, which is
//! the baseline of this run: the figures are each percentile during the delta as a ratio to
//! the same percentile idle.
//!
//! ```text
//! cargo bench --bench delta_readers
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use folkreg::ids::pnr::Pnr;
use folkreg::store::Store;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Lookups by `readers` threads until `stop`; every latency in nanoseconds.
fn read_until(
    store: &Arc<Store>,
    pnrs: &Arc<Vec<Pnr>>,
    stop: &Arc<AtomicBool>,
    readers: usize,
) -> Vec<u64> {
    let threads: Vec<_> = (0..readers)
        .map(|t| {
            let (store, pnrs, stop) = (store.clone(), pnrs.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(1 << 20);
                let mut i = t * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let pnr = &pnrs[i % pnrs.len()];
                    let started = Instant::now();
                    // A delta may remove a person: a miss is a lookup too.
                    let found = store.snapshot().get(pnr).expect("read");
                    lat.push(started.elapsed().as_nanos() as u64);
                    std::hint::black_box(found);
                    i += 1;
                }
                lat
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("reader"))
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let persons = env("FOLKREG_BENCH_PERSONS", 100_000);
    let changes = env("FOLKREG_BENCH_CHANGES", 30_000);
    // One reader leaves the loader a core of the two this project's machines have.
    let readers = env("FOLKREG_BENCH_READERS", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    let full = dir.path().join("leverans-000001-FULL.xml.gz");
    let delta = dir.path().join("leverans-000002-DELTA.xml.gz");
    folkreg::dev::generate::write_full(persons, 1, today, Some(&full)).expect("generate full");
    let next = today.succ_opt().expect("date");
    folkreg::dev::generate::write_delta(&full, changes, 1, next, Some(&delta))
        .expect("generate delta");
    let store = Arc::new(Store::open(&dir.path().join("store"), 256 << 20).expect("open"));
    folkreg::load::load_file(&store, &full, false).expect("load full");
    let pnrs: Arc<Vec<Pnr>> = Arc::new(
        store
            .snapshot()
            .iter()
            .step_by(7)
            .filter_map(Result::ok)
            .map(|p| p.pnr())
            .collect(),
    );

    // The delta's length decides how long both phases run.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (store, stop) = (store.clone(), stop.clone());
        let delta = delta.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let report = folkreg::load::load_file(&store, &delta, false).expect("load delta");
            let took = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            (report, took)
        })
    };
    let mut during = read_until(&store, &pnrs, &stop, readers);
    let (report, took) = load.join().expect("load");

    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(took.max(Duration::from_secs(1)));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut idle = read_until(&store, &pnrs, &stop, readers);
    timer.join().expect("timer");

    idle.sort_unstable();
    during.sort_unstable();
    println!(
        "store of {persons} persons; delta of {changes} changes loaded in {:.2} s ({report}); \
         {readers} reader thread(s), {} lookups idle, {} during the delta",
        took.as_secs_f64(),
        idle.len(),
        during.len()
    );
    println!(
        "{:<10} {:>12} {:>12} {:>8}",
        "lookup", "idle µs", "delta µs", "ratio"
    );
    let over = |v: &[u64], ms: u64| v.iter().filter(|&&l| l > ms * 1_000_000).count();
    for ms in [1, 10, 100] {
        println!(
            "lookups over {ms} ms: {} idle, {} during the delta",
            over(&idle, ms),
            over(&during, ms)
        );
    }
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)] {
        let (a, b) = (percentile(&idle, p), percentile(&during, p));
        println!(
            "{name:<10} {:>12.1} {:>12.1} {:>7.2}x",
            a as f64 / 1000.0,
            b as f64 / 1000.0,
            b as f64 / a.max(1) as f64
        );
    }
}
