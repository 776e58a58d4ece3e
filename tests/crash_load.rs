//! Crash safety, proven: `folkreg load` is killed with SIGKILL at random moments over many
//! runs; after each, the reopened store holds exactly the state before or after the file that
//! was being loaded — never a mix — and serves lookups.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use folkreg::store::Store;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_folkreg");
const PERSONS: usize = 10_000;
const RUNS: usize = 24;

fn folkreg(args: &[&str], cwd: &Path) -> std::process::Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run folkreg");
    assert!(
        out.status.success(),
        "folkreg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A digest of every record in the store, in key order.
/// Opens the store, waiting out the file lock of an earlier open in this process (sled lets
/// go of it only when its background flusher has stopped).
fn open_store(dir: &Path) -> Store {
    let mut tries = 0;
    loop {
        match Store::open(dir, 1 << 26) {
            Ok(s) => return s,
            Err(e) if tries < 50 && e.to_string().contains("lock") => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("reopen store: {e}"),
        }
    }
}

fn digest(data_dir: &Path) -> (String, u64) {
    let store = open_store(&data_dir.join("store"));
    let snap = store.snapshot();
    let mut h = Sha256::new();
    let mut n = 0u64;
    for rec in snap.iter() {
        let rec = rec.expect("every record decodes");
        h.update(folkreg::model::encode(&rec));
        n += 1;
    }
    assert_eq!(
        n,
        snap.info().records,
        "record count in meta matches the records"
    );
    // And it serves: a lookup by number finds the record.
    if let Some(first) = snap.iter().next() {
        let first = first.expect("a record decodes");
        assert_eq!(snap.get(&first.pnr()).expect("lookup"), Some(first));
    }
    (
        hex::encode(h.finalize()),
        snap.info().lopnummer.unwrap_or(0),
    )
}

fn write_config(dir: &Path) -> PathBuf {
    let p = dir.join("folkreg.toml");
    std::fs::write(&p, "data_dir = \"data\"\ncache_mb = 64\n").unwrap();
    p
}

#[test]
fn sigkill_during_load_leaves_old_or_new_state() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let deliveries = work.join("deliveries");
    std::fs::create_dir_all(&deliveries).unwrap();
    let persons = PERSONS.to_string();
    let full_a = deliveries.join("a-full.xml.gz");
    let full_b = work.join("b-full.xml.gz");
    folkreg(
        &[
            "generate",
            "--persons",
            &persons,
            "--seed",
            "7",
            "--today",
            "2026-11-20",
            "--out",
            full_a.to_str().unwrap(),
        ],
        work,
    );
    folkreg(
        &[
            "generate",
            "--persons",
            &persons,
            "--seed",
            "8",
            "--today",
            "2026-11-20",
            "--out",
            full_b.to_str().unwrap(),
        ],
        work,
    );
    let delta = deliveries.join("a-delta-2.xml.gz");
    folkreg(
        &[
            "generate",
            "--delta-of",
            full_a.to_str().unwrap(),
            "--changes",
            "3000",
            "--seed",
            "9",
            "--today",
            "2026-11-21",
            "--out",
            delta.to_str().unwrap(),
        ],
        work,
    );

    // Reference states, each from a clean load.
    let reference = |files: &[&Path]| {
        let d = tempfile::tempdir().unwrap();
        write_config(d.path());
        for f in files {
            folkreg(&["load", f.to_str().unwrap()], d.path());
        }
        digest(&d.path().join("data")).0
    };
    let state_a = reference(&[&full_a]);
    let state_a2 = reference(&[&full_a, &delta]);
    let state_b = reference(&[&full_b]);
    assert_ne!(state_a, state_b);
    assert_ne!(state_a, state_a2);

    // How long a full load takes, to spread the kills over it.
    let cfg_dir = work.join("victim");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    write_config(&cfg_dir);
    let t = Instant::now();
    folkreg(&["load", full_a.to_str().unwrap()], &cfg_dir);
    let full_time = t.elapsed();

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261123);
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    let mut current = digest(&cfg_dir.join("data"));
    for run in 0..RUNS {
        // Alternate between a full replacement and a delta on top of A.
        let (file, before, after): (&Path, Vec<&String>, &String) = if current.0 == state_a {
            if run % 2 == 0 {
                (&full_b, vec![&state_a], &state_b)
            } else {
                (&delta, vec![&state_a], &state_a2)
            }
        } else {
            (&full_a, vec![&state_b, &state_a2], &state_a)
        };
        let wait = Duration::from_secs_f64(full_time.as_secs_f64() * rng.gen_range(0.0..1.2));
        let mut child = Command::new(BIN)
            .args(["load", file.to_str().unwrap()])
            .current_dir(&cfg_dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        current = digest(&cfg_dir.join("data"));
        let outcome = if &current.0 == after {
            "new"
        } else if before.contains(&&current.0) {
            "old"
        } else {
            panic!("run {run}: after SIGKILL at {wait:?} the store is neither the old nor the new state (exit {status:?})");
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("outcomes over {RUNS} killed loads: {outcomes:?}");
    assert!(
        outcomes.get("old").copied().unwrap_or(0) > 0,
        "some kills must land mid-load: {outcomes:?}"
    );
}
