//! Crash safety, proven: `folkreg load` is killed with SIGKILL at random moments over many
//! runs; after each, the reopened store holds exactly the state before or after the file that
//! was being loaded — never a mix — and serves lookups.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::common::*;

const PERSONS: usize = 10_000;
const RUNS: usize = 24;

/// A digest of every record in the store, in key order, and its löpnummer.
fn digest(data_dir: &Path) -> (String, u64) {
    let (digest, info) = store_state(data_dir);
    (digest, info.lopnummer.unwrap_or(0))
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
    let full_a = generate_full(
        work,
        deliveries.join("a-full.xml.gz").to_str().unwrap(),
        PERSONS,
        7,
        "2026-11-20",
    );
    let full_b = generate_full(
        work,
        work.join("b-full.xml.gz").to_str().unwrap(),
        PERSONS,
        8,
        "2026-11-20",
    );
    let delta = generate_delta(
        work,
        &full_a,
        deliveries.join("a-delta-2.xml.gz").to_str().unwrap(),
        3000,
        9,
        "2026-11-21",
    );

    // Reference states, each from a clean load.
    let reference = |files: &[&Path]| {
        let d = tempfile::tempdir().unwrap();
        write_config(d.path());
        for f in files {
            ok(folkreg(d.path(), &["load", f.to_str().unwrap()]));
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
    ok(folkreg(&cfg_dir, &["load", full_a.to_str().unwrap()]));
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
