//! Load files in the Navet XML delivery format (WIRE.md, "Load file").
//!
//! Owns the delivery header, the record kinds (totalpost, ändringspost, borttag), how an
//! ändringspost merges into a stored record, the streaming reader (constant memory, `.xml.gz`
//! too, every record validated) and the writer. `xml` holds the one rendering of
//! `Folkbokforingspost` that load files and SOAP responses share.
//!
//! Never logs values from a record: errors name the record's position and the element.

pub mod reader;
pub mod writer;
pub mod xml;

pub use reader::DeliveryReader;
pub use writer::DeliveryWriter;

use crate::model::Folkbokforingspost;

/// The namespace of the delivery envelope (`Navetavisering`).
pub const DELIVERY_NS: &str = "urn:folkreg:leverans:1";

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

/// What a record in a delivery does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posttyp {
    /// `T` totalpost: the full record, replaces.
    Total,
    /// `A` ändringspost: only changed term groups, merged into the stored record.
    Andring,
    /// `B` borttag: the record is removed.
    Borttag,
}

impl Posttyp {
    /// Wire spelling.
    pub fn code(self) -> &'static str {
        match self {
            Posttyp::Total => "T",
            Posttyp::Andring => "A",
            Posttyp::Borttag => "B",
        }
    }
}

/// A top-level term group of a record. An ändringspost names the groups it carries; each
/// carried group replaces the stored one whole (an empty element clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Group {
    /// `Arendeuppgift` (change timestamp); always carried.
    Arendeuppgift,
    /// `HanvisningsPersonNr` (all of them).
    Hanvisning,
    /// `Avregistrering`.
    Avregistrering,
    /// `AntraffadDodDatum`.
    AntraffadDod,
    /// `Namn`.
    Namn,
    /// `Folkbokforing`.
    Folkbokforing,
    /// `Adresser`.
    Adresser,
    /// `Fodelse`.
    Fodelse,
    /// `Invandring`.
    Invandring,
    /// `RostrattDatum`.
    Rostratt,
    /// `Civilstand`.
    Civilstand,
    /// `Medborgarskap` (all of them).
    Medborgarskap,
    /// `Relationer`.
    Relationer,
    /// `Uppehallsratt`.
    Uppehallsratt,
    /// `NordisktPersonnummer`.
    NordisktPersonnummer,
    /// `Taxering`.
    Taxering,
    /// `Historik`.
    Historik,
    /// `Samordningsnummeruppgifter`.
    Samordning,
    /// `Sekretessmarkering`, `SkyddadFolkbokforing`, `Skyddsdatum` together.
    Skydd,
}

/// A set of [`Group`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSet(u32);

impl GroupSet {
    /// Every group.
    pub const ALL: GroupSet = GroupSet(u32::MAX);

    /// Adds a group.
    pub fn insert(&mut self, g: Group) {
        self.0 |= 1 << g as u8;
    }

    /// Whether the group is in the set.
    pub fn contains(self, g: Group) -> bool {
        self.0 & (1 << g as u8) != 0
    }
}

/// One record of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// What to do with it.
    pub posttyp: Posttyp,
    /// The record. For `Andring` only the groups in `present` are meaningful; for `Borttag`
    /// only the identity number.
    pub post: Folkbokforingspost,
    /// For `Andring`: the groups the record carries. `GroupSet::ALL` for `Total`.
    pub present: GroupSet,
}

/// Merges an ändringspost into a stored record: every carried group replaces the stored one.
pub fn merge(stored: &mut Folkbokforingspost, change: &Folkbokforingspost, present: GroupSet) {
    let (s, c) = (&mut stored.personpost, &change.personpost);
    let take = |g| present.contains(g);
    if take(Group::Arendeuppgift) {
        stored.andringstidpunkt.clone_from(&change.andringstidpunkt);
    }
    if take(Group::Hanvisning) {
        s.hanvisning.clone_from(&c.hanvisning);
    }
    if take(Group::Avregistrering) {
        s.avregistrering.clone_from(&c.avregistrering);
    }
    if take(Group::AntraffadDod) {
        s.antraffad_dod = c.antraffad_dod;
    }
    if take(Group::Namn) {
        s.namn.clone_from(&c.namn);
    }
    if take(Group::Folkbokforing) {
        s.folkbokforing.clone_from(&c.folkbokforing);
    }
    if take(Group::Adresser) {
        s.adresser.clone_from(&c.adresser);
    }
    if take(Group::Fodelse) {
        s.fodelse.clone_from(&c.fodelse);
    }
    if take(Group::Invandring) {
        s.invandringsdatum = c.invandringsdatum;
    }
    if take(Group::Rostratt) {
        s.rostratt_datum = c.rostratt_datum;
    }
    if take(Group::Civilstand) {
        s.civilstand.clone_from(&c.civilstand);
    }
    if take(Group::Medborgarskap) {
        s.medborgarskap.clone_from(&c.medborgarskap);
    }
    if take(Group::Relationer) {
        s.relationer.clone_from(&c.relationer);
    }
    if take(Group::Uppehallsratt) {
        s.uppehallsratt.clone_from(&c.uppehallsratt);
    }
    if take(Group::NordisktPersonnummer) {
        s.nordiskt_personnummer.clone_from(&c.nordiskt_personnummer);
    }
    if take(Group::Taxering) {
        s.taxering.clone_from(&c.taxering);
    }
    if take(Group::Historik) {
        s.historik.clone_from(&c.historik);
    }
    if take(Group::Samordning) {
        s.samordning.clone_from(&c.samordning);
    }
    if take(Group::Skydd) {
        stored.sekretessmarkering = change.sekretessmarkering;
        stored.skyddad_folkbokforing = change.skyddad_folkbokforing;
        stored.skyddsdatum = change.skyddsdatum;
    }
}

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
    /// The root is not `Navetavisering` in the delivery namespace.
    #[error("root element must be Navetavisering in namespace {DELIVERY_NS}")]
    Root,
    /// A header attribute is missing or invalid.
    #[error("header attribute {0} is missing or invalid")]
    Header(&'static str),
    /// `Antal` differs from the number of records.
    #[error("header Antal is {declared} but the file has {found} records")]
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
