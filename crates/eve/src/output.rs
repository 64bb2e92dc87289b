//! The output thread: takes batches of EVE lines from the workers and
//! writes each line to every sink whose filter accepts its type.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::sink::{Sink, SinkStats};
use crate::{EveBatch, EventType};

/// What the output thread is asked to do.
pub enum OutputMsg {
    Lines(EveBatch),
    /// Re-open every sink (SIGHUP).
    Reopen,
    /// Flush every sink now.
    Flush,
}

/// What the output thread did, per sink and per event type.
#[derive(Clone, Debug, Default)]
pub struct OutputReport {
    pub sinks: Vec<(String, SinkStats)>,
    pub events: [u64; EventType::ALL.len()],
}

/// Handle to the running output thread.
pub struct Output {
    tx: Sender<OutputMsg>,
    recycled: Receiver<EveBatch>,
    handle: JoinHandle<OutputReport>,
}

impl Output {
    /// Starts the thread. `queue` bounds the batches waiting to be written.
    /// Setting `reopen` makes the thread re-open its sinks (SIGHUP); sinks
    /// are flushed at least every `flush_every`, so a quiet sensor's events
    /// still reach disk promptly.
    pub fn spawn(
        sinks: Vec<Box<dyn Sink>>,
        queue: usize,
        reopen: Arc<AtomicBool>,
        flush_every: Duration,
    ) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<OutputMsg>(queue.max(1));
        let (back_tx, recycled) = bounded::<EveBatch>(queue.max(1));
        let handle = std::thread::Builder::new()
            .name("fumidai-output".into())
            .spawn(move || run(sinks, rx, back_tx, &reopen, flush_every))?;
        Ok(Output {
            tx,
            recycled,
            handle,
        })
    }

    /// A sender the workers use.
    pub fn sender(&self) -> Sender<OutputMsg> {
        self.tx.clone()
    }

    /// Emptied batches, for reuse.
    pub fn recycled(&self) -> Receiver<EveBatch> {
        self.recycled.clone()
    }

    /// Stops after writing everything queued; returns the report.
    pub fn finish(self) -> OutputReport {
        drop(self.tx);
        self.handle.join().unwrap_or_default()
    }
}

fn run(
    mut sinks: Vec<Box<dyn Sink>>,
    rx: Receiver<OutputMsg>,
    back: Sender<EveBatch>,
    reopen: &AtomicBool,
    flush_every: Duration,
) -> OutputReport {
    let mut report = OutputReport {
        sinks: sinks
            .iter()
            .map(|s| (s.name().to_owned(), SinkStats::default()))
            .collect(),
        ..Default::default()
    };
    let mut last_flush = Instant::now();
    loop {
        if reopen.swap(false, Ordering::Relaxed) {
            reopen_all(&mut sinks, &mut report);
        }
        if last_flush.elapsed() >= flush_every {
            flush_all(&mut sinks);
            last_flush = Instant::now();
        }
        let msg = match rx.recv_timeout(flush_every.min(Duration::from_millis(200))) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            OutputMsg::Lines(mut batch) => {
                for (ty, line) in batch.iter() {
                    report.events[ty.index()] += 1;
                    for (sink, stats) in sinks.iter_mut().zip(report.sinks.iter_mut()) {
                        if !sink.filter().accepts(ty) {
                            continue;
                        }
                        match sink.write_line(line) {
                            Ok(()) => stats.1.written += 1,
                            Err(e) => {
                                stats.1.dropped += 1;
                                if stats.1.errors == 0 {
                                    tracing::error!("{}: {e}", sink.name());
                                }
                                stats.1.errors += 1;
                            }
                        }
                    }
                }
                batch.clear();
                let _ = back.try_send(batch);
            }
            OutputMsg::Reopen => reopen_all(&mut sinks, &mut report),
            OutputMsg::Flush => flush_all(&mut sinks),
        }
    }
    flush_all(&mut sinks);
    report
}

fn reopen_all(sinks: &mut [Box<dyn Sink>], report: &mut OutputReport) {
    for (sink, stats) in sinks.iter_mut().zip(report.sinks.iter_mut()) {
        stats.1.reopens += 1;
        if let Err(e) = sink.reopen() {
            tracing::error!("{}: reopen: {e}", sink.name());
        }
    }
}

fn flush_all(sinks: &mut [Box<dyn Sink>]) {
    for s in sinks {
        if let Err(e) = s.flush() {
            tracing::error!("{}: flush: {e}", s.name());
        }
    }
}
