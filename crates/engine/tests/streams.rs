//! Reassembly is byte-exact on real captures: each direction of these TCP
//! streams equals tshark's `follow,tcp,raw` reassembly (SHA-256 recorded by
//! scripts/truth/streams.sh).

mod common;

use common::{config, pcap, replay};
use fumidai_flow::StreamConfig;
use fumidai_proto::Direction;
use sha2::{Digest, Sha256};

fn hex(d: &[u8]) -> String {
    Sha256::digest(d)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn reassembled_streams_equal_tsharks() {
    let expected = include_str!("data/streams.txt");
    let mut checked = 0;
    let mut files = std::collections::BTreeSet::new();
    for line in expected.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (file, client, server) = (
            f[0],
            (f[2], f[3].parse().unwrap()),
            (f[4], f[5].parse().unwrap()),
        );
        let (c2s_len, c2s, s2c_len, s2c) = (
            f[6].parse::<usize>().unwrap(),
            f[7],
            f[8].parse::<usize>().unwrap(),
            f[9],
        );
        let r = replay(
            &pcap(file),
            config(StreamConfig {
                depth: 0,
                ..Default::default()
            }),
        );
        let flow = r
            .flow(client, server)
            .unwrap_or_else(|| panic!("{file}: no flow {client:?} -> {server:?}"));
        let id = flow["flow_id"].as_u64().unwrap();
        let ts = r.stream(id, Direction::ToServer);
        let tc = r.stream(id, Direction::ToClient);
        assert_eq!(
            (ts.len(), hex(ts).as_str()),
            (c2s_len, c2s),
            "{file} client->server"
        );
        assert_eq!(
            (tc.len(), hex(tc).as_str()),
            (s2c_len, s2c),
            "{file} server->client"
        );
        checked += 1;
        files.insert(file);
    }
    assert!(checked >= 5 && files.len() >= 3);
}
