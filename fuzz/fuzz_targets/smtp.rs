#![no_main]
//! The SMTP parser (and the message parser behind it) over arbitrary
//! two-way byte streams, cut anywhere.

use fumidai_proto::smtp::{SmtpConfig, SmtpEvent, SmtpParser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let cfg = SmtpConfig {
        max_line: 256,
        max_txs: 4,
        ..SmtpConfig::default()
    };
    common::drive(SmtpParser::new(cfg), data, |d, events| {
        for e in events {
            if let SmtpEvent::TxDone { tx } = e {
                let _ = d.parser_mut().take_tx(*tx);
            }
        }
    });
    let _ = fumidai_proto::smtp::message::decode_words(data);
});
