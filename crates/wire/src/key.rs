//! Flow keys and the capture thread's shard hash.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use crate::link::{self, LinkType, Network};
use crate::tunnel::{self, Decap, DecoderConfig};
use crate::{Decoded, L4, Packet};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub proto: u8,
    pub vlan: [u16; 2],
    /// The tunnel it came through ([`Packet::tunnel`]); 0 for none.
    pub tunnel: u64,
}

/// Hashed once per packet (the flow table lookup), so written as few
/// word-sized writes as the key allows (three for IPv4) rather than the
/// derived field-by-field walk. Every field goes in: each is
/// attacker-chosen, and folding two into one word would let chosen values
/// cancel out.
impl Hash for FlowKey {
    #[inline(always)]
    fn hash<H: Hasher>(&self, h: &mut H) {
        match (self.lo.addr, self.hi.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64(u64::from(u32::from(a)) << 32 | u64::from(u32::from(b)));
            }
            (a, b) => {
                let bits = |a: IpAddr| match a {
                    IpAddr::V4(v) => u128::from(u32::from(v)) | 1 << 127,
                    IpAddr::V6(v) => u128::from(v),
                };
                h.write_u128(bits(a));
                h.write_u128(bits(b));
            }
        }
        // Ports, protocol and the two 12-bit VLAN ids fill one word.
        h.write_u64(
            u64::from(self.lo.port)
                | u64::from(self.hi.port) << 16
                | u64::from(self.proto) << 32
                | u64::from(self.vlan[0] & 0x0fff) << 40
                | u64::from(self.vlan[1] & 0x0fff) << 52,
        );
        h.write_u64(self.tunnel);
    }
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
        let (mut key, side) = Self::from_endpoints(src, dst, p.l4.proto(), p.vlan);
        key.tunnel = p.tunnel;
        (key, side)
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
                    tunnel: 0,
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
                    tunnel: 0,
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

/// Which workers a frame concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// The hash of the innermost IP address pair: the worker that analyses
    /// the frame's packet.
    pub inner: u64,
    /// For a tunnelled frame whose outer packets are flows of their own
    /// (GRE, IP-in-IP, VXLAN, Geneve, Teredo), the hash of the outermost
    /// address pair: the worker that keeps those flows, so each stays whole
    /// whichever inner flows it carries.
    pub carrier: Option<u64>,
}

/// Chooses the workers for a frame: a hash of the unordered pair of IP
/// addresses of its innermost packet, computed with as little decoding as
/// possible.
///
/// Ports are deliberately left out. Fragments after the first carry no
/// ports, and they must reach the worker that holds their datagram's flow;
/// hashing on the address pair alone (as "sd" RSS hashing on IDS NICs does)
/// sends every packet between two hosts, fragmented or not, to one worker.
/// It also keeps each (reflector, victim) pair of the amplification detector
/// on one worker.
///
/// Tunnels are looked through so that both directions of an inner flow
/// meet on one worker, whichever outer endpoints carry them (a mirror often
/// delivers the two directions from different sources). Plain traffic pays
/// one look at its protocol and UDP ports; only frames that may hold an
/// encapsulation are decoded here, with `scratch`. A fragmented outer
/// packet is hashed on its own addresses: what it carries is only known
/// once it is reassembled, on that worker.
pub fn shard_hash<S: BuildHasher>(
    hasher: &S,
    cfg: &DecoderConfig,
    link: LinkType,
    frame: &[u8],
    scratch: &mut Decap,
) -> Shard {
    let plain = |inner| Shard {
        inner,
        carrier: None,
    };
    let Ok(l3) = link::locate(link, frame) else {
        return plain(0);
    };
    let b = l3.bytes;
    let (a, z): (&[u8], &[u8]) = match l3.network {
        Network::Ipv4 if !cfg.may_carry(b, false) => match icmp_unreachable_quote(b) {
            // Counted in the flow of the packet it quotes (as Suricata
            // does), so it must reach that flow's worker.
            Some((s, d)) => (s, d),
            None => match (b.get(12..16), b.get(16..20)) {
                (Some(s), Some(d)) => (s, d),
                _ => return plain(0),
            },
        },
        Network::Ipv6 if !cfg.may_carry(b, true) => match (b.get(8..24), b.get(24..40)) {
            (Some(s), Some(d)) => (s, d),
            _ => return plain(0),
        },
        Network::Other(t) if !cfg.decodes_ether_type(t) => return plain(0),
        _ => return tunnelled(hasher, cfg, link, frame, scratch),
    };
    plain(pair_hash(hasher, a, z))
}

/// The addresses an unfragmented ICMPv4 destination unreachable quotes
/// from the packet it is about, when it quotes an IPv4 header.
fn icmp_unreachable_quote(ip: &[u8]) -> Option<(&[u8], &[u8])> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let fragmented = ip.get(6..8)? != [0, 0] && ip.get(6..8)? != [0x40, 0];
    if ip.get(9) != Some(&1) || ihl < 20 || fragmented || ip.get(ihl) != Some(&3) {
        return None;
    }
    let quoted = ip.get(ihl + 8..)?;
    // Only TCP and UDP quotes are counted in their flow (the engine's
    // `icmp_error_of_flow`); other errors stay flows of their own.
    if quoted.first()? >> 4 != 4 || !matches!(quoted.get(9)?, 6 | 17) {
        return None;
    }
    Some((quoted.get(12..16)?, quoted.get(16..20)?))
}

/// The slow path of [`shard_hash`]: decode the frame.
fn tunnelled<S: BuildHasher>(
    hasher: &S,
    cfg: &DecoderConfig,
    link: LinkType,
    frame: &[u8],
    scratch: &mut Decap,
) -> Shard {
    let addrs = |a: IpAddr, z: IpAddr| {
        let ((x, xn), (y, yn)) = (octets(&a), octets(&z));
        pair_hash(hasher, &x[..xn], &y[..yn])
    };
    let decoded = tunnel::decode(cfg, link, frame, scratch);
    let outers = scratch.outers();
    let inner = match decoded {
        Decoded::Ip(p) => addrs(p.src, p.dst),
        // No inner IP packet (ARP inside VXLAN, a malformed inner header):
        // the packet that carried it decides.
        _ => outers.last().map(|o| addrs(o.src, o.dst)).unwrap_or(0),
    };
    let carrier = outers
        .iter()
        .any(|o| o.tracked)
        .then(|| outers.first().map(|o| addrs(o.src, o.dst)))
        .flatten();
    Shard { inner, carrier }
}

/// An address's bytes (and how many), as they are in the header the fast
/// path hashes.
fn octets(a: &IpAddr) -> ([u8; 16], usize) {
    match a {
        IpAddr::V4(v) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&v.octets());
            (b, 4)
        }
        IpAddr::V6(v) => (v.octets(), 16),
    }
}

fn pair_hash<S: BuildHasher>(hasher: &S, a: &[u8], z: &[u8]) -> u64 {
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

    fn shard(s: &foldhash::fast::RandomState, f: &[u8]) -> Shard {
        shard_hash(
            s,
            &DecoderConfig::default(),
            LinkType::Ethernet,
            f,
            &mut Decap::default(),
        )
    }

    #[test]
    fn both_directions_share_key_and_shard() {
        let s = foldhash::fast::RandomState::default();
        let ab = frame([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53);
        let ba = frame([10, 0, 0, 2], [10, 0, 0, 1], 53, 5000);
        assert_eq!(shard(&s, &ab), shard(&s, &ba));
        assert_eq!(shard(&s, &ab).carrier, None);
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
    fn an_icmp_unreachable_goes_to_the_worker_of_the_flow_it_quotes() {
        let s = foldhash::fast::RandomState::default();
        let udp = frame([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53);
        // A router's "fragmentation needed" about that datagram: its IP
        // header and the first 8 bytes after it.
        let mut icmp = Vec::new();
        PacketBuilder::ethernet2([3; 6], [1; 6])
            .ipv4([192, 0, 2, 1], [10, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 1400,
                },
            ))
            .write(&mut icmp, &udp[14..14 + 28])
            .unwrap();
        assert_eq!(shard(&s, &icmp), shard(&s, &udp));
        // Any other ICMP between the router and the host: their own pair.
        let mut echo = Vec::new();
        PacketBuilder::ethernet2([3; 6], [1; 6])
            .ipv4([192, 0, 2, 1], [10, 0, 0, 1], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut echo, &udp[14..14 + 28])
            .unwrap();
        assert_ne!(shard(&s, &echo), shard(&s, &udp));
    }

    #[test]
    fn shard_hash_ignores_ports() {
        let s = foldhash::fast::RandomState::default();
        let a = frame([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53);
        let b = frame([10, 0, 0, 1], [10, 0, 0, 2], 6000, 80);
        assert_eq!(shard(&s, &a), shard(&s, &b));
    }
}
