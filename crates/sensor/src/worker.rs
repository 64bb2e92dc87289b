//! A worker thread: runs its engine over the batches it is sent.

use crossbeam_channel::{Receiver, Sender};
use fumidai_engine::Engine;
use fumidai_eve::output::OutputHandle;
use fumidai_flow::EndReason;

use crate::batch::{Batch, ToWorker};
use crate::stats::{FINAL, StatsPart};

/// Channels a worker uses.
pub struct WorkerIo {
    pub rx: Receiver<ToWorker>,
    pub pool: Sender<Batch>,
    pub out: OutputHandle,
    pub stats: Sender<StatsPart>,
}

/// Runs until the capture thread closes the channel, then ends every flow
/// and reports the final counters.
pub fn run(mut engine: Engine, io: WorkerIo) {
    for msg in io.rx.iter() {
        match msg {
            ToWorker::Packets(mut b) => {
                fault_injection();
                for (m, bytes) in b.iter() {
                    engine.process_part(m.part, m.link, m.ts, m.wire_len, bytes);
                }
                engine.advance(b.clock);
                b.clear();
                let _ = io.pool.try_send(b);
            }
            ToWorker::Tick(ts) => engine.advance(ts),
            ToWorker::Stats { seq, ts } => {
                ship(&mut engine, &io);
                let _ = io.stats.send(StatsPart {
                    seq,
                    ts,
                    counters: engine.counters(),
                });
            }
            ToWorker::EndAll(reason) => {
                end_all(&mut engine, &io, reason);
                engine.reset_clock();
            }
            ToWorker::Checksums(on) => engine.set_checksums(on),
        }
        ship(&mut engine, &io);
    }
    end_all(&mut engine, &io, EndReason::Shutdown);
    let _ = io.stats.send(StatsPart {
        seq: FINAL,
        ts: engine.clock(),
        counters: engine.counters(),
    });
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
