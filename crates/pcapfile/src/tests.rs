use std::io::Read;

use proptest::prelude::*;

use super::stream::StreamReader;
use super::*;

/// A classic pcap file: `magic` picks byte order and precision.
fn pcap(magic: u32, big_endian: bool, link: u32, pkts: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let w32 = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let w16 = |v: &mut Vec<u8>, x: u16| {
        v.extend_from_slice(&if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let mut f = Vec::new();
    w32(&mut f, magic);
    w16(&mut f, 2);
    w16(&mut f, 4);
    w32(&mut f, 0);
    w32(&mut f, 0);
    w32(&mut f, 65535);
    w32(&mut f, link);
    for (sec, frac, data, orig) in pkts {
        w32(&mut f, *sec);
        w32(&mut f, *frac);
        w32(&mut f, data.len() as u32);
        w32(&mut f, *orig);
        f.extend_from_slice(data);
    }
    f
}

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    while !padded.len().is_multiple_of(4) {
        padded.push(0);
    }
    let len = (padded.len() + 12) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&t.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&padded);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

/// An interface; `tsresol` as the if_tsresol option (None: default µs).
fn idb(link: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&link.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&65535u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
    }
    block(1, &body)
}

fn epb(iface: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&orig.to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

/// Every record of a whole buffer, as (ts, link, wire_len, data), and the
/// error that stopped reading with its offset.
type Read_ = (Vec<(u64, i32, u32, Vec<u8>)>, Option<(u64, String)>);

fn read_whole(f: &[u8]) -> Read_ {
    let (mut r, mut at) = match Reader::open(f) {
        Ok(x) => x,
        Err(Open::More(_)) => return (Vec::new(), Some((0, "header".into()))),
        Err(Open::Bad(m)) => return (Vec::new(), Some((0, m))),
    };
    let mut out = Vec::new();
    loop {
        match r.next(&f[at..]) {
            Step::Packet { record, len } => {
                out.push((
                    record.ts_micros,
                    record.link,
                    record.wire_len,
                    record.data.to_vec(),
                ));
                at += len;
            }
            Step::Skip(len) => at += len,
            Step::More(_) if at == f.len() => return (out, None),
            Step::More(_) => return (out, Some((at as u64, "truncated".into()))),
            Step::Bad(m) => return (out, Some((at as u64, m))),
        }
    }
}

/// A source that hands out its bytes in the given chunk sizes.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.sizes[self.i % self.sizes.len()]
            .max(1)
            .min(buf.len())
            .min(self.data.len() - self.at);
        self.i += 1;
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn read_stream(f: &[u8], sizes: Vec<usize>) -> Read_ {
    let src = Chunked {
        data: f.to_vec(),
        at: 0,
        sizes,
        i: 0,
    };
    let mut s = match StreamReader::open(src) {
        Ok(s) => s,
        Err(e) if e.message.contains("header") && !e.message.contains("bad") => {
            return (Vec::new(), Some((0, "header".into())));
        }
        Err(e) => return (Vec::new(), Some((e.offset, e.message))),
    };
    let mut out = Vec::new();
    loop {
        match s.next_packet() {
            Ok(Some(r)) => out.push((r.ts_micros, r.link, r.wire_len, r.data.to_vec())),
            Ok(None) => return (out, None),
            Err(e) if e.message.contains("ends inside") => {
                return (out, Some((e.offset, "truncated".into())));
            }
            Err(e) => return (out, Some((e.offset, e.message))),
        }
    }
}

fn sample_pcapng() -> Vec<u8> {
    let mut f = shb();
    f.extend(idb(1, None));
    f.extend(idb(101, Some(9)));
    f.extend(epb(0, 1_700_000_000_123_456, &[1, 2, 3, 4, 5], 60));
    f.extend(block(4, &[0; 8])); // name resolution: skipped
    f.extend(epb(1, 1_700_000_000_123_456_789, &[9; 21], 21));
    f
}

#[test]
fn classic_pcap_in_every_byte_order_and_precision() {
    let pkts: &[(u32, u32, &[u8], u32)] = &[(10, 20, b"abc", 3), (11, 999_999, b"defgh", 100)];
    for (magic, be, nanos) in [
        (0xa1b2_c3d4, false, false),
        (0xa1b2_c3d4, true, false),
        (0xa1b2_3c4d, false, true),
        (0xa1b2_3c4d, true, true),
    ] {
        let (recs, err) = read_whole(&pcap(magic, be, 1, pkts));
        assert_eq!(err, None);
        let frac = |f: u64| if nanos { f / 1000 } else { f };
        assert_eq!(
            recs,
            vec![
                (10_000_000 + frac(20), 1, 3, b"abc".to_vec()),
                (11_000_000 + frac(999_999), 1, 100, b"defgh".to_vec()),
            ]
        );
    }
}

#[test]
fn pcapng_interfaces_keep_their_own_link_type_and_clock() {
    let (recs, err) = read_whole(&sample_pcapng());
    assert_eq!(err, None);
    assert_eq!(
        recs,
        vec![
            (1_700_000_000_123_456, 1, 60, vec![1, 2, 3, 4, 5]),
            (1_700_000_000_123_456, 101, 21, vec![9; 21]),
        ]
    );
}

#[test]
fn a_packet_on_an_undeclared_interface_stops_reading() {
    let mut f = shb();
    f.extend(idb(1, None));
    f.extend(epb(3, 0, &[1], 1));
    let (recs, err) = read_whole(&f);
    assert!(recs.is_empty());
    let (at, msg) = err.unwrap();
    assert_eq!(at, (shb().len() + idb(1, None).len()) as u64);
    assert!(msg.contains("interface 3"), "{msg}");
}

#[test]
fn a_record_larger_than_any_capture_is_refused() {
    let mut f = pcap(0xa1b2_c3d4, false, 1, &[(1, 1, b"x", 1)]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    let (recs, err) = read_whole(&f);
    assert_eq!(recs.len(), 1);
    assert!(err.unwrap().1.contains("more than a capture may hold"));
}

#[test]
fn truncation_is_reported_at_the_start_of_the_cut_record() {
    let f = pcap(
        0xa1b2_c3d4,
        false,
        1,
        &[(1, 1, b"abcd", 4), (2, 2, b"efgh", 4)],
    );
    let cut = &f[..f.len() - 2];
    let (recs, err) = read_whole(cut);
    assert_eq!(recs.len(), 1);
    assert_eq!(err, Some((24 + 16 + 4, "truncated".into())));
    let (srecs, serr) = read_stream(cut, vec![7]);
    assert_eq!(srecs, recs);
    assert_eq!(serr, err);
}

#[test]
fn not_a_capture() {
    assert!(matches!(Reader::open(b"hello world"), Err(Open::Bad(_))));
    assert_eq!(Reader::open(&[0xd4, 0xc3]).unwrap_err(), Open::More(4));
    let f = pcap(0xa1b2_c3d4, false, 1, &[]);
    assert_eq!(Reader::open(&f[..10]).unwrap_err(), Open::More(24));
}

fn any_capture() -> impl Strategy<Value = Vec<u8>> {
    let pkt = (
        any::<u32>(),
        0u32..1_000_000,
        proptest::collection::vec(any::<u8>(), 0..200),
    );
    prop_oneof![
        proptest::collection::vec(pkt.clone(), 0..20).prop_map(|ps| {
            let ps: Vec<(u32, u32, &[u8], u32)> = ps
                .iter()
                .map(|(s, u, d)| (*s, *u, d.as_slice(), d.len() as u32))
                .collect();
            pcap(0xa1b2_c3d4, false, 1, &ps)
        }),
        proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..200)),
            0..20
        )
        .prop_map(|ps| {
            let mut f = shb();
            f.extend(idb(1, Some(9)));
            for (ts, d) in ps {
                f.extend(epb(0, ts, &d, d.len() as u32));
            }
            f
        }),
    ]
}

proptest! {
    /// Read in chunks of any size, a capture gives exactly what it gives
    /// read whole; cut anywhere, the same records up to the cut.
    #[test]
    fn chunked_equals_whole(f in any_capture(), sizes in proptest::collection::vec(1usize..300, 1..8), cut in any::<prop::sample::Index>()) {
        prop_assert_eq!(read_stream(&f, sizes.clone()), read_whole(&f));
        let cut = cut.index(f.len() + 1);
        let part = &f[..cut];
        prop_assert_eq!(read_stream(part, sizes), read_whole(part));
    }

    /// Any bytes at all: an error or records, never a panic.
    #[test]
    fn never_panics(mut f in any_capture(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        for (i, b) in flips {
            if !f.is_empty() {
                let i = i.index(f.len());
                f[i] = b;
            }
        }
        let _ = read_whole(&f);
        let _ = read_stream(&f, vec![13]);
    }
}
