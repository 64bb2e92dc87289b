//! The replay progress bar: on stderr when it is a terminal, else nothing.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Bytes of the files already finished.
    done: u64,
    packets: u64,
    bytes: u64,
}

impl Progress {
    /// A bar over `total` bytes of capture files (0 for live capture).
    pub fn new(total: u64, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = if total > 0 {
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4))
            } else {
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4))
            };
            let template = if total > 0 {
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%  {msg}"
            } else {
                "{spinner} [{elapsed_precise}] {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            done: 0,
            packets: 0,
            bytes: 0,
        }
    }

    /// One packet read; `offset` is the position in the current file.
    pub fn packet(&mut self, offset: u64, wire_len: u32) {
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        if self.packets.is_multiple_of(8192)
            && let Some(bar) = &self.bar
        {
            bar.set_position(self.done + offset);
            let secs = bar.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} packets  {}  {:.0} packets/s",
                self.packets,
                human_bytes(self.bytes),
                self.packets as f64 / secs
            ));
        }
    }

    pub fn file_done(&mut self, path: &Path) {
        self.done += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Bytes with a binary unit, e.g. `4.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
