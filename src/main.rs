//! The `folkreg` command: parses the command line and calls into the library.
//!
//! Exit codes (CONTRACT.md): 0 ok, 1 runtime failure, 2 bad usage or invalid config/input.

/// The allocator: a load allocates and frees small strings per element (malloc and free were
/// 28 % of a load's CPU under glibc's allocator); mimalloc does it for less (benches/README.md,
/// "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use folkreg::access::{Category, Switch};
use folkreg::config::Config;
use folkreg::ids::OrgNr;
use folkreg::register::{self, CertSource, Register, RegisterError};
use folkreg::store::{Store, StoreError};

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
    #[cfg(feature = "dev-tools")]
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
        /// Rebuild from a delivery archive (e.g. `data/inbox/archive`): its newest FULL
        /// delivery and the deltas after it, one per löpnummer, up to the first gap.
        #[arg(long, value_name = "DIR", conflicts_with = "files")]
        archive: Option<PathBuf>,
        /// Delivery files (.xml or .xml.gz).
        #[arg(required_unless_present = "archive")]
        files: Vec<PathBuf>,
    },
    /// Write a synthetic, deterministic delivery: a FULL population, or the next DELTA.
    #[cfg(feature = "dev-tools")]
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
        /// Split a FULL delivery into this many files of one delivery (AntalFiler/FilNr):
        /// `--out` with .1, .2, … before its extension.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=999), conflicts_with = "delta_of")]
        files: u16,
        /// Write file A and file B (Navet's Bilaga 2) for a receiver that chose these fewer
        /// terms for protected persons (comma-separated, as the register's
        /// `skyddade_termer`: e.g. `namn,folkbokforingsadress`): `--out` with .A and .B before
        /// its extension.
        #[arg(long, value_delimiter = ',', conflicts_with = "files")]
        skyddade_termer: Option<Vec<String>>,
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
    /// The organisation register: check it, list it, edit it. Edits keep comments and layout,
    /// are checked before anything is written, and replace the file atomically.
    Register {
        /// Config file whose `register` key names the register (default: ./folkreg.toml if
        /// present, else built-in defaults, i.e. deploy/register.dev.toml).
        #[arg(long, env = "FOLKREG_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// The register file itself; wins over the config's `register`.
        #[arg(long = "register", value_name = "PATH", global = true)]
        file: Option<PathBuf>,
        #[command(subcommand)]
        action: RegisterAction,
    },
}

/// `folkreg register ...`: one library call each (`folkreg::register`).
#[derive(Subcommand)]
enum RegisterAction {
    /// Check the register; every problem with file, line and field (exit 2 if any).
    Check,
    /// Every organisation and its certificates, with each permission's state now.
    List,
    /// Add an organisation (`grund` is implied; creates the register file if missing).
    AddOrg {
        /// Organisationsnummer (`2021004748`, `202100-4748` or `162021004748`).
        #[arg(long, value_name = "ORGNR", value_parser = register::parse_orgnr)]
        org: OrgNr,
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// An access category (repeat, or separate with commas).
        #[arg(long = "category", value_name = "C", value_delimiter = ',', value_parser = parse_category)]
        categories: Vec<Category>,
        /// An organisation-level switch (repeat, or separate with commas).
        #[arg(long = "switch", value_name = "S", value_delimiter = ',', value_parser = parse_switch)]
        switches: Vec<Switch>,
        /// A BestallningsId the organisation may send (repeat).
        #[arg(long = "bestallning", value_name = "ID")]
        bestallningar: Vec<String>,
    },
    /// Permit a certificate for an organisation, optionally only within a window.
    AddCert {
        /// The organisation (it must be listed; a certificate file's subject must name it).
        #[arg(long, value_name = "ORGNR", value_parser = register::parse_orgnr)]
        org: OrgNr,
        #[command(flatten)]
        cert: CertArg,
        /// The permission starts here (RFC 3339 with offset, or YYYY-MM-DD meaning 00:00 UTC).
        #[arg(long, value_name = "TIME", value_parser = parse_instant)]
        not_before: Option<DateTime<Utc>>,
        /// The permission ends here (exclusive; same forms as --not-before).
        #[arg(long, value_name = "TIME", value_parser = parse_instant)]
        not_after: Option<DateTime<Utc>>,
        /// Free text for operators.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
    },
    /// Mark a certificate revoked (it stays listed, so refusals say "revoked").
    RevokeCert {
        #[command(flatten)]
        cert: CertArg,
    },
    /// Remove a certificate from the register.
    RemoveCert {
        #[command(flatten)]
        cert: CertArg,
    },
}

/// Which certificate: its file or its fingerprint, exactly one.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct CertArg {
    /// The certificate file (PEM, leaf first, or DER); its SHA-256 over the DER is used.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The SHA-256 fingerprint of the DER certificate (64 hex digits, colons allowed).
    #[arg(long, value_name = "HEX", value_parser = register::parse_fingerprint)]
    fingerprint: Option<[u8; 32]>,
}

impl CertArg {
    fn source(self) -> CertSource {
        match (self.cert, self.fingerprint) {
            (_, Some(fp)) => CertSource::Fingerprint(fp),
            (Some(file), None) => CertSource::File(file),
            // clap's group makes one of the two required; an empty path fails as a file.
            (None, None) => CertSource::File(PathBuf::new()),
        }
    }
}

fn parse_category(s: &str) -> Result<Category, String> {
    Category::parse(s).ok_or_else(|| {
        let known: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown category `{s}` (known: {})", known.join(", "))
    })
}

fn parse_switch(s: &str) -> Result<Switch, String> {
    Switch::parse(s).ok_or_else(|| {
        let known: Vec<_> = Switch::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown switch `{s}` (known: {})", known.join(", "))
    })
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
        pnr: Option<folkreg::ids::pnr::Pnr>,
        /// Lines of this organisation (10 or 12 digits).
        #[arg(long, value_parser = parse_org)]
        org: Option<folkreg::ids::OrgNr>,
        /// From this time (inclusive): RFC 3339, or local `YYYY-MM-DD [HH:MM]` (Stockholm).
        #[arg(long, value_parser = parse_instant)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Until this time (exclusive), same forms.
        #[arg(long, value_parser = parse_instant)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_pnr(s: &str) -> Result<folkreg::ids::pnr::Pnr, String> {
    folkreg::ids::pnr::Pnr::parse_lenient(s, chrono::Local::now().date_naive())
        .map_err(|e| e.to_string())
}

fn parse_org(s: &str) -> Result<folkreg::ids::OrgNr, String> {
    folkreg::ids::OrgNr::parse(s).map_err(|e| e.to_string())
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    folkreg::clock::parse_instant(s).map_err(|e| e.to_string())
}

/// The maintenance state now and the next windows, in Swedish local time.
/// `writeln!` into a `String`, which cannot fail.
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// `folkreg status`: the store, the load job and the maintenance windows. While `serve` holds
/// the store, its figures come from the state file `serve` keeps.
fn print_status(config: &Config) -> Result<(), Failure> {
    let now = Utc::now();
    let report = folkreg::app::StatusReport::gather(config).map_err(|e| match e {
        folkreg::app::StatusError::Job(_) => usage(e),
        folkreg::app::StatusError::Store { .. } => Failure::from(anyhow::Error::new(e)),
    })?;
    let mut out = String::new();
    let (info, job_state) = (&report.store, &report.job);
    wln!(out, "data_dir:   {}", config.data_dir.display());
    if report.held_by_serve {
        wln!(
            out,
            "store:      in use by a running folkreg serve; as it recorded at {}",
            job_state.written.map(local).unwrap_or_else(|| "-".into())
        );
    }
    wln!(out, "generation: {}", info.generation);
    wln!(out, "records:    {}", info.records);
    wln!(out, "löpnummer:  {}", opt(info.lopnummer));
    wln!(
        out,
        "last load:  {}",
        info.loaded_at.as_deref().unwrap_or("never")
    );
    wln!(out, "delivered:  {}", info.skapad.as_deref().unwrap_or("-"));
    if let Some((size, directory)) = report.size {
        wln!(
            out,
            "store size: {size} bytes on disk; {directory} bytes of segment directories in memory"
        );
    }
    wln!(
        out,
        "load job:   daily at {} from {}; next run {}",
        config.load.daily_at,
        config.load.inbox.display(),
        local(config.load.daily_at.next_after(now))
    );
    wln!(
        out,
        "  last run: {} — {}{}",
        job_state
            .last_run
            .map(local)
            .unwrap_or_else(|| "never".into()),
        job_state.outcome.as_str(),
        job_state
            .last_ok
            .map(|t| format!("; last without failure {}", local(t)))
            .unwrap_or_default()
    );
    for h in &job_state.files {
        wln!(
            out,
            "  {:<15} löpnummer {:<6} {}{}",
            h.result,
            opt(h.lopnummer),
            h.file,
            h.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    if let Some(p) = &job_state.pending_refusal {
        wln!(
            out,
            "  REFUSED and not yet followed by an applied delivery: {} (löpnummer {}) at {}{}",
            p.file,
            opt(p.lopnummer),
            local(p.at),
            if p.sets_protection > 0 {
                format!(
                    "; it would have set a protection on {} person(s) served unprotected",
                    p.sets_protection
                )
            } else {
                String::new()
            }
        );
    }
    wln!(
        out,
        "  waiting:  {} delivery file(s) in the inbox",
        report.waiting
    );
    if !job_state.avisering.is_empty() {
        wln!(
            out,
            "avisering:  order, organisation, last produced and acknowledged löpnummer"
        );
        for o in &job_state.avisering {
            wln!(
                out,
                "  {:<24} {:<10} produced {:<5} acknowledged {:<5} backlog {}{}",
                o.order,
                o.orgnr,
                o.produced,
                o.acknowledged,
                o.backlog(),
                o.produced_at
                    .map(|t| format!("  (last {})", local(t)))
                    .unwrap_or_default()
            );
        }
    }
    print_windows(&mut out, config, now)?;
    // Not println!: a closed pipe (`| head`) is an error to report, not a panic.
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("cannot write the status")?;
    Ok(())
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A time as Swedish local time, for people.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn print_windows(out: &mut String, config: &Config, now: DateTime<Utc>) -> Result<(), Failure> {
    let windows = &config.maintenance;
    match windows.open_at(now) {
        Some(w) => wln!(
            out,
            "maintenance: OPEN until {} ({})",
            local(w.to),
            w.reason
        ),
        None => wln!(out, "maintenance: closed (serving)"),
    }
    for w in windows.upcoming(now, 3) {
        wln!(
            out,
            "  window:   {} – {}  {}",
            local(w.from),
            local(w.to),
            w.reason
        );
    }
    Ok(())
}

#[cfg(feature = "dev-tools")]
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
        Command::Serve { config } => serve_command(config.as_deref()),
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
            audit_search(&dir, folkreg::audit::AuditQuery { pnr, org, from, to })
        }
        #[cfg(feature = "dev-tools")]
        Command::DevCerts { out, register } => dev_certs_command(&out, register),
        Command::Load {
            config,
            force,
            archive,
            files,
        } => {
            let config = Config::discover(config.as_deref()).map_err(usage)?;
            let files = match archive {
                None => files,
                Some(dir) => restore_files(&dir)?,
            };
            load_command(&config, &files, force)
        }
        #[cfg(feature = "dev-tools")]
        Command::Generate {
            persons,
            seed,
            out,
            delta_of,
            changes,
            today,
            files,
            skyddade_termer,
        } => {
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            let fewer =
                folkreg::register::orders::skyddade_termer_of(skyddade_termer).map_err(|why| {
                    Failure {
                        code: 2,
                        error: anyhow::anyhow!("--skyddade-termer: {why}"),
                    }
                })?;
            let split = Split { files, fewer };
            generate_command(
                persons,
                seed,
                out.as_deref(),
                delta_of,
                changes,
                today,
                split,
            )
        }
        Command::Status { config } => {
            let config = Config::discover(config.as_deref()).map_err(usage)?;
            print_status(&config)
        }
        Command::Register {
            config,
            file,
            action,
        } => {
            let path = match file {
                Some(p) => p,
                None => Config::discover(config.as_deref()).map_err(usage)?.register,
            };
            register_command(&path, action)
        }
    }
}

/// `folkreg serve`: the service until SIGTERM/SIGINT; an empty store gets the demo
/// population where this build has the dev tooling.
fn serve_command(config: Option<&Path>) -> Result<(), Failure> {
    let config = Config::discover(config).map_err(usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    #[cfg(feature = "dev-tools")]
    let seed: Option<folkreg::app::Seed> = Some(folkreg::dev::demo::seed);
    #[cfg(not(feature = "dev-tools"))]
    let seed: Option<folkreg::app::Seed> = None;
    runtime
        .block_on(folkreg::server::serve(config, seed))
        .map_err(|e| match e {
            // Files the operator gave that cannot be used: invalid input (CONTRACT: exit 2).
            folkreg::app::StartError::Tls(_) | folkreg::app::StartError::Register(_) => usage(e),
            e => Failure::from(e),
        })?;
    Ok(())
}

/// `folkreg audit search`: matching lines to standard output, a summary to standard error.
fn audit_search(dir: &Path, query: folkreg::audit::AuditQuery) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = folkreg::audit::search_summary(dir, &query, &mut out)?;
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

/// `folkreg dev-certs`: the development PKI and its register.
#[cfg(feature = "dev-tools")]
fn dev_certs_command(out: &Path, register: Option<PathBuf>) -> Result<(), Failure> {
    let register = register.unwrap_or_else(|| {
        if out == Path::new("certs-dev") {
            PathBuf::from("deploy/register.dev.toml")
        } else {
            out.join("register.dev.toml")
        }
    });
    let made = folkreg::dev::devcerts::dev_certs(out, &register)?;
    println!(
        "wrote the development PKI to {} and its register to {}",
        made.dir.display(),
        made.register.display()
    );
    Ok(())
}

/// `folkreg load --archive DIR`: the files of a restore, said on standard error.
fn restore_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let plan = folkreg::load::plan::restore(dir).map_err(usage)?;
    if plan.files.is_empty() {
        return Err(usage(anyhow::anyhow!(
            "{}: no FULL delivery in the archive",
            dir.display()
        )));
    }
    eprintln!(
        "restoring from {}: {} file(s), {} older or repeated left out{}",
        dir.display(),
        plan.files.len(),
        plan.left_out,
        plan.gap
            .map(|g| format!("; löpnummer {g} is missing, so the deltas after it are left out"))
            .unwrap_or_default()
    );
    Ok(plan.files)
}

/// `folkreg load`: the files in löpnummer order, each atomically, with the change feed
/// produced after each as serve's job does.
fn load_command(config: &Config, files: &[PathBuf], force: bool) -> Result<(), Failure> {
    // The same lock as serve's load job: one loader per data directory.
    let _lock = folkreg::load::job::LoadLock::try_acquire(&config.data_dir)?;
    let store = open_store(config)?;
    let register = Register::load(&config.register);
    if let Err(e) = &register {
        eprintln!("warning: {e}: avisering deliveries will be produced when serve next starts");
    }
    let feed = folkreg::avisering::feed::Feed::open(&store)?;
    let (done, failure) = folkreg::load::load_files(&store, files, force, &mut |store| {
        if let Ok(r) = &register {
            feed.produce_logged(store, r, Utc::now(), config.avisering_keep_days);
        }
    });
    for r in &done {
        println!("{r}");
    }
    match failure {
        Some(e) => Err(Failure {
            code: if e.is_input_error() { 2 } else { 1 },
            error: e.into(),
        }),
        None => Ok(()),
    }
}

/// How `generate` splits a delivery into files.
#[cfg(feature = "dev-tools")]
struct Split {
    /// Files of a FULL delivery.
    files: u16,
    /// A receiver's fewer terms for protected persons: files A and B.
    fewer: Option<folkreg::access::TermMask>,
}

/// `folkreg generate`: a FULL delivery, or the delta after one.
#[cfg(feature = "dev-tools")]
fn generate_command(
    persons: Option<usize>,
    seed: u64,
    out: Option<&Path>,
    delta_of: Option<PathBuf>,
    changes: Option<usize>,
    today: chrono::NaiveDate,
    split: Split,
) -> Result<(), Failure> {
    let written = match (delta_of, changes) {
        (Some(prev), Some(changes)) => {
            folkreg::dev::generate::write_delta_files(&prev, changes, seed, today, out, split.fewer)
                .map_err(|e| Failure {
                    code: if e.is_input_error() { 2 } else { 1 },
                    error: e.into(),
                })?
        }
        _ => {
            let n = persons.context("--persons is required")?;
            let most = folkreg::dev::generate::MAX_PERSONS;
            if n > most {
                return Err(Failure {
                    code: 2,
                    error: anyhow::anyhow!("--persons {n}: at most {most} persons"),
                });
            }
            folkreg::dev::generate::write_full_files(n, seed, today, out, split.files, split.fewer)?
        }
    };
    println!("{written}");
    Ok(())
}

/// `folkreg register ...` on the register file `path`.
fn register_command(path: &Path, action: RegisterAction) -> Result<(), Failure> {
    let shown = path.display();
    match action {
        RegisterAction::Check => {
            let r = Register::load(path).map_err(|e| register_failure(e, false))?;
            println!(
                "register OK: {}, {} ({shown})",
                count(r.organisations().len(), "organisation"),
                count(r.certificates().count(), "certificate"),
            );
        }
        RegisterAction::List => {
            let r = Register::load(path).map_err(|e| register_failure(e, false))?;
            // Not println!: a closed pipe (`| head`) is an error to report, not a panic.
            std::io::stdout()
                .lock()
                .write_all(r.list(Utc::now()).as_bytes())
                .context("cannot write the list")?;
        }
        RegisterAction::AddOrg {
            org,
            name,
            categories,
            switches,
            bestallningar,
        } => {
            register::add_org(
                path,
                &org,
                &name,
                &categories.into_iter().collect(),
                &switches.into_iter().collect(),
                &bestallningar,
            )
            .map_err(|e| register_failure(e, true))?;
            println!("added organisation {org} ({name}) to {shown}");
        }
        RegisterAction::AddCert {
            org,
            cert,
            not_before,
            not_after,
            comment,
        } => {
            let fp = register::add_cert(
                path,
                &org,
                &cert.source(),
                not_before,
                not_after,
                comment.as_deref(),
            )
            .map_err(|e| register_failure(e, true))?;
            println!(
                "added certificate {} to organisation {org} in {shown}",
                hex::encode(fp)
            );
        }
        RegisterAction::RevokeCert { cert } => {
            let (fp, org) = edit_cert(path, cert, register::revoke_cert)?;
            println!("revoked certificate {fp} of organisation {org} in {shown}");
        }
        RegisterAction::RemoveCert { cert } => {
            let (fp, org) = edit_cert(path, cert, register::remove_cert)?;
            println!("removed certificate {fp} of organisation {org} from {shown}");
        }
    }
    Ok(())
}

/// Revokes or removes the certificate named by file or fingerprint: its fingerprint (hex) and
/// organisation.
fn edit_cert(
    path: &std::path::Path,
    cert: CertArg,
    edit: fn(&std::path::Path, &[u8; 32]) -> Result<OrgNr, RegisterError>,
) -> Result<(String, OrgNr), Failure> {
    let fp = cert
        .source()
        .fingerprint()
        .map_err(|e| register_failure(e, true))?;
    let org = edit(path, &fp).map_err(|e| register_failure(e, true))?;
    Ok((hex::encode(fp), org))
}

/// A register error with its exit code. The check's problems go to stderr one per line
/// (`PATH:LINE: field `F`: message`, as editors and grep read them), before the summary that
/// `main` prints. Every refused edit left the file as it was, and says so.
fn register_failure(e: RegisterError, edit: bool) -> Failure {
    let code = if e.is_input_error() { 2 } else { 1 };
    let summary = |path: &Path, what: &str, n: usize| {
        anyhow::anyhow!(
            "{}: {what}: {} (above)",
            path.display(),
            count(n, "problem")
        )
    };
    let error = match &e {
        RegisterError::Invalid { path, problems } => {
            eprintln!("{e}");
            let what = if edit {
                "the register is invalid; fix it first"
            } else {
                "the register is invalid"
            };
            summary(path, what, problems.len())
        }
        RegisterError::EditRefused { path, problems } => {
            eprintln!("{e}");
            summary(
                path,
                "the edit would make the register invalid",
                problems.len(),
            )
        }
        _ => e.into(),
    };
    let error = if edit {
        error.context("edit refused, the register file is unchanged")
    } else {
        error
    };
    Failure { code, error }
}

/// "1 organisation", "3 organisations".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn open_store(config: &Config) -> Result<Store, Failure> {
    let dir = config.store_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Store::open(&dir, config.cache_bytes).map_err(|e| {
        let why = if matches!(e, StoreError::Locked(_)) {
            format!(
                "cannot open the store in {}: a running `folkreg serve` holds it. To load into \
                 it, put the files in its inbox ({}) and run its load job now: \
                 curl -X POST http://{}/load",
                dir.display(),
                config.load.inbox.display(),
                config.admin_listen
            )
        } else {
            format!("cannot open the store in {}", dir.display())
        };
        Failure::from(anyhow::Error::new(e).context(why))
    })
}
