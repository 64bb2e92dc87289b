//! A capture read from a byte stream (a gzip or zstd decoder, a pipe):
//! records are parsed out of a buffer that is refilled as they are used.
//! The buffer holds at most one record beyond a read's worth, so its size
//! is bounded by [`MAX_BLOCK`](crate::MAX_BLOCK) whatever the file claims.

use std::io::{ErrorKind, Read};

use crate::{Kind, Open, Reader, Record, Step};

/// Bytes asked of the source per read.
const READ_CHUNK: usize = 256 << 10;

/// Why reading stopped before the end of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Offset in the (decompressed) stream where the record that could not
    /// be read starts.
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte offset {}: {}", self.offset, self.message)
    }
}

/// Reads records from `R` one at a time.
pub struct StreamReader<R> {
    src: R,
    buf: Vec<u8>,
    /// First unread byte of `buf`.
    start: usize,
    /// End of the valid bytes of `buf`.
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
    reader: Reader,
}

impl<R: Read> StreamReader<R> {
    /// Reads the file header.
    pub fn open(src: R) -> Result<Self, ReadError> {
        let mut s = StreamReader {
            src,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            reader: Reader {
                format: crate::Format::PcapNg {
                    big_endian: false,
                    ifaces: Vec::new(),
                    started: false,
                },
            },
        };
        let mut need = 4;
        loop {
            s.fill(need)?;
            match Reader::open(&s.buf[s.start..s.end]) {
                Ok((reader, len)) => {
                    s.reader = reader;
                    s.start += len;
                    s.offset += len as u64;
                    return Ok(s);
                }
                Err(Open::More(n)) if s.end - s.start < n && !s.eof => need = n,
                Err(Open::More(n)) => {
                    return Err(ReadError {
                        offset: 0,
                        message: format!(
                            "the file ends inside its header ({} of {n} bytes)",
                            s.end - s.start
                        ),
                    });
                }
                Err(Open::Bad(message)) => return Err(ReadError { offset: 0, message }),
            }
        }
    }

    pub fn kind(&self) -> Kind {
        self.reader.kind()
    }

    /// The stream offset just past the last record read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file's (first interface's) link type.
    pub fn link(&self) -> Option<i32> {
        self.reader.link()
    }

    /// The next packet; `None` at a clean end of the stream.
    pub fn next_packet(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        loop {
            let avail = &self.buf[self.start..self.end];
            match self.reader.next(avail) {
                Step::Packet { record, len } => {
                    let at = record.data.as_ptr() as usize - avail.as_ptr() as usize + self.start;
                    let (ts_micros, link, wire_len, n) = (
                        record.ts_micros,
                        record.link,
                        record.wire_len,
                        record.data.len(),
                    );
                    self.start += len;
                    self.offset += len as u64;
                    return Ok(Some(Record {
                        ts_micros,
                        link,
                        wire_len,
                        data: &self.buf[at..at + n],
                    }));
                }
                Step::Skip(len) => {
                    self.start += len;
                    self.offset += len as u64;
                }
                Step::More(need) => {
                    if self.eof {
                        let have = self.end - self.start;
                        if have == 0 {
                            return Ok(None);
                        }
                        return Err(ReadError {
                            offset: self.offset,
                            message: format!(
                                "the file ends inside a record ({have} of its {need} bytes are there)"
                            ),
                        });
                    }
                    self.fill(need)?;
                }
                Step::Bad(message) => {
                    return Err(ReadError {
                        offset: self.offset,
                        message,
                    });
                }
            }
        }
    }

    /// Reads until `need` unread bytes are buffered or the stream ends.
    fn fill(&mut self, need: usize) -> Result<(), ReadError> {
        if self.end - self.start >= need {
            return Ok(());
        }
        // Move what is unread to the front, then grow only as far as the
        // record needs.
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let want = need.max(READ_CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < need && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ReadError {
                        offset: self.offset + (self.end - self.start) as u64,
                        message: format!("read error: {e}"),
                    });
                }
            }
        }
        Ok(())
    }
}
