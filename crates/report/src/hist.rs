//! A time histogram of fixed size whatever the span: buckets start at one
//! second and double in width (merging neighbours) whenever a time falls
//! outside, so a timeline over a minute or a month costs the same memory.
//! Widths are powers of two seconds and bucket starts are multiples of
//! their width, so histograms of different widths line up on one axis.

/// Buckets per histogram.
pub const BUCKETS: usize = 60;

const SECOND: u64 = 1_000_000;

/// How two values in one bucket combine.
pub trait Bucket: Copy + Default {
    fn merge(&mut self, other: Self);
}

impl Bucket for u64 {
    fn merge(&mut self, other: Self) {
        *self = self.saturating_add(other);
    }
}

/// The largest value seen (ratios, rates); `None` for an empty bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Peak(pub Option<f64>);

impl Bucket for Peak {
    fn merge(&mut self, other: Self) {
        self.0 = match (self.0, other.0) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Values over time, in microseconds of packet time.
#[derive(Clone, Debug)]
pub struct Hist<V: Bucket> {
    /// Start of the first bucket (a multiple of `width`).
    origin: u64,
    /// Bucket width in microseconds: a power of two times one second.
    width: u64,
    buckets: Vec<V>,
}

impl<V: Bucket> Default for Hist<V> {
    fn default() -> Self {
        Hist {
            origin: 0,
            width: SECOND,
            buckets: Vec::new(),
        }
    }
}

impl<V: Bucket> Hist<V> {
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    pub fn width(&self) -> u64 {
        self.width
    }

    /// Adds `v` at time `t`.
    pub fn add(&mut self, t: u64, v: V) {
        if self.buckets.is_empty() {
            self.buckets = vec![V::default(); BUCKETS];
            self.origin = t - t % self.width;
        }
        while t < self.origin || t - self.origin >= self.width.saturating_mul(BUCKETS as u64) {
            if !self.coarsen() {
                return; // the whole u64 range is covered: cannot happen for a valid t
            }
        }
        let i = ((t - self.origin) / self.width) as usize;
        self.buckets[i].merge(v);
    }

    /// Doubles the bucket width, keeping the origin a multiple of it.
    fn coarsen(&mut self) -> bool {
        let Some(width) = self.width.checked_mul(2) else {
            return false;
        };
        let origin = self.origin - self.origin % width;
        let mut merged = vec![V::default(); BUCKETS];
        for (i, v) in self.buckets.iter().enumerate() {
            // Buckets that would start past the end of time hold nothing.
            let Some(start) = (i as u64)
                .checked_mul(self.width)
                .and_then(|o| o.checked_add(self.origin))
            else {
                break;
            };
            let j = ((start - origin) / width) as usize;
            if let Some(slot) = merged.get_mut(j) {
                slot.merge(*v);
            }
        }
        self.origin = origin;
        self.width = width;
        self.buckets = merged;
        true
    }

    /// (start, value) of every bucket, empty ones included.
    pub fn iter(&self) -> impl Iterator<Item = (u64, V)> + '_ {
        self.buckets.iter().enumerate().map(|(i, v)| {
            let start = (i as u64).saturating_mul(self.width);
            (self.origin.saturating_add(start), *v)
        })
    }
}

/// An axis shared by several histograms: up to `BUCKETS` buckets of one
/// width from a start, covering `[lo, hi]` and no finer than any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub start: u64,
    pub width: u64,
    /// Buckets in use: enough to reach `hi`, at least [`Axis::MIN_BUCKETS`]
    /// (so that a burst within a second is not one bar across the page).
    pub buckets: usize,
}

impl Axis {
    pub const MIN_BUCKETS: usize = 12;

    /// The axis for times `lo..=hi` and histograms at least `min_width` wide.
    pub fn new(lo: u64, hi: u64, min_width: u64) -> Axis {
        let hi = hi.max(lo);
        let mut width = SECOND.max(min_width);
        loop {
            let start = lo - lo % width;
            if hi - start < width.saturating_mul(BUCKETS as u64) {
                let used = ((hi - start) / width) as usize + 1;
                let buckets = used.clamp(Self::MIN_BUCKETS, BUCKETS);
                return Axis {
                    start,
                    width,
                    buckets,
                };
            }
            match width.checked_mul(2) {
                Some(w) => width = w,
                None => {
                    return Axis {
                        start: 0,
                        width,
                        buckets: BUCKETS,
                    };
                }
            }
        }
    }

    pub fn end(&self) -> u64 {
        self.start
            .saturating_add(self.width.saturating_mul(self.buckets as u64))
    }

    /// `h` re-bucketed onto this axis (`h` must be no wider than the axis).
    pub fn fold<V: Bucket>(&self, h: &Hist<V>) -> Vec<V> {
        let mut out = vec![V::default(); self.buckets];
        for (t, v) in h.iter() {
            if t >= self.start && t < self.end() {
                out[((t - self.start) / self.width) as usize].merge(v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_to_fit_and_keeps_totals() {
        let mut h = Hist::<u64>::default();
        let t0 = 1_700_000_000 * SECOND;
        for s in 0..3600u64 {
            h.add(t0 + s * SECOND, 1);
        }
        assert_eq!(h.iter().map(|(_, v)| v).sum::<u64>(), 3600);
        assert!(h.width() >= 64 * SECOND, "{}", h.width());
        // Earlier times widen it too.
        h.add(t0 - 86_400 * SECOND, 5);
        assert_eq!(h.iter().map(|(_, v)| v).sum::<u64>(), 3605);
    }

    #[test]
    fn histograms_fold_onto_one_axis() {
        let t0 = 1_700_000_000 * SECOND;
        let mut a = Hist::<u64>::default();
        let mut b = Hist::<u64>::default();
        a.add(t0, 1);
        a.add(t0 + 10 * SECOND, 1);
        for s in 0..1000u64 {
            b.add(t0 + s * SECOND, 2);
        }
        let axis = Axis::new(t0, t0 + 999 * SECOND, a.width().max(b.width()));
        assert_eq!(axis.fold(&a).iter().sum::<u64>(), 2);
        assert_eq!(axis.fold(&b).iter().sum::<u64>(), 2000);
    }

    proptest::proptest! {
        /// Nothing is lost however the times come, and the memory stays the same.
        #[test]
        fn keeps_every_value(times in proptest::collection::vec(0u64..u64::MAX / 2, 1..200)) {
            let mut h = Hist::<u64>::default();
            for &t in &times {
                h.add(t, 1);
            }
            proptest::prop_assert_eq!(h.iter().map(|(_, v)| v).sum::<u64>(), times.len() as u64);
            proptest::prop_assert_eq!(h.iter().count(), BUCKETS);
            let lo = *times.iter().min().unwrap();
            let hi = *times.iter().max().unwrap();
            let axis = Axis::new(lo, hi, h.width());
            proptest::prop_assert_eq!(axis.fold(&h).iter().sum::<u64>(), times.len() as u64);
        }
    }
}
