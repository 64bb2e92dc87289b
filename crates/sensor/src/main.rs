//! fumidai: a passive network IDS sensor for open proxies, open SMTP relays
//! and UDP amplification, writing Suricata EVE JSON.

mod afpacket;
mod alloc;
mod batch;
mod capture;
mod cli;
mod config;
mod latency;
mod prefetch;
mod privs;
mod progress;
mod reader;
mod rendezvous;
mod run;
mod stats;
mod summary;
mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fumidai_eve::EventType;

use crate::cli::Cli;
use crate::config::Config;
use crate::progress::human_bytes;
use crate::run::{Input, RunReport, Signals};

fn main() -> ExitCode {
    alloc::tune();
    if let Some(code) = subcommand() {
        return code;
    }
    let cli = Cli::parse();
    init_logging(&cli);
    match real_main(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fumidai: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `fumidai NAME ...` for the commands that are not the sensor, each a
/// crate of its own. The sensor's flags all start with `-`, and a lone BPF
/// expression without `-i` is an error, so no sensor command line is taken.
fn subcommand() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let name = args.next()?;
    match name.to_str()? {
        "test" => Some(fumidai_expect::main(args)),
        "report" => Some(fumidai_report::main(args)),
        "aggregate" => Some(fumidai_aggregate::main(args)),
        _ => None,
    }
}

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FUMIDAI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn real_main(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut cfg = match &cli.config {
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    if let Some(name) = &cli.sensor_name {
        config::check_sensor_name(name).map_err(|e| anyhow::anyhow!("--sensor-name: {e}"))?;
        cfg.sensor.name = name.clone();
    }
    if cli.check_config {
        let text = serde_norway::to_string(&cfg)?;
        println!(
            "# effective configuration ({})",
            match &cli.config {
                Some(p) => p.display().to_string(),
                None => "built-in defaults".into(),
            }
        );
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    fumidai_eve::identity::set(&cfg.sensor.effective_name(), cfg.sensor.tags.clone());
    let input = if let Some(iface) = &cli.interface {
        let bpf = if cli.bpf.is_empty() {
            cfg.capture.bpf.clone()
        } else {
            cli.bpf.join(" ")
        };
        if cfg.capture.tpacket == config::Tpacket::V2
            && cfg.capture.method == config::CaptureMethod::Pcap
        {
            tracing::warn!(
                "capture.tpacket: 2 applies to capture.method: af-packet; libpcap chooses its own ring"
            );
        }
        Input::Live(capture::LiveOptions {
            method: cfg.capture.method,
            fanout_group: cfg.capture.fanout_group,
            tpacket: cfg.capture.tpacket,
            interface: iface.clone(),
            promiscuous: cfg.capture.promiscuous,
            snaplen: cfg.capture.snaplen,
            buffer_size: cfg.capture.buffer_size.0,
            immediate: cfg.capture.immediate,
            flush_ms: cfg.capture.flush_ms,
            bpf,
        })
    } else if !cli.read.is_empty() {
        if !cli.bpf.is_empty() {
            anyhow::bail!("a BPF expression applies to live capture (-i) only");
        }
        for p in &cli.read {
            if !p.exists() {
                anyhow::bail!("{}: no such file or directory", p.display());
            }
        }
        let inputs = capture::expand_inputs(&cli.read, cli.recursive)?;
        // Said even with -q: a capture passed over is a capture not analysed.
        for (path, why) in &inputs.skipped {
            eprintln!("fumidai: {}: skipped: {why}", path.display());
        }
        for (dir, names) in &inputs.not_captures {
            eprintln!(
                "fumidai: {}: skipped {} file{} that {} not pcap or pcapng: {}",
                dir.display(),
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                if names.len() == 1 { "is" } else { "are" },
                names.join(", ")
            );
        }
        Input::Files(inputs.files, cli.pcap_reader)
    } else {
        anyhow::bail!(
            "nothing to do: give -r FILE|DIR to replay captures or -i IFACE to capture live (see --help)"
        );
    };
    if cli.fail_on_alert.is_some() && !cfg.eve.types.iter().any(|t| t.0 == EventType::Alert) {
        // Alerts that are not produced cannot be counted: never pass silently.
        anyhow::bail!("--fail-on-alert needs `alert` in eve.types");
    }
    let log_dir = cli
        .log_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&cfg.eve.log_dir));
    let workers = run::worker_count(cli.workers, &cfg);
    let target = privs::resolve(cli.user.as_deref(), cli.group.as_deref())?;
    let _pidfile = cli
        .pidfile
        .as_deref()
        .map(privs::PidFile::create)
        .transpose()?;
    let signals = Signals::install()?;
    let mut drop_privileges = |owned: &[PathBuf]| match target {
        Some(t) => {
            // The pidfile too, so the unprivileged process can remove it
            // from a sticky directory at exit.
            let mut paths = owned.to_vec();
            paths.extend(cli.pidfile.iter().cloned());
            privs::drop_to(t, &paths)
        }
        None => Ok(()),
    };
    let report = run::run(
        &cfg,
        input,
        &log_dir,
        workers,
        cli.quiet == 0,
        &signals,
        &mut drop_privileges,
    )?;
    for f in &report.files {
        if let Some(e) = &f.error {
            eprintln!("fumidai: {}: {e}", f.path.display());
        }
    }
    if let Some((iface, _, _, Some(e))) = &report.live {
        eprintln!("fumidai: {iface}: capture stopped: {e}");
    }
    // Loss is reported even with -q.
    for s in &report.output.sinks {
        if s.dropped > 0 {
            eprintln!(
                "fumidai: output {}: {} events dropped",
                s.describe, s.dropped
            );
        }
        if s.undelivered > 0 {
            eprintln!(
                "fumidai: output {}: {} events not delivered, kept in {}",
                s.describe,
                s.undelivered,
                s.spool_path.display()
            );
        }
    }
    let failing = cli
        .fail_on_alert
        .as_deref()
        .map_or(0, |sids| summary::failing_alerts(&report, sids));
    // An input that could not be read at all, or a live capture that
    // failed, is an error whatever else happened: exit 1 wins over 3.
    let unreadable = report.files.iter().filter(|f| f.unreadable).count();
    let capture_failed = matches!(&report.live, Some((_, _, _, Some(_))));
    let code = if unreadable > 0 || capture_failed {
        1
    } else if failing > 0 {
        summary::EXIT_ALERTS
    } else {
        0
    };
    if let Some(path) = &cli.summary_json {
        let json = summary::to_json(&report, cli.fail_on_alert.as_deref(), code);
        summary::write(path, &json)?;
    }
    if cli.quiet == 0 {
        let mut out = std::io::stdout().lock();
        let _ = print_summary(&mut out, &report);
    }
    if failing > 0 {
        // Said even with -q: it is why the exit status is not 0.
        eprintln!("fumidai: --fail-on-alert: {failing} alerts fired");
    }
    if unreadable > 0 {
        eprintln!(
            "fumidai: {unreadable} of {} inputs could not be read at all (see above)",
            report.files.len()
        );
    }
    Ok(ExitCode::from(code))
}

fn print_summary(out: &mut impl Write, r: &RunReport) -> std::io::Result<()> {
    let c = &r.counters;
    let secs = r.elapsed.as_secs_f64().max(1e-6);
    let pkts = c.get("decoder.pkts");
    let source = match &r.live {
        Some((iface, ..)) => format!("captured on {iface}"),
        None => {
            let stopped = r.files.iter().filter(|f| f.error.is_some()).count();
            let mut s = format!(
                "replayed {} file{}",
                r.files.len(),
                if r.files.len() == 1 { "" } else { "s" }
            );
            if stopped > 0 {
                s.push_str(&format!(" ({stopped} not read to the end, see above)"));
            }
            s
        }
    };
    writeln!(
        out,
        "fumidai: {source}{}: {pkts} packets, {} in {secs:.2} s ({:.0} packets/s, {} worker{})",
        if r.interrupted { " (interrupted)" } else { "" },
        human_bytes(c.get("decoder.bytes")),
        pkts as f64 / secs,
        r.workers,
        if r.workers == 1 { "" } else { "s" },
    )?;
    writeln!(
        out,
        "  flows:   {} (tcp {}, udp {}, icmp {}, other {})",
        c.get("flow.total"),
        c.get("flow.tcp"),
        c.get("flow.udp"),
        c.get("flow.icmpv4") + c.get("flow.icmpv6"),
        c.get("flow.total")
            - c.get("flow.tcp")
            - c.get("flow.udp")
            - c.get("flow.icmpv4")
            - c.get("flow.icmpv6"),
    )?;
    let by_type: Vec<String> = EventType::ALL
        .iter()
        .filter(|t| r.output.events[t.index()] > 0)
        .map(|t| format!("{} {}", t.as_str(), r.output.events[t.index()]))
        .collect();
    let total: u64 = r.output.events.iter().sum();
    writeln!(out, "  events:  {total} ({})", by_type.join(", "))?;
    let by_sid: Vec<String> = r
        .output
        .alerts
        .iter()
        .map(|(sid, n)| format!("{sid} {n}"))
        .collect();
    writeln!(
        out,
        "  alerts:  {}{}",
        r.output.events[EventType::Alert.index()],
        if by_sid.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_sid.join(", "))
        }
    )?;
    let decode_errors: u64 =
        c.0.iter()
            .filter(|(k, _)| k.starts_with("decoder.event."))
            .map(|(_, v)| *v)
            .sum();
    writeln!(
        out,
        "  decoder: {} invalid packets, {} decoder events",
        c.get("decoder.invalid"),
        decode_errors
    )?;
    if let Some((_, n, k, _)) = &r.live {
        writeln!(
            out,
            "  capture: {n} packets read, kernel: {} received, {} dropped, {} dropped by the interface; {} lost by workers that were behind",
            k.received,
            k.dropped,
            k.if_dropped,
            summary::worker_drops(c)
        )?;
    }
    for (what, name) in [
        ("batch", "batch_us"),
        ("capture to EVE", "capture_to_eve_us"),
    ] {
        let key = |p: &str| format!("latency.{name}.{p}");
        if c.get(&key("count")) == 0 {
            continue;
        }
        writeln!(
            out,
            "  latency: {what}: p50 {} µs, p90 {}, p99 {}, p99.9 {}, max {} ({} samples)",
            c.get(&key("p50")),
            c.get(&key("p90")),
            c.get(&key("p99")),
            c.get(&key("p99_9")),
            c.get(&key("max")),
            c.get(&key("count")),
        )?;
    }
    for s in &r.output.sinks {
        let shown = if r
            .outputs
            .iter()
            .any(|p| p.display().to_string() == s.describe)
        {
            std::fs::canonicalize(&s.describe)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| s.describe.clone())
        } else {
            s.describe.clone()
        };
        let mut notes = Vec::new();
        if s.spooled > 0 {
            notes.push(format!("{} spooled", s.spooled));
        }
        if s.reconnects > 0 {
            notes.push(format!("{} reconnects", s.reconnects));
        }
        if s.dropped > 0 {
            notes.push(format!("{} NOT written (dropped)", s.dropped));
        }
        if s.undelivered > 0 {
            notes.push(format!(
                "{} NOT delivered yet, kept in {} for the next run",
                s.undelivered,
                s.spool_path.display()
            ));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(", {}", notes.join(", "))
        };
        writeln!(out, "  output:  {shown} ({} events{notes})", s.written)?;
    }
    Ok(())
}
