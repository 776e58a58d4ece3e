//! The SOAP operations, one file each (mini-redis's `cmd/`): each reads its own request from
//! the envelope's operation element (`parse`) and owns its flow (`apply`) — store snapshot,
//! access, rendering — against a [`Context`] lent by the application.
//!
//! Operations never decide what a caller may see: they hand every record to `access`, the one
//! place with those rules, and answer with what it returns. Who the caller is and which order
//! it names is settled before, once, by [`caller::Caller::check`].

pub mod avisering_fil;
pub mod caller;
pub mod hamta_avisering;
pub mod lamna_infil;
pub mod namnsokning;
pub mod personpost;
pub mod personsok;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::avisering::feed::Feed;
use crate::soap::request::{self, Bestallning, Element, MAX_ELEMENTS, MAX_INFIL_PAGE};
use crate::soap::service::{Service, Version};
use crate::soap::Fault;
use crate::store::{Store, StoreError};

pub use caller::Caller;
pub use hamta_avisering::HamtaAvisering;
pub use lamna_infil::LamnaInfil;
pub use namnsokning::Namnsokning;
pub use personpost::Personpost;

/// One parsed request: which operation, with its typed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `personpostXML`.
    Personpost(Personpost),
    /// `namnsokningXML`.
    Namnsokning(Namnsokning),
    /// `hamtaAvisering`.
    HamtaAvisering(HamtaAvisering),
    /// `lamnaInfil`.
    LamnaInfil(LamnaInfil),
}

impl Operation {
    /// Parses a request body (at most [`MAX_ELEMENTS`] elements).
    pub fn parse(body: &[u8]) -> Result<Operation, Fault> {
        Operation::from_element(&request::operation(body, MAX_ELEMENTS)?)
    }

    /// [`Operation::parse`] for an infil page, whose element count is bounded by
    /// [`MAX_INFIL_PAGE`].
    pub fn parse_infil(body: &[u8]) -> Result<Operation, Fault> {
        Operation::from_element(&request::operation(body, MAX_INFIL_PAGE + 20)?)
    }

    /// The operation named by the Body's element, parsed by that operation.
    fn from_element(op: &Element) -> Result<Operation, Fault> {
        match op.local() {
            "PersonpostRequest" => Personpost::parse(op).map(Operation::Personpost),
            "NamnsokningRequest" => Namnsokning::parse(op).map(Operation::Namnsokning),
            "HamtaAviseringRequest" => HamtaAvisering::parse(op).map(Operation::HamtaAvisering),
            "LamnaInfilRequest" => LamnaInfil::parse(op).map(Operation::LamnaInfil),
            _ => Err(request::bad("unknown operation element in Body")),
        }
    }

    /// The service that answers it.
    pub fn service(&self) -> Service {
        match self {
            Operation::Personpost(_) => Service::Personpost,
            Operation::Namnsokning(_) => Service::Namnsokning,
            Operation::HamtaAvisering(_) => Service::HamtaAvisering,
            Operation::LamnaInfil(_) => Service::LamnaInfil,
        }
    }

    /// The order the request names.
    pub fn bestallning(&self) -> &Bestallning {
        match self {
            Operation::Personpost(o) => &o.bestallning,
            Operation::Namnsokning(o) => &o.bestallning,
            Operation::HamtaAvisering(o) => &o.bestallning,
            Operation::LamnaInfil(o) => &o.bestallning,
        }
    }

    /// Notes in the audit trail what the request itself names (order id, numbers asked for),
    /// before anything is checked: a refused request is audited with what it asked.
    pub fn note(&self, trail: &mut Trail) {
        trail.bestallningsid = self.bestallning().bestallnings_id.to_string();
        match self {
            Operation::Personpost(p) => trail.asked.push(p.person_id.as_str().to_owned()),
            // The numbers an infil page delivers are personal data received: audited as asked.
            Operation::LamnaInfil(i) => trail
                .asked
                .extend(i.personer.iter().map(|p| p.as_str().to_owned())),
            Operation::Namnsokning(_) | Operation::HamtaAvisering(_) => {}
        }
    }

    /// Runs the operation for `caller` and renders its answer.
    pub async fn apply(
        self,
        cx: &Context<'_>,
        caller: &Caller,
        trail: &mut Trail,
    ) -> Result<Vec<u8>, Fault> {
        let answer = match self {
            Operation::Personpost(o) => o.apply(cx, caller, trail),
            Operation::Namnsokning(o) => o.apply(cx, caller, trail).await,
            Operation::HamtaAvisering(o) => o.apply(cx, caller, trail).await,
            Operation::LamnaInfil(o) => o.apply(cx, caller).await,
        };
        answer.map_err(|e| e.into_fault(cx.request_id))
    }
}

/// What the operations work on, lent by the application for one request.
pub struct Context<'a> {
    /// The store (records and the avisering feed's database).
    pub store: &'a Arc<Store>,
    /// The avisering and urval deliveries.
    pub feed: &'a Arc<Feed>,
    /// The request's "now", from the application's clock.
    pub now: DateTime<Utc>,
    /// Most hits a namnsökning answers (`[soap] max_hits`).
    pub max_hits: usize,
    /// Records per `hamtaAvisering` page (`[avisering] page_size`).
    pub page_size: u64,
    /// Ties a server fault to its log line.
    pub request_id: RequestId,
    /// The version the request's path names: its answer declares that version's WSDL
    /// namespace (WIRE.md, "Answers").
    pub version: Version,
}

impl Context<'_> {
    /// Runs `work` on the feed (and the store it lives in) off the async workers.
    async fn on_feed<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Feed, &Store) -> Result<T, OpError> + Send + 'static,
    ) -> Result<T, OpError> {
        let feed = self.feed.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&feed, &store))
            .await
            .map_err(|_| OpError::Panicked)?
    }
}

/// The caller's delivery order, asked for its file `fil`: a fault if it has no file B.
/// (`hamtaAvisering` pages and delivery files alike.)
fn delivery_order_with(
    caller: &Caller,
    fil: crate::avisering::select::Fil,
) -> Result<crate::avisering::OrderRef<'_>, OpError> {
    let order = caller.delivery_order()?;
    if fil == crate::avisering::select::Fil::B && !order.split() {
        return Err(Fault::BadRequest(
            "this order has no file B (it chose no fewer terms for protected persons)".into(),
        )
        .into());
    }
    Ok(order)
}

/// Delivery `lopnummer` of the order `key` as its receiver asks for it (pages or file): every
/// earlier delivery is acknowledged by the asking (DOMAIN.md §5); `None` while it is not
/// produced yet; fault 1203 once removed.
fn asked_delivery(
    feed: &Feed,
    key: &crate::avisering::feed::OrderKey,
    lopnummer: u64,
    now: DateTime<Utc>,
) -> Result<Option<crate::avisering::feed::Header>, OpError> {
    let Some(cursor) = feed.cursor(key)? else {
        return Ok(None);
    };
    feed.acknowledge(key, lopnummer - 1, now)?;
    if lopnummer >= cursor.next_lopnummer {
        return Ok(None);
    }
    Ok(Some(
        feed.header(key, lopnummer)?
            .ok_or(Fault::DeliveryRemoved(lopnummer))?,
    ))
}

/// Why an operation did not answer.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The caller's request is refused.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// The store failed: an internal error, logged under the request id.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Work off the async workers did not finish (a panic): an internal error.
    #[error("the operation's blocking work did not finish")]
    Panicked,
}

impl OpError {
    /// The fault the caller gets — the one map from internal failures to fault 1901, which logs
    /// the failure under the request id and tells the caller only that id.
    pub fn into_fault(self, id: RequestId) -> Fault {
        match self {
            OpError::Fault(f) => f,
            OpError::Store(e) => {
                tracing::error!(request_id = %id, error = %e, "store failure");
                Fault::Internal(id.to_string())
            }
            OpError::Panicked => {
                tracing::error!(request_id = %id, "blocking work of a request panicked");
                Fault::Internal(id.to_string())
            }
        }
    }
}

/// What the audit line of one request records, filled in as the request is understood.
#[derive(Debug, Default)]
pub struct Trail {
    /// The request's `BestallningsId`, once parsed.
    pub bestallningsid: String,
    /// Identity numbers the request named.
    pub asked: Vec<String>,
    /// Identity numbers whose records are in the answer.
    pub returned: Vec<String>,
    /// Hits a search saw when it answered none: for fault 1103 (too many hits) the store stops
    /// at the first visible hit past the limit, so this is limit + 1 — "more than limit".
    pub hits_seen: Option<u32>,
    /// A SPAR call's `Identifieringsinformation`, once parsed.
    pub spar: Option<crate::audit::SparCaller>,
}

impl Trail {
    /// Persons found, for the audit line: [`Trail::hits_seen`] when a search refused its
    /// hits, else the number of records in the answer.
    pub fn hits(&self) -> u32 {
        self.hits_seen
            .unwrap_or_else(|| u32::try_from(self.returned.len()).unwrap_or(u32::MAX))
    }

    /// The audit outcome of an answer with data: [`crate::audit::OUTCOME_NOT_FOUND`] when it
    /// carries no person and saw none (an answer over a cap saw them), else
    /// [`crate::audit::OUTCOME_OK`].
    pub fn found(&self) -> &'static str {
        if self.returned.is_empty() && self.hits_seen.is_none() {
            crate::audit::OUTCOME_NOT_FOUND
        } else {
            crate::audit::OUTCOME_OK
        }
    }

    /// Notes the records an answer carries.
    pub fn answered(&mut self, posts: &[crate::access::View]) {
        self.returned = posts
            .iter()
            .map(|v| v.post.pnr().as_str().to_owned())
            .collect();
    }
}

/// A random id per request: in the audit line, in the fault text of an internal error and in
/// the log lines about the request, so they can be joined without personal data in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub u64);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> RequestId {
        use rand::Rng;
        RequestId(rand::thread_rng().gen())
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests;
