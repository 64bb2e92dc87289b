//! PPPoE (RFC 2516): sessions (0x8864) carry PPP, whose IPv4 and IPv6 are
//! decoded; discovery (0x8863) is counted and its tags checked, not decoded.

use super::{ETHERTYPE_PPPOE_DISCOVERY, Encap, IdTag, Next, Walk, ppp};
use crate::DecodeEvent;
use crate::link;

const HEADER_LEN: usize = 6;
/// Discovery codes: PADI, PADO, PADR, PADS, PADT.
const DISCOVERY_CODES: [u8; 5] = [0x09, 0x07, 0x19, 0x65, 0xa7];
const TAG_END_OF_LIST: u16 = 0;

/// A session packet: version/type, code 0, session id, length, then PPP.
pub(crate) fn session<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let (Some(&code), Some(id), Some(len)) = (b.get(1), link::be16(b, 2), link::be16(b, 4)) else {
        return Err(DecodeEvent::PppoeTooSmall);
    };
    w.encap(Encap::Pppoe);
    if code != 0 {
        return Err(DecodeEvent::PppoeWrongCode);
    }
    w.id(IdTag::PppoeSession, u32::from(id));
    // The length bounds the payload: Ethernet pads short frames.
    let body = &b[HEADER_LEN..];
    let body = body.get(..usize::from(len)).unwrap_or(body);
    // A protocol field compressed to one byte (RFC 1661 §6.5: odd first
    // byte) is what some clients send after negotiating it, and Suricata
    // reads it (its bug 4810).
    match body.first() {
        Some(&p) if p & 1 == 1 => ppp::payload(u16::from(p), &body[1..]),
        _ => match link::be16(body, 0) {
            Some(proto) => ppp::payload(proto, &body[2..]),
            None => Err(DecodeEvent::PppoeTooSmall),
        },
    }
}

/// A discovery packet: counted, its code and tags checked.
pub(crate) fn discovery<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let (Some(&code), Some(len)) = (b.get(1), link::be16(b, 4)) else {
        return Err(DecodeEvent::PppoeTooSmall);
    };
    w.encap(Encap::Pppoe);
    if !DISCOVERY_CODES.contains(&code) {
        return Err(DecodeEvent::PppoeWrongCode);
    }
    let body = &b[HEADER_LEN..];
    match body.get(..usize::from(len)) {
        Some(tags) if tags_well_formed(tags) => {}
        _ => w.event(DecodeEvent::PppoeMalformedTags),
    }
    Ok(Next::NotIp(ETHERTYPE_PPPOE_DISCOVERY))
}

/// Type-length-value tags filling `tags` exactly, or up to End-Of-List.
fn tags_well_formed(mut tags: &[u8]) -> bool {
    while !tags.is_empty() {
        let (Some(t), Some(l)) = (link::be16(tags, 0), link::be16(tags, 2)) else {
            return false;
        };
        if t == TAG_END_OF_LIST {
            return true;
        }
        match tags.get(4 + usize::from(l)..) {
            Some(rest) => tags = rest,
            None => return false,
        }
    }
    true
}
