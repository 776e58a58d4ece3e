//! Writing SOAP answers and faults with quick-xml's writer (escaping guaranteed), with the
//! exact prefixes Navet's clients depend on: `S` for the envelope, `ns0` for V1.

use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{Fault, PERSONPOST_V2_NS, SOAP11_NS, V1_NS};
use crate::access::View;
use crate::delivery::xml::{write_post, PostStyle};

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

/// Renders an answer holding these records, each with the terms the access rules allow.
pub fn answer(kind: Answer, posts: &[View]) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(1024 + 2048 * posts.len()));
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(BytesStart::new(kind.root()).with_attributes(
            [("xmlns:ns0", V1_NS), ("xmlns:ns1", PERSONPOST_V2_NS)],
        )))?;
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

/// Renders a SOAP 1.1 fault with `detail/ns0:Fel/{Felkod, Beskrivning}`.
pub fn fault(f: &Fault) -> Vec<u8> {
    let mut w = Writer::new(Vec::with_capacity(1024));
    let text = |w: &mut Writer<Vec<u8>>, name: &str, value: &str| -> std::io::Result<()> {
        w.write_event(Event::Start(BytesStart::new(name)))?;
        w.write_event(Event::Text(BytesText::new(value)))?;
        w.write_event(Event::End(BytesEnd::new(name)))
    };
    let result: std::io::Result<()> = (|| {
        open_envelope(&mut w)?;
        w.write_event(Event::Start(BytesStart::new("S:Fault")))?;
        text(&mut w, "faultcode", f.faultcode())?;
        text(&mut w, "faultstring", f.faultstring())?;
        w.write_event(Event::Start(BytesStart::new("detail")))?;
        w.write_event(Event::Start(
            BytesStart::new("ns0:Fel").with_attributes([("xmlns:ns0", V1_NS)]),
        ))?;
        text(&mut w, "ns0:Felkod", f.code())?;
        text(&mut w, "ns0:Beskrivning", &f.beskrivning())?;
        w.write_event(Event::End(BytesEnd::new("ns0:Fel")))?;
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
        assert!(xml.contains("<ns0:PersonpostXMLResponse xmlns:ns0=\""));
        assert!(xml.contains("<ns0:Folkbokforingsposter><Folkbokforingspost>"));
        assert!(xml.contains(
            "</ns0:Folkbokforingsposter></ns0:PersonpostXMLResponse></S:Body></S:Envelope>"
        ));
        assert!(xml.contains("<PersonNr>198602212394</PersonNr>"));
    }

    #[test]
    fn empty_answer_has_empty_list() {
        let xml = String::from_utf8(answer(Answer::Namnsokning, &[])).unwrap();
        assert!(xml.contains("<ns0:Folkbokforingsposter/>"), "{xml}");
    }

    #[test]
    fn fault_carries_code_and_escaped_text() {
        let xml = String::from_utf8(fault(&Fault::BadRequest("a<b & c".into()))).unwrap();
        assert!(xml.contains("<faultcode>S:Client</faultcode>"));
        assert!(xml.contains("<ns0:Felkod>FR1101</ns0:Felkod>"));
        assert!(xml.contains("a&lt;b &amp; c"), "{xml}");
    }
}
