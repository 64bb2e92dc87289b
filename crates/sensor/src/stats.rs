//! The stats thread: merges the counters every worker and the capture
//! thread report for one stats event, and writes the `stats` record.

use std::collections::HashMap;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Receiver;
use fumidai_eve::output::OutputHandle;
use fumidai_eve::{Counters, EveBatch, EveTime, EventType, Header, Record};
use fumidai_wire::Timestamp;
use serde::Serialize;

/// Sequence number of the end-of-run stats event.
pub const FINAL: u64 = u64::MAX;

/// One thread's counters for stats event `seq`.
#[derive(Debug)]
pub struct StatsPart {
    pub seq: u64,
    pub ts: Timestamp,
    pub counters: Counters,
}

#[derive(Serialize)]
struct StatsBody {
    stats: serde_json::Value,
}

/// Starts the thread; it expects `parts` reports per event and returns the
/// final merged counters.
pub fn spawn(
    parts: usize,
    rx: Receiver<StatsPart>,
    out: OutputHandle,
    log: bool,
    started: Instant,
) -> std::io::Result<JoinHandle<Counters>> {
    std::thread::Builder::new()
        .name("fumidai-stats".into())
        .spawn(move || {
            let mut pending: HashMap<u64, (usize, Timestamp, Counters)> = HashMap::new();
            for part in rx {
                let entry = pending
                    .entry(part.seq)
                    .or_insert_with(|| (0, part.ts, Counters::default()));
                entry.0 += 1;
                entry.1 = entry.1.max(part.ts);
                entry.2.merge(&part.counters);
                if entry.0 < parts {
                    continue;
                }
                let Some((_, ts, counters)) = pending.remove(&part.seq) else {
                    continue;
                };
                if log {
                    write(&out, ts, &counters, started);
                }
                if part.seq == FINAL {
                    return counters;
                }
            }
            Counters::default()
        })
}

fn write(out: &OutputHandle, ts: Timestamp, counters: &Counters, started: Instant) {
    // The outputs' own delivery counters, as they stand now.
    let mut all = counters.clone();
    all.merge(&out.counters());
    let mut stats = all.to_json();
    if let serde_json::Value::Object(m) = &mut stats {
        m.insert("uptime".into(), started.elapsed().as_secs().into());
    }
    let mut batch = EveBatch::default();
    batch.push(&Record {
        header: Header::new(EveTime(ts), EventType::Stats),
        body: StatsBody { stats },
    });
    out.dispatch(batch);
}
