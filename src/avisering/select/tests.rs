use super::*;
use crate::access::Category;
use crate::model::tests::sample;
use crate::register::orders::{Kategori, Periodicitet, Population, Sokbegrepp};

const YEAR: i32 = 2026;

/// An order for the sample person's kommun.
fn order(posttyp: Posttyp) -> Order {
    let kommun = sample()
        .personpost
        .folkbokforing
        .expect("folkbokförd")
        .kommunkod4();
    Order {
        id: "AV-1".into(),
        population: Population::Sokbegrepp(Sokbegrepp {
            kommun: vec![crate::register::orders::Intervall::value(&kommun)],
            ..Sokbegrepp::default()
        }),
        kategorier: [Kategori::Folkbokforda].into(),
        posttyp,
        periodicitet: Periodicitet::Daglig,
        flyttsignal: false,
        totalpost_vid_havning: false,
        alltid_markering: false,
        skyddade_termer: None,
        grunduttag: false,
    }
}

fn split(mut o: Order) -> Order {
    o.skyddade_termer = Some(TermMask::of(&[Term::PersonId, Term::Skydd, Term::Namn]));
    o
}

fn grund() -> Access {
    Access::new([Category::Grund], [])
}

fn all() -> Access {
    Access::new(
        [
            Category::Grund,
            Category::Relationer,
            Category::Medborgarskap,
            Category::Taxering,
            Category::Sekretess,
        ],
        [],
    )
}

fn change(old: Option<&Folkbokforingspost>, new: Option<&Folkbokforingspost>) -> Change {
    Change {
        seq: 2,
        pnr: old.or(new).expect("a record").pnr(),
        old: old.cloned(),
        new: new.cloned(),
    }
}

fn renamed(p: &Folkbokforingspost, efternamn: &str) -> Folkbokforingspost {
    let mut q = p.clone();
    q.personpost.namn.efternamn = Some(efternamn.into());
    q.andringstidpunkt = "20261122101500".into();
    q
}

fn protected(p: &Folkbokforingspost) -> Folkbokforingspost {
    let mut q = p.clone();
    q.sekretessmarkering = true;
    q.skyddsdatum = crate::model::Datum::parse("20261122").ok();
    q.andringstidpunkt = "20261122101500".into();
    q
}

fn moved_away(p: &Folkbokforingspost) -> Folkbokforingspost {
    let mut q = p.clone();
    if let Some(fb) = q.personpost.folkbokforing.as_mut() {
        fb.lan_kod = "25".into();
        fb.kommun_kod = "80".into();
    }
    q.andringstidpunkt = "20261122101500".into();
    q
}

fn shape(n: &[Notice]) -> Vec<(Fil, Posttyp)> {
    n.iter().map(|x| (x.fil, x.kind)).collect()
}

#[test]
fn an_ordinary_change_gives_the_changed_terms_or_the_whole_record() {
    let p = sample();
    let q = renamed(&p, "Ekström-Berg");
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&p), Some(&q)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(n[0].terms.contains(Term::Namn) && n[0].terms.contains(Term::PersonId));
    assert!(
        !n[0].terms.contains(Term::Folkbokforing),
        "{:?}",
        n[0].terms
    );
    let n = notices(
        &order(Posttyp::Total),
        &grund(),
        &change(Some(&p), Some(&q)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Total)]);
    assert_eq!(n[0].terms, grund().terms_for(&q));
    // A change of a term the order does not receive is not delivered.
    let mut r = p.clone();
    r.personpost
        .medborgarskap
        .push(crate::model::Medborgarskap {
            landkod: "NO".into(),
            datum: None,
        });
    r.andringstidpunkt = "20261122101500".into();
    let c = change(Some(&p), Some(&r));
    assert!(changed_terms(&p, &r).contains(Term::Medborgarskap));
    assert!(notices(&order(Posttyp::Andring), &grund(), &c, false, YEAR).is_empty());
    let n = notices(&order(Posttyp::Andring), &all(), &c, false, YEAR);
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(n[0].terms.contains(Term::Medborgarskap));
    // Outside the population before and after: nothing.
    let far = moved_away(&p);
    let c = change(Some(&far), Some(&renamed(&far, "X")));
    assert!(notices(&order(Posttyp::Total), &all(), &c, false, YEAR).is_empty());
}

#[test]
fn in_out_and_removed() {
    let p = sample();
    let far = moved_away(&p);
    // Moved in: the whole record, even for an ändringspost order.
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&far), Some(&p)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Total)]);
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(None, Some(&p)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Total)]);
    // Moved out: the change that says where (the new folkbokföring).
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&p), Some(&far)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(n[0].terms.contains(Term::Folkbokforing));
    // Removed from the register.
    let n = notices(
        &order(Posttyp::Total),
        &grund(),
        &change(Some(&p), None),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Borttag)]);
}

#[test]
fn flyttsignal_says_only_number_marking_and_lan_99() {
    let p = protected(&sample());
    let far = moved_away(&p);
    let mut o = order(Posttyp::Andring);
    // Without it, a receiver without `sekretess` learns nothing of the move.
    assert!(notices(&o, &grund(), &change(Some(&p), Some(&far)), false, YEAR).is_empty());
    o.flyttsignal = true;
    // Nor with it: a protected person is in no population chosen by kommun for a receiver
    // without `sekretess` (DOMAIN.md §4), so it has left already — when it became protected.
    assert!(notices(&o, &grund(), &change(Some(&p), Some(&far)), false, YEAR).is_empty());
    let n = notices(
        &o,
        &grund(),
        &change(Some(&sample()), Some(&p)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Flyttsignal)]);
    assert_eq!(n[0].terms, KEY_TERMS);
    let fb = n[0].post.personpost.folkbokforing.as_ref().expect("fb");
    assert_eq!(fb.lan_kod, "99");
    // With `sekretess`: the move out, and the destination is never revealed to the area left.
    let n = notices(&o, &all(), &change(Some(&p), Some(&far)), false, YEAR);
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Flyttsignal)]);
    assert_eq!(n[0].terms, KEY_TERMS);
}

#[test]
fn while_protected_ordinary_changes_are_not_delivered() {
    let p = protected(&sample());
    let q = renamed(&p, "Nytt");
    let o = order(Posttyp::Andring);
    assert!(notices(&o, &grund(), &change(Some(&p), Some(&q)), false, YEAR).is_empty());
    // With `sekretess` the organisation receives the name, and the marking if chosen.
    let n = notices(&o, &all(), &change(Some(&p), Some(&q)), false, YEAR);
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(!n[0].terms.contains(Term::Skydd));
    let mut o = o;
    o.alltid_markering = true;
    let n = notices(&o, &all(), &change(Some(&p), Some(&q)), false, YEAR);
    assert!(n[0].terms.contains(Term::Skydd) && n[0].terms.contains(Term::Namn));
    // With fewer terms chosen (name among them), the name change goes to file B.
    let n = notices(&split(o), &all(), &change(Some(&p), Some(&q)), false, YEAR);
    assert_eq!(shape(&n), [(Fil::B, Posttyp::Andring)]);
}

/// Bilaga 2: "Då sekretess sätts" and "Då sekretess hävs", ändringspost and totalpost.
#[test]
fn bilaga_2_tables() {
    let plain = sample();
    let secret = protected(&plain);
    let fewer = TermMask::of(&[Term::PersonId, Term::Skydd, Term::Namn]);
    let access = all();
    // Set, ändringspost: A = number + marking; B = the fewer terms (totalpost) with marking.
    let o = split(order(Posttyp::Andring));
    let n = notices(
        &o,
        &access,
        &change(Some(&plain), Some(&secret)),
        false,
        YEAR,
    );
    assert_eq!(
        shape(&n),
        [(Fil::A, Posttyp::Andring), (Fil::B, Posttyp::Total)]
    );
    assert_eq!(n[0].terms, KEY_TERMS);
    assert_eq!(n[1].terms, fewer);
    assert!(n.iter().all(|x| x.post.sekretessmarkering));
    // Set, totalpost: A = every term incl. marking; B = the fewer terms with marking.
    let o = split(order(Posttyp::Total));
    let n = notices(
        &o,
        &access,
        &change(Some(&plain), Some(&secret)),
        false,
        YEAR,
    );
    assert_eq!(
        shape(&n),
        [(Fil::A, Posttyp::Total), (Fil::B, Posttyp::Total)]
    );
    assert_eq!(n[0].terms, access.terms_for(&secret));
    assert_eq!(n[1].terms, fewer);
    // Lifted, ändringspost: A = the whole record without marking; B = number + marking gone.
    let o = split(order(Posttyp::Andring));
    let n = notices(
        &o,
        &access,
        &change(Some(&secret), Some(&plain)),
        false,
        YEAR,
    );
    assert_eq!(
        shape(&n),
        [(Fil::A, Posttyp::Total), (Fil::B, Posttyp::Andring)]
    );
    // Today's terms only: nothing of the protected period (DOMAIN.md §4).
    assert_eq!(
        n[0].terms,
        access.terms_for(&plain).without(FROM_PROTECTED_PERIOD)
    );
    assert_eq!(n[1].terms, KEY_TERMS);
    assert!(n.iter().all(|x| !x.post.sekretessmarkering));
    // Lifted, totalpost: A = everything; B = the fewer terms, without marking.
    let o = split(order(Posttyp::Total));
    let n = notices(
        &o,
        &access,
        &change(Some(&secret), Some(&plain)),
        false,
        YEAR,
    );
    assert_eq!(
        shape(&n),
        [(Fil::A, Posttyp::Total), (Fil::B, Posttyp::Total)]
    );
    assert_eq!(n[1].terms, fewer);
}

#[test]
fn lifting_without_fewer_terms() {
    let plain = sample();
    let secret = protected(&plain);
    let c = change(Some(&secret), Some(&plain));
    // A member throughout (with `sekretess`, or an infil): ändringspost, only that the
    // marking is gone …
    let mut infil = order(Posttyp::Andring);
    infil.population = Population::Infil;
    for (o, access, in_infil) in [
        (order(Posttyp::Andring), all(), false),
        (infil, grund(), true),
    ] {
        let n = notices(&o, &access, &c, in_infil, YEAR);
        assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
        assert!(n[0].terms.contains(Term::Skydd));
        assert!(!n[0].terms.contains(Term::Namn));
    }
    // … unless a totalpost on lifting was chosen (9.6.2/9.6.3): today's terms only.
    let mut o = order(Posttyp::Andring);
    o.totalpost_vid_havning = true;
    let n = notices(&o, &all(), &c, false, YEAR);
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Total)]);
    assert_eq!(
        n[0].terms,
        all().terms_for(&plain).without(FROM_PROTECTED_PERIOD)
    );
    // Without `sekretess` the person was in no population chosen by kommun while
    // protected: lifting brings it in, with a totalpost of today's terms.
    let n = notices(&order(Posttyp::Andring), &grund(), &c, false, YEAR);
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Total)]);
    assert_eq!(
        n[0].terms,
        grund().terms_for(&plain).without(FROM_PROTECTED_PERIOD)
    );
    // Setting it, for a receiver without `sekretess`: the marking, nothing more.
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&plain), Some(&secret)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(n[0].terms.contains(Term::Skydd));
    assert!(n[0]
        .terms
        .intersect(TermMask::of(&[Term::Namn, Term::Folkbokforingsadress]))
        .is_empty());
}

#[test]
fn an_address_change_carries_the_previous_address() {
    let p = sample();
    let mut q = p.clone();
    if let Some(a) = q.personpost.adresser.folkbokforingsadress.as_mut() {
        a.utdelningsadress2 = Some("Nygatan 1".into());
    }
    q.andringstidpunkt = "20261122101500".into();
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&p), Some(&q)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert!(n[0].terms.contains(Term::Folkbokforingsadress));
    assert_eq!(
        n[0].foregaende_adress.as_ref(),
        p.personpost.adresser.folkbokforingsadress.as_ref()
    );
    // A name change carries none.
    let n = notices(
        &order(Posttyp::Andring),
        &grund(),
        &change(Some(&p), Some(&renamed(&p, "Y"))),
        false,
        YEAR,
    );
    assert_eq!(n[0].foregaende_adress, None);
}

#[test]
fn numbers_the_organisation_may_not_see_are_never_delivered() {
    let mut p = sample();
    let date = chrono::NaiveDate::from_ymd_opt(1990, 5, 3).expect("date");
    p.personpost.person_id =
        crate::ids::pnr::Pnr::from_parts(date, 123, true).expect("samordningsnummer");
    p.personpost.identitetstyp = crate::model::Identitetstyp::Samordningsnummer;
    let n = notices(
        &order(Posttyp::Total),
        &grund(),
        &change(None, Some(&p)),
        false,
        YEAR,
    );
    assert!(n.is_empty());
    let with = Access::new(
        [Category::Grund],
        [crate::access::Switch::Samordningsnummer],
    );
    assert_eq!(
        notices(
            &order(Posttyp::Total),
            &with,
            &change(None, Some(&p)),
            false,
            YEAR
        )
        .len(),
        1
    );
}

/// Issue 17, leak 4: the notice sent when protection is lifted carried the protected
/// period's address as `ForegaendeFolkbokforingsadress`. It carries today's address only, in
/// every file and order kind (the split files of bilaga 2, a totalpost on lifting, an
/// ändringspost).
#[test]
fn lifting_protection_reveals_no_address_of_the_protected_period() {
    let hidden = {
        let mut q = protected(&sample());
        if let Some(a) = q.personpost.adresser.folkbokforingsadress.as_mut() {
            a.utdelningsadress2 = Some("Skyddade vägen 1".into());
        }
        q
    };
    let mut today = hidden.clone();
    today.sekretessmarkering = false;
    today.skyddsdatum = None;
    if let Some(a) = today.personpost.adresser.folkbokforingsadress.as_mut() {
        a.utdelningsadress2 = Some("Öppna gatan 2".into());
    }
    let c = change(Some(&hidden), Some(&today));
    let mut vid_havning = order(Posttyp::Andring);
    vid_havning.totalpost_vid_havning = true;
    for o in [
        order(Posttyp::Andring),
        order(Posttyp::Total),
        vid_havning,
        split(order(Posttyp::Andring)),
        split(order(Posttyp::Total)),
    ] {
        for access in [grund(), all()] {
            let n = notices(&o, &access, &c, false, YEAR);
            assert!(!n.is_empty());
            for x in &n {
                assert_eq!(x.foregaende_adress, None, "{:?} {:?}", o.posttyp, x.kind);
            }
        }
    }
}

/// Issue 17, leak 3: a protected person moving *into* an order's kommun produced a notice for
/// a receiver without `sekretess` — it learnt the kommun, a term it is denied. Now the
/// protected person is in no population chosen by a withheld term: nothing, whatever the
/// order's kind; with `sekretess`, the ordinary totalpost.
#[test]
fn a_protected_person_moving_in_tells_a_receiver_without_sekretess_nothing() {
    let here = protected(&sample());
    let away = moved_away(&here);
    let c = change(Some(&away), Some(&here));
    let mut with_signal = order(Posttyp::Andring);
    with_signal.flyttsignal = true;
    for o in [
        order(Posttyp::Andring),
        order(Posttyp::Total),
        with_signal,
        split(order(Posttyp::Total)),
    ] {
        assert!(notices(&o, &grund(), &c, false, YEAR).is_empty());
        assert!(notices(&o, &grund(), &change(None, Some(&here)), false, YEAR).is_empty());
        assert!(!notices(&o, &all(), &c, false, YEAR).is_empty());
    }
}

/// DOMAIN.md §4: a member who becomes protected gets one notice with the marking (or the
/// flyttsignal, when ordered), then none while protected — a move, a new name, a move back
/// to the kommun: nothing.
#[test]
fn a_member_becoming_protected_gets_one_notice_then_silence() {
    let plain = sample();
    let secret = protected(&plain);
    let o = order(Posttyp::Andring);
    let n = notices(
        &o,
        &grund(),
        &change(Some(&plain), Some(&secret)),
        false,
        YEAR,
    );
    assert_eq!(shape(&n), [(Fil::A, Posttyp::Andring)]);
    assert_eq!(n[0].terms, KEY_TERMS);
    let away = moved_away(&secret);
    for c in [
        change(Some(&secret), Some(&renamed(&secret, "Nytt"))),
        change(Some(&secret), Some(&away)),
        change(Some(&away), Some(&secret)),
    ] {
        assert!(notices(&o, &grund(), &c, false, YEAR).is_empty());
    }
}

/// Issue 17, leak 4 (historik and taxering): the totalpost sent when protection ends holds
/// no term that carries the protected period.
#[test]
fn lifting_protection_sends_no_historik_or_taxering() {
    let plain = sample();
    let secret = protected(&plain);
    let c = change(Some(&secret), Some(&plain));
    let mut vid_havning = order(Posttyp::Andring);
    vid_havning.totalpost_vid_havning = true;
    for o in [
        order(Posttyp::Total),
        vid_havning,
        split(order(Posttyp::Andring)),
    ] {
        for access in [grund(), all()] {
            for x in notices(&o, &access, &c, false, YEAR) {
                assert!(!x.terms.contains(Term::Historik), "{:?}", x.kind);
                assert!(!x.terms.contains(Term::Taxering), "{:?}", x.kind);
            }
        }
    }
}
