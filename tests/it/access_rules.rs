//! The access rules from the other side: for every category set, every switch set and every
//! kind of record, the served XML holds exactly the terms `TERM_TABLE` and DOMAIN.md §4 allow —
//! found by reading the rendered answer, not by asking the code that wrote it.
//!
//! And the search rule as a property: protected persons that match a search never change its
//! response bytes.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use folkreg::access::{Access, Category, Grant, Switch, Term, TERM_TABLE};
use folkreg::ids::pnr::{Pnr, PnrKind};
use folkreg::loadfile::{DeliveryHeader, DeliveryTyp};
use folkreg::model::change::{DeliveryRecord, Posttyp};
use folkreg::model::{AvregistreringsorsakKod, Folkbokforingspost, Identitetstyp};
use folkreg::soap::response::{answer, Answer};
use folkreg::store::Store;

use crate::common::demo_today;

/// The terms DOMAIN.md §4 lets a caller without `sekretess` see of a protected person: the
/// number, the marking(s) and their date, avregistrering, hänvisningspersonnummer.
const PROTECTED_TERMS: [Term; 4] = [
    Term::PersonId,
    Term::Skydd,
    Term::Avregistrering,
    Term::Hanvisning,
];

fn subsets<T: Copy>(all: &[T]) -> Vec<Vec<T>> {
    (0..1u32 << all.len())
        .map(|bits| {
            all.iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, t)| *t)
                .collect()
        })
        .collect()
}

/// Whether the record holds a value for the term (what a caller allowed everything gets).
fn present(post: &Folkbokforingspost, term: Term, samordning_allowed: bool) -> bool {
    let p = &post.personpost;
    let a = &p.adresser;
    match term {
        Term::PersonId | Term::Arendeuppgift => true,
        // Navet's record has no element for kön and födelsetid (read from the number) nor
        // for the taxering terms: they never go on Navet's wire.
        Term::KonFodelsetid | Term::Taxering => false,
        Term::Hanvisning => p
            .hanvisning
            .iter()
            .any(|h| samordning_allowed || h.kind() != PnrKind::Samordningsnummer),
        Term::Avregistrering => p.avregistrering.is_some(),
        Term::AntraffadDod => p.antraffad_dod.is_some(),
        Term::Namn => {
            let n = &p.namn;
            n.fornamn.is_some() || n.efternamn.is_some() || n.mellannamn.is_some()
        }
        Term::Folkbokforing => p.folkbokforing.is_some(),
        Term::Folkbokforingsadress => a.folkbokforingsadress.is_some(),
        Term::SarskildPostadress => a.sarskild_postadress.is_some(),
        Term::Utlandsadress => a.utlandsadress.is_some(),
        Term::AdressUuid => a.uuid.is_some(),
        Term::Fodelsedatum => p.fodelse.fodelsedatum.is_some(),
        Term::Fodelsehemort => p.fodelse.hemort_sverige.is_some(),
        Term::FodelseortUtlandet => p.fodelse.ort_utlandet.is_some(),
        Term::Invandring => p.invandringsdatum.is_some(),
        Term::Rostratt => p.rostratt_datum.is_some(),
        Term::Civilstand => p.civilstand.is_some(),
        Term::Medborgarskap => !p.medborgarskap.is_empty(),
        Term::Relationer => !p.relationer.is_empty(),
        Term::Uppehallsratt => p.uppehallsratt.is_some(),
        Term::NordisktPersonnummer => p.nordiskt_personnummer.is_some(),
        Term::Historik => !p.historik.is_empty(),
        Term::Samordningsuppgifter => p.samordning.is_some(),
        Term::Skydd => post.is_protected(),
    }
}

/// The terms a rendered answer holds, read from its elements. An element no term accounts
/// for fails the test: every element must be governed by the table.
pub(crate) fn served_terms(xml: &[u8]) -> BTreeSet<Term> {
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = BTreeSet::new();
    let mut buf = Vec::new();
    loop {
        let ev = reader.read_event_into(&mut buf).expect("answer is XML");
        let (name, is_start) = match &ev {
            Event::Start(e) => (
                String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                true,
            ),
            Event::Empty(e) => (
                String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                false,
            ),
            Event::End(_) => {
                path.pop();
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        path.push(name);
        if let Some(at) = path.iter().position(|n| n == "Folkbokforingspost") {
            let rel: Vec<&str> = path[at + 1..].iter().map(String::as_str).collect();
            let term = match rel.as_slice() {
                [] => None,
                ["Arendeuppgift"] => Some(Term::Arendeuppgift),
                ["Personpost"] => None,
                ["Sekretessmarkering" | "SkyddadFolkbokforing"] => Some(Term::Skydd),
                ["Personpost", "PersonId", "Identitetsstatus" | "Identitetsniva" | "Identitetsnivadatum", ..] => {
                    Some(Term::Samordningsuppgifter)
                }
                ["Personpost", "PersonId", ..] => Some(Term::PersonId),
                ["Personpost", "HanvisningsPersonNr"] | ["Personpost", "Hanvisningar", ..] => {
                    Some(Term::Hanvisning)
                }
                ["Personpost", "Avregistrering", "AntraffadDod"] => Some(Term::AntraffadDod),
                ["Personpost", "Avregistrering"] => None,
                ["Personpost", "Avregistrering", ..] => Some(Term::Avregistrering),
                ["Personpost", "Fodelsedatum"] => Some(Term::Fodelsedatum),
                ["Personpost", "Namn", ..] => Some(Term::Namn),
                ["Personpost", "Folkbokforing", ..] => Some(Term::Folkbokforing),
                ["Personpost", "Adresser" | "Fodelse" | "Invandring"] => None,
                ["Personpost", "Adresser", "Folkbokforingsadress", ..] => {
                    Some(Term::Folkbokforingsadress)
                }
                ["Personpost", "Adresser", "SarskildPostadress", ..] => {
                    Some(Term::SarskildPostadress)
                }
                ["Personpost", "Adresser", "Distrikt", ..] => Some(Term::Folkbokforing),
                ["Personpost", "Adresser", "Utlandsadress"] => None,
                ["Personpost", "Adresser", "Utlandsadress", "Rostrattsdatum"] => {
                    Some(Term::Rostratt)
                }
                ["Personpost", "Adresser", "Utlandsadress", ..] => Some(Term::Utlandsadress),
                ["Personpost", "Adresser", "UUID", ..] => Some(Term::AdressUuid),
                ["Personpost", "Fodelse", "HemortSverige", ..] => Some(Term::Fodelsehemort),
                ["Personpost", "Fodelse", "OrtUtlandet", ..] => Some(Term::FodelseortUtlandet),
                ["Personpost", "Invandring", "Invandringsdatum"] => Some(Term::Invandring),
                ["Personpost", "Invandring", "Uppehallsratt"] => Some(Term::Uppehallsratt),
                ["Personpost", "Invandring", n] if n.starts_with("NordisktPnr") => {
                    Some(Term::NordisktPersonnummer)
                }
                ["Personpost", "Civilstand", ..] => Some(Term::Civilstand),
                ["Personpost", "Medborgarskap", ..] => Some(Term::Medborgarskap),
                ["Personpost", "Relationer", ..] => Some(Term::Relationer),
                ["Historik", ..] => Some(Term::Historik),
                ["Personpost", "Samordningsnummeruppgifter", ..] => {
                    Some(Term::Samordningsuppgifter)
                }
                other => panic!("element {other:?} is governed by no term"),
            };
            out.extend(term);
        }
        if !is_start {
            path.pop();
        }
        buf.clear();
    }
    out
}

/// The record kinds of the issue, found in the generated population.
fn kinds(pop: &[Folkbokforingspost]) -> Vec<(&'static str, Folkbokforingspost)> {
    let by_pnr: HashMap<Pnr, &Folkbokforingspost> = pop.iter().map(|p| (p.pnr(), p)).collect();
    let by_pnr = &by_pnr;
    let avreg = |p: &Folkbokforingspost, k| {
        p.personpost
            .avregistrering
            .as_ref()
            .is_some_and(|a| a.orsak == k)
    };
    let ordinary = |p: &&Folkbokforingspost| {
        p.personpost.identitetstyp == Identitetstyp::Personnummer
            && !p.is_protected()
            && p.personpost.avregistrering.is_none()
    };
    let richness =
        |p: &Folkbokforingspost| Term::ALL.iter().filter(|t| present(p, **t, true)).count();
    let find = |name: &'static str, f: &dyn Fn(&&Folkbokforingspost) -> bool| {
        let p = pop
            .iter()
            .filter(|p| f(p))
            .max_by_key(|p| richness(p))
            .unwrap_or_else(|| panic!("the population has no {name} record"));
        (name, (*p).clone())
    };
    let old_of = |gender_change: bool| {
        move |p: &&Folkbokforingspost| {
            avreg(p, AvregistreringsorsakKod::GN)
                && p.personpost
                    .hanvisning
                    .first()
                    .and_then(|n| by_pnr.get(n))
                    .is_some_and(|new| {
                        new.personpost.hanvisning.contains(&p.pnr()) != gender_change
                    })
        }
    };
    let new_of = |gender_change: bool| {
        let old = old_of(gender_change);
        let olds: Vec<Pnr> = pop
            .iter()
            .filter(|p| old(p))
            .map(|p| p.personpost.hanvisning[0])
            .collect();
        move |p: &&Folkbokforingspost| olds.contains(&p.pnr())
    };
    let mut out = vec![
        find("ordinary", &ordinary),
        find("sekretessmarkering", &|p| {
            p.sekretessmarkering && !p.skyddad_folkbokforing
        }),
        find("skyddad folkbokföring", &|p| {
            p.skyddad_folkbokforing && !p.sekretessmarkering
        }),
        find("sekretessmarkering and skyddad", &|p| {
            p.sekretessmarkering && p.skyddad_folkbokforing
        }),
        find("deceased", &|p| avreg(p, AvregistreringsorsakKod::AV)),
        find("emigrated", &|p| avreg(p, AvregistreringsorsakKod::UV)),
        find("samordningsnummer", &|p| {
            p.personpost.identitetstyp == Identitetstyp::Samordningsnummer
        }),
        find("tilldelat personnummer", &|p| {
            p.personpost.identitetstyp == Identitetstyp::TilldelatPersonnummer
        }),
        find("old number after number change", &old_of(false)),
        find("new number after number change", &new_of(false)),
        find("old number after change of legal gender", &old_of(true)),
        find("new number after change of legal gender", &new_of(true)),
        find("fingerade: old identity (OB)", &|p| {
            avreg(p, AvregistreringsorsakKod::OB)
        }),
        find("with uppehållsrätt", &|p| {
            p.personpost.uppehallsratt.is_some()
        }),
        find("with nordiskt personnummer", &|p| {
            p.personpost.nordiskt_personnummer.is_some()
        }),
        find("with födelsehemort and taxering", &|p| {
            p.personpost.fodelse.hemort_sverige.is_some() && p.personpost.taxering.is_some()
        }),
    ];
    // Fingerade personuppgifter: the new identity is an ordinary record that nothing links to
    // the old one; any ordinary record stands for it.
    let second = pop
        .iter()
        .filter(ordinary)
        .nth(1)
        .expect("two ordinary records");
    out.push(("fingerade: new identity", second.clone()));
    out
}

/// What the table and DOMAIN.md §1 and §4 allow of this record in a direct lookup for these
/// categories and switches, or `None` when the caller may not know the record exists. In a
/// direct lookup every record kind is visible to every organisation, samordningsnummer and
/// tilldelat personnummer too, also as a hänvisning (§1: Navet 3.5); the number switches
/// govern deliveries only.
fn expected(
    post: &Folkbokforingspost,
    categories: &[Category],
    switches: &[Switch],
) -> Option<BTreeSet<Term>> {
    let minimal = post.is_protected() && !categories.contains(&Category::Sekretess);
    let samordning = true;
    Some(
        TERM_TABLE
            .iter()
            .filter(|(_, grant)| match grant {
                Grant::Always => true,
                Grant::Category(c) => categories.contains(c),
                Grant::Switch(s) => switches.contains(s),
            })
            .map(|(t, _)| *t)
            .filter(|t| !minimal || PROTECTED_TERMS.contains(t))
            .filter(|t| present(post, *t, samordning))
            .collect(),
    )
}

/// Texts of a protected person that must never reach a caller without `sekretess`.
fn secrets(post: &Folkbokforingspost) -> Vec<String> {
    let p = &post.personpost;
    let mut s: Vec<String> = [&p.namn.fornamn, &p.namn.efternamn]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    for a in [
        &p.adresser.folkbokforingsadress,
        &p.adresser.sarskild_postadress,
    ]
    .into_iter()
    .flatten()
    {
        s.extend(a.utdelningsadress2.clone());
        s.extend(a.post_nr.clone());
    }
    s
}

#[test]
fn every_category_set_and_record_kind_serves_exactly_the_allowed_terms() {
    let pop = folkreg::dev::generate::population(4_000, 20261123, demo_today());
    let kinds = kinds(&pop);
    let mut checked = 0;
    for categories in subsets(&Category::ALL) {
        for switches in subsets(&Switch::ALL) {
            let access = Access::new(categories.iter().copied(), switches.iter().copied());
            for (kind, post) in &kinds {
                let view = access.view(post.clone());
                let want = expected(post, &categories, &switches);
                let Some(view) = view else {
                    assert_eq!(
                        want, None,
                        "{kind}: {categories:?} {switches:?} must see the record"
                    );
                    checked += 1;
                    continue;
                };
                let want = want.unwrap_or_else(|| {
                    panic!("{kind}: {categories:?} {switches:?} must not see the record")
                });
                let xml = answer(Answer::Personpost, std::slice::from_ref(&view));
                let got = served_terms(&xml);
                assert_eq!(
                    got, want,
                    "{kind}: categories {categories:?} switches {switches:?}"
                );
                if post.is_protected() && !categories.contains(&Category::Sekretess) {
                    let text = String::from_utf8_lossy(&xml);
                    for secret in secrets(post) {
                        assert!(
                            !text.contains(&secret),
                            "{kind}: a protected person's term leaked"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    // 32 category sets × 8 switch sets × every kind.
    assert_eq!(checked, 32 * 8 * kinds.len());
}

#[test]
fn every_answer_about_a_protected_person_carries_the_marking() {
    let pop = folkreg::dev::generate::population(4_000, 7, demo_today());
    for categories in subsets(&Category::ALL) {
        let access = Access::new(categories.iter().copied(), Switch::ALL);
        for post in pop.iter().filter(|p| p.is_protected()) {
            let view = access
                .view(post.clone())
                .expect("a personnummer is visible");
            let xml = String::from_utf8(answer(Answer::Personpost, &[view])).expect("UTF-8");
            if post.sekretessmarkering {
                assert!(xml.contains("<Sekretessmarkering>J</Sekretessmarkering>"));
            }
            if post.skyddad_folkbokforing {
                assert!(xml.contains("<SkyddadFolkbokforing>J</SkyddadFolkbokforing>"));
            }
        }
    }
}

#[test]
fn fingerade_personuppgifter_have_no_link() {
    let pop = folkreg::dev::generate::population(20_000, 11, demo_today());
    let ob: BTreeSet<Pnr> = pop
        .iter()
        .filter(|p| {
            p.personpost
                .avregistrering
                .as_ref()
                .is_some_and(|a| a.orsak == AvregistreringsorsakKod::OB)
        })
        .map(|p| p.pnr())
        .collect();
    assert!(!ob.is_empty());
    let access = Access::full();
    for post in &pop {
        let view = access.view(post.clone()).expect("full access sees all");
        let xml = String::from_utf8(answer(Answer::Personpost, &[view])).expect("UTF-8");
        if ob.contains(&post.pnr()) {
            assert!(
                !xml.contains("HanvisningsPersonNr"),
                "an OB record refers on"
            );
        } else {
            for n in &ob {
                assert!(
                    !xml.contains(n.as_str()),
                    "a record refers to an OB identity"
                );
            }
        }
    }
}

#[test]
fn after_change_of_legal_gender_only_old_refers_to_new() {
    let pop = folkreg::dev::generate::population(20_000, 3, demo_today());
    let by_pnr: HashMap<Pnr, &Folkbokforingspost> = pop.iter().map(|p| (p.pnr(), p)).collect();
    let access = Access::full();
    let mut seen = (0, 0);
    for old in pop.iter().filter(|p| {
        p.personpost
            .avregistrering
            .as_ref()
            .is_some_and(|a| a.orsak == AvregistreringsorsakKod::GN)
    }) {
        let new_pnr = old.personpost.hanvisning[0];
        let new = by_pnr[&new_pnr];
        let render = |p: &Folkbokforingspost| {
            String::from_utf8(answer(
                Answer::Personpost,
                &[access.view(p.clone()).expect("visible")],
            ))
            .expect("UTF-8")
        };
        let old_xml = render(old);
        let new_xml = render(new);
        assert!(old_xml.contains(&format!(
            "<HanvisningsPersonNr>{}</HanvisningsPersonNr>",
            new_pnr.as_str()
        )));
        let gender_change = old.pnr().is_male() != new_pnr.is_male();
        if gender_change {
            assert!(
                !new_xml.contains(old.pnr().as_str()),
                "the new number reveals the old"
            );
            seen.1 += 1;
        } else {
            assert!(new_xml.contains(&format!(
                "<HanvisningsPersonNr>{}</HanvisningsPersonNr>",
                old.pnr().as_str()
            )));
            seen.0 += 1;
        }
    }
    assert!(
        seen.0 > 0 && seen.1 > 0,
        "both kinds of number change: {seen:?}"
    );
}

/// `posts` as the store's first FULL delivery.
pub(crate) fn load(store: &Store, posts: &[Folkbokforingspost]) {
    let header = DeliveryHeader {
        lopnummer: 1,
        typ: DeliveryTyp::Full,
        skapad: "2026-11-22T05:00:00+01:00".into(),
        antal: posts.len() as u64,
    };
    let mut b = store.begin_full(&header).expect("begin");
    for p in posts {
        b.add(&DeliveryRecord {
            posttyp: Posttyp::Total,
            post: p.clone(),
            present: folkreg::access::TermMask::ALL,
        })
        .expect("add");
    }
    b.commit().expect("commit");
}

fn search_bytes(store: &Store, query: &folkreg::search::SearchQuery, access: &Access) -> Vec<u8> {
    let snap = store.snapshot();
    match folkreg::ops::namnsokning::run(&snap, access, query, 100) {
        Ok(views) => answer(Answer::Namnsokning, &views),
        Err(folkreg::ops::OpError::Fault(f)) => folkreg::soap::response::fault(&f),
        Err(e) => panic!("store: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Adding protected persons who match a search never changes that search's answer — not
    /// the hits, not the count, not "too many hits": the bytes are the same.
    #[test]
    fn protected_persons_never_change_a_search(
        seed in 0u64..1_000,
        pick in 0usize..1_000,
        extra in 1usize..150,
        with_sekretess in any::<bool>(),
        by_postort in any::<bool>(),
    ) {
        let pop = folkreg::dev::generate::population(600, seed, demo_today());
        let ordinary: Vec<&Folkbokforingspost> = pop
            .iter()
            .filter(|p| !p.is_protected() && p.personpost.namn.efternamn.is_some()
                && p.personpost.adresser.folkbokforingsadress.is_some())
            .collect();
        let target = ordinary[pick % ordinary.len()];
        let efternamn = target.personpost.namn.efternamn.clone().unwrap_or_default();
        let fornamn = target.personpost.namn.fornamn.clone().unwrap_or_default();
        let postort = target.personpost.adresser.folkbokforingsadress.as_ref()
            .and_then(|a| a.postort.clone()).unwrap_or_default();
        let mut query = folkreg::search::SearchQuery {
            efter_mellan: folkreg::search::parse_patterns(&efternamn).expect("surname"),
            ..Default::default()
        };
        if by_postort {
            query.postort = folkreg::search::parse_patterns(&postort).expect("postort");
        } else {
            query.fornamn = folkreg::search::parse_patterns(&fornamn).expect("förnamn");
        }
        let categories: Vec<Category> = if with_sekretess { Category::ALL.to_vec() } else { vec![Category::Grund] };
        let access = Access::new(categories, Switch::ALL);

        let dir = tempfile::tempdir().expect("tempdir");
        let before = {
            let store = Store::open(&dir.path().join("a"), 1 << 24).expect("store");
            load(&store, &pop);
            search_bytes(&store, &query, &access)
        };
        // Protected twins of the target: same name and address, new numbers, either marking.
        let mut more = pop.clone();
        let born = NaiveDate::from_ymd_opt(1975, 5, 5).expect("date");
        let held: BTreeSet<Pnr> = pop.iter().map(|p| p.pnr()).collect();
        let mut fresh = (100u16..999)
            .filter_map(|serial| Pnr::from_parts(born, serial, false))
            .filter(|n| !held.contains(n));
        for i in 0..extra {
            let mut twin = target.clone();
            twin.personpost.person_id = fresh.next().expect("a free number");
            twin.personpost.hanvisning.clear();
            match i % 3 {
                0 => twin.sekretessmarkering = true,
                1 => twin.skyddad_folkbokforing = true,
                _ => { twin.sekretessmarkering = true; twin.skyddad_folkbokforing = true; }
            }
            more.push(twin);
        }
        let after = {
            let store = Store::open(&dir.path().join("b"), 1 << 24).expect("store");
            load(&store, &more);
            search_bytes(&store, &query, &access)
        };
        prop_assert_eq!(String::from_utf8_lossy(&before), String::from_utf8_lossy(&after));
    }
}
