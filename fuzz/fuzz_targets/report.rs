#![no_main]
// `fumidai report` on any input: each line is folded into the summaries
// and the page is rendered; nothing may panic, whatever the log holds.

use std::path::Path;

use fumidai_report::html::{PageInfo, render};
use fumidai_report::input::Position;
use fumidai_report::model::Model;
use fumidai_report::nets::HomeNet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()], "fuzz");
    let mut m = Model::new(home);
    m.begin_file(Path::new("fuzz.json"));
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        m.observe(
            line,
            Position {
                lines: i as u64 + 1,
                raw_bytes: 0,
            },
        );
    }
    m.finish_file(Default::default());
    let _ = render(
        &m,
        &PageInfo {
            title: "fuzz".into(),
            home: "10.0.0.0/8".into(),
            version: "0",
        },
    );
});
