use super::*;
use crate::ids::pnr::Pnr;
use crate::loadfile::writer::write_delivery;
use crate::loadfile::DeliveryTyp;
use crate::model::change::merge;
use crate::model::change::Posttyp;
use crate::model::term::{Term, TermMask};
use crate::model::tests::sample;
use crate::model::*;
use proptest::prelude::*;

fn header(antal: u64) -> DeliveryHeader {
    DeliveryHeader {
        lopnummer: 7,
        typ: DeliveryTyp::Full,
        skapad: "2026-11-22T00:00:00+01:00".into(),
        antal,
    }
}

fn total(post: Folkbokforingspost) -> DeliveryRecord {
    DeliveryRecord {
        posttyp: Posttyp::Total,
        post,
        present: TermMask::ALL,
    }
}

/// Written with folkreg's own terms too ([`DeliveryWriter::with_extensions`]), so that every
/// term comes back.
fn round_trip(records: &[DeliveryRecord], gz: bool) -> Vec<DeliveryRecord> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(if gz { "d.xml.gz" } else { "d.xml" });
    let info = Aviseringsinformation::for_load(&header(records.len() as u64));
    crate::loadfile::writer::write_file(&path, &info, records, true).unwrap();
    let r = DeliveryReader::open(&path).unwrap();
    assert_eq!(r.header(), &header(records.len() as u64));
    r.collect::<Result<Vec<_>, _>>().unwrap()
}

/// A record with every term set, for the round trip.
pub(crate) fn rich() -> Folkbokforingspost {
    let mut p = sample();
    let d = |s: &str| Datum::parse(s).unwrap();
    let other = Pnr::parse("201212121212").unwrap();
    let pp = &mut p.personpost;
    pp.hanvisning = vec![other];
    pp.avregistrering = Some(Avregistrering {
        orsak: AvregistreringsorsakKod::AV,
        datum: d("20250101"),
        // Found dead: no certain date of death (Navet 8.9), only the date found.
        avliden_datum: None,
    });
    pp.antraffad_dod = Some(d("20241230"));
    pp.namn.mellannamn = Some("Von & <Zoë>".into());
    pp.namn.aviseringsnamn = Some("Öberg, Åsa K".into());
    pp.adresser.sarskild_postadress = Some(SvenskAdress {
        care_of: Some("c/o \"Berg\"".into()),
        utdelningsadress1: Some("Box 1".into()),
        utdelningsadress2: None,
        post_nr: Some("22100".into()),
        postort: Some("LUND".into()),
    });
    pp.adresser.utlandsadress = Some(Utlandsadress {
        utdelningsadress1: Some("1 Main St".into()),
        utdelningsadress2: None,
        utdelningsadress3: Some("Oslo".into()),
        land: Some("NORGE".into()),
        datum: Some(d("20200101")),
    });
    pp.adresser.uuid = Some(AdressUuid {
        fastighet: Some("0d6f4a52-7e1b-4c1e-9a3e-1f2b3c4d5e6f".into()),
        adress: None,
        lagenhet: Some("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
    });
    pp.fodelse.hemort_sverige = Some(HemortSverige {
        lan_kod: "01".into(),
        forsamling_kommun: "Katarina".into(),
    });
    pp.fodelse.ort_utlandet = Some(OrtUtlandet {
        fodelseort: "Oslo".into(),
        fodelseland: "Norge".into(),
    });
    pp.invandringsdatum = Some(d("19900101"));
    pp.rostratt_datum = Some(d("20200101"));
    pp.civilstand = Some(Civilstand {
        kod: CivilstandKod::A,
        datum: Some(d("20100101")),
    });
    pp.medborgarskap = vec![
        Medborgarskap {
            landkod: "NO".into(),
            datum: Some(d("19860221")),
        },
        Medborgarskap {
            landkod: "DK".into(),
            datum: None,
        },
    ];
    pp.relationer = vec![
        Relation {
            typ: Relationstyp::MO,
            person: Relationsperson::PersonNr(other),
            avregistreringsorsak: Some(AvregistreringsorsakKod::AV),
            avregistreringsdatum: Some(d("20000101")),
        },
        Relation {
            typ: Relationstyp::FA,
            person: Relationsperson::Uppgifter {
                fodelsedatum: d("19500000"),
                fornamn: Some("Per".into()),
                efternamn: None,
            },
            avregistreringsorsak: None,
            avregistreringsdatum: None,
        },
    ];
    pp.uppehallsratt = Some(Uppehallsratt {
        typ: "J".into(),
        datum: None,
    });
    pp.nordiskt_personnummer = Some(NordisktPersonnummer {
        nummer: "010203-12345".into(),
        landkod: "NO".into(),
    });
    pp.taxering = Some(Taxering {
        inkomst: Some(Inkomst {
            ar: 2025,
            summa: -12,
        }),
        fastigheter: vec![Fastighetsinnehav {
            beteckning: "LUND X 1:1".into(),
            kommun: "1281".into(),
        }],
    });
    pp.historik = vec![HistorikPost {
        typ: Folkbokforingstyp::FB,
        datum: d("20100301"),
        lan_kod: Some("01".into()),
        kommun_kod: Some("80".into()),
        fastighetsbeteckning: None,
    }];
    p.sekretessmarkering = true;
    p.skyddsdatum = Some(d("20220101"));
    p
}

#[test]
fn rich_record_round_trips_plain_and_gzip() {
    let recs = vec![total(rich()), total(sample())];
    assert_eq!(round_trip(&recs, false), recs);
    assert_eq!(round_trip(&recs, true), recs);
}

#[test]
fn andringspost_and_borttag_round_trip() {
    let present = TermMask::of(&[
        Term::PersonId,
        Term::Arendeuppgift,
        Term::Namn,
        Term::Avregistrering,
        Term::Skydd,
    ]);
    let mut change = sample();
    change.personpost.namn.efternamn = Some("Holm".into());
    let recs = vec![
        DeliveryRecord {
            posttyp: Posttyp::Andring,
            post: change.clone(),
            present,
        },
        DeliveryRecord {
            posttyp: Posttyp::Borttag,
            post: rich(),
            present: TermMask::NONE,
        },
    ];
    let back = round_trip(&recs, false);
    assert_eq!(back[0].present, present);
    assert_eq!(back[0].post.personpost.namn, change.personpost.namn);
    assert_eq!(
        back[0].post.personpost.avregistrering, None,
        "an empty element clears"
    );
    let mut merged = rich();
    merge(&mut merged, &back[0].post, back[0].present);
    assert_eq!(merged.personpost.namn.efternamn.as_deref(), Some("Holm"));
    assert_eq!(merged.personpost.avregistrering, None);
    assert!(!merged.sekretessmarkering, "Skydd N lifts the protection");
    assert_eq!(
        merged.personpost.relationer,
        rich().personpost.relationer,
        "groups not carried stay"
    );
    assert_eq!(back[1].posttyp, Posttyp::Borttag);
    assert_eq!(back[1].post.pnr(), rich().pnr());
}

fn read_err(xml: &str) -> DeliveryError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xml");
    std::fs::write(&path, xml).unwrap();
    match DeliveryReader::open(&path) {
        Err(e) => e,
        Ok(r) => r.filter_map(Result::err).next().expect("an error"),
    }
}

/// The header of a one-file grunduttag, as Navet writes it.
pub(crate) fn navet_header(antal: usize) -> String {
    format!(
        "<Aviseringsinformation><Medieleverantor><OrgNr>162021005448</OrgNr><Organisationsnamn>Skatteverket</Organisationsnamn></Medieleverantor><Mediemottagare><OrgNr>212000000142</OrgNr></Mediemottagare><Filinformation><BestallningsId>000000000000012345</BestallningsId><Bestallningstyp>GRUNDUTTAG</Bestallningstyp><Produkt>NAVET</Produkt><Utfil><Filnamn>NA12345.xml</Filnamn><Effektueringsdatum>20261122</Effektueringsdatum><AntalPoster>{antal}</AntalPoster><AntalPosterTotalt>{antal}</AntalPosterTotalt><AntalFiler>1</AntalFiler><FilNr>1</FilNr><JobbId>4711</JobbId><LopNr>1</LopNr></Utfil></Filinformation></Aviseringsinformation>"
    )
}

fn file_with(records: &[String], antal: usize) -> String {
    format!(
        "<?xml version=\"1.0\"?><Navetavisering>{}<Folkbokforingsposter>{}</Folkbokforingsposter></Navetavisering>",
        navet_header(antal),
        records.join("")
    )
}

fn rec(personpost_inner: &str) -> String {
    format!("<Folkbokforingspost><Arendeuppgift andringstidpunkt=\"20261120101500\" totalpost=\"J\"/><Personpost>{personpost_inner}</Personpost></Folkbokforingspost>")
}

/// Broken files and the report each gets.
fn error_cases() -> Vec<(String, &'static str)> {
    let good = rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId>");
    vec![
        (file_with(&[good.clone(), rec("<PersonId><PersonNr>198602212395</PersonNr></PersonId>")], 2), "record 2: element Personpost/PersonId/PersonNr: invalid value: identity number check digit is wrong"),
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Folkbokforing><Folkbokforingsdatum>20100101</Folkbokforingsdatum><LanKod>02</LanKod><KommunKod>80</KommunKod></Folkbokforing>")], 1), "record 1: element Personpost/Folkbokforing/LanKod: invalid value: unknown länskod"),
        (file_with(std::slice::from_ref(&good), 2), "header AntalPoster is 2 but the file has 1 records"),
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Skonummer>1</Skonummer>")], 1), "record 1: element Personpost/(an element the format does not have): unexpected element"),
        (format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", file_with(std::slice::from_ref(&good), 1)), "DOCTYPE"),
        (file_with(std::slice::from_ref(&good), 1).replace("<Navetavisering>", "<Navetavisering xmlns=\"urn:other\">"), "root element"),
        (file_with(std::slice::from_ref(&good), 1).replace("<LopNr>1</LopNr>", ""), "Utfil/LopNr"),
        (file_with(std::slice::from_ref(&good), 1).replace("<Produkt>NAVET</Produkt>", "<Produkt>NAV</Produkt>"), "Filinformation/Produkt"),
        (file_with(std::slice::from_ref(&good), 1).replace("<Aviseringsinformation>", "<Aviseringsinformatio>").replace("</Aviseringsinformation>", "</Aviseringsinformatio>"), "Aviseringsinformation is missing"),
        (file_with(std::slice::from_ref(&good), 1).replace("</Navetavisering>", ""), "truncated"),
        // The record's shape (xml::shape): order, repetition, Navet's maxLength.
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Efternamn>A</Efternamn><Fornamn>B</Fornamn></Namn>")], 1), "record 1: element Personpost/Namn/Fornamn: invalid value: out of the schema's order"),
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Fornamn>A</Fornamn></Namn><Namn><Fornamn>B</Fornamn></Namn>")], 1), "record 1: element Personpost/Namn: invalid value: may occur only once"),
        (file_with(&[rec(&format!("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Efternamn>{}</Efternamn></Namn>", "Ö".repeat(61)))], 1), "record 1: element Personpost/Namn/Efternamn: text longer than 60 characters"),
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr><TilldelatPersonNrSamordningsNr>198602812391</TilldelatPersonNrSamordningsNr></PersonId>")], 1), "record 1: element Personpost/PersonId: invalid value: holds both"),
        (file_with(&[rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Relationer><Relation><Relationstyp>MO</Relationstyp></Relation></Relationer>")], 1), "record 1: element Personpost/Relationer/Relation: required element RelationId is missing"),
    ]
}

#[test]
fn errors_name_record_and_element_without_values() {
    let cases = error_cases();
    for (xml, want) in cases {
        let e = read_err(&xml).to_string();
        assert!(e.contains(want), "want {want:?}, got {e:?}");
        assert!(!e.contains("198602212"), "no identity number in {e:?}");
    }
}

/// Broken records (in a file of one) whose reports must not quote them, with the report.
fn quote_cases() -> Vec<(String, &'static str)> {
    let good = rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Fornamn>Ingvar</Fornamn></Namn>");
    vec![
        // A quote turns the rest of the record into one element name.
        (
            good.replace("<Personpost>", "<'ersonpost>").replacen("</PersonNr>", "'</PersonNr>", 1),
            "record 1: element (an element the format does not have): malformed XML: an end tag does not match its start tag",
        ),
        (
            good.replace("<Fornamn>Ingvar", "<Fornamn><Ingvar>"),
            "record 1: element Personpost/Namn/Fornamn/(an element the format does not have): malformed XML: an end tag does not match its start tag",
        ),
        (
            good.replace("198602212394", "&198602212394;"),
            "record 1: element Personpost/PersonId/PersonNr: malformed XML: an unknown entity or an invalid character reference",
        ),
        (
            good.replace("<Fornamn>Ingvar</Fornamn>", "<Ingvar/>"),
            "record 1: element Personpost/Namn/(an element the format does not have): unexpected element",
        ),
    ]
}

/// In a broken file anything can stand where a name is read — an identity number, a name —
/// so a report names only the format's own elements and says what is wrong in its own words.
#[test]
fn a_report_never_quotes_the_file() {
    for (broken, want) in quote_cases() {
        let e = read_err(&file_with(&[broken], 1)).to_string();
        assert_eq!(e, want);
        assert!(!e.contains("198602212394") && !e.contains("Ingvar"), "{e}");
    }
}

#[test]
fn truncated_gzip_and_invalid_utf8_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<_> = (0..200).map(|_| total(rich())).collect();
    let gz = dir.path().join("d.xml.gz");
    write_delivery(&gz, &header(200), &recs).unwrap();
    let bytes = std::fs::read(&gz).unwrap();
    let cut = dir.path().join("cut.xml.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = DeliveryReader::open(&cut).unwrap();
    let e = r
        .last()
        .and_then(Result::err)
        .expect("a truncated gzip ends in an error");
    let e = e.to_string();
    assert!(
        e.ends_with(": malformed XML: the file ends early (truncated, or a cut-off gzip stream)")
            && !e.contains("element :"),
        "{e}"
    );

    let good = rec(
        "<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Fornamn>Åsa</Fornamn></Namn>",
    );
    let mut raw = file_with(&[good], 1).into_bytes();
    let at = raw.windows(2).position(|w| w == "Å".as_bytes()).unwrap();
    raw[at] = 0xFF;
    let p = dir.path().join("utf8.xml");
    std::fs::write(&p, raw).unwrap();
    let err = DeliveryReader::open(&p)
        .map(|r| r.filter_map(Result::err).next())
        .unwrap();
    assert!(err.is_some(), "invalid UTF-8 is an error");
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9åäöÅÄÖéü&<>\"' .,-]{1,30}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn what_the_writer_writes_the_reader_reads(
        fornamn in arb_text(), efternamn in arb_text(), gata in arb_text(), sekretess in any::<bool>(),
        avliden in any::<bool>(), relationer in 0usize..4, gz in any::<bool>()
    ) {
        let mut p = rich();
        p.personpost.namn.fornamn = Some(fornamn);
        p.personpost.namn.efternamn = Some(efternamn);
        if let Some(a) = p.personpost.adresser.folkbokforingsadress.as_mut() { a.utdelningsadress2 = Some(gata); }
        p.sekretessmarkering = sekretess;
        if !avliden { p.personpost.avregistrering = None; }
        p.personpost.relationer.truncate(relationer);
        let recs = vec![total(p), total(sample())];
        prop_assert_eq!(round_trip(&recs, gz), recs);
    }
}

/// Character data as quick-xml 0.37 gave it (text trimmed at its ends, references decoded,
/// whitespace beside a reference kept, comments splitting text), kept across the upgrade.
#[test]
fn references_decode_and_text_is_trimmed_as_before() {
    let name = |fornamn: &str| {
        let xml = file_with(
            &[rec(&format!("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Fornamn>{fornamn}</Fornamn></Namn>"))],
            1,
        );
        let mut r = DeliveryReader::new(std::io::Cursor::new(xml.into_bytes())).unwrap();
        r.next()
            .unwrap()
            .map(|d| d.post.personpost.namn.fornamn.clone())
    };
    for (raw, want) in [
        ("  A &amp; B  ", Some("A & B")),
        ("&lt;x&gt; &quot;&apos;", Some("<x> \"'")),
        ("&#x41;&#66; &#xe5;", Some("AB å")),
        ("&#32;Bo&#32;", Some("Bo")),
        ("An <!-- c --> na", Some("Anna")),
        ("\n  Åsa\n  Karin\n", Some("Åsa\n  Karin")),
    ] {
        let got = name(raw);
        assert_eq!(
            got.as_ref().ok().and_then(|v| v.as_deref()),
            want,
            "{raw:?}"
        );
    }
    // Attribute values decode too.
    let xml = file_with(&[], 0).replace("05:00:00+01:00", "05:00:00&#43;01:00");
    let r = DeliveryReader::new(std::io::Cursor::new(xml.into_bytes())).unwrap();
    assert_eq!(r.header().skapad, "2026-11-22T00:00:00+01:00");
    for bad in ["a &nbsp; b", "a & b", "&#xZZ;"] {
        let e = name(bad).unwrap_err().to_string();
        assert_eq!(e, "record 1: element Personpost/Namn/Fornamn: malformed XML: an unknown entity or an invalid character reference");
    }
}

/// Files on Navet's terms carry no term Navet lacks: taxering, skyddsdatum and "på kommunen
/// skriven" stay out unless asked for, and such a file reads back without them.
#[test]
fn a_navet_file_leaves_folkregs_own_terms_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.xml");
    let recs = vec![total(rich())];
    write_delivery(&path, &header(1), &recs).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for own in ["Taxering", "Skyddsdatum", "PaKommunSkriven"] {
        assert!(!text.contains(own), "{own} in a Navet file");
    }
    let back: Vec<_> = DeliveryReader::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(rich().personpost.taxering.is_some());
    assert_eq!(back[0].post.personpost.taxering, None);
    assert_eq!(back[0].post.personpost.namn, rich().personpost.namn);
}

/// Every record, or the first report, of the bytes of a file: as the sequential reader gives
/// them, and as a FULL load reads them on several threads (`load::read_parallel`).
fn both_ways(bytes: &[u8]) -> [Result<Vec<DeliveryRecord>, String>; 2] {
    let open = || DeliveryReader::new(std::io::Cursor::new(bytes.to_vec()));
    let sequential = open()
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string());
    let parallel = open().map_err(|e| e.to_string()).and_then(|r| {
        let mut out = Vec::new();
        crate::load::read_parallel(r, &|rec| rec, &mut |rec| {
            out.push(rec?);
            Ok::<(), DeliveryError>(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    });
    [sequential, parallel]
}

/// A FULL load cuts records out of the byte stream and reads them on several threads; what
/// it reads, and every report, is the sequential reader's: on every broken file of these
/// tests, on files with comments, CDATA, processing instructions, prefixes and `>` in
/// attribute values where the cutting must not be fooled, and on a file cut at every 61st
/// byte (plain and gzip).
#[test]
fn reading_on_several_threads_is_reading_in_order() {
    let good = rec("<PersonId><PersonNr>198602212394</PersonNr></PersonId><Namn><Fornamn>Ingvar</Fornamn></Namn>");
    let mut files: Vec<String> = error_cases().into_iter().map(|(f, _)| f).collect();
    files.extend(quote_cases().into_iter().map(|(r, _)| file_with(&[r], 1)));
    let tricky = [
        good.replace(
            "<Namn>",
            "<!-- </Folkbokforingspost><Folkbokforingspost> --><Namn>",
        ),
        good.replace("<Namn>", "<?pi </Folkbokforingspost> ?><Namn>"),
        good.replace(
            "<Fornamn>Ingvar",
            "<Fornamn><![CDATA[</Folkbokforingspost>]]>Ingvar",
        ),
        good.replace(
            "totalpost=\"J\"/>",
            "totalpost=\"J\" utsokningsdatum=\">/Folk>\"/>",
        ),
        good.replace(
            "<Folkbokforingspost>",
            "<p:Folkbokforingspost xmlns:p=\"urn:x\">",
        )
        .replace("</Folkbokforingspost>", "</p:Folkbokforingspost >"),
        good.replace("<Personpost>", "<Folkbokforingspost><Personpost>"),
        "<Folkbokforingspost/>".to_owned(),
        format!("<!-- a comment --> text &amp; {good}<?pi?>"),
    ];
    for t in &tricky {
        files.push(file_with(
            &[t.clone(), good.replace("198602212394", "198001011231")],
            2,
        ));
    }
    files.push(
        file_with(std::slice::from_ref(&good), 1)
            .replace("</Navetavisering>", "</Navetavisering><x/>"),
    );
    files.push(file_with(std::slice::from_ref(&good), 1).replace(
        "</Folkbokforingsposter>",
        "<Ovrigt/></Folkbokforingsposter>",
    ));
    let many: Vec<_> = (0..40).map(|_| total(rich())).collect();
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let path = dir.path().join(if gz { "m.xml.gz" } else { "m.xml" });
        let info = Aviseringsinformation::for_load(&header(many.len() as u64));
        crate::loadfile::writer::write_file(&path, &info, &many, true).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let [s, p] = both_ways(&bytes);
        assert_eq!(s.as_ref().map(Vec::len), Ok(40));
        assert_eq!(s, p, "the whole file");
        for cut in (1..bytes.len()).step_by(61) {
            let [s, p] = both_ways(&bytes[..cut]);
            assert!(s.is_err(), "cut at {cut}");
            assert_eq!(s, p, "cut at {cut} of {}", bytes.len());
        }
    }
    for f in &files {
        let [s, p] = both_ways(f.as_bytes());
        assert_eq!(s, p, "{f}");
    }
}
