//! The demo population an empty store gets at the first `folkreg serve` (the README's one
//! command): deterministic, the same on every machine, generated and loaded through the one
//! load path. Given to the application as its [`crate::app::Seed`] by the command line.

use crate::config::Config;
use crate::store::Store;

/// Persons in the built-in demo population: enough for realistic searches and every record
/// kind, small enough to generate and load in a few seconds on first start.
pub const DEMO_PERSONS: usize = 12_000;
/// Seed of the demo population (the same data on every machine).
pub const DEMO_SEED: u64 = 20261123;
/// The demo population's "today", fixed so the data is the same whenever it is made.
pub const DEMO_TODAY: (i32, u32, u32) = (2026, 11, 1);

/// Why the demo population could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The folder for its file cannot be made.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The generator failed.
    #[error("{0}")]
    Generate(#[from] super::generate::GenerateError),
    /// The load refused it or the store failed.
    #[error("{0}")]
    Load(#[from] crate::load::LoadError),
}

/// The demo population's "today" as a date.
pub fn today() -> chrono::NaiveDate {
    let (y, m, d) = DEMO_TODAY;
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Generates the demo population as a FULL delivery under `data/demo/` and loads it into
/// `store` ([`crate::app::Seed`]).
pub fn seed(
    config: &Config,
    store: &Store,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    load(config, store).map_err(Into::into)
}

fn load(config: &Config, store: &Store) -> Result<(), DemoError> {
    let dir = config.data_dir.join("demo");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("leverans-demo-FULL.xml.gz");
    tracing::info!(
        persons = DEMO_PERSONS,
        "empty store: generating and loading the demo population"
    );
    // folkreg's own load file: with taxering and the protection dates, which SPAR answers.
    super::generate::write_full_own(DEMO_PERSONS, DEMO_SEED, today(), &file)?;
    crate::load::load_file(store, &file, false)?;
    Ok(())
}
