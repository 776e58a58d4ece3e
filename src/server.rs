//! The server's lifecycle: `folkreg serve` builds the state once ([`crate::app`]), binds the
//! listeners and runs [`run`] until SIGTERM/SIGINT; the integration tests run the same
//! [`run`] on ephemeral ports. Starts the SOAP and admin listeners and the background tasks
//! (daily load job, expiry warnings, file watch, `SIGHUP`), and drains on shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{build_state, AppState, Seed, StartError};
use crate::config::Config;

/// The two listening sockets, bound by the caller: `serve` binds the configured addresses,
/// tests bind `127.0.0.1:0` (mini-redis's `start_server`).
pub struct Listeners {
    /// The SOAP listener (mutual TLS).
    pub soap: TcpListener,
    /// The admin listener (plain HTTP, loopback by default).
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the configured SOAP and admin addresses.
    pub async fn bind(config: &Config) -> Result<Listeners, StartError> {
        let bind = |addr: std::net::SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        Ok(Listeners {
            soap: bind(config.soap_listen).await?,
            admin: bind(config.admin_listen).await?,
        })
    }
}

/// Runs the service until SIGTERM or SIGINT; an empty store gets its first data from `seed`.
pub async fn serve(config: Config, seed: Option<Seed>) -> Result<(), StartError> {
    let state = tokio::task::spawn_blocking(move || build_state(config, seed)).await??;
    let listeners = Listeners::bind(&state.config).await?;
    run(listeners, state, shutdown_signal()).await
}

/// Serves on `listeners` until `shutdown` completes, then drains: the one server loop, run by
/// `folkreg serve` and by the integration tests alike. Starts the SOAP and admin listeners,
/// the daily load job, the expiry warnings, the file watch and `SIGHUP` reloads.
pub async fn run(
    listeners: Listeners,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let Listeners {
        soap: listener,
        admin,
    } = listeners;
    let (tx, rx) = watch::channel(false);
    let info = state.store.info();
    tracing::info!(
        soap = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        admin = %admin.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        generation = info.generation,
        records = info.records,
        lopnummer = info.lopnummer.unwrap_or(0),
        "folkreg serving"
    );
    let admin = tokio::spawn(crate::admin::run(admin, state.clone(), rx.clone()));
    let server = tokio::spawn(crate::http::run(listener, state.clone(), rx));
    let hup = tokio::spawn(reload_on_sighup(state.clone()));
    let loads = tokio::spawn(daily_loads(state.clone()));
    let expiry = tokio::spawn(warn_expiring_daily(state.clone()));
    let watch = state
        .config
        .watch_interval
        .map(|every| tokio::spawn(crate::watch::reload_on_change(state.clone(), every)));
    shutdown.await;
    hup.abort();
    // A run under way is blocking work that finishes on its own (each file is atomic);
    // aborting only stops waiting for the next one.
    loads.abort();
    expiry.abort();
    if let Some(w) = watch {
        w.abort();
    }
    tracing::info!("shutting down: no new connections; draining open ones");
    let _ = tx.send(true);
    let _ = server.await;
    let _ = admin.await;
    state.store.flush().map_err(|source| StartError::Store {
        path: state.config.store_dir(),
        source,
    })?;
    // Every answered request's line is already synced; this stops the writer cleanly.
    match Arc::try_unwrap(state) {
        Ok(s) => {
            if let Err(e) = s.audit.shutdown().await {
                tracing::warn!(error = %e, "audit log did not close cleanly");
            }
        }
        Err(_) => tracing::warn!(
            "connections still open after the drain deadline; the audit log closes on exit"
        ),
    }
    Ok(())
}

/// Runs the load job at `[load] daily_at` every day, and once at start if a run was missed.
async fn daily_loads(state: Arc<AppState>) {
    {
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = state.clock.now();
            // New orders are enrolled, and deliveries a crash left unproduced are made.
            state.produce(&state.store);
            state.record_state();
            if state.loads.missed(now) {
                tracing::info!("load job: the last scheduled run was missed; running now");
                state.run_load_job(now);
            }
        })
        .await;
    }
    let mut next = state.loads.next_run(state.clock.now());
    tracing::info!(next = %next.with_timezone(&chrono_tz::Europe::Stockholm), "load job scheduled");
    loop {
        let now = state.clock.now();
        if now >= next {
            let s = state.clone();
            let _ = tokio::task::spawn_blocking(move || s.run_load_job(now)).await;
            next = state.loads.next_run(state.clock.now());
            tracing::info!(next = %next.with_timezone(&chrono_tz::Europe::Stockholm), "load job scheduled");
        }
        // The clock decides how long: the system clock wakes at least every minute (the
        // wall clock may jump), a test's clock when the test moves it.
        state.clock.sleep_until(next).await;
    }
}

/// The expiry warnings at start and then once a day.
async fn warn_expiring_daily(state: Arc<AppState>) {
    loop {
        state.warn_expiring();
        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
    }
}

/// `SIGHUP` re-reads the TLS files, CRLs and the register.
async fn reload_on_sighup(state: Arc<AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; use POST /reload on the admin listener");
        return;
    };
    while hup.recv().await.is_some() {
        let _ = state.reload();
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
