//! Durability across SIGKILL: every entry whose `AuditLog::record` resolved `Ok` is in the
//! audit files after the process is killed at an arbitrary moment, and the files still
//! search cleanly.
//!
//! The test binary plays both parts. The parent re-runs itself (`--exact
//! audit_kill::audit_kill_child --ignored`) with `FOLKREG_AUDIT_KILL_DIR` set; the child
//! records from several tasks in a loop and prints `ACK <request_id>` after each acknowledged
//! record; the parent kills it (`Child::kill` is SIGKILL on unix) after a number of acks, then reads
//! what the child printed before dying and looks for every id in the files.
//!
//! SIGKILL proves the line reached the kernel before the acknowledgement; that it also reached
//! the disk (the `fsync`) takes a power cut, which a test cannot make.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::DateTime;
use folkreg::audit::{search_summary, AuditEntry, AuditLog, AuditOptions, AuditQuery};
use folkreg::clock::SystemClock;

/// Tells the re-executed binary to act as the child, and where its audit directory is.
const CHILD_ENV: &str = "FOLKREG_AUDIT_KILL_DIR";
/// Concurrent recording tasks in the child, so the kill lands among batches of several lines.
const WRITERS: u64 = 16;
/// The child gives up after this many records per task, so a parent that never kills it
/// (a failed assertion elsewhere) does not leave it running.
const CHILD_LIMIT: u64 = 200_000;

fn entry(request_id: u64) -> AuditEntry {
    AuditEntry {
        time: DateTime::UNIX_EPOCH,
        org: "162021004748".into(),
        cert: "ab".repeat(32),
        operation: "personpostXML".into(),
        bestallningsid: "00000079-FO01-0001".into(),
        asked: vec!["191212121212".into()],
        returned: vec!["191212121212".into()],
        hits: 1,
        outcome: "ok".into(),
        request_id,
        spar: None,
    }
}

/// The id in a line the child printed. libtest may put its own text before the first one.
fn ack(line: &str) -> Option<u64> {
    let at = line.find("ACK ")?;
    line[at + 4..].trim().parse().ok()
}

/// Every request_id in the audit files of `dir`, and how many files ended torn.
fn written(dir: &Path) -> (Vec<u64>, usize) {
    let mut out = Vec::new();
    let summary = search_summary(dir, &AuditQuery::default(), &mut out).expect("files search");
    let ids = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<AuditEntry>(l)
                .expect("line")
                .request_id
        })
        .collect();
    (ids, summary.torn.len())
}

#[test]
fn acknowledged_lines_survive_sigkill() {
    let exe = std::env::current_exe().expect("test binary");
    for kill_after in [1, 200, 2_000, 10_000] {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "audit_kill::audit_kill_child",
                "--ignored",
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, tmp.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start child");
        let mut out = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut acked = BTreeSet::new();
        let mut line = String::new();
        while acked.len() < kill_after {
            line.clear();
            let n = out.read_line(&mut line).expect("read child");
            assert!(n > 0, "child ended after {} acks", acked.len());
            acked.extend(ack(&line));
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "killed, not finished");
        // Whatever the child printed before it died is still in the pipe.
        let mut rest = String::new();
        out.read_to_string(&mut rest).expect("read rest");
        acked.extend(rest.lines().filter_map(ack));

        let (ids, torn) = written(tmp.path());
        let in_files: BTreeSet<u64> = ids.iter().copied().collect();
        assert_eq!(in_files.len(), ids.len(), "no line written twice");
        let missing: Vec<_> = acked.difference(&in_files).take(10).collect();
        assert!(
            missing.is_empty(),
            "acknowledged but not in the files: {missing:?} (of {} acked)",
            acked.len()
        );
        eprintln!(
            "kill after {kill_after}: {} acked, {} in files, {torn} torn file end(s)",
            acked.len(),
            in_files.len()
        );
    }
}

/// The child half of [`acknowledged_lines_survive_sigkill`]; does nothing when run by hand.
#[test]
#[ignore = "run by acknowledged_lines_survive_sigkill as its child process"]
fn audit_kill_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // Small files, so that the kill also meets rotations.
        let options = AuditOptions::new(dir).max_bytes(64 * 1024);
        let log = Arc::new(AuditLog::open(options, Arc::new(SystemClock)).expect("open"));
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let log = Arc::clone(&log);
            tasks.spawn(async move {
                for i in 0..CHILD_LIMIT {
                    let id = w * CHILD_LIMIT + i;
                    log.record(entry(id)).await.expect("record");
                    // Straight to fd 1 (not through the test harness's capture), one line.
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "ACK {id}").expect("print");
                    stdout.flush().expect("flush");
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task");
        }
    });
}
