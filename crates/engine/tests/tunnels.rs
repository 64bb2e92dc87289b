//! Tunnels through the engine: a frame split between two workers (inner
//! packet on one, the tunnel's own flow on the other) adds up to what one
//! worker writes; malformed layers inside a tunnel are anomalies naming the
//! layer; a fragmented tunnel packet is decapsulated once whole.

mod common;

use std::sync::Arc;

use common::{config, pcap};
use fumidai_detect::{DetectConf, Detector, NetSet};
use fumidai_engine::{Engine, Part};
use fumidai_flow::{EndReason, StreamConfig};
use fumidai_wire::{LinkType, Timestamp};
use serde_json::Value;

fn engine() -> Engine {
    let det = Detector::new(DetectConf::default(), NetSet::default(), NetSet::default());
    Engine::new(Arc::new(config(StreamConfig::default())), Arc::new(det))
}

/// Runs `frames` through a fresh engine as `part`; the events, stats last.
fn run(frames: &[(Timestamp, Vec<u8>)], part: Part) -> Vec<Value> {
    let mut e = engine();
    for (ts, f) in frames {
        e.process_part(part, LinkType::Ethernet, *ts, f.len() as u32, f);
    }
    e.end_all(EndReason::Shutdown);
    let mut events: Vec<Value> = e
        .take_output(Default::default())
        .iter()
        .map(|(_, l)| serde_json::from_slice(l).expect("JSON"))
        .collect();
    events.push(serde_json::json!({"event_type": "stats", "stats": e.counters().to_json()}));
    events
}

fn frames_of(file: &str) -> Vec<(Timestamp, Vec<u8>)> {
    let mut cap = pcap::Capture::from_file(pcap(file)).expect("open");
    let mut v = Vec::new();
    while let Ok(p) = cap.next_packet() {
        let ts = Timestamp::from_sec_usec(p.header.ts.tv_sec as u64, p.header.ts.tv_usec as u64);
        v.push((ts, p.data.to_vec()));
    }
    v
}

fn lines(events: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter(|e| e["event_type"] != "stats")
        .map(|e| e.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_frame_split_between_two_workers_adds_up_to_one_worker() {
    let frames = frames_of("encap/generated/lab-attack-vxlan.pcap");
    let all = run(&frames, Part::All);
    let inner = run(&frames, Part::Inner);
    let carriers = run(&frames, Part::Carriers);
    let mut split = lines(&inner);
    split.extend(lines(&carriers));
    split.sort();
    assert_eq!(lines(&all), split);
    // The tunnel's own flows are on the carriers' side only, the rest on
    // the inner side only; packet counters are the inner side's.
    let outer = |e: &&Value| e["dest_port"] == 4789;
    assert!(
        carriers
            .iter()
            .filter(|e| e["event_type"] == "flow")
            .all(|e| outer(&e))
    );
    assert!(!inner.iter().any(|e| outer(&e)));
    let stats = |v: &[Value], k: &str| v.last().unwrap()["stats"]["decoder"][k].clone();
    assert_eq!(stats(&inner, "pkts"), stats(&all, "pkts"));
    assert_eq!(stats(&inner, "vxlan"), stats(&all, "vxlan"));
    assert_eq!(stats(&carriers, "pkts"), 0);
}

fn eth(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 header around `payload`; `frag`: (offset in 8-byte units, more).
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: (u16, bool), payload: &[u8]) -> Vec<u8> {
    let flags = frag.0 | if frag.1 { 0x2000 } else { 0 };
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34];
    h.extend_from_slice(&flags.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn vxlan_udp(frame: &[u8]) -> Vec<u8> {
    let mut u = vec![0xc3, 0x50, 0x12, 0xb5, 0, 0, 0, 0];
    u[4..6].copy_from_slice(&((16 + frame.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0x2a, 0]);
    u.extend_from_slice(frame);
    u
}

fn inner_tcp() -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 1, 0, 1], [10, 1, 0, 2], 64)
        .tcp(40000, 8080, 1, 1024)
        .syn()
        .write(&mut v, b"")
        .unwrap();
    v
}

const VTEP_A: [u8; 4] = [192, 0, 2, 1];
const VTEP_B: [u8; 4] = [192, 0, 2, 2];

#[test]
fn malformed_layers_inside_a_tunnel_are_anomalies_naming_them() {
    let ts = Timestamp::from_secs(1_700_000_000);
    // GRE version 2 inside an IPv4 packet inside VXLAN: decoding stops at
    // the GRE header, one tunnel deep.
    let gre = ipv4(
        [10, 9, 0, 1],
        [10, 9, 0, 2],
        47,
        (0, false),
        &[0, 2, 8, 0, 0x45],
    );
    let bad = eth(
        0x0800,
        &ipv4(
            VTEP_A,
            VTEP_B,
            17,
            (0, false),
            &vxlan_udp(&eth(0x0800, &gre)),
        ),
    );
    // A reserved MPLS label at the bottom of the stack, inside VXLAN: an
    // anomaly, and the packet is still analysed.
    let mut mpls = vec![0x00, 0x00, 0x71, 0x40];
    mpls.extend_from_slice(&inner_tcp());
    let odd = eth(
        0x0800,
        &ipv4(
            VTEP_A,
            VTEP_B,
            17,
            (0, false),
            &vxlan_udp(&eth(0x8847, &mpls)),
        ),
    );
    let events = run(&[(ts, bad), (ts, odd)], Part::All);
    let anomalies: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "anomaly")
        .collect();
    assert_eq!(anomalies.len(), 2, "{anomalies:#?}");
    let gre = anomalies[0];
    assert_eq!(gre["anomaly"]["event"], "decoder.gre.wrong_version");
    assert_eq!(gre["anomaly"]["type"], "decode");
    assert_eq!(
        (&gre["src_ip"], &gre["proto"]),
        (&"10.9.0.1".into(), &"GRE".into())
    );
    assert_eq!(gre["tunnel"]["src_ip"], "192.0.2.1");
    assert_eq!(gre["tunnel"]["dest_port"], 4789);
    assert_eq!(gre["tunnel"]["depth"], 1);
    assert_eq!(gre["pkt_src"], "vxlan encapsulation");
    let label = anomalies[1];
    assert_eq!(label["anomaly"]["event"], "decoder.mpls.bad_label_reserved");
    assert_eq!(label["src_ip"], "10.1.0.1");
    assert_eq!(label["tunnel"]["depth"], 1);
    let stats = &events.last().unwrap()["stats"]["decoder"];
    assert_eq!(stats["event"]["gre"]["wrong_version"], 1);
    assert_eq!(stats["event"]["mpls"]["bad_label_reserved"], 1);
    assert_eq!(stats["invalid"], 1);
    assert_eq!(
        (&stats["vxlan"], &stats["gre"], &stats["mpls"]),
        (&2.into(), &1.into(), &1.into())
    );
    // The TCP packet behind the label is a flow, with its tunnel.
    let flow = events
        .iter()
        .find(|e| e["event_type"] == "flow" && e["src_ip"] == "10.1.0.1")
        .expect("inner flow");
    assert_eq!(flow["tunnel"]["dest_ip"], "192.0.2.2");
}

#[test]
fn a_fragmented_tunnel_packet_is_decapsulated_once_whole() {
    let ts = Timestamp::from_secs(1_700_000_000);
    let udp = vxlan_udp(&eth(0x0800, &inner_tcp()));
    let (head, tail) = udp.split_at(32);
    let frames = [
        (ts, eth(0x0800, &ipv4(VTEP_A, VTEP_B, 17, (4, false), tail))),
        (ts, eth(0x0800, &ipv4(VTEP_A, VTEP_B, 17, (0, true), head))),
    ];
    let events = run(&frames, Part::All);
    let flow = events
        .iter()
        .find(|e| e["event_type"] == "flow" && e["src_ip"] == "10.1.0.1")
        .unwrap_or_else(|| panic!("no inner flow: {events:#?}"));
    assert_eq!(flow["tunnel"]["src_port"], 50000);
    assert_eq!(flow["dest_port"], 8080);
    let outer = events
        .iter()
        .find(|e| e["event_type"] == "flow" && e["dest_port"] == 4789)
        .expect("the tunnel's own flow");
    assert_eq!(outer["flow"]["pkts_toserver"], 2, "both fragments");
    let stats = &events.last().unwrap()["stats"];
    assert_eq!(stats["decoder"]["vxlan"], 1);
    assert_eq!(stats["defrag"]["ipv4"]["reassembled"], 1);
}
