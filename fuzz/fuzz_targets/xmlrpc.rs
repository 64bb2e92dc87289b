#![no_main]
//! The XML-RPC request reader, fed in the pieces the input's first byte
//! chooses, and the Shellshock scanner on the same bytes both ways.

use fumidai_proto::shellshock::{Encoding, Scanner as Shellshock};
use fumidai_proto::xmlrpc::{Limits, Scanner, url_host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut x = Scanner::new(Limits {
        max_depth: 8,
        max_calls: 2,
        ..Limits::default()
    });
    let mut raw = Shellshock::new(Encoding::Raw);
    let mut url = Shellshock::new(Encoding::Url);
    for piece in body.chunks(step) {
        x.feed(piece);
        raw.feed(piece);
        url.feed(piece);
    }
    let call = x.finish();
    for (src, _) in call.pingbacks() {
        let _ = url_host(src);
    }
    let _ = raw.take();
    let _ = url.take();
});
