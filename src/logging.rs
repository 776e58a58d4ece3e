//! Ordinary logs: `tracing` to standard error, the level from `RUST_LOG` (default
//! `folkreg=info,warn`), one JSON object per line with `FOLKREG_LOG_FORMAT=json`, colours only
//! on a terminal.
//!
//! Must never: let personal data into the log. folkreg's own log lines carry organisations,
//! operations, outcomes and request ids, never identity numbers, names or addresses (the
//! audit log is the one place for those). Dependencies can be more talkative: sled logs tree
//! keys — identity numbers, as byte lists — at debug and trace level, so sled is capped at
//! INFO whatever `RUST_LOG` asks for. `tests/log_privacy.rs` runs traffic at `RUST_LOG=trace`
//! and searches the log.

use std::io::IsTerminal;

use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::prelude::*;

/// The default filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "folkreg=info,warn";

/// Whether an event or span from this target at this level may be logged at all.
pub fn allowed(target: &str, level: &tracing::Level) -> bool {
    !(target.starts_with("sled") && *level > tracing::Level::INFO)
}

/// Installs the process-wide subscriber. Call once, from `main`.
pub fn init() {
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let privacy = filter_fn(|meta| allowed(meta.target(), meta.level()));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let json = std::env::var("FOLKREG_LOG_FORMAT").is_ok_and(|v| v == "json");
    let registry = tracing_subscriber::registry().with(env);
    if json {
        registry.with(fmt.json().with_filter(privacy)).init();
    } else {
        registry.with(fmt.with_filter(privacy)).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn sled_is_capped_at_info() {
        assert!(!allowed("sled::tree", &Level::TRACE));
        assert!(!allowed("sled::pagecache", &Level::DEBUG));
        assert!(allowed("sled::pagecache", &Level::INFO));
        assert!(allowed("sled", &Level::WARN));
        assert!(allowed("folkreg::http", &Level::TRACE));
        assert!(allowed("rustls::server::hs", &Level::TRACE));
    }
}
