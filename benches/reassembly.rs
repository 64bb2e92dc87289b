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
use fumidai_flow::tcp::{Ctx, SessionReceiver, TcpSession, TcpStats};
use fumidai_wire::{Direction, Tcp, TcpFlags};

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

/// A session receiver that counts delivered bytes.
struct CountBoth(u64);

impl SessionReceiver for CountBoth {
    fn chunk(&mut self, _: Direction, c: Chunk<'_>) {
        if let Chunk::Data(d) = c {
            self.0 += d.len() as u64;
        }
    }
    fn event(&mut self, _: Direction, _: StreamEvent) {}
}

fn seg(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Tcp<'_> {
    Tcp {
        sport: 40000,
        dport: 80,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65535,
        wscale: None,
        urgent: 0,
        payload,
    }
}

/// Whole TCP sessions, as the engine drives them: with the server's
/// acknowledgements (two-sided) or without them (one-sided, as on an
/// asymmetric mirror, where the server's packets are never seen).
fn concurrent(c: &mut Criterion) {
    let data: Vec<u8> = (0..PER_FLOW).map(|i| (i * 13 + i / 7) as u8).collect();
    let mut g = c.benchmark_group("reassembly-1024-flows");
    g.throughput(Throughput::Bytes((FLOWS * PER_FLOW) as u64));
    g.sample_size(10);
    const A: u8 = TcpFlags::ACK;
    for size in [1448usize, 100] {
        for sided in ["two-sided", "one-sided"] {
            g.bench_function(BenchmarkId::new(sided, size), |b| {
                let cfg = StreamConfig {
                    depth: 0,
                    ..StreamConfig::default()
                };
                b.iter(|| {
                    let mut sessions: Vec<TcpSession> =
                        (0..FLOWS).map(|_| TcpSession::default()).collect();
                    let mut mem = Memcap::unlimited("reassembly");
                    let mut stats = TcpStats::default();
                    let mut rx = CountBoth(0);
                    let two = sided == "two-sided";
                    let mut ctx = Ctx {
                        cfg: &cfg,
                        mem: &mut mem,
                        stats: &mut stats,
                    };
                    for s in &mut sessions {
                        s.segment(
                            Direction::ToServer,
                            &seg(999, 0, TcpFlags::SYN, b""),
                            64,
                            &mut ctx,
                            &mut rx,
                        );
                        if two {
                            s.segment(
                                Direction::ToClient,
                                &seg(4999, 1000, TcpFlags::SYN | A, b""),
                                64,
                                &mut ctx,
                                &mut rx,
                            );
                        }
                        s.segment(
                            Direction::ToServer,
                            &seg(1000, 5000, A, b""),
                            64,
                            &mut ctx,
                            &mut rx,
                        );
                    }
                    // Round robin: one segment of every flow in turn, as
                    // interleaved flows arrive on a link.
                    for off in (0..PER_FLOW).step_by(size) {
                        let end = (off + size).min(PER_FLOW);
                        let seq = 1000u32.wrapping_add(off as u32);
                        for s in &mut sessions {
                            s.segment(
                                Direction::ToServer,
                                &seg(seq, 5000, A, &data[off..end]),
                                64,
                                &mut ctx,
                                &mut rx,
                            );
                            if two {
                                let ack = seq.wrapping_add((end - off) as u32);
                                s.segment(
                                    Direction::ToClient,
                                    &seg(5000, ack, A, b""),
                                    64,
                                    &mut ctx,
                                    &mut rx,
                                );
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
