//! The `folkreg` command: parses the command line and calls into the library.
//!
//! Exit codes (CONTRACT.md): 0 ok, 1 runtime failure, 2 bad usage or invalid config/input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use folkreg::config::Config;
use folkreg::store::Store;

#[derive(Parser)]
#[command(
    name = "folkreg",
    version,
    about = "Swedish population-register data over SOAP and mutual TLS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The SOAP service over mutual TLS (loads the demo population into an empty store).
    Serve {
        /// Config file (default: ./folkreg.toml if present, else built-in defaults).
        #[arg(long, env = "FOLKREG_CONFIG")]
        config: Option<PathBuf>,
    },
    /// (Re)create the development PKI and `deploy/register.dev.toml`.
    DevCerts {
        /// Output folder.
        #[arg(long, default_value = "certs-dev")]
        out: PathBuf,
        /// The register file to write for the development certificates. Default:
        /// `deploy/register.dev.toml` for `--out certs-dev`, else `OUT/register.dev.toml`, so a
        /// PKI made elsewhere never overwrites the repository's register.
        #[arg(long)]
        register: Option<PathBuf>,
    },
    /// Apply delivery files now (full or delta), each atomically, in löpnummer order.
    Load {
        /// Config file (default: ./folkreg.toml if present, else built-in defaults).
        #[arg(long, env = "FOLKREG_CONFIG")]
        config: Option<PathBuf>,
        /// Apply a delta even if its löpnummer is not the next one.
        #[arg(long)]
        force: bool,
        /// Delivery files (.xml or .xml.gz).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write a synthetic, deterministic delivery: a FULL population, or the next DELTA.
    Generate {
        /// Number of persons (for a FULL delivery).
        #[arg(long, required_unless_present = "delta_of")]
        persons: Option<usize>,
        /// Random seed; the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (`.gz` to compress). Default: leverans-NNNNNN-FULL|DELTA.xml.gz.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the delivery that follows this one (its folder holds the chain back to a FULL).
        #[arg(long, requires = "changes")]
        delta_of: Option<PathBuf>,
        /// Number of changes in the delta.
        #[arg(long, requires = "delta_of")]
        changes: Option<usize>,
        /// The generator's "today" (YYYY-MM-DD), for reproducible files. Default: today.
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
    },
    /// The audit log, for the data-protection officer.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Store generation, counts and last load.
    Status {
        /// Config file.
        #[arg(long, env = "FOLKREG_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Prints the audit lines (JSON, unchanged) that match every given criterion.
    Search {
        /// Config file (its `[audit] dir`).
        #[arg(long, env = "FOLKREG_CONFIG")]
        config: Option<PathBuf>,
        /// The audit directory itself, instead of the config's.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Lines that asked for or returned this identity number.
        #[arg(long, value_parser = parse_pnr)]
        pnr: Option<folkreg::pnr::Pnr>,
        /// Lines of this organisation (10 or 12 digits).
        #[arg(long, value_parser = parse_org)]
        org: Option<folkreg::register::OrgNr>,
        /// From this time (inclusive): RFC 3339, or local `YYYY-MM-DD [HH:MM]` (Stockholm).
        #[arg(long, value_parser = parse_instant)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Until this time (exclusive), same forms.
        #[arg(long, value_parser = parse_instant)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_pnr(s: &str) -> Result<folkreg::pnr::Pnr, String> {
    folkreg::pnr::Pnr::parse_lenient(s, chrono::Local::now().date_naive())
        .map_err(|e| e.to_string())
}

fn parse_org(s: &str) -> Result<folkreg::register::OrgNr, String> {
    folkreg::register::OrgNr::parse(s).map_err(|e| e.to_string())
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M") {
        return Ok(folkreg::schedule::stockholm(t));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| folkreg::schedule::stockholm(d.and_time(chrono::NaiveTime::MIN)))
        .map_err(|_| format!("`{s}` is not RFC 3339 or a local `YYYY-MM-DD [HH:MM]`"))
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not YYYY-MM-DD: {e}"))
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            error: e.into(),
        }
    }
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    folkreg::logging::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("folkreg: {}", chain(&f.error));
            ExitCode::from(f.code)
        }
    }
}

/// The error and its causes, each cause once: an error whose text already quotes its cause
/// (as ours do) is not followed by the cause again.
fn chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out = format!("{out}: {c}");
        }
    }
    out
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::discover(config.as_deref()).map_err(usage)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(folkreg::server::serve(config))?;
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Search {
                    config,
                    dir,
                    pnr,
                    org,
                    from,
                    to,
                },
        } => {
            let dir = match dir {
                Some(d) => d,
                None => {
                    Config::discover(config.as_deref())
                        .map_err(usage)?
                        .audit_dir
                }
            };
            let query = folkreg::audit::AuditQuery { pnr, org, from, to };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = folkreg::audit::search_summary(&dir, &query, &mut out)?;
            std::io::Write::flush(&mut out)?;
            eprintln!(
                "{} matching lines; {} files read, {} skipped by date{}",
                summary.matched,
                summary.files_read,
                summary.files_skipped,
                if summary.torn.is_empty() {
                    String::new()
                } else {
                    format!("; {} with a torn last line (skipped)", summary.torn.len())
                }
            );
            Ok(())
        }
        Command::DevCerts { out, register } => {
            let register = register.unwrap_or_else(|| {
                if out == std::path::Path::new("certs-dev") {
                    PathBuf::from("deploy/register.dev.toml")
                } else {
                    out.join("register.dev.toml")
                }
            });
            let made = folkreg::tls::devcerts::dev_certs(&out, &register)?;
            println!(
                "wrote the development PKI to {} and its register to {}",
                made.dir.display(),
                made.register.display()
            );
            Ok(())
        }
        Command::Load {
            config,
            force,
            files,
        } => {
            let config = Config::discover(config.as_deref()).map_err(usage)?;
            let store = open_store(&config)?;
            let (done, failure) = folkreg::load::load_files(&store, &files, force);
            for r in &done {
                println!("{r}");
            }
            if let Some(e) = failure {
                let code = if e.is_input_error() { 2 } else { 1 };
                return Err(Failure {
                    code,
                    error: e.into(),
                });
            }
            Ok(())
        }
        Command::Generate {
            persons,
            seed,
            out,
            delta_of,
            changes,
            today,
        } => {
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            let written = match (delta_of, changes) {
                (Some(prev), Some(changes)) => {
                    folkreg::generate::write_delta(&prev, changes, seed, today, out.as_deref())
                        .map_err(|e| Failure {
                            code: if e.is_input_error() { 2 } else { 1 },
                            error: e.into(),
                        })?
                }
                _ => {
                    let n = persons.context("--persons is required")?;
                    folkreg::generate::write_full(n, seed, today, out.as_deref())?
                }
            };
            println!("{written}");
            Ok(())
        }
        Command::Status { config } => {
            let config = Config::discover(config.as_deref()).map_err(usage)?;
            let store = open_store(&config)?;
            let info = store.info();
            println!("data_dir:   {}", config.data_dir.display());
            println!("generation: {}", info.generation);
            println!("records:    {}", info.records);
            println!(
                "löpnummer:  {}",
                info.lopnummer
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            println!(
                "last load:  {}",
                info.loaded_at.as_deref().unwrap_or("never")
            );
            println!("delivered:  {}", info.skapad.as_deref().unwrap_or("-"));
            println!("store size: {} bytes", store.size_on_disk()?);
            Ok(())
        }
    }
}

fn open_store(config: &Config) -> Result<Store, Failure> {
    let dir = config.store_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Store::open(&dir, config.cache_bytes)
        .with_context(|| {
            format!(
                "cannot open the store in {} (is another folkreg using it?)",
                dir.display()
            )
        })
        .map_err(Failure::from)
}
