//! The application: the state every request and every background task shares, built once
//! ([`build_state`]), and the decisions made on it — who may call ([`AppState::authorize`]),
//! whether the service is closed ([`AppState::maintenance_fault`]), reloading the TLS files,
//! the register and the windows all or nothing ([`AppState::reload`]), and the nightly run
//! (loads → avisering production → urval).
//!
//! Listeners (`http`, `admin`, `watch`) and `server` sit above this floor and take an
//! `Arc<AppState>`; nothing here imports them. Must never: serve a request itself.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::audit::{AuditLog, AuditOptions};
use crate::avisering::feed::Feed;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::load::job::Job;
use crate::metrics::Metrics;
use crate::register::{Organisation, Register};
use crate::schedule::Windows;
use crate::soap::Fault;
use crate::store::Store;
use crate::tls::{PeerIdentity, TlsState};

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
    /// Held for the whole of a reload: one at a time (SIGHUP, `POST /reload` and the file
    /// watch may ask together), so each compares its CRLs with what is really in force.
    reloading: std::sync::Mutex<()>,
}

impl AppState {
    /// The register entry permitting this certificate, or fault 1301 saying why not.
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

    /// Re-reads the TLS files, CRLs, the register and `[maintenance]` (`SIGHUP`,
    /// `POST /reload`, the file watch). A file that cannot be used is refused and the
    /// previous files stay in force; new handshakes use the new TLS configuration, open
    /// connections carry on.
    pub fn reload(&self) -> Result<(), ReloadError> {
        // A poisoned lock only means an earlier reload panicked; what is in force is whole.
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        // All or nothing: every kind of file is read and checked before any is put in force,
        // so a refused reload leaves exactly what was there.
        let tls = self.tls.prepare(&self.config.tls, self.clock.now());
        let register = Register::load(&self.config.register);
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
            (tls, register, config) => {
                let error = ReloadError {
                    tls: tls.err().map(Box::new),
                    register: register.err().map(Box::new),
                    config: config.err().map(Box::new),
                };
                self.metrics.reloaded(false);
                let tls_reason = error.tls.as_ref().map(|e| e.refusal());
                if let Some(reason) = tls_reason {
                    self.metrics.tls_reload_refused(reason);
                }
                tracing::warn!(
                    error = %error,
                    tls_reason = tls_reason.map(|r| r.as_str()),
                    "reload refused; the previous files stay in force"
                );
                Err(error)
            }
        }
    }

    /// The `[maintenance]` windows of the config file as it is now (None without a file).
    /// Other changed keys are only logged: they take effect at the next start.
    fn reread_windows(&self) -> Result<Option<Windows>, crate::config::ConfigError> {
        let Some(path) = &self.config.source else {
            return Ok(None);
        };
        let now = Config::from_file(path)?;
        let windows = now.maintenance.clone();
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

    /// What the operations of request `id` work on, with "now" read once for the request.
    pub fn ops_context(
        &self,
        id: crate::ops::RequestId,
        version: crate::soap::service::Version,
    ) -> crate::ops::Context<'_> {
        crate::ops::Context {
            store: &self.store,
            feed: &self.feed,
            now: self.clock.now(),
            max_hits: self.config.max_hits,
            page_size: u64::from(self.config.avisering_page_size),
            request_id: id,
            version,
        }
    }

    /// The metrics in the Prometheus text format, with the state gauges read now.
    pub fn metrics_text(&self) -> String {
        let now = self.clock.now();
        let snapshot = crate::metrics::Snapshot {
            maintenance_open: self.windows.load().open_at(now).is_some(),
            store: self.store.info(),
            handshake_refused: self.tls.failures().snapshot(),
            expiry: crate::expiry::list(&self.tls.expiry(), &self.register.load(), now),
            job: self.loads.state(),
            avisering: self.avisering_summary(),
            audit_lines: self.audit.lines(),
            audit_syncs: self.audit.syncs(),
            data_stale: self.stale_data(now).is_some(),
        };
        self.metrics.render(snapshot)
    }

    /// Why the served data counts as stale at `now`, if it does: the last delivery was
    /// applied longer ago than `[load] stale_after_hours` (DOMAIN: deliveries are daily). An
    /// empty store is "no data", not stale; a store loaded by an earlier folkreg without a
    /// recorded load time is judged by nothing (not stale).
    pub fn stale_data(&self, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let limit = self.config.load.stale_after?;
        let info = self.store.info();
        let loaded = crate::clock::parse_instant(info.loaded_at.as_deref()?).ok()?;
        let age = now.signed_duration_since(loaded);
        (age > limit).then(|| {
            format!(
                "stale data: the last delivery was applied {} h ago (limit {} h)",
                age.num_hours(),
                limit.num_hours()
            )
        })
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

impl AppState {
    /// Runs the load job now, off the async workers (`POST /load`).
    pub async fn load_now(self: Arc<Self>) -> Arc<crate::load::job::JobState> {
        let s = self.clone();
        match tokio::task::spawn_blocking(move || s.run_load_job(s.clock.now())).await {
            Ok(st) => st,
            Err(_) => self.loads.state(),
        }
    }
}

/// What `folkreg status` shows, gathered without a running service: the store (or, while
/// `serve` holds it, what the service last recorded), the load job's last run, the inbox and
/// where each avisering order stands.
#[derive(Debug)]
pub struct StatusReport {
    /// The store's generation, records, löpnummer and load times.
    pub store: crate::store::StoreInfo,
    /// Bytes on disk and bytes of segment directories in memory (not while `serve` runs).
    pub size: Option<(u64, usize)>,
    /// Whether a running `folkreg serve` holds the store (the figures are as it recorded).
    pub held_by_serve: bool,
    /// The load job's state file, with the avisering orders as they stand now.
    pub job: crate::load::job::JobState,
    /// Delivery files waiting in the inbox.
    pub waiting: usize,
}

/// Why `folkreg status` could not gather its report.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The load job's state file or the inbox cannot be read.
    #[error("{0}")]
    Job(#[from] crate::load::job::JobError),
    /// The store cannot be opened or read.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// Where.
        path: PathBuf,
        /// Why.
        source: crate::store::StoreError,
    },
}

impl StatusReport {
    /// Reads the state file, then the store itself unless a running `serve` holds it.
    pub fn gather(config: &Config) -> Result<StatusReport, StatusError> {
        let mut job = crate::load::job::JobState::read(&config.data_dir)?;
        let dir = config.store_dir();
        let store_err = |source| StatusError::Store {
            path: dir.clone(),
            source,
        };
        let (store, size, held_by_serve) = match Store::open(&dir, config.cache_bytes) {
            Ok(store) => {
                // No serve running: the orders as the store and the register say now.
                if let Ok(register) = Register::load(&config.register) {
                    if let Ok(summary) = Feed::open(&store).and_then(|f| f.summary(&register)) {
                        job.avisering = summary;
                    }
                }
                let size = (
                    store.size_on_disk().map_err(store_err)?,
                    store.directory_bytes(),
                );
                (store.info(), Some(size), false)
            }
            Err(crate::store::StoreError::Locked(_)) => (job.store.clone(), None, true),
            Err(e) => return Err(store_err(e)),
        };
        let waiting = crate::load::job::waiting(&config.load.inbox)?.len();
        Ok(StatusReport {
            store,
            size,
            held_by_serve,
            job,
            waiting,
        })
    }
}

/// A refused reload: every file that could not be used, and why (the others were fine but
/// are not put in force either).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.reasons())]
pub struct ReloadError {
    /// The TLS files or CRLs.
    pub tls: Option<Box<crate::tls::TlsError>>,
    /// The register.
    pub register: Option<Box<crate::register::RegisterError>>,
    /// The config file (its `[maintenance]` is re-read).
    pub config: Option<Box<crate::config::ConfigError>>,
}

impl ReloadError {
    fn reasons(&self) -> String {
        let mut why = Vec::new();
        if let Some(e) = &self.tls {
            why.push(format!("TLS: {e}"));
        }
        if let Some(e) = &self.register {
            why.push(format!("register: {e}"));
        }
        if let Some(e) = &self.config {
            why.push(format!("config: {e}"));
        }
        why.join("; ")
    }
}

/// Errors that stop the service from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store cannot be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// Where.
        path: PathBuf,
        /// Why.
        source: crate::store::StoreError,
    },
    /// The first data of an empty store could not be made or loaded.
    #[error("cannot load the demo population: {0}")]
    Demo(Box<dyn std::error::Error + Send + Sync>),
    /// Start-up itself failed (the task building the state panicked).
    #[error("start-up failed: {0}")]
    Start(#[from] tokio::task::JoinError),
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
    Audit(#[from] crate::audit::AuditError),
    /// The load job's state cannot be read.
    #[error("load job: {0}")]
    Load(#[from] crate::load::job::JobError),
    /// Other I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Fills an empty store with its first data (the demo population of `folkreg serve`'s one
/// command, made by dev tooling the application does not know): given to [`build_state`] by
/// the command line, absent in tests and in a build without `dev-tools`.
pub type Seed = fn(&Config, &Store) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Opens the store (seeding an empty one with `seed`) and builds the state.
pub fn build_state(config: Config, seed: Option<Seed>) -> Result<Arc<AppState>, StartError> {
    build_state_with(config, Arc::new(SystemClock), seed)
}

/// [`build_state`] with a clock of the caller's choosing.
pub fn build_state_with(
    config: Config,
    clock: Arc<dyn Clock>,
    seed: Option<Seed>,
) -> Result<Arc<AppState>, StartError> {
    let windows = config.maintenance.clone();
    let store_dir = config.store_dir();
    std::fs::create_dir_all(&store_dir)?;
    let store =
        Store::open(&store_dir, config.cache_bytes).map_err(|source| StartError::Store {
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
            match seed {
                Some(seed) => seed(&config, &store).map_err(StartError::Demo)?,
                None => {
                    tracing::warn!(inbox = %loads.inbox().display(), "empty store and no demo population in this build (feature `dev-tools`): no data until a FULL delivery is loaded")
                }
            }
        }
    }
    let tls = TlsState::new(&config.tls, clock.now())?;
    let register = Register::load(&config.register)?;
    let audit = AuditLog::open(
        AuditOptions::new(&config.audit_dir).max_bytes(config.audit_max_bytes),
        clock.clone(),
    )?;
    let feed = Arc::new(Feed::open(&store).map_err(|source| StartError::Store {
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
        reloading: std::sync::Mutex::new(()),
    }))
}
