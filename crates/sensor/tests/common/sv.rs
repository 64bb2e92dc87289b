//! Suricata-verify's `checks:` evaluated against fumidai's EVE, as its own
//! runner evaluates them against Suricata's: `filter` checks count the
//! events a dotted-path matcher selects, `stats` checks read the last stats
//! event. Which checks apply to fumidai, and why the others do not, is the
//! caller's [`Policy`]; this module only evaluates and tallies.

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Map, Value};

/// One Suricata-verify test as copied into `pcaps/`: its `test.yaml`, and
/// the `test.rules` and `suricata.yaml` beside it when it has them.
pub struct TestFile {
    /// The test's name (`vxlan-decoder-02`).
    pub name: String,
    pub yaml: Value,
    pub rules: Option<String>,
    pub suricata_yaml: Option<String>,
}

impl TestFile {
    /// Reads `suricata-verify__<name>__test.yaml` and its siblings.
    pub fn read(path: &Path) -> TestFile {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let name = file
            .strip_prefix("suricata-verify__")
            .and_then(|f| f.strip_suffix("__test.yaml"))
            .unwrap_or(&file)
            .to_owned();
        let text = std::fs::read_to_string(path).expect("read test.yaml");
        let yaml: Value = serde_norway::from_str(&text).expect("test.yaml parses");
        let sibling = |what: &str| {
            std::fs::read_to_string(path.with_file_name(format!("suricata-verify__{name}__{what}")))
                .ok()
        };
        TestFile {
            rules: sibling("test.rules"),
            suricata_yaml: sibling("suricata.yaml"),
            name,
            yaml,
        }
    }
}

/// How a filter is run.
pub enum Plan {
    /// As written.
    Run,
    /// Without these keys (fields fumidai does not write, or results of the
    /// test's own rules), each with why; the rest is checked.
    Without(Vec<(String, String)>),
    /// On fumidai's counterpart of what it counts (e.g. the decoder events
    /// behind alerts of `decode-event:` rules), with why.
    Instead(Box<dyn Fn(&Value) -> bool>, String),
    /// Not run, and why.
    Skip(String),
}

impl Plan {
    /// Run without `keys`, or as written when there are none.
    pub fn without(keys: Vec<(String, String)>) -> Plan {
        if keys.is_empty() {
            Plan::Run
        } else {
            Plan::Without(keys)
        }
    }
}

/// The `app_proto` key of a filter on a protocol fumidai does not parse
/// (Suricata's detection of it, or its `failed`), with why; `parsed` says
/// which names are fumidai's.
pub fn foreign_app_proto(
    matcher: &Map<String, Value>,
    parsed: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    let app = matcher.get("app_proto").and_then(Value::as_str)?;
    (!parsed(app)).then(|| {
        (
            "app_proto".to_owned(),
            format!("Suricata's detection of {app}, a protocol fumidai does not parse"),
        )
    })
}

/// The caller's judgement of what in a test applies to fumidai.
pub trait Policy {
    /// Why a top-level `args:` entry leaves the checks meaningful; `None`
    /// fails the test until the argument is classified.
    fn arg(&self, test: &TestFile, arg: &str) -> Option<String>;
    /// How to run one filter.
    fn filter(&self, test: &TestFile, matcher: &Map<String, Value>) -> Plan;
    /// Whether to run a `stats` check; `Err(why)` to skip it.
    fn stats(&self, test: &TestFile) -> Result<(), String>;
}

/// Counts over many tests, and what failed.
#[derive(Default)]
pub struct Tally {
    pub files: usize,
    pub run: usize,
    pub passed: usize,
    pub skipped: usize,
    /// Of `run`: run without some keys, or on fumidai's counterpart.
    pub adapted: usize,
    pub failures: Vec<String>,
    /// Per test: name, checks passed, checks run, checks skipped.
    pub per_test: Vec<(String, usize, usize, usize)>,
    /// Per kind of filter ([`kind_of`]): checks passed, run, skipped.
    pub per_kind: std::collections::BTreeMap<String, [usize; 3]>,
}

/// Suricata-verify's `find_value`: a dotted path whose parts may end in `[N]`.
/// Its `__len`/`__find`/`__startswith`-style operators are not implemented:
/// none of the copied tests uses one (the test fails if one appears).
pub fn find<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = event;
    for part in path.split('.') {
        assert!(
            !part.starts_with("__"),
            "{path}: operator {part} not implemented (no truth file used one)"
        );
        let (name, index) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((n, i)) => (
                n,
                Some(
                    i.parse::<usize>()
                        .unwrap_or_else(|_| panic!("{path}: bad index")),
                ),
            ),
            None => (part, None),
        };
        v = v.get(name)?;
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    Some(v)
}

/// Suricata-verify's comparison: Python `==` on the decoded JSON, so the
/// types must agree (200 is not "200"); numbers compare by value. Addresses
/// compare as addresses: Suricata writes IPv6 with every group in full
/// (`2001:0db8:0000:...`), fumidai in RFC 5952's compressed form.
pub fn equal(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        },
        _ => got == want,
    }
}

/// The paths a `has-key`/`not-has-key` entry names: one, or a list.
fn key_paths(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        other => panic!("has-key/not-has-key: {other}: a path or a list of paths"),
    }
}

pub fn matches(event: &Value, matcher: &Map<String, Value>) -> bool {
    matcher.iter().all(|(k, want)| match k.as_str() {
        "has-key" => key_paths(want).iter().all(|p| find(event, p).is_some()),
        "not-has-key" => key_paths(want).iter().all(|p| find(event, p).is_none()),
        _ => find(event, k).is_some_and(|got| equal(got, want)),
    })
}

/// What a filter counts: its `event_type`, or the event object its keys
/// name (`http.hostname` is about http events).
pub fn kind_of(matcher: &Map<String, Value>) -> String {
    if let Some(t) = matcher.get("event_type").and_then(Value::as_str) {
        return t.to_owned();
    }
    matcher
        .keys()
        .find_map(|k| k.split_once('.').map(|(o, _)| o.to_owned()))
        .unwrap_or_else(|| "(none)".to_owned())
}

/// The versions a `requires:` names (Suricata's), when it excludes current
/// Suricata: `lt-version` describes older releases' output.
fn older_only(requires: Option<&Value>) -> Option<String> {
    let lt = requires?.get("lt-version")?;
    Some(format!(
        "describes Suricata before {}; fumidai follows current Suricata",
        lt.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| lt.to_string())
    ))
}

/// Runs one test's checks against `events` (one replay of its capture).
pub fn run(capture: &str, test: &TestFile, events: &[Value], policy: &dyn Policy, t: &mut Tally) {
    t.files += 1;
    let label = &test.name;
    println!("== {capture} ({label})");
    let (run0, passed0, skipped0) = (t.run, t.passed, t.skipped);
    let checks = test.yaml["checks"].as_array().expect("checks");
    if let Some(why) = older_only(test.yaml.get("requires")) {
        println!("   SKIP all {} checks: {why}", checks.len());
        t.skipped += checks.len();
        t.per_test.push((label.clone(), 0, 0, checks.len()));
        return;
    }
    if let Some(req) = test.yaml.get("requires") {
        println!("   requires {req} (Suricata version; applies to fumidai)");
    }
    for arg in test.yaml["args"].as_array().into_iter().flatten() {
        let arg = arg.as_str().expect("arg");
        let why = policy
            .arg(test, arg)
            .unwrap_or_else(|| panic!("{label}: argument {arg:?}: classify it in the policy"));
        println!("   args {arg}: {why}");
    }
    for (i, check) in checks.iter().enumerate() {
        let n = i + 1;
        if let Some(stats) = check.get("stats") {
            if let Err(why) = policy.stats(test) {
                t.skipped += 1;
                println!("   SKIP #{n} stats {stats}: {why}");
                continue;
            }
            t.run += 1;
            let last = events
                .iter()
                .rev()
                .find(|e| e["event_type"] == "stats")
                .map(|e| &e["stats"]);
            let wrong: Vec<String> = stats
                .as_object()
                .expect("stats check is a map")
                .iter()
                .filter_map(|(k, want)| {
                    let got = last.and_then(|s| find(s, k));
                    (!got.is_some_and(|g| equal(g, want)))
                        .then(|| format!("{k}: expected {want}, got {got:?}"))
                })
                .collect();
            if wrong.is_empty() {
                t.passed += 1;
                println!("   RUN  #{n} stats ok: {stats}");
            } else {
                println!("   RUN  #{n} stats FAIL: {wrong:?}");
                t.failures.push(format!(
                    "{capture} {label} #{n}: stats {}",
                    wrong.join(", ")
                ));
            }
            continue;
        }
        if let Some(shell) = check.get("shell") {
            t.skipped += 1;
            println!(
                "   SKIP #{n} shell {shell}: a command run on Suricata's output directory \
                 (its filestore, logs), not a check of EVE"
            );
            continue;
        }
        let filter = check
            .get("filter")
            .unwrap_or_else(|| panic!("{label} #{n}: unknown check kind {check}"));
        let matcher = filter["match"].as_object().expect("match");
        let want = filter["count"].as_u64().expect("count");
        let desc = serde_json::to_string(matcher).unwrap();
        if let Some(why) = older_only(filter.get("requires")) {
            t.per_kind.entry(kind_of(matcher)).or_default()[2] += 1;
            t.skipped += 1;
            println!("   SKIP #{n} {desc}: {why}");
            continue;
        }
        if let Some(req) = filter.get("requires") {
            println!("   #{n} requires {req} (Suricata version; applies to fumidai)");
        }
        let (got, how) = match policy.filter(test, matcher) {
            Plan::Skip(why) => {
                t.per_kind.entry(kind_of(matcher)).or_default()[2] += 1;
                t.skipped += 1;
                println!("   SKIP #{n} {desc}: {why}");
                continue;
            }
            Plan::Run => (
                events.iter().filter(|e| matches(e, matcher)).count(),
                String::new(),
            ),
            Plan::Without(keys) => {
                t.adapted += 1;
                let mut m = matcher.clone();
                let mut notes = Vec::new();
                for (k, why) in keys {
                    m.remove(&k);
                    notes.push(format!("{k} left out: {why}"));
                }
                (
                    events.iter().filter(|e| matches(e, &m)).count(),
                    format!(" ({})", notes.join("; ")),
                )
            }
            Plan::Instead(pred, why) => {
                t.adapted += 1;
                (
                    events.iter().filter(|e| pred(e)).count(),
                    format!(" (on {why})"),
                )
            }
        };
        t.run += 1;
        let tally = t.per_kind.entry(kind_of(matcher)).or_default();
        tally[1] += 1;
        if got as u64 == want {
            tally[0] += 1;
            t.passed += 1;
            println!("   RUN  #{n} count {want} ok: {desc}{how}");
        } else {
            println!("   RUN  #{n} count {want} got {got} FAIL: {desc}{how}");
            let kind = matcher.get("event_type").cloned().unwrap_or(Value::Null);
            let similar: Vec<String> = events
                .iter()
                .filter(|e| kind.is_null() || e["event_type"] == kind)
                .map(|e| e.to_string())
                .take(4)
                .collect();
            t.failures.push(format!(
                "{capture} {label} #{n}: expected {want}, got {got}: {desc}{how}\n  fumidai wrote: {similar:#?}"
            ));
        }
    }
    t.per_test.push((
        label.clone(),
        t.passed - passed0,
        t.run - run0,
        t.skipped - skipped0,
    ));
}

/// The Suricata-verify tests copied beside the captures under `dir`
/// (`<dir>/<capture>/suricata-verify__<test>__test.yaml`), by capture.
pub fn tests_under(dir: &Path) -> Vec<(String, TestFile)> {
    let mut out = Vec::new();
    let mut caps: Vec<_> = std::fs::read_dir(dir)
        .expect("truth dir")
        .map(|d| d.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    caps.sort();
    for cap in caps {
        let capture = cap.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&cap)
            .expect("capture dir")
            .map(|f| f.expect("entry").path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("suricata-verify__") && n.ends_with("__test.yaml")
            })
            .collect();
        files.sort();
        for f in files {
            out.push((capture.clone(), TestFile::read(&f)));
        }
    }
    out
}
