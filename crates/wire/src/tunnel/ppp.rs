//! PPP (RFC 1661) as PPPoE and PPTP carry it: the protocol field, then IPv4,
//! IPv6 or Van Jacobson-uncompressed IPv4 decoded; link control and the
//! other negotiation protocols counted, not decoded.

use super::{Encap, Next, Walk};
use crate::DecodeEvent;
use crate::link;

pub(crate) const PPP_IPV4: u16 = 0x0021;
pub(crate) const PPP_IPV6: u16 = 0x0057;
const PPP_VJ_UNCOMPRESSED: u16 = 0x002f;
/// Protocols of PPP's own negotiation and housekeeping, which carry no IP:
/// LCP, PAP, CHAP, EAP, LQR, IPCP, IPv6CP, CCP and compressed datagrams,
/// ECP, BACP, BAP, MP, CDP, the OSI, IPX and bridging control protocols.
const CONTROL: &[u16] = &[
    0xc021, 0xc023, 0xc223, 0xc227, 0xc025, 0x8021, 0x8057, 0x80fd, 0x00fd, 0x80fb, 0x00fb, 0x8053,
    0x0053, 0xc02b, 0xc02d, 0x003d, 0x8207, 0x8023, 0x802b, 0x8031, 0x8029, 0x0031,
];
/// What a PPP control frame is counted under (not `unknown_ethertype`).
pub(crate) const NOT_IP: u16 = super::ETHERTYPE_PPP;

/// A PPP frame with HDLC-like framing as PPTP sends it: address and control
/// (0xff 0x03) unless compressed away, and a protocol field of one byte when
/// compressed (odd first byte) or two.
pub(crate) fn frame<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    w.encap(Encap::Ppp);
    let b = b.strip_prefix(&[0xff, 0x03]).unwrap_or(b);
    let (proto, rest) = match b.first() {
        Some(&p) if p & 1 == 1 => (u16::from(p), &b[1..]),
        _ => match link::be16(b, 0) {
            Some(p) => (p, &b[2..]),
            None => return Err(DecodeEvent::PppTooSmall),
        },
    };
    payload(proto, rest)
}

/// What PPP protocol `proto` carries.
pub(crate) fn payload(proto: u16, rest: &[u8]) -> Result<Next<'_>, DecodeEvent> {
    match proto {
        PPP_IPV4 if rest.len() < 20 => Err(DecodeEvent::PppIpv4TooSmall),
        PPP_IPV4 => Ok(Next::Ip(rest, false)),
        PPP_IPV6 if rest.len() < 40 => Err(DecodeEvent::PppIpv6TooSmall),
        PPP_IPV6 => Ok(Next::Ip(rest, true)),
        // An IPv4 header whose protocol byte holds the compression slot:
        // decoded as IPv4, as Suricata does.
        PPP_VJ_UNCOMPRESSED if rest.len() < 20 || rest[0] >> 4 != 4 => {
            Err(DecodeEvent::PppVjuTooSmall)
        }
        PPP_VJ_UNCOMPRESSED => Ok(Next::Ip(rest, false)),
        p if CONTROL.contains(&p) => Ok(Next::NotIp(NOT_IP)),
        _ => Err(DecodeEvent::PppUnsupProto),
    }
}
