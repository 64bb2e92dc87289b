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

use std::collections::HashMap;

use fumidai_wire::{FlowKey, Timestamp};

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
    /// Evicted to make room: the table was at `max_flows`.
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
    key: FlowKey,
    last: Timestamp,
    class: Class,
    links: Links,
    flow: Option<F>,
}

/// A flow table holding values of type `F`, bounded to `max_flows`.
pub struct FlowTable<F> {
    map: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot<F>>,
    free: Vec<u32>,
    lists: [List; Class::COUNT],
    timeouts: Timeouts,
    max_flows: usize,
}

/// A handle to a live flow, valid until the flow is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowRef(u32);

impl<F> FlowTable<F> {
    pub fn new(timeouts: Timeouts, max_flows: usize) -> Self {
        FlowTable {
            map: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY; Class::COUNT],
            timeouts,
            max_flows: max_flows.max(1),
        }
    }

    /// Number of live flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        let idx = *self.map.get(key)?;
        let slot = &self.slots[idx as usize];
        if now.micros_since(slot.last) > self.timeouts.micros(slot.class) {
            if let Some(f) = self.remove(FlowRef(idx)) {
                ended.push((f, EndReason::Timeout));
            }
            return None;
        }
        Some(FlowRef(idx))
    }

    /// Inserts a new flow (the key must not be live). When the table is
    /// full, the longest-idle flow is evicted onto `ended` first.
    pub fn insert(
        &mut self,
        key: FlowKey,
        class: Class,
        now: Timestamp,
        flow: F,
        ended: &mut Vec<(F, EndReason)>,
    ) -> FlowRef {
        if self.map.len() >= self.max_flows
            && let Some(victim) = self.longest_idle()
            && let Some(f) = self.remove(victim)
        {
            ended.push((f, EndReason::Forced));
        }
        let slot = Slot {
            key,
            last: now,
            class,
            links: Links {
                prev: NIL,
                next: NIL,
            },
            flow: Some(flow),
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, idx);
        self.push_tail(class, idx);
        FlowRef(idx)
    }

    /// The flow behind `r`.
    pub fn flow_mut(&mut self, r: FlowRef) -> &mut F {
        // A FlowRef is only handed out for a live slot and removal consumes
        // the flow, so the slot is occupied; the expect documents that
        // invariant rather than input validation.
        self.slots[r.0 as usize]
            .flow
            .as_mut()
            .expect("FlowRef to a live flow")
    }

    /// Records activity at `now` and moves the flow to `class`.
    pub fn touch(&mut self, r: FlowRef, class: Class, now: Timestamp) {
        let idx = r.0;
        let slot = &mut self.slots[idx as usize];
        if now > slot.last {
            slot.last = now;
        }
        let old = slot.class;
        if old == class && self.lists[class.index()].tail == idx {
            return;
        }
        self.unlink(old, idx);
        self.slots[idx as usize].class = class;
        self.push_tail(class, idx);
    }

    /// Removes the flow, e.g. when a new connection reuses its tuple.
    pub fn remove(&mut self, r: FlowRef) -> Option<F> {
        let idx = r.0;
        let slot = self.slots.get_mut(idx as usize)?;
        let f = slot.flow.take()?;
        let (key, class) = (slot.key, slot.class);
        self.unlink(class, idx);
        self.map.remove(&key);
        self.free.push(idx);
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
                let slot = &self.slots[head as usize];
                if now.micros_since(slot.last) <= self.timeouts.micros(slot.class) {
                    break;
                }
                if let Some(f) = self.remove(FlowRef(head)) {
                    ended.push((f, EndReason::Timeout));
                }
            }
        }
    }

    /// Ends every flow, oldest first (end of input, shutdown).
    pub fn drain(&mut self, reason: EndReason, ended: &mut Vec<(F, EndReason)>) {
        while let Some(r) = self.longest_idle() {
            if let Some(f) = self.remove(r) {
                ended.push((f, reason));
            }
        }
    }

    fn longest_idle(&self) -> Option<FlowRef> {
        self.lists
            .iter()
            .filter(|l| l.head != NIL)
            .min_by_key(|l| self.slots[l.head as usize].last)
            .map(|l| FlowRef(l.head))
    }

    fn push_tail(&mut self, class: Class, idx: u32) {
        let list = &mut self.lists[class.index()];
        let old_tail = list.tail;
        self.slots[idx as usize].links = Links {
            prev: old_tail,
            next: NIL,
        };
        if old_tail == NIL {
            list.head = idx;
        } else {
            self.slots[old_tail as usize].links.next = idx;
        }
        list.tail = idx;
    }

    fn unlink(&mut self, class: Class, idx: u32) {
        let Links { prev, next } = self.slots[idx as usize].links;
        let list = &mut self.lists[class.index()];
        if prev == NIL {
            list.head = next;
        } else {
            self.slots[prev as usize].links.next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.slots[next as usize].links.prev = prev;
        }
        self.slots[idx as usize].links = Links {
            prev: NIL,
            next: NIL,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fumidai_wire::key::Endpoint;

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
        let mut tab = FlowTable::new(timeouts(), 100);
        let mut ended = Vec::new();
        let a = tab.insert(key(1), Class::TcpNew, t(0), "a", &mut ended);
        let b = tab.insert(key(2), Class::TcpNew, t(1), "b", &mut ended);
        tab.touch(b, Class::TcpEstablished, t(2));
        tab.expire(t(11), &mut ended);
        assert_eq!(ended, [("a", EndReason::Timeout)]);
        tab.expire(t(102), &mut ended);
        assert_eq!(ended.len(), 1, "b is established, 100 s timeout");
        tab.expire(t(103), &mut ended);
        assert_eq!(ended[1], ("b", EndReason::Timeout));
        assert!(tab.is_empty());
        let _ = a;
    }

    #[test]
    fn lookup_never_returns_an_expired_flow() {
        let mut tab = FlowTable::new(timeouts(), 100);
        let mut ended = Vec::new();
        tab.insert(key(1), Class::TcpNew, t(0), "a", &mut ended);
        assert!(tab.get(&key(1), t(10), &mut ended).is_some());
        assert!(tab.get(&key(1), t(11), &mut ended).is_none());
        assert_eq!(ended, [("a", EndReason::Timeout)]);
    }

    #[test]
    fn full_table_evicts_the_longest_idle_flow() {
        let mut tab = FlowTable::new(timeouts(), 3);
        let mut ended = Vec::new();
        let a = tab.insert(key(1), Class::TcpNew, t(0), "a", &mut ended);
        tab.insert(key(2), Class::UdpNew, t(1), "b", &mut ended);
        tab.insert(key(3), Class::TcpNew, t(2), "c", &mut ended);
        tab.touch(a, Class::TcpEstablished, t(3));
        tab.insert(key(4), Class::TcpNew, t(4), "d", &mut ended);
        assert_eq!(ended, [("b", EndReason::Forced)]);
        assert_eq!(tab.len(), 3);
    }

    #[test]
    fn drain_ends_everything_oldest_first() {
        let mut tab = FlowTable::new(timeouts(), 10);
        let mut ended = Vec::new();
        let a = tab.insert(key(1), Class::TcpNew, t(0), "a", &mut ended);
        tab.insert(key(2), Class::UdpNew, t(1), "b", &mut ended);
        tab.touch(a, Class::TcpNew, t(5));
        tab.drain(EndReason::Shutdown, &mut ended);
        let names: Vec<_> = ended.iter().map(|e| e.0).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(tab.is_empty());
    }

    #[test]
    fn slots_are_reused() {
        let mut tab = FlowTable::new(timeouts(), 10);
        let mut ended = Vec::new();
        for round in 0..100u64 {
            let r = tab.insert(key(1), Class::TcpNew, t(round), round, &mut ended);
            assert_eq!(tab.remove(r), Some(round));
        }
        assert_eq!(tab.slots.len(), 1);
    }
}
