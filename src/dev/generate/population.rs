//! The synthetic population: households of persons with consistent relations, and the rarer
//! record kinds of the register mixed in at fixed shares.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::names::*;
use crate::ids::pnr::Pnr;
use crate::model::*;
use crate::refdata::{self, Kommun};

/// Shared state while generating: the random source, the numbers in use, the places.
pub(crate) struct Gen {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) today: NaiveDate,
    used: Taken,
    kommuner: Vec<(&'static Kommun, u32)>,
    total_weight: u32,
}

/// Population weight of the big kommuner; the rest weigh 1.
/// The numbers given out so far: a bit per possible number born in the 128 years up to
/// `today` (18 MB, most of it never touched), so the memory does not grow with the
/// population; numbers outside those years (only from `reserve`) in a set.
pub(crate) struct Taken {
    first_year: i32,
    bits: Vec<u64>,
    pub(crate) others: HashSet<Pnr>,
}

impl Taken {
    const YEARS: i32 = 128;
    /// Days 1–31, or 61–91 for a samordningsnummer: 92 slots a month, 1,000 serials a day.
    const PER_YEAR: usize = 12 * 92 * 1000;

    pub(crate) fn new(this_year: i32) -> Taken {
        let n = Self::YEARS as usize * Self::PER_YEAR;
        Taken {
            first_year: this_year - Self::YEARS + 1,
            bits: vec![0; n.div_ceil(64)],
            others: HashSet::new(),
        }
    }

    /// The bit of `p`, if it is in the map's years.
    fn index(&self, p: Pnr) -> Option<usize> {
        let d = p.as_bytes();
        let num = |r: std::ops::Range<usize>| {
            d[r].iter()
                .fold(0usize, |n, c| n * 10 + usize::from(c.wrapping_sub(b'0')))
        };
        let year = i32::try_from(num(0..4))
            .ok()?
            .checked_sub(self.first_year)?;
        let (month, day, serial) = (num(4..6), num(6..8), num(8..11));
        if !(0..Self::YEARS).contains(&year) || !(1..=12).contains(&month) || day > 91 {
            return None;
        }
        let year = usize::try_from(year).ok()?;
        Some(year * Self::PER_YEAR + ((month - 1) * 92 + day) * 1000 + serial)
    }

    /// Marks `p` taken; false if it already was.
    pub(crate) fn insert(&mut self, p: Pnr) -> bool {
        match self.index(p) {
            Some(i) => {
                let (word, bit) = (i / 64, 1u64 << (i % 64));
                let fresh = self.bits[word] & bit == 0;
                self.bits[word] |= bit;
                fresh
            }
            None => self.others.insert(p),
        }
    }
}

fn weight(kod: &str) -> u32 {
    match kod {
        "0180" => 40,
        "1480" => 28,
        "1280" => 17,
        "0380" => 12,
        "0580" | "1880" | "1980" | "0581" | "0680" | "2480" | "1281" | "1283" => 7,
        "0184" | "0182" | "0126" | "0127" | "0138" | "0186" | "1490" | "2281" | "0780" | "2180" => {
            4
        }
        _ => 1,
    }
}

impl Gen {
    pub(crate) fn new(rng: ChaCha8Rng, today: NaiveDate) -> Gen {
        let kommuner: Vec<_> = refdata::kommuner()
            .iter()
            .map(|k| (k, weight(k.kod)))
            .collect();
        let total_weight = kommuner.iter().map(|(_, w)| w).sum();
        Gen {
            rng,
            today,
            used: Taken::new(today.year()),
            kommuner,
            total_weight,
        }
    }

    /// Marks existing numbers as taken (for deltas).
    pub(crate) fn reserve(&mut self, pnrs: impl IntoIterator<Item = Pnr>) {
        for p in pnrs {
            self.used.insert(p);
        }
    }

    pub(crate) fn kommun(&mut self) -> &'static Kommun {
        let mut x = self.rng.gen_range(0..self.total_weight);
        for (k, w) in &self.kommuner {
            if x < *w {
                return k;
            }
            x -= w;
        }
        self.kommuner[0].0
    }

    fn pick<'a>(&mut self, list: &'a [&'a str]) -> &'a str {
        list.choose(&mut self.rng).copied().unwrap_or("")
    }

    /// A skewed pick: the start of the list is more likely; the first surname gets about 3 %
    /// (Andersson and Johansson each have about 2.3 % of Sweden).
    fn pick_skewed<'a>(&mut self, list: &'a [&'a str]) -> &'a str {
        let u: f64 = self.rng.gen();
        let i = (u.powf(1.4) * list.len() as f64) as usize;
        list[i.min(list.len() - 1)]
    }

    pub(crate) fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(1);
        from + Duration::days(self.rng.gen_range(0..days))
    }

    pub(crate) fn birth_date(&mut self, min_age: i32, max_age: i32) -> NaiveDate {
        let y = self.today.year();
        let from =
            NaiveDate::from_ymd_opt(y - max_age - 1, self.today.month(), 1).unwrap_or(self.today);
        let to = NaiveDate::from_ymd_opt(y - min_age, self.today.month(), 1).unwrap_or(self.today);
        self.date_between(from, to.min(self.today))
    }

    /// A fresh, unique number for this birth date and kön: a random free födelsenummer of
    /// the day, or, when the day's 500 numbers for that kön are all given (a large population
    /// fills the most recent days), the first free one on the days before it — as numbers of a
    /// neighbouring day are given when a day's run out. `generate` caps the population
    /// ([`MAX_PERSONS`]) far below the numbers there are, so the walk always ends.
    pub(crate) fn pnr(&mut self, born: NaiveDate, male: bool, samordning: bool) -> Pnr {
        const DRAWS: usize = 64;
        for _ in 0..DRAWS {
            let serial = self.rng.gen_range(0..500u16) * 2 + u16::from(male);
            if let Some(p) = Pnr::from_parts(born, serial, samordning) {
                if self.used.insert(p) {
                    return p;
                }
            }
        }
        let start = self.rng.gen_range(0..500u16);
        let mut day = born;
        loop {
            for k in 0..500u16 {
                let serial = (start + k) % 500 * 2 + u16::from(male);
                if let Some(p) = Pnr::from_parts(day, serial, samordning) {
                    if self.used.insert(p) {
                        return p;
                    }
                }
            }
            day = day.pred_opt().unwrap_or(self.today);
        }
    }

    pub(crate) fn stamp(&mut self) -> String {
        let d = self.date_between(self.today - Duration::days(5 * 365), self.today);
        format!(
            "{}{:02}{:02}{:02}",
            d.format("%Y%m%d"),
            self.rng.gen_range(6..20),
            self.rng.gen_range(0..60),
            self.rng.gen_range(0..60)
        )
    }

    pub(crate) fn first_names(&mut self, male: bool) -> (String, u8) {
        let list = if male { MALE } else { FEMALE };
        let n = match self.rng.gen_range(0..10) {
            0..=3 => 1,
            4..=8 => 2,
            _ => 3,
        };
        let mut names: Vec<&str> = Vec::new();
        while names.len() < n {
            let f = self.pick(list);
            if !names.contains(&f) {
                names.push(f);
            }
        }
        let full = names.join(" ");
        // Words counted as the register does: a hyphenated name is two.
        let words = full.split([' ', '-']).count() as u8;
        let first = self.rng.gen_range(1..=words.min(3));
        let code = if self.rng.gen_bool(0.15) && first < words {
            first * 10 + first + 1
        } else {
            first * 10
        };
        (full, code)
    }

    /// An address in a kommun: street, number, lägenhet, postnummer from its block.
    pub(crate) fn address(&mut self, k: &Kommun) -> (SvenskAdress, String, AdressUuid) {
        let street = self.pick(STREETS);
        let nr = self.rng.gen_range(1..120);
        let lgh = if self.rng.gen_bool(0.5) {
            format!(" lgh {}", self.rng.gen_range(1001..1506))
        } else {
            String::new()
        };
        let block = refdata::postnummer_block(k);
        let post_nr = self.rng.gen_range(block);
        let kvarter = self.pick(KVARTER);
        let fastighet = format!(
            "{} {} {}:{}",
            k.namn.to_uppercase(),
            kvarter,
            self.rng.gen_range(1..40),
            self.rng.gen_range(1..300)
        );
        let care_of = self
            .rng
            .gen_bool(0.01)
            .then(|| format!("c/o {}", self.pick_skewed(SURNAMES)));
        let uuid = AdressUuid {
            fastighet: Some(self.uuid()),
            adress: Some(self.uuid()),
            lagenhet: (!lgh.is_empty()).then(|| self.uuid()),
        };
        (
            SvenskAdress {
                care_of,
                utdelningsadress1: None,
                utdelningsadress2: Some(format!("{street} {nr}{lgh}")),
                post_nr: Some(format!("{post_nr:05}")),
                postort: Some(k.postort()),
            },
            fastighet,
            uuid,
        )
    }

    pub(crate) fn uuid(&mut self) -> String {
        let a: u128 = self.rng.gen();
        let h = format!("{a:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// Folkbokföring on a fastighet in `k`, with historik.
    pub(crate) fn folkbokforing(
        &mut self,
        k: &Kommun,
        fastighet: &str,
        since: NaiveDate,
    ) -> (Folkbokforing, Vec<HistorikPost>) {
        let f = Folkbokforing {
            folkbokforingsdatum: Datum::from_date(since),
            lan_kod: k.lan_kod.to_owned(),
            kommun_kod: k.kommun_kod2().to_owned(),
            fastighetsbeteckning: Some(fastighet.to_owned()),
            fiktivt_nr: self
                .rng
                .gen_bool(0.02)
                .then(|| self.rng.gen_range(1..9).to_string()),
            distrikt: Some(format!("{}{:02}", k.kod, self.rng.gen_range(1..20))),
            pa_kommun_skriven: false,
        };
        let mut historik = vec![HistorikPost {
            typ: Folkbokforingstyp::FB,
            datum: f.folkbokforingsdatum,
            lan_kod: Some(f.lan_kod.clone()),
            kommun_kod: Some(f.kommun_kod.clone()),
            fastighetsbeteckning: f.fastighetsbeteckning.clone(),
        }];
        if self.rng.gen_bool(0.4) && since.year() > 1970 {
            let earlier = self.kommun();
            let d = self.date_between(since - Duration::days(3 * 365), since);
            historik.push(HistorikPost {
                typ: Folkbokforingstyp::FB,
                datum: Datum::from_date(d),
                lan_kod: Some(earlier.lan_kod.to_owned()),
                kommun_kod: Some(earlier.kommun_kod2().to_owned()),
                fastighetsbeteckning: Some(format!(
                    "{} {} 1:{}",
                    earlier.namn.to_uppercase(),
                    self.pick(KVARTER),
                    self.rng.gen_range(1..99)
                )),
            });
        }
        (f, historik)
    }

    /// One ordinary living person, folkbokförd at this address.
    pub(crate) fn person(
        &mut self,
        born: NaiveDate,
        male: bool,
        efternamn: &str,
        home: &Home,
    ) -> Folkbokforingspost {
        let pnr = self.pnr(born, male, false);
        let (fornamn, tilltal) = self.first_names(male);
        let mellannamn = self
            .rng
            .gen_bool(0.04)
            .then(|| self.pick(MIDDLE).to_owned());
        let since = self.date_between(born.max(self.today - Duration::days(30 * 365)), self.today);
        let (folkbokforing, historik) = self.folkbokforing(home.kommun, &home.fastighet, since);
        let foreign = self.rng.gen_bool(0.09);
        let mut post = Folkbokforingspost {
            andringstidpunkt: self.stamp(),
            personpost: Personpost {
                person_id: pnr,
                identitetstyp: Identitetstyp::Personnummer,
                hanvisning: Vec::new(),
                avregistrering: None,
                antraffad_dod: None,
                namn: Namn {
                    tilltalsnamnsmarkering: Some(tilltal),
                    fornamn: Some(fornamn),
                    mellannamn,
                    efternamn: Some(efternamn.to_owned()),
                    aviseringsnamn: None,
                },
                folkbokforing: Some(folkbokforing),
                adresser: Adresser {
                    folkbokforingsadress: Some(home.adress.clone()),
                    uuid: self.rng.gen_bool(0.7).then(|| home.uuid.clone()),
                    ..Default::default()
                },
                fodelse: Fodelse {
                    fodelsedatum: Some(Datum::from_date(if self.rng.gen_bool(0.002) {
                        born + Duration::days(1)
                    } else {
                        born
                    })),
                    ..Default::default()
                },
                invandringsdatum: None,
                rostratt_datum: None,
                civilstand: Some(Civilstand {
                    kod: CivilstandKod::OG,
                    datum: None,
                }),
                medborgarskap: Vec::new(),
                relationer: Vec::new(),
                uppehallsratt: None,
                nordiskt_personnummer: None,
                taxering: None,
                historik,
                samordning: None,
            },
            sekretessmarkering: false,
            skyddad_folkbokforing: false,
            skyddsdatum: None,
        };
        let p = &mut post.personpost;
        if foreign {
            let n = self.rng.gen_range(1..=3);
            let mut lands: Vec<&(&str, &str, &str, bool)> =
                FOREIGN.choose_multiple(&mut self.rng, n).collect();
            lands.sort_by_key(|l| l.0);
            let arrived = self.date_between(
                born.max(NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or(born)),
                self.today,
            );
            p.invandringsdatum = Some(Datum::from_date(arrived));
            let first = lands[0];
            p.fodelse.ort_utlandet = Some(OrtUtlandet {
                fodelseort: first.1.to_owned(),
                fodelseland: first.2.to_owned(),
            });
            for l in &lands {
                p.medborgarskap.push(Medborgarskap {
                    landkod: l.0.to_owned(),
                    datum: Some(Datum::from_date(arrived)),
                });
            }
            if matches!(first.0, "FI" | "NO" | "DK" | "IS") && self.rng.gen_bool(0.5) {
                p.nordiskt_personnummer = Some(NordisktPersonnummer {
                    nummer: format!(
                        "{}-{:04}",
                        born.format("%d%m%y"),
                        self.rng.gen_range(0..10000)
                    ),
                    landkod: first.0.to_owned(),
                });
            }
            if first.3 && arrived.year() >= 2014 {
                // Navet says only that the right is there (`J`).
                p.uppehallsratt = Some(Uppehallsratt {
                    typ: "J".into(),
                    datum: None,
                });
            }
        } else {
            let zeros = born < NaiveDate::from_ymd_opt(1991, 7, 1).unwrap_or(born);
            p.medborgarskap.push(Medborgarskap {
                landkod: "SE".into(),
                datum: Some(if zeros {
                    Datum::parse("00000000").unwrap_or(Datum::from_date(born))
                } else {
                    Datum::from_date(born)
                }),
            });
            let k = self.kommun();
            p.fodelse.hemort_sverige = Some(HemortSverige {
                lan_kod: k.lan_kod.to_owned(),
                forsamling_kommun: if born.year() >= 2016 {
                    k.namn.to_owned()
                } else {
                    format!("{} församling", k.namn)
                },
            });
        }
        let age = self.today.year() - born.year();
        if age >= 18 {
            p.taxering = Some(Taxering {
                inkomst: Some(Inkomst {
                    ar: (self.today.year() - 1) as u16,
                    summa: self.rng.gen_range(0..900) * 1000,
                }),
                fastigheter: if self.rng.gen_bool(0.25) {
                    vec![Fastighetsinnehav {
                        beteckning: home.fastighet.clone(),
                        kommun: home.kommun.kod.to_owned(),
                    }]
                } else {
                    Vec::new()
                },
            });
        }
        if self.rng.gen_bool(0.006) {
            lengthen_name(&mut p.namn, self);
        }
        set_aviseringsnamn(&mut p.namn);
        post
    }
}

/// A household's home.
pub(crate) struct Home {
    pub(crate) kommun: &'static Kommun,
    pub(crate) adress: SvenskAdress,
    pub(crate) fastighet: String,
    pub(crate) uuid: AdressUuid,
}

impl Home {
    pub(crate) fn new(g: &mut Gen) -> Home {
        let kommun = g.kommun();
        let (adress, fastighet, uuid) = g.address(kommun);
        Home {
            kommun,
            adress,
            fastighet,
            uuid,
        }
    }
}

fn lengthen_name(n: &mut Namn, g: &mut Gen) {
    let extra = g.pick(FEMALE);
    n.fornamn = Some(format!(
        "{} {} Maximiliana",
        n.fornamn.as_deref().unwrap_or(""),
        extra
    ));
    n.efternamn = Some(format!(
        "{}-{}",
        n.efternamn.as_deref().unwrap_or(""),
        g.pick_skewed(SURNAMES)
    ));
    n.mellannamn = Some("af Klint".into());
}

/// Sets the aviseringsnamn when the whole name is longer than 36 characters (8.8):
/// "Efternamn Förnamn" shortened to 36.
pub(crate) fn set_aviseringsnamn(n: &mut Namn) {
    let full = [
        n.fornamn.as_deref(),
        n.mellannamn.as_deref(),
        n.efternamn.as_deref(),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join(" ");
    n.aviseringsnamn = if full.chars().count() > 36 {
        let first = n
            .fornamn
            .as_deref()
            .and_then(|f| f.split(' ').next())
            .unwrap_or("");
        let s = format!("{} {}", n.efternamn.as_deref().unwrap_or(""), first);
        Some(s.chars().take(36).collect::<String>().trim_end().to_owned())
    } else {
        None
    };
}

/// Marks a person utflyttad (UV) on `d` with this address abroad: no folkbokföring, the
/// right to vote from that date, UV in historik.
pub(crate) fn emigrate(p: &mut Personpost, d: Datum, utlandsadress: Utlandsadress) {
    p.avregistrering = Some(Avregistrering {
        orsak: AvregistreringsorsakKod::UV,
        datum: d,
        avliden_datum: None,
    });
    p.folkbokforing = None;
    p.adresser = Adresser {
        utlandsadress: Some(utlandsadress),
        ..Default::default()
    };
    p.rostratt_datum = Some(d);
    p.historik.insert(
        0,
        HistorikPost {
            typ: Folkbokforingstyp::UV,
            datum: d,
            lan_kod: None,
            kommun_kod: None,
            fastighetsbeteckning: None,
        },
    );
}

/// Adds a relation.
pub(crate) fn relate(post: &mut Folkbokforingspost, typ: Relationstyp, other: Pnr) {
    post.personpost.relationer.push(Relation {
        typ,
        person: Relationsperson::PersonNr(other),
        avregistreringsorsak: None,
        avregistreringsdatum: None,
    });
}

/// Marks a person deceased (AV).
pub(crate) fn die(post: &mut Folkbokforingspost, on: NaiveDate, found: bool) {
    let d = Datum::from_date(on);
    post.personpost.avregistrering = Some(Avregistrering {
        orsak: AvregistreringsorsakKod::AV,
        datum: d,
        avliden_datum: (!found).then_some(d),
    });
    if found {
        post.personpost.antraffad_dod = Some(d);
    }
}

/// Marks relations to `dead` in `post` with AV and the date.
pub(crate) fn mark_dead_relation(post: &mut Folkbokforingspost, dead: Pnr, on: NaiveDate) {
    for r in &mut post.personpost.relationer {
        if r.person == Relationsperson::PersonNr(dead) {
            r.avregistreringsorsak = Some(AvregistreringsorsakKod::AV);
            r.avregistreringsdatum = Some(Datum::from_date(on));
        }
    }
}

/// Makes a household and returns its members.
fn household(g: &mut Gen, out: &mut Vec<Folkbokforingspost>) {
    let home = Home::new(g);
    let surname = g.pick_skewed(SURNAMES).to_owned();
    let kind = g.rng.gen_range(0..100);
    if kind < 35 {
        let male = g.rng.gen_bool(0.5);
        let born = g.birth_date(18, 95);
        let mut p = g.person(born, male, &surname, &home);
        if g.rng.gen_bool(0.3) {
            let div = g.date_between(born + Duration::days(25 * 365), g.today);
            p.personpost.civilstand = Some(Civilstand {
                kod: CivilstandKod::S,
                datum: Some(Datum::from_date(div)),
            });
        }
        out.push(p);
        return;
    }
    // A couple, with children in most cases.
    let same_sex = g.rng.gen_bool(0.04);
    let a_male = !same_sex || g.rng.gen_bool(0.5);
    let b_male = if same_sex { a_male } else { !a_male };
    let born_a = g.birth_date(22, 85);
    let born_b = g.date_between(
        born_a - Duration::days(6 * 365),
        (born_a + Duration::days(6 * 365)).min(g.today - Duration::days(20 * 365)),
    );
    let mut a = g.person(born_a, a_male, &surname, &home);
    let b_surname = if g.rng.gen_bool(0.6) {
        surname.clone()
    } else {
        g.pick_skewed(SURNAMES).to_owned()
    };
    let mut b = g.person(born_b, b_male, &b_surname, &home);
    let married_on = g.date_between(born_a.max(born_b) + Duration::days(20 * 365), g.today);
    let partnership =
        same_sex && married_on < NaiveDate::from_ymd_opt(2009, 5, 1).unwrap_or(married_on);
    let formal = g.rng.gen_bool(0.65);
    if formal {
        let kod = if partnership {
            CivilstandKod::RP
        } else {
            CivilstandKod::G
        };
        for p in [&mut a, &mut b] {
            p.personpost.civilstand = Some(Civilstand {
                kod,
                datum: Some(Datum::from_date(married_on)),
            });
        }
        relate(&mut a, Relationstyp::M, b.pnr());
        relate(&mut b, Relationstyp::M, a.pnr());
    }
    let children = if kind < 90 { g.rng.gen_range(0..4) } else { 0 };
    let youngest_parent = born_a.max(born_b);
    let mut kids = Vec::new();
    for _ in 0..children {
        let from = youngest_parent + Duration::days(20 * 365);
        if from >= g.today {
            break;
        }
        let born = g.date_between(
            from,
            (youngest_parent + Duration::days(42 * 365)).min(g.today),
        );
        let male = g.rng.gen_bool(0.51);
        let mut kid = g.person(born, male, &surname, &home);
        kid.personpost.taxering = None;
        let minor = g.today.year() - born.year() < 18;
        // Who is mother and father; two mothers by partner adoption get MO and FO.
        let (ta, tb) = match (a_male, b_male) {
            (true, false) => (Relationstyp::FA, Relationstyp::MO),
            (false, true) => (Relationstyp::MO, Relationstyp::FA),
            (false, false) => (Relationstyp::MO, Relationstyp::F),
            (true, true) => (Relationstyp::FA, Relationstyp::FA),
        };
        relate(&mut kid, ta, a.pnr());
        relate(&mut kid, tb, b.pnr());
        relate(&mut a, Relationstyp::B, kid.pnr());
        relate(&mut b, Relationstyp::B, kid.pnr());
        if minor {
            relate(&mut kid, Relationstyp::V, a.pnr());
            relate(&mut kid, Relationstyp::V, b.pnr());
            relate(&mut a, Relationstyp::VF, kid.pnr());
            relate(&mut b, Relationstyp::VF, kid.pnr());
        }
        kids.push(kid);
    }
    // Now and then a parent has died: the widow(er) is Ä, the children's relations say AV.
    if g.rng.gen_bool(0.05) {
        let on = g.date_between(married_on.min(g.today - Duration::days(1)), g.today);
        die(&mut b, on, g.rng.gen_bool(0.05));
        if formal {
            let kod = if partnership {
                CivilstandKod::EP
            } else {
                CivilstandKod::A
            };
            a.personpost.civilstand = Some(Civilstand {
                kod,
                datum: Some(Datum::from_date(on)),
            });
            if let Some(c) = b.personpost.civilstand.as_mut() {
                c.datum = Some(Datum::from_date(married_on));
            }
        }
        mark_dead_relation(&mut a, b.pnr(), on);
        for k in &mut kids {
            mark_dead_relation(k, b.pnr(), on);
            k.personpost.relationer.retain(|r| {
                !(r.typ == Relationstyp::V && r.person == Relationsperson::PersonNr(b.pnr()))
            });
        }
        b.personpost
            .relationer
            .retain(|r| r.typ != Relationstyp::VF);
    } else if partnership && g.rng.gen_bool(0.2) {
        let on = g.date_between(married_on, g.today);
        for p in [&mut a, &mut b] {
            p.personpost.civilstand = Some(Civilstand {
                kod: CivilstandKod::SP,
                datum: Some(Datum::from_date(on)),
            });
        }
    }
    // Sometimes one parent never had a Swedish number: the child has birth date and name.
    if !kids.is_empty() && g.rng.gen_bool(0.01) {
        let d = Datum::from_date(born_b);
        for k in &mut kids {
            for r in &mut k.personpost.relationer {
                if r.person == Relationsperson::PersonNr(b.pnr()) {
                    r.person = Relationsperson::Uppgifter {
                        fodelsedatum: d,
                        fornamn: b.personpost.namn.fornamn.clone(),
                        efternamn: Some(b_surname.clone()),
                    };
                }
            }
        }
        a.personpost
            .relationer
            .retain(|r| r.person != Relationsperson::PersonNr(b.pnr()));
        out.push(a);
        out.extend(kids);
        return;
    }
    out.push(a);
    out.push(b);
    out.extend(kids);
}

/// A record of one of the rarer kinds, by number `i` of the kinds below.
fn special(g: &mut Gen, i: usize, out: &mut Vec<Folkbokforingspost>) {
    let home = Home::new(g);
    let surname = g.pick_skewed(SURNAMES).to_owned();
    let born = g.birth_date(20, 80);
    let male = g.rng.gen_bool(0.5);
    let mut p = g.person(born, male, &surname, &home);
    let pp = &mut p.personpost;
    let date = |g: &mut Gen, from: (i32, u32, u32), to: NaiveDate| {
        let f = NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap_or(to);
        Datum::from_date(g.date_between(f.max(born), to.max(f.max(born) + Duration::days(1))))
    };
    let avreg = |orsak, datum| {
        Some(Avregistrering {
            orsak,
            datum,
            avliden_datum: None,
        })
    };
    match i {
        // Emigrated: no folkbokföring, an address abroad, the right to vote, UV in historik.
        0 => {
            let d = date(g, (2000, 1, 1), g.today);
            let (_, city, land, _) = *FOREIGN.choose(&mut g.rng).unwrap_or(&FOREIGN[0]);
            let street = format!("{} Street {}", g.pick(STREETS), g.rng.gen_range(1..99));
            let abroad = Utlandsadress {
                utdelningsadress1: Some(street),
                utdelningsadress2: None,
                utdelningsadress3: Some(city.to_owned()),
                land: Some(land.to_uppercase()),
                datum: Some(d),
            };
            emigrate(pp, d, abroad);
        }
        1 => {
            pp.avregistrering = avreg(
                AvregistreringsorsakKod::AN,
                date(
                    g,
                    (1980, 1, 1),
                    NaiveDate::from_ymd_opt(2006, 9, 19).unwrap_or(g.today),
                ),
            )
        }
        // Försvunnen — also how the old identity looks after fingerade personuppgifter:
        // nothing links it to the new one (DOMAIN.md §4).
        2 => {
            let d = date(g, (2006, 9, 20), g.today);
            pp.avregistrering = avreg(AvregistreringsorsakKod::OB, d);
            pp.historik.insert(
                0,
                HistorikPost {
                    typ: Folkbokforingstyp::OB,
                    datum: d,
                    lan_kod: None,
                    kommun_kod: None,
                    fastighetsbeteckning: None,
                },
            );
        }
        3 => {
            pp.avregistrering = avreg(AvregistreringsorsakKod::TA, date(g, (2006, 9, 20), g.today))
        }
        4 => pp.avregistrering = avreg(AvregistreringsorsakKod::FI, date(g, (2018, 7, 1), g.today)),
        // Samordningsnummer: name, medborgarskap, födelseort, särskild postadress, the 8.3 terms.
        5..=8 => {
            let pnr = g.pnr(born, male, true);
            let assigned = date(g, (2000, 1, 1), g.today);
            let renewal = assigned
                .to_date()
                .and_then(|d| NaiveDate::from_ymd_opt(d.year() + 5, 12, 31));
            let (status, orsak, status_date) = match i {
                5 => ("Aktivt", None, None),
                6 => (
                    "Vilandeförklarat",
                    Some(if g.rng.gen_bool(0.5) {
                        "Tidsfrist"
                    } else {
                        "Annan orsak"
                    }),
                    Some(date(g, (2005, 1, 1), g.today)),
                ),
                7 => (
                    "Vilandeförklarat stängt",
                    Some("Annan orsak"),
                    Some(date(g, (2005, 1, 1), g.today)),
                ),
                _ => (
                    "Avregistrerat",
                    Some("Avliden"),
                    Some(date(g, (2005, 1, 1), g.today)),
                ),
            };
            let (_, city, land, _) = *FOREIGN.choose(&mut g.rng).unwrap_or(&FOREIGN[0]);
            let post_addr = pp.adresser.folkbokforingsadress.clone();
            let medborgarskap = pp.medborgarskap.first().cloned();
            *pp = Personpost {
                person_id: pnr,
                identitetstyp: Identitetstyp::Samordningsnummer,
                namn: pp.namn.clone(),
                adresser: Adresser {
                    sarskild_postadress: post_addr,
                    ..Default::default()
                },
                fodelse: Fodelse {
                    fodelsedatum: Some(Datum::from_date(born)),
                    hemort_sverige: None,
                    ort_utlandet: Some(OrtUtlandet {
                        fodelseort: city.into(),
                        fodelseland: land.into(),
                    }),
                },
                medborgarskap: medborgarskap.into_iter().collect(),
                samordning: Some(Samordningsuppgifter {
                    identitetsstatus: status.into(),
                    identitetsstatus_datum: status_date,
                    identitetsstatus_orsak: orsak.map(str::to_owned),
                    tilldelningsdatum: Some(assigned),
                    preliminart_vilandeforklaringsdatum: renewal.map(Datum::from_date),
                    fornyelsedatum: None,
                    identitetsniva: Some(
                        ["Styrket", "Sannolik", "Osäker", "Inte tillämplig"][g.rng.gen_range(0..4)]
                            .into(),
                    ),
                    identitetsniva_datum: Some(assigned),
                }),
                hanvisning: Vec::new(),
                avregistrering: None,
                antraffad_dod: None,
                folkbokforing: None,
                invandringsdatum: None,
                rostratt_datum: None,
                civilstand: None,
                relationer: Vec::new(),
                uppehallsratt: None,
                nordiskt_personnummer: None,
                taxering: None,
                historik: Vec::new(),
            };
            if i == 8 {
                pp.avregistrering = Some(Avregistrering {
                    orsak: AvregistreringsorsakKod::AV,
                    datum: status_date.unwrap_or(assigned),
                    avliden_datum: status_date,
                });
            }
            if g.rng.gen_bool(0.2) {
                pp.avregistrering = Some(Avregistrering {
                    orsak: if g.rng.gen_bool(0.5) {
                        AvregistreringsorsakKod::GS
                    } else {
                        AvregistreringsorsakKod::AS
                    },
                    datum: date(
                        g,
                        (2006, 9, 20),
                        NaiveDate::from_ymd_opt(2021, 6, 17).unwrap_or(g.today),
                    ),
                    avliden_datum: None,
                });
            }
        }
        // Tilldelat personnummer: only number and name.
        9 => {
            let old = g
                .birth_date(40, 90)
                .min(NaiveDate::from_ymd_opt(1985, 1, 1).unwrap_or(born));
            let pnr = g.pnr(old, male, false);
            let namn = pp.namn.clone();
            *pp = Personpost {
                person_id: pnr,
                identitetstyp: Identitetstyp::TilldelatPersonnummer,
                namn,
                ..empty_personpost(pnr)
            };
        }
        // Number change: old GN → new, new → old (two-way); 15: protection set on the new
        // number (the old one is marked too, by `protect_linked`).
        10 | 11 | 15 => {
            let gender_change = i == 11;
            let new_male = if gender_change { !male } else { male };
            let new_pnr = g.pnr(born, new_male, false);
            let d = date(g, (2000, 1, 1), g.today);
            let mut new = p.clone();
            new.personpost.person_id = new_pnr;
            if !gender_change {
                new.personpost.hanvisning = vec![p.pnr()];
            }
            if i == 15 {
                new.sekretessmarkering = true;
                new.skyddsdatum = Some(date(g, (2000, 1, 1), g.today));
            }
            let old = &mut p.personpost;
            old.hanvisning = vec![new_pnr];
            old.avregistrering = avreg(AvregistreringsorsakKod::GN, d);
            out.push(new);
        }
        // Protected persons.
        12 => {
            p.sekretessmarkering = true;
            p.skyddsdatum = Some(date(g, (2000, 1, 1), g.today));
        }
        13 | 14 => {
            protect_skyddad(g, &mut p, &home);
            if i == 14 {
                p.sekretessmarkering = true;
            }
        }
        _ => {}
    }
    out.push(p);
}

/// Skyddad folkbokföring: "på kommunen skriven" in another kommun, särskild postadress at a
/// tax office's box address (no name on it, Navet 9.2), no folkbokföringsadress, nothing
/// that reveals where the person lives.
pub(crate) fn protect_skyddad(g: &mut Gen, p: &mut Folkbokforingspost, home: &Home) {
    let mut other = g.kommun();
    while other.kod == home.kommun.kod {
        other = g.kommun();
    }
    let since = g.date_between(g.today - Duration::days(10 * 365), g.today);
    let pp = &mut p.personpost;
    pp.folkbokforing = Some(Folkbokforing {
        folkbokforingsdatum: Datum::from_date(since),
        lan_kod: other.lan_kod.to_owned(),
        kommun_kod: other.kommun_kod2().to_owned(),
        fastighetsbeteckning: None,
        fiktivt_nr: None,
        distrikt: None,
        pa_kommun_skriven: true,
    });
    let (box_, nr, ort) = *TAX_OFFICES.choose(&mut g.rng).unwrap_or(&TAX_OFFICES[0]);
    pp.adresser = Adresser {
        // A plain address: a box number at a tax office's postal address, with no name that
        // says it is one (Navet 9.2).
        sarskild_postadress: Some(SvenskAdress {
            care_of: None,
            utdelningsadress1: None,
            utdelningsadress2: Some(box_.into()),
            post_nr: Some(nr.into()),
            postort: Some(ort.into()),
        }),
        ..Default::default()
    };
    pp.historik = vec![HistorikPost {
        typ: Folkbokforingstyp::FB,
        datum: Datum::from_date(since),
        lan_kod: Some(other.lan_kod.to_owned()),
        kommun_kod: Some(other.kommun_kod2().to_owned()),
        fastighetsbeteckning: None,
    }];
    pp.taxering = None;
    p.skyddad_folkbokforing = true;
    p.skyddsdatum = Some(Datum::from_date(since));
}

pub(crate) fn empty_personpost(pnr: Pnr) -> Personpost {
    Personpost {
        person_id: pnr,
        identitetstyp: Identitetstyp::Personnummer,
        hanvisning: Vec::new(),
        avregistrering: None,
        antraffad_dod: None,
        namn: Namn::default(),
        folkbokforing: None,
        adresser: Adresser::default(),
        fodelse: Fodelse::default(),
        invandringsdatum: None,
        rostratt_datum: None,
        civilstand: None,
        medborgarskap: Vec::new(),
        relationer: Vec::new(),
        uppehallsratt: None,
        nordiskt_personnummer: None,
        taxering: None,
        historik: Vec::new(),
        samordning: None,
    }
}

/// Per 10,000 records, how many of each rare kind (index into [`special`]): emigrated 100,
/// AN/OB/TA/FI 5 each, samordningsnummer 100 (four statuses), tilldelat 20, number change 20
/// (two records each), change of legal gender 5, sekretessmarkering 30, skyddad 5, both 2,
/// number change with sekretessmarkering on the new number 2 (two records each).
const SPECIAL_PER_10K: [u32; 16] = [100, 5, 5, 5, 5, 40, 25, 15, 20, 20, 10, 3, 30, 4, 1, 2];

/// The largest population `generate` makes: three times Navet's, and a small part of the
/// 365,000 numbers a year there are for each kön.
pub const MAX_PERSONS: usize = 50_000_000;

/// The population: households until `persons` records, then the rare kinds spread in.
pub fn population(persons: usize, seed: u64, today: NaiveDate) -> Vec<Folkbokforingspost> {
    Population::new(persons, seed, today).collect()
}

/// The population as a stream, in the order [`population`] returns it, made a household (or
/// one rare kind) at a time: memory stays that of one household whatever `persons` is.
///
/// This works because every link that [`protect_linked`] follows (hänvisning between the
/// numbers of one person) is made within one call of [`special`]; a test checks that
/// protecting across the whole population afterwards changes nothing.
pub struct Population {
    g: Gen,
    persons: usize,
    /// Records handed out or waiting in `batch`.
    made: usize,
    every: usize,
    next_at: usize,
    specials: std::vec::IntoIter<usize>,
    batch: std::collections::VecDeque<Folkbokforingspost>,
}

impl Population {
    /// The population of (`persons`, `seed`, `today`).
    pub fn new(persons: usize, seed: u64, today: NaiveDate) -> Population {
        use rand::SeedableRng;
        let mut g = Gen::new(ChaCha8Rng::seed_from_u64(seed), today);
        // Every rare kind at least once from 2,000 persons on, then at its share.
        let mut specials = Vec::new();
        for (i, per) in SPECIAL_PER_10K.iter().enumerate() {
            let n = (persons as u64 * *per as u64 / 10_000) as usize;
            let n = if persons >= 2_000 { n.max(1) } else { n };
            specials.extend(std::iter::repeat_n(i, n));
        }
        specials.shuffle(&mut g.rng);
        let every = (persons / (specials.len() + 1)).max(1);
        Population {
            g,
            persons,
            made: 0,
            every,
            next_at: every,
            specials: specials.into_iter(),
            batch: std::collections::VecDeque::new(),
        }
    }

    /// The next household, or the next rare kind when its turn has come.
    fn make_batch(&mut self) -> Vec<Folkbokforingspost> {
        let mut out = Vec::new();
        if self.made >= self.next_at {
            self.next_at += self.every;
            if let Some(i) = self.specials.next() {
                special(&mut self.g, i, &mut out);
            }
        }
        if out.is_empty() {
            household(&mut self.g, &mut out);
        }
        // The last household may overshoot; drop whole relations to records cut off.
        let room = self.persons - self.made;
        if out.len() > room {
            let cut: HashSet<Pnr> = out[room..].iter().map(|p| p.pnr()).collect();
            out.truncate(room);
            for p in &mut out {
                p.personpost.relationer.retain(
                    |r| !matches!(r.person, Relationsperson::PersonNr(x) if cut.contains(&x)),
                );
                p.personpost.hanvisning.retain(|h| !cut.contains(h));
            }
        }
        protect_linked(&mut out);
        out
    }
}

impl Iterator for Population {
    type Item = Folkbokforingspost;

    fn next(&mut self) -> Option<Folkbokforingspost> {
        while self.batch.is_empty() && self.made < self.persons {
            let batch = self.make_batch();
            self.made += batch.len();
            self.batch.extend(batch);
        }
        self.batch.pop_front()
    }
}

/// A person is protected under every number (DOMAIN.md §4): every record linked by
/// hänvisning (either way, transitively) to a protected record gets its marking(s).
pub(crate) fn protect_linked(records: &mut [Folkbokforingspost]) {
    let graph = link_graph(records.iter());
    if graph.is_empty() {
        return;
    }
    let at: HashMap<Pnr, usize> = records
        .iter()
        .enumerate()
        .filter(|(_, p)| graph.contains_key(&p.pnr()))
        .map(|(i, p)| (p.pnr(), i))
        .collect();
    let protected: Vec<usize> = at
        .values()
        .copied()
        .filter(|i| records[*i].is_protected())
        .collect();
    for i in protected {
        let from = records[i].clone();
        for n in linked_numbers(&graph, from.pnr()) {
            if let Some(&j) = at.get(&n) {
                copy_protection(&from, &mut records[j]);
            }
        }
    }
}

/// The hänvisning links of these records, both ways: number → the numbers linked to it.
/// Only numbers with a link are in it.
pub(crate) fn link_graph<'a>(
    records: impl Iterator<Item = &'a Folkbokforingspost>,
) -> HashMap<Pnr, Vec<Pnr>> {
    let mut graph: HashMap<Pnr, Vec<Pnr>> = HashMap::new();
    for p in records {
        for h in &p.personpost.hanvisning {
            graph.entry(p.pnr()).or_default().push(*h);
            graph.entry(*h).or_default().push(p.pnr());
        }
    }
    graph
}

/// Every number reachable from `start` through the links (`start` itself not included).
pub(crate) fn linked_numbers(graph: &HashMap<Pnr, Vec<Pnr>>, start: Pnr) -> Vec<Pnr> {
    let mut seen = HashSet::from([start]);
    let mut queue = vec![start];
    let mut out = Vec::new();
    while let Some(n) = queue.pop() {
        for m in graph.get(&n).into_iter().flatten() {
            if seen.insert(*m) {
                out.push(*m);
                queue.push(*m);
            }
        }
    }
    out.sort_unstable();
    out
}

/// Gives `to` the protection of `from`, a record of the same person under another number:
/// the marking(s) and date, and for skyddad folkbokföring the held folkbokföring and the
/// särskild postadress instead of anything that reveals where the person lives.
pub(crate) fn copy_protection(from: &Folkbokforingspost, to: &mut Folkbokforingspost) {
    to.sekretessmarkering |= from.sekretessmarkering;
    if from.skyddad_folkbokforing {
        to.skyddad_folkbokforing = true;
        let (f, t) = (&from.personpost, &mut to.personpost);
        t.folkbokforing.clone_from(&f.folkbokforing);
        t.adresser.clone_from(&f.adresser);
        t.historik.clone_from(&f.historik);
        t.taxering = None;
    }
    if to.skyddsdatum.is_none() {
        to.skyddsdatum = from.skyddsdatum;
    }
}
