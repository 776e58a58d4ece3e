//! The load generator: mutual TLS with the development client certificates, keep-alive or a
//! new connection per request, fixed concurrency, an operation mix, an HDR latency histogram,
//! JSON out.
//!
//! ```text
//! cargo bench --bench loadgen -- compare                 # folkreg vs the bound, 1/16/64 conns
//! cargo bench --bench loadgen -- compare --metro /tmp/metro   # … and the JAX-WS peer
//! cargo bench --bench loadgen -- run --addr 127.0.0.1:8443 --connections 64
//! cargo bench --bench loadgen -- bound --listen 127.0.0.1:8444
//! ```
//! See `benches/README.md` for what each figure means and how to reproduce them.

mod bound;
mod client;
mod workload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use rand::SeedableRng;

use client::{Mode, RunReport, RunSpec};
use workload::{Mix, Workload};

#[derive(Parser)]
#[command(name = "loadgen", about = "folkreg's load generator")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load a running server and print one JSON report per concurrency level.
    Run {
        /// The server's SOAP address.
        #[arg(long, default_value = "127.0.0.1:8443")]
        addr: SocketAddr,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Run the upper-bound server (fixed answer, folkreg's TLS configuration).
    Bound {
        #[arg(long, default_value = "127.0.0.1:8444")]
        listen: SocketAddr,
        #[command(flatten)]
        population: PopulationArgs,
        /// The fixed answer is a typical record as this client (certs-dev/index.toml) gets it
        /// from folkreg: its categories and switches decide the size.
        #[arg(long, default_value = "client-norrby")]
        client: String,
    },
    /// Start folkreg and the bound (and the Metro peer), load each in turn (alternating),
    /// report each and the ratios.
    Compare {
        #[command(flatten)]
        load: LoadArgs,
        /// Rounds; figures are the median over rounds.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// folkreg's data directory (a store of `--persons` persons); default: a fresh
        /// temporary one, which folkreg fills with its demo population.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Extra TOML appended to folkreg's generated config (e.g. `cache_mb = 64`).
        #[arg(long, default_value = "")]
        config_extra: String,
        /// Write the full report (every run and the medians) here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also load the JAX-WS peer (`../shared/peers/metro`), built and run in this
        /// writable folder (its `METRO_WORK`), holding the same persons.
        #[arg(long)]
        metro: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
struct PopulationArgs {
    /// Persons in the server's population (the generator rebuilds the same numbers).
    #[arg(long, default_value_t = folkreg::dev::demo::DEMO_PERSONS)]
    persons: usize,
    /// The population's seed.
    #[arg(long, default_value_t = folkreg::dev::demo::DEMO_SEED)]
    seed: u64,
    /// The population's "today" (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-01")]
    today: NaiveDate,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Concurrent clients, comma-separated for several runs (e.g. 1,16,64).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    connections: Vec<usize>,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before each run.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long, value_enum, default_value_t = Mode::Keepalive)]
    mode: Mode,
    /// `personpost`, `search`, `spar`, or weights like `existing:90,missing:5,search:5,spar:10`.
    #[arg(long, default_value = "personpost")]
    mix: String,
    /// Client certificate name from certs-dev/index.toml.
    #[arg(long, default_value = "client-norrby")]
    client: String,
    #[command(flatten)]
    population: PopulationArgs,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() -> std::process::ExitCode {
    // `cargo bench` passes `--bench` to every bench binary; it means nothing here.
    let args = std::env::args().filter(|a| a != "--bench");
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Cmd) -> Result<(), String> {
    match cmd {
        Cmd::Run { addr, load } => {
            let prepared = Prepared::new(&load)?;
            for &c in &load.connections {
                let report = prepared.run(addr, "server", c, &load).await;
                println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| e.to_string())?
                );
            }
            Ok(())
        }
        Cmd::Bound {
            listen,
            population,
            client,
        } => {
            let (client, _) = workload::client_from_index(&repo().join("certs-dev"), &client)?;
            let access = client.access()?;
            let body = bound::typical_answer(
                population.persons,
                population.seed,
                population.today,
                &access,
            );
            let tls = dev_tls();
            bound::serve(listen, &tls, body).await
        }
        Cmd::Compare {
            load,
            rounds,
            data_dir,
            config_extra,
            json,
            metro,
        } => {
            let opts = CompareOpts {
                rounds,
                data_dir,
                config_extra,
                json,
                metro,
            };
            compare(load, opts).await
        }
    }
}

fn dev_tls() -> folkreg::config::TlsFiles {
    let certs = repo().join("certs-dev");
    folkreg::config::TlsFiles {
        cert: certs.join("server.pem"),
        key: certs.join("server.key"),
        client_ca: certs.join("ca-bundle.pem"),
        crls: vec![certs.join("crl.pem")],
    }
}

/// The client side, set up once.
struct Prepared {
    tls: tokio_rustls::TlsConnector,
    work: Arc<Workload>,
}

/// Where a run goes, and with which client certificate.
struct Target<'a> {
    name: &'static str,
    server: &'a Server,
    tls: tokio_rustls::TlsConnector,
}

impl Prepared {
    fn new(load: &LoadArgs) -> Result<Prepared, String> {
        let certs = repo().join("certs-dev");
        let (client, roots) = workload::client_from_index(&certs, &load.client)?;
        let key = client
            .key
            .as_deref()
            .ok_or_else(|| format!("{}: no key in index.toml", client.name))?;
        let tls = client::connector(&certs, &roots, &client.cert, key)?;
        let org = client.org.as_deref().ok_or("client without org")?;
        let id = client
            .bestallningsid
            .as_deref()
            .ok_or("client without bestallningsid")?;
        let mix = Mix::parse(&load.mix)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let p = &load.population;
        let started = Instant::now();
        // The SPAR customer numbers the development register gives the client's organisation.
        let register = folkreg::register::Register::load(&repo().join("deploy/register.dev.toml"))
            .map_err(|e| e.to_string())?;
        let spar_kund = folkreg::ids::orgnr::OrgNr::parse(org)
            .ok()
            .and_then(|o| {
                register
                    .organisation(&o)
                    .and_then(|o| o.spar.first().copied())
            })
            .map(|k| (k.leveransmottagare, k.slutkund));
        let from = workload::Sender {
            org,
            bestallningsid: id,
            spar_kund,
        };
        let work = Workload::build(p.persons, p.seed, p.today, &from, mix, &mut rng)?;
        eprintln!(
            "loadgen: requests prepared from {} persons in {:.1} s",
            p.persons,
            started.elapsed().as_secs_f64()
        );
        Ok(Prepared {
            tls,
            work: Arc::new(work),
        })
    }

    async fn run(
        &self,
        addr: SocketAddr,
        target: &str,
        connections: usize,
        load: &LoadArgs,
    ) -> RunReport {
        self.run_with(self.tls.clone(), addr, target, connections, load)
            .await
    }

    async fn run_with(
        &self,
        tls: tokio_rustls::TlsConnector,
        addr: SocketAddr,
        target: &str,
        connections: usize,
        load: &LoadArgs,
    ) -> RunReport {
        let spec = RunSpec {
            addr,
            connections,
            mode: load.mode,
            warmup: Duration::from_secs(load.warmup),
            duration: Duration::from_secs(load.duration),
        };
        client::run(spec, target, tls, self.work.clone()).await
    }
}

/// A child process killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts a child whose output goes to `log`, and waits for `ready` in it.
fn start(mut cmd: Command, log: &Path, ready: &str, addr: SocketAddr) -> Result<Server, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let mut server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(ready) {
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("{cmd:?} exited ({status}):\n{text}"));
        }
        if Instant::now() > deadline {
            return Err(format!("{cmd:?} did not start:\n{text}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `compare`'s options besides the load.
struct CompareOpts {
    rounds: usize,
    data_dir: Option<PathBuf>,
    config_extra: String,
    json: Option<PathBuf>,
    metro: Option<PathBuf>,
}

fn local_addr() -> Result<SocketAddr, String> {
    format!("127.0.0.1:{}", free_port()?)
        .parse()
        .map_err(|e| format!("{e}"))
}

/// Starts the JAX-WS peer in `work` (its `METRO_WORK`) with the persons of `p`: their
/// numbers, names and folkbokföringsadress in the peer's TSV, so the same requests find them.
fn start_metro(work: &Path, p: &PopulationArgs, log: &Path) -> Result<Server, String> {
    use std::io::Write;
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    let tsv = work.join("persons.tsv");
    let file = std::fs::File::create(&tsv).map_err(|e| format!("{}: {e}", tsv.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let clean = |s: &Option<String>| {
        let s = s.as_deref().unwrap_or("-").replace(['\t', '\n'], " ");
        if s.is_empty() {
            "-".to_owned()
        } else {
            s
        }
    };
    for post in folkreg::dev::generate::Population::new(p.persons, p.seed, p.today) {
        let pp = &post.personpost;
        let a = pp.adresser.folkbokforingsadress.clone().unwrap_or_default();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            post.pnr().as_str(),
            clean(&pp.namn.fornamn),
            clean(&pp.namn.efternamn),
            clean(&a.utdelningsadress2),
            clean(&a.post_nr),
            clean(&a.postort)
        )
        .map_err(|e| format!("{}: {e}", tsv.display()))?;
    }
    out.flush().map_err(|e| format!("{}: {e}", tsv.display()))?;
    drop(out);
    let addr = local_addr()?;
    let mut cmd = Command::new(repo().join("../shared/peers/metro/run.sh"));
    cmd.env("METRO_WORK", work)
        .arg(addr.port().to_string())
        .arg(&tsv);
    start(cmd, log, "peer: ", addr)
}

async fn compare(load: LoadArgs, opts: CompareOpts) -> Result<(), String> {
    let CompareOpts {
        rounds,
        data_dir,
        config_extra,
        json,
        metro,
    } = opts;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = data_dir.unwrap_or_else(|| work.path().join("data"));
    let tls = dev_tls();
    let folkreg_addr = local_addr()?;
    let bound_addr = local_addr()?;
    let config = format!(
        "data_dir = {data:?}\nregister = {register:?}\n{config_extra}\n[soap]\nlisten = \"{folkreg_addr}\"\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n[tls]\ncert = {cert:?}\nkey = {key:?}\nclient_ca = {ca:?}\ncrls = [{crl:?}]\n",
        register = repo().join("deploy/register.dev.toml"),
        admin = free_port()?,
        cert = tls.cert,
        key = tls.key,
        ca = tls.client_ca,
        crl = tls.crls[0],
    );
    let config_path = work.path().join("folkreg.toml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folkreg"));
    cmd.arg("serve").arg("--config").arg(&config_path);
    let folkreg = start(
        cmd,
        &work.path().join("folkreg.log"),
        "folkreg serving",
        folkreg_addr,
    )?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let p = &load.population;
    let mut cmd = Command::new(me);
    cmd.args(["bound", "--listen", &bound_addr.to_string(), "--persons"])
        .arg(p.persons.to_string())
        .arg("--seed")
        .arg(p.seed.to_string())
        .arg("--today")
        .arg(p.today.to_string())
        .arg("--client")
        .arg(&load.client);
    let bound = start(
        cmd,
        &work.path().join("bound.log"),
        "bound serving",
        bound_addr,
    )?;
    let metro = match &metro {
        Some(dir) => Some((
            start_metro(dir, p, &work.path().join("metro.log"))?,
            dir.join("pki"),
        )),
        None => None,
    };

    let prepared = Prepared::new(&load)?;
    let mut targets = vec![
        Target {
            name: "folkreg",
            server: &folkreg,
            tls: prepared.tls.clone(),
        },
        Target {
            name: "bound",
            server: &bound,
            tls: prepared.tls.clone(),
        },
    ];
    if let Some((server, pki)) = &metro {
        let roots = [pki.join("ca.crt").to_string_lossy().into_owned()];
        let cert = pki.join("client.crt").to_string_lossy().into_owned();
        let key = pki.join("client.key").to_string_lossy().into_owned();
        targets.push(Target {
            name: "metro",
            server,
            tls: client::connector(pki, &roots, &cert, &key)?,
        });
    }
    let mut runs: Vec<RunReport> = Vec::new();
    for round in 0..rounds {
        for &c in &load.connections {
            // Each round starts with the next target, so none is always first or last.
            for k in 0..targets.len() {
                let t = &targets[(round + k) % targets.len()];
                let r = prepared
                    .run_with(t.tls.clone(), t.server.addr, t.name, c, &load)
                    .await;
                eprintln!(
                    "round {round} {:7} {c:3} conns: {:9.0} req/s  p50 {:7.3} ms  p99 {:7.3} ms  {:6.0} B/answer  errors {:?}",
                    t.name, r.requests_per_s, r.latency_ms.p50, r.latency_ms.p99, r.mean_response_bytes, r.errors
                );
                if r.by_kind.len() > 1 {
                    for (kind, k) in &r.by_kind {
                        eprintln!(
                            "        {kind:20} {:8} requests  p50 {:7.3} ms  p99 {:7.3} ms  {:6.0} B/answer",
                            k.requests, k.latency_ms.p50, k.latency_ms.p99, k.mean_response_bytes
                        );
                    }
                }
                runs.push(r);
            }
        }
    }
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    let summary = summarise(&runs, &load.connections, &names);
    for s in &summary {
        for (name, f) in &s.targets {
            eprintln!(
                "median {:3} conns {name:7}: {:9.0} req/s  p50 {:.3} ms  p99 {:.3} ms  {:.1} MB/s  {:.0} B/answer",
                s.connections, f.requests_per_s, f.p50_ms, f.p99_ms, f.bytes_per_s / 1e6, f.mean_response_bytes
            );
        }
        for (name, ratio) in &s.folkreg_over {
            eprintln!(
                "median {:3} conns folkreg/{name}: {ratio:.2}",
                s.connections
            );
        }
    }
    let report = serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "mode": load.mode,
        "mix": load.mix,
        "client": load.client,
        "persons": p.persons,
        "rounds": rounds,
        "duration_s": load.duration,
        "summary": summary,
        "runs": runs,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    match json {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => println!("{text}"),
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Figures {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes_per_s: f64,
    mean_response_bytes: f64,
}

#[derive(serde::Serialize)]
struct Summary {
    connections: usize,
    /// Medians over rounds, by target.
    targets: std::collections::BTreeMap<String, Figures>,
    /// folkreg's median requests/s over each other target's.
    folkreg_over: std::collections::BTreeMap<String, f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn summarise(runs: &[RunReport], levels: &[usize], targets: &[&str]) -> Vec<Summary> {
    let figures = |target: &str, c: usize| {
        let of: Vec<&RunReport> = runs
            .iter()
            .filter(|r| r.target == target && r.connections == c)
            .collect();
        let m = |f: &dyn Fn(&RunReport) -> f64| median(of.iter().map(|r| f(r)).collect());
        Figures {
            requests_per_s: m(&|r| r.requests_per_s),
            p50_ms: m(&|r| r.latency_ms.p50),
            p99_ms: m(&|r| r.latency_ms.p99),
            bytes_per_s: m(&|r| r.requests_per_s * r.mean_response_bytes),
            mean_response_bytes: m(&|r| r.mean_response_bytes),
        }
    };
    levels
        .iter()
        .map(|&c| {
            let targets: std::collections::BTreeMap<String, Figures> = targets
                .iter()
                .map(|t| (t.to_string(), figures(t, c)))
                .collect();
            let ours = targets
                .get("folkreg")
                .map_or(f64::NAN, |f| f.requests_per_s);
            let folkreg_over = targets
                .iter()
                .filter(|(name, _)| name.as_str() != "folkreg")
                .map(|(name, f)| (name.clone(), ours / f.requests_per_s))
                .collect();
            Summary {
                connections: c,
                targets,
                folkreg_over,
            }
        })
        .collect()
}
