//! The end-of-run summary for machines (`--summary-json`) and the exit
//! status `--fail-on-alert` asks for: what CI reads instead of scraping the
//! human summary.

use std::path::Path;

use anyhow::Context;
use fumidai_eve::EventType;
use serde_json::{Map, Value, json};

use crate::run::RunReport;

/// Exit status of a run that finished and raised alerts `--fail-on-alert`
/// names (1 is an error, 2 a bad command line).
pub const EXIT_ALERTS: u8 = 3;

/// Alerts that make the run fail: all of them when `sids` is empty, else
/// those with one of `sids`.
pub fn failing_alerts(r: &RunReport, sids: &[u64]) -> u64 {
    r.output
        .alerts
        .iter()
        .filter(|(sid, _)| sids.is_empty() || sids.contains(sid))
        .map(|(_, n)| n)
        .sum()
}

/// The summary as JSON. `fail_on_alert`: the sids of `--fail-on-alert`
/// (empty: any), when given.
pub fn to_json(r: &RunReport, fail_on_alert: Option<&[u64]>, exit_code: u8) -> Value {
    let c = &r.counters;
    let events: Map<String, Value> = EventType::ALL
        .iter()
        .filter(|t| r.output.events[t.index()] > 0)
        .map(|t| (t.as_str().to_owned(), json!(r.output.events[t.index()])))
        .collect();
    let by_sid: Map<String, Value> = r
        .output
        .alerts
        .iter()
        .map(|(sid, n)| (sid.to_string(), json!(n)))
        .collect();
    let decoder_events: u64 =
        c.0.iter()
            .filter(|(k, _)| k.starts_with("decoder.event."))
            .map(|(_, v)| *v)
            .sum();
    // Every counter that says something was dropped, whoever added it: a
    // limit that hides traffic must show here.
    let drops: Map<String, Value> =
        c.0.iter()
            .filter(|(k, v)| {
                // The name's last word, or its group's (`capture.worker_drops.3`).
                let mut words = k.rsplit('.');
                let last = words.next().unwrap_or(k);
                let group = words.next().unwrap_or_default();
                **v > 0
                    && (last.contains("drop")
                        || (group.contains("drop") && last.bytes().all(|b| b.is_ascii_digit())))
            })
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
    let icmp = c.get("flow.icmpv4") + c.get("flow.icmpv6");
    let outputs: Vec<Value> = r
        .output
        .sinks
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "destination": s.describe,
                "written": s.written,
                "dropped": s.dropped,
                "spooled": s.spooled,
                "undelivered": s.undelivered,
                "errors": s.errors,
            })
        })
        .collect();
    let output_lost: u64 = r
        .output
        .sinks
        .iter()
        .map(|s| s.dropped + s.undelivered)
        .sum();
    let mut v = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "interrupted": r.interrupted,
        "elapsed_s": (r.elapsed.as_secs_f64() * 1e3).round() / 1e3,
        "workers": r.workers,
        "packets": c.get("decoder.pkts"),
        "bytes": c.get("decoder.bytes"),
        "flows": {
            "total": c.get("flow.total"),
            "tcp": c.get("flow.tcp"),
            "udp": c.get("flow.udp"),
            "icmp": icmp,
            "other": c.get("flow.total").saturating_sub(c.get("flow.tcp") + c.get("flow.udp") + icmp),
        },
        "events": {
            "total": r.output.events.iter().sum::<u64>(),
            "by_type": events,
        },
        "alerts": {
            "total": r.output.events[EventType::Alert.index()],
            "by_sid": by_sid,
        },
        "decoder": {
            "invalid": c.get("decoder.invalid"),
            "events": decoder_events,
        },
        "drops": drops,
        "outputs": outputs,
        "exit_code": exit_code,
        "counters": c.to_json(),
    });
    let mut loss = Map::new();
    loss.insert("tcp_gaps".into(), json!(c.get("tcp.reassembly_gap")));
    loss.insert("events_not_delivered".into(), json!(output_lost));
    match &r.live {
        Some((iface, packets, k, error)) => {
            v["input"] = json!({
                "interface": iface,
                "packets": packets,
                "kernel_received": k.received,
                "kernel_dropped": k.dropped,
                "interface_dropped": k.if_dropped,
                "error": error,
            });
            // What the kernel dropped, and what workers that were behind
            // lost after the kernel delivered it.
            let workers = worker_drops(c);
            let ratio = if k.received > 0 {
                (k.dropped + k.if_dropped + workers) as f64 / (k.received + k.dropped) as f64
            } else {
                0.0
            };
            loss.insert(
                "capture_dropped".into(),
                json!(k.dropped + k.if_dropped + workers),
            );
            loss.insert("worker_dropped".into(), json!(workers));
            loss.insert("capture_drop_ratio".into(), json!(ratio));
        }
        None => {
            let files: Vec<Value> = r
                .files
                .iter()
                .map(|f| {
                    json!({
                        "path": f.path.display().to_string(),
                        "packets": f.packets,
                        "bytes": f.bytes,
                        "complete": f.error.is_none(),
                        "error": f.error,
                    })
                })
                .collect();
            let incomplete = r.files.iter().filter(|f| f.error.is_some()).count();
            v["input"] = json!({ "files": files });
            loss.insert("files_incomplete".into(), json!(incomplete));
        }
    }
    v["loss"] = Value::Object(loss);
    if let Some(l) = c.to_json().get("latency") {
        v["latency"] = l.clone();
    }
    if let Some(sids) = fail_on_alert {
        v["fail_on_alert"] = json!({
            "sids": sids,
            "alerts": failing_alerts(r, sids),
        });
    }
    v
}

/// Packets live capture read but workers that were behind lost.
pub fn worker_drops(c: &fumidai_eve::Counters) -> u64 {
    c.0.iter()
        .filter(|(k, _)| k.starts_with("capture.worker_drops."))
        .map(|(_, v)| *v)
        .sum()
}

/// Writes `v` to `path` whole: a reader never sees half a summary.
pub fn write(path: &Path, v: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("{}: cannot write the summary", path.display()))
}
