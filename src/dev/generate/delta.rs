//! Delta deliveries: the day's changes to a population, as the register would deliver them.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::population::{
    copy_protection, die, emigrate, link_graph, linked_numbers, mark_dead_relation, relate,
    set_aviseringsnamn, Gen, Home,
};
use crate::ids::pnr::Pnr;
use crate::model::change::{merge, DeliveryRecord, Posttyp, ALWAYS_CARRIED};
use crate::model::term::{Term, TermMask};
use crate::model::*;

/// The change kinds, cycled so every kind occurs in any delta of a dozen changes or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Move,
    NameChange,
    Marriage,
    Birth,
    Death,
    Emigration,
    ProtectionSet,
    ProtectionLifted,
    NumberChange,
    Removal,
}

const CYCLE: &[Kind] = &[
    Kind::Move,
    Kind::Move,
    Kind::Move,
    Kind::NameChange,
    Kind::Birth,
    Kind::Move,
    Kind::Death,
    Kind::Marriage,
    Kind::Move,
    Kind::Emigration,
    Kind::ProtectionSet,
    Kind::ProtectionLifted,
    Kind::NumberChange,
    Kind::Move,
    Kind::Removal,
];

struct Delta<'a> {
    g: Gen,
    state: &'a mut BTreeMap<Pnr, Folkbokforingspost>,
    keys: Vec<Pnr>,
    touched: HashSet<Pnr>,
    out: Vec<DeliveryRecord>,
}

fn ordinary(p: &Folkbokforingspost) -> bool {
    p.personpost.identitetstyp == Identitetstyp::Personnummer
        && p.personpost.avregistrering.is_none()
        && p.personpost.folkbokforing.is_some()
        && !p.is_protected()
}

impl Delta<'_> {
    /// A random untouched person matching `want`, if one is found in a bounded number of tries.
    fn find(&mut self, want: impl Fn(&Folkbokforingspost) -> bool) -> Option<Pnr> {
        for _ in 0..2_000 {
            let k = *self.keys.choose(&mut self.g.rng)?;
            if self.touched.contains(&k) {
                continue;
            }
            if self.state.get(&k).is_some_and(&want) {
                return Some(k);
            }
        }
        None
    }

    fn stamp(&mut self) -> String {
        format!(
            "{}{:02}{:02}00",
            self.g.today.format("%Y%m%d"),
            self.g.rng.gen_range(0..5),
            self.g.rng.gen_range(0..60)
        )
    }

    fn total(&mut self, mut post: Folkbokforingspost) {
        post.andringstidpunkt = self.stamp();
        self.touched.insert(post.pnr());
        self.state.insert(post.pnr(), post.clone());
        self.out.push(DeliveryRecord {
            posttyp: Posttyp::Total,
            post,
            present: TermMask::ALL,
        });
    }

    fn andring(&mut self, mut change: Folkbokforingspost, terms: &[Term]) {
        change.andringstidpunkt = self.stamp();
        let present = TermMask::of(terms).union(ALWAYS_CARRIED);
        let pnr = change.pnr();
        self.touched.insert(pnr);
        if let Some(stored) = self.state.get_mut(&pnr) {
            merge(stored, &change, present);
        }
        self.out.push(DeliveryRecord {
            posttyp: Posttyp::Andring,
            post: change,
            present,
        });
    }

    /// The numbers linked to `pnr` by hänvisning (either way, transitively), or `None` if
    /// one of them is already changed in this delivery (each person at most once).
    fn untouched_linked(&self, pnr: Pnr) -> Option<Vec<Pnr>> {
        let graph = link_graph(self.state.values());
        let linked = linked_numbers(&graph, pnr);
        (!linked.iter().any(|n| self.touched.contains(n))).then_some(linked)
    }

    fn get(&self, p: Pnr) -> Option<Folkbokforingspost> {
        self.state.get(&p).cloned()
    }

    fn apply(&mut self, kind: Kind) -> bool {
        let today = self.g.today;
        match kind {
            Kind::Move => {
                let Some(pnr) = self.find(ordinary) else {
                    return false;
                };
                let Some(mut p) = self.get(pnr) else {
                    return false;
                };
                let home = Home::new(&mut self.g);
                let (f, _) = self.g.folkbokforing(home.kommun, &home.fastighet, today);
                let pp = &mut p.personpost;
                pp.historik.insert(
                    0,
                    HistorikPost {
                        typ: Folkbokforingstyp::FB,
                        datum: f.folkbokforingsdatum,
                        lan_kod: Some(f.lan_kod.clone()),
                        kommun_kod: Some(f.kommun_kod.clone()),
                        fastighetsbeteckning: f.fastighetsbeteckning.clone(),
                    },
                );
                pp.historik.truncate(4);
                pp.folkbokforing = Some(f);
                pp.adresser.folkbokforingsadress = Some(home.adress);
                pp.adresser.uuid = Some(home.uuid);
                self.andring(
                    p,
                    &[
                        Term::Folkbokforing,
                        Term::Folkbokforingsadress,
                        Term::AdressUuid,
                        Term::Historik,
                    ],
                );
            }
            Kind::NameChange => {
                let Some(pnr) = self.find(ordinary) else {
                    return false;
                };
                let Some(mut p) = self.get(pnr) else {
                    return false;
                };
                let surname = super::names::SURNAMES
                    .choose(&mut self.g.rng)
                    .copied()
                    .unwrap_or("Berg");
                p.personpost.namn.efternamn = Some(surname.to_owned());
                set_aviseringsnamn(&mut p.personpost.namn);
                self.andring(p, &[Term::Namn]);
            }
            Kind::Marriage => {
                let single = |p: &Folkbokforingspost| {
                    ordinary(p)
                        && matches!(
                            p.personpost.civilstand.as_ref().map(|c| c.kod),
                            Some(CivilstandKod::OG | CivilstandKod::S)
                        )
                        && p.pnr()
                            .birth_date()
                            .is_some_and(|b| (today - b).num_days() > 20 * 365)
                };
                let Some(a) = self.find(single) else {
                    return false;
                };
                self.touched.insert(a);
                let Some(b) = self.find(|p| single(p)) else {
                    return false;
                };
                let (Some(mut pa), Some(mut pb)) = (self.get(a), self.get(b)) else {
                    return false;
                };
                for (p, other) in [(&mut pa, b), (&mut pb, a)] {
                    p.personpost.civilstand = Some(Civilstand {
                        kod: CivilstandKod::G,
                        datum: Some(Datum::from_date(today)),
                    });
                    p.personpost.relationer.retain(|r| r.typ != Relationstyp::M);
                    relate(p, Relationstyp::M, other);
                }
                pb.personpost.namn.efternamn = pa.personpost.namn.efternamn.clone();
                set_aviseringsnamn(&mut pb.personpost.namn);
                self.total(pa);
                self.total(pb);
            }
            Kind::Birth => {
                let parent = |p: &Folkbokforingspost| {
                    ordinary(p)
                        && p.personpost
                            .civilstand
                            .as_ref()
                            .is_some_and(|c| c.kod == CivilstandKod::G)
                        && p.pnr()
                            .birth_date()
                            .is_some_and(|b| (today - b).num_days() < 45 * 365)
                };
                let Some(a) = self.find(parent) else {
                    return false;
                };
                let Some(mut pa) = self.get(a) else {
                    return false;
                };
                let Some(b) =
                    pa.personpost
                        .relationer
                        .iter()
                        .find_map(|r| match (r.typ, &r.person) {
                            (Relationstyp::M, Relationsperson::PersonNr(x)) => Some(*x),
                            _ => None,
                        })
                else {
                    return false;
                };
                if self.touched.contains(&b) {
                    return false;
                }
                let Some(mut pb) = self.get(b).filter(ordinary) else {
                    return false;
                };
                let Some(f) = pa.personpost.folkbokforing.clone() else {
                    return false;
                };
                let Some(kommun) = crate::refdata::kommun(&f.kommunkod4()) else {
                    return false;
                };
                let home = Home {
                    kommun,
                    adress: pa
                        .personpost
                        .adresser
                        .folkbokforingsadress
                        .clone()
                        .unwrap_or_default(),
                    fastighet: f.fastighetsbeteckning.clone().unwrap_or_default(),
                    uuid: pa.personpost.adresser.uuid.clone().unwrap_or_default(),
                };
                let surname = pa.personpost.namn.efternamn.clone().unwrap_or_default();
                let born = today - Duration::days(self.g.rng.gen_range(1..10));
                let male = self.g.rng.gen_bool(0.51);
                let mut kid = self.g.person(born, male, &surname, &home);
                kid.personpost.taxering = None;
                kid.personpost.invandringsdatum = None;
                kid.personpost.historik.truncate(1);
                let typ = |p: &Folkbokforingspost| {
                    if p.pnr().is_male() {
                        Relationstyp::FA
                    } else {
                        Relationstyp::MO
                    }
                };
                let (ta, tb) = (
                    typ(&pa),
                    if typ(&pa) == typ(&pb) && !pb.pnr().is_male() {
                        Relationstyp::F
                    } else {
                        typ(&pb)
                    },
                );
                relate(&mut kid, ta, a);
                relate(&mut kid, tb, b);
                relate(&mut kid, Relationstyp::V, a);
                relate(&mut kid, Relationstyp::V, b);
                for p in [&mut pa, &mut pb] {
                    relate(p, Relationstyp::B, kid.pnr());
                    relate(p, Relationstyp::VF, kid.pnr());
                }
                self.total(kid);
                self.total(pa);
                self.total(pb);
            }
            Kind::Death => {
                let Some(pnr) = self.find(ordinary) else {
                    return false;
                };
                let Some(mut p) = self.get(pnr) else {
                    return false;
                };
                let on = today - Duration::days(self.g.rng.gen_range(1..5));
                die(&mut p, on, false);
                let spouse =
                    p.personpost
                        .relationer
                        .iter()
                        .find_map(|r| match (r.typ, &r.person) {
                            (Relationstyp::M, Relationsperson::PersonNr(x)) => Some(*x),
                            _ => None,
                        });
                self.total(p);
                if let Some(s) = spouse.filter(|s| !self.touched.contains(s)) {
                    if let Some(mut sp) = self.get(s) {
                        if sp
                            .personpost
                            .civilstand
                            .as_ref()
                            .is_some_and(|c| c.kod == CivilstandKod::G)
                        {
                            sp.personpost.civilstand = Some(Civilstand {
                                kod: CivilstandKod::A,
                                datum: Some(Datum::from_date(on)),
                            });
                        }
                        mark_dead_relation(&mut sp, pnr, on);
                        self.total(sp);
                    }
                }
            }
            Kind::Emigration => {
                let Some(pnr) = self.find(|p| ordinary(p) && p.personpost.relationer.is_empty())
                else {
                    return false;
                };
                let Some(mut p) = self.get(pnr) else {
                    return false;
                };
                let d = Datum::from_date(today);
                let abroad = Utlandsadress {
                    utdelningsadress1: Some("Rue de la Paix 1".into()),
                    utdelningsadress2: None,
                    utdelningsadress3: Some("75002 Paris".into()),
                    land: Some("FRANKRIKE".into()),
                    datum: Some(d),
                };
                emigrate(&mut p.personpost, d, abroad);
                self.total(p);
            }
            Kind::ProtectionSet => {
                let Some(pnr) = self.find(ordinary) else {
                    return false;
                };
                let Some(mut p) = self.get(pnr) else {
                    return false;
                };
                // The person is protected under every number: the linked records too.
                let Some(linked) = self.untouched_linked(pnr) else {
                    return false;
                };
                p.sekretessmarkering = true;
                p.skyddsdatum = Some(Datum::from_date(today));
                for n in linked {
                    if let Some(mut l) = self.get(n) {
                        copy_protection(&p, &mut l);
                        self.andring(l, &[Term::Skydd]);
                    }
                }
                self.andring(p, &[Term::Skydd]);
            }
            Kind::ProtectionLifted => {
                let Some(pnr) = self.find(|p| p.sekretessmarkering && !p.skyddad_folkbokforing)
                else {
                    return false;
                };
                let Some(p) = self.get(pnr) else {
                    return false;
                };
                // Lifted under every number, so only when none of them has skyddad
                // folkbokföring or is changed already in this delivery.
                let Some(linked) = self.untouched_linked(pnr) else {
                    return false;
                };
                let linked: Vec<Folkbokforingspost> =
                    linked.into_iter().filter_map(|n| self.get(n)).collect();
                if linked.iter().any(|l| l.skyddad_folkbokforing) {
                    return false;
                }
                for mut l in linked.into_iter().chain([p]) {
                    l.sekretessmarkering = false;
                    l.skyddsdatum = None;
                    self.andring(l, &[Term::Skydd]);
                }
            }
            Kind::NumberChange => {
                let Some(pnr) = self.find(|p| ordinary(p) && p.personpost.relationer.is_empty())
                else {
                    return false;
                };
                let Some(old) = self.get(pnr) else {
                    return false;
                };
                let Some(born) = pnr.birth_date() else {
                    return false;
                };
                let new_pnr = self.g.pnr(born, pnr.is_male(), false);
                let mut new = old.clone();
                new.personpost.person_id = new_pnr;
                new.personpost.hanvisning = vec![pnr];
                let mut old = old;
                old.personpost.hanvisning = vec![new_pnr];
                old.personpost.avregistrering = Some(Avregistrering {
                    orsak: AvregistreringsorsakKod::GN,
                    datum: Datum::from_date(today),
                    avliden_datum: None,
                });
                self.total(old);
                self.total(new);
            }
            Kind::Removal => {
                let Some(pnr) = self.find(|p| {
                    matches!(
                        p.personpost.avregistrering.as_ref().map(|a| a.orsak),
                        Some(AvregistreringsorsakKod::TA)
                    )
                }) else {
                    return false;
                };
                let Some(p) = self.get(pnr) else { return false };
                self.touched.insert(pnr);
                self.state.remove(&pnr);
                self.out.push(DeliveryRecord {
                    posttyp: Posttyp::Borttag,
                    post: p,
                    present: TermMask::NONE,
                });
            }
        }
        true
    }
}

/// Makes `changes` changes to `state` (applied to it as well) and returns them as delivery
/// records, each person at most once. Deterministic for (state, changes, seed, today).
pub fn delta(
    state: &mut BTreeMap<Pnr, Folkbokforingspost>,
    changes: usize,
    seed: u64,
    today: NaiveDate,
) -> Vec<DeliveryRecord> {
    let mut g = Gen::new(ChaCha8Rng::seed_from_u64(seed), today);
    g.reserve(state.keys().copied());
    let keys: Vec<Pnr> = state.keys().copied().collect();
    let mut d = Delta {
        g,
        state,
        keys,
        touched: HashSet::new(),
        out: Vec::with_capacity(changes + 8),
    };
    let mut misses = 0;
    let mut i = 0usize;
    while d.out.len() < changes && misses < 200 {
        let kind = CYCLE[i % CYCLE.len()];
        i += 1;
        // A kind can run out of persons to apply to; give up only when every kind has, many
        // times in a row (a large delta would otherwise stop at the first few hundred misses).
        if d.apply(kind) {
            misses = 0;
        } else {
            misses += 1;
        }
    }
    // A multi-record change can overshoot; the delivery holds exactly what was made.
    d.out
}
