//! A flow's application layer: detects the protocol from the first bytes,
//! drives its parser, turns its events into EVE records and alerts, and
//! follows tunnels — when a CONNECT is answered 2xx or a SOCKS request is
//! granted, the rest of the connection is detected and parsed afresh as
//! whatever runs inside, to any depth: a proxy inside a tunnel is a proxy
//! chain (9700005), and every record inside carries the chain of hops.

pub(crate) mod dns;
mod http;
mod irc;
mod smtp;
mod socks;

use fumidai_eve::ChainLink;
use fumidai_flow::Chunk;
use fumidai_proto::{AppProto, Detection, Direction, StreamDriver, StreamParser, detect};

use crate::cx::Cx;
use crate::meta::HopChain;

/// Bytes kept per direction while the protocol is being detected.
const PROBE_BYTES: usize = 4096;
/// Application-layer anomalies logged per flow; the rest are only counted.
const MAX_ANOMALIES: u16 = 16;
/// Proxy hops followed on one connection; a deeper chain is an anomaly and
/// what runs inside it is not parsed.
const MAX_CHAIN: usize = 8;

/// The outer request of a tunnel.
#[derive(Clone, Debug)]
pub struct Tunnel {
    /// `http_connect` or `socks`.
    pub kind: &'static str,
    /// The hop's protocol in `tunnel_chain`: `http`, `socks4`, `socks5`.
    pub proto: &'static str,
    pub request: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The outer transaction's id.
    pub tx_id: u64,
    /// The protocol that opened it.
    pub outer: &'static str,
    /// 9700023 fired for this tunnel.
    pub smtp_alerted: bool,
}

impl Tunnel {
    /// `host:port` as `tunnel_chain` writes it (an IPv6 host in brackets).
    pub fn target(&self) -> String {
        let host = self.host.as_deref().unwrap_or("");
        match (host.contains(':'), self.port) {
            (true, Some(p)) => format!("[{host}]:{p}"),
            (false, Some(p)) => format!("{host}:{p}"),
            (_, None) => host.to_owned(),
        }
    }
}

/// What a session asks of the application layer after handling bytes.
pub(crate) enum Outcome {
    Continue,
    /// A tunnel opened: the rest of both streams is another protocol's.
    Tunnel(Tunnel),
    /// Nothing more will be parsed.
    Stop,
}

/// State shared by a flow's sessions.
pub(crate) struct Base<'a> {
    /// Transaction ids of this protocol start here. Inside a tunnel they
    /// start again from 0, as Suricata's do after a CONNECT.
    pub tx_base: u64,
    /// The tunnels this protocol runs inside, outermost first.
    pub chain: &'a mut [Tunnel],
    anomalies: &'a mut u16,
}

impl Base<'_> {
    /// The tunnel this protocol runs directly inside.
    pub fn tunnel(&mut self) -> Option<&mut Tunnel> {
        self.chain.last_mut()
    }

    /// True inside a tunnel: a proxy request here is a proxy chain.
    pub fn in_tunnel(&self) -> bool {
        !self.chain.is_empty()
    }

    /// Logs an anomaly unless this flow has logged enough of them.
    pub fn anomaly(&mut self, cx: &mut Cx<'_>, proto: &'static str, name: &str, tx: Option<u64>) {
        if *self.anomalies < MAX_ANOMALIES {
            *self.anomalies += 1;
            cx.anomaly(proto, name, tx.map(|t| t + self.tx_base));
        } else {
            cx.stats.anomalies_suppressed += 1;
        }
    }
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Probing,
    Http(Box<http::Session>),
    Socks(Box<socks::Session>),
    Smtp(Box<smtp::Session>),
    Irc(Box<irc::Session>),
    Dns(Box<dns::Session>),
    /// Nothing (more) to parse: unknown protocol, encryption, or a stop.
    Done,
}

/// The first bytes of each direction, and the order they came in.
#[derive(Debug, Default)]
struct ProbeBuf {
    bytes: [Vec<u8>; 2],
    order: Vec<(Direction, usize)>,
}

/// A flow's application layer.
#[derive(Debug, Default)]
pub struct App {
    state: State,
    probe: ProbeBuf,
    /// The tunnels opened so far, outermost first.
    chain: Vec<Tunnel>,
    tx_base: u64,
    ended: [bool; 2],
    anomalies: u16,
    /// The engine should stop reassembling: nothing will be parsed.
    stop: bool,
    /// Set when a protocol was detected: its reassembly depth applies.
    detected: Option<AppProto>,
    /// NTP: which directions had their modes 1–5 packet logged, and the
    /// datagrams seen (NTP transaction ids).
    pub ntp_logged: [bool; 2],
    pub ntp_txs: u64,
    /// DNS datagrams seen (DNS transaction ids on UDP flows).
    pub dns_txs: u64,
    /// NTP monlist bytes and mode 6/7 requests waiting for an answer.
    pub ntp: crate::ntp::NtpFlow,
    /// Bytes charged to the app-layer memcap for this flow.
    pub charged: usize,
    /// Something was handed to it since its memory was last counted.
    changed: bool,
}

/// A protocol session on a reassembled flow: its parser behind a
/// [`StreamDriver`], and what it does with the parser's events.
pub(crate) trait Decoder {
    type Parser: StreamParser;

    /// The driver and the buffer its events are collected in.
    fn parts(
        &mut self,
    ) -> (
        &mut StreamDriver<Self::Parser>,
        &mut Vec<<Self::Parser as StreamParser>::Event>,
    );

    /// Acts on the parser's events for one chunk.
    fn handle(
        &mut self,
        events: &[<Self::Parser as StreamParser>::Event],
        cx: &mut Cx<'_>,
        base: &mut Base<'_>,
    ) -> Outcome;

    /// After a direction's end was handled.
    fn ended(&mut self, _dir: Direction, _cx: &mut Cx<'_>, _base: &mut Base<'_>) {}

    /// Feeds one chunk of a direction to the parser and handles the result.
    fn chunk(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        cx: &mut Cx<'_>,
        base: &mut Base<'_>,
    ) -> Outcome {
        let (driver, events) = self.parts();
        let end = matches!(chunk, Chunk::End);
        match chunk {
            Chunk::Data(d) => {
                driver.feed(dir, d, events);
            }
            Chunk::Gap(n) => driver.gap(dir, n, events),
            Chunk::End => driver.end(dir, events),
        }
        // The buffer is lent out while the session handles its events, and
        // kept (emptied) for the next chunk.
        let mut events = std::mem::take(events);
        let outcome = self.handle(&events, cx, base);
        events.clear();
        *self.parts().1 = events;
        if end {
            self.ended(dir, cx, base);
        }
        outcome
    }
}

impl App {
    /// Heap bytes held: detection buffers, the parser's pending bytes and
    /// its transactions (what the app-layer memcap counts).
    pub fn memuse(&self) -> usize {
        let probe = self.probe.bytes[0].capacity()
            + self.probe.bytes[1].capacity()
            + self.probe.order.capacity() * std::mem::size_of::<(Direction, usize)>();
        let tunnel = self.chain.capacity() * std::mem::size_of::<Tunnel>()
            + self
                .chain
                .iter()
                .map(|t| t.request.capacity() + t.host.as_ref().map_or(0, String::capacity))
                .sum::<usize>();
        let session = match &self.state {
            State::Http(s) => std::mem::size_of::<http::Session>() + s.memuse(),
            State::Socks(s) => std::mem::size_of::<socks::Session>() + s.memuse(),
            State::Smtp(s) => std::mem::size_of::<smtp::Session>() + s.memuse(),
            State::Irc(s) => std::mem::size_of::<irc::Session>() + s.memuse(),
            State::Dns(s) => std::mem::size_of::<dns::Session>() + s.memuse(),
            State::Probing | State::Done => 0,
        };
        probe + tunnel + session + self.ntp.memuse()
    }

    /// The app-layer memcap left no room for this flow: parsing stops here.
    /// Transactions in progress are completed and logged first, and the
    /// stop is an anomaly, so the operator sees what was not inspected.
    pub fn memcap_stop(&mut self, cx: &mut Cx<'_>) {
        self.finish(cx);
        let mut anomalies = self.anomalies;
        let mut base = Base {
            tx_base: self.tx_base,
            chain: &mut [],
            anomalies: &mut anomalies,
        };
        let proto = cx.meta.app_proto.unwrap_or("unknown");
        base.anomaly(cx, proto, "memcap", None);
        self.anomalies = anomalies;
        self.probe = ProbeBuf::default();
        self.state = State::Done;
        self.stop = true;
    }

    /// True once after it was handed something: its memory may have changed.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// True once, when the engine should stop reassembling this flow.
    pub fn take_stop(&mut self) -> bool {
        std::mem::take(&mut self.stop)
    }

    /// The protocol just detected, once, so its depth can be applied.
    pub fn take_detected(&mut self) -> Option<AppProto> {
        self.detected.take()
    }

    /// Handles one chunk of a reassembled direction.
    pub fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Cx<'_>) {
        self.changed = true;
        match chunk {
            Chunk::Data(d) => self.data(dir, d, cx),
            Chunk::Gap(n) => self.gap(dir, n, cx),
            Chunk::End => self.end(dir, cx),
        }
    }

    /// The flow ends: every direction not ended yet ends now, and NTP
    /// requests never answered go to their source's summary.
    pub fn finish(&mut self, cx: &mut Cx<'_>) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            if !self.ended[dir.index()] {
                self.end(dir, cx);
            }
        }
        self.ntp.finish(cx);
    }

    fn base(&mut self) -> (&mut State, Base<'_>) {
        (
            &mut self.state,
            Base {
                tx_base: self.tx_base,
                chain: &mut self.chain,
                anomalies: &mut self.anomalies,
            },
        )
    }

    fn data(&mut self, dir: Direction, d: &[u8], cx: &mut Cx<'_>) {
        match self.state {
            _ if d.is_empty() => return,
            State::Done => return,
            State::Probing => return self.probe(dir, d, cx),
            _ => {}
        }
        self.decode(dir, Chunk::Data(d), cx);
    }

    fn gap(&mut self, dir: Direction, n: u64, cx: &mut Cx<'_>) {
        match self.state {
            State::Done => return,
            // Detection cannot work across a hole.
            State::Probing => return self.give_up(cx),
            _ => {}
        }
        self.decode(dir, Chunk::Gap(n), cx);
    }

    fn end(&mut self, dir: Direction, cx: &mut Cx<'_>) {
        self.ended[dir.index()] = true;
        match self.state {
            State::Done => return,
            State::Probing => {
                if self.ended == [true, true] && !self.probe.order.is_empty() {
                    self.give_up(cx);
                }
                return;
            }
            _ => {}
        }
        self.decode(dir, Chunk::End, cx);
    }

    /// Hands a chunk to the session decoding the flow.
    fn decode(&mut self, dir: Direction, chunk: Chunk<'_>, cx: &mut Cx<'_>) {
        let (state, mut base) = self.base();
        let outcome = match state {
            State::Http(s) => s.chunk(dir, chunk, cx, &mut base),
            State::Socks(s) => s.chunk(dir, chunk, cx, &mut base),
            State::Smtp(s) => s.chunk(dir, chunk, cx, &mut base),
            State::Irc(s) => s.chunk(dir, chunk, cx, &mut base),
            State::Dns(s) => s.chunk(dir, chunk, cx, &mut base),
            State::Probing | State::Done => Outcome::Continue,
        };
        self.after(outcome, cx);
    }

    fn after(&mut self, outcome: Outcome, cx: &mut Cx<'_>) {
        match outcome {
            Outcome::Continue => {}
            Outcome::Stop => {
                self.state = State::Done;
                self.stop = true;
            }
            Outcome::Tunnel(t) => self.open_tunnel(t, cx),
        }
    }

    /// Buffers `d` and tries to tell the protocol.
    fn probe(&mut self, dir: Direction, d: &[u8], cx: &mut Cx<'_>) {
        let i = dir.index();
        let room = PROBE_BYTES.saturating_sub(self.probe.bytes[i].len());
        if room == 0 {
            self.give_up(cx);
            return;
        }
        let take = d.len().min(room);
        // With nothing buffered, the chunk (which nearly always tells the
        // protocol) is looked at where it lies, and copied only if
        // detection needs more.
        let in_place = self.probe.order.is_empty();
        let server_port = cx.meta.server().port;
        let detection = if in_place {
            match dir {
                Direction::ToServer => detect(&d[..take], &[], server_port),
                Direction::ToClient => detect(&[], &d[..take], server_port),
            }
        } else {
            self.probe.bytes[i].extend_from_slice(&d[..take]);
            self.probe.order.push((dir, take));
            detect(&self.probe.bytes[0], &self.probe.bytes[1], server_port)
        };
        match detection {
            Detection::NeedMore if take < d.len() => self.give_up(cx),
            Detection::NeedMore => {
                if in_place {
                    self.probe.bytes[i].extend_from_slice(d);
                    self.probe.order.push((dir, take));
                }
            }
            Detection::Unknown => self.give_up(cx),
            Detection::Found(p) => {
                self.start(p, cx);
                // Replay what was buffered, in arrival order, then the rest.
                let buf = std::mem::take(&mut self.probe);
                let mut at = [0usize; 2];
                for (dir, n) in buf.order {
                    let j = dir.index();
                    let piece = &buf.bytes[j][at[j]..at[j] + n];
                    at[j] += n;
                    self.data(dir, piece, cx);
                }
                let rest = if in_place { d } else { &d[take..] };
                self.data(dir, rest, cx);
            }
        }
    }

    fn start(&mut self, p: AppProto, cx: &mut Cx<'_>) {
        self.state = match p {
            AppProto::Http => State::Http(Box::default()),
            AppProto::Socks => State::Socks(Box::new(socks::Session::new(cx))),
            AppProto::Smtp => State::Smtp(Box::new(smtp::Session::new(cx))),
            AppProto::Irc => State::Irc(Box::new(irc::Session::new(cx))),
            AppProto::Dns => State::Dns(Box::default()),
        };
        cx.meta.app_proto = Some(p.name());
        // Suricata counts DNS per transport.
        cx.stats.flow(if p == AppProto::Dns {
            "dns_tcp"
        } else {
            p.name()
        });
        self.detected = Some(p);
    }

    /// None of fumidai's protocols: stop looking.
    fn give_up(&mut self, cx: &mut Cx<'_>) {
        self.probe = ProbeBuf::default();
        self.state = State::Done;
        self.stop = true;
        if self.chain.is_empty() && cx.meta.app_proto.is_none() {
            cx.meta.app_proto = Some("failed");
        }
    }

    /// The outer protocol handed the connection over: take its unconsumed
    /// bytes and detect what runs inside.
    fn open_tunnel(&mut self, t: Tunnel, cx: &mut Cx<'_>) {
        // Inside, transaction ids start again from 0 (as Suricata's do), so
        // the outer protocol's count is not needed.
        let (ts, tc, _) = match std::mem::take(&mut self.state) {
            State::Http(s) => (*s).into_parts(),
            State::Socks(s) => (*s).into_parts(),
            other => {
                self.state = other;
                return;
            }
        };
        self.tx_base = 0;
        // The first hop's protocol is Suricata's app_proto_orig.
        cx.meta
            .tunnel_chain
            .get_or_insert_with(|| {
                Box::new(HopChain {
                    orig: t.outer,
                    links: Vec::new(),
                })
            })
            .links
            .push(ChainLink {
                proto: t.proto.into(),
                target: t.target(),
                tx_id: t.tx_id,
            });
        let outer = t.outer;
        self.chain.push(t);
        self.probe = ProbeBuf::default();
        // The server speaks first in much of what fumidai follows through
        // tunnels (SMTP; IRC's notices), and a client cannot have had an
        // answer yet.
        if self.chain.len() > MAX_CHAIN {
            let mut anomalies = self.anomalies;
            let mut base = Base {
                tx_base: 0,
                chain: &mut self.chain,
                anomalies: &mut anomalies,
            };
            base.anomaly(cx, outer, "chain_too_deep", None);
            self.anomalies = anomalies;
            self.state = State::Done;
            self.stop = true;
            return;
        }
        // The server speaks first in what fumidai follows through tunnels
        // (SMTP), and a client cannot have had an answer yet.
        if !tc.is_empty() {
            self.data(Direction::ToClient, &tc, cx);
        }
        if !ts.is_empty() {
            self.data(Direction::ToServer, &ts, cx);
        }
    }

    /// The tunnels this flow carries, outermost first.
    pub fn chain(&self) -> &[Tunnel] {
        &self.chain
    }
}

/// `fumidai.shellshock` from a scanner's hit.
pub(crate) fn shellshock_obj(
    h: &fumidai_proto::shellshock::Hit,
) -> fumidai_eve::app::ShellshockObj {
    fumidai_eve::app::ShellshockObj {
        cve: h.finding.variant.cve().into(),
        location: h.location.into(),
        name: h.name.clone(),
        payload: h.finding.payload.clone(),
        command: h.finding.command.clone(),
    }
}

/// Heap bytes of a vector's buffer.
pub(crate) fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}
