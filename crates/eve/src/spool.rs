//! A sink's spool: the lines it could not deliver yet, on disk, in order.
//!
//! One file per sink, each record `SEQ TYPE JSON\n` (sequence number and
//! event type in decimal and by name, then the EVE line), readable with
//! `cut -d' ' -f3-`. Records are appended at the end and consumed from the
//! front; when everything has been consumed the file is truncated. A spool
//! left by an earlier run is replayed first.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::EventType;
use crate::sink::Line;

pub struct Spool {
    path: PathBuf,
    file: File,
    /// Where the next unconsumed record starts.
    head: u64,
    /// File length.
    len: u64,
    /// Records not consumed yet.
    lines: u64,
    max_bytes: u64,
    buf: Vec<u8>,
}

/// Records read from the front of a spool, not consumed until
/// [`Spool::consume`].
#[derive(Default)]
pub struct Chunk {
    bytes: Vec<u8>,
    /// (seq, type, start, end) of each record's JSON line within `bytes`.
    recs: Vec<(u64, EventType, usize, usize)>,
    /// Bytes of the file these records cover.
    span: u64,
}

impl Chunk {
    pub fn lines(&self) -> Vec<Line<'_>> {
        self.recs
            .iter()
            .map(|&(seq, event_type, s, e)| Line {
                seq,
                event_type,
                bytes: &self.bytes[s..e],
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
}

impl Spool {
    /// Opens (or creates) the spool at `path`, keeping what an earlier run left.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut s = Spool {
            path: path.to_owned(),
            len: file.metadata()?.len(),
            file,
            head: 0,
            lines: 0,
            max_bytes,
            buf: Vec::new(),
        };
        s.lines = s.count_records()?;
        Ok(s)
    }

    fn count_records(&mut self) -> io::Result<u64> {
        let mut n = 0;
        let mut off = 0;
        // Sized by the file: a new spool (the usual case) is empty, and a
        // megabyte zeroed for nothing is a megabyte of resident memory.
        let mut buf = vec![0u8; self.len.min(1 << 20) as usize];
        while off < self.len {
            let got = self.file.read_at(&mut buf, off)?;
            if got == 0 {
                break;
            }
            n += count_newlines(&buf[..got]);
            off += got as u64;
        }
        Ok(n)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records waiting.
    pub fn pending(&self) -> u64 {
        self.lines
    }

    /// Bytes of disk in use.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Appends records; returns how many did not fit under `max_bytes`.
    pub fn append(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        self.buf.clear();
        let mut refused = 0;
        for l in lines {
            let before = self.buf.len();
            let _ = write!(self.buf, "{} {} ", l.seq, l.event_type.as_str());
            self.buf.extend_from_slice(l.bytes);
            if !l.bytes.ends_with(b"\n") {
                self.buf.push(b'\n');
            }
            if self.len + self.buf.len() as u64 > self.max_bytes {
                self.buf.truncate(before);
                refused += 1;
            }
        }
        let accepted = lines.len() as u64 - refused;
        if accepted > 0 {
            self.file.write_all(&self.buf)?;
            self.len += self.buf.len() as u64;
            self.lines += accepted;
        }
        Ok(refused)
    }

    /// Puts records in front of the unconsumed ones (at shutdown, for lines
    /// that were queued in memory and so are older than the spool's).
    /// Returns how many did not fit under `max_bytes`.
    pub fn prepend(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        let tmp = self.path.with_extension("spool.tmp");
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)?;
        let rest = self.len - self.head;
        let mut written = 0u64;
        let mut refused = 0;
        let mut kept = 0;
        let mut rec = Vec::new();
        for l in lines {
            rec.clear();
            let _ = write!(rec, "{} {} ", l.seq, l.event_type.as_str());
            rec.extend_from_slice(l.bytes);
            if !l.bytes.ends_with(b"\n") {
                rec.push(b'\n');
            }
            if written + rec.len() as u64 + rest > self.max_bytes {
                refused += 1;
                continue;
            }
            out.write_all(&rec)?;
            written += rec.len() as u64;
            kept += 1;
        }
        let mut off = self.head;
        let mut buf = vec![0u8; 1 << 20];
        while off < self.len {
            let n = self.file.read_at(&mut buf, off)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            off += n as u64;
        }
        out.sync_data()?;
        drop(out);
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        self.head = 0;
        self.len = written + rest;
        self.lines += kept;
        Ok(refused)
    }

    /// Reads up to about `max` bytes of records from the front.
    pub fn read(&mut self, max: usize) -> io::Result<Chunk> {
        let mut c = Chunk::default();
        let want = (self.len - self.head).min(max.max(1 << 16) as u64) as usize;
        c.bytes.resize(want, 0);
        let mut got = 0;
        while got < want {
            let n = self
                .file
                .read_at(&mut c.bytes[got..], self.head + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        c.bytes.truncate(got);
        // A record longer than `max`: read on until its newline.
        while !c.bytes.contains(&b'\n') && self.head + (c.bytes.len() as u64) < self.len {
            let mut more = vec![0u8; 1 << 16];
            let n = self
                .file
                .read_at(&mut more, self.head + c.bytes.len() as u64)?;
            if n == 0 {
                break;
            }
            c.bytes.extend_from_slice(&more[..n]);
        }
        let mut start = 0;
        while let Some(nl) = c.bytes[start..].iter().position(|&b| b == b'\n') {
            let end = start + nl + 1;
            if let Some(rec) = parse_record(&c.bytes[start..end]) {
                c.recs.push((rec.0, rec.1, start + rec.2, end));
            } else {
                tracing::warn!("{}: skipping a damaged spool record", self.path.display());
            }
            start = end;
        }
        c.span = start as u64;
        // Damaged records are skipped: they count as consumed lines too.
        Ok(c)
    }

    /// Marks a chunk delivered. Truncates the file once it is all consumed.
    pub fn consume(&mut self, c: &Chunk) -> io::Result<()> {
        self.head += c.span;
        let records = count_newlines(&c.bytes[..c.span as usize]);
        self.lines = self.lines.saturating_sub(records);
        if self.head >= self.len {
            self.file.set_len(0)?;
            self.head = 0;
            self.len = 0;
            self.lines = 0;
        }
        Ok(())
    }

    /// Flushes to stable storage (at shutdown).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// `SEQ TYPE JSON\n` → (seq, type, offset of JSON).
fn parse_record(r: &[u8]) -> Option<(u64, EventType, usize)> {
    let sp1 = r.iter().position(|&b| b == b' ')?;
    let seq = std::str::from_utf8(&r[..sp1]).ok()?.parse().ok()?;
    let rest = &r[sp1 + 1..];
    let sp2 = rest.iter().position(|&b| b == b' ')?;
    let ty = EventType::from_name(std::str::from_utf8(&rest[..sp2]).ok()?)?;
    Some((seq, ty, sp1 + 1 + sp2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, b: &[u8]) -> Line<'_> {
        Line {
            seq,
            event_type: EventType::Alert,
            bytes: b,
        }
    }

    #[test]
    fn in_order_bounded_and_kept_across_reopen() {
        let dir = std::env::temp_dir().join(format!("fumidai-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("s.spool");
        let mut s = Spool::open(&p, 90).unwrap();
        assert_eq!(
            s.append(&[line(1, b"{\"a\":1}\n"), line(2, b"{\"a\":2}\n")])
                .unwrap(),
            0
        );
        // 16 bytes per record: the sixth and seventh do not fit in 90.
        let many: Vec<_> = (3..8).map(|i| line(i, b"{\"a\":9}\n")).collect();
        assert_eq!(s.append(&many).unwrap(), 2);
        assert_eq!(s.pending(), 5);
        drop(s);
        let mut s = Spool::open(&p, 90).unwrap();
        assert_eq!(s.pending(), 5);
        let c = s.read(1).unwrap();
        let got: Vec<(u64, Vec<u8>)> = c
            .lines()
            .iter()
            .map(|l| (l.seq, l.bytes.to_vec()))
            .collect();
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (1, b"{\"a\":1}\n".to_vec()));
        assert_eq!(got[4].0, 5);
        s.consume(&c).unwrap();
        assert_eq!((s.pending(), s.bytes()), (0, 0));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
        // Older lines go in front.
        s.append(&[line(10, b"{\"b\":10}\n")]).unwrap();
        assert_eq!(
            s.prepend(&[line(8, b"{\"b\":8}\n"), line(9, b"{\"b\":9}\n")])
                .unwrap(),
            0
        );
        let c = s.read(1 << 16).unwrap();
        let seqs: Vec<u64> = c.lines().iter().map(|l| l.seq).collect();
        assert_eq!(seqs, vec![8, 9, 10]);
        assert_eq!(s.pending(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
