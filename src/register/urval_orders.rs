//! Urval orders as the register defines them (`[[organisation.urval]]`, Navet 3.2–3.4,
//! bilaga 1): what an order selects, how often, sorted how, and the checks that refuse a
//! wrong one. Running them is [`crate::avisering::urval`]'s.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::access::TermMask;

use super::orders::{Kategori, RawSok, Sokbegrepp};

/// How often an urval by sökbegrepp runs (at the nightly run, after the loads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrvalPeriod {
    /// Once (engångsuttag).
    Engang,
    /// Every night.
    Daglig,
    /// The first night of each ISO week.
    Veckovis,
    /// The first night of each month.
    Manadsvis,
    /// The first night of each year.
    Arlig,
}

/// The infil routines of bilaga 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Infilrutin {
    /// a) Run once, at night, on the latest infil; a later infil is refused.
    Enstaka,
    /// b) Run at night after each new infil.
    Periodisk,
    /// c) Answered as soon as the infil is in (`lamnaInfil` with `SvarDirekt`); several a day.
    SvarDirekt,
}

/// What an urval order selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urval {
    /// Everyone matching.
    Sokbegrepp(Sokbegrepp),
    /// Random undergroups.
    Slump {
        /// What every undergroup has in common.
        sok: Sokbegrepp,
        /// The undergroups (delbeställningar), in order.
        undergrupper: Vec<Undergrupp>,
        /// A fixed seed (to repeat a draw); otherwise each run draws a new one.
        slumpfro: Option<u64>,
    },
    /// The persons of the order's infil.
    Infil(Infilrutin),
}

/// One undergroup of a slumpmässigt urval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undergrupp {
    /// Its own sökbegrepp (on top of the order's).
    pub sok: Sokbegrepp,
    /// How many persons are wanted.
    pub antal: u32,
}

/// A sort key (section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sorteringsnyckel {
    /// Länskod.
    Lan,
    /// Kommunkod (four digits).
    Kommun,
    /// Postnummer of the folkbokföringsadress.
    Postnummer,
    /// Birth date.
    Fodelsetid,
    /// Ålder innevarande år.
    Alder,
    /// Kön (`K` before `M`).
    Kon,
    /// The first medborgarskap's country code.
    Medborgarskap,
    /// Datum för svenskt medborgarskap.
    MedborgarskapDatum,
    /// Date of the avregistrering.
    AvregistreringDatum,
    /// Efternamn, in Swedish alphabetical order.
    Efternamn,
    /// Postort, in Swedish alphabetical order.
    Postort,
}

impl Sorteringsnyckel {
    const ALL: [(&'static str, Sorteringsnyckel); 11] = [
        ("lan", Sorteringsnyckel::Lan),
        ("kommun", Sorteringsnyckel::Kommun),
        ("postnummer", Sorteringsnyckel::Postnummer),
        ("fodelsetid", Sorteringsnyckel::Fodelsetid),
        ("alder", Sorteringsnyckel::Alder),
        ("kon", Sorteringsnyckel::Kon),
        ("medborgarskap", Sorteringsnyckel::Medborgarskap),
        ("medborgarskap_datum", Sorteringsnyckel::MedborgarskapDatum),
        (
            "avregistrering_datum",
            Sorteringsnyckel::AvregistreringDatum,
        ),
        ("efternamn", Sorteringsnyckel::Efternamn),
        ("postort", Sorteringsnyckel::Postort),
    ];

    /// The key with this register name.
    pub fn parse(name: &str) -> Option<Sorteringsnyckel> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// One urval order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrvalOrder {
    /// Its BestallningsId (unique in the register).
    pub id: String,
    /// What it selects.
    pub urval: Urval,
    /// Which persons by registration state.
    pub kategorier: BTreeSet<Kategori>,
    /// How often an urval by sökbegrepp (or a slumpmässigt urval) runs.
    pub periodicitet: UrvalPeriod,
    /// Up to three sort keys; then the number.
    pub sortering: Vec<Sorteringsnyckel>,
    /// 9.6.1/bilaga 2: fewer terms for protected persons, in file B.
    pub skyddade_termer: Option<TermMask>,
    /// 9.6.1: no protected persons at all.
    pub utan_skyddade: bool,
    /// Bilaga 1: keep the infil after a run (normally it is used up).
    pub behall_infil: bool,
}

impl UrvalOrder {
    /// Whether this order gets two files (A without, B with the protected persons).
    pub fn split(&self) -> bool {
        self.skyddade_termer.is_some()
    }

    /// The terms its selection reads: the sökbegrepp's and every undergroup's (none for an
    /// infil: the receiver chose the numbers itself).
    pub fn terms_read(&self) -> TermMask {
        match &self.urval {
            Urval::Sokbegrepp(s) => s.terms_read(),
            Urval::Slump {
                sok, undergrupper, ..
            } => undergrupper
                .iter()
                .fold(sok.terms_read(), |read, u| read.union(u.sok.terms_read())),
            Urval::Infil(_) => TermMask::NONE,
        }
    }

    /// The infil routine, for an infil order.
    pub fn infilrutin(&self) -> Option<Infilrutin> {
        match self.urval {
            Urval::Infil(r) => Some(r),
            _ => None,
        }
    }
}

/// `[[organisation.urval]]` as written in the register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUrval {
    pub id: toml::Spanned<String>,
    #[serde(default)]
    pub periodicitet: Option<UrvalPeriod>,
    #[serde(default)]
    pub sok: Option<RawSok>,
    #[serde(default)]
    pub undergrupper: Vec<RawSok>,
    #[serde(default)]
    pub slumpfro: Option<u64>,
    #[serde(default)]
    pub infil: Option<Infilrutin>,
    #[serde(default)]
    pub behall_infil: bool,
    #[serde(default)]
    pub kategorier: Vec<Kategori>,
    #[serde(default)]
    pub sortering: Vec<String>,
    #[serde(default)]
    pub skyddade_termer: Option<Vec<String>>,
    #[serde(default)]
    pub utan_skyddade: bool,
}

/// Most sort keys (section 5: "i första hand, i andra hand, i tredje hand").
pub const MAX_SORT_KEYS: usize = 3;

/// Most persons one undergroup may want.
pub const MAX_ANTAL: u32 = 1_000_000;

impl RawUrval {
    /// The order, or the first thing wrong with it.
    pub(crate) fn check(self) -> Result<UrvalOrder, super::orders::OrderProblem> {
        self.check_fields().map_err(Into::into)
    }

    fn check_fields(self) -> Result<UrvalOrder, (String, String)> {
        let err = |field: &str, msg: String| Err((format!("urval.{field}"), msg));
        let urval = match (self.infil, self.undergrupper.is_empty()) {
            (Some(rutin), true) => {
                if self.sok.is_some() || self.slumpfro.is_some() || self.periodicitet.is_some() {
                    return err(
                        "infil",
                        "an infil order takes its persons from the infil and runs by its routine: no sok, slumpfro or periodicitet".into(),
                    );
                }
                Urval::Infil(rutin)
            }
            (Some(_), false) => {
                return err(
                    "infil",
                    "an infil order has no undergrupper (those are a slumpmässigt urval's)".into(),
                )
            }
            (None, false) => {
                let sok = match self.sok {
                    Some(s) => no_antal(s, "urval.sok")?,
                    None => Sokbegrepp::default(),
                };
                let mut undergrupper = Vec::new();
                for (i, mut raw) in self.undergrupper.into_iter().enumerate() {
                    let at = format!("urval.undergrupper[{}]", i + 1);
                    let antal = match raw.antal.take() {
                        Some(n) if (1..=MAX_ANTAL).contains(&n) => n,
                        Some(n) => {
                            return Err((
                                format!("{at}.antal"),
                                format!("{n}: an undergroup wants 1 to {MAX_ANTAL} persons"),
                            ))
                        }
                        None => {
                            return Err((
                                format!("{at}.antal"),
                                "each undergroup says how many persons it wants (antal)".into(),
                            ))
                        }
                    };
                    undergrupper.push(Undergrupp {
                        sok: raw.check(&at, true)?,
                        antal,
                    });
                }
                Urval::Slump {
                    sok,
                    undergrupper,
                    slumpfro: self.slumpfro,
                }
            }
            (None, true) => {
                if self.slumpfro.is_some() {
                    return err(
                        "slumpfro",
                        "slumpfro belongs to a slumpmässigt urval (with undergrupper)".into(),
                    );
                }
                match self.sok {
                    Some(s) => Urval::Sokbegrepp(no_antal(s, "urval.sok")?),
                    None => {
                        return err(
                        "sok",
                        "give the persons: sok = { … } (sok = {} for everyone of the categories), undergrupper, or infil".into(),
                    )
                    }
                }
            }
        };
        if self.behall_infil && !matches!(urval, Urval::Infil(Infilrutin::Periodisk)) {
            return err(
                "behall_infil",
                "only a periodisk infil order can keep its infil between runs".into(),
            );
        }
        if self.sortering.len() > MAX_SORT_KEYS {
            return err("sortering", format!("at most {MAX_SORT_KEYS} sort keys"));
        }
        let mut sortering = Vec::new();
        for name in &self.sortering {
            let Some(k) = Sorteringsnyckel::parse(name) else {
                let names: Vec<&str> = Sorteringsnyckel::ALL.iter().map(|(n, _)| *n).collect();
                return err(
                    "sortering",
                    format!("unknown sort key `{name}` (one of: {})", names.join(", ")),
                );
            };
            if sortering.contains(&k) {
                return err("sortering", format!("`{name}` is listed twice"));
            }
            sortering.push(k);
        }
        if self.utan_skyddade && self.skyddade_termer.is_some() {
            return err(
                "utan_skyddade",
                "an order leaves protected persons out or gives them fewer terms, not both".into(),
            );
        }
        Ok(UrvalOrder {
            id: self.id.into_inner(),
            urval,
            kategorier: super::orders::kategorier(self.kategorier),
            periodicitet: self.periodicitet.unwrap_or(UrvalPeriod::Engang),
            sortering,
            skyddade_termer: super::orders::skyddade_termer(self.skyddade_termer, "urval")?,
            utan_skyddade: self.utan_skyddade,
            behall_infil: self.behall_infil,
        })
    }
}

/// The checked sökbegrepp of an order (not an undergroup: no `antal`).
fn no_antal(raw: RawSok, at: &str) -> Result<Sokbegrepp, (String, String)> {
    if raw.antal.is_some() {
        return Err((
            format!("{at}.antal"),
            "antal belongs to an undergroup (undergrupper) of a slumpmässigt urval".into(),
        ));
    }
    raw.check(at, true)
}
