//! Alert rate limits: Suricata's per-signature thresholds, and a ceiling per
//! signature that no flood of forged sources can get around.
//!
//! Per-source limits cost nothing to defeat: a million forged requesters
//! are a million sources, each under its limit. So every signature also has
//! a rate of its own (`alert_limits.per_signature`, tracked by rule, across
//! workers); alerts beyond it are not written but counted, with a sample
//! of their sources and destinations, and once the window is over one
//! summary alert (9700090) says how many were held back. The SIEM sees a
//! bounded number of lines and still learns that the storm happened.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::config::{AlertLimitsConf, Threshold, ThresholdType, Track};

/// The state of one threshold key within its window.
struct Window {
    start: Timestamp,
    count: u32,
}

impl Aging for Window {
    fn keep(&self) -> u64 {
        u64::from(self.count)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    sid: u32,
    a: Option<IpAddr>,
    b: Option<IpAddr>,
}

/// Every signature's open ceiling window, and the summaries of windows
/// that ended and were not handed out yet.
#[derive(Default)]
struct Storms {
    open: HashMap<u32, Storm>,
    done: Vec<StormSummary>,
}

/// One signature's ceiling window.
#[derive(Default)]
struct Storm {
    start: Timestamp,
    allowed: u32,
    suppressed: u64,
    first: Timestamp,
    last: Timestamp,
    sources: Vec<IpAddr>,
    dests: Vec<IpAddr>,
}

/// Alerts held back by the ceiling of `sid` within one window.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StormSummary {
    pub sid: u32,
    pub suppressed: u64,
    /// Alerts of the signature that were written in the window.
    pub allowed: u32,
    pub window_s: u64,
    /// First and last suppressed alert (packet time).
    #[serde(skip)]
    pub first: Timestamp,
    #[serde(skip)]
    pub last: Timestamp,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser_vec")]
    pub sources: Vec<IpAddr>,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser_vec")]
    pub destinations: Vec<IpAddr>,
}

/// Thresholds and ceilings, shared by all workers.
pub struct AlertLimits {
    conf: AlertLimitsConf,
    keys: SharedMap<Key, Window>,
    storms: Mutex<Storms>,
    pub thresholded: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl AlertLimits {
    pub fn new(conf: AlertLimitsConf, longest_window: u64, budget: &Arc<Budget>) -> Self {
        let cap = conf.memcap.as_usize() / 16;
        AlertLimits {
            keys: SharedMap::new(longest_window.max(1).saturating_mul(1_000_000), |_| {
                Meter::new("alert_thresholds", cap, Arc::clone(budget))
            }),
            storms: Mutex::new(Storms::default()),
            thresholded: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            conf,
        }
    }

    /// Decides whether an alert of `sid` from `src` to `dst` at `ts` is
    /// written: its threshold (if any), then the signature's ceiling.
    pub fn admit(
        &self,
        sid: u32,
        threshold: Option<&Threshold>,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        ts: Timestamp,
    ) -> bool {
        if let Some(t) = threshold
            && !self.threshold(sid, t, src, dst, ts)
        {
            self.thresholded.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if !self.ceiling(sid, src, dst, ts) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn threshold(
        &self,
        sid: u32,
        t: &Threshold,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        ts: Timestamp,
    ) -> bool {
        let (a, b) = match t.track {
            Track::BySrc => (src, None),
            Track::ByDst => (dst, None),
            Track::ByRule => (None, None),
            Track::ByBoth => (src, dst),
        };
        let window = t.seconds.max(1).saturating_mul(1_000_000);
        let count = t.count.max(1);
        let kind = t.kind;
        if kind == ThresholdType::Off {
            return true;
        }
        let verdict = self.keys.with(
            Key { sid, a, b },
            ts.0,
            || Window {
                start: ts,
                count: 0,
            },
            |w| {
                if crate::window_over(w.start, ts, window) {
                    *w = Window {
                        start: ts,
                        count: 0,
                    };
                }
                w.count = w.count.saturating_add(1);
                match kind {
                    ThresholdType::Limit => w.count <= count,
                    ThresholdType::Threshold => {
                        if w.count >= count {
                            w.count = 0;
                            true
                        } else {
                            false
                        }
                    }
                    ThresholdType::Both => w.count == count,
                    ThresholdType::Off => true,
                }
            },
        );
        // No memory for the key at all: let the alert through; the
        // ceiling still bounds what a flood can write.
        verdict.unwrap_or(true)
    }

    fn ceiling(&self, sid: u32, src: Option<IpAddr>, dst: Option<IpAddr>, ts: Timestamp) -> bool {
        let rate = self.conf.per_signature;
        if rate.count == 0 {
            return true;
        }
        let window = rate.seconds.max(1).saturating_mul(1_000_000);
        let mut st = self.storms.lock().unwrap_or_else(|p| p.into_inner());
        let Storms { open, done } = &mut *st;
        let s = open.entry(sid).or_insert_with(|| Storm::new(ts));
        if crate::window_over(s.start, ts, window) {
            let ended = std::mem::replace(s, Storm::new(ts));
            done.extend(ended.summary(sid, rate.seconds));
        }
        if s.allowed < rate.count {
            s.allowed += 1;
            return true;
        }
        s.note(ts, src, dst, self.conf.sample);
        false
    }

    /// Summaries of the ceiling windows that are over at `now` (all of them
    /// at the end of input), each handed out once.
    pub fn due_summaries(&self, now: Timestamp, last: bool) -> Vec<StormSummary> {
        let rate = self.conf.per_signature;
        let window = rate.seconds.max(1).saturating_mul(1_000_000);
        let mut st = self.storms.lock().unwrap_or_else(|p| p.into_inner());
        let Storms { open, done } = &mut *st;
        let mut out = std::mem::take(done);
        for (&sid, s) in open.iter_mut() {
            if last || crate::window_over(s.start, now, window) {
                let ended = std::mem::replace(s, Storm::new(now));
                out.extend(ended.summary(sid, rate.seconds));
            }
        }
        out.sort_by_key(|s| (s.first, s.sid));
        out
    }

    pub fn report(&self) -> MemReport {
        self.keys.report()
    }
}

impl Storm {
    fn new(start: Timestamp) -> Self {
        Storm {
            start,
            ..Storm::default()
        }
    }

    fn summary(self, sid: u32, window_s: u64) -> Option<StormSummary> {
        (self.suppressed > 0).then_some(StormSummary {
            sid,
            suppressed: self.suppressed,
            allowed: self.allowed,
            window_s,
            first: self.first,
            last: self.last,
            sources: self.sources,
            destinations: self.dests,
        })
    }

    fn note(&mut self, ts: Timestamp, src: Option<IpAddr>, dst: Option<IpAddr>, sample: usize) {
        if self.suppressed == 0 {
            self.first = ts;
        }
        self.suppressed += 1;
        self.last = self.last.max(ts);
        for (list, a) in [(&mut self.sources, src), (&mut self.dests, dst)] {
            if let Some(a) = a
                && list.len() < sample
                && !list.contains(&a)
            {
                list.push(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;

    fn limits(count: u32) -> AlertLimits {
        AlertLimits::new(
            AlertLimitsConf {
                per_signature: Rate { count, seconds: 60 },
                ..AlertLimitsConf::default()
            },
            60,
            &Budget::unlimited(),
        )
    }

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn ip(i: u32) -> Option<IpAddr> {
        Some(IpAddr::from(i.to_be_bytes()))
    }

    #[test]
    fn a_forged_source_flood_is_held_to_the_ceiling_and_summarised() {
        let l = limits(100);
        let written = (0..1_000_000u32)
            .filter(|&i| l.admit(9700030, None, ip(i), ip(1), t(1000)))
            .count();
        assert_eq!(written, 100);
        assert!(
            l.due_summaries(t(1030), false).is_empty(),
            "window still open"
        );
        let s = l.due_summaries(t(1061), false);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].sid, s[0].suppressed, s[0].allowed),
            (9700030, 999_900, 100)
        );
        assert_eq!(s[0].sources.len(), 10);
        assert!(l.due_summaries(t(1200), true).is_empty(), "handed out once");
    }

    #[test]
    fn suricata_threshold_types() {
        let l = limits(0);
        let th = |kind, count| Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds: 60,
        };
        let run = |l: &AlertLimits, sid, t_: Threshold| -> Vec<bool> {
            (0..10)
                .map(|i| l.admit(sid, Some(&t_), ip(7), ip(8), t(i)))
                .collect()
        };
        let limit = run(&l, 1, th(ThresholdType::Limit, 3));
        assert_eq!(limit.iter().filter(|b| **b).count(), 3);
        assert!(limit[0] && limit[2] && !limit[3]);
        let every = run(&l, 2, th(ThresholdType::Threshold, 3));
        assert_eq!(
            every,
            [
                false, false, true, false, false, true, false, false, true, false
            ]
        );
        let both = run(&l, 3, th(ThresholdType::Both, 3));
        assert_eq!(both.iter().filter(|b| **b).count(), 1);
        assert!(both[2]);
        // A new window starts over.
        assert!(l.admit(1, Some(&th(ThresholdType::Limit, 3)), ip(7), ip(8), t(100)));
        // Another source has its own count.
        assert!(l.admit(1, Some(&th(ThresholdType::Limit, 3)), ip(9), ip(8), t(5)));
    }

    #[test]
    fn threshold_memory_is_bounded_under_forged_sources() {
        let l = AlertLimits::new(
            AlertLimitsConf {
                memcap: crate::config::ByteSize(1 << 20),
                ..AlertLimitsConf::default()
            },
            60,
            &Budget::unlimited(),
        );
        let th = Threshold {
            kind: ThresholdType::Limit,
            track: Track::BySrc,
            count: 1,
            seconds: 60,
        };
        for i in 0..500_000u32 {
            l.admit(9700030, Some(&th), ip(i), ip(1), t(5));
        }
        let r = l.report();
        assert!(r.memuse <= 1 << 20, "{r:?}");
        assert!(r.evicted > 0);
    }
}
