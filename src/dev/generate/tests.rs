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
            .any(|r| r.typ == Relationstyp::FO))
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
        assert!(
            p.personpost
                .adresser
                .sarskild_postadress
                .as_ref()
                .unwrap()
                .care_of
                .as_deref()
                == Some("Skatteverket")
        );
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
                Relationstyp::MO | Relationstyp::FA | Relationstyp::FO => {
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
