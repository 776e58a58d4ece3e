use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;
use crate::avisering::feed::{Feed, Header};
use crate::avisering::select::Fil;
use crate::register::orders::{self as order, Intervall};
use crate::register::urval_orders::*;
use crate::register::{Organisation, Register};
use crate::store::Store;

const PERSONS: usize = 3_000;
const KEEP: chrono::Duration = chrono::Duration::days(30);

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Store,
    feed: Feed,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let full = tmp.path().join("l1.xml.gz");
    let today = NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
    crate::dev::generate::write_full(PERSONS, 9, today, Some(&full)).expect("full");
    let store = Store::open(&tmp.path().join("store"), 8 << 20).expect("store");
    crate::load::load_file(&store, &full, false).expect("full");
    let feed = Feed::open(&store).expect("feed");
    Fixture {
        _tmp: tmp,
        store,
        feed,
    }
}

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 4, 30, 0).unwrap()
}

/// A register of one organisation with `categories` and these urval tables.
fn register(categories: &str, urval: &str) -> Result<Register, crate::register::RegisterError> {
    let text = format!(
        "[[organisation]]\norgnr = \"2120000134\"\nnamn = \"Norrby kommun\"\n\
         categories = [{categories}]\n\
         bestallningar = [\"U1\", \"U2\", \"U3\", \"U4\", \"AV\"]\n{urval}"
    );
    Register::parse(&text, std::path::Path::new("register.toml"))
}

fn only(urval: &str) -> (Register, UrvalOrder) {
    only_as("\"grund\"", urval)
}

/// [`only`] for an organisation with `categories`.
fn only_as(categories: &str, urval: &str) -> (Register, UrvalOrder) {
    let r = register(categories, urval).expect("valid register");
    let o = r.organisations()[0].urval[0].clone();
    (r, o)
}

const SEKRETESS: &str = "\"grund\", \"sekretess\"";

fn org(r: &Register) -> &Organisation {
    &r.organisations()[0]
}

/// Every record of the store.
fn everyone(store: &Store) -> Vec<Folkbokforingspost> {
    store
        .snapshot()
        .iter()
        .map(|p| p.expect("record"))
        .collect()
}

fn busiest_kommun(store: &Store) -> String {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for p in everyone(store) {
        if let Some(fb) = p.personpost.folkbokforing {
            *count.entry(fb.kommunkod4()).or_default() += 1;
        }
    }
    count
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
        .expect("a kommun")
}

fn pnrs(s: &Selection) -> Vec<Pnr> {
    s.hits.iter().map(|h| h.pnr).collect()
}

#[test]
fn swedish_alphabetical_order() {
    let mut names = vec![
        "Öberg",
        "Zetterlund",
        "Åberg",
        "Ängel",
        "andersson",
        "Émile",
        "Eriksson",
        "Müller",
        "Myrdal",
        "Mynta",
        "Edlund",
        "Ahl",
        "Ahlgren",
        "van der Berg",
        "Wall",
        "Vall",
    ];
    names.sort_by_key(|n| collation::key(n));
    assert_eq!(
        names,
        [
            "Ahl",
            "Ahlgren",
            "andersson",
            "Edlund",
            "Émile",
            "Eriksson",
            "Müller",
            "Mynta",
            "Myrdal",
            "Vall",
            "van der Berg",
            "Wall",
            "Zetterlund",
            "Åberg",
            "Ängel",
            "Öberg",
        ]
    );
    // Digits: numerically for equal lengths; missing values last.
    let k = |v: Option<&str>| {
        let mut key = Vec::new();
        collation::push(&mut key, v);
        key
    };
    assert!(k(Some("09")) < k(Some("10")));
    assert!(k(Some("97234")) < k(Some("97235")));
    assert!(k(Some("Öberg")) < k(None));
    assert!(k(Some("")) < k(Some("a")));
}

#[test]
fn intervals_hold_what_their_ends_say() {
    let i = Intervall {
        fran: "1960".into(),
        till: "1969".into(),
    };
    assert!(i.matches("19600101") && i.matches("19691231") && i.matches("19650312"));
    assert!(!i.matches("19591231") && !i.matches("19700101") && !i.matches("196"));
    let p = Intervall {
        fran: "970".into(),
        till: "97599".into(),
    };
    assert!(p.matches("97000") && p.matches("97599") && !p.matches("97600"));
    assert!(Intervall::value("01").matches("01") && !Intervall::value("01").matches("02"));
}

#[test]
fn urval_orders_are_read_from_the_register() {
    let (_, o) = only(
        "[[organisation.urval]]\nid = \"U1\"\nperiodicitet = \"arlig\"\n\
         sortering = [\"postnummer\", \"efternamn\"]\n\
         sok = { kommun = [\"2580\"], alder = [\"20-29\", 65], postnummer = [\"970-975\"] }\n",
    );
    assert_eq!(o.periodicitet, UrvalPeriod::Arlig);
    assert_eq!(
        o.sortering,
        [Sorteringsnyckel::Postnummer, Sorteringsnyckel::Efternamn]
    );
    let Urval::Sokbegrepp(s) = &o.urval else {
        panic!("an urval by sökbegrepp: {o:?}");
    };
    assert_eq!(s.alder, [(20, 29), (65, 65)]);
    assert_eq!(s.postnummer[0].till, "975");
    let (_, slump) = only(
        "[[organisation.urval]]\nid = \"U2\"\nsok = { kommun = [\"2580\"] }\n\
         undergrupper = [{ antal = 50, kon = \"M\", alder = [\"20-29\"] }, { antal = 50, kon = \"K\", alder = [\"20-29\"] }]\n",
    );
    let Urval::Slump { undergrupper, .. } = &slump.urval else {
        panic!("slumpmässigt: {slump:?}");
    };
    assert_eq!(undergrupper.len(), 2);
    assert_eq!(undergrupper[1].sok.kon, Some('K'));
    assert_eq!(slump.periodicitet, UrvalPeriod::Engang);
    let (_, infil) = only("[[organisation.urval]]\nid = \"U3\"\ninfil = \"svar_direkt\"\n");
    assert_eq!(infil.infilrutin(), Some(Infilrutin::SvarDirekt));
}

#[test]
fn bad_urval_orders_are_refused_with_line_and_field() {
    for (table, field, says) in [
        ("id = \"U1\"\n", "urval.sok", "give the persons"),
        ("id = \"U1\"\nsok = { kommun = [\"2590-2580\"] }\n", "urval.sok.kommun", "FROM not after TO"),
        ("id = \"U1\"\nsok = { alder = [\"old\"] }\n", "urval.sok.alder", "not an ålder"),
        ("id = \"U1\"\nsok = {}\nsortering = [\"lan\", \"kommun\", \"postnummer\", \"efternamn\"]\n", "urval.sortering", "at most 3"),
        ("id = \"U1\"\nsok = {}\nsortering = [\"gatuadress\"]\n", "urval.sortering", "unknown sort key"),
        ("id = \"U1\"\nundergrupper = [{ kon = \"M\" }]\n", "urval.undergrupper[1].antal", "how many"),
        ("id = \"U1\"\nundergrupper = [{ antal = 0 }]\n", "urval.undergrupper[1].antal", "1 to"),
        ("id = \"U1\"\nsok = { antal = 5 }\n", "urval.sok.antal", "undergroup"),
        ("id = \"U1\"\ninfil = \"enstaka\"\nsok = {}\n", "urval.infil", "no sok"),
        ("id = \"U1\"\ninfil = \"enstaka\"\nbehall_infil = true\n", "urval.behall_infil", "periodisk"),
        ("id = \"U1\"\nsok = {}\nslumpfro = 7\n", "urval.slumpfro", "slumpmässigt"),
        ("id = \"U1\"\nsok = {}\nutan_skyddade = true\nskyddade_termer = [\"namn\"]\n", "urval.utan_skyddade", "not both"),
        ("id = \"U9\"\nsok = {}\n", "urval.id", "not among"),
    ] {
        let e = register("\"grund\"", &format!("[[organisation.urval]]\n{table}")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(field) && text.contains(says), "{table}: {text}");
        assert!(text.contains("register.toml:7"), "{text}");
    }
    // An avisering order takes no interval, and an order id is one order.
    let e = register(
        "\"grund\"",
        "[[organisation.avisering]]\nid = \"AV\"\nposttyp = \"totalpost\"\nkommun = [\"2580-2584\"]\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("intervals cannot be used for avisering"),
        "{e}"
    );
    let e = register(
        "\"grund\"",
        "[[organisation.avisering]]\nid = \"U1\"\nposttyp = \"totalpost\"\nlan = [\"25\"]\n\
         [[organisation.urval]]\nid = \"U1\"\nsok = {}\n",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("listed twice (first on line 7)"),
        "{e}"
    );
    // Two organisations cannot share an order id: it keys the delivery feed.
    let text = "[[organisation]]\norgnr = \"2120000134\"\nnamn = \"A\"\nbestallningar = [\"X\"]\n\
                [[organisation.urval]]\nid = \"X\"\nsok = {}\n\
                [[organisation]]\norgnr = \"2021005489\"\nnamn = \"B\"\nbestallningar = [\"X\"]\n\
                [[organisation.urval]]\nid = \"X\"\nsok = {}\n";
    let e = Register::parse(text, std::path::Path::new("r.toml")).unwrap_err();
    assert!(
        e.to_string().contains("listed twice (first on line 6)"),
        "{e}"
    );
}

#[test]
fn an_urval_selects_everyone_matching_now_sorted_by_its_keys() {
    let f = fixture();
    let kommun = busiest_kommun(&f.store);
    let (r, o) = only(&format!(
        "[[organisation.urval]]\nid = \"U1\"\nsortering = [\"postnummer\", \"efternamn\"]\n\
         kategorier = [\"folkbokforda\", \"avlidna\"]\nsok = {{ kommun = [\"{kommun}\"] }}\n"
    ));
    let access = org(&r).access();
    let s = select(&o, &access, &f.store.snapshot(), 2026, 1, &[]).expect("select");
    // Exactly the matching persons of the categories the organisation may see.
    let mut want: Vec<Pnr> = everyone(&f.store)
        .into_iter()
        .filter(|p| {
            // Without `sekretess` no protected person is chosen by kommun (DOMAIN.md §4).
            access.may_see(p)
                && !p.is_protected()
                && p.personpost
                    .avregistrering
                    .as_ref()
                    .is_none_or(|a| a.orsak == crate::model::AvregistreringsorsakKod::AV)
                && p.personpost
                    .folkbokforing
                    .as_ref()
                    .is_some_and(|fb| fb.kommunkod4() == kommun)
        })
        .map(|p| p.pnr())
        .collect();
    let mut got = pnrs(&s);
    assert!(got.len() > 50, "a real population: {}", got.len());
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // In postnummer order, then efternamn in Swedish order; protected persons (whose address
    // this organisation does not get) last.
    let snap = f.store.snapshot();
    let posts: Vec<Folkbokforingspost> = s
        .hits
        .iter()
        .map(|h| snap.get(&h.pnr).expect("get").expect("record"))
        .collect();
    let key = |p: &Folkbokforingspost| {
        let shown = !p.is_protected();
        let adress = p.personpost.adresser.folkbokforingsadress.as_ref();
        (
            !shown || adress.and_then(|a| a.post_nr.as_ref()).is_none(),
            adress.and_then(|a| a.post_nr.clone()).filter(|_| shown),
            p.personpost
                .namn
                .efternamn
                .as_deref()
                .filter(|_| shown)
                .map(collation::key),
        )
    };
    for pair in posts.windows(2) {
        assert!(
            key(&pair[0]) <= key(&pair[1]),
            "{:?} before {:?}",
            key(&pair[0]),
            key(&pair[1])
        );
    }
    let protected = posts.iter().filter(|p| p.is_protected()).count();
    assert!(
        posts[posts.len() - protected..]
            .iter()
            .all(|p| p.is_protected()),
        "protected persons sort as missing values: last"
    );
}

#[test]
fn intervals_select_a_range_as_of_the_run() {
    let f = fixture();
    let (r, o) = only(
        "[[organisation.urval]]\nid = \"U1\"\nsok = { alder = [\"20-29\"], fodelsetid = [\"1990-1999\"], postnummer = [\"1-4\"] }\n",
    );
    let access = org(&r).access();
    let got = pnrs(&select(&o, &access, &f.store.snapshot(), 2026, 1, &[]).expect("select"));
    let want: Vec<Pnr> = everyone(&f.store)
        .into_iter()
        .filter(|p| {
            let born = order::birth_date(p).expect("birth");
            let year: i32 = born[..4].parse().expect("year");
            let post_nr = p
                .personpost
                .adresser
                .folkbokforingsadress
                .as_ref()
                .and_then(|a| a.post_nr.clone())
                .unwrap_or_default();
            access.may_see(p)
                && p.personpost.avregistrering.is_none()
                && (1997..=2006).contains(&year)
                && (1990..=1999).contains(&year)
                && ("1".."5").contains(&post_nr.as_str())
        })
        .map(|p| p.pnr())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "sorted by number without sort keys");
    // Ålder is as of the run: in 2030 the twenty-somethings were born 2001–2010, so none of
    // them in the 1990s.
    let later = pnrs(&select(&o, &access, &f.store.snapshot(), 2030, 1, &[]).expect("select"));
    assert!(later.is_empty(), "{later:?}");
    // Nothing matches: an empty selection, not an error.
    let (r, none) = only("[[organisation.urval]]\nid = \"U1\"\nsok = { lan = [\"00\"] }\n");
    let s = select(&none, &org(&r).access(), &f.store.snapshot(), 2026, 1, &[]).expect("select");
    assert!(s.hits.is_empty());
}

#[test]
fn protected_persons_follow_the_orders_choice() {
    let f = fixture();
    let kommun = busiest_kommun(&f.store);
    let sok = format!("sok = {{ kommun = [\"{kommun}\"] }}\n");
    let (r, with) = only_as(
        SEKRETESS,
        &format!("[[organisation.urval]]\nid = \"U1\"\n{sok}"),
    );
    let access = org(&r).access();
    let all = select(&with, &access, &f.store.snapshot(), 2026, 1, &[]).expect("select");
    let snap = f.store.snapshot();
    let protected: Vec<Pnr> = all
        .hits
        .iter()
        .filter(|h| snap.get(&h.pnr).expect("get").expect("rec").is_protected())
        .map(|h| h.pnr)
        .collect();
    drop(snap);
    assert!(
        !protected.is_empty(),
        "the fixture has protected persons in {kommun}"
    );
    let (r2, without) = only_as(
        SEKRETESS,
        &format!("[[organisation.urval]]\nid = \"U1\"\nutan_skyddade = true\n{sok}"),
    );
    let left = pnrs(
        &select(
            &without,
            &org(&r2).access(),
            &f.store.snapshot(),
            2026,
            1,
            &[],
        )
        .expect("select"),
    );
    assert_eq!(left.len(), all.hits.len() - protected.len());
    assert!(left.iter().all(|p| !protected.contains(p)));
    // Fewer terms: protected persons in file B with the number, marking and the chosen terms.
    let (r3, fewer) = only_as(
        SEKRETESS,
        &format!("[[organisation.urval]]\nid = \"U1\"\nskyddade_termer = [\"namn\"]\n{sok}"),
    );
    let access3 = org(&r3).access();
    let snap = f.store.snapshot();
    for p in &protected {
        let post = snap.get(p).expect("get").expect("rec");
        let n = crate::avisering::select::totalpost(fewer.skyddade_termer, &access3, &post);
        assert_eq!(n.fil, Fil::B);
        assert!(!n.terms.contains(Term::Folkbokforingsadress));
        assert!(n.terms.contains(Term::Skydd));
    }
}

#[test]
fn a_random_draw_is_uniform_over_every_subset() {
    // 10 persons, 3 drawn: 120 possible subsets, each to come up equally often. A χ² test
    // with 119 degrees of freedom at p = 0.001 (critical value 167.1), with fixed seeds: the
    // outcome is the same on every run.
    let population: Vec<Pnr> = everyone(&fixture().store)
        .into_iter()
        .take(10)
        .map(|p| p.pnr())
        .collect();
    let trials = 60_000u32;
    let mut seen: BTreeMap<Vec<Pnr>, u32> = BTreeMap::new();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2026);
    for _ in 0..trials {
        let mut p = population.clone();
        let mut subset = draw(&mut rng, &mut p, 3).to_vec();
        subset.sort();
        *seen.entry(subset).or_default() += 1;
    }
    assert_eq!(seen.len(), 120, "every subset can come up");
    let expected = f64::from(trials) / 120.0;
    let chi2: f64 = seen
        .values()
        .map(|&o| (f64::from(o) - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 167.1, "χ² = {chi2:.1}");
    // Drawing more than there are gives all of them.
    let mut p = population.clone();
    assert_eq!(draw(&mut rng, &mut p, 50).len(), 10);
}

#[test]
fn undergroups_are_drawn_reproducibly_without_replacement() {
    let f = fixture();
    let kommun = busiest_kommun(&f.store);
    let (r, o) = only(&format!(
        "[[organisation.urval]]\nid = \"U2\"\nsok = {{ kommun = [\"{kommun}\"] }}\n\
         undergrupper = [{{ antal = 5, kon = \"M\" }}, {{ antal = 5, kon = \"K\" }}, {{ antal = 4 }}, {{ antal = 100000 }}]\n"
    ));
    let access = org(&r).access();
    let snap = f.store.snapshot();
    let a = select(&o, &access, &snap, 2026, 42, &[]).expect("select");
    let b = select(&o, &access, &snap, 2026, 42, &[]).expect("select");
    let c = select(&o, &access, &snap, 2026, 43, &[]).expect("select");
    assert_eq!(a, b, "the same seed draws the same persons");
    assert_ne!(pnrs(&a), pnrs(&c), "another seed draws others");
    // No one twice; each undergroup from its own population.
    let mut all = pnrs(&a);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.hits.len());
    for h in &a.hits {
        let post = snap.get(&h.pnr).expect("get").expect("rec");
        match h.undergrupp {
            Some(1) => assert!(post.pnr().is_male()),
            Some(2) => assert!(!post.pnr().is_male()),
            Some(3 | 4) => {}
            other => panic!("undergroup {other:?}"),
        }
        assert_eq!(
            post.personpost
                .folkbokforing
                .as_ref()
                .map(|f| f.kommunkod4()),
            Some(kommun.clone())
        );
    }
    let drawn: Vec<u32> = a.undergrupper.iter().map(|u| u.2).collect();
    assert_eq!(drawn[..3], [5, 5, 4]);
    // The last undergroup wants more than are left: it gets everyone not drawn before.
    // (Everyone is M or K: the first two populations are the whole kommun.)
    let whole = a.undergrupper[0].1 + a.undergrupper[1].1;
    assert!(whole > 14);
    assert_eq!(
        a.undergrupper[2].1,
        whole - 10,
        "without the 10 drawn before"
    );
    assert_eq!(u64::from(drawn[3]), whole - 14);
    assert_eq!(u64::from(drawn[3]), a.undergrupper[3].1);
}

#[test]
fn an_infil_selects_its_numbers_and_counts_the_rest() {
    let f = fixture();
    let (r, o) = only("[[organisation.urval]]\nid = \"U3\"\ninfil = \"svar_direkt\"\nsortering = [\"efternamn\"]\n");
    let access = org(&r).access();
    let people = everyone(&f.store);
    let samordning = people
        .iter()
        .skip(20)
        .find(|p| !access.may_see(p))
        .expect("a samordningsnummer the organisation may not see")
        .pnr();
    let mut infil: Vec<Pnr> = people.iter().take(20).map(|p| p.pnr()).collect();
    infil.push(infil[0]);
    infil.push(samordning);
    infil.push(Pnr::parse("191212121212").expect("pnr"));
    let s = select(&o, &access, &f.store.snapshot(), 2026, 1, &infil).expect("select");
    let visible = people.iter().take(20).filter(|p| access.may_see(p)).count();
    assert_eq!(s.hits.len(), visible);
    assert_eq!(
        s.ej_funna,
        2 + (20 - visible) as u64,
        "unknown and not visible alike"
    );
}

/// The key of the test organisation's order `id`.
fn k(id: &str) -> crate::avisering::feed::OrderKey {
    crate::avisering::feed::OrderKey::new(&"2120000134".parse().expect("orgnr"), id)
}

fn delivery(f: &Fixture, order: &str, lopnummer: u64) -> (Header, Vec<(Fil, String)>) {
    let order = &k(order);
    let h = f
        .feed
        .header(order, lopnummer)
        .expect("read")
        .expect("header");
    let mut out = Vec::new();
    for (i, fil) in [Fil::A, Fil::B].into_iter().enumerate() {
        for (_, r) in f
            .feed
            .records(order, lopnummer, fil, 0, h.antal[i])
            .expect("records")
        {
            let r = r
                .render_for(&Access::full(), &f.store.snapshot())
                .expect("render")
                .expect("seen");
            out.push((fil, String::from_utf8(r).expect("utf-8")));
        }
    }
    (h, out)
}

#[test]
fn the_nightly_run_delivers_each_order_when_due() {
    let f = fixture();
    let kommun = busiest_kommun(&f.store);
    let r = register(
        "\"grund\"",
        &format!(
            "[[organisation.urval]]\nid = \"U1\"\nsok = {{ kommun = [\"{kommun}\"] }}\nsortering = [\"efternamn\"]\n\
             [[organisation.urval]]\nid = \"U2\"\nperiodicitet = \"manadsvis\"\nslumpfro = 77\n\
             undergrupper = [{{ antal = 3, kommun = [\"{kommun}\"] }}]\n\
             [[organisation.urval]]\nid = \"U3\"\ninfil = \"enstaka\"\n\
             [[organisation.urval]]\nid = \"U4\"\ninfil = \"periodisk\"\n"
        ),
    )
    .expect("register");
    let ran = |when| {
        let mut v: Vec<(String, u64)> = f
            .feed
            .run_urval(&f.store, &r, when, KEEP)
            .expect("run")
            .into_iter()
            .map(|p| (p.order, p.lopnummer))
            .collect();
        v.sort();
        v
    };
    let first = ran(at(11, 3));
    assert_eq!(
        first,
        [("U1".into(), 1), ("U2".into(), 1)],
        "infil orders wait for an infil"
    );
    // U1's delivery is exactly its selection, rendered, in order.
    let o = &org(&r).urval[0];
    let access = org(&r).access();
    let (h, records) = delivery(&f, "U1", 1);
    let snap = f.store.snapshot();
    let s = select(o, &access, &snap, 2026, 0, &[]).expect("select");
    assert_eq!(h.antal, [s.hits.len() as u64, 0]);
    for (hit, (fil, r)) in s.hits.iter().zip(&records) {
        let post = snap.get(&hit.pnr).expect("get").expect("rec");
        let n = crate::avisering::select::totalpost(None, &access, &post);
        assert_eq!(*fil, n.fil);
        assert_eq!(
            r.as_bytes(),
            crate::avisering::feed::render(&n, None).as_slice()
        );
    }
    drop(snap);
    let meta = f
        .feed
        .urval_meta(&k("U2"), 1)
        .expect("meta")
        .expect("urval meta");
    assert_eq!(meta.typ, UrvalTyp::SlumpmassigtUrval);
    assert_eq!(meta.slumpfro, Some(77));
    assert_eq!(meta.undergrupper, [(3, 3)]);
    assert!(delivery(&f, "U2", 1)
        .1
        .iter()
        .all(|(_, r)| r.contains("Undergrupp=\"1\"")));
    // Once means once; monthly means again next month; nothing twice the same night.
    assert!(ran(at(11, 3)).is_empty());
    assert!(ran(at(11, 30)).is_empty());
    assert_eq!(ran(at(12, 1)), [("U2".into(), 2)]);
    assert_eq!(
        delivery(&f, "U2", 1).1,
        delivery(&f, "U2", 2).1,
        "the same seed over the same data draws the same persons"
    );
    // Infil: enstaka runs once on the latest infil, which is then used up.
    let numbers: Vec<Pnr> = everyone(&f.store)
        .iter()
        .take(30)
        .map(|p| p.pnr())
        .collect();
    f.feed
        .replace_infil(&k("U3"), numbers[..10].to_vec())
        .expect("infil");
    f.feed
        .replace_infil(&k("U3"), numbers[..20].to_vec())
        .expect("infil");
    f.feed
        .replace_infil(&k("U4"), numbers[..5].to_vec())
        .expect("infil");
    assert_eq!(ran(at(12, 2)), [("U3".into(), 1), ("U4".into(), 1)]);
    assert_eq!(
        f.feed.urval_meta(&k("U3"), 1).expect("meta").map(|m| m.typ),
        Some(UrvalTyp::Infil)
    );
    let (h3, _) = delivery(&f, "U3", 1);
    assert_eq!(
        h3.antal[0]
            + f.feed
                .urval_meta(&k("U3"), 1)
                .expect("m")
                .expect("m")
                .ej_funna,
        20
    );
    f.feed
        .replace_infil(&k("U3"), numbers[..3].to_vec())
        .expect("infil");
    assert!(
        ran(at(12, 3)).is_empty(),
        "enstaka does not run again, periodisk waits"
    );
    // Periodisk: each new infil runs the next night.
    f.feed
        .replace_infil(&k("U4"), numbers[..7].to_vec())
        .expect("infil");
    assert_eq!(ran(at(12, 4)), [("U4".into(), 2)]);
    assert!(ran(at(12, 5)).is_empty());
}

#[test]
fn svar_direkt_answers_each_infil_at_once() {
    let f = fixture();
    let r = register(
        "\"grund\"",
        "[[organisation.urval]]\nid = \"U3\"\ninfil = \"svar_direkt\"\n",
    )
    .expect("register");
    assert!(f
        .feed
        .run_urval(&f.store, &r, at(11, 3), KEEP)
        .expect("run")
        .is_empty());
    let o = &org(&r).urval[0];
    let numbers: Vec<Pnr> = everyone(&f.store)
        .iter()
        .take(40)
        .map(|p| p.pnr())
        .collect();
    for (i, n) in [10usize, 25, 40].into_iter().enumerate() {
        let p = f
            .feed
            .svar_direkt(&f.store, org(&r), o, &numbers[..n], at(11, 3))
            .expect("svar direkt");
        assert_eq!(p.lopnummer, i as u64 + 1, "several a day, numbered");
        let meta = f
            .feed
            .urval_meta(&k("U3"), p.lopnummer)
            .expect("m")
            .expect("m");
        assert_eq!(p.antal[0] + meta.ej_funna, n as u64);
    }
    assert!(f
        .feed
        .run_urval(&f.store, &r, at(11, 4), KEEP)
        .expect("run")
        .is_empty());
}

#[test]
fn nothing_runs_over_an_empty_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("store"), 8 << 20).expect("store");
    let feed = Feed::open(&store).expect("feed");
    let r = register(
        "\"grund\"",
        "[[organisation.urval]]\nid = \"U1\"\nsok = {}\n",
    )
    .expect("register");
    assert!(feed
        .run_urval(&store, &r, at(11, 3), KEEP)
        .expect("run")
        .is_empty());
    assert_eq!(
        feed.urval_state(&k("U1")).expect("state").runs,
        0,
        "still due"
    );
    assert!(feed.cursor(&k("U1")).expect("cursor").is_some(), "taken up");
}

/// Issue 17, leak 3: without `sekretess`, protected persons were put in urval populations
/// chosen by kommun or postnummer, so membership told the receiver where they live. Now no
/// protected person enters a population chosen by a term withheld from the receiver — by
/// any criterion that reads one (folkbokföring, address, birth data, kön, medborgarskap) —
/// while the same order with `sekretess` holds them, and an infil (numbers the receiver sent
/// itself) still gets them, with the minimal terms.
#[test]
fn no_protected_person_is_chosen_by_a_withheld_term() {
    let f = fixture();
    let kommun = busiest_kommun(&f.store);
    let snap = f.store.snapshot();
    let protected: Vec<Folkbokforingspost> = everyone(&f.store)
        .into_iter()
        .filter(|p| p.is_protected() && p.personpost.avregistrering.is_none())
        .collect();
    assert!(protected.len() >= 3, "the fixture has protected persons");
    let post_nr = protected
        .iter()
        .find_map(|p| {
            p.personpost
                .adresser
                .folkbokforingsadress
                .as_ref()?
                .post_nr
                .clone()
        })
        .expect("a protected person with a postnummer");
    let criteria = [
        format!("kommun = [\"{kommun}\"]"),
        format!("postnummer = [\"{}\"]", &post_nr[..2]),
        "fodelsetid = [\"1900-2026\"]".to_owned(),
        "alder = [\"0-130\"]".to_owned(),
        "kon = \"K\"".to_owned(),
        "medborgarskap = [\"svenskt\", \"eu\", \"utom_eu\"]".to_owned(),
    ];
    for sok in &criteria {
        let table = format!("[[organisation.urval]]\nid = \"U1\"\nsok = {{ {sok} }}\n");
        let categories = "\"grund\", \"medborgarskap\"";
        let (r, o) = only_as(categories, &table);
        let got = select(&o, &org(&r).access(), &snap, 2026, 1, &[]).expect("select");
        assert!(!got.hits.is_empty(), "{sok}: a real population");
        for h in &got.hits {
            let post = snap.get(&h.pnr).expect("get").expect("rec");
            let post = snap.with_linked_markings(post).expect("links");
            assert!(!post.is_protected(), "{sok}: a protected person was chosen");
        }
        // With `sekretess` the same criteria choose protected persons too.
        let (r, o) = only_as(&format!("{categories}, \"sekretess\""), &table);
        let got = select(&o, &org(&r).access(), &snap, 2026, 1, &[]).expect("select");
        let any_protected = got
            .hits
            .iter()
            .any(|h| protected.iter().any(|p| p.pnr() == h.pnr));
        assert!(
            any_protected,
            "{sok}: with sekretess, protected persons are chosen"
        );
    }
    // An infil population holds them: the receiver named them itself.
    let (r, o) = only("[[organisation.urval]]\nid = \"U3\"\ninfil = \"svar_direkt\"\n");
    let numbers: Vec<Pnr> = protected.iter().map(|p| p.pnr()).collect();
    let got = select(&o, &org(&r).access(), &snap, 2026, 1, &numbers).expect("select");
    assert_eq!(pnrs(&got).len(), numbers.len());
}

/// Issue 17, also: urval sort keys read Födelsedatum and kön as if they were the number's,
/// a term every receiver has. A protected person's birth date is withheld without
/// `sekretess`: an order that chose fewer terms for them (no birth date) sorts them as
/// missing (last), whatever their birth date.
#[test]
fn a_withheld_birth_date_decides_no_sort_position() {
    use crate::register::urval_orders::Sorteringsnyckel;
    let post = everyone(&fixture().store)
        .into_iter()
        .find(|p| p.is_protected())
        .expect("a protected person");
    let (r, o) = only_as(
        SEKRETESS,
        "[[organisation.urval]]\nid = \"U1\"\nsortering = [\"fodelsetid\"]\n\
         skyddade_termer = [\"namn\"]\nsok = {}\n",
    );
    let access = org(&r).access();
    let received = access_terms(&o, &access, &post);
    let mut older = post.clone();
    older.personpost.fodelse.fodelsedatum = crate::model::Datum::parse("19010101").ok();
    assert_eq!(o.sortering, [Sorteringsnyckel::Fodelsetid]);
    assert_eq!(
        sort_key(&o, received, &post, 2026),
        sort_key(&o, access_terms(&o, &access, &older), &older, 2026)
    );
    assert_eq!(
        sort_key(&o, received, &post, 2026),
        vec![2],
        "missing: last"
    );
}
