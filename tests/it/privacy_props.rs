//! Issue 17's proof, as a property over generated populations and deltas: for organisations
//! without `sekretess` (the development register's and random category/switch sets), for
//! every operation — lookup, namnsökning, each avisering order kind, each urval kind, and
//! SPAR's PersonSok by IdNummer and by search arguments —
//! nothing the receiver gets (element, value, count, order, presence) changes when the
//! withheld terms of a protected person change, under every number of that person; and no
//! term outside the organisation's grant appears.
//!
//! Two worlds are built from one generated population and one generated delta. In world B
//! one protected person — every record linked to it by hänvisning too — has other withheld
//! terms than in world A: another name, kommun, address, birth date, medborgarskap,
//! civilstånd, relations, historik, taxering and change time, in the FULL and in the delta
//! (and, when drawn, a change of only those terms in the delta). Everything each
//! organisation gets from the two worlds is compared byte for byte.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use folkreg::access::{Access, Category, Switch, Term, PROTECTED_MINIMAL};
use folkreg::avisering::feed::{Feed, OrderKey};
use folkreg::avisering::select::Fil;
use folkreg::ids::pnr::Pnr;
use folkreg::loadfile::{DeliveryHeader, DeliveryTyp};
use folkreg::model::change::{DeliveryRecord, Posttyp};
use folkreg::model::Folkbokforingspost;
use folkreg::register::Register;
use folkreg::soap::response::{answer, Answer};
use folkreg::store::Store;

use crate::access_rules::{load, served_terms};
use crate::common::demo_today;

const KEEP: chrono::Duration = chrono::Duration::days(30);

/// The organisations: Lund's and Norrby's entries of the development register, and one with
/// a drawn category and switch set. None has `sekretess`: the property is about what is
/// withheld.
fn organisations(extra: &[Category], switches: &[Switch]) -> Vec<(&'static str, String, String)> {
    let names = |v: Vec<&str>| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut cats = vec!["grund"];
    cats.extend(extra.iter().map(|c| c.as_str()));
    vec![
        ("2021004748", names(vec!["grund"]), String::new()),
        (
            "2120000134",
            names(vec!["grund", "relationer", "medborgarskap", "taxering"]),
            names(vec![
                "samordningsnummer",
                "tilldelat_personnummer",
                "sarskilda_uppgifter",
            ]),
        ),
        (
            "5566778899",
            names(cats),
            names(switches.iter().map(|s| s.as_str()).collect()),
        ),
    ]
}

/// One register with every order kind for each organisation, chosen by the protected
/// person's kommun in both worlds (so membership would tell, if it could).
fn register(orgs: &[(&str, String, String)], kommuner: &[String]) -> Register {
    let kommuner = kommuner
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = String::new();
    for (i, (orgnr, categories, switches)) in orgs.iter().enumerate() {
        let ids = ["GEO", "TOT", "INF", "U1", "U2", "U3", "U4"]
            .map(|id| format!("\"{id}-{i}\""))
            .join(", ");
        text.push_str(&format!(
            "[[organisation]]\norgnr = \"{orgnr}\"\nnamn = \"Org {i}\"\n\
             categories = [{categories}]\nswitches = [{switches}]\nbestallningar = [{ids}]\n\
             [[organisation.avisering]]\nid = \"GEO-{i}\"\nposttyp = \"andringspost\"\n\
             kommun = [{kommuner}]\nkategorier = [\"folkbokforda\", \"avlidna\", \"utflyttade\"]\n\
             flyttsignal = true\ntotalpost_vid_havning = true\nalltid_markering = true\n\
             [[organisation.avisering]]\nid = \"TOT-{i}\"\nposttyp = \"totalpost\"\n\
             kommun = [{kommuner}]\n\
             [[organisation.avisering]]\nid = \"INF-{i}\"\nposttyp = \"andringspost\"\ninfil = true\n\
             kategorier = [\"folkbokforda\", \"avlidna\", \"utflyttade\"]\n\
             [[organisation.urval]]\nid = \"U1-{i}\"\nsortering = [\"fodelsetid\", \"postnummer\", \"efternamn\"]\n\
             kategorier = [\"folkbokforda\", \"avlidna\"]\nsok = {{ kommun = [{kommuner}] }}\n\
             [[organisation.urval]]\nid = \"U2-{i}\"\nslumpfro = 7\nsok = {{}}\n\
             undergrupper = [{{ antal = 40, kon = \"K\" }}, {{ antal = 40, alder = [\"0-45\"] }}]\n\
             [[organisation.urval]]\nid = \"U3-{i}\"\ninfil = \"periodisk\"\n\
             [[organisation.urval]]\nid = \"U4-{i}\"\nsortering = [\"fodelsetid\", \"kon\", \"efternamn\"]\n\
             sok = {{}}\n"
        ));
    }
    Register::parse(&text, std::path::Path::new("register.toml")).expect("register")
}

/// `p` with the withheld terms of `donor` (another person) in place of its own: the number,
/// the markings and their date, avregistrering and hänvisning stay.
fn vary(p: &Folkbokforingspost, donor: &Folkbokforingspost, tid: &str) -> Folkbokforingspost {
    let mut q = p.clone();
    let (to, from) = (&mut q.personpost, &donor.personpost);
    to.namn = from.namn.clone();
    to.folkbokforing = from.folkbokforing.clone();
    to.adresser.folkbokforingsadress = from.adresser.folkbokforingsadress.clone();
    to.fodelse.fodelsedatum = folkreg::model::Datum::parse("19010203").ok();
    to.medborgarskap = from.medborgarskap.clone();
    to.civilstand = from.civilstand.clone();
    to.relationer = from.relationer.clone();
    to.historik = from.historik.clone();
    to.taxering = from.taxering.clone();
    q.andringstidpunkt = tid.into();
    q
}

fn header(lopnummer: u64, typ: DeliveryTyp, antal: usize) -> DeliveryHeader {
    DeliveryHeader {
        lopnummer,
        typ,
        skapad: "2026-11-02T05:00:00+01:00".into(),
        antal: antal as u64,
    }
}

fn total(post: Folkbokforingspost) -> DeliveryRecord {
    DeliveryRecord {
        posttyp: Posttyp::Total,
        post,
        present: folkreg::access::TermMask::ALL,
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 4, 30, 0).unwrap()
}

/// Everything one organisation got from one world, in order, as text; and every rendered
/// record or answer, to check the grant.
#[derive(Default)]
struct Got {
    lines: Vec<String>,
    rendered: Vec<Vec<u8>>,
}

impl Got {
    fn push(&mut self, what: String, bytes: Vec<u8>) {
        self.lines
            .push(format!("{what}: {}", String::from_utf8_lossy(&bytes)));
        self.rendered.push(bytes);
    }
}

struct World<'a> {
    full: &'a [Folkbokforingspost],
    delta: &'a [DeliveryRecord],
}

/// Runs everything in a world and returns what each organisation got.
fn run(
    dir: &std::path::Path,
    world: World<'_>,
    reg: &Register,
    infil: &[Pnr],
    lookups: &[Pnr],
    searches: &[folkreg::search::SearchQuery],
) -> Vec<Got> {
    let store = Store::open(dir, 1 << 24).expect("store");
    load(&store, world.full);
    let feed = Feed::open(&store).expect("feed");
    feed.produce(&store, reg, at(2), KEEP).expect("enrol");
    for org in reg.organisations() {
        for id in org
            .avisering
            .iter()
            .map(|o| &o.id)
            .chain(org.urval.iter().map(|o| &o.id))
        {
            if id.starts_with("INF") || id.starts_with("U3") {
                feed.replace_infil(&OrderKey::new(&org.orgnr, id), infil.iter().copied())
                    .expect("infil");
            }
        }
    }
    store
        .apply_delta(
            &header(2, DeliveryTyp::Delta, world.delta.len()),
            world.delta,
            false,
        )
        .expect("delta");
    feed.produce(&store, reg, at(3), KEEP).expect("produce");
    feed.run_urval(&store, reg, at(3), KEEP).expect("urval");
    let snap = store.snapshot();
    let mut out = Vec::new();
    for org in reg.organisations() {
        let access = org.access();
        let mut got = Got::default();
        for pnr in lookups {
            let views = folkreg::ops::personpost::run(&snap, &access, pnr).expect("lookup");
            got.push(format!("lookup {pnr}"), answer(Answer::Personpost, &views));
        }
        for (i, q) in searches.iter().enumerate() {
            let bytes = match folkreg::ops::namnsokning::run(&snap, &access, q, 100) {
                Ok(views) => answer(Answer::Namnsokning, &views),
                Err(folkreg::ops::OpError::Fault(f)) => folkreg::soap::response::fault(&f),
                Err(e) => panic!("store: {e}"),
            };
            got.push(format!("search {i}"), bytes);
        }
        // SPAR's PersonSok: the same numbers and the same searches on SPAR's wire (compared
        // byte for byte between the worlds; its element names are SPAR's, so the term check
        // below reads only Navet's answers).
        let spar = |sok: &folkreg::spar::request::Sok| {
            folkreg::ops::personsok::answer_on(
                &snap,
                &access,
                sok,
                "00000000-0000-8000-8000-000000000000",
            )
            .expect("PersonSok")
        };
        for pnr in lookups {
            let bytes = spar(&folkreg::spar::request::Sok::IdNummer(*pnr));
            got.lines.push(format!(
                "spar lookup {pnr}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        for (i, q) in searches.iter().enumerate() {
            let arg = folkreg::spar::request::SokArgument {
                fonetisk: false,
                query: q.clone(),
                namn: Vec::new(),
                fodelsedatum: None,
                lan: None,
                kommun: None,
                distrikt: None,
            };
            let bytes = spar(&folkreg::spar::request::Sok::Argument(Box::new(arg)));
            got.lines.push(format!(
                "spar search {i}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        for id in org
            .avisering
            .iter()
            .map(|o| &o.id)
            .chain(org.urval.iter().map(|o| &o.id))
        {
            let key = OrderKey::new(&org.orgnr, id);
            let cursor = feed.cursor(&key).expect("cursor").expect("enrolled");
            for l in 1..cursor.next_lopnummer {
                let h = feed.header(&key, l).expect("header").expect("kept");
                let meta = feed.urval_meta(&key, l).expect("meta");
                got.lines.push(format!(
                    "{id} {l}: antal {:?}, urval {:?}",
                    h.antal,
                    meta.map(|m| (m.undergrupper, m.ej_funna))
                ));
                for (i, fil) in [Fil::A, Fil::B].into_iter().enumerate() {
                    for (pnr, r) in feed.records(&key, l, fil, 0, h.antal[i]).expect("records") {
                        match r.render_for(&access, &snap).expect("render") {
                            Some(bytes) => got.push(format!("{id} {l} {fil:?} {pnr}"), bytes),
                            None => got.lines.push(format!("{id} {l} {fil:?} {pnr} unseen")),
                        }
                    }
                }
            }
        }
        out.push(got);
    }
    out
}

/// The number of the (first) record in a rendered answer or delivery record.
fn record_number(text: &str) -> Option<&str> {
    let at = text.find("<PersonId>")? + "<PersonId>".len();
    let rest = &text[at..];
    let start = rest.find('>')? + 1;
    rest.get(start..start + 12)
}

/// The terms a caller with `access` may ever be served: its grant and the terms in every
/// answer.
fn grant(access: &Access) -> BTreeSet<Term> {
    access
        .mask()
        .terms()
        .chain([Term::PersonId, Term::Skydd])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]

    #[test]
    fn withheld_terms_of_a_protected_person_change_nothing_a_receiver_gets(
        seed in 0u64..1_000,
        pick in 0usize..1_000,
        extra in proptest::sample::subsequence(
            vec![Category::Relationer, Category::Medborgarskap, Category::Taxering], 0..=3),
        switches in proptest::sample::subsequence(Switch::ALL.to_vec(), 0..=3),
        touch_in_delta in any::<bool>(),
        unmark_linked in any::<bool>(),
        add_link in any::<bool>(),
    ) {
        let today = demo_today();
        let mut full = folkreg::dev::generate::population(500, seed, today);
        let mut state: BTreeMap<Pnr, Folkbokforingspost> =
            full.iter().map(|p| (p.pnr(), p.clone())).collect();
        let mut delta = folkreg::dev::generate::delta(&mut state, 60, seed + 1, today);
        // The protected person, as it is after the delta; prefer one with hänvisning links.
        let protected: Vec<&Folkbokforingspost> = state
            .values()
            .filter(|p| p.is_protected() && p.personpost.folkbokforing.is_some())
            .collect();
        prop_assume!(!protected.is_empty());
        let linked_first: Vec<&&Folkbokforingspost> = protected
            .iter()
            .filter(|p| !p.personpost.hanvisning.is_empty())
            .collect();
        let person = if !linked_first.is_empty() && pick % 4 != 0 {
            *linked_first[pick % linked_first.len()]
        } else {
            protected[pick % protected.len()]
        };
        let person = person.clone();
        let person = &person;
        // An old number of the person (a one-way link, as after a change of legal gender):
        // a record of the FULL the delta leaves alone, marked as the person is.
        let in_delta: BTreeSet<Pnr> = delta.iter().map(|r| r.post.pnr()).collect();
        if add_link {
            let old = full
                .iter_mut()
                .filter(|p| {
                    !p.is_protected()
                        && p.personpost.hanvisning.is_empty()
                        && p.personpost.folkbokforing.is_some()
                        && !in_delta.contains(&p.pnr())
                })
                .nth(pick % 40);
            if let Some(old) = old {
                old.personpost.hanvisning = vec![person.pnr()];
                old.sekretessmarkering = person.sekretessmarkering;
                old.skyddad_folkbokforing = person.skyddad_folkbokforing;
                old.skyddsdatum = person.skyddsdatum;
                state.insert(old.pnr(), old.clone());
            }
        }
        // Its numbers: its own and every record linked to it by hänvisning, either way.
        let mut numbers: BTreeSet<Pnr> = [person.pnr()].into();
        numbers.extend(person.personpost.hanvisning.iter().copied());
        for p in state.values() {
            if p.personpost.hanvisning.contains(&person.pnr()) {
                numbers.insert(p.pnr());
            }
        }
        // Loaded data need not mark the linked numbers themselves, nor deregister an old
        // number: folkreg follows the links, whatever the linked record holds.
        if unmark_linked {
            let unmark = |p: &mut Folkbokforingspost| {
                if p.pnr() != person.pnr() && numbers.contains(&p.pnr()) {
                    p.sekretessmarkering = false;
                    p.skyddad_folkbokforing = false;
                    p.skyddsdatum = None;
                    p.personpost.avregistrering = None;
                }
            };
            full.iter_mut().for_each(unmark);
            delta.iter_mut().for_each(|r| unmark(&mut r.post));
        }
        let donor = state
            .values()
            .filter(|p| {
                !p.is_protected()
                    && p.personpost.folkbokforing.as_ref().map(|f| f.kommunkod4())
                        != person.personpost.folkbokforing.as_ref().map(|f| f.kommunkod4())
                    && p.personpost.namn.efternamn.is_some()
            })
            .nth(pick % 50)
            .expect("a donor in another kommun")
            .clone();
        let kommuner: Vec<String> = [&person.personpost, &donor.personpost]
            .iter()
            .filter_map(|p| p.folkbokforing.as_ref().map(|f| f.kommunkod4()))
            .collect();
        // World B: the same, with other withheld terms under every number of the person —
        // in each load where the person is protected (under any of its numbers); before it
        // is, its terms are not withheld and may rightly differ.
        let protected_in_full = full
            .iter()
            .any(|p| numbers.contains(&p.pnr()) && p.is_protected());
        let full_b: Vec<Folkbokforingspost> = full
            .iter()
            .map(|p| {
                if protected_in_full && numbers.contains(&p.pnr()) {
                    vary(p, &donor, "20261101101500")
                } else {
                    p.clone()
                }
            })
            .collect();
        let mut delta_b: Vec<DeliveryRecord> = delta
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if numbers.contains(&r.post.pnr()) {
                    r.post = vary(&r.post, &donor, "20261102101500");
                }
                r
            })
            .collect();
        let mut delta_a = delta.clone();
        if touch_in_delta && protected_in_full && !delta.iter().any(|r| r.post.pnr() == person.pnr()) {
            // A: re-sent unchanged (no change); B: a change of withheld terms only.
            if let Some(p) = full.iter().find(|p| p.pnr() == person.pnr()) {
                delta_a.push(total(p.clone()));
                let again = vary(p, &state[&full[pick % full.len()].pnr()], "20261102111500");
                delta_b.push(total(again));
            }
        }
        let orgs = organisations(&extra, &switches);
        let reg = register(&orgs, &kommuner);
        let mut infil: Vec<Pnr> = numbers.iter().copied().collect();
        infil.extend(full.iter().step_by(7).map(|p| p.pnr()));
        let mut lookups: Vec<Pnr> = numbers.iter().copied().collect();
        lookups.push(donor.pnr());
        let name_query = |p: &Folkbokforingspost| folkreg::search::SearchQuery {
            efter_mellan: folkreg::search::parse_patterns(
                p.personpost.namn.efternamn.as_deref().unwrap_or("x"),
            )
            .expect("surname"),
            ..Default::default()
        };
        let postort_query = |p: &Folkbokforingspost| {
            let mut q = name_query(p);
            q.postort = folkreg::search::parse_patterns(
                p.personpost
                    .adresser
                    .folkbokforingsadress
                    .as_ref()
                    .and_then(|a| a.postort.as_deref())
                    .unwrap_or("x"),
            )
            .expect("postort");
            q
        };
        let searches = vec![
            name_query(person),
            name_query(&donor),
            postort_query(person),
            postort_query(&donor),
        ];
        let dir = tempfile::tempdir().expect("tmp");
        let a = run(
            &dir.path().join("a"),
            World { full: &full, delta: &delta_a },
            &reg, &infil, &lookups, &searches,
        );
        let b = run(
            &dir.path().join("b"),
            World { full: &full_b, delta: &delta_b },
            &reg, &infil, &lookups, &searches,
        );
        for ((org, got_a), got_b) in reg.organisations().iter().zip(&a).zip(&b) {
            // Nothing differs.
            for (x, y) in got_a.lines.iter().zip(&got_b.lines) {
                prop_assert_eq!(x, y, "{}", org.orgnr);
            }
            prop_assert_eq!(got_a.lines.len(), got_b.lines.len());
            // No term outside the grant; for the protected person, the minimal terms only.
            let allowed = grant(&org.access());
            for bytes in got_a.rendered.iter().chain(&got_b.rendered) {
                let served = served_terms(bytes);
                prop_assert!(served.is_subset(&allowed), "{}: {:?} beyond {:?}", org.orgnr, served, allowed);
                let text = String::from_utf8_lossy(bytes);
                if record_number(&text).is_some_and(|n| numbers.iter().any(|p| p.as_str() == n)) {
                    let minimal: BTreeSet<Term> = PROTECTED_MINIMAL.terms().collect();
                    prop_assert!(served.is_subset(&minimal), "{}: {:?}", org.orgnr, served);
                }
            }
        }
    }
}
