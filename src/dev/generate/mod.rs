//! The deterministic synthetic population and its deliveries (`folkreg generate`).
//!
//! Looks like Sweden: the real 21 län and 290 kommuner (weighted towards the big cities),
//! postnummer and postort consistent with the kommun, common Swedish names with a realistic
//! skew, households with marriages, registered partnerships, children, vårdnadshavare and
//! deceased parents, two mothers by partner adoption. Mixed in at fixed shares (per 10,000):
//! emigrated 100, AN/OB/TA/FI 5 each, samordningsnummer 100 (every identitetsstatus),
//! tilldelat personnummer 20, number changes 10 (two-way hänvisning), changes of legal
//! gender 3 (one-way), sekretessmarkering about 30, skyddad folkbokföring about 5; about 9 %
//! foreign citizens (up to three citizenships, some Nordic numbers and uppehållsrätt), 0.6 %
//! names longer than 36 characters with an aviseringsnamn.
//!
//! Everything is a function of (persons, seed, today): the same arguments give the same file.

mod delta;
mod files;
mod names;
mod population;
mod split;

pub use delta::delta;
pub use files::{
    write_delta, write_delta_files, write_full, write_full_files, write_full_own, GenerateError,
    Written,
};
pub use population::{population, Population, MAX_PERSONS};

#[cfg(test)]
mod tests;
