//! `fumidai aggregate`: fleet-level alerts from many sensors' EVE records.
//!
//! The path of a record: [`stream`] reads it from the fleet's Redis stream
//! with a consumer group (or `-r` from files), [`line`] reads the fields the
//! detectors use, [`fleet`] counts it per sensor in its event-time window
//! ([`clock`]) in maps bounded by memcaps ([`detect`]), and when the fleet's
//! time closes a window, [`alert`] judges each entry and writes the fleet
//! alerts, which [`deliver`] hands to the outputs exactly once. The state is
//! saved with every acknowledgement ([`stream`]'s checkpoint), so a restart
//! after `kill -9` counts every record once.

#![forbid(unsafe_code)]

pub mod alert;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod detect;
pub mod fleet;
pub mod line;
pub mod sensors;
pub mod stream;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fumidai_budget::Budget;
use fumidai_eve::{Counters, EveBatch};
use serde::{Deserialize, Serialize};

pub use cli::AggregateArgs;
use config::Config;
use deliver::{Outbox, Outputs};
use fleet::{Fleet, FleetState};
use stream::StreamInput;

/// Runs `fumidai aggregate` with `args` (the words after `aggregate`).
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args =
        AggregateArgs::parse_from(std::iter::once(OsString::from("fumidai aggregate")).chain(args));
    init_logging(&args);
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fumidai aggregate: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(args: &AggregateArgs) {
    let level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FUMIDAI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// What a checkpoint holds.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    /// The window length the state was counted with.
    window: u64,
    fleet: FleetState,
    outbox: Outbox,
}

/// What a run did, for the summary.
struct Outcome {
    fleet: Fleet,
    outputs: Outputs,
    outbox: Outbox,
    elapsed: Duration,
    unreadable_files: Vec<String>,
    undelivered: bool,
    stream: Option<(String, u64, u64, u64)>,
}

fn run(args: &AggregateArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    if let Some(n) = &args.name {
        cfg.name = n.clone();
    }
    if args.check_config {
        println!(
            "# effective configuration ({})",
            args.config
                .as_ref()
                .map_or("built-in defaults".into(), |p| p.display().to_string())
        );
        print!("{}", serde_norway::to_string(&cfg)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.shard >= cfg.input.shards {
        anyhow::bail!(
            "--shard {}: input.shards is {} (shards are 0 to {})",
            args.shard,
            cfg.input.shards,
            cfg.input.shards - 1
        );
    }
    let name = if cfg.name.is_empty() {
        fumidai_eve::identity::host_name()
    } else {
        cfg.name.clone()
    };
    fumidai_eve::identity::set(&name, cfg.tags.clone());
    // One process per shard: its consumer name and output mark are its own.
    let me = if cfg.input.shards > 1 {
        format!("{name}:{}", args.shard)
    } else {
        name.clone()
    };
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&cfg.log_dir));
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("{}: cannot create log directory", log_dir.display()))?;
    let budget = Budget::new(cfg.memcap.as_usize());
    let cfg = Arc::new(cfg);
    let fleet = Fleet::new(Arc::clone(&cfg), &budget).with_shard(args.shard, cfg.input.shards);
    let outputs = Outputs::open(&cfg.outputs, &log_dir, &me)?;
    let stop = Arc::new(AtomicBool::new(false));
    let reopen = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))?;
    let outcome = if args.read.is_empty() {
        from_stream(&cfg, args.shard, &me, fleet, outputs, &stop, &reopen)?
    } else {
        from_files(&args.read, fleet.holding_windows(), outputs, &stop)
    };
    report(args, &outcome)
}

/// `-r`: every file in order, then every window closes (none before: see
/// [`Fleet::holding_windows`]).
fn from_files(
    files: &[PathBuf],
    mut fleet: Fleet,
    mut outputs: Outputs,
    stop: &AtomicBool,
) -> Outcome {
    let started = Instant::now();
    let mut outbox = Outbox::new();
    let mut batch = EveBatch::default();
    let mut unreadable = Vec::new();
    let mut undelivered = false;
    for f in files {
        let r = fumidai_eve::read::read_file(f, |line, _| {
            fleet.ingest(line, &mut batch);
            if !batch.is_empty() {
                outbox.push(&batch);
                batch.clear();
            }
        });
        match r {
            Ok(read) => {
                if let Some(why) = read.stopped {
                    unreadable.push(format!("{}: {why}", f.display()));
                }
            }
            Err(e) => unreadable.push(format!("{}: {e}", f.display())),
        }
        if outbox.pending.len() > 1000 {
            undelivered |= !outputs.deliver(&mut outbox, u64::MAX, stop);
        }
    }
    fleet.finish(&mut batch);
    let mut extra = outputs.counters();
    extra.add("aggregate.elapsed_ms", started.elapsed().as_millis() as u64);
    fleet.stats_record(&extra, &mut batch);
    outbox.push(&batch);
    undelivered |= !outputs.deliver(&mut outbox, u64::MAX, stop);
    Outcome {
        fleet,
        outputs,
        outbox,
        elapsed: started.elapsed(),
        unreadable_files: unreadable,
        undelivered,
        stream: None,
    }
}

fn backoff_sleep(backoff: &mut Duration, stop: &AtomicBool) {
    let until = Instant::now() + *backoff;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
}

/// Reads the stream until `stop`, checkpointing as it goes.
fn from_stream(
    cfg: &Arc<Config>,
    shard: u32,
    me: &str,
    mut fleet: Fleet,
    mut outputs: Outputs,
    stop: &AtomicBool,
    reopen: &AtomicBool,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let conn = cfg.input.redis_settings().resolve().context("input")?;
    let mut input = StreamInput::new(conn, &cfg.input, me, shard);
    tracing::info!("reading {} as {me}", input.describe());
    let mut outbox = Outbox::new();
    // The last checkpoint, once Redis answers.
    let mut backoff = Duration::from_millis(100);
    let mut said = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match input.load_checkpoint() {
            Ok(Some(bytes)) => {
                let c: Checkpoint = serde_json::from_slice(&bytes)
                    .context("the saved checkpoint cannot be read")?;
                if c.window != cfg.window {
                    anyhow::bail!(
                        "the checkpoint in Redis was counted in {} s windows, the configuration says {}: \
                         finish with the old window, or delete the checkpoint key to start over",
                        c.window,
                        cfg.window
                    );
                }
                fleet.restore(c.fleet);
                outbox = c.outbox;
                tracing::info!(
                    "resumed from the checkpoint: {} records counted so far",
                    fleet.counts.records
                );
                break;
            }
            Ok(None) => break,
            Err(e) => {
                if !said {
                    tracing::error!("{}: {e}; retrying", input.describe());
                    said = true;
                }
                backoff_sleep(&mut backoff, stop);
            }
        }
    }
    outputs.recover(&mut outbox);
    let mut committed = outbox.next_seq;
    outputs.deliver(&mut outbox, committed, stop);
    let every = Duration::from_millis(cfg.input.checkpoint_ms);
    let stats_every = Duration::from_secs(cfg.stats_interval);
    let mut last_checkpoint = Instant::now();
    let mut last_stats = Instant::now();
    let mut batch = EveBatch::default();
    let mut backoff = Duration::from_millis(100);
    let mut down = false;
    let mut closing = false;
    loop {
        if stop.load(Ordering::Relaxed) && !closing {
            closing = true;
        }
        if reopen.swap(false, Ordering::Relaxed) {
            outputs.reopen();
        }
        if !closing {
            match input.read() {
                Ok(entries) => {
                    if down {
                        tracing::warn!("{}: reading again", input.describe());
                        down = false;
                    }
                    backoff = Duration::from_millis(100);
                    for e in entries {
                        fleet.ingest(&e.line, &mut batch);
                    }
                    if !batch.is_empty() {
                        outbox.push(&batch);
                        batch.clear();
                    }
                }
                Err(e) => {
                    if !down {
                        tracing::error!("{}: {e}; retrying", input.describe());
                        down = true;
                    }
                    backoff_sleep(&mut backoff, stop);
                    continue;
                }
            }
        }
        if closing || last_stats.elapsed() >= stats_every {
            last_stats = Instant::now();
            let mut extra = outputs.counters();
            stream_counters(&input, &mut extra);
            fleet.stats_record(&extra, &mut batch);
            outbox.push(&batch);
            batch.clear();
        }
        let due = outbox.next_seq > committed
            || (!input.unacked.is_empty() && last_checkpoint.elapsed() >= every);
        if due || closing {
            let state = serde_json::to_vec(&Checkpoint {
                window: cfg.window,
                fleet: fleet.save(),
                outbox: outbox.clone(),
            })?;
            match input.checkpoint(&state) {
                Ok(()) => {
                    last_checkpoint = Instant::now();
                    committed = outbox.next_seq;
                    outputs.deliver(&mut outbox, committed, stop);
                    if closing {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!("{}: checkpoint: {e}", input.describe());
                    if closing {
                        // The state since the last checkpoint is not lost:
                        // its entries are still pending and are read again.
                        break;
                    }
                    backoff_sleep(&mut backoff, stop);
                }
            }
        }
    }
    let undelivered = !outbox.pending.is_empty();
    Ok(Outcome {
        stream: Some((
            input.describe(),
            input.redelivered,
            input.forwarded,
            input.not_forwarded,
        )),
        fleet,
        outputs,
        outbox,
        elapsed: started.elapsed(),
        unreadable_files: Vec::new(),
        undelivered,
    })
}

fn stream_counters(input: &StreamInput, c: &mut Counters) {
    c.add("aggregate.redelivered", input.redelivered);
    c.add("aggregate.forwarded", input.forwarded);
    c.add("aggregate.not_forwarded", input.not_forwarded);
}

fn report(args: &AggregateArgs, o: &Outcome) -> anyhow::Result<ExitCode> {
    let n = &o.fleet.counts;
    let alerts: u64 = n.alerts.values().sum();
    let secs = o.elapsed.as_secs_f64().max(1e-6);
    for u in &o.unreadable_files {
        eprintln!("fumidai aggregate: {u}");
    }
    if o.undelivered {
        eprintln!(
            "fumidai aggregate: {} records could not be delivered to every output{}",
            o.outbox.pending.len(),
            if o.stream.is_some() {
                " (kept in the checkpoint: delivered by the next run)"
            } else {
                ""
            }
        );
    }
    if !args.quiet {
        let by_sid: Vec<String> = n.alerts.iter().map(|(s, c)| format!("{s} {c}")).collect();
        println!(
            "fumidai aggregate: {} records from {} sensors in {secs:.2} s ({:.0} records/s); {} late, {} too late; {alerts} fleet alerts{}",
            n.records,
            o.fleet.sensors.list.len(),
            n.records as f64 / secs,
            n.late,
            n.too_late,
            if by_sid.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_sid.join(", "))
            }
        );
        for s in &o.fleet.sensors.list {
            println!("  sensor:  {} ({} records)", s.name, s.records);
        }
        for (_, d, w) in o.outputs.describe() {
            println!("  output:  {d} ({w} records)");
        }
        if let Some((d, redelivered, fwd, nf)) = &o.stream {
            println!(
                "  input:   {d} ({redelivered} read again after a restart, {fwd} forwarded, {nf} not forwarded)"
            );
        }
    }
    if let Some(path) = &args.summary_json {
        write_summary(path, o)?;
    }
    let failed = !o.unreadable_files.is_empty() || (o.undelivered && o.stream.is_none());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_summary(path: &Path, o: &Outcome) -> anyhow::Result<()> {
    let sensors: Vec<serde_json::Value> = o
        .fleet
        .sensors
        .list
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "records": s.records, "tags": s.tags }))
        .collect();
    let outputs: Vec<serde_json::Value> = o
        .outputs
        .describe()
        .into_iter()
        .map(|(name, d, w)| serde_json::json!({ "name": name, "describe": d, "written": w }))
        .collect();
    let v = serde_json::json!({
        "counts": o.fleet.counts,
        "sensors": sensors,
        "outputs": outputs,
        "elapsed_s": o.elapsed.as_secs_f64(),
        "records_per_s": o.fleet.counts.records as f64 / o.elapsed.as_secs_f64().max(1e-6),
        "undelivered": o.outbox.pending.len(),
        "duplicates_avoided": o.outputs.duplicates_avoided(),
        "redelivered": o.stream.as_ref().map_or(0, |s| s.1),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&v)?)
        .with_context(|| format!("{}: cannot write", path.display()))
}
