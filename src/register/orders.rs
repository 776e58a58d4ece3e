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

/// An order's posttyp is the record kind of its notices: `totalpost` (the whole permitted
/// record) or `andringspost` (the changed terms only); the register refuses the others.
pub use crate::model::change::Posttyp;

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

/// One value or interval of a sökbegrepp (`"0180"`, `"0180-0188"`, `"1960-1969"`), compared on
/// the leading characters each end gives: `"1960-1969"` holds every birth date of the 1960s,
/// `"97"` every postnummer starting `97`. A single value is an interval with equal ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Intervall {
    /// The lowest value (a prefix of the values it holds).
    pub fran: String,
    /// The highest value (a prefix of the values it holds).
    pub till: String,
}

impl Intervall {
    /// The interval holding exactly the values starting with `v`.
    pub fn value(v: &str) -> Intervall {
        Intervall {
            fran: v.to_owned(),
            till: v.to_owned(),
        }
    }

    /// Whether `v` lies in the interval.
    pub fn matches(&self, v: &str) -> bool {
        v.get(..self.fran.len())
            .is_some_and(|head| head >= self.fran.as_str())
            && v.get(..self.till.len())
                .is_some_and(|head| head <= self.till.as_str())
    }

    fn any(list: &[Intervall], v: Option<&str>) -> bool {
        list.is_empty() || v.is_some_and(|v| list.iter().any(|i| i.matches(v)))
    }
}

/// The sökbegrepp of an order (section 4); an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sokbegrepp {
    /// Länskoder (two digits).
    pub lan: Vec<Intervall>,
    /// Kommunkoder (four digits, län + kommun).
    pub kommun: Vec<Intervall>,
    /// Postnummer areas: prefixes of the five-digit postnummer (1–5 digits).
    pub postnummer: Vec<Intervall>,
    /// Födelsetid: `YYYY`, `YYYYMM` or `YYYYMMDD`, a prefix of the birth date.
    pub fodelsetid: Vec<Intervall>,
    /// Ålder innevarande år (the year of the run minus the birth year), from–to inclusive.
    pub alder: Vec<(u16, u16)>,
    /// Kön: `M` or `K`.
    pub kon: Option<char>,
    /// Medborgarskap.
    pub medborgarskap: BTreeSet<Medborgarskap>,
    /// Datum för svenskt medborgarskap (`YYYYMMDD` prefixes; urval only).
    pub medborgarskap_datum: Vec<Intervall>,
    /// Date of the avregistrering of the avlidna or utflyttade (`YYYYMMDD` prefixes; urval
    /// only): only deregistered persons match.
    pub avregistrering_datum: Vec<Intervall>,
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
    /// Navet 3.1: the order begins with a grunduttag — its delivery 1 holds every person of
    /// its population as a totalpost when the order is taken up; the changes follow from
    /// delivery 2. (Not for an infil order: its population is given later.)
    pub grunduttag: bool,
}

impl Order {
    /// Whether `post` belongs to the population, given whether its number is in the infil and
    /// the year of the delivery.
    pub fn includes(&self, post: &Folkbokforingspost, in_infil: bool, year: i32) -> bool {
        if !kategori_of(post).is_some_and(|k| self.kategorier.contains(&k)) {
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

    /// The terms its population is chosen by (none for an infil: the receiver chose the
    /// numbers itself).
    pub fn terms_read(&self) -> TermMask {
        match &self.population {
            Population::Sokbegrepp(s) => s.terms_read(),
            Population::Infil => TermMask::NONE,
        }
    }
}

impl Sokbegrepp {
    /// The terms its criteria read: a person is chosen by these, so membership tells them.
    /// An organisation that may not see one of them for a person (a protected person
    /// without `sekretess`) must not have that person chosen by it (DOMAIN.md §4).
    pub fn terms_read(&self) -> TermMask {
        let mut read = TermMask::NONE;
        let mut add = |used: bool, t: Term| {
            if used {
                read = read.union(TermMask::of(&[t]));
            }
        };
        add(
            !self.lan.is_empty() || !self.kommun.is_empty(),
            Term::Folkbokforing,
        );
        add(!self.postnummer.is_empty(), Term::Folkbokforingsadress);
        add(
            !self.fodelsetid.is_empty() || !self.alder.is_empty(),
            Term::Fodelsedatum,
        );
        add(self.kon.is_some(), Term::KonFodelsetid);
        add(
            !self.medborgarskap.is_empty() || !self.medborgarskap_datum.is_empty(),
            Term::Medborgarskap,
        );
        add(!self.avregistrering_datum.is_empty(), Term::Avregistrering);
        read
    }

    /// Whether the record matches every given sökbegrepp.
    pub fn matches(&self, post: &Folkbokforingspost, year: i32) -> bool {
        let p = &post.personpost;
        let fb = p.folkbokforing.as_ref();
        if !Intervall::any(&self.lan, fb.map(|f| f.lan_kod.as_str()))
            || !Intervall::any(&self.kommun, fb.map(|f| f.kommunkod4()).as_deref())
        {
            return false;
        }
        let post_nr = p
            .adresser
            .folkbokforingsadress
            .as_ref()
            .and_then(|a| a.post_nr.as_deref());
        if !Intervall::any(&self.postnummer, post_nr) {
            return false;
        }
        let birth = birth_date(post);
        if !Intervall::any(&self.fodelsetid, birth.as_deref()) {
            return false;
        }
        if !self.alder.is_empty() {
            let age = alder(post, year);
            if !age.is_some_and(|a| {
                self.alder
                    .iter()
                    .any(|(from, to)| (*from..=*to).contains(&a))
            }) {
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
        if !self.medborgarskap_datum.is_empty()
            && !p.medborgarskap.iter().any(|m| {
                m.landkod == "SE"
                    && Intervall::any(
                        &self.medborgarskap_datum,
                        m.datum.map(|d| d.to_string()).as_deref(),
                    )
            })
        {
            return false;
        }
        let avregistrerad = p.avregistrering.as_ref().map(|a| a.datum.to_string());
        Intervall::any(&self.avregistrering_datum, avregistrerad.as_deref())
    }
}

/// The birth date as `YYYYMMDD` (the record's, else the number's).
pub fn birth_date(post: &Folkbokforingspost) -> Option<String> {
    let p = &post.personpost;
    p.fodelse
        .fodelsedatum
        .as_ref()
        .map(|d| d.to_string())
        .or_else(|| {
            p.person_id
                .birth_date()
                .map(|d| d.format("%Y%m%d").to_string())
        })
}

/// Ålder innevarande år: `year` minus the birth year.
pub fn alder(post: &Folkbokforingspost, year: i32) -> Option<u16> {
    let born: i32 = birth_date(post)?.get(..4)?.parse().ok()?;
    u16::try_from(year - born).ok()
}

/// The sökbegrepp as written in the register (an urval's `sok`, an undergroup, or the flat
/// fields of an avisering order). Values are strings; an interval is `FROM-TO`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSok {
    #[serde(default)]
    pub lan: Vec<String>,
    #[serde(default)]
    pub kommun: Vec<String>,
    #[serde(default)]
    pub postnummer: Vec<String>,
    #[serde(default)]
    pub fodelsetid: Vec<String>,
    #[serde(default)]
    pub alder: Vec<RawAlder>,
    #[serde(default)]
    pub kon: Option<String>,
    #[serde(default)]
    pub medborgarskap: Vec<Medborgarskap>,
    #[serde(default)]
    pub medborgarskap_datum: Vec<String>,
    #[serde(default)]
    pub avregistrering_datum: Vec<String>,
    /// An undergroup's wanted count (slumpmässigt urval only).
    #[serde(default)]
    pub antal: Option<u32>,
}

/// An ålder: a number, or `"FROM-TO"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawAlder {
    Ett(u16),
    Text(String),
}

impl RawSok {
    /// The checked sökbegrepp, or the first thing wrong as (field under `at`, message).
    /// Without `intervals` (avisering, Navet section 4), every value must be single.
    pub(crate) fn check(self, at: &str, intervals: bool) -> Result<Sokbegrepp, (String, String)> {
        let digits =
            |s: &str, n: &[usize]| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        let field = |name: &str| format!("{at}.{name}");
        let list = |values: Vec<String>,
                    name: &str,
                    ok: &dyn Fn(&str) -> bool,
                    what: &str|
         -> Result<Vec<Intervall>, (String, String)> {
            let mut out: Vec<Intervall> = Vec::new();
            for v in values {
                let i = match v.split_once('-') {
                    Some((from, to)) if ok(from) && ok(to) && from <= to => {
                        if !intervals {
                            return Err((
                                field(name),
                                format!("`{v}`: intervals cannot be used for avisering (Navet section 4)"),
                            ));
                        }
                        Intervall {
                            fran: from.to_owned(),
                            till: to.to_owned(),
                        }
                    }
                    None if ok(&v) => Intervall::value(&v),
                    _ => {
                        let form = if intervals {
                            format!("{what}, or FROM-TO with FROM not after TO")
                        } else {
                            what.to_owned()
                        };
                        return Err((field(name), format!("`{v}` is not {form}")));
                    }
                };
                if out.contains(&i) {
                    return Err((field(name), format!("`{v}` is listed twice")));
                }
                out.push(i);
            }
            Ok(out)
        };
        let date = |s: &str| digits(s, &[4, 6, 8]);
        let mut alder = Vec::new();
        for a in self.alder {
            let (from, to) = match &a {
                RawAlder::Ett(n) => (*n, *n),
                RawAlder::Text(t) => {
                    let parsed = match t.split_once('-') {
                        Some((f, t)) if intervals => {
                            f.trim().parse().ok().zip(t.trim().parse().ok())
                        }
                        Some(_) => {
                            return Err((
                                field("alder"),
                                format!(
                                "`{t}`: intervals cannot be used for avisering (Navet section 4)"
                            ),
                            ))
                        }
                        None => t.trim().parse().ok().map(|n| (n, n)),
                    };
                    match parsed {
                        Some((f, t)) if f <= t => (f, t),
                        _ => {
                            return Err((
                                field("alder"),
                                format!("`{t}` is not an ålder (a whole number, or FROM-TO)"),
                            ))
                        }
                    }
                }
            };
            if alder.contains(&(from, to)) {
                return Err((field("alder"), format!("{from}-{to} is listed twice")));
            }
            alder.push((from, to));
        }
        let dates = self.medborgarskap_datum.is_empty() && self.avregistrering_datum.is_empty();
        if !intervals && !dates {
            return Err((
                field("medborgarskap_datum"),
                "dates of citizenship or avregistrering are urval sökbegrepp, not avisering".into(),
            ));
        }
        Ok(Sokbegrepp {
            lan: list(
                self.lan,
                "lan",
                &|s| digits(s, &[2]),
                "a länskod (2 digits)",
            )?,
            kommun: list(
                self.kommun,
                "kommun",
                &|s| digits(s, &[4]),
                "a kommunkod (4 digits)",
            )?,
            postnummer: list(
                self.postnummer,
                "postnummer",
                &|s| digits(s, &[1, 2, 3, 4, 5]),
                "a postnummer area (1–5 digits)",
            )?,
            fodelsetid: list(
                self.fodelsetid,
                "fodelsetid",
                &date,
                "a födelsetid (YYYY, YYYYMM or YYYYMMDD)",
            )?,
            alder,
            kon: match self.kon.as_deref() {
                None => None,
                Some("M") => Some('M'),
                Some("K") => Some('K'),
                Some(other) => return Err((field("kon"), format!("`{other}` is not M or K"))),
            },
            medborgarskap: self.medborgarskap.into_iter().collect(),
            medborgarskap_datum: list(
                self.medborgarskap_datum,
                "medborgarskap_datum",
                &date,
                "a date (YYYY, YYYYMM or YYYYMMDD)",
            )?,
            avregistrering_datum: list(
                self.avregistrering_datum,
                "avregistrering_datum",
                &date,
                "a date (YYYY, YYYYMM or YYYYMMDD)",
            )?,
        })
    }
}

/// The category of a record: folkbokförd, or deregistered as dead or emigrated; other
/// deregistered persons (`GN`, `OB`, …) are in none.
pub fn kategori_of(post: &Folkbokforingspost) -> Option<Kategori> {
    match post.personpost.avregistrering.as_ref().map(|a| a.orsak) {
        None => Some(Kategori::Folkbokforda),
        Some(AvregistreringsorsakKod::AV) => Some(Kategori::Avlidna),
        Some(AvregistreringsorsakKod::UV) => Some(Kategori::Utflyttade),
        Some(_) => None,
    }
}

/// The protected-person terms of `skyddade_termer` (the number and the markings always).
pub(crate) fn skyddade_termer(
    names: Option<Vec<String>>,
    at: &str,
) -> Result<Option<TermMask>, (String, String)> {
    let Some(names) = names else {
        return Ok(None);
    };
    let mut mask = TermMask::of(&[Term::PersonId, Term::Skydd]);
    for n in &names {
        let t = Term::from_name(n).ok_or_else(|| {
            (
                format!("{at}.skyddade_termer"),
                format!(
                    "unknown term `{n}` (one of: {})",
                    Term::ALL.map(|t| t.name()).join(", ")
                ),
            )
        })?;
        mask = mask.union(TermMask::of(&[t]));
    }
    Ok(Some(mask))
}

/// [`skyddade_termer`] for a caller outside the register (`folkreg generate
/// --skyddade-termer`): the message only.
pub fn skyddade_termer_of(names: Option<Vec<String>>) -> Result<Option<TermMask>, String> {
    skyddade_termer(names, "generate").map_err(|(_, why)| why)
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
    #[serde(default)]
    pub grunduttag: bool,
}

fn daglig() -> Periodicitet {
    Periodicitet::Daglig
}

/// The first thing wrong with an order in the register file: the field (its path under
/// `organisation.`) and what is wrong, for `register check`'s `FILE:LINE: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProblem {
    /// The field, e.g. `avisering.kommun`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<(String, String)> for OrderProblem {
    fn from((field, message): (String, String)) -> Self {
        OrderProblem { field, message }
    }
}

impl RawOrder {
    /// The order, or the first thing wrong with it.
    pub(crate) fn check(self) -> Result<Order, OrderProblem> {
        self.check_fields().map_err(OrderProblem::from)
    }

    fn check_fields(self) -> Result<Order, (String, String)> {
        let sok = RawSok {
            lan: self.lan,
            kommun: self.kommun,
            postnummer: self.postnummer,
            fodelsetid: self.fodelsetid,
            alder: self.alder.into_iter().map(RawAlder::Ett).collect(),
            kon: self.kon,
            medborgarskap: self.medborgarskap,
            ..RawSok::default()
        }
        .check("avisering", false)?;
        let population = if self.infil {
            if sok != Sokbegrepp::default() {
                return Err((
                    "avisering.infil".into(),
                    "an infil order takes its population from the infil: no sökbegrepp besides kategorier".into(),
                ));
            }
            if self.grunduttag {
                return Err((
                    "avisering.grunduttag".into(),
                    "an infil order has no grunduttag: its population is the infil, given later (lamnaInfil)".into(),
                ));
            }
            Population::Infil
        } else {
            if sok == Sokbegrepp::default() {
                return Err((
                    "avisering".into(),
                    "give the population: sökbegrepp (lan, kommun, postnummer, fodelsetid, alder, kon, medborgarskap) or infil = true".into(),
                ));
            }
            Population::Sokbegrepp(sok)
        };
        if !matches!(self.posttyp, Posttyp::Total | Posttyp::Andring) {
            return Err((
                "avisering.posttyp".into(),
                "an order's posttyp is totalpost or andringspost".into(),
            ));
        }
        Ok(Order {
            id: self.id.into_inner(),
            population,
            kategorier: kategorier(self.kategorier),
            posttyp: self.posttyp,
            periodicitet: self.periodicitet,
            flyttsignal: self.flyttsignal,
            totalpost_vid_havning: self.totalpost_vid_havning,
            alltid_markering: self.alltid_markering,
            skyddade_termer: skyddade_termer(self.skyddade_termer, "avisering")?,
            grunduttag: self.grunduttag,
        })
    }
}

/// The categories of an order: folkbokförda when none are given.
pub(crate) fn kategorier(list: Vec<Kategori>) -> BTreeSet<Kategori> {
    let mut out: BTreeSet<Kategori> = list.into_iter().collect();
    if out.is_empty() {
        out.insert(Kategori::Folkbokforda);
    }
    out
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
        assert_eq!(o.posttyp, Posttyp::Andring);
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
            posttyp: Posttyp::Andring,
            periodicitet: Periodicitet::Daglig,
            flyttsignal: false,
            totalpost_vid_havning: false,
            alltid_markering: false,
            skyddade_termer: None,
            grunduttag: false,
        };
        let with = |f: &dyn Fn(&mut Sokbegrepp)| {
            let mut s = Sokbegrepp::default();
            f(&mut s);
            order(s).includes(&p, false, 2026)
        };
        assert!(with(&|s| s.lan.push(Intervall::value(&fb.lan_kod))));
        assert!(!with(&|s| s.lan.push(Intervall::value("99"))));
        assert!(with(&|s| s.kommun.push(Intervall::value(&fb.kommunkod4()))));
        assert!(with(&|s| s
            .postnummer
            .push(Intervall::value(&post_nr[..3]))));
        assert!(!with(&|s| s.postnummer.push(Intervall::value("0"))));
        let birth = p.personpost.person_id.birth_date().expect("date");
        let year = chrono::Datelike::year(&birth);
        let age = u16::try_from(2026 - year).unwrap_or(0);
        assert!(with(&|s| s.alder.push((age, age))));
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
            lan: vec![Intervall::value(&fb.lan_kod)],
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
