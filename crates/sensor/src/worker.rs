//! A worker thread: runs its engine over the batches it is sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use fumidai_engine::Engine;
use fumidai_eve::output::OutputHandle;
use fumidai_flow::EndReason;
use fumidai_wire::Timestamp;

use crate::afpacket::{Ring, with_vlan};

use crate::batch::{Batch, ToWorker};
use crate::latency::{Latency, wall_micros};
use crate::prefetch;
use crate::rendezvous::{Attendance, Rendezvous};
use crate::stats::{FINAL, StatsPart};

/// How many packets ahead of the one being processed its successor's bytes
/// are asked into cache, and how many of them (headers, and the payload the
/// checksum reads).
const PREFETCH_PKTS: usize = 4;
const PREFETCH_BYTES: usize = 2048;

/// Channels a worker uses.
pub struct WorkerIo {
    pub rx: Receiver<ToWorker>,
    pub pool: Sender<Batch>,
    pub out: OutputHandle,
    pub stats: Sender<StatsPart>,
    /// This worker's number (its stats and drop counters carry it).
    pub index: usize,
    /// Live capture: packet timestamps are wall-clock time, so the time
    /// from capture to EVE can be measured.
    pub live: bool,
    /// Replay: where the workers meet at the end of each capture file, at
    /// pauses in packet time and before ending their flows, so that what
    /// one reads of another's shared state does not depend on thread timing.
    pub together: Option<Arc<Rendezvous>>,
}

impl WorkerIo {
    /// Waits for the other workers (replay), having handed over its lines.
    fn meet(&self, engine: &mut Engine) {
        if let Some(r) = &self.together {
            ship(engine, self);
            r.wait();
        }
    }
}

/// Runs until the capture thread closes the channel, then ends every flow
/// and reports the final counters.
pub fn run(mut engine: Engine, io: WorkerIo) {
    let _here = io.together.as_deref().map(Attendance);
    let mut latency = Latency::new();
    // Capture times of the packets of this batch that caused EVE lines.
    let mut caused: Vec<u64> = Vec::new();
    for msg in io.rx.iter() {
        match msg {
            ToWorker::Packets(mut b) => {
                fault_injection();
                let started = std::time::Instant::now();
                // A few packets ahead of the one being processed, its
                // headers and payload are asked into cache (crate::prefetch).
                {
                    let mut ahead = b.iter().skip(PREFETCH_PKTS);
                    for (m, bytes) in b.iter() {
                        if let Some((_, next)) = ahead.next() {
                            prefetch::head(next, PREFETCH_BYTES);
                        }
                        let before = engine.output_len();
                        engine.process_part(m.part, m.link, m.ts, m.wire_len, bytes);
                        if io.live && engine.output_len() != before {
                            caused.push(m.ts.0);
                        }
                    }
                }
                engine.advance(b.clock);
                b.clear();
                let _ = io.pool.try_send(b);
                ship(&mut engine, &io);
                latency.batch(started.elapsed().as_micros() as u64);
                if !caused.is_empty() {
                    let now = wall_micros();
                    for ts in caused.drain(..) {
                        latency.eve(now.saturating_sub(ts));
                    }
                }
            }
            ToWorker::Tick(ts) => engine.advance(ts),
            ToWorker::Stats { seq, ts } => {
                ship(&mut engine, &io);
                let _ = io.stats.send(StatsPart {
                    seq,
                    ts,
                    counters: engine.counters(),
                    latency: Some((io.index, Box::new(latency.clone()))),
                });
            }
            ToWorker::EndAll(reason) => {
                // The flows end once every worker has processed the packets
                // before this point, and the next file starts once all
                // have ended theirs.
                io.meet(&mut engine);
                end_all(&mut engine, &io, reason);
                engine.reset_clock();
                io.meet(&mut engine);
            }
            ToWorker::Sync => io.meet(&mut engine),
            ToWorker::Checksums(on) => engine.set_checksums(on),
        }
        ship(&mut engine, &io);
    }
    io.meet(&mut engine);
    end_all(&mut engine, &io, EndReason::Shutdown);
    let _ = io.stats.send(StatsPart {
        seq: FINAL,
        ts: engine.clock(),
        counters: engine.counters(),
        latency: Some((io.index, Box::new(latency))),
    });
}

/// The most TPACKET_V2 frames a ring worker takes before it hands their EVE
/// lines over: few enough that the first frame's lines do not wait long,
/// enough that a busy link costs one hand-over per few dozen frames.
const RING_BATCH: usize = 64;

/// Runs over its own AF_PACKET ring until its channel closes: the packets
/// are read in place in the ring (a V3 block at a time, or up to
/// `RING_BATCH` V2 frames, whatever is ready), each block or frame handed
/// back to the kernel once processed, then their EVE lines handed over.
/// The channel brings stats requests; while the link is quiet the clock
/// follows the wall clock, `flush` at a time.
pub fn run_ring(
    mut engine: Engine,
    mut ring: Ring,
    io: WorkerIo,
    flush: Duration,
    gather: Duration,
) {
    let ctl = io.rx.clone();
    let mut latency = Latency::new();
    let mut caused: Vec<u64> = Vec::new();
    let mut scratch = Vec::new();
    let link = ring.link();
    let mut idle_since = Instant::now();
    loop {
        loop {
            match ctl.try_recv() {
                Ok(ToWorker::Stats { seq, ts }) => {
                    ship(&mut engine, &io);
                    let _ = io.stats.send(StatsPart {
                        seq,
                        ts,
                        counters: ring_counters(&engine, &mut ring),
                        latency: Some((io.index, Box::new(latency.clone()))),
                    });
                }
                Ok(ToWorker::Tick(ts)) => engine.advance(ts),
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    end_all(&mut engine, &io, EndReason::Shutdown);
                    let _ = io.stats.send(StatsPart {
                        seq: FINAL,
                        ts: engine.clock(),
                        counters: ring_counters(&engine, &mut ring),
                        latency: Some((io.index, Box::new(latency))),
                    });
                    return;
                }
            }
        }
        let started = Instant::now();
        let taken = ring.drain(RING_BATCH, |p| {
            let wire_len = p.wire_len + if p.vlan.is_some() { 4 } else { 0 };
            let frame = with_vlan(&p, &mut scratch);
            let before = engine.output_len();
            engine.process(link, p.ts, wire_len, frame);
            if engine.output_len() != before {
                caused.push(p.ts.0);
            }
        });
        if taken == 0 {
            ring.wait(flush.min(Duration::from_millis(100)));
            if idle_since.elapsed() >= flush {
                // On a live link packet time is wall time: flows still
                // time out while it is quiet.
                engine.advance(Timestamp(wall_micros()));
                ship(&mut engine, &io);
                idle_since = Instant::now();
            }
            continue;
        }
        fault_injection();
        // The block or frames are handed back before the EVE lines go: the
        // kernel can fill them again.
        engine.advance(engine.clock());
        ship(&mut engine, &io);
        latency.batch(started.elapsed().as_micros() as u64);
        if !caused.is_empty() {
            let now = wall_micros();
            for ts in caused.drain(..) {
                latency.eve(now.saturating_sub(ts));
            }
        }
        idle_since = Instant::now();
        // A V2 worker would be woken for nearly every packet of a link
        // that is not busy: after a short run it lets the next frames
        // gather for a moment (capture.gather_us) instead, which bounds
        // the wakeups at one per that much time, and the added latency too.
        if ring.per_frame() && taken < RING_BATCH && !gather.is_zero() {
            std::thread::sleep(gather);
        }
    }
}

/// A ring worker's counters: the engine's, and its socket's kernel counters.
fn ring_counters(engine: &Engine, ring: &mut Ring) -> fumidai_eve::Counters {
    ring.read_stats();
    let mut c = engine.counters();
    c.add("capture.kernel_packets", ring.received);
    c.add("capture.kernel_drops", ring.dropped);
    c.add("capture.truncated", ring.truncated);
    c
}

/// Debug builds only: `FUMIDAI_FAULT=worker-panic` makes a worker panic on
/// its first batch, so the tests can check that a dead worker fails the run.
fn fault_injection() {
    #[cfg(debug_assertions)]
    if std::env::var_os("FUMIDAI_FAULT").is_some_and(|v| v == "worker-panic") {
        panic!("fault injected by FUMIDAI_FAULT=worker-panic");
    }
}

/// Ends every flow, handing their records over a batch at a time: a table
/// of a million flows must not become one batch of a million records.
fn end_all(engine: &mut Engine, io: &WorkerIo, reason: EndReason) {
    engine.conclude();
    ship(engine, io);
    while engine.end_some(reason) {
        ship(engine, io);
    }
    ship(engine, io);
}

/// Hands the engine's EVE lines to the output thread.
fn ship(engine: &mut Engine, io: &WorkerIo) {
    if engine.output_len() == 0 {
        return;
    }
    let fresh = io.out.recycled().unwrap_or_default();
    io.out.dispatch(engine.take_output(fresh));
}
