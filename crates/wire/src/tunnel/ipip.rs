//! IP in IP: IPv4 (protocol 4) and IPv6 (protocol 41, "6in4") inside IPv4
//! or IPv6.

use super::{Encap, Inside, Next, PktSrc, Walk};
use crate::DecodeEvent;

pub(crate) fn decode<'a>(
    w: &mut Walk<'_, '_>,
    outer_v6: bool,
    inner_v6: bool,
    b: &'a [u8],
) -> Result<Inside<'a>, DecodeEvent> {
    w.encap(match (outer_v6, inner_v6) {
        (false, false) => Encap::Ipv4InIpv4,
        (false, true) => Encap::Ipv6InIpv4,
        (true, false) => Encap::Ipv4InIpv6,
        (true, true) => Encap::Ipv6InIpv6,
    });
    // Inside IPv6, Suricata checks the inner header under IPv6's own event
    // names; inside IPv4 the inner packet's decoder reports what is wrong.
    if outer_v6 {
        let (min, version, small, wrong) = if inner_v6 {
            (
                40,
                6,
                DecodeEvent::Ipv6InIpv6TooSmall,
                DecodeEvent::Ipv6InIpv6WrongVersion,
            )
        } else {
            (
                20,
                4,
                DecodeEvent::Ipv4InIpv6TooSmall,
                DecodeEvent::Ipv4InIpv6WrongVersion,
            )
        };
        if b.len() < min {
            return Err(small);
        }
        if b.first().map(|v| v >> 4) != Some(version) {
            return Err(wrong);
        }
    }
    Ok(Inside {
        next: Next::Ip(b, inner_v6),
        len: b.len(),
        tracked: true,
        src: Some(if outer_v6 {
            PktSrc::Ipv6Tunnel
        } else {
            PktSrc::Ipv4Tunnel
        }),
    })
}
