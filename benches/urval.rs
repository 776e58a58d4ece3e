//! Urval at scale: how long one kommun, the whole store, a slumpmässigt urval and an infil of
//! 100,000 numbers take, each next to a baseline measured in the same run: one plain scan of
//! the store (every record read and decoded, nothing else).
//!
//! ```text
//! cargo bench --bench urval                           # 100,000 persons in a temporary store
//! cargo bench --bench urval -- --store DIR            # a store loaded beforehand (folkreg load)
//! cargo bench --bench urval -- --persons 1000000 --runs 3
//! cargo bench --bench urval -- --store DIR --only kommun,infil   # some cases only
//! ```
//! Each figure is the median of `--runs` runs, in seconds and as a ratio to the scan. Every
//! delivery is acknowledged and removed after its run, so runs do not pile up in the store.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use folkreg::avisering::feed::Feed;
use folkreg::ids::pnr::Pnr;
use folkreg::register::Register;
use folkreg::store::Store;

struct Args {
    /// Run only these cases (and the scan): `kommun`, `whole`, `whole_sorted`,
    /// `slump_lulea`, `infil`.
    only: Vec<String>,
    store: Option<std::path::PathBuf>,
    persons: usize,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        only: Vec::new(),
        store: None,
        persons: 100_000,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--store" => a.store = it.next().map(Into::into),
            "--only" => a.only.extend(
                it.next()
                    .into_iter()
                    .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>()),
            ),
            "--persons" => a.persons = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.persons),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.runs),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    a
}

/// The order id of a measured urval in a run: new on every invocation (a store given with
/// `--store` keeps the orders of earlier invocations, which have run).
fn id(name: &str, run: usize) -> String {
    static STARTED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let token = STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    format!("U-{}-{token}-{run}", name.replace('_', "-"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The orders measured, as `[[organisation.urval]]` tables (ids U-<name>-<run>).
fn tables(run: usize, kommun: &str) -> Vec<(&'static str, String)> {
    let groups: Vec<String> = [(20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 79)]
        .iter()
        .flat_map(|(f, t)| {
            ["M", "K"].map(|k| format!("{{ antal = 50, kon = \"{k}\", alder = [\"{f}-{t}\"] }}"))
        })
        .collect();
    vec![
        (
            "kommun",
            format!("sok = {{ kommun = [\"{kommun}\"] }}\nsortering = [\"postnummer\", \"efternamn\"]\n"),
        ),
        ("whole", "sok = {}\n".to_owned()),
        ("whole_sorted", "sok = {}\nsortering = [\"efternamn\"]\n".to_owned()),
        (
            "slump_lulea",
            format!("sok = {{ kommun = [\"2580\"] }}\nundergrupper = [{}]\n", groups.join(", ")),
        ),
        ("infil", "infil = \"svar_direkt\"\n".to_owned()),
    ]
    .into_iter()
    .map(|(name, body)| (name, format!("[[organisation.urval]]\nid = \"{}\"\n{body}", id(name, run))))
    .collect()
}

fn main() {
    let args = args();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = args
        .store
        .clone()
        .unwrap_or_else(|| tmp.path().join("store"));
    let store = Store::open(&dir, 256 << 20).expect("store");
    if !store.snapshot().has_data() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
        let full = tmp.path().join("full.xml.gz");
        eprintln!("generating and loading {} persons …", args.persons);
        folkreg::dev::generate::write_full(args.persons, 1, today, Some(&full)).expect("generate");
        folkreg::load::load_file(&store, &full, false).expect("load");
    }
    let feed = Feed::open(&store).expect("feed");
    let records = store.snapshot().len();
    let step = usize::try_from(records / 100_000).unwrap_or(1).max(1);
    // The busiest kommun (Stockholm in the generated population) and 100,000 numbers of the
    // register, every tenth one missing, for the infil.
    let mut infil: Vec<Pnr> = Vec::new();
    let mut per_kommun: std::collections::BTreeMap<String, u64> = Default::default();
    for (i, p) in store.snapshot().iter().enumerate() {
        let p = p.expect("record");
        if let Some(f) = &p.personpost.folkbokforing {
            *per_kommun.entry(f.kommunkod4()).or_default() += 1;
        }
        if infil.len() < 100_000 && i % step == 0 {
            infil.push(if infil.len() % 10 == 9 {
                Pnr::parse("191212121212").expect("pnr")
            } else {
                p.pnr()
            });
        }
    }
    let (kommun, in_kommun) = per_kommun
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("a kommun");
    println!(
        "store: {records} records; kommun {kommun}: {in_kommun} persons; infil: {} numbers",
        infil.len()
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 4, 30, 0).unwrap();
    let mut figures: std::collections::BTreeMap<&'static str, Vec<f64>> = Default::default();
    let mut selected: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for run in 0..args.runs {
        let started = Instant::now();
        let n = store.snapshot().iter().filter(|p| p.is_ok()).count();
        figures
            .entry("scan")
            .or_default()
            .push(started.elapsed().as_secs_f64());
        assert_eq!(n as u64, records);
        let orders = tables(run, &kommun);
        let ids: Vec<String> = orders
            .iter()
            .map(|(name, _)| format!("\"{}\"", id(name, run)))
            .collect();
        let text = format!(
            "[[organisation]]\norgnr = \"2120000134\"\nnamn = \"Bench kommun\"\ncategories = [\"grund\"]\n\
             bestallningar = [{}]\n{}",
            ids.join(", "),
            orders.iter().map(|(_, t)| t.as_str()).collect::<String>()
        );
        for (name, table) in &orders {
            if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
                continue;
            }
            // A register with this order alone: run_urval runs just it.
            let one = text.replace(
                &orders.iter().map(|(_, t)| t.as_str()).collect::<String>(),
                table,
            );
            let register =
                Register::parse(&one, std::path::Path::new("bench.toml")).expect("register");
            let org = &register.organisations()[0];
            let order = &org.urval[0];
            // Taken up (as a reload does), not yet run.
            feed.produce(&store, &register, now, chrono::Duration::days(30))
                .expect("take up");
            let started = Instant::now();
            let produced = if *name == "infil" {
                vec![feed
                    .svar_direkt(&store, org, order, &infil, now)
                    .expect("svar direkt")]
            } else {
                feed.run_urval(&store, &register, now, chrono::Duration::days(30))
                    .expect("run")
            };
            figures
                .entry(name)
                .or_default()
                .push(started.elapsed().as_secs_f64());
            let p = produced.first().expect("one delivery");
            selected.insert(name, p.antal[0] + p.antal[1]);
            // Acknowledge and remove it, so runs do not pile up.
            let key = folkreg::avisering::feed::OrderKey::new(&org.orgnr, &order.id);
            feed.acknowledge(&key, p.lopnummer, now).expect("ack");
            feed.prune(
                &key,
                chrono::Duration::zero(),
                now + chrono::Duration::days(2),
            )
            .expect("prune");
        }
    }
    let scan = median(figures["scan"].clone());
    println!(
        "\n{:<14} {:>10} {:>10} {:>12}",
        "what", "records", "median s", "÷ scan"
    );
    for (name, times) in &figures {
        let m = median(times.clone());
        let n = selected.get(name).copied().unwrap_or(records);
        println!("{name:<14} {n:>10} {m:>10.3} {:>12.2}", m / scan);
    }
    println!(
        "\n{{\"records\":{records},\"runs\":{},\"medians_s\":{{{}}}}}",
        args.runs,
        figures
            .iter()
            .map(|(k, v)| format!("\"{k}\":{:.4}", median(v.clone())))
            .collect::<Vec<_>>()
            .join(",")
    );
}
