//! `fumidai test`: replays captures with the fumidai binary itself and
//! holds what it writes to the `X.expect.yaml` file beside each capture
//! (docs/expect.md). Reads EVE only; knows nothing of packets.

#![forbid(unsafe_code)]

mod check;
mod discover;
mod render;
mod replay;
mod report;
mod spec;
mod update;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::Value;

use crate::check::Check;
use crate::discover::Case;
use crate::replay::Sensor;
use crate::spec::Spec;

/// Exit status when an expectation was not met (1 is an error, 2 a bad
/// command line), as the sensor's `--fail-on-alert`.
pub const EXIT_FAILED: u8 = 3;

const AFTER_HELP: &str = "\
Each capture X.pcap (or X.pcapng) may have an X.expect.yaml beside it:
  config: {home_net: [192.0.2.0/24]}     # partial sensor.yaml for this capture
  alerts:                                 # exactly these, unless at_least: true
    - {sid: 9700002, src_ip: 198.51.100.7, dest_port: 25, count: 1}
  no_alerts: [9700021]                    # must not fire
  events:                                 # dotted-field matches and counts
    - {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<a@example.net>\"}, count: 1}
The reference is docs/expect.md.

Exit status:
  0  every capture met its expectations (or has none; see --strict)
  1  a capture could not be tested: replay failed, bad or orphaned expectation file
  2  bad command line
  3  an expectation was not met";

/// fumidai test: replay captures and check what fumidai writes against the
/// X.expect.yaml file beside each one.
#[derive(Debug, Parser)]
#[command(name = "fumidai test", bin_name = "fumidai test", version, after_help = AFTER_HELP)]
struct Args {
    /// Captures, expectation files, or directories (searched recursively).
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,

    /// Base configuration that each capture's `config:` is merged over
    /// (default: the built-in defaults, equal to the shipped sensor.yaml).
    #[arg(short = 'c', value_name = "sensor.yaml")]
    config: Option<PathBuf>,

    /// Captures replayed at once (default: one per core). Results and their
    /// order do not depend on it.
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,

    /// Write or refresh the expectation files from this run's output (for a
    /// reviewed baseline), printing every change.
    #[arg(long)]
    update: bool,

    /// Write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Keep what each replay wrote (eve.json, the merged sensor.yaml, the
    /// summary) in DIR/<capture path>/.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,

    /// Stop a replay that takes longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,

    /// A capture without an expectation file fails.
    #[arg(long)]
    strict: bool,

    /// Print only what did not pass, and the totals.
    #[arg(short, long)]
    quiet: bool,

    /// The fumidai binary that replays (default: this one), e.g. to hold a
    /// new release to the expectations an older one met.
    #[arg(long, value_name = "FILE")]
    sensor: Option<PathBuf>,
}

/// How a capture fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Fail,
    Error,
    NoExpectations,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::NoExpectations => "none",
        }
    }
}

/// One capture's result.
pub(crate) struct CaseResult {
    case: Case,
    status: Status,
    /// The expectation file exists (parsed or not).
    has_spec: bool,
    spec: Option<Spec>,
    spec_text: Option<String>,
    checks: Vec<Check>,
    diff: Vec<String>,
    error: Option<String>,
    time: Duration,
    /// The sensor's `--summary-json`.
    summary: Option<Value>,
    /// This run's alerts (for `--update`; other events are not kept).
    alerts: Vec<Value>,
    /// An expectation file without a capture.
    orphan: bool,
}

impl CaseResult {
    fn new(case: Case) -> Self {
        CaseResult {
            case,
            status: Status::Error,
            has_spec: false,
            spec: None,
            spec_text: None,
            checks: Vec::new(),
            diff: Vec::new(),
            error: None,
            time: Duration::ZERO,
            summary: None,
            alerts: Vec::new(),
            orphan: false,
        }
    }

    /// The path the result is about.
    fn shown(&self) -> &Path {
        if self.orphan {
            &self.case.expect
        } else {
            &self.case.capture
        }
    }

    fn error(mut self, msg: String) -> Self {
        self.status = Status::Error;
        self.error = Some(msg);
        self
    }
}

/// Runs `fumidai test` with `args` (those after `test`).
pub fn main(args: impl Iterator<Item = OsString>) -> ExitCode {
    let args = Args::parse_from(std::iter::once(OsString::from("fumidai test")).chain(args));
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("fumidai test: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    let exe = match &args.sensor {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find the fumidai binary")?,
    };
    let mut sensor = Sensor {
        exe,
        base: serde_norway::Mapping::new(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    if let Some(c) = &args.config {
        // The sensor's own check names the file, line and key.
        let scratch = tempfile::tempdir()?;
        sensor
            .check_config(c, scratch.path())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = std::fs::read_to_string(c).with_context(|| format!("{}", c.display()))?;
        if !text.trim().is_empty() {
            sensor.base = serde_norway::from_str(&text)
                .with_context(|| format!("{}: not a mapping", c.display()))?;
        }
    }
    let found = discover::find(&args.paths)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, found.cases.len().max(1));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "fumidai test: {}, {jobs} at a time",
        plural(found.cases.len(), "capture")
    )?;

    let n = found.cases.len();
    let mut results: Vec<CaseResult> = Vec::with_capacity(n);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, CaseResult)>();
    std::thread::scope(|s| -> anyhow::Result<()> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, cases, sensor) = (&next, &found.cases, &sensor);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let r = test_case(sensor, case.clone(), args);
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Printed in path order as soon as each is known, whatever order
        // the jobs finish in.
        let mut slots: Vec<Option<CaseResult>> = (0..n).map(|_| None).collect();
        for (i, r) in rx {
            slots[i] = Some(r);
            while let Some(r) = slots.get_mut(results.len()).and_then(Option::take) {
                print_result(&mut out, &r, args.quiet)?;
                results.push(r);
            }
        }
        Ok(())
    })?;
    for o in &found.orphans {
        let mut r = CaseResult::new(Case {
            capture: PathBuf::new(),
            expect: o.clone(),
        });
        r.orphan = true;
        r.has_spec = true;
        let r = r.error(format!(
            "{}: no capture beside it (renamed or deleted?): its expectations are not checked",
            o.display()
        ));
        print_result(&mut out, &r, args.quiet)?;
        results.push(r);
    }

    let (mut created, mut updated, mut update_errors) = (0, 0, 0);
    if args.update {
        for r in results
            .iter()
            .filter(|r| !r.orphan && r.status != Status::Error)
        {
            match apply_update(r) {
                Ok(None) => {}
                Ok(Some((was_created, changes))) => {
                    let verb = if was_created { "created" } else { "updated" };
                    writeln!(out, "{verb} {}:", r.case.expect.display())?;
                    for c in changes {
                        writeln!(out, "      {c}")?;
                    }
                    if was_created {
                        created += 1;
                    } else {
                        updated += 1;
                    }
                }
                Err(e) => {
                    writeln!(out, "ERROR {}: {e}", r.case.expect.display())?;
                    update_errors += 1;
                }
            }
        }
    }

    let total = started.elapsed();
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (ok, failed, errors, none) = (
        count(Status::Ok),
        count(Status::Fail),
        count(Status::Error),
        count(Status::NoExpectations),
    );
    if let Some(p) = &args.junit {
        std::fs::write(p, report::junit(&results, total))
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &args.json {
        let mut text = serde_json::to_string_pretty(&report::json(&results, total, jobs))?;
        text.push('\n');
        std::fs::write(p, text).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    let mut closing = format!(
        "fumidai test: {ok} passed, {failed} failed, {errors} errors, {none} without expectations; {} in {:.2} s",
        plural(results.len(), "capture"),
        total.as_secs_f64()
    );
    if args.update {
        closing.push_str(&format!("; --update: {created} created, {updated} updated"));
    }
    writeln!(out, "{closing}")?;
    Ok(if errors > 0 || update_errors > 0 {
        1
    } else if failed > 0 && !args.update {
        EXIT_FAILED
    } else {
        0
    })
}

/// Where a replay writes: a temporary directory, or under `--keep`.
enum WorkDir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            WorkDir::Temp(t) => t.path(),
            WorkDir::Kept(p) => p,
        }
    }
}

fn work_dir(keep: Option<&Path>, capture: &Path) -> Result<WorkDir, String> {
    let Some(keep) = keep else {
        return tempfile::tempdir()
            .map(WorkDir::Temp)
            .map_err(|e| format!("cannot make a temporary directory: {e}"));
    };
    // The capture's path below DIR, whatever it is relative to.
    let mut dir = keep.to_path_buf();
    for c in capture.components() {
        match c {
            Component::Normal(s) => dir.push(s),
            Component::ParentDir => dir.push("up"),
            _ => {}
        }
    }
    // The EVE file is appended to: start from nothing.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(WorkDir::Kept(dir))
}

fn test_case(sensor: &Sensor, case: Case, args: &Args) -> CaseResult {
    let mut r = CaseResult::new(case);
    let expect = r.case.expect.clone();
    let (spec, text) = match std::fs::read_to_string(&expect) {
        Ok(text) => {
            r.has_spec = true;
            match spec::parse(&text, &expect.display().to_string()) {
                Ok(s) => (Some(s), Some(text)),
                Err(e) => return r.error(e.to_string()),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(e) => return r.error(format!("{}: {e}", expect.display())),
    };
    let dir = match work_dir(args.keep.as_deref(), &r.case.capture) {
        Ok(d) => d,
        Err(e) => return r.error(e),
    };
    if let (Some(s), Some(t)) = (&spec, &text)
        && let Err(e) = sensor.check_overlay(s, t, &expect, dir.path())
    {
        return r.error(e);
    }
    let overlay = spec.as_ref().and_then(|s| s.config.as_ref());
    let replayed = match sensor.replay(&r.case.capture, overlay, dir.path()) {
        Ok(x) => x,
        Err(e) => return r.error(e),
    };
    r.time = replayed.time;
    r.summary = Some(replayed.summary);
    match &spec {
        Some(s) if s.checks_nothing() && args.strict => {
            r.status = Status::Fail;
            r.diff = vec![format!("{} checks nothing (--strict)", expect.display())];
        }
        Some(s) if s.checks_nothing() => r.status = Status::NoExpectations,
        Some(s) => {
            r.checks = check::evaluate(s, &replayed.events);
            r.diff = check::diff(s, &r.checks);
            r.status = if r.checks.iter().all(Check::ok) {
                Status::Ok
            } else {
                Status::Fail
            };
        }
        None if args.strict => {
            r.status = Status::Fail;
            r.diff = vec![format!("no {} (--strict)", expect.display())];
        }
        None => r.status = Status::NoExpectations,
    }
    r.alerts = replayed
        .events
        .into_iter()
        .filter(|e| e.get("event_type").and_then(Value::as_str) == Some("alert"))
        .collect();
    r.spec = spec;
    r.spec_text = text;
    r
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `3 alerts (9700002 1, 9700003 2)` from the sensor's summary.
fn alerts_text(summary: Option<&Value>) -> String {
    let Some(by_sid) = summary.and_then(|s| s["alerts"]["by_sid"].as_object()) else {
        return String::new();
    };
    let total: u64 = by_sid.values().filter_map(Value::as_u64).sum();
    if total == 0 {
        return "no alerts".into();
    }
    let parts: Vec<String> = by_sid.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "{total} alert{} ({})",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn print_result(out: &mut impl Write, r: &CaseResult, quiet: bool) -> std::io::Result<()> {
    if quiet && r.status == Status::Ok {
        return Ok(());
    }
    let word = r.status.word();
    let shown = r.shown().display();
    match r.status {
        Status::Error => {
            let msg = r.error.as_deref().unwrap_or("");
            writeln!(out, "{word:<5} {shown}")?;
            for l in msg.lines() {
                writeln!(out, "      {l}")?;
            }
        }
        _ => {
            let mut what = alerts_text(r.summary.as_ref());
            match (&r.spec, r.status) {
                (Some(_), Status::NoExpectations) => {
                    what.push_str(&format!(", {} checks nothing", r.case.expect.display()))
                }
                (None, Status::NoExpectations) => {
                    what.push_str(&format!(", no {}", r.case.expect.display()))
                }
                (Some(s), _) => {
                    let n = s.expectations();
                    what = format!("{n} expectation{}, {what}", if n == 1 { "" } else { "s" });
                }
                (None, _) => {}
            }
            writeln!(
                out,
                "{word:<5} {shown}  {what}  ({:.2} s)",
                r.time.as_secs_f64()
            )?;
            for l in &r.diff {
                writeln!(out, "      {l}")?;
            }
        }
    }
    Ok(())
}

/// Writes the updated expectation file of `r`, if anything changes, after
/// checking that the new file reads back and passes.
fn apply_update(r: &CaseResult) -> Result<Option<(bool, Vec<String>)>, String> {
    let existing = match (&r.spec, &r.spec_text) {
        (Some(s), Some(t)) => Some((s, t.as_str())),
        _ => None,
    };
    let name = r
        .case
        .capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(u) = update::update(existing, &r.checks, &r.alerts, &name) else {
        return Ok(None);
    };
    let shown = r.case.expect.display().to_string();
    let mut again = spec::parse(&u.text, &shown)
        .map_err(|e| format!("the updated file would not read back: {e}"))?;
    // Event counts come from the full run; the alerts are all that is kept.
    again.events.clear();
    let bad: Vec<String> = check::diff(&again, &check::evaluate(&again, &r.alerts));
    if !bad.is_empty() {
        return Err(format!(
            "the updated file would not pass, not written:\n{}",
            bad.join("\n")
        ));
    }
    std::fs::write(&r.case.expect, &u.text).map_err(|e| format!("cannot write: {e}"))?;
    Ok(Some((u.created, u.changes)))
}
