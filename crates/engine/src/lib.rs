//! The per-worker pipeline: decode → defragment → flow → TCP reassembly →
//! application layer → detection → EVE records.
//!
//! An [`Engine`] owns one shard of the flows (the capture thread sends every
//! packet between two hosts to the same worker) and needs no locks; the
//! only shared state is the detectors' coarse cross-flow counters. Its clock
//! is packet time: it advances with the packets and with the ticks the
//! capture thread sends, so a replay gives the same events at any speed.

mod anomaly_name;
pub mod app;
pub mod counters;
pub mod cx;
pub mod flows;
pub mod meta;
mod ntp;
pub mod tunnel;
mod udp;

use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{MemReport, Meter};
use fumidai_detect::Detector;
use fumidai_detect::amp::AmpTracker;
use fumidai_eve::app::{FumidaiObj, StormObj, SweepObj};
use fumidai_eve::objects::{AlertObj, AnomalyObj};
use fumidai_eve::{Counters, EveBatch, EveTime, EventType, Header, Record, Vlan, proto_name};
use fumidai_flow::tcp::{Ctx, SessionReceiver};
use fumidai_flow::{
    Chunk, EndReason, FlowRef, FlowTable, Memcap, OverlapPolicy, StreamConfig, StreamEvent,
    TcpSession, Timeouts,
};
use fumidai_proto::{AppProto, Direction};
use fumidai_wire::checksum::{self, Verdict};
use fumidai_wire::defrag::{DefragConfig, Defragmenter, Outcome};
use fumidai_wire::tunnel::{self as decap, Decap, DecoderConfig};
use fumidai_wire::{
    DecodeEvent, Decoded, Endpoint, FlowKey, Fragment, L4, LinkType, Packet, Side, Timestamp, Udp,
    decode_reassembled,
};
use ipnet::IpNet;
use serde::Serialize;

use app::App;
pub use counters::WorkerCounters;
use counters::link_index;
pub use cx::AppCounters;
use cx::Cx;
use flows::{Flow, State, write_flow_record};
use tunnel::{FlowTunnel, tunnel_obj};
use udp::AmpHint;

/// Which anomalies become `anomaly` records (all are always counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnomalyLog {
    pub decode: bool,
    pub stream: bool,
    pub applayer: bool,
}

/// Everything a worker needs to know, fixed for the run.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub timeouts: Timeouts,
    /// Flows this worker may hold.
    pub max_flows: usize,
    pub stream: StreamConfig,
    /// Reassembly depth per application protocol (0: no limit), overriding
    /// `stream.depth` once the protocol is known.
    pub app_depth: Vec<(AppProto, u64)>,
    /// Reassembly memory this worker may hold.
    pub stream_memcap: usize,
    /// Flow table memory (slots, index, per-flow state) this worker may hold.
    pub flow_memcap: usize,
    /// Application-layer memory (parsers' buffers and transactions).
    pub app_memcap: usize,
    /// Amplification pair memory.
    pub amp_memcap: usize,
    /// This worker's sums for the victim-level view of reflection.
    pub flood_memcap: usize,
    /// `defrag.memcap` is this worker's share.
    pub defrag: DefragConfig,
    /// How each host's stack resolves TCP overlaps, most specific first;
    /// hosts not named follow `stream.policy`.
    pub host_policy: Vec<(IpNet, OverlapPolicy)>,
    /// Verify checksums and ignore packets the receiver would have
    /// dropped (switched per capture file, see `set_checksums`).
    pub checksums: bool,
    /// Event types to write (others are not even built).
    pub log: [bool; EventType::ALL.len()],
    pub anomaly: AnomalyLog,
    pub community_id_seed: u16,
    /// Which encapsulations are decoded, and flow keys' view of tunnels.
    pub decoder: DecoderConfig,
}

/// Which of a frame's packets a worker handles: the capture thread sends a
/// tunnelled frame to two workers when its inner packet and its carriers
/// (the outer packets that are flows of their own) hash to different ones
/// (`fumidai_wire::key::Shard`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Part {
    /// Everything.
    #[default]
    All,
    /// The innermost packet and the frame's counters; not the carriers.
    Inner,
    /// Only the carriers' flows.
    Carriers,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            timeouts: Timeouts::new(|c| match c {
                fumidai_flow::Class::TcpEstablished => 600,
                fumidai_flow::Class::TcpNew | fumidai_flow::Class::TcpClosed => 60,
                _ => 30,
            }),
            max_flows: 1_000_000,
            stream: StreamConfig::default(),
            app_depth: Vec::new(),
            stream_memcap: 256 << 20,
            flow_memcap: 512 << 20,
            app_memcap: 256 << 20,
            amp_memcap: 64 << 20,
            flood_memcap: 8 << 20,
            defrag: DefragConfig::default(),
            host_policy: Vec::new(),
            checksums: true,
            log: [true; EventType::ALL.len()],
            anomaly: AnomalyLog {
                decode: true,
                stream: true,
                applayer: true,
            },
            community_id_seed: 0,
            decoder: DecoderConfig::default(),
        }
    }
}

impl EngineConfig {
    fn logs(&self, t: EventType) -> bool {
        self.log[t.index()]
    }

    /// The overlap policy of the stack at `host`.
    fn policy_of(&self, host: std::net::IpAddr) -> OverlapPolicy {
        self.host_policy
            .iter()
            .find(|(net, _)| net.contains(&host))
            .map_or(self.stream.policy, |(_, p)| *p)
    }
}

/// Sees every reassembled chunk: the flow id, the direction, the chunk.
/// For tools and tests that want the streams themselves.
pub type StreamTap = Box<dyn FnMut(u64, Direction, Chunk<'_>) + Send>;

/// One worker's share of the sensor.
pub struct Engine {
    cfg: Arc<EngineConfig>,
    det: Arc<Detector>,
    flows: FlowTable<Flow>,
    ended: Vec<(Flow, EndReason)>,
    defrag: Defragmenter,
    defrag_buf: Vec<u8>,
    frag_events: Vec<DecodeEvent>,
    /// What decoding the current frame peeled off.
    decap: Decap,
    mem: Memcap,
    app_mem: Meter,
    checksums: bool,
    counters: WorkerCounters,
    app_stats: AppCounters,
    amp: AmpTracker<AmpHint>,
    out: EveBatch,
    clock: Timestamp,
    stream_events: Vec<(Direction, StreamEvent)>,
    tap: Option<StreamTap>,
}

/// Receives reassembled bytes of one flow and hands them to its
/// application layer.
struct StreamSink<'a, 'c> {
    /// For the tap (computed only when there is one).
    flow_id: u64,
    app: &'a mut Option<Box<App>>,
    cx: Cx<'c>,
    events: &'a mut Vec<(Direction, StreamEvent)>,
    tap: Option<&'a mut StreamTap>,
}

impl SessionReceiver for StreamSink<'_, '_> {
    fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>) {
        if let Some(tap) = self.tap.as_mut() {
            tap(self.flow_id, dir, chunk);
        }
        // The application layer comes into being with the first byte.
        let app = match (self.app.as_mut(), chunk) {
            (Some(a), _) => a,
            (None, Chunk::Data(d)) if !d.is_empty() => self.app.insert(Box::default()),
            (None, _) => return,
        };
        app.chunk(dir, chunk, &mut self.cx);
    }

    fn event(&mut self, dir: Direction, event: StreamEvent) {
        self.events.push((dir, event));
    }
}

#[derive(Serialize)]
struct AnomalyBody {
    anomaly: AnomalyObj,
}

#[derive(Serialize)]
struct SweepEvidence {
    fumidai: FumidaiObj,
}

#[derive(Serialize)]
struct StormAlert {
    alert: AlertObj,
    fumidai: FumidaiObj,
}

/// Flows ended per call while draining the table at the end, so their
/// records leave in batches rather than all at once. 512 records (about
/// 256 KiB) fit the buffer the output hands back for reuse; 4096 made each
/// batch grow to 2 MiB in new memory, which the allocator kept while the
/// output thread freed it: 75 MiB more peak RSS at a million flows, 80
/// bytes on the cost of a forged UDP flow (past its 250-byte target).
pub const END_BATCH: usize = 512;

impl Engine {
    pub fn new(cfg: Arc<EngineConfig>, det: Arc<Detector>) -> Self {
        let budget = &det.shared.budget;
        let meter = |name, cap| Meter::new(name, cap, Arc::clone(budget));
        Engine {
            flows: FlowTable::new(
                cfg.timeouts.clone(),
                cfg.max_flows,
                meter("flow", cfg.flow_memcap),
            ),
            ended: Vec::new(),
            defrag: Defragmenter::with_meter(
                cfg.defrag.clone(),
                meter("defrag", cfg.defrag.memcap),
            ),
            defrag_buf: Vec::new(),
            frag_events: Vec::new(),
            decap: Decap::default(),
            mem: meter("reassembly", cfg.stream_memcap),
            app_mem: meter("app_layer", cfg.app_memcap),
            checksums: cfg.checksums,
            counters: WorkerCounters::default(),
            app_stats: AppCounters::default(),
            amp: AmpTracker::new(
                &det,
                meter("amp_pairs", cfg.amp_memcap),
                meter("amp_flood_acc", cfg.flood_memcap),
            ),
            out: EveBatch::with_capacity(64 << 10),
            clock: Timestamp::default(),
            stream_events: Vec::new(),
            tap: None,
            cfg,
            det,
        }
    }

    /// Hands every reassembled chunk to `tap` as well. With a tap, flows
    /// are reassembled to the end even when no parser needs them.
    pub fn set_stream_tap(&mut self, tap: StreamTap) {
        self.tap = Some(tap);
    }

    /// The worker's packet-time clock.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// EVE lines written since the last call.
    pub fn take_output(&mut self, replacement: EveBatch) -> EveBatch {
        std::mem::replace(&mut self.out, replacement)
    }

    /// Bytes of EVE output waiting to be taken.
    pub fn output_len(&self) -> usize {
        self.out.bytes.len()
    }

    /// Switches checksum validation (per capture file: on, or off when
    /// the file shows checksum offloading).
    pub fn set_checksums(&mut self, on: bool) {
        self.checksums = on;
    }

    /// This worker's memory counters, one per structure.
    pub fn mem_reports(&self) -> [MemReport; 6] {
        let mut app = self.app_mem.report();
        app.entries = 0;
        [
            self.flows.report(),
            self.mem.report(),
            self.defrag.report(),
            app,
            self.amp.report(),
            self.amp.flood_report(),
        ]
    }

    /// The counters under their `stats` names.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.defrag = self.defrag.stats.clone();
        let mut out = c.to_counters(self.flows.len(), self.mem.used(), self.defrag.memuse());
        out.add("flow.memuse", self.flows.memuse() as u64);
        out.add("decoder.checksum.validation", u64::from(self.checksums));
        for r in self.mem_reports() {
            counters::add_mem(&mut out, &r);
        }
        let a = &self.app_stats;
        out.add("detect.alert", a.alerts);
        out.add("app_layer.anomalies", a.anomalies);
        out.add("app_layer.anomalies_suppressed", a.anomalies_suppressed);
        for (p, n) in &a.flows {
            out.add(format!("app_layer.flow.{p}"), *n);
        }
        for (p, n) in &a.txs {
            out.add(format!("app_layer.tx.{p}"), *n);
        }
        out.add("amplification.pairs", self.amp.len() as u64);
        out
    }

    /// Processes one captured frame.
    pub fn process(&mut self, link: LinkType, ts: Timestamp, wire_len: u32, frame: &[u8]) {
        self.process_part(Part::All, link, ts, wire_len, frame);
    }

    /// Processes `part` of one captured frame.
    pub fn process_part(
        &mut self,
        part: Part,
        link: LinkType,
        ts: Timestamp,
        wire_len: u32,
        frame: &[u8],
    ) {
        if ts > self.clock {
            self.clock = ts;
        }
        let decoded = decap::decode(&self.cfg.decoder, link, frame, &mut self.decap);
        // Bytes on the wire that the capture cut off (snaplen).
        let cut = wire_len.saturating_sub(u32::try_from(frame.len()).unwrap_or(u32::MAX));
        if part != Part::Inner && !self.decap.outers().is_empty() {
            self.carrier_flows(ts, 1, wire_len, cut);
        }
        if part == Part::Carriers {
            return;
        }
        let c = &mut self.counters;
        c.pkts += 1;
        c.bytes += u64::from(wire_len);
        c.max_pkt_size = c.max_pkt_size.max(u64::from(wire_len));
        c.link[link_index(link)] += 1;
        self.decoded(ts, wire_len, cut, decoded);
    }

    /// Counts what decoding peeled off and hands the result on. A tunnelled
    /// packet's flow counts the bytes of what its tunnel carried (plus what
    /// the capture `cut` off), as Suricata counts its tunnel packets.
    #[inline(always)]
    fn decoded(&mut self, ts: Timestamp, wire_len: u32, cut: u32, decoded: Decoded<'_>) {
        if !self.decap.is_empty() {
            self.count_layers(ts, &decoded);
        }
        // Matched in place: moving the packet out is a 136-byte copy per
        // packet, through a call to memcpy.
        match &decoded {
            Decoded::Invalid(e) => {
                self.counters.invalid += 1;
                self.decode_anomaly(ts, None, *e);
            }
            Decoded::NotIp { ether_type } => {
                if *ether_type == 0x0806 {
                    self.counters.arp += 1;
                } else if !decap::known_non_ip(*ether_type) {
                    self.counters.unknown_ethertype += 1;
                }
            }
            Decoded::Ip(p) if p.depth > 0 => {
                self.ip_packet(ts, p.tunnel_len.saturating_add(cut), p);
            }
            Decoded::Ip(p) => self.ip_packet(ts, wire_len, p),
        }
    }

    /// Counts the layers and outer packets of a tunnelled frame, and logs
    /// the anomalies met on the way that did not stop decoding.
    fn count_layers(&mut self, ts: Timestamp, decoded: &Decoded<'_>) {
        let c = &mut self.counters;
        for e in self.decap.encaps() {
            c.encap[*e as usize] += 1;
        }
        for o in self.decap.outers() {
            match o.src {
                IpAddr::V4(_) => c.ipv4 += 1,
                IpAddr::V6(_) => c.ipv6 += 1,
            }
            if o.proto == 17 {
                c.udp += 1;
            }
        }
        let p = match decoded {
            Decoded::Ip(p) => Some(p),
            _ => None,
        };
        for i in 0..self.decap.events().len() {
            let e = self.decap.events()[i];
            self.decode_anomaly(ts, p, e);
        }
    }

    /// The flows of the outer packets that carried the frame's packet
    /// (GRE, IP-in-IP, VXLAN, Geneve, Teredo), as Suricata keeps them: a
    /// flow record for the tunnel itself. Their payload is the tunnel, so
    /// no application layer or detector sees it.
    fn carrier_flows(&mut self, ts: Timestamp, frames: u64, wire_len: u32, cut: u32) {
        for i in 0..self.decap.outers().len() {
            let o = self.decap.outers()[i];
            if !o.tracked {
                continue;
            }
            let bytes = match o.len {
                0 => wire_len,
                n => n.saturating_add(cut),
            };
            let l4 = match o.proto {
                17 => L4::Udp(Udp {
                    sport: o.sport,
                    dport: o.dport,
                    payload: &[],
                    len: 0,
                }),
                proto => L4::Other {
                    proto,
                    payload: &[],
                },
            };
            let p = Packet {
                vlan: o.vlan,
                vlan_layers: o.vlan_layers,
                src: o.src,
                dst: o.dst,
                l4,
                anomaly: None,
                depth: o.depth,
                tunnel: o.tunnel,
                pkt_src: o.pkt_src,
                layers: 0,
                tunnel_len: o.len,
                // The tunnel's own packet is counted, not parsed: its
                // checksums are not the inner endpoints' business.
                ttl: 0,
                ip_header: &[],
                l4_bytes: &[],
                l4_len: 0,
            };
            self.flow_packet(ts, frames, u64::from(bytes), &p, true);
        }
    }

    #[inline(always)]
    fn ip_packet(&mut self, ts: Timestamp, wire_len: u32, p: &Packet<'_>) {
        let c = &mut self.counters;
        match p.src {
            IpAddr::V4(_) => c.ipv4 += 1,
            IpAddr::V6(_) => c.ipv6 += 1,
        }
        match p.vlan_layers {
            0 => {}
            1 => c.vlan += 1,
            _ => c.vlan_qinq += 1,
        }
        if let Some(e) = p.anomaly {
            self.decode_anomaly(ts, Some(p), e);
        }
        let L4::Fragment(frag) = p.l4 else {
            self.flow_packet(ts, 1, u64::from(wire_len), p, false);
            return;
        };
        self.fragment(ts, wire_len, p, &frag);
    }

    /// A fragment: held until its datagram is whole, which is then handled
    /// as a packet of its own.
    #[inline(never)]
    fn fragment(&mut self, ts: Timestamp, wire_len: u32, p: &Packet<'_>, frag: &Fragment<'_>) {
        let mut buf = std::mem::take(&mut self.defrag_buf);
        let mut events = std::mem::take(&mut self.frag_events);
        let outcome = self.defrag.insert(
            ts,
            p.src,
            p.dst,
            p.vlan,
            frag,
            wire_len,
            &mut buf,
            &mut events,
        );
        for e in events.drain(..) {
            self.decode_anomaly(ts, Some(p), e);
        }
        if let Outcome::Complete {
            proto,
            frames,
            wire_bytes,
        } = outcome
        {
            match decode_reassembled(p.src.is_ipv6(), proto, &buf) {
                // A tunnel's outer packet, whole again: what it carries is
                // decoded now, and its carriers and inner packet handled here.
                Ok(l4) if decap::carries(&self.cfg.decoder, &Packet { l4, ..*p }) => {
                    let whole = Packet {
                        l4,
                        l4_bytes: &buf,
                        l4_len: buf.len() as u32,
                        ..*p
                    };
                    let inner = decap::resume(&self.cfg.decoder, whole, &mut self.decap);
                    let len = u32::try_from(wire_bytes).unwrap_or(u32::MAX);
                    self.carrier_flows(ts, u64::from(frames), len, 0);
                    self.decoded(ts, len, 0, inner);
                }
                Ok(l4) => {
                    let whole = Packet {
                        l4,
                        l4_bytes: &buf,
                        l4_len: buf.len() as u32,
                        ..*p
                    };
                    self.flow_packet(ts, u64::from(frames), wire_bytes, &whole, false);
                }
                Err(e) => {
                    self.counters.invalid += 1;
                    self.decode_anomaly(ts, Some(p), e);
                }
            }
        }
        self.defrag_buf = buf;
        self.frag_events = events;
    }

    /// A packet (or reassembled datagram of `frames` fragments) that belongs
    /// to a flow. A `carrier` is a tunnel's outer packet: counted, not parsed.
    fn flow_packet(
        &mut self,
        ts: Timestamp,
        frames: u64,
        wire_bytes: u64,
        p: &Packet<'_>,
        carrier: bool,
    ) {
        let c = &mut self.counters;
        match p.l4 {
            _ if carrier => {}
            L4::Tcp(_) => c.tcp += 1,
            L4::Udp(_) => c.udp += 1,
            L4::Icmp(i) if i.v6 => c.icmpv6 += 1,
            L4::Icmp(_) => c.icmpv4 += 1,
            _ => {}
        }
        if self.checksums && !checksum::ip_header_ok(p) {
            // No host takes it: not even a flow packet.
            self.counters.bad_checksum_ipv4 += 1;
            return;
        }
        if !carrier && self.icmp_error_of_flow(ts, frames, wire_bytes, p) {
            return;
        }
        let (key, side) = FlowKey::of(p);
        let mut fref = self.flows.get(&key, ts, &mut self.ended);
        if let (Some(r), L4::Tcp(t)) = (fref, &p.l4)
            && t.flags.syn()
            && !t.flags.ack()
            && self.flows.flow_mut(r).meta.state == State::Closed
        {
            // A new connection on a closed connection's 4-tuple.
            if let Some(old) = self.flows.remove(r) {
                self.ended.push((old, EndReason::TcpReuse));
            }
            fref = None;
        }
        let fref = match fref {
            Some(r) => r,
            None => self.new_flow(key, side, ts, p),
        };
        let flow = self.flows.flow_mut(fref);
        let Flow { meta, tcp, app } = flow;
        let dir = meta.direction(side);
        meta.pkts[dir.index()] += frames;
        meta.bytes[dir.index()] += wire_bytes;
        if let (L4::Icmp(i), Direction::ToClient, None) = (&p.l4, dir, meta.icmp_reply) {
            meta.icmp_reply = Some((i.icmp_type, i.code));
        }
        if ts > meta.last {
            meta.last = ts;
        }
        let flow_id = if self.tap.is_some() {
            meta.flow_id()
        } else {
            0
        };
        let cx = Cx {
            meta,
            ts,
            out: &mut self.out,
            det: &self.det,
            cfg: &self.cfg,
            stats: &mut self.app_stats,
            flow_end: false,
        };
        // The receiver drops a segment or datagram with a bad checksum, so
        // must the sensor: its bytes would be an insertion. (It still counts
        // in the flow's packets, as Suricata's do.) Only what can change what
        // is parsed is summed: bulk data of a stream no longer delivered is not.
        let bad = |counters: &mut WorkerCounters, matters: bool| {
            let bad = self.checksums && matters && checksum::transport(p) == Verdict::BadL4;
            if bad {
                match p.l4 {
                    L4::Tcp(_) => counters.tcp_stats.invalid_checksum += 1,
                    L4::Udp(_) => counters.bad_checksum_udp += 1,
                    _ => counters.bad_checksum_icmp += 1,
                }
            }
            bad
        };
        match (&p.l4, tcp.as_mut()) {
            (L4::Tcp(t), Some(sess)) if bad(&mut self.counters, sess.matters(dir, t)) => {}
            (L4::Udp(u), _)
                if bad(
                    &mut self.counters,
                    u.sport == 123
                        || u.dport == 123
                        || self.amp.classify(u.sport, u.dport).is_some(),
                ) => {}
            (L4::Tcp(t), Some(sess)) => {
                let mut ctx = Ctx {
                    cfg: &self.cfg.stream,
                    mem: &mut self.mem,
                    stats: &mut self.counters.tcp_stats,
                };
                let mut sink = StreamSink {
                    flow_id,
                    app: &mut *app,
                    cx,
                    events: &mut self.stream_events,
                    tap: self.tap.as_mut(),
                };
                sess.segment(dir, t, p.ttl, &mut ctx, &mut sink);
                let mut cx = sink.cx;
                if let Some(a) = app.as_mut() {
                    // A flow nothing will parse stops being reassembled,
                    // unless a tap wants the streams themselves.
                    if a.take_stop() && self.tap.is_none() {
                        sess.stop(&mut self.mem);
                    }
                    if let Some(proto) = a.take_detected() {
                        let depth = self
                            .cfg
                            .app_depth
                            .iter()
                            .find(|(p, _)| *p == proto)
                            .map(|(_, d)| *d);
                        if let Some(d) = depth {
                            sess.set_depth(d);
                        }
                    }
                }
                if t.flags.syn() && !t.flags.ack() {
                    if self.det.is_sweep_port(t.dport) {
                        sweep(&mut cx, p, t.dport);
                    }
                    // While an IRC bot's command waits for its reaction,
                    // new connections are what it may do (9700053).
                    if self.det.irc_watching(ts) {
                        self.det.irc_connection(p.src, p.dst, t.dport, ts);
                    }
                }
            }
            (L4::Udp(u), _) => {
                let mut cx = cx;
                if !carrier {
                    udp::datagram(&mut cx, app, &mut self.amp, p, u);
                }
                // Data none of the parsers took: detection ran and failed,
                // which Suricata writes as app_proto "failed" (a tunnel's
                // carrier flow included: its decoder is not an app-layer).
                if cx.meta.app_proto.is_none() && (carrier || !u.payload.is_empty()) {
                    cx.meta.app_proto = Some("failed");
                }
            }
            _ => {}
        }
        let flow = self.flows.flow_mut(fref);
        flow.update_state();
        let class = flow.meta.class();
        let heap = flow.heap_bytes();
        self.flows.touch(fref, class, ts);
        self.flows.account(fref, heap, &mut self.ended);
        self.account_app(fref, ts);
        if !self.stream_events.is_empty() {
            let events = std::mem::take(&mut self.stream_events);
            let meta = &self.flows.flow_mut(fref).meta;
            write_stream_events(
                &mut self.out,
                &mut self.counters,
                &self.cfg,
                meta,
                ts,
                &events,
            );
            self.stream_events = events;
            self.stream_events.clear();
        }
        self.process_ended();
    }

    /// Charges the flow's application-layer memory to the app memcap.
    /// Past it, the longest-idle flows end (their transactions are logged
    /// and inspected on the way out) to make room; if that is not enough,
    /// this flow's parsing stops, which is an anomaly of its own.
    fn account_app(&mut self, fref: FlowRef, ts: Timestamp) {
        let flow = self.flows.flow_mut(fref);
        let Some(app) = flow.app.as_mut() else {
            return;
        };
        if !app.take_changed() {
            return;
        }
        let now = app.memuse();
        let before = app.charged;
        if now <= before {
            self.app_mem.give(before - now);
            app.charged = now;
            return;
        }
        let more = now - before;
        let mut tries = 0;
        while !self.app_mem.try_take(more) {
            tries += 1;
            if tries > 8 || !self.flows.evict_other(fref, &mut self.ended) {
                let flow = self.flows.flow_mut(fref);
                let Flow { meta, app, .. } = flow;
                if let Some(a) = app.as_mut() {
                    let mut cx = Cx {
                        meta,
                        ts,
                        out: &mut self.out,
                        det: &self.det,
                        cfg: &self.cfg,
                        stats: &mut self.app_stats,
                        flow_end: false,
                    };
                    a.memcap_stop(&mut cx);
                    let left = a.memuse();
                    self.app_mem.give(a.charged.saturating_sub(left));
                    a.charged = left.min(a.charged);
                }
                if let Some(sess) = flow.tcp.as_mut() {
                    sess.stop(&mut self.mem);
                }
                self.app_stats.memcap_stops += 1;
                return;
            }
        }
        if let Some(a) = self.flows.flow_mut(fref).app.as_mut() {
            a.charged = now;
        }
    }

    /// An ICMPv4 destination unreachable about a TCP or UDP packet of a
    /// flow being tracked is counted in that flow, as Suricata counts it
    /// (flow-hash.c, `ICMPV4_DEST_UNREACH_IS_VALID`): towards the client
    /// unless the client sent it. True when it was.
    fn icmp_error_of_flow(
        &mut self,
        ts: Timestamp,
        frames: u64,
        wire_bytes: u64,
        p: &Packet<'_>,
    ) -> bool {
        let L4::Icmp(i) = p.l4 else {
            return false;
        };
        if i.v6 || i.icmp_type != 3 {
            return false;
        }
        let Some((src, dst, proto)) = embedded_ipv4_ports(i.payload) else {
            return false;
        };
        let (mut key, _) = FlowKey::from_endpoints(src, dst, proto, p.vlan);
        key.tunnel = p.tunnel;
        let Some(fref) = self.flows.get(&key, ts, &mut self.ended) else {
            return false;
        };
        let meta = &mut self.flows.flow_mut(fref).meta;
        let dir = if p.src == meta.client().addr {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        meta.pkts[dir.index()] += frames;
        meta.bytes[dir.index()] += wire_bytes;
        if ts > meta.last {
            meta.last = ts;
        }
        let class = meta.class();
        self.flows.touch(fref, class, ts);
        true
    }

    fn new_flow(&mut self, key: FlowKey, side: Side, ts: Timestamp, p: &Packet<'_>) -> FlowRef {
        // The client is the SYN's sender; a SYN-ACK's receiver; otherwise
        // whoever spoke first.
        let client = match p.l4 {
            L4::Tcp(t) if t.flags.syn() && t.flags.ack() => side.other(),
            // Picked up midstream with the server's packet first (from a
            // privileged port to an ephemeral one): the flow is the other
            // side's, as Suricata ends up with once it sees the protocol
            // run the other way (its "stream swap").
            L4::Tcp(t) if !t.flags.syn() && t.sport < 1024 && t.dport >= 1024 => side.other(),
            // A DNS response first (its query not seen): the flow is the
            // querier's, as Suricata turns it round.
            L4::Udp(u)
                if u.sport == 53
                    && u.dport != 53
                    && u.payload.len() >= 12
                    && u.payload[2] & 0x80 != 0 =>
            {
                side.other()
            }
            _ => side,
        };
        let icmp = match p.l4 {
            L4::Icmp(i) => Some((i.icmp_type, i.code)),
            _ => None,
        };
        let c = &mut self.counters;
        c.flow_total += 1;
        match key.proto {
            6 => {
                c.flow_tcp += 1;
                c.tcp_stats.sessions += 1;
            }
            17 => c.flow_udp += 1,
            1 => c.flow_icmpv4 += 1,
            58 => c.flow_icmpv6 += 1,
            _ => {}
        }
        let tcp = (key.proto == 6).then(|| {
            // Each direction's bytes are taken as its receiver's stack does.
            let server = key.endpoint(client.other()).addr;
            let client = key.endpoint(client).addr;
            Box::new(TcpSession::new([
                self.cfg.policy_of(server),
                self.cfg.policy_of(client),
            ]))
        });
        let mut flow = Flow::new(key, client, ts, icmp, self.cfg.community_id_seed, tcp);
        flow.meta.tunnel = FlowTunnel::of(p, self.decap.outers().first()).map(Box::new);
        let class = flow.meta.class();
        self.flows.insert(class, ts, flow, &mut self.ended)
    }

    /// Counts and logs a decoder event about `p`, or (when decoding stopped
    /// before an IP packet) about the last outer packet decoded.
    fn decode_anomaly(&mut self, ts: Timestamp, p: Option<&Packet<'_>>, e: DecodeEvent) {
        self.counters.decode_events[e as usize] += 1;
        if !(self.cfg.anomaly.decode && self.cfg.logs(EventType::Anomaly)) {
            return;
        }
        self.counters.anomalies += 1;
        let mut header = Header::new(EveTime(ts), EventType::Anomaly);
        let outers = self.decap.outers();
        let root = outers.first();
        let last = outers.last();
        let obj;
        header.pkt_src = Some("wire/pcap");
        if let Some(p) = p {
            header.vlan = Vlan(p.vlan, p.vlan_layers.min(2));
            header.src_ip = Some(p.src);
            header.dest_ip = Some(p.dst);
            header.ip_v = Some(if p.src.is_ipv4() { 4 } else { 6 });
            header.proto = Some(proto_name(p.l4.proto()));
            if let L4::Tcp(_) | L4::Udp(_) = p.l4 {
                let (sp, dp) = p.l4.ports();
                header.src_port = Some(sp);
                header.dest_port = Some(dp);
            }
            header.pkt_src = Some(p.pkt_src.as_str());
            obj = root.filter(|_| p.depth > 0).map(|r| tunnel_obj(r, p.depth));
        } else if let Some(o) = last {
            header.vlan = Vlan(o.vlan, o.vlan_layers.min(2));
            header.src_ip = Some(o.src);
            header.dest_ip = Some(o.dst);
            header.ip_v = Some(if o.src.is_ipv4() { 4 } else { 6 });
            header.proto = Some(proto_name(o.proto));
            if matches!(o.proto, 6 | 17) {
                header.src_port = Some(o.sport);
                header.dest_port = Some(o.dport);
            }
            header.pkt_src = Some(o.pkt_src.as_str());
            obj = root.filter(|_| o.depth > 0).map(|r| tunnel_obj(r, o.depth));
        } else {
            obj = None;
        }
        header.tunnel = obj.as_ref();
        self.out.push(&Record {
            header,
            body: AnomalyBody {
                anomaly: AnomalyObj {
                    app_proto: None,
                    kind: "decode",
                    event: e.anomaly_name(),
                    layer: None,
                },
            },
        });
    }

    /// Advances the clock to `now` (end of a batch, or a tick from the
    /// capture thread), evaluates amplification, and ends timed-out flows.
    pub fn advance(&mut self, now: Timestamp) {
        if now > self.clock {
            self.clock = now;
        }
        udp::evaluate(self, false);
        self.storm_summaries(false);
        ntp::write_summaries(&self.det, &self.cfg, self.clock, false, &mut self.out);
        self.flows.expire(self.clock, &mut self.ended);
        self.defrag.expire(self.clock);
        self.process_ended();
    }

    /// The last verdicts before the flows end: amplification's open
    /// windows. (The alert-storm windows are shared by all workers: they
    /// are closed once every worker is done, see [`storm_summaries`].)
    pub fn conclude(&mut self) {
        udp::evaluate(self, true);
    }

    /// Ends up to [`END_BATCH`] flows with `reason`; true when more remain.
    /// Call [`conclude`](Self::conclude) first and take the output between
    /// calls, so a table of a million flows leaves in batches.
    pub fn end_some(&mut self, reason: EndReason) -> bool {
        let more = self.flows.drain_some(reason, END_BATCH, &mut self.ended);
        self.process_ended();
        more
    }

    /// Ends every flow (end of input, shutdown, or time running backwards
    /// between capture files).
    pub fn end_all(&mut self, reason: EndReason) {
        self.conclude();
        while self.end_some(reason) {}
    }

    /// Forgets the clock, for input whose time starts over.
    pub fn reset_clock(&mut self) {
        self.clock = Timestamp::default();
    }

    /// Writes a 9700090 summary for each signature whose alerts were held
    /// back by its ceiling in a window that is now over.
    fn storm_summaries(&mut self, last: bool) {
        self.app_stats.alerts +=
            storm_summaries(&self.det, &self.cfg, self.clock, last, &mut self.out);
    }

    fn process_ended(&mut self) {
        while let Some((mut flow, reason)) = self.ended.pop() {
            self.end_flow(&mut flow, reason);
        }
    }

    fn end_flow(&mut self, flow: &mut Flow, reason: EndReason) {
        let ts = flow.meta.last;
        let flow_id = flow.meta.flow_id();
        let Flow { meta, tcp, app } = flow;
        let mut cx = Cx {
            meta,
            ts,
            out: &mut self.out,
            det: &self.det,
            cfg: &self.cfg,
            stats: &mut self.app_stats,
            flow_end: true,
        };
        if let Some(sess) = tcp.as_mut() {
            let mut ctx = Ctx {
                cfg: &self.cfg.stream,
                mem: &mut self.mem,
                stats: &mut self.counters.tcp_stats,
            };
            let mut sink = StreamSink {
                flow_id,
                app: &mut *app,
                cx,
                events: &mut self.stream_events,
                tap: self.tap.as_mut(),
            };
            sess.finish(&mut ctx, &mut sink);
            cx = sink.cx;
            sess.release(&mut self.mem);
        }
        if let Some(a) = app.as_mut() {
            a.finish(&mut cx);
            self.app_mem.give(a.charged);
        }
        // Holes found while flushing the flow are reported like any other.
        let events = std::mem::take(&mut self.stream_events);
        write_stream_events(
            &mut self.out,
            &mut self.counters,
            &self.cfg,
            &flow.meta,
            ts,
            &events,
        );
        self.stream_events = events;
        self.stream_events.clear();
        let c = &mut self.counters;
        match reason {
            EndReason::Timeout => c.flow_timeout += 1,
            EndReason::Forced => c.flow_evicted += 1,
            EndReason::TcpReuse => c.flow_tcp_reuse += 1,
            EndReason::Shutdown => {}
        }
        match flow.meta.state {
            State::New => c.flow_end_new += 1,
            State::Established => c.flow_end_established += 1,
            State::Closed => c.flow_end_closed += 1,
        }
        if self.cfg.logs(EventType::Flow) {
            write_flow_record(&mut self.out, flow, reason);
        }
    }
}

/// Writes what the workers' shared windows hold once every worker is done
/// (end of input): the victim-level reflection verdicts still due
/// (9700035), the NTP unanswered-request summaries and the alert-storm
/// summaries (9700090, last: they count what the others held back).
/// Returns the number of alerts written.
pub fn closing_summaries(
    det: &Detector,
    cfg: &EngineConfig,
    now: Timestamp,
    out: &mut EveBatch,
) -> u64 {
    let mut n = 0;
    for f in det.conclude_floods() {
        n += u64::from(udp::write_flood_alert(det, cfg, &f, out));
    }
    ntp::write_summaries(det, cfg, now, true, out);
    n + storm_summaries(det, cfg, now, true, out)
}

/// Writes a 9700090 summary into `out` for each signature whose alerts were
/// held back by its ceiling in a window over at `now` (every window when
/// `last`: only once all workers are done, as the windows are shared).
/// Returns the number of summaries.
pub fn storm_summaries(
    det: &Detector,
    cfg: &EngineConfig,
    now: Timestamp,
    last: bool,
    out: &mut EveBatch,
) -> u64 {
    let due = det.shared.limits.due_summaries(now, last);
    let Some(a) = det
        .alert(fumidai_detect::catalog::ALERT_STORM)
        .filter(|_| !due.is_empty())
    else {
        return 0;
    };
    let n = due.len() as u64;
    for s in due {
        if !cfg.logs(EventType::Alert) {
            continue;
        }
        let mut header = Header::new(EveTime(s.last), EventType::Alert);
        header.pkt_src = Some("wire/pcap");
        out.push(&Record {
            header,
            body: StormAlert {
                alert: cx::alert_obj(&a),
                fumidai: FumidaiObj {
                    storm: Some(StormObj {
                        signature_id: s.sid,
                        suppressed: s.suppressed,
                        allowed: s.allowed,
                        window_s: s.window_s,
                        first: EveTime(s.first),
                        last: EveTime(s.last),
                        sources: s.sources,
                        destinations: s.destinations,
                    }),
                    ..FumidaiObj::default()
                },
            },
        });
    }
    n
}

/// Writes the stream anomalies reassembly reported for a flow.
fn write_stream_events(
    out: &mut EveBatch,
    counters: &mut WorkerCounters,
    cfg: &EngineConfig,
    meta: &meta::Meta,
    ts: Timestamp,
    events: &[(Direction, StreamEvent)],
) {
    if !(cfg.anomaly.stream && cfg.logs(EventType::Anomaly)) {
        return;
    }
    for (_, e) in events {
        out.push(&Record {
            header: meta.header(ts, EventType::Anomaly),
            body: AnomalyBody {
                anomaly: AnomalyObj {
                    app_proto: None,
                    kind: "stream",
                    event: e.name().to_owned(),
                    layer: None,
                },
            },
        });
        counters.anomalies += 1;
    }
}

/// A SYN to a proxy port: counts toward a sweep by its source.
fn sweep(cx: &mut Cx<'_>, p: &Packet<'_>, port: u16) {
    if let Some((sid, hosts)) = cx.det.sweep_probe(p.src, p.dst, cx.ts) {
        let ev = SweepEvidence {
            fumidai: FumidaiObj {
                sweep: Some(SweepObj {
                    hosts,
                    port,
                    window_s: cx.det.conf.sweep.window,
                }),
                ..FumidaiObj::default()
            },
        };
        cx.alert(sid, None, &ev);
    }
}

/// The endpoints and protocol of the TCP or UDP packet an ICMPv4 error
/// quotes (its IPv4 header and at least the ports), sender first.
fn embedded_ipv4_ports(b: &[u8]) -> Option<(Endpoint, Endpoint, u8)> {
    let first = *b.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return None;
    }
    let proto = *b.get(9)?;
    if !matches!(proto, 6 | 17) {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(IpAddr::from(a))
    };
    let port = |at: usize| -> Option<u16> {
        let p: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u16::from_be_bytes(p))
    };
    let src = Endpoint {
        addr: addr(12)?,
        port: port(ihl)?,
    };
    let dst = Endpoint {
        addr: addr(16)?,
        port: port(ihl + 2)?,
    };
    Some((src, dst, proto))
}
