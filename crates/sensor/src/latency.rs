//! How long things take, as HDR histograms: per worker, the time to
//! process each batch (or ring block), and, live, the time from a packet's
//! capture timestamp to the EVE lines it caused being handed to the
//! outputs. Workers send theirs with each stats report; the stats thread
//! merges them and writes percentiles (since the start of the run) under
//! `stats.latency`.

use fumidai_eve::Counters;
use hdrhistogram::Histogram;

/// Microseconds up to an hour, two significant digits: about 30 KB per
/// histogram whatever is recorded.
const MAX_MICROS: u64 = 3_600_000_000;
const SIGFIG: u8 = 2;

#[derive(Clone, Debug)]
pub struct Latency {
    /// Per batch or block: receive to hand-over of its EVE lines.
    pub batch: Histogram<u64>,
    /// Live only: a packet's capture time to its EVE lines' hand-over.
    pub capture_to_eve: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, SIGFIG).expect("constant, valid bounds")
}

impl Latency {
    pub fn new() -> Self {
        Latency {
            batch: histogram(),
            capture_to_eve: histogram(),
        }
    }

    /// Records one batch's processing time.
    #[inline]
    pub fn batch(&mut self, micros: u64) {
        self.batch.saturating_record(micros.max(1));
    }

    /// Records a packet's capture-to-EVE time.
    #[inline]
    pub fn eve(&mut self, micros: u64) {
        self.capture_to_eve.saturating_record(micros.max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.batch.add(&other.batch);
        let _ = self.capture_to_eve.add(&other.capture_to_eve);
    }

    /// Writes the percentiles under `prefix` (`latency`, `latency.worker.0`).
    pub fn write(&self, c: &mut Counters, prefix: &str) {
        for (name, h) in [
            ("batch_us", &self.batch),
            ("capture_to_eve_us", &self.capture_to_eve),
        ] {
            if h.is_empty() {
                continue;
            }
            let key = |p: &str| format!("{prefix}.{name}.{p}");
            c.0.insert(key("count").into(), h.len());
            for (p, q) in PERCENTILES {
                c.0.insert(key(p).into(), h.value_at_quantile(q));
            }
            c.0.insert(key("max").into(), h.max());
        }
    }
}

/// The percentiles reported, as named in `stats` (dots would nest).
pub const PERCENTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99_9", 0.999),
];

/// Microseconds since the Unix epoch, now: the clock capture timestamps
/// are taken with.
pub fn wall_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_workers() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for v in 1..=900 {
            a.batch(v);
        }
        for v in 901..=1000 {
            b.batch(v);
        }
        b.eve(5000);
        a.merge(&b);
        let mut c = Counters::default();
        a.write(&mut c, "latency");
        assert_eq!(c.get("latency.batch_us.count"), 1000);
        let p50 = c.get("latency.batch_us.p50");
        assert!((495..=505).contains(&p50), "{p50}");
        let p99 = c.get("latency.batch_us.p99");
        assert!((985..=995).contains(&p99), "{p99}");
        assert!(c.get("latency.batch_us.max") >= 1000);
        assert_eq!(c.get("latency.capture_to_eve_us.count"), 1);
        // Nothing recorded, nothing written.
        let mut c = Counters::default();
        Latency::new().write(&mut c, "latency");
        assert!(c.0.is_empty());
    }
}
