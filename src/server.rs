//! `folkreg serve`: builds the shared state once, starts the SOAP and admin listeners, and
//! shuts down gracefully on SIGTERM/SIGINT.
//!
//! On an empty data directory it first loads the built-in demo population through the one
//! load path, so the README's single command gives a working service.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::audit::{AuditLog, AuditOptions};
use crate::avisering::feed::Feed;
use crate::config::Config;
use crate::load::job::Job;
use crate::metrics::Metrics;
use crate::register::{Organisation, Register};
use crate::schedule::{Clock, SystemClock, Windows};
use crate::soap::Fault;
use crate::store::Store;
use crate::tls::{PeerIdentity, TlsState};

/// Persons in the built-in demo population: enough for realistic searches and every record
/// kind, small enough to generate and load in a few seconds on first start.
pub const DEMO_PERSONS: usize = 12_000;
/// Seed of the demo population (the same data on every machine).
pub const DEMO_SEED: u64 = 20261123;
/// The demo population's "today", fixed so the data is the same whenever it is made.
pub const DEMO_TODAY: (i32, u32, u32) = (2026, 11, 1);

/// Everything a request needs, built once and shared.
pub struct AppState {
    /// The configuration.
    pub config: Config,
    /// The store.
    pub store: Arc<Store>,
    /// TLS configuration, swappable on reload.
    pub tls: TlsState,
    /// The organisation register, swappable on reload.
    pub register: ArcSwap<Register>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Where "now" comes from (tests set it).
    pub clock: Arc<dyn Clock>,
    /// The maintenance windows (DOMAIN.md §6); `[maintenance]` is re-read on reload, so an
    /// operator announces a planned outage without a restart.
    pub windows: ArcSwap<Windows>,
    /// The audit log: one durable line per answered SOAP request.
    pub audit: AuditLog,
    /// The daily load job.
    pub loads: Job,
    /// The avisering deliveries (trees of the store's database), shared with blocking tasks.
    pub feed: Arc<Feed>,
}

impl AppState {
    /// The register entry permitting this certificate, or the FR1301 fault saying why not.
    pub fn authorize(&self, peer: &PeerIdentity) -> Result<Arc<Organisation>, Fault> {
        let Some(orgnr) = peer.orgnr.as_ref() else {
            return Err(Fault::NotPermitted(
                "the certificate carries no organisationsnummer".into(),
            ));
        };
        let register = self.register.load();
        match register.authorize(orgnr, &peer.fingerprint, self.clock.now()) {
            Ok(org) => Ok(org.clone()),
            Err(denied) => {
                tracing::info!(org = %orgnr, reason = %denied, "certificate refused by the register");
                Err(Fault::NotPermitted(denied.to_string()))
            }
        }
    }

    /// Re-reads the TLS files, CRLs and the register (`SIGHUP`, `POST /reload`). A file that
    /// cannot be used is refused and the previous one stays in force; new handshakes use the
    /// new TLS configuration, open connections carry on.
    pub fn reload(&self) -> Result<(), String> {
        // All or nothing: every kind of file is read and checked before any is put in force,
        // so a refused reload leaves exactly what was there.
        let tls = self
            .tls
            .prepare(&self.config.tls)
            .map_err(|e| format!("TLS: {e}"));
        let register = Register::load(&self.config.register).map_err(|e| format!("register: {e}"));
        let windows = self.reread_windows();
        match (tls, register, windows) {
            (Ok(tls), Ok(register), Ok(windows)) => {
                self.tls.install(tls);
                self.register.store(Arc::new(register));
                if let Some(w) = windows {
                    self.windows.store(Arc::new(w));
                }
                self.metrics.reloaded(true);
                tracing::info!("reloaded TLS files, CRLs, the register and [maintenance]");
                // New avisering orders start here, not at the next load.
                self.produce(&self.store);
                self.warn_expiring();
                Ok(())
            }
            (a, b, c) => {
                let why: Vec<String> = [a.err(), b.err(), c.err()].into_iter().flatten().collect();
                let why = why.join("; ");
                self.metrics.reloaded(false);
                tracing::warn!(error = %why, "reload refused; the previous files stay in force");
                Err(why)
            }
        }
    }

    /// The `[maintenance]` windows of the config file as it is now (None without a file).
    /// Other changed keys are only logged: they take effect at the next start.
    fn reread_windows(&self) -> Result<Option<Windows>, String> {
        let Some(path) = &self.config.source else {
            return Ok(None);
        };
        let now = Config::from_file(path).map_err(|e| format!("config: {e}"))?;
        let windows = Windows::from_config(&now.maintenance)
            .map_err(|e| format!("config: {}: [maintenance]: {e}", path.display()))?;
        let others_changed = Config {
            maintenance: self.config.maintenance.clone(),
            ..now
        } != self.config;
        if others_changed {
            tracing::warn!(
                config = %path.display(),
                "config changes other than [maintenance] take effect at the next restart"
            );
        }
        Ok(Some(windows))
    }

    /// Produces the avisering deliveries the applied loads call for.
    pub fn produce(&self, store: &Store) {
        self.feed.produce_logged(
            store,
            &self.register.load(),
            self.clock.now(),
            self.config.avisering_keep_days,
        );
    }

    /// Where every avisering order stands (empty if the feed cannot be read now).
    pub fn avisering_summary(&self) -> Vec<crate::avisering::feed::OrderSummary> {
        self.feed
            .summary(&self.register.load())
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the avisering feed");
                Vec::new()
            })
    }

    /// One nightly run (blocking): the load job, each applied delivery followed by the
    /// avisering production; then the urval orders that are due, over the data as loaded;
    /// then the state file `folkreg status` reads.
    pub fn run_load_job(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Arc<crate::load::job::JobState> {
        let ran = self
            .loads
            .run_now(&self.store, now, &mut |store| self.produce(store));
        self.feed.run_urval_logged(
            &self.store,
            &self.register.load(),
            now,
            self.config.avisering_keep_days,
        );
        self.record_state();
        ran
    }

    /// Records the store and the orders in the state file `folkreg status` reads.
    pub fn record_state(&self) {
        self.loads
            .record_store(&self.store, self.avisering_summary(), self.clock.now());
    }

    /// Logs a warning for each certificate or CRL expiring within `[tls]
    /// expiry_warning_days`.
    pub fn warn_expiring(&self) -> usize {
        let list = crate::expiry::list(&self.tls.expiry(), &self.register.load(), self.clock.now());
        crate::expiry::warn(&list, self.config.expiry_warning_days)
    }

    /// The maintenance fault if a window is open now, with `Retry-After` to its end.
    pub fn maintenance_fault(&self) -> Option<Fault> {
        let now = self.clock.now();
        self.windows
            .load()
            .open_at(now)
            .map(|w| Fault::Maintenance {
                retry_after: crate::schedule::retry_after(now, w.to),
                reason: w.reason,
            })
    }
}

/// Errors that stop `serve` from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store cannot be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// Where.
        path: PathBuf,
        /// Why.
        source: crate::store::StoreError,
    },
    /// The demo data could not be made or loaded.
    #[error("cannot load the demo population: {0}")]
    Demo(String),
    /// Start-up itself failed (the task building the state panicked).
    #[error("start-up failed: {0}")]
    Start(String),
    /// TLS files are unusable.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The register is unusable.
    #[error("register: {0}")]
    Register(#[from] crate::register::RegisterError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The audit log cannot be opened.
    #[error("audit log: {0}")]
    Audit(String),
    /// The load job's state cannot be read.
    #[error("load job: {0}")]
    Load(#[from] crate::load::job::JobError),
    /// The maintenance windows are unusable.
    #[error("maintenance windows: {0}")]
    Schedule(String),
    /// Other I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Opens the store (loading the demo population into an empty one) and builds the state.
pub fn build_state(config: Config) -> Result<Arc<AppState>, ServeError> {
    build_state_with(config, Arc::new(SystemClock))
}

/// [`build_state`] with a clock of the caller's choosing.
pub fn build_state_with(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<AppState>, ServeError> {
    let windows = Windows::from_config(&config.maintenance)
        .map_err(|e| ServeError::Schedule(e.to_string()))?;
    let store_dir = config.store_dir();
    std::fs::create_dir_all(&store_dir)?;
    let store =
        Store::open(&store_dir, config.cache_bytes).map_err(|source| ServeError::Store {
            path: store_dir.clone(),
            source,
        })?;
    let loads = Job::new(&config)?;
    // Deliveries waiting in the inbox are the operator's data: the job loads them once the
    // listeners are up. Only a store with nothing to load gets the demo population, and only
    // where the configuration allows it.
    if !store.snapshot().has_data() {
        if !config.load.demo {
            tracing::warn!(inbox = %loads.inbox().display(), "empty store and `[load] demo = false`: no data until a FULL delivery is loaded");
        } else if crate::load::job::waiting(loads.inbox())?.is_empty() {
            load_demo(&config, &store)?;
        }
    }
    let tls = TlsState::new(&config.tls)?;
    let register = Register::load(&config.register)?;
    let audit = AuditLog::open(
        AuditOptions::new(&config.audit_dir).max_bytes(config.audit_max_bytes),
        clock.clone(),
    )
    .map_err(|e| ServeError::Audit(e.to_string()))?;
    let feed = Arc::new(Feed::open(&store).map_err(|source| ServeError::Store {
        path: store_dir.clone(),
        source,
    })?);
    Ok(Arc::new(AppState {
        config,
        store: Arc::new(store),
        tls,
        register: ArcSwap::from_pointee(register),
        metrics: Metrics::new(),
        clock,
        windows: ArcSwap::from_pointee(windows),
        audit,
        loads,
        feed,
    }))
}

/// The demo population is made by the generator, which is dev tooling (feature `dev-tools`).
#[cfg(feature = "dev-tools")]
fn load_demo(config: &Config, store: &Store) -> Result<(), ServeError> {
    let (y, m, d) = DEMO_TODAY;
    let today = chrono::NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| ServeError::Demo("bad demo date".into()))?;
    let dir = config.data_dir.join("demo");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("leverans-demo-FULL.xml.gz");
    tracing::info!(
        persons = DEMO_PERSONS,
        "empty store: generating and loading the demo population"
    );
    crate::dev::generate::write_full(DEMO_PERSONS, DEMO_SEED, today, Some(&file))
        .map_err(|e| ServeError::Demo(e.to_string()))?;
    crate::load::load_file(store, &file, false).map_err(|e| ServeError::Demo(e.to_string()))?;
    Ok(())
}

/// Without the generator there is no demo population: an empty store stays empty, as with
/// `[load] demo = false`.
#[cfg(not(feature = "dev-tools"))]
fn load_demo(config: &Config, _store: &Store) -> Result<(), ServeError> {
    tracing::warn!(inbox = %config.load.inbox.display(), "empty store and no demo population in this build (feature `dev-tools`): no data until a FULL delivery is loaded");
    Ok(())
}

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
    pub async fn bind(config: &Config) -> Result<Listeners, ServeError> {
        let bind = |addr: std::net::SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })
        };
        Ok(Listeners {
            soap: bind(config.soap_listen).await?,
            admin: bind(config.admin_listen).await?,
        })
    }
}

/// Runs the service until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let state = tokio::task::spawn_blocking(move || build_state(config))
        .await
        .map_err(|e| ServeError::Start(e.to_string()))??;
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
) -> Result<(), ServeError> {
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
    state.store.flush().map_err(|source| ServeError::Store {
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
        // Wake at least every minute: the clock may jump (suspend, NTP step, faketime).
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait.min(std::time::Duration::from_secs(60))).await;
    }
}

/// The expiry warnings at start and then once a day.
async fn warn_expiring_daily(state: Arc<AppState>) {
    loop {
        state.warn_expiring();
        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
    }
}

/// Runs the load job now, off the async workers (`POST /load`).
pub async fn load_now(state: Arc<AppState>) -> Arc<crate::load::job::JobState> {
    let s = state.clone();
    match tokio::task::spawn_blocking(move || s.run_load_job(s.clock.now())).await {
        Ok(st) => st,
        Err(_) => state.loads.state(),
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
