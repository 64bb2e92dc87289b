//! Memory budgets for fumidai.
//!
//! A sensor watches traffic its enemies write: every table keyed by
//! something from the wire (an address, a flow, a pending line) can be made
//! to grow by forging packets. Each such structure therefore gets a
//! [`Meter`]: its own memcap, drawn from one sensor-wide [`Budget`] that
//! caps the sum. A structure that cannot get memory prunes by packet time
//! first and then evicts what is least useful, and every refusal, eviction
//! and expiry is counted under the structure's name for `stats`.
//!
//! Meters are owned by one thread (a worker, or a map shard behind its
//! lock) and draw from the global budget in chunks, so the shared atomic
//! is touched once per chunk rather than once per allocation.

#![forbid(unsafe_code)]

pub mod map;
pub mod size;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub use map::{Aging, BoundedMap, SharedMap};
pub use size::ByteSize;

/// The sensor-wide cap on the memory of every metered structure.
#[derive(Debug)]
pub struct Budget {
    cap: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
}

impl Budget {
    pub fn new(cap: usize) -> Arc<Budget> {
        Arc::new(Budget {
            cap,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// A budget that never refuses (tools, tests).
    pub fn unlimited() -> Arc<Budget> {
        Self::new(usize::MAX)
    }

    fn reserve(&self, n: usize) -> bool {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= self.cap) else {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    fn release(&self, n: usize) {
        // Never below zero, even if a caller gives back more than it took.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes granted to meters (what they use plus their unused chunks).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Times a meter asked for memory the global cap did not allow.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// What a meter reports for `stats` (`memcap.<name>.*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemReport {
    pub name: &'static str,
    /// Bytes in use now.
    pub memuse: u64,
    /// The structure's cap.
    pub memcap: u64,
    /// Highest `memuse` seen.
    pub peak: u64,
    /// Requests refused: the structure's cap or the global one was reached.
    pub refused: u64,
    /// Entries removed to make room.
    pub evicted: u64,
    /// Entries removed because their time (in packet time) was over.
    pub expired: u64,
    /// Entries held now (for maps; 0 where it means nothing).
    pub entries: u64,
}

impl MemReport {
    /// Adds another part of the same structure (another worker's, another shard's).
    pub fn merge(&mut self, o: &MemReport) {
        if self.name.is_empty() {
            self.name = o.name;
        }
        self.memuse += o.memuse;
        self.memcap += o.memcap;
        self.peak += o.peak;
        self.refused += o.refused;
        self.evicted += o.evicted;
        self.expired += o.expired;
        self.entries += o.entries;
    }
}

/// One structure's memory in one owner: its cap, what it uses, and the
/// share of the global budget it holds.
#[derive(Debug)]
pub struct Meter {
    name: &'static str,
    cap: usize,
    used: usize,
    granted: usize,
    peak: usize,
    chunk: usize,
    budget: Arc<Budget>,
    refused: u64,
    evicted: u64,
    expired: u64,
}

/// Largest piece of the global budget a meter takes at once.
const MAX_CHUNK: usize = 1 << 20;

impl Meter {
    pub fn new(name: &'static str, cap: usize, budget: Arc<Budget>) -> Meter {
        Meter {
            name,
            cap,
            used: 0,
            granted: 0,
            peak: 0,
            // Small caps take small chunks, so a meter never sits on much
            // more than it may use.
            chunk: (cap / 16).clamp(4096, MAX_CHUNK),
            budget,
            refused: 0,
            evicted: 0,
            expired: 0,
        }
    }

    /// A meter with no cap of its own under an unlimited budget (tests, tools).
    pub fn unlimited(name: &'static str) -> Meter {
        Meter::new(name, usize::MAX, Budget::unlimited())
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn used(&self) -> usize {
        self.used
    }

    /// Takes `n` bytes if both this structure's cap and the global budget
    /// allow it; a refusal is counted.
    pub fn try_take(&mut self, n: usize) -> bool {
        let Some(next) = self.used.checked_add(n).filter(|&v| v <= self.cap) else {
            self.refused += 1;
            return false;
        };
        if next > self.granted {
            let want = (next - self.granted).max(self.chunk);
            // Near the cap, a smaller grant that still covers the request.
            let want = want
                .min(self.cap.saturating_sub(self.granted))
                .max(next - self.granted);
            if !self.budget.reserve(want) {
                self.refused += 1;
                return false;
            }
            self.granted += want;
        }
        self.used = next;
        self.peak = self.peak.max(next);
        true
    }

    /// Gives back `n` bytes; surplus grants return to the global budget.
    pub fn give(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
        let spare = self.granted - self.used.min(self.granted);
        if spare > 2 * self.chunk {
            let back = spare - self.chunk;
            self.budget.release(back);
            self.granted -= back;
        }
    }

    /// True when `n` more bytes would be allowed right now.
    pub fn fits(&self, n: usize) -> bool {
        self.used.checked_add(n).is_some_and(|v| {
            v <= self.cap && (v <= self.granted || self.budget_fits(v - self.granted))
        })
    }

    fn budget_fits(&self, n: usize) -> bool {
        self.budget
            .used()
            .checked_add(n)
            .is_some_and(|v| v <= self.budget.cap())
    }

    pub fn note_evicted(&mut self, n: u64) {
        self.evicted += n;
    }

    pub fn note_expired(&mut self, n: u64) {
        self.expired += n;
    }

    pub fn report(&self) -> MemReport {
        MemReport {
            name: self.name,
            memuse: self.used as u64,
            memcap: self.cap as u64,
            peak: self.peak as u64,
            refused: self.refused,
            evicted: self.evicted,
            expired: self.expired,
            entries: 0,
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.budget.release(self.granted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_stops_at_its_own_cap() {
        let mut m = Meter::new("t", 10_000, Budget::unlimited());
        assert!(m.try_take(6_000));
        assert!(!m.try_take(6_000));
        assert_eq!(m.report().refused, 1);
        m.give(6_000);
        assert!(m.try_take(10_000));
    }

    #[test]
    fn the_global_budget_caps_the_sum() {
        let b = Budget::new(100_000);
        let mut a = Meter::new("a", 80_000, Arc::clone(&b));
        let mut c = Meter::new("c", 80_000, Arc::clone(&b));
        assert!(a.try_take(60_000));
        assert!(!c.try_take(60_000), "each fits alone, not both");
        assert!(b.refused() >= 1);
        a.give(60_000);
        assert!(c.try_take(60_000));
        assert!(b.used() <= b.cap());
        drop(c);
        drop(a);
        assert_eq!(b.used(), 0, "grants return when meters go");
    }

    #[test]
    fn small_allocations_touch_the_global_counter_rarely() {
        let b = Budget::new(1 << 30);
        let mut m = Meter::new("m", 1 << 28, Arc::clone(&b));
        for _ in 0..1000 {
            assert!(m.try_take(100));
        }
        // 100 KB used, granted in 1 MB chunks.
        assert_eq!(b.used(), MAX_CHUNK);
        for _ in 0..1000 {
            m.give(100);
        }
        assert!(b.used() <= 2 * MAX_CHUNK);
    }

    proptest::proptest! {
        #[test]
        fn grants_cover_use_and_never_exceed_caps(ops in proptest::collection::vec((proptest::bool::ANY, 1usize..50_000), 1..200)) {
            let b = Budget::new(300_000);
            let mut m1 = Meter::new("m1", 200_000, Arc::clone(&b));
            let mut m2 = Meter::new("m2", 200_000, Arc::clone(&b));
            let mut held = [Vec::new(), Vec::new()];
            for (i, (take, n)) in ops.into_iter().enumerate() {
                let (m, h) = if i % 2 == 0 { (&mut m1, &mut held[0]) } else { (&mut m2, &mut held[1]) };
                if take {
                    if m.try_take(n) { h.push(n); }
                } else if let Some(x) = h.pop() {
                    m.give(x);
                }
                proptest::prop_assert!(m.used() <= m.cap());
                proptest::prop_assert!(m.granted >= m.used());
                proptest::prop_assert!(b.used() <= b.cap());
                proptest::prop_assert_eq!(b.used(), m1.granted + m2.granted);
            }
        }
    }
}
