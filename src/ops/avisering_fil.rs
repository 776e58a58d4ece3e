//! A delivery as Navet's avisering file: `GET /na/na_avisering/V1/fil/{BestallningsId}/{LopNr}/{A|B}`
//! over the same mutual-TLS channel as the SOAP operations, answered with a `Navetavisering`
//! document (`Navetavisering.xsd`) that the receiver's existing importer reads — the same
//! records and header facts as the `hamtaAvisering` pages of that delivery.
//!
//! Rendered when fetched, with the receiver's access of that moment (DOMAIN.md §4), from one
//! store snapshot in two passes: the first decides which records leave (so the header's
//! `AntalPoster` is true and the audit line names every number before a byte leaves), the
//! second streams them in chunks — memory stays bounded whatever the delivery's size. Asking
//! for delivery N acknowledges every delivery before it, as `hamtaAvisering` does.

use bytes::Bytes;
use std::io::Write;
use tokio::sync::{mpsc, oneshot};

use super::{Caller, Context, OpError};
use crate::avisering::feed::{Feed, FeedRecord, OrderKey};
use crate::avisering::select::Fil;
use crate::ids::BestallningsId;
use crate::loadfile::header::{self, Aviseringsinformation, Part, Utfil};
use crate::loadfile::writer::{write_head, write_tail};
use crate::soap::Fault;
use crate::store::StoreError;
use crate::xml::write::{write_post, PostStyle};

/// The path prefix of delivery files.
pub const PREFIX: &str = "/na/na_avisering/V1/fil/";

/// Records read from the feed at a time.
const BATCH: u64 = 1_000;
/// Bytes per chunk sent to the connection.
const CHUNK: usize = 64 * 1024;
/// Chunks the renderer may be ahead of the connection.
const AHEAD: usize = 8;

/// What a download path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilPath {
    /// The order.
    pub bestallnings_id: BestallningsId,
    /// The delivery.
    pub lopnummer: u64,
    /// File A or B.
    pub fil: Fil,
}

impl FilPath {
    /// `None` if the path is not a download's; `Some(Err)` if it is, but malformed.
    pub fn parse(path: &str) -> Option<Result<FilPath, Fault>> {
        let rest = path.strip_prefix(PREFIX)?;
        let bad = |what: &str| Some(Err(Fault::BadRequest(what.to_owned())));
        let mut parts = rest.split('/');
        let (Some(id), Some(lop), Some(fil), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return bad("the path is /na/na_avisering/V1/fil/{BestallningsId}/{LopNr}/{A|B}");
        };
        let Ok(bestallnings_id) = id.parse::<BestallningsId>() else {
            return bad("the path's BestallningsId is not one");
        };
        let Some(lopnummer) = lop.parse::<u64>().ok().filter(|n| *n >= 1) else {
            return bad("the path's LopNr must be a whole number from 1");
        };
        let fil = match fil {
            "A" => Fil::A,
            "B" => Fil::B,
            _ => return bad("the path's file must be A or B"),
        };
        Some(Ok(FilPath {
            bestallnings_id,
            lopnummer,
            fil,
        }))
    }
}

/// A delivery file ready to stream: the audit facts first, the bytes once `go` says so.
pub struct Prepared {
    /// The file's name (`Utfil/Filnamn`).
    pub filnamn: String,
    /// The identity numbers in the file, for the audit lines (12 bytes each).
    pub returned: Vec<crate::ids::Pnr>,
    /// `true` lets the bytes flow (the audit line is on disk); `false` or dropped: nothing
    /// leaves.
    pub go: oneshot::Sender<bool>,
    /// The file's bytes, gzip-compressed if asked for.
    pub body: mpsc::Receiver<std::io::Result<Bytes>>,
}

/// Why a download has no file: the delivery is not produced yet (HTTP 404).
pub const NOT_READY: &str = "the delivery is not produced yet";

/// Decides what the file holds and starts the renderer, which waits for `go`.
pub async fn prepare(
    cx: &Context<'_>,
    caller: &Caller,
    path: FilPath,
    gzip: bool,
) -> Result<Option<Prepared>, OpError> {
    let order = super::delivery_order_with(caller, path.fil)?;
    let split = order.split();
    let bestallningstyp = order.bestallningstyp(path.lopnummer);
    let key = caller.feed_key();
    let access = caller.org.access();
    let mottagare = Part {
        orgnr: caller.org.orgnr.wire(),
        namn: Some(caller.org.namn.chars().take(40).collect()),
    };
    let now = cx.now;
    let feed = cx.feed.clone();
    let store = cx.store.clone();
    let (ready_tx, ready_rx) = oneshot::channel();
    let (go_tx, go_rx) = oneshot::channel::<bool>();
    let (body_tx, body_rx) = mpsc::channel(AHEAD);
    let id = path.bestallnings_id.to_string();
    // One blocking task for both passes: they see one snapshot of the store.
    tokio::task::spawn_blocking(move || {
        let first = (|| -> Result<Option<_>, OpError> {
            let Some(produced) = super::asked_delivery(&feed, &key, path.lopnummer, now)? else {
                return Ok(None);
            };
            let snapshot = store.snapshot();
            let mut returned = Vec::new();
            let total = produced.antal[usize::from(path.fil == Fil::B)];
            each(&feed, &key, path.lopnummer, path.fil, total, |pnr, r| {
                if r.view_for(&access, &snapshot)?.is_some() {
                    returned.push(*pnr);
                }
                Ok::<(), StoreError>(())
            })?;
            // A delivery with a file B is one delivery of two files (FilNr 1 and 2): each
            // header counts the records of both, as they leave now.
            let mut totalt = returned.len() as u64;
            if split {
                let other = if path.fil == Fil::B { Fil::A } else { Fil::B };
                let n = produced.antal[usize::from(other == Fil::B)];
                each(&feed, &key, path.lopnummer, other, n, |_, r| {
                    if r.view_for(&access, &snapshot)?.is_some() {
                        totalt += 1;
                    }
                    Ok::<(), StoreError>(())
                })?;
            }
            let info = Aviseringsinformation {
                leverantor: Part {
                    orgnr: header::FOLKREG_ORGNR.into(),
                    namn: Some("folkreg".into()),
                },
                mottagare: mottagare.clone(),
                bestallnings_id: id.clone(),
                filtyp: Some(if path.fil == Fil::B { "B" } else { "A" }.into()),
                bestallningstyp: bestallningstyp.into(),
                produkt: header::PRODUKT.into(),
                utfil: Utfil {
                    filnamn: filnamn(&id, path.lopnummer, path.fil),
                    effektueringsdatum: produced
                        .skapad
                        .with_timezone(&chrono_tz::Europe::Stockholm)
                        .date_naive(),
                    antal_poster: returned.len() as u64,
                    antal_poster_totalt: totalt,
                    antal_filer: if split { 2 } else { 1 },
                    fil_nr: if path.fil == Fil::B { 2 } else { 1 },
                    filtitel: None,
                    jobb_id: u32::try_from(path.lopnummer % 99_999_999).unwrap_or(0) + 1,
                    lop_nr: u32::try_from(path.lopnummer).ok().filter(|l| *l <= 99_999),
                },
            };
            Ok(Some((info, returned, snapshot, total)))
        })();
        let (info, returned, snapshot, total) = match first {
            Ok(Some(x)) => x,
            Ok(None) => {
                let _ = ready_tx.send(Ok(None));
                return;
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let filnamn = info.utfil.filnamn.clone();
        if ready_tx.send(Ok(Some((filnamn, returned)))).is_err() {
            return;
        }
        if go_rx.blocking_recv() != Ok(true) {
            return;
        }
        let sink = Chunks {
            tx: body_tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let result = if gzip {
            // Buffered before the encoder: quick-xml writes many small pieces, and each write
            // into a `GzEncoder` runs the compressor (5× slower unbuffered, measured).
            let mut w = quick_xml::Writer::new(std::io::BufWriter::with_capacity(
                CHUNK,
                flate2::write::GzEncoder::new(sink, flate2::Compression::fast()),
            ));
            render(&mut w, &info, &feed, &key, path, total, &access, &snapshot)
                .and_then(|()| w.into_inner().into_inner().map_err(|e| e.into_error()))
                .and_then(|gz| gz.finish())
                .and_then(Chunks::finish)
        } else {
            let mut w = quick_xml::Writer::new(sink);
            render(&mut w, &info, &feed, &key, path, total, &access, &snapshot)
                .and_then(|()| w.into_inner().finish())
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "a delivery file stopped while it was sent");
        }
    });
    let Ok(ready) = ready_rx.await else {
        return Err(OpError::Panicked);
    };
    Ok(ready?.map(|(filnamn, returned)| Prepared {
        filnamn,
        returned,
        go: go_tx,
        body: body_rx,
    }))
}

/// Name of a delivered file: order, löpnummer and file (at most 40 characters).
fn filnamn(id: &str, lopnummer: u64, fil: Fil) -> String {
    let f = if fil == Fil::B { "B" } else { "A" };
    format!("{id}-{lopnummer:05}-{f}.xml")
}

/// Calls `f` on every record of a delivery's file, in order, a batch at a time.
fn each<E: From<StoreError>>(
    feed: &Feed,
    key: &OrderKey,
    lopnummer: u64,
    fil: Fil,
    total: u64,
    mut f: impl FnMut(&crate::ids::Pnr, &FeedRecord) -> Result<(), E>,
) -> Result<(), E> {
    let mut from = 0;
    while from < total {
        for (pnr, r) in feed.records(key, lopnummer, fil, from, BATCH)? {
            f(&pnr, &r)?;
        }
        from += BATCH;
    }
    Ok(())
}

/// Why the second pass stopped: the store, or the connection.
#[derive(Debug)]
enum RenderError {
    Store(StoreError),
    Io(std::io::Error),
}

impl From<StoreError> for RenderError {
    fn from(e: StoreError) -> Self {
        RenderError::Store(e)
    }
}

impl From<std::io::Error> for RenderError {
    fn from(e: std::io::Error) -> Self {
        RenderError::Io(e)
    }
}

impl From<RenderError> for std::io::Error {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Io(e) => e,
            RenderError::Store(e) => std::io::Error::other(e.to_string()),
        }
    }
}

/// The second pass: the header and every record the first pass counted.
#[allow(clippy::too_many_arguments)]
fn render<W: Write>(
    w: &mut quick_xml::Writer<W>,
    info: &Aviseringsinformation,
    feed: &Feed,
    key: &OrderKey,
    path: FilPath,
    total: u64,
    access: &crate::access::Access,
    snapshot: &crate::store::Snapshot<'_>,
) -> std::io::Result<()> {
    write_head(w, info)?;
    each(feed, key, path.lopnummer, path.fil, total, |_, r| {
        if let Some((n, _)) = r.view_for(access, snapshot)? {
            write_post(w, &n.post, PostStyle::file(n.kind, n.terms, n.terms))?;
            w.get_mut().write_all(b"\n")?;
        }
        Ok::<(), RenderError>(())
    })?;
    write_tail(w)
}

/// A writer that hands the connection chunks of [`CHUNK`] bytes; an error when the
/// connection is gone.
struct Chunks {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the receiver left"))
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let ok = FilPath::parse("/na/na_avisering/V1/fil/00000079-AV02-0001/3/B")
            .unwrap()
            .unwrap();
        assert_eq!(ok.lopnummer, 3);
        assert_eq!(ok.fil, Fil::B);
        assert!(FilPath::parse("/na/na_epersondata/V4/personpostXML").is_none());
        for bad in [
            "/na/na_avisering/V1/fil/00000079-AV02-0001/0/A",
            "/na/na_avisering/V1/fil/00000079-AV02-0001/x/A",
            "/na/na_avisering/V1/fil/00000079-AV02-0001/1/C",
            "/na/na_avisering/V1/fil/00000079-AV02-0001/1",
            "/na/na_avisering/V1/fil/00000079-AV02-0001/1/A/x",
        ] {
            assert!(FilPath::parse(bad).unwrap().is_err(), "{bad}");
        }
    }
}
