//! Immutable sorted files: the bulk of a generation, written once by a FULL load.
//!
//! A segment maps keys to values in key order. It is written front to back by
//! [`SegmentWriter`] — to a temporary name, synced, then renamed — and never changed after;
//! a generation's later deltas live in sled beside it (see the store's overlay). Reading is
//! positional (`pread`) through the operating system's page cache: the process keeps only
//! the block directory in memory (one key and offset per block of 4 KiB of records or 16 KiB of index keys), so resident memory
//! does not grow with the register.
//!
//! # Layout
//! ```text
//! "FRSEG01\n"
//! block*       entries, then CRC-32 of the entries (u32 LE)
//!              entry: key length (u16 LE) | value length (u32 LE) | key | value
//! directory    per block: offset (u64 LE) | length incl. CRC (u32 LE) | first key length (u16 LE) | first key
//! trailer      directory offset (u64 LE) | directory length (u64 LE) | entries (u64 LE)
//!              | CRC-32 of the directory (u32 LE) | "FRSEG01\n"
//! ```
//! Every block is checked against its CRC when it is read: a damaged disk gives an error
//! naming the file, never a wrong answer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::StoreError;

const MAGIC: &[u8; 8] = b"FRSEG01\n";
/// Block size for records: a lookup reads (and checks) one block, so small blocks keep a
/// lookup cheap; the directory holds one key per block.
pub const RECORD_BLOCK: usize = 4 * 1024;
/// Block size for index keys, which are read in runs by prefix scans.
pub const KEY_BLOCK: usize = 16 * 1024;
const TRAILER: usize = 8 + 8 + 8 + 4 + 8;
const ENTRY_HEAD: usize = 2 + 4;

/// One block's place in the file.
#[derive(Debug)]
struct BlockRef {
    first: Box<[u8]>,
    offset: u64,
    len: u32,
}

/// An open segment. Reads take `&self` and may run on any number of threads.
#[derive(Debug)]
pub struct Segment {
    file: File,
    path: PathBuf,
    blocks: Vec<BlockRef>,
    entries: u64,
    bytes: u64,
}

impl Segment {
    /// Opens a segment and reads its block directory.
    pub fn open(path: &Path) -> Result<Segment, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{}: {what}", path.display()));
        let file = File::open(path)?;
        let bytes = file.metadata()?.len();
        if bytes < (MAGIC.len() + TRAILER) as u64 {
            return Err(corrupt("too short for a segment"));
        }
        let mut trailer = [0u8; TRAILER];
        file.read_exact_at(&mut trailer, bytes - TRAILER as u64)?;
        let (head, magic) = trailer.split_at(TRAILER - MAGIC.len());
        if magic != MAGIC {
            return Err(corrupt("no segment trailer (an unfinished write?)"));
        }
        let dir_offset = le_u64(&head[0..8]);
        let dir_len = le_u64(&head[8..16]);
        let entries = le_u64(&head[16..24]);
        let dir_crc = le_u32(&head[24..28]);
        if dir_offset.checked_add(dir_len) != Some(bytes - TRAILER as u64) {
            return Err(corrupt("directory does not end at the trailer"));
        }
        let mut dir = vec![0u8; usize::try_from(dir_len).map_err(|_| corrupt("directory"))?];
        file.read_exact_at(&mut dir, dir_offset)?;
        if crc32fast::hash(&dir) != dir_crc {
            return Err(corrupt("directory checksum mismatch"));
        }
        let mut blocks = Vec::new();
        let mut rest = dir.as_slice();
        while !rest.is_empty() {
            if rest.len() < 14 {
                return Err(corrupt("directory entry cut short"));
            }
            let offset = le_u64(&rest[0..8]);
            let len = le_u32(&rest[8..12]);
            let klen = usize::from(u16::from_le_bytes([rest[12], rest[13]]));
            let first = rest
                .get(14..14 + klen)
                .ok_or_else(|| corrupt("directory key cut short"))?;
            if offset.saturating_add(u64::from(len)) > dir_offset || len < 4 {
                return Err(corrupt("block outside the file"));
            }
            blocks.push(BlockRef {
                first: first.into(),
                offset,
                len,
            });
            rest = &rest[14 + klen..];
        }
        Ok(Segment {
            file,
            path: path.to_owned(),
            blocks,
            entries,
            bytes,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether the segment holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Size of the file in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Memory the block directory takes (for the figures per million records).
    pub fn directory_bytes(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.first.len() + std::mem::size_of::<BlockRef>())
            .sum()
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(i) = self.block_for(key) else {
            return Ok(None);
        };
        let block = self.read_block(i)?;
        let mut entries = Entries::new(&block);
        while let Some((k, v)) = entries.next_entry().map_err(|e| self.corrupt(e))? {
            match k.cmp(key) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(v.to_vec())),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(None)
    }

    /// The entries with keys from `start` on, in key order.
    pub fn iter_from(&self, start: &[u8]) -> SegmentIter<'_> {
        SegmentIter {
            segment: self,
            next_block: self.block_for(start).unwrap_or(0),
            block: Vec::new(),
            pos: 0,
            start: Some(start.to_vec()),
        }
    }

    /// The last block whose first key is at most `key`.
    fn block_for(&self, key: &[u8]) -> Option<usize> {
        self.blocks
            .partition_point(|b| &*b.first <= key)
            .checked_sub(1)
    }

    /// A block's entries, checked against its CRC.
    fn read_block(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        let b = &self.blocks[i];
        let mut buf = vec![0u8; b.len as usize];
        self.file.read_exact_at(&mut buf, b.offset)?;
        let body = buf.len() - 4;
        if crc32fast::hash(&buf[..body]) != le_u32(&buf[body..]) {
            return Err(self.corrupt(format!("block {i} checksum mismatch")));
        }
        buf.truncate(body);
        Ok(buf)
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("{}: {what}", self.path.display()))
    }
}

/// One entry of a block: key and value.
type Entry<'b> = (&'b [u8], &'b [u8]);

/// Walks the entries of one block.
struct Entries<'b> {
    rest: &'b [u8],
}

impl<'b> Entries<'b> {
    fn new(block: &'b [u8]) -> Self {
        Entries { rest: block }
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'b>>, &'static str> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        if self.rest.len() < ENTRY_HEAD {
            return Err("entry header cut short");
        }
        let klen = usize::from(u16::from_le_bytes([self.rest[0], self.rest[1]]));
        let vlen = le_u32(&self.rest[2..6]) as usize;
        let end = ENTRY_HEAD + klen + vlen;
        if self.rest.len() < end {
            return Err("entry cut short");
        }
        let key = &self.rest[ENTRY_HEAD..ENTRY_HEAD + klen];
        let value = &self.rest[ENTRY_HEAD + klen..end];
        self.rest = &self.rest[end..];
        Ok(Some((key, value)))
    }
}

/// Entries in key order from a start key; see [`Segment::iter_from`].
pub struct SegmentIter<'a> {
    segment: &'a Segment,
    next_block: usize,
    block: Vec<u8>,
    pos: usize,
    /// Entries below this key are skipped (only in the first block read).
    start: Option<Vec<u8>>,
}

impl Iterator for SegmentIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.block.len() {
                if self.next_block >= self.segment.blocks.len() {
                    return None;
                }
                match self.segment.read_block(self.next_block) {
                    Ok(b) => self.block = b,
                    Err(e) => {
                        self.next_block = self.segment.blocks.len();
                        self.block.clear();
                        return Some(Err(e));
                    }
                }
                self.next_block += 1;
                self.pos = 0;
            }
            let mut entries = Entries::new(&self.block[self.pos..]);
            let (k, v) = match entries.next_entry() {
                Ok(Some(kv)) => kv,
                Ok(None) => continue,
                Err(e) => {
                    let err = self.segment.corrupt(e);
                    self.next_block = self.segment.blocks.len();
                    self.pos = self.block.len();
                    return Some(Err(err));
                }
            };
            self.pos = self.block.len() - entries.rest.len();
            if let Some(start) = &self.start {
                if k < start.as_slice() {
                    continue;
                }
                self.start = None;
            }
            return Some(Ok((k.to_vec(), v.to_vec())));
        }
    }
}

/// Writes a segment front to back; keys must come in strictly increasing order.
pub struct SegmentWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    offset: u64,
    block: Vec<u8>,
    first: Vec<u8>,
    last: Option<Vec<u8>>,
    dir: Vec<u8>,
    entries: u64,
    block_target: usize,
}

impl SegmentWriter {
    /// Starts the segment `path` (written as `path.tmp` until [`SegmentWriter::finish`]);
    /// blocks are cut at the first entry that would take them past `block_target` bytes.
    pub fn create(path: &Path, block_target: usize) -> Result<SegmentWriter, StoreError> {
        let tmp = path.with_extension("tmp");
        let mut out = BufWriter::with_capacity(256 * 1024, File::create(&tmp)?);
        out.write_all(MAGIC)?;
        Ok(SegmentWriter {
            out,
            tmp,
            path: path.to_owned(),
            offset: MAGIC.len() as u64,
            block: Vec::with_capacity(block_target + 4096),
            first: Vec::new(),
            last: None,
            dir: Vec::new(),
            entries: 0,
            block_target,
        })
    }

    /// Appends one entry.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if self.last.as_deref().is_some_and(|l| l >= key) {
            return Err(StoreError::Corrupt(format!(
                "{}: keys out of order while writing",
                self.path.display()
            )));
        }
        let klen = u16::try_from(key.len())
            .map_err(|_| StoreError::Corrupt("segment key longer than 65,535 bytes".into()))?;
        let vlen = u32::try_from(value.len())
            .map_err(|_| StoreError::Corrupt("segment value longer than 4 GiB".into()))?;
        if !self.block.is_empty()
            && self.block.len() + ENTRY_HEAD + key.len() + value.len() > self.block_target
        {
            self.end_block()?;
        }
        if self.block.is_empty() {
            self.first.clear();
            self.first.extend_from_slice(key);
        }
        self.block.extend_from_slice(&klen.to_le_bytes());
        self.block.extend_from_slice(&vlen.to_le_bytes());
        self.block.extend_from_slice(key);
        self.block.extend_from_slice(value);
        match &mut self.last {
            Some(l) => {
                l.clear();
                l.extend_from_slice(key);
            }
            None => self.last = Some(key.to_vec()),
        }
        self.entries += 1;
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), StoreError> {
        let crc = crc32fast::hash(&self.block);
        self.block.extend_from_slice(&crc.to_le_bytes());
        self.out.write_all(&self.block)?;
        let len = self.block.len() as u32;
        self.dir.extend_from_slice(&self.offset.to_le_bytes());
        self.dir.extend_from_slice(&len.to_le_bytes());
        self.dir
            .extend_from_slice(&(self.first.len() as u16).to_le_bytes());
        self.dir.extend_from_slice(&self.first);
        self.offset += u64::from(len);
        self.block.clear();
        Ok(())
    }

    /// Writes the directory and trailer, syncs the file and gives it its name.
    pub fn finish(mut self) -> Result<Segment, StoreError> {
        if !self.block.is_empty() {
            self.end_block()?;
        }
        let dir_crc = crc32fast::hash(&self.dir);
        self.out.write_all(&self.dir)?;
        self.out.write_all(&self.offset.to_le_bytes())?;
        self.out.write_all(&(self.dir.len() as u64).to_le_bytes())?;
        self.out.write_all(&self.entries.to_le_bytes())?;
        self.out.write_all(&dir_crc.to_le_bytes())?;
        self.out.write_all(MAGIC)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        std::fs::rename(&self.tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            crate::fsutil::sync_dir(dir)?;
        }
        Segment::open(&self.path)
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        // Unfinished: the temporary file is of no use (finish renamed it otherwise).
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, n: u32, value_len: usize) -> Segment {
        let mut w = SegmentWriter::create(&dir.join("t.seg"), KEY_BLOCK).unwrap();
        for i in 0..n {
            let key = format!("k{i:08}");
            w.add(key.as_bytes(), &vec![(i % 251) as u8; value_len])
                .unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn get_and_iterate_across_many_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let seg = write(dir.path(), 5_000, 300);
        assert_eq!(seg.len(), 5_000);
        assert!(seg.blocks.len() > 50, "{} blocks", seg.blocks.len());
        for i in [0u32, 1, 53, 54, 55, 2_500, 4_999] {
            let v = seg.get(format!("k{i:08}").as_bytes()).unwrap();
            assert_eq!(v, Some(vec![(i % 251) as u8; 300]), "key {i}");
        }
        assert_eq!(seg.get(b"k00005000").unwrap(), None);
        assert_eq!(seg.get(b"a").unwrap(), None);
        assert_eq!(seg.get(b"k00000000x").unwrap(), None);
        let all: Vec<_> = seg.iter_from(b"").map(Result::unwrap).collect();
        assert_eq!(all.len(), 5_000);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        let from: Vec<_> = seg.iter_from(b"k00004990x").map(|r| r.unwrap().0).collect();
        assert_eq!(from.first().map(Vec::as_slice), Some(&b"k00004991"[..]));
        assert_eq!(from.len(), 9);
        assert_eq!(seg.iter_from(b"z").count(), 0);
    }

    #[test]
    fn an_empty_segment_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let seg = write(dir.path(), 0, 1);
        assert!(seg.is_empty());
        assert_eq!(seg.get(b"x").unwrap(), None);
        assert_eq!(seg.iter_from(b"").count(), 0);
    }

    #[test]
    fn keys_out_of_order_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(&dir.path().join("t.seg"), KEY_BLOCK).unwrap();
        w.add(b"b", b"1").unwrap();
        assert!(w.add(b"b", b"2").is_err());
        assert!(w.add(b"a", b"2").is_err());
    }

    #[test]
    fn an_unfinished_segment_leaves_no_file_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = SegmentWriter::create(&dir.path().join("u.seg"), KEY_BLOCK).unwrap();
            w.add(b"a", b"1").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let seg = write(dir.path(), 1_000, 100);
        let path = dir.path().join("t.seg");
        drop(seg);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5_000] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let seg = Segment::open(&path).unwrap();
        let err = seg
            .iter_from(b"")
            .find_map(Result::err)
            .expect("a flipped bit is found");
        assert!(err.to_string().contains("checksum"), "{err}");

        let len = bytes.len();
        std::fs::write(&path, &bytes[..len - 3]).unwrap();
        let err = Segment::open(&path).unwrap_err();
        assert!(err.to_string().contains("trailer"), "{err}");
    }
}
