//! Decoding one captured frame into a borrowed view of its IP and transport
//! headers. Lengths are checked once, here; the view's fields cannot fail.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    Icmpv4Slice, Icmpv6Slice, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpSlice,
    TcpSlice, UdpSlice,
    err::ip::{HeaderError, LaxHeaderSliceError},
    err::ipv6_exts::{HeaderError as ExtError, HeaderSliceError as ExtSliceError},
};

use crate::DecodeEvent;
use crate::link::LinkType;
use crate::tunnel::{self, Decap, DecoderConfig, PktSrc};

/// TCP header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
}

/// A TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The window scale option, present only on SYN segments.
    pub wscale: Option<u8>,
    /// The urgent pointer (meaningful with the URG flag).
    pub urgent: u16,
    pub payload: &'a [u8],
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    /// The captured payload; shorter than `len` when the capture was cut.
    pub payload: &'a [u8],
    /// The payload length the UDP header declares: what travelled on the
    /// wire, which is what amplification ratios are measured on.
    pub len: u16,
}

/// An ICMP or ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp<'a> {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// What follows the 8-byte ICMP header.
    pub payload: &'a [u8],
}

/// One fragment of an IP datagram, before reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// IPv4's 16-bit identification or IPv6's 32-bit one.
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    pub more: bool,
    /// The protocol of the whole datagram's payload.
    pub proto: u8,
    pub payload: &'a [u8],
}

/// The transport layer of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    Tcp(Tcp<'a>),
    Udp(Udp<'a>),
    Icmp(Icmp<'a>),
    /// A protocol fumidai does not decode; still a flow.
    Other {
        proto: u8,
        payload: &'a [u8],
    },
    /// Part of a fragmented datagram: its transport header may be elsewhere.
    Fragment(Fragment<'a>),
}

impl L4<'_> {
    /// The IP protocol number.
    pub fn proto(&self) -> u8 {
        match self {
            L4::Tcp(_) => 6,
            L4::Udp(_) => 17,
            L4::Icmp(i) => {
                if i.v6 {
                    58
                } else {
                    1
                }
            }
            L4::Other { proto, .. } => *proto,
            L4::Fragment(f) => f.proto,
        }
    }

    /// Source and destination ports; ICMP and others have none.
    pub fn ports(&self) -> (u16, u16) {
        match self {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp(u) => (u.sport, u.dport),
            // SCTP's common header starts with the two ports (RFC 9260
            // §3.1); Suricata keys and logs SCTP flows by them.
            L4::Other {
                proto: 132,
                payload: [a, b, c, d, ..],
            } => (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])),
            _ => (0, 0),
        }
    }
}

/// A decoded IP packet, borrowing from the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// VLAN ids, outermost first; 0 where there is no tag.
    pub vlan: [u16; 2],
    pub vlan_layers: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4<'a>,
    /// Set when the packet was decoded but something about it was wrong
    /// (e.g. shorter than its IP header says: a snaplen-truncated capture).
    pub anomaly: Option<DecodeEvent>,
    /// Outer IP packets it was found inside (0: not tunnelled).
    pub depth: u8,
    /// Which tunnel it came through, for its flow key: a mix of its depth
    /// and the virtual network ids on the way (VXLAN and Geneve VNIs,
    /// ERSPAN and PPPoE sessions), which both directions of a flow share.
    /// Outer addresses are left out: a mirror may deliver the two
    /// directions from different sources. 0 when there is none or flow
    /// keys are not tunnel-aware.
    pub tunnel: u64,
    /// The decoder that produced it (Suricata's `pkt_src`).
    pub pkt_src: PktSrc,
    /// Headers decoded to reach it, counted against `decoder.max_layers`.
    pub layers: u8,
    /// For a tunnelled packet, the captured bytes of what its innermost
    /// tunnel carried (Suricata's tunnel packet): what its flow's byte
    /// counts are measured on.
    pub tunnel_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The IPv4 header (for its checksum); empty for IPv6.
    pub ip_header: &'a [u8],
    /// The whole transport segment (header and payload) as captured, for
    /// its checksum; empty for a fragment.
    pub l4_bytes: &'a [u8],
    /// The transport length the IP header declares (what the checksum
    /// covers); more than `l4_bytes` when the capture was cut.
    pub l4_len: u32,
}

/// What a frame turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Ip(Packet<'a>),
    /// A valid frame carrying something other than IP (ARP, LLDP, …).
    NotIp {
        ether_type: u16,
    },
    /// A frame that could not be decoded.
    Invalid(DecodeEvent),
}

/// Decodes a frame of link type `link` with the default decoders (see
/// [`tunnel::decode`] to choose them and see the layers peeled off).
pub fn decode(link: LinkType, frame: &[u8]) -> Decoded<'_> {
    tunnel::decode(
        &DecoderConfig::default(),
        link,
        frame,
        &mut Decap::default(),
    )
}

/// Decodes an IP header and its transport layer, found under `vlan_layers`
/// VLAN tags (`vlan`: the first two). Inlined so that the packet is built
/// where the caller returns it: this is the per-packet path.
#[inline(always)]
pub(crate) fn decode_ip(
    bytes: &[u8],
    want_v6: bool,
    vlan: [u16; 2],
    vlan_layers: u8,
) -> Result<Packet<'_>, DecodeEvent> {
    let too_small = if want_v6 {
        DecodeEvent::Ipv6TooSmall
    } else {
        DecodeEvent::Ipv4TooSmall
    };
    let (ip, stop) = match LaxIpSlice::from_slice(bytes) {
        Ok(ok) => ok,
        Err(LaxHeaderSliceError::Len(_)) => return Err(too_small),
        Err(LaxHeaderSliceError::Content(HeaderError::UnsupportedIpVersion { .. })) => {
            return Err(wrong_version(want_v6));
        }
        Err(LaxHeaderSliceError::Content(HeaderError::Ipv4HeaderLengthSmallerThanHeader {
            ..
        })) => return Err(DecodeEvent::Ipv4HlenTooSmall),
    };
    let mut anomaly = None;
    let mut ip_header: &[u8] = &[];
    let ttl;
    let (src, dst, fragment) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            if want_v6 {
                return Err(wrong_version(want_v6));
            }
            let h = v4.header();
            ip_header = bytes.get(..h.slice().len()).unwrap_or(&[]);
            ttl = h.ttl();
            if usize::from(h.total_len()) < h.slice().len() {
                return Err(DecodeEvent::Ipv4IplenSmallerThanHlen);
            }
            let frag = v4.is_payload_fragmented().then(|| Fragment {
                id: u32::from(h.identification()),
                offset: u32::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
                proto: h.protocol().0,
                payload: v4.payload().payload,
            });
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                frag,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            if !want_v6 {
                return Err(wrong_version(want_v6));
            }
            let h = v6.header();
            ttl = h.hop_limit();
            let frag = if v6.is_payload_fragmented() {
                ipv6_fragment(bytes, v6.extensions().clone().into_iter())
            } else {
                None
            };
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                frag,
            )
        }
    };
    let broken_chain = stop.is_some();
    if let Some((err, _layer)) = stop {
        anomaly = Some(match err {
            ExtSliceError::Len(_) => DecodeEvent::Ipv6TruncExthdr,
            ExtSliceError::Content(ExtError::HopByHopNotAtStart) => {
                DecodeEvent::Ipv6HopByHopNotFirst
            }
            ExtSliceError::Content(ExtError::IpAuth(_)) => DecodeEvent::Ipv4OptMalformed,
        });
    }
    let payload = ip.payload();
    let l4_len = payload.payload.len() as u32
        + if payload.incomplete {
            declared_missing(&ip)
        } else {
            0
        };
    if payload.incomplete {
        anomaly = Some(if want_v6 {
            DecodeEvent::Ipv6Trunc
        } else {
            DecodeEvent::Ipv4Trunc
        });
    }
    let l4 = if let Some(f) = fragment {
        L4::Fragment(f)
    } else if broken_chain {
        // The extension header chain is broken: the transport header cannot
        // be located reliably.
        return Err(anomaly.unwrap_or(DecodeEvent::Ipv6TruncExthdr));
    } else {
        transport(payload.ip_number.0, payload.payload, payload.incomplete)?
    };
    let l4_bytes = if matches!(l4, L4::Fragment(_)) {
        &[][..]
    } else {
        payload.payload
    };
    Ok(Packet {
        vlan,
        vlan_layers,
        src,
        dst,
        l4,
        anomaly,
        depth: 0,
        tunnel: 0,
        pkt_src: PktSrc::Wire,
        // The link header, the tags, this header.
        layers: vlan_layers.saturating_add(2),
        tunnel_len: 0,
        ttl,
        ip_header,
        l4_bytes,
        l4_len,
    })
}

/// Transport bytes the IP header declares beyond what was captured.
fn declared_missing(ip: &LaxIpSlice<'_>) -> u32 {
    let (declared, have) = match ip {
        LaxIpSlice::Ipv4(v4) => (
            usize::from(v4.header().total_len()).saturating_sub(v4.header().slice().len()),
            v4.payload().payload.len(),
        ),
        LaxIpSlice::Ipv6(v6) => (
            usize::from(v6.header().payload_length()),
            v6.payload().payload.len(),
        ),
    };
    declared.saturating_sub(have) as u32
}

fn wrong_version(want_v6: bool) -> DecodeEvent {
    if want_v6 {
        DecodeEvent::Ipv6WrongVersion
    } else {
        DecodeEvent::Ipv4WrongVersion
    }
}

/// The fragment header of a fragmented IPv6 packet and the data after it.
/// Located by hand because a non-first fragment's data must not be parsed
/// as further extension headers.
fn ipv6_fragment<'a>(
    packet: &'a [u8],
    exts: impl Iterator<Item = Ipv6ExtensionSlice<'a>>,
) -> Option<Fragment<'a>> {
    for ext in exts {
        if let Ipv6ExtensionSlice::Fragment(f) = ext {
            let header = f.slice();
            let start = (header.as_ptr() as usize)
                .checked_sub(packet.as_ptr() as usize)?
                .checked_add(header.len())?;
            // IPv6's payload length bounds the datagram; the capture may be shorter.
            let declared = 40 + usize::from(u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]));
            let end = declared.min(packet.len());
            return Some(Fragment {
                id: f.identification(),
                offset: u32::from(f.fragment_offset().value()) * 8,
                more: f.more_fragments(),
                proto: f.next_header().0,
                payload: packet.get(start..end.max(start))?,
            });
        }
    }
    None
}

/// Decodes a transport header and payload, e.g. of a reassembled datagram.
pub fn decode_transport(proto: u8, payload: &[u8]) -> Result<L4<'_>, DecodeEvent> {
    transport(proto, payload, false)
}

/// Decodes a reassembled datagram's payload. After an IPv6 fragment
/// header, further extension headers (destination options, routing) may
/// precede the transport header.
pub fn decode_reassembled(v6: bool, proto: u8, payload: &[u8]) -> Result<L4<'_>, DecodeEvent> {
    if !v6 {
        return transport(proto, payload, false);
    }
    let (_, next, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(IpNumber(proto), payload);
    if err.is_some() {
        return Err(DecodeEvent::Ipv6TruncExthdr);
    }
    transport(next.0, rest, false)
}

/// `truncated`: the capture holds less than the IP header says, so a UDP
/// length beyond the captured bytes is expected rather than malformed.
/// Inlined: returned through memory, the transport header was written a
/// byte at a time and read back in 16-byte loads, which the store buffer
/// cannot forward (a stall of some cycles on every packet).
#[inline(always)]
fn transport(proto: u8, payload: &[u8], truncated: bool) -> Result<L4<'_>, DecodeEvent> {
    Ok(match IpNumber(proto) {
        IpNumber::TCP => {
            let t = TcpSlice::from_slice(payload).map_err(|e| match e {
                etherparse::err::tcp::HeaderSliceError::Len(_) => DecodeEvent::TcpTooSmall,
                etherparse::err::tcp::HeaderSliceError::Content(_) => DecodeEvent::TcpHlenTooSmall,
            })?;
            let flags = TcpFlags(t.header_slice().get(13).copied().unwrap_or(0));
            let wscale = if flags.syn() {
                window_scale(t.options())
            } else {
                None
            };
            L4::Tcp(Tcp {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags,
                window: t.window_size(),
                wscale,
                urgent: t.urgent_pointer(),
                payload: t.payload(),
            })
        }
        IpNumber::UDP => {
            let u = UdpSlice::from_slice_lax(payload).map_err(|_| DecodeEvent::UdpTooSmall)?;
            let declared = usize::from(u.length());
            if declared < 8 || (declared > payload.len() && !truncated) {
                return Err(DecodeEvent::UdpLenInvalid);
            }
            L4::Udp(Udp {
                sport: u.source_port(),
                dport: u.destination_port(),
                payload: u.payload(),
                len: (declared - 8) as u16,
            })
        }
        IpNumber::ICMP => {
            let i = Icmpv4Slice::from_slice(payload).map_err(|_| DecodeEvent::Icmpv4TooSmall)?;
            L4::Icmp(Icmp {
                v6: false,
                icmp_type: i.type_u8(),
                code: i.code_u8(),
                payload: payload.get(8..).unwrap_or(&[]),
            })
        }
        IpNumber::IPV6_ICMP => {
            let i = Icmpv6Slice::from_slice(payload).map_err(|_| DecodeEvent::Icmpv6TooSmall)?;
            L4::Icmp(Icmp {
                v6: true,
                icmp_type: i.type_u8(),
                code: i.code_u8(),
                payload: payload.get(8..).unwrap_or(&[]),
            })
        }
        other => L4::Other {
            proto: other.0,
            payload,
        },
    })
}

/// The TCP window scale option (kind 3), walking the options by hand because
/// only this one matters and it must not stop at unknown kinds.
fn window_scale(mut opts: &[u8]) -> Option<u8> {
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            0 => return None,
            1 => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if kind == 3 && len == 3 {
                    return rest.get(1).copied();
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 65535)
            .syn()
            .options(&[etherparse::TcpOptionElement::WindowScale(7)])
            .unwrap();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn tcp_over_ethernet() {
        let f = tcp_frame(b"hello");
        let Decoded::Ip(p) = decode(LinkType::Ethernet, &f) else {
            panic!("not ip")
        };
        assert_eq!(p.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        let L4::Tcp(t) = p.l4 else { panic!("not tcp") };
        assert_eq!((t.sport, t.dport, t.seq), (1234, 80, 1000));
        assert!(t.flags.syn() && !t.flags.ack());
        assert_eq!(t.wscale, Some(7));
        assert_eq!(t.payload, b"hello");
        assert_eq!(p.anomaly, None);
    }

    #[test]
    fn snaplen_truncation_is_decoded_and_flagged() {
        let f = tcp_frame(b"hello world");
        let cut = &f[..f.len() - 4];
        let Decoded::Ip(p) = decode(LinkType::Ethernet, cut) else {
            panic!()
        };
        assert_eq!(p.anomaly, Some(DecodeEvent::Ipv4Trunc));
        let L4::Tcp(t) = p.l4 else { panic!() };
        assert_eq!(t.payload, b"hello w");
    }

    #[test]
    fn ipv4_total_length_below_header_is_invalid() {
        let mut f = tcp_frame(b"");
        f[14 + 2] = 0;
        f[14 + 3] = 10;
        assert_eq!(
            decode(LinkType::Ethernet, &f),
            Decoded::Invalid(DecodeEvent::Ipv4IplenSmallerThanHlen)
        );
    }

    #[test]
    fn ethertype_and_version_must_agree() {
        let mut f = tcp_frame(b"");
        f[12] = 0x86;
        f[13] = 0xdd;
        assert_eq!(
            decode(LinkType::Ethernet, &f),
            Decoded::Invalid(DecodeEvent::Ipv6WrongVersion)
        );
    }

    #[test]
    fn ipv4_fragments_are_not_transport_decoded() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9).udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 32]).unwrap();
        // Set "more fragments" and offset 0.
        v[6] = 0x20;
        let Decoded::Ip(p) = decode(LinkType::Raw, &v) else {
            panic!()
        };
        let L4::Fragment(fr) = p.l4 else { panic!() };
        assert!(fr.more);
        assert_eq!((fr.offset, fr.proto, fr.payload.len()), (0, 17, 40));
    }

    #[test]
    fn udp_length_beyond_packet_is_invalid() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9).udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 4]).unwrap();
        v[20 + 4] = 0x10;
        assert_eq!(
            decode(LinkType::Raw, &v),
            Decoded::Invalid(DecodeEvent::UdpLenInvalid)
        );
    }

    #[test]
    fn window_scale_walks_options() {
        assert_eq!(window_scale(&[1, 1, 3, 3, 9]), Some(9));
        assert_eq!(window_scale(&[2, 4, 5, 180, 3, 3, 2]), Some(2));
        assert_eq!(window_scale(&[2, 0]), None);
        assert_eq!(window_scale(&[2, 40, 0]), None);
        assert_eq!(window_scale(&[]), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data: Vec<u8>, link in 0usize..6) {
            let link = [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2,
                        LinkType::Raw, LinkType::Null, LinkType::Loop][link];
            let _ = decode(link, &data);
        }

        #[test]
        fn truncating_a_valid_frame_never_panics(cut in 0usize..80) {
            let f = tcp_frame(b"some payload bytes");
            let _ = decode(LinkType::Ethernet, &f[..cut.min(f.len())]);
        }
    }
}
