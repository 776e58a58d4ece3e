//! The terms of a record: the unit the access rules grant or withhold, and the unit a change
//! carries (an ändringspost names the terms it changes). Which category or switch grants a
//! term is `access`'s; where each term's elements sit in the record is `xml::shape`'s.

/// One term of a record: the unit the access rules grant or withhold and a change carries.
/// Where its elements are is `xml::shape` (Navet's `FolkbokforingspostTYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Term {
    /// `PersonId`: the identity number the record is about.
    PersonId,
    /// `Arendeuppgift@andringstidpunkt`: when the record last changed.
    Arendeuppgift,
    /// `HanvisningsPersonNr` and `Hanvisningar`: the old or new number after a change of number.
    Hanvisning,
    /// `Avregistrering`: code and date (the date of death for `AV`).
    Avregistrering,
    /// `Avregistrering/AntraffadDod`.
    AntraffadDod,
    /// `Namn`.
    Namn,
    /// `Folkbokforing` (län, kommun, fastighet, date) and `Adresser/Distrikt`.
    Folkbokforing,
    /// `Adresser/Folkbokforingsadress`.
    Folkbokforingsadress,
    /// `Adresser/SarskildPostadress`.
    SarskildPostadress,
    /// `Adresser/Utlandsadress`.
    Utlandsadress,
    /// `Adresser/UUID`: identifiers of fastighet, adress, lägenhet.
    AdressUuid,
    /// `Personpost/Fodelsedatum`.
    Fodelsedatum,
    /// `Fodelse/HemortSverige`: födelsehemort.
    Fodelsehemort,
    /// `Fodelse/OrtUtlandet`: födelseort and land abroad.
    FodelseortUtlandet,
    /// `Invandring/Invandringsdatum`.
    Invandring,
    /// `Adresser/Utlandsadress/Rostrattsdatum`.
    Rostratt,
    /// `Civilstand`.
    Civilstand,
    /// `Medborgarskap` (repeated).
    Medborgarskap,
    /// `Relationer`: make/maka/partner, vårdnadshavare (för), föräldrar, barn.
    Relationer,
    /// `Invandring/Uppehallsratt`.
    Uppehallsratt,
    /// `Invandring/NordisktPnr*`.
    NordisktPersonnummer,
    /// Kön and födelsetid, derived from the number (no element: read by search criteria).
    KonFodelsetid,
    /// `Taxering`: inkomst (sum) and fastighetsinnehav (folkreg's load files only).
    Taxering,
    /// `Historik` of folkbokföring (beside `Personpost`).
    Historik,
    /// A samordningsnummer's `PersonId/Identitetsstatus`, `Identitetsniva`, and
    /// `Samordningsnummeruppgifter`.
    Samordningsuppgifter,
    /// `Sekretessmarkering`, `SkyddadFolkbokforing` (and `Skyddsdatum` in load files).
    Skydd,
}

impl Term {
    /// Every term, in rendering order.
    pub const ALL: [Term; 26] = [
        Term::PersonId,
        Term::Arendeuppgift,
        Term::Hanvisning,
        Term::Avregistrering,
        Term::AntraffadDod,
        Term::Namn,
        Term::Folkbokforing,
        Term::Folkbokforingsadress,
        Term::SarskildPostadress,
        Term::Utlandsadress,
        Term::AdressUuid,
        Term::Fodelsedatum,
        Term::Fodelsehemort,
        Term::FodelseortUtlandet,
        Term::Invandring,
        Term::Rostratt,
        Term::Civilstand,
        Term::Medborgarskap,
        Term::Relationer,
        Term::Uppehallsratt,
        Term::NordisktPersonnummer,
        Term::KonFodelsetid,
        Term::Taxering,
        Term::Historik,
        Term::Samordningsuppgifter,
        Term::Skydd,
    ];

    fn bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The term with this [`Term::name`].
    pub fn from_name(name: &str) -> Option<Term> {
        Term::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The term's name in configuration (the register's `skyddade_termer`).
    pub fn name(self) -> &'static str {
        match self {
            Term::PersonId => "person_id",
            Term::Arendeuppgift => "arendeuppgift",
            Term::Hanvisning => "hanvisning",
            Term::Avregistrering => "avregistrering",
            Term::AntraffadDod => "antraffad_dod",
            Term::Namn => "namn",
            Term::Folkbokforing => "folkbokforing",
            Term::Folkbokforingsadress => "folkbokforingsadress",
            Term::SarskildPostadress => "sarskild_postadress",
            Term::Utlandsadress => "utlandsadress",
            Term::AdressUuid => "adress_uuid",
            Term::Fodelsedatum => "fodelsedatum",
            Term::Fodelsehemort => "fodelsehemort",
            Term::FodelseortUtlandet => "fodelseort_utlandet",
            Term::Invandring => "invandring",
            Term::Rostratt => "rostratt",
            Term::Civilstand => "civilstand",
            Term::Medborgarskap => "medborgarskap",
            Term::Relationer => "relationer",
            Term::Uppehallsratt => "uppehallsratt",
            Term::NordisktPersonnummer => "nordiskt_personnummer",
            Term::KonFodelsetid => "kon_fodelsetid",
            Term::Taxering => "taxering",
            Term::Historik => "historik",
            Term::Samordningsuppgifter => "samordningsuppgifter",
            Term::Skydd => "skydd",
        }
    }
}

/// A set of terms.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TermMask(u32);

impl TermMask {
    /// No term.
    pub const NONE: TermMask = TermMask(0);
    /// Every term: load files, and callers with every category and switch.
    pub const ALL: TermMask = TermMask((1 << Term::ALL.len()) - 1);

    /// The set of these terms.
    pub const fn of(terms: &[Term]) -> TermMask {
        let mut bits = 0;
        let mut i = 0;
        while i < terms.len() {
            bits |= 1 << (terms[i] as u8);
            i += 1;
        }
        TermMask(bits)
    }

    /// Whether the set holds this term.
    pub fn contains(self, t: Term) -> bool {
        self.0 & t.bit() != 0
    }

    /// The terms either set holds.
    pub fn union(self, other: TermMask) -> TermMask {
        TermMask(self.0 | other.0)
    }

    /// Whether the set holds every term of `other`.
    pub fn covers(self, other: TermMask) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The terms of this set that `other` does not hold.
    pub fn without(self, other: TermMask) -> TermMask {
        TermMask(self.0 & !other.0)
    }

    /// The terms both sets hold.
    pub fn intersect(self, other: TermMask) -> TermMask {
        TermMask(self.0 & other.0)
    }

    /// The set of the terms with these names ([`Term::name`]); unknown names are skipped.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> TermMask {
        names
            .into_iter()
            .filter_map(Term::from_name)
            .fold(TermMask::NONE, |m, t| TermMask(m.0 | t.bit()))
    }

    /// The terms in the set, in rendering order.
    pub fn terms(self) -> impl Iterator<Item = Term> {
        Term::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl std::fmt::Debug for TermMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.terms()).finish()
    }
}
