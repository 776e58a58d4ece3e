//! Dev tooling, out of the service's path: the deterministic synthetic population
//! ([`generate`], `folkreg generate`, also the demo population an empty store gets at first
//! start) and the development PKI ([`devcerts`], `folkreg dev-certs`).
//!
//! Compiled only with the cargo feature `dev-tools` (on by default, so the binary, tests and
//! benches have it); a build without it serves only data it was given. Nothing in the service
//! imports this module: the command line hands the demo population ([`demo::seed`]) to the
//! application at start, and runs `generate` and `dev-certs`; it may
//! use anything below the application floor, and must never be needed to answer a request.

pub mod demo;
pub mod devcerts;
pub mod generate;
