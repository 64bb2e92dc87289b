//! The generated scenarios (`scripts/gen-scenarios.py`, in pcaps/scenarios/):
//! each must raise exactly its alerts, and every amplification alert must
//! report the bytes in the capture — counted here independently with tshark —
//! and a ratio within 1 % of theirs.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{pcap, replay};
use serde_json::Value;

/// Alerts each scenario must raise, by signature id and count, and why.
const EXPECTED: &[(&str, &[(u64, usize)])] = &[
    // One forged MON_GETLIST_1 and its 600-entry answer: the request, the
    // amplifier, and the ratio (44,000 / 192).
    (
        "amp-ntp-monlist-600.pcap",
        &[(9700030, 1), (9700031, 1), (9700032, 1)],
    ),
    // Victim side only: each of the 50 reflectors answers unasked (9700034)
    // and is a monlist amplifier (9700031, once per reflector); the victim
    // is hit by many reflectors (9700033, once).
    (
        "amp-ntp-50-reflectors.pcap",
        &[(9700031, 50), (9700033, 1), (9700034, 50)],
    ),
    ("amp-dns-any.pcap", &[(9700032, 1)]),
    ("amp-ssdp.pcap", &[(9700032, 1)]),
    ("amp-memcached.pcap", &[(9700032, 1)]),
    // Time sync is not amplification.
    ("ntp-1000-clients.pcap", &[]),
    // 10,000 targets over 100 s: once per 60 s window, not per target.
    ("ntp-monlist-scan.pcap", &[(9700030, 2)]),
    // 600 mails in 50 minutes (limit 500 an hour): once.
    ("smtp-600-mails.pcap", &[(9700024, 1)]),
];

/// UDP payload bytes and datagrams per (source, destination) pair, by tshark.
fn udp_bytes(file: &str) -> BTreeMap<(String, String), (u64, u64)> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap(&format!("scenarios/{file}")))
        .args([
            "-Y",
            "udp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "udp.length",
        ])
        .output()
        .expect("tshark is installed by scripts/deps.sh test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let len: u64 = f[2].parse().expect("udp.length");
        let e = m.entry((f[0].to_owned(), f[1].to_owned())).or_default();
        e.0 += len - 8;
        e.1 += 1;
    }
    m
}

#[test]
fn each_scenario_raises_exactly_its_alerts_with_the_measured_ratio() {
    let mut report = Vec::new();
    for (file, expected) in EXPECTED {
        let r = replay(&[pcap(&format!("scenarios/{file}"))], &[]);
        let alerts = r.of_type("alert");
        let mut got: BTreeMap<u64, usize> = BTreeMap::new();
        for a in &alerts {
            *got.entry(a["alert"]["signature_id"].as_u64().unwrap())
                .or_default() += 1;
        }
        let want: BTreeMap<u64, usize> = expected.iter().copied().collect();
        assert_eq!(got, want, "{file}: alerts by signature");
        let bytes = (!alerts.is_empty()).then(|| udp_bytes(file));
        for a in alerts.iter().filter(|a| a.get("amplification").is_some()) {
            let amp: &Value = &a["amplification"];
            let (refl, victim) = (
                amp["reflector"].as_str().unwrap().to_owned(),
                amp["victim"].as_str().unwrap().to_owned(),
            );
            let b = bytes.as_ref().unwrap();
            let (resp, resp_pkts) = b
                .get(&(refl.clone(), victim.clone()))
                .copied()
                .unwrap_or_default();
            let (req, req_pkts) = b
                .get(&(victim.clone(), refl.clone()))
                .copied()
                .unwrap_or_default();
            let sid = a["alert"]["signature_id"].as_u64().unwrap();
            if sid == 9700033 {
                // Evidence of the deciding pair, at the moment the count was reached.
                assert!(
                    amp["reflectors"].as_u64().unwrap_or(0) >= 5,
                    "{file}: {amp}"
                );
                continue;
            }
            assert_eq!(
                (
                    amp["response_bytes"].as_u64(),
                    amp["request_bytes"].as_u64()
                ),
                (Some(resp), Some(req)),
                "{file}: bytes {refl} -> {victim} as tshark counts them"
            );
            assert_eq!(
                (amp["response_pkts"].as_u64(), amp["request_pkts"].as_u64()),
                (Some(resp_pkts), Some(req_pkts)),
                "{file}: datagrams"
            );
            if req > 0 {
                let truth = resp as f64 / req as f64;
                let ratio = amp["ratio"]
                    .as_f64()
                    .expect("a ratio when requests were seen");
                assert!(
                    (ratio - truth).abs() <= truth * 0.01,
                    "{file}: ratio {ratio} vs {truth:.2} from the capture"
                );
                report.push(format!(
                    "{file}: {} ratio {ratio} (capture: {truth:.2})",
                    amp["service"]
                ));
            } else {
                assert!(
                    amp.get("ratio").is_none(),
                    "{file}: no request, no ratio: {amp}"
                );
            }
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn the_monlist_answer_is_decoded_item_by_item() {
    let r = replay(&[pcap("scenarios/amp-ntp-monlist-600.pcap")], &[]);
    let ntp = r.of_type("ntp");
    let entries: u64 = ntp
        .iter()
        .filter_map(|e| e["ntp"]["monlist_entries"].as_u64())
        .sum();
    // 100 datagrams of 6 entries each, all logged (modes 6/7 always are).
    assert_eq!(entries, 600);
    assert!(
        ntp.iter()
            .any(|e| e["ntp"]["request"] == "MON_GETLIST_1" && e["ntp"]["response"] == false)
    );
}
