//! GRE: RFC 2784 with RFC 2890's key and sequence number, RFC 1701's
//! routing (skipped), and version 1, PPTP's enhanced GRE (RFC 2637), which
//! carries PPP.

use super::{
    ETHERTYPE_ERSPAN_2, ETHERTYPE_ERSPAN_3, ETHERTYPE_PPP, ETHERTYPE_TEB, Encap, Inside, Next,
    PktSrc, Walk, erspan, ppp,
};
use crate::DecodeEvent;
use crate::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

const CHECKSUM: u8 = 0x80;
const ROUTING: u8 = 0x40;
const KEY: u8 = 0x20;
const SEQUENCE: u8 = 0x10;
const STRICT_ROUTE: u8 = 0x08;
const RECURSION: u8 = 0x07;
/// Second byte: version 1's acknowledgment-number flag.
const ACK: u8 = 0x80;
const RESERVED_FLAGS: u8 = 0x78;

/// Decodes a GRE header and says what it carries.
pub(crate) fn decode<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Inside<'a>, DecodeEvent> {
    let (Some(&f0), Some(&f1), Some(proto)) = (b.first(), b.get(1), link::be16(b, 2)) else {
        return Err(DecodeEvent::GreTooSmall);
    };
    w.encap(Encap::Gre);
    let mut len = 4usize;
    match f1 & 0x07 {
        0 => {
            if f0 & RECURSION != 0 {
                return Err(DecodeEvent::GreV0Recur);
            }
            if f1 & RESERVED_FLAGS != 0 {
                return Err(DecodeEvent::GreV0Flags);
            }
            for (flag, bytes) in [(CHECKSUM | ROUTING, 4), (KEY, 4), (SEQUENCE, 4)] {
                if f0 & flag != 0 {
                    len += bytes;
                }
            }
            if len > b.len() {
                return Err(DecodeEvent::GreV0HdrTooBig);
            }
            if f0 & ROUTING != 0 {
                len = source_routes(b, len)?;
            }
        }
        1 => {
            let bad = [
                (f0 & CHECKSUM != 0, DecodeEvent::GreV1Chksum),
                (f0 & ROUTING != 0, DecodeEvent::GreV1Route),
                (f0 & STRICT_ROUTE != 0, DecodeEvent::GreV1Ssr),
                (f0 & RECURSION != 0, DecodeEvent::GreV1Recur),
                (f1 & RESERVED_FLAGS != 0, DecodeEvent::GreV1Flags),
                (f0 & KEY == 0, DecodeEvent::GreV1NoKey),
                (proto != ETHERTYPE_PPP, DecodeEvent::GreV1WrongProtocol),
            ];
            if let Some((_, e)) = bad.iter().find(|(is, _)| *is) {
                return Err(*e);
            }
            // The key is PPTP's payload length and call id.
            len += 4;
            if f0 & SEQUENCE != 0 {
                len += 4;
            }
            if f1 & ACK != 0 {
                len += 4;
            }
            if len > b.len() {
                return Err(DecodeEvent::GreV1HdrTooBig);
            }
        }
        _ => return Err(DecodeEvent::GreWrongVersion),
    }
    let payload = b.get(len..).unwrap_or(&[]);
    // Suricata keeps no flow for the GRE packet itself, whatever it carries.
    let tunnel = |next| Inside {
        next,
        len: payload.len(),
        tracked: false,
        src: Some(PktSrc::Gre),
    };
    Ok(match proto {
        ETHERTYPE_IPV4 => tunnel(Next::Ip(payload, false)),
        ETHERTYPE_IPV6 => tunnel(Next::Ip(payload, true)),
        ETHERTYPE_TEB => tunnel(Next::Ether(payload)),
        // An acknowledgment without data carries no PPP frame.
        ETHERTYPE_PPP if payload.is_empty() => tunnel(Next::NotIp(ETHERTYPE_PPP)),
        ETHERTYPE_PPP => tunnel(ppp::frame(w, payload)?),
        ETHERTYPE_ERSPAN_2 | ETHERTYPE_ERSPAN_3 if w.cfg.erspan => {
            tunnel(if proto == ETHERTYPE_ERSPAN_3 {
                erspan::type3(w, payload)?
            } else if f0 & SEQUENCE != 0 {
                erspan::type2(w, payload)?
            } else if w.cfg.erspan_type1 {
                erspan::type1(w, payload)
            } else {
                Next::NotIp(proto)
            })
        }
        // MPLS over GRE and the like go through the EtherType dispatcher;
        // anything it does not know ends as a counted non-IP payload.
        other => tunnel(Next::EtherType(other, payload)),
    })
}

/// Skips RFC 1701's source route entries (address family, offset, length,
/// then `length` bytes), ending with a null entry; returns the payload offset.
fn source_routes(b: &[u8], mut at: usize) -> Result<usize, DecodeEvent> {
    loop {
        let (Some(family), Some(&sre_len)) = (link::be16(b, at), b.get(at + 3)) else {
            return Err(DecodeEvent::GreV0MalformedSre);
        };
        at += 4;
        if family == 0 && sre_len == 0 {
            return Ok(at);
        }
        at += usize::from(sre_len);
        if at > b.len() {
            return Err(DecodeEvent::GreV0MalformedSre);
        }
    }
}
