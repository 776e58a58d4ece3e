//! Parsing SOAP 1.1 request envelopes into typed requests, with limits.
//!
//! The body (already bounded in size by the HTTP layer) is read with quick-xml's namespace
//! reader into a tiny element tree under hard limits on depth, element count, attributes and
//! text length; DOCTYPE and entity declarations are refused, only UTF-8 is accepted. The tree
//! is then turned into a [`Request`] — raw strings never leave this module.
//!
//! Liberal in what it accepts (WIRE.md): any prefixes, request children with or without the
//! V1 namespace, empty or `xsi:nil` search fields, SOAPAction ignored.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{Fault, AVI_NS, SOAP11_NS, SOAP12_NS, V1_NS};
use crate::ids::pnr::Pnr;
use crate::ids::{BestallningsId, OrgNr};
use crate::search::{parse_patterns, SearchQuery, WordPattern};

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

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `personpostXML`: one person by PersonId.
    Personpost {
        /// The order.
        bestallning: Bestallning,
        /// The number asked for.
        person_id: Pnr,
    },
    /// `namnsokningXML`: a search.
    Namnsokning {
        /// The order.
        bestallning: Bestallning,
        /// The criteria.
        query: Box<SearchQuery>,
    },
    /// `lamnaInfil`: one page of an infil order's new population.
    LamnaInfil {
        /// The infil order.
        bestallning: Bestallning,
        /// This page, from 1.
        sida: u64,
        /// Pages in all.
        antal_sidor: u64,
        /// The identity numbers of this page.
        personer: Vec<Pnr>,
        /// `SvarDirekt`: answer the complete infil at once with a delivery (bilaga 1 c).
        svar_direkt: bool,
    },
    /// `hamtaAvisering`: one page of one file of an avisering delivery.
    HamtaAvisering {
        /// The avisering order.
        bestallning: Bestallning,
        /// The delivery; asking for it acknowledges every earlier one.
        lopnummer: u64,
        /// File `A` (default) or `B`.
        fil_b: bool,
        /// Page, from 1.
        sida: u64,
    },
}

impl Request {
    /// The order of any request.
    pub fn bestallning(&self) -> &Bestallning {
        match self {
            Request::Personpost { bestallning, .. }
            | Request::Namnsokning { bestallning, .. }
            | Request::HamtaAvisering { bestallning, .. }
            | Request::LamnaInfil { bestallning, .. } => bestallning,
        }
    }
}

/// `Bestallning`: who orders, and under which order id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bestallning {
    /// Organisationsnummer (the request sends `16` + 10 digits, or the 10 digits).
    pub org_nr: OrgNr,
    /// `BestallningsId`, e.g. `00000079-FO01-0001`.
    pub bestallnings_id: BestallningsId,
}

/// One element of the request tree.
#[derive(Debug, Default)]
struct Element {
    ns: Option<String>,
    local: String,
    children: Vec<Element>,
    text: String,
    nil: bool,
}

impl Element {
    fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local)
    }

    fn required(&self, local: &'static str) -> Result<&Element, Fault> {
        self.child(local)
            .ok_or_else(|| bad(format!("element {local} is missing")))
    }

    /// The trimmed text, `None` if empty or nil.
    fn value(&self) -> Option<&str> {
        let t = self.text.trim();
        (!self.nil && !t.is_empty()).then_some(t)
    }
}

fn bad(msg: impl Into<String>) -> Fault {
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

/// Parses a request body into a typed request.
pub fn parse(body: &[u8]) -> Result<Request, Fault> {
    parse_limited(body, MAX_ELEMENTS)
}

/// [`parse`] for an infil page, whose element count is bounded by [`MAX_INFIL_PAGE`].
pub fn parse_infil(body: &[u8]) -> Result<Request, Fault> {
    parse_limited(body, MAX_INFIL_PAGE + 20)
}

fn parse_limited(body: &[u8], max_elements: usize) -> Result<Request, Fault> {
    let envelope = parse_tree(body, max_elements)?;
    match envelope.ns.as_deref() {
        Some(SOAP11_NS) if envelope.local == "Envelope" => {}
        Some(SOAP12_NS) => return Err(bad("SOAP 1.2 envelopes are not supported; use SOAP 1.1")),
        _ => return Err(bad("the root element must be a SOAP 1.1 Envelope")),
    }
    let body = envelope
        .children
        .iter()
        .find(|c| c.local == "Body" && c.ns.as_deref() == Some(SOAP11_NS))
        .ok_or_else(|| bad("element Body is missing"))?;
    let op = match body.children.as_slice() {
        [op] => op,
        [] => return Err(bad("Body holds no operation")),
        _ => return Err(bad("Body holds more than one element")),
    };
    if !matches!(op.ns.as_deref(), None | Some(V1_NS) | Some(AVI_NS)) {
        return Err(bad(format!(
            "element {} is in an unknown namespace",
            op.local
        )));
    }
    match op.local.as_str() {
        "PersonpostRequest" => Ok(Request::Personpost {
            bestallning: bestallning(op)?,
            person_id: {
                let v = op
                    .required("PersonId")?
                    .value()
                    .ok_or_else(|| bad("PersonId is empty"))?;
                Pnr::parse(v).map_err(|e| bad(format!("PersonId: {e}")))?
            },
        }),
        "NamnsokningRequest" => Ok(Request::Namnsokning {
            bestallning: bestallning(op)?,
            query: Box::new(query(op.required("SokvillkorNamn")?)?),
        }),
        "HamtaAviseringRequest" => {
            let number = |name: &'static str, default: Option<u64>| -> Result<u64, Fault> {
                match (op.child(name).and_then(Element::value), default) {
                    (Some(v), _) => v
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad(format!("{name} must be a whole number from 1"))),
                    (None, Some(d)) => Ok(d),
                    (None, None) => Err(bad(format!("element {name} is missing"))),
                }
            };
            let fil_b = match op.child("Fil").and_then(Element::value) {
                None | Some("A") => false,
                Some("B") => true,
                Some(_) => return Err(bad("Fil must be A or B")),
            };
            Ok(Request::HamtaAvisering {
                bestallning: bestallning(op)?,
                lopnummer: number("Lopnummer", None)?,
                fil_b,
                sida: number("Sida", Some(1))?,
            })
        }
        "LamnaInfilRequest" => {
            let number = |name: &'static str| -> Result<u64, Fault> {
                op.required(name)?
                    .value()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(format!("{name} must be a whole number from 1")))
            };
            let (sida, antal_sidor) = (number("Sida")?, number("AntalSidor")?);
            if antal_sidor > MAX_INFIL_PAGES || sida > antal_sidor {
                return Err(bad(format!(
                    "Sida {sida} of AntalSidor {antal_sidor}: at most {MAX_INFIL_PAGES} pages, Sida not past AntalSidor"
                )));
            }
            let mut personer = Vec::new();
            for (i, el) in op
                .children
                .iter()
                .filter(|c| c.local == "PersonNr")
                .enumerate()
            {
                let v = el
                    .value()
                    .ok_or_else(|| bad(format!("PersonNr {} is empty", i + 1)))?;
                personer.push(Pnr::parse(v).map_err(|e| bad(format!("PersonNr {}: {e}", i + 1)))?);
            }
            if personer.len() > MAX_INFIL_PAGE {
                return Err(bad(format!(
                    "more than {MAX_INFIL_PAGE} PersonNr in one page"
                )));
            }
            let svar_direkt = match op.child("SvarDirekt").and_then(Element::value) {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(_) => return Err(bad("SvarDirekt must be true or false")),
            };
            Ok(Request::LamnaInfil {
                bestallning: bestallning(op)?,
                sida,
                antal_sidor,
                personer,
                svar_direkt,
            })
        }
        _ => Err(bad("unknown operation element in Body")),
    }
}

fn bestallning(op: &Element) -> Result<Bestallning, Fault> {
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

fn query(s: &Element) -> Result<SearchQuery, Fault> {
    let words = |name: &'static str| -> Result<Vec<WordPattern>, Fault> {
        match s.child(name).and_then(Element::value) {
            None => Ok(Vec::new()),
            Some(v) if v.chars().count() > 100 => {
                Err(bad(format!("{name} is longer than 100 characters")))
            }
            Some(v) => parse_patterns(v).map_err(|e| bad(format!("{name}: {e}"))),
        }
    };
    let date = |name: &'static str, end: bool| -> Result<Option<u32>, Fault> {
        s.child(name)
            .and_then(Element::value)
            .map(|v| {
                birth_bound(v, end)
                    .ok_or_else(|| bad(format!("{name} must be YYYY, YYYYMM or YYYYMMDD")))
            })
            .transpose()
    };
    let postnr = |name: &'static str| -> Result<Option<u32>, Fault> {
        s.child(name)
            .and_then(Element::value)
            .map(|v| {
                let digits: String = v.chars().filter(|c| *c != ' ').collect();
                (digits.len() == 5 && digits.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| digits.parse::<u32>().ok())
                    .flatten()
                    .ok_or_else(|| bad(format!("{name} must be five digits")))
            })
            .transpose()
    };
    let kon = match s.child("Kon").and_then(Element::value) {
        None => None,
        Some("M") | Some("m") => Some(crate::model::Kon::M),
        Some("K") | Some("k") => Some(crate::model::Kon::K),
        Some(_) => return Err(bad("Kon must be M or K")),
    };
    let endast_folkbokforda = match s.child("Kategori").and_then(Element::value) {
        None => false,
        Some("FB") => true,
        Some(_) => return Err(bad("Kategori must be empty or FB")),
    };
    let q = SearchQuery {
        fornamn: words("Fornamn")?,
        efter_mellan: words("EfterMellanNamn")?,
        postort: words("Postort")?,
        adress: words("Adress")?,
        fodelse_from: date("FodelsetidFrom", false)?,
        fodelse_tom: date("FodelsetidTom", true)?,
        kon,
        postnr_from: postnr("PostnummerFrom")?,
        postnr_tom: postnr("PostnummerTom")?,
        endast_folkbokforda,
    };
    if !q.is_specific_enough() {
        return Err(Fault::SearchTooBroad);
    }
    Ok(q)
}

/// A birth-time bound: `YYYY`, `YYYYMM` or `YYYYMMDD`, widened to the first (or, for `end`,
/// the last) day it covers, as `YYYYMMDD`.
fn birth_bound(v: &str, end: bool) -> Option<u32> {
    if !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = v.parse().ok()?;
    let (y, m, d) = match v.len() {
        4 => (n, if end { 12 } else { 1 }, if end { 31 } else { 1 }),
        6 => (n / 100, n % 100, if end { 31 } else { 1 }),
        8 => (n / 10000, n / 100 % 100, n % 100),
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1800..=2199).contains(&y) {
        return None;
    }
    if v.len() == 8 && chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_none() {
        return None;
    }
    Some(y * 10000 + m * 100 + d)
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
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let xml = |e: quick_xml::Error| bad(format!("malformed XML: {e}"));
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(xml)?;
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
            Event::Text(t) => {
                let text = t.unescape().map_err(xml)?;
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
mod tests;
