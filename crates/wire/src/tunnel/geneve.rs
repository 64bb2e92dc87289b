//! Geneve (RFC 8926): an 8-byte header, options skipped by their length,
//! and an Ethernet frame (or an IP packet), on UDP 6081 or the ports
//! configured. GCP Packet Mirroring and AWS Gateway Load Balancer use it.

use super::{ETHERTYPE_TEB, Encap, IdTag, Inside, Next, PktSrc, Walk};
use crate::DecodeEvent;
use crate::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

const HEADER_LEN: usize = 8;

/// `None` when the datagram is not Geneve version 0.
pub(crate) fn decode<'a>(
    w: &mut Walk<'_, '_>,
    b: &'a [u8],
) -> Result<Option<Inside<'a>>, DecodeEvent> {
    let (Some(&vo), Some(proto), Some(vni)) = (b.first(), link::be16(b, 2), b.get(4..7)) else {
        return Ok(None);
    };
    if vo >> 6 != 0 {
        return Ok(None);
    }
    let len = HEADER_LEN + usize::from(vo & 0x3f) * 4;
    let Some(inner) = b.get(len..) else {
        return Ok(None);
    };
    w.encap(Encap::Geneve);
    w.id(
        IdTag::Geneve,
        u32::from_be_bytes([0, vni[0], vni[1], vni[2]]),
    );
    let next = match proto {
        ETHERTYPE_TEB => Next::Ether(inner),
        ETHERTYPE_IPV4 => Next::Ip(inner, false),
        ETHERTYPE_IPV6 => Next::Ip(inner, true),
        other => {
            w.event(DecodeEvent::GeneveUnknownPayloadType);
            Next::NotIp(other)
        }
    };
    Ok(Some(Inside {
        next,
        len: inner.len(),
        tracked: true,
        src: Some(PktSrc::Geneve),
    }))
}
