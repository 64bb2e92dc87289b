//! Detection survives the flood: the lab's real attacks (an open proxy
//! relaying SMTP, an open SOCKS server, an open SMTP relay, a monlist
//! reflection) embedded in a flood of forged sources that fills every table
//! (scripts/gen-floods.py), replayed with small memcaps. The attacks' alerts
//! must all be raised, and every structure must stay within its memcap.
//! (Scaled down for CI; `scripts/bench-floods.sh` runs it at full size.)

mod common;

use std::process::Command;

use common::{pcap, root, run};
use serde_json::Value;

const MEMCAPS: &str = "
memcap: 64mb
flow: {memcap: 1mb}
stream: {memcap: 1mb}
defrag: {memcap: 64kb}
app_layer: {memcap: 1mb}
amplification: {memcap: 1mb, victims_memcap: 64kb}
sweep: {memcap: 64kb}
alert_limits: {memcap: 64kb}
eve: {queue_memcap: 1mb}
";

fn flood(kind: &str, count: u32, embed: Option<&str>, dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join(format!("{kind}-{count}.pcap"));
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/gen-floods.py"))
        .arg(kind)
        .arg(count.to_string())
        .arg(&out);
    if let Some(e) = embed {
        cmd.arg("--embed").arg(pcap(e));
    }
    let st = cmd.status().expect("python3 runs scripts/gen-floods.py");
    assert!(st.success(), "gen-floods.py {kind}");
    out
}

/// The lab's configuration (from its expectation file) plus small memcaps.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let lab = std::fs::read_to_string(pcap("lab/lab-attack.expect.yaml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&lab).unwrap();
    let mut cfg = doc["config"].clone();
    let extra: serde_norway::Value = serde_norway::from_str(MEMCAPS).unwrap();
    if let (serde_norway::Value::Mapping(c), serde_norway::Value::Mapping(e)) = (&mut cfg, extra) {
        for (k, v) in e {
            c.insert(k, v);
        }
    }
    let p = dir.join("flood.yaml");
    std::fs::write(&p, serde_norway::to_string(&cfg).unwrap()).unwrap();
    p
}

fn sids(events: &[&Value]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|a| a["alert"]["signature_id"].as_u64())
        .collect()
}

#[test]
fn the_lab_attacks_are_detected_inside_a_flood_of_forged_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = flood("mix", 60_000, Some("lab/lab-attack.pcap"), dir.path());
    let cfg = config(dir.path());
    let r = run(&[
        "-q",
        "-c",
        cfg.to_str().unwrap(),
        "-r",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr());
    let alerts = r.of_type("alert");
    let lab: Vec<&Value> = alerts
        .iter()
        .copied()
        .filter(|a| {
            let s = a["src_ip"].as_str().unwrap_or("");
            s.starts_with("10.77.") || s == "127.0.0.1"
        })
        .collect();
    let got = sids(&lab);
    // What identifies each attack; none of these is what the junk raises.
    for (sid, what) in [
        (9700001, "squid: absolute-form request"),
        (9700002, "squid/nginx: CONNECT to :25"),
        (9700003, "squid: the tunnel opened"),
        (9700023, "SMTP inside the tunnels"),
        (9700010, "dante: SOCKS CONNECT to :25"),
        (9700011, "dante: granted"),
        (9700021, "postfix: open relay"),
        (9700022, "postfix: proxy-check mail"),
        (9700032, "the monlist reflection's ratio"),
    ] {
        assert!(got.contains(&sid), "{what}: {sid} missing from {got:?}");
    }
    // The junk floods the monlist signatures too (forged requests, forged
    // answers): the lab's own may be among those held back by the ceiling,
    // and then a summary must account for them.
    let summaries: Vec<u64> = alerts
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9700090)
        .filter_map(|a| a["fumidai"]["storm"]["signature_id"].as_u64())
        .collect();
    for sid in [9700030, 9700031] {
        assert!(
            got.contains(&sid) || summaries.contains(&sid),
            "{sid}: neither raised nor summarised ({summaries:?})"
        );
    }
    // The flood really pressed on the tables, and none went past its cap.
    let s = r.final_stats();
    let mem = s["memcap"].as_object().expect("stats.memcap");
    for (name, m) in mem {
        if let (Some(used), Some(cap)) = (m["memuse"].as_u64(), m["memcap"].as_u64()) {
            assert!(used <= cap, "{name}: {used} > {cap}");
        }
    }
    for name in ["flow", "sweep", "amp_pairs"] {
        assert!(
            mem[name]["evicted"].as_u64().unwrap_or(0) > 0,
            "{name} was not under pressure: {}",
            mem[name]
        );
    }
    assert!(s["detect"]["alerts_suppressed"].as_u64().unwrap_or(0) > 0);
}

/// One alert per forged source would be an outage of the SIEM: the ceiling
/// bounds them, and 9700090 says how many were held back.
#[test]
fn an_alert_storm_from_forged_sources_is_bounded_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let file = flood("monlist-req", 20_000, None, dir.path());
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "alert_limits: {per_signature: {count: 100, seconds: 60}}\n",
    )
    .unwrap();
    let r = run(&[
        "-q",
        "-c",
        cfg.to_str().unwrap(),
        "-r",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr());
    let alerts = r.of_type("alert");
    let monlist = alerts
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9700030)
        .count();
    assert_eq!(monlist, 100);
    let summary: Vec<&Value> = alerts
        .iter()
        .copied()
        .filter(|a| a["alert"]["signature_id"] == 9700090)
        .collect();
    assert_eq!(summary.len(), 1, "{summary:?}");
    let storm = &summary[0]["fumidai"]["storm"];
    assert_eq!(storm["signature_id"], 9700030);
    assert_eq!(storm["suppressed"], 20_000 - 100);
    assert_eq!(storm["sources"].as_array().map(Vec::len), Some(10));
    let s = r.final_stats();
    assert_eq!(s["detect"]["alerts_rate_limited"], 20_000 - 100);
}
