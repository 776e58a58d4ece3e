//! Records cut out of the byte stream, so that several threads can read them: after the
//! header (read by [`super::DeliveryReader`] as always), the records of `Folkbokforingsposter`
//! are found by a scan of the bytes — every `<` is looked at, comments, CDATA sections and
//! processing instructions are skipped whole (they may hold any text), and a record ends at
//! the end tag that closes its start tag — and each record's bytes are read by quick-xml on
//! a worker ([`read_chunk`]) exactly as the sequential reader reads them. The envelope after
//! the records is checked as the sequential reader checks it. Errors are the sequential
//! reader's, at the same record positions (`tests` compare the two on every case).

use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::reader::{owned_start, read_tree, xml_err, xml_fault};
use super::{DeliveryError, DeliveryErrorKind};
use crate::xml::read::Node;

/// Bytes asked of the source at a time.
const READ: usize = 1 << 20;
/// Most bytes of one record: far more than the sequential reader's bounds allow
/// (`MAX_ELEMENTS` elements of `MAX_TEXT` characters); a longer one is a broken file.
const MAX_RECORD: usize = 4 << 20;

const RECORD: &[u8] = b"Folkbokforingspost";
const LIST: &[u8] = b"Folkbokforingsposter";
const ROOT: &[u8] = b"Navetavisering";

/// Cuts records out of the rest of a delivery, after `<Folkbokforingsposter>`.
pub(crate) struct Splitter {
    src: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    at: usize,
    eof: bool,
    count: u64,
    antal: u64,
    done: bool,
    /// The source's error, kept until the bytes before it are read (the sequential reader
    /// meets it there too).
    failed: Option<std::io::Error>,
}

/// What the scan found at the start of the unread bytes.
enum Found {
    /// More bytes are needed to tell.
    More,
    /// Bytes to pass over (text, a comment) before the next thing.
    Skip(usize),
    /// A record of this many bytes.
    Record(usize),
    /// `<Folkbokforingspost/>`.
    Empty,
    /// `</Folkbokforingsposter`: the records are done.
    End,
    /// Anything else.
    Unexpected,
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().position(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn name_at(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .position(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
        .unwrap_or(b.len());
    &b[..end]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The length of the markup at `b[0] == b'<'` that is not an element (a comment, a CDATA
/// section, a processing instruction), `Some(None)` if more bytes are needed, `None` if it is
/// an element's tag.
fn skip_special(b: &[u8]) -> Option<Option<usize>> {
    let (open, close): (&[u8], &[u8]) = if b.starts_with(b"<!--") {
        (b"<!--", b"-->")
    } else if b.starts_with(b"<![CDATA[") {
        (b"<![CDATA[", b"]]>")
    } else if b.starts_with(b"<?") {
        (b"<?", b"?>")
    } else if b.len() < 9 && (b"<![CDATA[".starts_with(b) || b"<!--".starts_with(b)) {
        return Some(None);
    } else {
        return None;
    };
    Some(find(&b[open.len()..], close).map(|i| open.len() + i + close.len()))
}

/// The end of the tag at `b[0] == b'<'` (after its `>`), quote-aware; `None` if more bytes
/// are needed.
fn tag_end(b: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, c) in b.iter().enumerate().skip(1) {
        match (quote, c) {
            (Some(q), c) if *c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(*c),
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The record that starts at `b[0]` (`<Folkbokforingspost…`).
fn record_len(b: &[u8]) -> Found {
    let Some(first) = tag_end(b) else {
        return Found::More;
    };
    if b[first - 2] == b'/' {
        return Found::Empty;
    }
    let mut depth = 1usize;
    let mut i = first;
    while let Some(lt) = memchr::memchr(b'<', &b[i..]) {
        let p = i + lt;
        let rest = &b[p..];
        if rest.len() < 2 {
            return Found::More;
        }
        match skip_special(rest) {
            Some(Some(n)) => {
                i = p + n;
                continue;
            }
            Some(None) => return Found::More,
            None => {}
        }
        let closing = rest[1] == b'/';
        let name = name_at(&rest[1 + usize::from(closing)..]);
        if 1 + usize::from(closing) + name.len() >= rest.len() {
            return Found::More;
        }
        if local(name) == RECORD {
            let Some(end) = tag_end(rest) else {
                return Found::More;
            };
            if closing {
                depth -= 1;
                if depth == 0 {
                    return Found::Record(p + end);
                }
            } else if rest[end - 2] != b'/' {
                depth += 1;
            }
        }
        i = p + 1;
    }
    Found::More
}

/// What the unread bytes `b` start with, between records.
fn between(b: &[u8]) -> Found {
    let Some(lt) = memchr::memchr(b'<', b) else {
        return if b.is_empty() {
            Found::More
        } else {
            Found::Skip(b.len())
        };
    };
    if lt > 0 {
        return Found::Skip(lt);
    }
    if b.len() < 2 {
        return Found::More;
    }
    if b.starts_with(b"<!--") {
        return match find(&b[4..], b"-->") {
            Some(i) => Found::Skip(4 + i + 3),
            None => Found::More,
        };
    }
    if b.len() < 4 && b"<!--".starts_with(b) {
        return Found::More;
    }
    let closing = b[1] == b'/';
    let name = name_at(&b[1 + usize::from(closing)..]);
    if 1 + usize::from(closing) + name.len() >= b.len() {
        return Found::More;
    }
    match (closing, local(name)) {
        (false, RECORD) => record_len(b),
        (true, LIST) => Found::End,
        _ => Found::Unexpected,
    }
}

impl Splitter {
    /// Takes over the rest of a delivery whose header declared `antal` records.
    pub(crate) fn new(src: Box<dyn BufRead + Send>, antal: u64) -> Splitter {
        Splitter {
            src,
            buf: Vec::with_capacity(READ * 2),
            at: 0,
            eof: false,
            count: 0,
            antal,
            done: false,
            failed: None,
        }
    }

    /// Reads more bytes; false at the end of the source.
    fn fill(&mut self) -> Result<bool, DeliveryError> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let have = self.buf.len();
        self.buf.resize(have + READ, 0);
        let n = loop {
            match self.src.read(&mut self.buf[have..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = Some(e);
                    break 0;
                }
            }
        };
        self.buf.truncate(have + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// The next record's bytes and its 1-based position; `None` after the last one (the
    /// envelope closed and the count checked).
    pub(crate) fn next_chunk(&mut self) -> Result<Option<(Vec<u8>, u64)>, DeliveryError> {
        if self.done {
            return Ok(None);
        }
        let next = self.scan();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next
    }

    fn scan(&mut self) -> Result<Option<(Vec<u8>, u64)>, DeliveryError> {
        loop {
            let pos = Some(self.count + 1);
            match between(&self.buf[self.at..]) {
                Found::More => {
                    if self.buf.len() - self.at > MAX_RECORD {
                        return Err(DeliveryError {
                            record: pos,
                            element: None,
                            kind: DeliveryErrorKind::Invalid(
                                "record nested too deep or too large".into(),
                            ),
                        });
                    }
                    if !self.fill()? {
                        let tail = &self.buf[self.at..];
                        return Err(tail_error(tail, self.count + 1, self.failed.take()));
                    }
                }
                Found::Skip(n) => self.at += n,
                Found::Record(n) => {
                    self.count += 1;
                    let chunk = self.buf[self.at..self.at + n].to_vec();
                    self.at += n;
                    return Ok(Some((chunk, self.count)));
                }
                Found::Empty => {
                    self.count += 1;
                    return Err(DeliveryError {
                        record: pos,
                        element: Some("Folkbokforingspost".into()),
                        kind: DeliveryErrorKind::Missing("Personpost"),
                    });
                }
                Found::Unexpected => {
                    return Err(DeliveryError {
                        record: pos,
                        element: None,
                        kind: DeliveryErrorKind::UnexpectedElement,
                    })
                }
                Found::End => {
                    self.finish()?;
                    if self.count != self.antal {
                        return Err(DeliveryError::file(DeliveryErrorKind::Antal {
                            declared: self.antal,
                            found: self.count,
                        }));
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// After `</Folkbokforingsposter`: its `>`, then only text and comments around
    /// `</Navetavisering>`, then the end of the file — as the sequential reader checks it.
    fn finish(&mut self) -> Result<(), DeliveryError> {
        while self.fill()? {}
        let failed = self.failed.take();
        let rest = &self.buf[self.at..];
        // Where the bytes run out: the source's error if it had one, else the end.
        let ends = |closed: bool| match &failed {
            Some(e) => Err(xml_fault(
                None,
                None,
                &quick_xml::Error::Io(std::sync::Arc::new(std::io::Error::new(
                    e.kind(),
                    e.to_string(),
                ))),
            )),
            None if closed => Ok(()),
            None => Err(xml_err(
                None,
                "the file ends before </Navetavisering> (truncated?)",
            )),
        };
        let Some(mut i) = tag_end(rest) else {
            return ends(false);
        };
        let mut closed = false;
        loop {
            let b = &rest[i..];
            let Some(lt) = memchr::memchr(b'<', b) else {
                return ends(closed);
            };
            let b = &b[lt..];
            if b.starts_with(b"<!--") {
                match find(&b[4..], b"-->") {
                    Some(n) => i += lt + 4 + n + 3,
                    None => return ends(false),
                }
                continue;
            }
            // The bytes may run out inside the tag.
            let Some(n) = tag_end(b) else {
                return ends(false);
            };
            if !closed && b.starts_with(b"</") && local(name_at(&b[2..])) == ROOT {
                i += lt + n;
                closed = true;
                continue;
            }
            return Err(xml_err(None, "content after the delivery"));
        }
    }
}

/// The bytes left where the source ended (or failed: `failed`) read as the sequential reader
/// reads them from there, to the report it gives: a cut-off record's, with its element path,
/// or the delivery's.
fn tail_error(tail: &[u8], pos: u64, failed: Option<std::io::Error>) -> DeliveryError {
    /// The tail, then the source's error where the sequential reader met it.
    struct Then<'a>(&'a [u8], Option<std::io::Error>);
    impl std::io::Read for Then<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if !self.0.is_empty() {
                let n = out.len().min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                return Ok(n);
            }
            match self.1.take() {
                Some(e) => Err(e),
                None => Ok(0),
            }
        }
    }
    let mut reader = Reader::from_reader(std::io::BufReader::new(Then(tail, failed)));
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let at = Some(pos);
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Err(e) => return xml_fault(at, None, &e),
            Ok(Event::Comment(_) | Event::Text(_) | Event::GeneralRef(_)) => {}
            Ok(Event::Start(e)) if local(e.name().as_ref()) == RECORD => {
                let start = owned_start(&e);
                return match read_tree(&mut reader, &mut buf, start, at) {
                    Err(e) => e,
                    Ok(_) => xml_err(at, "the file ends inside the delivery (truncated?)"),
                };
            }
            Ok(Event::Eof) => {
                return xml_err(None, "the file ends inside the delivery (truncated?)")
            }
            Ok(_) => {
                return DeliveryError {
                    record: at,
                    element: None,
                    kind: DeliveryErrorKind::UnexpectedElement,
                }
            }
        }
    }
}

/// Reads one record's bytes as the sequential reader reads a record: its element tree, with
/// the same limits and errors.
pub(crate) fn read_chunk(chunk: &[u8], pos: u64) -> Result<Node, DeliveryError> {
    let mut reader = Reader::from_reader(chunk);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let at = Some(pos);
    match reader
        .read_event_into(&mut buf)
        .map_err(|e| xml_fault(at, None, &e))?
    {
        Event::Start(e) => {
            let start = owned_start(&e);
            read_tree(&mut reader, &mut buf, start, at)
        }
        _ => Err(xml_err(at, "a record does not start with its element")),
    }
}
