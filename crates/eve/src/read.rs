//! Reading EVE files line by line, plain or gzip (told by the magic bytes,
//! not the name), without ever holding more than one line: a multi-GB log
//! streams through, and a line longer than [`MAX_LINE`] is skipped and
//! counted rather than buffered.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

/// The longest line kept. fumidai's own lines are a few KB; a line this long
/// is not an EVE record anyone wrote on purpose.
pub const MAX_LINE: usize = 16 << 20;

/// Where reading is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Position {
    /// Lines read so far, this one included (1-based line number).
    pub lines: u64,
    /// Bytes of the file itself (compressed, for gzip) read so far.
    pub raw_bytes: u64,
}

/// What reading one file came to.
#[derive(Clone, Debug, Default)]
pub struct FileRead {
    pub lines: u64,
    /// The file's size on disk, as far as it was read.
    pub raw_bytes: u64,
    pub gzip: bool,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub oversize: u64,
    /// Reading stopped early (a damaged gzip stream, an I/O error): where and why.
    pub stopped: Option<String>,
}

/// Counts the bytes that pass through.
struct Counted<R> {
    inner: R,
    n: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

/// Calls `f` with each line of `path` (without its line end). Fails only when
/// the file cannot be opened; an error later stops reading and is returned in
/// [`FileRead::stopped`] with the line it happened after.
pub fn read_file(path: &Path, mut f: impl FnMut(&[u8], Position)) -> io::Result<FileRead> {
    let n = Rc::new(Cell::new(0u64));
    let file = Counted {
        inner: File::open(path)?,
        n: n.clone(),
    };
    let mut raw = BufReader::with_capacity(256 << 10, file);
    let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut result = FileRead {
        gzip,
        ..FileRead::default()
    };
    let mut reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            256 << 10,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let mut buf = Vec::with_capacity(64 << 10);
    loop {
        match next_line(&mut reader, &mut buf) {
            Ok(Next::Eof) => break,
            Ok(Next::Line) => {
                result.lines += 1;
                f(
                    &buf,
                    Position {
                        lines: result.lines,
                        raw_bytes: n.get(),
                    },
                );
            }
            Ok(Next::Oversize) => {
                result.lines += 1;
                result.oversize += 1;
            }
            Err(e) => {
                result.stopped = Some(format!(
                    "reading stopped after line {} (byte {} of the file): {e}",
                    result.lines,
                    n.get()
                ));
                break;
            }
        }
    }
    result.raw_bytes = n.get();
    Ok(result)
}

/// What [`next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A line is in the buffer.
    Line,
    /// A line longer than [`MAX_LINE`] was skipped.
    Oversize,
    Eof,
}

/// Reads one line into `buf` (cleared first; `\n` or `\r\n` removed). A last
/// line without a newline is a line.
pub fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Next> {
    next_line_capped(r, buf, MAX_LINE)
}

fn next_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Next> {
    buf.clear();
    let n = r.by_ref().take(max as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Next::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Next::Line);
    }
    if buf.len() <= max {
        return Ok(Next::Line); // the last line, without a newline
    }
    // Too long: skip to the end of the line without keeping it.
    buf.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            break;
        }
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                break;
            }
            None => {
                let k = avail.len();
                r.consume(k);
            }
        }
    }
    Ok(Next::Oversize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(data: &[u8], max: usize, chunk: usize) -> Vec<Result<String, ()>> {
        // A reader that hands out at most `chunk` bytes at a time.
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let k = self.0.len().min(self.1).min(out.len());
                out[..k].copy_from_slice(&self.0[..k]);
                self.0 = &self.0[k..];
                Ok(k)
            }
        }
        let mut r = BufReader::with_capacity(chunk.max(1), Chunks(data, chunk.max(1)));
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match next_line_capped(&mut r, &mut buf, max).unwrap() {
                Next::Eof => break,
                Next::Line => out.push(Ok(String::from_utf8_lossy(&buf).into_owned())),
                Next::Oversize => out.push(Err(())),
            }
        }
        out
    }

    #[test]
    fn splits_lines_and_skips_long_ones() {
        let got = lines_of(b"a\r\nbbbbbbbbbb\ncc\n\nd", 4, 3);
        assert_eq!(
            got,
            vec![
                Ok("a".into()),
                Err(()),
                Ok("cc".into()),
                Ok("".into()),
                Ok("d".into())
            ]
        );
    }

    proptest::proptest! {
        /// However the bytes arrive, the same lines come out, and a line is
        /// skipped exactly when it is longer than the cap.
        #[test]
        fn any_chunking_gives_the_same_lines(
            parts in proptest::collection::vec("[a-z]{0,12}", 0..12),
            chunk in 1usize..20,
            max in 1usize..10,
        ) {
            let data = parts.join("\n");
            // A final newline ends the last line rather than starting one.
            let mut lines: Vec<&String> = parts.iter().collect();
            if lines.last().is_some_and(|l| l.is_empty()) {
                lines.pop();
            }
            let want: Vec<Result<String, ()>> = lines
                .into_iter()
                .map(|p| if p.len() > max { Err(()) } else { Ok(p.clone()) })
                .collect();
            proptest::prop_assert_eq!(lines_of(data.as_bytes(), max, chunk), want);
        }
    }

    #[test]
    fn reads_gzip_by_its_magic_and_concatenated_members() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json.1"); // no .gz in the name on purpose
        let mut bytes = Vec::new();
        for part in ["{\"a\":1}\n", "{\"b\":2}\n"] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part.as_bytes()).unwrap();
            bytes.extend(gz.finish().unwrap());
        }
        std::fs::write(&p, &bytes).unwrap();
        let mut got = Vec::new();
        let r = read_file(&p, |l, _| got.push(String::from_utf8_lossy(l).into_owned())).unwrap();
        assert!(r.gzip);
        assert_eq!(got, ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(r.raw_bytes, bytes.len() as u64);
        assert!(r.stopped.is_none());

        // Cut short: what was read is kept, and where it stopped is said.
        std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
        let mut got = Vec::new();
        let r = read_file(&p, |l, _| got.push(String::from_utf8_lossy(l).into_owned())).unwrap();
        assert_eq!(got.first().map(String::as_str), Some("{\"a\":1}"));
        assert!(r.stopped.is_some(), "{r:?}");
    }
}
