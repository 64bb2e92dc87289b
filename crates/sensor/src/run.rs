//! Wires a run together: outputs, workers, the stats thread, signals, and
//! the capture loop on the calling thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{bounded, unbounded};
use fumidai_budget::Budget;
use fumidai_detect::{DetectConf, Detector, NetSet};
use fumidai_engine::{AnomalyLog, Engine, EngineConfig};
use fumidai_eve::conf::{output_names, type_filter};
use fumidai_eve::output::{Output, OutputOptions, OutputReport, SinkSpec};
use fumidai_eve::{Counters, EventType};
use fumidai_flow::{Class, OverlapPolicy, StreamConfig, Timeouts};
use fumidai_proto::AppProto;
use fumidai_wire::defrag::DefragConfig;

use crate::afpacket::Ring;
use crate::batch::{Batch, ToWorker};
use crate::capture::{self, FileReport, KernelStats, LiveOptions, Opened, Shards};
use crate::config::{ChecksumValidation, Config, Policy, UrgentPolicy};
use crate::progress::Progress;
use crate::rendezvous::Rendezvous;
use crate::stats::{self, FINAL, StatsPart};
use crate::worker::{self, WorkerIo};

/// Where packets come from.
pub enum Input {
    /// Capture files, and how to read them.
    Files(Vec<PathBuf>, crate::reader::PcapReader),
    Live(LiveOptions),
}

/// What a run did, for the summary.
pub struct RunReport {
    pub files: Vec<FileReport>,
    pub live: Option<(String, u64, KernelStats, Option<String>)>,
    pub counters: Counters,
    pub output: OutputReport,
    pub outputs: Vec<PathBuf>,
    pub elapsed: Duration,
    pub workers: usize,
    pub interrupted: bool,
}

/// Worker count: the flag, else the config, else the available cores.
pub fn worker_count(cli: Option<usize>, cfg: &Config) -> usize {
    match cli.unwrap_or(cfg.workers) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
}

fn policy(p: Policy) -> OverlapPolicy {
    match p {
        Policy::First => OverlapPolicy::First,
        Policy::Last => OverlapPolicy::Last,
    }
}

/// The engine's view of the configuration, for one of `workers` workers.
pub fn engine_config(cfg: &Config, workers: usize) -> EngineConfig {
    let t = &cfg.flow.timeouts;
    let timeouts = Timeouts::new(|c| match c {
        Class::TcpNew => t.tcp.new,
        Class::TcpEstablished => t.tcp.established,
        Class::TcpClosed => t.tcp.closed,
        Class::UdpNew => t.udp.new,
        Class::UdpEstablished => t.udp.established,
        Class::IcmpNew => t.icmp.new,
        Class::IcmpEstablished => t.icmp.established,
        Class::OtherNew => t.default.new,
        Class::OtherEstablished => t.default.established,
    });
    let mut log = [false; EventType::ALL.len()];
    for t in &cfg.eve.types {
        log[t.0.index()] = true;
    }
    let s = &cfg.stream;
    // Most specific networks first, so a host's own entry wins.
    let mut host_policy: Vec<_> = s
        .host_os_policy
        .iter()
        .flat_map(|(p, nets)| nets.iter().map(move |n| (n.0, p.0)))
        .collect();
    host_policy.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
    let share = |b: crate::config::ByteSize| b.as_usize() / workers;
    EngineConfig {
        timeouts,
        max_flows: (cfg.flow.max_flows / workers).max(1),
        stream: StreamConfig {
            policy: s.overlap_policy.0,
            depth: s.depth.0,
            max_buffered: s.max_buffered.as_usize(),
            max_segments: s.max_segments,
            retain_bytes: s.retain_bytes.as_usize(),
            urgent_oob: s.urgent_policy == UrgentPolicy::Oob,
            ttl_check: s.ttl_check,
            ..StreamConfig::default()
        },
        flow_memcap: share(cfg.flow.memcap),
        app_memcap: share(cfg.app_layer.memcap),
        amp_memcap: share(cfg.amplification.memcap),
        flood_memcap: cfg.amplification.floods_memcap.as_usize() / 2 / workers,
        host_policy,
        checksums: cfg.capture.checksum_validation != ChecksumValidation::No,
        app_depth: vec![
            (AppProto::Http, s.app_depth.http.0),
            (AppProto::Smtp, s.app_depth.smtp.0),
            (AppProto::Socks, s.app_depth.socks.0),
            (AppProto::Irc, s.app_depth.irc.0),
            (AppProto::Dns, s.app_depth.dns.0),
        ],
        stream_memcap: share(s.memcap),
        defrag: DefragConfig {
            timeout_secs: cfg.defrag.timeout,
            max_trackers: (cfg.defrag.max_trackers / workers).max(1),
            memcap: share(cfg.defrag.memcap),
            max_fragments: cfg.defrag.max_fragments,
            policy: policy(cfg.defrag.overlap_policy),
        },
        log,
        anomaly: AnomalyLog {
            decode: cfg.eve.anomaly.decode,
            stream: cfg.eve.anomaly.stream,
            applayer: cfg.eve.anomaly.applayer,
        },
        community_id_seed: cfg.eve.community_id_seed,
        decoder: cfg.decoder.engine(cfg.flow.tunnel_aware_keys),
    }
}

/// The detectors, configured, with their shared state drawing on `budget`.
pub fn detector(cfg: &Config, budget: Arc<Budget>) -> Detector {
    let set = |v: &[crate::config::Net]| NetSet::new(v.iter().map(|n| n.0));
    let conf = DetectConf {
        proxy: cfg.proxy.clone(),
        socks: cfg.socks.clone(),
        smtp: cfg.smtp.clone(),
        ntp: cfg.ntp.clone(),
        amplification: cfg.amplification.clone(),
        sweep: cfg.sweep.clone(),
        irc: cfg.irc.clone(),
        wordpress: cfg.wordpress.clone(),
        dns: cfg.dns.clone(),
        alerts: cfg.alerts.clone(),
        alert_limits: cfg.alert_limits.clone(),
    };
    Detector::with_budget(conf, set(&cfg.home_net), set(&cfg.external_net), budget)
}

/// Opens every output. Files must open now (a bad path is a start-up
/// error); sockets may be down and are retried in the background.
fn open_sinks(cfg: &Config, log_dir: &Path) -> anyhow::Result<(Vec<SinkSpec>, Vec<PathBuf>)> {
    // Redis outputs keep their exactly-once mark under the sensor's name.
    let producer = fumidai_eve::identity::get().map_or("", |i| i.name.as_str());
    let mut specs = Vec::new();
    let mut files = Vec::new();
    let spool_dir = if cfg.eve.spool.dir.is_empty() {
        log_dir.join("spool")
    } else {
        PathBuf::from(&cfg.eve.spool.dir)
    };
    let spool_types = type_filter(&cfg.eve.spool.types);
    for (i, (o, name)) in cfg
        .eve
        .outputs
        .iter()
        .zip(output_names(&cfg.eve.outputs))
        .enumerate()
    {
        let (sink, file) = o
            .open_sink(log_dir, producer)
            .with_context(|| format!("eve.outputs[{i}] ({:?})", o.filetype))?;
        files.extend(file);
        specs.push(SinkSpec {
            spool_path: spool_dir.join(format!("{name}.spool")),
            name,
            sink,
            filter: type_filter(&o.types),
            spool_types: spool_types.clone(),
            spool_max_bytes: cfg.eve.spool.max_bytes.0,
            queue: o.queue,
            queue_bytes: cfg.eve.queue_memcap.as_usize(),
        });
    }
    Ok((specs, files))
}

/// Flags set by signal handlers.
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub reopen: Arc<AtomicBool>,
}

impl Signals {
    /// SIGINT and SIGTERM stop the capture; SIGHUP re-opens the outputs.
    pub fn install() -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let reopen = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop))?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))?;
        Ok(Signals { stop, reopen })
    }
}

/// Runs the sensor over `input` until it ends or a signal stops it.
/// `before_capture` runs once the interface and the outputs are open, with
/// the paths they write (to drop privileges and hand those paths over).
pub fn run(
    cfg: &Config,
    input: Input,
    log_dir: &Path,
    workers: usize,
    show_progress: bool,
    signals: &Signals,
    before_capture: &mut dyn FnMut(&[PathBuf]) -> anyhow::Result<()>,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    fumidai_wire::ipfmt::set_ipv6_compressed(cfg.eve.ipv6 == crate::config::Ipv6Form::Compressed);
    std::fs::create_dir_all(log_dir)
        .with_context(|| format!("{}: cannot create log directory", log_dir.display()))?;
    // Open the interface before anything else: it needs the privileges
    // that are dropped right after.
    let mut live_cap = match &input {
        Input::Live(o) => Some(capture::open(o, workers)?),
        Input::Files(..) => None,
    };
    // af-packet: each worker takes its ring.
    let mut rings: Vec<Option<Ring>> = match live_cap.as_mut() {
        Some(Opened::Rings(r)) => std::mem::take(r).into_iter().map(Some).collect(),
        _ => Vec::new(),
    };
    let ring_mode = !rings.is_empty();
    let (sinks, outputs) = open_sinks(cfg, log_dir)?;
    let mut owned = vec![log_dir.to_path_buf()];
    owned.extend(outputs.iter().cloned());
    for s in &sinks {
        if let Some(dir) = s.spool_path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create spool directory", dir.display()))?;
            if !owned.iter().any(|p| p == dir) {
                owned.push(dir.to_path_buf());
            }
        }
        owned.push(s.spool_path.clone());
    }
    before_capture(&owned)?;

    let flush_every = Duration::from_millis(cfg.capture.flush_ms.clamp(100, 1000));
    let budget = Budget::new(cfg.memcap.as_usize());
    let output = Output::spawn(
        sinks,
        OutputOptions {
            flush_every,
            // A replay can wait for a slow disk; live capture cannot.
            block_when_full: matches!(input, Input::Files(..)),
            reopen: Arc::clone(&signals.reopen),
            budget: Arc::clone(&budget),
        },
    )?;
    let ecfg = Arc::new(engine_config(cfg, workers));
    let det = Arc::new(detector(cfg, Arc::clone(&budget)));
    let (stats_tx, stats_rx) = unbounded::<StatsPart>();
    let log_stats = cfg.stats.enabled && cfg.eve.types.iter().any(|t| t.0 == EventType::Stats);
    let shared = stats::Shared {
        det: Arc::clone(&det),
        budget: Arc::clone(&budget),
        settle: Duration::from_secs(cfg.eve.flush_timeout),
    };
    let stats_thread = stats::spawn(
        workers + 1,
        stats_rx,
        output.handle(),
        log_stats,
        started,
        shared,
    )?;
    let mut txs = Vec::new();
    let mut handles = Vec::new();
    let flush = Duration::from_millis(cfg.capture.flush_ms.max(1));
    let gather = Duration::from_micros(cfg.capture.gather_us);
    // Batches queued per worker. A replay waits for a worker, but on a
    // machine with fewer cores than threads a short queue idles a core: the
    // capture thread blocks on one worker's full queue while the other
    // worker has drained its own (16 rather than 4: 10 % less wall time on
    // the shared mix, 3 MiB more peak RSS). The queued batches keep their
    // file windows mapped, which counts as resident. Since the workers got
    // cheaper per packet, 8 takes the same time as 12 on the mix (medians of
    // 21 alternating runs, 270 and 269 ms; many-flow within 2 %) for 3 MiB
    // less peak RSS (median of 10 runs 36.2 against 39.4 MiB, largest 38.8
    // against 42.2; the budget there is 40). Deeper queues still shorten a replay on a slower
    // worker: 24 took 4 % and 48 took 7 % less wall time when workers were
    // 15 % dearer, for 2–8 and 14 MiB more peak RSS. Live, a worker whose queue is
    // full loses packets: the queue rides out a worker's short stalls (a burst of records to
    // write, being descheduled) that the kernel buffer would have absorbed
    // had capture waited; a quarter of capture.buffer_size is shared out.
    let queue = match &input {
        Input::Files(..) => 8,
        Input::Live(o) => {
            let per_worker = o.buffer_size / 4 / workers.max(1) as u64;
            (per_worker / capture::BATCH_BYTES as u64).clamp(4, 64) as usize
        }
    };
    // Room in the pool for every batch that can exist at once (each
    // worker's queue, the one it is working on, the capture thread's
    // pending one), so none is ever freed and allocated again: a batch
    // whose buffer was let go when the pool was full came back as a fresh
    // allocation the next time the queues filled, and the allocator held
    // both for a while (9 MiB of peak RSS with --pcap-reader libpcap).
    let (pool_tx, pool_rx) = bounded::<Batch>(workers * (queue + 2));
    let together = matches!(input, Input::Files(..)).then(|| Arc::new(Rendezvous::new(workers)));
    for i in 0..workers {
        // A ring worker's channel brings only stats requests and ticks.
        let (tx, rx) = bounded::<ToWorker>(if ring_mode { 16 } else { queue });
        txs.push(tx);
        let io = WorkerIo {
            rx,
            pool: pool_tx.clone(),
            out: output.handle(),
            stats: stats_tx.clone(),
            index: i,
            live: matches!(input, Input::Live(_)),
            together: together.clone(),
        };
        let engine = Engine::new(Arc::clone(&ecfg), Arc::clone(&det));
        let ring = rings.get_mut(i).and_then(Option::take);
        handles.push(
            std::thread::Builder::new()
                .name(format!("fumidai-w{i}"))
                .spawn(move || match ring {
                    Some(ring) => worker::run_ring(engine, ring, io, flush, gather),
                    None => worker::run(engine, io),
                })?,
        );
    }
    drop(pool_tx);
    let interval = cfg.stats.enabled.then_some(cfg.stats.interval);
    if let (true, Input::Live(o)) = (ring_mode, &input) {
        let r = capture::coordinate(txs, &handles, &stats_tx, interval, &signals.stop);
        let (counters, clock) = r.as_ref().cloned().unwrap_or_default();
        let r = r.map(|_| ());
        return finish_run(
            Finishing {
                handles,
                det,
                ecfg,
                stats_tx,
                stats_thread,
                output,
                capture_counters: counters,
                final_clock: Ok(clock),
                capture_result: r,
                files: Vec::new(),
                live: Some((o.interface.clone(), 0, KernelStats::default(), None)),
                ring_mode: true,
            },
            cfg,
            outputs,
            started,
            workers,
            signals,
        );
    }

    let mut shards = Shards::new(
        txs,
        pool_rx,
        interval,
        stats_tx.clone(),
        ecfg.decoder.clone(),
    );
    shards.checksums = cfg.capture.checksum_validation;
    let mut files = Vec::new();
    let mut live = None;
    let capture_result = match (&input, live_cap.as_mut()) {
        (Input::Live(_), Some(Opened::Rings(_))) => Ok(()),
        (Input::Files(paths, how), _) => {
            let total = paths
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            let mut progress = Progress::new(total, show_progress);
            let r = capture::replay(paths, *how, &mut shards, &signals.stop, &mut progress);
            progress.finish();
            r.map(|f| files = f)
        }
        (Input::Live(o), Some(Opened::Pcap(lc))) => {
            let mut progress = Progress::new(0, show_progress);
            shards.set_lossy();
            let r = capture::live(lc, &mut shards, &signals.stop, &mut progress);
            progress.finish();
            r.map(|(n, k, e)| live = Some((o.interface.clone(), n, k, e)))
        }
        (Input::Live(_), None) => Ok(()),
    };
    let capture_counters = shards.counters();
    let final_clock = shards.finish().map(|(_, c)| c);
    finish_run(
        Finishing {
            handles,
            det,
            ecfg,
            stats_tx,
            stats_thread,
            output,
            capture_counters,
            final_clock,
            capture_result,
            files,
            live,
            ring_mode: false,
        },
        cfg,
        outputs,
        started,
        workers,
        signals,
    )
}

/// What is left to do once capture has ended.
struct Finishing {
    handles: Vec<std::thread::JoinHandle<()>>,
    det: Arc<Detector>,
    ecfg: Arc<EngineConfig>,
    stats_tx: crossbeam_channel::Sender<StatsPart>,
    stats_thread: std::thread::JoinHandle<Counters>,
    output: Output,
    capture_counters: Counters,
    final_clock: Result<fumidai_wire::Timestamp, capture::WorkerGone>,
    capture_result: Result<(), capture::WorkerGone>,
    files: Vec<FileReport>,
    live: Option<(String, u64, KernelStats, Option<String>)>,
    /// af-packet: the kernel's counters come from the workers' stats.
    ring_mode: bool,
}

/// Waits for the workers, writes the last records and stats, and closes
/// the outputs.
fn finish_run(
    f: Finishing,
    cfg: &Config,
    outputs: Vec<PathBuf>,
    started: Instant,
    workers: usize,
    signals: &Signals,
) -> anyhow::Result<RunReport> {
    let Finishing {
        handles,
        det,
        ecfg,
        stats_tx,
        stats_thread,
        output,
        capture_counters,
        final_clock,
        capture_result,
        files,
        mut live,
        ring_mode,
    } = f;
    // The workers end their flows once their channels close. A worker that
    // died fails the run: its flows' events are missing.
    let mut dead = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        if let Err(panic) = h.join() {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
                .to_owned();
            dead.push(format!("worker {i} panicked: {msg}"));
        }
    }
    // Every worker is done: the alert-storm windows they shared can close.
    let mut capture_counters = capture_counters;
    let mut storms = fumidai_eve::EveBatch::default();
    let n = fumidai_engine::closing_summaries(
        &det,
        &ecfg,
        final_clock.as_ref().copied().unwrap_or_default(),
        &mut storms,
    );
    capture_counters.add("detect.alert", n);
    output.handle().dispatch(storms);
    let _ = stats_tx.send(StatsPart {
        seq: FINAL,
        ts: final_clock.unwrap_or_default(),
        counters: capture_counters,
        latency: None,
    });
    drop(stats_tx);
    let counters = stats_thread.join().unwrap_or_default();
    if let (true, Some(l)) = (ring_mode, live.as_mut()) {
        l.1 = counters.get("decoder.pkts");
        l.2 = KernelStats {
            received: counters.get("capture.kernel_packets"),
            dropped: counters.get("capture.kernel_drops"),
            if_dropped: 0,
        };
    }
    let output_report = output.finish(Duration::from_secs(cfg.eve.flush_timeout));
    if !dead.is_empty() {
        anyhow::bail!("{}; events of its flows are missing", dead.join("; "));
    }
    if capture_result.is_err() {
        anyhow::bail!("a worker stopped unexpectedly; events after that point are missing");
    }
    Ok(RunReport {
        files,
        live,
        counters,
        output: output_report,
        outputs,
        elapsed: started.elapsed(),
        workers,
        interrupted: signals.stop.load(Ordering::Relaxed),
    })
}
