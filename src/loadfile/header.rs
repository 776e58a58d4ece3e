//! `Aviseringsinformation`: the header of a Navetavisering file (`Navetavisering.xsd`,
//! `AviseringsinformationTYPE`) — who delivers to whom, which order, and which file of which
//! delivery this is — and what a load takes from it ([`DeliveryHeader`]).
//!
//! Decisions (WIRE.md, "Delivery files"; no public source gives Navet's values):
//! - a delivery is the files with the same `BestallningsId`, `JobbId` and `LopNr`; `FilNr`
//!   numbers them 1..=`AntalFiler`; `AntalPosterTotalt` counts the records of all of them;
//! - `Filtyp` `B` marks the file of protected persons with fewer terms (Bilaga 2), anything
//!   else (or none) file A;
//! - a `Bestallningstyp` starting with `GRUND` (a grunduttag) or `URVAL` (an urval: every
//!   selected person as they stand, Navet 3.2) replaces the store (FULL); any other
//!   (`ANDRINGSAVISERING`) applies to it (DELTA);
//! - `LopNr` is required to load: deliveries apply in its order, a gap is a lost file;
//! - `Effektueringsdatum` is the delivery's date (midnight, Swedish time, in `folkreg status`).

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Europe::Stockholm;

use super::{DeliveryError, DeliveryErrorKind, DeliveryHeader, DeliveryTyp};
pub use crate::model::change::Fil;
use crate::xml::read::Node;

/// A `Medieleverantor` or `Mediemottagare`: the organisation (`OrganisationInfoGROUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `OrgNr`: 12 digits, from 16 (Navet's `160000000000..=999999999999`).
    pub orgnr: String,
    /// `Organisationsnamn` (at most 40 characters).
    pub namn: Option<String>,
}

/// `Filinformation/Utfil`: this file of its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utfil {
    /// `Filnamn` (at most 40 characters).
    pub filnamn: String,
    /// `Effektueringsdatum` (`YYYYMMDD`).
    pub effektueringsdatum: NaiveDate,
    /// `AntalPoster`: records in this file.
    pub antal_poster: u64,
    /// `AntalPosterTotalt`: records in all files of the delivery.
    pub antal_poster_totalt: u64,
    /// `AntalFiler`: files of the delivery (1–999).
    pub antal_filer: u16,
    /// `FilNr`: this file's number (1..=`antal_filer`).
    pub fil_nr: u16,
    /// `Filtitel` (at most 70 characters).
    pub filtitel: Option<String>,
    /// `JobbId` (1–99999999).
    pub jobb_id: u32,
    /// `LopNr` (0–99999): the delivery's number in its order.
    pub lop_nr: Option<u32>,
}

/// `Aviseringsinformation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aviseringsinformation {
    /// `Medieleverantor`.
    pub leverantor: Part,
    /// `Mediemottagare`.
    pub mottagare: Part,
    /// `Filinformation/BestallningsId` (18 characters).
    pub bestallnings_id: String,
    /// `Filinformation/Filtyp` (at most 10 characters): `B` for the file of protected
    /// persons with fewer terms.
    pub filtyp: Option<String>,
    /// `Filinformation/Bestallningstyp` (at most 20 characters).
    pub bestallningstyp: String,
    /// `Filinformation/Produkt` (5 characters).
    pub produkt: String,
    /// `Filinformation/Utfil`.
    pub utfil: Utfil,
}

/// `Bestallningstyp` of a grunduttag as folkreg writes it.
pub const GRUNDUTTAG: &str = "GRUNDUTTAG";
/// `Bestallningstyp` of an ändringsavisering as folkreg writes it.
pub const ANDRINGSAVISERING: &str = "ANDRINGSAVISERING";
/// `Bestallningstyp` of an urval as folkreg writes it.
pub const URVAL: &str = "URVAL";
/// `Produkt` folkreg writes: Navet's avisering product.
pub const PRODUKT: &str = "NAVET";
/// The `Medieleverantor` of files folkreg writes when nothing else is set.
pub const FOLKREG_ORGNR: &str = "165599990000";
/// The `BestallningsId` of files `folkreg generate` writes (a load's own order).
pub const GENERATED_ORDER: &str = "FOLKREG-GENERATED0";

impl Aviseringsinformation {
    /// A single-file delivery with the load facts of `header` (for tests and `generate`).
    pub fn for_load(header: &DeliveryHeader) -> Aviseringsinformation {
        let date = chrono::DateTime::parse_from_rfc3339(&header.skapad)
            .map(|t| t.with_timezone(&Stockholm).date_naive())
            .unwrap_or_default();
        Aviseringsinformation {
            leverantor: Part {
                orgnr: FOLKREG_ORGNR.into(),
                namn: Some("folkreg".into()),
            },
            mottagare: Part {
                orgnr: FOLKREG_ORGNR.into(),
                namn: None,
            },
            bestallnings_id: GENERATED_ORDER.into(),
            filtyp: None,
            bestallningstyp: match header.typ {
                DeliveryTyp::Full => GRUNDUTTAG,
                DeliveryTyp::Delta => ANDRINGSAVISERING,
            }
            .into(),
            produkt: PRODUKT.into(),
            utfil: Utfil {
                filnamn: default_filnamn(header.lopnummer, header.typ, 1),
                effektueringsdatum: date,
                antal_poster: header.antal,
                antal_poster_totalt: header.antal,
                antal_filer: 1,
                fil_nr: 1,
                filtitel: None,
                // Unique per date and löpnummer, so that two deliveries of one number (a
                // restarted sequence) are two deliveries, not two copies of one.
                jobb_id: (date.year().rem_euclid(100) as u32 * 10_000
                    + date.month() * 100
                    + date.day())
                    * 100
                    + (header.lopnummer % 100) as u32
                    + 1,
                lop_nr: u32::try_from(header.lopnummer).ok(),
            },
        }
    }

    /// FULL (a grunduttag or an urval) or DELTA.
    pub fn typ(&self) -> DeliveryTyp {
        let typ = self.bestallningstyp.trim().to_ascii_uppercase();
        if typ.starts_with("GRUND") || typ.starts_with(URVAL) {
            DeliveryTyp::Full
        } else {
            DeliveryTyp::Delta
        }
    }

    /// File A or B.
    pub fn fil(&self) -> Fil {
        match self.filtyp.as_deref().map(str::trim) {
            Some("B") => Fil::B,
            _ => Fil::A,
        }
    }

    /// What a load takes from the header; `LopNr` is required.
    pub fn load_facts(&self) -> Result<DeliveryHeader, DeliveryError> {
        let lopnummer = self
            .utfil
            .lop_nr
            .ok_or_else(|| DeliveryError::file(DeliveryErrorKind::Header("Utfil/LopNr")))?;
        let midnight = self
            .utfil
            .effektueringsdatum
            .and_hms_opt(0, 0, 0)
            .and_then(|t| Stockholm.from_local_datetime(&t).earliest())
            .ok_or_else(|| {
                DeliveryError::file(DeliveryErrorKind::Header("Utfil/Effektueringsdatum"))
            })?;
        Ok(DeliveryHeader {
            lopnummer: u64::from(lopnummer),
            typ: self.typ(),
            skapad: midnight.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            antal: self.utfil.antal_poster,
        })
    }

    /// The delivery this file belongs to: files with the same key are one delivery.
    pub fn delivery_key(&self) -> (String, u32, Option<u32>) {
        (
            self.bestallnings_id.clone(),
            self.utfil.jobb_id,
            self.utfil.lop_nr,
        )
    }

    /// Reads the header from its element tree, every value checked against Navet's schema.
    pub(crate) fn from_node(n: &Node) -> Result<Aviseringsinformation, DeliveryError> {
        let bad = |name: &'static str| DeliveryError::file(DeliveryErrorKind::Header(name));
        let part = |name: &'static str| -> Result<Part, DeliveryError> {
            let p = find(n, name).ok_or_else(|| bad(name))?;
            let orgnr = text(p, "OrgNr")
                .filter(|o| {
                    o.len() == 12 && o.bytes().all(|b| b.is_ascii_digit()) && o.as_str() >= "16"
                })
                .ok_or_else(|| bad(name))?;
            let namn = text(p, "Organisationsnamn");
            if namn.as_ref().is_some_and(|s| s.chars().count() > 40) {
                return Err(bad(name));
            }
            Ok(Part { orgnr, namn })
        };
        let leverantor = part("Medieleverantor")?;
        let mottagare = part("Mediemottagare")?;
        let fi = find(n, "Filinformation").ok_or_else(|| bad("Filinformation"))?;
        let bestallnings_id = text(fi, "BestallningsId")
            .filter(|s| s.chars().count() == 18)
            .ok_or_else(|| bad("Filinformation/BestallningsId"))?;
        let filtyp = text(fi, "Filtyp");
        if filtyp.as_ref().is_some_and(|s| s.chars().count() > 10) {
            return Err(bad("Filinformation/Filtyp"));
        }
        let bestallningstyp = text(fi, "Bestallningstyp")
            .filter(|s| s.chars().count() <= 20)
            .ok_or_else(|| bad("Filinformation/Bestallningstyp"))?;
        let produkt = text(fi, "Produkt")
            .filter(|s| s.chars().count() == 5)
            .ok_or_else(|| bad("Filinformation/Produkt"))?;
        let u = find(fi, "Utfil").ok_or_else(|| bad("Filinformation/Utfil"))?;
        let number = |name: &'static str, min: u64, max: u64| -> Result<u64, DeliveryError> {
            text(u, name)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| bad(name))
        };
        let filnamn = text(u, "Filnamn")
            .filter(|s| s.chars().count() <= 40)
            .ok_or_else(|| bad("Utfil/Filnamn"))?;
        let effektueringsdatum = text(u, "Effektueringsdatum")
            .filter(|s| s.len() == 8)
            .and_then(|s| NaiveDate::parse_from_str(&s, "%Y%m%d").ok())
            .ok_or_else(|| bad("Utfil/Effektueringsdatum"))?;
        let antal_filer = number("AntalFiler", 1, 999)? as u16;
        let fil_nr = number("FilNr", 1, 999)? as u16;
        if fil_nr > antal_filer {
            return Err(bad("FilNr"));
        }
        let filtitel = text(u, "Filtitel");
        if filtitel.as_ref().is_some_and(|s| s.chars().count() > 70) {
            return Err(bad("Utfil/Filtitel"));
        }
        let lop_nr = match text(u, "LopNr") {
            None => None,
            Some(_) => Some(number("LopNr", 0, 99_999)? as u32),
        };
        Ok(Aviseringsinformation {
            leverantor,
            mottagare,
            bestallnings_id,
            filtyp,
            bestallningstyp,
            produkt,
            utfil: Utfil {
                filnamn,
                effektueringsdatum,
                antal_poster: number("AntalPoster", 0, 99_999_999)?,
                antal_poster_totalt: number("AntalPosterTotalt", 0, 99_999_999)?,
                antal_filer,
                fil_nr,
                filtitel,
                jobb_id: number("JobbId", 1, 99_999_999)? as u32,
                lop_nr,
            },
        })
    }

    /// Writes the header as Navet's schema orders it.
    pub(crate) fn write<W: std::io::Write>(
        &self,
        w: &mut quick_xml::Writer<W>,
    ) -> std::io::Result<()> {
        use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
        fn el<W: std::io::Write>(
            w: &mut quick_xml::Writer<W>,
            name: &str,
            value: &str,
        ) -> std::io::Result<()> {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            w.write_event(Event::Text(BytesText::new(value)))?;
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        fn start<W: std::io::Write>(
            w: &mut quick_xml::Writer<W>,
            name: &str,
        ) -> std::io::Result<()> {
            w.write_event(Event::Start(BytesStart::new(name)))
        }
        fn end<W: std::io::Write>(w: &mut quick_xml::Writer<W>, name: &str) -> std::io::Result<()> {
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        start(w, "Aviseringsinformation")?;
        for (name, p) in [
            ("Medieleverantor", &self.leverantor),
            ("Mediemottagare", &self.mottagare),
        ] {
            start(w, name)?;
            el(w, "OrgNr", &p.orgnr)?;
            if let Some(n) = &p.namn {
                el(w, "Organisationsnamn", n)?;
            }
            end(w, name)?;
        }
        start(w, "Filinformation")?;
        el(w, "BestallningsId", &self.bestallnings_id)?;
        if let Some(f) = &self.filtyp {
            el(w, "Filtyp", f)?;
        }
        el(w, "Bestallningstyp", &self.bestallningstyp)?;
        el(w, "Produkt", &self.produkt)?;
        let u = &self.utfil;
        start(w, "Utfil")?;
        el(w, "Filnamn", &u.filnamn)?;
        el(
            w,
            "Effektueringsdatum",
            &u.effektueringsdatum.format("%Y%m%d").to_string(),
        )?;
        el(w, "AntalPoster", &u.antal_poster.to_string())?;
        el(w, "AntalPosterTotalt", &u.antal_poster_totalt.to_string())?;
        el(w, "AntalFiler", &u.antal_filer.to_string())?;
        el(w, "FilNr", &u.fil_nr.to_string())?;
        if let Some(t) = &u.filtitel {
            el(w, "Filtitel", t)?;
        }
        el(w, "JobbId", &u.jobb_id.to_string())?;
        if let Some(l) = u.lop_nr {
            el(w, "LopNr", &l.to_string())?;
        }
        end(w, "Utfil")?;
        end(w, "Filinformation")?;
        end(w, "Aviseringsinformation")
    }
}

/// The file name folkreg gives file `fil_nr` of a delivery (Filnamn is at most 40 characters).
pub fn default_filnamn(lopnummer: u64, typ: DeliveryTyp, fil_nr: u16) -> String {
    let kind = match typ {
        DeliveryTyp::Full => "GRUND",
        DeliveryTyp::Delta => "AVI",
    };
    format!("NAVET-{kind}-{lopnummer:05}-{fil_nr:03}.xml")
}

fn find<'n>(n: &'n Node, name: &str) -> Option<&'n Node> {
    n.children.iter().find(|c| c.name == name)
}

fn text(n: &Node, name: &str) -> Option<String> {
    find(n, name)
        .map(|c| c.text.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bestallningstyp_decides_full_or_delta() {
        let mut h = Aviseringsinformation::for_load(&DeliveryHeader {
            lopnummer: 4,
            typ: DeliveryTyp::Full,
            skapad: "2026-11-22T05:00:00+01:00".into(),
            antal: 3,
        });
        assert_eq!(h.typ(), DeliveryTyp::Full);
        let facts = h.load_facts().unwrap();
        assert_eq!(facts.lopnummer, 4);
        assert_eq!(facts.skapad, "2026-11-22T00:00:00+01:00");
        h.bestallningstyp = "Grunduttag".into();
        assert_eq!(h.typ(), DeliveryTyp::Full);
        h.bestallningstyp = URVAL.into();
        assert_eq!(
            h.typ(),
            DeliveryTyp::Full,
            "an urval is every selected person"
        );
        h.bestallningstyp = ANDRINGSAVISERING.into();
        assert_eq!(h.typ(), DeliveryTyp::Delta);
        h.utfil.lop_nr = None;
        assert!(h.load_facts().is_err(), "LopNr is required to load");
    }
}
