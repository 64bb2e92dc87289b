//! TCP session tracking: the handshake, who is client and server, the two
//! reassembled streams, and closure.
//!
//! Tracking is deliberately liberal, as a passive sensor's must be: it
//! picks up connections midstream, tolerates missing handshake packets and
//! does not enforce windows beyond `StreamConfig::max_ahead`, because real
//! captures lose packets and an IDS that drops "invalid" segments can be
//! evaded by sending segments the real receiver accepts.

use fumidai_proto::Direction;
use fumidai_wire::{Tcp, TcpFlags};

use crate::stream::{Chunk, Memcap, ReassemblyStats, Receiver, Stream, StreamConfig, StreamEvent};

/// Connection state, named as Suricata names it in `flow.tcp.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    None,
    SynSent,
    SynRecv,
    Established,
    /// One side has sent FIN.
    FinWait1,
    /// Both sides sent FIN, or one sent RST.
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

/// One TCP connection.
#[derive(Debug)]
pub struct TcpSession {
    pub state: TcpState,
    /// Index 0: bytes the client sends; 1: bytes the server sends.
    pub streams: [Stream; 2],
    /// Flags seen from the client and from the server.
    pub flags: [u8; 2],
    fin_seen: [bool; 2],
    /// A RST was seen. It closes the session, but the streams are not
    /// ended: an attacker can inject a RST that the real endpoint rejects
    /// (wrong sequence number, TTL too low to arrive) to blind a sensor that
    /// believes it, so bytes that keep coming are still reassembled.
    pub rst_seen: bool,
    /// The handshake completed (or data flowed) at some point.
    established_once: bool,
    /// The session was picked up without its handshake.
    pub midstream: bool,
}

impl Default for TcpSession {
    fn default() -> Self {
        TcpSession {
            state: TcpState::None,
            streams: [Stream::default(), Stream::default()],
            flags: [0; 2],
            fin_seen: [false; 2],
            rst_seen: false,
            established_once: false,
            midstream: false,
        }
    }
}

/// Everything a segment's processing needs besides the session.
pub struct Ctx<'a> {
    pub cfg: &'a StreamConfig,
    pub mem: &'a mut Memcap,
    pub stats: &'a mut TcpStats,
}

impl TcpSession {
    /// Flags seen in either direction.
    pub fn all_flags(&self) -> u8 {
        self.flags[0] | self.flags[1]
    }

    /// Processes a segment travelling in `dir`.
    pub fn segment<R: SessionReceiver>(
        &mut self,
        dir: Direction,
        seg: &Tcp<'_>,
        ctx: &mut Ctx<'_>,
        rx: &mut R,
    ) {
        let i = dir.index();
        let flags = seg.flags;
        self.flags[i] |= flags.0;
        if flags.syn() {
            self.syn(dir, seg, ctx);
        } else if !self.streams[i].started() && self.state == TcpState::None {
            self.midstream = true;
            ctx.stats.midstream_pickups += 1;
        }
        if flags.rst() {
            ctx.stats.rst += 1;
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
        // Data on a SYN starts after the ISN.
        let data_seq = if flags.syn() {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let stream = &mut self.streams[i];
        if !stream.started() {
            // Only a handshake packet, a pure midstream pickup or data may
            // start a stream: a bare FIN or ACK from a side that has not
            // answered the SYN yet carries no trustworthy sequence number.
            if !(flags.syn()
                || self.state == TcpState::None
                || !seg.payload.is_empty()
                || self.established_once)
            {
                return;
            }
            stream.start_at(data_seq);
        }
        if !seg.payload.is_empty() {
            if is_keepalive(stream, seg) {
                ctx.stats.keepalive += 1;
            } else {
                let mut one = OneWay { dir, rx: &mut *rx };
                stream.insert(
                    data_seq,
                    seg.payload,
                    ctx.cfg,
                    ctx.mem,
                    &mut ctx.stats.reassembly,
                    &mut one,
                );
            }
        }
        if flags.ack() {
            let peer = &mut self.streams[1 - i];
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
            self.fin_seen[i] = true;
            let fin_seq = data_seq.wrapping_add(seg.payload.len() as u32);
            let mut one = OneWay { dir, rx: &mut *rx };
            self.streams[i].fin(fin_seq, ctx.mem, &mut one);
            if self.state != TcpState::Closed {
                self.state = if self.fin_seen[1 - i] {
                    TcpState::Closed
                } else {
                    TcpState::FinWait1
                };
            }
        }
    }

    fn established(&mut self) {
        self.state = TcpState::Established;
        self.established_once = true;
    }

    fn syn(&mut self, dir: Direction, seg: &Tcp<'_>, ctx: &mut Ctx<'_>) {
        let stream = &mut self.streams[dir.index()];
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
        } else {
            ctx.stats.syn += 1;
            if self.state == TcpState::None || reopen {
                self.state = TcpState::SynSent;
            }
        }
        if !stream.started() {
            stream.start_at(next);
        } else if stream.next_seq() != next {
            stream.restart_at(next, ctx.mem);
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

    /// True when a hole was skipped in the direction `dir`.
    pub fn had_gap(&self, dir: Direction) -> bool {
        self.streams[dir.index()].had_gap
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
                mem: Memcap::new(1 << 20),
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
            self.s.segment(dir, &t, &mut ctx, &mut self.rx);
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
        r.pkt(TS, seg(109, 5009, A | F, b""));
        assert_eq!(r.s.state, TcpState::FinWait1);
        r.pkt(TC, seg(5009, 110, A | F, b""));
        assert_eq!(r.s.state, TcpState::Closed);
        assert_eq!(r.rx.data[0], b"HELO x\r\n");
        assert_eq!(r.rx.data[1], b"250 ok\r\n");
        assert_eq!(r.rx.ended, [true, true]);
        assert_eq!(r.mem.used, 0);
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
        r.pkt(TC, seg(9, 0, TcpFlags::RST, b""));
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
        assert_eq!(r.mem.used, 0);
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
