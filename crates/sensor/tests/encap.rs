//! Tunnels and encapsulations, end to end on captures:
//!
//! - Suricata-verify's own decoder tests (ERSPAN, VXLAN, Geneve, GRE, PPPoE,
//!   Teredo, IP-in-IP, Cisco HDLC, E-tag, VN-tag, the layer limit), copied
//!   into `pcaps/encap/` by `scripts/truth/sv-encap.sh`, their `checks:`
//!   evaluated on fumidai's EVE by the same runner as `truth.rs`;
//! - the matrix: every attack capture of the repository wrapped in every
//!   encapsulation by `scripts/gen-encap.py` must raise exactly the alerts
//!   of the plain capture, with the same inner 5-tuples, each carrying the
//!   tunnel it came through.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sv::{self, Plan, TestFile};
use common::{pcap, replay, root, schema};
use serde_json::{Map, Value};

// --- 1. Suricata-verify's decoder tests --------------------------------------

/// Top-level `args:` and why each leaves the checks meaningful for fumidai.
const ARGS: &[(&str, &str)] = &[
    (
        "-k none",
        "checksum validation off; fumidai never validates checksums",
    ),
    (
        "--set decoder.vxlan.enabled=true",
        "fumidai's default (decoder.vxlan.enabled: true)",
    ),
    (
        "--set decoder.erspan.typeI.enabled=true",
        "fumidai's default (decoder.erspan.type1: true)",
    ),
    (
        "--set decoder.vntag.enabled=true",
        "fumidai's default (decoder.vntag.enabled: true)",
    ),
    (
        "--simulate-ips",
        "affects the drop/alert actions of the test's own rules only",
    ),
    (
        "--set stream.midstream=true",
        "fumidai always picks TCP sessions up midstream",
    ),
    ("--runmode=single", "threading only"),
];

/// Tests that bring a suricata.yaml, and why fumidai's shipped sensor.yaml
/// is equivalent for their checks.
const CONFIGS: &[(&str, &str)] = &[
    ("bug-4571-01", "output and stats settings only"),
    ("bug-4571-03", "output settings only"),
    ("bug-4571-04", "output and stats settings only"),
    ("bug-4571-06", "output settings only"),
    (
        "bug-7725-01",
        "IP-in-IP decoding with the outer flow tracked: fumidai's default \
         (decoder.ipip.enabled, the outer packet is a flow of its own)",
    ),
    ("decode-chdlc-02", "output settings only"),
    ("vxlan-decoder-04", "output settings only"),
    ("vxlan-decoder-07-arp", "output settings only"),
    (
        "vxlan-non-zero-reserved-fields",
        "VXLAN on 4789 with reserved-bits-check permissive: fumidai's VXLAN decoder \
         never checks the reserved bits",
    ),
];

/// Event types whose filters are skipped, and why.
const SKIP: &[(&str, &str)] = &[
    ("dns", "fumidai has no DNS parser and writes no dns events"),
    ("ssh", "fumidai has no SSH parser"),
    (
        "fileinfo",
        "fumidai does no file extraction and writes no fileinfo events",
    ),
    (
        "arp",
        "fumidai counts ARP (stats.decoder.arp) and writes no arp events",
    ),
    (
        "drop",
        "IPS drops (--simulate-ips) of the test's own rules; fumidai is passive",
    ),
];

/// Keys fumidai cannot match for reasons that have nothing to do with
/// decapsulation: the filter is run without them.
const WITHOUT: &[(&str, &str)] = &[
    (
        "pcap_cnt",
        "fumidai writes no pcap_cnt (the packet's number in the capture)",
    ),
    (
        "flow.alerted",
        "whether the test's own rules fired; fumidai has no rule engine",
    ),
    (
        "flow.action",
        "the IPS action of the test's own rules; fumidai is passive",
    ),
    (
        "response_icmp_type",
        "fumidai's ICMP flow records name the first packet's type only",
    ),
    (
        "response_icmp_code",
        "fumidai's ICMP flow records name the first packet's code only",
    ),
    (
        "packet_info.linktype_name",
        "fumidai does not log packets (Suricata's alert `packet: yes`)",
    ),
];

/// fumidai's application protocols: any other `app_proto` is Suricata's
/// detection of a protocol fumidai does not parse (or its `failed`).
const OUR_APP_PROTOS: &[&str] = &["http", "smtp", "socks", "ntp"];

struct Encap;

impl sv::Policy for Encap {
    fn arg(&self, test: &TestFile, arg: &str) -> Option<String> {
        if let Some(yaml) = &test.suricata_yaml {
            let why = CONFIGS
                .iter()
                .find(|(t, _)| *t == test.name)
                .map(|(_, why)| *why)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: suricata.yaml not classified in CONFIGS:\n{yaml}",
                        test.name
                    )
                });
            println!("   suricata.yaml: {why}");
        }
        ARGS.iter()
            .find(|(a, _)| *a == arg)
            .map(|(_, why)| (*why).to_owned())
    }

    fn filter(&self, test: &TestFile, matcher: &Map<String, Value>) -> Plan {
        let kind = matcher.get("event_type").and_then(Value::as_str);
        if let Some((_, why)) = SKIP.iter().find(|(t, _)| Some(*t) == kind) {
            return Plan::Skip((*why).to_owned());
        }
        if kind == Some("alert") {
            return alert_plan(test, matcher);
        }
        let Some(kind) = kind else {
            panic!("{}: filter without event_type: {matcher:?}", test.name);
        };
        assert!(
            ["flow", "stats", "anomaly", "http", "smtp", "ntp", "socks"].contains(&kind),
            "{}: event_type {kind}: classify it",
            test.name
        );
        if matcher.get("tcp.tcp_flags").and_then(Value::as_str) == Some("00") {
            return Plan::Skip(
                "a TCP session Suricata did not track (stream.midstream off: flags 00, state \
                 new); fumidai picks sessions up midstream"
                    .to_owned(),
            );
        }
        let mut without: Vec<(String, String)> = matcher
            .keys()
            .filter_map(|k| {
                WITHOUT
                    .iter()
                    .find(|(w, _)| w == k)
                    .map(|(w, why)| ((*w).to_owned(), (*why).to_owned()))
            })
            .collect();
        without.extend(sv::foreign_app_proto(matcher, |a| {
            OUR_APP_PROTOS.contains(&a)
        }));
        Plan::without(without)
    }

    fn stats(&self, _: &TestFile) -> Result<(), String> {
        Ok(())
    }
}

/// Alerts come from the test's own rules. When every rule is a
/// `decode-event:` rule, the alerts stand for decoder events, and fumidai's
/// counterpart is its `anomaly` records of those events; other rules have
/// no counterpart.
fn alert_plan(test: &TestFile, matcher: &Map<String, Value>) -> Plan {
    let rules: Vec<&str> = test
        .rules
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let events: Vec<String> = rules
        .iter()
        .filter_map(|r| {
            let at = r.find("decode-event:")? + "decode-event:".len();
            let name: String = r[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            Some(format!("decoder.{name}"))
        })
        .collect();
    if !rules.is_empty() && events.len() == rules.len() && matcher.len() == 1 {
        let why = format!("anomaly records of {}", events.join(", "));
        return Plan::Instead(
            Box::new(move |e: &Value| {
                e["event_type"] == "anomaly"
                    && e["anomaly"]["event"]
                        .as_str()
                        .is_some_and(|n| events.iter().any(|x| x == n))
            }),
            why,
        );
    }
    Plan::Skip(format!(
        "alerts of the test's own rules ({}); fumidai has no rule engine. The tunnel object \
         on fumidai's own alerts is checked by the matrix below",
        rules.join(" | ").chars().take(160).collect::<String>()
    ))
}

/// Replays `capture` from `pcaps/encap/` alone with the shipped sensor.yaml.
fn events_of(capture: &str) -> Vec<Value> {
    let cfg = root().join("sensor.yaml");
    replay(
        &[pcap(&format!("encap/{capture}"))],
        &["-c", cfg.to_str().expect("utf-8")],
    )
    .events
}

#[test]
fn suricata_verify_decoder_tests() {
    let tests = sv::tests_under(&root().join("pcaps/encap/truth"));
    assert!(tests.len() >= 25, "{} tests", tests.len());
    let mut tally = sv::Tally::default();
    let mut runs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let v = schema::validator();
    for (capture, test) in &tests {
        let events = runs
            .entry(capture.clone())
            .or_insert_with(|| events_of(capture));
        for e in events.iter() {
            let errs = schema::errors(&v, e);
            assert!(errs.is_empty(), "{capture}: {errs:?}\n{e}");
        }
        sv::run(capture, test, events, &Encap, &mut tally);
    }
    println!("\ntest                              passed/run  skipped");
    for (name, passed, run, skipped) in &tally.per_test {
        println!("{name:<34} {passed:>3}/{run:<3}     {skipped}");
    }
    println!(
        "Suricata-verify decoder tests: {} files, {} checks run ({} passed, {} of them adapted), \
         {} skipped, each with its reason above",
        tally.files, tally.run, tally.passed, tally.adapted, tally.skipped
    );
    assert!(tally.run >= 40, "{} checks run", tally.run);
    assert!(
        tally.failures.is_empty(),
        "{} of {} Suricata-verify checks failed:\n{}",
        tally.failures.len(),
        tally.run,
        tally.failures.join("\n")
    );
}

// --- 2. The matrix: every attack capture in every encapsulation ---------------

/// What each encapsulation of `scripts/gen-encap.py` must look like in EVE:
/// (name, stats counters that show it decoded (any of), tunnel depth,
/// pkt_src, vlan it adds). Depth 0: decoded in place (tags, labels, sessions), no `tunnel`.
const ENCAPS: &[(&str, &str, u64, &str, Option<u64>)] = &[
    ("erspan1", "erspan", 1, "gre tunnel", None),
    ("erspan2", "erspan", 1, "gre tunnel", Some(10)),
    ("erspan3", "erspan", 1, "gre tunnel", None),
    ("gre", "gre", 1, "gre tunnel", None),
    ("gre-teb", "gre", 1, "gre tunnel", None),
    ("vxlan", "vxlan", 1, "vxlan encapsulation", None),
    ("geneve", "geneve", 1, "geneve encapsulation", None),
    ("gre-vxlan", "vxlan", 2, "vxlan encapsulation", None),
    ("ipip", "ipv4_in_ipv4|ipv6_in_ipv4", 1, "ipv4 tunnel", None),
    ("ip6ip", "ipv4_in_ipv6|ipv6_in_ipv6", 1, "ipv6 tunnel", None),
    ("teredo", "teredo", 1, "teredo tunnel", None),
    ("mpls", "mpls", 0, "wire/pcap", None),
    ("mpls-pw", "mpls", 0, "wire/pcap", None),
    ("pppoe", "pppoe", 0, "wire/pcap", None),
    ("etag", "etag", 0, "wire/pcap", None),
    ("vntag", "vntag", 0, "wire/pcap", None),
];

/// Outer addresses the generator uses (and the middle tunnel's of
/// `gre-vxlan`): no alert may name them.
const OUTER: &[&str] = &[
    "172.31.0.1",
    "172.31.0.2",
    "172.31.255.254",
    "fd00:31::1",
    "fd00:31::2",
    "fd00:31::fe",
    "10.255.0.1",
    "10.255.1.1",
    "10.255.9.9",
];

/// Whether `a` is one of OUTER, as an address (EVE prints IPv6 expanded).
fn is_outer(a: &str) -> bool {
    a.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| OUTER.iter().any(|o| o.parse() == Ok(ip)))
}

/// The attack captures of the repository, each with the configuration its
/// alerts are judged with.
fn attack_captures() -> Vec<(PathBuf, Option<String>)> {
    let mut out = vec![(pcap("lab/lab-attack.pcap"), Some(common::lab_config()))];
    for dir in ["scenarios", "evasion"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(pcap(dir))
            .expect("capture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (f, None)));
    }
    out
}

/// An alert as the matrix compares it: signature and inner 5-tuple.
fn alert_key(e: &Value) -> String {
    format!(
        "{} {}:{} -> {}:{} {}",
        e["alert"]["signature_id"],
        e["src_ip"],
        e["src_port"],
        e["dest_ip"],
        e["dest_port"],
        e["proto"]
    )
}

fn wrap(encap: &str, input: &Path, output: &Path) {
    let out = Command::new("python3")
        .arg(root().join("scripts/gen-encap.py"))
        .arg(encap)
        .arg(input)
        .arg(output)
        .output()
        .expect("python3 is installed by scripts/deps.sh test");
    assert!(
        out.status.success(),
        "gen-encap.py {encap} {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one capture in one encapsulation showed: a table line, and what
/// was wrong.
fn matrix_cell(
    dir: &Path,
    capture: &Path,
    cfg: &str,
    want: &[String],
    encap: (&str, &str, u64, &str, Option<u64>),
    v: &jsonschema::Validator,
) -> (String, Vec<String>) {
    let (encap, counter, depth, pkt_src, vlan) = encap;
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    let wrapped = dir.join(format!("{encap}-{name}"));
    wrap(encap, capture, &wrapped);
    // One worker: which flow a cross-flow verdict (a scan, a reflection
    // DDoS) is attached to may depend on the order workers reach it.
    let r = replay(
        std::slice::from_ref(&wrapped),
        &["-c", cfg, "--workers", "1"],
    );
    std::fs::remove_file(&wrapped).ok();
    let alerts = r.of_type("alert");
    let mut got: Vec<String> = alerts.iter().map(|e| alert_key(e)).collect();
    got.sort();
    let mut problems = Vec::new();
    if got != want {
        problems.push(format!(
            "alerts differ:\n  plain {want:#?}\n  {encap} {got:#?}"
        ));
    }
    let decoded: u64 = counter
        .split('|')
        .map(|c| r.final_stats()["decoder"][c].as_u64().unwrap_or(0))
        .sum();
    if decoded == 0 {
        problems.push(format!("stats.decoder.{counter} is 0"));
    }
    for (i, e) in r.events.iter().enumerate() {
        // What the tunnel adds is the same in every record: the first ones,
        // and every alert, are validated (in debug builds, validating all
        // would take most of the matrix's time).
        let t = e["event_type"].as_str().unwrap_or("");
        if i < 40 || t == "alert" {
            let errs = schema::errors(v, e);
            if !errs.is_empty() {
                problems.push(format!("invalid EVE {errs:?}: {e}"));
            }
        }
        let names_outer = ["src_ip", "dest_ip"]
            .iter()
            .any(|k| e[*k].as_str().is_some_and(is_outer));
        if t == "alert" && names_outer {
            problems.push(format!("alert about a tunnel endpoint: {e}"));
        }
        // Every record about an inner flow carries its tunnel (the
        // tunnels' own flow records name outer addresses). Summaries over
        // many flows (unanswered NTP requests per source) have no flow and
        // no tunnel.
        let summary = e.get("flow_id").is_none() && e["ntp"].get("unanswered").is_some();
        if t == "stats" || names_outer || summary {
            continue;
        }
        match (depth, e.get("tunnel")) {
            (0, None) => {}
            (0, Some(_)) => problems.push(format!("tunnel object without a tunnel: {e}")),
            (_, None) => problems.push(format!("no tunnel object: {e}")),
            (d, Some(tun)) => {
                let outer = tun["src_ip"].as_str().unwrap_or("");
                if tun["depth"] != d || !is_outer(outer) {
                    problems.push(format!("wrong tunnel object (depth {d}): {e}"));
                }
            }
        }
        if t == "alert" && e["pkt_src"] != pkt_src {
            problems.push(format!("pkt_src is not {pkt_src}: {e}"));
        }
        if let Some(id) = vlan
            && e.get("flow_id").is_some()
            && e["vlan"][0] != id
        {
            problems.push(format!("vlan is not [{id}]: {e}"));
        }
    }
    let verdict = if problems.is_empty() {
        "equal"
    } else {
        "DIFFERENT"
    };
    let line = format!(
        "{name:<34} {encap:<10} {:>3} alerts  decoder.{counter}={decoded:<6} {verdict}",
        got.len()
    );
    problems.truncate(5);
    (line, problems)
}

#[test]
fn every_attack_in_every_encapsulation_raises_the_same_alerts() {
    let listed = Command::new("python3")
        .arg(root().join("scripts/gen-encap.py"))
        .arg("--list")
        .output()
        .expect("python3 is installed by scripts/deps.sh test");
    let listed: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        listed,
        ENCAPS.iter().map(|e| e.0.to_owned()).collect::<Vec<_>>(),
        "every encapsulation of the generator is in the matrix"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let v = schema::validator();
    // Each capture replayed plain, then its cells shared out to two threads.
    let mut jobs = Vec::new();
    for (i, (capture, config)) in attack_captures().into_iter().enumerate() {
        let cfg = dir.path().join(format!("sensor-{i}.yaml"));
        std::fs::write(&cfg, config.unwrap_or_default()).unwrap();
        let cfg = cfg.display().to_string();
        let plain = replay(
            std::slice::from_ref(&capture),
            &["-c", &cfg, "--workers", "1"],
        );
        let mut want: Vec<String> = plain.of_type("alert").into_iter().map(alert_key).collect();
        want.sort();
        let v6 = plain
            .events
            .iter()
            .any(|e| e["src_ip"].as_str().is_some_and(|a| a.contains(':')));
        for &e in ENCAPS {
            if e.0 != "teredo" || v6 {
                jobs.push((capture.clone(), cfg.clone(), want.clone(), e));
            }
        }
    }
    let jobs = std::sync::Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((i, (capture, cfg, want, e))) = jobs.lock().unwrap().pop() else {
                        break;
                    };
                    let cell = matrix_cell(dir.path(), &capture, &cfg, &want, e, &v);
                    results.lock().unwrap().push((i, cell));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut failures = Vec::new();
    for (_, (line, problems)) in &results {
        println!("{line}");
        if !problems.is_empty() {
            failures.push(format!("{line}:\n{}", problems.join("\n")));
        }
    }
    assert!(results.len() > 200, "{} runs", results.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The wrapped lab captures kept in `pcaps/encap/generated/` are what the
/// generator writes today (never edited by hand).
#[test]
fn the_stored_wrapped_captures_are_the_generators_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    for encap in ["erspan2", "vxlan"] {
        let fresh = dir.path().join(format!("{encap}.pcap"));
        wrap(encap, &pcap("lab/lab-attack.pcap"), &fresh);
        let stored = pcap(&format!("encap/generated/lab-attack-{encap}.pcap"));
        assert!(
            std::fs::read(&fresh).unwrap() == std::fs::read(&stored).unwrap(),
            "{} differs from scripts/gen-encap.py {encap} pcaps/lab/lab-attack.pcap",
            stored.display()
        );
    }
}
