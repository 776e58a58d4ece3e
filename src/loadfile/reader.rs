//! Streaming reader of delivery files: constant memory whatever the file size (one record's
//! small element tree at a time), `.xml.gz` detected by its magic bytes, every value validated
//! (each record's tree by [`crate::xml::read`]).
//!
//! Errors name the record's 1-based position and the element path, and say what is wrong —
//! never the value, so a report can be logged without leaking personal data.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::encoding::EncodingError;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::header::Aviseringsinformation;
use super::{DeliveryError, DeliveryErrorKind, DeliveryHeader};
use crate::model::change::DeliveryRecord;
use crate::xml::read::{record, shown, Node};
use crate::xml::shape::longer_than;

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
    info: Aviseringsinformation,
    header: DeliveryHeader,
    count: u64,
    done: bool,
}

pub(crate) fn at(
    record: Option<u64>,
    element: Option<String>,
    kind: DeliveryErrorKind,
) -> DeliveryError {
    DeliveryError {
        record,
        element,
        kind,
    }
}

/// A problem of our own wording (never text from the file).
pub(crate) fn xml_err(record: Option<u64>, what: &'static str) -> DeliveryError {
    at(record, None, DeliveryErrorKind::Xml(what.to_owned()))
}

/// quick-xml's error, said in words that carry nothing from the file.
pub(crate) fn xml_fault(
    record: Option<u64>,
    element: Option<String>,
    e: &quick_xml::Error,
) -> DeliveryError {
    at(record, element, DeliveryErrorKind::Xml(xml_problem(e)))
}

/// An entity other than the five predefined ones, a broken character reference, a bare `&`.
const BAD_REFERENCE: &str = "an unknown entity or an invalid character reference";

/// What is wrong with the XML. quick-xml's own texts quote the file — the names of
/// mismatched tags, of unknown entities — and in a broken file anything can stand there (an
/// identity number, a name); a report is logged and written beside the file, so it says what
/// is wrong in fixed words and leaves the place to the record number and element path.
pub(crate) fn xml_problem(e: &quick_xml::Error) -> String {
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
            IllFormedError::UnknownVersion => "the XML declaration has an unknown version",
            // A bare `&` (quick-xml 0.37 reported it as an escape error).
            IllFormedError::UnclosedReference => BAD_REFERENCE,
        }
        .to_owned(),
        Error::Encoding(_) => "the file is not UTF-8".to_owned(),
        Error::Escape(_) => BAD_REFERENCE.to_owned(),
        Error::Namespace(_) => "an undeclared or invalid namespace prefix".to_owned(),
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
        // Text is trimmed by [`TextRun`], not by the reader: since quick-xml 0.38 a reference
        // is its own event, and the reader's trimming would eat the spaces beside it.
        reader.config_mut().trim_text(false);
        reader.config_mut().check_end_names = true;
        let mut buf = Vec::with_capacity(4096);
        loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::Decl(_)
                | Event::Comment(_)
                | Event::PI(_)
                | Event::Text(_)
                | Event::GeneralRef(_) => {}
                Event::DocType(_) => return Err(DeliveryError::file(DeliveryErrorKind::Doctype)),
                Event::Start(e) => break check_root(&e)?,
                _ => return Err(DeliveryError::file(DeliveryErrorKind::Root)),
            }
        }
        // `Aviseringsinformation` (optional in Navet's schema, required to load).
        let info = loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::Comment(_) | Event::Text(_) | Event::GeneralRef(_) => {}
                Event::Start(e) if e.local_name().as_ref() == b"Aviseringsinformation" => {
                    let start = owned_start(&e);
                    let node = read_tree(&mut reader, &mut buf, start, None)?;
                    break Aviseringsinformation::from_node(&node)?;
                }
                _ => {
                    return Err(DeliveryError::file(DeliveryErrorKind::Missing(
                        "Aviseringsinformation",
                    )))
                }
            }
        };
        let header = info.load_facts()?;
        // Then the list element.
        loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| xml_fault(None, None, &e))?
            {
                Event::Comment(_) | Event::Text(_) | Event::GeneralRef(_) => {}
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
            info,
            header,
            count: 0,
            done: false,
        })
    }

    /// What a load takes from the header.
    pub fn header(&self) -> &DeliveryHeader {
        &self.header
    }

    /// The header as the file has it.
    pub fn info(&self) -> &Aviseringsinformation {
        &self.info
    }

    fn next_record(&mut self) -> Result<Option<DeliveryRecord>, DeliveryError> {
        match self.read_tree_or_end()? {
            Some((node, pos)) => record(node, pos).map(Some),
            None => Ok(None),
        }
    }

    /// The next record's element tree and its 1-based position; `None` at the end of a
    /// whole, counted file.
    fn read_tree_or_end(&mut self) -> Result<Option<(Node, u64)>, DeliveryError> {
        loop {
            self.buf.clear();
            let pos = Some(self.count + 1);
            match self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| xml_fault(pos, None, &e))?
            {
                Event::Comment(_) | Event::Text(_) | Event::GeneralRef(_) => {}
                Event::Start(e) if e.local_name().as_ref() == b"Folkbokforingspost" => {
                    self.count += 1;
                    let start = owned_start(&e);
                    let node = read_tree(&mut self.reader, &mut self.buf, start, pos)?;
                    return Ok(Some((node, self.count)));
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
                Event::Text(_) | Event::GeneralRef(_) | Event::Comment(_) => {}
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

impl DeliveryReader {
    /// The records of the rest of the file as byte chunks, for several threads to read
    /// ([`super::split`]); the header is read already.
    pub(crate) fn into_splitter(self) -> super::split::Splitter {
        let antal = self.header.antal;
        super::split::Splitter::new(Box::new(self.reader.into_inner()), antal)
    }
}

/// Maps a record's tree (read by [`super::split::read_chunk`]) to the validated record.
pub(crate) fn map_tree(node: Node, pos: u64) -> Result<DeliveryRecord, DeliveryError> {
    record(node, pos)
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

/// The root must be `Navetavisering` in no namespace, as Navet's schema has it.
fn check_root(e: &BytesStart<'_>) -> Result<(), DeliveryError> {
    if e.local_name().as_ref() != b"Navetavisering" || e.name().prefix().is_some() {
        return Err(DeliveryError::file(DeliveryErrorKind::Root));
    }
    for a in e.attributes() {
        let a = a.map_err(|e| xml_fault(None, None, &e.into()))?;
        if a.key.as_ref() == b"xmlns" && !a.value.is_empty() {
            return Err(DeliveryError::file(DeliveryErrorKind::Root));
        }
    }
    Ok(())
}

/// An attribute's value, UTF-8 with its references decoded, as quick-xml 0.37's
/// `unescape_value` gave it (0.38's `normalized_value` also turns tabs and newlines into spaces).
fn attr_value(a: &Attribute<'_>) -> Result<String, quick_xml::Error> {
    let raw = std::str::from_utf8(&a.value)
        .map_err(|e| quick_xml::Error::from(EncodingError::from(e)))?;
    Ok(quick_xml::escape::unescape(raw)?.into_owned())
}

/// The character data between two pieces of markup, trimmed at its ends as quick-xml 0.37's
/// `trim_text(true)` did it: XML whitespace written as such is trimmed, a reference (even
/// `&#32;`) is kept, and so is the whitespace beside it inside the run.
#[derive(Default)]
struct TextRun {
    text: String,
    /// Bytes at the end of `text` that are whitespace written as such (trimmed if the run
    /// ends here).
    trailing_ws: usize,
}

impl TextRun {
    fn is_xml_ws(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\r' | '\n')
    }

    /// Adds a text event's characters.
    fn text(&mut self, raw: &str) {
        let raw = if self.text.is_empty() {
            raw.trim_start_matches(Self::is_xml_ws)
        } else {
            raw
        };
        let content = raw.trim_end_matches(Self::is_xml_ws).len();
        self.trailing_ws = if content == 0 {
            self.trailing_ws + raw.len()
        } else {
            raw.len() - content
        };
        self.text.push_str(raw);
    }

    /// Adds a reference's characters.
    fn reference(&mut self, chars: &str) {
        self.text.push_str(chars);
        self.trailing_ws = 0;
    }

    /// Characters the run holds for sure, whatever follows.
    fn kept_chars(&self) -> usize {
        self.text[..self.text.len() - self.trailing_ws]
            .chars()
            .count()
    }

    /// The run, trimmed; the run starts anew.
    fn take(&mut self) -> String {
        self.text.truncate(self.text.len() - self.trailing_ws);
        self.trailing_ws = 0;
        std::mem::take(&mut self.text)
    }
}

/// The characters of a reference: a character reference or one of the five predefined
/// entities; `None` for anything else.
fn reference_chars(r: &BytesRef<'_>) -> Option<String> {
    if let Some(c) = r.resolve_char_ref().ok()? {
        return Some(c.to_string());
    }
    let name = r.decode().ok()?;
    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
}

pub(crate) fn owned_start(e: &BytesStart<'_>) -> Node {
    let mut n = Node {
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        ..Default::default()
    };
    for a in e.attributes().flatten() {
        if let Ok(v) = attr_value(&a) {
            n.attrs.push((
                String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                v,
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

pub(crate) fn read_tree<R: BufRead>(
    reader: &mut Reader<R>,
    buf: &mut Vec<u8>,
    root: Node,
    pos: Option<u64>,
) -> Result<Node, DeliveryError> {
    let mut stack = vec![root];
    let mut count = 0usize;
    let mut run = TextRun::default();
    let too_long =
        |stack: &[Node]| at(pos, stack_path(stack), DeliveryErrorKind::TooLong(MAX_TEXT));
    loop {
        buf.clear();
        let ev = reader
            .read_event_into(buf)
            .map_err(|e| xml_fault(pos, stack_path(&stack), &e))?;
        match &ev {
            Event::Text(t) => {
                let text = t
                    .decode()
                    .map_err(|e| xml_fault(pos, stack_path(&stack), &e.into()))?;
                run.text(&text);
            }
            Event::GeneralRef(r) => match reference_chars(r) {
                Some(chars) => run.reference(&chars),
                None => {
                    return Err(at(
                        pos,
                        stack_path(&stack),
                        DeliveryErrorKind::Xml(BAD_REFERENCE.to_owned()),
                    ))
                }
            },
            // Markup ends the run: its text belongs to the element open now.
            _ => {
                let text = run.take();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                    if longer_than(&top.text, MAX_TEXT) {
                        return Err(too_long(&stack));
                    }
                }
            }
        }
        // A run is bounded before it ends (its trailing whitespace may still be trimmed).
        if let Some(top) = stack.last() {
            // Characters are never more than bytes: count them only past the limit in bytes.
            if top.text.len() + run.text.len() > MAX_TEXT
                && top.text.chars().count() + run.kept_chars() > MAX_TEXT
            {
                return Err(too_long(&stack));
            }
        }
        match ev {
            Event::Text(_) | Event::GeneralRef(_) => {}
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

#[cfg(test)]
pub(crate) mod tests;
