//! Reassembly of one direction of a TCP connection.
//!
//! Sequence numbers are turned into 64-bit stream offsets relative to the
//! next byte to deliver, so wrap-around never reaches the bookkeeping: only
//! the distance between a segment and `next_seq` is taken modulo 2^32, and
//! that distance is small for any segment that belongs to the stream.
//!
//! Bytes are delivered as soon as they are contiguous. Delivered bytes are
//! kept until the receiver acknowledges them (bounded by `retain_bytes`) so
//! that a retransmission carrying different bytes — an insertion/evasion
//! attempt in Ptacek & Newsham's sense — can be noticed and reported. They
//! sit in a ring, so a one-sided flow (no acknowledgements ever seen, as on
//! an asymmetric mirror) costs one copy per segment, not a shift of the
//! whole window. Segments past a hole wait in an ordered map; overlaps
//! among them are resolved by the receiving host's policy. A hole that
//! cannot fill (the receiver acknowledged past it, or the bounds on held
//! data are hit, or the stream ends) is skipped and reported to the
//! application layer as a gap.
//!
//! A stream that has carried no data owns no heap: a half-open connection
//! costs its few inline fields and nothing more.

pub use fumidai_budget::Meter as Memcap;
pub use fumidai_wire::segments::OverlapPolicy;
use fumidai_wire::segments::SegmentMap;

use crate::ring::Ring;

/// Bounds and policy for reassembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// The overlap policy of hosts `host_os_policy` does not name.
    pub policy: OverlapPolicy,
    /// Bytes per direction delivered to the application layer; 0 = no limit.
    pub depth: u64,
    /// Bytes held past a hole, per direction, before the hole is skipped.
    pub max_buffered: usize,
    /// Segments held past a hole, per direction, before the hole is skipped.
    pub max_segments: usize,
    /// Delivered, unacknowledged bytes kept per direction for overlap checks.
    pub retain_bytes: usize,
    /// Segments starting further than this past the next expected byte are
    /// dropped as out of window (when the receiver's window is unknown).
    pub max_ahead: u64,
    /// Urgent data: removed from the stream as the receiving stacks do by
    /// default (`true`), or left inline.
    pub urgent_oob: bool,
    /// Ignore segments whose TTL is too low to reach the receiver, judged
    /// from the hop distance of the receiver's own packets.
    pub ttl_check: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            policy: OverlapPolicy::First,
            depth: 1 << 20,
            max_buffered: 1 << 20,
            max_segments: 2048,
            retain_bytes: 64 << 10,
            max_ahead: 1 << 30,
            urgent_oob: true,
            ttl_check: true,
        }
    }
}

/// What reassembly hands to the application layer, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    /// This many bytes are missing here.
    Gap(u64),
    /// The direction ended (FIN delivered, RST, or the flow ended).
    End,
}

/// Things worth reporting that reassembly noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// Bytes arriving again at `offset` differ from the copy seen first.
    OverlapDifferentData { offset: u64 },
    /// A hole of `len` bytes at `offset` was skipped.
    Gap { offset: u64, len: u64 },
    /// Delivery stopped at the configured depth.
    DepthReached,
    /// The reassembly memcap refused this stream's segments (reported once
    /// per stream): what follows may arrive with gaps.
    Memcap,
    /// A segment beyond the receiver's window was ignored.
    OutOfWindow,
    /// A segment whose TTL cannot reach the receiver was ignored.
    TtlTooShort,
    /// A RST that the receiver would not accept was ignored.
    RstInvalid,
    /// Data on a SYN that the SYN-ACK did not accept was ignored.
    SynDataIgnored,
}

impl StreamEvent {
    /// The `anomaly.event` name (Suricata's where it has one).
    pub fn name(self) -> &'static str {
        match self {
            StreamEvent::OverlapDifferentData { .. } => "stream.reassembly_overlap_different_data",
            StreamEvent::Gap { .. } => "stream.reassembly_seq_gap",
            StreamEvent::DepthReached => "stream.reassembly_depth_reached",
            StreamEvent::Memcap => "stream.reassembly_memcap",
            StreamEvent::OutOfWindow => "stream.pkt_out_of_window",
            StreamEvent::TtlTooShort => "stream.pkt_ttl_too_short",
            StreamEvent::RstInvalid => "stream.rst_invalid",
            StreamEvent::SynDataIgnored => "stream.3whs_syn_data_ignored",
        }
    }
}

/// Counters shared by all streams of a worker. Names follow Suricata's
/// `stats.tcp.*` where Suricata has the counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Segments overlapping bytes already seen (retransmissions included).
    pub overlap: u64,
    /// Overlaps whose bytes differ.
    pub overlap_diff_data: u64,
    /// Holes skipped.
    pub reassembly_gap: u64,
    /// Streams that reached the depth limit.
    pub stream_depth_reached: u64,
    /// Segments (or parts) not held because the memcap was reached.
    pub segment_memcap_drop: u64,
    /// Segments dropped as out of window.
    pub out_of_window: u64,
    /// Holes skipped because a stream held too much past them.
    pub gap_forced_by_bounds: u64,
    /// Urgent bytes taken out of the stream.
    pub urgent_oob_data: u64,
}

/// Where delivered bytes and events go.
pub trait Receiver {
    fn chunk(&mut self, chunk: Chunk<'_>);
    fn event(&mut self, event: StreamEvent);
}

const STARTED: u8 = 1;
const ENDED: u8 = 2;
const DEPTH_REACHED: u8 = 4;
const STOPPED: u8 = 8;
const HAD_GAP: u8 = 16;
const MEMCAP_SAID: u8 = 32;
/// The receiver's acknowledgements are not seen: keep only
/// `UNACKED_RETAIN` delivered bytes.
const UNACKED: u8 = 64;

/// Delivered bytes kept for retransmission checks while the receiver's
/// acknowledgements are not seen. On an asymmetric mirror they never come:
/// keeping a whole window would copy every byte into a cold buffer for the
/// sake of retransmissions, which are rare and come soon after the original.
pub const UNACKED_RETAIN: usize = 4096;

/// One direction of a TCP connection.
#[derive(Debug)]
pub struct Stream {
    next_seq: u32,
    flags: u8,
    /// How the receiver of this direction resolves overlaps.
    pub policy: OverlapPolicy,
    /// Everything a stream with data needs; none until then.
    buf: Option<Box<Buf>>,
}

impl Default for Stream {
    fn default() -> Self {
        Stream {
            next_seq: 0,
            flags: 0,
            policy: OverlapPolicy::First,
            buf: None,
        }
    }
}

#[derive(Debug, Default)]
struct Buf {
    /// Stream offset of `next_seq`: bytes delivered plus bytes skipped.
    next_off: u64,
    /// Segments past a hole, by offset; they never overlap each other.
    held: SegmentMap,
    /// Delivered bytes from `retained_off` to `next_off`.
    retained: Ring,
    retained_off: u64,
    fin_off: Option<u64>,
    /// Overrides `StreamConfig::depth` (the application protocol's own depth).
    depth: Option<u64>,
}

/// Heap bytes a stream with data owns besides its segment bytes.
pub const STREAM_BUF_BYTES: usize = std::mem::size_of::<Buf>();

impl Stream {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set(&mut self, f: u8) {
        self.flags |= f;
    }

    fn buf(&mut self) -> &mut Buf {
        self.buf.get_or_insert_with(Box::default)
    }

    /// True once the first sequence number is known.
    pub fn started(&self) -> bool {
        self.has(STARTED)
    }

    /// The sequence number of the next byte to deliver.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Bytes delivered or skipped so far.
    pub fn offset(&self) -> u64 {
        self.buf.as_ref().map_or(0, |b| b.next_off)
    }

    /// True once `End` was delivered.
    pub fn ended(&self) -> bool {
        self.has(ENDED)
    }

    /// True while bytes sent this way would still be delivered.
    pub fn takes_data(&self) -> bool {
        !self.has(ENDED | DEPTH_REACHED | STOPPED)
    }

    /// True when a hole was skipped at least once.
    pub fn had_gap(&self) -> bool {
        self.has(HAD_GAP)
    }

    /// Bytes this stream holds (for memory accounting).
    pub fn buffered(&self) -> usize {
        self.buf
            .as_ref()
            .map_or(0, |b| b.held.bytes() + b.retained.capacity())
    }

    /// Heap this stream owns outside the reassembly memcap (its buffer
    /// header), for the flow table's accounting.
    pub fn heap_bytes(&self) -> usize {
        if self.buf.is_some() {
            STREAM_BUF_BYTES
        } else {
            0
        }
    }

    /// Whether the receiver's acknowledgements are seen: while they are
    /// not, at most [`UNACKED_RETAIN`] delivered bytes are kept.
    pub fn set_acks_seen(&mut self, seen: bool, mem: &mut Memcap) {
        if seen != self.has(UNACKED) {
            return;
        }
        if seen {
            self.flags &= !UNACKED;
            return;
        }
        self.set(UNACKED);
        if let Some(b) = self.buf.as_mut()
            && b.retained.capacity() > UNACKED_RETAIN
        {
            let excess = b.retained.len().saturating_sub(UNACKED_RETAIN);
            b.retained.drop_front(excess);
            b.retained_off += excess as u64;
            let have = b.retained.capacity();
            b.retained.resize(UNACKED_RETAIN);
            mem.give(have - b.retained.capacity());
        }
    }

    /// Sets this stream's depth (0: no limit), overriding the configured one.
    pub fn set_depth(&mut self, depth: u64) {
        self.buf().depth = Some(depth);
    }

    /// Stops delivering: the application layer needs nothing more (an
    /// unknown protocol, encryption). Held data is released.
    pub fn stop(&mut self, mem: &mut Memcap) {
        self.set(STOPPED);
        self.release(mem);
    }

    /// Starts the stream so that `seq` is its first byte.
    pub fn start_at(&mut self, seq: u32) {
        self.set(STARTED);
        self.next_seq = seq;
    }

    /// Restarts a stream that has not delivered anything yet (e.g. a
    /// retransmitted SYN with a new initial sequence number).
    pub fn restart_at(&mut self, seq: u32, mem: &mut Memcap) {
        if self.offset() == 0 {
            if let Some(b) = self.buf.as_mut() {
                mem.give(b.held.clear());
            }
            self.start_at(seq);
        }
    }

    /// The stream offset of `seq`, which may lie before the stream start.
    fn offset_of(&self, seq: u32) -> i64 {
        self.offset() as i64 + i64::from(seq.wrapping_sub(self.next_seq) as i32)
    }

    /// Adds the bytes of a segment starting at `seq`.
    pub fn insert(
        &mut self,
        seq: u32,
        data: &[u8],
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        if !self.started() {
            self.start_at(seq);
        }
        if self.has(ENDED | DEPTH_REACHED | STOPPED) || data.is_empty() {
            return;
        }
        let off = self.offset_of(seq);
        // Bytes before the stream's first byte cannot be placed.
        let skip = usize::try_from(-off.min(0)).unwrap_or(usize::MAX);
        let Some(data) = data.get(skip..).filter(|d| !d.is_empty()) else {
            return;
        };
        let start = off.max(0) as u64;
        let next_off = self.offset();
        if start > next_off.saturating_add(cfg.max_ahead) {
            stats.out_of_window += 1;
            return;
        }
        let data = self.check_delivered_overlap(start, data, stats, rx);
        if data.is_empty() {
            return;
        }
        let start = start.max(next_off);
        let in_order = start == next_off && self.buf.as_ref().is_none_or(|b| b.held.is_empty());
        if in_order {
            self.deliver(data, cfg, mem, stats, rx);
        } else {
            self.hold(start, data, mem, stats, rx);
            self.deliver_held(cfg, mem, stats, rx);
            self.enforce_bounds(cfg, mem, stats, rx);
        }
        self.maybe_end(mem, rx);
    }

    /// The receiver takes the byte at `seq` out of band (TCP urgent data):
    /// it consumes sequence space but never reaches the application. Only
    /// an in-order byte can be removed here; one past a hole stays inline.
    pub fn omit(&mut self, seq: u32, mem: &mut Memcap, stats: &mut ReassemblyStats) -> bool {
        if !self.started()
            || self.has(ENDED | STOPPED)
            || self.offset_of(seq) != self.offset() as i64
        {
            return false;
        }
        if self.buf.as_ref().is_some_and(|b| !b.held.is_empty()) {
            return false;
        }
        stats.urgent_oob_data += 1;
        let b = self.buf();
        b.next_off += 1;
        self.next_seq = self.next_seq.wrapping_add(1);
        // Retained bytes must end at `next_off`; after an omitted byte they cannot.
        self.drop_retained(mem);
        true
    }

    /// Compares the part of a segment that covers delivered bytes with what
    /// was delivered; returns the part that is new.
    fn check_delivered_overlap<'d>(
        &self,
        start: u64,
        data: &'d [u8],
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) -> &'d [u8] {
        let Some(b) = self.buf.as_deref() else {
            return data;
        };
        if start >= b.next_off {
            return data;
        }
        stats.overlap += 1;
        let end = start + data.len() as u64;
        let from = start.max(b.retained_off);
        let to = end.min(b.next_off);
        if from < to {
            let new = &data[(from - start) as usize..(to - start) as usize];
            let (x, y) = b.retained.range(
                (from - b.retained_off) as usize,
                (to - b.retained_off) as usize,
            );
            if let Some(i) = new.iter().zip(x.iter().chain(y)).position(|(a, b)| a != b) {
                stats.overlap_diff_data += 1;
                rx.event(StreamEvent::OverlapDifferentData {
                    offset: from + i as u64,
                });
            }
        }
        let fresh = (b.next_off - start).min(data.len() as u64) as usize;
        &data[fresh..]
    }

    /// Hands contiguous bytes to the receiver, up to the depth.
    fn deliver(
        &mut self,
        mut data: &[u8],
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        let b = self.buf();
        let depth = b.depth.unwrap_or(cfg.depth);
        let next_off = b.next_off;
        let mut reached = false;
        if depth > 0 && next_off + data.len() as u64 >= depth {
            data = &data[..(depth.saturating_sub(next_off)) as usize];
            reached = true;
        }
        if reached && !self.has(DEPTH_REACHED) {
            self.set(DEPTH_REACHED);
            stats.stream_depth_reached += 1;
            rx.event(StreamEvent::DepthReached);
        }
        if !data.is_empty() {
            rx.chunk(Chunk::Data(data));
            self.retain(data, cfg, mem);
            self.buf().next_off += data.len() as u64;
            self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        }
        if self.has(DEPTH_REACHED) {
            self.drop_held(mem);
            self.drop_retained(mem);
        }
    }

    fn retain(&mut self, data: &[u8], cfg: &StreamConfig, mem: &mut Memcap) {
        let keep_cap = if self.has(UNACKED) {
            UNACKED_RETAIN.min(cfg.retain_bytes)
        } else {
            cfg.retain_bytes
        };
        let b = self.buf();
        if keep_cap == 0 {
            b.retained.drop_front(usize::MAX);
            b.retained_off = b.next_off + data.len() as u64;
            return;
        }
        // Keep at most `keep_cap` bytes: the oldest go first.
        let keep_new = data.len().min(keep_cap);
        let need = b.retained.len() + keep_new;
        if need > b.retained.capacity() && b.retained.capacity() < keep_cap {
            // Grow by doubling, never past the bound, and only as far as
            // the memcap allows; under pressure stop checking this stream's
            // overlaps rather than hold more.
            let have = b.retained.capacity();
            let want = need.max(have * 2).min(keep_cap);
            if mem.try_take(want - have) {
                b.retained.resize(want);
            } else {
                mem.give(have);
                b.retained = Ring::default();
                b.retained_off = b.next_off + data.len() as u64;
                return;
            }
        }
        let excess = (b.retained.len() + keep_new).saturating_sub(b.retained.capacity());
        b.retained.drop_front(excess);
        b.retained_off += excess as u64;
        if b.retained.is_empty() {
            b.retained_off = b.next_off + (data.len() - keep_new) as u64;
        }
        b.retained.push(&data[data.len() - keep_new..]);
    }

    fn trim_retained(&mut self, n: usize) {
        if let Some(b) = self.buf.as_mut() {
            let n = n.min(b.retained.len());
            b.retained.drop_front(n);
            b.retained_off += n as u64;
        }
    }

    fn drop_retained(&mut self, mem: &mut Memcap) {
        if let Some(b) = self.buf.as_mut() {
            mem.give(b.retained.capacity());
            b.retained = Ring::default();
            b.retained_off = b.next_off;
        }
    }

    fn drop_held(&mut self, mem: &mut Memcap) {
        if let Some(b) = self.buf.as_mut() {
            mem.give(b.held.clear());
        }
    }

    /// Holds a segment that starts past a hole, applying the overlap policy
    /// against the segments already held.
    fn hold(
        &mut self,
        start: u64,
        data: &[u8],
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        let policy = self.policy;
        let b = self.buf();
        let mem_cell = std::cell::RefCell::new(mem);
        let r = b.held.insert(
            start,
            data,
            policy,
            &mut |n| mem_cell.borrow_mut().try_take(n),
            &mut |n| mem_cell.borrow_mut().give(n),
        );
        if r.overlap {
            stats.overlap += 1;
        }
        if let Some(offset) = r.first_diff {
            stats.overlap_diff_data += 1;
            rx.event(StreamEvent::OverlapDifferentData { offset });
        }
        if r.refused > 0 {
            stats.segment_memcap_drop += 1;
            if !self.has(MEMCAP_SAID) {
                self.set(MEMCAP_SAID);
                rx.event(StreamEvent::Memcap);
            }
        }
    }

    /// Delivers held segments that have become contiguous.
    fn deliver_held(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        loop {
            let Some(b) = self.buf.as_mut() else { return };
            if b.held.first_offset().is_none_or(|k| k > b.next_off) {
                return;
            }
            let Some((k, seg)) = b.held.pop_first() else {
                return;
            };
            mem.give(seg.len());
            let end = k + seg.len() as u64;
            let next_off = b.next_off;
            if end > next_off {
                let fresh = &seg[(next_off - k) as usize..];
                self.deliver(fresh, cfg, mem, stats, rx);
            }
            if self.has(DEPTH_REACHED) {
                return;
            }
        }
    }

    /// Skips the hole before the first held segment when the held data
    /// exceeds its bounds.
    fn enforce_bounds(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        while let Some(b) = self.buf.as_ref()
            && !b.held.is_empty()
            && (b.held.bytes() > cfg.max_buffered || b.held.len() > cfg.max_segments)
        {
            stats.gap_forced_by_bounds += 1;
            self.skip_to_held(cfg, mem, stats, rx);
        }
    }

    /// Declares the bytes up to the first held segment lost.
    fn skip_to_held(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        let Some(b) = self.buf.as_ref() else { return };
        let Some(k) = b.held.first_offset() else {
            return;
        };
        if k > b.next_off {
            let len = k - b.next_off;
            self.skip(len, mem, stats, rx);
        }
        self.deliver_held(cfg, mem, stats, rx);
    }

    fn skip(
        &mut self,
        len: u64,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        stats.reassembly_gap += 1;
        self.set(HAD_GAP);
        let b = self.buf();
        rx.event(StreamEvent::Gap {
            offset: b.next_off,
            len,
        });
        rx.chunk(Chunk::Gap(len));
        b.next_off += len;
        self.next_seq = self.next_seq.wrapping_add(len as u32);
        // Retained bytes must end at `next_off`; after a hole they cannot.
        self.drop_retained(mem);
    }

    /// The receiver acknowledged everything before `ack`. Bytes it holds no
    /// longer need keeping, and a hole it has acknowledged will never fill.
    pub fn acked(
        &mut self,
        ack: u32,
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        if !self.started() || self.has(ENDED | STOPPED) {
            return;
        }
        let ack_off = self.offset_of(ack);
        if ack_off <= 0 {
            return;
        }
        let ack_off = ack_off as u64;
        let Some(b) = self.buf.as_ref() else { return };
        if ack_off > b.retained_off {
            let n = (ack_off.min(b.next_off) - b.retained_off) as usize;
            self.trim_retained(n);
        }
        let Some(b) = self.buf.as_ref() else { return };
        if let Some(first) = b.held.first_offset()
            && ack_off >= first
            && first > b.next_off
        {
            self.skip_to_held(cfg, mem, stats, rx);
            self.maybe_end(mem, rx);
        }
    }

    /// The sender's FIN occupies `seq`.
    pub fn fin(&mut self, seq: u32, mem: &mut Memcap, rx: &mut impl Receiver) {
        if !self.started() {
            self.start_at(seq);
        }
        let off = self.offset_of(seq);
        if off >= 0 {
            let b = self.buf();
            if b.fin_off.is_none() {
                b.fin_off = Some(off as u64);
            }
        }
        self.maybe_end(mem, rx);
    }

    fn maybe_end(&mut self, mem: &mut Memcap, rx: &mut impl Receiver) {
        if !self.ended()
            && self
                .buf
                .as_ref()
                .is_some_and(|b| b.fin_off.is_some_and(|f| b.next_off >= f))
        {
            self.finish_now(mem, rx);
        }
    }

    fn finish_now(&mut self, mem: &mut Memcap, rx: &mut impl Receiver) {
        self.set(ENDED);
        self.release(mem);
        rx.chunk(Chunk::End);
    }

    /// Ends the stream now (RST, flow end): whatever is held is delivered
    /// with its holes reported, then `End`.
    pub fn finish(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut Memcap,
        stats: &mut ReassemblyStats,
        rx: &mut impl Receiver,
    ) {
        if self.ended() {
            return;
        }
        while self.buf.as_ref().is_some_and(|b| !b.held.is_empty()) && !self.has(DEPTH_REACHED) {
            self.skip_to_held(cfg, mem, stats, rx);
        }
        self.finish_now(mem, rx);
    }

    /// Releases everything the stream holds (the flow is being dropped).
    pub fn release(&mut self, mem: &mut Memcap) {
        self.drop_held(mem);
        self.drop_retained(mem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Out {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
        ended: bool,
        events: Vec<StreamEvent>,
    }

    impl Receiver for Out {
        fn chunk(&mut self, c: Chunk<'_>) {
            assert!(!self.ended, "nothing after End");
            match c {
                Chunk::Data(d) => self.bytes.extend_from_slice(d),
                Chunk::Gap(n) => self.gaps.push(n),
                Chunk::End => self.ended = true,
            }
        }
        fn event(&mut self, e: StreamEvent) {
            self.events.push(e);
        }
    }

    struct Rig {
        s: Stream,
        cfg: StreamConfig,
        mem: Memcap,
        stats: ReassemblyStats,
        out: Out,
    }

    impl Rig {
        fn new(isn: u32, cfg: StreamConfig) -> Self {
            let mut s = Stream {
                policy: cfg.policy,
                ..Stream::default()
            };
            s.start_at(isn);
            Rig {
                s,
                cfg,
                mem: Memcap::unlimited("reassembly"),
                stats: ReassemblyStats::default(),
                out: Out::default(),
            }
        }
        fn seg(&mut self, seq: u32, d: &[u8]) {
            self.s.insert(
                seq,
                d,
                &self.cfg,
                &mut self.mem,
                &mut self.stats,
                &mut self.out,
            );
        }
        fn ack(&mut self, a: u32) {
            self.s
                .acked(a, &self.cfg, &mut self.mem, &mut self.stats, &mut self.out);
        }
        fn finish(&mut self) {
            self.s
                .finish(&self.cfg, &mut self.mem, &mut self.stats, &mut self.out);
        }
    }

    #[test]
    fn in_order_and_reverse_order_give_the_same_bytes() {
        let msg = b"CONNECT mail.example.net:25 HTTP/1.1\r\n\r\n";
        let mut fwd = Rig::new(1000, StreamConfig::default());
        for (i, b) in msg.iter().enumerate() {
            fwd.seg(1000 + i as u32, &[*b]);
        }
        let mut rev = Rig::new(1000, StreamConfig::default());
        for (i, b) in msg.iter().enumerate().rev() {
            rev.seg(1000 + i as u32, &[*b]);
        }
        assert_eq!(fwd.out.bytes, msg);
        assert_eq!(rev.out.bytes, msg);
        assert_eq!(rev.mem.used(), rev.s.buffered());
    }

    #[test]
    fn sequence_wrap_is_invisible() {
        let isn = u32::MAX - 5;
        let mut r = Rig::new(isn, StreamConfig::default());
        r.seg(isn.wrapping_add(8), b"world");
        r.seg(isn, b"hello, w");
        assert_eq!(r.out.bytes, b"hello, wworld");
    }

    #[test]
    fn retransmission_is_delivered_once_and_a_changed_one_reported() {
        let mut r = Rig::new(0, StreamConfig::default());
        r.seg(0, b"GET / HTTP/1.1\r\n");
        r.seg(0, b"GET / HTTP/1.1\r\n");
        assert_eq!(r.out.bytes, b"GET / HTTP/1.1\r\n");
        assert!(r.out.events.is_empty());
        r.seg(4, b"/admin");
        assert_eq!(r.out.bytes, b"GET / HTTP/1.1\r\n");
        assert_eq!(
            r.out.events,
            [StreamEvent::OverlapDifferentData { offset: 5 }]
        );
        assert_eq!(r.stats.overlap_diff_data, 1);
    }

    #[test]
    fn held_overlaps_follow_the_policy() {
        for (policy, want) in [
            (OverlapPolicy::First, b"0123abcd89"),
            (OverlapPolicy::Last, b"0123WXYZ89"),
        ] {
            let mut r = Rig::new(
                0,
                StreamConfig {
                    policy,
                    ..Default::default()
                },
            );
            r.seg(4, b"abcd89");
            r.seg(4, b"WXYZ");
            r.seg(0, b"0123");
            assert_eq!(&r.out.bytes, want, "{policy:?}");
            assert_eq!(r.stats.overlap_diff_data, 1);
        }
    }

    #[test]
    fn acknowledged_hole_becomes_a_gap() {
        let mut r = Rig::new(0, StreamConfig::default());
        r.seg(0, b"aaaa");
        r.seg(8, b"cccc");
        r.ack(4);
        assert!(r.out.gaps.is_empty(), "hole not acknowledged yet");
        r.ack(12);
        assert_eq!(r.out.gaps, [4]);
        assert_eq!(r.out.bytes, b"aaaacccc");
        assert_eq!(r.stats.reassembly_gap, 1);
    }

    #[test]
    fn bounds_force_the_hole_to_be_skipped() {
        let mut r = Rig::new(
            0,
            StreamConfig {
                max_segments: 3,
                ..Default::default()
            },
        );
        for i in 0..4u32 {
            r.seg(10 + 2 * i, b"x");
        }
        assert_eq!(r.out.gaps, [10]);
        assert_eq!(r.out.bytes, b"x");
        assert!(r.s.buf.as_ref().map_or(0, |b| b.held.len()) <= 3);
    }

    #[test]
    fn depth_stops_delivery() {
        let mut r = Rig::new(
            0,
            StreamConfig {
                depth: 6,
                ..Default::default()
            },
        );
        r.seg(0, b"abcd");
        r.seg(4, b"efgh");
        r.seg(8, b"ijkl");
        assert_eq!(r.out.bytes, b"abcdef");
        assert_eq!(r.out.events, [StreamEvent::DepthReached]);
        assert_eq!(r.s.buffered(), 0);
    }

    #[test]
    fn fin_ends_after_the_last_byte() {
        let mut r = Rig::new(0, StreamConfig::default());
        r.seg(5, b"world");
        r.s.fin(10, &mut r.mem, &mut r.out);
        assert!(!r.out.ended);
        r.seg(0, b"hello");
        assert!(r.out.ended);
        assert_eq!(r.out.bytes, b"helloworld");
    }

    #[test]
    fn finish_flushes_held_data_with_gaps() {
        let mut r = Rig::new(0, StreamConfig::default());
        r.seg(3, b"def");
        r.seg(9, b"jk");
        r.finish();
        assert_eq!(r.out.gaps, [3, 3]);
        assert_eq!(r.out.bytes, b"defjk");
        assert!(r.out.ended);
        assert_eq!(r.mem.used(), 0);
    }

    #[test]
    fn far_ahead_segments_are_out_of_window() {
        let mut r = Rig::new(
            0,
            StreamConfig {
                max_ahead: 100,
                ..Default::default()
            },
        );
        r.seg(1000, b"zz");
        assert_eq!(r.stats.out_of_window, 1);
        assert_eq!(r.s.buffered(), 0);
    }

    #[test]
    fn memcap_limits_held_bytes() {
        let mut r = Rig::new(0, StreamConfig::default());
        r.mem = Memcap::new("reassembly", 4, fumidai_budget::Budget::unlimited());
        r.seg(10, b"abcdef");
        assert_eq!(r.stats.segment_memcap_drop, 1);
        assert_eq!(r.mem.used(), 0);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Random payload, cut into segments that may overlap, delivered in
        /// random order with duplicates: the stream must come out whole.
        /// Payload, initial sequence number, extra (start, len) segments,
        /// and swaps that shuffle the delivery order.
        type Scenario = (Vec<u8>, u32, Vec<(usize, usize)>, Vec<usize>);

        fn scenario() -> impl Strategy<Value = Scenario> {
            (proptest::collection::vec(any::<u8>(), 1..400), any::<u32>()).prop_flat_map(
                |(data, isn)| {
                    let n = data.len();
                    let cuts = proptest::collection::vec((0..n, 1usize..40), 1..60);
                    (
                        Just(data),
                        Just(isn),
                        cuts,
                        proptest::collection::vec(any::<usize>(), 0..80),
                    )
                },
            )
        }

        proptest! {
            #[test]
            fn any_delivery_order_reassembles_the_stream((data, isn, extra, order) in scenario()) {
                for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
                    // Cover the whole payload with consecutive segments, then
                    // add random overlapping ones (same bytes) and shuffle.
                    let mut segs: Vec<(usize, usize)> = Vec::new();
                    let mut at = 0;
                    let mut k = 0;
                    while at < data.len() {
                        let len = 1 + (extra[k % extra.len()].1 % 23);
                        segs.push((at, (at + len).min(data.len())));
                        at += len;
                        k += 1;
                    }
                    for &(s, l) in &extra {
                        segs.push((s, (s + l).min(data.len())));
                    }
                    for (i, &o) in order.iter().enumerate() {
                        let len = segs.len();
                        segs.swap(i % len, o % len);
                    }
                    let mut r = Rig::new(isn, StreamConfig { policy, ..Default::default() });
                    for &(s, e) in &segs {
                        r.seg(isn.wrapping_add(s as u32), &data[s..e]);
                    }
                    r.finish();
                    prop_assert_eq!(&r.out.bytes, &data);
                    prop_assert!(r.out.gaps.is_empty());
                    prop_assert_eq!(r.stats.overlap_diff_data, 0);
                    prop_assert_eq!(r.mem.used(), 0);
                }
            }
        }
    }
}
