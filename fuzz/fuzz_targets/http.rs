#![no_main]
//! The HTTP parser over arbitrary two-way byte streams, cut anywhere.

use fumidai_proto::http::{HttpConfig, HttpEvent, HttpParser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let cfg = HttpConfig {
        max_line: 256,
        max_txs: 8,
        ..HttpConfig::default()
    };
    common::drive(HttpParser::new(cfg), data, |d, events| {
        for e in events {
            if let HttpEvent::TxDone { tx } = e {
                // Logged transactions are taken away, as the engine does.
                let _ = d.parser_mut().take_tx(*tx);
            }
        }
    });
    let _ = fumidai_proto::http::probe(fumidai_proto::Direction::ToServer, data);
    let _ = fumidai_proto::detect(data, data, 80);
});
