//! Streaming reader of delivery files: constant memory whatever the file size (one record's
//! small element tree at a time), `.xml.gz` detected by its magic bytes, every value validated.
//!
//! Errors name the record's 1-based position and the element path, and say what is wrong —
//! never the value, so a report can be logged without leaking personal data.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{
    DeliveryError, DeliveryErrorKind, DeliveryHeader, DeliveryRecord, DeliveryTyp, Group, GroupSet,
    Posttyp, DELIVERY_NS,
};
use crate::ids::pnr::{Pnr, PnrKind};
use crate::model::*;

/// Longest text of one term, in characters: the longest register term (an address line) is
/// far shorter; anything longer is a broken file.
pub const MAX_TEXT: usize = 200;
/// Deepest nesting inside a record (Personpost/Relationer/Relation/... is 4).
const MAX_DEPTH: usize = 8;
/// Most elements in one record: a person with many relations has about 150.
const MAX_ELEMENTS: usize = 5_000;

/// Reads a delivery file record by record.
pub struct DeliveryReader {
    reader: Reader<BufReader<Box<dyn Read + Send>>>,
    buf: Vec<u8>,
    header: DeliveryHeader,
    count: u64,
    done: bool,
}

fn at(record: Option<u64>, element: Option<String>, kind: DeliveryErrorKind) -> DeliveryError {
    DeliveryError {
        record,
        element,
        kind,
    }
}

/// A problem of our own wording (never text from the file).
fn xml_err(record: Option<u64>, what: &'static str) -> DeliveryError {
    at(record, None, DeliveryErrorKind::Xml(what.to_owned()))
}

/// quick-xml's error, said in words that carry nothing from the file.
fn xml_fault(record: Option<u64>, element: Option<String>, e: &quick_xml::Error) -> DeliveryError {
    at(record, element, DeliveryErrorKind::Xml(xml_problem(e)))
}

/// What is wrong with the XML. quick-xml's own texts quote the file — the names of
/// mismatched tags, of unknown entities — and in a broken file anything can stand there (an
/// identity number, a name); a report is logged and written beside the file, so it says what
/// is wrong in fixed words and leaves the place to the record number and element path.
fn xml_problem(e: &quick_xml::Error) -> String {
    use quick_xml::errors::IllFormedError;
    use quick_xml::Error;
    match e {
        Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends early (truncated, or a cut-off gzip stream)".to_owned()
        }
        Error::Io(e) => format!("cannot read: {}", e.kind()),
        // Fixed texts ("unclosed tag", ...) and positions only.
        Error::Syntax(e) => e.to_string(),
        Error::InvalidAttr(e) => format!("invalid attribute: {e}"),
        Error::IllFormed(e) => match e {
            IllFormedError::MissingDeclVersion(_) => "the XML declaration has no version",
            IllFormedError::MissingDoctypeName => "a DOCTYPE without a name",
            IllFormedError::MissingEndTag(_) => "an element is not closed",
            IllFormedError::UnmatchedEndTag(_) => "an end tag without its start tag",
            IllFormedError::MismatchedEndTag { .. } => "an end tag does not match its start tag",
            IllFormedError::DoubleHyphenInComment => "'--' inside a comment",
        }
        .to_owned(),
        Error::Encoding(_) => "the file is not UTF-8".to_owned(),
        Error::Escape(_) => "an unknown entity or an invalid character reference".to_owned(),
        Error::Namespace(_) => "an undeclared or invalid namespace prefix".to_owned(),
    }
}

/// Every element name of the delivery format: the only names a report shows. A name the
/// format does not have is reported as [`UNKNOWN_ELEMENT`], since in a broken file an element
/// name can be a fragment of a value (`<'ersonpost><PersonId><PersonNr>1933…'` is one name).
const ELEMENTS: &[&str] = &[
    "Adress",
    "Adresser",
    "AntraffadDodDatum",
    "Ar",
    "Arendeuppgift",
    "Aviseringsnamn",
    "AvlidenDatum",
    "Avregistrering",
    "Avregistreringsdatum",
    "Avregistreringsorsak",
    "AvregistreringsorsakKod",
    "Beteckning",
    "CareOf",
    "Civilstand",
    "CivilstandDatum",
    "CivilstandKod",
    "Datum",
    "Distrikt",
    "Efternamn",
    "Fastighet",
    "Fastighetsbeteckning",
    "FiktivtNr",
    "Fodelse",
    "Fodelsedatum",
    "Fodelseland",
    "Fodelseort",
    "Fodelsetid",
    "Folkbokforing",
    "Folkbokforingsadress",
    "Folkbokforingsdatum",
    "Folkbokforingspost",
    "Folkbokforingsposter",
    "FolkbokforingstypKod",
    "Fornamn",
    "Fornyelsedatum",
    "ForsamlingKommun",
    "HanvisningsPersonNr",
    "HemortSverige",
    "Historik",
    "Identitetsniva",
    "IdentitetsnivaDatum",
    "Identitetsstatus",
    "IdentitetsstatusDatum",
    "IdentitetsstatusOrsak",
    "Inkomst",
    "Invandring",
    "Invandringsdatum",
    "Kommun",
    "KommunKod",
    "Kon",
    "Lagenhet",
    "LanKod",
    "Land",
    "Landkod",
    "Medborgarskap",
    "Medborgarskapsdatum",
    "MedborgarskapslandKod",
    "Mellannamn",
    "Namn",
    "Navetavisering",
    "NordisktPersonnummer",
    "Nummer",
    "OrtUtlandet",
    "PaKommunSkriven",
    "PersonId",
    "PersonNr",
    "Personpost",
    "PostNr",
    "Postort",
    "PreliminartVilandeforklaringsdatum",
    "Relation",
    "Relationer",
    "Relationstyp",
    "RostrattDatum",
    "Samordningsnummeruppgifter",
    "SarskildPostadress",
    "Sekretessmarkering",
    "SkyddadFolkbokforing",
    "Skyddsdatum",
    "Summa",
    "Taxering",
    "TilldelatPersonNrSamordningsNr",
    "Tilldelningsdatum",
    "Tilltalsnamnsmarkering",
    "UUID",
    "Uppehallsratt",
    "Utdelningsadress1",
    "Utdelningsadress2",
    "Utdelningsadress3",
    "Utlandsadress",
];

/// How a report names an element that is not in [`ELEMENTS`].
pub const UNKNOWN_ELEMENT: &str = "(an element the format does not have)";

/// `name` if the format has it, else [`UNKNOWN_ELEMENT`].
fn shown(name: &str) -> &str {
    if ELEMENTS.contains(&name) {
        name
    } else {
        UNKNOWN_ELEMENT
    }
}

impl DeliveryReader {
    /// Opens a file and reads its header.
    pub fn open(path: &Path) -> Result<DeliveryReader, DeliveryError> {
        let file = File::open(path).map_err(|e| DeliveryError::file(e.into()))?;
        DeliveryReader::new(file)
    }

    /// Reads a delivery from any byte source (gzip-compressed or not, told by its magic
    /// bytes) up to and including its header; the records follow as an iterator.
    pub fn new(source: impl Read + Send + 'static) -> Result<DeliveryReader, DeliveryError> {
        let mut file = BufReader::new(source);
        let gz = file
            .fill_buf()
            .map_err(|e| DeliveryError::file(e.into()))?
            .starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut reader = Reader::from_reader(BufReader::with_capacity(1 << 16, inner));
        reader.config_mut().trim_text(true);
        reader.config_mut().check_end_names = true;
        let mut buf = Vec::with_capacity(4096);
        let header = loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::Text(_) => {}
                Event::DocType(_) => return Err(DeliveryError::file(DeliveryErrorKind::Doctype)),
                Event::Start(e) => break parse_header(&e)?,
                _ => return Err(DeliveryError::file(DeliveryErrorKind::Root)),
            }
        };
        // Then the list element.
        loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::Comment(_) | Event::Text(_) => {}
                Event::Start(e) if e.local_name().as_ref() == b"Folkbokforingsposter" => break,
                _ => {
                    return Err(at(
                        None,
                        Some("Folkbokforingsposter".into()),
                        DeliveryErrorKind::Missing("Folkbokforingsposter"),
                    ))
                }
            }
        }
        Ok(DeliveryReader {
            reader,
            buf,
            header,
            count: 0,
            done: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &DeliveryHeader {
        &self.header
    }

    fn next_record(&mut self) -> Result<Option<DeliveryRecord>, DeliveryError> {
        loop {
            self.buf.clear();
            let pos = Some(self.count + 1);
            match self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| xml_fault(pos, None, &e))?
            {
                Event::Comment(_) | Event::Text(_) => {}
                Event::Start(e) if e.local_name().as_ref() == b"Folkbokforingspost" => {
                    self.count += 1;
                    let posttyp = posttyp_of(&e)
                        .map_err(|k| at(pos, Some("Folkbokforingspost".into()), k))?;
                    let start = owned_start(&e);
                    let node = read_tree(&mut self.reader, &mut self.buf, start, pos)?;
                    return record(&node, posttyp, self.count).map(Some);
                }
                Event::Empty(e) if e.local_name().as_ref() == b"Folkbokforingspost" => {
                    self.count += 1;
                    return Err(at(
                        pos,
                        Some("Folkbokforingspost".into()),
                        DeliveryErrorKind::Missing("Personpost"),
                    ));
                }
                Event::End(e) if e.local_name().as_ref() == b"Folkbokforingsposter" => {
                    self.finish_envelope()?;
                    if self.count != self.header.antal {
                        return Err(DeliveryError::file(DeliveryErrorKind::Antal {
                            declared: self.header.antal,
                            found: self.count,
                        }));
                    }
                    return Ok(None);
                }
                Event::Eof => {
                    return Err(xml_err(
                        None,
                        "the file ends inside the delivery (truncated?)",
                    ))
                }
                _ => return Err(at(pos, None, DeliveryErrorKind::UnexpectedElement)),
            }
        }
    }

    fn finish_envelope(&mut self) -> Result<(), DeliveryError> {
        let mut closed = false;
        loop {
            self.buf.clear();
            match self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::End(e) if !closed && e.local_name().as_ref() == b"Navetavisering" => {
                    closed = true
                }
                Event::Text(_) | Event::Comment(_) => {}
                Event::Eof if closed => return Ok(()),
                Event::Eof => {
                    return Err(xml_err(
                        None,
                        "the file ends before </Navetavisering> (truncated?)",
                    ))
                }
                _ => return Err(xml_err(None, "content after the delivery")),
            }
        }
    }
}

impl Iterator for DeliveryReader {
    type Item = Result<DeliveryRecord, DeliveryError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn parse_header(e: &BytesStart<'_>) -> Result<DeliveryHeader, DeliveryError> {
    if e.local_name().as_ref() != b"Navetavisering" {
        return Err(DeliveryError::file(DeliveryErrorKind::Root));
    }
    let mut ns_ok = false;
    let (mut lop, mut typ, mut skapad, mut antal) = (None, None, None, None);
    for a in e.attributes() {
        let a = a.map_err(|e| xml_fault(None, None, &e.into()))?;
        let v = a
            .unescape_value()
            .map_err(|e| xml_fault(None, None, &e))?
            .into_owned();
        match a.key.as_ref() {
            b"xmlns" => ns_ok = v == DELIVERY_NS,
            k if k.starts_with(b"xmlns:") => {
                ns_ok |= v == DELIVERY_NS && e.name().prefix().is_some()
            }
            b"Lopnummer" => lop = Some(v),
            b"Typ" => typ = Some(v),
            b"Skapad" => skapad = Some(v),
            b"Antal" => antal = Some(v),
            _ => {}
        }
    }
    if !ns_ok {
        return Err(DeliveryError::file(DeliveryErrorKind::Root));
    }
    let header = |name| DeliveryError::file(DeliveryErrorKind::Header(name));
    let lopnummer = lop
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| header("Lopnummer"))?;
    let typ = match typ.as_deref() {
        Some("FULL") => DeliveryTyp::Full,
        Some("DELTA") => DeliveryTyp::Delta,
        _ => return Err(header("Typ")),
    };
    let skapad = skapad
        .filter(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
        .ok_or_else(|| header("Skapad"))?;
    let antal = antal
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| header("Antal"))?;
    Ok(DeliveryHeader {
        lopnummer,
        typ,
        skapad,
        antal,
    })
}

fn posttyp_of(e: &BytesStart<'_>) -> Result<Posttyp, DeliveryErrorKind> {
    for a in e.attributes() {
        let a = a.map_err(|e| DeliveryErrorKind::Xml(xml_problem(&e.into())))?;
        if a.key.as_ref() == b"Posttyp" {
            return match a.value.as_ref() {
                b"T" => Ok(Posttyp::Total),
                b"A" => Ok(Posttyp::Andring),
                b"B" => Ok(Posttyp::Borttag),
                _ => Err(DeliveryErrorKind::Invalid(
                    "Posttyp must be T, A or B".into(),
                )),
            };
        }
    }
    Err(DeliveryErrorKind::Invalid(
        "attribute Posttyp is missing".into(),
    ))
}

/// One element of a record.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

fn owned_start(e: &BytesStart<'_>) -> Node {
    let mut n = Node {
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        ..Default::default()
    };
    for a in e.attributes().flatten() {
        if let Ok(v) = a.unescape_value() {
            n.attrs.push((
                String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                v.into_owned(),
            ));
        }
    }
    n
}

/// The path below the record's own element, `None` at the record itself.
fn stack_path(stack: &[Node]) -> Option<String> {
    (stack.len() > 1).then(|| {
        stack
            .iter()
            .skip(1)
            .map(|n| shown(&n.name))
            .collect::<Vec<_>>()
            .join("/")
    })
}

fn read_tree<R: BufRead>(
    reader: &mut Reader<R>,
    buf: &mut Vec<u8>,
    root: Node,
    pos: Option<u64>,
) -> Result<Node, DeliveryError> {
    let mut stack = vec![root];
    let mut count = 0usize;
    loop {
        buf.clear();
        let ev = reader
            .read_event_into(buf)
            .map_err(|e| xml_fault(pos, stack_path(&stack), &e))?;
        match ev {
            Event::Start(e) => {
                count += 1;
                if stack.len() > MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(at(
                        pos,
                        stack_path(&stack),
                        DeliveryErrorKind::Invalid("record nested too deep or too large".into()),
                    ));
                }
                stack.push(owned_start(&e));
            }
            Event::Empty(e) => {
                count += 1;
                let node = owned_start(&e);
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| xml_err(pos, "unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| xml_fault(pos, stack_path(&stack), &e))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                    if top.text.chars().count() > MAX_TEXT {
                        return Err(at(
                            pos,
                            stack_path(&stack),
                            DeliveryErrorKind::TooLong(MAX_TEXT),
                        ));
                    }
                }
            }
            Event::CData(_) | Event::DocType(_) | Event::Decl(_) => {
                return Err(at(
                    pos,
                    stack_path(&stack),
                    DeliveryErrorKind::UnexpectedElement,
                ))
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return Err(xml_err(pos, "the file ends inside a record (truncated?)")),
        }
    }
}

/// Context for errors while mapping a record's tree: its position and the current path.
struct Ctx {
    record: u64,
}

impl Ctx {
    fn err(&self, path: &str, kind: DeliveryErrorKind) -> DeliveryError {
        at(Some(self.record), Some(path.to_owned()), kind)
    }
    fn invalid(&self, path: &str, what: &str) -> DeliveryError {
        self.err(path, DeliveryErrorKind::Invalid(what.to_owned()))
    }

    /// The children of `n`, each exactly one of `allowed`.
    fn check_children(&self, path: &str, n: &Node, allowed: &[&str]) -> Result<(), DeliveryError> {
        for c in &n.children {
            if !allowed.contains(&c.name.as_str()) {
                return Err(self.err(
                    &format!("{path}/{}", shown(&c.name)),
                    DeliveryErrorKind::UnexpectedElement,
                ));
            }
        }
        Ok(())
    }

    fn text<'n>(&self, n: &'n Node, child: &str) -> Option<&'n str> {
        n.children
            .iter()
            .find(|c| c.name == child)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    fn string(&self, n: &Node, child: &str) -> Option<String> {
        self.text(n, child).map(str::to_owned)
    }

    fn required(&self, path: &str, n: &Node, child: &'static str) -> Result<String, DeliveryError> {
        self.string(n, child)
            .ok_or_else(|| self.err(path, DeliveryErrorKind::Missing(child)))
    }

    fn date(&self, path: &str, n: &Node, child: &str) -> Result<Option<Datum>, DeliveryError> {
        self.text(n, child)
            .map(|t| {
                Datum::parse(t)
                    .map_err(|e| self.invalid(&format!("{path}/{child}"), &e.to_string()))
            })
            .transpose()
    }

    fn required_date(
        &self,
        path: &str,
        n: &Node,
        child: &'static str,
    ) -> Result<Datum, DeliveryError> {
        self.date(path, n, child)?
            .ok_or_else(|| self.err(path, DeliveryErrorKind::Missing(child)))
    }

    fn pnr(&self, path: &str, t: &str) -> Result<Pnr, DeliveryError> {
        Pnr::parse(t).map_err(|e| self.invalid(path, &e.to_string()))
    }

    fn lan(&self, path: &str, lan: &str) -> Result<(), DeliveryError> {
        if crate::refdata::is_lan(lan) {
            Ok(())
        } else {
            Err(self.invalid(path, "unknown länskod"))
        }
    }

    fn land(&self, path: &str, code: &str) -> Result<(), DeliveryError> {
        if code.len() == 2 && code.bytes().all(|c| c.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(self.invalid(
                path,
                "land code must be two capital letters (ISO 3166 alpha-2)",
            ))
        }
    }
}

fn child<'n>(n: &'n Node, name: &str) -> Option<&'n Node> {
    n.children.iter().find(|c| c.name == name)
}

fn record(root: &Node, posttyp: Posttyp, record_no: u64) -> Result<DeliveryRecord, DeliveryError> {
    let cx = Ctx { record: record_no };
    cx.check_children(
        "",
        root,
        &[
            "Arendeuppgift",
            "Personpost",
            "Sekretessmarkering",
            "SkyddadFolkbokforing",
            "Skyddsdatum",
        ],
    )
    .map_err(|mut e| {
        e.element = e.element.map(|p| p.trim_start_matches('/').to_owned());
        e
    })?;
    let andringstidpunkt = child(root, "Arendeuppgift")
        .and_then(|a| {
            a.attrs
                .iter()
                .find(|(k, _)| k == "andringstidpunkt")
                .map(|(_, v)| v.clone())
        })
        .ok_or_else(|| {
            cx.err(
                "Arendeuppgift",
                DeliveryErrorKind::Missing("Arendeuppgift@andringstidpunkt"),
            )
        })?;
    if andringstidpunkt.len() != 14
        || chrono::NaiveDateTime::parse_from_str(&andringstidpunkt, "%Y%m%d%H%M%S").is_err()
    {
        return Err(cx.invalid("Arendeuppgift", "andringstidpunkt must be YYYYMMDDhhmmss"));
    }
    let pp = child(root, "Personpost")
        .ok_or_else(|| cx.err("", DeliveryErrorKind::Missing("Personpost")))?;
    let mut present = if posttyp == Posttyp::Total {
        GroupSet::ALL
    } else {
        GroupSet::default()
    };
    present.insert(Group::Arendeuppgift);
    let personpost = personpost(&cx, pp, &mut present)?;

    let flag = |name: &str| -> Result<Option<bool>, DeliveryError> {
        match cx.text(root, name) {
            None => Ok(None),
            Some("J") => Ok(Some(true)),
            Some("N") => Ok(Some(false)),
            Some(_) => Err(cx.invalid(name, "must be J or N")),
        }
    };
    let sekretess = flag("Sekretessmarkering")?;
    let skyddad = flag("SkyddadFolkbokforing")?;
    let skyddsdatum = cx.date("", root, "Skyddsdatum").map_err(|mut e| {
        e.element = Some("Skyddsdatum".into());
        e
    })?;
    if sekretess.is_some() || skyddad.is_some() || skyddsdatum.is_some() {
        present.insert(Group::Skydd);
    }
    let post = Folkbokforingspost {
        andringstidpunkt,
        personpost,
        sekretessmarkering: sekretess.unwrap_or(false),
        skyddad_folkbokforing: skyddad.unwrap_or(false),
        skyddsdatum,
    };
    Ok(DeliveryRecord {
        posttyp,
        post,
        present,
    })
}

const PERSONPOST_CHILDREN: &[&str] = &[
    "PersonId",
    "HanvisningsPersonNr",
    "Avregistrering",
    "AntraffadDodDatum",
    "Namn",
    "Folkbokforing",
    "Adresser",
    "Fodelse",
    "Invandring",
    "RostrattDatum",
    "Civilstand",
    "Medborgarskap",
    "Relationer",
    "Uppehallsratt",
    "NordisktPersonnummer",
    "Kon",
    "Fodelsetid",
    "Taxering",
    "Historik",
    "Samordningsnummeruppgifter",
];

fn personpost(cx: &Ctx, pp: &Node, present: &mut GroupSet) -> Result<Personpost, DeliveryError> {
    cx.check_children("Personpost", pp, PERSONPOST_CHILDREN)?;
    let has = |name: &str| child(pp, name).is_some();
    let mark = |present: &mut GroupSet, name: &str, g: Group| {
        if has(name) {
            present.insert(g);
        }
    };
    // PersonId.
    let id = child(pp, "PersonId")
        .ok_or_else(|| cx.err("Personpost", DeliveryErrorKind::Missing("PersonId")))?;
    cx.check_children(
        "Personpost/PersonId",
        id,
        &["PersonNr", "TilldelatPersonNrSamordningsNr"],
    )?;
    let (person_id, identitetstyp) = if let Some(t) = cx.text(id, "PersonNr") {
        (
            cx.pnr("Personpost/PersonId/PersonNr", t)?,
            Identitetstyp::Personnummer,
        )
    } else if let Some(t) = cx.text(id, "TilldelatPersonNrSamordningsNr") {
        let p = cx.pnr("Personpost/PersonId/TilldelatPersonNrSamordningsNr", t)?;
        let typ = match p.kind() {
            PnrKind::Samordningsnummer => Identitetstyp::Samordningsnummer,
            PnrKind::Personnummer => Identitetstyp::TilldelatPersonnummer,
        };
        (p, typ)
    } else {
        return Err(cx.err(
            "Personpost/PersonId",
            DeliveryErrorKind::Missing("PersonNr"),
        ));
    };
    if identitetstyp == Identitetstyp::Personnummer
        && person_id.kind() == PnrKind::Samordningsnummer
    {
        return Err(cx.invalid(
            "Personpost/PersonId/PersonNr",
            "a samordningsnummer belongs in TilldelatPersonNrSamordningsNr",
        ));
    }

    let mut hanvisning = Vec::new();
    for h in pp
        .children
        .iter()
        .filter(|c| c.name == "HanvisningsPersonNr")
    {
        let t = h.text.trim();
        if !t.is_empty() {
            hanvisning.push(cx.pnr("Personpost/HanvisningsPersonNr", t)?);
        }
    }
    mark(present, "HanvisningsPersonNr", Group::Hanvisning);

    let avregistrering = match child(pp, "Avregistrering").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(a) => {
            let path = "Personpost/Avregistrering";
            cx.check_children(
                path,
                a,
                &[
                    "AvregistreringsorsakKod",
                    "Avregistreringsdatum",
                    "AvlidenDatum",
                ],
            )?;
            let kod = cx.required(path, a, "AvregistreringsorsakKod")?;
            Some(Avregistrering {
                orsak: AvregistreringsorsakKod::from_code(&kod).ok_or_else(|| {
                    cx.invalid(&format!("{path}/AvregistreringsorsakKod"), "unknown code")
                })?,
                datum: cx.required_date(path, a, "Avregistreringsdatum")?,
                avliden_datum: cx.date(path, a, "AvlidenDatum")?,
            })
        }
    };
    mark(present, "Avregistrering", Group::Avregistrering);
    let antraffad_dod = cx.date("Personpost", pp, "AntraffadDodDatum")?;
    mark(present, "AntraffadDodDatum", Group::AntraffadDod);

    let namn = match child(pp, "Namn") {
        None => Namn::default(),
        Some(n) => {
            let path = "Personpost/Namn";
            cx.check_children(
                path,
                n,
                &[
                    "Tilltalsnamnsmarkering",
                    "Fornamn",
                    "Mellannamn",
                    "Efternamn",
                    "Aviseringsnamn",
                ],
            )?;
            let tilltal = match cx.text(n, "Tilltalsnamnsmarkering") {
                None => None,
                Some(t) if t.len() == 2 && t.bytes().all(|c| c.is_ascii_digit()) => t.parse().ok(),
                Some(_) => {
                    return Err(cx.invalid(
                        &format!("{path}/Tilltalsnamnsmarkering"),
                        "must be two digits",
                    ))
                }
            };
            let aviseringsnamn = cx.string(n, "Aviseringsnamn");
            if aviseringsnamn
                .as_ref()
                .is_some_and(|a| a.chars().count() > 36)
            {
                return Err(cx.invalid(
                    &format!("{path}/Aviseringsnamn"),
                    "longer than 36 characters",
                ));
            }
            Namn {
                tilltalsnamnsmarkering: tilltal,
                fornamn: cx.string(n, "Fornamn"),
                mellannamn: cx.string(n, "Mellannamn"),
                efternamn: cx.string(n, "Efternamn"),
                aviseringsnamn,
            }
        }
    };
    mark(present, "Namn", Group::Namn);

    let folkbokforing = match child(pp, "Folkbokforing").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(f) => {
            let path = "Personpost/Folkbokforing";
            cx.check_children(
                path,
                f,
                &[
                    "Folkbokforingsdatum",
                    "LanKod",
                    "KommunKod",
                    "Fastighetsbeteckning",
                    "FiktivtNr",
                    "Distrikt",
                    "PaKommunSkriven",
                ],
            )?;
            let lan_kod = cx.required(path, f, "LanKod")?;
            cx.lan(&format!("{path}/LanKod"), &lan_kod)?;
            let kommun_kod = cx.required(path, f, "KommunKod")?;
            if crate::refdata::kommun(&format!("{lan_kod}{kommun_kod}")).is_none() {
                return Err(cx.invalid(&format!("{path}/KommunKod"), "no such kommun in the län"));
            }
            let pa_kommun_skriven = match cx.text(f, "PaKommunSkriven") {
                None | Some("N") => false,
                Some("J") => true,
                Some(_) => {
                    return Err(cx.invalid(&format!("{path}/PaKommunSkriven"), "must be J or N"))
                }
            };
            Some(Folkbokforing {
                folkbokforingsdatum: cx.required_date(path, f, "Folkbokforingsdatum")?,
                lan_kod,
                kommun_kod,
                fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
                fiktivt_nr: cx.string(f, "FiktivtNr"),
                distrikt: cx.string(f, "Distrikt"),
                pa_kommun_skriven,
            })
        }
    };
    mark(present, "Folkbokforing", Group::Folkbokforing);

    let adresser = match child(pp, "Adresser") {
        None => Adresser::default(),
        Some(a) => adresser(cx, a)?,
    };
    mark(present, "Adresser", Group::Adresser);

    let fodelse = match child(pp, "Fodelse") {
        None => Fodelse::default(),
        Some(f) => {
            let path = "Personpost/Fodelse";
            cx.check_children(path, f, &["Fodelsedatum", "HemortSverige", "OrtUtlandet"])?;
            let hemort_sverige = match child(f, "HemortSverige") {
                None => None,
                Some(h) => {
                    let p = "Personpost/Fodelse/HemortSverige";
                    cx.check_children(p, h, &["LanKod", "ForsamlingKommun"])?;
                    let lan_kod = cx.required(p, h, "LanKod")?;
                    cx.lan(&format!("{p}/LanKod"), &lan_kod)?;
                    Some(HemortSverige {
                        lan_kod,
                        forsamling_kommun: cx.required(p, h, "ForsamlingKommun")?,
                    })
                }
            };
            let ort_utlandet = match child(f, "OrtUtlandet") {
                None => None,
                Some(o) => {
                    let p = "Personpost/Fodelse/OrtUtlandet";
                    cx.check_children(p, o, &["Fodelseort", "Fodelseland"])?;
                    Some(OrtUtlandet {
                        fodelseort: cx.required(p, o, "Fodelseort")?,
                        fodelseland: cx.required(p, o, "Fodelseland")?,
                    })
                }
            };
            Fodelse {
                fodelsedatum: cx.date(path, f, "Fodelsedatum")?,
                hemort_sverige,
                ort_utlandet,
            }
        }
    };
    mark(present, "Fodelse", Group::Fodelse);

    let invandringsdatum = match child(pp, "Invandring") {
        None => None,
        Some(i) => {
            cx.check_children("Personpost/Invandring", i, &["Invandringsdatum"])?;
            cx.date("Personpost/Invandring", i, "Invandringsdatum")?
        }
    };
    mark(present, "Invandring", Group::Invandring);
    let rostratt_datum = cx.date("Personpost", pp, "RostrattDatum")?;
    mark(present, "RostrattDatum", Group::Rostratt);

    let civilstand = match child(pp, "Civilstand").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(c) => {
            let path = "Personpost/Civilstand";
            cx.check_children(path, c, &["CivilstandKod", "CivilstandDatum"])?;
            let kod = cx.required(path, c, "CivilstandKod")?;
            Some(Civilstand {
                kod: CivilstandKod::from_code(&kod)
                    .ok_or_else(|| cx.invalid(&format!("{path}/CivilstandKod"), "unknown code"))?,
                datum: cx.date(path, c, "CivilstandDatum")?,
            })
        }
    };
    mark(present, "Civilstand", Group::Civilstand);

    let mut medborgarskap = Vec::new();
    for m in pp
        .children
        .iter()
        .filter(|c| c.name == "Medborgarskap" && !c.children.is_empty())
    {
        let path = "Personpost/Medborgarskap";
        cx.check_children(path, m, &["MedborgarskapslandKod", "Medborgarskapsdatum"])?;
        let landkod = cx.required(path, m, "MedborgarskapslandKod")?;
        cx.land(&format!("{path}/MedborgarskapslandKod"), &landkod)?;
        medborgarskap.push(Medborgarskap {
            landkod,
            datum: cx.date(path, m, "Medborgarskapsdatum")?,
        });
    }
    mark(present, "Medborgarskap", Group::Medborgarskap);

    let mut relationer = Vec::new();
    if let Some(rs) = child(pp, "Relationer") {
        cx.check_children("Personpost/Relationer", rs, &["Relation"])?;
        for r in &rs.children {
            relationer.push(relation(cx, r)?);
        }
    }
    mark(present, "Relationer", Group::Relationer);

    let uppehallsratt = match child(pp, "Uppehallsratt").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(u) => {
            let path = "Personpost/Uppehallsratt";
            cx.check_children(path, u, &["Typ", "Datum"])?;
            Some(Uppehallsratt {
                typ: cx.required(path, u, "Typ")?,
                datum: cx.date(path, u, "Datum")?,
            })
        }
    };
    mark(present, "Uppehallsratt", Group::Uppehallsratt);
    let nordiskt_personnummer =
        match child(pp, "NordisktPersonnummer").filter(|n| !n.children.is_empty()) {
            None => None,
            Some(n) => {
                let path = "Personpost/NordisktPersonnummer";
                cx.check_children(path, n, &["Nummer", "Landkod"])?;
                let landkod = cx.required(path, n, "Landkod")?;
                cx.land(&format!("{path}/Landkod"), &landkod)?;
                Some(NordisktPersonnummer {
                    nummer: cx.required(path, n, "Nummer")?,
                    landkod,
                })
            }
        };
    mark(present, "NordisktPersonnummer", Group::NordisktPersonnummer);

    // Kon and Fodelsetid are derived from the number; if given they must agree with it.
    if let Some(k) = cx.text(pp, "Kon") {
        if k != if person_id.is_male() { "M" } else { "K" } {
            return Err(cx.invalid("Personpost/Kon", "does not agree with the identity number"));
        }
    }
    if let Some(t) = cx.text(pp, "Fodelsetid") {
        let d = Datum::parse(t).map_err(|e| cx.invalid("Personpost/Fodelsetid", &e.to_string()))?;
        if Some(d) != person_id.birth_date().map(Datum::from_date) {
            return Err(cx.invalid(
                "Personpost/Fodelsetid",
                "does not agree with the identity number",
            ));
        }
    }

    let taxering = match child(pp, "Taxering") {
        None => None,
        Some(t) => {
            let path = "Personpost/Taxering";
            cx.check_children(path, t, &["Inkomst", "Fastighet"])?;
            let inkomst = match child(t, "Inkomst") {
                None => None,
                Some(i) => {
                    let p = "Personpost/Taxering/Inkomst";
                    cx.check_children(p, i, &["Ar", "Summa"])?;
                    Some(Inkomst {
                        ar: cx
                            .required(p, i, "Ar")?
                            .parse()
                            .map_err(|_| cx.invalid(&format!("{p}/Ar"), "must be a year"))?,
                        summa: cx.required(p, i, "Summa")?.parse().map_err(|_| {
                            cx.invalid(&format!("{p}/Summa"), "must be whole kronor")
                        })?,
                    })
                }
            };
            let mut fastigheter = Vec::new();
            for f in t.children.iter().filter(|c| c.name == "Fastighet") {
                let p = "Personpost/Taxering/Fastighet";
                cx.check_children(p, f, &["Beteckning", "Kommun"])?;
                let kommun = cx.required(p, f, "Kommun")?;
                if crate::refdata::kommun(&kommun).is_none() {
                    return Err(cx.invalid(&format!("{p}/Kommun"), "unknown kommunkod"));
                }
                fastigheter.push(Fastighetsinnehav {
                    beteckning: cx.required(p, f, "Beteckning")?,
                    kommun,
                });
            }
            (inkomst.is_some() || !fastigheter.is_empty()).then_some(Taxering {
                inkomst,
                fastigheter,
            })
        }
    };
    mark(present, "Taxering", Group::Taxering);

    let mut historik = Vec::new();
    if let Some(h) = child(pp, "Historik") {
        cx.check_children("Personpost/Historik", h, &["Folkbokforing"])?;
        for f in &h.children {
            let path = "Personpost/Historik/Folkbokforing";
            cx.check_children(
                path,
                f,
                &[
                    "FolkbokforingstypKod",
                    "Folkbokforingsdatum",
                    "LanKod",
                    "KommunKod",
                    "Fastighetsbeteckning",
                ],
            )?;
            let typ = cx.required(path, f, "FolkbokforingstypKod")?;
            let lan_kod = cx.string(f, "LanKod");
            if let Some(l) = &lan_kod {
                cx.lan(&format!("{path}/LanKod"), l)?;
            }
            historik.push(HistorikPost {
                typ: Folkbokforingstyp::from_code(&typ).ok_or_else(|| {
                    cx.invalid(&format!("{path}/FolkbokforingstypKod"), "unknown code")
                })?,
                datum: cx.required_date(path, f, "Folkbokforingsdatum")?,
                lan_kod,
                kommun_kod: cx.string(f, "KommunKod"),
                fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
            });
        }
    }
    mark(present, "Historik", Group::Historik);

    let samordning =
        match child(pp, "Samordningsnummeruppgifter").filter(|n| !n.children.is_empty()) {
            None => None,
            Some(s) => {
                let path = "Personpost/Samordningsnummeruppgifter";
                cx.check_children(
                    path,
                    s,
                    &[
                        "Identitetsstatus",
                        "IdentitetsstatusDatum",
                        "IdentitetsstatusOrsak",
                        "Tilldelningsdatum",
                        "PreliminartVilandeforklaringsdatum",
                        "Fornyelsedatum",
                        "Identitetsniva",
                        "IdentitetsnivaDatum",
                    ],
                )?;
                Some(Samordningsuppgifter {
                    identitetsstatus: cx.required(path, s, "Identitetsstatus")?,
                    identitetsstatus_datum: cx.date(path, s, "IdentitetsstatusDatum")?,
                    identitetsstatus_orsak: cx.string(s, "IdentitetsstatusOrsak"),
                    tilldelningsdatum: cx.date(path, s, "Tilldelningsdatum")?,
                    preliminart_vilandeforklaringsdatum: cx.date(
                        path,
                        s,
                        "PreliminartVilandeforklaringsdatum",
                    )?,
                    fornyelsedatum: cx.date(path, s, "Fornyelsedatum")?,
                    identitetsniva: cx.string(s, "Identitetsniva"),
                    identitetsniva_datum: cx.date(path, s, "IdentitetsnivaDatum")?,
                })
            }
        };
    mark(present, "Samordningsnummeruppgifter", Group::Samordning);

    Ok(Personpost {
        person_id,
        identitetstyp,
        hanvisning,
        avregistrering,
        antraffad_dod,
        namn,
        folkbokforing,
        adresser,
        fodelse,
        invandringsdatum,
        rostratt_datum,
        civilstand,
        medborgarskap,
        relationer,
        uppehallsratt,
        nordiskt_personnummer,
        taxering,
        historik,
        samordning,
    })
}

fn svensk_adress(cx: &Ctx, path: &str, n: &Node) -> Result<SvenskAdress, DeliveryError> {
    cx.check_children(
        path,
        n,
        &[
            "CareOf",
            "Utdelningsadress1",
            "Utdelningsadress2",
            "PostNr",
            "Postort",
        ],
    )?;
    let post_nr = cx.string(n, "PostNr");
    if post_nr
        .as_ref()
        .is_some_and(|p| p.len() != 5 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(cx.invalid(&format!("{path}/PostNr"), "must be five digits"));
    }
    Ok(SvenskAdress {
        care_of: cx.string(n, "CareOf"),
        utdelningsadress1: cx.string(n, "Utdelningsadress1"),
        utdelningsadress2: cx.string(n, "Utdelningsadress2"),
        post_nr,
        postort: cx.string(n, "Postort"),
    })
}

fn adresser(cx: &Ctx, a: &Node) -> Result<Adresser, DeliveryError> {
    let path = "Personpost/Adresser";
    cx.check_children(
        path,
        a,
        &[
            "Folkbokforingsadress",
            "SarskildPostadress",
            "Utlandsadress",
            "UUID",
        ],
    )?;
    let utlandsadress = match child(a, "Utlandsadress") {
        None => None,
        Some(u) => {
            let p = "Personpost/Adresser/Utlandsadress";
            cx.check_children(
                p,
                u,
                &[
                    "Utdelningsadress1",
                    "Utdelningsadress2",
                    "Utdelningsadress3",
                    "Land",
                    "Datum",
                ],
            )?;
            Some(Utlandsadress {
                utdelningsadress1: cx.string(u, "Utdelningsadress1"),
                utdelningsadress2: cx.string(u, "Utdelningsadress2"),
                utdelningsadress3: cx.string(u, "Utdelningsadress3"),
                land: cx.string(u, "Land"),
                datum: cx.date(p, u, "Datum")?,
            })
        }
    };
    let uuid = match child(a, "UUID") {
        None => None,
        Some(u) => {
            cx.check_children(
                "Personpost/Adresser/UUID",
                u,
                &["Fastighet", "Adress", "Lagenhet"],
            )?;
            Some(AdressUuid {
                fastighet: cx.string(u, "Fastighet"),
                adress: cx.string(u, "Adress"),
                lagenhet: cx.string(u, "Lagenhet"),
            })
        }
    };
    Ok(Adresser {
        folkbokforingsadress: child(a, "Folkbokforingsadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/Folkbokforingsadress", n))
            .transpose()?,
        sarskild_postadress: child(a, "SarskildPostadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/SarskildPostadress", n))
            .transpose()?,
        utlandsadress,
        uuid,
    })
}

fn relation(cx: &Ctx, r: &Node) -> Result<Relation, DeliveryError> {
    let path = "Personpost/Relationer/Relation";
    cx.check_children(
        path,
        r,
        &[
            "Relationstyp",
            "PersonNr",
            "Fodelsedatum",
            "Fornamn",
            "Efternamn",
            "Avregistreringsorsak",
            "Avregistreringsdatum",
        ],
    )?;
    let typ = cx.required(path, r, "Relationstyp")?;
    let typ = Relationstyp::from_code(&typ)
        .ok_or_else(|| cx.invalid(&format!("{path}/Relationstyp"), "unknown code"))?;
    let person = match cx.text(r, "PersonNr") {
        Some(t) => Relationsperson::PersonNr(cx.pnr(&format!("{path}/PersonNr"), t)?),
        None => Relationsperson::Uppgifter {
            fodelsedatum: cx.required_date(path, r, "Fodelsedatum")?,
            fornamn: cx.string(r, "Fornamn"),
            efternamn: cx.string(r, "Efternamn"),
        },
    };
    let avregistreringsorsak =
        match cx.text(r, "Avregistreringsorsak") {
            None => None,
            Some(k) => Some(AvregistreringsorsakKod::from_code(k).ok_or_else(|| {
                cx.invalid(&format!("{path}/Avregistreringsorsak"), "unknown code")
            })?),
        };
    Ok(Relation {
        typ,
        person,
        avregistreringsorsak,
        avregistreringsdatum: cx.date(path, r, "Avregistreringsdatum")?,
    })
}

#[cfg(test)]
mod tests;
