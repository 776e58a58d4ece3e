//! What is wrong with a file in the record format: where (record position, element path)
//! and what. Shared by the record reader ([`super::read`]) and the load-file envelope
//! (`loadfile`), so a report reads the same wherever it was found.
//!
//! Never carries a value from the file.

/// Where in a delivery something is wrong: record position (1-based) and element path.
#[derive(Debug, thiserror::Error)]
#[error("{}{}{kind}", .record.map(|r| format!("record {r}: ")).unwrap_or_default(), .element.as_ref().map(|e| format!("element {e}: ")).unwrap_or_default())]
pub struct DeliveryError {
    /// 1-based position of the record in the file, if inside one.
    pub record: Option<u64>,
    /// Element path inside the record (e.g. `Personpost/Namn/Fornamn`), if known.
    pub element: Option<String>,
    /// What is wrong.
    pub kind: DeliveryErrorKind,
}

/// What is wrong with a delivery. Never carries a value from the file.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryErrorKind {
    /// Reading the file failed (including a truncated gzip stream).
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The XML is not well-formed, or not UTF-8.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// DOCTYPE or entity declarations are refused.
    #[error("DOCTYPE and entity declarations are not allowed")]
    Doctype,
    /// The root is not `Navetavisering` (in no namespace, as Navet's schema has it).
    #[error("root element must be Navetavisering, in no namespace")]
    Root,
    /// A header element (`Aviseringsinformation`) is missing or invalid.
    #[error("header element {0} is missing or invalid")]
    Header(&'static str),
    /// `AntalPoster` differs from the number of records.
    #[error("header AntalPoster is {declared} but the file has {found} records")]
    Antal {
        /// As declared.
        declared: u64,
        /// As counted.
        found: u64,
    },
    /// An element that the format does not have here.
    #[error("unexpected element")]
    UnexpectedElement,
    /// A required element is missing.
    #[error("required element {0} is missing")]
    Missing(&'static str),
    /// A value is invalid; the text says how (never the value itself).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A text value longer than the format allows.
    #[error("text longer than {0} characters")]
    TooLong(usize),
}

impl DeliveryError {
    /// An error outside any record.
    pub fn file(kind: DeliveryErrorKind) -> DeliveryError {
        DeliveryError {
            record: None,
            element: None,
            kind,
        }
    }
}
