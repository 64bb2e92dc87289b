#![no_main]
// A capture file of any bytes, read the two ways the sensor reads one: in
// place out of one buffer (a memory map) and streamed through a refilled
// buffer in reads of a few bytes (a decoder's output). Neither may panic
// or stand still, and both must find the same packets and stop at the
// same offset.

use std::io::Read;

use fumidai_pcapfile::stream::StreamReader;
use fumidai_pcapfile::{Open, Reader, Step};
use libfuzzer_sys::fuzz_target;

/// A source that hands out at most `chunk` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    // Packets found in place: (offset past the record, ts, link, wire_len, data).
    let mut mapped = Vec::new();
    let mut end = None;
    if let Ok((mut r, hdr)) = Reader::open(data) {
        assert!(hdr <= data.len());
        let mut at = hdr;
        loop {
            match r.next(&data[at..]) {
                Step::Packet { record, len } => {
                    assert!(len > 0 && len <= data.len() - at, "{len} at {at}");
                    at += len;
                    mapped.push((
                        at,
                        record.ts_micros,
                        record.link,
                        record.wire_len,
                        record.data.to_vec(),
                    ));
                }
                Step::Skip(len) => {
                    assert!(len > 0 && len <= data.len() - at, "{len} at {at}");
                    at += len;
                }
                Step::More(need) => {
                    assert!(need > data.len() - at, "{need} at {at}");
                    end = Some(at);
                    break;
                }
                Step::Bad(_) => {
                    end = Some(at);
                    break;
                }
            }
        }
    } else if let Err(Open::More(n)) = Reader::open(data) {
        assert!(n > data.len());
    }

    let chunk = usize::from(first % 16) + 1;
    let Ok(mut s) = StreamReader::open(Trickle { data, chunk }) else {
        assert!(end.is_none(), "the stream refused a header the buffer took");
        return;
    };
    let mut streamed = Vec::new();
    loop {
        match s.next_packet() {
            Ok(Some(p)) => {
                let p = (p.ts_micros, p.link, p.wire_len, p.data.to_vec());
                streamed.push((s.offset() as usize, p.0, p.1, p.2, p.3));
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(mapped, streamed);
    assert_eq!(end, Some(s.offset() as usize));
});
