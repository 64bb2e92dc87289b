#![no_main]
//! Decapsulation: any bytes, under any link type and any set of decoders,
//! through the walker, the capture thread's shard hash, and the resumption
//! after reassembly that the engine does for fragmented tunnels.

use std::hash::BuildHasherDefault;

use fumidai_wire::key::shard_hash;
use fumidai_wire::tunnel::{self, Decap, DecoderConfig, Ports};
use fumidai_wire::{Decoded, LinkType};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 7] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Raw,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Chdlc,
];

fuzz_target!(|data: &[u8]| {
    // Two control bytes: the link type and limit, then which decoders are on.
    let [a, b, frame @ ..] = data else { return };
    let on = |bit: u8| b & (1 << bit) != 0;
    let cfg = DecoderConfig {
        max_layers: 2 + (a >> 3) % 30,
        gre: on(0),
        erspan: on(1),
        erspan_type1: on(2),
        vxlan: on(3).then(|| Ports::new(&[4789, 8472])).flatten(),
        geneve: on(4).then(|| Ports::new(&[6081])).flatten(),
        teredo: on(5).then(|| Ports::new(&[3544])).flatten(),
        mpls: on(6),
        pppoe: on(7),
        ipip: true,
        etag: true,
        vntag: true,
        tunnel_keys: a & 1 == 0,
    };
    let link = LINKS[usize::from(a & 7) % LINKS.len()];
    let mut d = Decap::default();
    if let Decoded::Ip(p) = tunnel::decode(&cfg, link, frame, &mut d) {
        assert!(d.encaps().len() <= usize::from(cfg.max_layers));
        if tunnel::carries(&cfg, &p) {
            let _ = tunnel::resume(&cfg, p, &mut d);
        }
    }
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
    let _ = shard_hash(&h, &cfg, link, frame, &mut d);
});
