//! Typed configuration: the TOML file (CONTRACT.md, "Files"), its built-in defaults, and
//! validation that names the file, line and field of every mistake.
//!
//! Parsed once at the edge; the rest of folkreg sees only [`Config`] with absolute paths.
//! With no file, the defaults serve from the repository checkout (dev certificates,
//! `deploy/register.dev.toml`, data under `./data`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::schedule::{Daily, PlannedOutage, ScheduleError, Windows};

/// Default sled page cache: enough for the indexes' hot part of a million persons while
/// keeping resident memory well under the 512 MiB target.
pub const DEFAULT_CACHE_MB: u64 = 256;

/// Default hit limit of namnsökning (WIRE.md: at most 100 hits).
pub const DEFAULT_MAX_HITS: usize = 100;
/// The weekly maintenance window of Navet (DOMAIN.md §6), in Swedish local time.
pub const DEFAULT_WEEKLY_WINDOW: &str = "Mon 06:00-06:15";

/// Default most connections served at once: with HTTP/1 one request in flight per
/// connection, this bounds memory (a connection with its buffers is tens of KiB) and matches
/// the audit writer's queue capacity.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default time a client has to finish the TLS handshake: a real client needs milliseconds;
/// a slot held longer is someone holding it on purpose.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's headers, counted from when the connection
/// is ready for the next request: bounds slow senders (slowloris) and idle keep-alive alike.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's body once the headers are in: a Navet
/// request is under 2 KiB, an infil page under 1 MiB.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Default most connections one source address may hold at once: an organisation's clients
/// behind one NAT address keep tens of keep-alive connections; thousands from one address are
/// an attack on the listener.
pub const DEFAULT_MAX_PER_SOURCE: usize = 256;
/// Default most connections in their TLS handshake at once (not yet authenticated); past
/// it, the oldest is shed for the new one.
pub const DEFAULT_MAX_HANDSHAKING: usize = 512;
/// Default time one write of an answer may wait for the client to read: a client that never
/// reads its answers does not keep its connection.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole configuration, with every relative path made absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the config file was (None = built-in defaults).
    pub source: Option<PathBuf>,
    /// Data directory: the store, the load lock, the delivery archive.
    pub data_dir: PathBuf,
    /// sled page cache in bytes.
    pub cache_bytes: u64,
    /// SOAP listener.
    pub soap_listen: SocketAddr,
    /// Most hits a namnsökning returns before answering "too many".
    pub max_hits: usize,
    /// How many connections the SOAP listener serves at once, and how long it waits for them.
    pub connections: ConnectionLimits,
    /// Admin listener (plain HTTP).
    pub admin_listen: SocketAddr,
    /// TLS files.
    pub tls: TlsFiles,
    /// The organisation register.
    pub register: PathBuf,
    /// The daily load job.
    pub load: LoadConfig,
    /// Maintenance windows (`[maintenance]`), parsed.
    pub maintenance: Windows,
    /// Audit log directory.
    pub audit_dir: PathBuf,
    /// An audit file is closed and the next begun before it grows past this size.
    pub audit_max_bytes: u64,
    /// A warning is logged (at start, on reload, daily) for every certificate and CRL that
    /// expires within this many days.
    pub expiry_warning_days: u32,
    /// How often the TLS files, CRLs and the register are checked for changes (a change is
    /// reloaded once it has stayed the same for one more interval); `None` = not watched.
    pub watch_interval: Option<std::time::Duration>,
    /// Days an acknowledged avisering delivery is kept before it is removed.
    pub avisering_keep_days: u32,
    /// Records per page of `hamtaAvisering`.
    pub avisering_page_size: u32,
}

/// What one client may hold of the SOAP listener: connections and how long each may take.
///
/// Connections beyond `max` wait in the kernel's accept queue until a slot frees; the
/// timeouts bound how long any slot can be held by a client that sends nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections served at once (`[soap] max_connections`).
    pub max: usize,
    /// Time to finish the TLS handshake (`[soap] handshake_timeout_seconds`).
    pub handshake_timeout: Duration,
    /// Time to send a request's headers, also the longest a keep-alive connection may sit
    /// idle (`[soap] header_timeout_seconds`).
    pub header_timeout: Duration,
    /// Time to send a request's body (`[soap] body_timeout_seconds`).
    pub body_timeout: Duration,
    /// Most connections from one source address at once (`[soap]
    /// max_connections_per_source`); more are closed at accept.
    pub max_per_source: usize,
    /// Most connections in their TLS handshake at once (`[soap] max_handshaking`); past it
    /// the oldest handshake is shed.
    pub max_handshaking: usize,
    /// Longest one write of an answer may wait for the client (`[soap] write_timeout_seconds`).
    pub write_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_per_source: DEFAULT_MAX_PER_SOURCE,
            max_handshaking: DEFAULT_MAX_HANDSHAKING,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// Paths of the server's TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
    /// CA bundle that client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    /// CRLs (PEM or DER).
    pub crls: Vec<PathBuf>,
}

/// The daily load job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadConfig {
    /// Folder the deliveries arrive in.
    pub inbox: PathBuf,
    /// Local time (Europe/Stockholm) of the daily run (`daily_at`, `HH:MM`).
    pub daily_at: Daily,
    /// Whether an empty store with an empty inbox gets the built-in synthetic demo population
    /// (the README's one command). Production sets `false`: then the service says "no data"
    /// until the first FULL delivery is loaded.
    pub demo: bool,
    /// How long after the last applied delivery the served data counts as stale: `/readyz`
    /// then fails and `folkreg_data_stale` is 1 (`stale_after_hours`, default 50 — two
    /// daily deliveries missed; 0 = never).
    pub stale_after: Option<chrono::Duration>,
}

/// A config file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, unknown key or wrong type, with line and field.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A value that parses but is not valid.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    cache_mb: Option<u64>,
    register: Option<PathBuf>,
    #[serde(default)]
    soap: RawSoap,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    load: RawLoad,
    #[serde(default)]
    maintenance: RawMaintenance,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    reload: RawReload,
    #[serde(default)]
    avisering: RawAvisering,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSoap {
    listen: Option<String>,
    max_hits: Option<usize>,
    max_connections: Option<usize>,
    handshake_timeout_seconds: Option<u64>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    max_connections_per_source: Option<usize>,
    max_handshaking: Option<usize>,
    write_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    crls: Option<Vec<PathBuf>>,
    expiry_warning_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAvisering {
    keep_days: Option<u32>,
    page_size: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReload {
    watch_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    inbox: Option<PathBuf>,
    daily_at: Option<String>,
    demo: Option<bool>,
    stale_after_hours: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    weekly: Option<String>,
    planned: Option<Vec<PlannedOutage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    dir: Option<PathBuf>,
    max_mb: Option<u64>,
}

impl Config {
    /// Finds and reads the configuration: `explicit` (from `--config` or `FOLKREG_CONFIG`),
    /// else `folkreg.toml` in the working directory if present, else the built-in defaults.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(p) = explicit {
            return Config::from_file(p);
        }
        let local = Path::new("folkreg.toml");
        if local.is_file() {
            return Config::from_file(local);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Config::from_raw(RawConfig::default(), &cwd, None)
    }

    /// Reads one file; relative paths in it are relative to its folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_str_at(&text, path)
    }

    /// Parses config text as if read from `path`.
    pub fn from_str_at(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().to_owned(),
        })?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let base = abs
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_raw(raw, &base, Some(abs))
    }

    fn from_raw(
        raw: RawConfig,
        base: &Path,
        source: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let at = |p: Option<PathBuf>, default: &str| -> PathBuf {
            let p = p.unwrap_or_else(|| PathBuf::from(default));
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        };
        let src = source
            .clone()
            .unwrap_or_else(|| PathBuf::from("<built-in defaults>"));
        let invalid = |field, message: String| ConfigError::Invalid {
            path: src.clone(),
            field,
            message,
        };
        let addr = |field, v: Option<String>, default: &str| -> Result<SocketAddr, ConfigError> {
            let s = v.unwrap_or_else(|| default.to_owned());
            s.parse()
                .map_err(|e| invalid(field, format!("`{s}` is not an address:port ({e})")))
        };
        let data_dir = at(raw.data_dir, "data");
        let page_size = raw.avisering.page_size.unwrap_or(500);
        if !(1..=10_000).contains(&page_size) {
            return Err(invalid(
                "avisering.page_size",
                format!("{page_size} is not between 1 and 10000"),
            ));
        }
        let daily_at = raw.load.daily_at.unwrap_or_else(|| "05:30".into());
        let daily_at =
            Daily::parse(&daily_at).map_err(|e| invalid("load.daily_at", e.to_string()))?;
        let max_hits = raw.soap.max_hits.unwrap_or(DEFAULT_MAX_HITS);
        if max_hits == 0 || max_hits > 10_000 {
            return Err(invalid(
                "soap.max_hits",
                format!("{max_hits} is outside 1..=10000"),
            ));
        }
        let max_connections = raw.soap.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(invalid(
                "soap.max_connections",
                format!("{max_connections} is outside 1..=1000000"),
            ));
        }
        let seconds = |field, v: Option<u64>, default: Duration| -> Result<Duration, ConfigError> {
            match v {
                None => Ok(default),
                Some(n @ 1..=3600) => Ok(Duration::from_secs(n)),
                Some(n) => Err(invalid(field, format!("{n} is outside 1..=3600 seconds"))),
            }
        };
        let count = |field, v: Option<usize>, default: usize| -> Result<usize, ConfigError> {
            match v {
                None => Ok(default),
                Some(n @ 1..=1_000_000) => Ok(n),
                Some(n) => Err(invalid(field, format!("{n} is outside 1..=1000000"))),
            }
        };
        let connections = ConnectionLimits {
            max: max_connections,
            handshake_timeout: seconds(
                "soap.handshake_timeout_seconds",
                raw.soap.handshake_timeout_seconds,
                DEFAULT_HANDSHAKE_TIMEOUT,
            )?,
            header_timeout: seconds(
                "soap.header_timeout_seconds",
                raw.soap.header_timeout_seconds,
                DEFAULT_HEADER_TIMEOUT,
            )?,
            body_timeout: seconds(
                "soap.body_timeout_seconds",
                raw.soap.body_timeout_seconds,
                DEFAULT_BODY_TIMEOUT,
            )?,
            max_per_source: count(
                "soap.max_connections_per_source",
                raw.soap.max_connections_per_source,
                DEFAULT_MAX_PER_SOURCE,
            )?,
            max_handshaking: count(
                "soap.max_handshaking",
                raw.soap.max_handshaking,
                DEFAULT_MAX_HANDSHAKING,
            )?,
            write_timeout: seconds(
                "soap.write_timeout_seconds",
                raw.soap.write_timeout_seconds,
                DEFAULT_WRITE_TIMEOUT,
            )?,
        };
        if raw.audit.max_mb == Some(0) {
            return Err(invalid("audit.max_mb", "must be at least 1".into()));
        }
        let weekly = raw
            .maintenance
            .weekly
            .unwrap_or_else(|| DEFAULT_WEEKLY_WINDOW.into());
        let maintenance = Windows::parse(&weekly, &raw.maintenance.planned.unwrap_or_default())
            .map_err(|e| {
                let field = match e {
                    ScheduleError::Weekly(_) => "maintenance.weekly",
                    _ => "maintenance.planned",
                };
                invalid(field, e.to_string())
            })?;
        Ok(Config {
            soap_listen: addr("soap.listen", raw.soap.listen, "127.0.0.1:8443")?,
            admin_listen: addr("admin.listen", raw.admin.listen, "127.0.0.1:9443")?,
            max_hits,
            connections,
            cache_bytes: raw.cache_mb.unwrap_or(DEFAULT_CACHE_MB) * 1024 * 1024,
            tls: TlsFiles {
                cert: at(raw.tls.cert, "certs-dev/server.pem"),
                key: at(raw.tls.key, "certs-dev/server.key"),
                client_ca: at(raw.tls.client_ca, "certs-dev/ca-bundle.pem"),
                crls: match raw.tls.crls {
                    Some(list) => list.into_iter().map(|p| at(Some(p), "")).collect(),
                    None => vec![at(None, "certs-dev/crl.pem")],
                },
            },
            register: at(raw.register, "deploy/register.dev.toml"),
            load: LoadConfig {
                inbox: raw
                    .load
                    .inbox
                    .map(|p| at(Some(p), ""))
                    .unwrap_or_else(|| data_dir.join("inbox")),
                daily_at,
                demo: raw.load.demo.unwrap_or(true),
                stale_after: match raw.load.stale_after_hours.unwrap_or(50) {
                    0 => None,
                    h => Some(chrono::Duration::hours(i64::from(h))),
                },
            },
            maintenance,
            expiry_warning_days: raw.tls.expiry_warning_days.unwrap_or(30),
            avisering_keep_days: raw.avisering.keep_days.unwrap_or(30),
            avisering_page_size: page_size,
            watch_interval: match raw.reload.watch_seconds.unwrap_or(2) {
                0 => None,
                n => Some(std::time::Duration::from_secs(n)),
            },
            audit_max_bytes: raw
                .audit
                .max_mb
                .map_or(crate::audit::DEFAULT_MAX_BYTES, |mb| {
                    mb.saturating_mul(1024 * 1024)
                }),
            audit_dir: raw
                .audit
                .dir
                .map(|p| at(Some(p), ""))
                .unwrap_or_else(|| data_dir.join("audit")),
            data_dir,
            source,
        })
    }

    /// Where the sled store lives.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::from_str_at("", Path::new("/etc/folkreg/folkreg.toml")).unwrap();
        assert_eq!(c.soap_listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9443");
        assert_eq!(c.data_dir, Path::new("/etc/folkreg/data"));
        assert_eq!(
            c.register,
            Path::new("/etc/folkreg/deploy/register.dev.toml")
        );
        assert_eq!(
            c.maintenance,
            Windows::parse(DEFAULT_WEEKLY_WINDOW, &[]).expect("default window")
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let c = Config::from_str_at(
            "data_dir = \"d\"\n[tls]\ncert = \"/abs/c.pem\"\n",
            Path::new("/srv/x/f.toml"),
        )
        .unwrap();
        assert_eq!(c.data_dir, Path::new("/srv/x/d"));
        assert_eq!(c.tls.cert, Path::new("/abs/c.pem"));
        assert_eq!(c.load.inbox, Path::new("/srv/x/d/inbox"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = Config::from_str_at(
            "data_dir = \"d\"\n\n[soap]\nlisten = 8443\n",
            Path::new("f.toml"),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("f.toml:4:"), "{s}");
        let e = Config::from_str_at("[soap]\nlisen = \"x\"\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e =
            Config::from_str_at("[soap]\nlisten = \"nohost\"\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("soap.listen"), "{e}");
        let e =
            Config::from_str_at("[load]\ndaily_at = \"25:00\"\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("load.daily_at"), "{e}");
        let e = Config::from_str_at(
            "[maintenance]\nweekly = \"Mon 06:15-06:00\"\n",
            Path::new("f.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("maintenance.weekly"), "{e}");
        let e = Config::from_str_at(
            "[maintenance]\nplanned = [{ from = \"2026-12-05 18:00\", to = \"2026-12-05 07:00\" }]\n",
            Path::new("f.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("maintenance.planned"), "{e}");
        let e = Config::from_str_at("[audit]\nmax_mb = 0\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("audit.max_mb"), "{e}");
        let e =
            Config::from_str_at("[soap]\nmax_connections = 0\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("soap.max_connections"), "{e}");
        let e = Config::from_str_at("[soap]\nheader_timeout_seconds = 0\n", Path::new("f.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("soap.header_timeout_seconds"), "{e}");
    }

    #[test]
    fn connection_limits_default_and_set() {
        let d = Config::from_str_at("", Path::new("f.toml")).unwrap();
        assert_eq!(d.connections, ConnectionLimits::default());
        let c = Config::from_str_at(
            "[soap]\nmax_connections = 8\nhandshake_timeout_seconds = 1\nheader_timeout_seconds = 2\nbody_timeout_seconds = 3\n",
            Path::new("f.toml"),
        )
        .unwrap();
        assert_eq!(
            c.connections,
            ConnectionLimits {
                max: 8,
                handshake_timeout: Duration::from_secs(1),
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_secs(3),
                ..ConnectionLimits::default()
            }
        );
    }

    #[test]
    fn the_example_config_is_valid_and_documents_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/folkreg.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let example = Config::from_str_at(&text, &path).unwrap();
        let defaults = Config::from_str_at("", &path).unwrap();
        assert_eq!(example.soap_listen, defaults.soap_listen);
        assert_eq!(example.connections, defaults.connections);
        assert_eq!(example.maintenance, defaults.maintenance);
        assert_eq!(example.audit_max_bytes, defaults.audit_max_bytes);
        assert_eq!(example.load, defaults.load);
        assert_eq!(example.expiry_warning_days, defaults.expiry_warning_days);
        assert_eq!(example.watch_interval, defaults.watch_interval);
        assert_eq!(example.avisering_keep_days, defaults.avisering_keep_days);
        assert_eq!(example.avisering_page_size, defaults.avisering_page_size);
    }
}
