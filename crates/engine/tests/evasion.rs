//! The evasion matrix (pcaps/evasion/, written by scripts/gen-evasion.py):
//! one CONNECT-to-port-25 conversation with SMTP inside, delivered in ways
//! meant to make a sensor see something other than what the endpoints saw.
//! Whatever the delivery, reassembly must yield exactly the bytes the
//! endpoints exchanged, once; where the truth depends on the receiving
//! stack (conflicting overlaps), the configured policy's reading plus an
//! anomaly.

mod common;

use common::{config, pcap, replay};
use fumidai_flow::{OverlapPolicy, StreamConfig};
use fumidai_proto::Direction;

const REQUEST: &[u8] = b"CONNECT mail.example.net:25 HTTP/1.1\r\nHost: mail.example.net:25\r\n\r\n";
const DECOY: &[u8] = b"CONNECT mx99.example.org:25 HTTP/1.1\r\nHost: mail.example.net:25\r\n\r\n";
const TO_CLIENT: &[u8] = b"HTTP/1.0 200 Connection established\r\n\r\n220 mail.example.net ESMTP\r\n250 mail.example.net\r\n221 bye\r\n";
const AFTER_REQUEST: &[u8] = b"HELO evader.example\r\nQUIT\r\n";

const CASES: &[&str] = &[
    "plain",
    "one-byte-segments",
    "reverse-order",
    "duplicates",
    "overlap-same",
    "overlap-conflict",
    "midstream",
    "request-in-handshake-ack",
    "seq-wrap",
    "ipv4-fragments",
    "ipv6-fragments",
];

fn run(case: &str, policy: OverlapPolicy) -> common::Replay {
    replay(
        &pcap(&format!("evasion/{case}.pcap")),
        config(StreamConfig {
            policy,
            ..Default::default()
        }),
    )
}

fn anomalies(r: &common::Replay) -> Vec<String> {
    r.of_type("anomaly")
        .iter()
        .map(|a| a["anomaly"]["event"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn every_case_reassembles_the_same_conversation_once() {
    for case in CASES {
        for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
            let r = run(case, policy);
            let flows = r.of_type("flow");
            assert_eq!(flows.len(), 1, "{case}: one flow");
            let f = flows[0];
            assert_eq!(f["dest_port"], 8080, "{case}: the client is the client");
            let id = f["flow_id"].as_u64().unwrap();
            let request = if *case == "overlap-conflict" && policy == OverlapPolicy::Last {
                DECOY
            } else {
                REQUEST
            };
            let want_ts = [request, AFTER_REQUEST].concat();
            assert_eq!(
                String::from_utf8_lossy(r.stream(id, Direction::ToServer)),
                String::from_utf8_lossy(&want_ts),
                "{case} {policy:?} to server"
            );
            assert_eq!(
                String::from_utf8_lossy(r.stream(id, Direction::ToClient)),
                String::from_utf8_lossy(TO_CLIENT),
                "{case} {policy:?} to client"
            );
            assert!(r.gaps.is_empty(), "{case}: no gaps: {:?}", r.gaps);
            let events = anomalies(&r);
            let overlap_reported = events
                .iter()
                .any(|e| e == "stream.reassembly_overlap_different_data");
            assert_eq!(
                overlap_reported,
                *case == "overlap-conflict",
                "{case}: {events:?}"
            );
        }
    }
}

#[test]
fn tiny_fragments_are_reported_and_still_reassembled() {
    for (case, event) in [
        ("ipv4-fragments", "decoder.ipv4.frag_tiny_first"),
        ("ipv6-fragments", "decoder.ipv6.frag_tiny_first"),
    ] {
        let r = run(case, OverlapPolicy::First);
        let events = anomalies(&r);
        // One per data packet: the 8-byte first fragment cannot hold the TCP header.
        assert_eq!(
            events.iter().filter(|e| *e == event).count(),
            7,
            "{case}: {events:?}"
        );
        assert!(events.iter().all(|e| e == event), "{case}: {events:?}");
    }
}

#[test]
fn midstream_and_wrap_are_counted_as_such() {
    let r = run("midstream", OverlapPolicy::First);
    assert_eq!(r.of_type("flow")[0]["tcp"]["state"], "closed");
    let r = run("seq-wrap", OverlapPolicy::First);
    assert_eq!(r.of_type("flow")[0]["flow"]["state"], "closed");
}
