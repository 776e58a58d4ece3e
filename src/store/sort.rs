//! External sort for FULL loads: a delivery comes in any order and may be larger than memory;
//! a segment must be written in key order.
//!
//! Entries are gathered in memory up to a budget, sorted, and written to a run file — on a
//! thread of its own, while the next entries are gathered (at most one run in the making per
//! sorter, so memory is at most twice the budget); at the end the runs (and what is still in
//! memory) are merged. Entries with equal keys come out
//! in the order of their positions, so a duplicate is reported with both record numbers.
//! Run files live beside the segments and are removed when the sort is done or dropped;
//! the store removes any that a crash left behind when it opens.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// One entry: a key, the record number it came from, a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    pub key: Vec<u8>,
    pub pos: u64,
    pub value: Vec<u8>,
}

impl Item {
    fn cost(&self) -> usize {
        // The two vectors' heap blocks and the item itself.
        self.key.len() + self.value.len() + 64
    }

    fn order(&self, other: &Item) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.pos.cmp(&other.pos))
    }
}

/// Gathers entries and spills sorted runs; see the module text.
pub(super) struct Sorter {
    dir: PathBuf,
    name: String,
    budget: usize,
    mem: Vec<Item>,
    mem_bytes: usize,
    runs: Vec<PathBuf>,
    /// The run being sorted and written, if any.
    writing: Option<std::thread::JoinHandle<Result<(), StoreError>>>,
}

impl Sorter {
    /// A sorter that writes runs named `{name}.{n}.run` in `dir` once `budget` bytes are held.
    pub fn new(dir: &Path, name: &str, budget: usize) -> Sorter {
        Sorter {
            dir: dir.to_owned(),
            name: name.to_owned(),
            budget,
            mem: Vec::new(),
            mem_bytes: 0,
            runs: Vec::new(),
            writing: None,
        }
    }

    /// Adds an entry; may write a run.
    pub fn push(&mut self, item: Item) -> Result<(), StoreError> {
        self.mem_bytes += item.cost();
        self.mem.push(item);
        if self.mem_bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Waits for the run being written, if any.
    fn written(&mut self) -> Result<(), StoreError> {
        match self.writing.take() {
            Some(w) => w.join().map_err(|_| {
                StoreError::Transaction("the thread writing a sort run stopped".into())
            })?,
            None => Ok(()),
        }
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        self.written()?;
        let path = self
            .dir
            .join(format!("{}.{}.run", self.name, self.runs.len()));
        // Registered first, so a failed write is still removed by Drop.
        self.runs.push(path.clone());
        let mem = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        self.writing = Some(std::thread::spawn(move || write_run(mem, &path)));
        Ok(())
    }

    /// Every entry in (key, position) order; the sorter is left empty.
    pub fn finish(&mut self) -> Result<Merge, StoreError> {
        self.written()?;
        self.mem.sort_unstable_by(Item::order);
        let mut sources = Vec::with_capacity(self.runs.len() + 1);
        for path in std::mem::take(&mut self.runs) {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(e.into());
                }
            };
            sources.push(Source::Run(RunReader {
                input: BufReader::with_capacity(128 * 1024, file),
                path,
            }));
        }
        sources.push(Source::Mem(std::mem::take(&mut self.mem).into_iter()));
        let mut merge = Merge {
            sources,
            heap: BinaryHeap::new(),
        };
        for i in 0..merge.sources.len() {
            if let Some(item) = merge.sources[i].next_item()? {
                merge.heap.push(Head { item, src: i });
            }
        }
        Ok(merge)
    }
}

/// Sorts `mem` and writes it as the run file `path`.
fn write_run(mut mem: Vec<Item>, path: &Path) -> Result<(), StoreError> {
    mem.sort_unstable_by(Item::order);
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
    for item in mem {
        let klen = u16::try_from(item.key.len())
            .map_err(|_| StoreError::Corrupt("sort key longer than 65,535 bytes".into()))?;
        let vlen = u32::try_from(item.value.len())
            .map_err(|_| StoreError::Corrupt("sort value longer than 4 GiB".into()))?;
        out.write_all(&klen.to_le_bytes())?;
        out.write_all(&item.pos.to_le_bytes())?;
        out.write_all(&vlen.to_le_bytes())?;
        out.write_all(&item.key)?;
        out.write_all(&item.value)?;
    }
    out.flush()?;
    Ok(())
}

impl Drop for Sorter {
    fn drop(&mut self) {
        // A run still being written is waited for, so that its file is removed too.
        let _ = self.written();
        for path in &self.runs {
            let _ = std::fs::remove_file(path);
        }
    }
}

struct RunReader {
    input: BufReader<File>,
    path: PathBuf,
}

impl Drop for RunReader {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

enum Source {
    Run(RunReader),
    Mem(std::vec::IntoIter<Item>),
}

impl Source {
    fn next_item(&mut self) -> Result<Option<Item>, StoreError> {
        match self {
            Source::Mem(it) => Ok(it.next()),
            Source::Run(r) => {
                let mut head = [0u8; 14];
                match r.input.read_exact(&mut head[..1]) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                r.input.read_exact(&mut head[1..])?;
                let klen = usize::from(u16::from_le_bytes([head[0], head[1]]));
                let mut pos = [0u8; 8];
                pos.copy_from_slice(&head[2..10]);
                let mut vlen = [0u8; 4];
                vlen.copy_from_slice(&head[10..14]);
                let mut key = vec![0u8; klen];
                r.input.read_exact(&mut key)?;
                let mut value = vec![0u8; u32::from_le_bytes(vlen) as usize];
                r.input.read_exact(&mut value)?;
                Ok(Some(Item {
                    key,
                    pos: u64::from_le_bytes(pos),
                    value,
                }))
            }
        }
    }
}

struct Head {
    item: Item,
    src: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Reversed: `BinaryHeap` is a max-heap and the merge wants the smallest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.item.order(&self.item)
    }
}

/// The merged, sorted entries of a [`Sorter`].
pub(super) struct Merge {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
}

impl Iterator for Merge {
    type Item = Result<Item, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Head { item, src } = self.heap.pop()?;
        match self.sources[src].next_item() {
            Ok(Some(next)) => self.heap.push(Head { item: next, src }),
            Ok(None) => {}
            Err(e) => {
                self.heap.clear();
                return Some(Err(e));
            }
        }
        Some(Ok(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_runs_and_memory_in_key_then_position_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), "t", 2_000);
        let mut expected = Vec::new();
        for i in 0..500u64 {
            let key = format!("{:05}", (i * 7_919) % 400).into_bytes();
            expected.push((key.clone(), i));
            s.push(Item {
                key,
                pos: i,
                value: i.to_le_bytes().to_vec(),
            })
            .unwrap();
        }
        let runs = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(runs > 5, "{runs} runs spilled");
        expected.sort();
        let got: Vec<_> = s
            .finish()
            .unwrap()
            .map(|r| {
                let it = r.unwrap();
                assert_eq!(it.value, it.pos.to_le_bytes());
                (it.key, it.pos)
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "runs removed after the merge"
        );
    }

    #[test]
    fn a_dropped_sorter_removes_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), "t", 100);
        for i in 0..50u64 {
            s.push(Item {
                key: vec![i as u8],
                pos: i,
                value: vec![0; 10],
            })
            .unwrap();
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);
        drop(s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
