//! 802.1BR E-tags (EtherType 0x893f): six bytes of port extender
//! identifiers, then the next EtherType.

use super::{Encap, Next, Walk};
use crate::DecodeEvent;
use crate::link;

const TAG_LEN: usize = 6;

pub(crate) fn decode<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let Some(next) = link::be16(b, TAG_LEN) else {
        return Err(DecodeEvent::EtagTooSmall);
    };
    w.encap(Encap::Etag);
    Ok(Next::EtherType(next, &b[TAG_LEN + 2..]))
}
