//! Writer of delivery files: `Navetavisering{Aviseringsinformation, Folkbokforingsposter}`
//! around `Folkbokforingspost` records, valid against Navet's schema, gzip-compressed when
//! the path ends in `.gz`, fsynced on finish.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::header::Aviseringsinformation;
use super::{DeliveryError, DeliveryErrorKind, DeliveryHeader};
use crate::model::change::DeliveryRecord;
use crate::xml::write::{write_post, PostStyle, XSI_NS};

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

/// Writes a delivery file. `AntalPoster` must equal the records written.
pub struct DeliveryWriter {
    writer: Writer<Sink>,
    declared: u64,
    written: u64,
    extensions: bool,
}

fn io(e: std::io::Error) -> DeliveryError {
    DeliveryError::file(DeliveryErrorKind::Io(e))
}

impl DeliveryWriter {
    /// Creates the file and writes the header.
    pub fn create(
        path: &Path,
        info: &Aviseringsinformation,
    ) -> Result<DeliveryWriter, DeliveryError> {
        let file = File::create(path).map_err(io)?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let sink = if gz {
            let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            Sink::Gzip(BufWriter::with_capacity(1 << 20, encoder))
        } else {
            Sink::Plain(BufWriter::with_capacity(1 << 20, file))
        };
        let mut writer = Writer::new(sink);
        write_head(&mut writer, info).map_err(io)?;
        Ok(DeliveryWriter {
            writer,
            declared: info.utfil.antal_poster,
            written: 0,
            extensions: false,
        })
    }

    /// Also writes the terms folkreg keeps that Navet's schema does not have (taxering,
    /// skyddsdatum, på kommunen skriven): for a file meant for folkreg's own loads only —
    /// such a file is not valid against Navet's schema.
    pub fn with_extensions(mut self) -> DeliveryWriter {
        self.extensions = true;
        self
    }

    /// Writes one record.
    pub fn write(&mut self, record: &DeliveryRecord) -> Result<(), DeliveryError> {
        self.write_as(record, crate::access::TermMask::ALL)
    }

    /// Writes one record with only `terms` (file B's fewer terms for protected persons).
    pub fn write_as(
        &mut self,
        record: &DeliveryRecord,
        terms: crate::access::TermMask,
    ) -> Result<(), DeliveryError> {
        let style = PostStyle {
            extensions: self.extensions,
            ..PostStyle::file(record.posttyp, record.present, terms)
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
            write_tail(&mut self.writer)?;
            let file = match self.writer.into_inner() {
                Sink::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
                Sink::Gzip(w) => w.into_inner().map_err(|e| e.into_error())?.finish()?,
            };
            file.sync_all()
        })()
        .map_err(io)
    }
}

/// `<?xml?>`, `<Navetavisering>` with its header, and `<Folkbokforingsposter>`: what comes
/// before the records of a file, however it is written.
pub fn write_head<W: Write>(
    writer: &mut Writer<W>,
    info: &Aviseringsinformation,
) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer.write_event(Event::Text(BytesText::new("\n")))?;
    writer.write_event(Event::Start(
        BytesStart::new("Navetavisering").with_attributes([("xmlns:xsi", XSI_NS)]),
    ))?;
    writer.write_event(Event::Text(BytesText::new("\n")))?;
    info.write(writer)?;
    writer.write_event(Event::Text(BytesText::new("\n")))?;
    writer.write_event(Event::Start(BytesStart::new("Folkbokforingsposter")))?;
    writer.write_event(Event::Text(BytesText::new("\n")))
}

/// What comes after the records of a file.
pub fn write_tail<W: Write>(writer: &mut Writer<W>) -> std::io::Result<()> {
    writer.write_event(Event::End(BytesEnd::new("Folkbokforingsposter")))?;
    writer.write_event(Event::Text(BytesText::new("\n")))?;
    writer.write_event(Event::End(BytesEnd::new("Navetavisering")))?;
    writer.write_event(Event::Text(BytesText::new("\n")))
}

/// Writes a whole single-file delivery with the load facts of `header` (the rest of the
/// Navet header as [`Aviseringsinformation::for_load`] makes it).
pub fn write_delivery<'a>(
    path: &Path,
    header: &DeliveryHeader,
    records: impl IntoIterator<Item = &'a DeliveryRecord>,
) -> Result<(), DeliveryError> {
    write_file(
        path,
        &Aviseringsinformation::for_load(header),
        records,
        false,
    )
}

/// Writes one file of a delivery; `extensions` as [`DeliveryWriter::with_extensions`].
pub fn write_file<'a>(
    path: &Path,
    info: &Aviseringsinformation,
    records: impl IntoIterator<Item = &'a DeliveryRecord>,
    extensions: bool,
) -> Result<(), DeliveryError> {
    let mut w = DeliveryWriter::create(path, info)?;
    if extensions {
        w = w.with_extensions();
    }
    for r in records {
        w.write(r)?;
    }
    w.finish()
}
