//! Load files in the Navet XML delivery format (WIRE.md, "Load file").
//!
//! Owns the delivery header (`Navetavisering`: löpnummer, FULL or DELTA, count), the streaming
//! reader (constant memory, `.xml.gz` too, every record validated) and the writer. Each record
//! is read and written by [`crate::xml`], the one description of `Folkbokforingspost`; what a
//! record does (totalpost, ändringspost, borttag) is [`crate::model::change`].
//!
//! "Delivery" in this module's types is the word of the file format (`DeliveryHeader`); the
//! outbound avisering deliveries are `avisering`'s.
//!
//! Never logs values from a record: errors name the record's position and the element.

pub mod reader;
pub mod writer;

pub use reader::DeliveryReader;
pub use writer::DeliveryWriter;

/// The file-level vocabulary lives with the record format (`xml`), which reports errors
/// inside records in the same terms; re-exported here, where files are read and written.
pub use crate::xml::{DeliveryError, DeliveryErrorKind, DELIVERY_NS};

/// FULL replaces the whole store; DELTA applies changes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryTyp {
    /// Every record of the register; replaces the store.
    Full,
    /// Changes since the previous delivery.
    Delta,
}

impl DeliveryTyp {
    /// Wire spelling.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryTyp::Full => "FULL",
            DeliveryTyp::Delta => "DELTA",
        }
    }
}

/// The attributes of `Navetavisering`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeader {
    /// Löpnummer: deltas apply in order, each the previous + 1.
    pub lopnummer: u64,
    /// FULL or DELTA.
    pub typ: DeliveryTyp,
    /// When the delivery was made (RFC 3339 with offset), kept as written.
    pub skapad: String,
    /// Number of records; must equal the count in the file.
    pub antal: u64,
}
