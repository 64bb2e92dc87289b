//! TCP session tracking: the handshake, who is client and server, the two
//! reassembled streams, and closure.
//!
//! Tracking is liberal, as a passive sensor's must be: it picks up
//! connections midstream and tolerates missing handshake packets, because
//! real captures lose packets. Where the receiving host would certainly
//! discard a segment, though, the sensor discards it too, or an attacker
//! could feed it bytes the endpoint never saw (Ptacek & Newsham's
//! insertion): a segment beyond the receiver's advertised window, one whose
//! TTL runs out before it reaches the receiver, a RST at a sequence number
//! the receiver does not accept, data on a SYN that the SYN-ACK did not
//! acknowledge, and (by default) the urgent byte, which the receiving
//! application never reads inline. Each of these is counted and reported.

use fumidai_wire::{Direction, Tcp, TcpFlags};

use crate::stream::{
    Chunk, Memcap, OverlapPolicy, ReassemblyStats, Receiver, Stream, StreamConfig, StreamEvent,
};

/// Connection state, named as Suricata names it in `flow.tcp.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    None,
    SynSent,
    SynRecv,
    Established,
    /// The server sent the first FIN (Suricata names the states after the
    /// server's side: a client's first FIN is `CloseWait`).
    FinWait1,
    /// The client acknowledged the server's FIN.
    FinWait2,
    /// The client's FIN crossed the server's, without acknowledging it.
    Closing,
    /// The client sent the first FIN.
    CloseWait,
    /// The server's FIN answered the client's.
    LastAck,
    /// The second FIN came with an acknowledgement of the first.
    TimeWait,
    /// The last FIN was acknowledged, or a side sent RST.
    Closed,
}

impl TcpState {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait1",
            TcpState::FinWait2 => "fin_wait2",
            TcpState::Closing => "closing",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
            TcpState::TimeWait => "time_wait",
            TcpState::Closed => "closed",
        }
    }
}

/// Per-worker TCP counters (Suricata's `stats.tcp.*` names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    pub sessions: u64,
    pub syn: u64,
    pub synack: u64,
    pub rst: u64,
    pub midstream_pickups: u64,
    pub keepalive: u64,
    /// Segments with the URG flag.
    pub urg: u64,
    /// RSTs the receiver would not have accepted, ignored.
    pub rst_invalid: u64,
    /// Segments whose TTL would not reach the receiver, ignored.
    pub ttl_too_short: u64,
    /// SYN payloads the SYN-ACK did not acknowledge, ignored.
    pub syn_data_ignored: u64,
    /// Segments with a bad checksum, ignored.
    pub invalid_checksum: u64,
    pub reassembly: ReassemblyStats,
}

/// Where a session sends reassembled bytes and events, per direction.
pub trait SessionReceiver {
    fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>);
    fn event(&mut self, dir: Direction, event: StreamEvent);
}

/// Adapts a session receiver to one direction.
struct OneWay<'r, R> {
    dir: Direction,
    rx: &'r mut R,
}

impl<R: SessionReceiver> Receiver for OneWay<'_, R> {
    fn chunk(&mut self, chunk: Chunk<'_>) {
        self.rx.chunk(self.dir, chunk);
    }
    fn event(&mut self, event: StreamEvent) {
        self.rx.event(self.dir, event);
    }
}

/// The largest SYN payload kept while waiting for the SYN-ACK's verdict
/// (TCP Fast Open carries at most one segment).
const MAX_SYN_DATA: usize = 4096;

/// Per-side facts about the receiver of the other side's bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    /// The side's window scale (from its SYN), if it sent one.
    wscale: Option<u8>,
    /// The furthest right edge of its receive window (acknowledgement
    /// plus window), once it has sent an ACK; and its latest window.
    edge: Option<u32>,
    window: u32,
    /// The TTL of its first packet, as the sensor saw it.
    ttl: u8,
    /// Its SYN (or SYN-ACK) was seen: its window scale is known.
    syn: bool,
}

/// One TCP connection.
#[derive(Debug)]
pub struct TcpSession {
    pub state: TcpState,
    /// Index 0: bytes the client sends; 1: bytes the server sends.
    pub streams: [Stream; 2],
    /// Flags seen from the client and from the server.
    pub flags: [u8; 2],
    fin_seen: [bool; 2],
    /// Per side, the sequence number after its FIN (what acknowledges it).
    fin_next: [u32; 2],
    /// A RST was seen. It closes the session, but the streams are not
    /// ended: a RST the sensor accepts may still be refused by the endpoint
    /// in ways it cannot see, so bytes that keep coming are still reassembled.
    pub rst_seen: bool,
    /// The handshake completed (or data flowed) at some point.
    established_once: bool,
    /// The session was picked up without its handshake.
    pub midstream: bool,
    sides: [Side; 2],
    /// Data the client put on its SYN, until the SYN-ACK says whether the
    /// server took it (TCP Fast Open) or not (everyone else).
    syn_data: Option<Box<(u32, Vec<u8>)>>,
}

impl Default for TcpSession {
    fn default() -> Self {
        TcpSession {
            state: TcpState::None,
            streams: [Stream::default(), Stream::default()],
            flags: [0; 2],
            fin_seen: [false; 2],
            fin_next: [0; 2],
            rst_seen: false,
            established_once: false,
            midstream: false,
            sides: [Side::default(); 2],
            syn_data: None,
        }
    }
}

/// Everything a segment's processing needs besides the session.
pub struct Ctx<'a> {
    pub cfg: &'a StreamConfig,
    pub mem: &'a mut Memcap,
    pub stats: &'a mut TcpStats,
}

/// Hops between the sensor and a host whose packets arrive with `ttl`,
/// assuming it started from the nearest common initial TTL.
fn hops_from(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255]
        .into_iter()
        .find(|&i| i >= ttl)
        .unwrap_or(255);
    initial - ttl
}

impl TcpSession {
    /// A session whose receivers resolve overlaps by `policies` (the
    /// client's bytes, as the server's stack does; the server's bytes, as
    /// the client's does).
    pub fn new(policies: [OverlapPolicy; 2]) -> Self {
        let mut s = TcpSession::default();
        s.streams[0].policy = policies[0];
        s.streams[1].policy = policies[1];
        s
    }

    /// Flags seen in either direction.
    pub fn all_flags(&self) -> u8 {
        self.flags[0] | self.flags[1]
    }

    /// Heap the session owns outside the reassembly memcap.
    pub fn heap_bytes(&self) -> usize {
        self.streams[0].heap_bytes()
            + self.streams[1].heap_bytes()
            + self.syn_data.as_ref().map_or(0, |d| {
                std::mem::size_of::<(u32, Vec<u8>)>() + d.1.capacity()
            })
    }

    /// Processes a segment travelling in `dir` that arrived with `ttl`.
    pub fn segment<R: SessionReceiver>(
        &mut self,
        dir: Direction,
        seg: &Tcp<'_>,
        ttl: u8,
        ctx: &mut Ctx<'_>,
        rx: &mut R,
    ) {
        let i = dir.index();
        let r = 1 - i;
        let flags = seg.flags;
        if self.sides[i].ttl == 0 {
            self.sides[i].ttl = ttl;
        }
        if ctx.cfg.ttl_check
            && (!seg.payload.is_empty() || flags.rst())
            && self.sides[r].ttl != 0
            && ttl <= hops_from(self.sides[r].ttl)
        {
            // It expires on the way: the receiver never sees it.
            ctx.stats.ttl_too_short += 1;
            rx.event(dir, StreamEvent::TtlTooShort);
            return;
        }
        self.flags[i] |= flags.0;
        if flags.has(TcpFlags::URG) {
            ctx.stats.urg += 1;
        }
        if flags.syn() {
            self.syn(dir, seg, ctx, rx);
        } else if !self.streams[i].started() && self.state == TcpState::None {
            self.midstream = true;
            ctx.stats.midstream_pickups += 1;
        }
        if flags.rst() {
            ctx.stats.rst += 1;
            if !self.rst_acceptable(i, seg) {
                ctx.stats.rst_invalid += 1;
                rx.event(dir, StreamEvent::RstInvalid);
                return;
            }
            self.rst_seen = true;
            self.state = TcpState::Closed;
            return;
        }
        match self.state {
            TcpState::None if !flags.syn() => self.established(),
            TcpState::SynRecv if dir == Direction::ToServer && flags.ack() => self.established(),
            TcpState::SynSent | TcpState::SynRecv if !seg.payload.is_empty() => self.established(),
            _ => {}
        }
        if i == 0 && !flags.syn() && self.syn_data.take().is_some() {
            // The client went on without a SYN-ACK accepting its SYN data:
            // the server never took it.
            ctx.stats.syn_data_ignored += 1;
            rx.event(dir, StreamEvent::SynDataIgnored);
        }
        // Data on a SYN starts after the ISN.
        let data_seq = if flags.syn() {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !self.streams[i].started() {
            // Only a handshake packet, a pure midstream pickup or data may
            // start a stream: a bare FIN or ACK from a side that has not
            // answered the SYN yet carries no trustworthy sequence number.
            if !(flags.syn()
                || self.state == TcpState::None
                || !seg.payload.is_empty()
                || self.established_once)
            {
                self.note_ack(i, seg);
                return;
            }
            self.streams[i].start_at(data_seq);
        }
        // A client's SYN data waits for the SYN-ACK (see `syn`).
        let payload_now = !flags.syn() || flags.ack();
        if !seg.payload.is_empty() && payload_now {
            self.data(dir, data_seq, seg, ctx, rx);
        }
        self.note_ack(i, seg);
        if flags.ack() {
            let peer = &mut self.streams[r];
            let mut one = OneWay {
                dir: dir.reverse(),
                rx: &mut *rx,
            };
            peer.acked(
                seg.ack,
                ctx.cfg,
                ctx.mem,
                &mut ctx.stats.reassembly,
                &mut one,
            );
        }
        if flags.fin() {
            let first = !self.fin_seen[i];
            self.fin_seen[i] = true;
            let fin_seq = data_seq.wrapping_add(seg.payload.len() as u32);
            self.fin_next[i] = fin_seq.wrapping_add(1);
            let mut one = OneWay { dir, rx: &mut *rx };
            self.streams[i].fin(fin_seq, ctx.mem, &mut one);
            if first {
                self.closing_fin(dir, flags.ack());
            }
        } else if flags.ack() && self.fin_seen[r] && seg.ack == self.fin_next[r] {
            self.closing_ack(dir);
        }
    }

    /// Suricata's state after a side's first FIN (stream-tcp.c): the
    /// first FIN of the connection, then the other side's.
    fn closing_fin(&mut self, dir: Direction, ack: bool) {
        self.state = match (self.state, dir) {
            (TcpState::Established, Direction::ToServer) => TcpState::CloseWait,
            (TcpState::Established, Direction::ToClient) => TcpState::FinWait1,
            (TcpState::FinWait1, _) if ack => TcpState::TimeWait,
            (TcpState::FinWait1, _) => TcpState::Closing,
            (TcpState::FinWait2, _) => TcpState::TimeWait,
            (TcpState::CloseWait, Direction::ToClient) => TcpState::LastAck,
            (s, _) => s,
        };
    }

    /// Suricata's state after an acknowledgement of the other side's FIN.
    fn closing_ack(&mut self, dir: Direction) {
        self.state = match (self.state, dir) {
            (TcpState::FinWait1, Direction::ToServer) => TcpState::FinWait2,
            (TcpState::Closing, _) => TcpState::TimeWait,
            (TcpState::LastAck, Direction::ToServer) => TcpState::Closed,
            (TcpState::TimeWait, _) => TcpState::Closed,
            (s, _) => s,
        };
    }

    /// Inserts a segment's payload, as the receiver would take it.
    fn data<R: SessionReceiver>(
        &mut self,
        dir: Direction,
        seq: u32,
        seg: &Tcp<'_>,
        ctx: &mut Ctx<'_>,
        rx: &mut R,
    ) {
        let i = dir.index();
        let stream = &self.streams[i];
        if is_keepalive(stream, seg) {
            ctx.stats.keepalive += 1;
            return;
        }
        if self.beyond_window(i, seq) {
            ctx.stats.reassembly.out_of_window += 1;
            rx.event(dir, StreamEvent::OutOfWindow);
            return;
        }
        let payload = seg.payload;
        let urg = usize::from(seg.urgent);
        let acks_seen = self.sides[1 - i].edge.is_some();
        let stream = &mut self.streams[i];
        stream.set_acks_seen(acks_seen, ctx.mem);
        let mut one = OneWay { dir, rx: &mut *rx };
        let (cfg, mem, stats) = (ctx.cfg, &mut *ctx.mem, &mut ctx.stats.reassembly);
        if ctx.cfg.urgent_oob && seg.flags.has(TcpFlags::URG) && urg > 0 && urg <= payload.len() {
            // The byte before the urgent pointer is read out of band
            // (RFC 6093: what BSD-derived, Linux and Windows stacks do).
            let oob = seq.wrapping_add(urg as u32 - 1);
            stream.insert(seq, &payload[..urg - 1], cfg, mem, stats, &mut one);
            if stream.omit(oob, mem, stats) {
                stream.insert(
                    oob.wrapping_add(1),
                    &payload[urg..],
                    cfg,
                    mem,
                    stats,
                    &mut one,
                );
                return;
            }
            stream.insert(oob, &payload[urg - 1..], cfg, mem, stats, &mut one);
            return;
        }
        stream.insert(seq, payload, cfg, mem, stats, &mut one);
    }

    /// True when data at `seq` from side `i` starts at or beyond the right
    /// edge of the window side `i`'s receiver has offered (the furthest
    /// acknowledgement plus window it advertised: receivers do not shrink
    /// their window). Unknown — no ACK from the receiver yet, or a
    /// handshake not seen, so no window scale — is never beyond. An ACK the
    /// capture missed can make real data look beyond the edge; it then
    /// surfaces as a gap, not as silently wrong bytes.
    fn beyond_window(&self, i: usize, seq: u32) -> bool {
        if !(self.sides[0].syn && self.sides[1].syn) {
            return false;
        }
        let Some(edge) = self.sides[1 - i].edge else {
            return false;
        };
        (seq.wrapping_sub(edge) as i32) >= 0
    }

    /// Records side `i`'s acknowledgement and window from `seg`.
    fn note_ack(&mut self, i: usize, seg: &Tcp<'_>) {
        if !seg.flags.ack() || seg.flags.syn() {
            return;
        }
        // Scaling applies only when both SYNs offered it (RFC 7323 §2.2).
        let scale = match (self.sides[0].wscale, self.sides[1].wscale) {
            (Some(_), Some(_)) => self.sides[i].wscale.unwrap_or(0).min(14),
            _ => 0,
        };
        let side = &mut self.sides[i];
        side.window = u32::from(seg.window) << scale;
        let edge = seg.ack.wrapping_add(side.window);
        side.edge = Some(match side.edge {
            Some(e) if (edge.wrapping_sub(e) as i32) < 0 => e,
            _ => edge,
        });
    }

    /// Whether the receiver of side `i`'s RST would act on it: at the next
    /// expected sequence number, or (Linux, Solaris, HP-UX 11) anywhere in
    /// its window. Before the handshake completes there is nothing to
    /// check it against.
    fn rst_acceptable(&self, i: usize, seg: &Tcp<'_>) -> bool {
        let stream = &self.streams[i];
        if !stream.started() || !self.established_once {
            return true;
        }
        let next = stream.next_seq();
        if seg.seq == next {
            return true;
        }
        let in_window = matches!(
            stream.policy,
            OverlapPolicy::Linux
                | OverlapPolicy::OldLinux
                | OverlapPolicy::Solaris
                | OverlapPolicy::Hpux11
        );
        let window = self.sides[1 - i].window.max(1);
        in_window && (seg.seq.wrapping_sub(next) as i32) >= 0 && seg.seq.wrapping_sub(next) < window
    }

    fn established(&mut self) {
        self.state = TcpState::Established;
        self.established_once = true;
    }

    fn syn<R: SessionReceiver>(
        &mut self,
        dir: Direction,
        seg: &Tcp<'_>,
        ctx: &mut Ctx<'_>,
        rx: &mut R,
    ) {
        let i = dir.index();
        self.sides[i].wscale = seg.wscale;
        self.sides[i].syn = true;
        let next = seg.seq.wrapping_add(1);
        // A RST before the handshake completed does not end it: the real
        // endpoints may have rejected that RST (an evasion Suricata's
        // bug 3286 test reproduces), and the handshake goes on.
        let reopen = self.state == TcpState::Closed && self.rst_seen && !self.established_once;
        if seg.flags.ack() {
            ctx.stats.synack += 1;
            if matches!(self.state, TcpState::None | TcpState::SynSent) || reopen {
                self.state = TcpState::SynRecv;
            }
            self.syn_ack_verdict(seg, ctx, rx);
        } else {
            ctx.stats.syn += 1;
            if self.state == TcpState::None || reopen {
                self.state = TcpState::SynSent;
            }
            if !seg.payload.is_empty() {
                let keep = &seg.payload[..seg.payload.len().min(MAX_SYN_DATA)];
                self.syn_data = Some(Box::new((next, keep.to_vec())));
            }
        }
        let stream = &mut self.streams[i];
        if !stream.started() {
            stream.start_at(next);
        } else if stream.next_seq() != next {
            stream.restart_at(next, ctx.mem);
        }
    }

    /// The SYN-ACK tells whether the server took the client's SYN data:
    /// only if it acknowledges it (TCP Fast Open).
    fn syn_ack_verdict<R: SessionReceiver>(
        &mut self,
        seg: &Tcp<'_>,
        ctx: &mut Ctx<'_>,
        rx: &mut R,
    ) {
        let Some(d) = self.syn_data.take() else {
            return;
        };
        let (seq, data) = *d;
        if seg.ack == seq.wrapping_add(data.len() as u32) {
            let mut one = OneWay {
                dir: Direction::ToServer,
                rx: &mut *rx,
            };
            self.streams[0].insert(
                seq,
                &data,
                ctx.cfg,
                ctx.mem,
                &mut ctx.stats.reassembly,
                &mut one,
            );
        } else {
            ctx.stats.syn_data_ignored += 1;
            rx.event(Direction::ToServer, StreamEvent::SynDataIgnored);
        }
    }

    /// Ends both directions (the flow is ending): held data is delivered
    /// with its gaps, then `End`.
    pub fn finish<R: SessionReceiver>(&mut self, ctx: &mut Ctx<'_>, rx: &mut R) {
        for d in [Direction::ToServer, Direction::ToClient] {
            let mut one = OneWay {
                dir: d,
                rx: &mut *rx,
            };
            self.streams[d.index()].finish(ctx.cfg, ctx.mem, &mut ctx.stats.reassembly, &mut one);
        }
    }

    /// Both directions stop delivering (nothing more will be parsed).
    pub fn stop(&mut self, mem: &mut Memcap) {
        for s in &mut self.streams {
            s.stop(mem);
        }
    }

    /// Both directions deliver at most `depth` bytes (0: no limit).
    pub fn set_depth(&mut self, depth: u64) {
        for s in &mut self.streams {
            s.set_depth(depth);
        }
    }

    /// Frees the memory the streams hold, without delivering anything.
    pub fn release(&mut self, mem: &mut Memcap) {
        for s in &mut self.streams {
            s.release(mem);
        }
    }

    /// True when a segment travelling in `dir` can change what is delivered
    /// or the session's state: it carries data for a stream that still
    /// delivers, or SYN, FIN or RST. Only those are worth validating.
    pub fn matters(&self, dir: Direction, seg: &Tcp<'_>) -> bool {
        seg.flags.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) != 0
            || (!seg.payload.is_empty() && self.streams[dir.index()].takes_data())
    }

    /// True when a hole was skipped in the direction `dir`.
    pub fn had_gap(&self, dir: Direction) -> bool {
        self.streams[dir.index()].had_gap()
    }
}

/// A keep-alive probe repeats the byte before the next expected one; its
/// content is arbitrary, so it must not be compared with delivered data.
fn is_keepalive(stream: &Stream, seg: &Tcp<'_>) -> bool {
    seg.payload.len() <= 1
        && seg.seq == stream.next_seq().wrapping_sub(1)
        && stream.offset() > 0
        && seg.flags.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Both {
        data: [Vec<u8>; 2],
        ended: [bool; 2],
        events: Vec<(Direction, StreamEvent)>,
    }

    impl SessionReceiver for Both {
        fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>) {
            match chunk {
                Chunk::Data(d) => self.data[dir.index()].extend_from_slice(d),
                Chunk::Gap(_) => {}
                Chunk::End => self.ended[dir.index()] = true,
            }
        }
        fn event(&mut self, dir: Direction, e: StreamEvent) {
            self.events.push((dir, e));
        }
    }

    fn seg(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Tcp<'_> {
        Tcp {
            sport: 1,
            dport: 2,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 1000,
            wscale: None,
            urgent: 0,
            payload,
        }
    }

    struct Rig {
        s: TcpSession,
        cfg: StreamConfig,
        mem: Memcap,
        stats: TcpStats,
        rx: Both,
    }

    impl Rig {
        fn new() -> Self {
            Rig {
                s: TcpSession::default(),
                cfg: StreamConfig::default(),
                mem: Memcap::unlimited("reassembly"),
                stats: TcpStats::default(),
                rx: Both::default(),
            }
        }
        fn pkt(&mut self, dir: Direction, t: Tcp<'_>) {
            let mut ctx = Ctx {
                cfg: &self.cfg,
                mem: &mut self.mem,
                stats: &mut self.stats,
            };
            self.s.segment(dir, &t, 64, &mut ctx, &mut self.rx);
        }
    }

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const F: u8 = TcpFlags::FIN;
    const P: u8 = TcpFlags::PSH;
    use Direction::{ToClient as TC, ToServer as TS};

    #[test]
    fn handshake_data_and_close() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        assert_eq!(r.s.state, TcpState::SynSent);
        r.pkt(TC, seg(5000, 101, S | A, b""));
        assert_eq!(r.s.state, TcpState::SynRecv);
        r.pkt(TS, seg(101, 5001, A, b""));
        assert_eq!(r.s.state, TcpState::Established);
        r.pkt(TS, seg(101, 5001, A | P, b"HELO x\r\n"));
        r.pkt(TC, seg(5001, 109, A | P, b"250 ok\r\n"));
        // Suricata's names: the client's FIN first is close_wait, the
        // server's answering FIN last_ack, its acknowledgement closed.
        r.pkt(TS, seg(109, 5009, A | F, b""));
        assert_eq!(r.s.state, TcpState::CloseWait);
        r.pkt(TC, seg(5009, 110, A | F, b""));
        assert_eq!(r.s.state, TcpState::LastAck);
        r.pkt(TS, seg(110, 5010, A, b""));
        assert_eq!(r.s.state, TcpState::Closed);
        assert_eq!(r.rx.data[0], b"HELO x\r\n");
        assert_eq!(r.rx.data[1], b"250 ok\r\n");
        assert_eq!(r.rx.ended, [true, true]);
        assert_eq!(r.mem.used(), 0);
        assert_eq!(r.s.flags[0], S | A | P | F);
    }

    #[test]
    fn midstream_pickup_reassembles_from_the_first_data() {
        let mut r = Rig::new();
        r.pkt(TS, seg(7000, 1, A | P, b"GET / HTTP/1.0\r\n"));
        r.pkt(TS, seg(7016, 1, A | P, b"\r\n"));
        assert!(r.s.midstream);
        assert_eq!(r.s.state, TcpState::Established);
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(r.stats.midstream_pickups, 1);
    }

    #[test]
    fn request_in_the_handshake_ack() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        r.pkt(TC, seg(5000, 101, S | A, b""));
        r.pkt(TS, seg(101, 5001, A | P, b"CONNECT a:25 HTTP/1.1\r\n\r\n"));
        assert_eq!(r.rx.data[0], b"CONNECT a:25 HTTP/1.1\r\n\r\n");
        assert_eq!(r.s.state, TcpState::Established);
    }

    #[test]
    fn keepalive_is_not_an_overlap() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        r.pkt(TS, seg(101, 0, A | P, b"abc"));
        r.pkt(TS, seg(103, 0, A, b"\0"));
        assert!(r.rx.events.is_empty());
        assert_eq!(r.stats.keepalive, 1);
        assert_eq!(r.rx.data[0], b"abc");
    }

    #[test]
    fn rst_closes_but_does_not_blind() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        r.pkt(TC, seg(5000, 101, S | A, b""));
        r.pkt(TS, seg(101, 5001, A | P, b"GET / HTTP/1.1\r\n"));
        r.pkt(TC, seg(5001, 0, TcpFlags::RST, b""));
        assert_eq!(r.s.state, TcpState::Closed);
        assert_eq!(r.rx.ended, [false, false]);
        // The receiver ignored that RST: the request goes on, and is seen.
        r.pkt(TS, seg(117, 5001, A | P, b"Host: x\r\n\r\n"));
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut ctx = Ctx {
            cfg: &r.cfg,
            mem: &mut r.mem,
            stats: &mut r.stats,
        };
        r.s.finish(&mut ctx, &mut r.rx);
        assert_eq!(r.rx.ended, [true, true]);
        assert_eq!(r.mem.used(), 0);
    }

    #[test]
    fn a_rst_at_the_wrong_sequence_number_is_ignored() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        r.pkt(TC, seg(5000, 101, S | A, b""));
        r.pkt(TS, seg(101, 5001, A | P, b"GET / HTTP/1.1\r\n"));
        r.pkt(TC, seg(9, 0, TcpFlags::RST, b""));
        assert_eq!(r.s.state, TcpState::Established);
        assert_eq!(r.stats.rst_invalid, 1);
        assert!(r.rx.events.contains(&(TC, StreamEvent::RstInvalid)));
    }

    #[test]
    fn insertion_attempts_are_ignored() {
        // Window: the server offers 8 bytes; a segment past them is dropped.
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        r.pkt(TC, seg(5000, 101, S | A, b""));
        let mut ack = seg(5001, 101, A, b"");
        ack.window = 8;
        r.pkt(TC, ack);
        r.pkt(TS, seg(101, 5001, A | P, b"GET / HT"));
        r.pkt(TS, seg(117, 5001, A | P, b"EVIL"));
        assert_eq!(r.stats.reassembly.out_of_window, 1);
        let mut ack = seg(5001, 109, A, b"");
        ack.window = 100;
        r.pkt(TC, ack);
        r.pkt(TS, seg(109, 5001, A | P, b"TP/1.1\r\n"));
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.1\r\n");
        // Urgent data is read out of band: the X never reaches the server's application.
        let mut urg = seg(117, 5001, A | P | TcpFlags::URG, b"HoXst: a\r\n");
        urg.urgent = 3;
        r.pkt(TS, urg);
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.1\r\nHost: a\r\n");
        assert_eq!(r.stats.reassembly.urgent_oob_data, 1);
        // TTL: the server's packets show it 2 hops away (62); a segment
        // arriving with TTL 2 dies before it.
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b""));
        let mut ctx = Ctx {
            cfg: &r.cfg,
            mem: &mut r.mem,
            stats: &mut r.stats,
        };
        r.s.segment(TC, &seg(5000, 101, S | A, b""), 62, &mut ctx, &mut r.rx);
        r.s.segment(TS, &seg(101, 5001, A | P, b"DECOY"), 2, &mut ctx, &mut r.rx);
        r.s.segment(
            TS,
            &seg(101, 5001, A | P, b"GET /"),
            64,
            &mut ctx,
            &mut r.rx,
        );
        assert_eq!(r.rx.data[0], b"GET /");
        assert_eq!(r.stats.ttl_too_short, 1);
    }

    #[test]
    fn syn_data_counts_only_when_the_syn_ack_takes_it() {
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b"DECOY"));
        r.pkt(TC, seg(5000, 101, S | A, b""));
        r.pkt(TS, seg(101, 5001, A | P, b"GET /"));
        assert_eq!(r.rx.data[0], b"GET /");
        assert_eq!(r.stats.syn_data_ignored, 1);
        // TCP Fast Open: the SYN-ACK acknowledges the data.
        let mut r = Rig::new();
        r.pkt(TS, seg(100, 0, S, b"GET /"));
        r.pkt(TC, seg(5000, 106, S | A, b""));
        r.pkt(TS, seg(106, 5001, A | P, b" HTTP/1.1"));
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.1");
    }

    /// Suricata-verify bug 3286: a bogus RST and FIN from the "server"
    /// before its SYN-ACK, then a normal connection.
    #[test]
    fn bogus_rst_and_fin_before_the_synack() {
        let mut r = Rig::new();
        r.pkt(TS, seg(1000, 0, S, b""));
        r.pkt(TC, seg(0, 1001, A | TcpFlags::RST, b""));
        r.pkt(TC, seg(0, 1001, A | F, b""));
        r.pkt(TS, seg(1001, 0, TcpFlags::RST, b""));
        r.pkt(TC, seg(7000, 1001, S | A, b""));
        assert_eq!(r.s.state, TcpState::SynRecv);
        r.pkt(TS, seg(1001, 7001, A, b""));
        assert_eq!(r.s.state, TcpState::Established);
        r.pkt(TS, seg(1001, 7001, A | P, b"GET / HTTP/1.1\r\n\r\n"));
        r.pkt(TC, seg(7001, 1019, A | P, b"HTTP/1.1 200 OK\r\n\r\n"));
        assert_eq!(r.rx.data[0], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(r.rx.data[1], b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(r.rx.ended, [false, false]);
    }
}
