//! folkreg: Swedish population-register data over SOAP and mutual TLS, wire-compatible with
//! Skatteverket's Navet ePersondata V2, V3 and V4 (na_webservices_xmls 7_2_28).
//!
//! # Layout
//!
//! The house has floors. A module imports only from its own floor or the floors below it,
//! never from above, and there is no import circle; `layout_tests` checks both against the
//! table below on every `cargo test`. Top to bottom:
//!
//! 1. **Listeners** (transport only)
//!    - [`server`]: the lifecycle — `run(listeners, state, shutdown)` for `folkreg serve` and
//!      the tests alike; signals; background tasks (daily load, expiry warnings, watch).
//!    - [`http`]: the SOAP listener — accept, TLS, peer identity, limits, body, route by
//!      path; writes the audit line before the answer leaves.
//!    - [`admin`]: the admin listener — health, liveness, readiness, metrics, reload, load.
//!    - [`watch`]: reload when the TLS files, the register or the config change.
//! 2. **Application**
//!    - [`app`]: `AppState`, built once; who may call, whether the service is closed,
//!      all-or-nothing reload, the nightly run (load → avisering → urval), the ops context.
//!    - [`metrics`]: the Prometheus metrics, registered once; state gauges from a snapshot
//!      the application hands in.
//! 3. **Operations** — [`ops`]: one file per SOAP operation (personpostXML, namnsokningXML,
//!    hamtaAvisering, lamnaInfil, SPAR's PersonSok), each parsing its own request and owning
//!    its flow;
//!    `ops::caller` makes the OrgNr / BestallningsId checks once; one error map to faults.
//! 4. **Wire** — [`soap`]: envelopes in (with limits), answers and faults out, the service
//!    table and its WSDLs (Navet's SOAP 1.1 wire format); [`spar`]: SPAR's PersonSök 2021.1
//!    (its request, its record `AviseringPostTYPE`, its answer and schema set).
//! 5. **Domain services**
//!    - [`load`]: the one load plan (`load::plan`) and path (`load_file`); `load::job`: the
//!      daily job over the inbox — archive/rejected, the load lock, its state file.
//!    - [`avisering`]: ändringsavisering (`select`: what each load's changes mean for an
//!      order), urval / slumpmässigt urval / infil (`urval`), and the feed of numbered
//!      deliveries both are fetched from (`feed`).
//! 6. **Registry and configuration**
//!    - [`register`]: organisations, certificates, bestallningar, and their avisering and
//!      urval orders (`register::orders`, `register::urval_orders`); `register check`/edits.
//!    - [`config`]: typed configuration — parsed once (windows, daily time, TLS files),
//!      defaults, errors with file:line.
//!    - [`tls`]: rustls configuration, the client verifier, peer identity, hot reload, the CRL
//!      and client-certificate policy.
//!    - [`expiry`]: what expires when (server certificate, CAs, CRLs, client certificates).
//! 7. **Storage**
//!    - [`store`]: segment files plus a sled overlay — generations, indexes, snapshots.
//!    - [`audit`]: one JSON line per answered request, synced before the answer leaves;
//!      rotation; search for the DPO.
//!    - [`fsutil`]: atomic file replacement and directory sync, written once.
//! 8. **Record formats**
//!    - [`xml`]: the one description of `Folkbokforingspost` on the wire — `xml::write`
//!      (answers, load files, avisering), `xml::read` (element tree → validated record).
//!    - [`loadfile`]: load files — header, streaming reader over `.xml`/`.xml.gz`, writer.
//! 9. **Rules**
//!    - [`access`]: what a caller may see — categories, switches, the term table; the one
//!      place with those rules.
//!    - [`search`]: namnsökning semantics — folding, patterns, the match on a record.
//!    - [`schedule`]: maintenance windows and the daily load time.
//! 10. **Vocabulary**
//!    - [`clock`]: `Clock` (now, sleep until), Swedish local time, the one parser of written
//!      instants.
//!    - [`ids`]: `Pnr`, `OrgNr`, `BestallningsId` — parsed once at the edge.
//!    - [`model`]: the person record and its store encoding; `model::change`: what a record
//!      of a load file does to a stored one.
//!    - [`refdata`]: the 21 län and 290 kommuner, embedded. [`logging`]: the log format and
//!      what must never be in it.
//!
//! **Tools**, outside the house: `dev` (cargo feature `dev-tools`, on by default) — the
//! synthetic population generator, the demo population, the development PKI. Nothing above
//! imports it; the command line hands the demo population to [`app`] as its `Seed`.
//!
//! A request flows one way: TLS handshake (client verifier) → peer identity → register entry
//! (`app`) → body → `ops::Operation::parse` → `ops::Caller::check` → the operation (store
//! snapshot → access → `xml::write`) → audit → response.
//!
//! A load flows file → `load::plan` → `loadfile` reader (each record through `xml::read`) →
//! `store` (a new generation for a full delivery, one atomic batch for a delta) → the
//! avisering production.

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
pub mod spar;
pub mod store;
pub mod tls;
pub mod watch;
pub mod xml;

#[cfg(test)]
mod layout_tests;
