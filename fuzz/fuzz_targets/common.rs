// Shared by the stream-parser fuzz targets: the input itself says how the
// bytes are cut, which direction each piece travels, and where gaps and
// ends fall, so the fuzzer explores the driver's interleavings too.

use fumidai_proto::{Direction, StreamDriver, StreamParser};

/// Drives `parser` with `data`. Each step reads a control byte: bit 0 is
/// the direction, bits 1–6 a piece length (0–63), and bit 7 a gap instead
/// of bytes; a control byte of 0xff ends both directions.
pub fn drive<P: StreamParser>(
    parser: P,
    data: &[u8],
    mut after_events: impl FnMut(&mut StreamDriver<P>, &[P::Event]),
) {
    let mut d = StreamDriver::new(parser, 4096);
    let mut ev = Vec::new();
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let len = usize::from((ctl >> 1) & 0x3f).min(tail.len());
        let before = ev.len();
        if ctl == 0xff {
            d.end(Direction::ToServer, &mut ev);
            d.end(Direction::ToClient, &mut ev);
            rest = tail;
        } else if ctl & 0x80 != 0 {
            d.gap(dir, len as u64 + 1, &mut ev);
            rest = tail;
        } else {
            d.feed(dir, &tail[..len], &mut ev);
            rest = &tail[len..];
        }
        after_events(&mut d, &ev[before..]);
    }
    let before = ev.len();
    d.end(Direction::ToServer, &mut ev);
    d.end(Direction::ToClient, &mut ev);
    after_events(&mut d, &ev[before..]);
}
