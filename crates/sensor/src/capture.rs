//! The capture thread: reads packets from libpcap, picks each one's worker
//! by a symmetric hash of its address pair, and hands them over in batches.
//! It also keeps the packet-time clock that drives flow timeouts and stats.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use fumidai_engine::Part;
use fumidai_eve::Counters;
use fumidai_flow::EndReason;
use fumidai_wire::checksum::OffloadSampler;
use fumidai_wire::key::shard_hash;
use fumidai_wire::{Decap, DecoderConfig, LinkType, Timestamp};

use crate::batch::{Batch, ToWorker};
use crate::config::ChecksumValidation;
use crate::progress::Progress;
use crate::stats::StatsPart;

/// Bytes of packet data per batch before it is sent.
pub const BATCH_BYTES: usize = 256 << 10;
/// Packets per batch before it is sent.
pub const BATCH_PKTS: usize = 512;
/// Packet time between ticks to idle workers, in microseconds.
const TICK_MICROS: u64 = 1_000_000;
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
            .map(|_| Batch::with_capacity(BATCH_BYTES, BATCH_PKTS))
            .collect();
        Shards {
            txs,
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
        }
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

    /// Queues one packet for its worker.
    pub fn push(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        wire_len: u32,
        frame: &[u8],
    ) -> Result<(), WorkerGone> {
        if ts > self.clock {
            self.clock = ts;
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
        self.queue(w, frame, wire_len, ts, link, part)?;
        if let Some(cw) = carriers {
            self.queue(cw, frame, wire_len, ts, link, Part::Carriers)?;
        }
        if self.clock.micros_since(self.last_tick) >= TICK_MICROS {
            self.tick()?;
        }
        Ok(())
    }

    /// Adds a packet to worker `w`'s batch, sending the batch first if full.
    #[inline(always)]
    fn queue(
        &mut self,
        w: usize,
        frame: &[u8],
        wire_len: u32,
        ts: Timestamp,
        link: LinkType,
        part: Part,
    ) -> Result<(), WorkerGone> {
        let b = &mut self.pending[w];
        if !b.is_empty() && (b.data.len() + frame.len() > BATCH_BYTES || b.pkts.len() >= BATCH_PKTS)
        {
            self.send(w)?;
        }
        self.pending[w].push(frame, wire_len, ts, link, part);
        Ok(())
    }

    /// Sends worker `w`'s batch, replacing it with a recycled one.
    fn send(&mut self, w: usize) -> Result<(), WorkerGone> {
        // Worker queues are bounded, so the batches in flight are too: the
        // pool only stops being empty once that number has been allocated.
        let fresh = self
            .pool
            .try_recv()
            .unwrap_or_else(|_| Batch::with_capacity(BATCH_BYTES, BATCH_PKTS));
        let mut b = std::mem::replace(&mut self.pending[w], fresh);
        b.clock = self.clock;
        self.txs[w]
            .send(ToWorker::Packets(b))
            .map_err(|_| WorkerGone)
    }

    /// Hands every partial batch over; workers with nothing queued get a
    /// tick so their clocks still advance.
    pub fn tick(&mut self) -> Result<(), WorkerGone> {
        self.last_tick = self.clock;
        for w in 0..self.txs.len() {
            if self.pending[w].is_empty() {
                self.txs[w]
                    .send(ToWorker::Tick(self.clock))
                    .map_err(|_| WorkerGone)?;
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
        for tx in &self.txs {
            tx.send(ToWorker::Stats { seq, ts })
                .map_err(|_| WorkerGone)?;
        }
        let _ = self.stats_tx.send(StatsPart {
            seq,
            ts,
            counters: self.counters.clone(),
        });
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
/// pcapng file are taken: a FIFO or a device would block the replay, so it
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
        match capture_magic(&path) {
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

/// True for a file that starts like a pcap or pcapng file.
fn capture_magic(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path)?;
    if f.read(&mut magic)? < 4 {
        return Ok(false);
    }
    Ok(matches!(
        u32::from_le_bytes(magic),
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
    ))
}

/// Replays capture files into the shards.
pub fn replay(
    files: &[PathBuf],
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
        replay_file(path, i > 0, shards, stop, progress, &mut report)?;
        progress.file_done(path);
        reports.push(report);
    }
    Ok(reports)
}

fn replay_file(
    path: &Path,
    check_timeline: bool,
    shards: &mut Shards,
    stop: &AtomicBool,
    progress: &mut Progress,
    report: &mut FileReport,
) -> Result<(), WorkerGone> {
    let mut cap = match pcap::Capture::from_file(path) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("cannot read as a capture: {e}"));
            report.unreadable = true;
            return Ok(());
        }
    };
    let dlt = cap.get_datalink().0;
    let Some(link) = LinkType::from_dlt(dlt) else {
        report.error = Some(format!("unsupported link type {dlt}"));
        report.unreadable = true;
        return Ok(());
    };
    if shards.checksums == ChecksumValidation::Auto {
        let sample = sample_checksums(path, link);
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
    let pcapng = is_pcapng(path);
    // Offset of the next record in a classic pcap file: header, then
    // 16-byte record headers each followed by the captured bytes.
    let mut offset: u64 = 24;
    let mut first = true;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                let ts = Timestamp::from_sec_usec(
                    p.header.ts.tv_sec.max(0) as u64,
                    p.header.ts.tv_usec.max(0) as u64,
                );
                if first && check_timeline {
                    shards.new_timeline_if_backwards(ts)?;
                }
                first = false;
                offset += 16 + p.data.len() as u64;
                report.packets += 1;
                report.bytes += u64::from(p.header.len);
                shards.push(link, ts, p.header.len, p.data)?;
                progress.packet(offset, p.header.len);
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                let at = if pcapng {
                    pcapng_offset_after(path, report.packets)
                } else {
                    Some(offset)
                };
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                report.unreadable = report.packets == 0;
                report.error = Some(match at {
                    Some(at) => format!(
                        "stopped after {} packets at byte offset {at} of {size}: {e}",
                        report.packets
                    ),
                    None => format!("stopped after {} packets: {e}", report.packets),
                });
                break;
            }
        }
    }
    Ok(())
}

/// Samples the checksums of a file's first packets.
fn sample_checksums(path: &Path, link: LinkType) -> OffloadSampler {
    use fumidai_wire::{Decoded, decode};
    let mut sampler = OffloadSampler::default();
    let Ok(mut cap) = pcap::Capture::from_file(path) else {
        return sampler;
    };
    for _ in 0..OffloadSampler::SAMPLE {
        let Ok(p) = cap.next_packet() else { break };
        if let Decoded::Ip(ip) = decode(link, p.data) {
            sampler.add(&ip);
        }
    }
    sampler
}

fn is_pcapng(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| magic == [0x0a, 0x0d, 0x0d, 0x0a])
}

/// The byte offset just past the `n`-th packet block of a pcapng file:
/// where libpcap was when it gave up. Walks block headers only.
fn pcapng_offset_after(path: &Path, n: u64) -> Option<u64> {
    let data = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let mut seen = 0u64;
    let mut big_endian = false;
    while at + 12 <= data.len() {
        let raw_type: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        if raw_type == [0x0a, 0x0d, 0x0d, 0x0a] {
            // Section header: its byte-order magic decides the section's endianness.
            big_endian = data.get(at + 8..at + 12)? == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let rd = |b: &[u8]| -> Option<u32> {
            let a: [u8; 4] = b.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            })
        };
        let btype = rd(&raw_type)?;
        let len = rd(data.get(at + 4..at + 8)?)? as usize;
        if len < 12 || at + len > data.len() {
            return Some(at as u64);
        }
        if matches!(btype, 2 | 3 | 6) {
            seen += 1;
            if seen == n {
                return Some((at + len) as u64);
            }
        }
        at += len;
    }
    Some(at as u64)
}

/// Live capture settings, from sensor.yaml and the command line.
pub struct LiveOptions {
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

/// Opens the interface (this is what needs privileges).
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
                shards.push(lc.link, ts, p.header.len, p.data)?;
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

    #[test]
    fn pcapng_walk_finds_block_ends() {
        // A section header block (28 bytes) then two 32-byte enhanced packet blocks.
        let mut f = Vec::new();
        let mut block = |t: u32, len: u32| {
            f.extend_from_slice(&t.to_le_bytes());
            f.extend_from_slice(&len.to_le_bytes());
            if t == 0x0a0d_0d0a {
                f.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a]);
                f.extend(std::iter::repeat_n(0u8, len as usize - 16));
            } else {
                f.extend(std::iter::repeat_n(0u8, len as usize - 12));
            }
            f.extend_from_slice(&len.to_le_bytes());
        };
        block(0x0a0d_0d0a, 28);
        block(6, 32);
        block(6, 32);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pcapng");
        std::fs::write(&p, &f).unwrap();
        assert_eq!(pcapng_offset_after(&p, 1), Some(60));
        assert_eq!(pcapng_offset_after(&p, 2), Some(92));
        assert_eq!(pcapng_offset_after(&p, 3), Some(92));
    }
}
