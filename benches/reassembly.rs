//! TCP reassembly throughput: in-order delivery (the zero-copy fast path)
//! and heavily out-of-order delivery (every segment held, then drained);
//! and 1,024 concurrent streams seen with their acknowledgements
//! (two-sided) or without (one-sided, as on an asymmetric mirror, where the
//! retained window stays full and every segment pushes the oldest bytes
//! out), with full and with small segments.
//!
//! `cargo bench -p fumidai-benches --bench reassembly`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fumidai_flow::stream::{
    Chunk, Memcap, ReassemblyStats, Receiver, Stream, StreamConfig, StreamEvent,
};

/// Counts delivered bytes, as the cheapest possible application layer.
struct Count(u64);

impl Receiver for Count {
    fn chunk(&mut self, c: Chunk<'_>) {
        if let Chunk::Data(d) = c {
            self.0 += d.len() as u64;
        }
    }
    fn event(&mut self, _: StreamEvent) {}
}

const STREAM: usize = 1 << 20;
const MSS: usize = 1448;

fn segments(order: &str) -> Vec<(u32, usize, usize)> {
    let mut segs: Vec<(u32, usize, usize)> = (0..STREAM)
        .step_by(MSS)
        .map(|off| (off as u32, off, (off + MSS).min(STREAM)))
        .collect();
    match order {
        "in-order" => {}
        // Reverse within windows of 64 segments: everything but the window's
        // first segment waits in the out-of-order store.
        "out-of-order" => {
            for w in segs.chunks_mut(64) {
                w.reverse();
            }
        }
        _ => unreachable!(),
    }
    segs
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..STREAM).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(STREAM as u64));
    for order in ["in-order", "out-of-order"] {
        let segs = segments(order);
        g.bench_with_input(BenchmarkId::from_parameter(order), &segs, |b, segs| {
            let cfg = StreamConfig {
                depth: 0,
                max_buffered: 4 << 20,
                ..StreamConfig::default()
            };
            b.iter(|| {
                let mut s = Stream::default();
                s.start_at(1000);
                let mut mem = Memcap::unlimited("reassembly");
                let mut stats = ReassemblyStats::default();
                let mut rx = Count(0);
                for &(off, a, z) in segs {
                    s.insert(
                        1000u32.wrapping_add(off),
                        &data[a..z],
                        &cfg,
                        &mut mem,
                        &mut stats,
                        &mut rx,
                    );
                    // The receiver acknowledges what it has in order, which
                    // releases the retained copy as it goes.
                    let ack = s.next_seq();
                    s.acked(ack, &cfg, &mut mem, &mut stats, &mut rx);
                }
                assert_eq!(rx.0, STREAM as u64);
                rx.0
            });
        });
    }
    g.finish();
}

/// Streams open at once in the concurrent benchmark.
const FLOWS: usize = 1024;
/// Bytes each of them carries per iteration.
const PER_FLOW: usize = 256 << 10;

fn concurrent(c: &mut Criterion) {
    let data: Vec<u8> = (0..PER_FLOW).map(|i| (i * 13 + i / 7) as u8).collect();
    let mut g = c.benchmark_group("reassembly-1024-flows");
    g.throughput(Throughput::Bytes((FLOWS * PER_FLOW) as u64));
    g.sample_size(10);
    for seg in [1448usize, 100] {
        for sided in ["two-sided", "one-sided"] {
            let id = BenchmarkId::new(sided, seg);
            g.bench_function(id, |b| {
                let cfg = StreamConfig {
                    depth: 0,
                    ..StreamConfig::default()
                };
                b.iter(|| {
                    let mut streams: Vec<Stream> = (0..FLOWS)
                        .map(|_| {
                            let mut s = Stream::default();
                            s.start_at(1000);
                            s
                        })
                        .collect();
                    let mut mem = Memcap::unlimited("reassembly");
                    let mut stats = ReassemblyStats::default();
                    let mut rx = Count(0);
                    // Round robin: one segment of every flow in turn, as
                    // interleaved flows arrive on a link.
                    for off in (0..PER_FLOW).step_by(seg) {
                        let end = (off + seg).min(PER_FLOW);
                        for s in &mut streams {
                            s.insert(
                                1000u32.wrapping_add(off as u32),
                                &data[off..end],
                                &cfg,
                                &mut mem,
                                &mut stats,
                                &mut rx,
                            );
                            if sided == "two-sided" {
                                let ack = s.next_seq();
                                s.acked(ack, &cfg, &mut mem, &mut stats, &mut rx);
                            }
                        }
                    }
                    assert_eq!(rx.0, (FLOWS * PER_FLOW) as u64);
                    rx.0
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench, concurrent);
criterion_main!(benches);
