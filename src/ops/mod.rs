//! The SOAP operations, one file each. An operation takes a parsed request and one consistent
//! store snapshot and returns the records to answer with, or a fault.
//!
//! Operations never decide what a caller may see: they hand every record to `access`, the one
//! place with those rules, and answer with what it returns.

pub mod namnsokning;
pub mod personpost;

use crate::soap::Fault;
use crate::store::StoreError;

/// Why an operation did not answer with records.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The caller's request is refused.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// The store failed: an internal error, logged under the request id.
    #[error(transparent)]
    Store(#[from] StoreError),
}
