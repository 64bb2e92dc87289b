//! DNS (RFC 1035), lightly: the header and the first question of a message,
//! over UDP (one datagram) or TCP (length-prefixed messages, RFC 7766).
//!
//! What a bot's volume of lookups shows is who asks, how often, and for
//! which names and types (a spam bot resolves its recipients' MX records
//! itself). Answers are not decoded: fumidai is not a passive-DNS logger.

#[cfg(test)]
mod tests;

use crate::{Direction, StreamParser};

/// A message's header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    /// The flags word as sent (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// A response (QR set).
    pub fn response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// An opcode IANA assigned (0 query, 1 inverse query, 2 status,
    /// 4 notify, 5 update).
    pub fn opcode_assigned(&self) -> bool {
        !matches!(self.opcode(), 3 | 6..=15)
    }
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// The first question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name as sent, dot-separated, without the root's trailing dot;
    /// bytes other than printable ASCII escaped as `\xHH`.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// A message as far as fumidai reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    pub header: Header,
    pub question: Option<Question>,
}

crate::heap_size_of_fields!(Question: name);

impl crate::heap::HeapSize for DnsMessage {
    fn heap_size(&self) -> usize {
        self.question.as_ref().map_or(0, |q| q.name.capacity())
    }
}

/// Why a message was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsError {
    /// Shorter than a header.
    Short,
    /// The question runs past the end, or its name is malformed (a label
    /// over 63 bytes, a name over 255, a pointer loop).
    BadQuestion,
    /// Not plausibly DNS: more than a few questions, or an opcode no one uses.
    NotDns,
    /// TCP: bytes were lost, and with them the message framing.
    Gap,
}

impl DnsError {
    pub fn name(self) -> &'static str {
        match self {
            DnsError::Short => "short",
            DnsError::BadQuestion => "bad_question",
            DnsError::NotDns => "not_dns",
            DnsError::Gap => "gap",
        }
    }
}

const HEADER: usize = 12;
/// Compression pointers followed in one name.
const MAX_HOPS: usize = 16;
/// Longest name (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

/// Reads a DNS message.
pub fn parse(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    let Some(h) = msg.get(..HEADER) else {
        return Err(DnsError::Short);
    };
    let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let header = Header {
        id: w(0),
        flags: w(2),
        qdcount: w(4),
        ancount: w(6),
        nscount: w(8),
        arcount: w(10),
    };
    // Real messages carry one question (a handful at most). Opcodes 3 and
    // 6..15 are unassigned: such a message is read only if its question
    // is well-formed (Suricata logs it, with an invalid_opcode event).
    if header.qdcount > 8 || (!header.opcode_assigned() && header.qdcount == 0) {
        return Err(DnsError::NotDns);
    }
    if header.qdcount == 0 {
        return Ok(DnsMessage {
            header,
            question: None,
        });
    }
    let bad = if header.opcode_assigned() {
        DnsError::BadQuestion
    } else {
        DnsError::NotDns
    };
    let (name, end) = read_name(msg, HEADER).ok_or(bad)?;
    let t = msg.get(end..end + 4).ok_or(bad)?;
    Ok(DnsMessage {
        header,
        question: Some(Question {
            name,
            qtype: u16::from_be_bytes([t[0], t[1]]),
            qclass: u16::from_be_bytes([t[2], t[3]]),
        }),
    })
}

/// The name at `at` and the offset just past it (past the first pointer,
/// when it is compressed).
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut wire_len = 0usize;
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 => {
                let len = usize::from(len);
                if len == 0 {
                    return Some((out, end.unwrap_or(at + 1)));
                }
                wire_len += len + 1;
                if wire_len > MAX_NAME {
                    return None;
                }
                let label = msg.get(at + 1..at + 1 + len)?;
                if !out.is_empty() {
                    out.push('.');
                }
                for &c in label {
                    if c.is_ascii_graphic() && c != b'\\' && c != b'.' {
                        out.push(char::from(c));
                    } else {
                        out.push_str(&format!("\\x{c:02x}"));
                    }
                }
                at += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(at + 1)?;
                hops += 1;
                if hops > MAX_HOPS {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
            }
            // 0x40 and 0x80 are reserved label types.
            _ => return None,
        }
    }
}

/// A record type by its mnemonic (the ones a sensor meets; others by number).
pub fn rrtype_name(t: u16) -> std::borrow::Cow<'static, str> {
    let n = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        44 => "SSHFP",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return std::borrow::Cow::Owned(t.to_string()),
    };
    std::borrow::Cow::Borrowed(n)
}

/// Record type MX.
pub const MX: u16 = 15;

/// A response code by its mnemonic (RFC 6895), others by number.
pub fn rcode_name(r: u8) -> std::borrow::Cow<'static, str> {
    let n = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return std::borrow::Cow::Owned(r.to_string()),
    };
    std::borrow::Cow::Borrowed(n)
}

/// Whether the first bytes a client sent over TCP look like a
/// length-prefixed DNS message.
pub fn probe_tcp(data: &[u8]) -> crate::Probe {
    if data.len() < 2 + HEADER {
        return crate::Probe::NeedMore;
    }
    let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
    if len < HEADER {
        return crate::Probe::NoMatch;
    }
    match parse(&data[2..(2 + len).min(data.len())]) {
        Ok(m) if !m.header.response() && m.header.qdcount >= 1 => crate::Probe::Match,
        Err(DnsError::BadQuestion) if data.len() < 2 + len => crate::Probe::NeedMore,
        _ => crate::Probe::NoMatch,
    }
}

/// What the TCP parser reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsEvent {
    Message { dir: Direction, msg: DnsMessage },
    Anomaly { dir: Direction, kind: DnsError },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// Expecting a length prefix.
    Length,
    /// Skipping the rest of a message of which the start was read.
    Skip(u64),
    /// The framing was lost (a gap): nothing more is read.
    Lost,
}

/// DNS over TCP: each side a run of length-prefixed messages.
#[derive(Debug)]
pub struct DnsTcpParser {
    side: [Side; 2],
}

impl Default for DnsTcpParser {
    fn default() -> Self {
        DnsTcpParser {
            side: [Side::Length; 2],
        }
    }
}

/// Bytes of a message read to decode its header and question.
const HEAD_BYTES: usize = HEADER + MAX_NAME + 1 + 4 + 64;

impl DnsTcpParser {
    pub fn memuse(&self) -> usize {
        0
    }
}

impl StreamParser for DnsTcpParser {
    type Event = DnsEvent;

    fn parse(&mut self, dir: Direction, input: &[u8], ev: &mut Vec<DnsEvent>) -> usize {
        let i = dir.index();
        match self.side[i] {
            Side::Lost => input.len(),
            Side::Skip(left) => {
                let n = (input.len() as u64).min(left);
                self.side[i] = if n == left {
                    Side::Length
                } else {
                    Side::Skip(left - n)
                };
                n as usize
            }
            Side::Length => {
                let Some(l) = input.get(..2) else { return 0 };
                let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
                // The header and question come first; wait for them (or
                // the whole message, if it is shorter).
                let want = len.min(HEAD_BYTES);
                let Some(head) = input.get(2..2 + want) else {
                    return 0;
                };
                match parse(head) {
                    Ok(msg) => ev.push(DnsEvent::Message { dir, msg }),
                    // A question cut by HEAD_BYTES is still a message.
                    Err(kind) => ev.push(DnsEvent::Anomaly { dir, kind }),
                }
                self.side[i] = if len > want {
                    Side::Skip((len - want) as u64)
                } else {
                    Side::Length
                };
                2 + want
            }
        }
    }

    fn gap(&mut self, dir: Direction, _len: u64, ev: &mut Vec<DnsEvent>) {
        // Length-prefixed framing cannot be found again after a hole.
        self.side[dir.index()] = Side::Lost;
        ev.push(DnsEvent::Anomaly {
            dir,
            kind: DnsError::Gap,
        });
    }

    fn end(&mut self, _dir: Direction, _ev: &mut Vec<DnsEvent>) {}
}
