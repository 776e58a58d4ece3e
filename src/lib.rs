//! folkreg: Swedish population-register data over SOAP and mutual TLS, wire-compatible with
//! Skatteverket's Navet ePersondata V2.
//!
//! # Layout
//! - [`logging`]: ordinary logs (tracing) — format, level, and what must never be in them.
//! - [`config`]: typed configuration, defaults, validation with file:line errors.
//! - [`pnr`]: identity numbers — parse, validate, normalise to 12 digits.
//! - [`model`]: the person record (`Folkbokforingspost`) and its compact store encoding;
//!   `model::change`: what a record in a load file does (totalpost, ändringspost, borttag),
//!   its term groups, and how a change merges into a stored record.
//! - [`refdata`]: the 21 län and 290 kommuner, embedded.
//! - [`xml`]: record formats — the one description of `Folkbokforingspost` on the wire:
//!   `xml::write` (answers, load files, avisering), `xml::read` (a record's element tree →
//!   a validated record), and the errors that name a record and element.
//! - [`loadfile`]: load files (Navet XML delivery format): header, streaming reader over
//!   `.xml`/`.xml.gz`, writer; each record through `xml`.
//! - `dev` (feature `dev-tools`, on by default): dev tooling outside the service's path —
//!   `dev::generate`, the deterministic synthetic population and its delta deliveries (also
//!   the demo population at first start), and `dev::devcerts`, the development PKI.
//! - [`store`]: the sled store — generations, indexes, consistent snapshot reads.
//! - [`load`]: the one load path (CLI, first start, daily job); `load::job`: the daily
//!   job over the inbox — archive/rejected, the load lock, its state file.
//! - [`search`]: namnsökning semantics — folding, patterns, the match on a record.
//! - [`schedule`]: maintenance windows and the daily load time, on an injectable clock.
//! - [`register`]: organisations, certificates, categories and switches.
//! - [`tls`]: rustls configuration, the client verifier, peer identity.
//! - [`watch`]: reload when the TLS files or the register change (polled, debounced).
//! - [`expiry`]: what expires when (server certificate, CAs, CRLs, client certificates).
//! - [`soap`]: envelopes in, answers and faults out (Navet's wire format).
//! - [`ops`]: one file per SOAP operation.
//! - [`access`]: what a caller may see — the one place with those rules.
//! - [`avisering`]: delivery orders — ändringsavisering (`order`, `select`: what each load's
//!   changes mean for an order), urval / slumpmässigt urval / infil (`urval`), and the feed
//!   of numbered deliveries both are fetched from (`feed`, `hamtaAvisering`).
//! - [`http`]: the SOAP listener — accept, TLS, limits, routing, graceful shutdown.
//! - [`admin`]: the admin listener — health, liveness, readiness, metrics, reload, load now.
//! - [`metrics`]: the Prometheus metrics, registered once.
//! - [`server`]: `folkreg serve` — state built once, listeners, signals.
//! - [`audit`]: the audit log — one JSON line per served request, synced before the answer
//!   leaves (group commit), rotated by size and Stockholm day; search for the DPO.
//!
//! A request flows one way: TLS handshake (client verifier) → peer identity → register entry
//! → SOAP parse → operation → store snapshot → access → render → audit → response.
//!
//! A load flows file → `loadfile::reader` (validated records, each by `xml::read`) → `load`
//! → `store` (a new generation for a full delivery, one atomic batch for a delta).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod admin;
pub mod app;
pub mod audit;
pub mod avisering;
pub mod clock;
pub mod config;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod expiry;
pub mod fsutil;
pub mod http;
pub mod ids;
pub mod load;
pub mod loadfile;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod refdata;
pub mod register;
pub mod schedule;
pub mod search;
pub mod server;
pub mod soap;
pub mod store;
pub mod tls;
pub mod watch;
pub mod xml;
