#![no_main]
//! The SOCKS parser over arbitrary two-way byte streams, cut anywhere.

use fumidai_proto::socks::{SocksConfig, SocksEvent, SocksParser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::drive(
        SocksParser::new(SocksConfig {
            keep_password: true,
        }),
        data,
        |d, events| {
            for e in events {
                if let SocksEvent::TxDone { tx } = e {
                    let tx = d.parser_mut().take_tx(*tx);
                    if let Some(t) = tx {
                        let _ = t.status();
                    }
                }
            }
        },
    );
    let _ = fumidai_proto::socks::probe(fumidai_proto::Direction::ToServer, data);
});
