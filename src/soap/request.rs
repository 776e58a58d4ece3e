//! Parsing SOAP 1.1 request envelopes, with limits, into the operation element each
//! operation (`crate::ops`) reads its own request from.
//!
//! The body (already bounded in size by the HTTP layer) is read with quick-xml's namespace
//! reader into a tiny element tree under hard limits on depth, element count, attributes and
//! text length; DOCTYPE and entity declarations are refused, only UTF-8 is accepted. What
//! leaves this module is the tree ([`Element`]: text only through [`Element::value`]) and the
//! typed [`Bestallning`] every operation carries.
//!
//! Liberal in what it accepts (WIRE.md): any prefixes, request children with or without the
//! V1 namespace, empty or `xsi:nil` search fields, SOAPAction ignored. Strict where SOAP 1.1
//! and XML are: one `Header` at most, exactly one `Body`, no processing instructions (the XML
//! declaration aside), a header block marked `mustUnderstand` refused with a MustUnderstand
//! fault (folkreg understands none), and an element an operation reads once
//! ([`Element::child`], [`Element::required`]) refused when it appears twice.

use quick_xml::events::Event;
use quick_xml::name::{NamespaceError, ResolveResult};
use quick_xml::NsReader;

use super::{Fault, AVI_NS, SOAP11_NS, SOAP12_NS, V1_NS};
use crate::ids::{BestallningsId, OrgNr};

/// Deepest element nesting accepted: a Navet request is 5 deep inside the envelope.
pub const MAX_DEPTH: usize = 12;
/// Most elements in one request: a namnsökning has about 20.
pub const MAX_ELEMENTS: usize = 100;
/// Most attributes (namespace declarations included) on one element: JAX-WS (the reference
/// implementation) declares every namespace it knows on a request's top element — 25 for
/// SPAR's PersonSök — so the bound is well above that and still small.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most identity numbers in one `lamnaInfil` page (up to 200 pages make the 2,000,000 of
/// bilaga 1).
pub const MAX_INFIL_PAGE: usize = 10_000;
/// Most pages of one infil.
pub const MAX_INFIL_PAGES: u64 = 200;
/// Longest text of one element, in bytes: SPAR's `SlutAnvandarId` may be 256 characters,
/// which in UTF-8 is at most 1,024 bytes; every other field is far shorter.
pub const MAX_TEXT: usize = 1024;

/// `Bestallning`: who orders, and under which order id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bestallning {
    /// Organisationsnummer (the request sends `16` + 10 digits, or the 10 digits).
    pub org_nr: OrgNr,
    /// `BestallningsId`, e.g. `00000079-FO01-0001`.
    pub bestallnings_id: BestallningsId,
}

/// One element of the request tree, under the limits above.
#[derive(Debug, Default)]
pub struct Element {
    ns: Option<String>,
    local: String,
    children: Vec<Element>,
    text: String,
    nil: bool,
    /// Carries an attribute `mustUnderstand` of `1` or `true` (looked at on header blocks).
    must_understand: bool,
}

impl Element {
    /// Its local name (any prefix, WIRE.md: liberal in what we accept).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Its namespace, `None` when unqualified: for a reader that holds each element to the
    /// namespace its schema gives it (SPAR's request, `crate::spar::request`).
    pub fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    /// Every child element, in document order: for a reader that checks a schema's sequence
    /// and refuses what it does not know.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter()
    }

    /// The child with this local name, if there is one; for an element read once, so a
    /// second one is the fault naming it ("element PersonId appears twice"), never ignored.
    /// Repeatable elements are read with [`Element::children_named`].
    pub fn child(&self, local: &str) -> Result<Option<&Element>, Fault> {
        let mut named = self.children.iter().filter(|c| c.local == local);
        let first = named.next();
        if first.is_some() && named.next().is_some() {
            return Err(bad(format!("element {local} appears twice")));
        }
        Ok(first)
    }

    /// Every child with this local name, in document order.
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.local == local)
    }

    /// The child with this local name, or the fault naming it as missing (or as appearing
    /// twice, as [`Element::child`]).
    pub fn required(&self, local: &'static str) -> Result<&Element, Fault> {
        self.child(local)?
            .ok_or_else(|| bad(format!("element {local} is missing")))
    }

    /// The trimmed text, `None` if empty or nil.
    pub fn value(&self) -> Option<&str> {
        let t = self.text.trim();
        (!self.nil && !t.is_empty()).then_some(t)
    }
}

/// The caller's fault (1101) with this text.
pub fn bad(msg: impl Into<String>) -> Fault {
    Fault::BadRequest(msg.into())
}

/// The namespace of SPAR PersonSök 2021.1's request root `SPARPersonsokningFraga`
/// (`crate::spar::ns::FRAGA`, written out here because the SOAP layer does not import the
/// SPAR wire that reads it; a test there checks the two agree).
pub const SPAR_FRAGA_NS: &str =
    "http://statenspersonadressregister.se/schema/personsok/2021.1/personsokningfraga";

/// The children of `SokvillkorNamn`, in the schema's order (WIRE.md): a request carries all
/// ten, empty where unused. For clients and tests that build requests.
pub const SOKVILLKOR_NAMN: [&str; 10] = [
    "Adress",
    "EfterMellanNamn",
    "FodelsetidFrom",
    "FodelsetidTom",
    "Fornamn",
    "Kon",
    "PostnummerFrom",
    "PostnummerTom",
    "Postort",
    "Kategori",
];

/// Reads an envelope of at most `max_elements` elements and returns the one operation
/// element its Body holds (in the V1, avisering or SPAR request namespace, or none).
pub fn operation(body: &[u8], max_elements: usize) -> Result<Element, Fault> {
    let mut envelope = parse_tree(body, max_elements)?;
    match envelope.ns.as_deref() {
        Some(SOAP11_NS) if envelope.local == "Envelope" => {}
        Some(SOAP12_NS) => return Err(bad("SOAP 1.2 envelopes are not supported; use SOAP 1.1")),
        _ => return Err(bad("the root element must be a SOAP 1.1 Envelope")),
    }
    let soap = |c: &Element, local: &str| c.local == local && c.ns.as_deref() == Some(SOAP11_NS);
    if envelope
        .children
        .iter()
        .filter(|c| soap(c, "Header"))
        .count()
        > 1
    {
        return Err(bad("the envelope holds more than one Header"));
    }
    if envelope.children.iter().filter(|c| soap(c, "Body")).count() > 1 {
        return Err(bad("the envelope holds more than one Body"));
    }
    if let Some(block) = envelope
        .children
        .iter()
        .filter(|c| soap(c, "Header"))
        .flat_map(|h| h.children.iter())
        .find(|b| b.must_understand)
    {
        let name: String = block.local.chars().take(64).collect();
        return Err(Fault::MustUnderstand(name));
    }
    let body_at = envelope
        .children
        .iter()
        .position(|c| soap(c, "Body"))
        .ok_or_else(|| bad("element Body is missing"))?;
    let mut body = envelope.children.swap_remove(body_at);
    let op = match body.children.len() {
        1 => body.children.swap_remove(0),
        0 => return Err(bad("Body holds no operation")),
        _ => return Err(bad("Body holds more than one element")),
    };
    if !matches!(
        op.ns.as_deref(),
        None | Some(V1_NS) | Some(AVI_NS) | Some(SPAR_FRAGA_NS)
    ) {
        return Err(bad(format!(
            "element {} is in an unknown namespace",
            op.local
        )));
    }
    Ok(op)
}

/// The `Bestallning` every operation element carries, typed.
pub fn bestallning(op: &Element) -> Result<Bestallning, Fault> {
    let b = op.required("Bestallning")?;
    let org = b
        .required("OrgNr")?
        .value()
        .ok_or_else(|| bad("OrgNr is empty"))?;
    if org.len() != 10 && !(org.len() == 12 && org.starts_with("16")) {
        return Err(bad(
            "OrgNr must be 12 digits (16 + organisationsnummer) or 10 digits",
        ));
    }
    if !org.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("OrgNr must be digits"));
    }
    let org_nr = OrgNr::parse(org).map_err(|e| bad(format!("OrgNr: {e}")))?;
    let id = b
        .required("BestallningsId")?
        .value()
        .ok_or_else(|| bad("BestallningsId is empty"))?;
    let bestallnings_id = BestallningsId::parse(id).map_err(|e| bad(e.to_string()))?;
    Ok(Bestallning {
        org_nr,
        bestallnings_id,
    })
}

/// Reads the body into an element tree under the limits.
fn parse_tree(body: &[u8], max_elements: usize) -> Result<Element, Fault> {
    // Said plainly before the XML reader says it obscurely (or reads UTF-16 as text).
    if body.starts_with(&[0xFF, 0xFE]) || body.starts_with(&[0xFE, 0xFF]) {
        return Err(bad("only UTF-8 requests are accepted; this one is UTF-16"));
    }
    if let Some(enc) = declared_encoding(body) {
        if !enc.eq_ignore_ascii_case("utf-8") {
            return Err(bad(format!(
                "only UTF-8 requests are accepted; the XML declaration says {enc}"
            )));
        }
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err(bad(format!(
            "the request is not UTF-8 (an invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    // quick-xml (0.41) counts namespace declarations as it reads a start tag, before the
    // attribute limit below sees it: more than the limit is more than the limit's attributes.
    reader
        .resolver_mut()
        .set_max_declarations_per_element(MAX_ATTRIBUTES);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let xml = |e: quick_xml::Error| bad(format!("malformed XML: {e}"));
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| match e {
            quick_xml::Error::Namespace(NamespaceError::TooManyDeclarations(_)) => bad(format!(
                "more than {MAX_ATTRIBUTES} attributes on one element"
            )),
            e => xml(e),
        })?;
        match event {
            // Its encoding was checked before reading ([`declared_encoding`]).
            Event::Decl(_) if stack.is_empty() => {}
            Event::Decl(_) => return Err(bad("an XML declaration inside the envelope")),
            Event::DocType(_) => {
                return Err(bad("DOCTYPE and entity declarations are not allowed"))
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > max_elements {
                    return Err(bad(format!("more than {max_elements} elements")));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let mut el = Element {
                    ns: match ns {
                        ResolveResult::Bound(n) => {
                            Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                        }
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(_) => {
                            return Err(bad("element with an undeclared namespace prefix"))
                        }
                    },
                    local: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Default::default()
                };
                for (i, attr) in e.attributes().enumerate() {
                    if i >= MAX_ATTRIBUTES {
                        return Err(bad(format!(
                            "more than {MAX_ATTRIBUTES} attributes on one element"
                        )));
                    }
                    let attr = attr.map_err(|e| xml(e.into()))?;
                    if attr.key.local_name().as_ref() == b"nil" {
                        el.nil = matches!(attr.value.as_ref(), b"true" | b"1");
                    } else if attr.key.local_name().as_ref() == b"mustUnderstand" {
                        el.must_understand = matches!(attr.value.as_ref(), b"true" | b"1");
                    }
                }
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, el)?;
                    if stack.is_empty() {
                        return Err(bad("the envelope is empty"));
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| bad("malformed XML: unexpected end tag"))?;
                if stack.is_empty() {
                    return finish(reader, el);
                }
                attach(&mut stack, el)?;
            }
            // Since quick-xml 0.38 text arrives undecoded and each `&...;` as its own event.
            Event::Text(_) | Event::GeneralRef(_) => {
                let text = char_data(&event)?;
                match stack.last_mut() {
                    Some(top) => {
                        if top.text.len() + text.len() > MAX_TEXT {
                            return Err(bad(format!(
                                "an element's text is longer than {MAX_TEXT} bytes"
                            )));
                        }
                        top.text.push_str(&text);
                    }
                    None if text.trim().is_empty() => {}
                    None => return Err(bad("text outside the envelope")),
                }
            }
            Event::CData(c) => {
                let top = stack
                    .last_mut()
                    .ok_or_else(|| bad("CDATA outside the envelope"))?;
                if top.text.len() + c.len() > MAX_TEXT {
                    return Err(bad(format!(
                        "an element's text is longer than {MAX_TEXT} bytes"
                    )));
                }
                top.text
                    .push_str(std::str::from_utf8(&c).map_err(|_| bad("request is not UTF-8"))?);
            }
            Event::Comment(_) => {}
            Event::PI(_) => return Err(no_pi()),
            Event::Eof => return Err(bad("malformed XML: the envelope is not closed")),
        }
    }
}

/// The characters of a text event, or of a reference: a character reference or one of the
/// five predefined entities (no others exist: DOCTYPE is refused); anything else is refused
/// by name.
fn char_data<'a>(event: &'a Event<'_>) -> Result<std::borrow::Cow<'a, str>, Fault> {
    let xml = |e: quick_xml::Error| bad(format!("malformed XML: {e}"));
    match event {
        Event::Text(t) => t.decode().map_err(|e| xml(e.into())),
        Event::GeneralRef(r) => {
            if let Some(c) = r.resolve_char_ref().map_err(xml)? {
                return Ok(c.to_string().into());
            }
            let name = r.decode().map_err(|e| xml(e.into()))?;
            quick_xml::escape::resolve_predefined_entity(&name)
                .map(Into::into)
                .ok_or_else(|| bad(format!("malformed XML: unrecognized entity `{name}`")))
        }
        _ => Ok("".into()),
    }
}

/// The `encoding` of the XML declaration the body starts with, if it has one (ASCII letters,
/// digits and `-._` only, at most 40 of them, so it can be named in a fault).
fn declared_encoding(body: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let Ok(Event::Decl(decl)) = reader.read_event() else {
        return None;
    };
    let enc = decl.encoding()?.ok()?;
    Some(
        enc.iter()
            .filter(|c| c.is_ascii_alphanumeric() || b"-._".contains(c))
            .take(40)
            .map(|&c| char::from(c))
            .collect(),
    )
}

fn attach(stack: &mut [Element], el: Element) -> Result<(), Fault> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            Ok(())
        }
        None => Err(bad("the envelope is empty")),
    }
}

/// The fault for a processing instruction anywhere in the request (SOAP 1.1 §3: an envelope
/// must not contain them; folkreg refuses them before and after it too).
fn no_pi() -> Fault {
    bad("processing instructions are not allowed")
}

/// After the root closes only whitespace and comments may follow.
fn finish(mut reader: NsReader<&[u8]>, root: Element) -> Result<Element, Fault> {
    loop {
        match reader
            .read_event()
            .map_err(|e| bad(format!("malformed XML: {e}")))?
        {
            Event::Eof => return Ok(root),
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Comment(_) => {}
            Event::PI(_) => return Err(no_pi()),
            _ => return Err(bad("content after the envelope")),
        }
    }
}

#[cfg(test)]
mod xml_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const PP: &str = r#"<v1:PersonpostRequest><v1:Bestallning><v1:OrgNr>162021004748</v1:OrgNr><v1:BestallningsId>00000079-FO01-0001</v1:BestallningsId></v1:Bestallning><v1:PersonId>198602212394</v1:PersonId></v1:PersonpostRequest>"#;

    /// An envelope with this between its start tag and the Body, and this in the Body.
    fn envelope(before_body: &str, in_body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP11_NS}" xmlns:v1="{V1_NS}">{before_body}<S:Body>{in_body}</S:Body></S:Envelope>"#
        )
    }

    fn refusal(body: &str) -> String {
        match operation(body.as_bytes(), MAX_ELEMENTS) {
            Ok(op) => format!("accepted {}", op.local()),
            Err(f) => format!("{} {}", f.code(), f.beskrivning()),
        }
    }

    #[test]
    fn a_child_read_once_is_refused_when_it_appears_twice() {
        let op = operation(envelope("", PP).as_bytes(), MAX_ELEMENTS).expect("an operation");
        assert!(op.child("PersonId").expect("once").is_some());
        assert!(op.child("Sida").expect("none").is_none());
        let twice = PP.replace(
            "</v1:PersonpostRequest>",
            "<v1:PersonId>198602212394</v1:PersonId></v1:PersonpostRequest>",
        );
        let op = operation(envelope("", &twice).as_bytes(), MAX_ELEMENTS).expect("an operation");
        for got in [
            op.child("PersonId").map(|_| ()).unwrap_err(),
            op.required("PersonId").map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(got, bad("element PersonId appears twice"));
        }
        assert_eq!(
            op.children_named("PersonId").count(),
            2,
            "repeatable reading"
        );
    }

    #[test]
    fn one_header_at_most_and_exactly_one_body() {
        assert_eq!(refusal(&envelope("", PP)), "accepted PersonpostRequest");
        assert_eq!(
            refusal(&envelope("<S:Header/>", PP)),
            "accepted PersonpostRequest"
        );
        let two_bodies = envelope("", PP).replace(
            "</S:Envelope>",
            &format!("<S:Body>{PP}</S:Body></S:Envelope>"),
        );
        assert!(
            refusal(&two_bodies).starts_with("1101")
                && refusal(&two_bodies).contains("more than one Body"),
            "{}",
            refusal(&two_bodies)
        );
        let empty_second = envelope("", PP).replace("</S:Envelope>", "<S:Body/></S:Envelope>");
        assert!(refusal(&empty_second).contains("more than one Body"));
        let two_headers = envelope("<S:Header/><S:Header></S:Header>", PP);
        assert!(
            refusal(&two_headers).starts_with("1101")
                && refusal(&two_headers).contains("more than one Header"),
            "{}",
            refusal(&two_headers)
        );
    }

    #[test]
    fn processing_instructions_are_refused_anywhere_and_the_declaration_is_not() {
        let pi = "<?xml-stylesheet href=\"x.xsl\"?>";
        for body in [
            envelope("", PP).replace("<S:Body>", &format!("{pi}<S:Body>")),
            envelope(
                "",
                &PP.replace("<v1:PersonId>", &format!("<v1:PersonId>{pi}")),
            ),
            envelope("", PP).replace("?><S:Envelope", &format!("?>{pi}<S:Envelope")),
            format!("{}{pi}", envelope("", PP)),
            format!("{}<?foo?>", envelope("", PP)),
        ] {
            let got = refusal(&body);
            assert!(
                got.starts_with("1101") && got.contains("processing instructions are not allowed"),
                "{body}: {got}"
            );
        }
        let inner_decl = envelope("", PP).replace("<S:Body>", "<S:Body><?xml version=\"1.0\"?>");
        assert!(refusal(&inner_decl).contains("an XML declaration inside the envelope"));
        assert_eq!(refusal(&envelope("", PP)), "accepted PersonpostRequest");
        assert_eq!(
            refusal(&envelope("", PP).replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")),
            "accepted PersonpostRequest"
        );
    }

    #[test]
    fn a_header_block_that_must_be_understood_is_a_must_understand_fault() {
        for value in ["1", "true"] {
            let header = format!(
                r#"<S:Header><w:Security xmlns:w="urn:x" S:mustUnderstand="{value}"/></S:Header>"#
            );
            let got = operation(envelope(&header, PP).as_bytes(), MAX_ELEMENTS).unwrap_err();
            assert_eq!(got, Fault::MustUnderstand("Security".into()));
            assert_eq!(got.faultcode(), "S:MustUnderstand");
            assert_eq!(got.code(), 1104);
            assert_eq!(got.status().as_u16(), 500);
        }
        for header in [
            r#"<S:Header><w:Security xmlns:w="urn:x" S:mustUnderstand="0"/></S:Header>"#,
            r#"<S:Header><w:Security xmlns:w="urn:x"><w:T S:mustUnderstand="1"/></w:Security></S:Header>"#,
            r#"<S:Header><w:Trace xmlns:w="urn:x">x</w:Trace></S:Header>"#,
            "<S:Header/>",
        ] {
            assert_eq!(
                refusal(&envelope(header, PP)),
                "accepted PersonpostRequest",
                "{header}"
            );
        }
    }
}
