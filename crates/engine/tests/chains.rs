//! Proxy chains through the engine: whatever fumidai decodes is decoded
//! inside a tunnel to any depth (HTTP in CONNECT, SOCKS in CONNECT, CONNECT
//! in SOCKS, HTTP in SOCKS, SMTP at the end of a chain), every record
//! inside carries the chain of hops (`tunnel_chain`, outermost first), a
//! proxy request inside a tunnel raises 9700005, and transaction ids start
//! again from 0 in each tunnel, as Suricata's do after a CONNECT.

use std::sync::Arc;

use fumidai_detect::{DetectConf, Detector, NetSet};
use fumidai_engine::{Engine, EngineConfig};
use fumidai_flow::EndReason;
use fumidai_wire::{LinkType, Timestamp};
use serde_json::{Value, json};

const CLIENT: [u8; 4] = [203, 0, 113, 9];
const PROXY: [u8; 4] = [10, 1, 1, 1];

/// Which way a piece of a conversation goes.
#[derive(Clone, Copy)]
enum Dir {
    ToServer,
    ToClient,
}
use Dir::*;

/// One TCP connection, client port 40000 to `port` on PROXY: handshake,
/// the exchanges in order (each its own segment, acknowledged), FIN both
/// ways.
fn conversation(port: u16, exchanges: &[(Dir, &[u8])]) -> Vec<(Timestamp, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut t = 1_700_000_000_000_000u64;
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut push = |from_client: bool, flags: &str, seq: u32, ack: u32, data: &[u8]| {
        let (src, dst, sp, dp) = if from_client {
            (CLIENT, PROXY, 40000, port)
        } else {
            (PROXY, CLIENT, port, 40000)
        };
        let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 65535);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'A' => b.ack(ack),
                'F' => b.fin(),
                'P' => b.psh(),
                _ => b,
            };
        }
        let mut v = Vec::new();
        b.write(&mut v, data).expect("frame");
        t += 1000;
        frames.push((Timestamp(t), v));
    };
    push(true, "S", cseq, 0, b"");
    push(false, "SA", sseq, cseq + 1, b"");
    cseq += 1;
    sseq += 1;
    push(true, "A", cseq, sseq, b"");
    for (dir, data) in exchanges {
        match dir {
            ToServer => {
                push(true, "PA", cseq, sseq, data);
                cseq += data.len() as u32;
                push(false, "A", sseq, cseq, b"");
            }
            ToClient => {
                push(false, "PA", sseq, cseq, data);
                sseq += data.len() as u32;
                push(true, "A", cseq, sseq, b"");
            }
        }
    }
    push(true, "FA", cseq, sseq, b"");
    push(false, "FA", sseq, cseq + 1, b"");
    push(true, "A", cseq + 1, sseq + 1, b"");
    frames
}

fn run(frames: &[(Timestamp, Vec<u8>)]) -> Vec<Value> {
    let det = Detector::new(
        DetectConf::default(),
        NetSet::new(["10.0.0.0/8".parse().unwrap()]),
        NetSet::default(),
    );
    let mut e = Engine::new(Arc::new(EngineConfig::default()), Arc::new(det));
    for (ts, f) in frames {
        e.process(LinkType::Ethernet, *ts, f.len() as u32, f);
    }
    e.end_all(EndReason::Shutdown);
    e.take_output(Default::default())
        .iter()
        .map(|(_, l)| serde_json::from_slice(l).expect("JSON"))
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == kind).collect()
}

fn sids(events: &[Value]) -> Vec<u64> {
    let mut v: Vec<u64> = of(events, "alert")
        .iter()
        .map(|a| a["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    v.sort_unstable();
    v
}

const OK_200: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
const WEB_200: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn socks5_connect_name(name: &str, port: u16) -> Vec<u8> {
    let mut v = vec![5, 1, 0, 3, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(&port.to_be_bytes());
    v
}

const SOCKS5_GRANTED: &[u8] = &[5, 0, 0, 1, 10, 1, 1, 2, 0x9c, 0x40];

#[test]
fn http_inside_a_connect_tunnel_is_its_own_transaction() {
    let ev = run(&conversation(
        3128,
        &[
            (ToServer, b"CONNECT abc:443 HTTP/1.1\r\n\r\n\n"),
            (ToClient, OK_200),
            (ToServer, b"GET / HTTP/1.1\r\nHost: abc\r\n\r\n"),
            (ToClient, WEB_200),
        ],
    ));
    let http = of(&ev, "http");
    assert_eq!(http.len(), 2, "{http:#?}");
    assert_eq!(
        (&http[0]["http"]["http_method"], &http[0]["tx_id"]),
        (&json!("CONNECT"), &json!(0))
    );
    assert!(http[0].get("tunnel_chain").is_none());
    assert_eq!(
        (&http[1]["http"]["http_method"], &http[1]["tx_id"]),
        (&json!("GET"), &json!(0)),
        "the transaction ids start again inside the tunnel"
    );
    assert_eq!(
        http[1]["tunnel_chain"],
        json!([{"proto": "http", "target": "abc:443", "tx_id": 0}])
    );
    assert_eq!(
        sids(&ev),
        Vec::<u64>::new(),
        "an origin-form GET is no chain"
    );
    let flow = of(&ev, "flow")[0];
    assert_eq!(flow["app_proto_orig"], "http");
    assert_eq!(flow["tunnel_chain"][0]["target"], "abc:443");
}

#[test]
fn squid_to_socks_to_smtp_is_a_chain_with_smtp_at_its_end() {
    let ev = run(&conversation(
        8080,
        &[
            (
                ToServer,
                b"CONNECT 10.1.1.1:1080 HTTP/1.1\r\nHost: 10.1.1.1:1080\r\n\r\n",
            ),
            (ToClient, OK_200),
            (ToServer, &[5, 1, 0]),
            (ToClient, &[5, 0]),
            (ToServer, &socks5_connect_name("mx.example.net", 25)),
            (ToClient, SOCKS5_GRANTED),
            (ToClient, b"220 mx.example.net ESMTP\r\n"),
            (ToServer, b"EHLO spammer.example\r\n"),
            (ToClient, b"250 mx.example.net\r\n"),
            (ToServer, b"MAIL FROM:<a@spammer.example>\r\n"),
            (ToClient, b"250 ok\r\n"),
            (ToServer, b"RCPT TO:<victim@elsewhere.example>\r\n"),
            (ToClient, b"250 ok\r\n"),
            (ToServer, b"QUIT\r\n"),
            (ToClient, b"221 bye\r\n"),
        ],
    ));
    // CONNECT to 1080 (not an allowed port), a SOCKS request inside it
    // (the chain) from outside home_net, to an SMTP port and granted, SMTP
    // inside, and a relay to a foreign domain, accepted.
    assert_eq!(
        sids(&ev),
        vec![
            9700004, 9700005, 9700010, 9700011, 9700012, 9700020, 9700021, 9700023
        ]
    );
    let chain = of(&ev, "alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 9700005)
        .unwrap();
    assert_eq!(
        chain["tunnel_chain"],
        json!([{"proto": "http", "target": "10.1.1.1:1080", "tx_id": 0}])
    );
    assert_eq!(chain["socks"]["request"]["name"], "mx.example.net");
    let smtp = of(&ev, "smtp");
    assert_eq!(smtp.len(), 1);
    assert_eq!(
        smtp[0]["tunnel_chain"],
        json!([
            {"proto": "http", "target": "10.1.1.1:1080", "tx_id": 0},
            {"proto": "socks5", "target": "mx.example.net:25", "tx_id": 0}
        ])
    );
    assert_eq!(smtp[0]["tx_id"], 0);
    let in_tunnel = of(&ev, "alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 9700023)
        .unwrap();
    assert_eq!(
        in_tunnel["fumidai"]["tunnel"]["request"],
        "SOCKS5 CONNECT mx.example.net:25"
    );
    assert_eq!(in_tunnel["tunnel_chain"], smtp[0]["tunnel_chain"]);
    assert_eq!(of(&ev, "socks")[0]["tunnel_chain"][0]["proto"], "http");
}

#[test]
fn socks_to_squid_absolute_form_get_is_a_chain() {
    let ev = run(&conversation(
        1080,
        &[
            (ToServer, &[5, 1, 0]),
            (ToClient, &[5, 0]),
            (ToServer, &[5, 1, 0, 1, 10, 1, 1, 1, 0x1f, 0x90]),
            (ToClient, SOCKS5_GRANTED),
            (
                ToServer,
                b"GET http://10.1.1.1/ HTTP/1.1\r\nHost: 10.1.1.1\r\n\r\n",
            ),
            (ToClient, WEB_200),
        ],
    ));
    assert_eq!(sids(&ev), vec![9700001, 9700005, 9700012]);
    let http = of(&ev, "http");
    assert_eq!(
        http[0]["tunnel_chain"],
        json!([{"proto": "socks5", "target": "10.1.1.1:8080", "tx_id": 0}])
    );
    assert_eq!(of(&ev, "flow")[0]["app_proto_orig"], "socks");
}

#[test]
fn connect_in_socks_then_http_and_connect_in_connect() {
    // SOCKS4 to a proxy, CONNECT through it, then a page.
    let mut socks4 = vec![4, 1, 0x1f, 0x90, 10, 1, 1, 3];
    socks4.extend_from_slice(b"u\0");
    let ev = run(&conversation(
        1080,
        &[
            (ToServer, &socks4),
            (ToClient, &[0, 90, 0, 0, 0, 0, 0, 0]),
            (ToServer, b"CONNECT www.example.org:80 HTTP/1.1\r\n\r\n"),
            (ToClient, OK_200),
            (
                ToServer,
                b"GET /x HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
            ),
            (ToClient, WEB_200),
        ],
    ));
    assert_eq!(sids(&ev), vec![9700004, 9700005, 9700012]);
    let http = of(&ev, "http");
    assert_eq!(http.len(), 2);
    assert_eq!(
        http[1]["tunnel_chain"],
        json!([
            {"proto": "socks4", "target": "10.1.1.3:8080", "tx_id": 0},
            {"proto": "http", "target": "www.example.org:80", "tx_id": 0}
        ])
    );
    // CONNECT inside CONNECT.
    let ev = run(&conversation(
        3128,
        &[
            (ToServer, b"CONNECT 10.1.1.9:3128 HTTP/1.1\r\n\r\n"),
            (ToClient, OK_200),
            (ToServer, b"CONNECT www.example.org:443 HTTP/1.1\r\n\r\n"),
            (ToClient, OK_200),
        ],
    ));
    assert_eq!(sids(&ev), vec![9700004, 9700005]);
    let chained = &of(&ev, "alert")[1];
    assert_eq!(chained["http"]["url"], "www.example.org:443");
    assert_eq!(chained["tunnel_chain"][0]["target"], "10.1.1.9:3128");
}

#[test]
fn a_chain_deeper_than_the_limit_stops_with_an_anomaly() {
    let mut ex: Vec<(Dir, &[u8])> = Vec::new();
    for _ in 0..10 {
        ex.push((ToServer, b"CONNECT 10.1.1.9:3128 HTTP/1.1\r\n\r\n"));
        ex.push((ToClient, OK_200));
    }
    let ev = run(&conversation(3128, &ex));
    let anomalies: Vec<&Value> = of(&ev, "anomaly");
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
    assert_eq!(anomalies[0]["anomaly"]["event"], "http.chain_too_deep");
    assert_eq!(
        of(&ev, "http").len(),
        9,
        "eight hops followed, the ninth opened"
    );
    assert_eq!(
        of(&ev, "flow")[0]["tunnel_chain"].as_array().unwrap().len(),
        9
    );
}

/// The `http` objects of a tunnel are written as Suricata writes them: an
/// IPv6 literal host keeps its brackets, the content type is the media
/// type without its parameters, and `length` is there (0) when the response
/// has no body.
#[test]
fn http_objects_in_and_around_a_tunnel_are_written_as_suricata_writes_them() {
    let ev = run(&conversation(
        3128,
        &[
            (ToServer, b"CONNECT [2001:DB8::7]:443 HTTP/1.1\r\n\r\n"),
            (ToClient, OK_200),
            (ToServer, b"GET / HTTP/1.1\r\nHost: [2001:db8::7]:8080\r\n\r\n"),
            (
                ToClient,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: 2\r\n\r\nok",
            ),
        ],
    ));
    let http = of(&ev, "http");
    assert_eq!(http.len(), 2, "{http:#?}");
    let (connect, get) = (&http[0]["http"], &http[1]["http"]);
    assert_eq!(connect["hostname"], json!("[2001:db8::7]"));
    assert_eq!(connect["http_port"], json!(443));
    assert_eq!(connect["length"], json!(0));
    assert!(connect.get("http_content_type").is_none(), "{connect}");
    assert_eq!(get["hostname"], json!("[2001:db8::7]"));
    assert_eq!(get["http_port"], json!(8080));
    assert_eq!(get["http_content_type"], json!("text/html"));
    assert_eq!(get["length"], json!(2));
}
