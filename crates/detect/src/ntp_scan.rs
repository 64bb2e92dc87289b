//! Unanswered NTP mode 6/7 requests, summed per source and window.
//!
//! A scan of 10,000 NTP servers for monlist (or mode 6 READVAR) is 10,000
//! requests, nearly all unanswered: one `ntp` record each would flood the
//! SIEM with nothing it can act on. The engine keeps a flow's mode 6/7
//! requests until an answer comes (then both are logged per datagram) or
//! the flow ends unanswered; these are added here, per source, and one
//! summary per source and window (`ntp.unanswered`) is written once the
//! window is over. Distinct targets are counted with a fixed-size
//! [`Distinct`] sketch, so a scanner costs the same whatever its reach.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::distinct::Distinct;

/// Request kinds listed per summary; more are counted in `other`.
const MAX_CODES: usize = 16;

/// A request kind: the mode, and its opcode (6) or request code (7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqKind {
    pub mode: u8,
    pub code: u8,
}

/// What one flow contributes: its unanswered requests.
#[derive(Clone, Debug, Default)]
pub struct Unanswered {
    pub first: Timestamp,
    pub last: Timestamp,
    pub requests: u64,
    /// Request kinds and how many of each.
    pub kinds: Vec<(ReqKind, u64)>,
    /// Requests of kinds beyond those listed.
    pub other: u64,
}

impl Unanswered {
    pub fn add(&mut self, ts: Timestamp, kind: ReqKind) {
        if self.requests == 0 || ts < self.first {
            self.first = ts;
        }
        if ts > self.last {
            self.last = ts;
        }
        self.requests += 1;
        add_kind(&mut self.kinds, kind, 1, &mut self.other);
    }
}

fn add_kind(kinds: &mut Vec<(ReqKind, u64)>, kind: ReqKind, n: u64, other: &mut u64) {
    if let Some(k) = kinds.iter_mut().find(|(k, _)| *k == kind) {
        k.1 += n;
    } else if kinds.len() < MAX_CODES {
        kinds.push((kind, n));
    } else {
        *other += n;
    }
}

/// One source's summary: the `ntp.unanswered` object of its record.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanSummary {
    pub source: IpAddr,
    pub first: Timestamp,
    pub last: Timestamp,
    pub requests: u64,
    /// Distinct targets (estimated beyond 256).
    pub targets: u64,
    /// Request kinds, most frequent first, and their counts.
    pub kinds: Vec<(ReqKind, u64)>,
    /// Requests of kinds beyond the listed ones.
    pub other: u64,
    pub window_s: u64,
}

struct ScanWindow {
    start: Timestamp,
    first: Timestamp,
    last: Timestamp,
    requests: u64,
    targets: Distinct,
    kinds: Vec<(ReqKind, u64)>,
    other: u64,
}

impl Aging for ScanWindow {
    fn keep(&self) -> u64 {
        self.requests
    }
    fn heap_bytes(&self) -> usize {
        self.targets.heap_bytes() + self.kinds.capacity() * std::mem::size_of::<(ReqKind, u64)>()
    }
}

impl ScanWindow {
    fn summary(&self, source: IpAddr, window_s: u64) -> ScanSummary {
        let mut kinds = self.kinds.clone();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ScanSummary {
            source,
            first: self.first,
            last: self.last,
            requests: self.requests,
            targets: self.targets.count(),
            kinds,
            other: self.other,
            window_s,
        }
    }
}

/// Per source, the window's unanswered mode 6/7 requests, shared by all
/// workers (a scan's targets hash to every worker); bounded by
/// `ntp.summary_memcap`. Under pressure the sources with the fewest
/// requests go (counted in `stats.memcap.ntp_unanswered`).
pub struct NtpScans {
    sources: SharedMap<IpAddr, ScanWindow>,
    /// Summaries of windows a later request closed, not handed out yet.
    done: Mutex<Vec<ScanSummary>>,
    /// Packet time before which no walk of the map is needed.
    next_walk: AtomicU64,
    window: u64,
}

impl NtpScans {
    pub fn new(cap: usize, window_s: u64, budget: &Arc<Budget>) -> Self {
        let window = window_s.max(1).saturating_mul(1_000_000);
        NtpScans {
            sources: SharedMap::new(window.saturating_mul(2), |_| {
                Meter::new("ntp_unanswered", cap / 16, Arc::clone(budget))
            }),
            done: Mutex::new(Vec::new()),
            next_walk: AtomicU64::new(0),
            window,
        }
    }

    pub fn report(&self) -> MemReport {
        self.sources.report()
    }

    /// Adds a flow's unanswered requests from `source` to `target`.
    pub fn add(&self, source: IpAddr, target: IpAddr, u: &Unanswered) {
        if u.requests == 0 {
            return;
        }
        let window = self.window;
        let window_s = window / 1_000_000;
        let fresh = || ScanWindow {
            start: u.first,
            first: u.first,
            last: u.last,
            requests: 0,
            targets: Distinct::new(),
            kinds: Vec::new(),
            other: 0,
        };
        let closed = self.sources.with(source, u.last.0, fresh, |w| {
            let mut closed = None;
            if crate::window_over(w.start, u.first, window) {
                closed = Some(w.summary(source, window_s));
                *w = fresh();
            }
            w.first = w.first.min(u.first);
            w.last = w.last.max(u.last);
            w.requests += u.requests;
            w.targets.insert(&target);
            for (k, n) in &u.kinds {
                add_kind(&mut w.kinds, *k, *n, &mut w.other);
            }
            w.other += u.other;
            closed
        });
        if let Some(Some(s)) = closed {
            self.done.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
    }

    /// The summaries due at `now`: windows over for `grace` more (the time
    /// their last flows take to end), or every one when `last` (the end of
    /// the input, once every worker is done). Sorted by source and time.
    pub fn due(&self, now: Timestamp, grace: u64, last: bool) -> Vec<ScanSummary> {
        let mut out = std::mem::take(&mut *self.done.lock().unwrap_or_else(|p| p.into_inner()));
        let walk = last || now.0 >= self.next_walk.load(Ordering::Relaxed);
        if walk {
            // A walk per tenth of a window at most: the map may be large.
            self.next_walk
                .store(now.0.saturating_add(self.window / 10), Ordering::Relaxed);
            let (window, window_s) = (self.window, self.window / 1_000_000);
            self.sources.retain(|source, w| {
                let over = now.micros_since(w.start) >= window.saturating_add(grace);
                if last || over {
                    out.push(w.summary(*source, window_s));
                    return false;
                }
                true
            });
        }
        out.sort_by_key(|a| (a.first, a.source));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    const MONLIST: ReqKind = ReqKind { mode: 7, code: 42 };

    fn one(ts: Timestamp, kind: ReqKind) -> Unanswered {
        let mut u = Unanswered::default();
        u.add(ts, kind);
        u
    }

    #[test]
    fn a_scan_of_ten_thousand_servers_is_one_summary_per_window() {
        let scans = NtpScans::new(1 << 20, 300, &Budget::unlimited());
        let scanner: IpAddr = "192.0.2.66".parse().unwrap();
        for i in 0..10_000u32 {
            let target = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            let ts = Timestamp(1_000_000_000 + u64::from(i) * 10_000);
            scans.add(scanner, target, &one(ts, MONLIST));
            if i % 100 == 0 {
                scans.add(scanner, target, &one(ts, ReqKind { mode: 6, code: 2 }));
            }
        }
        assert!(
            scans.due(t(1100), 30_000_000, false).is_empty(),
            "window open"
        );
        let out = scans.due(t(1400), 30_000_000, false);
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!(s.requests, 10_100);
        assert!((9_600..=10_400).contains(&s.targets), "{}", s.targets);
        assert_eq!(
            s.kinds,
            vec![(MONLIST, 10_000), (ReqKind { mode: 6, code: 2 }, 100)]
        );
        assert_eq!(
            (s.first, s.last),
            (t(1000), Timestamp(1_000_000_000 + 9_999 * 10_000))
        );
        assert!(scans.due(t(2000), 0, true).is_empty());
    }

    #[test]
    fn a_new_window_closes_the_old_one() {
        let scans = NtpScans::new(1 << 20, 60, &Budget::unlimited());
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let dst: IpAddr = "10.0.0.1".parse().unwrap();
        scans.add(src, dst, &one(t(0), MONLIST));
        scans.add(src, dst, &one(t(70), MONLIST));
        let out = scans.due(t(71), 30_000_000, true);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].first, out[1].first), (t(0), t(70)));
        assert!(out.iter().all(|s| s.targets == 1 && s.requests == 1));
    }

    #[test]
    fn kinds_are_bounded() {
        let mut u = Unanswered::default();
        for code in 0..40 {
            u.add(t(1), ReqKind { mode: 7, code });
        }
        assert_eq!(u.kinds.len(), MAX_CODES);
        let scans = NtpScans::new(1 << 20, 60, &Budget::unlimited());
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        scans.add(src, src, &u);
        let mut v = Unanswered::default();
        v.add(t(2), ReqKind { mode: 7, code: 99 });
        scans.add(src, src, &v);
        let s = &scans.due(t(3), 0, true)[0];
        assert_eq!((s.kinds.len(), s.other, s.requests), (MAX_CODES, 25, 41));
    }
}
