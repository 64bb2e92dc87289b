#![no_main]
//! The NTP datagram parser, monitor-list iteration included.

use fumidai_proto::ntp::{Body, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse(data) {
        let _ = p.is_response();
        if let Body::Private(pr) = &p.body {
            for e in pr.monlist() {
                let _ = e.address;
            }
        }
    }
});
