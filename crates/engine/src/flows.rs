//! A flow as the engine keeps it, and its `flow` EVE record.

use std::hash::{BuildHasher, Hash, Hasher};

use fumidai_eve::objects::{FlowObj, TcpObj};
use fumidai_eve::{EveBatch, EveTime, EventType, Header, Record, Vlan, mask_flow_id, proto_name};
use fumidai_flow::table::TableEntry;
use fumidai_flow::{Class, EndReason, TcpSession, TcpState};
use fumidai_proto::Direction;
use fumidai_wire::community_id::{CommunityId, community_id};
use fumidai_wire::{Endpoint, FlowKey, Side, Timestamp};
use serde::Serialize;

use crate::app::App;
use crate::tunnel::FlowTunnel;

/// Suricata's coarse flow state, as written in `flow.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    New,
    Established,
    Closed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Established => "established",
            State::Closed => "closed",
        }
    }
}

/// What every record about a flow needs: identity, endpoints, counters.
/// Kept small: a flood of one-packet flows costs a table slot each, so the
/// flow id and Community ID are derived when a record is written rather
/// than stored.
#[derive(Debug)]
pub struct Meta {
    pub key: FlowKey,
    pub start: Timestamp,
    pub last: Timestamp,
    /// Indexed by [`Direction::index`].
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    /// The application protocol (for a tunnel, the one inside it).
    pub app_proto: Option<&'static str>,
    /// For a tunnel, the protocol that opened it (Suricata's `app_proto_orig`).
    pub app_proto_orig: Option<&'static str>,
    /// Which endpoint of the key is the client.
    pub client: Side,
    pub state: State,
    pub alerted: bool,
    /// ICMP type and code of the first packet: ICMP's "ports" for Community ID.
    pub icmp: Option<(u8, u8)>,
    /// The Community ID seed.
    pub seed: u16,
    /// The encapsulation the flow's first packet arrived in (boxed: most
    /// flows have none).
    pub tunnel: Option<Box<FlowTunnel>>,
}

/// One flow. A TCP flow's session is a few dozen bytes until data arrives
/// (its buffers come with the first payload); the application layer is
/// allocated with the first payload too. Both are boxed so that a UDP or
/// ICMP flow pays for neither.
#[derive(Debug)]
pub struct Flow {
    pub meta: Meta,
    pub tcp: Option<Box<TcpSession>>,
    pub app: Option<Box<App>>,
}

impl TableEntry for Flow {
    fn key(&self) -> &FlowKey {
        &self.meta.key
    }
}

/// The seed for flow ids: fixed so that the same capture gives the same ids
/// in every run and with any number of workers.
const FLOW_ID_SEED: u64 = 0x6675_6d69_6461_6921;

impl Flow {
    /// A flow; `tcp` is its session for TCP (with the receivers' overlap
    /// policies), `None` otherwise.
    pub fn new(
        key: FlowKey,
        client: Side,
        start: Timestamp,
        icmp: Option<(u8, u8)>,
        seed: u16,
        tcp: Option<Box<TcpSession>>,
    ) -> Self {
        Flow {
            meta: Meta {
                key,
                client,
                start,
                last: start,
                pkts: [0; 2],
                bytes: [0; 2],
                state: State::New,
                icmp,
                alerted: false,
                seed,
                app_proto: None,
                app_proto_orig: None,
                tunnel: None,
            },
            tcp,
            app: None,
        }
    }

    /// The application layer, allocated on first use.
    pub fn app(&mut self) -> &mut App {
        self.app.get_or_insert_with(Box::default)
    }

    /// Heap bytes the flow owns outside the reassembly and application
    /// memcaps (the flow table's accounting).
    pub fn heap_bytes(&self) -> usize {
        self.tcp
            .as_ref()
            .map_or(0, |t| std::mem::size_of::<TcpSession>() + t.heap_bytes())
            + self.app.as_ref().map_or(0, |_| std::mem::size_of::<App>())
            + self
                .meta
                .tunnel
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<FlowTunnel>())
    }

    /// Updates `state` from the TCP session, or from having seen both
    /// directions for other protocols.
    pub fn update_state(&mut self) {
        self.meta.state = match &self.tcp {
            Some(t) => match t.state {
                TcpState::None | TcpState::SynSent | TcpState::SynRecv => State::New,
                TcpState::Established | TcpState::FinWait1 => State::Established,
                TcpState::Closed => State::Closed,
            },
            None if self.meta.pkts[1] > 0 && self.meta.pkts[0] > 0 => State::Established,
            None => State::New,
        };
    }
}

impl Meta {
    /// The flow id: a hash of the key and the start, so the same capture
    /// gives the same ids in every run and with any number of workers; the
    /// sensor's name is mixed in, so two sensors' ids for one flow differ.
    pub fn flow_id(&self) -> u64 {
        let seed = FLOW_ID_SEED ^ fumidai_eve::identity::flow_id_salt();
        let mut h = foldhash::fast::FixedState::with_seed(seed).build_hasher();
        self.key.hash(&mut h);
        self.start.hash(&mut h);
        mask_flow_id(h.finish())
    }

    /// The flow's Community ID, client to server.
    pub fn community_id(&self) -> CommunityId {
        let (mut a, mut b) = (self.client(), self.server());
        if let Some((t, c)) = self.icmp {
            a.port = u16::from(t);
            b.port = u16::from(c);
        }
        community_id(self.seed, a, b, self.key.proto)
    }

    /// The direction of a packet sent by `side`.
    pub fn direction(&self, side: Side) -> Direction {
        if side == self.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    pub fn client(&self) -> Endpoint {
        self.key.endpoint(self.client)
    }

    pub fn server(&self) -> Endpoint {
        self.key.endpoint(self.client.other())
    }

    /// The timeout class for the flow's current state.
    pub fn class(&self) -> Class {
        match (self.key.proto, self.state) {
            (6, State::New) => Class::TcpNew,
            (6, State::Established) => Class::TcpEstablished,
            (6, State::Closed) => Class::TcpClosed,
            (17, State::New) => Class::UdpNew,
            (17, _) => Class::UdpEstablished,
            (1 | 58, State::New) => Class::IcmpNew,
            (1 | 58, _) => Class::IcmpEstablished,
            (_, State::New) => Class::OtherNew,
            (_, _) => Class::OtherEstablished,
        }
    }

    /// A header for a record about this flow, client to server.
    pub fn header(&self, ts: Timestamp, event_type: EventType) -> Header<'_> {
        let mut h = Header::new(EveTime(ts), event_type);
        let (c, s) = (self.client(), self.server());
        h.flow_id = Some(self.flow_id());
        h.vlan = Vlan(
            self.key.vlan,
            self.key.vlan.iter().filter(|v| **v != 0).count() as u8,
        );
        h.src_ip = Some(c.addr);
        h.dest_ip = Some(s.addr);
        h.ip_v = Some(if c.addr.is_ipv4() { 4 } else { 6 });
        h.proto = Some(proto_name(self.key.proto));
        h.tunnel = self.tunnel.as_ref().map(|t| &t.obj);
        match self.icmp {
            Some((t, code)) => {
                h.icmp_type = Some(t);
                h.icmp_code = Some(code);
            }
            None if matches!(self.key.proto, 6 | 17 | 132) => {
                h.src_port = Some(c.port);
                h.dest_port = Some(s.port);
            }
            None => {}
        }
        h.community_id = Some(self.community_id());
        h.app_proto = self.app_proto;
        h
    }
}

#[derive(Serialize)]
struct FlowBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    app_proto_orig: Option<&'static str>,
    flow: FlowObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpObj>,
}

/// Writes the `flow` record of a flow that ended for `reason`. Its time is
/// the flow's last packet: the same whichever sweep noticed the timeout.
pub fn write_flow_record(out: &mut EveBatch, flow: &Flow, reason: EndReason) {
    let m = &flow.meta;
    let body = FlowBody {
        app_proto_orig: m.app_proto_orig,
        flow: FlowObj {
            pkts_toserver: m.pkts[0],
            pkts_toclient: m.pkts[1],
            bytes_toserver: m.bytes[0],
            bytes_toclient: m.bytes[1],
            start: EveTime(m.start),
            end: EveTime(m.last),
            age: m.last.secs().saturating_sub(m.start.secs()),
            state: m.state.as_str(),
            reason: reason.as_str(),
            alerted: m.alerted,
        },
        tcp: flow.tcp.as_ref().map(|t| {
            TcpObj::new(
                t.flags[0],
                t.flags[1],
                t.state.as_str(),
                t.had_gap(Direction::ToServer),
                t.had_gap(Direction::ToClient),
            )
        }),
    };
    out.push(&Record {
        header: m.header(m.last, EventType::Flow),
        body,
    });
}
#[cfg(test)]
mod tests {
    /// A flood of forged flows costs a table slot each (plus, for TCP, the
    /// session's small box): keep them small. The per-flow figures the
    /// benchmark measures (`scripts/bench.sh`) rest on these.
    #[test]
    fn a_flow_stays_small() {
        use std::mem::size_of;
        let slot = fumidai_flow::FlowTable::<super::Flow>::slot_bytes();
        assert!(slot <= 192, "table slot {slot} bytes");
        assert!(size_of::<fumidai_flow::TcpSession>() <= 96);
    }
}
