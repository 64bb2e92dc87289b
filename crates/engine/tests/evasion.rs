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
    "bad-checksum",
    "out-of-window",
    "ttl-too-short",
    "urgent-data",
    "syn-with-data",
    "rst-wrong-seq",
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

/// Each insertion the receiver would reject is rejected and said: as an
/// anomaly on the flow, or (checksums, urgent data) in the counters.
#[test]
fn insertions_are_rejected_and_reported() {
    for (case, event, counter) in [
        ("bad-checksum", None, Some("tcp.invalid_checksum")),
        (
            "out-of-window",
            Some("stream.pkt_out_of_window"),
            Some("tcp.out_of_window"),
        ),
        (
            "ttl-too-short",
            Some("stream.pkt_ttl_too_short"),
            Some("tcp.ttl_too_short"),
        ),
        ("urgent-data", None, Some("tcp.urgent_oob_data")),
        (
            "syn-with-data",
            Some("stream.3whs_syn_data_ignored"),
            Some("tcp.syn_data_ignored"),
        ),
        (
            "rst-wrong-seq",
            Some("stream.rst_invalid"),
            Some("tcp.rst_invalid"),
        ),
    ] {
        let r = run(case, OverlapPolicy::First);
        if let Some(event) = event {
            let events = anomalies(&r);
            assert_eq!(
                events.iter().filter(|e| *e == event).count(),
                1,
                "{case}: {events:?}"
            );
        }
        if let Some(counter) = counter {
            assert_eq!(r.counters.get(counter), 1, "{case}: {counter}");
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

/// The detections, not just the bytes: whatever the delivery, one http
/// transaction with the request's target, one smtp transaction with the
/// HELO, and 9700002 / 9700003 / 9700023 exactly once each.
#[test]
fn every_case_raises_the_open_proxy_alerts_exactly_once() {
    for case in CASES {
        for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
            let r = run(case, policy);
            let mut sids: Vec<u64> = r
                .of_type("alert")
                .iter()
                .filter_map(|a| a["alert"]["signature_id"].as_u64())
                .collect();
            sids.sort_unstable();
            assert_eq!(sids, [9700002, 9700003, 9700023], "{case} {policy:?}");
            let http = r.of_type("http");
            assert_eq!(http.len(), 1, "{case} {policy:?}: one http transaction");
            let target = if *case == "overlap-conflict" && policy == OverlapPolicy::Last {
                "mx99.example.org:25"
            } else {
                "mail.example.net:25"
            };
            assert_eq!(http[0]["http"]["url"], target, "{case} {policy:?}");
            assert_eq!(http[0]["http"]["status"], 200, "{case} {policy:?}");
            let smtp = r.of_type("smtp");
            assert_eq!(smtp.len(), 1, "{case} {policy:?}: one smtp transaction");
            assert_eq!(
                smtp[0]["smtp"]["helo"], "evader.example",
                "{case} {policy:?}"
            );
            assert_eq!(smtp[0]["app_proto"], "smtp", "{case} {policy:?}");
            // The alert names the tunnelled transaction, as the smtp event does.
            let tunnel = r
                .of_type("alert")
                .into_iter()
                .find(|a| a["alert"]["signature_id"] == 9700023)
                .unwrap();
            assert_eq!(tunnel["tx_id"], smtp[0]["tx_id"], "{case} {policy:?}");
            assert_eq!(
                tunnel["fumidai"]["tunnel"]["request"],
                "CONNECT mail.example.net:25 HTTP/1.1"
                    .replace("mail.example.net", target.trim_end_matches(":25")),
                "{case} {policy:?}"
            );
            let flow = r.of_type("flow");
            assert_eq!(
                (&flow[0]["app_proto"], &flow[0]["app_proto_orig"]),
                (&"smtp".into(), &"http".into()),
                "{case} {policy:?}"
            );
        }
    }
}

/// An absolute-form request padded out with 100 pipelined GETs in the same
/// segment, never answered: the parser's pipelining limit completes the
/// oldest transactions instead of dropping them, so the request is still
/// inspected (9700001) and every transaction is logged.
#[test]
fn padding_cannot_push_a_proxy_request_out_of_sight() {
    let r = replay(
        &pcap("evasion/pipeline-padding.pcap"),
        config(StreamConfig::default()),
    );
    let sids: Vec<u64> = r
        .of_type("alert")
        .iter()
        .filter_map(|a| a["alert"]["signature_id"].as_u64())
        .collect();
    assert_eq!(sids, [9700001]);
    assert_eq!(r.of_type("http").len(), 101);
    let first = r
        .of_type("http")
        .into_iter()
        .find(|h| h["tx_id"] == 0)
        .unwrap();
    assert_eq!(first["http"]["url"], "http://mail.example.net/");
}

/// `stream.host_os_policy`: the receiving host's stack decides a
/// conflicting overlap, whatever the default policy says.
#[test]
fn the_receivers_own_policy_decides_overlaps() {
    for (policy, want) in [
        (OverlapPolicy::Last, DECOY),
        (OverlapPolicy::First, REQUEST),
    ] {
        let mut cfg = config(StreamConfig::default());
        cfg.host_policy = vec![("198.51.100.20/32".parse().unwrap(), policy)];
        let r = replay(&pcap("evasion/overlap-conflict.pcap"), cfg);
        let id = r.of_type("flow")[0]["flow_id"].as_u64().unwrap();
        assert!(
            r.stream(id, Direction::ToServer).starts_with(want),
            "{policy:?}"
        );
    }
}
