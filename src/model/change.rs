//! The vocabulary of a change to a record: what a record in a load file does (`Posttyp`), the
//! term groups an ändringspost carries (`Group`, `GroupSet`), the record with both
//! (`DeliveryRecord`), and how a change merges into a stored record (`merge`).
//!
//! Knows nothing of XML or files: `xml` reads and writes these, `loadfile` streams them,
//! `store` applies them.

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

/// A term group of a record: the unit of change. An ändringspost names the groups it carries
/// (`Grupper`); each carried group replaces the stored one whole (a carried group without a
/// value clears it). Which elements belong to which group is `xml::shape`.
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

impl Group {
    /// Every group, in the record's order.
    pub const ALL: [Group; 19] = [
        Group::Arendeuppgift,
        Group::Hanvisning,
        Group::Avregistrering,
        Group::AntraffadDod,
        Group::Namn,
        Group::Folkbokforing,
        Group::Adresser,
        Group::Fodelse,
        Group::Invandring,
        Group::Rostratt,
        Group::Civilstand,
        Group::Medborgarskap,
        Group::Relationer,
        Group::Uppehallsratt,
        Group::NordisktPersonnummer,
        Group::Taxering,
        Group::Historik,
        Group::Samordning,
        Group::Skydd,
    ];

    /// Its name in a load file's `Grupper` attribute.
    pub fn name(self) -> &'static str {
        match self {
            Group::Arendeuppgift => "Arendeuppgift",
            Group::Hanvisning => "Hanvisning",
            Group::Avregistrering => "Avregistrering",
            Group::AntraffadDod => "AntraffadDod",
            Group::Namn => "Namn",
            Group::Folkbokforing => "Folkbokforing",
            Group::Adresser => "Adresser",
            Group::Fodelse => "Fodelse",
            Group::Invandring => "Invandring",
            Group::Rostratt => "Rostratt",
            Group::Civilstand => "Civilstand",
            Group::Medborgarskap => "Medborgarskap",
            Group::Relationer => "Relationer",
            Group::Uppehallsratt => "Uppehallsratt",
            Group::NordisktPersonnummer => "NordisktPersonnummer",
            Group::Taxering => "Taxering",
            Group::Historik => "Historik",
            Group::Samordning => "Samordning",
            Group::Skydd => "Skydd",
        }
    }
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

    /// The names of its groups, space-separated (a load file's `Grupper`).
    pub fn names(self) -> String {
        let names: Vec<&str> = Group::ALL
            .into_iter()
            .filter(|g| self.contains(*g))
            .map(Group::name)
            .collect();
        names.join(" ")
    }

    /// The set named by space-separated group names; `None` if one is not a group.
    pub fn from_names(names: &str) -> Option<GroupSet> {
        let mut set = GroupSet::default();
        for n in names.split_ascii_whitespace() {
            set.insert(Group::ALL.into_iter().find(|g| g.name() == n)?);
        }
        Some(set)
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
