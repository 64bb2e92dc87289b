//! TCP reassembly throughput: in-order delivery (the zero-copy fast path)
//! and heavily out-of-order delivery (every segment held, then drained).
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
                let mut mem = Memcap::new(64 << 20);
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

criterion_group!(benches, bench);
criterion_main!(benches);
