//! NTP over UDP: modes 1–5 (RFC 5905), mode 6 control messages (RFC 9327)
//! and mode 7 private messages (ntpd's `ntp_request.h`), including the
//! monitor list of `MON_GETLIST` / `MON_GETLIST_1` answers — the monlist
//! amplification vector.
//!
//! One datagram, one call; nothing is kept between datagrams. Unknown
//! values are kept as numbers (newtypes with named constants rather than
//! closed enums) so they reach the log intact. Monlist items are not
//! collected: [`Private::monlist`] iterates over them in place, as far as
//! the datagram carries them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::number::complete::{be_i8, be_u8, be_u16, be_u32, be_u64};
use nom::{IResult, Parser};

/// The association mode (RFC 5905 §7.3), with ntpd's 6 and 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mode(pub u8);

impl Mode {
    pub const RESERVED: Mode = Mode(0);
    pub const SYMMETRIC_ACTIVE: Mode = Mode(1);
    pub const SYMMETRIC_PASSIVE: Mode = Mode(2);
    pub const CLIENT: Mode = Mode(3);
    pub const SERVER: Mode = Mode(4);
    pub const BROADCAST: Mode = Mode(5);
    pub const CONTROL: Mode = Mode(6);
    pub const PRIVATE: Mode = Mode(7);
}

/// Mode 7 request codes (ntp_request.h); a selection with names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestCode(pub u8);

impl RequestCode {
    pub const PEER_LIST: RequestCode = RequestCode(0);
    pub const PEER_LIST_SUM: RequestCode = RequestCode(1);
    pub const PEER_INFO: RequestCode = RequestCode(2);
    pub const PEER_STATS: RequestCode = RequestCode(3);
    pub const SYS_INFO: RequestCode = RequestCode(4);
    pub const SYS_STATS: RequestCode = RequestCode(5);
    pub const IO_STATS: RequestCode = RequestCode(6);
    pub const MEM_STATS: RequestCode = RequestCode(7);
    pub const LOOP_INFO: RequestCode = RequestCode(8);
    pub const TIMER_STATS: RequestCode = RequestCode(9);
    pub const CONFIG: RequestCode = RequestCode(10);
    pub const UNCONFIG: RequestCode = RequestCode(11);
    pub const MON_GETLIST: RequestCode = RequestCode(20);
    pub const GET_RESTRICT: RequestCode = RequestCode(24);
    pub const GET_KERNEL: RequestCode = RequestCode(38);
    pub const MON_GETLIST_1: RequestCode = RequestCode(42);
    pub const IF_STATS: RequestCode = RequestCode(44);

    /// True for the monitor-list requests that make monlist amplification.
    pub fn is_monlist(self) -> bool {
        self == Self::MON_GETLIST || self == Self::MON_GETLIST_1
    }

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "PEER_LIST",
            1 => "PEER_LIST_SUM",
            2 => "PEER_INFO",
            3 => "PEER_STATS",
            4 => "SYS_INFO",
            5 => "SYS_STATS",
            6 => "IO_STATS",
            7 => "MEM_STATS",
            8 => "LOOP_INFO",
            9 => "TIMER_STATS",
            10 => "CONFIG",
            11 => "UNCONFIG",
            20 => "MON_GETLIST",
            24 => "GET_RESTRICT",
            38 => "GET_KERNEL",
            42 => "MON_GETLIST_1",
            44 => "IF_STATS",
            _ => return None,
        })
    }
}

/// Mode 7 implementation numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Implementation(pub u8);

impl Implementation {
    pub const UNIV: Implementation = Implementation(0);
    pub const XNTPD_OLD: Implementation = Implementation(2);
    pub const XNTPD: Implementation = Implementation(3);
}

/// Mode 6 opcodes (RFC 9327 / ntpd).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const READSTAT: Opcode = Opcode(1);
    pub const READVAR: Opcode = Opcode(2);
    pub const WRITEVAR: Opcode = Opcode(3);
    pub const READCLOCK: Opcode = Opcode(4);
    pub const WRITECLOCK: Opcode = Opcode(5);
    pub const SETTRAP: Opcode = Opcode(6);
    pub const ASYNCMSG: Opcode = Opcode(7);
    pub const CONFIGURE: Opcode = Opcode(8);
    pub const SAVECONFIG: Opcode = Opcode(9);
    pub const READ_MRU: Opcode = Opcode(10);
    pub const READ_ORDLIST_A: Opcode = Opcode(11);
    pub const REQ_NONCE: Opcode = Opcode(12);
    pub const UNSETTRAP: Opcode = Opcode(31);
}

/// A 64-bit NTP timestamp: seconds since 1900 (32.32 fixed point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtpTime(pub u64);

/// Seconds between the NTP era 0 epoch (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

impl NtpTime {
    /// Unix seconds; 0 for the all-zero "unknown" timestamp.
    pub fn unix(self) -> f64 {
        if self.0 == 0 {
            return 0.0;
        }
        let secs = (self.0 >> 32) as f64;
        let frac = (self.0 & 0xffff_ffff) as f64 / 4_294_967_296.0;
        secs + frac - NTP_UNIX_OFFSET
    }
}

/// Modes 1–5.
#[derive(Clone, Debug, PartialEq)]
pub struct Standard {
    pub stratum: u8,
    /// log2 seconds.
    pub poll: i8,
    /// log2 seconds.
    pub precision: i8,
    /// Seconds.
    pub root_delay: f64,
    /// Seconds.
    pub root_dispersion: f64,
    pub reference_id: [u8; 4],
    pub reference_ts: NtpTime,
    pub origin_ts: NtpTime,
    pub receive_ts: NtpTime,
    pub transmit_ts: NtpTime,
    /// NTPv4 extension fields.
    pub extensions: usize,
    /// Length of the trailing message authentication code, if any.
    pub mac_len: usize,
}

/// Mode 6.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub response: bool,
    pub error: bool,
    pub more: bool,
    pub opcode: Opcode,
    pub sequence: u16,
    pub status: u16,
    pub association_id: u16,
    pub offset: u16,
    pub count: u16,
    /// The data actually present (may be shorter than `count`).
    pub data_len: usize,
}

/// Mode 7.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Private<'a> {
    pub response: bool,
    pub more: bool,
    pub auth: bool,
    pub sequence: u8,
    pub implementation: Implementation,
    pub request_code: RequestCode,
    pub error: u8,
    pub item_count: u16,
    pub item_size: u16,
    /// Everything after the 8-byte header.
    pub data: &'a [u8],
}

/// One entry of ntpd's monitor list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonEntry {
    /// Seconds since the client was last / first seen.
    pub last_seen: u32,
    pub first_seen: u32,
    pub count: u32,
    pub address: IpAddr,
    pub port: u16,
    pub mode: u8,
    pub version: u8,
    /// Restriction flags (info_monitor_1) or last drop (info_monitor).
    pub restrict: u32,
}

impl<'a> Private<'a> {
    /// The monitor list items this datagram carries: for monlist responses
    /// with 72-byte (`info_monitor_1`) or 48-byte (`info_monitor`) items,
    /// as many as the item count says and the data holds.
    pub fn monlist(&self) -> impl Iterator<Item = MonEntry> + 'a {
        let size = usize::from(self.item_size);
        let decodable =
            self.response && self.request_code.is_monlist() && (size == 72 || size == 48);
        let n = if decodable {
            usize::from(self.item_count).min(self.data.len() / size.max(1))
        } else {
            0
        };
        let data = self.data;
        (0..n).filter_map(move |i| mon_entry(&data[i * size..(i + 1) * size]))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn mon_entry(b: &[u8]) -> Option<MonEntry> {
    if b.len() == 72 {
        // info_monitor_1: lasttime firsttime restr count addr daddr flags
        // port mode version v6_flag unused1 addr6 daddr6.
        let v6 = be32(b, 32)? != 0;
        let address = if v6 {
            let o: [u8; 16] = b.get(40..56)?.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(o))
        } else {
            let o: [u8; 4] = b.get(16..20)?.try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(o))
        };
        Some(MonEntry {
            last_seen: be32(b, 0)?,
            first_seen: be32(b, 4)?,
            restrict: be32(b, 8)?,
            count: be32(b, 12)?,
            address,
            port: u16::from_be_bytes([*b.get(28)?, *b.get(29)?]),
            mode: *b.get(30)?,
            version: *b.get(31)?,
        })
    } else {
        // info_monitor: lasttime firsttime lastdrop count addr port mode
        // version v6_flag unused1 addr6.
        let v6 = be32(b, 24)? != 0;
        let address = if v6 {
            let o: [u8; 16] = b.get(32..48)?.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(o))
        } else {
            let o: [u8; 4] = b.get(16..20)?.try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(o))
        };
        Some(MonEntry {
            last_seen: be32(b, 0)?,
            first_seen: be32(b, 4)?,
            restrict: be32(b, 8)?,
            count: be32(b, 12)?,
            address,
            port: u16::from_be_bytes([*b.get(20)?, *b.get(21)?]),
            mode: *b.get(22)?,
            version: *b.get(23)?,
        })
    }
}

/// The body of a datagram, by mode.
#[derive(Clone, Debug, PartialEq)]
pub enum Body<'a> {
    Standard(Standard),
    Control(Control),
    Private(Private<'a>),
}

/// A decoded NTP datagram.
#[derive(Clone, Debug, PartialEq)]
pub struct NtpPacket<'a> {
    /// Leap indicator (modes 1–6; in mode 7 these bits are R and M).
    pub leap: u8,
    pub version: u8,
    pub mode: Mode,
    pub body: Body<'a>,
}

impl NtpPacket<'_> {
    /// True for datagrams that answer something: server/passive/broadcast
    /// modes, and mode 6/7 messages with the response bit.
    pub fn is_response(&self) -> bool {
        match &self.body {
            Body::Standard(_) => matches!(
                self.mode,
                Mode::SYMMETRIC_PASSIVE | Mode::SERVER | Mode::BROADCAST
            ),
            Body::Control(c) => c.response,
            Body::Private(p) => p.response,
        }
    }
}

/// Why a datagram is not NTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtpError {
    TooShort,
    /// Version 0 or above 4.
    BadVersion,
}

/// Decodes one UDP payload.
pub fn parse(payload: &[u8]) -> Result<NtpPacket<'_>, NtpError> {
    let first = *payload.first().ok_or(NtpError::TooShort)?;
    let version = (first >> 3) & 0x7;
    let mode = Mode(first & 0x7);
    if version == 0 || version > 4 {
        return Err(NtpError::BadVersion);
    }
    let leap = first >> 6;
    let body = match mode {
        Mode::CONTROL => Body::Control(control(payload).map_err(|_| NtpError::TooShort)?.1),
        Mode::PRIVATE => Body::Private(private(payload).map_err(|_| NtpError::TooShort)?.1),
        _ => Body::Standard(standard(payload).map_err(|_| NtpError::TooShort)?.1),
    };
    Ok(NtpPacket {
        leap,
        version,
        mode,
        body,
    })
}

fn standard(i: &[u8]) -> IResult<&[u8], Standard> {
    let (i, (_, stratum, poll, precision, delay, disp, refid)) =
        (be_u8, be_u8, be_i8, be_i8, be_u32, be_u32, be_u32).parse(i)?;
    let (rest, (r, o, rx, tx)) = (be_u64, be_u64, be_u64, be_u64).parse(i)?;
    let (extensions, mac_len) = trailer(rest);
    Ok((
        &rest[rest.len()..],
        Standard {
            stratum,
            poll,
            precision,
            root_delay: f64::from(delay as i32) / 65536.0,
            root_dispersion: f64::from(disp) / 65536.0,
            reference_id: refid.to_be_bytes(),
            reference_ts: NtpTime(r),
            origin_ts: NtpTime(o),
            receive_ts: NtpTime(rx),
            transmit_ts: NtpTime(tx),
            extensions,
            mac_len,
        },
    ))
}

/// Extension fields (RFC 7822: at least 16 bytes, a multiple of 4) and
/// what remains as the MAC.
fn trailer(mut rest: &[u8]) -> (usize, usize) {
    let mut n = 0;
    // A bare MAC is 20 or 24 bytes (or a 4-byte crypto-NAK): anything that
    // long or shorter at the end is the MAC.
    while rest.len() > 24 {
        let len = match rest.get(2..4) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => break,
        };
        if len < 16 || len % 4 != 0 || len > rest.len() {
            break;
        }
        n += 1;
        rest = &rest[len..];
    }
    (n, rest.len())
}

fn control(i: &[u8]) -> IResult<&[u8], Control> {
    let (i, (_, flags, sequence, status, association_id, offset, count)) =
        (be_u8, be_u8, be_u16, be_u16, be_u16, be_u16, be_u16).parse(i)?;
    Ok((
        &i[i.len()..],
        Control {
            response: flags & 0x80 != 0,
            error: flags & 0x40 != 0,
            more: flags & 0x20 != 0,
            opcode: Opcode(flags & 0x1f),
            sequence,
            status,
            association_id,
            offset,
            count,
            data_len: i.len().min(usize::from(count)),
        },
    ))
}

fn private(i: &[u8]) -> IResult<&[u8], Private<'_>> {
    let (i, (first, auth_seq, implementation, request, err_nitems, mbz_itemsize)) =
        (be_u8, be_u8, be_u8, be_u8, be_u16, be_u16).parse(i)?;
    Ok((
        &i[i.len()..],
        Private {
            response: first & 0x80 != 0,
            more: first & 0x40 != 0,
            auth: auth_seq & 0x80 != 0,
            sequence: auth_seq & 0x7f,
            implementation: Implementation(implementation),
            request_code: RequestCode(request),
            error: (err_nitems >> 12) as u8,
            item_count: err_nitems & 0x0fff,
            item_size: mbz_itemsize & 0x0fff,
            data: i,
        },
    ))
}

/// The reference id as Suricata writes it: four hex bytes joined by colons.
pub fn reference_id_hex(id: [u8; 4]) -> String {
    // Every NTP packet's record has one: built directly, not through fmt.
    let mut s = String::with_capacity(11);
    for (i, b) in id.into_iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.extend(fumidai_wire::ipfmt::hex_byte(b).map(char::from));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_id_as_suricata_writes_it() {
        assert_eq!(reference_id_hex([0x0a, 0, 0xff, 0x7b]), "0a:00:ff:7b");
        assert_eq!(reference_id_hex(*b"GPS\0"), "47:50:53:00");
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn client_request() {
        // NTPv3 client, as in Zeek's NTP_sync trace.
        let mut p = vec![0u8; 48];
        p[0] = 0x1b;
        p[2] = 10;
        p[3] = 0xfa;
        p[40..48].copy_from_slice(&0xc502_04ec_ec40_0000u64.to_be_bytes());
        let n = parse(&p).unwrap();
        assert_eq!((n.version, n.mode), (3, Mode::CLIENT));
        assert!(!n.is_response());
        let Body::Standard(s) = n.body else { panic!() };
        assert_eq!((s.poll, s.precision), (10, -6));
        assert!((s.transmit_ts.unix() - 1_096_255_084.922_851_6).abs() < 1e-6);
        assert_eq!((s.extensions, s.mac_len), (0, 0));
        assert_eq!(reference_id_hex(*b"LOCL"), "4c:4f:43:4c");
    }

    #[test]
    fn monlist_request_and_response() {
        // ntpdc's MON_GETLIST_1: 17 00 03 2a, then zeros to 192 bytes.
        let mut req = hex("1700032a");
        req.resize(192, 0);
        let n = parse(&req).unwrap();
        assert_eq!((n.version, n.mode), (2, Mode::PRIVATE));
        let Body::Private(p) = &n.body else { panic!() };
        assert!(!p.response && p.request_code.is_monlist());
        assert_eq!((p.implementation, p.item_count), (Implementation::XNTPD, 0));
        // A response with two 72-byte items, the second IPv6.
        let mut resp = hex("9700032a00020048");
        let mut item = vec![0u8; 72];
        item[12..16].copy_from_slice(&7u32.to_be_bytes());
        item[16..20].copy_from_slice(&[192, 0, 2, 9]);
        item[28..30].copy_from_slice(&123u16.to_be_bytes());
        item[30] = 3;
        item[31] = 4;
        resp.extend_from_slice(&item);
        item[32..36].copy_from_slice(&1u32.to_be_bytes());
        item[40..56].copy_from_slice(&"2001:db8::9".parse::<Ipv6Addr>().unwrap().octets());
        resp.extend_from_slice(&item);
        let n = parse(&resp).unwrap();
        assert!(n.is_response());
        let Body::Private(p) = &n.body else { panic!() };
        let items: Vec<MonEntry> = p.monlist().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].address, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
        assert_eq!(
            (
                items[0].port,
                items[0].count,
                items[0].mode,
                items[0].version
            ),
            (123, 7, 3, 4)
        );
        assert_eq!(items[1].address, "2001:db8::9".parse::<IpAddr>().unwrap());
        // Cut short: only the whole items count.
        let cut = parse(&resp[..8 + 72 + 10]).unwrap();
        let Body::Private(p) = &cut.body else {
            panic!()
        };
        assert_eq!(p.monlist().count(), 1);
    }

    #[test]
    fn control_message() {
        let req = hex("1602000100000000000000000000");
        let n = parse(&req).unwrap();
        let Body::Control(c) = &n.body else { panic!() };
        assert_eq!(
            (c.opcode, c.sequence, c.response),
            (Opcode::READVAR, 1, false)
        );
    }

    #[test]
    fn extension_fields_and_mac() {
        let mut p = vec![0u8; 48];
        p[0] = 0x23;
        // One 16-byte extension field, then a 20-byte MAC.
        p.extend_from_slice(&[0, 1, 0, 16]);
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&[0; 20]);
        let Body::Standard(s) = parse(&p).unwrap().body else {
            panic!()
        };
        assert_eq!((s.extensions, s.mac_len), (1, 20));
    }

    #[test]
    fn not_ntp() {
        assert_eq!(parse(&[]), Err(NtpError::TooShort));
        assert_eq!(parse(&[0x03; 48]), Err(NtpError::BadVersion));
        assert_eq!(parse(&[0x1b; 20]), Err(NtpError::TooShort));
    }

    /// A datagram cut at every point (a short snaplen, an IP fragment lost)
    /// decodes the header and exactly the monitor entries it still holds.
    #[test]
    fn every_cut_of_a_monlist_response_decodes_what_it_holds() {
        let mut resp = vec![0xd7, 5, 3, 42, 0, 6, 0, 72];
        for i in 0..6u8 {
            let mut item = [0u8; 72];
            item[16..20].copy_from_slice(&[192, 0, 2, i]);
            resp.extend_from_slice(&item);
        }
        for cut in 0..=resp.len() {
            let r = parse(&resp[..cut]);
            if cut < 8 {
                assert!(r.is_err(), "cut {cut}");
                continue;
            }
            let Ok(NtpPacket {
                body: Body::Private(pr),
                ..
            }) = r
            else {
                panic!("cut {cut}: {r:?}");
            };
            assert_eq!(
                (pr.request_code.0, pr.item_count, pr.more),
                (42, 6, true),
                "cut {cut}"
            );
            assert_eq!(pr.monlist().count(), (cut - 8) / 72, "cut {cut}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(p) = parse(&b)
                && let Body::Private(pr) = &p.body
            {
                let _ = pr.monlist().count();
            }
        }

        #[test]
        fn truncating_a_monlist_response_never_panics(n in 0usize..500, items in 0u16..8) {
            let mut resp = vec![0x97, 0, 3, 42, 0, items as u8, 0, 72];
            resp.extend(std::iter::repeat_n(0x11u8, 72 * usize::from(items)));
            let cut = &resp[..n.min(resp.len())];
            if let Ok(p) = parse(cut)
                && let Body::Private(pr) = &p.body
            {
                proptest::prop_assert!(pr.monlist().count() <= usize::from(items));
            }
        }
    }
}
