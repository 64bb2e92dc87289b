//! Replaying captures in CI: `fumidai test` over the repository's own
//! captures (every `X.expect.yaml` in pcaps/ must hold), what a broken
//! expectation looks like, `--update`, the JUnit and JSON results (the
//! JUnit file read by junitparser, as CI servers read it), and the plain
//! replay's `--summary-json` and `--fail-on-alert`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, pcap, root};
use serde_json::Value;

fn fumidai_test(args: &[&str], cwd: &Path) -> Output {
    bin()
        .arg("test")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run fumidai test")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A Python that can import junitparser: the venv `scripts/deps.sh test`
/// makes under the target directory, or the system's if it has it.
fn python_with_junitparser() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    // target/<profile>/deps/<this test>
    let venv = exe.ancestors().nth(3).map(|t| t.join("pyenv/bin/python3"));
    let candidates = venv.into_iter().chain([PathBuf::from("python3")]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import junitparser"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return py;
        }
    }
    panic!("junitparser is missing: run scripts/deps.sh test (it makes target/pyenv)");
}

/// Reads a JUnit file with junitparser and returns, as it sees them, the
/// totals the file declares and those it counts case by case, and each
/// case as `classname name result message`.
fn junitparser_reads(file: &Path) -> (Value, Vec<String>) {
    const SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
declared = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped}
counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
cases = []
for suite in xml:
    s = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in suite:
        s["tests"] += 1
        kind, msg = "passed", ""
        for r in case.result:
            if isinstance(r, Failure): kind = "failures"
            elif isinstance(r, Error): kind = "errors"
            elif isinstance(r, Skipped): kind = "skipped"
            msg = (r.message or "") + "|" + (r.text or "")
        if kind != "passed": s[kind] += 1
        float(case.time)
        cases.append(" ".join([case.classname, case.name, kind, msg]))
    for k in s:
        assert getattr(suite, k) == s[k], (suite.name, k, getattr(suite, k), s[k])
        counted[k] += s[k]
print(json.dumps({"declared": declared, "counted": counted}))
for c in cases: print(c.replace("\n", "\\n"))
"#;
    let out = Command::new(python_with_junitparser())
        .args(["-c", SCRIPT])
        .arg(file)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "junitparser refused {}: {}",
        file.display(),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let totals: Value = serde_json::from_str(lines.next().unwrap_or("")).expect("totals");
    assert_eq!(totals["declared"], totals["counted"], "{stdout}");
    (
        totals["counted"].clone(),
        lines.map(str::to_owned).collect(),
    )
}

/// `fumidai test pcaps/` passes: every capture in the repository has an
/// expectation file and meets it. A failing expectation fails this test,
/// and so CI.
#[test]
fn every_capture_in_pcaps_meets_its_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, json) = (dir.path().join("junit.xml"), dir.path().join("r.json"));
    let out = fumidai_test(
        &[
            "pcaps/",
            "--strict",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        &root(),
    );
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "fumidai test pcaps/ failed:\n{stdout}{}",
        text(&out.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let n = r["captures"].as_u64().unwrap();
    assert!(n >= 60, "{n} captures");
    assert_eq!(r["ok"], n, "{r}");
    let results = r["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|c| c["status"] == "ok" && c["error"].is_null())
    );
    assert!(
        stdout.contains(&format!(
            "fumidai test: {n} passed, 0 failed, 0 errors, 0 without expectations; {n} captures in "
        )),
        "{stdout}"
    );
    let (totals, cases) = junitparser_reads(&junit);
    assert_eq!(totals["tests"], n);
    assert_eq!(
        (&totals["failures"], &totals["errors"], &totals["skipped"]),
        (&Value::from(0), &Value::from(0), &Value::from(0))
    );
    assert!(
        cases
            .iter()
            .any(|c| c == "pcaps/scenarios amp-ssdp.pcap passed "),
        "{cases:#?}"
    );
}

/// A directory with one good and one broken expectation: the run fails
/// with exit status 3, and the diff says what is missing, what is there
/// unexpectedly, which counts differ and what came closest.
#[test]
fn a_broken_expectation_fails_with_a_readable_diff() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(pcap("zeek__connect-with-smtp.pcap"), d.join("tunnel.pcap")).unwrap();
    std::fs::copy(pcap("zeek__proxy.pcap"), d.join("proxy.pcap")).unwrap();
    std::fs::write(
        d.join("proxy.expect.yaml"),
        "alerts:\n  - {sid: 9700001, dest_ip: 192.168.56.101, dest_port: 80, count: 1}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("tunnel.expect.yaml"),
        "# deliberately wrong in every way\n\
         alerts:\n\
         \x20 - {sid: 9700002, dest_port: 25}\n\
         \x20 - {sid: 9700003, count: 2}\n\
         no_alerts: [9700023]\n\
         events:\n\
         \x20 - {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<nobody@t-online.de>\"}, count: 1}\n",
    )
    .unwrap();
    let out = fumidai_test(&[".", "--junit", "junit.xml", "--json", "r.json"], d);
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    let expected = [
        "ok    ./proxy.pcap  2 expectations, 1 alert (9700001 1)  (",
        "FAIL  ./tunnel.pcap  5 expectations, 3 alerts (9700002 1, 9700003 1, 9700023 1)  (",
        "      - alerts: {sid: 9700002, dest_port: 25, count: 1}    # missing: expected 1, got 0\n\
         \x20           closest: dest_port = 8240 (1 of the 1 alerts with sid 9700002)\n\
         \x20     ~ alerts: {sid: 9700003, count: 2}    # expected 2, got 1\n\
         \x20     + alerts: {sid: 9700002, src_ip: 79.26.245.236, dest_ip: 254.228.86.79, dest_port: 8240, count: 1}    # unexpected: FUMIDAI open proxy: HTTP CONNECT to an SMTP port (spam relay attempt)\n\
         \x20     + alerts: {sid: 9700023, src_ip: 79.26.245.236, dest_ip: 254.228.86.79, dest_port: 8240, count: 1}    # unexpected: FUMIDAI SMTP inside an HTTP CONNECT or SOCKS tunnel\n\
         \x20     ! no_alerts: 9700023    # fired 1 time, first 79.26.245.236:3378 -> 254.228.86.79:8240 at 2004-03-02T12:57:37.893961+0000\n\
         \x20     - events: {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<nobody@t-online.de>\"}, count: 1}    # expected 1, got 0\n\
         \x20           closest: smtp.rcpt_to[0] = \"<thenightwatch@t-online.de>\" (1 of the 1 smtp events)\n",
        "fumidai test: 1 passed, 1 failed, 0 errors, 0 without expectations; 2 captures in ",
    ];
    for e in expected {
        assert!(
            stdout.contains(e),
            "missing from the output:\n{e}\n---\n{stdout}"
        );
    }
    let (totals, cases) = junitparser_reads(&d.join("junit.xml"));
    assert_eq!(
        (&totals["tests"], &totals["failures"]),
        (&Value::from(2), &Value::from(1))
    );
    let failure = cases
        .iter()
        .find(|c| c.starts_with(". tunnel.pcap failures "))
        .unwrap_or_else(|| panic!("{cases:#?}"));
    assert!(
        failure.contains("differences from the 5 expectations in ./tunnel.expect.yaml|- alerts: {sid: 9700002, dest_port: 25, count: 1}"),
        "{failure}"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let t = &r["results"][1];
    assert_eq!(
        (&t["status"], &t["capture"]),
        (&"FAIL".into(), &"./tunnel.pcap".into())
    );
    assert_eq!(t["alerts"]["9700023"], 1);
    let checks = t["checks"].as_array().unwrap();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "alert",
            "alert",
            "unexpected_alert",
            "unexpected_alert",
            "no_alert",
            "event"
        ]
    );
}

/// `--update` writes a new file from the alerts, refreshes an old one
/// saying each change, keeps its comments and config, and the result passes.
#[test]
fn update_writes_the_baseline_and_says_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(pcap("zeek__connect-with-smtp.pcap"), d.join("t.pcap")).unwrap();
    let out = fumidai_test(&["t.pcap", "--update"], d);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("created t.expect.yaml:\n      + alerts: {sid: 9700002, src_ip: 79.26.245.236, dest_ip: 254.228.86.79, dest_port: 8240, count: 1}"), "{stdout}");
    let written = std::fs::read_to_string(d.join("t.expect.yaml")).unwrap();
    assert_eq!(written.matches("  - {sid: 97000").count(), 3, "{written}");
    let out = fumidai_test(&["."], d);
    assert!(out.status.success(), "{}", text(&out.stdout));

    let edited = "# reviewed by hand\nconfig:\n  home_net: [10.0.0.0/8]\nalerts:\n  - {sid: 9700002, count: 2}\n  - {sid: 9700003}\n  - {sid: 9700023}\nno_alerts: [9700003]\n";
    std::fs::write(d.join("t.expect.yaml"), edited).unwrap();
    let out = fumidai_test(&[".", "--update"], d);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "updated ./t.expect.yaml:\n      ~ alerts: {sid: 9700002, count: 2}    # count 2 -> 1\n      - no_alerts: 9700003    # fires now (1×)\n"
        ),
        "{stdout}"
    );
    let written = std::fs::read_to_string(d.join("t.expect.yaml")).unwrap();
    assert!(
        written.starts_with("# reviewed by hand\nconfig:\n  home_net: [10.0.0.0/8]\nalerts:\n  - {sid: 9700002, count: 1}\n"),
        "{written}"
    );
    let out = fumidai_test(&["."], d);
    assert!(out.status.success(), "{}", text(&out.stdout));
    // Nothing to change: nothing written, nothing said.
    let out = fumidai_test(&[".", "--update"], d);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("updated ./"), "{stdout}");
    assert!(
        stdout.contains("--update: 0 created, 0 updated"),
        "{stdout}"
    );
}

/// What cannot be tested is an error (exit 1), named precisely: a bad
/// expectation file (file, line and key, inside `config:` too), an
/// expectation file whose capture is gone, a capture that cannot be read.
#[test]
fn what_cannot_be_tested_is_an_error_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(pcap("zeek__proxy.pcap"), d.join("a.pcap")).unwrap();
    std::fs::copy(pcap("zeek__proxy.pcap"), d.join("b.pcap")).unwrap();
    std::fs::write(
        d.join("a.expect.yaml"),
        "alerts:\n  - {sid: 9700001, dst_port: 80}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.expect.yaml"),
        "alerts: []\nconfig:\n  stream:\n    dept: 1mb\n",
    )
    .unwrap();
    std::fs::write(d.join("gone.expect.yaml"), "alerts: []\n").unwrap();
    std::fs::write(d.join("c.pcap"), b"not a capture at all").unwrap();
    let out = fumidai_test(&["."], d);
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for e in [
        "ERROR ./a.pcap\n      ./a.expect.yaml:2:20: alerts[0].dst_port: unknown field `dst_port`, expected one of `sid`, ",
        "ERROR ./b.pcap\n      ./b.expect.yaml:4:5: in config: stream.dept: unknown field `dept`",
        // Whether the sensor exits 1 or reports the file unread, the
        // capture is an error with libpcap's reason.
        "ERROR ./c.pcap\n      ",
        "unknown file format",
        "ERROR ./gone.expect.yaml\n      ./gone.expect.yaml: no capture beside it",
        "0 passed, 0 failed, 4 errors",
    ] {
        assert!(stdout.contains(e), "missing:\n{e}\n---\n{stdout}");
    }
}

/// The same results, in the same order, with one job or several.
#[test]
fn results_do_not_depend_on_parallelism() {
    let strip = |o: &Output| -> Vec<String> {
        text(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("fumidai test: "))
            .map(|l| match l.rfind("  (") {
                Some(i) if l.ends_with(" s)") => l[..i].to_owned(),
                _ => l.to_owned(),
            })
            .collect()
    };
    let one = fumidai_test(&["pcaps/scenarios", "pcaps/evasion", "-j", "1"], &root());
    let three = fumidai_test(&["pcaps/evasion", "pcaps/scenarios", "-j", "3"], &root());
    assert!(one.status.success() && three.status.success());
    let (a, b) = (strip(&one), strip(&three));
    // One line per capture of the two directories.
    let captures = ["pcaps/scenarios", "pcaps/evasion"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).expect("capture dir"))
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pcap"))
        })
        .count();
    assert_eq!(a.len(), captures, "{a:#?}");
    assert_eq!(a, b);
}

/// A base configuration under every capture's own: here one that switches
/// a signature off, which the expectations then notice.
#[test]
fn a_base_configuration_applies_to_every_capture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(pcap("zeek__connect-with-smtp.pcap"), d.join("t.pcap")).unwrap();
    std::fs::write(
        d.join("t.expect.yaml"),
        "alerts:\n  - {sid: 9700002}\n  - {sid: 9700003}\n  - {sid: 9700023}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("base.yaml"),
        "alerts:\n  9700023: {enabled: false}\n",
    )
    .unwrap();
    assert!(fumidai_test(&["t.pcap"], d).status.success());
    let out = fumidai_test(&["t.pcap", "-c", "base.yaml"], d);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stdout).contains("- alerts: {sid: 9700023, count: 1}    # missing"));
    std::fs::write(
        d.join("base.yaml"),
        "alerts:\n  9700023: {enabeld: false}\n",
    )
    .unwrap();
    let out = fumidai_test(&["t.pcap", "-c", "base.yaml"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("base.yaml:2:"),
        "{}",
        text(&out.stderr)
    );
}

/// A plain replay for CI: `--summary-json` says what the run saw, and
/// `--fail-on-alert` turns alerts (any, or those listed) into exit status 3.
#[test]
fn summary_json_and_fail_on_alert() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let capture = pcap("zeek__connect-with-smtp.pcap");
    let run = |extra: &[&str]| {
        bin()
            .arg("-r")
            .arg(&capture)
            .arg("-l")
            .arg(d)
            .args(["-q", "--summary-json"])
            .arg(d.join("s.json"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["packets"], 30);
    assert_eq!(s["flows"]["tcp"], 1);
    assert_eq!(s["alerts"]["total"], 3);
    assert_eq!(
        s["alerts"]["by_sid"],
        serde_json::json!({"9700002": 1, "9700003": 1, "9700023": 1})
    );
    assert_eq!(s["events"]["by_type"]["alert"], 3);
    assert_eq!(s["input"]["files"][0]["complete"], true);
    assert_eq!(s["loss"]["files_incomplete"], 0);
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["counters"]["decoder"]["pkts"], 30);
    // The per-sid counts are those of the EVE file.
    let eve = std::fs::read_to_string(d.join("eve.json")).unwrap();
    assert_eq!(eve.matches("\"signature_id\":9700002").count(), 1);

    let out = run(&["--fail-on-alert"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("--fail-on-alert: 3 alerts fired"));
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["fail_on_alert"]["alerts"], 3);
    assert_eq!(
        run(&["--fail-on-alert", "9700021,9700030"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["--fail-on-alert", "9700030,9700023"]).status.code(),
        Some(3)
    );
    assert_eq!(run(&["--fail-on-alert=9700003"]).status.code(), Some(3));
    // A capture without alerts passes.
    let quiet = bin()
        .arg("-r")
        .arg(pcap("zeek__smtp.pcap"))
        .arg("-l")
        .arg(d)
        .args(["-q", "--fail-on-alert"])
        .output()
        .unwrap();
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    // Alerts that are not written cannot fail the run: refused, not passed.
    std::fs::write(d.join("flows-only.yaml"), "eve:\n  types: [flow, stats]\n").unwrap();
    let cfg = d.join("flows-only.yaml");
    let out = run(&["--fail-on-alert", "-c", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("needs `alert` in eve.types"));
    // A bad list is a bad command line.
    assert_eq!(
        run(&["--fail-on-alert", "open-relay"]).status.code(),
        Some(2)
    );
}

/// The exit codes are in --help, and the sensor's own command line is
/// untouched by the `test` subcommand.
#[test]
fn help_documents_exit_codes_and_subcommands() {
    let out = bin().arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for s in [
        "fumidai test DIR|CAPTURE...",
        "Exit status:",
        "3  --fail-on-alert",
    ] {
        assert!(help.contains(s), "{s}: {help}");
    }
    let out = bin().args(["test", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success());
    for s in [
        "Usage: fumidai test",
        "--update",
        "--junit",
        "3  an expectation was not met",
    ] {
        assert!(help.contains(s), "{s}: {help}");
    }
    let out = bin().arg("test").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no path is a bad command line");
}
