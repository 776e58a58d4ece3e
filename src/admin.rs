//! The admin listener (CONTRACT.md): plain HTTP, loopback by default, for probes, Prometheus
//! and operators. `GET /healthz`, `GET /livez`, `GET /readyz`, `GET /metrics`, `POST /reload`, and
//! `POST /load` (run the load job over the inbox now; answers its state as JSON).
//!
//! Must never: serve personal data. Nothing here reads a record.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::AppState;
use crate::load::job::Outcome;

/// Time a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the admin endpoints until `shutdown` turns true.
pub async fn run(listener: TcpListener, state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&req, state).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
        });
    }
}

/// The liveness answer: `ok`, or why SOAP clients are turned away now.
pub fn health(state: &AppState) -> (StatusCode, &'static str) {
    if state.windows.load().open_at(state.clock.now()).is_some() {
        (StatusCode::SERVICE_UNAVAILABLE, "maintenance\n")
    } else if !state.store.snapshot().has_data() {
        (StatusCode::SERVICE_UNAVAILABLE, "no data\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn handle(req: &Request<Incoming>, state: Arc<AppState>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => {
            let (status, text) = health(&state);
            text_response(status, text.into())
        }
        // The process answers: for a liveness probe, which must not restart a replica that is
        // in a maintenance window or still waiting for its first delivery.
        (&Method::GET, "/livez") => text_response(StatusCode::OK, "alive\n".into()),
        (&Method::GET, "/readyz") => {
            if !state.store.snapshot().has_data() {
                text_response(StatusCode::SERVICE_UNAVAILABLE, "no data\n".into())
            } else if let Some(why) = state.stale_data(state.clock.now()) {
                text_response(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
            } else {
                text_response(StatusCode::OK, "ready\n".into())
            }
        }
        (&Method::GET, "/metrics") => {
            let mut r = text_response(StatusCode::OK, state.metrics_text());
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        (&Method::POST, "/reload") => match state.reload() {
            Ok(()) => text_response(StatusCode::OK, "reloaded\n".into()),
            Err(why) => text_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("refused, the previous files stay in force: {why}\n"),
            ),
        },
        (&Method::POST, "/load") => {
            let ran = state.load_now().await;
            let status = match ran.outcome {
                Outcome::Ok | Outcome::Nothing | Outcome::Never => StatusCode::OK,
                Outcome::Locked => StatusCode::CONFLICT,
                Outcome::Failed => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let mut body = serde_json::to_string_pretty(&*ran).unwrap_or_default();
            body.push('\n');
            let mut r = text_response(status, body);
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        (_, "/healthz" | "/livez" | "/readyz" | "/metrics" | "/reload" | "/load") => {
            text_response(StatusCode::METHOD_NOT_ALLOWED, "wrong method\n".into())
        }
        _ => text_response(
            StatusCode::NOT_FOUND,
            "GET /healthz, /livez, /readyz, /metrics; POST /reload, /load\n".into(),
        ),
    }
}

fn text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
