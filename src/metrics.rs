//! The service's metrics, registered once and named `folkreg_<thing>_<unit>`, rendered in the
//! Prometheus text format by the admin listener. Counters are updated on the request path;
//! gauges of state (store, maintenance, expiry, handshake refusals) are read when scraped.
//!
//! Must never: carry personal data in a label. Labels are operations, outcomes (fault codes),
//! reasons and certificate names — never identity numbers.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::avisering::feed::OrderSummary;
use crate::expiry::{Expiring, Owner};
use crate::load::job::{FileResult, JobState, Outcome};
use crate::store::StoreInfo;
use crate::tls::{FailureReason, ReloadRefusal};

/// The state gauges' values at one scrape, read by the application and handed in, so this
/// module knows nothing of where they come from.
#[derive(Debug)]
pub struct Snapshot {
    /// Whether a maintenance window is open now.
    pub maintenance_open: bool,
    /// The store's generation, records and löpnummer.
    pub store: StoreInfo,
    /// Client certificates refused at the handshake, by reason, since start.
    pub handshake_refused: Vec<(FailureReason, u64)>,
    /// What expires when (server certificate, CAs, CRLs, registered client certificates).
    pub expiry: Vec<Expiring>,
    /// The load job's last run.
    pub job: std::sync::Arc<JobState>,
    /// Where every avisering order stands.
    pub avisering: Vec<OrderSummary>,
    /// Audit lines written and fsyncs made since start.
    pub audit_lines: u64,
    /// Audit fsyncs made since start.
    pub audit_syncs: u64,
    /// Whether the served data is older than `[load] stale_after_hours` allows.
    pub data_stale: bool,
}

/// Labels of a request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    /// `ok`, `not_found`, or the fault's Felkod (`1101`, …).
    outcome: Cow<'static, str>,
}

/// Labels of a latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// One label: a reason, a certificate, a kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    name: String,
}

/// Labels of the handshake refusal series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    open_connections: Gauge,
    connections_shed: Family<ReasonLabel, Counter>,
    handshake_errors: Counter,
    handshake_refused: Family<ReasonLabel, Gauge>,
    maintenance: Gauge,
    store_generation: Gauge,
    store_records: Gauge,
    store_lopnummer: Gauge,
    expiry_days: Family<NameLabel, FloatGauge>,
    client_cert_expiry_days: Family<NameLabel, FloatGauge>,
    audit_lines: Gauge,
    audit_syncs: Gauge,
    data_created: FloatGauge,
    data_loaded: FloatGauge,
    data_stale: Gauge,
    load_refused_pending: Gauge,
    load_refused_sets_protection: Gauge,
    load_last_run: FloatGauge,
    load_last_ok: FloatGauge,
    load_outcome: Family<OutcomeLabel, Gauge>,
    load_files: Family<ResultLabel, Gauge>,
    reloads: Family<OutcomeLabel, Counter>,
    tls_reload_refused: Family<ReasonLabel, Counter>,
    avisering_produced: Family<NameLabel, Gauge>,
    avisering_acknowledged: Family<NameLabel, Gauge>,
    avisering_backlog: Family<NameLabel, Gauge>,
}

/// The outcome of a load run or a reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// What the last load run did with a file.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// Latency buckets: 100 µs doubling to ~3.3 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// A metric of its default kind, registered under `name` with its `help`.
fn metric<M: prometheus_client::registry::Metric + Clone + Default>(
    registry: &mut Registry,
    name: &str,
    help: &str,
) -> M {
    let m = M::default();
    registry.register(name, help, m.clone());
    m
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        // Field order is registration order, which is the exposition's order.
        Metrics {
            requests: metric(&mut r, "folkreg_requests", "SOAP requests answered, by operation and outcome (ok, not_found or the fault code)"),
            latency: {
                let latency = Family::<OperationLabels, Histogram>::new_with_constructor(
                    latency_buckets as fn() -> Histogram,
                );
                r.register(
                    "folkreg_request_duration_seconds",
                    "Time from request to answer (audit line durable), by operation",
                    latency.clone(),
                );
                latency
            },
            open_connections: metric(&mut r, "folkreg_open_connections", "TLS connections open now"),
            connections_shed: {
                let family: Family<ReasonLabel, Counter> = metric(&mut r, "folkreg_connections_shed", "Connections closed by the listener to protect it, by reason: per_source (over [soap] max_connections_per_source at accept), handshake_budget (the oldest handshake shed for a new one past [soap] max_handshaking), write_timeout (a client that did not read its answer)");
                for reason in ["per_source", "handshake_budget", "write_timeout"] {
                    let _ = family.get_or_create(&ReasonLabel { reason });
                }
                family
            },
            handshake_errors: metric(&mut r, "folkreg_handshake_errors", "TLS handshakes that failed or timed out, any reason"),
            handshake_refused: metric(&mut r, "folkreg_client_certificates_refused", "Client certificates refused at the handshake, by reason (since start)"),
            maintenance: metric(&mut r, "folkreg_maintenance", "1 while a maintenance window is open (SOAP answers fault 1501), else 0"),
            store_generation: metric(&mut r, "folkreg_store_generation", "The store generation being served"),
            store_records: metric(&mut r, "folkreg_store_records", "Records in the served generation"),
            store_lopnummer: metric(&mut r, "folkreg_store_lopnummer", "Löpnummer of the last delivery applied"),
            expiry_days: metric(&mut r, "folkreg_tls_expiry_days", "Days until the server certificate, each CA (notAfter) and each CRL (nextUpdate) expire"),
            client_cert_expiry_days: metric(&mut r, "folkreg_client_certificate_expiry_days", "Days until each registered client certificate expires (as recorded by add-cert)"),
            audit_lines: metric(&mut r, "folkreg_audit_lines", "Audit lines written and synced since start"),
            audit_syncs: metric(&mut r, "folkreg_audit_syncs", "Audit fsyncs since start (each covers one batch of lines)"),
            data_created: metric(&mut r, "folkreg_data_created_timestamp_seconds", "Skapad of the last delivery applied: how old the served data is at its source (Unix time; 0 = none)"),
            data_loaded: metric(&mut r, "folkreg_data_loaded_timestamp_seconds", "When the last delivery was applied — not when the job last ran (Unix time; 0 = none)"),
            data_stale: metric(&mut r, "folkreg_data_stale", "1 while the last delivery was applied longer ago than [load] stale_after_hours (/readyz then fails), else 0"),
            load_refused_pending: metric(&mut r, "folkreg_load_refused_pending", "1 from a refused delivery until a delivery is applied (an empty run does not clear it), else 0"),
            load_refused_sets_protection: metric(&mut r, "folkreg_load_refused_sets_protection", "Records of the pending refused delivery that would have set a protection on a person served unprotected (a count only)"),
            load_last_run: metric(&mut r, "folkreg_load_last_run_timestamp_seconds", "When the load job last ran (Unix time; 0 = never)"),
            load_last_ok: metric(&mut r, "folkreg_load_last_success_timestamp_seconds", "When a load job run last ended without failure (Unix time; 0 = never)"),
            load_outcome: metric(&mut r, "folkreg_load_last_outcome", "1 for the outcome of the last load run (never, nothing, ok, failed, locked), 0 for the others"),
            load_files: metric(&mut r, "folkreg_load_last_run_files", "Delivery files the last load run handled, by result (applied, already_applied, rejected, kept)"),
            reloads: metric(&mut r, "folkreg_reloads", "Reloads of the TLS files, CRLs and register (SIGHUP, POST /reload, file change), by outcome (ok, refused)"),
            tls_reload_refused: {
                let family: Family<ReasonLabel, Counter> = metric(&mut r, "folkreg_tls_reload_refused", "Reloads refused for their TLS files, by reason (crl_expired, crl_older, crl_missing, other); the previous files stay in force");
                // Every reason shows from the start, at 0, so an alert on an increase works.
                for reason in ReloadRefusal::ALL {
                    let _ = family.get_or_create(&ReasonLabel { reason: reason.as_str() });
                }
                family
            },
            avisering_produced: metric(&mut r, "folkreg_avisering_produced_lopnummer", "The last avisering delivery produced, by order (BestallningsId)"),
            avisering_acknowledged: metric(&mut r, "folkreg_avisering_acknowledged_lopnummer", "The last avisering delivery the receiver acknowledged, by order"),
            avisering_backlog: metric(&mut r, "folkreg_avisering_backlog", "Avisering deliveries produced and not yet acknowledged, by order"),
            registry: r,
        }
    }

    /// A connection was accepted.
    pub fn connection_opened(&self) {
        self.open_connections.inc();
    }

    /// The listener closed a connection to protect itself (`per_source`, `handshake_budget`,
    /// `write_timeout`).
    pub fn connection_shed(&self, reason: &'static str) {
        self.connections_shed
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// A connection ended.
    pub fn connection_closed(&self) {
        self.open_connections.dec();
    }

    /// A handshake failed (the verifier counts certificate reasons itself).
    pub fn handshake_failed(&self, _e: &std::io::Error) {
        self.handshake_errors.inc();
    }

    /// A handshake timed out.
    pub fn handshake_timed_out(&self) {
        self.handshake_errors.inc();
    }

    /// A SOAP request was answered.
    pub fn request(&self, operation: &'static str, outcome: Cow<'static, str>, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
    }

    /// A reload was done (`ok`) or refused (`refused`).
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "refused" };
        self.reloads.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A reload was refused for its TLS files, for this reason.
    pub fn tls_reload_refused(&self, reason: ReloadRefusal) {
        self.tls_reload_refused
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// The Prometheus text exposition, with the state gauges of `now`.
    pub fn render(&self, now: Snapshot) -> String {
        self.maintenance.set(i64::from(now.maintenance_open));
        let info = &now.store;
        self.store_generation.set(saturating(info.generation));
        self.store_records.set(saturating(info.records));
        self.store_lopnummer
            .set(saturating(info.lopnummer.unwrap_or(0)));
        for (reason, n) in now.handshake_refused {
            self.handshake_refused
                .get_or_create(&ReasonLabel {
                    reason: reason.as_str(),
                })
                .set(saturating(n));
        }
        for e in now.expiry {
            let family = match e.owner {
                Owner::Server => &self.expiry_days,
                Owner::Client => &self.client_cert_expiry_days,
            };
            family
                .get_or_create(&NameLabel { name: e.name })
                .set(e.days);
        }
        let job = &now.job;
        let unix = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0)
        };
        let instant = |t: Option<&str>| unix(t.and_then(|t| crate::clock::parse_instant(t).ok()));
        self.data_created.set(instant(now.store.skapad.as_deref()));
        self.data_loaded
            .set(instant(now.store.loaded_at.as_deref()));
        self.data_stale.set(i64::from(now.data_stale));
        self.load_refused_pending
            .set(i64::from(job.pending_refusal.is_some()));
        self.load_refused_sets_protection.set(saturating(
            job.pending_refusal
                .as_ref()
                .map_or(0, |p| p.sets_protection),
        ));
        self.load_last_run.set(unix(job.last_run));
        self.load_last_ok.set(unix(job.last_ok));
        for outcome in Outcome::ALL {
            self.load_outcome
                .get_or_create(&OutcomeLabel {
                    outcome: outcome.as_str(),
                })
                .set(i64::from(outcome == job.outcome));
        }
        for result in FileResult::ALL {
            let n = job.files.iter().filter(|h| h.result == result).count();
            self.load_files
                .get_or_create(&ResultLabel {
                    result: result.as_str().to_owned(),
                })
                .set(saturating(n as u64));
        }
        for o in now.avisering {
            let name = NameLabel {
                name: o.order.clone(),
            };
            self.avisering_produced
                .get_or_create(&name)
                .set(saturating(o.produced));
            self.avisering_acknowledged
                .get_or_create(&name)
                .set(saturating(o.acknowledged));
            self.avisering_backlog
                .get_or_create(&name)
                .set(saturating(o.backlog()));
        }
        self.audit_lines.set(saturating(now.audit_lines));
        self.audit_syncs.set(saturating(now.audit_syncs));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn saturating(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
