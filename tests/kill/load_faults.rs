//! `SIGKILL` in the middle of `folkreg load` (the delivery fed through a FIFO, so the kill
//! lands mid-file every time) leaves the store as it was, record by record, and `folkreg
//! status` reports the same store; the rest of the load faults are in `tests/it/load_faults.rs`.

use std::process::Command;

use crate::common::*;

#[test]
#[ignore = "flaky: the loader reads the file twice through one FIFO and the second pass sometimes starts mid-file (2 of 6 runs); SIGKILL mid-load is covered by tests/kill/crash_load.rs"]
fn sigkill_mid_load_leaves_the_old_store() {
    use std::io::Write;
    let f = cli_fixture(12_000, true);
    let d = f.dir.path();
    let before = store_state(&d.join("data"));
    let status_before = store_status(d);
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
        store_state(&d.join("data")),
        before,
        "the store as before, record by record"
    );
    assert_eq!(
        store_status(d),
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
    let after = store_state(&d.join("data"));
    assert_eq!(after.1.lopnummer, Some(3));
    assert_eq!(after.1.generation, before.1.generation + 1);
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
