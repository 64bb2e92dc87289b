//! Counting distinct items (reflectors hitting a victim, targets of a scan)
//! in fixed memory: HyperLogLog (Flajolet et al., 2007) with 2^10 one-byte
//! registers, standard error 1.04/√1024 ≈ 3.3 %, and, while the count is
//! small, the exact set of 32-bit hashes (HyperLogLog++'s sparse idea,
//! simplified), which costs no more than the registers and is exact.
//!
//! Items are hashed with a fixed key so that the same capture gives the
//! same counts in every run. Merging two sketches gives the sketch of the
//! union, whatever the order, so per-worker sketches can be added up.

use std::hash::{BuildHasher, Hash};

/// Registers: 2^P.
const P: u32 = 10;
const M: usize = 1 << P;
/// Hashes kept exactly before switching to registers (the same 1 KiB).
const SPARSE_MAX: usize = M / 4;
/// The fixed hash key (see the module docs).
const SEED: u64 = 0x6469_7374_696e_6374;

/// A distinct-count sketch.
#[derive(Clone, Debug, Default)]
pub struct Distinct {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    /// Sorted, deduplicated upper 32 bits of the items' hashes.
    Sparse(Vec<u32>),
    Dense(Box<[u8; M]>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Sparse(Vec::new())
    }
}

/// The 64-bit hash the sketch uses for `item`.
pub fn hash_of<T: Hash + ?Sized>(item: &T) -> u64 {
    foldhash::quality::FixedState::with_seed(SEED).hash_one(item)
}

/// Register index and rank (position of the first 1 bit, from 1) of a hash.
fn slot(h: u64) -> (usize, u8) {
    let index = (h >> (64 - P)) as usize;
    // A guard bit keeps the rank finite when the remaining bits are zero.
    let rest = (h << P) | (1 << (P - 1));
    (index, rest.leading_zeros() as u8 + 1)
}

impl Distinct {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an item by its [`hash_of`].
    pub fn insert_hash(&mut self, h: u64) {
        match &mut self.repr {
            Repr::Sparse(v) => {
                let short = (h >> 32) as u32;
                if let Err(at) = v.binary_search(&short) {
                    v.insert(at, short);
                    if v.len() > SPARSE_MAX {
                        self.densify();
                    }
                }
            }
            Repr::Dense(r) => {
                let (i, rank) = slot(h);
                if r[i] < rank {
                    r[i] = rank;
                }
            }
        }
    }

    pub fn insert<T: Hash + ?Sized>(&mut self, item: &T) {
        self.insert_hash(hash_of(item));
    }

    fn densify(&mut self) {
        if let Repr::Sparse(v) = &self.repr {
            let mut r = Box::new([0u8; M]);
            for &short in v {
                let (i, rank) = slot(u64::from(short) << 32);
                if r[i] < rank {
                    r[i] = rank;
                }
            }
            self.repr = Repr::Dense(r);
        }
    }

    /// Adds every item of `other` (the sketch of the union).
    pub fn merge(&mut self, other: &Distinct) {
        match &other.repr {
            Repr::Sparse(v) => {
                for &short in v {
                    self.insert_short(short);
                }
            }
            Repr::Dense(o) => {
                self.densify();
                if let Repr::Dense(r) = &mut self.repr {
                    for (a, b) in r.iter_mut().zip(o.iter()) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }

    fn insert_short(&mut self, short: u32) {
        match &mut self.repr {
            Repr::Sparse(v) => {
                if let Err(at) = v.binary_search(&short) {
                    v.insert(at, short);
                    if v.len() > SPARSE_MAX {
                        self.densify();
                    }
                }
            }
            Repr::Dense(r) => {
                let (i, rank) = slot(u64::from(short) << 32);
                if r[i] < rank {
                    r[i] = rank;
                }
            }
        }
    }

    /// The estimated number of distinct items: exact while small.
    pub fn count(&self) -> u64 {
        match &self.repr {
            Repr::Sparse(v) => v.len() as u64,
            Repr::Dense(r) => {
                let m = M as f64;
                let mut sum = 0.0;
                let mut zeros = 0usize;
                for &x in r.iter() {
                    sum += 1.0 / f64::from(1u32 << x.min(31));
                    zeros += usize::from(x == 0);
                }
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let raw = alpha * m * m / sum;
                // Small range: linear counting is better (Flajolet et al. §4).
                let e = if raw <= 2.5 * m && zeros > 0 {
                    m * (m / zeros as f64).ln()
                } else {
                    raw
                };
                e.round() as u64
            }
        }
    }

    /// True while the count is exact.
    pub fn is_exact(&self) -> bool {
        matches!(self.repr, Repr::Sparse(_))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Sparse(v) => v.capacity() * std::mem::size_of::<u32>(),
            Repr::Dense(_) => M,
        }
    }

    /// Forgets everything (and its memory).
    pub fn clear(&mut self) {
        self.repr = Repr::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn ip(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    }

    #[test]
    fn exact_while_small() {
        let mut d = Distinct::new();
        for round in 0..3 {
            for i in 0..SPARSE_MAX as u32 {
                d.insert(&ip(i));
            }
            assert_eq!(d.count(), SPARSE_MAX as u64, "round {round}");
            assert!(d.is_exact());
        }
        assert!(d.heap_bytes() <= M);
    }

    #[test]
    fn estimates_stay_within_the_error_bound() {
        // Three standard errors (3 × 3.3 %), against the exact count.
        for n in [300u32, 500, 1000, 2500, 4000, 10_000, 50_000, 200_000] {
            let mut d = Distinct::new();
            for i in 0..n {
                d.insert(&ip(i));
                // Repeats change nothing.
                if i % 3 == 0 {
                    d.insert(&ip(i));
                }
            }
            let got = d.count() as f64;
            let err = (got - f64::from(n)).abs() / f64::from(n);
            assert!(
                err < 0.10,
                "{n} items: estimated {got} ({:.1} %)",
                err * 100.0
            );
            assert_eq!(d.heap_bytes(), M, "fixed size");
        }
    }

    #[test]
    fn merging_is_the_union_in_any_order() {
        // Four workers see overlapping quarters of 6,000 reflectors.
        let parts: Vec<Distinct> = (0..4u32)
            .map(|w| {
                let mut d = Distinct::new();
                for i in (w * 1500).saturating_sub(200)..(w + 1) * 1500 {
                    d.insert(&ip(i));
                }
                d
            })
            .collect();
        let mut all = Distinct::new();
        for i in 0..6000 {
            all.insert(&ip(i));
        }
        let mut a = Distinct::new();
        for p in &parts {
            a.merge(p);
        }
        let mut b = Distinct::new();
        for p in parts.iter().rev() {
            b.merge(p);
        }
        assert_eq!(a.count(), b.count());
        assert_eq!(a.count(), all.count(), "union of parts = the whole");
        // Small sketches merge exactly.
        let (mut x, mut y) = (Distinct::new(), Distinct::new());
        for i in 0..100 {
            x.insert(&ip(i));
            y.insert(&ip(i + 50));
        }
        x.merge(&y);
        assert_eq!(x.count(), 150);
        assert!(x.is_exact());
    }

    proptest::proptest! {
        #[test]
        fn close_to_the_exact_count(items in proptest::collection::vec(0u32..20_000, 0..3000)) {
            let mut d = Distinct::new();
            for i in &items {
                d.insert(&ip(*i));
            }
            let exact = items.iter().collect::<std::collections::HashSet<_>>().len() as f64;
            let got = d.count() as f64;
            proptest::prop_assert!((got - exact).abs() <= (exact * 0.12).max(0.0), "{} vs {}", got, exact);
        }
    }
}
