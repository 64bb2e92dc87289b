//! ERSPAN, the remote mirror of Cisco, Arista, Juniper and Linux `erspan`
//! devices, inside GRE (draft-foschiano-erspan): type I (no header), type II
//! (8 bytes) and type III (12 bytes, and 8 more with the platform-specific
//! sub-header).
//!
//! The header's VLAN is the mirrored frame's and is reported like
//! Suricata's `vlan`; the session id tells mirror sessions apart in flow
//! keys.

use super::{Encap, IdTag, Next, Walk};
use crate::DecodeEvent;
use crate::link;

const TYPE2_LEN: usize = 8;
const TYPE3_LEN: usize = 12;
const TYPE3_PLATFORM_LEN: usize = 8;

/// Type I: GRE 0x88be without a sequence number, Ethernet right after it.
pub(crate) fn type1<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Next<'a> {
    w.encap(Encap::Erspan);
    Next::Ether(b)
}

/// Type II: version 1, VLAN, COS, encapsulation, truncated bit, session id, index.
pub(crate) fn type2<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let (Some(vv), Some(session)) = (link::be16(b, 0), link::be16(b, 2)) else {
        return Err(DecodeEvent::ErspanTooSmall);
    };
    if b.len() < TYPE2_LEN {
        return Err(DecodeEvent::ErspanTooSmall);
    }
    w.encap(Encap::Erspan);
    if vv >> 12 != 1 {
        return Err(DecodeEvent::ErspanUnsupportedVersion);
    }
    header_fields(w, vv, session)?;
    Ok(Next::Ether(&b[TYPE2_LEN..]))
}

/// Type III: version 2, with a timestamp, the security group tag, and the
/// frame type (Ethernet or IP) near its end.
pub(crate) fn type3<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let (Some(vv), Some(session), Some(tail)) =
        (link::be16(b, 0), link::be16(b, 2), link::be16(b, 10))
    else {
        return Err(DecodeEvent::ErspanTooSmall);
    };
    w.encap(Encap::Erspan);
    if vv >> 12 != 2 {
        return Err(DecodeEvent::ErspanUnsupportedVersion);
    }
    let platform = tail & 1 != 0;
    let len = TYPE3_LEN + if platform { TYPE3_PLATFORM_LEN } else { 0 };
    let Some(frame) = b.get(len..) else {
        return Err(DecodeEvent::ErspanTooSmall);
    };
    header_fields(w, vv, session)?;
    Ok(match (tail >> 10) & 0x1f {
        0 => Next::Ether(frame),
        2 => Next::guess_ip(frame).unwrap_or(Next::NotIp(super::ETHERTYPE_ERSPAN_3)),
        _ => Next::NotIp(super::ETHERTYPE_ERSPAN_3),
    })
}

/// The VLAN (first 16 bits after the version) and the session id.
fn header_fields(w: &mut Walk<'_, '_>, vv: u16, session: u16) -> Result<(), DecodeEvent> {
    let vlan = vv & 0x0fff;
    if vlan != 0 {
        w.vlan(vlan, DecodeEvent::ErspanTooManyVlanLayers)?;
    }
    w.id(IdTag::ErspanSession, u32::from(session & 0x03ff));
    Ok(())
}
