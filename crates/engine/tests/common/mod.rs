//! Replays a capture through one engine, as a worker would.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fumidai_detect::{DetectConf, Detector, NetSet};
use fumidai_engine::{AnomalyLog, Engine, EngineConfig};
use fumidai_eve::EventType;
use fumidai_flow::{Chunk, Class, EndReason, StreamConfig, Timeouts};
use fumidai_proto::{AppProto, Direction};
use fumidai_wire::defrag::DefragConfig;
use fumidai_wire::{LinkType, Timestamp};
use serde_json::Value;

pub fn pcap(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pcaps")
        .join(name)
}

pub fn config(stream: StreamConfig) -> EngineConfig {
    EngineConfig {
        timeouts: Timeouts::new(|c| match c {
            Class::TcpEstablished => 600,
            Class::TcpNew | Class::TcpClosed => 60,
            _ => 30,
        }),
        max_flows: 100_000,
        stream,
        app_depth: vec![
            (AppProto::Http, 0),
            (AppProto::Smtp, 0),
            (AppProto::Socks, 1 << 20),
        ],
        stream_memcap: 64 << 20,
        defrag: DefragConfig::default(),
        log: [true; EventType::ALL.len()],
        anomaly: AnomalyLog {
            decode: true,
            stream: true,
            applayer: true,
        },
        community_id_seed: 0,
        ..EngineConfig::default()
    }
}

/// What a replay produced: EVE lines, and every reassembled stream with
/// its gaps, by flow id and direction.
pub struct Replay {
    pub events: Vec<Value>,
    /// The engine's counters at the end, under their stats names.
    pub counters: fumidai_eve::Counters,
    pub streams: HashMap<(u64, usize), Vec<u8>>,
    pub gaps: HashMap<(u64, usize), u64>,
}

impl Replay {
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event_type"] == t)
            .collect()
    }

    /// The flow record whose client and server are as given.
    pub fn flow(&self, client: (&str, u64), server: (&str, u64)) -> Option<&Value> {
        // EVE prints IPv6 expanded (as Suricata), tshark compressed.
        let same = |v: &Value, a: &str| {
            let parse = |s: &str| s.parse::<std::net::IpAddr>().ok();
            v.as_str()
                .and_then(parse)
                .is_some_and(|x| Some(x) == parse(a))
        };
        self.of_type("flow").into_iter().find(|f| {
            same(&f["src_ip"], client.0)
                && f["src_port"] == client.1
                && same(&f["dest_ip"], server.0)
                && f["dest_port"] == server.1
        })
    }

    pub fn stream(&self, flow_id: u64, dir: Direction) -> &[u8] {
        self.streams
            .get(&(flow_id, dir.index()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Streams and gap totals by (flow id, direction index).
type Collected = (HashMap<(u64, usize), Vec<u8>>, HashMap<(u64, usize), u64>);

/// Replays `file` through an engine configured with `cfg`.
pub fn replay(file: &Path, cfg: EngineConfig) -> Replay {
    let home = NetSet::new(
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|n| n.parse().ok()),
    );
    let det = Detector::new(DetectConf::default(), home, NetSet::default());
    let mut engine = Engine::new(Arc::new(cfg), Arc::new(det));
    let streams: Arc<Mutex<Collected>> = Arc::default();
    let sink = Arc::clone(&streams);
    engine.set_stream_tap(Box::new(move |id, dir: Direction, chunk: Chunk<'_>| {
        let mut g = sink.lock().unwrap();
        match chunk {
            Chunk::Data(d) => {
                g.0.entry((id, dir.index()))
                    .or_default()
                    .extend_from_slice(d)
            }
            Chunk::Gap(n) => *g.1.entry((id, dir.index())).or_default() += n,
            Chunk::End => {}
        }
    }));
    let mut cap = pcap::Capture::from_file(file).expect("open capture");
    let link = LinkType::from_dlt(cap.get_datalink().0).expect("link type");
    // As the sensor does: no checksum validation on a capture taken with
    // checksum offloading.
    let mut sampler = fumidai_wire::checksum::OffloadSampler::default();
    let mut first = pcap::Capture::from_file(file).expect("open capture");
    for _ in 0..fumidai_wire::checksum::OffloadSampler::SAMPLE {
        let Ok(p) = first.next_packet() else { break };
        if let fumidai_wire::Decoded::Ip(ip) = fumidai_wire::decode(link, p.data) {
            sampler.add(&ip);
        }
    }
    engine.set_checksums(!sampler.offload());
    while let Ok(p) = cap.next_packet() {
        let ts = Timestamp::from_sec_usec(p.header.ts.tv_sec as u64, p.header.ts.tv_usec as u64);
        engine.process(link, ts, p.header.len, p.data);
    }
    engine.end_all(EndReason::Shutdown);
    let counters = engine.counters();
    let out = engine.take_output(Default::default());
    let events = out
        .iter()
        .map(|(_, line)| serde_json::from_slice(line).expect("JSON"))
        .collect();
    let (streams, gaps) = std::mem::take(&mut *streams.lock().unwrap());
    Replay {
        events,
        counters,
        streams,
        gaps,
    }
}
