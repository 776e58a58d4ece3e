//! The load: a fixed number of concurrent clients, each sending its next request as soon as
//! the previous answer is read (a closed loop), over keep-alive connections or a new TLS
//! connection per request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rustls::pki_types::ServerName;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::workload::{Kind, Workload};

/// How connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One connection per client, reused for every request.
    Keepalive,
    /// A new TCP + TLS connection for every request (the handshake is in the latency).
    NewConnection,
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    pub addr: SocketAddr,
    pub connections: usize,
    pub mode: Mode,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a run measured.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub target: String,
    pub mode: Mode,
    pub connections: usize,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub latency_ms: Latency,
    /// Answers by request kind and outcome (`ok`, `unexpected-answer`, `http-NNN`).
    pub outcomes: BTreeMap<String, u64>,
    /// Failures that gave no HTTP answer, by kind (`connect`, `tls`, `http`).
    pub errors: BTreeMap<String, u64>,
    pub mean_response_bytes: f64,
    /// Latency and answer size by request kind (for a mix: does one kind hold up another?).
    pub by_kind: BTreeMap<String, KindReport>,
}

/// One request kind's share of a run.
#[derive(Debug, Serialize)]
pub struct KindReport {
    pub requests: u64,
    pub latency_ms: Latency,
    pub mean_response_bytes: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// TLS client configuration with a client certificate from `certs-dev/`.
pub fn connector(
    certs: &Path,
    roots: &[String],
    cert: &str,
    key: &str,
) -> Result<TlsConnector, String> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        for c in read_certs(&certs.join(r))? {
            store.add(c).map_err(|e| format!("{r}: {e}"))?;
        }
    }
    let chain = read_certs(&certs.join(cert))?;
    let key_path = certs.join(key);
    let file =
        std::fs::File::open(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", key_path.display()))?
        .ok_or_else(|| format!("{}: no private key", key_path.display()))?;
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(folkreg::tls::crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(store)
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?;
    Ok(TlsConnector::from(Arc::new(config)))
}

fn read_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    rustls_pemfile::certs(&mut std::io::BufReader::new(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What one client saw.
struct Tally {
    latency: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    bytes: u64,
    /// Latency and bytes by kind name.
    kinds: BTreeMap<&'static str, (Histogram<u64>, u64)>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

fn latency(h: &Histogram<u64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    }
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: histogram(),
            outcomes: BTreeMap::new(),
            errors: BTreeMap::new(),
            bytes: 0,
            kinds: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.latency.add(&other.latency);
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.bytes += other.bytes;
        for (k, (h, bytes)) in other.kinds {
            let mine = self.kinds.entry(k).or_insert_with(|| (histogram(), 0));
            let _ = mine.0.add(&h);
            mine.1 += bytes;
        }
    }

    fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn open(addr: SocketAddr, tls: &TlsConnector) -> Result<Sender, &'static str> {
    let tcp = TcpStream::connect(addr).await.map_err(|_| "connect")?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::from(addr.ip());
    let stream = tls.connect(name, tcp).await.map_err(|_| "tls")?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| "http")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request; the answer's status, body length and whether its shape is as expected.
async fn exchange(
    sender: &mut Sender,
    addr: SocketAddr,
    kind: Kind,
    body: Bytes,
    close: bool,
) -> Result<(u16, usize, bool), &'static str> {
    let mut req = Request::post(kind.path())
        .header(HOST, addr.to_string())
        .header(CONTENT_TYPE, "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"");
    if close {
        req = req.header(CONNECTION, "close");
    }
    let req = req.body(Full::new(body)).map_err(|_| "http")?;
    sender.ready().await.map_err(|_| "http")?;
    let resp = sender.send_request(req).await.map_err(|_| "http")?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|_| "http")?
        .to_bytes();
    Ok((status, body.len(), kind.answer_as_expected(&body)))
}

async fn client(
    id: usize,
    spec: RunSpec,
    tls: TlsConnector,
    work: Arc<Workload>,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed ^ id as u64);
    let mut sender: Option<Sender> = None;
    while Instant::now() < end {
        let (kind, body) = work.next(&mut rng);
        let started = Instant::now();
        let result = async {
            let s = match (spec.mode, sender.take()) {
                (Mode::Keepalive, Some(s)) if !s.is_closed() => s,
                _ => open(spec.addr, &tls).await?,
            };
            let mut s = s;
            let r = exchange(
                &mut s,
                spec.addr,
                kind,
                body,
                spec.mode == Mode::NewConnection,
            )
            .await;
            if spec.mode == Mode::Keepalive && r.is_ok() {
                sender = Some(s);
            }
            r
        }
        .await;
        let elapsed = started.elapsed();
        if started < measure_from {
            continue;
        }
        match result {
            Ok((status, len, expected)) => {
                let us = (elapsed.as_micros() as u64).clamp(1, 60_000_000);
                let _ = tally.latency.record(us);
                let by_kind = tally
                    .kinds
                    .entry(kind.name())
                    .or_insert_with(|| (histogram(), 0));
                let _ = by_kind.0.record(us);
                by_kind.1 += len as u64;
                let outcome = match (status, expected) {
                    (200, true) => "ok".to_owned(),
                    (200, false) => "unexpected-answer".to_owned(),
                    (s, _) => format!("http-{s}"),
                };
                *tally
                    .outcomes
                    .entry(format!("{}:{outcome}", kind.name()))
                    .or_default() += 1;
                tally.bytes += len as u64;
            }
            Err(e) => {
                tally.error(e);
                // Do not spin on a refusing server.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// Runs the load and measures it.
pub async fn run(spec: RunSpec, target: &str, tls: TlsConnector, work: Arc<Workload>) -> RunReport {
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let tasks: Vec<_> = (0..spec.connections)
        .map(|i| {
            tokio::spawn(client(
                i,
                spec,
                tls.clone(),
                work.clone(),
                measure_from,
                end,
            ))
        })
        .collect();
    let mut total = Tally::new();
    for t in tasks {
        if let Ok(t) = t.await {
            total.merge(t);
        }
    }
    let seconds = Instant::now()
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    let h = &total.latency;
    let requests = h.len();
    let by_kind = total
        .kinds
        .iter()
        .map(|(k, (h, bytes))| {
            let report = KindReport {
                requests: h.len(),
                latency_ms: latency(h),
                mean_response_bytes: *bytes as f64 / (h.len().max(1) as f64),
            };
            (k.to_string(), report)
        })
        .collect();
    RunReport {
        target: target.to_owned(),
        mode: spec.mode,
        connections: spec.connections,
        seconds,
        requests,
        requests_per_s: requests as f64 / seconds.max(1e-9),
        latency_ms: latency(h),
        outcomes: total.outcomes,
        errors: total.errors,
        mean_response_bytes: total.bytes as f64 / (requests.max(1) as f64),
        by_kind,
    }
}
