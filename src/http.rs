//! The SOAP listener: accept, TLS handshake, peer identity, HTTP/1.1 with limits and timeouts,
//! routing, and graceful shutdown.
//!
//! A request flows one way: handshake (client verifier) → peer identity → register entry →
//! body (bounded) → SOAP parse → operation on one store snapshot → access → render → response.
//! Never logs personal data: log lines carry the organisation, the operation, the outcome.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::avisering::urval::UrvalTyp;
use crate::avisering::OrderRef;
use crate::ops::{self, OpError};
use crate::soap::{self, response::Answer, Fault, Request};
use crate::tls::PeerIdentity;

/// Largest request body accepted: a Navet request is under 2 KiB; 64 KiB leaves room for
/// verbose clients while bounding memory per connection.
pub const MAX_BODY: usize = 64 * 1024;
/// How long shutdown waits for open connections to finish their requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The services folkreg answers, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Personpost,
    Namnsokning,
    HamtaAvisering,
    LamnaInfil,
}

impl Service {
    fn from_path(path: &str) -> Option<Service> {
        match path {
            "/na/na_avisering/V1/hamtaAvisering" => return Some(Service::HamtaAvisering),
            "/na/na_avisering/V1/lamnaInfil" => return Some(Service::LamnaInfil),
            _ => {}
        }
        let rest = path.strip_prefix("/na/na_epersondata/")?;
        let (version, name) = rest.split_once('/')?;
        if version != "V2" && version != "V4" {
            return None;
        }
        match name {
            "personpostXML" => Some(Service::Personpost),
            "namnsokningXML" => Some(Service::Namnsokning),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Personpost => "personpostXML",
            Service::Namnsokning => "namnsokningXML",
            Service::HamtaAvisering => "hamtaAvisering",
            Service::LamnaInfil => "lamnaInfil",
        }
    }

    fn wsdl(self) -> &'static str {
        match self {
            Service::Personpost => include_str!("../wsdl/personpostXML.wsdl"),
            Service::Namnsokning => include_str!("../wsdl/namnsokningXML.wsdl"),
            Service::HamtaAvisering => include_str!("../wsdl/hamtaAvisering.wsdl"),
            Service::LamnaInfil => include_str!("../wsdl/lamnaInfil.wsdl"),
        }
    }

    /// The `soap:address` written in the WSDL file (replaced by the address the client used).
    fn wsdl_address(self) -> String {
        match self {
            Service::HamtaAvisering | Service::LamnaInfil => {
                format!("https://localhost:8443/na/na_avisering/V1/{}", self.name())
            }
            _ => format!(
                "https://localhost:8443/na/na_epersondata/V2/{}",
                self.name()
            ),
        }
    }

    /// The schema the WSDL imports: file name and text.
    fn xsd(self) -> (&'static str, &'static str) {
        match self {
            Service::HamtaAvisering | Service::LamnaInfil => ("avisering.xsd", AVI_XSD),
            _ => ("epersondata.xsd", XSD),
        }
    }
}

const XSD: &str = include_str!("../wsdl/epersondata.xsd");
const AVI_XSD: &str = include_str!("../wsdl/avisering.xsd");

/// Accepts connections until `shutdown` turns true, then drains open ones.
///
/// At most `[soap] max_connections` are served at once; more wait in the kernel's accept
/// queue, and the handshake, header and body timeouts bound how long a client that sends
/// nothing can keep a slot from them.
pub async fn run(listener: TcpListener, state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(state.config.connections.max));
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
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            state.metrics.connection_opened();
            serve_connection(tcp, remote, state.clone(), watcher).await;
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
    watcher: hyper_util::server::graceful::Watcher,
) {
    let limits = state.config.connections;
    let acceptor = tokio_rustls::TlsAcceptor::from(state.tls.current());
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
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
    let peer = Arc::new(peer);
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(handle(req, &state, &peer).await) }
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

type Body = Full<Bytes>;

async fn handle(
    req: HttpRequest<Incoming>,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
) -> Response<Body> {
    let Some(service) = Service::from_path(req.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    match *req.method() {
        Method::GET => wsdl(&req, service, state),
        Method::POST => soap_call(req, service, state, peer).await,
        _ => {
            let mut r = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST for SOAP, GET ?wsdl for the WSDL\n",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, POST"));
            r
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
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
    r
}

/// `?wsdl` or `?xsd=epersondata.xsd`, with the address the client used.
fn wsdl(req: &HttpRequest<Incoming>, service: Service, state: &AppState) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    if query.eq_ignore_ascii_case("wsdl") {
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
        let address = format!("https://{host}{}", req.uri().path());
        let (xsd_name, _) = service.xsd();
        let text = service
            .wsdl()
            .replace(&service.wsdl_address(), &address)
            .replace(
                &format!("schemaLocation=\"{xsd_name}\""),
                &format!("schemaLocation=\"{}?xsd={xsd_name}\"", service.name()),
            );
        return xml(StatusCode::OK, text.into_bytes());
    }
    let (xsd_name, xsd_text) = service.xsd();
    if query.strip_prefix("xsd=") == Some(xsd_name) {
        return xml(StatusCode::OK, xsd_text.as_bytes().to_vec());
    }
    plain(
        StatusCode::NOT_FOUND,
        "GET ?wsdl or ?xsd=NAME (the schema the WSDL names)\n",
    )
}

async fn soap_call(
    req: HttpRequest<Incoming>,
    service: Service,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
) -> Response<Body> {
    let started = Instant::now();
    let id = RequestId::new();
    let mut trail = Trail::default();
    let (mut outcome, mut response) =
        match soap_answer(req, service, state, peer, &mut trail, id).await {
            Ok(body) if trail.returned.is_empty() => {
                (audit::OUTCOME_NOT_FOUND, xml(StatusCode::OK, body))
            }
            Ok(body) => (audit::OUTCOME_OK, xml(StatusCode::OK, body)),
            Err(f) => (f.code(), fault_response(&f)),
        };
    // The line is durable before the answer leaves; without it, no data leaves.
    let peer = peer.as_ref().ok();
    let entry = AuditEntry {
        time: state.clock.now(),
        org: peer
            .and_then(|p| p.orgnr.as_ref())
            .map(|o| o.wire())
            .unwrap_or_default(),
        cert: peer.map(|p| hex::encode(p.fingerprint)).unwrap_or_default(),
        operation: service.name().to_owned(),
        bestallningsid: trail.bestallningsid,
        hits: u32::try_from(trail.returned.len()).unwrap_or(u32::MAX),
        asked: trail.asked,
        returned: trail.returned,
        outcome: outcome.to_owned(),
        request_id: id.0,
    };
    if let Err(e) = state.audit.record(entry).await {
        let f = Fault::Internal(id.to_string());
        tracing::error!(request_id = %id, error = %e, "audit log failed: answering a server fault instead");
        outcome = f.code();
        response = fault_response(&f);
    }
    tracing::debug!(
        request_id = %id,
        operation = service.name(),
        outcome,
        micros = started.elapsed().as_micros() as u64,
        "answered"
    );
    state
        .metrics
        .request(service.name(), outcome, started.elapsed());
    response
}

/// What the audit line of one request records, filled in as the request is understood.
#[derive(Debug, Default)]
struct Trail {
    /// The request's `BestallningsId`, once parsed.
    bestallningsid: String,
    /// Identity numbers the request named.
    asked: Vec<String>,
    /// Identity numbers whose records are in the answer.
    returned: Vec<String>,
}

async fn soap_answer(
    req: HttpRequest<Incoming>,
    service: Service,
    state: &AppState,
    peer: &Result<PeerIdentity, crate::tls::TlsError>,
    trail: &mut Trail,
    id: RequestId,
) -> Result<Vec<u8>, Fault> {
    if let Some(f) = state.maintenance_fault() {
        return Err(f);
    }
    let peer = peer
        .as_ref()
        .map_err(|e| Fault::NotPermitted(format!("certificate cannot be read: {e}")))?;
    let org = state.authorize(peer)?;
    content_type(&req)?;
    let body_timeout = state.config.connections.body_timeout;
    let request = if service == Service::LamnaInfil {
        soap::request::parse_infil(&read_body(req, MAX_INFIL_BODY, body_timeout).await?)?
    } else {
        soap::request::parse(&read_body(req, MAX_BODY, body_timeout).await?)?
    };
    let wanted = matches!(
        (&request, service),
        (Request::Personpost { .. }, Service::Personpost)
            | (Request::Namnsokning { .. }, Service::Namnsokning)
            | (Request::HamtaAvisering { .. }, Service::HamtaAvisering)
            | (Request::LamnaInfil { .. }, Service::LamnaInfil)
    );
    if !wanted {
        return Err(Fault::BadRequest(format!(
            "this endpoint answers {} only",
            service.name()
        )));
    }
    let b = request.bestallning();
    trail.bestallningsid = b.bestallnings_id.to_string();
    if let Request::Personpost { person_id, .. } = &request {
        trail.asked.push(person_id.as_str().to_owned());
    }
    if b.org_nr != org.orgnr {
        return Err(Fault::OrgMismatch);
    }
    if !org.allows_bestallning(b.bestallnings_id.as_str()) {
        return Err(Fault::UnknownBestallning);
    }
    let order_id = b.bestallnings_id.to_string();
    match request {
        Request::HamtaAvisering {
            lopnummer,
            fil_b,
            sida,
            ..
        } => hamta_avisering(state, &org, &order_id, lopnummer, fil_b, sida, trail, id).await,
        Request::LamnaInfil {
            sida,
            antal_sidor,
            personer,
            svar_direkt,
            ..
        } => {
            let upload = InfilPage {
                sida,
                antal_sidor,
                personer,
                svar_direkt,
            };
            lamna_infil(state, &org, &order_id, upload, id).await
        }
        Request::Personpost { .. } | Request::Namnsokning { .. } => {
            lookup(state, &org, &request, trail, id)
        }
    }
}

/// `personpostXML` and `namnsokningXML`: records from one consistent store snapshot, with the
/// terms the caller's access allows.
fn lookup(
    state: &AppState,
    org: &crate::register::Organisation,
    request: &Request,
    trail: &mut Trail,
    id: RequestId,
) -> Result<Vec<u8>, Fault> {
    let access = org.access();
    let snapshot = state.store.snapshot();
    let (result, kind) = match request {
        Request::Personpost { person_id, .. } => (
            ops::personpost::run(&snapshot, &access, person_id),
            Answer::Personpost,
        ),
        Request::Namnsokning { query, .. } => (
            ops::namnsokning::run(&snapshot, &access, query, state.config.max_hits),
            Answer::Namnsokning,
        ),
        Request::HamtaAvisering { .. } | Request::LamnaInfil { .. } => {
            return Err(Fault::BadRequest("not a lookup".into()))
        }
    };
    let posts = match result {
        Ok(p) => p,
        Err(OpError::Fault(f)) => return Err(f),
        Err(OpError::Store(e)) => {
            tracing::error!(request_id = %id, error = %e, "store failure");
            return Err(Fault::Internal(id.to_string()));
        }
    };
    drop(snapshot);
    trail.returned = posts
        .iter()
        .map(|v| v.post.pnr().as_str().to_owned())
        .collect();
    Ok(soap::response::answer(kind, &posts))
}

/// The caller's delivery order (avisering or urval) with this id, or a clear fault.
fn delivery_order<'a>(
    org: &'a crate::register::Organisation,
    order_id: &str,
) -> Result<OrderRef<'a>, Fault> {
    OrderRef::find(org, order_id).ok_or_else(|| {
        Fault::BadRequest(format!(
            "BestallningsId {order_id} is not an avisering or urval order"
        ))
    })
}

/// Runs `work` on the feed off the async workers; a store failure becomes FR1901 with its
/// log line under the request id.
async fn on_feed<T: Send + 'static>(
    state: &AppState,
    id: RequestId,
    work: impl FnOnce(&crate::avisering::feed::Feed) -> Result<T, FeedFault> + Send + 'static,
) -> Result<T, Fault> {
    let feed = state.feed.clone();
    match tokio::task::spawn_blocking(move || work(&feed)).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(FeedFault::Fault(f))) => Err(f),
        Ok(Err(FeedFault::Store(e))) => {
            tracing::error!(request_id = %id, error = %e, "avisering store failure");
            Err(Fault::Internal(id.to_string()))
        }
        Err(_) => Err(Fault::Internal(id.to_string())),
    }
}

/// What feed work can fail with: the caller's fault, or the store's.
enum FeedFault {
    Fault(Fault),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for FeedFault {
    fn from(e: crate::store::StoreError) -> Self {
        FeedFault::Store(e)
    }
}

impl From<Fault> for FeedFault {
    fn from(f: Fault) -> Self {
        FeedFault::Fault(f)
    }
}

/// `hamtaAvisering`: one page of one file of an order's delivery (avisering or urval);
/// asking for löpnummer N acknowledges every delivery before it. The store work runs off the
/// async workers.
#[allow(clippy::too_many_arguments)]
async fn hamta_avisering(
    state: &AppState,
    org: &crate::register::Organisation,
    order_id: &str,
    lopnummer: u64,
    fil_b: bool,
    sida: u64,
    trail: &mut Trail,
    id: RequestId,
) -> Result<Vec<u8>, Fault> {
    use crate::avisering::select::Fil;
    let order = delivery_order(org, order_id)?;
    if fil_b && !order.split() {
        return Err(Fault::BadRequest(
            "this order has no file B (it chose no fewer terms for protected persons)".into(),
        ));
    }
    let posttyp = order.posttyp();
    let page_size = u64::from(state.config.avisering_page_size);
    let order_id = order_id.to_owned();
    let now = state.clock.now();
    let page = on_feed(state, id, move |feed| {
        let Some(cursor) = feed.cursor(&order_id)? else {
            return Ok(None);
        };
        feed.acknowledge(&order_id, lopnummer - 1, now)?;
        if lopnummer >= cursor.next_lopnummer {
            return Ok(None);
        }
        let header = feed
            .header(&order_id, lopnummer)?
            .ok_or(Fault::DeliveryRemoved(lopnummer))?;
        let fil = if fil_b { Fil::B } else { Fil::A };
        let antal = header.antal[usize::from(fil_b)];
        let sidor = antal.div_ceil(page_size).max(1);
        if sida > sidor {
            return Err(Fault::BadRequest(format!(
                "Sida {sida}: file {} of delivery {lopnummer} has {sidor} page(s)",
                if fil_b { "B" } else { "A" }
            ))
            .into());
        }
        let records = feed.records(&order_id, lopnummer, fil, (sida - 1) * page_size, page_size)?;
        let meta = feed.urval_meta(&order_id, lopnummer)?;
        Ok(Some((header, sidor, records, meta)))
    })
    .await?;
    let Some((header, sidor, records, meta)) = page else {
        return Ok(soap::response::avisering(None, &[]));
    };
    trail.returned = records.iter().map(|(p, _)| p.as_str().to_owned()).collect();
    let urval = meta.map(|m| soap::response::UrvalInfo {
        typ: m.typ.name(),
        slumpfro: m.slumpfro,
        undergrupper: m.undergrupper,
        ej_funna: matches!(m.typ, UrvalTyp::Infil | UrvalTyp::SvarDirekt).then_some(m.ej_funna),
    });
    let info = soap::response::AviseringPage {
        lopnummer,
        posttyp,
        fil: if fil_b { "B" } else { "A" },
        skapad: header
            .skapad
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        antal: header.antal,
        antal_sidor: sidor,
        sida,
        urval,
    };
    let bodies: Vec<&[u8]> = records.iter().map(|(_, r)| r.as_ref()).collect();
    Ok(soap::response::avisering(Some(&info), &bodies))
}

/// One `lamnaInfil` page.
struct InfilPage {
    sida: u64,
    antal_sidor: u64,
    personer: Vec<crate::ids::pnr::Pnr>,
    svar_direkt: bool,
}

/// `lamnaInfil`: one page of an infil order's new population. The last page puts the whole
/// infil in force at once (avisering, and urval run at night), or, for an order answered
/// directly (`svar_direkt`), runs the urval at once: the answer names its delivery.
async fn lamna_infil(
    state: &AppState,
    org: &Arc<crate::register::Organisation>,
    order_id: &str,
    page: InfilPage,
    id: RequestId,
) -> Result<Vec<u8>, Fault> {
    use crate::avisering::feed::Staged;
    use crate::register::urval_orders::Infilrutin;
    let order = delivery_order(org, order_id)?;
    if !order.takes_infil() {
        return Err(Fault::BadRequest(format!(
            "order {order_id} takes its population from sökbegrepp, not from an infil"
        )));
    }
    let rutin = match order {
        OrderRef::Urval(u) => u.infilrutin(),
        OrderRef::Avisering(_) => None,
    };
    if page.svar_direkt && rutin != Some(Infilrutin::SvarDirekt) {
        return Err(Fault::BadRequest(format!(
            "order {order_id} is not answered directly (SvarDirekt): its infil is used at the nightly run"
        )));
    }
    let order_id = order_id.to_owned();
    let org = org.clone();
    let store = state.store.clone();
    let now = state.clock.now();
    let InfilPage {
        sida,
        antal_sidor,
        personer,
        ..
    } = page;
    on_feed(state, id, move |feed| {
        if feed.cursor(&order_id)?.is_none() {
            return Err(Fault::BadRequest(format!(
                "order {order_id} is not active yet (it is taken up when the register is next reloaded)"
            ))
            .into());
        }
        if rutin == Some(Infilrutin::Enstaka) && feed.urval_state(&order_id)?.runs > 0 {
            return Err(Fault::BadRequest(format!(
                "order {order_id} (infil = enstaka) has run; a new run needs a new order (bilaga 1 a)"
            ))
            .into());
        }
        let pnrs = match feed.stage_pages(&order_id, sida, antal_sidor, &personer)? {
            Staged::Receiving { pages, of } => {
                return Ok(soap::response::lamna_infil(pages, of, None, None))
            }
            Staged::Complete(pnrs) => pnrs,
        };
        let n = pnrs.len() as u64;
        let Some(OrderRef::Urval(order)) = OrderRef::find(&org, &order_id)
            .filter(|_| rutin == Some(Infilrutin::SvarDirekt))
        else {
            let n = feed.replace_infil(&order_id, pnrs)?;
            tracing::info!(request_id = %id, persons = n, "infil replaced");
            return Ok(soap::response::lamna_infil(antal_sidor, antal_sidor, Some(n), None));
        };
        let produced = feed.svar_direkt(&store, &org, order, &pnrs, now)?;
        tracing::info!(request_id = %id, persons = n, lopnummer = produced.lopnummer, "infil answered directly");
        Ok(soap::response::lamna_infil(
            antal_sidor,
            antal_sidor,
            Some(n),
            Some(produced.lopnummer),
        ))
    })
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

/// Reads the body within `limit` bytes and `timeout`; a declared or actual larger body is
/// refused with 413 before it is read.
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

/// A short random id that ties an internal-error fault to its log line.
/// A random id per request: in the audit line, in the fault text of an internal error and in
/// the log lines about the request, so they can be joined without personal data in the log.
#[derive(Debug, Clone, Copy)]
struct RequestId(u64);

impl RequestId {
    fn new() -> RequestId {
        use rand::Rng;
        RequestId(rand::thread_rng().gen())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_v2_and_v4_only() {
        assert_eq!(
            Service::from_path("/na/na_epersondata/V2/personpostXML"),
            Some(Service::Personpost)
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V4/namnsokningXML"),
            Some(Service::Namnsokning)
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V2/personpost"),
            None,
            "termdata variant not served"
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V3/personpostXML"),
            None
        );
        assert_eq!(Service::from_path("/"), None);
    }
}
