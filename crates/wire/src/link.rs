//! Link layers: find where the network layer starts.
//!
//! These headers are fixed-size and trivial, so they are read by hand; the
//! network and transport layers are sliced with etherparse.

use crate::DecodeEvent;

/// The link types fumidai decodes, from libpcap's DLT values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, with 802.1Q / 802.1ad / QinQ tags.
    Ethernet,
    /// DLT_LINUX_SLL: Linux "cooked" capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux "cooked" capture v2.
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW / DLT_IPV4 / DLT_IPV6: the packet starts with IP.
    Raw,
    /// DLT_NULL: BSD loopback, a 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, a 4-byte address family in network byte order.
    Loop,
    /// DLT_C_HDLC: Cisco HDLC (serial links, some routers' packet captures):
    /// address, control and an EtherType-valued protocol.
    Chdlc,
}

impl LinkType {
    /// Maps libpcap's data link type number; `None` for types fumidai does not decode.
    pub fn from_dlt(dlt: i32) -> Option<Self> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 | 228 | 229 => LinkType::Raw,
            104 => LinkType::Chdlc,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// The canonical DLT number, as stored with packets.
    pub fn dlt(self) -> i32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Chdlc => 104,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
        }
    }

    /// The name Suricata uses for this layer's decoder counter.
    pub fn counter_name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::LinuxSll => "sll",
            LinkType::LinuxSll2 => "sll2",
            LinkType::Raw => "raw",
            LinkType::Null | LinkType::Loop => "null",
            LinkType::Chdlc => "chdlc",
        }
    }
}

/// What follows the link layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    Ipv4,
    Ipv6,
    /// Another EtherType (ARP, LLDP, …): counted, not decoded.
    Other(u16),
}

/// The network layer located inside a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L3<'a> {
    /// VLAN ids, outermost first; 0 where there is no tag.
    pub vlan: [u16; 2],
    /// Number of VLAN tags seen (may exceed 2).
    pub vlan_layers: u8,
    pub network: Network,
    pub bytes: &'a [u8],
}

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETHERTYPE_ARP: u16 = 0x0806;
pub(crate) const ETHERTYPE_VLAN: u16 = 0x8100;
pub(crate) const ETHERTYPE_QINQ: u16 = 0x88a8;
pub(crate) const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// Beyond this many tags the frame is treated as malformed (Suricata allows 3).
pub(crate) const MAX_VLAN_LAYERS: u8 = 3;

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Finds the network layer of a frame of link type `link`.
pub fn locate(link: LinkType, frame: &[u8]) -> Result<L3<'_>, DecodeEvent> {
    match link {
        LinkType::Ethernet => {
            let ether_type = be16(frame, 12).ok_or(DecodeEvent::EthernetTooSmall)?;
            after_ether_type(ether_type, &frame[14..])
        }
        LinkType::LinuxSll => {
            let ether_type = be16(frame, 14).ok_or(DecodeEvent::SllTooSmall)?;
            after_ether_type(ether_type, &frame[16..])
        }
        LinkType::LinuxSll2 => {
            if frame.len() < 20 {
                return Err(DecodeEvent::Sll2TooSmall);
            }
            let ether_type = be16(frame, 0).ok_or(DecodeEvent::Sll2TooSmall)?;
            after_ether_type(ether_type, &frame[20..])
        }
        LinkType::Raw => raw_ip(frame),
        LinkType::Chdlc => {
            // Address (0x0f unicast, 0x8f broadcast) and control are not
            // checked: what matters is the protocol that follows.
            let proto = be16(frame, 2).ok_or(DecodeEvent::ChdlcTooSmall)?;
            let rest = &frame[4..];
            let network = match proto {
                ETHERTYPE_IPV4 => Network::Ipv4,
                ETHERTYPE_IPV6 => Network::Ipv6,
                other => Network::Other(other),
            };
            Ok(L3 {
                vlan: [0; 2],
                vlan_layers: 0,
                network,
                bytes: rest,
            })
        }
        LinkType::Null | LinkType::Loop => {
            let fam: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeEvent::NullTooSmall)?;
            // DLT_NULL's family is in the byte order of the machine that
            // wrote the capture, which the reader cannot know: accept both.
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(fam)
            } else {
                let le = u32::from_le_bytes(fam);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(fam)
                }
            };
            let network = match family {
                2 => Network::Ipv4,
                // AF_INET6 differs per OS: Linux 10, the BSDs 24, macOS 30, FreeBSD 28.
                10 | 24 | 28 | 30 => Network::Ipv6,
                _ => return Err(DecodeEvent::NullUnsupportedType),
            };
            Ok(L3 {
                vlan: [0; 2],
                vlan_layers: 0,
                network,
                bytes: &frame[4..],
            })
        }
    }
}

fn raw_ip(bytes: &[u8]) -> Result<L3<'_>, DecodeEvent> {
    let network = match bytes.first().map(|b| b >> 4) {
        Some(4) => Network::Ipv4,
        Some(6) => Network::Ipv6,
        _ => return Err(DecodeEvent::RawInvalidVersion),
    };
    Ok(L3 {
        vlan: [0; 2],
        vlan_layers: 0,
        network,
        bytes,
    })
}

/// Reads the VLAN tags that may follow an EtherType field and says what
/// comes after them.
pub(crate) fn after_ether_type(
    mut ether_type: u16,
    mut rest: &[u8],
) -> Result<L3<'_>, DecodeEvent> {
    let mut vlan = [0u16; 2];
    let mut layers = 0u8;
    while matches!(
        ether_type,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if layers == MAX_VLAN_LAYERS {
            return Err(DecodeEvent::VlanTooManyLayers);
        }
        let tci = be16(rest, 0).ok_or(DecodeEvent::VlanTooSmall)?;
        ether_type = be16(rest, 2).ok_or(DecodeEvent::VlanTooSmall)?;
        if let Some(slot) = vlan.get_mut(layers as usize) {
            *slot = tci & 0x0fff;
        }
        layers += 1;
        rest = &rest[4..];
    }
    let network = match ether_type {
        ETHERTYPE_IPV4 => Network::Ipv4,
        ETHERTYPE_IPV6 => Network::Ipv6,
        other => Network::Other(other),
    };
    Ok(L3 {
        vlan,
        vlan_layers: layers,
        network,
        bytes: rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ether_type: u16, tags: &[(u16, u16)], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        let mut next = ether_type;
        if let Some(&(tpid, _)) = tags.first() {
            next = tpid;
        }
        f.extend_from_slice(&next.to_be_bytes());
        for (i, &(_, id)) in tags.iter().enumerate() {
            let following = tags.get(i + 1).map(|t| t.0).unwrap_or(ether_type);
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&following.to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn qinq_tags_are_read_outermost_first() {
        let f = eth(
            ETHERTYPE_IPV4,
            &[(ETHERTYPE_QINQ, 100), (ETHERTYPE_VLAN, 0x2007)],
            &[0x45],
        );
        let l3 = locate(LinkType::Ethernet, &f).unwrap();
        assert_eq!(l3.vlan, [100, 7]);
        assert_eq!(l3.vlan_layers, 2);
        assert_eq!(l3.network, Network::Ipv4);
        assert_eq!(l3.bytes, &[0x45]);
    }

    #[test]
    fn too_many_tags_is_an_event() {
        let t = (ETHERTYPE_VLAN, 1);
        let f = eth(ETHERTYPE_IPV4, &[t, t, t, t], &[]);
        assert_eq!(
            locate(LinkType::Ethernet, &f),
            Err(DecodeEvent::VlanTooManyLayers)
        );
    }

    #[test]
    fn short_frames_are_events_not_panics() {
        for n in 0..24 {
            let f = vec![0x81u8; n];
            for link in [
                LinkType::Ethernet,
                LinkType::LinuxSll,
                LinkType::LinuxSll2,
                LinkType::Raw,
                LinkType::Null,
                LinkType::Loop,
                LinkType::Chdlc,
            ] {
                let _ = locate(link, &f);
            }
        }
    }

    #[test]
    fn null_family_in_either_byte_order() {
        let le = [2u8, 0, 0, 0, 0x45];
        let be = [0u8, 0, 0, 2, 0x45];
        assert_eq!(locate(LinkType::Null, &le).unwrap().network, Network::Ipv4);
        assert_eq!(locate(LinkType::Null, &be).unwrap().network, Network::Ipv4);
        let v6 = [30u8, 0, 0, 0, 0x60];
        assert_eq!(locate(LinkType::Null, &v6).unwrap().network, Network::Ipv6);
        assert_eq!(locate(LinkType::Loop, &be).unwrap().network, Network::Ipv4);
    }
}
