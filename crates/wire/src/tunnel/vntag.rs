//! VN-tags (802.1Qbh, EtherType 0x8926): four bytes of virtual interface
//! ids, then the next EtherType.

use super::{Encap, Next, Walk};
use crate::DecodeEvent;
use crate::link;

const TAG_LEN: usize = 4;

pub(crate) fn decode<'a>(w: &mut Walk<'_, '_>, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
    let Some(next) = link::be16(b, TAG_LEN) else {
        return Err(DecodeEvent::VntagTooSmall);
    };
    w.encap(Encap::Vntag);
    Ok(Next::EtherType(next, &b[TAG_LEN + 2..]))
}
