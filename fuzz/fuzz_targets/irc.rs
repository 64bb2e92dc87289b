#![no_main]
//! The IRC parser over arbitrary two-way byte streams, cut anywhere.

use fumidai_proto::Direction;
use fumidai_proto::irc::{IrcConfig, IrcEvent, IrcParser, parse_dcc, probe};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let cfg = IrcConfig {
        max_line: 256,
        max_channels: 4,
        max_ops: 4,
        ..IrcConfig::default()
    };
    common::drive(IrcParser::new(cfg), data, |d, events| {
        for e in events {
            if let IrcEvent::Chat(c) = e {
                let _ = d
                    .parser()
                    .session()
                    .is_op(&c.target, c.source.as_deref().unwrap_or(""));
            }
        }
    });
    let _ = probe(Direction::ToServer, data);
    let _ = probe(Direction::ToClient, data);
    let _ = parse_dcc(&String::from_utf8_lossy(data));
    let _ = fumidai_proto::detect(data, data, 6667);
});
