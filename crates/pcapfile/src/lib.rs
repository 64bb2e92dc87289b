//! Capture files, pcap and pcapng, read record by record out of a byte
//! buffer: a window of a memory-mapped file, or what a decompressor has
//! produced so far ([`stream::StreamReader`]). The container format is
//! parsed by `pcap-parser`; this crate keeps the state a file needs between
//! records (byte order, timestamp precision, each pcapng interface's link
//! type and clock) and turns what it finds into [`Record`]s, with bounds a
//! hostile file cannot talk its way past.
//!
//! Nothing here reads a file or owns the bytes: [`Reader::next`] looks at
//! the buffer it is given and says how many bytes the next record takes, so
//! the caller decides whether that is a view into a mapping (no copy) or a
//! refilled buffer.

#![forbid(unsafe_code)]

pub mod stream;

use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};

/// The most bytes one packet record may capture: libpcap's
/// `MAXIMUM_SNAPLEN`, which it refuses to read past, and so do we.
pub const MAX_CAPLEN: u32 = 262_144;
/// The largest pcapng block accepted (libpcap's limit too).
pub const MAX_BLOCK: usize = 16 << 20;

/// One packet of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_micros: u64,
    /// The interface's `LINKTYPE_` value.
    pub link: i32,
    /// The packet's length on the wire (`data` may be shorter: snaplen).
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// What the bytes at the current position hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A packet, `len` bytes of the buffer long.
    Packet { record: Record<'a>, len: usize },
    /// A record that is not a packet (a pcapng interface or name
    /// resolution block, ...), `len` bytes long.
    Skip(usize),
    /// The next record is `len` bytes long: more than the buffer holds.
    More(usize),
    /// The bytes here are not a record: reading cannot go on.
    Bad(String),
}

/// Why a file's header could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Open {
    /// The header needs this many bytes.
    More(usize),
    Bad(String),
}

/// Which container a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pcap,
    PcapNg,
}

/// The magic numbers a pcap or pcapng file starts with.
pub fn kind_of(magic: [u8; 4]) -> Option<Kind> {
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
            Some(Kind::Pcap)
        }
        0x0a0d_0d0a => Some(Kind::PcapNg),
        _ => None,
    }
}

/// A pcapng interface: its link type and how its clock counts.
#[derive(Clone, Copy, Debug)]
struct Iface {
    link: i32,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

#[derive(Debug)]
enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        /// The "modified" pcap format: 24-byte record headers.
        modified: bool,
        link: i32,
    },
    PcapNg {
        big_endian: bool,
        /// Interfaces of the current section, by id.
        ifaces: Vec<Iface>,
        /// A section header has been read.
        started: bool,
    },
}

/// The state of one capture file between records.
#[derive(Debug)]
pub struct Reader {
    format: Format,
}

/// At most this many interfaces per pcapng section: each is a few bytes,
/// but a hostile file could declare millions.
const MAX_IFACES: usize = 65_536;

impl Reader {
    /// Reads the file header at the start of `buf`; returns the reader and
    /// the header's length (0 for pcapng, whose section header is a block
    /// that [`next`](Self::next) reads).
    pub fn open(buf: &[u8]) -> Result<(Reader, usize), Open> {
        let Some(magic) = buf.get(..4) else {
            return Err(Open::More(4));
        };
        let magic: [u8; 4] = [magic[0], magic[1], magic[2], magic[3]];
        match kind_of(magic) {
            None => Err(Open::Bad(
                "unknown file format: not a pcap or pcapng file".into(),
            )),
            Some(Kind::PcapNg) => Ok((
                Reader {
                    format: Format::PcapNg {
                        big_endian: false,
                        ifaces: Vec::new(),
                        started: false,
                    },
                },
                0,
            )),
            Some(Kind::Pcap) => {
                if buf.len() < 24 {
                    return Err(Open::More(24));
                }
                let (_, h) = pcap_parser::parse_pcap_header(&buf[..24])
                    .map_err(|_| Open::Bad("bad pcap file header".into()))?;
                if h.version_major != 2 {
                    return Err(Open::Bad(format!(
                        "pcap version {}.{} is not supported",
                        h.version_major, h.version_minor
                    )));
                }
                Ok((
                    Reader {
                        format: Format::Pcap {
                            big_endian: h.is_bigendian(),
                            nanos: h.is_nanosecond_precision(),
                            modified: h.magic_number == 0xa1b2_cd34
                                || h.magic_number == 0x34cd_b2a1,
                            // The upper bits carry FCS information.
                            link: h.network.0 & 0x03ff_ffff,
                        },
                    },
                    24,
                ))
            }
        }
    }

    /// Which container the file is.
    pub fn kind(&self) -> Kind {
        match self.format {
            Format::Pcap { .. } => Kind::Pcap,
            Format::PcapNg { .. } => Kind::PcapNg,
        }
    }

    /// The link type of the file (pcap) or of its first interface
    /// (pcapng, once that is read).
    pub fn link(&self) -> Option<i32> {
        match &self.format {
            Format::Pcap { link, .. } => Some(*link),
            Format::PcapNg { ifaces, .. } => ifaces.first().map(|i| i.link),
        }
    }

    /// The record at the start of `buf`.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        match &mut self.format {
            Format::Pcap {
                big_endian,
                nanos,
                modified,
                link,
            } => pcap_record(buf, *big_endian, *nanos, *modified, *link),
            Format::PcapNg {
                big_endian,
                ifaces,
                started,
            } => pcapng_block(buf, big_endian, ifaces, started),
        }
    }
}

fn u32_at(buf: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn pcap_record(buf: &[u8], be: bool, nanos: bool, modified: bool, link: i32) -> Step<'_> {
    let hdr = if modified { 24 } else { 16 };
    let Some(caplen) = u32_at(buf, 8, be).filter(|_| buf.len() >= hdr) else {
        return Step::More(hdr);
    };
    if caplen > MAX_CAPLEN {
        return Step::Bad(format!(
            "a record of {caplen} bytes, more than a capture may hold ({MAX_CAPLEN})"
        ));
    }
    let len = hdr + caplen as usize;
    if buf.len() < len {
        return Step::More(len);
    }
    let rec = &buf[..len];
    let parsed = match (modified, be) {
        (true, _) => pcap_parser::parse_pcap_frame_modified(rec),
        (false, true) => pcap_parser::parse_pcap_frame_be(rec),
        (false, false) => pcap_parser::parse_pcap_frame(rec),
    };
    let Ok((_, f)) = parsed else {
        return Step::Bad("malformed pcap record".into());
    };
    let frac = if nanos {
        u64::from(f.ts_usec) / 1000
    } else {
        u64::from(f.ts_usec)
    };
    Step::Packet {
        record: Record {
            ts_micros: u64::from(f.ts_sec)
                .saturating_mul(1_000_000)
                .saturating_add(frac),
            link,
            wire_len: f.origlen,
            data: f.data,
        },
        len,
    }
}

const SHB: u32 = 0x0a0d_0d0a;
/// The obsolete Packet Block, which libpcap still reads.
const OPB: u32 = 2;
const BOM: u32 = 0x1a2b_3c4d;

fn pcapng_block<'a>(
    buf: &'a [u8],
    be: &mut bool,
    ifaces: &mut Vec<Iface>,
    started: &mut bool,
) -> Step<'a> {
    if buf.len() < 12 {
        return Step::More(12);
    }
    let Some(raw_type) = u32_at(buf, 0, false) else {
        return Step::More(12);
    };
    let is_shb = raw_type == SHB;
    if is_shb {
        // The section's byte order comes from its own header.
        match u32_at(buf, 8, false) {
            Some(BOM) => *be = false,
            Some(b) if b == BOM.swap_bytes() => *be = true,
            _ => return Step::Bad("section header with an unknown byte-order magic".into()),
        }
    } else if !*started {
        return Step::Bad("pcapng file that does not start with a section header".into());
    }
    let (Some(btype), Some(blen)) = (u32_at(buf, 0, *be), u32_at(buf, 4, *be)) else {
        return Step::More(12);
    };
    let len = blen as usize;
    if len < 12 || !len.is_multiple_of(4) || (is_shb && len < 28) {
        return Step::Bad(format!("a block of length {len}, which no block can have"));
    }
    if len > MAX_BLOCK {
        return Step::Bad(format!(
            "a block of {len} bytes, more than {MAX_BLOCK} (libpcap's limit)"
        ));
    }
    if buf.len() < len {
        return Step::More(len);
    }
    let block = &buf[..len];
    if is_shb {
        return match parse_sectionheaderblock(block) {
            Ok(_) => {
                *started = true;
                ifaces.clear();
                Step::Skip(len)
            }
            Err(_) => Step::Bad("malformed section header block".into()),
        };
    }
    if btype == OPB {
        return obsolete_packet(block, *be, ifaces, len);
    }
    let parsed = if *be {
        parse_block_be(block)
    } else {
        parse_block_le(block)
    };
    let Ok((_, parsed)) = parsed else {
        return Step::Bad(format!("malformed block of type {btype:#x}"));
    };
    match parsed {
        Block::InterfaceDescription(idb) => {
            if ifaces.len() >= MAX_IFACES {
                return Step::Bad(format!("more than {MAX_IFACES} interfaces in a section"));
            }
            let Some(units) = idb.ts_resolution().filter(|&u| u > 0) else {
                return Step::Bad(format!(
                    "interface {} has an impossible timestamp resolution",
                    ifaces.len()
                ));
            };
            ifaces.push(Iface {
                link: idb.linktype.0,
                units,
                offset: idb.ts_offset(),
            });
            Step::Skip(len)
        }
        Block::EnhancedPacket(epb) => {
            let Some(iface) = ifaces.get(epb.if_id as usize) else {
                return no_interface(epb.if_id);
            };
            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            // `data` is padded to 32 bits: the captured bytes are `caplen`.
            let data = epb.data;
            let data = &data[..(epb.caplen as usize).min(data.len())];
            if data.len() > MAX_CAPLEN as usize {
                return Step::Bad(format!(
                    "a packet of {} bytes, more than a capture may hold ({MAX_CAPLEN})",
                    data.len()
                ));
            }
            Step::Packet {
                record: Record {
                    ts_micros: micros(raw, iface),
                    link: iface.link,
                    wire_len: epb.origlen,
                    data,
                },
                len,
            }
        }
        Block::SimplePacket(spb) => {
            let Some(iface) = ifaces.first() else {
                return no_interface(0);
            };
            let data = spb.data;
            let data = &data[..(spb.origlen as usize).min(data.len())];
            // No timestamp in a simple packet block: libpcap gives 0 too.
            Step::Packet {
                record: Record {
                    ts_micros: 0,
                    link: iface.link,
                    wire_len: spb.origlen,
                    data: &data[..data.len().min(MAX_CAPLEN as usize)],
                },
                len,
            }
        }
        _ => Step::Skip(len),
    }
}

fn no_interface(id: u32) -> Step<'static> {
    Step::Bad(format!(
        "a packet on interface {id}, which no interface description block declares"
    ))
}

/// Block type 2: interface id (16 bits), drops (16), timestamp (64),
/// captured and original length, data.
fn obsolete_packet<'a>(block: &'a [u8], be: bool, ifaces: &[Iface], len: usize) -> Step<'a> {
    let id_bytes: Option<[u8; 2]> = block.get(8..10).and_then(|b| b.try_into().ok());
    let (Some(id), Some(high), Some(low), Some(caplen), Some(origlen)) = (
        id_bytes.map(|b| {
            if be {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        }),
        u32_at(block, 12, be),
        u32_at(block, 16, be),
        u32_at(block, 20, be),
        u32_at(block, 24, be),
    ) else {
        return Step::Bad("malformed packet block".into());
    };
    let Some(iface) = ifaces.get(usize::from(id)) else {
        return no_interface(u32::from(id));
    };
    let end = 28usize.saturating_add(caplen as usize);
    let Some(data) = block.get(28..end).filter(|_| end + 4 <= len) else {
        return Step::Bad("a packet block whose data runs past its end".into());
    };
    Step::Packet {
        record: Record {
            ts_micros: micros((u64::from(high) << 32) | u64::from(low), iface),
            link: iface.link,
            wire_len: origlen,
            data: &data[..data.len().min(MAX_CAPLEN as usize)],
        },
        len,
    }
}

/// A pcapng timestamp in microseconds, saturating rather than wrapping on
/// absurd offsets or resolutions.
fn micros(raw: u64, iface: &Iface) -> u64 {
    let units = u128::from(iface.units);
    let raw = u128::from(raw);
    let secs = (raw / units) as i128 + i128::from(iface.offset);
    let frac = (raw % units) * 1_000_000 / units;
    let total = secs.saturating_mul(1_000_000).saturating_add(frac as i128);
    total.clamp(0, i128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests;
