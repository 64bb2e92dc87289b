#![no_main]
//! The SMTP parser (and the message parser behind it) over arbitrary
//! two-way byte streams, cut anywhere.

use fumidai_proto::smtp::url::UrlConfig;
use fumidai_proto::smtp::{SmtpConfig, SmtpEvent, SmtpParser};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut cfg = SmtpConfig {
        max_line: 256,
        max_txs: 4,
        ..SmtpConfig::default()
    };
    // Every body search on: URL schemes that match often, with and
    // without the scheme kept (chosen by the input), and both MD5s.
    cfg.message.urls = UrlConfig::new(
        true,
        &["http", "h", "mailto", "x/"],
        data.first().is_some_and(|b| b & 1 == 1),
    );
    cfg.message.max_list = 4;
    cfg.message.body_md5 = true;
    cfg.message.subject_md5 = true;
    common::drive(SmtpParser::new(cfg), data, |d, events| {
        for e in events {
            if let SmtpEvent::TxDone { tx } = e {
                let _ = d.parser_mut().take_tx(*tx);
            }
        }
    });
    let _ = fumidai_proto::smtp::message::decode_words(data);
});
