//! IPv4, TCP, UDP and ICMP checksums (RFC 1071), to tell which packets the
//! receiver would have thrown away.
//!
//! A segment with a bad checksum never reaches the receiving application,
//! so a sensor that reassembles it anyway can be fed bytes the endpoint
//! never saw. Checksums are summed eight bytes at a time in native byte
//! order (the one's-complement sum does not care, RFC 1071 §2(B)) and
//! folded once at the end.

use std::net::IpAddr;

use crate::{L4, Packet};

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// 32-bit words are summed into a 64-bit total, which cannot carry out
/// before 16 GiB; the sum has no carry chain from one word to the next, so
/// the compiler sums several words at once in vector registers. (Eight-byte
/// words with add-with-carry were one serial chain: a few percent of a
/// replay's CPU went to waiting on it.) The total is folded once at the end.
fn add(acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let mut sum = 0u64;
    for w in &mut words {
        sum += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // A short tail is padded with zeros after it, as if the data went on.
        let mut b = [0u8; 4];
        b[..rest.len()].copy_from_slice(rest);
        sum += u64::from(u32::from_ne_bytes(b));
    }
    // End-around carry: 2^64 is 1 in one's-complement arithmetic.
    let (total, carried) = acc.overflowing_add(sum);
    total + u64::from(carried)
}

/// Folds a sum to 16 bits, in network byte order.
fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    let v = acc as u16;
    if cfg!(target_endian = "little") {
        v.swap_bytes()
    } else {
        v
    }
}

/// True when `data`, checksum field included, sums to all ones.
fn sums_to_ones(acc: u64) -> bool {
    fold(acc) == 0xffff
}

/// The pseudo-header sum of TCP, UDP and ICMPv6 over IPv4 or IPv6.
fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut b = [0u8; 12];
            b[..4].copy_from_slice(&s.octets());
            b[4..8].copy_from_slice(&d.octets());
            b[9] = proto;
            b[10..12].copy_from_slice(&(len as u16).to_be_bytes());
            add(0, &b)
        }
        (s, d) => {
            let mut b = [0u8; 40];
            let (s, d) = (v6(s), v6(d));
            b[..16].copy_from_slice(&s);
            b[16..32].copy_from_slice(&d);
            b[32..36].copy_from_slice(&len.to_be_bytes());
            b[39] = proto;
            add(0, &b)
        }
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// What checking a packet's checksums found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// The IPv4 header's checksum is wrong.
    BadIp,
    /// The transport checksum is wrong.
    BadL4,
    /// Cannot be checked: the capture holds less than the checksum covers,
    /// or the sender left the (optional, IPv4 UDP) checksum out.
    Unknown,
}

/// Checks a decoded packet's IPv4 header and transport checksums.
/// Fragments are checked after reassembly (pass the whole datagram's
/// transport bytes as `l4_bytes`).
pub fn verify(p: &Packet<'_>) -> Verdict {
    if !ip_header_ok(p) {
        return Verdict::BadIp;
    }
    transport(p)
}

/// True unless the packet's IPv4 header checksum is wrong (IPv6 has none).
pub fn ip_header_ok(p: &Packet<'_>) -> bool {
    p.ip_header.is_empty() || sums_to_ones(add(0, p.ip_header))
}

/// The transport checksum's verdict (`Good`, `BadL4` or `Unknown`).
pub fn transport(p: &Packet<'_>) -> Verdict {
    let l4 = p.l4_bytes;
    if l4.is_empty() || (l4.len() as u32) < p.l4_len {
        return Verdict::Unknown;
    }
    let acc = match p.l4 {
        L4::Tcp(_) => pseudo(p.src, p.dst, 6, p.l4_len),
        L4::Udp(_) => {
            // An IPv4 UDP checksum of zero means "not computed".
            if p.src.is_ipv4() && l4.get(6..8) == Some(&[0, 0]) {
                return Verdict::Unknown;
            }
            pseudo(p.src, p.dst, 17, p.l4_len)
        }
        L4::Icmp(i) if i.v6 => pseudo(p.src, p.dst, 58, p.l4_len),
        L4::Icmp(_) => 0,
        L4::Other { .. } | L4::Fragment(_) => return Verdict::Good,
    };
    if sums_to_ones(add(acc, l4)) {
        Verdict::Good
    } else {
        Verdict::BadL4
    }
}

/// Tells from a capture's first packets whether its checksums can be
/// trusted: captured on the sending host with checksum offloading, most
/// outgoing packets carry checksums the NIC never filled in. Suricata's
/// rule: more than one in ten bad means offloading.
#[derive(Clone, Copy, Debug, Default)]
pub struct OffloadSampler {
    pub checked: u64,
    pub bad: u64,
}

impl OffloadSampler {
    /// Packets worth sampling (Suricata samples as many).
    pub const SAMPLE: u64 = 1000;

    pub fn add(&mut self, p: &Packet<'_>) {
        match verify(p) {
            Verdict::Good => self.checked += 1,
            Verdict::BadIp | Verdict::BadL4 => {
                self.checked += 1;
                self.bad += 1;
            }
            Verdict::Unknown => {}
        }
    }

    /// True when the sample shows checksum offloading.
    pub fn offload(&self) -> bool {
        self.bad > 0 && self.checked / self.bad < 10
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoded, LinkType, decode};
    use etherparse::PacketBuilder;

    fn frame(v6: bool, tcp: bool, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]);
        let b = if v6 {
            b.ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
        } else {
            b.ipv4([192, 0, 2, 1], [198, 51, 100, 7], 64)
        };
        if tcp {
            b.tcp(40000, 80, 7, 1000).write(&mut v, payload).unwrap();
        } else {
            b.udp(40000, 53).write(&mut v, payload).unwrap();
        }
        v
    }

    fn verdict(f: &[u8]) -> Verdict {
        match decode(LinkType::Ethernet, f) {
            Decoded::Ip(p) => verify(&p),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn good_and_bad_checksums() {
        for v6 in [false, true] {
            for tcp in [false, true] {
                for len in [0usize, 1, 7, 8, 9, 1400, 1401] {
                    let payload: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                    let mut f = frame(v6, tcp, &payload);
                    assert_eq!(verdict(&f), Verdict::Good, "v6 {v6} tcp {tcp} len {len}");
                    let last = f.len() - 1;
                    if len > 0 {
                        f[last] ^= 0x40;
                        assert_eq!(verdict(&f), Verdict::BadL4, "v6 {v6} tcp {tcp} len {len}");
                        f[last] ^= 0x40;
                    }
                    if !v6 {
                        // The IPv4 header: flip a bit of its TTL.
                        f[14 + 8] ^= 1;
                        assert_eq!(verdict(&f), Verdict::BadIp);
                    }
                }
            }
        }
    }

    #[test]
    fn a_cut_capture_or_an_absent_udp_checksum_is_unknown() {
        let f = frame(false, true, &[7; 100]);
        assert_eq!(verdict(&f[..f.len() - 10]), Verdict::Unknown);
        let mut f = frame(false, false, b"hello");
        f[14 + 20 + 6] = 0;
        f[14 + 20 + 7] = 0;
        assert_eq!(verdict(&f), Verdict::Unknown);
    }

    /// RFC 1071 as written: big-endian 16-bit words, an odd byte padded
    /// with a zero, carries added back in as they happen.
    fn rfc1071(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for w in data.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    proptest::proptest! {
        #[test]
        fn sums_equal_rfc_1071s(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            split in 0usize..150,
            // Near the top half the time, where adding carries out.
            start in proptest::prop_oneof![proptest::num::u64::ANY, (u64::MAX - (1 << 20))..=u64::MAX],
        ) {
            let want = rfc1071(&data);
            // Folded to 16 bits, zero and all ones are the same number.
            let same = |a: u16, b: u16| a == b || (a | b == 0xffff && (a == 0 || b == 0));
            let got = super::fold(super::add(0, &data));
            proptest::prop_assert!(same(got, want), "{got:#x} {want:#x}");
            // In two parts, the first of even length (as the pseudo-header
            // and the segment are summed).
            let at = (split * 2).min(data.len() & !1);
            let got = super::fold(super::add(super::add(0, &data[..at]), &data[at..]));
            proptest::prop_assert!(same(got, want), "{got:#x} {want:#x}");
            // After any running sum: the two folded sums added.
            let got = super::fold(super::add(start, &data));
            let s = u32::from(super::fold(start)) + u32::from(want);
            let expect = ((s & 0xffff) + (s >> 16)) as u16;
            proptest::prop_assert!(same(got, expect), "{got:#x} {expect:#x}");
        }

        #[test]
        fn any_bytes_are_safe(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Decoded::Ip(p) = decode(LinkType::Ethernet, &data) {
                let _ = verify(&p);
            }
            if let Decoded::Ip(p) = decode(LinkType::Raw, &data) {
                let _ = verify(&p);
            }
        }
    }
}
