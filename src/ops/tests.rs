//! Each operation's request as clients send it, and every refusal naming what was wrong:
//! the envelope (soap::request) and the operation elements (ops/*) parsed together, as the
//! listener does.

use super::*;
use crate::soap::request::SOKVILLKOR_NAMN;
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
            got.starts_with("FR1101") && got.contains(needle),
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
        ("not xml".into(), "FR1101"),
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
        (personpost(&"1".repeat(1000)), "longer than"),
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
            got.starts_with("FR1101") && got.contains(needle),
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
        got.starts_with("FR1101") && got.contains("the request is not UTF-8"),
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

#[test]
fn search_fields_and_ranges() {
    let r = parse(
        search(&[
            ("Fornamn", "Anna"),
            ("EfterMellanNamn", "And*"),
            ("FodelsetidFrom", "1980"),
            ("FodelsetidTom", "198502"),
            ("Kon", "K"),
            ("PostnummerFrom", "114 00"),
            ("PostnummerTom", "11499"),
            ("Kategori", "FB"),
        ])
        .as_bytes(),
    )
    .unwrap();
    let Operation::Namnsokning(Namnsokning { query, .. }) = r else {
        panic!()
    };
    assert_eq!(query.fodelse_from, Some(19800101));
    assert_eq!(query.fodelse_tom, Some(19850231));
    assert_eq!(query.postnr_from, Some(11400));
    assert!(query.efter_mellan[0].prefix);
    assert!(query.endast_folkbokforda);
}

#[test]
fn search_refusals() {
    for (fields, expect) in [
        (vec![("Fornamn", "Anna")], "FR1102"),
        (vec![("Postort", "Lund"), ("Kon", "M")], "FR1102"),
        (vec![("Fornamn", "A*"), ("Kon", "M")], "FR1101"),
        (vec![("Fornamn", "Anna"), ("Kon", "X")], "FR1101"),
        (
            vec![("Fornamn", "Anna"), ("FodelsetidFrom", "19801340")],
            "FR1101",
        ),
        (
            vec![("Fornamn", "Anna"), ("PostnummerFrom", "1234")],
            "FR1101",
        ),
        (vec![("Fornamn", "Anna"), ("Kategori", "XX")], "FR1101"),
    ] {
        let got = code(parse(search(&fields).as_bytes()));
        assert!(got.starts_with(expect), "{fields:?}: {got}");
    }
}
