//! What every record about a flow needs: its identity, endpoints, state and
//! counters. The application layer writes through it (see `cx`) without
//! knowing the flow that holds it, so the two do not depend on each other.

use std::hash::{BuildHasher, Hash, Hasher};

use fumidai_eve::{ChainLink, EveTime, EventType, Header, Vlan, mask_flow_id, proto_name};
use fumidai_flow::Class;
use fumidai_proto::Direction;
use fumidai_wire::PktSrc;
use fumidai_wire::community_id::{CommunityId, community_id};
use fumidai_wire::{Endpoint, FlowKey, Side, Timestamp};

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

/// A flow's identity, endpoints, state and counters.
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
    /// Which endpoint of the key is the client.
    pub client: Side,
    pub state: State,
    pub alerted: bool,
    /// ICMP type and code of the first packet: ICMP's "ports" for Community ID.
    pub icmp: Option<(u8, u8)>,
    /// ICMP type and code of the first packet the other way (Suricata's
    /// `response_icmp_type`/`_code`).
    pub icmp_reply: Option<(u8, u8)>,
    /// The Community ID seed.
    pub seed: u16,
    /// The encapsulation the flow's first packet arrived in (boxed: most
    /// flows have none).
    pub tunnel: Option<Box<FlowTunnel>>,
    /// Once a proxy tunnel opened on the connection: its hops (boxed:
    /// most flows have none).
    pub tunnel_chain: Option<Box<HopChain>>,
}

/// The proxy hops (HTTP CONNECT, SOCKS) opened on a connection.
#[derive(Debug)]
pub struct HopChain {
    /// The protocol the connection began with (Suricata's `app_proto_orig`).
    pub orig: &'static str,
    /// Outermost first: what `tunnel_chain` says on the records.
    pub links: Vec<ChainLink>,
}

/// The seed for flow ids: fixed so that the same capture gives the same ids
/// in every run and with any number of workers.
const FLOW_ID_SEED: u64 = 0x6675_6d69_6461_6921;

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
        h.tunnel_chain = self.tunnel_chain.as_deref().map(|c| c.links.as_slice());
        h
    }

    /// `pkt_src` of the flow's records.
    pub fn pkt_src(&self) -> &'static str {
        self.tunnel
            .as_ref()
            .map_or(PktSrc::Wire.as_str(), |t| t.pkt_src)
    }
}
