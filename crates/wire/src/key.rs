//! Flow keys and the capture thread's shard hash.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use crate::link::{self, LinkType, Network};
use crate::{L4, Packet};

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

/// Which endpoint of a [`FlowKey`] sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sorts first.
    Lo,
    /// The endpoint that sorts second.
    Hi,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Lo => Side::Hi,
            Side::Hi => Side::Lo,
        }
    }
}

/// A flow's identity, the same for both directions: the endpoints are
/// stored in sorted order and the packet's direction is returned beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub proto: u8,
    pub vlan: [u16; 2],
}

impl FlowKey {
    /// The key of `p`'s flow and which side of it sent `p`. Fragments are
    /// not flows: reassemble them first.
    pub fn of(p: &Packet<'_>) -> (FlowKey, Side) {
        let (sport, dport) = p.l4.ports();
        let src = Endpoint {
            addr: p.src,
            port: sport,
        };
        let dst = Endpoint {
            addr: p.dst,
            port: dport,
        };
        Self::from_endpoints(src, dst, p.l4.proto(), p.vlan)
    }

    /// The key of a flow from `src` to `dst`, and the sender's side.
    pub fn from_endpoints(
        src: Endpoint,
        dst: Endpoint,
        proto: u8,
        vlan: [u16; 2],
    ) -> (FlowKey, Side) {
        if src <= dst {
            (
                FlowKey {
                    lo: src,
                    hi: dst,
                    proto,
                    vlan,
                },
                Side::Lo,
            )
        } else {
            (
                FlowKey {
                    lo: dst,
                    hi: src,
                    proto,
                    vlan,
                },
                Side::Hi,
            )
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::Lo => self.lo,
            Side::Hi => self.hi,
        }
    }
}

/// True when `l4` is a piece of a fragmented datagram.
pub fn is_fragment(l4: &L4<'_>) -> bool {
    matches!(l4, L4::Fragment(_))
}

/// Chooses the worker for a frame: a hash of the unordered pair of IP
/// addresses, computed with as little decoding as possible.
///
/// Ports are deliberately left out. Fragments after the first carry no
/// ports, and they must reach the worker that holds their datagram's flow;
/// hashing on the address pair alone (as "sd" RSS hashing on IDS NICs does)
/// sends every packet between two hosts, fragmented or not, to one worker.
/// It also keeps each (reflector, victim) pair of the amplification detector
/// on one worker.
pub fn shard_hash<S: BuildHasher>(hasher: &S, link: LinkType, frame: &[u8]) -> u64 {
    let Ok(l3) = link::locate(link, frame) else {
        return 0;
    };
    let b = l3.bytes;
    let (a, z): (&[u8], &[u8]) = match l3.network {
        Network::Ipv4 => match (b.get(12..16), b.get(16..20)) {
            (Some(s), Some(d)) => (s, d),
            _ => return 0,
        },
        Network::Ipv6 => match (b.get(8..24), b.get(24..40)) {
            (Some(s), Some(d)) => (s, d),
            _ => return 0,
        },
        Network::Other(_) => return 0,
    };
    let (lo, hi) = if a <= z { (a, z) } else { (z, a) };
    let mut h = hasher.build_hasher();
    lo.hash(&mut h);
    hi.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoded, decode};
    use etherparse::PacketBuilder;

    fn frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .udp(sp, dp)
            .write(&mut v, b"x")
            .unwrap();
        v
    }

    #[test]
    fn both_directions_share_key_and_shard() {
        let s = foldhash::fast::RandomState::default();
        let ab = frame([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53);
        let ba = frame([10, 0, 0, 2], [10, 0, 0, 1], 53, 5000);
        assert_eq!(
            shard_hash(&s, LinkType::Ethernet, &ab),
            shard_hash(&s, LinkType::Ethernet, &ba)
        );
        let (Decoded::Ip(p1), Decoded::Ip(p2)) = (
            decode(LinkType::Ethernet, &ab),
            decode(LinkType::Ethernet, &ba),
        ) else {
            panic!()
        };
        let (k1, s1) = FlowKey::of(&p1);
        let (k2, s2) = FlowKey::of(&p2);
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
    }

    #[test]
    fn shard_hash_ignores_ports() {
        let s = foldhash::fast::RandomState::default();
        let a = frame([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53);
        let b = frame([10, 0, 0, 1], [10, 0, 0, 2], 6000, 80);
        assert_eq!(
            shard_hash(&s, LinkType::Ethernet, &a),
            shard_hash(&s, LinkType::Ethernet, &b)
        );
    }
}
