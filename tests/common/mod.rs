//! Shared by the integration tests: start the real server on an ephemeral port with the
//! development PKI from `certs-dev/`, and talk to it over real TLS.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

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
    #[serde(default)]
    pub switches: Vec<String>,
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

/// A running server on 127.0.0.1 with its own data directory.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub state: Arc<folkreg::app::AppState>,
    pub data: tempfile::TempDir,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
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

    async fn start_full(
        prepare: impl FnOnce(&mut folkreg::config::Config),
        clock: Arc<dyn folkreg::clock::Clock>,
    ) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let toml = format!(
            "data_dir = {:?}\ncache_mb = 64\n[soap]\nlisten = \"127.0.0.1:0\"\n",
            data.path().join("data")
        );
        let mut config =
            folkreg::config::Config::from_str_at(&toml, &repo().join("folkreg-test.toml"))
                .expect("test config");
        prepare(&mut config);
        let state = tokio::task::spawn_blocking(move || {
            folkreg::app::build_state_with(config, clock, Some(folkreg::dev::demo::seed))
        })
        .await
        .expect("join")
        .expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(folkreg::http::run(listener, state.clone(), rx));
        TestServer {
            addr,
            state,
            data,
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// A TLS connector presenting this client certificate (leaf + chain from its PEM).
    pub fn connector(&self, client: &CertEntry) -> tokio_rustls::TlsConnector {
        connector_for(client)
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
    HttpResponse::parse(&buf).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&buf)
        ))
    })
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

/// Text of the first element with this local name, prefix-agnostic (tests only).
pub fn element_text(xml: &str, local: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) if e.local_name().as_ref() == local.as_bytes() => {
                inside = true
            }
            quick_xml::events::Event::Text(t) if inside => {
                return t.unescape().ok().map(|c| c.into_owned())
            }
            quick_xml::events::Event::End(_) if inside => return Some(String::new()),
            quick_xml::events::Event::Eof => return None,
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

/// Validates an XML document against `wsdl/epersondata.xsd` with xmllint; the error is
/// xmllint's message.
pub fn xmllint(xml: &str) -> Result<(), String> {
    xmllint_with(xml, "epersondata.xsd")
}

/// Validates `xml` against the schema `wsdl/SCHEMA`.
pub fn xmllint_with(xml: &str, schema: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("document.xml");
    std::fs::write(&f, xml).expect("write document");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo().join("wsdl").join(schema))
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
    /// if given, with these extra environment variables, and waits until it serves.
    pub async fn start(wrapper: &[&str], env: &[(&str, &str)]) -> RealServer {
        RealServer::start_custom(wrapper, env, |_, config| config).await
    }

    /// [`RealServer::start`] with the config file's text passed through `edit` first (given
    /// the work directory, which holds `data/` and `folkreg.toml`), e.g. to point the TLS
    /// files at copies a test rotates, or to append a `[load]` table.
    pub async fn start_custom(
        wrapper: &[&str],
        env: &[(&str, &str)],
        edit: impl FnOnce(&Path, String) -> String,
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
        std::fs::write(&config_path, config).expect("config");
        let log = work.path().join("serve.log");
        let file = std::fs::File::create(&log).expect("log file");
        let bin = env!("CARGO_BIN_EXE_folkreg");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = std::process::Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => std::process::Command::new(bin),
        };
        // Its own process group: a wrapper such as `faketime` forks the server, and killing
        // the wrapper alone would leave the server running after the test.
        cmd.process_group(0);
        cmd.args(["serve", "--config"])
            .arg(&config_path)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::from(file.try_clone().expect("log")))
            .stderr(std::process::Stdio::from(file));
        let mut child = cmd.spawn().expect("folkreg serve");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("folkreg serving") {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("serve exited ({status}):\n{text}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not start:\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        RealServer {
            child,
            addr: format!("127.0.0.1:{port}").parse().expect("addr"),
            admin: format!("127.0.0.1:{admin_port}").parse().expect("addr"),
            work,
            log,
        }
    }

    /// A plain-HTTP request to the admin listener: (status, body).
    pub async fn admin(&self, method: &str, path: &str) -> (u16, String) {
        let mut tcp = TcpStream::connect(self.admin)
            .await
            .expect("admin listener");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        tcp.read_to_end(&mut buf).await.expect("read");
        let r = HttpResponse::parse(&buf).expect("an HTTP response");
        (r.status, r.body)
    }

    /// Starts `folkreg serve` again on the same work directory and config (after a kill), and
    /// waits until it serves again.
    /// SIGKILL to the server's process group (the server and any wrapper around it).
    fn kill(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

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
        self.child = std::process::Command::new(env!("CARGO_BIN_EXE_folkreg"))
            .process_group(0)
            .args(["serve", "--config"])
            .arg(self.work.path().join("folkreg.toml"))
            .stdout(std::process::Stdio::from(file.try_clone().expect("log")))
            .stderr(std::process::Stdio::from(file))
            .spawn()
            .expect("folkreg serve");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.matches("folkreg serving").count() > before {
                break;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited on restart ({status}):\n{text}");
            }
            assert!(std::time::Instant::now() < deadline, "no restart:\n{text}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
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

/// The demo population's FULL delivery exactly as `serve` makes it, written to `dir`, so that
/// tests can make the deltas that follow it.
pub fn demo_full(dir: &Path) -> PathBuf {
    let (y, m, d) = folkreg::dev::demo::DEMO_TODAY;
    let today = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
    let full = dir.join("leverans-demo-FULL.xml.gz");
    folkreg::dev::generate::write_full(
        folkreg::dev::demo::DEMO_PERSONS,
        folkreg::dev::demo::DEMO_SEED,
        today,
        Some(&full),
    )
    .expect("demo FULL");
    full
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
