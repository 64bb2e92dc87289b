//! IPv4 and IPv6 defragmentation, before flow lookup.
//!
//! A datagram is keyed by (source, destination, identification, VLAN); its
//! protocol must agree across fragments. Fragments are held in a
//! [`SegmentMap`], so overlaps follow the same policy choice as TCP
//! reassembly, and overlaps carrying different bytes — the fragment-overlap
//! evasion of Ptacek & Newsham and RFC 1858 — are reported. Trackers expire
//! in packet time; memory and tracker counts are capped. At either cap the
//! oldest datagram in progress gives way to the new one (Suricata's "hard
//! reuse"): a flood of forged first fragments then costs the oldest
//! fragments, never the datagram being sent now.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use fumidai_budget::{Budget, MemReport, Meter};

use crate::segments::{OverlapPolicy, SegmentMap};
use crate::{DecodeEvent, Fragment, Timestamp};

/// Defragmentation settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Seconds of packet time a datagram may take to complete.
    pub timeout_secs: u64,
    /// Datagrams being reassembled at once.
    pub max_trackers: usize,
    /// Bytes held across all datagrams.
    pub memcap: usize,
    /// Fragments per datagram.
    pub max_fragments: usize,
    pub policy: OverlapPolicy,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            timeout_secs: 60,
            max_trackers: 65_535,
            memcap: 32 << 20,
            max_fragments: 256,
            policy: OverlapPolicy::First,
        }
    }
}

/// Counters (Suricata's `stats.defrag.*`, plus `memcap_drop`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub v4_fragments: u64,
    pub v4_reassembled: u64,
    pub v4_timeouts: u64,
    pub v6_fragments: u64,
    pub v6_reassembled: u64,
    pub v6_timeouts: u64,
    pub max_trackers_reached: u64,
    pub memcap_drop: u64,
    /// Datagrams in progress given up to make room for new ones.
    pub tracker_hard_reuse: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    vlan: [u16; 2],
}

#[derive(Debug)]
struct Tracker {
    created: Timestamp,
    proto: u8,
    parts: SegmentMap,
    /// Datagram payload length, known once the last fragment arrived.
    total: Option<u64>,
    fragments: usize,
    /// Frames and their captured-on-the-wire bytes, so the datagram can be
    /// accounted to its flow as what actually travelled.
    wire_bytes: u64,
}

/// What became of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Held until the rest arrives.
    Held,
    /// The datagram is whole: its payload is in the output buffer.
    /// `frames` fragments carried it, `wire_bytes` long on the wire in all.
    Complete {
        proto: u8,
        frames: u32,
        wire_bytes: u64,
    },
    /// The fragment (and possibly its datagram) was discarded.
    Dropped,
}

/// Reassembles fragmented datagrams.
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    trackers: HashMap<Key, Tracker, foldhash::fast::RandomState>,
    /// Creation order, for expiry; entries of finished trackers are skipped.
    order: VecDeque<(Timestamp, Key)>,
    meter: Meter,
    pub stats: DefragStats,
}

/// What one datagram in progress costs besides its fragments' bytes.
const TRACKER_BYTES: usize =
    std::mem::size_of::<(Key, Tracker)>() + std::mem::size_of::<(Timestamp, Key)>() + 16;

/// The largest IPv4 datagram payload: 65535 minus the smallest header.
const MAX_V4_PAYLOAD: u64 = 65_535 - 20;
/// The largest IPv6 payload that fragmentation can carry.
const MAX_V6_PAYLOAD: u64 = 65_535;

impl Defragmenter {
    /// A defragmenter whose memory is capped by `cfg.memcap` alone.
    pub fn new(cfg: DefragConfig) -> Self {
        let meter = Meter::new("defrag", cfg.memcap, Budget::unlimited());
        Self::with_meter(cfg, meter)
    }

    /// A defragmenter whose memory is accounted by `meter` (the sensor's
    /// budget; `cfg.memcap` is then the meter's business).
    pub fn with_meter(cfg: DefragConfig, meter: Meter) -> Self {
        Defragmenter {
            cfg,
            trackers: HashMap::default(),
            order: VecDeque::new(),
            meter,
            stats: DefragStats::default(),
        }
    }

    /// Bytes held.
    pub fn memuse(&self) -> usize {
        self.meter.used()
    }

    /// The memory counters (`memcap.defrag.*`).
    pub fn report(&self) -> MemReport {
        let mut r = self.meter.report();
        r.entries = self.trackers.len() as u64;
        r
    }

    /// Gives up the oldest datagram in progress other than `keep`; false
    /// when there is none.
    fn evict_oldest(&mut self, keep: &Key) -> bool {
        let mut skipped = Vec::new();
        let mut done = false;
        while let Some((created, key)) = self.order.pop_front() {
            let live = self
                .trackers
                .get(&key)
                .is_some_and(|t| t.created == created);
            if !live {
                continue;
            }
            if key == *keep {
                skipped.push((created, key));
                continue;
            }
            self.drop_tracker(&key);
            self.stats.tracker_hard_reuse += 1;
            self.meter.note_evicted(1);
            done = true;
            break;
        }
        for e in skipped.into_iter().rev() {
            self.order.push_front(e);
        }
        done
    }

    /// Datagrams in progress.
    pub fn trackers(&self) -> usize {
        self.trackers.len()
    }

    /// Adds a fragment seen at `now`. On `Complete`, `out` holds the
    /// datagram's payload (the transport header first). Anomalies found on
    /// the way are pushed onto `events`, whatever the outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        vlan: [u16; 2],
        f: &Fragment<'_>,
        wire_len: u32,
        out: &mut Vec<u8>,
        events: &mut Vec<DecodeEvent>,
    ) -> Outcome {
        let v6 = src.is_ipv6();
        let ev = Events::for_version(v6);
        if v6 {
            self.stats.v6_fragments += 1;
        } else {
            self.stats.v4_fragments += 1;
        }
        self.expire(now);
        let start = u64::from(f.offset);
        let end = start + f.payload.len() as u64;
        let max = if v6 { MAX_V6_PAYLOAD } else { MAX_V4_PAYLOAD };
        if end > max {
            events.push(ev.too_large);
            return Outcome::Dropped;
        }
        if v6 && f.more && !f.payload.len().is_multiple_of(8) {
            events.push(DecodeEvent::Ipv6FragInvalidLength);
            return Outcome::Dropped;
        }
        if f.offset == 0 && f.payload.len() < min_transport_header(f.proto) {
            events.push(ev.tiny_first);
        }
        let key = Key {
            src,
            dst,
            id: f.id,
            vlan,
        };
        if !self.trackers.contains_key(&key) {
            if self.trackers.len() >= self.cfg.max_trackers {
                self.stats.max_trackers_reached += 1;
                self.evict_oldest(&key);
            }
            while !self.meter.try_take(TRACKER_BYTES) {
                if !self.evict_oldest(&key) {
                    self.stats.memcap_drop += 1;
                    events.push(ev.ignored);
                    return Outcome::Dropped;
                }
            }
            self.compact_order();
            self.trackers.insert(
                key,
                Tracker {
                    created: now,
                    proto: f.proto,
                    parts: SegmentMap::default(),
                    total: None,
                    fragments: 0,
                    wire_bytes: 0,
                },
            );
            self.order.push_back((now, key));
        }
        let Some(t) = self.trackers.get_mut(&key) else {
            return Outcome::Dropped;
        };
        if t.proto != f.proto {
            events.push(ev.proto_mismatch);
            return Outcome::Dropped;
        }
        t.fragments += 1;
        t.wire_bytes += u64::from(wire_len);
        if t.fragments > self.cfg.max_fragments {
            events.push(ev.ignored);
            self.drop_tracker(&key);
            return Outcome::Dropped;
        }
        if !f.more {
            match t.total {
                Some(total) if total != end => {
                    // Two "last" fragments disagree on the datagram's length.
                    events.push(ev.overlap);
                    events.push(ev.overlap_diff);
                }
                _ => t.total = Some(end),
            }
        }
        // Room for the fragment's bytes, at the oldest datagrams' expense.
        while !self.meter.fits(f.payload.len()) && self.evict_oldest(&key) {}
        let Some(t) = self.trackers.get_mut(&key) else {
            return Outcome::Dropped;
        };
        let mut refused_mem = false;
        let mem_cell = std::cell::RefCell::new(&mut self.meter);
        let r = t.parts.insert(
            start,
            f.payload,
            self.cfg.policy,
            &mut |n| {
                let ok = mem_cell.borrow_mut().try_take(n);
                refused_mem |= !ok;
                ok
            },
            &mut |n| mem_cell.borrow_mut().give(n),
        );
        if r.overlap {
            events.push(ev.overlap);
            // Overlapping bytes of the transport header rewrite what decides
            // the flow (ports, TCP flags): RFC 1858's overlapping attack.
            if start < min_transport_header(t.proto) as u64 {
                events.push(ev.header_rewrite);
            }
        }
        if r.first_diff.is_some() {
            events.push(ev.overlap_diff);
        }
        if refused_mem {
            self.stats.memcap_drop += 1;
            events.push(ev.ignored);
        }
        let complete = match (t.total, t.parts.first_offset()) {
            (Some(total), Some(0)) => contiguous_to(&t.parts, total),
            _ => false,
        };
        if !complete {
            return Outcome::Held;
        }
        let (proto, frames, wire_bytes) = (t.proto, t.fragments as u32, t.wire_bytes);
        out.clear();
        for (_, piece) in t.parts.iter() {
            out.extend_from_slice(piece);
        }
        if let Some(total) = t.total {
            out.truncate(total as usize);
        }
        self.drop_tracker(&key);
        if v6 {
            self.stats.v6_reassembled += 1;
        } else {
            self.stats.v4_reassembled += 1;
        }
        Outcome::Complete {
            proto,
            frames,
            wire_bytes,
        }
    }

    /// Drops datagrams that did not complete within the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        let limit = self.cfg.timeout_secs.saturating_mul(1_000_000);
        while let Some(&(created, key)) = self.order.front() {
            if now.micros_since(created) <= limit {
                break;
            }
            self.order.pop_front();
            if self
                .trackers
                .get(&key)
                .is_some_and(|t| t.created == created)
            {
                if key.src.is_ipv6() {
                    self.stats.v6_timeouts += 1;
                } else {
                    self.stats.v4_timeouts += 1;
                }
                self.drop_tracker(&key);
            }
        }
    }

    fn drop_tracker(&mut self, key: &Key) {
        if let Some(mut t) = self.trackers.remove(key) {
            self.meter.give(t.parts.clear() + TRACKER_BYTES);
        }
    }

    /// Forgets the expiry entries of datagrams that completed, once they
    /// outnumber the live ones: a flood of small complete datagrams must
    /// not grow the queue for a whole timeout.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.trackers.len() + 1024 {
            let trackers = &self.trackers;
            self.order
                .retain(|(c, k)| trackers.get(k).is_some_and(|t| t.created == *c));
        }
    }
}

/// True when `parts` covers [0, total) without a hole.
fn contiguous_to(parts: &SegmentMap, total: u64) -> bool {
    let mut next = 0;
    for (k, piece) in parts.iter() {
        if k > next {
            return false;
        }
        next = next.max(k + piece.len() as u64);
    }
    next >= total
}

/// The shortest first fragment that still carries the whole transport
/// header; anything shorter hides it across fragments.
fn min_transport_header(proto: u8) -> usize {
    match proto {
        6 => 20,
        17 => 8,
        1 | 58 => 8,
        _ => 0,
    }
}

/// The per-version event names.
struct Events {
    too_large: DecodeEvent,
    overlap: DecodeEvent,
    overlap_diff: DecodeEvent,
    ignored: DecodeEvent,
    tiny_first: DecodeEvent,
    header_rewrite: DecodeEvent,
    proto_mismatch: DecodeEvent,
}

impl Events {
    fn for_version(v6: bool) -> Self {
        use DecodeEvent::*;
        if v6 {
            Events {
                too_large: Ipv6FragTooLarge,
                overlap: Ipv6FragOverlap,
                overlap_diff: Ipv6FragOverlapDiff,
                ignored: Ipv6FragIgnored,
                tiny_first: Ipv6FragTinyFirst,
                header_rewrite: Ipv6FragHeaderRewrite,
                proto_mismatch: Ipv6FragProtoMismatch,
            }
        } else {
            Events {
                too_large: Ipv4FragTooLarge,
                overlap: Ipv4FragOverlap,
                overlap_diff: Ipv4FragOverlapDiff,
                ignored: Ipv4FragIgnored,
                tiny_first: Ipv4FragTinyFirst,
                header_rewrite: Ipv4FragHeaderRewrite,
                proto_mismatch: Ipv4FragProtoMismatch,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u32, more: bool, proto: u8, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            id,
            offset,
            more,
            proto,
            payload,
        }
    }

    struct Rig {
        d: Defragmenter,
        out: Vec<u8>,
        ev: Vec<DecodeEvent>,
    }

    impl Rig {
        fn new(cfg: DefragConfig) -> Self {
            Rig {
                d: Defragmenter::new(cfg),
                out: Vec::new(),
                ev: Vec::new(),
            }
        }
        fn add(&mut self, t: u64, f: Fragment<'_>) -> Outcome {
            let src: IpAddr = "10.0.0.1".parse().unwrap();
            let dst: IpAddr = "10.0.0.2".parse().unwrap();
            self.d.insert(
                Timestamp::from_secs(t),
                src,
                dst,
                [0; 2],
                &f,
                60,
                &mut self.out,
                &mut self.ev,
            )
        }
    }

    const PAYLOAD: &[u8; 40] = b"0123456789abcdefghijklmnopqrstuvwxyzABCD";

    #[test]
    fn eight_byte_fragments_out_of_order() {
        let mut r = Rig::new(DefragConfig::default());
        let order = [3usize, 0, 4, 2, 1];
        let mut last = Outcome::Held;
        for &i in &order {
            let piece = &PAYLOAD[i * 8..i * 8 + 8];
            last = r.add(0, frag(7, (i * 8) as u32, i < 4, 17, piece));
        }
        assert_eq!(
            last,
            Outcome::Complete {
                proto: 17,
                frames: 5,
                wire_bytes: 300
            }
        );
        assert_eq!(r.out, PAYLOAD);
        assert!(r.ev.is_empty(), "{:?}", r.ev);
        assert_eq!(r.d.memuse(), 0);
        assert_eq!(r.d.trackers(), 0);
        assert_eq!(r.d.stats.v4_reassembled, 1);
    }

    #[test]
    fn conflicting_overlap_follows_the_policy() {
        for (policy, want) in [
            (OverlapPolicy::First, &PAYLOAD[8..16]),
            (OverlapPolicy::Last, b"XXXXXXXX".as_slice()),
        ] {
            let mut r = Rig::new(DefragConfig {
                policy,
                ..Default::default()
            });
            r.add(0, frag(1, 8, true, 17, &PAYLOAD[8..16]));
            r.add(0, frag(1, 8, true, 17, b"XXXXXXXX"));
            r.add(0, frag(1, 16, false, 17, &PAYLOAD[16..24]));
            assert!(matches!(
                r.add(0, frag(1, 0, true, 17, &PAYLOAD[..8])),
                Outcome::Complete { proto: 17, .. }
            ));
            assert_eq!(&r.out[8..16], want);
            assert!(r.ev.contains(&DecodeEvent::Ipv4FragOverlapDiff));
        }
    }

    #[test]
    fn malformed_fragments_are_events() {
        let mut r = Rig::new(DefragConfig::default());
        assert_eq!(
            r.add(0, frag(1, 65_528, false, 17, &[0; 16])),
            Outcome::Dropped
        );
        assert_eq!(r.ev, [DecodeEvent::Ipv4FragTooLarge]);
        r.ev.clear();
        r.add(0, frag(2, 0, true, 6, &[0; 8]));
        assert!(r.ev.contains(&DecodeEvent::Ipv4FragTinyFirst));
        r.ev.clear();
        // Continuing a tiny first fragment is not a rewrite...
        r.add(0, frag(2, 8, true, 6, &[1; 16]));
        assert!(r.ev.is_empty(), "{:?}", r.ev);
        // ...overlapping its header bytes is.
        r.add(0, frag(2, 8, false, 6, &[2; 24]));
        assert!(r.ev.contains(&DecodeEvent::Ipv4FragHeaderRewrite));
        r.ev.clear();
        r.add(0, frag(3, 0, true, 6, &[0; 24]));
        assert_eq!(r.add(0, frag(3, 24, false, 17, &[0; 8])), Outcome::Dropped);
        assert_eq!(r.ev, [DecodeEvent::Ipv4FragProtoMismatch]);
    }

    #[test]
    fn trackers_time_out_in_packet_time() {
        let mut r = Rig::new(DefragConfig {
            timeout_secs: 10,
            ..Default::default()
        });
        r.add(0, frag(1, 0, true, 17, &PAYLOAD[..8]));
        r.add(5, frag(2, 0, true, 17, &PAYLOAD[..8]));
        r.d.expire(Timestamp::from_secs(11));
        assert_eq!(r.d.trackers(), 1);
        assert_eq!(r.d.stats.v4_timeouts, 1);
        assert_eq!(
            r.add(12, frag(1, 8, false, 17, &PAYLOAD[8..16])),
            Outcome::Held
        );
    }

    #[test]
    fn memcap_and_tracker_limits_hold() {
        // Room for one datagram in progress and 16 bytes of fragments.
        let mut r = Rig::new(DefragConfig {
            memcap: TRACKER_BYTES + 16,
            ..Default::default()
        });
        r.add(0, frag(1, 0, true, 17, &PAYLOAD[..16]));
        r.add(0, frag(1, 16, true, 17, &PAYLOAD[16..24]));
        assert_eq!(r.d.stats.memcap_drop, 1, "a datagram cannot evict itself");
        // A new datagram takes the oldest one's place.
        assert_eq!(r.add(1, frag(2, 0, true, 17, &PAYLOAD[..8])), Outcome::Held);
        assert_eq!(r.d.stats.tracker_hard_reuse, 1);
        assert_eq!(r.d.trackers(), 1);
        assert!(r.d.memuse() <= TRACKER_BYTES + 16);
        // The tracker count is bounded the same way.
        let mut r = Rig::new(DefragConfig {
            max_trackers: 2,
            ..Default::default()
        });
        for id in 1..=5 {
            assert_eq!(
                r.add(id.into(), frag(id, 0, true, 17, &PAYLOAD[..8])),
                Outcome::Held
            );
        }
        assert_eq!(r.d.trackers(), 2);
        assert_eq!(r.d.stats.max_trackers_reached, 3);
        assert_eq!(r.d.stats.tracker_hard_reuse, 3);
        // The newest datagrams are the ones still held.
        assert!(matches!(
            r.add(6, frag(5, 8, false, 17, &PAYLOAD[8..16])),
            Outcome::Complete { .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_fragment_sequence_is_safe(frags in proptest::collection::vec(
            (0u32..4, 0u32..9000, proptest::bool::ANY, 0u8..20, proptest::collection::vec(proptest::num::u8::ANY, 0..64)), 0..40)) {
            let mut r = Rig::new(DefragConfig { memcap: 4096, ..Default::default() });
            for (id, off, more, proto, data) in &frags {
                let _ = r.add(0, frag(*id, off * 8, *more, *proto, data));
                proptest::prop_assert!(r.d.memuse() <= 4096);
            }

        }
    }
}
