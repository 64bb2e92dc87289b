//! Event time: the windows records fall into, and when a window closes.
//!
//! Time is the records' own (`timestamp`, a flow's `start` and `end`), never
//! when they arrive, so a fleet replaying captures gives the same answer as
//! one watching the wire. Windows are tumbling, `window` seconds long,
//! aligned to the epoch. The watermark is the newest event time seen in the
//! fleet minus `lateness`: a window closes (its verdicts are taken) once the
//! watermark passes its end. A record whose window has not closed yet is
//! counted in it, however late it arrives (`late` counts those that came
//! after their window's end had been seen); a record whose window has
//! closed is counted in `too_late` and not analysed.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    window_us: u64,
    lateness_us: u64,
    /// Newest event time seen (µs).
    pub newest: u64,
    /// Windows with an index below this are closed.
    pub closed_before: u64,
}

impl Clock {
    pub fn new(window_s: u64, lateness_s: u64) -> Self {
        Clock {
            window_us: window_s.max(1) * 1_000_000,
            lateness_us: lateness_s * 1_000_000,
            newest: 0,
            closed_before: 0,
        }
    }

    pub fn window_us(&self) -> u64 {
        self.window_us
    }

    /// The window holding event time `t`.
    pub fn window_of(&self, t: u64) -> u64 {
        t / self.window_us
    }

    /// Start and end (µs) of window `w`.
    pub fn bounds(&self, w: u64) -> (u64, u64) {
        (w * self.window_us, (w + 1) * self.window_us)
    }

    /// A record about window `w` is still counted.
    pub fn open(&self, w: u64) -> bool {
        w >= self.closed_before
    }

    /// A record about window `w` arrives after the fleet's time passed its end.
    pub fn late(&self, w: u64) -> bool {
        self.bounds(w).1 <= self.newest
    }

    /// Notes event time `t`; returns the windows that close now (those
    /// below the returned index and at or above the previous one).
    pub fn observe(&mut self, t: u64) -> Option<u64> {
        if t <= self.newest {
            return None;
        }
        self.newest = t;
        let watermark = t.saturating_sub(self.lateness_us);
        let closable = watermark / self.window_us;
        if closable > self.closed_before {
            self.closed_before = closable;
            Some(closable)
        } else {
            None
        }
    }

    /// Closes every window (end of input).
    pub fn close_all(&mut self) -> u64 {
        self.closed_before = u64::MAX;
        u64::MAX
    }

    /// How the window `w` is split by a span [start, end]: (window, share in
    /// millionths) for each window the span overlaps. A point span is one
    /// window, whole.
    pub fn spread(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let (start, end) = (start.min(end), start.max(end));
        let (first, last) = (self.window_of(start), self.window_of(end));
        if first == last {
            return vec![(first, 1_000_000)];
        }
        // Bounded: a flow longer than a thousand windows is attributed to
        // its last thousand (flow timeouts keep real ones far shorter).
        let first = first.max(last.saturating_sub(999));
        let start = start.max(self.bounds(first).0);
        let len = (end - start).max(1);
        let mut out = Vec::with_capacity((last - first + 1) as usize);
        let mut given = 0;
        for w in first..=last {
            let (ws, we) = self.bounds(w);
            let part = we.min(end).saturating_sub(ws.max(start));
            let share = if w == last {
                1_000_000 - given
            } else {
                (u128::from(part) * 1_000_000 / u128::from(len)) as u64
            };
            given += share;
            out.push((w, share));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn windows_close_when_the_watermark_passes_their_end() {
        let mut c = Clock::new(300, 60);
        assert_eq!(c.observe(1000 * S), Some(3)); // windows 0..3 never had anything
        assert!(c.open(3));
        assert_eq!(c.observe(1199 * S), None); // window 3 ends at 1200
        assert!(!c.late(3));
        assert_eq!(c.observe(1230 * S), None); // watermark 1170 < 1200
        assert!(c.late(3) && c.open(3), "late but within lateness");
        assert_eq!(c.observe(1260 * S), Some(4));
        assert!(!c.open(3), "closed");
        assert_eq!(c.observe(5 * S), None, "time never goes back");
    }

    #[test]
    fn a_span_is_shared_by_overlap() {
        let c = Clock::new(10, 0);
        assert_eq!(c.spread(12 * S, 15 * S), vec![(1, 1_000_000)]);
        assert_eq!(
            c.spread(15 * S, 35 * S),
            vec![(1, 250_000), (2, 500_000), (3, 250_000)]
        );
        let long = c.spread(0, 100_000 * S);
        assert_eq!(long.len(), 1000);
        assert_eq!(long.iter().map(|(_, s)| s).sum::<u64>(), 1_000_000);
    }

    proptest::proptest! {
        #[test]
        fn shares_always_add_up(a in 0u64..1_000_000_000, b in 0u64..1_000_000_000, w in 1u64..100) {
            let c = Clock::new(w, 0);
            let parts = c.spread(a, b);
            proptest::prop_assert_eq!(parts.iter().map(|(_, s)| s).sum::<u64>(), 1_000_000);
            proptest::prop_assert!(parts.windows(2).all(|p| p[0].0 + 1 == p[1].0));
        }
    }
}
