//! Exactly once across SIGKILL: the real server is killed while it produces avisering
//! deliveries for many orders, restarted, and then every order holds exactly the deliveries a
//! server that was never killed produced from the same data — nothing lost, nothing twice.

use std::path::{Path, PathBuf};

use crate::common::*;

const LAN: [&str; 21] = [
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20",
    "21", "22", "23", "24", "25",
];

fn order_id(i: usize) -> String {
    format!("00000079-AV03-{:04}", 100 + i)
}

/// Exempel Försäkring AB with one order per län, alternating posttyp and functions, some
/// with fewer terms for protected persons (A/B files).
fn register() -> String {
    let reg = std::fs::read_to_string(repo().join("deploy/register.dev.toml")).expect("reg");
    let ids: Vec<String> = (0..LAN.len()).map(order_id).collect();
    let list = ids
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut reg = reg.replace(
        "bestallningar = [\"00000079-FO03-0001\"]",
        &format!("bestallningar = [\"00000079-FO03-0001\", {list}]"),
    );
    for (i, lan) in LAN.iter().enumerate() {
        let posttyp = if i % 2 == 0 {
            "andringspost"
        } else {
            "totalpost"
        };
        let functions = if i % 3 == 0 {
            "flyttsignal = true\ntotalpost_vid_havning = true\nalltid_markering = true\n"
        } else {
            ""
        };
        let fewer = if i % 4 == 1 {
            "skyddade_termer = [\"namn\"]\n"
        } else {
            ""
        };
        reg.push_str(&format!(
            "\n[[organisation.avisering]]\nid = \"{}\"\nposttyp = \"{posttyp}\"\nlan = [\"{lan}\"]\n{functions}{fewer}",
            order_id(i)
        ));
    }
    reg
}

fn delta(dir: &Path) -> PathBuf {
    let mut chain = delivery_chain(dir, demo_full(dir), 1, 3000, 4242, demo_today());
    chain.pop().expect("the delta")
}

async fn server() -> RealServer {
    RealServer::start_custom(&[], &[], |work, config| {
        let copy = work.join("register.toml");
        std::fs::write(&copy, register()).expect("register");
        let original = format!("{:?}", repo().join("deploy/register.dev.toml"));
        config.replace(&original, &format!("{copy:?}")) + "[reload]\nwatch_seconds = 0\n"
    })
    .await
}

fn ask(order: &str, lopnummer: u64, fil: &str, sida: u64) -> String {
    let exempel = cert("client-exempel");
    hamta_avisering_body(
        exempel.org.as_deref().expect("org"),
        order,
        lopnummer,
        Some(fil),
        Some(sida),
    )
}

/// Every record of delivery 1 and whether a delivery 2 exists, for every order.
async fn deliveries(server: &RealServer) -> Vec<(String, Vec<String>, bool)> {
    let exempel = cert("client-exempel");
    let mut out = Vec::new();
    for i in 0..LAN.len() {
        let id = order_id(i);
        let mut records = Vec::new();
        let files: &[&str] = if i % 4 == 1 { &["A", "B"] } else { &["A"] };
        for fil in files {
            let mut sida = 1;
            loop {
                let r = server.post(&exempel, AV, &ask(&id, 1, fil, sida)).await;
                assert_eq!(r.status, 200, "{id}: {}", r.body);
                assert_eq!(
                    r.text_of("Status").as_deref(),
                    Some("KLAR"),
                    "{id}: {}",
                    r.body
                );
                let body = &r.body;
                let mut rest = body.as_str();
                while let Some(start) = rest.find("<Avisering ") {
                    let end = rest[start..].find("</Avisering>").expect("end") + start;
                    records.push(format!("{fil}:{}", &rest[start..end]));
                    rest = &rest[end..];
                }
                let sidor: u64 = r.text_of("AntalSidor").expect("sidor").parse().expect("n");
                if sida >= sidor {
                    break;
                }
                sida += 1;
            }
        }
        let second = server.post(&exempel, AV, &ask(&id, 2, "A", 1)).await;
        out.push((id, records, second.body.contains("<Status>KLAR</Status>")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_production_loses_and_doubles_nothing() {
    let made = tempfile::tempdir().expect("tmp");
    let file = delta(made.path());

    // The control: never killed.
    let control = server().await;
    std::fs::create_dir_all(control.data().join("inbox")).expect("inbox");
    std::fs::copy(&file, control.data().join("inbox/d2.xml.gz")).expect("copy");
    let (code, body) = control.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let want = deliveries(&control).await;
    let total: usize = want.iter().map(|(_, r, _)| r.len()).sum();
    assert!(
        total > 100,
        "only {total} records: the test needs a real production"
    );
    drop(control);

    // Killed with SIGKILL once some orders' deliveries are produced and others not.
    let mut victim = server().await;
    std::fs::create_dir_all(victim.data().join("inbox")).expect("inbox");
    std::fs::copy(&file, victim.data().join("inbox/d2.xml.gz")).expect("copy");
    let admin = victim.admin;
    let load = tokio::spawn(async move {
        let mut tcp = tokio::net::TcpStream::connect(admin).await.expect("admin");
        use tokio::io::AsyncWriteExt;
        let _ = tcp
            .write_all(b"POST /load HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await;
        let mut buf = Vec::new();
        use tokio::io::AsyncReadExt;
        let _ = tcp.read_to_end(&mut buf).await;
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let produced_at_kill = loop {
        let n = std::fs::read_to_string(&victim.log)
            .unwrap_or_default()
            .matches("avisering delivery produced")
            .count();
        if n >= 3 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &victim.child.id().to_string()])
                .status();
            break n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "production never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    let _ = load.await;
    assert!(
        produced_at_kill < LAN.len(),
        "killed after all {produced_at_kill} deliveries: production was too fast to interrupt"
    );
    victim.restart().await;
    // The restart produces what the kill interrupted (in the background, once it serves):
    // wait for every order's delivery 1.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, metrics) = victim.admin("GET", "/metrics").await;
        let done = (0..LAN.len()).all(|i| {
            series(
                &metrics,
                &format!(
                    "folkreg_avisering_produced_lopnummer{{name=\"{}\"}}",
                    order_id(i)
                ),
            ) == Some(1.0)
        });
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not produced after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The job has nothing left to load.
    let (code, body) = victim.admin("POST", "/load").await;
    assert_eq!(code, 200, "{body}");
    let got = deliveries(&victim).await;
    for ((id, want_records, want_second), (_, got_records, got_second)) in want.iter().zip(&got) {
        assert_eq!(
            got_records.len(),
            want_records.len(),
            "{id}: {} records after the kill, {} without",
            got_records.len(),
            want_records.len()
        );
        assert_eq!(
            got_records, want_records,
            "{id}: the same records in the same order"
        );
        assert_eq!(got_second, want_second, "{id}: no second delivery");
        assert!(!got_second);
    }
    eprintln!(
        "killed after {produced_at_kill} of {} deliveries; {total} records in all, all there once after the restart",
        LAN.len()
    );
}
