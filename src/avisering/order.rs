//! An avisering order (beställning av ändringsavisering, Navet 3.1): whose changes an
//! organisation receives (its population: sökbegrepp without intervals, section 4, or an
//! infil, bilaga 1), as totalpost or ändringspost, daily or weekly, and the optional
//! protected-person functions of 9.6.2/9.6.3 and bilaga 2.
//!
//! Orders live in the organisation register (`[[organisation.avisering]]`), are checked with
//! it, and are plain data here: the population test is a pure function of a record.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::access::{Term, TermMask};
use crate::model::{AvregistreringsorsakKod, Folkbokforingspost};

/// Totalpost (the whole permitted record) or ändringspost (the changed terms only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Posttyp {
    /// The whole permitted record on every change.
    Totalpost,
    /// The changed terms (and the identity number).
    Andringspost,
}

/// How often deliveries are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Periodicitet {
    /// After every applied load.
    Daglig,
    /// After the first load of each ISO week (collecting the week's changes).
    Veckovis,
}

/// The categories of persons (section 4): folkbokförda by default; avlidna and utflyttade
/// are the deregistered with cause `AV` and `UV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kategori {
    /// Folkbokförda (not deregistered).
    Folkbokforda,
    /// Deregistered as dead (`AV`).
    Avlidna,
    /// Deregistered as emigrated (`UV`).
    Utflyttade,
}

/// Medborgarskap as a sökbegrepp (section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medborgarskap {
    /// Swedish.
    Svenskt,
    /// Norwegian.
    Norskt,
    /// Finnish.
    Finskt,
    /// Danish.
    Danskt,
    /// Icelandic.
    Islandskt,
    /// A citizenship of an EU member state other than Sweden.
    Eu,
    /// A citizenship of a state outside the EU.
    UtomEu,
}

/// EU member states other than Sweden (ISO 3166 alpha-2).
const EU: [&str; 26] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SI", "SK",
];

impl Medborgarskap {
    fn matches(self, landkod: &str) -> bool {
        match self {
            Medborgarskap::Svenskt => landkod == "SE",
            Medborgarskap::Norskt => landkod == "NO",
            Medborgarskap::Finskt => landkod == "FI",
            Medborgarskap::Danskt => landkod == "DK",
            Medborgarskap::Islandskt => landkod == "IS",
            Medborgarskap::Eu => EU.contains(&landkod),
            Medborgarskap::UtomEu => {
                landkod != "SE" && !EU.contains(&landkod) && landkod.len() == 2
            }
        }
    }
}

/// Whose changes an order receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Population {
    /// Persons matching every given sökbegrepp (each a set of single values: no intervals).
    Sokbegrepp(Sokbegrepp),
    /// The identity numbers of the order's infil (`lamnaInfil`), optionally only some
    /// categories.
    Infil,
}

/// The sökbegrepp of an order; an empty set means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sokbegrepp {
    /// Länskoder (two digits).
    pub lan: BTreeSet<String>,
    /// Kommunkoder (four digits, län + kommun).
    pub kommun: BTreeSet<String>,
    /// Postnummer areas: a prefix of the five-digit postnummer (1–5 digits).
    pub postnummer: BTreeSet<String>,
    /// Födelsetid: `YYYY`, `YYYYMM` or `YYYYMMDD`, a prefix of the birth date.
    pub fodelsetid: BTreeSet<String>,
    /// Ålder innevarande år: the year of the delivery minus the birth year.
    pub alder: BTreeSet<u16>,
    /// Kön: `M` or `K`.
    pub kon: Option<char>,
    /// Medborgarskap.
    pub medborgarskap: BTreeSet<Medborgarskap>,
}

/// One avisering order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Its BestallningsId (unique in the register).
    pub id: String,
    /// Whose changes.
    pub population: Population,
    /// Which persons by registration state.
    pub kategorier: BTreeSet<Kategori>,
    /// Totalpost or ändringspost.
    pub posttyp: Posttyp,
    /// Daily or weekly.
    pub periodicitet: Periodicitet,
    /// 9.6.2: a sekretessmarkerad person who moves out of the population is delivered as
    /// number, marking and län `99` only.
    pub flyttsignal: bool,
    /// 9.6.2/9.6.3: a totalpost when a protection is lifted, also for ändringspost orders.
    pub totalpost_vid_havning: bool,
    /// 9.6.2/9.6.3: the marking is always in an ändringspost of a protected person.
    pub alltid_markering: bool,
    /// 9.6.1/bilaga 2: fewer terms for protected persons; then protected persons go in a
    /// separate delivery file B with only these terms (and the number and marking).
    pub skyddade_termer: Option<TermMask>,
}

impl Order {
    /// Whether `post` belongs to the population, given whether its number is in the infil and
    /// the year of the delivery.
    pub fn includes(&self, post: &Folkbokforingspost, in_infil: bool, year: i32) -> bool {
        let kategori = match post.personpost.avregistrering.as_ref().map(|a| a.orsak) {
            None => Some(Kategori::Folkbokforda),
            Some(AvregistreringsorsakKod::AV) => Some(Kategori::Avlidna),
            Some(AvregistreringsorsakKod::UV) => Some(Kategori::Utflyttade),
            Some(_) => None,
        };
        if !kategori.is_some_and(|k| self.kategorier.contains(&k)) {
            return false;
        }
        match &self.population {
            Population::Infil => in_infil,
            Population::Sokbegrepp(s) => s.matches(post, year),
        }
    }

    /// Whether this order gets two files (A without, B with the protected persons).
    pub fn split(&self) -> bool {
        self.skyddade_termer.is_some()
    }
}

impl Sokbegrepp {
    /// Whether the record matches every given sökbegrepp.
    pub fn matches(&self, post: &Folkbokforingspost, year: i32) -> bool {
        let p = &post.personpost;
        let fb = p.folkbokforing.as_ref();
        if !self.lan.is_empty() && !fb.is_some_and(|f| self.lan.contains(&f.lan_kod)) {
            return false;
        }
        if !self.kommun.is_empty() && !fb.is_some_and(|f| self.kommun.contains(&f.kommunkod4())) {
            return false;
        }
        if !self.postnummer.is_empty() {
            let post_nr = p
                .adresser
                .folkbokforingsadress
                .as_ref()
                .and_then(|a| a.post_nr.as_deref());
            if !post_nr.is_some_and(|n| self.postnummer.iter().any(|pre| n.starts_with(pre))) {
                return false;
            }
        }
        let birth = p
            .fodelse
            .fodelsedatum
            .as_ref()
            .map(|d| d.to_string())
            .or_else(|| {
                p.person_id
                    .birth_date()
                    .map(|d| d.format("%Y%m%d").to_string())
            });
        if !self.fodelsetid.is_empty()
            && !birth
                .as_deref()
                .is_some_and(|b| self.fodelsetid.iter().any(|pre| b.starts_with(pre)))
        {
            return false;
        }
        if !self.alder.is_empty() {
            let born: Option<i32> = birth.as_deref().and_then(|b| b.get(..4)?.parse().ok());
            let age = born.map(|y| year - y);
            if !age.is_some_and(|a| u16::try_from(a).is_ok_and(|a| self.alder.contains(&a))) {
                return false;
            }
        }
        if let Some(kon) = self.kon {
            let male = p.person_id.is_male();
            if (kon == 'M') != male {
                return false;
            }
        }
        if !self.medborgarskap.is_empty()
            && !p.medborgarskap.iter().any(|m| {
                self.medborgarskap
                    .iter()
                    .any(|wanted| wanted.matches(&m.landkod))
            })
        {
            return false;
        }
        true
    }
}

/// `[[organisation.avisering]]` as written in the register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrder {
    pub id: toml::Spanned<String>,
    pub posttyp: Posttyp,
    #[serde(default = "daglig")]
    pub periodicitet: Periodicitet,
    #[serde(default)]
    pub infil: bool,
    #[serde(default)]
    pub lan: Vec<String>,
    #[serde(default)]
    pub kommun: Vec<String>,
    #[serde(default)]
    pub postnummer: Vec<String>,
    #[serde(default)]
    pub fodelsetid: Vec<String>,
    #[serde(default)]
    pub alder: Vec<u16>,
    #[serde(default)]
    pub kon: Option<String>,
    #[serde(default)]
    pub medborgarskap: Vec<Medborgarskap>,
    #[serde(default)]
    pub kategorier: Vec<Kategori>,
    #[serde(default)]
    pub flyttsignal: bool,
    #[serde(default)]
    pub totalpost_vid_havning: bool,
    #[serde(default)]
    pub alltid_markering: bool,
    #[serde(default)]
    pub skyddade_termer: Option<Vec<String>>,
}

fn daglig() -> Periodicitet {
    Periodicitet::Daglig
}

/// The term names of `skyddade_termer`.
pub fn term_by_name(name: &str) -> Option<Term> {
    Term::ALL.into_iter().find(|t| t.name() == name)
}

impl RawOrder {
    /// The order, or the first thing wrong with it as (field, message).
    pub(crate) fn check(self) -> Result<Order, (&'static str, String)> {
        let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
            n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        let set = |list: Vec<String>,
                   field: &'static str,
                   ok: &dyn Fn(&str) -> bool,
                   what: &str|
         -> Result<BTreeSet<String>, (&'static str, String)> {
            let mut out = BTreeSet::new();
            for v in list {
                if !ok(&v) {
                    return Err((field, format!("`{v}` is not {what}")));
                }
                if !out.insert(v.clone()) {
                    return Err((field, format!("`{v}` is listed twice")));
                }
            }
            Ok(out)
        };
        let sok = Sokbegrepp {
            lan: set(
                self.lan,
                "avisering.lan",
                &|s| digits(s, 2..=2),
                "a länskod (2 digits)",
            )?,
            kommun: set(
                self.kommun,
                "avisering.kommun",
                &|s| digits(s, 4..=4),
                "a kommunkod (4 digits)",
            )?,
            postnummer: set(
                self.postnummer,
                "avisering.postnummer",
                &|s| digits(s, 1..=5),
                "a postnummer area (1–5 digits)",
            )?,
            fodelsetid: set(
                self.fodelsetid,
                "avisering.fodelsetid",
                &|s| [4, 6, 8].contains(&s.len()) && digits(s, 4..=8),
                "a födelsetid (YYYY, YYYYMM or YYYYMMDD; intervals cannot be used for avisering)",
            )?,
            alder: self.alder.into_iter().collect(),
            kon: match self.kon.as_deref() {
                None => None,
                Some("M") => Some('M'),
                Some("K") => Some('K'),
                Some(other) => return Err(("avisering.kon", format!("`{other}` is not M or K"))),
            },
            medborgarskap: self.medborgarskap.into_iter().collect(),
        };
        let population = if self.infil {
            if sok != Sokbegrepp::default() {
                return Err((
                    "avisering.infil",
                    "an infil order takes its population from the infil: no sökbegrepp besides kategorier".into(),
                ));
            }
            Population::Infil
        } else {
            if sok == Sokbegrepp::default() {
                return Err((
                    "avisering",
                    "give the population: sökbegrepp (lan, kommun, postnummer, fodelsetid, alder, kon, medborgarskap) or infil = true".into(),
                ));
            }
            Population::Sokbegrepp(sok)
        };
        let mut kategorier: BTreeSet<Kategori> = self.kategorier.into_iter().collect();
        if kategorier.is_empty() {
            kategorier.insert(Kategori::Folkbokforda);
        }
        let skyddade_termer = match self.skyddade_termer {
            None => None,
            Some(names) => {
                let mut mask = TermMask::of(&[Term::PersonId, Term::Skydd]);
                for n in &names {
                    let t = term_by_name(n).ok_or_else(|| {
                        (
                            "avisering.skyddade_termer",
                            format!(
                                "unknown term `{n}` (one of: {})",
                                Term::ALL.map(|t| t.name()).join(", ")
                            ),
                        )
                    })?;
                    mask = mask.union(TermMask::of(&[t]));
                }
                Some(mask)
            }
        };
        Ok(Order {
            id: self.id.into_inner(),
            population,
            kategorier,
            posttyp: self.posttyp,
            periodicitet: self.periodicitet,
            flyttsignal: self.flyttsignal,
            totalpost_vid_havning: self.totalpost_vid_havning,
            alltid_markering: self.alltid_markering,
            skyddade_termer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample;
    use crate::register::{Register, RegisterError};

    fn register(orders: &str) -> Result<Register, RegisterError> {
        let text = format!(
            "[[organisation]]\norgnr = \"2120000134\"\nnamn = \"Norrby kommun\"\n\
             bestallningar = [\"AV-1\", \"AV-2\"]\n{orders}"
        );
        Register::parse(&text, std::path::Path::new("register.toml"))
    }

    fn only_order(orders: &str) -> Order {
        let r = register(orders).expect("valid");
        r.organisations()[0].avisering[0].clone()
    }

    #[test]
    fn orders_are_read_from_the_register() {
        let o = only_order(
            "[[organisation.avisering]]\nid = \"AV-1\"\nposttyp = \"andringspost\"\n\
             kommun = [\"0180\", \"0181\"]\nflyttsignal = true\n\
             skyddade_termer = [\"namn\"]\n",
        );
        assert_eq!(o.posttyp, Posttyp::Andringspost);
        assert_eq!(o.periodicitet, Periodicitet::Daglig);
        assert_eq!(o.kategorier, [Kategori::Folkbokforda].into());
        assert!(o.flyttsignal && !o.totalpost_vid_havning && !o.alltid_markering);
        let b = o.skyddade_termer.expect("B file");
        assert!(b.contains(Term::Namn) && b.contains(Term::PersonId) && b.contains(Term::Skydd));
        assert!(!b.contains(Term::Folkbokforingsadress));
        let infil = only_order(
            "[[organisation.avisering]]\nid = \"AV-2\"\nposttyp = \"totalpost\"\n\
             periodicitet = \"veckovis\"\ninfil = true\nkategorier = [\"folkbokforda\", \"avlidna\"]\n",
        );
        assert_eq!(infil.population, Population::Infil);
        assert_eq!(infil.periodicitet, Periodicitet::Veckovis);
    }

    #[test]
    fn bad_orders_are_refused_with_line_and_field() {
        for (orders, field, says) in [
            ("id = \"AV-9\"\nposttyp = \"totalpost\"\nlan = [\"01\"]\n", "avisering.id", "not among"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\n", "avisering", "give the population"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\nlan = [\"1\"]\n", "avisering.lan", "länskod"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\nfodelsetid = [\"1960-1970\"]\n", "avisering.fodelsetid", "intervals"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\ninfil = true\nlan = [\"01\"]\n", "avisering.infil", "infil"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\nlan = [\"01\"]\nskyddade_termer = [\"adress\"]\n", "avisering.skyddade_termer", "unknown term"),
            ("id = \"AV-1\"\nposttyp = \"totalpost\"\nlan = [\"01\"]\nkon = \"X\"\n", "avisering.kon", "M or K"),
        ] {
            let e = register(&format!("[[organisation.avisering]]\n{orders}")).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(field) && text.contains(says), "{orders}: {text}");
            assert!(text.contains("register.toml:6"), "{text}");
        }
        // An unknown key and an unknown posttyp are parse errors naming them.
        let e = register(
            "[[organisation.avisering]]\nid = \"AV-1\"\nposttyp = \"alla\"\nlan = [\"01\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("alla"), "{e}");
        let e = register(
            "[[organisation.avisering]]\nid = \"AV-1\"\nposttyp = \"totalpost\"\nlanskod = [\"01\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("lanskod"), "{e}");
        // The same order twice.
        let twice =
            "[[organisation.avisering]]\nid = \"AV-1\"\nposttyp = \"totalpost\"\nlan = [\"01\"]\n";
        let e = register(&format!("{twice}{twice}")).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
    }

    #[test]
    fn the_population_test() {
        let p = sample();
        let fb = p.personpost.folkbokforing.clone().expect("folkbokförd");
        let post_nr = p
            .personpost
            .adresser
            .folkbokforingsadress
            .as_ref()
            .and_then(|a| a.post_nr.clone())
            .expect("postnummer");
        let order = |sok: Sokbegrepp| Order {
            id: "AV-1".into(),
            population: Population::Sokbegrepp(sok),
            kategorier: [Kategori::Folkbokforda].into(),
            posttyp: Posttyp::Andringspost,
            periodicitet: Periodicitet::Daglig,
            flyttsignal: false,
            totalpost_vid_havning: false,
            alltid_markering: false,
            skyddade_termer: None,
        };
        let with = |f: &dyn Fn(&mut Sokbegrepp)| {
            let mut s = Sokbegrepp::default();
            f(&mut s);
            order(s).includes(&p, false, 2026)
        };
        assert!(with(&|s| {
            s.lan.insert(fb.lan_kod.clone());
        }));
        assert!(!with(&|s| {
            s.lan.insert("99".into());
        }));
        assert!(with(&|s| {
            s.kommun.insert(fb.kommunkod4());
        }));
        assert!(with(&|s| {
            s.postnummer.insert(post_nr[..3].to_owned());
        }));
        assert!(!with(&|s| {
            s.postnummer.insert("0".into());
        }));
        let birth = p.personpost.person_id.birth_date().expect("date");
        let year = chrono::Datelike::year(&birth);
        assert!(with(&|s| {
            s.alder.insert(u16::try_from(2026 - year).unwrap_or(0));
        }));
        let kon = if p.personpost.person_id.is_male() {
            'M'
        } else {
            'K'
        };
        assert!(with(&|s| s.kon = Some(kon)));
        assert!(!with(&|s| s.kon = Some(if kon == 'M' { 'K' } else { 'M' })));
        // Deregistered persons belong only to orders with their category.
        let mut dead = p.clone();
        dead.personpost.avregistrering = Some(crate::model::Avregistrering {
            orsak: AvregistreringsorsakKod::AV,
            datum: crate::model::Datum::parse("20261101").expect("date"),
            avliden_datum: None,
        });
        let mut o = order(Sokbegrepp {
            lan: [fb.lan_kod.clone()].into(),
            ..Sokbegrepp::default()
        });
        assert!(!o.includes(&dead, false, 2026));
        o.kategorier.insert(Kategori::Avlidna);
        assert!(o.includes(&dead, false, 2026));
        // Infil: membership is the infil's.
        o.population = Population::Infil;
        assert!(o.includes(&p, true, 2026));
        assert!(!o.includes(&p, false, 2026));
    }
}
