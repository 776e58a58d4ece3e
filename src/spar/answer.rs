//! The whole answer of PersonSök: a SOAP 1.1 envelope whose body is `SPARPersonsokningSvar`
//! (`granssnitt/personsok/2021.1/PersonsokningSvar.xsd`).
//!
//! Owns the answer's frame: the envelope, the root with every namespace declared once, the
//! branch the operation chose ([`Utfall`]) and the `UUID`. The posts themselves are
//! [`super::record`]'s; what they hold was decided by `access`. The question is not echoed
//! (optional in the schema). Must never decide what a caller may see, or how many posts an
//! answer may hold ([`super::MAX_SVARSPOSTER`] is the operation's rule: it chooses
//! [`Utfall::Overstiger`]).

use std::io::{self, Write};

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::Writer;

use super::{ns, record};
use crate::access::View;
use crate::soap::response::text;
use crate::soap::SOAP11_NS;

/// What the answer says after the (left out) question: one branch of the schema's choice.
#[derive(Debug, Clone, Copy)]
pub enum Utfall<'a> {
    /// The posts found, each as `PersonsokningSvarspost` (none for no hit).
    Poster(&'a [View]),
    /// `Undantag`: SPAR's error code and its description.
    Undantag {
        /// `Kod`.
        kod: u32,
        /// `Beskrivning`.
        beskrivning: &'a str,
    },
    /// `OverstigerMaxAntalSvarsposter`: more hits than one answer may hold.
    Overstiger {
        /// `AntalPoster`: how many matched.
        antal: u64,
        /// `MaxAntalSvarsposter`: the cap.
        max: u64,
    },
}

/// The answer's root element.
const ROOT: &str = "svar:SPARPersonsokningSvar";
/// The element each post is written as.
const SVARSPOST: &str = "svar:PersonsokningSvarspost";

/// Renders the whole response: XML declaration, `soapenv:Envelope`/`soapenv:Body`, and
/// `svar:SPARPersonsokningSvar` holding the chosen branch and `svar:UUID`.
///
/// A post whose view lacks [`record::REQUIRED`] cannot be written validly within its terms
/// and is left out (logged as a count only); [`crate::access::Access::view`] never makes one.
pub fn render(utfall: Utfall<'_>, uuid: &str) -> Vec<u8> {
    let posts = match utfall {
        Utfall::Poster(views) => views.len(),
        _ => 0,
    };
    let mut w = Writer::new(Vec::with_capacity(4096 + 3072 * posts));
    let result = write(&mut w, utfall, uuid);
    // Writing to a Vec cannot fail, and write_post refuses a view before writing anything.
    debug_assert!(result.is_ok());
    w.into_inner()
}

fn write<W: Write>(w: &mut Writer<W>, utfall: Utfall<'_>, uuid: &str) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Start(
        BytesStart::new("soapenv:Envelope").with_attributes([("xmlns:soapenv", SOAP11_NS)]),
    ))?;
    w.write_event(Event::Start(BytesStart::new("soapenv:Body")))?;
    // Declared once here, so the body is a document of its own as well.
    let root = BytesStart::new(ROOT)
        .with_attributes([("xmlns:svar", ns::SVAR), ("xmlns:u", ns::UNDANTAG)])
        .with_attributes(record::XMLNS);
    w.write_event(Event::Start(root))?;
    match utfall {
        Utfall::Poster(views) => {
            let mut left_out = 0usize;
            for view in views {
                if view.terms.covers(record::REQUIRED) {
                    record::write_post(w, SVARSPOST, view)?;
                } else {
                    left_out += 1;
                }
            }
            if left_out > 0 {
                tracing::warn!(
                    left_out,
                    "SPAR answer: posts without the terms every post needs were left out"
                );
            }
        }
        Utfall::Undantag { kod, beskrivning } => {
            w.write_event(Event::Start(BytesStart::new("u:Undantag")))?;
            text(w, "u:Kod", &kod.to_string())?;
            text(w, "u:Beskrivning", beskrivning)?;
            w.write_event(Event::End(BytesEnd::new("u:Undantag")))?;
        }
        Utfall::Overstiger { antal, max } => {
            w.write_event(Event::Start(BytesStart::new(
                "u:OverstigerMaxAntalSvarsposter",
            )))?;
            text(w, "u:AntalPoster", &xs_int(antal).to_string())?;
            text(w, "u:MaxAntalSvarsposter", &xs_int(max).to_string())?;
            w.write_event(Event::End(BytesEnd::new("u:OverstigerMaxAntalSvarsposter")))?;
        }
    }
    text(w, "svar:UUID", uuid)?;
    w.write_event(Event::End(BytesEnd::new(ROOT)))?;
    w.write_event(Event::End(BytesEnd::new("soapenv:Body")))?;
    w.write_event(Event::End(BytesEnd::new("soapenv:Envelope")))
}

/// A count as the schema's `xs:int`: one past its range says "at least this many".
fn xs_int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    use chrono::NaiveDate;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::NsReader;

    use super::*;
    use crate::access::{Access, Category, Found, Protection};
    use crate::model::{
        Fastighetsinnehav, Folkbokforingspost, Identitetstyp, Inkomst, Relationsperson, Taxering,
    };
    use crate::spar::MAX_SVARSPOSTER;

    /// SPAR's answer schema, as it lies in the shared reference folder.
    fn schema() -> PathBuf {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../shared/reference/spar/2021.1/granssnitt/personsok/2021.1/PersonsokningSvar.xsd",
        );
        assert!(
            schema.is_file(),
            "SPAR's schema is missing: {}",
            schema.display()
        );
        schema
    }

    /// Files per xmllint call: the schema is read once per call.
    const FILES_PER_CALL: usize = 100;

    /// Validates each rendered answer's body against SPAR's `PersonsokningSvar.xsd` with
    /// xmllint, many files per call; panics with xmllint's messages when one fails.
    pub(crate) fn validate(answers: &[Vec<u8>]) {
        let schema = schema();
        let dir = tempfile::tempdir().expect("temp dir");
        let files: Vec<PathBuf> = answers
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let f = dir.path().join(format!("svar-{i:05}.xml"));
                std::fs::write(&f, body(a)).expect("write");
                f
            })
            .collect();
        for batch in files.chunks(FILES_PER_CALL) {
            let out = Command::new("xmllint")
                .args(["--noout", "--nonet", "--schema"])
                .arg(&schema)
                .args(batch)
                .output()
                .unwrap_or_else(|e| {
                    panic!("xmllint could not run ({e}); install libxml2-utils to run these tests")
                });
            let stderr = String::from_utf8_lossy(&out.stderr);
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.ends_with(" validates"))
                .take(40)
                .collect();
            assert!(
                out.status.success() && errors.is_empty(),
                "SPAR's schema refuses an answer:\n{}",
                errors.join("\n")
            );
        }
    }

    /// The body's child (`SPARPersonsokningSvar`) as a document of its own: every namespace
    /// it uses is declared on it.
    pub(crate) fn body(envelope: &[u8]) -> Vec<u8> {
        let find = |needle: &[u8]| {
            envelope
                .windows(needle.len())
                .position(|w| w == needle)
                .expect("envelope has a body")
        };
        let open = b"<soapenv:Body>";
        let from = find(open) + open.len();
        let to = find(b"</soapenv:Body>");
        let mut doc = br#"<?xml version="1.0" encoding="UTF-8"?>"#.to_vec();
        doc.extend_from_slice(&envelope[from..to]);
        doc
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
    }

    /// Whether a record is one of the rarer kinds (anything but an ordinary living resident).
    fn rare(p: &Folkbokforingspost) -> bool {
        let pp = &p.personpost;
        p.is_protected()
            || pp.avregistrering.is_some()
            || pp.antraffad_dod.is_some()
            || pp.identitetstyp != Identitetstyp::Personnummer
            || !pp.hanvisning.is_empty()
            || pp.namn.aviseringsnamn.is_some()
            || pp.adresser.utlandsadress.is_some()
            || !pp.medborgarskap.iter().any(|m| m.landkod == "SE")
            || pp
                .relationer
                .iter()
                .any(|r| matches!(r.person, Relationsperson::Uppgifter { .. }))
    }

    /// The generated population's rarer kinds, every tenth ordinary resident, taxering added
    /// by hand to every seventh record that has none (edge values included), and the two
    /// richest records.
    fn records() -> &'static [Folkbokforingspost] {
        static RECORDS: OnceLock<Vec<Folkbokforingspost>> = OnceLock::new();
        RECORDS.get_or_init(|| {
            let mut ordinary = 0usize;
            let mut out: Vec<Folkbokforingspost> =
                crate::dev::generate::population(20_000, 11, today())
                    .into_iter()
                    .filter(|p| {
                        rare(p) || {
                            ordinary += 1;
                            ordinary.is_multiple_of(10)
                        }
                    })
                    .collect();
            for (i, p) in out.iter_mut().enumerate() {
                if !i.is_multiple_of(7) || p.personpost.taxering.is_some() {
                    continue;
                }
                let summa = match i % 5 {
                    0 => 0,
                    1 => 99_999_999_999,
                    2 => -5_000,
                    _ => i as i64 * 1_000,
                };
                p.personpost.taxering = Some(Taxering {
                    inkomst: Some(Inkomst {
                        ar: if i.is_multiple_of(11) { 1999 } else { 2025 },
                        summa,
                    }),
                    fastigheter: vec![Fastighetsinnehav {
                        beteckning: "LUND KLOSTRET 4:12".into(),
                        kommun: "1281".into(),
                    }],
                });
            }
            let rich = record::tests::rich();
            let mut samordning = rich.clone();
            samordning.personpost.person_id =
                crate::ids::pnr::Pnr::parse("198602812391").expect("samordningsnummer");
            samordning.personpost.identitetstyp = Identitetstyp::Samordningsnummer;
            out.extend([rich, samordning]);
            out
        })
    }

    /// The accesses every record is seen through.
    fn accesses() -> Vec<(&'static str, Access)> {
        use Category::*;
        vec![
            ("full", Access::full()),
            ("grund", Access::new([Grund], [])),
            ("grund+relationer", Access::new([Grund, Relationer], [])),
            ("grund+taxering", Access::new([Grund, Taxering], [])),
            (
                "grund+medborgarskap",
                Access::new([Grund, Medborgarskap], []),
            ),
            ("grund+sekretess", Access::new([Grund, Sekretess], [])),
            ("none", Access::new([], [])),
        ]
    }

    /// Every record as `access` sees it, in answers of at most [`MAX_SVARSPOSTER`] posts.
    fn answers(access: &Access) -> Vec<Vec<u8>> {
        let views: Vec<View> = records()
            .iter()
            .filter_map(|p| access.view(p.clone()))
            .collect();
        views
            .chunks(MAX_SVARSPOSTER)
            .map(|chunk| {
                render(
                    Utfall::Poster(chunk),
                    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                )
            })
            .collect()
    }

    /// The local names of the elements of each post, in order.
    fn posts(answer: &[u8]) -> Vec<Vec<String>> {
        let mut reader = NsReader::from_reader(answer);
        let mut posts: Vec<Vec<String>> = Vec::new();
        let mut depth_in_post = 0usize;
        let mut buf = Vec::new();
        loop {
            match reader
                .read_resolved_event_into(&mut buf)
                .expect("well-formed")
            {
                (ns, Event::Start(e)) => {
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if depth_in_post > 0 {
                        depth_in_post += 1;
                        posts.last_mut().expect("a post").push(local);
                    } else if local == "PersonsokningSvarspost" {
                        assert_eq!(
                            ns,
                            ResolveResult::Bound(quick_xml::name::Namespace(ns::SVAR.as_bytes()))
                        );
                        depth_in_post = 1;
                        posts.push(Vec::new());
                    }
                }
                (_, Event::End(_)) if depth_in_post > 0 => depth_in_post -= 1,
                (_, Event::Eof) => break,
                _ => {}
            }
            buf.clear();
        }
        posts
    }

    fn text_of(answers: &[Vec<u8>]) -> String {
        answers
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn the_records_cover_every_kind() {
        let r = records();
        let count = |f: &dyn Fn(&Folkbokforingspost) -> bool| r.iter().filter(|p| f(p)).count();
        use crate::model::AvregistreringsorsakKod::*;
        let avreg = |k| {
            move |p: &Folkbokforingspost| {
                p.personpost
                    .avregistrering
                    .as_ref()
                    .is_some_and(|a| a.orsak == k)
            }
        };
        for (kind, n) in [
            ("sekretessmarkering", count(&|p| p.sekretessmarkering)),
            ("skyddad folkbokföring", count(&|p| p.skyddad_folkbokforing)),
            ("avliden", count(&avreg(AV))),
            ("utvandrad", count(&avreg(UV))),
            ("gammalt nummer", count(&avreg(GN))),
            (
                "samordningsnummer",
                count(&|p| p.personpost.samordning.is_some()),
            ),
            (
                "hänvisning",
                count(&|p| !p.personpost.hanvisning.is_empty()),
            ),
            (
                "aviseringsnamn",
                count(&|p| p.personpost.namn.aviseringsnamn.is_some()),
            ),
            (
                "foreign",
                count(&|p| !p.personpost.medborgarskap.iter().any(|m| m.landkod == "SE")),
            ),
            (
                "relationer",
                count(&|p| !p.personpost.relationer.is_empty()),
            ),
            ("taxering", count(&|p| p.personpost.taxering.is_some())),
        ] {
            assert!(n > 0, "no record of kind {kind}");
        }
    }

    /// Every record, through every access, in answers of up to 100 posts: each answer's body
    /// validates against SPAR's schema and holds every post it was given.
    #[test]
    fn every_record_kind_validates_through_every_access() {
        let mut all = Vec::new();
        for (name, access) in accesses() {
            let answers = answers(&access);
            let seen = records()
                .iter()
                .filter(|p| access.view((*p).clone()).is_some())
                .count();
            let posts: usize = answers.iter().map(|a| posts(a).len()).sum();
            assert_eq!(seen, records().len(), "{name}: a lookup sees every record");
            assert_eq!(posts, seen, "{name}: every post is written");
            all.extend(answers);
        }
        // 4,443 records (seed 11) × 7 accesses: about 31,000 posts in some 315 answers.
        assert!(all.len() > 7 * 40, "several answers per access");
        validate(&all);
    }

    /// The check above is real: an answer SPAR's schema refuses fails it.
    #[test]
    fn the_validation_refuses_what_spars_schema_refuses() {
        let views = [View::whole(record::tests::rich())];
        let good = render(Utfall::Poster(&views), "u");
        let text = String::from_utf8(good.clone()).expect("utf-8");
        for (from, to) in [
            (
                "<skydd:SkyddadFolkbokforing>NEJ<",
                "<skydd:SkyddadFolkbokforing>N<",
            ),
            ("<pdt:Kon>MAN<", "<pdt:Kon>M<"),
            (
                "<person:Typ>PERSONNUMMER</person:Typ></person:PersonId>",
                "</person:PersonId>",
            ),
        ] {
            assert!(text.contains(from), "{from}");
            let bad = text.replacen(from, to, 1).into_bytes();
            let refused = std::panic::catch_unwind(|| validate(&[good.clone(), bad]));
            assert!(refused.is_err(), "{to} passed the schema");
        }
    }

    #[test]
    fn a_view_that_cannot_be_a_valid_post_is_left_out_of_the_answer() {
        let whole = View::whole(record::tests::rich());
        let without_markings = View {
            terms: whole.terms.without(record::REQUIRED),
            ..whole.clone()
        };
        let answer = render(Utfall::Poster(&[without_markings, whole]), "u");
        assert_eq!(posts(&answer).len(), 1);
        validate(&[answer]);
    }

    #[test]
    fn undantag_and_overstiger_validate() {
        let undantag = render(
            Utfall::Undantag {
                kod: 1101,
                beskrivning: "Felaktig fråga: <IdNummer> & mer",
            },
            "u-1",
        );
        let over = render(
            Utfall::Overstiger {
                antal: 224,
                max: MAX_SVARSPOSTER as u64,
            },
            "u-2",
        );
        let huge = render(
            Utfall::Overstiger {
                antal: u64::MAX,
                max: 100,
            },
            "u-3",
        );
        let none = render(Utfall::Poster(&[]), "u-4");
        validate(&[undantag.clone(), over.clone(), huge.clone(), none.clone()]);
        let text = |a: &[u8]| String::from_utf8(a.to_vec()).expect("utf-8");
        assert!(text(&undantag).contains(
            "<u:Undantag><u:Kod>1101</u:Kod><u:Beskrivning>Felaktig fråga: &lt;IdNummer&gt; &amp; mer</u:Beskrivning></u:Undantag><svar:UUID>u-1</svar:UUID></svar:SPARPersonsokningSvar>"
        ));
        assert!(text(&over).contains(
            "<u:OverstigerMaxAntalSvarsposter><u:AntalPoster>224</u:AntalPoster><u:MaxAntalSvarsposter>100</u:MaxAntalSvarsposter></u:OverstigerMaxAntalSvarsposter><svar:UUID>u-2</svar:UUID>"
        ));
        assert!(text(&huge).contains("<u:AntalPoster>2147483647</u:AntalPoster>"));
        assert!(text(&none).contains("><svar:UUID>u-4</svar:UUID></svar:SPARPersonsokningSvar>"));
        assert!(!text(&none).contains("PersonsokningSvarspost"));
    }

    #[test]
    fn the_envelope_is_soap_11_with_the_answer_as_the_bodys_only_child() {
        let views: Vec<View> = records()
            .iter()
            .take(3)
            .map(|p| View::whole(p.clone()))
            .collect();
        let answer = render(Utfall::Poster(&views), "u");
        assert!(answer.starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><svar:SPARPersonsokningSvar "));
        assert!(answer.ends_with(
            b"</svar:UUID></svar:SPARPersonsokningSvar></soapenv:Body></soapenv:Envelope>"
        ));
        let mut reader = NsReader::from_reader(answer.as_slice());
        let mut path = Vec::new();
        let mut buf = Vec::new();
        let mut body_children = Vec::new();
        loop {
            match reader
                .read_resolved_event_into(&mut buf)
                .expect("well-formed")
            {
                (ns, Event::Start(e)) => {
                    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    let ns = match ns {
                        ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                        _ => panic!("{local} has no namespace"),
                    };
                    if path.len() == 2 {
                        body_children.push((ns.clone(), local.clone()));
                    }
                    path.push((ns, local));
                }
                (_, Event::End(_)) => {
                    path.pop();
                }
                (_, Event::Eof) => break,
                _ => {}
            }
            buf.clear();
        }
        assert_eq!(
            body_children,
            [(ns::SVAR.to_owned(), "SPARPersonsokningSvar".to_owned())]
        );
        assert_eq!(posts(&answer).len(), 3);
    }

    /// DOMAIN.md §4: without `sekretess`, a protected person — on its own or through a
    /// hänvisning link — is the number, the markings with their dates, avregistrering and
    /// hänvisning; no name, no address, no relation, no change time.
    #[test]
    fn a_protected_person_without_sekretess_is_only_the_minimum() {
        const MINIMUM: [&str; 12] = [
            "PersonId",
            "IdNummer",
            "Typ",
            "Sekretessmarkering",
            "SekretessDatum",
            "SkyddadFolkbokforing",
            "SkyddadFolkbokforingDatum",
            "Persondetaljer",
            "AvregistreringsorsakKod",
            "Avregistreringsdatum",
            "Avlidendatum",
            "Hanvisning",
        ];
        let protected: Vec<&Folkbokforingspost> =
            records().iter().filter(|p| p.is_protected()).collect();
        // And ordinary records linked to a protected one, answered as protected.
        let linked: Vec<Found> = records()
            .iter()
            .filter(|p| !p.is_protected() && !p.personpost.hanvisning.is_empty())
            .map(|p| Found {
                post: p.clone(),
                protection: Protection {
                    own: false,
                    linked: true,
                    linked_sekretessmarkering: false,
                    linked_skyddad_folkbokforing: true,
                },
            })
            .collect();
        assert!(!protected.is_empty() && !linked.is_empty());
        for (name, access) in [
            ("grund", Access::new([Category::Grund], [])),
            (
                "all but sekretess",
                Access::new(
                    [
                        Category::Grund,
                        Category::Relationer,
                        Category::Medborgarskap,
                        Category::Taxering,
                    ],
                    crate::access::Switch::ALL,
                ),
            ),
        ] {
            let views: Vec<View> = protected
                .iter()
                .map(|p| (*p).clone().into())
                .chain(linked.iter().cloned())
                .filter_map(|f: Found| access.view(f))
                .collect();
            let answers: Vec<Vec<u8>> = views
                .chunks(MAX_SVARSPOSTER)
                .map(|c| render(Utfall::Poster(c), "u"))
                .collect();
            for answer in &answers {
                for post in posts(answer) {
                    for el in &post {
                        assert!(
                            MINIMUM.contains(&el.as_str()),
                            "{name}: {el} of a protected person"
                        );
                    }
                    assert!(post.iter().any(|e| e == "Sekretessmarkering"));
                }
            }
            let text = text_of(&answers);
            assert!(text.contains("<skydd:SkyddadFolkbokforing>JA<"), "{name}");
            assert!(text.contains("<skydd:Sekretessmarkering>JA<"), "{name}");
            assert!(text.contains("<hanv:Hanvisning>"), "{name}");
            validate(&answers);
        }
        // With sekretess, the protected person's other terms.
        let sekretess = Access::new([Category::Grund, Category::Sekretess], []);
        let views: Vec<View> = protected
            .iter()
            .filter_map(|p| sekretess.view((*p).clone()))
            .collect();
        let answers: Vec<Vec<u8>> = views
            .chunks(MAX_SVARSPOSTER)
            .map(|c| render(Utfall::Poster(c), "u"))
            .collect();
        let text = text_of(&answers);
        for shown in [
            "<namn:Namn>",
            "<fb:Folkbokforing>",
            "<fb:Hemvist>På kommunen skriven<",
        ] {
            assert!(text.contains(shown), "{shown} with sekretess");
        }
    }

    /// What each access must never show, and what it shows somewhere among the records.
    #[test]
    fn terms_not_granted_never_appear() {
        const RELATION: &str = "<rel:Relation>";
        const INKOMST: &str = "<ink:SummeradInkomst>";
        const HEMORT: &str = "<pdt:FodelselanKod>";
        const MEDBORGARE: &str = "<pdt:SvenskMedborgare>";
        const NAMN: &str = "<namn:Namn>";
        const ADRESS: &str = "<fba:Folkbokforingsadress>";
        const ANDRING: &str = "<person:SenasteAndringSPAR>";
        use Category::*;
        let table: [(Access, &[&str], &[&str]); 5] = [
            (
                Access::new([Grund], []),
                &[NAMN, ADRESS, ANDRING, "<pdt:Kon>"],
                &[RELATION, INKOMST, HEMORT, MEDBORGARE],
            ),
            (
                Access::new([Grund, Relationer], []),
                &[RELATION],
                &[INKOMST, HEMORT, MEDBORGARE],
            ),
            (
                Access::new([Grund, Taxering], []),
                &[INKOMST, HEMORT],
                &[RELATION, MEDBORGARE],
            ),
            (
                Access::new([Grund, Medborgarskap], []),
                &[MEDBORGARE],
                &[RELATION, INKOMST, HEMORT],
            ),
            (
                Access::new([], []),
                &["<person:PersonId>", "<skydd:SkyddadFolkbokforing>"],
                &[
                    NAMN,
                    ADRESS,
                    ANDRING,
                    RELATION,
                    INKOMST,
                    "<pdt:Persondetaljer>",
                    "<dt:DatumFrom>",
                ],
            ),
        ];
        for (access, shown, never) in table {
            let text = text_of(&answers(&access));
            for s in shown {
                assert!(text.contains(s), "{access:?}: {s} never shown");
            }
            for n in never {
                assert!(!text.contains(n), "{access:?}: {n} shown without its term");
            }
        }
    }
}
