//! The SOAP listener, transport only: accept, TLS handshake, peer identity, HTTP/1.1 with
//! limits and timeouts, routing by path to [`Service`], the body read within its bounds, and
//! graceful shutdown. What a request means is the operation's (`crate::ops`); the audit line
//! is written here because it must be on disk before the answer bytes leave.
//!
//! A request flows one way: handshake (client verifier) → peer identity → register entry →
//! body (bounded) → SOAP parse → operation on one store snapshot → access → render → response.
//! Never logs personal data: log lines carry the organisation, the operation, the outcome.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT_ENCODING, ALLOW, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_TYPE, HOST, RETRY_AFTER,
};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::ops::personsok::Reply;
use crate::ops::{Caller, Operation, RequestId, Trail};
use crate::soap::service::{Endpoint, Service};
use crate::soap::{self, Fault};
use crate::tls::PeerIdentity;

mod guard;
use guard::{Gate, WriteDeadline};

/// Largest request body accepted: a Navet request is under 2 KiB; 64 KiB leaves room for
/// verbose clients while bounding memory per connection.
pub const MAX_BODY: usize = 64 * 1024;
/// How long shutdown waits for open connections to finish their requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Accepts connections until `shutdown` turns true, then drains open ones.
///
/// At most `[soap] max_connections` are served at once; more wait in the kernel's accept
/// queue, and the handshake, header and body timeouts bound how long a client that sends
/// nothing can keep a slot from them.
pub async fn run(listener: TcpListener, state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = state.config.connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max));
    let gate = Gate::new(limits.max_per_source, limits.max_handshaking);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // One source may not hold the listener: past its limit, closed at once.
        let Some(source) = gate.admit(remote.ip()) else {
            state.metrics.connection_shed("per_source");
            tracing::debug!(%remote, "connection closed: its source holds max_connections_per_source");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let watcher = graceful.watcher();
        let gate = gate.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _source = source;
            state.metrics.connection_opened();
            serve_connection(tcp, remote, state.clone(), &gate, watcher).await;
            state.metrics.connection_closed();
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections drained"),
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain deadline passed; closing remaining connections"),
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    state: Arc<AppState>,
    gate: &Arc<Gate>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let limits = state.config.connections;
    let config = state.tls.current();
    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
    let metrics_state = state.clone();
    let tcp = WriteDeadline::new(
        tcp,
        limits.write_timeout,
        Arc::new(move || metrics_state.metrics.connection_shed("write_timeout")),
    );
    // Until the handshake completes the connection is nobody's: past the budget of such
    // connections the oldest is shed, so a flood of silent connections cannot keep real
    // clients from their handshakes.
    let mut handshaking = gate.begin_handshake();
    let accepted = tokio::select! {
        r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => r,
        _ = &mut handshaking.shed => {
            tracing::debug!(%remote, "handshake shed for a newer connection (max_handshaking)");
            state.metrics.connection_shed("handshake_budget");
            return;
        }
    };
    drop(handshaking);
    let tls = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            state.metrics.handshake_failed(&e);
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            state.metrics.handshake_timed_out();
            return;
        }
    };
    let Some(peer) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| PeerIdentity::from_der(c))
    else {
        // The verifier requires a certificate, so this does not happen; refuse if it does.
        return;
    };
    let chain: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let still = Arc::new(StillAccepted {
        chain,
        judged: std::sync::Mutex::new((config, None)),
    });
    let peer = Arc::new(peer);
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let peer = peer.clone();
        let refused = still.refusal(&state.tls);
        if let Some(why) = &refused {
            tracing::info!(%remote, reason = %why, "an open connection's client certificate is no longer accepted; closing it");
        }
        async move {
            let mut response = handle(req, &state, &peer, refused.as_deref()).await;
            if refused.is_some() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(tls), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A whole body in memory.
fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body streamed from a renderer: each item a chunk, an error ends the response.
struct ChannelBody(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// Whether a connection's client certificate is still accepted, kept for the connection's
/// life. A reload (new CRLs, a new CA bundle) does not end open connections; instead each
/// request asks here, and when another TLS configuration has been put in force since the
/// certificate was last judged, it is judged again by that configuration
/// ([`crate::tls::TlsState::recheck`]). A certificate revoked after the handshake is so
/// refused at the connection's next request, which then closes the connection. (Whether the
/// register still permits it is asked at every request anyway.)
struct StillAccepted {
    /// The chain the client presented.
    chain: Vec<CertificateDer<'static>>,
    /// The configuration it was last judged by, and why it was refused (if it was).
    judged: std::sync::Mutex<(Arc<rustls::ServerConfig>, Option<String>)>,
}

impl StillAccepted {
    /// Why the certificate is refused now, if it is.
    fn refusal(&self, tls: &crate::tls::TlsState) -> Option<String> {
        let mut judged = self.judged.lock().unwrap_or_else(|e| e.into_inner());
        let (current, verdict) = tls.recheck(&self.chain, &judged.0);
        if let Some(verdict) = verdict {
            judged.0 = current;
            if let Err(e) = verdict {
                judged.1 = Some(e.to_string());
            }
        }
        judged.1.clone()
    }
}

async fn handle(
    req: HttpRequest<Incoming>,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
) -> Response<Body> {
    if crate::spar::wsdl::is_service(req.uri().path()) {
        return match *req.method() {
            Method::GET => spar_wsdl(&req, state),
            Method::POST => spar_call(req, state, peer, refused).await,
            _ => not_allowed("GET, POST", "use POST for SOAP, GET ?wsdl for the WSDL\n"),
        };
    }
    if let Some(text) = crate::spar::wsdl::xsd(req.uri().path()) {
        return match *req.method() {
            Method::GET => xml(StatusCode::OK, text.as_bytes().to_vec()),
            _ => not_allowed("GET", "use GET for a schema\n"),
        };
    }
    if let Some(path) = crate::ops::avisering_fil::FilPath::parse(req.uri().path()) {
        return match *req.method() {
            Method::GET => download(req, path, state, peer, refused).await,
            _ => not_allowed("GET", "use GET for a delivery file\n"),
        };
    }
    let Some(endpoint) = Endpoint::from_path(req.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    match *req.method() {
        Method::GET if refused.is_some() => plain(
            StatusCode::FORBIDDEN,
            "the client certificate is no longer accepted\n",
        ),
        Method::GET => wsdl(&req, endpoint, state),
        Method::POST => soap_call(req, endpoint, state, peer, refused).await,
        _ => not_allowed("GET, POST", "use POST for SOAP, GET ?wsdl for the WSDL\n"),
    }
}

/// 405 with the methods the path takes.
fn not_allowed(allow: &'static str, text: &'static str) -> Response<Body> {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, text);
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// Who may call, decided before anything of the request is read, the same for a SOAP call and
/// a delivery file: a certificate refused since the handshake, a closed service, an unreadable
/// certificate or one the register does not permit is refused with its fault.
fn admit(
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
) -> Result<Arc<crate::register::Organisation>, Fault> {
    if let Some(why) = refused {
        return Err(Fault::NotPermitted(format!(
            "the client certificate is no longer accepted: {why}"
        )));
    }
    if let Some(f) = state.maintenance_fault() {
        return Err(f);
    }
    let peer = peer
        .as_ref()
        .map_err(|e| Fault::NotPermitted(format!("certificate cannot be read: {e}")))?;
    state.authorize(peer)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

fn fault_response(f: &Fault) -> Response<Body> {
    let mut r = xml(f.status(), soap::response::fault(f));
    if let Some(secs) = f.retry_after() {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if matches!(f, Fault::UnsupportedEncoding(_)) {
        // Say which content codings would have been accepted (as RFC 9110 §15.5.16 asks of a
        // 415; the SOAP fault is a 500 like every other, but the hint costs nothing).
        r.headers_mut()
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    r
}

/// The audit line's and the metrics' name of a delivery file download.
pub const DOWNLOAD: &str = "hamtaAviseringsfil";
/// Most identity numbers in one audit line of a download (a page's worth).
const AUDIT_LINE: usize = 10_000;

/// `GET /na/na_avisering/V1/fil/{BestallningsId}/{LopNr}/{A|B}`: a delivery as Navet's
/// avisering file ([`crate::ops::avisering_fil`]), gzip-compressed when the client accepts
/// it. The same checks as a SOAP call (maintenance, certificate, register, order), the same
/// audit line before a byte of data leaves; refusals are plain text with the fault's code.
async fn download(
    req: HttpRequest<Incoming>,
    path: Result<crate::ops::avisering_fil::FilPath, Fault>,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
) -> Response<Body> {
    let started = Instant::now();
    let id = RequestId::new();
    let gzip = req
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|c| {
            let mut parts = c.split(';');
            parts
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("gzip"))
                && !parts.any(|q| q.trim().replace(' ', "") == "q=0")
        });
    let peer_ok = peer.as_ref().ok();
    let mut trail = Trail::default();
    let mut returned = Vec::new();
    let prepared = async {
        let org = admit(state, peer, refused)?;
        let path = path?;
        trail.bestallningsid = path.bestallnings_id.to_string();
        let bestallning = crate::soap::request::Bestallning {
            org_nr: org.orgnr,
            bestallnings_id: path.bestallnings_id.clone(),
        };
        let caller = Caller::check(org, &bestallning)?;
        let cx = state.ops_context(id, crate::soap::service::Version::V1);
        crate::ops::avisering_fil::prepare(&cx, &caller, path, gzip)
            .await
            .map_err(|e| e.into_fault(id))
    }
    .await;
    let (outcome, response, go) = match prepared {
        Err(f) => {
            let mut r = Response::new(full(format!("{f}\n")));
            *r.status_mut() = match f {
                Fault::BadRequest(_) => StatusCode::BAD_REQUEST,
                Fault::DeliveryRemoved(_) => StatusCode::GONE,
                Fault::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ if f.retry_after().is_some() => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::FORBIDDEN,
            };
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            if let Some(secs) = f.retry_after() {
                r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            (f.code().to_string(), r, None)
        }
        Ok(None) => (
            audit::OUTCOME_NOT_FOUND.to_owned(),
            plain(StatusCode::NOT_FOUND, "the delivery is not produced yet\n"),
            None,
        ),
        Ok(Some(p)) => {
            returned = p.returned;
            let mut r = Response::new(ChannelBody(p.body).boxed());
            let headers = r.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", p.filnamn))
            {
                headers.insert(hyper::header::CONTENT_DISPOSITION, v);
            }
            if gzip {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            (audit::OUTCOME_OK.to_owned(), r, Some(p.go))
        }
    };
    // The lines are durable before the file leaves; without them, nothing leaves. A large
    // file's numbers go in lines of at most AUDIT_LINE numbers, all with the request's id.
    let hits = u32::try_from(returned.len()).unwrap_or(u32::MAX);
    let mut lines = returned.chunks(AUDIT_LINE).peekable();
    let (org, cert) = caller_of(peer_ok);
    let written = loop {
        let chunk = lines.next().unwrap_or(&[]);
        let entry = AuditEntry {
            time: state.clock.now(),
            org: org.clone(),
            cert: cert.clone(),
            operation: DOWNLOAD.to_owned(),
            bestallningsid: trail.bestallningsid.clone(),
            hits,
            asked: Vec::new(),
            returned: chunk.iter().map(|p| p.as_str().to_owned()).collect(),
            outcome: outcome.clone(),
            request_id: id.0,
            spar: None,
        };
        let written = state.audit.record(entry).await;
        if written.is_err() || lines.peek().is_none() {
            break written;
        }
    };
    if let Err(e) = written {
        tracing::error!(request_id = %id, error = %e, "audit log failed: no file is sent");
        if let Some(go) = go {
            let _ = go.send(false);
        }
        state
            .metrics
            .request(DOWNLOAD, "1901".into(), started.elapsed());
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "1901 internal error\n");
    }
    if let Some(go) = go {
        let _ = go.send(true);
    }
    state
        .metrics
        .request(DOWNLOAD, outcome.into(), started.elapsed());
    response
}

/// `https://host[:port]` as the client reached this server (its `Host` header if that is a
/// plain host name or address, else the configured listen address).
fn base_url(req: &HttpRequest<Incoming>, state: &AppState) -> String {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() < 256
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| state.config.soap_listen.to_string());
    format!("https://{host}")
}

/// SPAR's WSDL at `/2021.1/?wsdl`, naming this server; its schemas are at `/2021.1/schema/…`.
fn spar_wsdl(req: &HttpRequest<Incoming>, state: &AppState) -> Response<Body> {
    if !req.uri().query().unwrap_or("").eq_ignore_ascii_case("wsdl") {
        return plain(StatusCode::NOT_FOUND, "GET ?wsdl for SPAR's WSDL\n");
    }
    let text = crate::spar::wsdl::wsdl(&base_url(req, state));
    xml(StatusCode::OK, text.into_bytes())
}

/// `?wsdl` (the path's version, with the address the client used) or `?xsd=NAME` (a schema
/// the WSDL imports).
fn wsdl(req: &HttpRequest<Incoming>, endpoint: Endpoint, state: &AppState) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    if query.eq_ignore_ascii_case("wsdl") {
        let address = format!("{}{}", base_url(req, state), req.uri().path());
        let text = endpoint.wsdl(&address);
        return xml(StatusCode::OK, text.into_bytes());
    }
    if let Some(text) = query
        .strip_prefix("xsd=")
        .and_then(|name| endpoint.xsd(name))
    {
        return xml(StatusCode::OK, text.into_bytes());
    }
    plain(
        StatusCode::NOT_FOUND,
        "GET ?wsdl or ?xsd=NAME (the schema the WSDL names)\n",
    )
}

async fn soap_call(
    req: HttpRequest<Incoming>,
    endpoint: Endpoint,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
) -> Response<Body> {
    let started = Instant::now();
    let service = endpoint.service;
    let id = RequestId::new();
    let mut trail = Trail::default();
    let answer = soap_answer(req, endpoint, state, peer, refused, &mut trail, id).await;
    // The outcome audit lines and metrics carry: ok, not_found, or the fault's Felkod.
    let (outcome, response): (Cow<'static, str>, _) = match answer {
        Ok(body) => (answered(service, &trail).into(), xml(StatusCode::OK, body)),
        Err(f) => (f.code().to_string().into(), fault_response(&f)),
    };
    audited(
        state,
        peer,
        id,
        started,
        service.name(),
        trail,
        outcome,
        response,
    )
    .await
}

/// Writes the request's audit line and, once it is durable, lets the response go (a server
/// fault instead if the line could not be written); counts the request in the metrics.
#[allow(clippy::too_many_arguments)]
async fn audited(
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    id: RequestId,
    started: Instant,
    operation: &'static str,
    trail: Trail,
    mut outcome: Cow<'static, str>,
    mut response: Response<Body>,
) -> Response<Body> {
    // The line is durable before the answer leaves; without it, no data leaves.
    let hits = trail.hits();
    let (org, cert) = caller_of(peer.as_ref().ok());
    let entry = AuditEntry {
        time: state.clock.now(),
        org,
        cert,
        operation: operation.to_owned(),
        bestallningsid: trail.bestallningsid,
        hits,
        asked: trail.asked,
        returned: trail.returned,
        outcome: outcome.clone().into_owned(),
        request_id: id.0,
        spar: trail.spar,
    };
    if let Err(e) = state.audit.record(entry).await {
        let f = Fault::Internal(id.to_string());
        tracing::error!(request_id = %id, error = %e, "audit log failed: answering a server fault instead");
        outcome = f.code().to_string().into();
        response = fault_response(&f);
    }
    tracing::debug!(
        request_id = %id,
        operation,
        outcome = &*outcome,
        micros = started.elapsed().as_micros() as u64,
        "answered"
    );
    state.metrics.request(operation, outcome, started.elapsed());
    response
}

/// SPAR's PersonSök (`/2021.1/`): the same admission, body limits and audit as Navet's
/// operations; a request SPAR's rules refuse is answered with its `Undantag` (HTTP 200, as
/// SPAR answers), a broken envelope or a refused caller with a SOAP fault.
async fn spar_call(
    req: HttpRequest<Incoming>,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
) -> Response<Body> {
    let started = Instant::now();
    let id = RequestId::new();
    let mut trail = Trail::default();
    let (outcome, response): (Cow<'static, str>, _) =
        match spar_answer(req, state, peer, refused, &mut trail, id).await {
            Ok(Reply::Data(body)) => (trail.found().into(), xml(StatusCode::OK, body)),
            Ok(Reply::Undantag(kod, body)) => {
                (format!("undantag-{kod}").into(), xml(StatusCode::OK, body))
            }
            Err(f) => (f.code().to_string().into(), fault_response(&f)),
        };
    audited(
        state,
        peer,
        id,
        started,
        SPAR_OPERATION,
        trail,
        outcome,
        response,
    )
    .await
}

/// The audit line's and the metrics' name of SPAR's operation.
const SPAR_OPERATION: &str = "PersonSok";

async fn spar_answer(
    req: HttpRequest<Incoming>,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
    trail: &mut Trail,
    id: RequestId,
) -> Result<Reply, Fault> {
    let org = admit(state, peer, refused)?;
    content_type(&req)?;
    content_encoding(req.headers())?;
    let body = read_body(req, MAX_BODY, state.config.connections.body_timeout).await?;
    let op = crate::soap::request::operation(&body, crate::soap::request::MAX_ELEMENTS)?;
    if op.local() != "SPARPersonsokningFraga" || op.ns() != Some(crate::spar::ns::FRAGA) {
        return Err(Fault::BadRequest(
            "this endpoint answers SPAR's PersonSok: the Body must hold SPARPersonsokningFraga"
                .into(),
        ));
    }
    let fraga = match crate::spar::request::parse(&op) {
        Ok(f) => f,
        Err(u) => return Ok(crate::ops::personsok::refused(&u, id.0)),
    };
    let cx = state.ops_context(id, crate::soap::service::Version::V1);
    crate::ops::personsok::Personsok { fraga }
        .apply(&cx, org, trail)
        .await
        .map_err(|e| e.into_fault(id))
}

/// Who called, as an audit line names them: the organisation (12 digits) and the
/// certificate's fingerprint, each empty if the certificate could not be read.
fn caller_of(peer: Option<&PeerIdentity>) -> (String, String) {
    (
        peer.and_then(|p| p.orgnr.as_ref())
            .map(|o| o.wire())
            .unwrap_or_default(),
        peer.map(PeerIdentity::fingerprint_hex).unwrap_or_default(),
    )
}

/// The audit outcome of a request answered without a fault: [`audit::OUTCOME_NOT_FOUND`]
/// when an operation that answers with persons returned none; an accepted `lamnaInfil` page
/// (which returns no person by design) is [`audit::OUTCOME_OK`].
fn answered(service: Service, trail: &Trail) -> &'static str {
    match service {
        Service::LamnaInfil => audit::OUTCOME_OK,
        Service::Personpost | Service::Namnsokning | Service::HamtaAvisering => trail.found(),
    }
}

async fn soap_answer(
    req: HttpRequest<Incoming>,
    endpoint: Endpoint,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    refused: Option<&str>,
    trail: &mut Trail,
    id: RequestId,
) -> Result<Vec<u8>, Fault> {
    // Policy before parsing: refused, closed, unreadable or unregistered callers are refused
    // before their body is read.
    let org = admit(state, peer, refused)?;
    content_type(&req)?;
    content_encoding(req.headers())?;
    let body_timeout = state.config.connections.body_timeout;
    let service = endpoint.service;
    let operation = if service.takes_infil() {
        Operation::parse_infil(&read_body(req, MAX_INFIL_BODY, body_timeout).await?)?
    } else {
        Operation::parse(&read_body(req, MAX_BODY, body_timeout).await?)?
    };
    if operation.service() != service {
        return Err(Fault::BadRequest(format!(
            "this endpoint answers {} only",
            service.name()
        )));
    }
    operation.note(trail);
    let caller = Caller::check(org, operation.bestallning())?;
    operation
        .apply(&state.ops_context(id, endpoint.version), &caller, trail)
        .await
}

/// Largest `lamnaInfil` body: a page of [`soap::request::MAX_INFIL_PAGE`] numbers.
pub const MAX_INFIL_BODY: usize = 1024 * 1024;

/// SOAP 1.1 is sent as `text/xml` (WIRE.md, "Transport"), in UTF-8. A request without a
/// Content-Type is read as such (liberal in what we accept); one that declares something else
/// is refused with a fault that names it, before its body is read.
fn content_type(req: &HttpRequest<Incoming>) -> Result<(), Fault> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| Fault::BadRequest("the Content-Type header is not ASCII".into()))?
        .to_ascii_lowercase();
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    match media {
        "text/xml" => {}
        "application/soap+xml" => {
            return Err(Fault::BadRequest(
                "Content-Type application/soap+xml is SOAP 1.2, which is not supported; send SOAP 1.1 as text/xml".into(),
            ))
        }
        other => {
            let shown: String = other
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(Fault::BadRequest(format!(
                "Content-Type {shown} is not text/xml (SOAP 1.1)"
            )));
        }
    }
    for param in parts {
        if let Some((name, charset)) = param.split_once('=') {
            let charset = charset.trim().trim_matches('"');
            if name.trim() == "charset" && charset != "utf-8" {
                let shown: String = charset
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
                    .take(40)
                    .collect();
                return Err(Fault::BadRequest(format!(
                    "only UTF-8 requests are accepted; the Content-Type says charset={shown}"
                )));
            }
        }
    }
    Ok(())
}

/// A request body is read as sent: every `Content-Encoding` (there may be several headers,
/// each a comma-separated list) must be `identity`, or the request is refused with fault
/// 1402 naming the coding, before its body is read.
fn content_encoding(headers: &hyper::HeaderMap) -> Result<(), Fault> {
    for value in headers.get_all(CONTENT_ENCODING) {
        let Ok(value) = value.to_str() else {
            return Err(Fault::UnsupportedEncoding("(not ASCII)".into()));
        };
        for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("identity") {
                let shown: String = coding
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
                    .take(40)
                    .collect();
                return Err(Fault::UnsupportedEncoding(shown));
            }
        }
    }
    Ok(())
}

/// Reads the body within `limit` bytes and `timeout`; a declared or actual larger body is
/// refused with fault 1401 before it is read.
async fn read_body(
    req: HttpRequest<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Fault> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Fault::TooLarge(limit));
    }
    let limited = Limited::new(req.into_body(), limit);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Fault::TooLarge(limit))
        }
        Ok(Err(_)) => Err(Fault::BadRequest(
            "the request body could not be read".into(),
        )),
        Err(_) => Err(Fault::BadRequest(
            "the request body was not sent in time".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[&'static str]) -> Result<(), Fault> {
        let mut h = hyper::HeaderMap::new();
        for v in values {
            h.append(CONTENT_ENCODING, HeaderValue::from_static(v));
        }
        content_encoding(&h)
    }

    #[test]
    fn a_content_encoding_other_than_identity_is_refused_with_fault_1402() {
        assert_eq!(encoded(&[]), Ok(()));
        assert_eq!(encoded(&["identity"]), Ok(()));
        assert_eq!(encoded(&["Identity, identity"]), Ok(()));
        for (values, named) in [
            (&["gzip"][..], "gzip"),
            (&["deflate"][..], "deflate"),
            (&["br"][..], "br"),
            (&["x-compress"][..], "x-compress"),
            (&["identity, gzip"][..], "gzip"),
            (&["identity", "zstd"][..], "zstd"),
        ] {
            let f = encoded(values).unwrap_err();
            assert_eq!(f, Fault::UnsupportedEncoding(named.into()), "{values:?}");
            assert_eq!(f.code(), 1402);
            assert!(f.beskrivning().contains(named));
        }
        let r = fault_response(&Fault::UnsupportedEncoding("gzip".into()));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers().get(ACCEPT_ENCODING).unwrap(), "identity");
    }

    #[test]
    fn an_accepted_infil_page_is_audited_ok_and_an_empty_lookup_not_found() {
        let empty = Trail::default();
        assert_eq!(answered(Service::LamnaInfil, &empty), audit::OUTCOME_OK);
        assert_eq!(
            answered(Service::Personpost, &empty),
            audit::OUTCOME_NOT_FOUND
        );
        assert_eq!(
            answered(Service::Namnsokning, &empty),
            audit::OUTCOME_NOT_FOUND
        );
        let found = Trail {
            returned: vec!["198602212394".into()],
            ..Trail::default()
        };
        assert_eq!(answered(Service::Personpost, &found), audit::OUTCOME_OK);
    }
}
