//! Each operation's request as clients send it, and every refusal naming what was wrong:
//! the envelope (soap::request) and the operation elements (ops/*) parsed together, as the
//! listener does.

use super::*;
use crate::search::{parse_patterns, Kategori, SearchQuery};
use crate::soap::request::{MAX_TEXT, SOKVILLKOR_NAMN};
use crate::soap::V1_NS;

fn parse(body: &[u8]) -> Result<Operation, Fault> {
    Operation::parse(body)
}

const V1: &str = V1_NS;

fn personpost(person_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="{V1}">
  <soapenv:Header/>
  <soapenv:Body>
    <v1:PersonpostRequest>
      <v1:Bestallning><v1:OrgNr>162021004748</v1:OrgNr><v1:BestallningsId>00000079-FO01-0001</v1:BestallningsId></v1:Bestallning>
      <v1:PersonId>{person_id}</v1:PersonId>
    </v1:PersonpostRequest>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn search(fields: &[(&str, &str)]) -> String {
    let mut inner = String::new();
    for n in SOKVILLKOR_NAMN {
        match fields.iter().find(|(k, _)| *k == n) {
            Some((_, v)) => inner.push_str(&format!("<{n}>{v}</{n}>")),
            None => inner.push_str(&format!("<{n} xsi:nil=\"true\"/>")),
        }
    }
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><S:Body>
<NamnsokningRequest xmlns="{V1}"><Bestallning><OrgNr>2021004748</OrgNr><BestallningsId>00000079-FO01-0001</BestallningsId></Bestallning>
<SokvillkorNamn>{inner}</SokvillkorNamn></NamnsokningRequest></S:Body></S:Envelope>"#
    )
}

fn code(r: Result<Operation, Fault>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(f) => format!("{}: {}", f.code(), f.beskrivning()),
    }
}

#[test]
fn personpost_as_clients_send_it() {
    match parse(personpost("198602212394").as_bytes()).unwrap() {
        Operation::Personpost(Personpost {
            bestallning,
            person_id,
        }) => {
            assert_eq!(bestallning.org_nr.to_string(), "2021004748");
            assert_eq!(bestallning.bestallnings_id, "00000079-FO01-0001");
            assert_eq!(person_id.as_str(), "198602212394");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn children_without_namespace_are_accepted() {
    let body = personpost("198602212394")
        .replace("<v1:Bestallning>", "<Bestallning xmlns=\"\">")
        .replace("</v1:Bestallning>", "</Bestallning>");
    let body = body
        .replace("<v1:OrgNr>", "<OrgNr>")
        .replace("</v1:OrgNr>", "</OrgNr>");
    let body = body
        .replace("<v1:BestallningsId>", "<BestallningsId>")
        .replace("</v1:BestallningsId>", "</BestallningsId>");
    assert_eq!(code(parse(body.as_bytes())), "ok");
}

#[test]
fn bad_person_ids_name_the_problem() {
    for (id, needle) in [
        ("198602212395", "check digit"),
        ("19860221239", "11 characters"),
        ("1986022123945", "13 characters"),
        ("19860A212394", "non-digit"),
        ("198613212394", "impossible date"),
        (
            "１９８６０２２１２３９４",
            "non-digit at position 1 (only ASCII digits",
        ),
        ("", "PersonId is empty"),
    ] {
        let got = code(parse(personpost(id).as_bytes()));
        assert!(
            got.starts_with("1101") && got.contains(needle),
            "{id}: {got}"
        );
        assert!(
            !got.contains("19860221"),
            "no identity number in fault text: {got}"
        );
    }
}

#[test]
fn envelope_errors() {
    let cases: Vec<(String, &str)> = vec![
        ("not xml".into(), "1101"),
        ("<a><b></a>".into(), "malformed"),
        (
            personpost("198602212394").replace(
                "http://schemas.xmlsoap.org/soap/envelope/",
                "http://www.w3.org/2003/05/soap-envelope",
            ),
            "SOAP 1.2",
        ),
        ("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>".into(), "DOCTYPE"),
        (personpost("&xxe;"), "malformed"),
        (
            personpost("198602212394")
                .replace("<soapenv:Body>", "<soapenv:Bodx>")
                .replace("</soapenv:Body>", "</soapenv:Bodx>"),
            "Body is missing",
        ),
        (
            personpost("198602212394").replace("UTF-8", "ISO-8859-1"),
            "the XML declaration says ISO-8859-1",
        ),
        (
            personpost("198602212394").replace(V1, "urn:other"),
            "unknown namespace",
        ),
        (
            personpost("198602212394").replace("PersonpostRequest", "Foo"),
            "unknown operation",
        ),
        (
            personpost("198602212394").replace(
                "</v1:PersonpostRequest>",
                "</v1:PersonpostRequest><v1:PersonpostRequest/>",
            ),
            "more than one",
        ),
        (personpost(&"1".repeat(MAX_TEXT + 1)), "longer than"),
        (
            format!("{}{}", "<a>".repeat(50), "</a>".repeat(50)),
            "deeper",
        ),
        (
            personpost("198602212394").replace("162021004748", "16202100474"),
            "OrgNr",
        ),
    ];
    for (body, needle) in cases {
        let got = code(parse(body.as_bytes()));
        assert!(
            got.starts_with("1101") && got.contains(needle),
            "expected {needle}: {got}"
        );
    }
}

#[test]
fn invalid_utf8_is_refused() {
    let mut body = personpost("198602212394").into_bytes();
    let at = body.windows(8).position(|w| w == b"00000079").unwrap();
    body[at] = 0xFF;
    let got = code(parse(&body));
    assert!(
        got.starts_with("1101") && got.contains("the request is not UTF-8"),
        "{got}"
    );
}

#[test]
fn utf16_is_named_and_a_utf8_bom_is_allowed() {
    let text = personpost("198602212394");
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let got = code(parse(&utf16));
    assert!(got.contains("this one is UTF-16"), "{got}");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    assert_eq!(code(parse(&bom)), "ok");
}

fn search_query(fields: &[(&str, &str)]) -> Result<SearchQuery, String> {
    match parse(search(fields).as_bytes()) {
        Ok(Operation::Namnsokning(Namnsokning { query, .. })) => Ok(*query),
        Ok(other) => panic!("{other:?}"),
        Err(f) => Err(format!("{}: {}", f.code(), f.beskrivning())),
    }
}

#[test]
fn search_fields_and_ranges() {
    let query = search_query(&[
        ("Fornamn", "Anna"),
        ("EfterMellanNamn", "And*"),
        ("FodelsetidFrom", "1980"),
        ("FodelsetidTom", "198502"),
        ("Kon", "K"),
        ("PostnummerFrom", "114 00"),
        ("PostnummerTom", "11499"),
        ("Kategori", "FB"),
    ])
    .unwrap();
    assert_eq!(query.fodelse_from, Some(19800000));
    assert_eq!(query.fodelse_tom, Some(19850299));
    assert_eq!(query.postnr_from, Some(11400));
    assert_eq!(query.postnr_tom, Some(11499));
    assert!(query.efter_mellan[0].prefix);
    assert_eq!(query.kategori, Kategori::Folkbokforda);
}

/// A name criterion alone is a search; the other criteria only narrow it.
#[test]
fn one_name_alone_is_a_search() {
    for fields in [
        &[("Fornamn", "Anna")][..],
        &[("EfterMellanNamn", "Andersson")][..],
        &[("EfterMellanNamn", "An*")][..],
        &[("Fornamn", "Anna"), ("EfterMellanNamn", "Andersson")][..],
    ] {
        let q = search_query(fields).unwrap_or_else(|e| panic!("{fields:?}: {e}"));
        assert!(q.has_name(), "{fields:?}");
    }
}

/// `Kategori`: AL (also empty, nil or absent) is everyone, FB the folkbokförda only.
#[test]
fn kategori_is_al_or_fb() {
    let with = |k: Option<&str>| {
        let mut fields = vec![("Fornamn", "Anna")];
        fields.extend(k.map(|k| ("Kategori", k)));
        search_query(&fields).map(|q| q.kategori)
    };
    assert_eq!(with(Some("AL")), Ok(Kategori::Alla));
    assert_eq!(with(Some("FB")), Ok(Kategori::Folkbokforda));
    assert_eq!(with(Some("")), Ok(Kategori::Alla));
    assert_eq!(with(None), Ok(Kategori::Alla), "xsi:nil");
    let absent = search(&[("Fornamn", "Anna")]).replace("<Kategori xsi:nil=\"true\"/>", "");
    assert!(!absent.contains("Kategori"));
    match parse(absent.as_bytes()) {
        Ok(Operation::Namnsokning(n)) => assert_eq!(n.query.kategori, Kategori::Alla),
        other => panic!("{other:?}"),
    }
    for bad in ["XX", "A", "FBX", "folkbokförda"] {
        let got = with(Some(bad)).unwrap_err();
        assert!(
            got.starts_with("1101: ") && got.contains("Kategori must be AL, FB"),
            "{bad}: {got}"
        );
    }
}

/// Request children are matched by local name, with or without the V1 namespace.
#[test]
fn search_fields_with_or_without_the_v1_namespace() {
    let prefixed = search(&[("Fornamn", "Anna"), ("PostnummerFrom", "12")])
        .replace(
            "<NamnsokningRequest xmlns=",
            "<v1:NamnsokningRequest xmlns:v1=",
        )
        .replace("</NamnsokningRequest>", "</v1:NamnsokningRequest>");
    // The children now have no namespace at all.
    assert!(prefixed.contains("<Fornamn>Anna</Fornamn>"));
    for body in [
        search(&[("Fornamn", "Anna"), ("PostnummerFrom", "12")]),
        prefixed,
    ] {
        match parse(body.as_bytes()) {
            Ok(Operation::Namnsokning(n)) => {
                assert_eq!(n.query.fornamn, parse_patterns("Anna").unwrap());
                assert_eq!(n.query.postnr_from, Some(12000));
            }
            other => panic!("{other:?}\n{body}"),
        }
    }
}

#[test]
fn search_refusals() {
    let no_name = "1102: Felaktiga inparametrar: sökningen saknar namn";
    for (fields, expect) in [
        (vec![], no_name),
        (vec![("Postort", "Lund"), ("Kon", "M")], no_name),
        (
            vec![
                ("Adress", "Storgatan 1"),
                ("FodelsetidFrom", "1980"),
                ("PostnummerFrom", "22100"),
                ("Kategori", "FB"),
            ],
            no_name,
        ),
        (vec![("Fornamn", "A*"), ("Kon", "M")], "1101: "),
        (vec![("Fornamn", "Anna"), ("Kon", "X")], "1101: "),
        (
            vec![("Fornamn", "Anna"), ("Kategori", "XX")],
            "1101: Felaktiga inparametrar: Kategori",
        ),
    ] {
        let got = search_query(&fields).unwrap_err();
        assert!(got.starts_with(expect), "{fields:?}: {got}");
    }
}

/// `FodelsetidFrom/Tom` and `PostnummerFrom/Tom`: leading parts, refused (1101) naming the
/// field when they are not.
#[test]
fn search_bounds_are_leading_parts_or_named_refusals() {
    for (field, value, want) in [
        ("FodelsetidFrom", "1985", 19850000),
        ("FodelsetidTom", "1985", 19859999),
        ("FodelsetidFrom", "19850161", 19850161),
        ("FodelsetidTom", "19850191", 19850191),
        ("FodelsetidTom", "198501", 19850199),
        ("PostnummerFrom", "12", 12000),
        ("PostnummerTom", "12", 12999),
        ("PostnummerTom", "1", 19999),
        ("PostnummerFrom", "12345", 12345),
    ] {
        let q = search_query(&[("Fornamn", "Anna"), (field, value)])
            .unwrap_or_else(|e| panic!("{field} {value}: {e}"));
        let got = match field {
            "FodelsetidFrom" => q.fodelse_from,
            "FodelsetidTom" => q.fodelse_tom,
            "PostnummerFrom" => q.postnr_from,
            _ => q.postnr_tom,
        };
        assert_eq!(got, Some(want), "{field} {value}");
    }
    for (field, value, why) in [
        ("FodelsetidFrom", "19801340", "has no month 01-12"),
        ("FodelsetidTom", "198513", "has no month 01-12"),
        ("FodelsetidFrom", "19800100", "has no day 01-31, or 61-91"),
        ("FodelsetidTom", "19800145", "has no day 01-31, or 61-91"),
        ("FodelsetidTom", "19800192", "has no day 01-31, or 61-91"),
        ("FodelsetidFrom", "198001011", "must be 1 to 8 digits"),
        ("FodelsetidFrom", "1980-01", "must be 1 to 8 digits"),
        ("PostnummerFrom", "123456", "must be 1 to 5 digits"),
        ("PostnummerTom", "12a", "must be 1 to 5 digits"),
    ] {
        let got = search_query(&[("Fornamn", "Anna"), (field, value)]).unwrap_err();
        assert!(
            got.starts_with(&format!("1101: Felaktiga inparametrar: {field} {why}")),
            "{field} {value}: {got}"
        );
    }
}

/// Leaks closed by issue 17: the lookup and the search, run against a real store snapshot.
mod privacy {
    use crate::access::{Access, Category, Term};
    use crate::ids::pnr::Pnr;
    use crate::model::tests::sample;
    use crate::model::{Folkbokforingspost, Identitetstyp};
    use crate::ops::{namnsokning, personpost, OpError};
    use crate::search::{parse_patterns, SearchQuery};
    use crate::soap::Fault;
    use crate::store::Store;

    fn person(day: u32, serial: u16, samordning: bool, name: &str) -> Folkbokforingspost {
        let mut p = sample();
        let date = chrono::NaiveDate::from_ymd_opt(1970, 3, day).expect("a date");
        p.personpost.person_id = Pnr::from_parts(date, serial, samordning).expect("a number");
        p.personpost.namn.efternamn = Some(name.into());
        p
    }

    fn store_of(posts: &[Folkbokforingspost]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path(), 1 << 24).expect("open the store");
        crate::store::tests::load_full(&store, 1, posts);
        (dir, store)
    }

    /// A person who changed number (old ↔ new) and is protected on the new number only, as
    /// the register holds it; `both_ways` false is the change of legal gender (old → new).
    fn changed_number(both_ways: bool) -> (Folkbokforingspost, Folkbokforingspost) {
        let mut old = person(3, 120, false, "Lindqvist");
        let mut new = person(3, 131, false, "Lindqvist");
        old.personpost.hanvisning = vec![new.pnr()];
        if both_ways {
            new.personpost.hanvisning = vec![old.pnr()];
        }
        new.sekretessmarkering = true;
        (old, new)
    }

    fn grund() -> Access {
        Access::new([Category::Grund], [])
    }

    fn lindqvist() -> SearchQuery {
        SearchQuery {
            efter_mellan: parse_patterns("Lindqvist").expect("a pattern"),
            postort: parse_patterns("Stockholm").expect("a pattern"),
            ..Default::default()
        }
    }

    #[test]
    fn the_old_number_of_a_protected_person_is_answered_as_protected() {
        for both_ways in [true, false] {
            let (old, new) = changed_number(both_ways);
            let (_dir, store) = store_of(&[old.clone(), new.clone()]);
            let snap = store.snapshot();
            let got = personpost::run(&snap, &grund(), &old.pnr()).expect("lookup");
            assert_eq!(got.len(), 1, "the record is answered");
            let v = &got[0];
            assert!(
                !v.terms.contains(Term::Namn),
                "both_ways {both_ways}: name leaked"
            );
            assert!(
                !v.terms.contains(Term::Folkbokforingsadress),
                "both_ways {both_ways}: address leaked"
            );
            assert!(v.terms.contains(Term::Hanvisning));
            assert!(v.post.sekretessmarkering, "the answer carries the marking");
            // With sekretess, the terms of its other categories.
            let sekretess = Access::new([Category::Grund, Category::Sekretess], []);
            let got = personpost::run(&snap, &sekretess, &old.pnr()).expect("lookup");
            assert!(got[0].terms.contains(Term::Namn));
        }
    }

    #[test]
    fn the_new_number_is_protected_when_the_old_one_is() {
        // Only old → new (change of legal gender), the old record protected: the new one is
        // reached by the reference into it.
        let (mut old, mut new) = changed_number(false);
        new.sekretessmarkering = false;
        old.skyddad_folkbokforing = true;
        let (_dir, store) = store_of(&[old, new.clone()]);
        let got = personpost::run(&store.snapshot(), &grund(), &new.pnr()).expect("lookup");
        assert!(!got[0].terms.contains(Term::Namn), "name leaked");
        assert!(got[0].post.skyddad_folkbokforing);
    }

    #[test]
    fn a_search_does_not_find_the_old_number_of_a_protected_person() {
        for both_ways in [true, false] {
            let (old, new) = changed_number(both_ways);
            let other = person(9, 240, false, "Lindqvist");
            let (_dir, store) = store_of(&[old, new, other.clone()]);
            let snap = store.snapshot();
            let got = namnsokning::run(&snap, &Access::full(), &lindqvist(), 10).expect("hits");
            let found: Vec<Pnr> = got.iter().map(|v| v.post.pnr()).collect();
            assert_eq!(found, vec![other.pnr()], "both_ways {both_ways}");
            // Not counted toward the limit either: one visible hit with limit 1 is no fault.
            let got = namnsokning::run(&snap, &Access::full(), &lindqvist(), 1);
            assert!(
                matches!(&got, Ok(v) if v.len() == 1),
                "both_ways {both_ways}: {:?}",
                got.map(|v| v.len()).map_err(|e| match e {
                    OpError::Fault(Fault::TooManyHits(n)) => format!("1103 {n}"),
                    e => e.to_string(),
                })
            );
        }
    }

    #[test]
    fn hanvisning_cycles_and_long_chains_end() {
        // A cycle of three numbers, none protected: answered in full, and the walk ends.
        let mut a = person(5, 300, false, "Ring");
        let mut b = person(5, 311, false, "Ring");
        let mut c = person(5, 322, false, "Ring");
        a.personpost.hanvisning = vec![b.pnr()];
        b.personpost.hanvisning = vec![c.pnr()];
        c.personpost.hanvisning = vec![a.pnr()];
        let (_dir, store) = store_of(&[a.clone(), b, c]);
        let got = personpost::run(&store.snapshot(), &grund(), &a.pnr()).expect("lookup");
        assert!(got[0].terms.contains(Term::Namn));
        // A chain longer than the bound answers as protected (fails closed); one within it
        // is followed to its end.
        let chain = |n: u16| -> Vec<Folkbokforingspost> {
            (0..n)
                .map(|i| {
                    let mut p = person(7, 400 + i, false, "Kedja");
                    if i + 1 < n {
                        let next = person(7, 401 + i, false, "Kedja").pnr();
                        p.personpost.hanvisning = vec![next];
                    }
                    p
                })
                .collect()
        };
        let long = chain(20);
        let (_dir2, store) = store_of(&long);
        let got = personpost::run(&store.snapshot(), &grund(), &long[0].pnr()).expect("lookup");
        assert!(
            !got[0].terms.contains(Term::Namn),
            "beyond the bound: protected"
        );
        let mut short = chain(16);
        let (_dir3, store) = store_of(&short);
        let got = personpost::run(&store.snapshot(), &grund(), &short[0].pnr()).expect("lookup");
        assert!(
            got[0].terms.contains(Term::Namn),
            "within the bound: not protected"
        );
        // The protected record at the far end of a chain within the bound is found.
        short[15].skyddad_folkbokforing = true;
        let (_dir4, store) = store_of(&short);
        let got = personpost::run(&store.snapshot(), &grund(), &short[0].pnr()).expect("lookup");
        assert!(
            !got[0].terms.contains(Term::Namn),
            "the far end is protected"
        );
    }

    #[test]
    fn direct_lookups_give_every_organisation_samordningsnummer() {
        let mut s = person(4, 150, true, "Samordnad");
        s.personpost.identitetstyp = Identitetstyp::Samordningsnummer;
        let mut t = person(6, 160, false, "Tilldelad");
        t.personpost.identitetstyp = Identitetstyp::TilldelatPersonnummer;
        let (_dir, store) = store_of(&[s.clone(), t.clone()]);
        let snap = store.snapshot();
        for p in [&s, &t] {
            let got = personpost::run(&snap, &grund(), &p.pnr()).expect("lookup");
            assert_eq!(
                got.len(),
                1,
                "{:?} answered without the switch",
                p.personpost.identitetstyp
            );
            for term in [
                Term::PersonId,
                Term::Namn,
                Term::Folkbokforing,
                Term::Folkbokforingsadress,
                Term::Avregistrering,
            ] {
                assert!(got[0].terms.contains(term), "{term:?}");
            }
        }
        let q = SearchQuery {
            efter_mellan: parse_patterns("Samordnad").expect("a pattern"),
            postort: parse_patterns("Stockholm").expect("a pattern"),
            ..Default::default()
        };
        let got = namnsokning::run(&snap, &grund(), &q, 10).expect("hits");
        assert_eq!(got.len(), 1, "found without the switch");
    }
}

/// What the audit trail records (issue 17: audit truths).
mod audit_trail {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn an_infil_page_records_the_numbers_received_as_asked() {
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 3).expect("a date");
        let other = crate::ids::pnr::Pnr::from_parts(date, 239, false).expect("a number");
        let other = other.as_str();
        let body = format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<LamnaInfilRequest xmlns="{V1}"><Bestallning><OrgNr>2021004748</OrgNr><BestallningsId>00000079-FO01-0001</BestallningsId></Bestallning>
<Sida>1</Sida><AntalSidor>1</AntalSidor><PersonNr>198602212394</PersonNr><PersonNr>{other}</PersonNr></LamnaInfilRequest></S:Body></S:Envelope>"#
        );
        let op = Operation::parse_infil(body.as_bytes()).expect("an infil page");
        let mut trail = Trail::default();
        op.note(&mut trail);
        assert_eq!(trail.asked, vec!["198602212394", other]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_search_refused_as_too_many_records_the_hits_it_saw() {
        use crate::loadfile::{DeliveryHeader, DeliveryTyp};
        use crate::model::change::{DeliveryRecord, Posttyp};
        use crate::model::term::TermMask;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(Store::open(dir.path(), 1 << 24).expect("open the store"));
        let mut b = store
            .begin_full(&DeliveryHeader {
                lopnummer: 1,
                typ: DeliveryTyp::Full,
                skapad: "2026-11-22T05:00:00+01:00".into(),
                antal: 5,
            })
            .expect("begin");
        for serial in 0..5u16 {
            let mut p = crate::model::tests::sample();
            let date = chrono::NaiveDate::from_ymd_opt(1970, 3, 1).expect("a date");
            p.personpost.person_id =
                crate::ids::pnr::Pnr::from_parts(date, 200 + serial, false).expect("a number");
            b.add(&DeliveryRecord {
                posttyp: Posttyp::Total,
                post: p,
                present: TermMask::ALL,
            })
            .expect("add");
        }
        b.commit().expect("commit");
        let feed = Arc::new(crate::avisering::feed::Feed::open(&store).expect("feed"));
        let register = crate::register::Register::parse(
            "[[organisation]]\norgnr = \"2021004748\"\nnamn = \"Exempel\"\n\
             categories = [\"grund\"]\nbestallningar = [\"00000079-FO01-0001\"]\n",
            std::path::Path::new("register.toml"),
        )
        .expect("a register");
        let org = register.organisations()[0].clone();
        let op = match Operation::parse(
            search(&[("EfterMellanNamn", "Öberg"), ("Postort", "Stockholm")]).as_bytes(),
        )
        .expect("a search")
        {
            Operation::Namnsokning(n) => n,
            other => panic!("{other:?}"),
        };
        let caller = Caller::check(org, &op.bestallning).expect("a caller");
        let cx = Context {
            store: &store,
            feed: &feed,
            now: chrono::Utc::now(),
            max_hits: 3,
            page_size: 100,
            request_id: RequestId(1),
            version: crate::soap::service::Version::V4,
        };
        let mut trail = Trail::default();
        let r = op.apply(&cx, &caller, &mut trail).await;
        assert!(matches!(r, Err(OpError::Fault(Fault::TooManyHits(3)))));
        assert!(trail.returned.is_empty());
        assert_eq!(trail.hits(), 4, "more than 3: the search saw 4");
    }
}

/// SOAP 1.1 strictness (issue 21, item 7): an element an operation reads once is refused when
/// it appears twice, in every operation, naming it; `PersonNr` of an infil page repeats.
mod duplicates {
    use super::*;
    use crate::soap::AVI_NS;

    fn twice(body: &str, element: &str) -> String {
        // Doubles the first `<element>…</element>` (any prefix) in place.
        let open = body
            .find(&format!(":{element}>"))
            .map(|i| body[..i].rfind('<').unwrap_or(i))
            .or_else(|| body.find(&format!("<{element}>")))
            .unwrap_or_else(|| panic!("{element} in {body}"));
        let close_tag_at = body[open..]
            .find(&format!("{element}>"))
            .and_then(|first| {
                body[open + first + element.len()..]
                    .find(&format!("{element}>"))
                    .map(|j| open + first + element.len() + j + element.len() + 1)
            })
            .unwrap_or_else(|| panic!("{element} closes"));
        let whole = &body[open..close_tag_at];
        format!("{}{whole}{whole}{}", &body[..open], &body[close_tag_at..])
    }

    type Parser = fn(&[u8]) -> Result<Operation, Fault>;

    fn infil() -> String {
        format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<LamnaInfilRequest xmlns="{V1}"><Bestallning><OrgNr>2021004748</OrgNr><BestallningsId>00000079-FO01-0001</BestallningsId></Bestallning>
<Sida>1</Sida><AntalSidor>1</AntalSidor><SvarDirekt>false</SvarDirekt><PersonNr>198602212394</PersonNr><PersonNr>198602212394</PersonNr></LamnaInfilRequest></S:Body></S:Envelope>"#
        )
    }

    fn hamta() -> String {
        format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<HamtaAviseringRequest xmlns="{AVI_NS}"><Bestallning><OrgNr>2021004748</OrgNr><BestallningsId>00000079-FO01-0001</BestallningsId></Bestallning>
<Lopnummer>1</Lopnummer><Fil>A</Fil><Sida>1</Sida></HamtaAviseringRequest></S:Body></S:Envelope>"#
        )
    }

    #[test]
    fn an_element_read_once_is_refused_when_it_appears_twice() {
        let pp = personpost("198602212394");
        let sok = search(&[("EfterMellanNamn", "Lindqvist"), ("Kon", "K")]);
        let (infil, hamta) = (infil(), hamta());
        assert_eq!(code(parse(pp.as_bytes())), "ok");
        assert_eq!(code(parse(sok.as_bytes())), "ok");
        assert_eq!(code(Operation::parse_infil(infil.as_bytes())), "ok");
        assert_eq!(code(parse(hamta.as_bytes())), "ok");
        let cases: Vec<(&str, &str, Parser)> = vec![
            (pp.as_str(), "PersonId", parse),
            (pp.as_str(), "Bestallning", parse),
            (pp.as_str(), "OrgNr", parse),
            (pp.as_str(), "BestallningsId", parse),
            (sok.as_str(), "SokvillkorNamn", parse),
            (sok.as_str(), "EfterMellanNamn", parse),
            (sok.as_str(), "Kon", parse),
            (sok.as_str(), "Fornamn", parse),
            (sok.as_str(), "Kategori", parse),
            (infil.as_str(), "Sida", Operation::parse_infil),
            (infil.as_str(), "AntalSidor", Operation::parse_infil),
            (infil.as_str(), "SvarDirekt", Operation::parse_infil),
            (infil.as_str(), "OrgNr", Operation::parse_infil),
            (hamta.as_str(), "Lopnummer", parse),
            (hamta.as_str(), "Fil", parse),
            (hamta.as_str(), "Sida", parse),
            (hamta.as_str(), "BestallningsId", parse),
        ];
        for (body, element, parser) in cases {
            let doubled = if element == "Fornamn" || element == "Kategori" {
                // Sent as `<X xsi:nil="true"/>`: doubled as such.
                let nil = format!("<{element} xsi:nil=\"true\"/>");
                body.replace(&nil, &format!("{nil}{nil}"))
            } else {
                twice(body, element)
            };
            assert_ne!(doubled, body, "{element} doubled");
            let got = code(parser(doubled.as_bytes()));
            assert!(
                got.starts_with("1101")
                    && got.contains(&format!("element {element} appears twice")),
                "{element}: {got}"
            );
        }
    }
}
