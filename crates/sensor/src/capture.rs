//! The capture thread: reads packets from libpcap, picks each one's worker
//! by a symmetric hash of its address pair, and hands them over in batches.
//! It also keeps the packet-time clock that drives flow timeouts and stats.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use fumidai_engine::Part;
use fumidai_eve::Counters;
use fumidai_flow::EndReason;
use fumidai_wire::checksum::OffloadSampler;
use fumidai_wire::key::shard_hash;
use fumidai_wire::{Decap, DecoderConfig, LinkType, Timestamp};

use crate::afpacket::{Layout, Ring};
use crate::batch::{Batch, ToWorker};
use crate::config::Tpacket;
use crate::config::{CaptureMethod, ChecksumValidation};
use crate::progress::Progress;
use crate::reader::{PcapReader, Source, Window};
use crate::stats::StatsPart;

/// Bytes of packet data per batch before it is sent.
pub const BATCH_BYTES: usize = 256 << 10;
/// Packets per batch before it is sent.
pub const BATCH_PKTS: usize = 512;
/// Packet time between ticks to idle workers, in microseconds.
const TICK_MICROS: u64 = 1_000_000;
/// How long a live stats request waits for a worker that is behind.
const STATS_WAIT: Duration = Duration::from_millis(500);
/// Replay: a pause in packet time longer than this is a meeting point for
/// the workers, as a file boundary is. What happened before the pause is
/// then seen by every worker, whatever the thread timing: a capture built
/// of scenes (a relay confirmed, and minutes later an IRC session from it)
/// gives the same alerts with any number of workers. Busy links do not
/// pause; a merge of sparse traces does, and each meeting costs a drained
/// pipeline (the shared mix: 47 pauses over 10 s, lost in the noise; 590
/// over 1 s, 8 % more time).
const PAUSE_MICROS: u64 = 10_000_000;
/// A capture file whose first packet is this much older than the clock
/// starts a new timeline: the previous file's flows are ended.
const BACKWARDS_MICROS: u64 = 1_000_000;

/// The capture side of the worker channels.
pub struct Shards {
    txs: Vec<Sender<ToWorker>>,
    pending: Vec<Batch>,
    pool: Receiver<Batch>,
    hasher: foldhash::fast::RandomState,
    /// What the shard hash looks through, and its scratch space.
    decoder: DecoderConfig,
    decap: Decap,
    clock: Timestamp,
    last_tick: Timestamp,
    stats: StatsClock,
    stats_tx: Sender<StatsPart>,
    /// Counters of the capture itself, reported with each stats event.
    pub counters: Counters,
    /// How checksums are judged (per file when replaying).
    pub checksums: ChecksumValidation,
    /// Live capture: a worker whose queue is full loses the batch (counted
    /// in `worker_drops`) rather than holding up every other worker. A
    /// replay waits instead, and loses nothing.
    lossy: bool,
    /// Packets each worker lost that way.
    worker_drops: Vec<u64>,
    /// The mapped window packets last came from (its address, for identity
    /// only): when the reader moves on, batches still pointing into older
    /// windows are sent, so that no quiet worker keeps one mapped.
    window_at: usize,
}

/// When the next stats event is due, in packet time.
struct StatsClock {
    interval: Option<u64>,
    next: Option<Timestamp>,
    seq: u64,
}

/// A worker went away (it panicked); nothing more can be processed.
#[derive(Debug)]
pub struct WorkerGone;

impl Shards {
    pub fn new(
        txs: Vec<Sender<ToWorker>>,
        pool: Receiver<Batch>,
        stats_interval: Option<u64>,
        stats_tx: Sender<StatsPart>,
        decoder: DecoderConfig,
    ) -> Self {
        let pending = txs
            .iter()
            .map(|_| Batch::with_capacity(BATCH_PKTS))
            .collect();
        Shards {
            pending,
            pool,
            hasher: foldhash::fast::RandomState::default(),
            decoder,
            decap: Decap::default(),
            clock: Timestamp::default(),
            last_tick: Timestamp::default(),
            stats: StatsClock {
                interval: stats_interval.filter(|&s| s > 0),
                next: None,
                seq: 0,
            },
            stats_tx,
            counters: Counters::default(),
            checksums: ChecksumValidation::Auto,
            worker_drops: vec![0; txs.len()],
            window_at: 0,
            lossy: false,
            txs,
        }
    }

    /// Live capture: never wait for a worker (see `lossy`).
    pub fn set_lossy(&mut self) {
        self.lossy = true;
    }

    /// The capture's counters, with each worker's drops.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        if self.lossy {
            for (w, n) in self.worker_drops.iter().enumerate() {
                c.add(format!("capture.worker_drops.{w}"), *n);
            }
        }
        c
    }

    /// Tells every worker whether to validate checksums from now on.
    pub fn set_checksums(&mut self, on: bool) -> Result<(), WorkerGone> {
        // Packets already queued were read under the previous setting.
        for w in 0..self.txs.len() {
            if !self.pending[w].is_empty() {
                self.send(w)?;
            }
            self.txs[w]
                .send(ToWorker::Checksums(on))
                .map_err(|_| WorkerGone)?;
        }
        Ok(())
    }

    /// Queues one packet for its worker: its bytes are copied into the
    /// batch, or, when they lie in a mapped `window`, pointed to.
    pub fn push(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        wire_len: u32,
        frame: &[u8],
        window: Option<&Arc<Window>>,
    ) -> Result<(), WorkerGone> {
        if ts > self.clock {
            if !self.lossy && self.clock.0 != 0 && ts.micros_since(self.clock) > PAUSE_MICROS {
                self.meet()?;
            }
            self.clock = ts;
        }
        if let Some(win) = window
            && Arc::as_ptr(win) as usize != self.window_at
        {
            self.window_at = Arc::as_ptr(win) as usize;
            for w in 0..self.txs.len() {
                if !self.pending[w].accepts(Some(win)) {
                    self.send(w)?;
                }
            }
        }
        let n = self.txs.len() as u64;
        let (w, part, carriers) = if n == 1 {
            (0, Part::All, None)
        } else {
            let shard = shard_hash(&self.hasher, &self.decoder, link, frame, &mut self.decap);
            let w = (shard.inner % n) as usize;
            match shard.carrier.map(|c| (c % n) as usize) {
                // The tunnel's own flows live with its outer address pair,
                // the inner packet with its own: the frame goes to both.
                Some(cw) if cw != w => (w, Part::Inner, Some(cw)),
                _ => (w, Part::All, None),
            }
        };
        self.queue(w, frame, window, wire_len, ts, link, part)?;
        if let Some(cw) = carriers {
            self.queue(cw, frame, window, wire_len, ts, link, Part::Carriers)?;
        }
        if self.clock.micros_since(self.last_tick) >= TICK_MICROS {
            self.tick()?;
        }
        Ok(())
    }

    /// Adds a packet to worker `w`'s batch, sending the batch first if full.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn queue(
        &mut self,
        w: usize,
        frame: &[u8],
        window: Option<&Arc<Window>>,
        wire_len: u32,
        ts: Timestamp,
        link: LinkType,
        part: Part,
    ) -> Result<(), WorkerGone> {
        let b = &mut self.pending[w];
        if !b.is_empty()
            && (b.bytes + frame.len() > BATCH_BYTES
                || b.pkts.len() >= BATCH_PKTS
                || !b.accepts(window))
        {
            self.send(w)?;
        }
        self.pending[w].push(frame, window, wire_len, ts, link, part);
        Ok(())
    }

    /// Sends worker `w`'s batch, replacing it with a recycled one.
    fn send(&mut self, w: usize) -> Result<(), WorkerGone> {
        // Worker queues are bounded, so the batches in flight are too: the
        // pool only stops being empty once that number has been allocated.
        if self.lossy && self.txs[w].is_full() {
            // The worker is behind: its packets go, nobody else's. The
            // batch is emptied and kept for its next packets.
            let b = &mut self.pending[w];
            self.worker_drops[w] += b.pkts.len() as u64;
            b.clear();
            return Ok(());
        }
        let fresh = self
            .pool
            .try_recv()
            .unwrap_or_else(|_| Batch::with_capacity(BATCH_PKTS));
        let mut b = std::mem::replace(&mut self.pending[w], fresh);
        b.clock = self.clock;
        if !self.lossy {
            return self.txs[w]
                .send(ToWorker::Packets(b))
                .map_err(|_| WorkerGone);
        }
        match self.txs[w].try_send(ToWorker::Packets(b)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(ToWorker::Packets(mut b))) => {
                self.worker_drops[w] += b.pkts.len() as u64;
                b.clear();
                self.pending[w] = b;
                Ok(())
            }
            Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(WorkerGone),
        }
    }

    /// Sends a control message. Live, a tick to a worker that is behind is
    /// skipped (its next batch carries the clock).
    fn control(&self, w: usize, msg: ToWorker) -> Result<(), WorkerGone> {
        if !self.lossy {
            return self.txs[w].send(msg).map_err(|_| WorkerGone);
        }
        match self.txs[w].try_send(msg) {
            Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(WorkerGone),
        }
    }

    /// Hands every partial batch over; workers with nothing queued get a
    /// tick so their clocks still advance.
    pub fn tick(&mut self) -> Result<(), WorkerGone> {
        self.last_tick = self.clock;
        for w in 0..self.txs.len() {
            if self.pending[w].is_empty() {
                self.control(w, ToWorker::Tick(self.clock))?;
            } else {
                self.send(w)?;
            }
        }
        self.maybe_stats()
    }

    /// Advances the clock without a packet (live capture on a quiet link).
    pub fn advance_to(&mut self, ts: Timestamp) -> Result<(), WorkerGone> {
        if ts > self.clock {
            self.clock = ts;
        }
        self.tick()
    }

    fn maybe_stats(&mut self) -> Result<(), WorkerGone> {
        let Some(interval) = self.stats.interval else {
            return Ok(());
        };
        let due = *self.stats.next.get_or_insert(self.clock.add_secs(interval));
        if self.clock < due {
            return Ok(());
        }
        // One event however long the gap in packet time: a jump of years
        // must not produce millions of stats events.
        self.stats.next = Some(self.clock.add_secs(interval));
        self.request_stats(self.stats.seq, self.clock)?;
        self.stats.seq += 1;
        Ok(())
    }

    fn request_stats(&mut self, seq: u64, ts: Timestamp) -> Result<(), WorkerGone> {
        let mut late = 0;
        for tx in &self.txs {
            let msg = ToWorker::Stats { seq, ts };
            if !self.lossy {
                tx.send(msg).map_err(|_| WorkerGone)?;
                continue;
            }
            // Live: wait for a worker that is behind, but not for ever.
            match tx.send_timeout(msg, STATS_WAIT) {
                Ok(()) => {}
                Err(SendTimeoutError::Timeout(_)) => {
                    // The event goes out without that worker's counters.
                    late += 1;
                    let _ = self.stats_tx.send(StatsPart {
                        seq,
                        ts,
                        counters: Counters::default(),
                        latency: None,
                    });
                }
                Err(SendTimeoutError::Disconnected(_)) => return Err(WorkerGone),
            }
        }
        if self.lossy {
            self.counters.add("capture.stats_late", late);
        }
        let _ = self.stats_tx.send(StatsPart {
            seq,
            ts,
            counters: self.counters(),
            latency: None,
        });
        Ok(())
    }

    /// Replay: every worker finishes what it was sent before any goes on
    /// (crate::rendezvous). Between capture files, and where packet time
    /// pauses for more than `PAUSE_MICROS`.
    pub fn meet(&mut self) -> Result<(), WorkerGone> {
        self.tick()?;
        for tx in &self.txs {
            tx.send(ToWorker::Sync).map_err(|_| WorkerGone)?;
        }
        Ok(())
    }

    /// A new capture file starts; if its time runs backwards, the flows of
    /// the previous timeline are ended and the clock restarts.
    pub fn new_timeline_if_backwards(&mut self, first_ts: Timestamp) -> Result<(), WorkerGone> {
        if first_ts.0.saturating_add(BACKWARDS_MICROS) >= self.clock.0 {
            return Ok(());
        }
        self.tick()?;
        for tx in &self.txs {
            tx.send(ToWorker::EndAll(EndReason::Shutdown))
                .map_err(|_| WorkerGone)?;
        }
        self.clock = first_ts;
        self.last_tick = first_ts;
        self.stats.next = None;
        Ok(())
    }

    /// Sends what is pending; returns the senders so the caller can close
    /// them (workers stop when their channel closes).
    pub fn finish(mut self) -> Result<(u64, Timestamp), WorkerGone> {
        self.tick()?;
        Ok((self.stats.seq, self.clock))
    }
}

/// How reading one capture file went.
#[derive(Debug, Default, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub packets: u64,
    pub bytes: u64,
    /// Set when reading stopped before the end of the file.
    pub error: Option<String>,
    /// Nothing in the file could be read: the run's exit status says so.
    pub unreadable: bool,
}

/// What `-r` arguments expand to: the captures to read, and what was
/// passed over in directories, with why.
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    /// Entries passed over for a reason worth a line each (a FIFO, a
    /// device, an unreadable file, a subdirectory without --recursive).
    pub skipped: Vec<(PathBuf, String)>,
    /// Per directory, the names of the files that are simply not captures
    /// (expectation files, READMEs): one line per directory says which.
    pub not_captures: std::collections::BTreeMap<PathBuf, Vec<String>>,
}

/// Expands `-r` arguments: files as given, directories to their captures in
/// name order. In a directory, only regular files that start like a pcap or
/// pcapng file (or decompress to one) are taken: a FIFO or a device would block the replay, so it
/// is never opened, and everything passed over is named with its reason.
pub fn expand_inputs(inputs: &[PathBuf], recursive: bool) -> anyhow::Result<Inputs> {
    let mut out = Inputs::default();
    for p in inputs {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_dir(p, recursive, &mut found, &mut out)?;
            found.sort();
            if found.is_empty() {
                anyhow::bail!("{}: no pcap or pcapng files in this directory", p.display());
            }
            out.files.extend(found);
        } else {
            out.files.push(p.clone());
        }
    }
    out.skipped.sort();
    out.skipped.dedup();
    for names in out.not_captures.values_mut() {
        names.sort();
        names.dedup();
    }
    Ok(out)
}

fn collect_dir(
    dir: &Path,
    recursive: bool,
    out: &mut Vec<PathBuf>,
    inputs: &mut Inputs,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                inputs
                    .skipped
                    .push((dir.to_path_buf(), format!("cannot list an entry: {e}")));
                continue;
            }
        };
        let path = entry.path();
        // Follows symbolic links, as opening would.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                inputs.skipped.push((path, format!("cannot stat: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            if recursive {
                collect_dir(&path, recursive, out, inputs)?;
                continue;
            } else {
                inputs
                    .skipped
                    .push((path, "a directory (use --recursive)".into()));
            }
            continue;
        }
        if !meta.is_file() {
            inputs
                .skipped
                .push((path, format!("not a regular file ({})", file_kind(&meta))));
            continue;
        }
        match crate::reader::is_capture(&path) {
            Ok(true) => out.push(path),
            Ok(false) => inputs
                .not_captures
                .entry(dir.to_path_buf())
                .or_default()
                .push(entry.file_name().to_string_lossy().into_owned()),
            Err(e) => inputs.skipped.push((path, format!("cannot read: {e}"))),
        }
    }
    Ok(())
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

/// Replays capture files into the shards.
pub fn replay(
    files: &[PathBuf],
    how: PcapReader,
    shards: &mut Shards,
    stop: &AtomicBool,
    progress: &mut Progress,
) -> Result<Vec<FileReport>, WorkerGone> {
    let mut reports = Vec::new();
    for (i, path) in files.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut report = FileReport {
            path: path.clone(),
            ..Default::default()
        };
        if i > 0 {
            shards.meet()?;
        }
        replay_file(path, how, i > 0, shards, stop, progress, &mut report)?;
        progress.file_done(path);
        reports.push(report);
    }
    Ok(reports)
}

fn replay_file(
    path: &Path,
    how: PcapReader,
    check_timeline: bool,
    shards: &mut Shards,
    stop: &AtomicBool,
    progress: &mut Progress,
    report: &mut FileReport,
) -> Result<(), WorkerGone> {
    let mut src = match Source::open(path, how) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(if e.message.starts_with("cannot read as a capture") {
                e.message
            } else {
                format!("cannot read as a capture: {}", e.message)
            });
            report.unreadable = true;
            return Ok(());
        }
    };
    // A file of a link type nothing here decodes is named as such, even
    // when it holds no packet.
    let unsupported = |src: &Source| {
        src.link()
            .filter(|l| LinkType::from_dlt(*l).is_none())
            .map(|l| format!("unsupported link type {l}"))
    };
    if let Some(e) = unsupported(&src) {
        report.error = Some(e);
        report.unreadable = true;
        return Ok(());
    }
    if shards.checksums == ChecksumValidation::Auto {
        let sample = sample_checksums(path, how);
        let (checked, bad) = (sample.checked, sample.bad);
        let offload = sample.offload();
        if offload {
            tracing::info!(
                "{}: {bad} of the first {checked} packets have bad checksums: assuming \
                 checksum offloading, not validating checksums in this file",
                path.display()
            );
        }
        shards.set_checksums(!offload)?;
    }
    let mut first = true;
    // The last link type seen, and its decoder's view of it.
    let mut link_of: Option<(i32, LinkType)> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let stopped = match src.next() {
            Ok(Some(f)) => {
                let link = match link_of {
                    Some((dlt, l)) if dlt == f.link => l,
                    _ => match LinkType::from_dlt(f.link) {
                        Some(l) => {
                            link_of = Some((f.link, l));
                            l
                        }
                        None => {
                            report.unreadable = report.packets == 0;
                            report.error = Some(format!("unsupported link type {}", f.link));
                            return Ok(());
                        }
                    },
                };
                if first && check_timeline {
                    shards.new_timeline_if_backwards(f.ts)?;
                }
                first = false;
                report.packets += 1;
                report.bytes += u64::from(f.wire_len);
                let wire_len = f.wire_len;
                shards.push(link, f.ts, wire_len, f.data, f.window)?;
                progress.packet(src.offset(), wire_len);
                continue;
            }
            Ok(None) => {
                if report.packets == 0
                    && let Some(e) = unsupported(&src)
                {
                    report.error = Some(e);
                    report.unreadable = true;
                }
                break;
            }
            Err(e) => e,
        };
        report.unreadable = report.packets == 0;
        report.error = Some(match stopped.offset {
            Some(at) => format!(
                "stopped after {} packets at byte offset {at} of {}: {}",
                report.packets,
                src.of_what(path),
                stopped.message
            ),
            None => format!(
                "stopped after {} packets: {}",
                report.packets, stopped.message
            ),
        });
        break;
    }
    Ok(())
}

/// Samples the checksums of a file's first packets.
fn sample_checksums(path: &Path, how: PcapReader) -> OffloadSampler {
    use fumidai_wire::{Decoded, decode};
    let mut sampler = OffloadSampler::default();
    let Ok(mut src) = Source::open(path, how) else {
        return sampler;
    };
    for _ in 0..OffloadSampler::SAMPLE {
        let Ok(Some(f)) = src.next() else { break };
        let Some(link) = LinkType::from_dlt(f.link) else {
            break;
        };
        if let Decoded::Ip(ip) = decode(link, f.data) {
            sampler.add(&ip);
        }
    }
    sampler
}

/// Live capture settings, from sensor.yaml and the command line.
pub struct LiveOptions {
    pub method: CaptureMethod,
    /// af-packet: the fanout group (0: one of this process's own).
    pub fanout_group: u16,
    /// af-packet: the ring layout.
    pub tpacket: crate::config::Tpacket,
    pub interface: String,
    pub promiscuous: bool,
    pub snaplen: u32,
    pub buffer_size: u64,
    pub immediate: bool,
    pub flush_ms: u64,
    pub bpf: String,
}

/// An opened live capture, before privileges are dropped.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    flush: Duration,
}

/// An opened interface: libpcap's capture, or one AF_PACKET ring per worker.
pub enum Opened {
    Pcap(LiveCapture),
    Rings(Vec<Ring>),
}

/// The smallest ring block that holds a frame of `snaplen` bytes (with the
/// ring's own headers), a power of two of at least 128 KiB.
fn block_size(snaplen: u32) -> u32 {
    (snaplen.saturating_add(256))
        .next_power_of_two()
        .max(128 << 10)
}

/// Opens the interface for `workers` workers (this is what needs
/// privileges).
pub fn open(o: &LiveOptions, workers: usize) -> anyhow::Result<Opened> {
    if o.method == CaptureMethod::Pcap {
        return open_live(o).map(Opened::Pcap);
    }
    let link = crate::afpacket::link_of(&o.interface)?;
    let bpf = if o.bpf.is_empty() {
        None
    } else {
        Some(crate::afpacket::compile_bpf(&o.bpf, link)?)
    };
    // The buffer is shared out: each ring gets its part, in whole blocks.
    let per_ring = o.buffer_size / workers.max(1) as u64;
    let layout = match o.tpacket {
        Tpacket::V3 => {
            let block = block_size(o.snaplen);
            Layout::V3 {
                block_size: block,
                block_count: u32::try_from(per_ring / u64::from(block))
                    .unwrap_or(u32::MAX)
                    .max(4),
                timeout_ms: u32::try_from(o.flush_ms.clamp(1, 60_000)).unwrap_or(100),
            }
        }
        // Fixed-size frames, for the interface's MTU frame (link header and
        // two VLAN tags included) up to jumbo frames, else (loopback, veth)
        // for an Ethernet one: what most packets are. A larger packet (GRO
        // or LRO super-frames, or over that MTU) arrives whole through the
        // socket's queue, at a system call each.
        Tpacket::V2 => {
            let mtu = crate::afpacket::mtu_of(&o.interface).unwrap_or(1500);
            let mtu = if mtu > 9216 { 1500 } else { mtu };
            Layout::v2(mtu.saturating_add(14 + 8).min(o.snaplen), per_ring)
        }
    };
    let group = match o.fanout_group {
        // Ids are per network namespace: the pid's low bits rarely collide,
        // and a collision is an error that says what to set.
        0 => (std::process::id() % 0xfffe + 1) as u16,
        g => g,
    };
    let ring = |_| {
        crate::afpacket::Ring::open(&crate::afpacket::RingOptions {
            interface: o.interface.clone(),
            promiscuous: o.promiscuous,
            layout,
            snaplen: o.snaplen,
            fanout_group: Some(group),
            bpf: bpf.clone(),
        })
    };
    let rings = (0..workers.max(1))
        .map(ring)
        .collect::<std::io::Result<Vec<_>>>()?;
    let shape = match layout {
        Layout::V3 {
            block_size,
            block_count,
            ..
        } => format!("TPACKET_V3 rings of {block_count} blocks of {block_size} bytes"),
        Layout::V2 {
            frame_size,
            block_size,
            block_count,
        } => format!(
            "TPACKET_V2 rings of {} frames of {frame_size} bytes",
            (block_size / frame_size) * block_count
        ),
    };
    tracing::info!(
        "{}: af-packet, {} {shape}, fanout group {group}",
        o.interface,
        rings.len()
    );
    Ok(Opened::Rings(rings))
}

/// af-packet: there is no capture thread, the workers read their rings.
/// This asks them for stats on time (packet time is wall time live) and
/// waits for a signal; closing their channels then ends them. Returns the
/// capture's counters and the final clock.
pub fn coordinate(
    txs: Vec<Sender<ToWorker>>,
    workers: &[std::thread::JoinHandle<()>],
    stats_tx: &Sender<StatsPart>,
    interval: Option<u64>,
    stop: &AtomicBool,
) -> Result<(Counters, Timestamp), WorkerGone> {
    let mut counters = Counters::default();
    let interval = interval.filter(|&s| s > 0).map(Duration::from_secs);
    let mut next = interval.map(|i| Instant::now() + i);
    let mut seq = 0;
    let mut gone = false;
    while !stop.load(Ordering::Relaxed) && !gone {
        std::thread::sleep(Duration::from_millis(50));
        // A worker that ended before being told to died: the run fails.
        gone = workers.iter().any(|h| h.is_finished());
        let (Some(due), Some(every)) = (next, interval) else {
            continue;
        };
        if Instant::now() < due {
            continue;
        }
        next = Some(Instant::now() + every);
        let ts = wall_clock();
        let mut late = 0;
        for tx in &txs {
            match tx.send_timeout(ToWorker::Stats { seq, ts }, STATS_WAIT) {
                Ok(()) => {}
                Err(SendTimeoutError::Timeout(_)) => {
                    late += 1;
                    let _ = stats_tx.send(StatsPart {
                        seq,
                        ts,
                        counters: Counters::default(),
                        latency: None,
                    });
                }
                Err(SendTimeoutError::Disconnected(_)) => gone = true,
            }
        }
        counters.add("capture.stats_late", late);
        let _ = stats_tx.send(StatsPart {
            seq,
            ts,
            counters: counters.clone(),
            latency: None,
        });
        seq += 1;
    }
    drop(txs);
    if gone {
        return Err(WorkerGone);
    }
    Ok((counters, wall_clock()))
}

/// Opens the interface with libpcap (this is what needs privileges).
pub fn open_live(o: &LiveOptions) -> anyhow::Result<LiveCapture> {
    let timeout = i32::try_from(o.flush_ms.clamp(1, 60_000)).unwrap_or(100);
    let mut cap = pcap::Capture::from_device(o.interface.as_str())
        .and_then(|c| {
            c.promisc(o.promiscuous)
                .snaplen(i32::try_from(o.snaplen).unwrap_or(i32::MAX))
                .buffer_size(i32::try_from(o.buffer_size).unwrap_or(i32::MAX))
                .immediate_mode(o.immediate)
                .timeout(timeout)
                .open()
        })
        .map_err(|e| anyhow::anyhow!("{}: cannot capture: {e}", o.interface))?;
    if !o.bpf.is_empty() {
        cap.filter(&o.bpf, true)
            .map_err(|e| anyhow::anyhow!("BPF filter `{}`: {e}", o.bpf))?;
    }
    let dlt = cap.get_datalink().0;
    let link = LinkType::from_dlt(dlt)
        .ok_or_else(|| anyhow::anyhow!("{}: unsupported link type {dlt}", o.interface))?;
    // Linux's TPACKET_V3 timeout only runs once a packet has arrived, so a
    // blocking read on a quiet link would wait for ever: no batch flush, no
    // reaction to SIGTERM. Read without blocking and poll() with our own
    // timeout instead.
    let cap = cap
        .setnonblock()
        .map_err(|e| anyhow::anyhow!("{}: cannot set non-blocking mode: {e}", o.interface))?;
    Ok(LiveCapture {
        cap,
        link,
        flush: Duration::from_millis(o.flush_ms.max(1)),
    })
}

/// What live capture saw, from the kernel's point of view.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// Captures until `stop` is set or the interface fails.
pub fn live(
    lc: &mut LiveCapture,
    shards: &mut Shards,
    stop: &AtomicBool,
    progress: &mut Progress,
) -> Result<(u64, KernelStats, Option<String>), WorkerGone> {
    let mut packets = 0u64;
    let mut last_flush = Instant::now();
    let mut error = None;
    let mut kernel = KernelStats::default();
    while !stop.load(Ordering::Relaxed) {
        match lc.cap.next_packet() {
            Ok(p) => {
                let ts = Timestamp::from_sec_usec(
                    p.header.ts.tv_sec.max(0) as u64,
                    p.header.ts.tv_usec.max(0) as u64,
                );
                packets += 1;
                shards.push(lc.link, ts, p.header.len, p.data, None)?;
                progress.packet(0, p.header.len);
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing ready: wait for the descriptor, at most until the
                // next flush is due (and briefly, so a signal is seen soon).
                let wait = lc
                    .flush
                    .saturating_sub(last_flush.elapsed())
                    .min(Duration::from_millis(100));
                wait_readable(&lc.cap, wait);
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
        if last_flush.elapsed() >= lc.flush {
            last_flush = Instant::now();
            kernel = read_kernel_stats(&mut lc.cap, kernel);
            set_kernel_counters(&mut shards.counters, kernel);
            // On a live link packet time is wall time: let it advance
            // while the link is quiet so that flows still time out.
            shards.advance_to(wall_clock())?;
        }
    }
    kernel = read_kernel_stats(&mut lc.cap, kernel);
    set_kernel_counters(&mut shards.counters, kernel);
    Ok((packets, kernel, error))
}

/// Waits until the capture has packets or `wait` passes (or a signal).
fn wait_readable(cap: &pcap::Capture<pcap::Active>, wait: Duration) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: cap.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(wait.as_millis()).unwrap_or(100).max(1);
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe {
        libc::poll(&mut fd, 1, ms);
    }
}

fn read_kernel_stats(cap: &mut pcap::Capture<pcap::Active>, prev: KernelStats) -> KernelStats {
    match cap.stats() {
        Ok(s) => KernelStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        },
        Err(_) => prev,
    }
}

fn set_kernel_counters(c: &mut Counters, k: KernelStats) {
    c.0.insert("capture.kernel_packets".into(), k.received);
    c.0.insert("capture.kernel_drops".into(), k.dropped);
    c.0.insert("capture.kernel_ifdrops".into(), k.if_dropped);
}

fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_sec_usec(d.as_secs(), u64::from(d.subsec_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, unbounded};

    /// An IPv4/UDP packet from 10.0.0.`a` to 10.1.0.`b` (raw IP link).
    fn udp(a: u8, b: u8) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, a, 10, 1, 0, b,
        ];
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 9, 0, 0, b'x']);
        p
    }

    /// Live, a worker that never takes its batches loses its own packets,
    /// counted; the other worker gets every one of its packets, and the
    /// capture never waits.
    #[test]
    fn a_stalled_worker_costs_only_its_own_packets() {
        let (tx0, _stalled) = bounded::<ToWorker>(4);
        let (tx1, rx1) = bounded::<ToWorker>(4);
        // To let worker 1 keep up (it would lose packets too if it did not).
        let probe = tx1.clone();
        let (_pool_tx, pool_rx) = bounded::<Batch>(16);
        let (stats_tx, _stats_rx) = unbounded();
        let mut shards = Shards::new(
            vec![tx0, tx1],
            pool_rx,
            None,
            stats_tx,
            DecoderConfig::default(),
        );
        shards.set_lossy();
        let busy = std::thread::spawn(move || {
            let mut got = 0u64;
            for m in rx1.iter() {
                if let ToWorker::Packets(b) = m {
                    got += b.pkts.len() as u64;
                }
            }
            got
        });
        let mut want = [0u64; 2];
        for i in 0..200_000u32 {
            let f = udp((i % 251) as u8, (i / 251 % 251) as u8);
            let shard = shard_hash(
                &shards.hasher,
                &shards.decoder,
                LinkType::Raw,
                &f,
                &mut shards.decap,
            );
            want[(shard.inner % 2) as usize] += 1;
            let ts = Timestamp(1_000_000 + u64::from(i));
            shards
                .push(LinkType::Raw, ts, f.len() as u32, &f, None)
                .unwrap();
            while !probe.is_empty() {
                std::thread::yield_now();
            }
        }
        drop(probe);
        let c = shards.counters();
        let drops = [
            c.get("capture.worker_drops.0"),
            c.get("capture.worker_drops.1"),
        ];
        shards.finish().unwrap();
        let got = busy.join().unwrap();
        assert!(want[0] > 10_000 && want[1] > 10_000, "{want:?}");
        // All but what fits in its queue (and the batch still pending).
        assert!(
            drops[0] >= want[0] - 5 * BATCH_PKTS as u64,
            "{drops:?} {want:?}"
        );
        assert_eq!(drops[1], 0);
        assert_eq!(got, want[1]);
    }

    /// A replay waits for the worker instead: nothing is lost.
    #[test]
    fn a_replay_waits_and_loses_nothing() {
        let (tx, rx) = bounded::<ToWorker>(1);
        let (_pool_tx, pool_rx) = bounded::<Batch>(4);
        let (stats_tx, _stats_rx) = unbounded();
        let mut shards = Shards::new(vec![tx], pool_rx, None, stats_tx, DecoderConfig::default());
        let slow = std::thread::spawn(move || {
            let mut got = 0u64;
            for m in rx.iter() {
                std::thread::sleep(Duration::from_micros(200));
                if let ToWorker::Packets(b) = m {
                    got += b.pkts.len() as u64;
                }
            }
            got
        });
        for i in 0..20_000u32 {
            let f = udp((i % 7) as u8, 1);
            shards
                .push(
                    LinkType::Raw,
                    Timestamp(u64::from(i)),
                    f.len() as u32,
                    &f,
                    None,
                )
                .unwrap();
        }
        assert!(
            shards
                .counters()
                .0
                .keys()
                .all(|k| !k.contains("worker_drops"))
        );
        shards.finish().unwrap();
        assert_eq!(slow.join().unwrap(), 20_000);
    }
}
