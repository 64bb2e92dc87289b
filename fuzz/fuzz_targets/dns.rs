#![no_main]
//! DNS: one datagram, and the TCP framing over arbitrary streams.

use fumidai_proto::dns::{DnsTcpParser, parse, probe_tcp};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse(data) {
        let _ = (m.header.rcode(), m.header.opcode());
    }
    let _ = probe_tcp(data);
    common::drive(DnsTcpParser::default(), data, |_, _| {});
    let _ = fumidai_proto::detect(data, data, 53);
});
