//! `fumidai report`: reads EVE logs (plain or gzip, any size, streaming) and
//! writes one self-contained HTML page that answers before it details: which
//! hosts are used as stepping stones, since when, by whom, how sure, and the
//! records behind each answer.
//!
//! The path of a line: [`input`] reads it (bounded length), [`line`] reads
//! its header and keeps its objects raw, [`model`] folds it into bounded
//! summaries, [`verdict`] turns those into one sentence per host and role,
//! and [`html`] writes the page. Every number on the page comes from the
//! records; every limit that drops something is counted and said on the page.

#![forbid(unsafe_code)]

pub mod cli;
pub mod hist;
pub mod html;
/// Reading EVE files (moved to fumidai-eve, shared with `fumidai aggregate`).
pub use fumidai_eve::read as input;
pub mod line;
pub mod model;
pub mod nets;
pub mod tally;
pub mod verdict;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use cli::ReportArgs;
use model::Model;

/// Exit status when the page was written but some input could not be read
/// (an unreadable line, a damaged gzip stream): the page says what and where.
/// As for any error: 2 is a bad command line (clap's).
pub const EXIT_PARTIAL: u8 = 1;

/// Runs `fumidai report` with `args` (the words after `report`).
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args =
        ReportArgs::parse_from(std::iter::once(OsString::from("fumidai report")).chain(args));
    match run(&args) {
        Ok(outcome) => {
            for w in &outcome.warnings {
                eprintln!("fumidai report: {w}");
            }
            if !args.quiet {
                println!("{}", outcome.summary);
            }
            if outcome.warnings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_PARTIAL)
            }
        }
        Err(e) => {
            eprintln!("fumidai report: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What a run did.
pub struct Outcome {
    pub output: PathBuf,
    /// One line for the terminal: what was read, what was found, where it went.
    pub summary: String,
    /// Input that could not be read, file and line named.
    pub warnings: Vec<String>,
}

/// Reads the logs `args` names and writes the page.
pub fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let home = nets::home_net(args)?;
    let started = Instant::now();
    // Every input opens before anything is read, so a typo fails at once.
    let mut total = 0u64;
    for p in &args.files {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            anyhow::bail!(
                "{}: is a directory; give the EVE file (e.g. {}/eve.json)",
                p.display(),
                p.display()
            );
        }
        total += meta.len();
    }
    let bar = progress_bar(total, !args.quiet);
    let mut model = Model::new(home.clone());
    let mut done = 0u64;
    for p in &args.files {
        if let Some(bar) = &bar {
            bar.set_message(p.display().to_string());
        }
        model.begin_file(p);
        let read = input::read_file(p, |line, at| {
            model.observe(line, at);
            if let Some(bar) = &bar
                && at.lines.is_multiple_of(4096)
            {
                bar.set_position(done + at.raw_bytes);
            }
        })
        .with_context(|| format!("{}", p.display()))?;
        done += read.raw_bytes;
        model.finish_file(read);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let page = html::render(&model, &html::PageInfo::new(args, &home));
    write_atomically(&args.output, page.as_bytes())
        .with_context(|| format!("writing {}", args.output.display()))?;
    let verdicts = verdict::all(&model);
    let ours = verdicts.iter().filter(|v| v.home).count();
    let lines: u64 = model.files.iter().map(|f| f.read.lines).sum();
    let summary = format!(
        "fumidai report: {} lines from {} file{} in {:.2} s: {} alerts, {} verdicts ({} on hosts in home_net); report: {}",
        lines,
        args.files.len(),
        if args.files.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        model.alerts,
        verdicts.len(),
        ours,
        shown_path(&args.output).display()
    );
    Ok(Outcome {
        output: args.output.clone(),
        summary,
        warnings: model.warnings(),
    })
}

fn progress_bar(total: u64, enabled: bool) -> Option<ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%  {bytes}/{total_bytes}  {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    Some(bar)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it: a
/// reader never sees half a page, and a failed run leaves the old one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The absolute path, for the summary line.
fn shown_path(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
