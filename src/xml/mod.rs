//! Record formats: the one description of `Folkbokforingspost` on the wire.
//!
//! Owns how a record looks as XML, in both directions: [`write`] renders it (SOAP answers,
//! load files, avisering notices and the term diff all use it), [`read`] turns a record's
//! element tree back into a validated [`DeliveryRecord`](crate::model::change::DeliveryRecord),
//! and [`error`] says what is wrong with one, by position and element path. The element order
//! is the one `wsdl/epersondata.xsd` fixes (WIRE.md, "Folkbokforingspost").
//!
//! Knows nothing of files, envelopes on a socket or the store: `loadfile` streams records
//! through here, `soap` wraps rendered records in answers. Must never put a value from a
//! record into an error or a log line.

pub mod error;
pub mod read;
pub mod shape;
pub mod write;

pub use error::{DeliveryError, DeliveryErrorKind};
