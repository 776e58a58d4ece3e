//! Generated deliveries as files: a FULL population, or the DELTA that follows a chain of
//! earlier deliveries (`folkreg generate`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::ids::pnr::Pnr;
use crate::loadfile::header::{default_filnamn, Aviseringsinformation};
use crate::loadfile::{
    writer::write_delivery, DeliveryError, DeliveryHeader, DeliveryReader, DeliveryTyp,
};
use crate::model::change::{merge, DeliveryRecord, Posttyp};
use crate::model::term::TermMask;
use crate::model::Folkbokforingspost;

/// What `generate` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub header: DeliveryHeader,
    /// Seconds it took.
    pub seconds: f64,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: löpnummer {} {}, {} records, {:.1} s ({:.0} records/s)",
            self.path.display(),
            self.header.lopnummer,
            self.header.typ.code(),
            self.header.antal,
            self.seconds,
            self.header.antal as f64 / self.seconds.max(1e-9)
        )
    }
}

/// Why a delivery could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A delivery of the chain is unreadable or invalid.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DeliveryError,
    },
    /// No FULL delivery starts the chain of `--delta-of`.
    #[error("{0}: no FULL delivery with a löpnummer at or below it in its folder, so the population it changes is unknown")]
    NoBase(PathBuf),
    /// The chain has a gap.
    #[error("{folder}: the deliveries between löpnummer {from} and {to} are not all there (missing {missing})")]
    Gap {
        /// The folder.
        folder: PathBuf,
        /// The FULL's löpnummer.
        from: u64,
        /// The target's.
        to: u64,
        /// The first missing one.
        missing: u64,
    },
    /// Writing failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DeliveryError,
    },
}

impl GenerateError {
    /// Whether the input was at fault (exit code 2).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, GenerateError::Write { .. })
    }
}

fn skapad(today: NaiveDate) -> String {
    format!("{}T05:00:00+01:00", today.format("%Y-%m-%d"))
}

fn default_name(lopnummer: u64, typ: DeliveryTyp) -> PathBuf {
    PathBuf::from(format!("leverans-{lopnummer:06}-{}.xml.gz", typ.code()))
}

/// Writes a FULL delivery of `persons` persons with löpnummer 1.
pub fn write_full(
    persons: usize,
    seed: u64,
    today: NaiveDate,
    out: Option<&Path>,
) -> Result<Written, GenerateError> {
    write_full_files(persons, seed, today, out, 1, None)
}

/// Writes a FULL delivery of `persons` persons with löpnummer 1 as folkreg's own load file:
/// with the terms folkreg keeps that Navet's schema lacks (taxering, skyddsdatum, "på
/// kommunen skriven": [`crate::loadfile::DeliveryWriter::with_extensions`]), which SPAR's
/// wire answers. Not a Navet file; for the demo store.
pub fn write_full_own(
    persons: usize,
    seed: u64,
    today: NaiveDate,
    out: &Path,
) -> Result<Written, GenerateError> {
    let started = std::time::Instant::now();
    let header = full_header(persons, today);
    let info = Aviseringsinformation::for_load(&header);
    write_records(out, &info, &mut full_records(persons, seed, today), true).map_err(|source| {
        GenerateError::Write {
            path: out.to_owned(),
            source,
        }
    })?;
    Ok(Written {
        path: out.to_owned(),
        header,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes a FULL delivery (a grunduttag) of `persons` persons with löpnummer 1, split into
/// `files` files of one delivery (`AntalFiler`, `FilNr`), as Navet splits a large one: `out`
/// itself for one file, else `out` with `.1`, `.2`, … before its extension. With `fewer`
/// (a receiver's fewer terms for protected persons, Bilaga 2) it is file A and file B
/// instead: `out` with `.A` and `.B` before its extension.
pub fn write_full_files(
    persons: usize,
    seed: u64,
    today: NaiveDate,
    out: Option<&Path>,
    files: u16,
    fewer: Option<TermMask>,
) -> Result<Written, GenerateError> {
    let started = std::time::Instant::now();
    let header = full_header(persons, today);
    let path = out
        .map(Path::to_owned)
        .unwrap_or_else(|| default_name(1, DeliveryTyp::Full));
    let mut records = full_records(persons, seed, today);
    if let Some(fewer) = fewer {
        // Each header gives its file's count before the records: a first pass counts file B.
        let in_b = super::Population::new(persons, seed, today)
            .filter(Folkbokforingspost::is_protected)
            .count();
        let parts = records.map(|r| super::split::full_one(r, fewer));
        return write_a_b(path, header, [persons - in_b, in_b], parts, started);
    }
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| GenerateError::Write { path, source }
    };
    if files <= 1 {
        let info = Aviseringsinformation::for_load(&header);
        write_records(&path, &info, &mut records, false).map_err(err(&path))?;
        return Ok(Written {
            path,
            header,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let per = persons.div_ceil(usize::from(files)).max(1);
    let mut info = Aviseringsinformation::for_load(&header);
    info.utfil.antal_filer = files;
    let name = path.to_string_lossy().into_owned();
    let mut first = None;
    for (i, fil_nr) in (1..=files).enumerate() {
        info.utfil.fil_nr = fil_nr;
        info.utfil.antal_poster = per.min(persons.saturating_sub(i * per)) as u64;
        info.utfil.filnamn = default_filnamn(1, DeliveryTyp::Full, fil_nr);
        let p = PathBuf::from(crate::load::numbered_name(&name, u32::from(fil_nr)));
        write_records(&p, &info, &mut records, false).map_err(err(&p))?;
        first.get_or_insert(p);
    }
    Ok(Written {
        path: first.unwrap_or(path),
        header,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The load facts of a grunduttag of `persons` persons: löpnummer 1, FULL.
fn full_header(persons: usize, today: NaiveDate) -> DeliveryHeader {
    DeliveryHeader {
        lopnummer: 1,
        typ: DeliveryTyp::Full,
        skapad: skapad(today),
        antal: persons as u64,
    }
}

/// The population as a grunduttag's records: every person a totalpost with every term.
fn full_records(
    persons: usize,
    seed: u64,
    today: NaiveDate,
) -> impl Iterator<Item = DeliveryRecord> {
    generated(persons, seed, today).map(|post| DeliveryRecord {
        posttyp: Posttyp::Total,
        post,
        present: TermMask::ALL,
    })
}

/// Writes one file of `info.utfil.antal_poster` records taken from `records`; `extensions`
/// as [`crate::loadfile::DeliveryWriter::with_extensions`].
fn write_records(
    path: &Path,
    info: &Aviseringsinformation,
    records: &mut impl Iterator<Item = DeliveryRecord>,
    extensions: bool,
) -> Result<(), DeliveryError> {
    let mut w = crate::loadfile::DeliveryWriter::create(path, info)?;
    if extensions {
        w = w.with_extensions();
    }
    let n = usize::try_from(info.utfil.antal_poster).unwrap_or(usize::MAX);
    for r in records.take(n) {
        w.write(&r)?;
    }
    w.finish()
}

/// Records in a batch from the generating thread.
const BATCH: usize = 1024;

/// The population of (`persons`, `seed`, `today`), made on a thread of its own, so that
/// making records and writing them (XML and gzip) each have a core; a few batches ahead at
/// most, so memory stays small whatever `persons` is.
fn generated(
    persons: usize,
    seed: u64,
    today: NaiveDate,
) -> impl Iterator<Item = Folkbokforingspost> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Folkbokforingspost>>(4);
    let maker = std::thread::spawn(move || {
        let mut population = super::Population::new(persons, seed, today);
        loop {
            let batch: Vec<_> = population.by_ref().take(BATCH).collect();
            // An empty batch ends the stream; a closed channel means the writer gave up.
            if batch.is_empty() || tx.send(batch).is_err() {
                break;
            }
        }
    });
    let mut maker = Some(maker);
    std::iter::from_fn(move || match rx.recv() {
        Ok(batch) => Some(batch),
        Err(_) => {
            // The maker is done: pass its panic on rather than end the stream short.
            if let Some(Err(panic)) = maker.take().map(std::thread::JoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
            None
        }
    })
    .flatten()
}

/// Writes the DELTA that follows `previous`: the population is rebuilt from the latest FULL
/// delivery in `previous`'s folder at or below its löpnummer and every delta after it.
pub fn write_delta(
    previous: &Path,
    changes: usize,
    seed: u64,
    today: NaiveDate,
    out: Option<&Path>,
) -> Result<Written, GenerateError> {
    write_delta_files(previous, changes, seed, today, out, None)
}

/// [`write_delta`], in file A and file B by Bilaga 2's tables when `fewer` is given (see
/// [`write_full_files`]). A chain with files B is read as a receiver reads it: the population
/// it rebuilds is the receiver's, protected persons with the fewer terms.
pub fn write_delta_files(
    previous: &Path,
    changes: usize,
    seed: u64,
    today: NaiveDate,
    out: Option<&Path>,
    fewer: Option<TermMask>,
) -> Result<Written, GenerateError> {
    let started = std::time::Instant::now();
    let read = |path: &Path| {
        DeliveryReader::open(path).map_err(|source| GenerateError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let target = read(previous)?.header().clone();
    let folder = previous
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    // A delivery may be several files (`AntalFiler`): each löpnummer's files, in name order.
    let mut chain: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    let mut base: Option<(u64, Vec<PathBuf>)> = None;
    for entry in std::fs::read_dir(&folder).map_err(|e| GenerateError::Read {
        path: folder.clone(),
        source: DeliveryError::file(e.into()),
    })? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.ends_with(".xml") || name.ends_with(".xml.gz")) {
            continue;
        }
        let Ok(r) = DeliveryReader::open(&path) else {
            continue;
        };
        let h = r.header().clone();
        if h.lopnummer > target.lopnummer {
            continue;
        }
        match h.typ {
            DeliveryTyp::Full => match &mut base {
                Some((l, paths)) if *l == h.lopnummer => paths.push(path.clone()),
                Some((l, _)) if *l > h.lopnummer => {}
                _ => base = Some((h.lopnummer, vec![path.clone()])),
            },
            DeliveryTyp::Delta => chain.entry(h.lopnummer).or_default().push(path.clone()),
        }
    }
    let (from, mut base_paths) = base.ok_or_else(|| GenerateError::NoBase(previous.to_owned()))?;
    base_paths.sort();
    let mut state: BTreeMap<Pnr, Folkbokforingspost> = BTreeMap::new();
    for rec in read_delivery(&base_paths)? {
        state.insert(rec.post.pnr(), rec.post);
    }
    for lop in from + 1..=target.lopnummer {
        let paths = chain.get_mut(&lop).ok_or(GenerateError::Gap {
            folder: folder.clone(),
            from,
            to: target.lopnummer,
            missing: lop,
        })?;
        paths.sort();
        for rec in read_delivery(paths)? {
            apply(&mut state, rec);
        }
    }
    let protected_before: std::collections::HashSet<Pnr> = state
        .iter()
        .filter(|(_, p)| p.is_protected())
        .map(|(k, _)| *k)
        .collect();
    let records = super::delta(
        &mut state,
        changes,
        seed ^ target.lopnummer.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        today,
    );
    let lopnummer = target.lopnummer + 1;
    let header = DeliveryHeader {
        lopnummer,
        typ: DeliveryTyp::Delta,
        skapad: skapad(today),
        antal: records.len() as u64,
    };
    let path = out
        .map(Path::to_owned)
        .unwrap_or_else(|| folder.join(default_name(lopnummer, DeliveryTyp::Delta)));
    match fewer {
        Some(fewer) => {
            let parts = super::split::delta(records, &protected_before, &state, fewer);
            let counts = [parts[0].len(), parts[1].len()];
            let [a, b] = parts;
            let parts = a
                .into_iter()
                .map(|p| (0, p))
                .chain(b.into_iter().map(|p| (1, p)));
            write_a_b(path, header, counts, parts, started)
        }
        None => write(path, header, &records, started),
    }
}

/// The records of one delivery's files, file B merged into file A as Bilaga 2 advises.
fn read_delivery(paths: &[PathBuf]) -> Result<Vec<DeliveryRecord>, GenerateError> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for path in paths {
        let err = |source| GenerateError::Read {
            path: path.clone(),
            source,
        };
        let reader = DeliveryReader::open(path).map_err(err)?;
        let fil = reader.info().fil();
        let recs = reader.collect::<Result<Vec<_>, _>>().map_err(err)?;
        match fil {
            crate::model::change::Fil::A => a.extend(recs),
            crate::model::change::Fil::B => b.extend(recs),
        }
    }
    Ok(crate::loadfile::merge_files(a, b))
}

/// Writes a delivery as file A (`NAME.A.xml…`) and file B (`NAME.B.xml…`): one delivery of
/// two files, of `counts` records, written as `parts` come (0 for file A, 1 for file B).
fn write_a_b(
    path: PathBuf,
    mut header: DeliveryHeader,
    counts: [usize; 2],
    parts: impl Iterator<Item = (usize, super::split::Part)>,
    started: std::time::Instant,
) -> Result<Written, GenerateError> {
    header.antal = (counts[0] + counts[1]) as u64;
    let mut info = Aviseringsinformation::for_load(&header);
    info.utfil.antal_filer = 2;
    let name = path.to_string_lossy().into_owned();
    let paths = ["A", "B"].map(|tag| PathBuf::from(crate::load::tagged_name(&name, tag)));
    let err = |i: usize| {
        let path = paths[i].clone();
        move |source| GenerateError::Write { path, source }
    };
    let mut writers = Vec::with_capacity(2);
    for (i, tag) in ["A", "B"].into_iter().enumerate() {
        info.filtyp = Some(tag.into());
        info.utfil.fil_nr = i as u16 + 1;
        info.utfil.antal_poster = counts[i] as u64;
        info.utfil.filnamn = default_filnamn(header.lopnummer, header.typ, info.utfil.fil_nr);
        writers.push(crate::loadfile::DeliveryWriter::create(&paths[i], &info).map_err(err(i))?);
    }
    for (i, (record, terms)) in parts {
        let i = i.min(1);
        writers[i].write_as(&record, terms).map_err(err(i))?;
    }
    for (i, w) in writers.into_iter().enumerate() {
        w.finish().map_err(err(i))?;
    }
    let [first, _] = paths;
    Ok(Written {
        path: first,
        header,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn write(
    path: PathBuf,
    header: DeliveryHeader,
    records: &[DeliveryRecord],
    started: std::time::Instant,
) -> Result<Written, GenerateError> {
    write_delivery(&path, &header, records).map_err(|source| GenerateError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Written {
        path,
        header,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Applies one delivery record to an in-memory population, as the store would.
fn apply(state: &mut BTreeMap<Pnr, Folkbokforingspost>, rec: DeliveryRecord) {
    let pnr = rec.post.pnr();
    match rec.posttyp {
        Posttyp::Total => {
            state.insert(pnr, rec.post);
        }
        Posttyp::Andring => {
            if let Some(stored) = state.get_mut(&pnr) {
                merge(stored, &rec.post, rec.present);
            }
        }
        // Avisering only; a load file has none.
        Posttyp::Flyttsignal => {}
        Posttyp::Borttag => {
            state.remove(&pnr);
        }
    }
}
