//! Teredo (RFC 4380): IPv6 in UDP, on port 3544 or the ports configured,
//! possibly after an authentication and an origin indicator.
//!
//! Nothing in a Teredo datagram says it is one, so, as Suricata does, the
//! payload is taken for Teredo only when an IPv6 header fills it exactly.

use super::{Encap, Inside, Next, PktSrc, Walk};
use crate::DecodeEvent;
use crate::link;

const IPV6_HEADER_LEN: usize = 40;
const ORIGIN_LEN: usize = 8;
/// Authentication indicator: type, id and auth lengths, then (after the id
/// and auth value) an 8-byte nonce and a confirmation byte.
const AUTH_FIXED_LEN: usize = 4 + 8 + 1;

/// `None` when the datagram is not Teredo.
pub(crate) fn decode<'a>(
    w: &mut Walk<'_, '_>,
    b: &'a [u8],
) -> Result<Option<Inside<'a>>, DecodeEvent> {
    let mut s = b;
    if s.starts_with(&[0, 1]) {
        let (Some(&id_len), Some(&au_len)) = (s.get(2), s.get(3)) else {
            return Ok(None);
        };
        let len = AUTH_FIXED_LEN + usize::from(id_len) + usize::from(au_len);
        let Some(rest) = s.get(len..) else {
            return Ok(None);
        };
        s = rest;
    }
    if s.starts_with(&[0, 0]) {
        let Some(rest) = s.get(ORIGIN_LEN..) else {
            return Ok(None);
        };
        s = rest;
    }
    let (Some(&vtc), Some(plen), Some(&nh), Some(&hlim)) =
        (s.first(), link::be16(s, 4), s.get(6), s.get(7))
    else {
        return Ok(None);
    };
    let fills = s.len() == IPV6_HEADER_LEN + usize::from(plen);
    // A hop limit of 0, or a hop-by-hop header with no room for it, is a
    // misreading of some other protocol rather than a tunnelled packet.
    if vtc >> 4 != 6 || hlim == 0 || (nh == 0 && plen < 8) || !fills {
        return Ok(None);
    }
    w.encap(Encap::Teredo);
    Ok(Some(Inside {
        next: Next::Ip(s, true),
        len: s.len(),
        tracked: true,
        src: Some(PktSrc::Teredo),
    }))
}
