//! The person record: `Folkbokforingspost` and its parts (Navet chapter 8, DOMAIN.md §2).
//!
//! Owns the typed record every other module works with and its compact store encoding
//! ([`encode`]/[`decode`], a schema version byte followed by postcard). It never decides who
//! may see what (that is `access`) and never touches XML (that is `xml`).
//!
//! Field names follow the register's Swedish terms, ASCII-folded, as on the wire.

pub mod change;
mod codes;
mod datum;
pub mod term;

pub use codes::{AvregistreringsorsakKod, CivilstandKod, Folkbokforingstyp, Kon, Relationstyp};
pub use datum::{Datum, DatumError};

use serde::{Deserialize, Serialize};

use crate::ids::pnr::Pnr;

/// Version of the store encoding. Bump it and add a migration arm in [`decode`] when a field
/// is added or changed; records written by older versions stay readable.
pub const SCHEMA_VERSION: u8 = 1;

/// One person as the register holds it: the unit of lookup, load and delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folkbokforingspost {
    /// When the record last changed in the source register (`Arendeuppgift@andringstidpunkt`),
    /// `YYYYMMDDhhmmss`.
    pub andringstidpunkt: String,
    /// The person's terms.
    pub personpost: Personpost,
    /// Sekretessmarkering (8.4): a warning that a careful secrecy review is needed.
    pub sekretessmarkering: bool,
    /// Skyddad folkbokföring (8.10): registered in another kommun than where the person lives.
    pub skyddad_folkbokforing: bool,
    /// The date the protection (either kind) was registered.
    pub skyddsdatum: Option<Datum>,
}

impl Folkbokforingspost {
    /// The record's identity number.
    pub fn pnr(&self) -> Pnr {
        self.personpost.person_id
    }

    /// Protected = sekretessmarkering and/or skyddad folkbokföring; both are treated alike.
    pub fn is_protected(&self) -> bool {
        self.sekretessmarkering || self.skyddad_folkbokforing
    }
}

/// How the identity number is delivered (Navet 8.1–8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Identitetstyp {
    /// An ordinary personnummer of a person who is or was folkbokförd (`PersonNr`).
    Personnummer,
    /// A samordningsnummer (`TilldelatPersonNrSamordningsNr`).
    Samordningsnummer,
    /// A personnummer assigned without folkbokföring before 2000 (`TilldelatPersonNrSamordningsNr`);
    /// only number and name are held.
    TilldelatPersonnummer,
}

/// The terms of one person (`Personpost`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personpost {
    /// The identity number this record is stored under.
    pub person_id: Pnr,
    /// Which field the number is delivered in.
    pub identitetstyp: Identitetstyp,
    /// Hänvisningspersonnummer (8.5): on an old number the new one; on a new number the old one
    /// (not after change of legal gender).
    pub hanvisning: Vec<Pnr>,
    /// Avregistrering (8.7).
    pub avregistrering: Option<Avregistrering>,
    /// Anträffad död (8.9): the date a person was found dead when no certain date of death is known.
    pub antraffad_dod: Option<Datum>,
    /// Namn (8.8).
    pub namn: Namn,
    /// Folkbokföring (8.11, 8.14).
    pub folkbokforing: Option<Folkbokforing>,
    /// Addresses and unique identifiers (8.12, 8.13, 8.15, 8.17, 8.18).
    pub adresser: Adresser,
    /// Födelse: födelsedatum (8.6), födelsehemort (8.21), födelseort (8.22).
    pub fodelse: Fodelse,
    /// Invandringsdatum (8.23).
    pub invandringsdatum: Option<Datum>,
    /// Datum för rösträtt (8.19).
    pub rostratt_datum: Option<Datum>,
    /// Civilstånd (8.20).
    pub civilstand: Option<Civilstand>,
    /// Medborgarskap (8.31): Swedish alone, or up to three foreign.
    pub medborgarskap: Vec<Medborgarskap>,
    /// Relations (8.26–8.30).
    pub relationer: Vec<Relation>,
    /// Uppehållsrätt (8.24), delivered only with the `sarskilda_uppgifter` switch.
    pub uppehallsratt: Option<Uppehallsratt>,
    /// Nordiskt personnummer (8.25), delivered only with the `sarskilda_uppgifter` switch.
    pub nordiskt_personnummer: Option<NordisktPersonnummer>,
    /// Taxering terms (SPAR): taxerad inkomst and fastighetsinnehav.
    pub taxering: Option<Taxering>,
    /// Historik of folkbokföring (8.32), newest first.
    pub historik: Vec<HistorikPost>,
    /// Samordningsnummer terms (8.3 table); only for samordningsnummer.
    pub samordning: Option<Samordningsuppgifter>,
}

/// Avregistrering (8.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avregistrering {
    /// Why the person is deregistered.
    pub orsak: AvregistreringsorsakKod,
    /// Date of the latest change.
    pub datum: Datum,
    /// Date of death, for `AV`.
    pub avliden_datum: Option<Datum>,
}

/// Namn (8.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namn {
    /// Two-digit code saying which förnamn are tilltalsnamn (e.g. `20`, `12`, `23`).
    pub tilltalsnamnsmarkering: Option<u8>,
    /// Förnamn, space-separated.
    pub fornamn: Option<String>,
    /// Mellannamn.
    pub mellannamn: Option<String>,
    /// Efternamn.
    pub efternamn: Option<String>,
    /// Aviseringsnamn: at most 36 characters, set when the whole name is longer.
    pub aviseringsnamn: Option<String>,
}

/// Folkbokföring (8.11, 8.14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folkbokforing {
    /// When the person was registered on the fastighet.
    pub folkbokforingsdatum: Datum,
    /// Länskod, two digits.
    pub lan_kod: String,
    /// Kommunkod, two digits (the four-digit code without the län).
    pub kommun_kod: String,
    /// Fastighetsbeteckning, absent when "på kommunen skriven".
    pub fastighetsbeteckning: Option<String>,
    /// Fiktivt nummer (most are zero and then absent).
    pub fiktivt_nr: Option<String>,
    /// Distrikt code (6 digits) since 2016.
    pub distrikt: Option<String>,
    /// Registered under "på kommunen skriven" (no fastighet).
    pub pa_kommun_skriven: bool,
}

impl Folkbokforing {
    /// The full four-digit kommunkod (län + kommun), as SCB codes it.
    pub fn kommunkod4(&self) -> String {
        format!("{}{}", self.lan_kod, self.kommun_kod)
    }
}

/// Addresses (8.12–8.18).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adresser {
    /// Folkbokföringsadress (8.12).
    pub folkbokforingsadress: Option<SvenskAdress>,
    /// Särskild postadress (8.15).
    pub sarskild_postadress: Option<SvenskAdress>,
    /// Utlandsadress (8.17, 8.18).
    pub utlandsadress: Option<Utlandsadress>,
    /// Unique identifiers for fastighet, adress and lägenhet (8.13).
    pub uuid: Option<AdressUuid>,
}

/// A Swedish address after SS 61 34 01.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvenskAdress {
    /// c/o.
    pub care_of: Option<String>,
    /// Utdelningsadress 1.
    pub utdelningsadress1: Option<String>,
    /// Utdelningsadress 2 (street and number).
    pub utdelningsadress2: Option<String>,
    /// Postnummer, five digits.
    pub post_nr: Option<String>,
    /// Postort.
    pub postort: Option<String>,
}

/// Utlandsadress (8.17) with its date (8.18).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utlandsadress {
    /// Utdelningsadress 1.
    pub utdelningsadress1: Option<String>,
    /// Utdelningsadress 2.
    pub utdelningsadress2: Option<String>,
    /// Utdelningsadress 3.
    pub utdelningsadress3: Option<String>,
    /// Land in clear text.
    pub land: Option<String>,
    /// Date the address was registered.
    pub datum: Option<Datum>,
}

/// Unique identifiers (8.13).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdressUuid {
    /// Fastighet UUID.
    pub fastighet: Option<String>,
    /// Adress UUID.
    pub adress: Option<String>,
    /// Lägenhet UUID.
    pub lagenhet: Option<String>,
}

/// Födelse (8.6, 8.21, 8.22).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fodelse {
    /// Födelsedatum; can differ from the date in the number (8.6).
    pub fodelsedatum: Option<Datum>,
    /// Födelsehemort (8.21) for persons born in Sweden — a `taxering` term.
    pub hemort_sverige: Option<HemortSverige>,
    /// Födelseort and land (8.22) for persons born abroad.
    pub ort_utlandet: Option<OrtUtlandet>,
}

/// Födelsehemort: län and församling (born before 2016) or kommun, in clear text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HemortSverige {
    /// Länskod.
    pub lan_kod: String,
    /// Församling or kommun in clear text.
    pub forsamling_kommun: String,
}

/// Födelseort abroad.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrtUtlandet {
    /// Födelseort in clear text.
    pub fodelseort: String,
    /// Födelseland in clear text.
    pub fodelseland: String,
}

/// Civilstånd (8.20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Civilstand {
    /// The code.
    pub kod: CivilstandKod,
    /// Date of the change.
    pub datum: Option<Datum>,
}

/// One medborgarskap (8.31).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Medborgarskap {
    /// ISO 3166 alpha-2 (`SE`), or `XX` unknown / `XS` stateless / `XU` under investigation.
    pub landkod: String,
    /// When acquired; all zeros for Swedish citizenship acquired before 1991-07-01.
    pub datum: Option<Datum>,
}

/// One relation (8.26–8.30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Kind of relation.
    pub typ: Relationstyp,
    /// Who: a number, or birth date and name for someone who never had one.
    pub person: Relationsperson,
    /// Avregistreringsorsak of the relation person (e.g. `AV` for a deceased parent).
    pub avregistreringsorsak: Option<AvregistreringsorsakKod>,
    /// Its date (date of death for `AV`).
    pub avregistreringsdatum: Option<Datum>,
}

/// The other person of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relationsperson {
    /// By identity number (the usual case).
    PersonNr(Pnr),
    /// By birth date and name, for one who never had a number.
    Uppgifter {
        /// Födelsedatum.
        fodelsedatum: Datum,
        /// Förnamn.
        fornamn: Option<String>,
        /// Efternamn.
        efternamn: Option<String>,
    },
}

/// Uppehållsrätt (8.24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uppehallsratt {
    /// `J`: Navet's `Invandring/Uppehallsratt` says only that the right is there.
    pub typ: String,
    /// From when; Navet's record has no such date, so a loaded record has none.
    pub datum: Option<Datum>,
}

/// Nordiskt personnummer (8.25).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NordisktPersonnummer {
    /// The number as the Nordic country writes it.
    pub nummer: String,
    /// ISO 3166 alpha-2 of the country (DK, FI, IS, NO).
    pub landkod: String,
}

/// Taxering terms (SPAR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxering {
    /// Taxerad förvärvsinkomst + inkomst av kapital, summed, for one year.
    pub inkomst: Option<Inkomst>,
    /// Fastighetsinnehav (småhus).
    pub fastigheter: Vec<Fastighetsinnehav>,
}

/// Income for one taxation year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inkomst {
    /// Inkomstår.
    pub ar: u16,
    /// Sum in whole kronor.
    pub summa: i64,
}

/// One owned småhus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fastighetsinnehav {
    /// Fastighetsbeteckning.
    pub beteckning: String,
    /// Kommunkod, four digits.
    pub kommun: String,
}

/// One entry of the folkbokföring history (8.32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorikPost {
    /// FB, UV or OB.
    pub typ: Folkbokforingstyp,
    /// When registered.
    pub datum: Datum,
    /// Länskod.
    pub lan_kod: Option<String>,
    /// Kommunkod (two digits).
    pub kommun_kod: Option<String>,
    /// Fastighetsbeteckning.
    pub fastighetsbeteckning: Option<String>,
}

/// The terms a samordningsnummer carries (8.3 table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Samordningsuppgifter {
    /// Aktivt, Vilandeförklarat, Vilandeförklarat stängt, Avregistrerat, Ej aktuellt.
    pub identitetsstatus: String,
    /// Date of the status (absent for Aktivt).
    pub identitetsstatus_datum: Option<Datum>,
    /// Tidsfrist, Annan orsak, Avliden, Ersatt, Felaktigt registrerat (absent for Aktivt).
    pub identitetsstatus_orsak: Option<String>,
    /// Date the number was assigned.
    pub tilldelningsdatum: Option<Datum>,
    /// 31 December five years after assignment or renewal.
    pub preliminart_vilandeforklaringsdatum: Option<Datum>,
    /// Date of the latest renewal.
    pub fornyelsedatum: Option<Datum>,
    /// Styrket, Sannolik, Osäker or Inte tillämplig.
    pub identitetsniva: Option<String>,
    /// Date of the identity level.
    pub identitetsniva_datum: Option<Datum>,
}

/// Why stored bytes are not a record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Empty value.
    #[error("empty record value")]
    Empty,
    /// A schema version this build cannot read.
    #[error(
        "record schema version {0} is not supported (this build reads up to {SCHEMA_VERSION})"
    )]
    Version(u8),
    /// The postcard payload is corrupt.
    #[error("corrupt record: {0}")]
    Corrupt(#[from] postcard::Error),
}

/// Encodes a record for the store: the schema version byte, then postcard.
///
/// postcard is chosen over bincode for its stable, documented wire format (1.0) and varint
/// integers, which make the typical record about 30 % smaller.
pub fn encode(post: &Folkbokforingspost) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.push(SCHEMA_VERSION);
    // Serialising plain owned data to a Vec cannot fail.
    match postcard::to_extend(post, out) {
        Ok(v) => v,
        Err(_) => vec![SCHEMA_VERSION],
    }
}

/// Decodes a stored record written by this or an earlier schema version.
pub fn decode(bytes: &[u8]) -> Result<Folkbokforingspost, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&SCHEMA_VERSION, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&v, _)) => Err(DecodeError::Version(v)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small complete record used by tests across modules.
    pub(crate) fn sample() -> Folkbokforingspost {
        let pnr = Pnr::parse("198602212394").unwrap();
        Folkbokforingspost {
            andringstidpunkt: "20261120101500".into(),
            personpost: Personpost {
                person_id: pnr,
                identitetstyp: Identitetstyp::Personnummer,
                hanvisning: vec![],
                avregistrering: None,
                antraffad_dod: None,
                namn: Namn {
                    tilltalsnamnsmarkering: Some(10),
                    fornamn: Some("Åsa Karin".into()),
                    mellannamn: None,
                    efternamn: Some("Öberg".into()),
                    aviseringsnamn: None,
                },
                folkbokforing: Some(Folkbokforing {
                    folkbokforingsdatum: Datum::parse("20100301").unwrap(),
                    lan_kod: "01".into(),
                    kommun_kod: "80".into(),
                    fastighetsbeteckning: Some("STOCKHOLM SÖDER 1:2".into()),
                    fiktivt_nr: None,
                    distrikt: Some("102011".into()),
                    pa_kommun_skriven: false,
                }),
                adresser: Adresser {
                    folkbokforingsadress: Some(SvenskAdress {
                        care_of: None,
                        utdelningsadress1: None,
                        utdelningsadress2: Some("Götgatan 12 lgh 1102".into()),
                        post_nr: Some("11646".into()),
                        postort: Some("STOCKHOLM".into()),
                    }),
                    ..Default::default()
                },
                fodelse: Fodelse {
                    fodelsedatum: Datum::parse("19860221").ok(),
                    ..Default::default()
                },
                invandringsdatum: None,
                rostratt_datum: None,
                civilstand: Some(Civilstand {
                    kod: CivilstandKod::OG,
                    datum: None,
                }),
                medborgarskap: vec![Medborgarskap {
                    landkod: "SE".into(),
                    datum: Datum::parse("00000000").ok(),
                }],
                relationer: vec![],
                uppehallsratt: None,
                nordiskt_personnummer: None,
                taxering: None,
                historik: vec![],
                samordning: None,
            },
            sekretessmarkering: false,
            skyddad_folkbokforing: false,
            skyddsdatum: None,
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let p = sample();
        let bytes = encode(&p);
        assert_eq!(bytes[0], SCHEMA_VERSION);
        assert_eq!(decode(&bytes).unwrap(), p);
    }

    #[test]
    fn unknown_version_is_refused() {
        let mut bytes = encode(&sample());
        bytes[0] = 99;
        assert!(matches!(decode(&bytes), Err(DecodeError::Version(99))));
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
    }
}
