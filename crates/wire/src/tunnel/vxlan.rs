//! VXLAN (RFC 7348): an 8-byte header and an Ethernet frame, on UDP 4789 or
//! the ports configured. AWS VPC Traffic Mirroring delivers this.

use super::{Encap, IdTag, Inside, Next, PktSrc, Walk, known_inner_ether_type};
use crate::DecodeEvent;
use crate::link;

const HEADER_LEN: usize = 8;
/// The "VNI present" flag, the only one RFC 7348 defines.
const FLAG_I: u8 = 0x08;

/// `None` when the datagram is not VXLAN after all (no I flag).
pub(crate) fn decode<'a>(
    w: &mut Walk<'_, '_>,
    b: &'a [u8],
) -> Result<Option<Inside<'a>>, DecodeEvent> {
    // Reserved bits are not checked: Linux lets users set them (its
    // "reserved_bits" option), and Suricata's permissive mode accepts them.
    let (Some(&flags), Some(vni)) = (b.first(), b.get(4..7)) else {
        return Ok(None);
    };
    if flags & FLAG_I == 0 {
        return Ok(None);
    }
    w.encap(Encap::Vxlan);
    w.id(
        IdTag::Vxlan,
        u32::from_be_bytes([0, vni[0], vni[1], vni[2]]),
    );
    let frame = b.get(HEADER_LEN..).unwrap_or(&[]);
    if let Some(t) = link::be16(frame, 12)
        && !known_inner_ether_type(t)
    {
        w.event(DecodeEvent::VxlanUnknownPayloadType);
    }
    Ok(Some(Inside {
        next: Next::Ether(frame),
        len: frame.len(),
        tracked: true,
        src: Some(PktSrc::Vxlan),
    }))
}
