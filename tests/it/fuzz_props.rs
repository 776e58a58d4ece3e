//! Fuzz-style property tests that always run (the coverage-guided fuzzers in `fuzz/` need a
//! nightly toolchain): arbitrary bytes, mutated valid envelopes and mutated load files into
//! the parsers, arbitrary strings into `Pnr::parse`. Each input must give a typed answer —
//! a value that holds what its input said, or an error of the documented kind whose text
//! names the problem and carries no identity number — never a panic.

use std::io::Cursor;
use std::sync::OnceLock;

use folkreg::ids::pnr::{Pnr, PnrError};
use folkreg::ids::{BestallningsId, OrgNr};
use folkreg::loadfile::DeliveryReader;
use folkreg::ops::{Operation, Personpost};
use folkreg::soap::{Fault, V1_NS};

fn parse(body: &[u8]) -> Result<Operation, Fault> {
    Operation::parse(body)
}

fn parse_infil(body: &[u8]) -> Result<Operation, Fault> {
    Operation::parse_infil(body)
}
use proptest::prelude::*;

use crate::common::{gzip, personpost_body};

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at (position modulo length) with this one.
    Set(usize, u8),
    /// Remove up to `n` bytes from the position.
    Delete(usize, usize),
    /// Insert these bytes at the position.
    Insert(usize, Vec<u8>),
    /// Copy up to `n` bytes from the first position to the second.
    Duplicate(usize, usize, usize),
    /// Cut the input at the position.
    Truncate(usize),
}

/// Bytes that matter to XML, and any byte.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"<>/&;=\"' ?!-:[]x0123456789\n\xc3\xa5\xff\x00".to_vec()),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), interesting_byte()).prop_map(|(p, b)| Mutation::Set(p, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        3 => (
            any::<usize>(),
            prop::collection::vec(interesting_byte(), 1..16)
        )
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        2 => (any::<usize>(), 1usize..256, any::<usize>())
            .prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            Mutation::Set(p, b) => {
                if !bytes.is_empty() {
                    bytes[p % len] = *b;
                }
            }
            Mutation::Delete(p, n) => {
                let at = (p % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Insert(p, b) => {
                let at = (p % len).min(bytes.len());
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Duplicate(from, n, to) => {
                let at = (from % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = (to % len).min(bytes.len());
                bytes.splice(to..to, copy);
            }
            Mutation::Truncate(p) => bytes.truncate(p % len),
        }
    }
    bytes
}

fn personpost(pnr: &str) -> String {
    personpost_body("162021004748", "00000079-FO01-0001", pnr)
}

fn namnsokning() -> String {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><S:Body>
<NamnsokningRequest xmlns="{V1_NS}"><Bestallning><OrgNr>2021004748</OrgNr><BestallningsId>00000079-FO01-0001</BestallningsId></Bestallning>
<SokvillkorNamn><Adress xsi:nil="true"/><EfterMellanNamn>Ekstr*</EfterMellanNamn><FodelsetidFrom>1960</FodelsetidFrom><FodelsetidTom>196912</FodelsetidTom><Fornamn>Ingvar</Fornamn><Kon>M</Kon><PostnummerFrom>120 00</PostnummerFrom><PostnummerTom>17999</PostnummerTom><Postort>Solna</Postort><Kategori>FB</Kategori></SokvillkorNamn></NamnsokningRequest></S:Body></S:Envelope>"#
    )
}

fn infil() -> String {
    r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><LamnaInfilRequest xmlns="urn:folkreg:avisering:1"><Bestallning><OrgNr>162120000134</OrgNr><BestallningsId>00000079-AV02-0002</BestallningsId></Bestallning><Sida>1</Sida><AntalSidor>2</AntalSidor><PersonNr>196510213637</PersonNr><PersonNr>198602212394</PersonNr></LamnaInfilRequest></S:Body></S:Envelope>"#.to_owned()
}

/// What any parse of any bytes must give: a request whose parts are valid, or a caller's
/// fault (1101/1102) with a Swedish / English text.
fn check_answer(r: &Result<Operation, Fault>) -> Result<(), TestCaseError> {
    match r {
        Ok(req) => {
            let b = req.bestallning();
            // The typed values re-parse to themselves: nothing invalid got through.
            prop_assert_eq!(OrgNr::parse(&b.org_nr.to_string()), Ok(b.org_nr));
            prop_assert_eq!(
                BestallningsId::parse(b.bestallnings_id.as_str()),
                Ok(b.bestallnings_id.clone())
            );
            if let Operation::Personpost(Personpost { person_id, .. }) = req {
                prop_assert_eq!(Pnr::parse(person_id.as_str()), Ok(*person_id));
            }
        }
        Err(f) => {
            prop_assert!(
                matches!(f.code(), 1101 | 1102),
                "a caller's fault, not {}",
                f.code()
            );
            let text = f.beskrivning();
            prop_assert!(
                text.starts_with("Felaktiga inparametrar: ") && text.contains(" / Invalid input"),
                "{}",
                text
            );
        }
    }
    Ok(())
}

/// A small valid FULL delivery (plain XML), made once.
fn delivery() -> &'static (Vec<u8>, Vec<String>) {
    static FILE: OnceLock<(Vec<u8>, Vec<String>)> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("d.xml");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        folkreg::dev::generate::write_full(6, 11, today, Some(&path)).expect("write");
        let numbers = DeliveryReader::open(&path)
            .expect("open")
            .map(|r| r.expect("valid").post.pnr().as_str().to_owned())
            .collect();
        (std::fs::read(&path).expect("read"), numbers)
    })
}

/// Reads a delivery from bytes to the end: Ok(number of records) or the first error's text.
fn read_delivery(bytes: Vec<u8>) -> Result<u64, String> {
    let reader = DeliveryReader::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let antal = reader.header().antal;
    let mut n = 0u64;
    for rec in reader {
        rec.map_err(|e| e.to_string())?;
        n += 1;
    }
    if n != antal {
        return Err(format!("read {n} records of {antal} without an error"));
    }
    Ok(n)
}

fn check_delivery(result: &Result<u64, String>) -> Result<(), TestCaseError> {
    if let Err(text) = result {
        prop_assert!(!text.is_empty());
        prop_assert!(
            !text.starts_with("read "),
            "records went missing silently: {}",
            text
        );
        for pnr in &delivery().1 {
            prop_assert!(
                !text.contains(pnr.as_str()) && !text.contains(&pnr[2..]),
                "an error names an identity number: {}",
                text
            );
        }
    }
    Ok(())
}

/// Strings near an identity number: valid ones, with one character replaced, or anything.
fn pnr_like() -> impl Strategy<Value = String> {
    let valid = (
        1850i32..2100,
        1u32..=12,
        1u32..=31,
        0u16..1000,
        any::<bool>(),
    )
        .prop_filter_map("real date", |(y, m, d, serial, samordning)| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|date| Pnr::from_parts(date, serial, samordning))
                .map(|p| p.as_str().to_owned())
        });
    prop_oneof![
        2 => valid.clone(),
        3 => (valid, 0usize..12, any::<char>().prop_filter("XML text", |c| !c.is_control()))
            .prop_map(|(s, at, c)| {
            s.chars()
                .enumerate()
                .map(|(i, d)| if i == at { c } else { d })
                .collect()
        }),
        2 => "[0-9]{10,14}",
        2 => "\\PC{0,16}",
        1 => "[0-9０-９ +-]{10,14}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_are_a_request_or_a_named_fault(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        check_answer(&parse(&bytes))?;
        check_answer(&parse_infil(&bytes))?;
    }

    #[test]
    fn mutated_envelopes_are_a_request_or_a_named_fault(
        which in 0usize..3,
        edits in prop::collection::vec(mutation(), 1..8)
    ) {
        let valid = [personpost("196510213637"), namnsokning(), infil()][which].clone();
        let bytes = mutate(valid.into_bytes(), &edits);
        check_answer(&parse(&bytes))?;
        check_answer(&parse_infil(&bytes))?;
    }

    /// Whatever text is in PersonId, the request is exactly what `Pnr::parse` makes of it.
    #[test]
    fn person_id_means_what_pnr_parse_says(s in pnr_like()) {
        let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let got = parse(personpost(&escaped).as_bytes());
        let trimmed = s.trim();
        match (got, Pnr::parse(trimmed)) {
            (Ok(Operation::Personpost(Personpost { person_id, .. })), Ok(p)) => prop_assert_eq!(person_id, p),
            (Err(f), Err(e)) => {
                prop_assert_eq!(f.code(), 1101);
                let want = if trimmed.is_empty() {
                    "PersonId is empty".to_owned()
                } else {
                    format!("PersonId: {e}")
                };
                prop_assert!(f.beskrivning().contains(&want), "{}", f.beskrivning());
            }
            (Err(f), Ok(_)) => prop_assert!(false, "refused a valid number: {}", f.beskrivning()),
            (Ok(r), Err(e)) => prop_assert!(false, "accepted what Pnr::parse refuses ({}): {:?}", e, r),
            (Ok(r), Ok(_)) => prop_assert!(false, "not a personpost request: {:?}", r),
        }
    }

    #[test]
    fn every_string_is_a_number_or_the_right_error(s in pnr_like()) {
        let chars: Vec<char> = s.chars().collect();
        match Pnr::parse(&s) {
            Ok(p) => {
                prop_assert_eq!(p.as_str(), s.as_str(), "round trip");
                prop_assert_eq!(Pnr::parse(p.as_str()), Ok(p));
                prop_assert!(p.birth_date().is_some());
            }
            Err(PnrError::Length(n)) => {
                prop_assert_eq!(n, chars.len());
                prop_assert!(n != 12);
            }
            Err(PnrError::NotDigit(at)) => {
                prop_assert_eq!(chars.len(), 12);
                prop_assert_eq!(chars.iter().position(|c| !c.is_ascii_digit()), Some(at - 1));
            }
            Err(PnrError::Date) | Err(PnrError::CheckDigit) => {
                prop_assert!(chars.len() == 12 && chars.iter().all(|c| c.is_ascii_digit()));
            }
            Err(PnrError::Separator) => prop_assert!(false, "the strict form has no separator"),
        }
        // The lenient forms accept more, and whatever they accept is a valid number.
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        if let Ok(p) = Pnr::parse_lenient(&s, today) {
            prop_assert_eq!(Pnr::parse(p.as_str()), Ok(p));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_no_delivery(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        gz in any::<bool>()
    ) {
        let bytes = if gz { gzip(&bytes) } else { bytes };
        let result = read_delivery(bytes);
        check_delivery(&result)?;
        prop_assert!(result.is_err(), "random bytes are not a delivery");
    }

    #[test]
    fn mutated_deliveries_are_read_whole_or_refused(
        edits in prop::collection::vec(mutation(), 1..6),
        gz in any::<bool>()
    ) {
        let bytes = mutate(delivery().0.clone(), &edits);
        let bytes = if gz { gzip(&bytes) } else { bytes };
        check_delivery(&read_delivery(bytes))?;
    }

    /// A delivery cut anywhere before its end is an error, plain or gzip — never fewer records.
    #[test]
    fn a_truncated_delivery_is_an_error(cut in any::<prop::sample::Index>(), gz in any::<bool>()) {
        let whole = &delivery().0;
        let end = whole
            .windows(b"</Navetavisering>".len())
            .rposition(|w| w == b"</Navetavisering>")
            .expect("closing tag");
        let cut = cut.index(end + b"</Navetavisering".len());
        let bytes = if gz {
            let z = gzip(whole);
            // Cut inside the compressed stream (its 8-byte trailer excluded).
            z[..cut.min(z.len() - 9)].to_vec()
        } else {
            whole[..cut].to_vec()
        };
        let result = read_delivery(bytes);
        check_delivery(&result)?;
        prop_assert!(result.is_err(), "a file cut at {} was read as whole", cut);
    }
}

#[test]
fn the_valid_inputs_are_valid() {
    assert!(matches!(
        parse(personpost("196510213637").as_bytes()),
        Ok(Operation::Personpost(_))
    ));
    assert!(matches!(
        parse(namnsokning().as_bytes()),
        Ok(Operation::Namnsokning(_))
    ));
    assert!(matches!(
        parse_infil(infil().as_bytes()),
        Ok(Operation::LamnaInfil(_))
    ));
    assert_eq!(read_delivery(delivery().0.clone()), Ok(6));
    assert_eq!(read_delivery(gzip(&delivery().0)), Ok(6));
}
