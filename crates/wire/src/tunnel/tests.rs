//! Each encapsulation built byte by byte from its specification and decoded
//! back; the layer limit; flow keys and shards of tunnelled frames.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;

use super::*;
use crate::key::{Shard, shard_hash};
use crate::{FlowKey, L4};

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

fn eth(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn ipv6(src: u16, dst: u16, nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[nh, 64]);
    h.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, src).octets());
    h.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, dst).octets());
    h.extend_from_slice(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An inner TCP segment from 10.1.0.1:40000 to 10.1.0.2:8080 (IPv4 header on).
fn inner_v4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1024)
        .syn()
        .write(&mut v, b"")
        .unwrap();
    v
}

fn inner() -> Vec<u8> {
    inner_v4([10, 1, 0, 1], [10, 1, 0, 2], 40000, 8080)
}

fn inner_v6() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1).octets(),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2).octets(),
        64,
    )
    .udp(5000, 53)
    .write(&mut v, b"q")
    .unwrap();
    v
}

const OUT_A: [u8; 4] = [192, 0, 2, 1];
const OUT_B: [u8; 4] = [192, 0, 2, 2];

fn gre(flags: [u8; 2], proto: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut g = flags.to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(extra);
    g.extend_from_slice(payload);
    g
}

fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(frame);
    v
}

fn erspan2(vlan: u16, session: u16, frame: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&(0x1000 | vlan).to_be_bytes());
    e.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    e.extend_from_slice(&[0, 0, 0, 7]);
    e.extend_from_slice(frame);
    e
}

struct Out<'a> {
    decoded: Decoded<'a>,
    d: Decap,
}

fn run_with<'a>(cfg: &DecoderConfig, link: LinkType, f: &'a [u8]) -> Out<'a> {
    let mut d = Decap::default();
    let decoded = decode(cfg, link, f, &mut d);
    Out { decoded, d }
}

fn run(f: &[u8]) -> Out<'_> {
    run_with(&DecoderConfig::default(), LinkType::Ethernet, f)
}

fn ip<'a>(o: &Out<'a>) -> Packet<'a> {
    match o.decoded {
        Decoded::Ip(p) => p,
        other => panic!("not an IP packet: {other:?}"),
    }
}

fn is_inner(p: &Packet<'_>) {
    assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)));
    assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(10, 1, 0, 2)));
    assert_eq!(p.l4.ports(), (40000, 8080));
}

#[test]
fn plain_frames_have_no_layers() {
    let f = eth(ETH_IPV4, &inner());
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert!(o.d.is_empty());
    assert_eq!((p.depth, p.tunnel, p.pkt_src), (0, 0, PktSrc::Wire));
}

#[test]
fn gre_version_0_with_every_optional_field() {
    // Checksum (+ offset), key and sequence number.
    let g = gre(
        [0xb0, 0],
        ETH_IPV4,
        &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1],
        &inner(),
    );
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!((p.depth, p.pkt_src), (1, PktSrc::Gre));
    assert_eq!(p.tunnel_len as usize, inner().len());
    assert_eq!(o.d.encaps(), &[Encap::Gre]);
    let outer = o.d.outers()[0];
    // Suricata keeps no flow for GRE packets.
    assert!(!outer.tracked);
    assert_eq!((outer.proto, outer.depth), (47, 0));
    assert_eq!(outer.src, IpAddr::V4(Ipv4Addr::from(OUT_A)));
}

#[test]
fn gre_carries_ipv6_and_ethernet() {
    let g = gre([0, 0], ETH_IPV6, &[], &inner_v6());
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(ip(&run(&f)).l4.ports(), (5000, 53));
    let g = gre([0, 0], 0x6558, &[], &eth(ETH_IPV4, &inner()));
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.encaps(), &[Encap::Gre, Encap::Ethernet]);
}

#[test]
fn gre_routing_entries_are_skipped_and_bounded() {
    // R set: checksum/offset, one 4-byte source route entry, the null entry.
    let sre = [0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0];
    let g = gre([0x40, 0], ETH_IPV4, &sre, &inner());
    is_inner(&ip(&run(&eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g)))));
    // An entry longer than the packet.
    let g = gre([0x40, 0], ETH_IPV4, &[0, 0, 0, 0, 0x08, 0x00, 0, 200], &[]);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::GreV0MalformedSre)
    );
}

#[test]
fn gre_malformed_headers_are_named_events() {
    let cases: &[(&[u8], DecodeEvent)] = &[
        (&[0x00, 0x00, 0x08], DecodeEvent::GreTooSmall),
        (&[0x01, 0x00, 0x08, 0x00], DecodeEvent::GreV0Recur),
        (&[0x00, 0x08, 0x08, 0x00], DecodeEvent::GreV0Flags),
        (&[0x30, 0x00, 0x08, 0x00, 0, 0], DecodeEvent::GreV0HdrTooBig),
        (&[0x00, 0x02, 0x08, 0x00], DecodeEvent::GreWrongVersion),
        (&[0xa0, 0x01, 0x88, 0x0b], DecodeEvent::GreV1Chksum),
        (&[0x00, 0x01, 0x88, 0x0b], DecodeEvent::GreV1NoKey),
        (&[0x20, 0x01, 0x08, 0x00], DecodeEvent::GreV1WrongProtocol),
        (&[0x20, 0x01, 0x88, 0x0b, 0, 0], DecodeEvent::GreV1HdrTooBig),
    ];
    for (g, want) in cases {
        let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, g));
        let o = run(&f);
        assert_eq!(o.decoded, Decoded::Invalid(*want), "{g:02x?}");
        // The outer packet is known (for the anomaly's addresses) but is not
        // a flow: it was not a decodable tunnel.
        assert!(!o.d.outers()[0].tracked);
    }
}

#[test]
fn pptp_enhanced_gre_carries_ppp() {
    // Key (payload length, call id), sequence and acknowledgment numbers.
    let extra = [0, 40, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&inner());
    let g = gre([0x30, 0x81], 0x880b, &extra, &ppp);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.encaps(), &[Encap::Gre, Encap::Ppp]);
    // Address/control and protocol compressed away.
    let mut ppp = vec![0x21];
    ppp.extend_from_slice(&inner());
    let g = gre([0x20, 0x01], 0x880b, &extra[..4], &ppp);
    is_inner(&ip(&run(&eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g)))));
    // LCP is counted, not decoded; a bare acknowledgment carries nothing.
    let g = gre([0x20, 0x01], 0x880b, &extra[..4], &[0xc0, 0x21, 1, 1]);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(run(&f).decoded, Decoded::NotIp { ether_type: 0x880b });
    let g = gre([0x20, 0x81], 0x880b, &extra[..8], &[]);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(run(&f).decoded, Decoded::NotIp { ether_type: 0x880b });
}

#[test]
fn erspan_type_2_reports_its_vlan_and_is_not_a_flow() {
    let e = erspan2(23, 100, &eth(ETH_IPV4, &inner()));
    let g = gre([0x10, 0], 0x88be, &[0, 0, 0, 1], &e);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!((p.vlan, p.vlan_layers), ([23, 0], 1));
    // Suricata's tunnel packet starts at the ERSPAN header; the GRE packet
    // around it is no flow of its own.
    assert_eq!((p.depth, p.pkt_src), (1, PktSrc::Gre));
    assert_eq!(p.tunnel_len as usize, e.len());
    assert!(!o.d.outers()[0].tracked);
    assert_eq!(o.d.encaps(), &[Encap::Gre, Encap::Erspan, Encap::Ethernet]);
    // Another session id is another tunnel.
    let e = erspan2(23, 101, &eth(ETH_IPV4, &inner()));
    let g = gre([0x10, 0], 0x88be, &[0, 0, 0, 1], &e);
    let f2 = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_ne!(ip(&run(&f2)).tunnel, p.tunnel);
    // Wrong version, short header.
    let mut bad = erspan2(0, 1, &[]);
    bad[0] = 0x20;
    let g = gre([0x10, 0], 0x88be, &[0, 0, 0, 1], &bad);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::ErspanUnsupportedVersion)
    );
    let g = gre([0x10, 0], 0x88be, &[0, 0, 0, 1], &[0x10, 0, 0]);
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::ErspanTooSmall)
    );
}

#[test]
fn erspan_type_1_can_be_switched_off() {
    let g = gre([0, 0], 0x88be, &[], &eth(ETH_IPV4, &inner()));
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    is_inner(&ip(&run(&f)));
    let cfg = DecoderConfig {
        erspan_type1: false,
        ..DecoderConfig::default()
    };
    assert_eq!(
        run_with(&cfg, LinkType::Ethernet, &f).decoded,
        Decoded::NotIp { ether_type: 0x88be }
    );
}

#[test]
fn erspan_type_3_with_and_without_platform_subheader() {
    for (platform, ft, payload) in [
        (false, 0u16, eth(ETH_IPV4, &inner())),
        (true, 0, eth(ETH_IPV4, &inner())),
        (false, 2, inner()),
    ] {
        let mut e = Vec::new();
        e.extend_from_slice(&(0x2000u16 | 77).to_be_bytes());
        e.extend_from_slice(&5u16.to_be_bytes());
        e.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0]);
        e.extend_from_slice(&((ft << 10) | u16::from(platform)).to_be_bytes());
        if platform {
            e.extend_from_slice(&[0x0c; 8]);
        }
        e.extend_from_slice(&payload);
        let g = gre([0x10, 0], 0x22eb, &[0, 0, 0, 1], &e);
        let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
        let p = ip(&run(&f));
        is_inner(&p);
        assert_eq!(p.vlan[0], 77);
    }
}

#[test]
fn vxlan_is_decoded_on_its_ports_and_keys_by_vni() {
    let frame = eth(ETH_IPV4, &inner());
    let f = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 17, &udp(51000, 4789, &vxlan(42, &frame))),
    );
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!((p.depth, p.pkt_src), (1, PktSrc::Vxlan));
    assert_eq!(o.d.encaps(), &[Encap::Vxlan, Encap::Ethernet]);
    let outer = o.d.outers()[0];
    assert!(outer.tracked);
    assert_eq!((outer.sport, outer.dport, outer.len), (51000, 4789, 0));
    assert_eq!(p.tunnel_len as usize, frame.len());
    // The reply, from another VTEP and source port, same VNI: same key.
    let back = eth(
        ETH_IPV4,
        &inner_v4([10, 1, 0, 2], [10, 1, 0, 1], 8080, 40000),
    );
    let r = eth(
        ETH_IPV4,
        &ipv4(
            [198, 51, 100, 9],
            OUT_A,
            17,
            &udp(60000, 4789, &vxlan(42, &back)),
        ),
    );
    let (k1, s1) = FlowKey::of(&p);
    let (k2, s2) = FlowKey::of(&ip(&run(&r)));
    assert_eq!(k1, k2);
    assert_ne!(s1, s2);
    // Another tenant's VNI is another flow.
    let other = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 17, &udp(51000, 4789, &vxlan(43, &frame))),
    );
    assert_ne!(FlowKey::of(&ip(&run(&other))).0, k1);
    // Without the I flag it is plain UDP; on another port, too.
    let mut nv = vxlan(42, &frame);
    nv[0] = 0;
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(51000, 4789, &nv)));
    let o = run(&f);
    assert_eq!(ip(&o).l4.ports(), (51000, 4789));
    assert!(o.d.outers().is_empty());
    let f = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 17, &udp(51000, 8472, &vxlan(42, &frame))),
    );
    assert_eq!(ip(&run(&f)).l4.ports(), (51000, 8472));
    let cfg = DecoderConfig {
        vxlan: Ports::new(&[8472]),
        ..DecoderConfig::default()
    };
    is_inner(&ip(&run_with(&cfg, LinkType::Ethernet, &f)));
}

#[test]
fn flow_keys_can_ignore_tunnels() {
    let frame = eth(ETH_IPV4, &inner());
    let f = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 17, &udp(51000, 4789, &vxlan(42, &frame))),
    );
    let cfg = DecoderConfig {
        tunnel_keys: false,
        ..DecoderConfig::default()
    };
    let o = run_with(&cfg, LinkType::Ethernet, &f);
    assert_eq!(ip(&o).tunnel, 0);
    assert_eq!(o.d.outers()[0].tunnel, 0);
    assert_eq!(
        FlowKey::of(&ip(&o)).0,
        FlowKey::of(&ip(&run(&frame))).0,
        "the same key as the plain packet's"
    );
}

#[test]
fn geneve_skips_options_and_carries_ethernet_or_ip() {
    for (proto, payload) in [(0x6558u16, eth(ETH_IPV4, &inner())), (ETH_IPV4, inner())] {
        let mut g = vec![0x02, 0];
        g.extend_from_slice(&proto.to_be_bytes());
        g.extend_from_slice(&[0, 0, 7, 0]);
        g.extend_from_slice(&[0x01, 0x02, 0x80, 0x01, 9, 9, 9, 9]);
        g.extend_from_slice(&payload);
        let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(1234, 6081, &g)));
        let p = ip(&run(&f));
        is_inner(&p);
        assert_eq!(p.pkt_src, PktSrc::Geneve);
    }
    // Version 1 is not Geneve.
    let g = [0x40, 0, 0x65, 0x58, 0, 0, 7, 0];
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(1234, 6081, &g)));
    assert_eq!(ip(&run(&f)).l4.ports(), (1234, 6081));
}

#[test]
fn mpls_stacks_explicit_nulls_and_pseudowires() {
    // Two labels, bottom one 100, then IPv4.
    let mut m = vec![0x00, 0x06, 0x40, 0x40, 0x00, 0x06, 0x41, 0x40];
    m.extend_from_slice(&inner());
    let f = eth(0x8847, &m);
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.encaps(), &[Encap::Mpls]);
    assert!(o.d.events().is_empty());
    // IPv6 explicit null at the bottom.
    let mut m = vec![0x00, 0x00, 0x21, 0x40];
    m.extend_from_slice(&inner_v6());
    assert_eq!(ip(&run(&eth(0x8848, &m))).l4.ports(), (5000, 53));
    // A pseudowire: control word, then Ethernet.
    let mut m = vec![0x00, 0x06, 0x41, 0x40, 0, 0, 0, 0];
    m.extend_from_slice(&eth(ETH_IPV4, &inner()));
    let f = eth(0x8847, &m);
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.encaps(), &[Encap::Mpls, Encap::Ethernet]);
    // A reserved label at the bottom is reported, decoding goes on.
    let mut m = vec![0x00, 0x00, 0x71, 0x40];
    m.extend_from_slice(&inner());
    let f = eth(0x8847, &m);
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.events(), &[DecodeEvent::MplsBadLabelReserved]);
    // Something that is neither IP nor a control word.
    let f = eth(0x8847, &[0x00, 0x06, 0x41, 0x40, 0x90]);
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::MplsUnknownPayloadType)
    );
    let f = eth(0x8847, &[0x00, 0x06, 0x40, 0x40, 0x00]);
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::MplsHeaderTooSmall)
    );
}

fn pppoe_session(id: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x11, 0x00];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    p.extend_from_slice(&proto.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn pppoe_sessions_carry_ip_and_discovery_is_counted() {
    let mut s = pppoe_session(0x1234, 0x0021, &inner());
    // Ethernet padding after the session's length is ignored.
    s.extend_from_slice(&[0; 6]);
    let f = eth(0x8864, &s);
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!(p.depth, 0);
    assert_ne!(p.tunnel, 0, "the session id is part of the flow key");
    assert_eq!(o.d.encaps(), &[Encap::Pppoe]);
    let f = eth(0x8864, &pppoe_session(1, 0x0057, &inner_v6()));
    assert_eq!(ip(&run(&f)).l4.ports(), (5000, 53));
    // LCP: counted, not IP, not an anomaly.
    let f = eth(0x8864, &pppoe_session(1, 0xc021, &[1, 1, 0, 4]));
    let o = run(&f);
    assert_eq!(o.decoded, Decoded::NotIp { ether_type: 0x880b });
    assert!(known_non_ip(0x880b));
    let f = eth(0x8864, &pppoe_session(1, 0x0021, &[0x45; 10]));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::PppIpv4TooSmall)
    );
    // The protocol field compressed to one byte.
    let mut s = pppoe_session(1, 0x0021, &inner());
    s.remove(6);
    let len = u16::from_be_bytes([s[4], s[5]]) - 1;
    s[4..6].copy_from_slice(&len.to_be_bytes());
    is_inner(&ip(&run(&eth(0x8864, &s))));
    let f = eth(0x8864, &pppoe_session(1, 0x4242, &[0; 10]));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::PppUnsupProto)
    );
    let mut s = pppoe_session(1, 0x0021, &inner());
    s[1] = 0x09;
    assert_eq!(
        run(&eth(0x8864, &s)).decoded,
        Decoded::Invalid(DecodeEvent::PppoeWrongCode)
    );
    // PADI with a service-name tag; then one whose tag overruns.
    let padi = [0x11, 0x09, 0, 0, 0, 4, 0x01, 0x01, 0, 0];
    let f = eth(0x8863, &padi);
    let o = run(&f);
    assert_eq!(o.decoded, Decoded::NotIp { ether_type: 0x8863 });
    assert!(o.d.events().is_empty());
    let bad = [0x11, 0x09, 0, 0, 0, 4, 0x01, 0x01, 0, 9];
    let f = eth(0x8863, &bad);
    assert_eq!(run(&f).d.events(), &[DecodeEvent::PppoeMalformedTags]);
}

#[test]
fn ip_in_ip_all_four_ways() {
    let cases = [
        (
            eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 4, &inner())),
            Encap::Ipv4InIpv4,
            PktSrc::Ipv4Tunnel,
        ),
        (
            eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 41, &inner_v6())),
            Encap::Ipv6InIpv4,
            PktSrc::Ipv4Tunnel,
        ),
        (
            eth(ETH_IPV6, &ipv6(1, 2, 4, &inner())),
            Encap::Ipv4InIpv6,
            PktSrc::Ipv6Tunnel,
        ),
        (
            eth(ETH_IPV6, &ipv6(1, 2, 41, &inner_v6())),
            Encap::Ipv6InIpv6,
            PktSrc::Ipv6Tunnel,
        ),
    ];
    for (f, encap, src) in &cases {
        let o = run(f);
        let p = ip(&o);
        assert_eq!(o.d.encaps(), &[*encap]);
        assert_eq!((p.depth, p.pkt_src), (1, *src));
        // The outer packet is a flow of its own, as Suricata 8 tracks it.
        assert!(o.d.outers()[0].tracked);
    }
    let f = eth(ETH_IPV6, &ipv6(1, 2, 4, &[0x45; 12]));
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::Ipv4InIpv6TooSmall)
    );
    let f = eth(ETH_IPV6, &ipv6(1, 2, 41, &inner()));
    let o = run(&f);
    assert!(matches!(o.decoded, Decoded::Invalid(_)), "{:?}", o.decoded);
    let cfg = DecoderConfig {
        ipip: false,
        ..DecoderConfig::default()
    };
    let o = run_with(&cfg, LinkType::Ethernet, &cases[0].0);
    assert_eq!(ip(&o).l4.proto(), 4);
}

fn teredo_udp(prefix: &[u8], v6: &[u8]) -> Vec<u8> {
    let mut t = prefix.to_vec();
    t.extend_from_slice(v6);
    eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(3544, 40000, &t)))
}

#[test]
fn teredo_with_origin_and_authentication_indicators() {
    let origin = [0, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15];
    let auth = [0, 1, 2, 1, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    for prefix in [
        &[][..],
        &origin[..],
        &auth[..],
        &[auth.as_slice(), &origin].concat(),
    ] {
        let f = teredo_udp(prefix, &inner_v6());
        let o = run(&f);
        let p = ip(&o);
        assert_eq!(p.l4.ports(), (5000, 53), "{prefix:?}");
        assert_eq!(p.pkt_src, PktSrc::Teredo);
        assert_eq!(o.d.encaps(), &[Encap::Teredo]);
    }
    // Not Teredo: an IPv6 header that does not fill the datagram, one with
    // a hop limit of 0, something else entirely.
    let mut short = inner_v6();
    short.push(0);
    let mut hlim0 = inner_v6();
    hlim0[7] = 0;
    for payload in [short, hlim0, b"not teredo at all, just some bytes".to_vec()] {
        let f = teredo_udp(&[], &payload);
        assert_eq!(ip(&run(&f)).l4.ports(), (3544, 40000));
    }
}

#[test]
fn nsh_is_decoded_in_place() {
    // MD type 1 (six words of headers), next protocol IPv4.
    let mut h = vec![0x00, 0x06, 0x01, 0x01, 0, 0, 1, 0xff];
    h.extend_from_slice(&[0; 16]);
    let mut f = h.clone();
    f.extend_from_slice(&inner());
    let frame = eth(0x894f, &f);
    let o = run(&frame);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!(p.depth, 0);
    assert_eq!(o.d.encaps(), &[Encap::Nsh]);
    // MD type 2 with two words, next protocol Ethernet.
    let mut f = vec![0x00, 0x02, 0x02, 0x03, 0, 0, 1, 0xff];
    f.extend_from_slice(&eth(ETH_IPV4, &inner()));
    is_inner(&ip(&run(&eth(0x894f, &f))));
    // What Suricata flags.
    let bad = |b: &[u8]| {
        let frame = eth(0x894f, b);
        match run(&frame).decoded {
            Decoded::Invalid(e) => Some(e),
            _ => None,
        }
    };
    let mut v1 = h.clone();
    v1[0] = 0x40;
    v1.extend_from_slice(&inner());
    assert_eq!(bad(&v1), Some(DecodeEvent::NshUnsupportedVersion));
    let mut short = h.clone();
    short[1] = 0x05;
    short.extend_from_slice(&inner());
    assert_eq!(bad(&short), Some(DecodeEvent::NshBadHeaderLength));
    let mut nsh_in_nsh = h.clone();
    nsh_in_nsh[3] = 4;
    nsh_in_nsh.extend_from_slice(&inner());
    assert_eq!(bad(&nsh_in_nsh), Some(DecodeEvent::NshUnknownPayload));
    assert_eq!(bad(&[0, 6, 1]), Some(DecodeEvent::NshTooSmall));
}

#[test]
fn port_extender_tags_and_vlans_accumulate() {
    // E-tag, then a VLAN tag, then IPv4.
    let mut e = vec![0x10, 0, 0, 0xd3, 0, 0, 0x81, 0x00, 0x00, 0x0b, 0x08, 0x00];
    e.extend_from_slice(&inner());
    let f = eth(0x893f, &e);
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!((p.vlan, p.vlan_layers), ([11, 0], 1));
    assert_eq!(o.d.encaps(), &[Encap::Etag]);
    // VN-tag, then IPv4.
    let mut v = vec![0, 0, 0, 0, 0x08, 0x00];
    v.extend_from_slice(&inner());
    let f = eth(0x8926, &v);
    let o = run(&f);
    is_inner(&ip(&o));
    assert_eq!(o.d.encaps(), &[Encap::Vntag]);
    assert_eq!(
        run(&eth(0x893f, &[0x10, 0])).decoded,
        Decoded::Invalid(DecodeEvent::EtagTooSmall)
    );
    // An outer VLAN, then VXLAN with an inner VLAN: both, outermost first.
    let inner_frame = {
        let mut t = vec![0x00, 0x07, 0x08, 0x00];
        t.extend_from_slice(&inner());
        eth(0x8100, &t)
    };
    let mut outer = vec![0x00, 0x05, 0x08, 0x00];
    outer.extend_from_slice(&ipv4(
        OUT_A,
        OUT_B,
        17,
        &udp(1, 4789, &vxlan(1, &inner_frame)),
    ));
    let f = eth(0x8100, &outer);
    let p = ip(&run(&f));
    assert_eq!((p.vlan, p.vlan_layers), ([5, 7], 2));
}

#[test]
fn chdlc_link() {
    let mut f = vec![0x0f, 0x00, 0x08, 0x00];
    f.extend_from_slice(&inner());
    is_inner(&ip(&run_with(
        &DecoderConfig::default(),
        LinkType::Chdlc,
        &f,
    )));
    assert_eq!(
        run_with(&DecoderConfig::default(), LinkType::Chdlc, &f[..3]).decoded,
        Decoded::Invalid(DecodeEvent::ChdlcTooSmall)
    );
    assert_eq!(LinkType::from_dlt(104), Some(LinkType::Chdlc));
}

/// Suricata-verify's decode-too-many-layers: Ethernet, MPLS, a pseudowire
/// control word, Ethernet again, 32 times.
fn nested_pseudowires(n: usize) -> Vec<u8> {
    let mut f = Vec::new();
    for _ in 0..n {
        f.extend_from_slice(&[1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7, 0x88, 0x47]);
        f.extend_from_slice(&[0x00, 0x01, 0x01, 0x00, 0, 0, 0, 0]);
    }
    f
}

#[test]
fn layers_are_limited_in_one_place() {
    let f = nested_pseudowires(32);
    let o = run(&f);
    assert_eq!(o.decoded, Decoded::Invalid(DecodeEvent::TooManyLayers));
    assert!(o.d.encaps().len() <= 16);
    assert_eq!(
        DecodeEvent::TooManyLayers.counter_name(),
        "decoder.too_many_layers"
    );
    // Three pseudowires fit in the default, not in a limit of 4.
    let mut f = nested_pseudowires(3);
    f.extend_from_slice(&eth(ETH_IPV4, &inner()));
    is_inner(&ip(&run(&f)));
    let cfg = DecoderConfig {
        max_layers: 4,
        ..DecoderConfig::default()
    };
    assert_eq!(
        run_with(&cfg, LinkType::Ethernet, &f).decoded,
        Decoded::Invalid(DecodeEvent::TooManyLayers)
    );
    // Tunnels in tunnels in tunnels: GRE in GRE until the limit.
    let mut pkt = inner();
    for _ in 0..10 {
        pkt = ipv4(OUT_A, OUT_B, 47, &gre([0, 0], ETH_IPV4, &[], &pkt));
    }
    let f = eth(ETH_IPV4, &pkt);
    assert_eq!(
        run(&f).decoded,
        Decoded::Invalid(DecodeEvent::TooManyLayers)
    );
}

#[test]
fn nested_tunnels_keep_every_outer_packet() {
    // VXLAN inside GRE: two outer packets, both flows of their own.
    let v = ipv4(
        [172, 16, 0, 1],
        [172, 16, 0, 2],
        17,
        &udp(4000, 4789, &vxlan(9, &eth(ETH_IPV4, &inner()))),
    );
    let f = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 47, &gre([0, 0], ETH_IPV4, &[], &v)),
    );
    let o = run(&f);
    let p = ip(&o);
    is_inner(&p);
    assert_eq!((p.depth, p.pkt_src), (2, PktSrc::Vxlan));
    let outers = o.d.outers();
    assert_eq!(outers.len(), 2);
    assert_eq!((outers[0].proto, outers[0].depth), (47, 0));
    assert_eq!((outers[1].proto, outers[1].depth), (17, 1));
    assert_eq!(outers[1].pkt_src, PktSrc::Gre);
    assert!(!outers[0].tracked && outers[1].tracked);
    assert_eq!(outers[1].len as usize, v.len());
}

#[test]
fn reassembled_outer_packets_are_decapsulated() {
    // A GRE packet as defragmentation would hand it back: decoded from its
    // reassembled payload.
    let g = gre([0, 0], ETH_IPV4, &[], &inner());
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &g));
    let cfg = DecoderConfig {
        gre: false,
        ..DecoderConfig::default()
    };
    let outer = ip(&run_with(&cfg, LinkType::Ethernet, &f));
    let cfg = DecoderConfig::default();
    assert!(carries(&cfg, &outer));
    let mut d = Decap::default();
    let Decoded::Ip(p) = resume(&cfg, outer, &mut d) else {
        panic!("not decapsulated")
    };
    is_inner(&p);
    assert_eq!(p.depth, 1);
    assert_eq!(d.outers().len(), 1);
}

fn shard(cfg: &DecoderConfig, f: &[u8]) -> Shard {
    let s = foldhash::fast::FixedState::with_seed(7);
    shard_hash(&s, cfg, LinkType::Ethernet, f, &mut Decap::default())
}

#[test]
fn shards_follow_the_inner_pair_and_keep_carriers_whole() {
    let cfg = DecoderConfig::default();
    let plain = shard(&cfg, &eth(ETH_IPV4, &inner()));
    // The two directions through different outer endpoints meet on the
    // plain packet's worker.
    let ab = eth(
        ETH_IPV4,
        &ipv4(
            OUT_A,
            OUT_B,
            17,
            &udp(1, 4789, &vxlan(1, &eth(ETH_IPV4, &inner()))),
        ),
    );
    let back = inner_v4([10, 1, 0, 2], [10, 1, 0, 1], 8080, 40000);
    let ba = eth(
        ETH_IPV4,
        &ipv4(
            [203, 0, 113, 5],
            OUT_A,
            47,
            &gre([0, 0], ETH_IPV4, &[], &back),
        ),
    );
    let (s1, s2) = (shard(&cfg, &ab), shard(&cfg, &ba));
    assert_eq!(s1.inner, plain.inner);
    assert_eq!(s2.inner, plain.inner);
    // Carrier flows go by their own (outermost) pair; GRE has none.
    let outer_plain = shard(&cfg, &eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 6, &[0; 20])));
    assert_eq!(s1.carrier, Some(outer_plain.inner));
    assert_eq!(s2.carrier, None);
    // ERSPAN's GRE packets are no flows either: nothing to keep elsewhere.
    let e = erspan2(0, 1, &eth(ETH_IPV4, &inner()));
    let f = eth(
        ETH_IPV4,
        &ipv4(OUT_A, OUT_B, 47, &gre([0x10, 0], 0x88be, &[0, 0, 0, 1], &e)),
    );
    assert_eq!(
        shard(&cfg, &f),
        Shard {
            inner: plain.inner,
            carrier: None
        }
    );
    // MPLS frames too.
    let mut m = vec![0x00, 0x06, 0x41, 0x40];
    m.extend_from_slice(&inner());
    assert_eq!(shard(&cfg, &eth(0x8847, &m)).inner, plain.inner);
    // A fragment of a tunnel goes by its own pair: it is reassembled there.
    let mut frag = ipv4(OUT_A, OUT_B, 47, &gre([0, 0], ETH_IPV4, &[], &inner()));
    frag[6] = 0x20;
    assert_eq!(shard(&cfg, &eth(ETH_IPV4, &frag)).inner, outer_plain.inner);
}

#[test]
fn may_carry_looks_at_protocol_and_ports_only() {
    let cfg = DecoderConfig::default();
    let tcp = ipv4(OUT_A, OUT_B, 6, &[0; 20]);
    assert!(!cfg.may_carry(&tcp, false));
    let dns = ipv4(OUT_A, OUT_B, 17, &udp(5353, 53, b"x"));
    assert!(!cfg.may_carry(&dns, false));
    let vx = ipv4(OUT_A, OUT_B, 17, &udp(5353, 4789, b"x"));
    assert!(cfg.may_carry(&vx, false));
    let teredo_reply = ipv4(OUT_A, OUT_B, 17, &udp(3544, 999, b"x"));
    assert!(cfg.may_carry(&teredo_reply, false));
    let v6gre = ipv6(1, 2, 47, &[]);
    assert!(cfg.may_carry(&v6gre, true));
    let v6hbh = ipv6(1, 2, 0, &[]);
    assert!(cfg.may_carry(&v6hbh, true));
    assert!(!cfg.may_carry(&[0x45], false));
    let off = DecoderConfig {
        gre: false,
        ..DecoderConfig::default()
    };
    assert!(!off.may_carry(&v6gre, true));
}

/// Prefixes of every encapsulation, to put arbitrary bytes behind.
fn headers() -> Vec<(LinkType, Vec<u8>)> {
    let e = LinkType::Ethernet;
    let gre_ip = |flags: [u8; 2], proto: u16, extra: &[u8]| {
        let g = gre(flags, proto, extra, &[]);
        let mut h = ipv4(OUT_A, OUT_B, 47, &g);
        // Claim a long packet: the fuzz bytes follow.
        h[2..4].copy_from_slice(&1500u16.to_be_bytes());
        eth(ETH_IPV4, &h)
    };
    let udp_ip = |dport: u16| {
        let mut h = ipv4(OUT_A, OUT_B, 17, &udp(1, dport, &[]));
        h[2..4].copy_from_slice(&1500u16.to_be_bytes());
        h[24..26].copy_from_slice(&1480u16.to_be_bytes());
        eth(ETH_IPV4, &h)
    };
    vec![
        (e, gre_ip([0, 0], ETH_IPV4, &[])),
        (e, gre_ip([0, 0], 0x6558, &[])),
        (e, gre_ip([0x10, 0], 0x88be, &[0, 0, 0, 1])),
        (e, gre_ip([0x10, 0], 0x22eb, &[0, 0, 0, 1])),
        (
            e,
            gre_ip([0x30, 0x81], 0x880b, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (e, gre_ip([0x40, 0], ETH_IPV4, &[])),
        (e, udp_ip(4789)),
        (e, udp_ip(6081)),
        (e, udp_ip(3544)),
        (e, eth(0x8847, &[])),
        (e, eth(0x8864, &[])),
        (e, eth(0x8863, &[])),
        (e, eth(0x893f, &[])),
        (e, eth(0x8926, &[])),
        (e, eth(0x894f, &[])),
        (e, eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 4, &[]))),
        (e, eth(ETH_IPV6, &ipv6(1, 2, 41, &[]))),
        (LinkType::Chdlc, vec![0x0f, 0x00, 0x08, 0x00]),
    ]
}

proptest::proptest! {
    #[test]
    fn any_bytes_after_any_header_never_panic(which in 0usize..18, tail: Vec<u8>) {
        let all = headers();
        let (link, mut f) = all[which % all.len()].clone();
        f.extend_from_slice(&tail);
        let cfg = DecoderConfig::default();
        let mut d = Decap::default();
        let _ = decode(&cfg, link, &f, &mut d);
        let s = foldhash::fast::FixedState::with_seed(1);
        let _ = shard_hash(&s, &cfg, link, &f, &mut d);
        proptest::prop_assert!(d.encaps().len() <= 16);
    }

    #[test]
    fn cutting_a_tunnelled_frame_anywhere_never_panics(cut in 0usize..200, which in 0usize..4) {
        let frames = [
            eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(1, 4789, &vxlan(3, &eth(ETH_IPV4, &inner()))))),
            eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 47, &gre([0x10, 0], 0x88be, &[0, 0, 0, 1],
                &erspan2(4, 5, &eth(ETH_IPV4, &inner()))))),
            eth(0x8864, &pppoe_session(3, 0x0021, &inner())),
            teredo_udp(&[0, 0, 1, 2, 3, 4, 5, 6], &inner_v6()),
        ];
        let f = &frames[which];
        let f = &f[..cut.min(f.len())];
        let _ = run(f);
    }
}

#[test]
fn l4_of_an_untunnelled_udp_packet_is_kept() {
    let f = eth(ETH_IPV4, &ipv4(OUT_A, OUT_B, 17, &udp(5, 6, b"hello")));
    let p = ip(&run(&f));
    let L4::Udp(u) = p.l4 else { panic!() };
    assert_eq!(u.payload, b"hello");
}
