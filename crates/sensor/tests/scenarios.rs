//! The generated scenarios (`scripts/gen-scenarios.py`, in pcaps/scenarios/):
//! each must raise exactly its alerts (its `X.expect.yaml`, checked by
//! `fumidai test`), and every amplification alert must report the bytes in
//! the capture — counted here independently with tshark — and a ratio within
//! 1 % of theirs.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{pcap, replay};
use serde_json::Value;

/// The scenarios. The alerts each must raise, by signature id and count,
/// and why, are in the `X.expect.yaml` beside each capture, checked by
/// `fumidai test pcaps/` (tests/expect.rs).
fn scenarios() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(pcap("scenarios"))
        .expect("pcaps/scenarios")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 9, "{v:?}");
    v
}

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
fn amplification_alerts_report_the_measured_bytes_and_ratio() {
    let mut report = Vec::new();
    let mut checked = 0;
    for file in &scenarios() {
        let file = file.as_str();
        let r = replay(&[pcap(&format!("scenarios/{file}"))], &[]);
        let alerts = r.of_type("alert");
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
            checked += 1;
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
    assert!(checked >= 50, "{checked} amplification alerts checked");
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

// --- Reflection floods seen at the victim (scripts/gen-reflection.py) ----------

/// Per destination: distinct sources, UDP payload bytes and datagrams, by
/// tshark, of the datagrams from `port`.
fn per_victim(file: &str, port: u16) -> BTreeMap<String, (usize, u64, u64)> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap(&format!("reflection/{file}")))
        .args([
            "-Y",
            &format!("udp.srcport == {port} && udp.dstport != {port}"),
        ])
        .args([
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
    let mut sources: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let len: u64 = f[2].parse().expect("udp.length");
        sources
            .entry(f[1].to_owned())
            .or_default()
            .insert(f[0].to_owned());
        let t = totals.entry(f[1].to_owned()).or_default();
        t.0 += len - 8;
        t.1 += 1;
    }
    totals
        .into_iter()
        .map(|(v, (b, p))| (v.clone(), (sources[&v].len(), b, p)))
        .collect()
}

/// Each flood raises one 9700035 naming its victim, its service, the
/// reflectors (the sketch within 5 % of tshark's distinct sources), and
/// exactly the bytes and datagrams tshark counts; with two workers the same
/// verdict at the same time. The benign twins raise nothing, even with a
/// threshold of ten reflectors: every answer there was asked for.
#[test]
fn reflection_floods_are_seen_at_their_victim_and_benign_twins_are_quiet() {
    let floods = [
        ("refl-snmp.pcap", "snmp", 161),
        ("refl-dns.pcap", "dns", 53),
        ("refl-ntp.pcap", "ntp", 123),
        ("refl-cldap.pcap", "cldap", 389),
        ("refl-ssdp.pcap", "ssdp", 1900),
        ("refl-memcached.pcap", "memcached", 11211),
    ];
    let mut table = Vec::new();
    for (file, service, port) in floods {
        let truth = per_victim(file, port);
        assert_eq!(truth.len(), 1, "{file}: one victim");
        let (victim, (reflectors, bytes, pkts)) = truth.iter().next().unwrap();
        let mut verdicts = Vec::new();
        for workers in ["1", "2"] {
            let r = replay(
                &[pcap(&format!("reflection/{file}"))],
                &["--workers", workers],
            );
            let v: Vec<&Value> = r
                .of_type("alert")
                .into_iter()
                .filter(|a| a["alert"]["signature_id"] == 9700035)
                .collect();
            assert_eq!(v.len(), 1, "{file} ({workers} workers): one 9700035");
            verdicts.push(v[0].clone());
        }
        let a = &verdicts[0];
        let amp = &a["amplification"];
        assert_eq!(
            (&a["dest_ip"], &amp["victim"], &amp["service"]),
            (
                &Value::from(victim.as_str()),
                &Value::from(victim.as_str()),
                &Value::from(service)
            ),
            "{file}"
        );
        let est = amp["reflectors"].as_u64().unwrap() as f64;
        assert!(
            (est - *reflectors as f64).abs() <= *reflectors as f64 * 0.05,
            "{file}: {est} reflectors estimated, {reflectors} in the capture"
        );
        assert_eq!(
            (
                amp["response_bytes"].as_u64(),
                amp["response_pkts"].as_u64()
            ),
            (Some(*bytes), Some(*pkts)),
            "{file}: bytes and datagrams as tshark counts them"
        );
        assert!(
            amp["top_reflectors"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t.len() <= 10)
        );
        // Two workers: the same verdict (time, victim, service); the figures
        // are those known when the threshold was crossed.
        let b = &verdicts[1];
        assert_eq!(
            (&a["timestamp"], &b["amplification"]["service"]),
            (&b["timestamp"], &amp["service"]),
            "{file}"
        );
        assert!(b["amplification"]["reflectors"].as_u64().unwrap() >= 100);
        table.push(format!(
            "{file:<22} {service:<10} reflectors {reflectors} (estimated {est}), {bytes} bytes in {pkts} datagrams: 1 alert"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.yaml");
    let services: Vec<String> = ["dns", "ntp"]
        .iter()
        .zip([53, 123])
        .map(|(n, p)| {
            format!("    - {{name: {n}, port: {p}, baf: 1.0, min_ratio: 10.0, min_bytes: 10000, flood_reflectors: 10, flood_bytes_per_s: 10kb}}")
        })
        .collect();
    std::fs::write(
        &strict,
        format!("amplification:\n  services:\n{}\n", services.join("\n")),
    )
    .unwrap();
    for file in ["benign-resolver.pcap", "benign-cdn-edge.pcap"] {
        for cfg in [None, Some(strict.to_str().unwrap())] {
            let mut args = vec!["--workers", "2"];
            if let Some(c) = cfg {
                args.extend(["-c", c]);
            }
            let r = replay(&[pcap(&format!("reflection/{file}"))], &args);
            assert!(
                r.of_type("alert").is_empty(),
                "{file} ({cfg:?}): {:#?}",
                r.of_type("alert")
            );
            assert!(
                r.of_type("flow").len() > 4000,
                "{file}: the traffic was seen"
            );
        }
        table.push(format!(
            "{file:<22} no alert (also with flood_reflectors: 10)"
        ));
    }
    println!("{}", table.join("\n"));
}
