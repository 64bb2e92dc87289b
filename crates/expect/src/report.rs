//! Results for machines: JUnit XML (what GitLab, GitHub and Jenkins show
//! natively) and JSON.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{CaseResult, Status};

/// Text safe in XML 1.0 content and attributes: markup escaped, and the
/// characters XML cannot carry at all replaced.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// The directory of a capture, as the suite it belongs to.
fn suite_of(path: &Path) -> String {
    match path.parent().map(|p| p.display().to_string()) {
        Some(p) if !p.is_empty() => p,
        _ => ".".into(),
    }
}

/// JUnit XML: one `testsuite` per directory, one `testcase` per capture
/// (or orphaned expectation file), in path order.
pub fn junit(results: &[CaseResult], total: Duration) -> String {
    let mut suites: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        suites.entry(suite_of(r.shown())).or_default().push(r);
    }
    let count = |rs: &[&CaseResult], s: Status| rs.iter().filter(|r| r.status == s).count();
    let all: Vec<&CaseResult> = results.iter().collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"fumidai test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        all.len(),
        count(&all, Status::Fail),
        count(&all, Status::Error),
        count(&all, Status::NoExpectations),
        secs(total)
    );
    for (name, rs) in &suites {
        let time: Duration = rs.iter().map(|r| r.time).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            xml_escape(name),
            rs.len(),
            count(rs, Status::Fail),
            count(rs, Status::Error),
            count(rs, Status::NoExpectations),
            secs(time)
        );
        for r in rs {
            let shown = r.shown();
            let file_name = shown
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"{}\"",
                xml_escape(&file_name),
                xml_escape(name),
                xml_escape(&shown.display().to_string()),
                secs(r.time)
            );
            match r.status {
                Status::Ok => x.push_str("/>\n"),
                Status::Fail => {
                    let failed = r.diff.iter().filter(|l| !l.starts_with(' ')).count();
                    let stated = r.spec.as_ref().map_or(0, |s| s.expectations());
                    let _ = writeln!(
                        x,
                        ">\n      <failure type=\"expectation\" message=\"{}\">{}</failure>\n    </testcase>",
                        xml_escape(&format!(
                            "{failed} differences from the {stated} expectations in {}",
                            r.case.expect.display()
                        )),
                        xml_escape(&r.diff.join("\n"))
                    );
                }
                Status::Error => {
                    let msg = r.error.as_deref().unwrap_or("error");
                    let first = msg.lines().next().unwrap_or("error");
                    let _ = writeln!(
                        x,
                        ">\n      <error type=\"error\" message=\"{}\">{}</error>\n    </testcase>",
                        xml_escape(first),
                        xml_escape(msg)
                    );
                }
                Status::NoExpectations => {
                    let why = if r.has_spec {
                        format!("{} checks nothing", r.case.expect.display())
                    } else {
                        format!("no {}", r.case.expect.display())
                    };
                    let _ = writeln!(
                        x,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml_escape(&why)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// The whole run as JSON.
pub fn json(results: &[CaseResult], total: Duration, jobs: usize) -> Value {
    let n = |s: Status| results.iter().filter(|r| r.status == s).count();
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            let summary = r.summary.as_ref();
            json!({
                "capture": r.case.capture.display().to_string(),
                "expectations": r.has_spec.then(|| r.case.expect.display().to_string()),
                "status": r.status.word(),
                "time_s": (r.time.as_secs_f64() * 1e3).round() / 1e3,
                "packets": summary.map(|s| s["packets"].clone()),
                "events": summary.map(|s| s["events"]["by_type"].clone()),
                "alerts": summary.map(|s| s["alerts"]["by_sid"].clone()),
                "checks": r.spec.as_ref().map(|s| crate::check::to_json(s, &r.checks)),
                "diff": r.diff,
                "error": r.error,
            })
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "captures": results.len(),
        "ok": n(Status::Ok),
        "failed": n(Status::Fail),
        "errors": n(Status::Error),
        "without_expectations": n(Status::NoExpectations),
        "time_s": (total.as_secs_f64() * 1e3).round() / 1e3,
        "jobs": jobs,
        "results": cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_well_formed_xml() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}\u{7}\td\u{ffff}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}\u{fffd}\td\u{fffd}"
        );
    }
}
