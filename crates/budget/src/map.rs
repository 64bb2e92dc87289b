//! Maps whose keys come from the wire, bounded by a [`Meter`].
//!
//! Entries live densely in a vector, with a hash table of indices beside
//! it, so that a random entry can be picked in O(1): under pressure the map
//! looks at a few random entries and evicts the least useful of them (the
//! lowest [`Aging::keep`], then the longest idle), an approximation of LFU
//! and LRU that costs no per-entry list links. A forged-source flood fills
//! the map with entries of weight one, which are what goes; a source that
//! is close to a detector's threshold has a higher weight and stays.
//!
//! Time is packet time (microseconds). An entry idle for longer than the
//! map's time-to-live is expired: a few entries are checked on every
//! insertion, and the whole map every quarter of the time-to-live, so
//! memory comes back after a flood even when nothing else happens.
//!
//! The footprint charged to the meter is what the map has allocated: the
//! capacity of both vectors plus what entries say they own on the heap.
//! Growth that the meter refuses turns into eviction instead.

use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

use hashbrown::HashTable;

use crate::{MemReport, Meter};

/// What a map needs to know about its values.
pub trait Aging {
    /// How much this entry is worth keeping under pressure: higher stays.
    /// Detectors return their progress toward a threshold.
    fn keep(&self) -> u64 {
        0
    }

    /// Heap bytes the value owns beyond its inline size.
    fn heap_bytes(&self) -> usize {
        0
    }
}

struct Slot<K, V> {
    key: K,
    last: u64,
    heap: usize,
    value: V,
}

/// Entries looked at to choose one to evict.
const SAMPLE: usize = 5;
/// Entries checked for expiry on each insertion.
const EXPIRE_STEP: usize = 2;

/// A map bounded by its meter, owned by one thread.
pub struct BoundedMap<K, V> {
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Slot<K, V>>,
    meter: Meter,
    /// Bytes charged to the meter for the vectors' capacity.
    charged: usize,
    heap: usize,
    ttl: u64,
    next_prune: u64,
    cursor: usize,
    rng: u64,
}

fn table_bytes(items: usize) -> usize {
    if items == 0 {
        return 0;
    }
    // hashbrown keeps at most 7/8 of its buckets full, rounds the bucket
    // count to a power of two and stores one control byte per bucket.
    let buckets = (items.saturating_mul(8) / 7 + 1).next_power_of_two();
    buckets * (std::mem::size_of::<u32>() + 1) + 16
}

impl<K: Hash + Eq, V: Aging> BoundedMap<K, V> {
    /// `ttl`: microseconds of packet time an idle entry is kept.
    pub fn new(meter: Meter, ttl: u64) -> Self {
        BoundedMap {
            table: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::new(),
            meter,
            charged: 0,
            heap: 0,
            ttl: ttl.max(1),
            next_prune: 0,
            cursor: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn slot_bytes() -> usize {
        std::mem::size_of::<Slot<K, V>>()
    }

    fn hash(&self, k: &K) -> u64 {
        self.hasher.hash_one(k)
    }

    fn index(&self, k: &K) -> Option<usize> {
        let h = self.hash(k);
        let slots = &self.slots;
        self.table
            .find(h, |&i| slots[i as usize].key == *k)
            .map(|&i| i as usize)
    }

    /// Every entry, in no particular order (not touched: ages stay).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|s| (&s.key, &s.value))
    }

    /// The value for `k`, if present (not touched: its age stays).
    pub fn get(&self, k: &K) -> Option<&V> {
        self.index(k).map(|i| &self.slots[i].value)
    }

    /// Finds `k` or inserts `make()`, marks it active at `now`, and lets `f`
    /// read or change it. `None` when the map could make no room.
    pub fn with<R>(
        &mut self,
        k: K,
        now: u64,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        self.maintain(now);
        let i = match self.index(&k) {
            Some(i) => i,
            None => self.insert(k, now, make())?,
        };
        let slot = &mut self.slots[i];
        slot.last = slot.last.max(now);
        let r = f(&mut slot.value);
        let heap = slot.value.heap_bytes();
        let old = std::mem::replace(&mut slot.heap, heap);
        self.heap = self.heap + heap - old;
        self.settle();
        Some(r)
    }

    /// Changes `k` if it is present, without inserting it or making it
    /// younger (for keys that only matter once something else made them).
    pub fn update<R>(&mut self, k: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let i = self.index(k)?;
        let slot = &mut self.slots[i];
        let r = f(&mut slot.value);
        let heap = slot.value.heap_bytes();
        let old = std::mem::replace(&mut slot.heap, heap);
        self.heap = self.heap + heap - old;
        self.settle();
        Some(r)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.index(k)?;
        let v = self.remove_at(i);
        self.settle();
        Some(v)
    }

    fn insert(&mut self, key: K, now: u64, value: V) -> Option<usize> {
        let heap = value.heap_bytes();
        if self.slots.len() == self.slots.capacity() && !self.grow(heap) {
            // No room to grow: take an existing entry's place.
            if self.slots.is_empty() {
                self.meter.note_evicted(0);
                return None;
            }
            let victim = self.pick_victim();
            self.remove_at(victim);
            self.meter.note_evicted(1);
        }
        let idx = self.slots.len();
        let h = self.hash(&key);
        self.slots.push(Slot {
            key,
            last: now,
            heap,
            value,
        });
        self.heap += heap;
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.table
            .insert_unique(h, idx as u32, |&i| hasher.hash_one(&slots[i as usize].key));
        Some(idx)
    }

    /// Grows both vectors by half, if the meter allows it.
    fn grow(&mut self, heap: usize) -> bool {
        let cap = self.slots.capacity();
        let more = (cap / 2).max(16);
        let want = cap + more;
        if want > u32::MAX as usize {
            return false;
        }
        let need = want * Self::slot_bytes() + table_bytes(want) + self.heap + heap;
        let delta = need.saturating_sub(self.charged);
        if !self.meter.try_take(delta) {
            return false;
        }
        self.charged += delta;
        self.slots.reserve_exact(more);
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.table.reserve(want - self.table.len(), |&i| {
            hasher.hash_one(&slots[i as usize].key)
        });
        true
    }

    /// Brings the meter in line with what the map holds now.
    fn settle(&mut self) {
        let cap = self.slots.capacity();
        let footprint = cap * Self::slot_bytes() + table_bytes(cap) + self.heap;
        if footprint > self.charged {
            // Values grew on the heap. Charge it; if the meter refuses,
            // evict until it fits or one entry is left.
            let delta = footprint - self.charged;
            if self.meter.try_take(delta) {
                self.charged = footprint;
                return;
            }
            while self.slots.len() > 1 {
                let v = self.pick_victim();
                self.remove_at(v);
                self.meter.note_evicted(1);
                let fp = cap * Self::slot_bytes() + table_bytes(cap) + self.heap;
                if fp <= self.charged {
                    break;
                }
            }
            let fp = cap * Self::slot_bytes() + table_bytes(cap) + self.heap;
            if fp > self.charged {
                // One oversized entry: account it anyway (bounded by the
                // value's own limits), so memuse stays truthful.
                let d = fp - self.charged;
                if self.meter.try_take(d) {
                    self.charged = fp;
                }
            }
        } else if footprint < self.charged {
            self.meter.give(self.charged - footprint);
            self.charged = footprint;
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: cheap, and seeded per map; eviction choice needs no
        // cryptographic strength, only not to be the same slots every time.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick_victim(&mut self) -> usize {
        let n = self.slots.len();
        let mut best = (self.next_random() % n as u64) as usize;
        for _ in 1..SAMPLE.min(n) {
            let i = (self.next_random() % n as u64) as usize;
            let (a, b) = (&self.slots[i], &self.slots[best]);
            if (a.value.keep(), a.last) < (b.value.keep(), b.last) {
                best = i;
            }
        }
        best
    }

    fn remove_at(&mut self, i: usize) -> V {
        let h = self.hash(&self.slots[i].key);
        if let Ok(e) = self.table.find_entry(h, |&x| x as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        if i != last {
            // The last slot moves into `i`: repoint its table entry.
            let hl = self.hash(&self.slots[last].key);
            if let Some(x) = self.table.find_mut(hl, |&x| x as usize == last) {
                *x = i as u32;
            }
        }
        let s = self.slots.swap_remove(i);
        self.heap -= s.heap;
        if self.cursor > self.slots.len() {
            self.cursor = 0;
        }
        s.value
    }

    /// Expiry: a few entries now, the whole map every quarter of the
    /// time-to-live, and the memory back when most of it is free.
    fn maintain(&mut self, now: u64) {
        if now >= self.next_prune {
            self.prune(now);
            return;
        }
        for _ in 0..EXPIRE_STEP {
            if self.slots.is_empty() {
                return;
            }
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            if now.saturating_sub(self.slots[self.cursor].last) > self.ttl {
                self.remove_at(self.cursor);
                self.meter.note_expired(1);
            } else {
                self.cursor += 1;
            }
        }
    }

    /// Removes every entry idle past the time-to-live at `now`.
    pub fn prune(&mut self, now: u64) {
        self.next_prune = now.saturating_add((self.ttl / 4).max(1));
        let mut i = 0;
        let mut n = 0;
        while i < self.slots.len() {
            if now.saturating_sub(self.slots[i].last) > self.ttl {
                self.remove_at(i);
                n += 1;
            } else {
                i += 1;
            }
        }
        self.meter.note_expired(n);
        self.shrink();
        self.settle();
    }

    /// Returns memory when the map is mostly empty (after a flood).
    fn shrink(&mut self) {
        let (len, cap) = (self.slots.len(), self.slots.capacity());
        if cap > 64 && len < cap / 4 {
            let keep = (len * 2).max(16);
            self.slots.shrink_to(keep);
            let slots = &self.slots;
            let hasher = &self.hasher;
            self.table
                .shrink_to(keep, |&i| hasher.hash_one(&slots[i as usize].key));
        }
    }

    /// Removes every entry for which `f` says false.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            let s = &mut self.slots[i];
            if f(&s.key, &mut s.value) {
                i += 1;
            } else {
                self.remove_at(i);
            }
        }
        self.settle();
    }

    pub fn report(&self) -> MemReport {
        let mut r = self.meter.report();
        r.entries = self.slots.len() as u64;
        r
    }
}

/// A [`BoundedMap`] shared by threads: shards behind locks, each with its
/// share of the memcap. Detectors touch it per transaction or per SYN to a
/// watched port, never per packet of every flow.
pub struct SharedMap<K, V> {
    shards: Box<[Mutex<BoundedMap<K, V>>]>,
    hasher: foldhash::fast::RandomState,
}

const SHARDS: usize = 16;

impl<K: Hash + Eq, V: Aging> SharedMap<K, V> {
    /// `make_meter(i)` gives shard `i` its meter (`1/16` of the structure's cap).
    pub fn new(ttl: u64, mut make_meter: impl FnMut(usize) -> Meter) -> Self {
        SharedMap {
            shards: (0..SHARDS)
                .map(|i| Mutex::new(BoundedMap::new(make_meter(i), ttl)))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn shard(&self, k: &K) -> std::sync::MutexGuard<'_, BoundedMap<K, V>> {
        let i = (self.hasher.hash_one(k) >> 56) as usize % SHARDS;
        // A panic while a shard was held leaves its map consistent (every
        // mutation completes before user code runs), so keep using it.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// As [`BoundedMap::with`], under the key's shard lock.
    pub fn with<R>(
        &self,
        k: K,
        now: u64,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        self.shard(&k).with(k, now, make, f)
    }

    /// As [`BoundedMap::update`]: changes `k` only if it is present, never
    /// inserting (for keys that only matter once something else made them).
    pub fn update<R>(&self, k: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.shard(k).update(k, f)
    }

    /// Reads `k` without making it younger.
    pub fn read<R>(&self, k: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.shard(k).get(k).map(f)
    }

    /// The structure's counters, all shards together.
    pub fn report(&self) -> MemReport {
        let mut r = MemReport::default();
        for s in self.shards.iter() {
            let g = s.lock().unwrap_or_else(|p| p.into_inner());
            r.merge(&g.report());
        }
        r
    }

    /// Removes every entry for which `f` says false, shard by shard (for
    /// detectors that hand out what a window collected once it is over).
    pub fn retain(&self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for s in self.shards.iter() {
            s.lock().unwrap_or_else(|p| p.into_inner()).retain(&mut f);
        }
    }

    /// Expires idle entries in every shard (e.g. on a stats tick).
    pub fn prune(&self, now: u64) {
        for s in self.shards.iter() {
            s.lock().unwrap_or_else(|p| p.into_inner()).prune(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Budget;

    #[derive(Debug, Default)]
    struct Count(u64);
    impl Aging for Count {
        fn keep(&self) -> u64 {
            self.0
        }
    }

    struct Grows(Vec<u32>);
    impl Aging for Grows {
        fn heap_bytes(&self) -> usize {
            self.0.capacity() * 4
        }
    }

    fn map(cap: usize, ttl: u64) -> BoundedMap<u64, Count> {
        BoundedMap::new(Meter::new("t", cap, Budget::unlimited()), ttl)
    }

    #[test]
    fn a_flood_of_new_keys_stays_within_the_memcap() {
        let mut m = map(64 << 10, 1_000_000_000);
        for k in 0..1_000_000u64 {
            m.with(k, k, Count::default, |c| c.0 += 1);
            assert!(m.report().memuse <= 64 << 10);
        }
        let r = m.report();
        assert!(r.entries > 1000, "{r:?}");
        assert!(r.evicted > 900_000, "{r:?}");
    }

    #[test]
    fn keys_near_a_threshold_survive_the_flood() {
        let mut m = map(64 << 10, 1_000_000_000);
        // A real scanner, nine probes in.
        for t in 0..9 {
            m.with(u64::MAX, t, Count::default, |c| c.0 += 1);
        }
        for k in 0..200_000u64 {
            m.with(k, 10 + k, Count::default, |c| c.0 += 1);
        }
        assert_eq!(m.get(&u64::MAX).map(|c| c.0), Some(9));
    }

    #[test]
    fn idle_entries_expire_by_packet_time_and_memory_comes_back() {
        let mut m = map(16 << 20, 60_000_000);
        for k in 0..100_000u64 {
            m.with(k, k, Count::default, |c| c.0 += 1);
        }
        let full = m.report().memuse;
        // Two minutes later one more key: everything else is stale.
        m.with(u64::MAX, 200_000_000, Count::default, |_| ());
        let r = m.report();
        assert_eq!(r.entries, 1);
        assert_eq!(r.expired, 100_000);
        assert!(r.memuse < full / 10, "{} vs {full}", r.memuse);
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut m = map(1 << 20, u64::MAX);
        for k in 0..1000u64 {
            m.with(k, 0, Count::default, |c| c.0 = k);
        }
        for k in (0..1000u64).step_by(3) {
            assert_eq!(m.remove(&k).map(|c| c.0), Some(k));
        }
        for k in 0..1000u64 {
            let want = (k % 3 != 0).then_some(k);
            assert_eq!(m.get(&k).map(|c| c.0), want, "{k}");
        }
    }

    #[test]
    fn heap_growth_is_charged_and_bounded() {
        let mut m: BoundedMap<u32, Grows> =
            BoundedMap::new(Meter::new("g", 256 << 10, Budget::unlimited()), u64::MAX);
        for k in 0..10_000u32 {
            m.with(k, 0, || Grows(Vec::new()), |g| g.0.extend(0..64));
            let r = m.report();
            assert!(r.memuse <= 256 << 10, "{r:?}");
        }
        assert!(m.report().evicted > 0);
    }

    #[test]
    fn the_shared_map_sums_its_shards() {
        let b = Budget::new(1 << 20);
        let m: SharedMap<u64, Count> = SharedMap::new(u64::MAX, |_| {
            Meter::new("s", 1 << 16, std::sync::Arc::clone(&b))
        });
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let m = &m;
                s.spawn(move || {
                    for k in 0..50_000u64 {
                        m.with(t * 1_000_000 + k, k, Count::default, |c| c.0 += 1);
                    }
                });
            }
        });
        let r = m.report();
        assert!(r.memuse <= 16 << 16, "{r:?}");
        assert!(b.used() <= b.cap());
        assert_eq!(r.memcap, 16 << 16);
    }
}
