//! Writer of delivery files: the `Navetavisering` envelope around `Folkbokforingspost`
//! records, gzip-compressed when the path ends in `.gz`, fsynced on finish.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{DeliveryError, DeliveryErrorKind, DeliveryHeader, DELIVERY_NS};
use crate::model::change::DeliveryRecord;
use crate::xml::write::{write_post, PostStyle};

/// Where the bytes go.
enum Sink {
    Plain(BufWriter<File>),
    /// Buffered before the encoder: quick-xml writes many small pieces, and each write into
    /// a `GzEncoder` runs the compressor.
    Gzip(BufWriter<flate2::write::GzEncoder<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

/// Writes a delivery file. `header.antal` must equal the records written.
pub struct DeliveryWriter {
    writer: Writer<Sink>,
    declared: u64,
    written: u64,
}

fn io(e: std::io::Error) -> DeliveryError {
    DeliveryError::file(DeliveryErrorKind::Io(e))
}

impl DeliveryWriter {
    /// Creates the file and writes the header.
    pub fn create(path: &Path, header: &DeliveryHeader) -> Result<DeliveryWriter, DeliveryError> {
        let file = File::create(path).map_err(io)?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let sink = if gz {
            let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            Sink::Gzip(BufWriter::with_capacity(1 << 20, encoder))
        } else {
            Sink::Plain(BufWriter::with_capacity(1 << 20, file))
        };
        let mut writer = Writer::new(sink);
        let lop = header.lopnummer.to_string();
        let antal = header.antal.to_string();
        let start = BytesStart::new("Navetavisering").with_attributes([
            ("xmlns", DELIVERY_NS),
            ("Lopnummer", lop.as_str()),
            ("Typ", header.typ.code()),
            ("Skapad", header.skapad.as_str()),
            ("Antal", antal.as_str()),
        ]);
        (|| -> std::io::Result<()> {
            writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            writer.write_event(Event::Text(BytesText::new("\n")))?;
            writer.write_event(Event::Start(start))?;
            writer.write_event(Event::Text(BytesText::new("\n")))?;
            writer.write_event(Event::Start(BytesStart::new("Folkbokforingsposter")))?;
            writer.write_event(Event::Text(BytesText::new("\n")))
        })()
        .map_err(io)?;
        Ok(DeliveryWriter {
            writer,
            declared: header.antal,
            written: 0,
        })
    }

    /// Writes one record.
    pub fn write(&mut self, record: &DeliveryRecord) -> Result<(), DeliveryError> {
        let style = PostStyle {
            posttyp: Some(record.posttyp),
            present: record.present,
            terms: crate::access::TermMask::ALL,
        };
        write_post(&mut self.writer, &record.post, style).map_err(io)?;
        self.writer
            .write_event(Event::Text(BytesText::new("\n")))
            .map_err(io)?;
        self.written += 1;
        Ok(())
    }

    /// Closes the envelope, flushes and syncs the file. Fails if fewer or more records were
    /// written than the header declared.
    pub fn finish(mut self) -> Result<(), DeliveryError> {
        if self.written != self.declared {
            return Err(DeliveryError::file(DeliveryErrorKind::Antal {
                declared: self.declared,
                found: self.written,
            }));
        }
        (|| -> std::io::Result<()> {
            self.writer
                .write_event(Event::End(BytesEnd::new("Folkbokforingsposter")))?;
            self.writer.write_event(Event::Text(BytesText::new("\n")))?;
            self.writer
                .write_event(Event::End(BytesEnd::new("Navetavisering")))?;
            self.writer.write_event(Event::Text(BytesText::new("\n")))?;
            let file = match self.writer.into_inner() {
                Sink::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
                Sink::Gzip(w) => w.into_inner().map_err(|e| e.into_error())?.finish()?,
            };
            file.sync_all()
        })()
        .map_err(io)
    }
}

/// Writes a whole delivery.
pub fn write_delivery<'a>(
    path: &Path,
    header: &DeliveryHeader,
    records: impl IntoIterator<Item = &'a DeliveryRecord>,
) -> Result<(), DeliveryError> {
    let mut w = DeliveryWriter::create(path, header)?;
    for r in records {
        w.write(r)?;
    }
    w.finish()
}
