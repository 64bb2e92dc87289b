//! The page's charts, as inline SVG written by hand. A plotting crate
//! (plotters) was the alternative; its SVG backend writes fixed colours into
//! every element, and these charts must follow the page's light or dark
//! theme and print: here every mark carries a class and the page's CSS
//! colours it. Three chart shapes are needed, each a few dozen lines.

use std::fmt::Write;

use super::esc;
use crate::hist::{Axis, Hist, Peak};
use crate::verdict::{num, time};

const W: f64 = 720.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 110.0;
const PLOT: f64 = W - LEFT - RIGHT;

fn bar_w(axis: &Axis) -> f64 {
    PLOT / axis.buckets as f64
}

/// The time labels under a chart.
fn time_axis(out: &mut String, axis: &Axis, y: f64) {
    let _ = write!(
        out,
        r#"<text class="axis" x="{LEFT}" y="{y}">{}</text><text class="axis" x="{}" y="{y}" text-anchor="end">{}</text>"#,
        esc(&time(axis.start)),
        LEFT + PLOT,
        esc(&time(axis.end()))
    );
}

fn bucket_span(axis: &Axis, i: usize) -> String {
    let start = axis.start + i as u64 * axis.width;
    let secs = axis.width / 1_000_000;
    format!("{} (+{} s)", time(start), num(secs))
}

fn open(out: &mut String, h: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="{}" preserveAspectRatio="xMinYMin meet"><title>{}</title>"#,
        esc(label),
        esc(label)
    );
}

/// One strip per row (a signature), bars per time bucket, each strip
/// scaled to its own peak (written at its right), one time axis.
pub fn small_multiples(rows: &[(String, &Hist<u64>)], lo: u64, hi: u64, label: &str) -> String {
    const ROW: f64 = 26.0;
    let min_width = rows
        .iter()
        .map(|(_, h)| h.width())
        .max()
        .unwrap_or(1_000_000);
    let axis = Axis::new(lo, hi, min_width);
    let h = rows.len() as f64 * ROW + 22.0;
    let mut out = String::new();
    open(&mut out, h, label);
    for (r, (name, hist)) in rows.iter().enumerate() {
        let top = r as f64 * ROW;
        let base = top + ROW - 4.0;
        let values = axis.fold(hist);
        let peak = values.iter().copied().max().unwrap_or(0).max(1);
        let total: u64 = values.iter().sum();
        let _ = write!(
            out,
            r#"<text class="lbl" x="{}" y="{}" text-anchor="end">{}</text><line class="base" x1="{LEFT}" x2="{}" y1="{base}" y2="{base}"/>"#,
            LEFT - 6.0,
            base - 4.0,
            esc(name),
            LEFT + PLOT
        );
        for (i, &v) in values.iter().enumerate() {
            if v == 0 {
                continue;
            }
            let bh = ((v as f64 / peak as f64) * (ROW - 8.0)).max(1.5);
            let _ = write!(
                out,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {}</title></rect>"#,
                LEFT + i as f64 * bar_w(&axis),
                base - bh,
                (bar_w(&axis) - 1.0).max(1.0),
                esc(&bucket_span(&axis, i)),
                esc(&format!(
                    "{} alert{}",
                    num(v),
                    if v == 1 { "" } else { "s" }
                ))
            );
        }
        let _ = write!(
            out,
            r#"<text class="lbl" x="{}" y="{}">{} (peak {})</text>"#,
            LEFT + PLOT + 4.0,
            base - 4.0,
            num(total),
            num(peak)
        );
    }
    time_axis(&mut out, &axis, rows.len() as f64 * ROW + 14.0);
    out.push_str("</svg>");
    out
}

/// Alerts over time stacked by severity (1 at the bottom).
pub fn by_severity(hists: &[Hist<u64>; 3], lo: u64, hi: u64) -> String {
    const H: f64 = 120.0;
    let min_width = hists.iter().map(Hist::width).max().unwrap_or(1_000_000);
    let axis = Axis::new(lo, hi, min_width);
    let folded: Vec<Vec<u64>> = hists.iter().map(|h| axis.fold(h)).collect();
    let totals: Vec<u64> = (0..axis.buckets)
        .map(|i| folded.iter().map(|f| f[i]).sum())
        .collect();
    let peak = totals.iter().copied().max().unwrap_or(0).max(1);
    let mut out = String::new();
    open(&mut out, H + 40.0, "Alerts over time by severity");
    let base = H;
    let _ = write!(
        out,
        r#"<line class="base" x1="{LEFT}" x2="{}" y1="{base}" y2="{base}"/><text class="lbl" x="{}" y="14" text-anchor="end">{} / bucket</text>"#,
        LEFT + PLOT,
        LEFT - 6.0,
        num(peak)
    );
    for i in 0..axis.buckets {
        let mut y = base;
        for (s, f) in folded.iter().enumerate() {
            let v = f[i];
            if v == 0 {
                continue;
            }
            let bh = (v as f64 / peak as f64) * (H - 10.0);
            y -= bh;
            let _ = write!(
                out,
                r#"<rect class="bar sev{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {} severity-{} alert{}</title></rect>"#,
                s + 1,
                LEFT + i as f64 * bar_w(&axis),
                (bar_w(&axis) - 1.0).max(1.0),
                esc(&bucket_span(&axis, i)),
                num(v),
                s + 1,
                if v == 1 { "" } else { "s" }
            );
        }
    }
    for s in 0..3 {
        let x = LEFT + PLOT + 6.0;
        let y = 14.0 + s as f64 * 16.0;
        let _ = write!(
            out,
            r#"<rect class="bar sev{}" x="{x}" y="{}" width="10" height="10"/><text class="lbl" x="{}" y="{}">sev. {}</text>"#,
            s + 1,
            y - 9.0,
            x + 14.0,
            y,
            s + 1
        );
    }
    time_axis(&mut out, &axis, H + 16.0);
    out.push_str("</svg>");
    out
}

/// A victim's amplified bytes per second (bars) and the peak ratio (dots)
/// over time, from the alerts' measurement windows.
pub fn amplification(
    bytes: &Hist<u64>,
    ratio: &Hist<Peak>,
    window_s: u64,
    lo: u64,
    hi: u64,
) -> String {
    const H: f64 = 64.0;
    let axis = Axis::new(lo, hi, bytes.width().max(ratio.width()));
    let b = axis.fold(bytes);
    let r = axis.fold(ratio);
    // A window's bytes spread over the longer of the window and the bucket.
    let per = (axis.width / 1_000_000).max(window_s).max(1) as f64;
    let rates: Vec<f64> = b.iter().map(|&v| v as f64 / per).collect();
    let peak_rate = rates.iter().copied().fold(0.0, f64::max).max(1.0);
    let peak_ratio = r.iter().filter_map(|p| p.0).fold(0.0, f64::max).max(1.0);
    // Without requests in the window the ratio is undefined (9700034).
    let ratio_label = if r.iter().any(|p| p.0.is_some()) {
        format!("ratio {}×", crate::verdict::ratio(peak_ratio))
    } else {
        "ratio: no request seen".to_owned()
    };
    let mut out = String::new();
    open(
        &mut out,
        2.0 * H + 40.0,
        "Amplified bytes per second and ratio over time",
    );
    let base1 = H;
    let base2 = 2.0 * H + 14.0;
    let _ = write!(
        out,
        r#"<line class="base" x1="{LEFT}" x2="{}" y1="{base1}" y2="{base1}"/><line class="base" x1="{LEFT}" x2="{}" y1="{base2}" y2="{base2}"/><text class="lbl" x="{}" y="14" text-anchor="end">{}/s</text><text class="lbl" x="{}" y="{}" text-anchor="end">{}</text>"#,
        LEFT + PLOT,
        LEFT + PLOT,
        LEFT - 6.0,
        esc(&super::bytes(peak_rate as u64)),
        LEFT - 6.0,
        H + 28.0,
        esc(&ratio_label)
    );
    for (i, &v) in rates.iter().enumerate() {
        if v <= 0.0 {
            continue;
        }
        let bh = (v / peak_rate * (H - 10.0)).max(1.5);
        let _ = write!(
            out,
            r#"<rect class="bar sev1" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {}/s</title></rect>"#,
            LEFT + i as f64 * bar_w(&axis),
            base1 - bh,
            (bar_w(&axis) - 1.0).max(1.0),
            esc(&bucket_span(&axis, i)),
            esc(&super::bytes(v as u64))
        );
    }
    let mut points = Vec::new();
    for (i, p) in r.iter().enumerate() {
        if let Some(v) = p.0 {
            let x = LEFT + (i as f64 + 0.5) * bar_w(&axis);
            let y = base2 - v / peak_ratio * (H - 20.0);
            points.push(format!("{x:.1},{y:.1}"));
            let _ = write!(
                out,
                r#"<circle class="dot" cx="{x:.1}" cy="{y:.1}" r="3"><title>{}: ratio {}×</title></circle>"#,
                esc(&bucket_span(&axis, i)),
                crate::verdict::ratio(v)
            );
        }
    }
    if points.len() > 1 {
        let _ = write!(
            out,
            r#"<polyline class="line" points="{}"/>"#,
            points.join(" ")
        );
    }
    time_axis(&mut out, &axis, base2 + 16.0);
    out.push_str("</svg>");
    out
}
