//! The vocabulary of a change to a record: what a record in a load file does (`Posttyp`), the
//! terms an ändringspost carries (a [`TermMask`]), the record with both
//! (`DeliveryRecord`), and how a change merges into a stored record (`merge`).
//!
//! Knows nothing of XML or files: `xml` reads and writes these, `loadfile` streams them,
//! `store` applies them.

use super::term::{Term, TermMask};
use super::Folkbokforingspost;

/// What a record in a delivery does: the ONE posttyp of load files, of the avisering notices
/// folkreg produces, and of an avisering order's choice (`totalpost` / `andringspost` in the
/// register). Stored in the feed by variant index: append, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Posttyp {
    /// `T` totalpost: the full record, replaces.
    #[serde(rename = "totalpost")]
    Total,
    /// `A` ändringspost: only changed term groups, merged into the stored record.
    #[serde(rename = "andringspost")]
    Andring,
    /// `B` borttag: the record is removed.
    #[serde(rename = "borttag")]
    Borttag,
    /// `F` flyttsignal (Navet 9.6.2, avisering only): number, marking, län `99`.
    #[serde(rename = "flyttsignal")]
    Flyttsignal,
}

impl Posttyp {
    /// Wire spelling.
    pub fn code(self) -> &'static str {
        match self {
            Posttyp::Total => "T",
            Posttyp::Andring => "A",
            Posttyp::Borttag => "B",
            Posttyp::Flyttsignal => "F",
        }
    }
}

/// Which file of a delivery (Navet's Bilaga 2): stored in the feed by variant index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Fil {
    /// Persons without protection (the only file of an order without fewer terms).
    A,
    /// Protected persons, with the fewer terms chosen.
    B,
}

/// The terms every ändringspost carries, whatever it changes: the number it is about and
/// the time of the change.
pub const ALWAYS_CARRIED: TermMask = TermMask::of(&[Term::PersonId, Term::Arendeuppgift]);

/// One record of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// What to do with it.
    pub posttyp: Posttyp,
    /// The record. For `Andring` only the terms in `present` are meaningful; for `Borttag`
    /// only the identity number.
    pub post: Folkbokforingspost,
    /// For `Andring`: the terms the record carries. `TermMask::ALL` for `Total`.
    pub present: TermMask,
}

/// Merges an ändringspost into a stored record: every carried term replaces the stored one
/// (a carried term without a value clears it).
pub fn merge(stored: &mut Folkbokforingspost, change: &Folkbokforingspost, present: TermMask) {
    let (s, c) = (&mut stored.personpost, &change.personpost);
    for term in present.terms() {
        match term {
            // The number is the record's key, never changed by a merge.
            Term::PersonId => {}
            Term::Arendeuppgift => stored.andringstidpunkt.clone_from(&change.andringstidpunkt),
            Term::Hanvisning => s.hanvisning.clone_from(&c.hanvisning),
            Term::Avregistrering => s.avregistrering.clone_from(&c.avregistrering),
            Term::AntraffadDod => s.antraffad_dod = c.antraffad_dod,
            Term::Namn => s.namn.clone_from(&c.namn),
            Term::Folkbokforing => s.folkbokforing.clone_from(&c.folkbokforing),
            Term::Folkbokforingsadress => s
                .adresser
                .folkbokforingsadress
                .clone_from(&c.adresser.folkbokforingsadress),
            Term::SarskildPostadress => s
                .adresser
                .sarskild_postadress
                .clone_from(&c.adresser.sarskild_postadress),
            Term::Utlandsadress => s
                .adresser
                .utlandsadress
                .clone_from(&c.adresser.utlandsadress),
            Term::AdressUuid => s.adresser.uuid.clone_from(&c.adresser.uuid),
            Term::Fodelsedatum => s.fodelse.fodelsedatum = c.fodelse.fodelsedatum,
            Term::Fodelsehemort => s
                .fodelse
                .hemort_sverige
                .clone_from(&c.fodelse.hemort_sverige),
            Term::FodelseortUtlandet => s.fodelse.ort_utlandet.clone_from(&c.fodelse.ort_utlandet),
            Term::Invandring => s.invandringsdatum = c.invandringsdatum,
            Term::Rostratt => s.rostratt_datum = c.rostratt_datum,
            Term::Civilstand => s.civilstand.clone_from(&c.civilstand),
            Term::Medborgarskap => s.medborgarskap.clone_from(&c.medborgarskap),
            Term::Relationer => s.relationer.clone_from(&c.relationer),
            Term::Uppehallsratt => s.uppehallsratt.clone_from(&c.uppehallsratt),
            Term::NordisktPersonnummer => {
                s.nordiskt_personnummer.clone_from(&c.nordiskt_personnummer)
            }
            // Derived from the number: nothing to merge.
            Term::KonFodelsetid => {}
            Term::Taxering => s.taxering.clone_from(&c.taxering),
            Term::Historik => s.historik.clone_from(&c.historik),
            Term::Samordningsuppgifter => s.samordning.clone_from(&c.samordning),
            Term::Skydd => {
                stored.sekretessmarkering = change.sekretessmarkering;
                stored.skyddad_folkbokforing = change.skyddad_folkbokforing;
                stored.skyddsdatum = change.skyddsdatum;
            }
        }
    }
}
