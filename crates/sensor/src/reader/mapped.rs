//! A capture file read through a memory map, a window at a time: records
//! are parsed where the kernel's page cache holds them and handed to the
//! workers as views, with no copy. Each window is shared (`Arc`) by the
//! batches that point into it and unmapped when the last is recycled, so
//! the process maps only what is in flight (a few windows), not the file.

use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use fumidai_pcapfile::{Open, Reader, Record, Step};
use memmap2::{Mmap, MmapOptions};

use super::Stop;
use crate::prefetch;

/// Bytes mapped at a time, from file offsets that are multiples of it:
/// where the page cache holds the file in 2 MiB folios (a file read back
/// sequentially, on kernels whose page cache has large folios), the kernel
/// maps such a window with one page-table entry rather than 512, and
/// mapping and unmapping it cost next to nothing.
pub const WINDOW: usize = 2 << 20;
/// Also mapped, past a window's end: a record that starts in the window
/// and ends beyond it is still read in place. A larger record gets a
/// window of its own size.
const TAIL: usize = 128 << 10;

/// One mapped range of a capture file.
pub struct Window {
    map: Mmap,
}

impl Deref for Window {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Window({} bytes)", self.map.len())
    }
}

/// A capture file being read through windows of a memory map.
pub struct MappedFile {
    file: File,
    size: u64,
    reader: Reader,
    window: Arc<Window>,
    /// File offset of `window[0]`.
    window_start: u64,
    /// File offset of the next record.
    pos: u64,
    /// Window offset up to which the bytes have been asked into cache.
    warmed: usize,
}

fn map(file: &File, start: u64, len: usize) -> std::io::Result<Window> {
    // SAFETY: the file is mapped read-only and private, and its bytes are
    // only ever read through the `&[u8]` this `Window` derefs to; the map
    // lives as long as the `Window`, which every view into it keeps alive
    // through its `Arc`. `start + len` lies within the file's size as read
    // when it was opened. What no flag can rule out is another process
    // truncating the file while it is mapped: reading the vanished pages
    // would raise SIGBUS. Replay is for finished captures; one still being
    // written is read with `--pcap-reader libpcap` (README).
    let map = unsafe {
        MmapOptions::new()
            .offset(start)
            .len(len)
            .populate()
            .map(file)?
    };
    Ok(Window { map })
}

/// How far ahead of the record being read the file is asked into cache
/// (see `crate::prefetch`): the next records' headers are read on this
/// thread, their packets on the workers soon after.
const AHEAD: usize = 8 << 10;

/// Asks the bytes of `window` from `warmed` up to `next + AHEAD` into cache;
/// returns the new high mark.
fn warm(window: &[u8], next: usize, warmed: usize) -> usize {
    let from = warmed.max(next);
    let to = (next + AHEAD).min(window.len());
    if from < to {
        prefetch::head(&window[from..to], to - from);
    }
    to.max(warmed)
}

impl MappedFile {
    /// Opens `path` and reads its header. `Err` when it is not a capture
    /// (or cannot be mapped: the caller falls back to reading it).
    pub fn open(path: &Path) -> Result<MappedFile, Stop> {
        let file = File::open(path).map_err(|e| Stop::unreadable(e.to_string()))?;
        let size = file
            .metadata()
            .map_err(|e| Stop::unreadable(e.to_string()))?
            .len();
        let first = usize::try_from(size.min((WINDOW + TAIL) as u64)).unwrap_or(WINDOW);
        if first == 0 {
            return Err(Stop::unreadable("empty file".into()));
        }
        let window = map(&file, 0, first).map_err(|e| Stop::unreadable(e.to_string()))?;
        let (reader, header) = match Reader::open(&window) {
            Ok(r) => r,
            Err(Open::More(n)) => {
                return Err(Stop::unreadable(format!(
                    "the file ends inside its header ({size} of {n} bytes)"
                )));
            }
            Err(Open::Bad(m)) => return Err(Stop::unreadable(m)),
        };
        Ok(MappedFile {
            file,
            size,
            reader,
            window: Arc::new(window),
            window_start: 0,
            pos: header as u64,
            warmed: 0,
        })
    }

    pub fn link(&self) -> Option<i32> {
        self.reader.link()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// File offset just past the last record read.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// The next packet and the window its bytes lie in; `None` at the end.
    pub fn next(&mut self) -> Result<Option<(Record<'_>, &Arc<Window>)>, Stop> {
        loop {
            let rel = (self.pos - self.window_start) as usize;
            if rel >= WINDOW && self.pos < self.size {
                // Past the window proper: the next one starts at this
                // record's aligned offset (the tail's bytes are its first).
                self.remap(self.pos, 0)?;
                continue;
            }
            let avail = self.window.get(rel..).unwrap_or_default();
            match self.reader.next(avail) {
                Step::Packet { record, len } => {
                    let at = record.data.as_ptr() as usize - avail.as_ptr() as usize + rel;
                    let r = Record {
                        data: &[],
                        ..record
                    };
                    let n = record.data.len();
                    self.pos += len as u64;
                    self.warmed = warm(&self.window, rel + len, self.warmed);
                    let data = &self.window[at..at + n];
                    return Ok(Some((Record { data, ..r }, &self.window)));
                }
                Step::Skip(len) => self.pos += len as u64,
                Step::More(need) => {
                    let left = self.size - self.pos;
                    if left == 0 {
                        return Ok(None);
                    }
                    if (need as u64) > left {
                        return Err(Stop::at(
                            self.pos,
                            format!(
                                "the file ends inside a record ({left} of its {need} bytes are there)"
                            ),
                        ));
                    }
                    self.remap(self.pos, need)?;
                }
                Step::Bad(m) => return Err(Stop::at(self.pos, m)),
            }
        }
    }

    /// Maps the window that holds offset `at` and at least `need` bytes
    /// from it (which the file has): from `at` rounded down to a multiple
    /// of `WINDOW`, that and the tail, or more for a larger record.
    fn remap(&mut self, at: u64, need: usize) -> Result<(), Stop> {
        let start = at & !(WINDOW as u64 - 1);
        let lead = (at - start) as usize;
        let len = (WINDOW + TAIL).max(lead + need) as u64;
        let len = usize::try_from(len.min(self.size - start)).unwrap_or(lead + need);
        let w =
            map(&self.file, start, len).map_err(|e| Stop::at(at, format!("cannot map: {e}")))?;
        self.window = Arc::new(w);
        self.window_start = start;
        self.warmed = lead;
        Ok(())
    }
}
