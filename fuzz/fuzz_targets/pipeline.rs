#![no_main]
//! The whole per-worker pipeline — decode, defragmentation, flows, TCP
//! reassembly, the application layer, detection — over arbitrary packets,
//! with small memcaps so every bound is reached. Besides never panicking:
//! no meter ever goes past its cap, and once every flow has ended the
//! reassembly and application-layer memory is all given back (an
//! accounting leak would show here).
//!
//! Input: the first byte picks the link type; then each packet is a 2-byte
//! length, a 1-byte time step (in 10 ms units, so windows and timeouts
//! pass) and the frame's bytes.

use std::sync::Arc;

use fumidai_budget::Budget;
use fumidai_detect::config::{AlertLimitsConf, ByteSize, Rate};
use fumidai_detect::{DetectConf, Detector, NetSet};
use fumidai_engine::{Engine, EngineConfig};
use fumidai_flow::{EndReason, StreamConfig};
use fumidai_wire::defrag::DefragConfig;
use fumidai_wire::{LinkType, Timestamp};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 6] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
];

fn detector(budget: &Arc<Budget>) -> Detector {
    let mut conf = DetectConf::default();
    conf.sweep.memcap = ByteSize(16 << 10);
    conf.sweep.min_hosts = 3;
    conf.smtp.bots_memcap = ByteSize(16 << 10);
    conf.smtp.bot_messages_per_hour = 3;
    conf.amplification.victims_memcap = ByteSize(16 << 10);
    conf.amplification.min_reflectors = 2;
    conf.alert_limits = AlertLimitsConf {
        per_signature: Rate {
            count: 5,
            seconds: 60,
        },
        sample: 3,
        memcap: ByteSize(16 << 10),
    };
    let home = NetSet::new([
        "10.0.0.0/8".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
    ]);
    Detector::with_budget(conf, home, NetSet::default(), Arc::clone(budget))
}

fn config() -> EngineConfig {
    EngineConfig {
        max_flows: 64,
        stream: StreamConfig {
            depth: 4096,
            max_buffered: 2048,
            max_segments: 16,
            retain_bytes: 1024,
            ..StreamConfig::default()
        },
        stream_memcap: 16 << 10,
        flow_memcap: 64 << 10,
        app_memcap: 32 << 10,
        amp_memcap: 16 << 10,
        defrag: DefragConfig {
            max_trackers: 8,
            memcap: 8 << 10,
            max_fragments: 16,
            ..DefragConfig::default()
        },
        ..EngineConfig::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let budget = Budget::new(4 << 20);
    let det = Arc::new(detector(&budget));
    let mut engine = Engine::new(Arc::new(config()), Arc::clone(&det));
    engine.set_checksums(first & 0x80 != 0);
    let link = LINKS[usize::from(first & 0x7f) % LINKS.len()];
    let mut ts = 1_700_000_000_000_000u64;
    let mut n = 0u32;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        ts += u64::from(rest[2]) * 10_000;
        let frame = &rest[3..3 + len];
        rest = &rest[3 + len..];
        engine.process(link, Timestamp(ts), len as u32, frame);
        n += 1;
        if n % 8 == 0 {
            engine.advance(Timestamp(ts));
            let _ = engine.take_output(Default::default());
        }
        for r in engine
            .mem_reports()
            .iter()
            .chain(det.shared.reports().iter())
        {
            assert!(r.memuse <= r.memcap, "{r:?}");
        }
        assert!(budget.used() <= budget.cap());
    }
    engine.end_all(EndReason::Shutdown);
    let out = engine.take_output(Default::default());
    for (_, line) in out.iter() {
        assert!(line.ends_with(b"\n"));
    }
    let [_flow, reassembly, _defrag, app, _amp, _floods] = engine.mem_reports();
    assert_eq!(
        reassembly.memuse, 0,
        "reassembly memory leaked: {reassembly:?}"
    );
    assert_eq!(app.memuse, 0, "app-layer memory leaked: {app:?}");
});
