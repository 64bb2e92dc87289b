//! The stats thread: merges the counters every worker and the capture
//! thread report for one stats event, and writes the `stats` record.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fumidai_budget::Budget;
use fumidai_detect::Detector;
use fumidai_engine::counters::add_mem;

use crossbeam_channel::Receiver;
use fumidai_eve::output::OutputHandle;
use fumidai_eve::stats::Nested;
use fumidai_eve::{Counters, EveBatch, EveTime, EventType, Header, Record};
use fumidai_wire::Timestamp;
use serde::Serialize;

use crate::latency::Latency;

/// Sequence number of the end-of-run stats event.
pub const FINAL: u64 = u64::MAX;

/// One thread's counters for stats event `seq`.
#[derive(Debug)]
pub struct StatsPart {
    pub seq: u64,
    pub ts: Timestamp,
    pub counters: Counters,
    /// A worker's latencies, with its index.
    pub latency: Option<(usize, Box<Latency>)>,
}

/// What the parts of one stats event add up to so far.
struct Pending {
    parts: usize,
    ts: Timestamp,
    counters: Counters,
    latency: Latency,
    per_worker: Vec<(usize, Box<Latency>)>,
}

#[derive(Serialize)]
struct StatsBody<'a> {
    stats: Nested<'a>,
}

/// What stats report once for the whole sensor (not per worker).
pub struct Shared {
    pub det: Arc<Detector>,
    pub budget: Arc<Budget>,
    /// How long the final stats wait for the outputs to deliver what is
    /// queued, so that their counters match the files.
    pub settle: Duration,
}

impl Shared {
    fn counters(&self, out: &OutputHandle) -> Counters {
        let mut c = Counters::default();
        for r in self.det.shared.reports() {
            add_mem(&mut c, &r);
        }
        add_mem(&mut c, &out.mem_report());
        let b = &self.budget;
        c.add("memcap.global.memuse", b.used() as u64);
        c.add("memcap.global.memcap", b.cap() as u64);
        c.add("memcap.global.refused", b.refused());
        // Suricata's pressure: percent of the memcap in use.
        let pct = |v: usize| (v as u128 * 100 / b.cap().max(1) as u128) as u64;
        c.add("memcap.pressure", pct(b.used()));
        c.add("memcap.pressure_max", pct(b.peak()));
        let l = &self.det.shared.limits;
        let thresholded = l.thresholded.load(Ordering::Relaxed);
        let rate_limited = l.rate_limited.load(Ordering::Relaxed);
        c.add("detect.alerts_suppressed", thresholded + rate_limited);
        c.add("detect.alerts_rate_limited", rate_limited);
        c
    }
}

/// Starts the thread; it expects `parts` reports per event and returns the
/// final merged counters.
pub fn spawn(
    parts: usize,
    rx: Receiver<StatsPart>,
    out: OutputHandle,
    log: bool,
    started: Instant,
    shared: Shared,
) -> std::io::Result<JoinHandle<Counters>> {
    std::thread::Builder::new()
        .name("fumidai-stats".into())
        .spawn(move || {
            let mut pending: HashMap<u64, Pending> = HashMap::new();
            let mut warned = std::collections::BTreeSet::new();
            for part in rx {
                let entry = pending.entry(part.seq).or_insert_with(|| Pending {
                    parts: 0,
                    ts: part.ts,
                    counters: Counters::default(),
                    latency: Latency::new(),
                    per_worker: Vec::new(),
                });
                entry.parts += 1;
                entry.ts = entry.ts.max(part.ts);
                entry.counters.absorb(part.counters);
                if let Some((w, l)) = part.latency {
                    entry.latency.merge(&l);
                    entry.per_worker.push((w, l));
                }
                if entry.parts < parts {
                    continue;
                }
                let Some(Pending {
                    ts,
                    mut counters,
                    latency,
                    mut per_worker,
                    ..
                }) = pending.remove(&part.seq)
                else {
                    continue;
                };
                // Percentiles of the merged histograms: not sums.
                latency.write(&mut counters, "latency");
                per_worker.sort_by_key(|(w, _)| *w);
                for (w, l) in &per_worker {
                    l.write(&mut counters, &format!("latency.worker.{w}"));
                }
                if part.seq == FINAL {
                    // Everything else is out: let the outputs deliver it,
                    // so the final counters equal what the files hold.
                    out.wait_idle(shared.settle);
                }
                counters.absorb(shared.counters(&out));
                warn_memcaps(&counters, &mut warned);
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

/// Says once per structure (in the log, besides stats) that its memcap was
/// reached: an operator should know the sensor is evicting.
fn warn_memcaps(c: &Counters, warned: &mut std::collections::BTreeSet<String>) {
    for (k, &v) in &c.0 {
        let Some(name) = k
            .strip_prefix("memcap.")
            .and_then(|r| r.strip_suffix(".refused"))
        else {
            continue;
        };
        if v > 0 && warned.insert(name.to_owned()) {
            tracing::warn!(
                "memcap {name} reached ({} bytes): evicting ({} so far; see stats.memcap.{name} and docs/memory.md)",
                c.get(&format!("memcap.{name}.memcap")),
                c.get(&format!("memcap.{name}.evicted")),
            );
        }
    }
}

fn write(out: &OutputHandle, ts: Timestamp, counters: &Counters, started: Instant) {
    // The outputs' own delivery counters, as they stand now.
    let outputs = out.counters();
    let mut stats = counters.nested(&outputs);
    stats.set("uptime", started.elapsed().as_secs());
    let mut batch = EveBatch::default();
    batch.push(&Record {
        header: Header::new(EveTime(ts), EventType::Stats),
        body: StatsBody { stats },
    });
    out.dispatch(batch);
}
