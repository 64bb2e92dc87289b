//! Decapsulation: the tunnels, remote-mirror encapsulations and link-layer
//! tags between a captured frame and the IP packet fumidai analyses.
//!
//! A sensor rarely sits on the switch it watches: its traffic arrives as
//! ERSPAN, VXLAN, Geneve or GRE from a remote mirror, and carrier links add
//! MPLS label stacks and PPPoE sessions. Each encapsulation is one file in
//! this module and only parses its own header; [`Walk`] below is the one
//! place that chains them, counts the layers against
//! `decoder.max_layers`, and collects what the engine needs: the inner
//! packet, the outer IP packets that carried it ([`Outer`]), the layers
//! peeled off ([`Encap`], for `stats.decoder.*`) and the anomalies met on
//! the way.
//!
//! Like the rest of this crate, nothing here copies packet bytes: every
//! layer is a view into the frame.

mod erspan;
mod etag;
mod geneve;
mod gre;
mod ipip;
mod mpls;
mod nsh;
mod ppp;
mod pppoe;
mod teredo;
mod vntag;
mod vxlan;

use std::net::IpAddr;

use crate::DecodeEvent;
use crate::decode::{Decoded, L4, Packet, decode_ip};
use crate::link::{self, L3, LinkType, Network};

/// UDP ports an encapsulation is recognised on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    len: u8,
    ports: [u16; Ports::MAX],
}

impl Ports {
    /// Most ports one encapsulation may be given (Suricata allows 4).
    pub const MAX: usize = 8;

    /// `None` when there are more than [`Ports::MAX`].
    pub fn new(list: &[u16]) -> Option<Self> {
        if list.len() > Self::MAX {
            return None;
        }
        let mut ports = [0; Self::MAX];
        ports[..list.len()].copy_from_slice(list);
        Some(Ports {
            len: list.len() as u8,
            ports,
        })
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ports[..usize::from(self.len)]
    }

    pub fn contains(&self, port: u16) -> bool {
        self.as_slice().contains(&port)
    }
}

/// Which encapsulations are decoded, and how deep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Headers one frame may have (link, VLAN tags, IP, tunnel headers...);
    /// beyond, the frame is `decoder.too_many_layers` and not analysed.
    pub max_layers: u8,
    /// GRE (IP protocol 47), versions 0 and 1.
    pub gre: bool,
    /// ERSPAN inside GRE (types II and III).
    pub erspan: bool,
    /// ERSPAN type I: GRE 0x88be without a sequence number and without any
    /// ERSPAN header, so nothing in it can be checked.
    pub erspan_type1: bool,
    /// VXLAN on these UDP destination ports (`None`: off).
    pub vxlan: Option<Ports>,
    /// Geneve on these UDP destination ports.
    pub geneve: Option<Ports>,
    /// Teredo on these UDP ports (either end).
    pub teredo: Option<Ports>,
    /// MPLS label stacks (EtherTypes 0x8847, 0x8848).
    pub mpls: bool,
    /// PPPoE (0x8864 sessions decoded, 0x8863 discovery counted).
    pub pppoe: bool,
    /// IPv4 and IPv6 inside IPv4 or IPv6 (protocols 4 and 41).
    pub ipip: bool,
    /// 802.1BR E-tags (0x893f).
    pub etag: bool,
    /// VN-tags (802.1Qbh, 0x8926).
    pub vntag: bool,
    /// Flow keys tell tunnels apart (depth and virtual network ids, see
    /// [`Packet::tunnel`]); off: inner 5-tuple and VLANs only.
    pub tunnel_keys: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_layers: 16,
            gre: true,
            erspan: true,
            erspan_type1: true,
            vxlan: Ports::new(&[4789]),
            geneve: Ports::new(&[6081]),
            teredo: Ports::new(&[3544]),
            mpls: true,
            pppoe: true,
            ipip: true,
            etag: true,
            vntag: true,
            tunnel_keys: true,
        }
    }
}

impl DecoderConfig {
    /// Whether an IP header says its packet may carry an encapsulation this
    /// configuration decodes: a glance at the protocol and UDP ports, for
    /// the capture thread, which must not decode every packet. `false` for
    /// fragments, whose payload cannot be looked into before reassembly.
    #[inline]
    pub fn may_carry(&self, ip: &[u8], v6: bool) -> bool {
        let (proto, l4) = if v6 {
            match ip.get(6) {
                Some(&nh) => (nh, 40),
                None => return false,
            }
        } else {
            let (Some(&vhl), Some(flags)) = (ip.first(), link::be16(ip, 6)) else {
                return false;
            };
            if flags & 0x3fff != 0 {
                return false;
            }
            match ip.get(9) {
                Some(&p) => (p, usize::from(vhl & 0x0f) * 4),
                None => return false,
            }
        };
        match proto {
            IPPROTO_IPIP | IPPROTO_IPV6 => self.ipip,
            IPPROTO_GRE => self.gre,
            IPPROTO_UDP => match (link::be16(ip, l4), link::be16(ip, l4 + 2)) {
                (Some(sport), Some(dport)) => self.udp_carries(sport, dport).is_some(),
                _ => false,
            },
            // IPv6 extension headers (but the fragment header): let the
            // decoder find what follows them.
            0 | 43 | 51 | 60 | 135 | 139 | 140 if v6 => true,
            _ => false,
        }
    }

    /// Whether frames of this EtherType hold an encapsulation to look into.
    pub fn decodes_ether_type(&self, ether_type: u16) -> bool {
        match ether_type {
            ETHERTYPE_MPLS_UC | ETHERTYPE_MPLS_MC => self.mpls,
            ETHERTYPE_PPPOE_SESSION => self.pppoe,
            ETHERTYPE_ETAG => self.etag,
            ETHERTYPE_VNTAG => self.vntag,
            // Suricata always decodes NSH; so does fumidai.
            ETHERTYPE_NSH => true,
            _ => false,
        }
    }

    fn udp_carries(&self, sport: u16, dport: u16) -> Option<Carried> {
        let on = |p: &Option<Ports>, port: u16| p.as_ref().is_some_and(|p| p.contains(port));
        if on(&self.vxlan, dport) {
            Some(Carried::Vxlan)
        } else if on(&self.geneve, dport) {
            Some(Carried::Geneve)
        } else if on(&self.teredo, dport) || on(&self.teredo, sport) {
            Some(Carried::Teredo)
        } else {
            None
        }
    }
}

pub(crate) const IPPROTO_IPIP: u8 = 4;
pub(crate) const IPPROTO_IPV6: u8 = 41;
pub(crate) const IPPROTO_GRE: u8 = 47;
const IPPROTO_UDP: u8 = 17;

pub(crate) const ETHERTYPE_TEB: u16 = 0x6558;
pub(crate) const ETHERTYPE_ERSPAN_2: u16 = 0x88be;
pub(crate) const ETHERTYPE_ERSPAN_3: u16 = 0x22eb;
pub(crate) const ETHERTYPE_PPP: u16 = 0x880b;
pub(crate) const ETHERTYPE_MPLS_UC: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
pub(crate) const ETHERTYPE_PPPOE_DISCOVERY: u16 = 0x8863;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_ETAG: u16 = 0x893f;
const ETHERTYPE_VNTAG: u16 = 0x8926;
const ETHERTYPE_NSH: u16 = 0x894f;

/// Whether a non-IP payload of this EtherType is a known one (counted in
/// its own layer's counter), rather than `decoder.unknown_ethertype`.
pub fn known_non_ip(ether_type: u16) -> bool {
    matches!(
        ether_type,
        link::ETHERTYPE_ARP | ETHERTYPE_PPPOE_DISCOVERY | ETHERTYPE_PPP
    )
}

/// What an Ethernet frame inside VXLAN is expected to carry; anything else
/// is Suricata's `vxlan.unknown_payload_type`. 802.3 frames (a length, not
/// a type: LLC, CDP, STP) are ordinary on a mirrored port.
fn known_inner_ether_type(t: u16) -> bool {
    t < 0x0600
        || matches!(
            t,
            link::ETHERTYPE_IPV4
                | link::ETHERTYPE_IPV6
                | link::ETHERTYPE_ARP
                | link::ETHERTYPE_VLAN
                | link::ETHERTYPE_QINQ
                | link::ETHERTYPE_QINQ_OLD
                | ETHERTYPE_MPLS_UC
                | ETHERTYPE_MPLS_MC
                | ETHERTYPE_PPPOE_DISCOVERY
                | ETHERTYPE_PPPOE_SESSION
                | ETHERTYPE_ETAG
                | ETHERTYPE_VNTAG
                | ETHERTYPE_NSH
        )
}

/// A layer peeled off, counted as `stats.decoder.<name>` under Suricata's
/// counter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encap {
    /// An Ethernet frame inside a tunnel (VXLAN, Geneve, ERSPAN, GRE
    /// bridging, an MPLS pseudowire).
    Ethernet,
    Gre,
    Erspan,
    Vxlan,
    Geneve,
    Teredo,
    Mpls,
    Pppoe,
    Ppp,
    Ipv4InIpv4,
    Ipv6InIpv4,
    Ipv4InIpv6,
    Ipv6InIpv6,
    Etag,
    Vntag,
    Nsh,
}

impl Encap {
    /// Every layer, in declaration order (`e as usize` indexes it).
    pub const ALL: [Encap; 16] = [
        Encap::Ethernet,
        Encap::Gre,
        Encap::Erspan,
        Encap::Vxlan,
        Encap::Geneve,
        Encap::Teredo,
        Encap::Mpls,
        Encap::Pppoe,
        Encap::Ppp,
        Encap::Ipv4InIpv4,
        Encap::Ipv6InIpv4,
        Encap::Ipv4InIpv6,
        Encap::Ipv6InIpv6,
        Encap::Etag,
        Encap::Vntag,
        Encap::Nsh,
    ];

    /// Suricata's counter, e.g. `decoder.vxlan`.
    pub fn counter_name(self) -> &'static str {
        match self {
            Encap::Ethernet => "decoder.ethernet",
            Encap::Gre => "decoder.gre",
            Encap::Erspan => "decoder.erspan",
            Encap::Vxlan => "decoder.vxlan",
            Encap::Geneve => "decoder.geneve",
            Encap::Teredo => "decoder.teredo",
            Encap::Mpls => "decoder.mpls",
            Encap::Pppoe => "decoder.pppoe",
            Encap::Ppp => "decoder.ppp",
            Encap::Ipv4InIpv4 => "decoder.ipv4_in_ipv4",
            Encap::Ipv6InIpv4 => "decoder.ipv6_in_ipv4",
            Encap::Ipv4InIpv6 => "decoder.ipv4_in_ipv6",
            Encap::Ipv6InIpv6 => "decoder.ipv6_in_ipv6",
            Encap::Etag => "decoder.etag",
            Encap::Vntag => "decoder.vntag",
            Encap::Nsh => "decoder.nsh",
        }
    }
}

/// Which decoder produced a packet: Suricata's `pkt_src`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PktSrc {
    /// Read from the capture (ERSPAN, MPLS, PPPoE and tags are decoded in
    /// place, as Suricata does, so their inner packets are still this).
    #[default]
    Wire,
    /// Found inside IPv4 (IP-in-IP, 6in4).
    Ipv4Tunnel,
    /// Found inside IPv6.
    Ipv6Tunnel,
    Gre,
    Teredo,
    Vxlan,
    Geneve,
}

impl PktSrc {
    /// As Suricata writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PktSrc::Wire => "wire/pcap",
            PktSrc::Ipv4Tunnel => "ipv4 tunnel",
            PktSrc::Ipv6Tunnel => "ipv6 tunnel",
            PktSrc::Gre => "gre tunnel",
            PktSrc::Teredo => "teredo tunnel",
            PktSrc::Vxlan => "vxlan encapsulation",
            PktSrc::Geneve => "geneve encapsulation",
        }
    }
}

/// An IP packet that carried the layers after it: a tunnel's outer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Its transport protocol (47 for GRE, 17 for UDP, 4 or 41).
    pub proto: u8,
    /// UDP ports, 0 for other protocols.
    pub sport: u16,
    pub dport: u16,
    /// A flow of its own, as Suricata tracks the outer packet of IP-in-IP,
    /// VXLAN, Geneve and Teredo. Not GRE's (ERSPAN mirror sessions
    /// included): Suricata keeps no flow for GRE packets.
    pub tracked: bool,
    /// Captured bytes of the packet, counted from where its decoder found
    /// it (0: the whole frame, for the outermost).
    pub len: u32,
    /// Its VLAN ids, depth, tunnel identity and source, for its own flow key.
    pub vlan: [u16; 2],
    pub vlan_layers: u8,
    pub depth: u8,
    pub tunnel: u64,
    pub pkt_src: PktSrc,
}

/// What decoding a frame met besides the inner packet. Kept by the caller
/// and reused, so the packet path allocates nothing once warm; each list is
/// bounded by `decoder.max_layers`.
#[derive(Debug, Default)]
pub struct Decap {
    encaps: Vec<Encap>,
    outers: Vec<Outer>,
    events: Vec<DecodeEvent>,
}

impl Decap {
    /// True for a frame that had no encapsulation (the common case).
    pub fn is_empty(&self) -> bool {
        self.encaps.is_empty() && self.outers.is_empty() && self.events.is_empty()
    }

    /// The layers peeled off, outermost first.
    pub fn encaps(&self) -> &[Encap] {
        &self.encaps
    }

    /// The outer IP packets, outermost first.
    pub fn outers(&self) -> &[Outer] {
        &self.outers
    }

    /// Anomalies that did not stop decoding (an unexpected MPLS label, an
    /// unknown payload inside VXLAN...).
    pub fn events(&self) -> &[DecodeEvent] {
        &self.events
    }

    fn clear(&mut self) {
        self.encaps.clear();
        self.outers.clear();
        self.events.clear();
    }
}

/// What follows a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next<'a> {
    /// An Ethernet II frame.
    Ether(&'a [u8]),
    /// The bytes after an EtherType field of this value.
    EtherType(u16, &'a [u8]),
    /// An IPv4 (`false`) or IPv6 (`true`) header.
    Ip(&'a [u8], bool),
    /// Not IP: counted under this EtherType, not decoded.
    NotIp(u16),
}

impl<'a> Next<'a> {
    fn after(l3: &L3<'a>) -> Self {
        match l3.network {
            Network::Ipv4 => Next::Ip(l3.bytes, false),
            Network::Ipv6 => Next::Ip(l3.bytes, true),
            Network::Other(t) => Next::EtherType(t, l3.bytes),
        }
    }

    /// IPv4 or IPv6 by the version nibble, for carriers that do not say
    /// (MPLS, ERSPAN type III); `None` when it is neither.
    pub(crate) fn guess_ip(b: &'a [u8]) -> Option<Self> {
        match b.first().map(|v| v >> 4) {
            Some(4) => Some(Next::Ip(b, false)),
            Some(6) => Some(Next::Ip(b, true)),
            _ => None,
        }
    }
}

/// The kinds of IP payload that are tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carried {
    Ipip { v6: bool },
    Gre,
    Vxlan,
    Geneve,
    Teredo,
}

/// What a tunnel's decoder found inside an outer IP packet.
pub(crate) struct Inside<'a> {
    pub next: Next<'a>,
    /// Captured bytes from the start of what the tunnel carries (Suricata's
    /// tunnel packet: the inner frame or packet, or for ERSPAN its header),
    /// which inner flows' byte counts are measured on.
    pub len: usize,
    /// Whether the outer packet is a flow of its own ([`Outer::tracked`]).
    pub tracked: bool,
    /// The inner packet's `pkt_src`; `None` keeps the outer's (decoded in place).
    pub src: Option<PktSrc>,
}

/// Tags mixed into [`Packet::tunnel`].
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum IdTag {
    Depth = 1,
    Vxlan = 2,
    Geneve = 3,
    ErspanSession = 4,
    PppoeSession = 5,
}

/// One frame's way in, layer by layer.
pub(crate) struct Walk<'c, 'd> {
    pub cfg: &'c DecoderConfig,
    d: &'d mut Decap,
    vlan: [u16; 2],
    vlans: u8,
    layers: u32,
    depth: u8,
    id: u64,
    pkt_src: PktSrc,
    /// Captured bytes of the innermost tunnel's payload (0: not tunnelled).
    tunnel_len: u32,
}

impl<'c, 'd> Walk<'c, 'd> {
    /// Counts one more header; an error beyond `decoder.max_layers`.
    pub fn layer(&mut self) -> Result<(), DecodeEvent> {
        self.layers += 1;
        if self.layers > u32::from(self.cfg.max_layers) {
            Err(DecodeEvent::TooManyLayers)
        } else {
            Ok(())
        }
    }

    /// Counts a layer under its `stats.decoder` name.
    pub fn encap(&mut self, e: Encap) {
        self.d.encaps.push(e);
    }

    /// Notes an anomaly that does not stop decoding.
    pub fn event(&mut self, e: DecodeEvent) {
        // Bounded: at most one per layer, and layers are bounded.
        if self.d.events.len() <= usize::from(self.cfg.max_layers) {
            self.d.events.push(e);
        }
    }

    /// Adds a VLAN id (outermost first, as Suricata accumulates them across
    /// tunnels); `too_many` beyond three.
    pub fn vlan(&mut self, id: u16, too_many: DecodeEvent) -> Result<(), DecodeEvent> {
        if self.vlans >= link::MAX_VLAN_LAYERS {
            return Err(too_many);
        }
        if let Some(slot) = self.vlan.get_mut(usize::from(self.vlans)) {
            *slot = id;
        }
        self.vlans += 1;
        Ok(())
    }

    /// Mixes a virtual network id (VNI, ERSPAN session, PPPoE session)
    /// into the tunnel identity of what follows.
    pub fn id(&mut self, tag: IdTag, value: u32) {
        let v = (u64::from(tag as u8) << 32) | u64::from(value);
        self.id = (self.id ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(31);
    }

    fn vlans_of(&mut self, l3: &L3<'_>) -> Result<(), DecodeEvent> {
        for i in 0..usize::from(l3.vlan_layers) {
            self.layer()?;
            self.vlan(
                l3.vlan.get(i).copied().unwrap_or(0),
                DecodeEvent::VlanTooManyLayers,
            )?;
        }
        Ok(())
    }

    fn run<'a>(&mut self, mut next: Next<'a>) -> Decoded<'a> {
        loop {
            let step = match next {
                Next::Ether(b) => self.ether(b),
                Next::EtherType(t, b) => self.ether_type(t, b),
                Next::Ip(b, v6) => match self.ip(b, v6) {
                    Ok(Ok(p)) => return Decoded::Ip(p),
                    Ok(Err(n)) => Ok(n),
                    Err(e) => Err(e),
                },
                Next::NotIp(t) => return Decoded::NotIp { ether_type: t },
            };
            match step {
                Ok(n) => next = n,
                Err(e) => return Decoded::Invalid(e),
            }
        }
    }

    fn ether<'a>(&mut self, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
        self.layer()?;
        self.encap(Encap::Ethernet);
        let l3 = link::locate(LinkType::Ethernet, b)?;
        self.vlans_of(&l3)?;
        Ok(Next::after(&l3))
    }

    fn ether_type<'a>(&mut self, t: u16, b: &'a [u8]) -> Result<Next<'a>, DecodeEvent> {
        Ok(match t {
            link::ETHERTYPE_IPV4 => Next::Ip(b, false),
            link::ETHERTYPE_IPV6 => Next::Ip(b, true),
            link::ETHERTYPE_VLAN | link::ETHERTYPE_QINQ | link::ETHERTYPE_QINQ_OLD => {
                let l3 = link::after_ether_type(t, b)?;
                self.vlans_of(&l3)?;
                Next::after(&l3)
            }
            ETHERTYPE_MPLS_UC | ETHERTYPE_MPLS_MC if self.cfg.mpls => {
                self.layer()?;
                mpls::decode(self, b)?
            }
            ETHERTYPE_PPPOE_SESSION if self.cfg.pppoe => {
                self.layer()?;
                pppoe::session(self, b)?
            }
            ETHERTYPE_PPPOE_DISCOVERY if self.cfg.pppoe => {
                self.layer()?;
                pppoe::discovery(self, b)?
            }
            ETHERTYPE_ETAG if self.cfg.etag => {
                self.layer()?;
                etag::decode(self, b)?
            }
            ETHERTYPE_VNTAG if self.cfg.vntag => {
                self.layer()?;
                vntag::decode(self, b)?
            }
            ETHERTYPE_NSH => {
                self.layer()?;
                nsh::decode(self, b)?
            }
            other => Next::NotIp(other),
        })
    }

    /// An IP packet: the innermost one (`Ok(Ok)`), or a tunnel's outer
    /// header with what it carries (`Ok(Err(next))`).
    #[allow(clippy::type_complexity)]
    fn ip<'a>(
        &mut self,
        b: &'a [u8],
        v6: bool,
    ) -> Result<Result<Packet<'a>, Next<'a>>, DecodeEvent> {
        self.layer()?;
        let p = decode_ip(b, v6, self.vlan, self.vlans)?;
        self.after_ip(p)
    }

    #[allow(clippy::type_complexity)]
    fn after_ip<'a>(&mut self, p: Packet<'a>) -> Result<Result<Packet<'a>, Next<'a>>, DecodeEvent> {
        let Some((carried, payload)) = self.carried(&p) else {
            return Ok(Ok(self.finish(p)));
        };
        let (sport, dport) = p.l4.ports();
        self.d.outers.push(Outer {
            src: p.src,
            dst: p.dst,
            proto: p.l4.proto(),
            sport,
            dport,
            tracked: false,
            vlan: self.vlan,
            vlan_layers: self.vlans,
            depth: self.depth,
            tunnel: self.tunnel_id(),
            pkt_src: self.pkt_src,
            len: self.tunnel_len,
        });
        self.layer()?;
        let outer_v6 = p.src.is_ipv6();
        let found = match carried {
            Carried::Ipip { v6 } => ipip::decode(self, outer_v6, v6, payload).map(Some),
            Carried::Gre => gre::decode(self, payload).map(Some),
            Carried::Vxlan => vxlan::decode(self, payload),
            Carried::Geneve => geneve::decode(self, payload),
            Carried::Teredo => teredo::decode(self, payload),
        };
        match found? {
            Some(inside) => {
                if let Some(o) = self.d.outers.last_mut() {
                    o.tracked = inside.tracked;
                }
                self.depth = self.depth.saturating_add(1);
                self.id(IdTag::Depth, 0);
                self.tunnel_len = u32::try_from(inside.len).unwrap_or(u32::MAX);
                if let Some(src) = inside.src {
                    self.pkt_src = src;
                }
                Ok(Err(inside.next))
            }
            // Not that encapsulation after all (a UDP packet on a VXLAN or
            // Teredo port that is not one): the outer packet is the packet.
            None => {
                self.d.outers.pop();
                self.layers -= 1;
                Ok(Ok(self.finish(p)))
            }
        }
    }

    fn carried<'a>(&self, p: &Packet<'a>) -> Option<(Carried, &'a [u8])> {
        match p.l4 {
            L4::Other {
                proto: IPPROTO_IPIP,
                payload,
            } if self.cfg.ipip => Some((Carried::Ipip { v6: false }, payload)),
            L4::Other {
                proto: IPPROTO_IPV6,
                payload,
            } if self.cfg.ipip => Some((Carried::Ipip { v6: true }, payload)),
            L4::Other {
                proto: IPPROTO_GRE,
                payload,
            } if self.cfg.gre => Some((Carried::Gre, payload)),
            L4::Udp(u) => Some((self.cfg.udp_carries(u.sport, u.dport)?, u.payload)),
            _ => None,
        }
    }

    fn tunnel_id(&self) -> u64 {
        if self.cfg.tunnel_keys { self.id } else { 0 }
    }

    fn finish<'a>(&self, mut p: Packet<'a>) -> Packet<'a> {
        p.vlan = self.vlan;
        p.vlan_layers = self.vlans;
        p.depth = self.depth;
        p.tunnel = self.tunnel_id();
        p.pkt_src = self.pkt_src;
        p.layers = self.layers.min(u32::from(u8::MAX)) as u8;
        p.tunnel_len = self.tunnel_len;
        p
    }
}

/// Decodes a frame through every encapsulation `cfg` enables, down to the
/// innermost IP packet. `d` receives what was peeled off on the way.
pub fn decode<'a>(
    cfg: &DecoderConfig,
    link: LinkType,
    frame: &'a [u8],
    d: &mut Decap,
) -> Decoded<'a> {
    d.clear();
    let l3 = match link::locate(link, frame) {
        Ok(l3) => l3,
        Err(e) => return Decoded::Invalid(e),
    };
    // The common case, plain IP that carries nothing to decapsulate, costs
    // what it did before tunnels: one look at its protocol and ports.
    let v6 = match l3.network {
        Network::Ipv4 => Some(false),
        Network::Ipv6 => Some(true),
        Network::Other(_) => None,
    };
    if let Some(v6) = v6
        && u32::from(l3.vlan_layers) + 2 <= u32::from(cfg.max_layers)
        && !cfg.may_carry(l3.bytes, v6)
    {
        return match decode_ip(l3.bytes, v6, l3.vlan, l3.vlan_layers) {
            Ok(p) => Decoded::Ip(p),
            Err(e) => Decoded::Invalid(e),
        };
    }
    let mut w = Walk {
        cfg,
        d,
        vlan: [0; 2],
        vlans: 0,
        layers: 1,
        depth: 0,
        id: 0,
        pkt_src: PktSrc::Wire,
        tunnel_len: 0,
    };
    if let Err(e) = w.vlans_of(&l3) {
        return Decoded::Invalid(e);
    }
    w.run(Next::after(&l3))
}

/// Whether a packet's payload is an encapsulation `cfg` decodes: after IP
/// reassembly, whether to [`resume`].
pub fn carries(cfg: &DecoderConfig, p: &Packet<'_>) -> bool {
    match p.l4 {
        L4::Other { proto, .. } => match proto {
            IPPROTO_IPIP | IPPROTO_IPV6 => cfg.ipip,
            IPPROTO_GRE => cfg.gre,
            _ => false,
        },
        L4::Udp(u) => cfg.udp_carries(u.sport, u.dport).is_some(),
        _ => false,
    }
}

/// Goes on decoding a packet reassembled from fragments, whose payload is
/// an encapsulation ([`carries`]). `d` receives only what lies beyond it.
pub fn resume<'a>(cfg: &DecoderConfig, p: Packet<'a>, d: &mut Decap) -> Decoded<'a> {
    d.clear();
    let mut w = Walk {
        cfg,
        d,
        vlan: p.vlan,
        vlans: p.vlan_layers,
        layers: u32::from(p.layers),
        depth: p.depth,
        id: p.tunnel,
        pkt_src: p.pkt_src,
        tunnel_len: p.tunnel_len,
    };
    match w.after_ip(p) {
        Ok(Ok(p)) => Decoded::Ip(p),
        Ok(Err(next)) => w.run(next),
        Err(e) => Decoded::Invalid(e),
    }
}

#[cfg(test)]
mod tests;
