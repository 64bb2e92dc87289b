//! MPLS label stacks (RFC 3032), unicast and multicast: labels up to the
//! bottom-of-stack bit, then an IPv4 or IPv6 packet guessed from its first
//! nibble, or an Ethernet pseudowire behind its control word (RFC 4385).

use super::{Encap, Next, Walk};
use crate::DecodeEvent;

const BOTTOM_OF_STACK: u32 = 0x100;
const LABEL_IPV4_NULL: u32 = 0;
const LABEL_ROUTER_ALERT: u32 = 1;
const LABEL_IPV6_NULL: u32 = 2;
const LABEL_IMPLICIT_NULL: u32 = 3;
/// Labels below this are reserved (RFC 3032 section 2.1).
const FIRST_UNRESERVED: u32 = 16;
const CONTROL_WORD_LEN: usize = 4;

pub(crate) fn decode<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    w.encap(Encap::Mpls);
    let mut s = b;
    let label = loop {
        let Some((entry, rest)) = s.split_first_chunk::<4>() else {
            return Err(DecodeEvent::MplsHeaderTooSmall);
        };
        s = rest;
        let entry = u32::from_be_bytes(*entry);
        if entry & BOTTOM_OF_STACK != 0 {
            break entry >> 12;
        }
    };
    // The bottom label may say what follows (explicit nulls) or be one that
    // has no business there.
    match label {
        LABEL_IPV4_NULL => return Ok(Next::Ip(s, false)),
        LABEL_IPV6_NULL => return Ok(Next::Ip(s, true)),
        LABEL_ROUTER_ALERT => w.event(DecodeEvent::MplsBadLabelRouterAlert),
        LABEL_IMPLICIT_NULL => w.event(DecodeEvent::MplsBadLabelImplicitNull),
        l if l < FIRST_UNRESERVED => w.event(DecodeEvent::MplsBadLabelReserved),
        _ => {}
    }
    match s.first().map(|v| v >> 4) {
        None => Err(DecodeEvent::MplsPktTooSmall),
        Some(4) => Ok(Next::Ip(s, false)),
        Some(6) => Ok(Next::Ip(s, true)),
        Some(0) => s
            .get(CONTROL_WORD_LEN..)
            .map(Next::Ether)
            .ok_or(DecodeEvent::MplsPktTooSmall),
        Some(_) => Err(DecodeEvent::MplsUnknownPayloadType),
    }
}
