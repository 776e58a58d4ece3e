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
//! V1 namespace, empty or `xsi:nil` search fields, SOAPAction ignored.

use quick_xml::events::Event;
use quick_xml::name::{NamespaceError, ResolveResult};
use quick_xml::NsReader;

use super::{Fault, AVI_NS, SOAP11_NS, SOAP12_NS, V1_NS};
use crate::ids::{BestallningsId, OrgNr};

/// Deepest element nesting accepted: a Navet request is 5 deep inside the envelope.
pub const MAX_DEPTH: usize = 12;
/// Most elements in one request: a namnsökning has about 20.
pub const MAX_ELEMENTS: usize = 100;
/// Most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 16;
/// Most identity numbers in one `lamnaInfil` page (up to 200 pages make the 2,000,000 of
/// bilaga 1).
pub const MAX_INFIL_PAGE: usize = 10_000;
/// Most pages of one infil.
pub const MAX_INFIL_PAGES: u64 = 200;
/// Longest text of one element, in bytes: the longest field (a name) is far shorter.
pub const MAX_TEXT: usize = 256;

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
}

impl Element {
    /// Its local name (any prefix, WIRE.md: liberal in what we accept).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The first child with this local name.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local)
    }

    /// Every child with this local name, in document order.
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.local == local)
    }

    /// The child with this local name, or the fault naming it as missing.
    pub fn required(&self, local: &'static str) -> Result<&Element, Fault> {
        self.child(local)
            .ok_or_else(|| bad(format!("element {local} is missing")))
    }

    /// The trimmed text, `None` if empty or nil.
    pub fn value(&self) -> Option<&str> {
        let t = self.text.trim();
        (!self.nil && !t.is_empty()).then_some(t)
    }
}

/// The caller's fault (FR1101) with this text.
pub fn bad(msg: impl Into<String>) -> Fault {
    Fault::BadRequest(msg.into())
}

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
/// element its Body holds (in the V1 or avisering namespace, or none).
pub fn operation(body: &[u8], max_elements: usize) -> Result<Element, Fault> {
    let mut envelope = parse_tree(body, max_elements)?;
    match envelope.ns.as_deref() {
        Some(SOAP11_NS) if envelope.local == "Envelope" => {}
        Some(SOAP12_NS) => return Err(bad("SOAP 1.2 envelopes are not supported; use SOAP 1.1")),
        _ => return Err(bad("the root element must be a SOAP 1.1 Envelope")),
    }
    let body_at = envelope
        .children
        .iter()
        .position(|c| c.local == "Body" && c.ns.as_deref() == Some(SOAP11_NS))
        .ok_or_else(|| bad("element Body is missing"))?;
    let mut body = envelope.children.swap_remove(body_at);
    let op = match body.children.len() {
        1 => body.children.swap_remove(0),
        0 => return Err(bad("Body holds no operation")),
        _ => return Err(bad("Body holds more than one element")),
    };
    if !matches!(op.ns.as_deref(), None | Some(V1_NS) | Some(AVI_NS)) {
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
            Event::Decl(_) => {}
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
            Event::Comment(_) | Event::PI(_) => {}
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

/// After the root closes only whitespace, comments and processing instructions may follow.
fn finish(mut reader: NsReader<&[u8]>, root: Element) -> Result<Element, Fault> {
    loop {
        match reader
            .read_event()
            .map_err(|e| bad(format!("malformed XML: {e}")))?
        {
            Event::Eof => return Ok(root),
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Comment(_) | Event::PI(_) => {}
            _ => return Err(bad("content after the envelope")),
        }
    }
}

#[cfg(test)]
mod xml_tests;
