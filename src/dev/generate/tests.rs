use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;
use crate::ids::pnr::Pnr;
use crate::model::change::Posttyp;
use crate::model::*;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

#[test]
fn deterministic_for_a_seed() {
    assert_eq!(population(3_000, 5, today()), population(3_000, 5, today()));
    assert_ne!(population(3_000, 5, today()), population(3_000, 6, today()));
}

#[test]
fn every_number_valid_and_unique_and_every_kind_present() {
    let pop = population(20_000, 1, today());
    assert_eq!(pop.len(), 20_000);
    let mut seen = HashSet::new();
    for p in &pop {
        assert_eq!(Pnr::parse(p.pnr().as_str()), Ok(p.pnr()));
        assert!(seen.insert(p.pnr()), "numbers are unique");
        if let Some(a) = &p.personpost.namn.aviseringsnamn {
            assert!(a.chars().count() <= 36);
        }
        let n = &p.personpost.namn;
        let full: usize = [&n.fornamn, &n.mellannamn, &n.efternamn]
            .iter()
            .filter_map(|x| x.as_ref())
            .map(|s| s.chars().count() + 1)
            .sum();
        assert_eq!(
            n.aviseringsnamn.is_some(),
            full > 37,
            "aviseringsnamn exactly when the name is longer than 36"
        );
        let se = p.personpost.medborgarskap.iter().any(|m| m.landkod == "SE");
        assert!(
            !(se && p.personpost.medborgarskap.len() > 1),
            "Swedish alone"
        );
        assert!(p.personpost.medborgarskap.len() <= 3);
    }
    let codes: HashSet<_> = pop
        .iter()
        .filter_map(|p| p.personpost.avregistrering.as_ref().map(|a| a.orsak))
        .collect();
    for c in AvregistreringsorsakKod::ALL {
        assert!(codes.contains(c), "avregistrering {c:?} occurs");
    }
    let civil: HashSet<_> = pop
        .iter()
        .filter_map(|p| p.personpost.civilstand.as_ref().map(|c| c.kod))
        .collect();
    for c in [
        CivilstandKod::OG,
        CivilstandKod::G,
        CivilstandKod::A,
        CivilstandKod::S,
        CivilstandKod::RP,
    ] {
        assert!(civil.contains(&c), "civilstånd {c:?} occurs");
    }
    let by: HashMap<Pnr, &Folkbokforingspost> = pop.iter().map(|p| (p.pnr(), p)).collect();
    let count = |f: &dyn Fn(&Folkbokforingspost) -> bool| pop.iter().filter(|p| f(p)).count();
    assert!(count(&|p| p.personpost.identitetstyp == Identitetstyp::Samordningsnummer) > 100);
    assert!(count(&|p| p.personpost.identitetstyp == Identitetstyp::TilldelatPersonnummer) > 10);
    assert!(count(&|p| p.personpost.utlandsadress_set()) > 100);
    assert!(count(&|p| p.personpost.nordiskt_personnummer.is_some()) > 0);
    assert!(count(&|p| p.personpost.uppehallsratt.is_some()) > 0);
    assert!(count(&|p| p.personpost.antraffad_dod.is_some()) > 0);
    assert!(
        count(&|p| p
            .personpost
            .relationer
            .iter()
            .any(|r| r.typ == Relationstyp::F))
            > 0,
        "two mothers"
    );
    assert!(
        count(&|p| p
            .personpost
            .relationer
            .iter()
            .any(|r| matches!(r.person, Relationsperson::Uppgifter { .. })))
            > 0
    );
    let sekretess = count(&|p| p.sekretessmarkering);
    let skyddad = count(&|p| p.skyddad_folkbokforing);
    assert!((40..=100).contains(&sekretess), "about 0.3 %: {sekretess}");
    assert!((5..=30).contains(&skyddad), "about 0.05 %: {skyddad}");
    for p in pop.iter().filter(|p| p.skyddad_folkbokforing) {
        let f = p.personpost.folkbokforing.as_ref().unwrap();
        assert!(f.pa_kommun_skriven && f.fastighetsbeteckning.is_none());
        assert!(p.personpost.adresser.folkbokforingsadress.is_none());
        // A plain address: a box number at a tax office's postal address, no name (9.2).
        let a = p.personpost.adresser.sarskild_postadress.as_ref().unwrap();
        assert_eq!(a.care_of, None);
        assert!(a
            .utdelningsadress2
            .as_deref()
            .is_some_and(|b| b.starts_with("Box ")));
    }
    // Hänvisning: two-way after a number change, one-way after change of legal gender.
    let (mut two_way, mut one_way) = (0, 0);
    for p in &pop {
        if p.personpost
            .avregistrering
            .as_ref()
            .is_some_and(|a| a.orsak == AvregistreringsorsakKod::GN)
        {
            for new in &p.personpost.hanvisning {
                let n = by[new];
                if n.personpost.hanvisning.contains(&p.pnr()) {
                    two_way += 1;
                } else {
                    one_way += 1;
                    assert_ne!(
                        n.pnr().is_male(),
                        p.pnr().is_male(),
                        "one-way only after change of legal gender"
                    );
                }
            }
        }
    }
    assert!(two_way > 0 && one_way > 0, "{two_way} {one_way}");
    // Relations are symmetric where both people exist.
    for p in &pop {
        for r in &p.personpost.relationer {
            let Relationsperson::PersonNr(o) = r.person else {
                continue;
            };
            let Some(other) = by.get(&o) else { continue };
            let back = |t: Relationstyp| {
                other
                    .personpost
                    .relationer
                    .iter()
                    .any(|x| x.typ == t && x.person == Relationsperson::PersonNr(p.pnr()))
            };
            match r.typ {
                Relationstyp::M => assert!(back(Relationstyp::M)),
                Relationstyp::MO | Relationstyp::FA | Relationstyp::F => {
                    assert!(back(Relationstyp::B))
                }
                Relationstyp::V => assert!(back(Relationstyp::VF)),
                _ => {}
            }
        }
    }
    // OB records (also the old identity after fingerade personuppgifter) link to nobody.
    for p in pop.iter().filter(|p| {
        p.personpost
            .avregistrering
            .as_ref()
            .is_some_and(|a| a.orsak == AvregistreringsorsakKod::OB)
    }) {
        assert!(p.personpost.hanvisning.is_empty() && p.personpost.relationer.is_empty());
    }
}

trait UtlandsadressSet {
    fn utlandsadress_set(&self) -> bool;
}
impl UtlandsadressSet for Personpost {
    fn utlandsadress_set(&self) -> bool {
        self.adresser.utlandsadress.is_some()
    }
}

#[test]
fn delta_has_every_change_kind_once_per_person() {
    let pop = population(20_000, 3, today());
    let mut state: BTreeMap<Pnr, Folkbokforingspost> =
        pop.into_iter().map(|p| (p.pnr(), p)).collect();
    let before = state.clone();
    let recs = delta(&mut state, 500, 11, today());
    assert!(recs.len() >= 500);
    let mut seen = HashSet::new();
    for r in &recs {
        assert!(seen.insert(r.post.pnr()), "a person at most once per delta");
    }
    let mut again = before.clone();
    assert_eq!(delta(&mut again, 500, 11, today()), recs, "deterministic");
    assert_eq!(again, state);
    assert!(recs.iter().any(|r| r.posttyp == Posttyp::Andring));
    assert!(recs.iter().any(|r| r.posttyp == Posttyp::Borttag));
    let new: Vec<_> = recs
        .iter()
        .filter(|r| !before.contains_key(&r.post.pnr()))
        .collect();
    assert!(
        new.iter().any(|r| r.post.personpost.hanvisning.is_empty()),
        "births"
    );
    assert!(
        new.iter().any(|r| !r.post.personpost.hanvisning.is_empty()),
        "number changes"
    );
    let after = |r: &crate::model::change::DeliveryRecord| state.get(&r.post.pnr());
    let kinds = |f: &dyn Fn(&Folkbokforingspost, &Folkbokforingspost) -> bool| {
        recs.iter()
            .filter(|r| before.contains_key(&r.post.pnr()))
            .filter_map(|r| Some((before.get(&r.post.pnr())?, after(r)?)))
            .any(|(b, a)| f(b, a))
    };
    assert!(
        kinds(
            &|b, a| b.personpost.folkbokforing != a.personpost.folkbokforing
                && a.personpost.avregistrering.is_none()
        ),
        "moves"
    );
    assert!(
        kinds(&|b, a| b.personpost.namn.efternamn != a.personpost.namn.efternamn),
        "name changes"
    );
    assert!(
        kinds(
            &|b, a| a.personpost.civilstand.as_ref().map(|c| c.kod) == Some(CivilstandKod::G)
                && b.personpost.civilstand != a.personpost.civilstand
        ),
        "marriages"
    );
    assert!(
        kinds(&|b, a| b.personpost.avregistrering.is_none()
            && a.personpost
                .avregistrering
                .as_ref()
                .is_some_and(|x| x.orsak == AvregistreringsorsakKod::AV)),
        "deaths"
    );
    assert!(
        kinds(&|b, a| b.personpost.avregistrering.is_none()
            && a.personpost
                .avregistrering
                .as_ref()
                .is_some_and(|x| x.orsak == AvregistreringsorsakKod::UV)),
        "emigrations"
    );
    assert!(
        kinds(&|b, a| !b.sekretessmarkering && a.sekretessmarkering),
        "protection set"
    );
    assert!(
        kinds(&|b, a| b.sekretessmarkering && !a.sekretessmarkering),
        "protection lifted"
    );
}

/// Whether every record linked by hänvisning (either way, transitively) to a protected record
/// is protected too: the problem records, if any.
fn unprotected_links<'a>(
    records: impl Iterator<Item = &'a Folkbokforingspost> + Clone,
) -> Vec<Pnr> {
    let by_pnr: HashMap<Pnr, &Folkbokforingspost> = records.clone().map(|p| (p.pnr(), p)).collect();
    let graph = population::link_graph(records.clone());
    let mut bad = Vec::new();
    for p in records.filter(|p| p.is_protected()) {
        for n in population::linked_numbers(&graph, p.pnr()) {
            let l = by_pnr[&n];
            if (p.sekretessmarkering && !l.sekretessmarkering)
                || (p.skyddad_folkbokforing && !l.skyddad_folkbokforing)
            {
                bad.push(n);
            }
        }
    }
    bad
}

#[test]
fn no_generated_address_names_skatteverket() {
    for p in population(20_000, 4, today()) {
        let text = format!("{:?}", p.personpost.adresser);
        assert!(!text.contains("Skatteverket"), "{text}");
    }
}

/// The population is made (and protected) a household at a time; this is what shows that
/// no link reaches from one household to another.
#[test]
fn protection_on_a_new_number_marks_the_old_one_in_the_full_population() {
    let pop = population(20_000, 2, today());
    let linked_protected = pop
        .iter()
        .filter(|p| p.is_protected() && !p.personpost.hanvisning.is_empty())
        .count();
    assert!(
        linked_protected >= 2,
        "the FULL population has protected persons with two numbers"
    );
    assert_eq!(unprotected_links(pop.iter()), Vec::<Pnr>::new());
}

#[test]
fn protection_set_in_a_delta_marks_every_linked_number() {
    // Every ordinary person has an old number (old → new, and for half new → old too), so
    // every protection a delta sets is on a linked number.
    let pop = population(3_000, 8, today());
    let mut state: BTreeMap<Pnr, Folkbokforingspost> =
        pop.into_iter().map(|p| (p.pnr(), p)).collect();
    let mut g = population::Gen::new(
        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(99),
        today(),
    );
    g.reserve(state.keys().copied());
    let news: Vec<Pnr> = state
        .values()
        .filter(|p| {
            p.personpost.identitetstyp == Identitetstyp::Personnummer
                && p.personpost.avregistrering.is_none()
                && p.personpost.hanvisning.is_empty()
                && !p.is_protected()
        })
        .map(|p| p.pnr())
        .collect();
    for (i, new) in news.into_iter().enumerate() {
        let Some(born) = new.birth_date() else {
            continue;
        };
        let old_pnr = g.pnr(born, new.is_male(), false);
        let mut old = state[&new].clone();
        old.personpost.person_id = old_pnr;
        old.personpost.hanvisning = vec![new];
        old.personpost.avregistrering = Some(Avregistrering {
            orsak: AvregistreringsorsakKod::GN,
            datum: Datum::from_date(today()),
            avliden_datum: None,
        });
        if i % 2 == 0 {
            state.get_mut(&new).unwrap().personpost.hanvisning = vec![old_pnr];
        }
        state.insert(old_pnr, old);
    }
    assert_eq!(unprotected_links(state.values()), Vec::<Pnr>::new());
    let mut set = 0;
    for seed in 0..6 {
        let recs = delta(&mut state, 60, seed, today());
        set += recs
            .iter()
            .filter(|r| r.posttyp == Posttyp::Andring && r.post.sekretessmarkering)
            .count();
        assert_eq!(
            unprotected_links(state.values()),
            Vec::<Pnr>::new(),
            "seed {seed}"
        );
    }
    assert!(set > 0, "protection was set");
}

#[test]
fn a_number_is_given_once_whether_in_the_map_or_outside_it() {
    let mut taken = population::Taken::new(2026);
    let p = Pnr::parse("198001011231").unwrap();
    let samordning = Pnr::parse("198001611238").unwrap();
    let old = Pnr::parse("189001011239").unwrap();
    for n in [p, samordning, old] {
        assert!(taken.insert(n), "{n:?} is new");
        assert!(!taken.insert(n), "{n:?} is taken");
    }
    assert!(taken.others.contains(&old), "born before the map's years");
    assert!(!taken.others.contains(&p));
    assert!(
        taken.insert(Pnr::parse("198001011249").unwrap()),
        "a neighbour is free"
    );
}

#[test]
fn the_stream_is_the_population() {
    let streamed: Vec<_> = Population::new(2_500, 9, today()).take(2_500).collect();
    assert_eq!(streamed, population(2_500, 9, today()));
    assert_eq!(Population::new(2_500, 9, today()).count(), 2_500);
    assert_eq!(Population::new(0, 9, today()).count(), 0);
}

#[test]
fn a_full_day_gives_numbers_of_the_days_before() {
    let mut g = population::Gen::new(
        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1),
        today(),
    );
    let born = chrono::NaiveDate::from_ymd_opt(2026, 10, 30).unwrap();
    let numbers: Vec<Pnr> = (0..1_200).map(|_| g.pnr(born, true, false)).collect();
    let unique: HashSet<Pnr> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), 1_200);
    let on = |d: chrono::NaiveDate| numbers.iter().filter(|p| p.birth_date() == Some(d)).count();
    assert_eq!(on(born), 500, "every number of the day, for men");
    assert_eq!(on(born.pred_opt().unwrap()), 500);
    assert_eq!(on(born - chrono::Duration::days(2)), 200);
    assert!(numbers.iter().all(|p| p.is_male()));
}
