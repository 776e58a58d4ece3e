//! Shared by the integration tests: start the real server (in process, or the `folkreg`
//! binary) on ephemeral ports with the development PKI from `certs-dev/` and a copy of the
//! demo store built once per test run, talk to it over real TLS, run the CLI, and make and
//! inspect deliveries and stores.
//!
//! Compiled into both test binaries (`tests/it`, and `tests/kill` through `#[path]`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `folkreg` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_folkreg");
/// `personpostXML` (DOMAIN.md, WIRE.md).
pub const PP: &str = "/na/na_epersondata/V2/personpostXML";
/// `namnsokningXML`.
pub const NS: &str = "/na/na_epersondata/V2/namnsokningXML";
/// `hamtaAvisering`.
pub const AV: &str = "/na/na_avisering/V1/hamtaAvisering";
/// `lamnaInfil`.
pub const INFIL: &str = "/na/na_avisering/V1/lamnaInfil";

/// One `[[cert]]` of `certs-dev/index.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct CertEntry {
    pub name: String,
    pub kind: String,
    pub cert: String,
    pub key: Option<String>,
    pub org: Option<String>,
    pub bestallningsid: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub expect: Option<String>,
    pub why: Option<String>,
}

#[derive(Deserialize)]
struct Index {
    cert: Vec<CertEntry>,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn certs_index() -> Vec<CertEntry> {
    let text =
        std::fs::read_to_string(repo().join("certs-dev/index.toml")).expect("certs-dev/index.toml");
    toml::from_str::<Index>(&text)
        .expect("index.toml parses")
        .cert
}

pub fn cert(name: &str) -> CertEntry {
    certs_index()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cert {name} in index.toml"))
}

/// The first accepted client certificate with these categories (all of them), for tests that
/// need "some organisation that may do X".
pub fn accepted_client(with_categories: &[&str]) -> CertEntry {
    certs_index()
        .into_iter()
        .find(|c| {
            c.kind == "client"
                && c.expect.as_deref() == Some("accepted")
                && with_categories
                    .iter()
                    .all(|w| c.categories.iter().any(|k| k == w))
        })
        .expect("an accepted client certificate")
}

/// The real server loop ([`folkreg::server::run`]) in this process, on 127.0.0.1 with its
/// own data directory (a copy of the demo store) and a clock the test may set.
pub struct TestServer {
    /// The SOAP listener.
    pub addr: std::net::SocketAddr,
    /// The admin listener.
    pub admin: std::net::SocketAddr,
    pub state: Arc<folkreg::app::AppState>,
    /// Holds `data/` (removed on drop).
    _work: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), folkreg::app::StartError>>,
}

impl TestServer {
    /// Starts a server whose store holds the deterministic demo population.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after letting `prepare` change the config.
    pub async fn start_with(prepare: impl FnOnce(&mut folkreg::config::Config)) -> TestServer {
        Self::start_full(prepare, Arc::new(folkreg::clock::SystemClock)).await
    }

    /// Starts a server whose clock the test sets.
    pub async fn start_at(clock: Arc<dyn folkreg::clock::Clock>) -> TestServer {
        Self::start_full(|_| {}, clock).await
    }

    /// Starts a server after `prepare` changed the config, on a clock the test sets.
    pub async fn start_full(
        prepare: impl FnOnce(&mut folkreg::config::Config),
        clock: Arc<dyn folkreg::clock::Clock>,
    ) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let toml = format!(
            "data_dir = {:?}\ncache_mb = 64\n[soap]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            data.path().join("data")
        );
        let mut config =
            folkreg::config::Config::from_str_at(&toml, &repo().join("folkreg-test.toml"))
                .expect("test config");
        prepare(&mut config);
        let state = tokio::task::spawn_blocking(move || {
            copy_demo_if_loaded(&config);
            folkreg::app::build_state_with(config, clock, Some(folkreg::dev::demo::seed))
        })
        .await
        .expect("join")
        .expect("server state");
        let listeners = folkreg::server::Listeners {
            soap: tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
            admin: tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        };
        let addr = listeners.soap.local_addr().expect("addr");
        let admin = listeners.admin.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(folkreg::server::run(listeners, state.clone(), async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            admin,
            state,
            _work: data,
            stop,
            task,
        }
    }

    /// One request to the admin listener: (status, body).
    pub async fn admin(&self, method: &str, path: &str) -> (u16, String) {
        admin_at(self.admin, method, path).await
    }

    /// Shuts the server down as SIGTERM does (drain, flush, close the audit log) and checks
    /// that it stopped cleanly.
    pub async fn stop(self) {
        let TestServer {
            state, stop, task, ..
        } = self;
        drop(state);
        let _ = stop.send(());
        task.await
            .expect("the server task")
            .expect("the server stops cleanly");
    }

    /// POSTs a SOAP body with this certificate on a fresh connection.
    pub async fn post(&self, client: &CertEntry, path: &str, body: &str) -> HttpResponse {
        self.raw(client, post_request(path, body).as_bytes())
            .await
            .expect("request over TLS")
    }

    /// Sends raw bytes over a fresh TLS connection and reads the response until close.
    pub async fn raw(&self, client: &CertEntry, bytes: &[u8]) -> std::io::Result<HttpResponse> {
        raw_at(self.addr, client, bytes).await
    }
}

/// Sends raw bytes to `addr` over a fresh TLS connection with this client certificate and
/// reads the response until close.
pub async fn raw_at(
    addr: std::net::SocketAddr,
    client: &CertEntry,
    bytes: &[u8],
) -> std::io::Result<HttpResponse> {
    let tcp = TcpStream::connect(addr).await?;
    let server_name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector_for(client).connect(server_name, tcp).await?;
    tls.write_all(bytes).await?;
    let mut buf = Vec::new();
    tls.read_to_end(&mut buf).await.or_else(|e| {
        // A server that closes without close_notify after answering is fine for a test.
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Ok(0)
        } else {
            Err(e)
        }
    })?;
    let response = HttpResponse::parse(&buf).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&buf)
        ))
    })?;
    capture(&response);
    Ok(response)
}

/// Where every SOAP answer the tests receive is saved, when set: `.ci/run` validates them
/// all against Navet's own `Epersondata.xsd` afterwards (tests/interop/validate_answers.py).
pub const CAPTURE_DIR_ENV: &str = "FOLKREG_CAPTURE_DIR";

/// Saves a SOAP answer's body into [`CAPTURE_DIR_ENV`] (if set) as `PID-N.xml`.
fn capture(response: &HttpResponse) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let Some(dir) = std::env::var_os(CAPTURE_DIR_ENV) else {
        return;
    };
    if !response.body.contains(":Envelope") {
        return;
    }
    let dir = PathBuf::from(dir);
    let name = format!(
        "{}-{}.xml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(name), &response.body))
        .unwrap_or_else(|e| panic!("{CAPTURE_DIR_ENV}={}: {e}", dir.display()));
}

/// A SOAP POST request with `Connection: close`.
pub fn post_request(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

pub fn connector_for(client: &CertEntry) -> tokio_rustls::TlsConnector {
    let dir = repo().join("certs-dev");
    let mut roots = rustls::RootCertStore::empty();
    for c in certs_index().iter().filter(|c| c.kind == "root-ca") {
        for cert in read_certs(&dir.join(&c.cert)) {
            let _ = roots.add(cert);
        }
    }
    let chain = read_certs(&dir.join(&client.cert));
    let key_path = dir.join(client.key.as_deref().expect("client key"));
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(&key_path).expect("key file"),
    ))
    .expect("key parses")
    .expect("a key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

pub fn read_certs(path: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rustls_pemfile::certs(&mut std::io::BufReader::new(f))
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certs")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    fn parse(buf: &[u8]) -> Option<HttpResponse> {
        let text = String::from_utf8_lossy(buf);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.lines();
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect::<Vec<_>>();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Some(HttpResponse {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of the first element with this local name.
    pub fn text_of(&self, local: &str) -> Option<String> {
        element_text(&self.body, local)
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Text of the first element with this local name, prefix-agnostic (tests only): its first
/// run of character data, references decoded (`None` for an unknown entity).
pub fn element_text(xml: &str, local: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    // Since quick-xml 0.38 a text arrives in pieces: each `&...;` is its own event.
    let mut run: Option<String> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) if inside => run.get_or_insert_default().push_str(&t.decode().ok()?),
            Event::GeneralRef(r) if inside => {
                let name = r.decode().ok()?;
                let chars = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&name)?.to_owned(),
                };
                run.get_or_insert_default().push_str(&chars);
            }
            _ if run.is_some() => return run,
            Event::Start(e) if e.local_name().as_ref() == local.as_bytes() => inside = true,
            Event::End(_) if inside => return Some(String::new()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

pub fn personpost_body(org: &str, bestallningsid: &str, pnr: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1">
<soapenv:Header/><soapenv:Body><v1:PersonpostRequest>
<v1:Bestallning><v1:OrgNr>{org}</v1:OrgNr><v1:BestallningsId>{bestallningsid}</v1:BestallningsId></v1:Bestallning>
<v1:PersonId>{pnr}</v1:PersonId></v1:PersonpostRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

pub fn namnsokning_body(org: &str, bestallningsid: &str, fields: &[(&str, &str)]) -> String {
    let mut inner = String::new();
    for n in folkreg::soap::request::SOKVILLKOR_NAMN {
        let v = fields
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| *v)
            .unwrap_or("");
        inner.push_str(&format!("<v1:{n}>{v}</v1:{n}>"));
    }
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1">
<soapenv:Body><v1:NamnsokningRequest><v1:Bestallning><v1:OrgNr>{org}</v1:OrgNr><v1:BestallningsId>{bestallningsid}</v1:BestallningsId></v1:Bestallning>
<v1:SokvillkorNamn>{inner}</v1:SokvillkorNamn></v1:NamnsokningRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

/// Validates an XML document against Navet's own `Epersondata.xsd` (na_webservices_xmls
/// 7_2_28, `../shared/reference/navet/v4-2023/schema/`) with xmllint; the error is xmllint's
/// message.
pub fn xmllint(xml: &str) -> Result<(), String> {
    xmllint_schema(
        xml,
        &repo().join("../shared/reference/navet/v4-2023/schema/Epersondata.xsd"),
    )
}

/// Validates `xml` against the schema `wsdl/SCHEMA`.
pub fn xmllint_with(xml: &str, schema: &str) -> Result<(), String> {
    xmllint_schema(xml, &repo().join("wsdl").join(schema))
}

/// Validates `xml` against the schema file `schema` (which may import others beside it).
pub fn xmllint_schema(xml: &str, schema: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("document.xml");
    std::fs::write(&f, xml).expect("write document");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(&f)
        .output()
        .expect("xmllint (libxml2-utils) is installed by .ci/run");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Validates the answer element of a SOAP response against the XSD with xmllint.
pub fn assert_valid(body: &str) {
    let start = body.find("<S:Body>").expect("S:Body") + "<S:Body>".len();
    let end = body.rfind("</S:Body>").expect("/S:Body");
    if let Err(e) = xmllint(&body[start..end]) {
        panic!(
            "answer does not validate: {e}\n{}",
            &body[start..end.min(start + 2000)]
        );
    }
}

/// The real `folkreg serve` binary on free ports with its own data directory and the
/// development PKI; killed when dropped.
pub struct RealServer {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    /// The admin listener (plain HTTP).
    pub admin: std::net::SocketAddr,
    pub work: tempfile::TempDir,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RealServer {
    /// Starts `folkreg serve`, through `wrapper` (e.g. `["faketime", "2026-11-23 05:05:00"]`)
    /// if given, with these extra environment variables, and waits until it serves. Where
    /// the server would load the demo population (an empty store, an empty inbox, `[load]
    /// demo` on), the data directory gets a copy of the demo store instead.
    pub async fn start(wrapper: &[&str], env: &[(&str, &str)]) -> RealServer {
        RealServer::start_custom(wrapper, env, |_, config| config).await
    }

    /// [`RealServer::start`], except that the server generates and loads the demo population
    /// itself at start, for a test about that start.
    pub async fn start_generating_demo(wrapper: &[&str], env: &[(&str, &str)]) -> RealServer {
        RealServer::spawn(wrapper, env, |_, config| config, false).await
    }

    /// [`RealServer::start`] with the config file's text passed through `edit` first (given
    /// the work directory, which holds `data/` and `folkreg.toml`), e.g. to point the TLS
    /// files at copies a test rotates, or to append a `[load]` table.
    pub async fn start_custom(
        wrapper: &[&str],
        env: &[(&str, &str)],
        edit: impl FnOnce(&Path, String) -> String,
    ) -> RealServer {
        RealServer::spawn(wrapper, env, edit, true).await
    }

    async fn spawn(
        wrapper: &[&str],
        env: &[(&str, &str)],
        edit: impl FnOnce(&Path, String) -> String,
        copy_demo: bool,
    ) -> RealServer {
        let work = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let admin_port = free_port();
        let repo = repo();
        let config = format!(
            "data_dir = {:?}\ncache_mb = 64\nregister = {:?}\n[soap]\nlisten = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\ncrls = [{:?}]\n",
            work.path().join("data"),
            repo.join("deploy/register.dev.toml"),
            repo.join("certs-dev/server.pem"),
            repo.join("certs-dev/server.key"),
            repo.join("certs-dev/ca-bundle.pem"),
            repo.join("certs-dev/crl.pem"),
        );
        let config = edit(work.path(), config);
        let config_path = work.path().join("folkreg.toml");
        if copy_demo {
            copy_demo_if_loaded(
                &folkreg::config::Config::from_str_at(&config, &config_path).expect("test config"),
            );
        }
        std::fs::write(&config_path, config).expect("config");
        let log = work.path().join("serve.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        // Its own process group: a wrapper such as `faketime` forks the server, and killing
        // the wrapper alone would leave the server running after the test.
        cmd.process_group(0);
        cmd.args(["serve", "--config"])
            .arg(&config_path)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::from(file.try_clone().expect("log")))
            .stderr(std::process::Stdio::from(file));
        let child = cmd.spawn().expect("folkreg serve");
        let mut server = RealServer {
            child,
            addr: format!("127.0.0.1:{port}").parse().expect("addr"),
            admin: format!("127.0.0.1:{admin_port}").parse().expect("addr"),
            work,
            log,
        };
        server.wait_serving(0, Duration::from_secs(300)).await;
        server
    }

    /// Waits until the log says "folkreg serving" more than `before` times, checking every
    /// 10 ms; panics with the log if the server exits or `limit` passes first.
    async fn wait_serving(&mut self, before: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.matches("folkreg serving").count() > before {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "serve did not start:\n{text}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A plain-HTTP request to the admin listener: (status, body).
    pub async fn admin(&self, method: &str, path: &str) -> (u16, String) {
        admin_at(self.admin, method, path).await
    }

    /// SIGKILL to the server's process group (the server and any wrapper around it), then
    /// waits for it.
    fn kill(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILLs the server if it still runs, starts `folkreg serve` again on the same work
    /// directory and config (without the wrapper or extra environment of the first start;
    /// the log is appended to), and waits until it serves again.
    #[allow(dead_code, reason = "used by the kill tests only")]
    pub async fn restart(&mut self) {
        self.kill();
        let before = std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("folkreg serving")
            .count();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("log file");
        self.child = Command::new(BIN)
            .process_group(0)
            .args(["serve", "--config"])
            .arg(self.work.path().join("folkreg.toml"))
            .stdout(std::process::Stdio::from(file.try_clone().expect("log")))
            .stderr(std::process::Stdio::from(file))
            .spawn()
            .expect("folkreg serve");
        self.wait_serving(before, Duration::from_secs(120)).await;
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.work.path().join("data")
    }

    /// POSTs a SOAP body with this certificate on a fresh connection.
    pub async fn post(&self, client: &CertEntry, path: &str, body: &str) -> HttpResponse {
        raw_at(self.addr, client, post_request(path, body).as_bytes())
            .await
            .expect("request over TLS")
    }

    /// SIGTERM, then waits up to 30 s for a graceful exit.
    pub async fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let stop = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < stop {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The value of one series in a Prometheus text exposition.
pub fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A `hamtaAvisering` request body: delivery `lopnummer` of `order`, optionally file `fil`
/// (A/B) and page `sida`.
pub fn hamta_avisering_body(
    org: &str,
    order: &str,
    lopnummer: u64,
    fil: Option<&str>,
    sida: Option<u64>,
) -> String {
    let fil = fil
        .map(|f| format!("<av:Fil>{f}</av:Fil>"))
        .unwrap_or_default();
    let sida = sida
        .map(|s| format!("<av:Sida>{s}</av:Sida>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:av="urn:folkreg:avisering:1">
  <S:Body>
    <av:HamtaAviseringRequest>
      <av:Bestallning><av:OrgNr>{org}</av:OrgNr><av:BestallningsId>{order}</av:BestallningsId></av:Bestallning>
      <av:Lopnummer>{lopnummer}</av:Lopnummer>{fil}{sida}
    </av:HamtaAviseringRequest>
  </S:Body>
</S:Envelope>"#
    )
}

/// A `lamnaInfil` request body: page `sida` of `antal_sidor` of `order`'s infil, optionally
/// with `SvarDirekt`.
pub fn lamna_infil_body(
    org: &str,
    order: &str,
    sida: u64,
    antal_sidor: u64,
    svar_direkt: Option<bool>,
    numbers: &[String],
) -> String {
    let svar_direkt = svar_direkt
        .map(|b| format!("<av:SvarDirekt>{b}</av:SvarDirekt>"))
        .unwrap_or_default();
    let personer: String = numbers
        .iter()
        .map(|n| format!("<av:PersonNr>{n}</av:PersonNr>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:av="urn:folkreg:avisering:1">
  <S:Body>
    <av:LamnaInfilRequest>
      <av:Bestallning><av:OrgNr>{org}</av:OrgNr><av:BestallningsId>{order}</av:BestallningsId></av:Bestallning>
      <av:Sida>{sida}</av:Sida><av:AntalSidor>{antal_sidor}</av:AntalSidor>{svar_direkt}{personer}
    </av:LamnaInfilRequest>
  </S:Body>
</S:Envelope>"#
    )
}

/// Panics unless the SOAP body of an avisering answer validates against `avisering.xsd`.
pub fn validate_avisering(body: &str) {
    let start = body.find("<S:Body>").expect("S:Body") + "<S:Body>".len();
    let end = body.rfind("</S:Body>").expect("/S:Body");
    if let Err(e) = xmllint_with(&body[start..end], "avisering.xsd") {
        panic!("answer does not validate: {e}");
    }
}

/// A plain-HTTP request to an admin listener at `addr`: (status, body).
pub async fn admin_at(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("admin listener");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.expect("read");
    let r = HttpResponse::parse(&buf).expect("an HTTP response");
    (r.status, r.body)
}

/// Panics unless `body` is a complete SOAP fault: a `faultcode`, the `WebServiceFault`
/// detail with an integer `Felkod`, and a Swedish / English text.
pub fn assert_valid_fault(body: &str) {
    assert!(body.contains("<S:Fault><faultcode>S:"), "{body}");
    assert!(
        body.contains("<detail><ns0:WebServiceFault xmlns:ns0="),
        "{body}"
    );
    let felkod = element_text(body, "Felkod").unwrap_or_default();
    assert!(
        felkod.parse::<i32>().is_ok(),
        "Felkod {felkod:?} is an xs:int: {body}"
    );
    assert!(body.contains("Beskrivning"), "{body}");
    assert!(body.contains(" / "), "Swedish / English: {body}");
}

// The demo population, made once per test run.

/// The demo population's "today" ([`folkreg::dev::demo::DEMO_TODAY`]).
pub fn demo_today() -> chrono::NaiveDate {
    let (y, m, d) = folkreg::dev::demo::DEMO_TODAY;
    chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// The demo population as `serve` generates it, made once per test binary.
pub fn demo_population() -> &'static [folkreg::model::Folkbokforingspost] {
    static POP: OnceLock<Vec<folkreg::model::Folkbokforingspost>> = OnceLock::new();
    POP.get_or_init(|| {
        folkreg::dev::generate::population(
            folkreg::dev::demo::DEMO_PERSONS,
            folkreg::dev::demo::DEMO_SEED,
            demo_today(),
        )
    })
}

/// A data directory holding what `serve` leaves in an empty one after loading the demo
/// population (`store/` and `demo/leverans-demo-FULL.xml.gz`), built once per test run and
/// shared by every test process: under the target directory, named after the `folkreg`
/// binary it was built for, made in a scratch directory and renamed into place whole, so
/// that concurrent test processes either find it complete or build their own and keep the
/// first one renamed. Copied, never opened in place.
pub fn demo_data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let bin = std::fs::metadata(BIN).expect("the folkreg binary");
        let built = bin
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let (y, m, d) = folkreg::dev::demo::DEMO_TODAY;
        let key = format!(
            "{}-{}-{y}{m:02}{d:02}-{:x}-{built:x}",
            folkreg::dev::demo::DEMO_PERSONS,
            folkreg::dev::demo::DEMO_SEED,
            bin.len()
        );
        let dir = root.join(format!("demo-store-{key}"));
        if dir.is_dir() {
            return dir;
        }
        let scratch = root.join(format!(".demo-store-{key}.{}.{built}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        // What `server::load_demo` does in an empty data directory.
        let demo = scratch.join("demo");
        std::fs::create_dir_all(&demo).expect("demo dir");
        let file = demo.join("leverans-demo-FULL.xml.gz");
        folkreg::dev::generate::write_full(
            folkreg::dev::demo::DEMO_PERSONS,
            folkreg::dev::demo::DEMO_SEED,
            demo_today(),
            Some(&file),
        )
        .expect("demo FULL");
        {
            let store_dir = scratch.join("store");
            std::fs::create_dir_all(&store_dir).expect("store dir");
            let store = folkreg::store::Store::open(&store_dir, 64 << 20).expect("demo store");
            folkreg::load::load_file(&store, &file, false).expect("demo load");
            store.flush().expect("flush");
        }
        // sled lets go of the store's files only when its flusher has stopped; the copy
        // must not take them mid-write, so the store is reopened (which waits) and closed.
        drop(open_store(&scratch.join("store")));
        match std::fs::rename(&scratch, &dir) {
            Ok(()) => {
                // Stores of earlier builds.
                for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with("demo-store-") && e.path() != dir {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
            // Another test process renamed its copy first.
            Err(_) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(&scratch);
            }
            Err(e) => panic!("{}: {e}", dir.display()),
        }
        dir
    })
}

/// Copies the demo data directory into `config`'s data directory if the server would load
/// the demo population at start: `[load] demo` on, an empty store, an empty inbox.
pub fn copy_demo_if_loaded(config: &folkreg::config::Config) {
    let store = config.store_dir();
    let empty_store = std::fs::read_dir(&store).map_or(true, |mut d| d.next().is_none());
    let inbox_empty =
        folkreg::load::job::waiting(&config.load.inbox).map_or(true, |w| w.is_empty());
    if config.load.demo && empty_store && inbox_empty {
        copy_dir(demo_data(), &config.data_dir);
    }
}

/// Copies `from` into `to` recursively (`to` and its parents are created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target)
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        }
    }
}

/// The demo population's FULL delivery exactly as `serve` makes it, copied to `dir`, so that
/// tests can make the deltas that follow it.
pub fn demo_full(dir: &Path) -> PathBuf {
    let full = dir.join("leverans-demo-FULL.xml.gz");
    std::fs::copy(demo_data().join("demo/leverans-demo-FULL.xml.gz"), &full).expect("demo FULL");
    full
}

// The command line.

/// Runs `folkreg ARGS` in `dir` (without `FOLKREG_CONFIG` from the environment).
pub fn folkreg(dir: &Path, args: &[&str]) -> Output {
    folkreg_env(dir, args, &[])
}

/// [`folkreg`] with these environment variables set.
pub fn folkreg_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env_remove("FOLKREG_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run folkreg")
}

/// `o`, after checking that it succeeded.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// Standard output and then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// Deliveries and stores.

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// The XML text of a delivery file, gzip or not.
pub fn read_plain(path: &Path) -> Vec<u8> {
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

/// Opens the store in `dir`, waiting out the file lock of an earlier open in this process
/// (sled lets go of it only when its background flusher has stopped).
pub fn open_store(dir: &Path) -> folkreg::store::Store {
    let mut tries = 0;
    loop {
        match folkreg::store::Store::open(dir, 1 << 26) {
            Ok(s) => return s,
            Err(e) if tries < 100 && e.to_string().contains("lock") => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("open the store: {e}"),
        }
    }
}

/// A digest of every record of the store in `data_dir/store`, in key order, and its info;
/// checks that the count in the store's meta is the records' and that a lookup by number
/// finds a record.
pub fn store_state(data_dir: &Path) -> (String, folkreg::store::StoreInfo) {
    use sha2::Digest;
    let store = open_store(&data_dir.join("store"));
    let snap = store.snapshot();
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    for rec in snap.iter() {
        h.update(folkreg::model::encode(&rec.expect("every record decodes")));
        n += 1;
    }
    assert_eq!(
        n,
        snap.info().records,
        "records counted in meta are the records"
    );
    // And it serves: a lookup by number finds the record.
    if let Some(first) = snap.iter().next() {
        let first = first.expect("a record decodes");
        assert_eq!(snap.get(&first.pnr()).expect("lookup"), Some(first));
    }
    (hex::encode(h.finalize()), snap.info())
}

/// `folkreg generate` of a FULL delivery (löpnummer 1) of `persons` into `dir/name` (gzip if
/// `.gz`).
pub fn generate_full(dir: &Path, name: &str, persons: usize, seed: u64, today: &str) -> PathBuf {
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
            today,
            "--out",
            name,
        ],
    ));
    dir.join(name)
}

/// `folkreg generate --delta-of previous` with `changes` changes into `dir/out`.
pub fn generate_delta(
    dir: &Path,
    previous: &Path,
    out: &str,
    changes: usize,
    seed: u64,
    today: &str,
) -> PathBuf {
    let (c, s) = (changes.to_string(), seed.to_string());
    ok(folkreg(
        dir,
        &[
            "generate",
            "--delta-of",
            previous.to_str().expect("path"),
            "--changes",
            &c,
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

/// A work folder with `folkreg.toml`, the store loaded with FULL A and its delta 2, and a
/// second FULL B (another population, the next löpnummer) to load into it.
pub struct CliFixture {
    pub dir: tempfile::TempDir,
    pub full_b: PathBuf,
}

/// The [`CliFixture`] of `persons` persons; B plain XML if `b_plain`, else gzip.
pub fn cli_fixture(persons: usize, b_plain: bool) -> CliFixture {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    std::fs::write(
        d.join("folkreg.toml"),
        "data_dir = \"data\"\ncache_mb = 32\n",
    )
    .expect("config");
    let a = generate_full(d, "a-full.xml.gz", persons, 7, "2026-11-01");
    let a2 = generate_delta(d, &a, "a-2.xml.gz", 12, 8, "2026-11-02");
    ok(folkreg(d, &["load", "a-full.xml.gz", "a-2.xml.gz"]));
    assert!(a2.exists());
    // B: another population, written as löpnummer 3 so that it is the next delivery.
    let b = generate_full(d, "b-raw.xml.gz", persons, 9, "2026-11-01");
    let xml = String::from_utf8(read_plain(&b)).expect("UTF-8").replacen(
        "<LopNr>1</LopNr>",
        "<LopNr>3</LopNr>",
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

/// What `folkreg status` in `dir` says about the store (its other lines tell the time).
pub fn store_status(dir: &Path) -> String {
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

/// `full` and `n` deltas after it, made in `dir` as `leverans-00000N-DELTA.xml.gz` (N from
/// 2), each of `changes` changes, with the seeds `seed`, `seed + 1`, …: a chain in löpnummer
/// order.
pub fn delivery_chain(
    dir: &Path,
    full: PathBuf,
    n: usize,
    changes: usize,
    seed: u64,
    today: chrono::NaiveDate,
) -> Vec<PathBuf> {
    let mut out = vec![full];
    for i in 0..n {
        let next = dir.join(format!("leverans-{:06}-DELTA.xml.gz", i + 2));
        let prev = out.last().expect("previous").clone();
        folkreg::dev::generate::write_delta(&prev, changes, seed + i as u64, today, Some(&next))
            .expect("delta");
        out.push(next);
    }
    out
}

/// Every line of the audit log in `dir`, oldest file first.
pub fn audit_lines(dir: &std::path::Path) -> Vec<folkreg::audit::AuditEntry> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("audit dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("audit file")
                .lines()
                .map(|l| {
                    serde_json::from_str::<folkreg::audit::AuditEntry>(l)
                        .expect("a JSON audit line")
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
