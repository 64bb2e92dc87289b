//! Network Service Header (RFC 8300, EtherType 0x894f): a service chain's
//! path and metadata in front of the packet it steers, decoded in place as
//! Suricata's decode-nsh.c does (an IPv4, IPv6, Ethernet or MPLS payload).

use super::{ETHERTYPE_MPLS_UC, Encap, Next, Walk};
use crate::DecodeEvent;
use crate::link;

/// Base and service path headers.
const MIN_LEN: usize = 8;
const NEXT_IPV4: u8 = 1;
const NEXT_IPV6: u8 = 2;
const NEXT_ETHERNET: u8 = 3;
const NEXT_MPLS: u8 = 5;

pub(crate) fn decode<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    w.encap(Encap::Nsh);
    let Some(word) = link::be16(b, 0) else {
        return Err(DecodeEvent::NshTooSmall);
    };
    if b.len() < MIN_LEN {
        return Err(DecodeEvent::NshTooSmall);
    }
    if word >> 14 != 0 {
        return Err(DecodeEvent::NshUnsupportedVersion);
    }
    // The length counts 4-byte words, headers included.
    let len = usize::from(word & 0x003f) * 4;
    if len >= b.len() {
        return Err(DecodeEvent::NshBadHeaderLength);
    }
    match b[2] & 0x0f {
        0 | 0xf => return Err(DecodeEvent::NshReservedType),
        // MD type 1: fixed-length context headers.
        1 if len != 24 => return Err(DecodeEvent::NshBadHeaderLength),
        1 | 2 => {}
        _ => return Err(DecodeEvent::NshUnsupportedType),
    }
    let rest = &b[len..];
    match b[3] {
        NEXT_IPV4 => Ok(Next::Ip(rest, false)),
        NEXT_IPV6 => Ok(Next::Ip(rest, true)),
        NEXT_ETHERNET => Ok(Next::Ether(rest)),
        NEXT_MPLS => Ok(Next::EtherType(ETHERTYPE_MPLS_UC, rest)),
        _ => Err(DecodeEvent::NshUnknownPayload),
    }
}
