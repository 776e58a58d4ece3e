//! The upper bound: a minimal hyper + rustls server with folkreg's own TLS configuration (same
//! certificates, client verifier, suites) that answers every POST with one fixed, pre-rendered
//! personpostXML answer. What it cannot beat, folkreg cannot either: the gap between the two is
//! what folkreg's own work (parse, authorise, store, render) costs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use folkreg::access::Access;
use folkreg::config::TlsFiles;
use folkreg::model::Identitetstyp;
use folkreg::soap::response::{answer, Answer};
use folkreg::tls::HandshakeFailures;

/// A typical personpostXML answer: the record of median rendered size among the first
/// ordinary persons of the population.
pub fn typical_answer(persons: usize, seed: u64, today: NaiveDate, access: &Access) -> Bytes {
    let population = folkreg::dev::generate::population(persons.min(20_000), seed, today);
    let mut rendered: Vec<Vec<u8>> = population
        .iter()
        .filter(|p| p.personpost.identitetstyp == Identitetstyp::Personnummer && !p.is_protected())
        .take(2_000)
        .filter_map(|p| access.view(p.clone()))
        .map(|v| answer(Answer::Personpost, &[v]))
        .collect();
    rendered.sort_by_key(Vec::len);
    let mid = rendered.len() / 2;
    Bytes::from(rendered.swap_remove(mid))
}

/// Serves the fixed answer until the process is killed.
pub async fn serve(listen: SocketAddr, tls: &TlsFiles, body: Bytes) -> Result<(), String> {
    let failures = Arc::new(HandshakeFailures::default());
    let config = folkreg::tls::server_config(tls, &failures, chrono::Utc::now())
        .map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "bound serving on {} ({} byte answer)",
        listener.local_addr().map_err(|e| e.to_string())?,
        body.len()
    );
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    // Read the request like folkreg does, so both pay for the upload.
                    let _ = req.into_body().collect().await;
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/xml; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
