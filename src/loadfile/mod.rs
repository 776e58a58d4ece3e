//! Delivery files in Navet's avisering format (`Navetavisering.xsd`; WIRE.md, "Delivery
//! files"): what folkreg loads and what it delivers.
//!
//! Owns the file header ([`header::Aviseringsinformation`]: order, delivery, file of the
//! delivery, and what a load takes from it), the streaming reader (constant memory, `.xml.gz`
//! too, every record validated) and the writer. Each record
//! is read and written by [`crate::xml`], the one description of `Folkbokforingspost`; what a
//! record does (totalpost, ändringspost, borttag) is [`crate::model::change`].
//!
//! "Delivery" in this module's types is the word of the file format (`DeliveryHeader`); the
//! outbound avisering deliveries are `avisering`'s.
//!
//! Never logs values from a record: errors name the record's position and the element.

pub mod header;
pub mod reader;
pub(crate) mod split;
pub mod writer;

pub use reader::DeliveryReader;
pub use writer::DeliveryWriter;

/// The file-level vocabulary lives with the record format (`xml`), which reports errors
/// inside records in the same terms; re-exported here, where files are read and written.
pub use crate::xml::{DeliveryError, DeliveryErrorKind};

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

/// What a load takes from a file's header ([`header::Aviseringsinformation::load_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeader {
    /// `LopNr`: deltas apply in order, each the previous + 1.
    pub lopnummer: u64,
    /// FULL (a grunduttag) or DELTA.
    pub typ: DeliveryTyp,
    /// The delivery's `Effektueringsdatum`, midnight Swedish time (RFC 3339 with offset).
    pub skapad: String,
    /// `AntalPoster`: records in this file; must equal the count in the file.
    pub antal: u64,
}

/// The records of a delivery's file A and file B as one list to apply, as Navet's Bilaga 2
/// advises a receiver with one register: a person in both files gets file B's record when
/// both say the person is protected (the protection is being set: the fewer terms), file
/// A's otherwise (it is being lifted: every term); a person in one file only gets that
/// record. The order of file A is kept, file B's own records follow.
pub fn merge_files(
    mut a: Vec<crate::model::change::DeliveryRecord>,
    b: Vec<crate::model::change::DeliveryRecord>,
) -> Vec<crate::model::change::DeliveryRecord> {
    if b.is_empty() {
        return a;
    }
    let at: std::collections::HashMap<_, usize> = a
        .iter()
        .enumerate()
        .map(|(i, r)| (r.post.pnr(), i))
        .collect();
    for r in b {
        match at.get(&r.post.pnr()) {
            Some(&i) => {
                if a[i].post.is_protected() && r.post.is_protected() {
                    a[i] = r;
                }
            }
            None => a.push(r),
        }
    }
    a
}
