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
//!   `RLIMIT_FSIZE`, which works everywhere). The report is the exit code and standard
//!   error, and `folkreg status` after; the store is compared record by record. `SIGKILL`
//!   mid-load is in the kill tests (`tests/kill/load_faults.rs`).

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// The identity numbers of a delivery's records, in order.
fn numbers(xml: &str) -> Vec<String> {
    (0..record_starts(xml).len())
        .filter_map(|n| element_text(&xml[record_range(xml, n)], "PersonNr"))
        .collect()
}

/// Where each record starts (`<Folkbokforingspost>` or with attributes, never the list
/// element `<Folkbokforingsposter>`).
fn record_starts(xml: &str) -> Vec<usize> {
    xml.match_indices("<Folkbokforingspost")
        .filter(|(i, m)| matches!(xml.as_bytes().get(i + m.len()), Some(b'>' | b' ')))
        .map(|(i, _)| i)
        .collect()
}

/// A one-file delivery's record counts as its header states them (`AntalPoster`,
/// `AntalPosterTotalt`).
fn antal(n: usize) -> String {
    format!("<AntalPoster>{n}</AntalPoster><AntalPosterTotalt>{n}</AntalPosterTotalt>")
}

/// The byte range of the `n`th record (0-based) of a delivery's text.
fn record_range(xml: &str, n: usize) -> std::ops::Range<usize> {
    let start = *record_starts(xml).get(n).expect("record");
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
    let full1 = generate_full(m, "l1-full.xml.gz", 300, 11, "2026-11-01");
    let d2 = generate_delta(m, &full1, "l2.xml.gz", 12, 21, "2026-11-02");
    let d3 = generate_delta(m, &d2, "l3.xml", 12, 22, "2026-11-03");
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
        t.replace(&antal(named.len()), &antal(named.len() + 1))
    };
    let change_at = xml.find("totalpost=\"N\"").expect("an ändringspost");
    let change_n = record_starts(&xml[..change_at]).len();
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
            xml.replace("<LopNr>3</LopNr>", "<LopNr>4</LopNr>").into_bytes(),
            "refused: löpnummer 4 is not the next delivery: the store is at löpnummer 2, so 3 is expected"
                .into(),
        ),
        (
            "l3-antal.xml",
            xml.replace(
                &antal(named.len()),
                &antal(named.len() + 5),
            )
            .into_bytes(),
            format!(
                "refused: header AntalPoster is {} but the file has {} records",
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
    let before = store_state(&d.join("data"));
    let status_before = store_status(d);
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
        store_state(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(store_status(d), status_before);
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
    let before = store_state(&d.join("data"));
    let status_before = store_status(d);
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
        store_state(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(store_status(d), status_before);
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
    let a = generate_full(m, "a-full.xml.gz", 3_000, 7, "2026-11-01");
    let b = {
        let raw = generate_full(m, "b-raw.xml.gz", 3_000, 9, "2026-11-01");
        let xml = String::from_utf8(read_plain(&raw))
            .expect("UTF-8")
            .replacen("<LopNr>1</LopNr>", "<LopNr>2</LopNr>", 1);
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
