//! Where replayed packets come from. A capture file is read through a
//! memory map by default ([`mapped`]): records are parsed in place and the
//! workers get views, not copies. Compressed captures (`.pcap.gz`,
//! `.pcapng.zst`, recognised by their content) stream through a decoder
//! into a bounded buffer. libpcap remains as `--pcap-reader libpcap`, for
//! files still being written (a map cannot survive their truncation) and
//! as a second opinion.

pub mod mapped;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fumidai_pcapfile::stream::StreamReader;
use fumidai_wire::Timestamp;

use mapped::MappedFile;
pub use mapped::Window;

/// `--pcap-reader`: how capture files are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PcapReader {
    /// A memory map, parsed in place (pcap-parser); no copy per packet.
    #[default]
    Mmap,
    /// libpcap's buffered reader, copying each packet into a batch.
    Libpcap,
}

/// One packet as read.
pub struct Frame<'a> {
    pub ts: Timestamp,
    /// The `LINKTYPE_`/`DLT_` value of its interface.
    pub link: i32,
    pub wire_len: u32,
    pub data: &'a [u8],
    /// The mapped window `data` lies in (memory-mapped reading only).
    pub window: Option<&'a Arc<Window>>,
}

/// Why reading a file stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Where in the file (or decompressed stream) the record that could not
    /// be read starts, when known.
    pub offset: Option<u64>,
    pub message: String,
}

impl Stop {
    pub fn at(offset: u64, message: String) -> Self {
        Stop {
            offset: Some(offset),
            message,
        }
    }

    pub fn unreadable(message: String) -> Self {
        Stop {
            offset: None,
            message,
        }
    }
}

/// What a compressed capture is compressed with, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    fn of(magic: &[u8]) -> Option<Self> {
        match magic {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

fn first_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut magic = Vec::with_capacity(4);
    File::open(path)?.take(4).read_to_end(&mut magic)?;
    Ok(magic)
}

fn decoder(path: &Path, c: Compression) -> std::io::Result<Box<dyn Read + Send>> {
    let file = BufReader::with_capacity(256 << 10, File::open(path)?);
    Ok(match c {
        // Several members one after another are one stream (as gzip -d does).
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
    })
}

/// True for a file that holds a pcap or pcapng capture, compressed or not.
pub fn is_capture(path: &Path) -> std::io::Result<bool> {
    let magic = first_bytes(path)?;
    let magic = match Compression::of(&magic) {
        Some(c) => {
            let mut m = Vec::with_capacity(4);
            // A corrupt stream is a capture that fails later, with its reason.
            if decoder(path, c)?.take(4).read_to_end(&mut m).is_err() {
                return Ok(true);
            }
            m
        }
        None => magic,
    };
    Ok(magic
        .get(..4)
        .and_then(|m| fumidai_pcapfile::kind_of([m[0], m[1], m[2], m[3]]))
        .is_some())
}

/// An open capture file.
pub enum Source {
    Mapped(MappedFile),
    Stream {
        reader: StreamReader<Box<dyn Read + Send>>,
        compression: Compression,
    },
    Libpcap(Libpcap),
}

impl Source {
    /// Opens `path` with `how` (compressed files always stream).
    pub fn open(path: &Path, how: PcapReader) -> Result<Source, Stop> {
        let magic = first_bytes(path).map_err(|e| Stop::unreadable(e.to_string()))?;
        if let Some(c) = Compression::of(&magic) {
            let d = decoder(path, c).map_err(|e| Stop::unreadable(format!("{}: {e}", c.name())))?;
            let reader = StreamReader::open(d)
                .map_err(|e| Stop::unreadable(format!("{} stream: {}", c.name(), e.message)))?;
            return Ok(Source::Stream {
                reader,
                compression: c,
            });
        }
        match how {
            PcapReader::Mmap => MappedFile::open(path).map(Source::Mapped),
            PcapReader::Libpcap => Libpcap::open(path).map(Source::Libpcap),
        }
    }

    /// The next packet; `None` at the end of the file.
    pub fn next(&mut self) -> Result<Option<Frame<'_>>, Stop> {
        match self {
            Source::Mapped(m) => Ok(m.next()?.map(|(r, w)| Frame {
                ts: Timestamp(r.ts_micros),
                link: r.link,
                wire_len: r.wire_len,
                data: r.data,
                window: Some(w),
            })),
            Source::Stream {
                reader,
                compression,
            } => {
                let c = *compression;
                match reader.next_packet() {
                    Ok(r) => Ok(r.map(|r| Frame {
                        ts: Timestamp(r.ts_micros),
                        link: r.link,
                        wire_len: r.wire_len,
                        data: r.data,
                        window: None,
                    })),
                    Err(e) => Err(Stop::at(
                        e.offset,
                        format!("{} stream: {}", c.name(), e.message),
                    )),
                }
            }
            Source::Libpcap(l) => l.next(),
        }
    }

    /// The file's link type (pcapng: its first interface's, once read).
    pub fn link(&self) -> Option<i32> {
        match self {
            Source::Mapped(m) => m.link(),
            Source::Stream { reader, .. } => reader.link(),
            Source::Libpcap(l) => Some(l.link),
        }
    }

    /// Offset just past the last packet read, for the progress bar.
    pub fn offset(&self) -> u64 {
        match self {
            Source::Mapped(m) => m.offset(),
            // Progress is of the file; the decoder's input position is not
            // exposed, so a compressed file shows packets, not a fraction.
            Source::Stream { .. } => 0,
            Source::Libpcap(l) => l.offset,
        }
    }

    /// "of N" for an offset in an error message: the file's size, or what
    /// the offset counts in.
    pub fn of_what(&self, path: &Path) -> String {
        match self {
            Source::Mapped(m) => m.size().to_string(),
            Source::Stream { compression, .. } => {
                format!("the decompressed {} stream", compression.name())
            }
            Source::Libpcap(_) => std::fs::metadata(path)
                .map(|m| m.len())
                .unwrap_or(0)
                .to_string(),
        }
    }
}

/// libpcap's reader, as before the memory map.
pub struct Libpcap {
    cap: pcap::Capture<pcap::Offline>,
    path: PathBuf,
    link: i32,
    pcapng: bool,
    packets: u64,
    /// Offset of the next record in a classic pcap file: header, then
    /// 16-byte record headers each followed by the captured bytes.
    offset: u64,
}

impl Libpcap {
    fn open(path: &Path) -> Result<Libpcap, Stop> {
        let cap = pcap::Capture::from_file(path)
            .map_err(|e| Stop::unreadable(format!("cannot read as a capture: {e}")))?;
        let link = cap.get_datalink().0;
        Ok(Libpcap {
            cap,
            path: path.to_path_buf(),
            link,
            pcapng: first_bytes(path).is_ok_and(|m| m == [0x0a, 0x0d, 0x0d, 0x0a]),
            packets: 0,
            offset: 24,
        })
    }

    fn next(&mut self) -> Result<Option<Frame<'_>>, Stop> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.packets += 1;
                self.offset += 16 + p.data.len() as u64;
                Ok(Some(Frame {
                    ts: Timestamp::from_sec_usec(
                        p.header.ts.tv_sec.max(0) as u64,
                        p.header.ts.tv_usec.max(0) as u64,
                    ),
                    link: self.link,
                    wire_len: p.header.len,
                    data: p.data,
                    window: None,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => {
                let at = if self.pcapng {
                    pcapng_offset_after(&self.path, self.packets)
                } else {
                    Some(self.offset)
                };
                Err(Stop {
                    offset: at,
                    message: e.to_string(),
                })
            }
        }
    }
}

/// The byte offset just past the `n`-th packet block of a pcapng file:
/// where libpcap was when it gave up. Walks block headers only.
fn pcapng_offset_after(path: &Path, n: u64) -> Option<u64> {
    let data = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let mut seen = 0u64;
    let mut big_endian = false;
    while at + 12 <= data.len() {
        let raw_type: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        if raw_type == [0x0a, 0x0d, 0x0d, 0x0a] {
            // Section header: its byte-order magic decides the section's endianness.
            big_endian = data.get(at + 8..at + 12)? == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let rd = |b: &[u8]| -> Option<u32> {
            let a: [u8; 4] = b.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            })
        };
        let btype = rd(&raw_type)?;
        let len = rd(data.get(at + 4..at + 8)?)? as usize;
        if len < 12 || at + len > data.len() {
            return Some(at as u64);
        }
        if matches!(btype, 2 | 3 | 6) {
            seen += 1;
            if seen == n {
                return Some((at + len) as u64);
            }
        }
        at += len;
    }
    Some(at as u64)
}

#[cfg(test)]
mod tests;
