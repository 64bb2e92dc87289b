//! The per-worker flow table.
//!
//! Flows live in a slab indexed by `u32`. Each flow sits on one of a few
//! intrusive LRU lists, one per timeout class (protocol × state), so that:
//! * every list is ordered by last activity, because packets reach a worker
//!   in time order and each one moves its flow to the tail;
//! * timed-out flows are found at the list heads, without scanning;
//! * the longest-idle flow overall, the one to evict when the table is
//!   full, is the oldest of the list heads.
//!
//! Only the state transitions and `touch` move a flow, all O(1).
//!
//! The table is bounded twice: by `max_flows`, and by bytes through its
//! [`Meter`] (`flow.memcap`), which is charged for the slots, the index and
//! whatever each flow owns on the heap (its TCP buffers, its application
//! state). Slots come in fixed-size chunks and the index stores only slot
//! numbers, so a half-open flow costs one slot and a few bytes of index,
//! and the table never doubles its memory on growth.

use std::hash::BuildHasher;

use fumidai_budget::{MemReport, Meter};
use fumidai_wire::{FlowKey, Timestamp};
use hashbrown::HashTable;

/// The timeout classes. A flow's class decides its idle timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    TcpNew,
    TcpEstablished,
    TcpClosed,
    UdpNew,
    UdpEstablished,
    IcmpNew,
    IcmpEstablished,
    OtherNew,
    OtherEstablished,
}

impl Class {
    const COUNT: usize = 9;

    fn index(self) -> usize {
        self as usize
    }
}

/// Idle timeouts per class, in seconds of packet time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    secs: [u64; Class::COUNT],
}

impl Timeouts {
    /// `f` gives each class's timeout.
    pub fn new(f: impl Fn(Class) -> u64) -> Self {
        use Class::*;
        let all = [
            TcpNew,
            TcpEstablished,
            TcpClosed,
            UdpNew,
            UdpEstablished,
            IcmpNew,
            IcmpEstablished,
            OtherNew,
            OtherEstablished,
        ];
        let mut secs = [0; Class::COUNT];
        for c in all {
            secs[c.index()] = f(c);
        }
        Timeouts { secs }
    }

    /// The idle timeout of `class`, in microseconds.
    pub fn micros(&self, class: Class) -> u64 {
        self.secs[class.index()].saturating_mul(1_000_000)
    }
}

/// Why a flow left the table. The names are Suricata's `flow.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Idle for longer than its class's timeout.
    Timeout,
    /// Evicted to make room: the table was at `max_flows` or its memcap.
    Forced,
    /// End of input or sensor shutdown.
    Shutdown,
    /// A new TCP connection reused a closed connection's 4-tuple.
    TcpReuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
            EndReason::TcpReuse => "tcp_reuse",
        }
    }
}

const NIL: u32 = u32::MAX;
/// Slots per chunk: memory grows by this many slots at a time.
const CHUNK: usize = 1024;

/// What the table needs from the flows it holds.
pub trait TableEntry {
    fn key(&self) -> &FlowKey;
}

#[derive(Clone, Copy, Debug)]
struct Links {
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

struct Slot<F> {
    last: Timestamp,
    links: Links,
    /// Heap bytes the flow owns, as last reported.
    heap: u32,
    class: Class,
    flow: Option<F>,
}

/// A flow table holding values of type `F`, bounded to `max_flows` and by
/// its meter.
pub struct FlowTable<F> {
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    chunks: Vec<Box<[Slot<F>]>>,
    /// Slots used so far (the next new slot), and freed ones to reuse.
    high: usize,
    free: Vec<u32>,
    live: usize,
    lists: [List; Class::COUNT],
    timeouts: Timeouts,
    max_flows: usize,
    meter: Meter,
    /// Bytes charged for the index's capacity.
    index_charged: usize,
}

/// A handle to a live flow, valid until the flow is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowRef(u32);

fn index_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = (capacity.saturating_mul(8) / 7 + 1).next_power_of_two();
    buckets * (std::mem::size_of::<u32>() + 1)
}

impl<F: TableEntry> FlowTable<F> {
    pub fn new(timeouts: Timeouts, max_flows: usize, meter: Meter) -> Self {
        FlowTable {
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            chunks: Vec::new(),
            high: 0,
            free: Vec::new(),
            live: 0,
            lists: [EMPTY; Class::COUNT],
            timeouts,
            max_flows: max_flows.max(1),
            meter,
            index_charged: 0,
        }
    }

    /// Bytes one slot takes, whatever its flow owns besides.
    pub fn slot_bytes() -> usize {
        std::mem::size_of::<Slot<F>>()
    }

    /// Number of live flows.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The table's memory counters (`memcap.flow.*`).
    pub fn report(&self) -> MemReport {
        let mut r = self.meter.report();
        r.entries = self.live as u64;
        r
    }

    /// Bytes in use now.
    pub fn memuse(&self) -> usize {
        self.meter.used()
    }

    fn slot(&self, i: u32) -> &Slot<F> {
        &self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot<F> {
        &mut self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }

    fn find(&self, key: &FlowKey) -> Option<u32> {
        let h = self.hasher.hash_one(key);
        self.index
            .find(h, |&i| {
                self.slot(i).flow.as_ref().is_some_and(|f| f.key() == key)
            })
            .copied()
    }

    /// Finds the live flow for `key`. A flow that has been idle past its
    /// timeout at `now` is not returned: it is removed and pushed onto
    /// `ended`, so the answer does not depend on when sweeps ran.
    pub fn get(
        &mut self,
        key: &FlowKey,
        now: Timestamp,
        ended: &mut Vec<(F, EndReason)>,
    ) -> Option<FlowRef> {
        let idx = self.find(key)?;
        let slot = self.slot(idx);
        if now.micros_since(slot.last) > self.timeouts.micros(slot.class) {
            if let Some(f) = self.remove(FlowRef(idx)) {
                ended.push((f, EndReason::Timeout));
            }
            return None;
        }
        Some(FlowRef(idx))
    }

    /// Inserts a new flow (its key must not be live). When the table is at
    /// `max_flows` or its memcap, the longest-idle flows are evicted onto
    /// `ended` first, so a flood of new flows pushes out the oldest, not
    /// the newest (which may be the attack).
    pub fn insert(
        &mut self,
        class: Class,
        now: Timestamp,
        flow: F,
        ended: &mut Vec<(F, EndReason)>,
    ) -> FlowRef {
        if self.live >= self.max_flows {
            self.evict_one(ended);
        }
        let idx = loop {
            if let Some(i) = self.reserve_slot() {
                break i;
            }
            if !self.evict_one(ended) {
                // Nothing left to evict and no memory for a first slot:
                // take it anyway (the meter has counted the refusal), or
                // nothing could ever be tracked.
                break self.force_slot();
            }
        };
        let h = self.hasher.hash_one(flow.key());
        *self.slot_mut(idx) = Slot {
            last: now,
            links: Links {
                prev: NIL,
                next: NIL,
            },
            heap: 0,
            class,
            flow: Some(flow),
        };
        self.grow_index();
        let chunks = &self.chunks;
        let hasher = &self.hasher;
        self.index.insert_unique(h, idx, |&i| {
            chunks[i as usize / CHUNK][i as usize % CHUNK]
                .flow
                .as_ref()
                .map_or(0, |f| hasher.hash_one(f.key()))
        });
        self.live += 1;
        self.push_tail(class, idx);
        FlowRef(idx)
    }

    /// A free slot, allocating a chunk if the meter allows.
    fn reserve_slot(&mut self) -> Option<u32> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        if self.high == self.chunks.len() * CHUNK {
            if !self.meter.try_take(CHUNK * Self::slot_bytes()) {
                return None;
            }
            self.push_chunk();
        }
        self.high += 1;
        Some((self.high - 1) as u32)
    }

    fn force_slot(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            return i;
        }
        if self.high == self.chunks.len() * CHUNK {
            self.push_chunk();
        }
        self.high += 1;
        (self.high - 1) as u32
    }

    fn push_chunk(&mut self) {
        self.chunks.push(
            (0..CHUNK)
                .map(|_| Slot {
                    last: Timestamp::default(),
                    links: Links {
                        prev: NIL,
                        next: NIL,
                    },
                    heap: 0,
                    class: Class::OtherNew,
                    flow: None,
                })
                .collect(),
        );
    }

    /// Makes room in the index for one more entry, charging its growth.
    fn grow_index(&mut self) {
        if self.index.len() < self.index.capacity() {
            return;
        }
        let chunks = &self.chunks;
        let hasher = &self.hasher;
        self.index.reserve(1, |&i| {
            chunks[i as usize / CHUNK][i as usize % CHUNK]
                .flow
                .as_ref()
                .map_or(0, |f| hasher.hash_one(f.key()))
        });
        let now = index_bytes(self.index.capacity());
        if now > self.index_charged {
            // The index is a few bytes per flow: charged, never refused
            // (the slots it points to were).
            if !self.meter.try_take(now - self.index_charged) {
                self.meter.note_evicted(0);
            }
            self.index_charged = now;
        }
    }

    /// Evicts the longest-idle flow onto `ended`; false when there is none.
    fn evict_one(&mut self, ended: &mut Vec<(F, EndReason)>) -> bool {
        self.evict_longest(None, ended)
    }

    /// Evicts the longest-idle flow other than `keep` onto `ended` (to
    /// make room for memory `keep` needs); false when there is none.
    pub fn evict_other(&mut self, keep: FlowRef, ended: &mut Vec<(F, EndReason)>) -> bool {
        self.evict_longest(Some(keep), ended)
    }

    fn evict_longest(&mut self, keep: Option<FlowRef>, ended: &mut Vec<(F, EndReason)>) -> bool {
        // The oldest of the class lists' heads, passing over `keep`.
        let victim = self
            .lists
            .iter()
            .filter_map(|l| {
                let mut i = l.head;
                while i != NIL && keep.is_some_and(|k| k.0 == i) {
                    i = self.slot(i).links.next;
                }
                (i != NIL).then_some(i)
            })
            .min_by_key(|&i| self.slot(i).last);
        let Some(f) = victim.and_then(|v| self.remove(FlowRef(v))) else {
            return false;
        };
        self.meter.note_evicted(1);
        ended.push((f, EndReason::Forced));
        true
    }

    /// The flow behind `r`.
    pub fn flow_mut(&mut self, r: FlowRef) -> &mut F {
        // A FlowRef is only handed out for a live slot and removal consumes
        // the flow, so the slot is occupied; the expect documents that
        // invariant rather than input validation.
        self.slot_mut(r.0)
            .flow
            .as_mut()
            .expect("FlowRef to a live flow")
    }

    /// Records that flow `r` now owns `heap` bytes on the heap. Past the
    /// memcap, the longest-idle other flows are evicted onto `ended`.
    pub fn account(&mut self, r: FlowRef, heap: usize, ended: &mut Vec<(F, EndReason)>) {
        let heap = u32::try_from(heap).unwrap_or(u32::MAX);
        if self.slot(r.0).heap == heap {
            return;
        }
        let old = std::mem::replace(&mut self.slot_mut(r.0).heap, heap);
        if heap <= old {
            self.meter.give((old - heap) as usize);
            return;
        }
        let more = (heap - old) as usize;
        while !self.meter.try_take(more) {
            if !self.evict_longest(Some(r), ended) {
                // Only this flow is left: it keeps what it has. Its heap
                // is bounded by the per-flow limits.
                self.slot_mut(r.0).heap = old;
                return;
            }
        }
    }

    /// Records activity at `now` and moves the flow to `class`.
    pub fn touch(&mut self, r: FlowRef, class: Class, now: Timestamp) {
        let idx = r.0;
        let slot = self.slot_mut(idx);
        if now > slot.last {
            slot.last = now;
        }
        let old = slot.class;
        if old == class && self.lists[class.index()].tail == idx {
            return;
        }
        self.unlink(old, idx);
        self.slot_mut(idx).class = class;
        self.push_tail(class, idx);
    }

    /// Removes the flow, e.g. when a new connection reuses its tuple.
    pub fn remove(&mut self, r: FlowRef) -> Option<F> {
        let idx = r.0;
        if idx as usize >= self.high {
            return None;
        }
        let slot = self.slot_mut(idx);
        let f = slot.flow.take()?;
        let (class, heap) = (slot.class, slot.heap);
        slot.heap = 0;
        self.unlink(class, idx);
        let h = self.hasher.hash_one(f.key());
        if let Ok(e) = self.index.find_entry(h, |&i| i == idx) {
            e.remove();
        }
        self.free.push(idx);
        self.live -= 1;
        self.meter.give(heap as usize);
        Some(f)
    }

    /// Ends every flow idle past its timeout at `now`.
    pub fn expire(&mut self, now: Timestamp, ended: &mut Vec<(F, EndReason)>) {
        for c in 0..Class::COUNT {
            loop {
                let head = self.lists[c].head;
                if head == NIL {
                    break;
                }
                let slot = self.slot(head);
                if now.micros_since(slot.last) <= self.timeouts.micros(slot.class) {
                    break;
                }
                if let Some(f) = self.remove(FlowRef(head)) {
                    ended.push((f, EndReason::Timeout));
                }
            }
        }
    }

    /// Ends up to `max` flows, oldest first (end of input, shutdown), so
    /// that their records can be written out a batch at a time. True when
    /// flows remain.
    pub fn drain_some(
        &mut self,
        reason: EndReason,
        max: usize,
        ended: &mut Vec<(F, EndReason)>,
    ) -> bool {
        for _ in 0..max {
            let Some(r) = self.longest_idle() else {
                return false;
            };
            if let Some(f) = self.remove(r) {
                ended.push((f, reason));
            }
        }
        !self.is_empty()
    }

    /// Ends every flow, oldest first.
    pub fn drain(&mut self, reason: EndReason, ended: &mut Vec<(F, EndReason)>) {
        while self.drain_some(reason, usize::MAX, ended) {}
    }

    fn longest_idle(&self) -> Option<FlowRef> {
        self.lists
            .iter()
            .filter(|l| l.head != NIL)
            .min_by_key(|l| self.slot(l.head).last)
            .map(|l| FlowRef(l.head))
    }

    fn push_tail(&mut self, class: Class, idx: u32) {
        let old_tail = self.lists[class.index()].tail;
        self.slot_mut(idx).links = Links {
            prev: old_tail,
            next: NIL,
        };
        if old_tail == NIL {
            self.lists[class.index()].head = idx;
        } else {
            self.slot_mut(old_tail).links.next = idx;
        }
        self.lists[class.index()].tail = idx;
    }

    fn unlink(&mut self, class: Class, idx: u32) {
        let Links { prev, next } = self.slot(idx).links;
        if prev == NIL {
            self.lists[class.index()].head = next;
        } else {
            self.slot_mut(prev).links.next = next;
        }
        if next == NIL {
            self.lists[class.index()].tail = prev;
        } else {
            self.slot_mut(next).links.prev = prev;
        }
        self.slot_mut(idx).links = Links {
            prev: NIL,
            next: NIL,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fumidai_wire::key::Endpoint;

    /// A flow that is only its key and a name.
    #[derive(Debug, PartialEq)]
    struct T(FlowKey, &'static str);
    impl TableEntry for T {
        fn key(&self) -> &FlowKey {
            &self.0
        }
    }

    fn table(max: usize) -> FlowTable<T> {
        FlowTable::new(timeouts(), max, Meter::unlimited("flow"))
    }

    fn names(ended: &[(T, EndReason)]) -> Vec<(&'static str, EndReason)> {
        ended.iter().map(|(t, r)| (t.1, *r)).collect()
    }

    fn key(n: u16) -> FlowKey {
        let a = Endpoint {
            addr: "10.0.0.1".parse().unwrap(),
            port: n,
        };
        let b = Endpoint {
            addr: "10.0.0.2".parse().unwrap(),
            port: 80,
        };
        FlowKey::from_endpoints(a, b, 6, [0; 2]).0
    }

    fn timeouts() -> Timeouts {
        Timeouts::new(|c| match c {
            Class::TcpNew => 10,
            Class::TcpEstablished => 100,
            _ => 5,
        })
    }

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn expiry_follows_each_class_timeout() {
        let mut tab = table(100);
        let mut ended = Vec::new();
        let a = tab.insert(Class::TcpNew, t(0), T(key(1), "a"), &mut ended);
        let b = tab.insert(Class::TcpNew, t(1), T(key(2), "b"), &mut ended);
        tab.touch(b, Class::TcpEstablished, t(2));
        tab.expire(t(11), &mut ended);
        assert_eq!(names(&ended), [("a", EndReason::Timeout)]);
        tab.expire(t(102), &mut ended);
        assert_eq!(ended.len(), 1, "b is established, 100 s timeout");
        tab.expire(t(103), &mut ended);
        assert_eq!(names(&ended)[1], ("b", EndReason::Timeout));
        assert!(tab.is_empty());
        let _ = a;
    }

    #[test]
    fn lookup_never_returns_an_expired_flow() {
        let mut tab = table(100);
        let mut ended = Vec::new();
        tab.insert(Class::TcpNew, t(0), T(key(1), "a"), &mut ended);
        assert!(tab.get(&key(1), t(10), &mut ended).is_some());
        assert!(tab.get(&key(1), t(11), &mut ended).is_none());
        assert_eq!(names(&ended), [("a", EndReason::Timeout)]);
    }

    #[test]
    fn full_table_evicts_the_longest_idle_flow() {
        let mut tab = table(3);
        let mut ended = Vec::new();
        let a = tab.insert(Class::TcpNew, t(0), T(key(1), "a"), &mut ended);
        tab.insert(Class::UdpNew, t(1), T(key(2), "b"), &mut ended);
        tab.insert(Class::TcpNew, t(2), T(key(3), "c"), &mut ended);
        tab.touch(a, Class::TcpEstablished, t(3));
        tab.insert(Class::TcpNew, t(4), T(key(4), "d"), &mut ended);
        assert_eq!(names(&ended), [("b", EndReason::Forced)]);
        assert_eq!(tab.len(), 3);
    }

    #[test]
    fn drain_ends_everything_oldest_first() {
        let mut tab = table(10);
        let mut ended = Vec::new();
        let a = tab.insert(Class::TcpNew, t(0), T(key(1), "a"), &mut ended);
        tab.insert(Class::UdpNew, t(1), T(key(2), "b"), &mut ended);
        tab.touch(a, Class::TcpNew, t(5));
        tab.drain(EndReason::Shutdown, &mut ended);
        let order: Vec<_> = ended.iter().map(|e| e.0.1).collect();
        assert_eq!(order, ["b", "a"]);
        assert!(tab.is_empty());
    }

    #[test]
    fn slots_are_reused() {
        let mut tab = table(10);
        let mut ended = Vec::new();
        for round in 0..100u64 {
            let r = tab.insert(Class::TcpNew, t(round), T(key(1), "x"), &mut ended);
            assert_eq!(tab.remove(r).map(|f| f.1), Some("x"));
        }
        assert_eq!(tab.high, 1);
    }

    #[test]
    fn the_memcap_evicts_the_longest_idle_flows() {
        let per_chunk = CHUNK * FlowTable::<T>::slot_bytes();
        let budget = fumidai_budget::Budget::unlimited();
        let mut tab: FlowTable<T> = FlowTable::new(
            timeouts(),
            usize::MAX,
            Meter::new("flow", 2 * per_chunk + 100_000, budget),
        );
        let mut ended = Vec::new();
        for n in 0..5000u16 {
            tab.insert(Class::TcpNew, t(u64::from(n)), T(key(n), "f"), &mut ended);
            assert!(tab.memuse() <= 2 * per_chunk + 100_000);
        }
        assert!(tab.len() <= 2 * CHUNK, "{}", tab.len());
        assert!(ended.iter().all(|(_, r)| *r == EndReason::Forced));
        // The newest flows are the ones kept.
        assert!(tab.find(&key(4999)).is_some());
        assert!(tab.find(&key(0)).is_none());
        assert_eq!(tab.report().evicted as usize, ended.len());
    }

    #[test]
    fn heap_accounting_pushes_out_idle_flows() {
        let per_chunk = CHUNK * FlowTable::<T>::slot_bytes();
        let budget = fumidai_budget::Budget::unlimited();
        let mut tab: FlowTable<T> = FlowTable::new(
            timeouts(),
            usize::MAX,
            Meter::new("flow", per_chunk + 50_000, budget),
        );
        let mut ended = Vec::new();
        let a = tab.insert(Class::TcpNew, t(1), T(key(1), "a"), &mut ended);
        let b = tab.insert(Class::TcpNew, t(2), T(key(2), "b"), &mut ended);
        tab.account(a, 30_000, &mut ended);
        assert!(ended.is_empty());
        tab.account(b, 30_000, &mut ended);
        assert_eq!(names(&ended), [("a", EndReason::Forced)]);
        let before = tab.memuse();
        let _ = tab.remove(b);
        assert_eq!(before - tab.memuse(), 30_000);
    }
}
