//! Community ID v1 (corelight/community-id-spec): a flow hash that Zeek,
//! Suricata, Arkime and SIEMs agree on, so one flow can be followed across
//! tools.

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::key::Endpoint;
use std::net::IpAddr;

/// ICMP types that pair with a reply type: such flows are two-way.
fn icmp_counterpart(v6: bool, t: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 {
        &[(128, 129), (133, 134), (135, 136), (130, 131), (144, 145)]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if t == a {
            Some(b)
        } else if t == b {
            Some(a)
        } else {
            None
        }
    })
}

/// A Community ID v1 string (`1:` and 28 base64 characters), held inline:
/// computed when a record is written rather than stored with every flow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommunityId([u8; 30]);

impl CommunityId {
    /// `1:` and base64: ASCII that needs no JSON escaping.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII: "1:" and base64.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl std::ops::Deref for CommunityId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CommunityId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The inputs of one Community ID, as remembered.
type MemoKey = (u16, Endpoint, Endpoint, u8);

/// Recently computed Community IDs, per thread: a flow's records (its
/// transactions, alerts, anomalies, the flow record) are written close
/// together and each needs its flow's ID, which costs a SHA-1 to compute
/// and a few comparisons to look up here. Direct-mapped, so bounded.
const MEMO: usize = 256;

thread_local! {
    static RECENT: std::cell::RefCell<Vec<Option<(MemoKey, CommunityId)>>> =
        std::cell::RefCell::new(vec![None; MEMO]);
}

fn memo_slot(src: &Endpoint, dst: &Endpoint) -> usize {
    let low = |a: &IpAddr| match a {
        IpAddr::V4(v4) => u32::from(*v4),
        IpAddr::V6(v6) => u128::from(*v6) as u32,
    };
    let x = low(&src.addr)
        ^ low(&dst.addr).rotate_left(7)
        ^ (u32::from(src.port) << 16 | u32::from(dst.port));
    (x.wrapping_mul(0x9e37_79b9) >> 24) as usize % MEMO
}

/// The Community ID of a flow from `src` to `dst` over IP protocol `proto`.
/// For ICMP, the endpoints' ports are the ICMP type (source) and code
/// (destination), as the spec defines.
pub fn community_id(seed: u16, src: Endpoint, dst: Endpoint, proto: u8) -> CommunityId {
    let key = (seed, src, dst, proto);
    let slot = memo_slot(&src, &dst);
    let hit = RECENT.with(|r| match r.borrow().get(slot) {
        Some(Some((k, id))) if *k == key => Some(*id),
        _ => None,
    });
    if let Some(id) = hit {
        return id;
    }
    let id = compute(seed, src, dst, proto);
    RECENT.with(|r| {
        if let Some(e) = r.borrow_mut().get_mut(slot) {
            *e = Some((key, id));
        }
    });
    id
}

fn compute(seed: u16, src: Endpoint, dst: Endpoint, proto: u8) -> CommunityId {
    let (mut a, mut b) = (src, dst);
    let mut one_way = false;
    if proto == 1 || proto == 58 {
        let (t, code) = (src.port as u8, dst.port);
        match icmp_counterpart(proto == 58, t) {
            Some(peer) => b.port = u16::from(peer),
            None => {
                one_way = true;
                b.port = code;
            }
        }
    }
    if !one_way && (b.addr, b.port) < (a.addr, a.port) {
        std::mem::swap(&mut a, &mut b);
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    for ip in [a.addr, b.addr] {
        match ip {
            IpAddr::V4(v4) => h.update(v4.octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
    }
    h.update([proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        h.update(a.port.to_be_bytes());
        h.update(b.port.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = [b'='; 30];
    out[0] = b'1';
    out[1] = b':';
    // 20 bytes always encode to 28 characters: the slice is big enough.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out[2..]);
    CommunityId(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo never answers for other inputs, however slots collide.
    #[test]
    fn remembered_ids_are_the_computed_ones() {
        for round in 0..2 {
            for i in 0..2000u32 {
                let a = ep(&format!("10.{}.{}.1", i % 7, i % 251), (i % 3) as u16);
                let b = ep(&format!("fd00::{:x}", i % 13), 80 + (i % 5) as u16);
                let seed = (i % 2) as u16;
                let proto = [6, 17, 1, 58][(i + round) as usize % 4];
                assert_eq!(
                    community_id(seed, a, b, proto),
                    compute(seed, a, b, proto),
                    "{i}"
                );
            }
        }
    }

    fn ep(a: &str, port: u16) -> Endpoint {
        Endpoint {
            addr: a.parse().unwrap(),
            port,
        }
    }

    /// Expected values computed with Corelight's reference implementation
    /// (PyPI `communityid`), which the spec ships as its baseline.
    #[test]
    fn reference_vectors() {
        let cases = [
            (
                0,
                ep("128.232.110.120", 34855),
                ep("66.35.250.204", 80),
                6,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                0,
                ep("66.35.250.204", 80),
                ep("128.232.110.120", 34855),
                6,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                1,
                ep("128.232.110.120", 34855),
                ep("66.35.250.204", 80),
                6,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                0,
                ep("2001:470:1f11:81f:d138:5f55:6d4:1fe2", 51850),
                ep("2607:f740:b::f93", 53),
                17,
                "1:RFi26uxdTiJNmfOvQr7IFNZsfyo=",
            ),
            // Echo request and its reply are one flow.
            (
                0,
                ep("192.168.0.89", 8),
                ep("192.168.0.1", 0),
                1,
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                0,
                ep("192.168.0.1", 0),
                ep("192.168.0.89", 0),
                1,
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            // Port unreachable is one-way: type and code, unsorted.
            (
                0,
                ep("10.10.1.4", 3),
                ep("74.53.140.153", 4),
                1,
                "1:nolQR8SLdN55ip/juGNeqpRsERo=",
            ),
            (
                0,
                ep("fe80::200:86ff:fe05:80da", 135),
                ep("fe80::260:97ff:fe07:69ea", 0),
                58,
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            // Protocols without ports hash the addresses only.
            (
                0,
                ep("10.0.0.1", 0),
                ep("10.0.0.2", 0),
                47,
                "1:+KlEHDT0vJgzs/eNmzHq0aSpRYw=",
            ),
        ];
        for (seed, a, b, proto, want) in cases {
            assert_eq!(
                community_id(seed, a, b, proto).as_str(),
                want,
                "{a:?} {b:?} {proto}"
            );
        }
    }
}
