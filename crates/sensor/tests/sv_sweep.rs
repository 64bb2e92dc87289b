//! Issue 14's sweep: every Suricata-verify test whose checks count http
//! (HTTP/1.x), smtp, ntp, flow or anomaly events and that Suricata passes
//! with its default configuration, run against fumidai on the test's own
//! capture. `scripts/truth/sv-sweep.py` selected and copied them into
//! `pcaps/sv/` (the others, each with why, are in `pcaps/sv/skipped.yaml`);
//! `pcaps/sv/policy.yaml` says which keys and checks do not apply to fumidai
//! and why. At least its `target` share of the counted checks must pass.

mod common;

use std::collections::BTreeMap;

use common::sv::{self, Plan, TestFile};
use common::{pcap, replay, root, schema};
use serde_json::{Map, Value};

/// pcaps/sv/policy.yaml.
struct Policy {
    counted: Vec<String>,
    aliases: BTreeMap<String, String>,
    target: f64,
    not_counted: BTreeMap<String, String>,
    args: BTreeMap<String, String>,
    without: BTreeMap<String, String>,
    app_protos: Vec<String>,
    checks: BTreeMap<String, String>,
}

fn list(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("policy.yaml: {what} is a list"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("policy.yaml: {what}: strings"))
                .to_owned()
        })
        .collect()
}

fn map(v: &Value, what: &str) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap_or_else(|| panic!("policy.yaml: {what} is a map"))
        .iter()
        .map(|(k, v)| {
            let why = v
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| panic!("policy.yaml: {what}.{k}: a reason"));
            (k.clone(), why.to_owned())
        })
        .collect()
}

impl Policy {
    fn read() -> Policy {
        let path = root().join("pcaps/sv/policy.yaml");
        let text = std::fs::read_to_string(&path).expect("pcaps/sv/policy.yaml");
        let v: Value = serde_norway::from_str(&text).expect("policy.yaml parses");
        Policy {
            counted: list(&v["counted"], "counted"),
            aliases: map(&v["aliases"], "aliases"),
            target: v["target"].as_f64().expect("target"),
            not_counted: map(&v["not_counted"], "not_counted"),
            args: map(&v["args"], "args"),
            without: map(&v["without"], "without"),
            app_protos: list(&v["app_protos"], "app_protos"),
            checks: map(&v["checks"], "checks"),
        }
    }

    /// The counted kind a filter is about, if it is one.
    fn kind(&self, matcher: &Map<String, Value>) -> String {
        let k = sv::kind_of(matcher);
        self.aliases.get(&k).cloned().unwrap_or(k)
    }
}

/// The check's number among the test's checks, found by its matcher (the
/// runner numbers checks, the policy names them by number).
fn check_number(test: &TestFile, matcher: &Map<String, Value>) -> Vec<usize> {
    test.yaml["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| c["filter"]["match"].as_object() == Some(matcher))
        .map(|(i, _)| i + 1)
        .collect()
}

impl sv::Policy for Policy {
    fn arg(&self, _: &TestFile, arg: &str) -> Option<String> {
        let whys: Option<Vec<&String>> = split_args(arg).iter().map(|a| self.args.get(a)).collect();
        whys.map(|w| w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "))
    }

    fn filter(&self, test: &TestFile, matcher: &Map<String, Value>) -> Plan {
        let kind = self.kind(matcher);
        if !self.counted.contains(&kind) {
            let why = self
                .not_counted
                .get(&kind)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: filter on {kind}: add it to policy.yaml's not_counted with a reason",
                        test.name
                    )
                })
                .clone();
            return Plan::Skip(format!("not counted: {why}"));
        }
        for n in check_number(test, matcher) {
            if let Some(why) = self.checks.get(&format!("{} #{n}", test.name)) {
                return Plan::Skip(why.clone());
            }
        }
        let mut without: Vec<(String, String)> = matcher
            .keys()
            .filter_map(|k| self.without.get(k).map(|why| (k.clone(), why.clone())))
            .collect();
        without.extend(sv::foreign_app_proto(matcher, |a| {
            self.app_protos.iter().any(|p| p == a)
        }));
        Plan::without(without)
    }

    fn stats(&self, _: &TestFile) -> Result<(), String> {
        Err("not counted: Suricata's counters of the whole run".to_owned())
    }
}

/// The arguments of one `args:` entry: "-k none --set x" is two.
fn split_args(entry: &str) -> Vec<String> {
    entry
        .split(" --")
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p.to_owned()
            } else {
                format!("--{p}")
            }
        })
        .collect()
}

/// fumidai's counterparts of Suricata's command-line settings: (argument,
/// the line of sensor.yaml it replaces, the replacement).
const ARG_CONFIG: &[(&str, &str, &str)] = &[(
    "-k none",
    "\n  checksum_validation: auto\n",
    "\n  checksum_validation: \"no\"\n",
)];

/// Where Suricata's default suricata.yaml logs otherwise than fumidai's
/// shipped sensor.yaml: (what, the lines of sensor.yaml, Suricata's).
const SURICATA_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "every NTP mode 6/7 request is a record (fumidai sums unanswered ones up)",
        "\n  unanswered: summary\n",
        "\n  unanswered: all\n",
    ),
    (
        "decoder and stream anomalies are not logged (eve-log anomaly types: decode: no, \
         stream: no)",
        "\n    decode: true\n    stream: true\n",
        "\n    decode: false\n    stream: false\n",
    ),
];

/// The shipped sensor.yaml set to log what Suricata's defaults log
/// (SURICATA_DEFAULTS), with the counterparts of `args` (ARG_CONFIG).
fn config_for(args: &[String]) -> String {
    let shipped = std::fs::read_to_string(root().join("sensor.yaml")).expect("sensor.yaml");
    let mut cfg = shipped.clone();
    for (what, ours, theirs) in SURICATA_DEFAULTS {
        let before = cfg.clone();
        cfg = cfg.replace(ours, theirs);
        assert_ne!(before, cfg, "sensor.yaml has {ours:?} ({what})");
    }
    for (arg, line, with) in ARG_CONFIG {
        if args.iter().any(|a| a == arg) {
            let before = cfg.clone();
            cfg = cfg.replace(line, with);
            assert_ne!(before, cfg, "sensor.yaml has {line:?}");
        }
    }
    cfg
}

/// Removes from `event` what fumidai's overlay adds to Suricata's schema
/// (`http.proxy`, `smtp.recipients`, ...: docs/eve.md), so that a check
/// comparing a whole object compares what Suricata would write. The
/// overlay may only add, so nothing Suricata writes is lost.
fn without_overlay(event: &mut Value, overlay: &Value, suricata: &Value, root: &Value) {
    let (Some(obj), Some(ours)) = (event.as_object_mut(), overlay["properties"].as_object()) else {
        return;
    };
    // Suricata's schema names some objects by reference ("#/$defs/x").
    let suricata = match suricata["$ref"].as_str() {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .map_or(suricata, |d| &root["$defs"][d]),
        None => suricata,
    };
    let theirs = suricata["properties"].as_object();
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        let Some(o) = ours.get(&k) else { continue };
        match theirs.and_then(|t| t.get(&k)) {
            None => {
                obj.remove(&k);
            }
            Some(t) => {
                if let Some(v) = obj.get_mut(&k) {
                    without_overlay(v, o, t, root);
                }
            }
        }
    }
}

/// The events of one capture, replayed alone with `cfg`, checked against
/// the schema on the way.
fn events_of(capture: &str, cfg: &str, v: &jsonschema::Validator) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sensor.yaml");
    std::fs::write(&path, cfg).expect("write config");
    let events = replay(
        &[pcap(&format!("sv/{capture}"))],
        &["-c", path.to_str().expect("utf-8 path")],
    )
    .events;
    for e in &events {
        let errs = schema::errors(v, e);
        assert!(errs.is_empty(), "{capture}: {errs:?}\n{e}");
    }
    let (overlay, suricata) = (schema::overlay(), schema::suricata());
    events
        .into_iter()
        .map(|mut e| {
            without_overlay(&mut e, &overlay, &suricata, &suricata);
            e
        })
        .collect()
}

#[test]
fn suricata_verify_sweep() {
    let policy = Policy::read();
    let skipped_text =
        std::fs::read_to_string(root().join("pcaps/sv/skipped.yaml")).expect("skipped.yaml");
    let skipped: Value = serde_norway::from_str(&skipped_text).expect("skipped.yaml parses");
    let skipped = map(&skipped["skipped"], "skipped.yaml skipped");
    let tests = sv::tests_under(&root().join("pcaps/sv/truth"));
    for (_, t) in &tests {
        assert!(
            !skipped.contains_key(&t.name.replace("__", "/")) && !skipped.contains_key(&t.name),
            "{} is both copied and skipped",
            t.name
        );
    }
    // Every single check policy.yaml skips is one of a copied test.
    for key in policy.checks.keys() {
        let known = key.rsplit_once(" #").is_some_and(|(name, n)| {
            tests.iter().any(|(_, t)| {
                t.name == name
                    && n.parse::<usize>().is_ok_and(|n| {
                        n >= 1 && n <= t.yaml["checks"].as_array().map_or(0, Vec::len)
                    })
            })
        });
        assert!(
            known,
            "policy.yaml checks: {key:?} names no check of a copied test"
        );
    }
    let v = schema::validator();
    // One replay per capture and configuration.
    let mut runs: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut tally = sv::Tally::default();
    for (capture, test) in &tests {
        let args: Vec<String> = test.yaml["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .flat_map(split_args)
            .collect();
        let cfg = config_for(&args);
        let events = runs
            .entry((capture.clone(), cfg.clone()))
            .or_insert_with(|| events_of(capture, &cfg, &v));
        sv::run(capture, test, events, &policy, &mut tally);
    }

    for f in &tally.failures {
        println!("FAIL {f}");
    }
    println!("\ntest                                              passed/run  skipped");
    for (name, passed, run, skipped) in &tally.per_test {
        println!("{name:<50} {passed:>3}/{run:<3}     {skipped}");
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for why in skipped.values() {
        // Grouped by what comes before the first ':' (or '(' / ';').
        let head = why.split([':', '(', ';']).next().unwrap_or(why).trim();
        *reasons.entry(head.to_owned()).or_default() += 1;
    }
    println!(
        "\n{} tests selected: {} run ({} replays of their captures), {} skipped (pcaps/sv/skipped.yaml):",
        tests.len() + skipped.len(),
        tests.len(),
        runs.len(),
        skipped.len()
    );
    for (why, n) in &reasons {
        println!("  {n:>4}  {why}");
    }
    let mut counted: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut other: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, n) in &tally.per_kind {
        let kind = policy.aliases.get(kind).unwrap_or(kind).as_str();
        if policy.counted.iter().any(|c| c == kind) {
            let c = counted.entry(kind).or_default();
            for (total, x) in c.iter_mut().zip(n) {
                *total += x;
            }
        } else {
            *other.entry(kind).or_default() += n.iter().sum::<usize>();
        }
    }
    let (mut passed, mut run) = (0, 0);
    println!("\nchecks by event type: passed/run (skipped, each with its reason above)");
    for (kind, [p, r, s]) in &counted {
        passed += p;
        run += r;
        println!("  {kind:<8} {p:>4}/{r:<4} ({s})");
    }
    println!("not counted (policy.yaml not_counted): {other:?}");
    let share = passed as f64 / run.max(1) as f64;
    println!(
        "Suricata-verify sweep: {passed}/{run} counted checks pass ({:.1} %), target {:.0} %",
        share * 100.0,
        policy.target * 100.0
    );
    assert!(run >= 250, "only {run} counted checks ran");
    assert!(
        share >= policy.target,
        "{passed}/{run} = {:.1} % of the counted Suricata-verify checks pass, under {:.0} %",
        share * 100.0,
        policy.target * 100.0
    );
}
