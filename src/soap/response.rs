//! Writing SOAP answers and faults with quick-xml's writer (escaping guaranteed), with the
//! exact prefixes Navet's clients depend on: `S` for the envelope, `ns0` for V1.

use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::service::{Endpoint, Service, Version};
use super::{Fault, AVI_NS, SOAP11_NS, V1_NS};
use crate::access::View;
use crate::xml::write::{write_post, PostStyle};

/// Which answer element wraps the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `ns0:PersonpostXMLResponse`.
    Personpost,
    /// `ns0:NamnsokningXMLResponse`.
    Namnsokning,
}

impl Answer {
    fn root(self) -> &'static str {
        match self {
            Answer::Personpost => "ns0:PersonpostXMLResponse",
            Answer::Namnsokning => "ns0:NamnsokningXMLResponse",
        }
    }

    /// The service that answers it.
    fn service(self) -> Service {
        match self {
            Answer::Personpost => Service::Personpost,
            Answer::Namnsokning => Service::Namnsokning,
        }
    }
}

/// `<name>value</name>`, escaped.
pub(crate) fn text<W: Write>(w: &mut Writer<W>, name: &str, value: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(value)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn open_envelope<W: Write>(w: &mut Writer<W>) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Start(
        BytesStart::new("S:Envelope").with_attributes([("xmlns:S", SOAP11_NS)]),
    ))?;
    w.write_event(Event::Start(BytesStart::new("S:Body")))
}

fn close_envelope<W: Write>(w: &mut Writer<W>) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new("S:Body")))?;
    w.write_event(Event::End(BytesEnd::new("S:Envelope")))
}

/// [`answer_at`] the newest version, V4: for renderings whose path is not known (tests,
/// benchmarks); the operations answer at the version their path names.
pub fn answer(kind: Answer, posts: &[View]) -> Vec<u8> {
    answer_at(kind, Version::V4, posts)
}

/// Renders an answer holding these records, each with the terms the access rules allow, as
/// the service answers at `version` (its WSDL namespace is declared as `ns1`, as Navet does).
pub fn answer_at(kind: Answer, version: Version, posts: &[View]) -> Vec<u8> {
    let ns1 = Endpoint {
        service: kind.service(),
        version,
    }
    .target_namespace();
    let mut w = Writer::new(Vec::with_capacity(1024 + 2048 * posts.len()));
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(
            BytesStart::new(kind.root())
                .with_attributes([("xmlns:ns0", V1_NS), ("xmlns:ns1", ns1.as_str())]),
        ))?;
        if posts.is_empty() {
            w.write_event(Event::Empty(BytesStart::new("ns0:Folkbokforingsposter")))?;
        } else {
            w.write_event(Event::Start(BytesStart::new("ns0:Folkbokforingsposter")))?;
            for p in posts {
                write_post(&mut w, &p.post, PostStyle::answer(p.terms))?;
            }
            w.write_event(Event::End(BytesEnd::new("ns0:Folkbokforingsposter")))?;
        }
        w.write_event(Event::End(BytesEnd::new(kind.root())))?;
        close_envelope(&mut w)
    })();
    // Writing to a Vec cannot fail.
    debug_assert!(result.is_ok());
    w.into_inner()
}

/// Renders a SOAP 1.1 fault with `detail/ns0:WebServiceFault/{Felkod, Beskrivning}`, the
/// WSDL's declared fault element (`WebServiceFaultTYPE`, WIRE.md "Faults").
pub fn fault(f: &Fault) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(1024));
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(BytesStart::new("S:Fault")))?;
        text(&mut w, "faultcode", f.faultcode())?;
        text(&mut w, "faultstring", f.faultstring())?;
        w.write_event(Event::Start(BytesStart::new("detail")))?;
        w.write_event(Event::Start(
            BytesStart::new("ns0:WebServiceFault").with_attributes([("xmlns:ns0", V1_NS)]),
        ))?;
        text(&mut w, "ns0:Felkod", &f.code().to_string())?;
        text(&mut w, "ns0:Beskrivning", &f.beskrivning())?;
        w.write_event(Event::End(BytesEnd::new("ns0:WebServiceFault")))?;
        w.write_event(Event::End(BytesEnd::new("detail")))?;
        w.write_event(Event::End(BytesEnd::new("S:Fault")))?;
        close_envelope(&mut w)
    })();
    debug_assert!(result.is_ok());
    w.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_uses_the_prefixes_clients_expect() {
        let xml = String::from_utf8(answer(
            Answer::Personpost,
            &[View::whole(crate::model::tests::sample())],
        ))
        .unwrap();
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><S:Envelope xmlns:S="),
            "{xml}"
        );
        assert!(xml.contains(
            "<ns0:PersonpostXMLResponse xmlns:ns0=\"http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1\" xmlns:ns1=\"http://www.skatteverket.se/folkbokforing/na/personpostXML/v4\">"
        ), "{xml}");
        assert!(xml.contains("<ns0:Folkbokforingsposter><Folkbokforingspost>"));
        assert!(xml.contains(
            "</ns0:Folkbokforingsposter></ns0:PersonpostXMLResponse></S:Body></S:Envelope>"
        ));
        assert!(xml.contains("<PersonNr>198602212394</PersonNr>"));
    }

    #[test]
    fn empty_answer_has_empty_list() {
        let xml = String::from_utf8(answer_at(Answer::Namnsokning, Version::V2, &[])).unwrap();
        assert!(xml.contains("<ns0:Folkbokforingsposter/>"), "{xml}");
    }

    #[test]
    fn ns1_is_the_wsdl_namespace_of_the_service_and_version_asked() {
        for (kind, version, ns1) in [
            (Answer::Personpost, Version::V2, "personpostXML/v2"),
            (Answer::Personpost, Version::V3, "personpostXML/v3"),
            (Answer::Personpost, Version::V4, "personpostXML/v4"),
            (Answer::Namnsokning, Version::V2, "namnsokningXML/v2"),
            (Answer::Namnsokning, Version::V3, "namnsokningXML/v3"),
            (Answer::Namnsokning, Version::V4, "namnsokningXML/v4"),
        ] {
            let xml = String::from_utf8(answer_at(kind, version, &[])).unwrap();
            let want = format!(" xmlns:ns1=\"http://www.skatteverket.se/folkbokforing/na/{ns1}\">");
            assert!(xml.contains(&want), "{kind:?} {version:?}: {xml}");
        }
    }

    #[test]
    fn fault_carries_code_and_escaped_text() {
        let xml = String::from_utf8(fault(&Fault::BadRequest("a<b & c".into()))).unwrap();
        assert!(xml.contains("<faultcode>S:Client</faultcode>"));
        assert!(
            xml.contains(&format!(
                "<detail><ns0:WebServiceFault xmlns:ns0=\"{V1_NS}\"><ns0:Felkod>1101</ns0:Felkod><ns0:Beskrivning>"
            )),
            "{xml}"
        );
        assert!(xml.contains("</ns0:Beskrivning></ns0:WebServiceFault></detail></S:Fault>"));
        assert!(xml.contains("a&lt;b &amp; c"), "{xml}");
    }

    #[test]
    fn a_header_block_not_understood_is_a_soap_must_understand_fault() {
        let xml = String::from_utf8(fault(&Fault::MustUnderstand("Security".into()))).unwrap();
        assert!(
            xml.contains("<faultcode>S:MustUnderstand</faultcode>"),
            "{xml}"
        );
        assert!(xml.contains("<ns0:Felkod>1104</ns0:Felkod>"), "{xml}");
        assert!(xml.contains("Header block Security is marked mustUnderstand"));
    }
}

/// What a `hamtaAvisering` answer says about its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AviseringPage {
    /// The delivery's löpnummer.
    pub lopnummer: u64,
    /// `totalpost` or `andringspost`.
    pub posttyp: &'static str,
    /// `A` or `B`.
    pub fil: &'static str,
    /// When it was produced (RFC 3339).
    pub skapad: String,
    /// Records in file A and in file B.
    pub antal: [u64; 2],
    /// Pages of this file.
    pub antal_sidor: u64,
    /// This page.
    pub sida: u64,
    /// What the delivery is, as its file's `Bestallningstyp` says: `GRUNDUTTAG`,
    /// `ANDRINGSAVISERING` or `URVAL`.
    pub bestallningstyp: &'static str,
    /// What an urval delivery says beyond a delivery (None for avisering).
    pub urval: Option<UrvalInfo>,
}

/// What an urval delivery's header says about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrvalInfo {
    /// `urval`, `slumpmassigt_urval`, `infil` or `svar_direkt`.
    pub typ: &'static str,
    /// The seed of a slumpmässigt urval.
    pub slumpfro: Option<u64>,
    /// Per undergroup: (wanted, drawn).
    pub undergrupper: Vec<(u32, u32)>,
    /// Infil numbers not delivered (an infil's only).
    pub ej_funna: Option<u64>,
}

/// Renders a `hamtaAvisering` answer: `KLAR` with the page's records (already rendered
/// `Avisering` elements), or `EJ_KLAR` (not produced yet) without a delivery.
pub fn avisering(page: Option<&AviseringPage>, records: &[&[u8]]) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(
        1024 + records.iter().map(|r| r.len()).sum::<usize>(),
    ));
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(
            BytesStart::new("av:HamtaAviseringResponse").with_attributes([("xmlns:av", AVI_NS)]),
        ))?;
        match page {
            None => text(&mut w, "Status", "EJ_KLAR")?,
            Some(p) => {
                text(&mut w, "Status", "KLAR")?;
                w.write_event(Event::Start(BytesStart::new("Leverans")))?;
                text(&mut w, "Lopnummer", &p.lopnummer.to_string())?;
                text(&mut w, "Posttyp", p.posttyp)?;
                text(&mut w, "Skapad", &p.skapad)?;
                text(&mut w, "AntalPosterA", &p.antal[0].to_string())?;
                text(&mut w, "AntalPosterB", &p.antal[1].to_string())?;
                text(&mut w, "Fil", p.fil)?;
                text(&mut w, "AntalSidor", &p.antal_sidor.to_string())?;
                text(&mut w, "Sida", &p.sida.to_string())?;
                text(&mut w, "Bestallningstyp", p.bestallningstyp)?;
                if let Some(u) = &p.urval {
                    w.write_event(Event::Start(BytesStart::new("Urval")))?;
                    text(&mut w, "Typ", u.typ)?;
                    if let Some(seed) = u.slumpfro {
                        text(&mut w, "Slumpfro", &seed.to_string())?;
                    }
                    if let Some(n) = u.ej_funna {
                        text(&mut w, "AntalEjFunna", &n.to_string())?;
                    }
                    for (i, (wanted, drawn)) in u.undergrupper.iter().enumerate() {
                        w.write_event(Event::Start(BytesStart::new("Undergrupp")))?;
                        text(&mut w, "Nummer", &(i + 1).to_string())?;
                        text(&mut w, "Onskat", &wanted.to_string())?;
                        text(&mut w, "Antal", &drawn.to_string())?;
                        w.write_event(Event::End(BytesEnd::new("Undergrupp")))?;
                    }
                    w.write_event(Event::End(BytesEnd::new("Urval")))?;
                }
                w.write_event(Event::End(BytesEnd::new("Leverans")))?;
                w.write_event(Event::Start(BytesStart::new("Aviseringar")))?;
                for r in records {
                    // Rendered by avisering::feed::render with the same writer: well-formed.
                    w.get_mut().extend_from_slice(r);
                }
                w.write_event(Event::End(BytesEnd::new("Aviseringar")))?;
            }
        }
        w.write_event(Event::End(BytesEnd::new("av:HamtaAviseringResponse")))?;
        close_envelope(&mut w)
    })();
    debug_assert!(result.is_ok());
    w.into_inner()
}

/// Renders a `lamnaInfil` answer: `MOTTAGEN` with the pages received so far, or `KLAR` with
/// the number of persons in the order's new infil, and for svar direkt the löpnummer of the
/// delivery that answers it.
pub fn lamna_infil(pages: u64, of: u64, replaced: Option<u64>, lopnummer: Option<u64>) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(512));
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(
            BytesStart::new("av:LamnaInfilResponse").with_attributes([("xmlns:av", AVI_NS)]),
        ))?;
        text(
            &mut w,
            "Status",
            if replaced.is_some() {
                "KLAR"
            } else {
                "MOTTAGEN"
            },
        )?;
        text(&mut w, "MottagnaSidor", &pages.to_string())?;
        text(&mut w, "AntalSidor", &of.to_string())?;
        if let Some(n) = replaced {
            text(&mut w, "AntalPersoner", &n.to_string())?;
        }
        if let Some(l) = lopnummer {
            text(&mut w, "Lopnummer", &l.to_string())?;
        }
        w.write_event(Event::End(BytesEnd::new("av:LamnaInfilResponse")))?;
        close_envelope(&mut w)
    })();
    debug_assert!(result.is_ok());
    w.into_inner()
}
