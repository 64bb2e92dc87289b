//! What a tunnelled flow remembers of its tunnel, for Suricata's `tunnel`
//! object and `pkt_src` on every record about it.

use fumidai_eve::{TunnelObj, proto_name};
use fumidai_wire::tunnel::Outer;
use fumidai_wire::{Packet, PktSrc};

/// The tunnel a flow's first packet came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTunnel {
    pub obj: TunnelObj,
    /// The decoder that produced the flow's packets (`vxlan encapsulation`, ...).
    pub pkt_src: &'static str,
}

impl FlowTunnel {
    /// For a packet at `depth` (> 0) inside the outermost packet `root`.
    pub fn new(root: &Outer, depth: u8, pkt_src: PktSrc) -> Self {
        FlowTunnel {
            obj: tunnel_obj(root, depth),
            pkt_src: pkt_src.as_str(),
        }
    }

    /// For `p`, if it came through a tunnel whose outermost packet is `root`.
    pub fn of(p: &Packet<'_>, root: Option<&Outer>) -> Option<Self> {
        match root {
            Some(r) if p.depth > 0 => Some(Self::new(r, p.depth, p.pkt_src)),
            _ => None,
        }
    }
}

/// Suricata's `tunnel` object: the outermost packet as captured, and how
/// many IP headers lie between it and the packet the record is about.
pub fn tunnel_obj(root: &Outer, depth: u8) -> TunnelObj {
    let ports = matches!(root.proto, 6 | 17);
    TunnelObj {
        src_ip: root.src,
        src_port: ports.then_some(root.sport),
        dest_ip: root.dst,
        dest_port: ports.then_some(root.dport),
        proto: proto_name(root.proto),
        depth,
        pkt_src: PktSrc::Wire.as_str(),
    }
}
