//! Delivery of EVE lines to the sinks: per-sink bounded queues, one writer
//! thread per sink, spooling to disk while a sink is down or too slow, and
//! counting of everything that could not be delivered.
//!
//! Producers (workers, the stats thread) call [`OutputHandle::dispatch`]
//! with a batch of serialised lines. For each sink that takes some of its
//! event types, the batch is queued for that sink's writer, unless:
//! - the sink is down, or its spool still holds older lines: the lines go to
//!   the spool (those of `spool_types`; the others are dropped and counted);
//! - the queue is full: live capture must never wait for a collector, so the
//!   lines go to the spool as above; a replay (`block_when_full`) waits
//!   instead, as a pcap can, so nothing is lost to a slow disk.
//!
//! Order per sink is kept: queued lines are older than spooled ones, and the
//! writer sends the queue, then the spool, and only when the spool is empty
//! lets producers queue again.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, bounded};
use fumidai_budget::{Budget, MemReport, Meter};

use crate::sink::{Line, Sink, TypeFilter};
use crate::spool::{Chunk, Spool};
use crate::{Counters, EveBatch, EventType};

/// Bytes a recycled batch may keep: what a worker's batch normally needs.
const RECYCLE_KEEP: usize = 256 << 10;

/// One sink and how it is fed.
pub struct SinkSpec {
    /// Key of its counters in `stats.output` (no dots).
    pub name: String,
    pub sink: Box<dyn Sink>,
    pub filter: TypeFilter,
    /// Event types kept in the spool while the sink cannot take them.
    pub spool_types: TypeFilter,
    pub spool_path: PathBuf,
    pub spool_max_bytes: u64,
    /// Batches queued in memory.
    pub queue: usize,
    /// Bytes queued in memory (`eve.queue_memcap`); past either bound the
    /// sink is treated as slow (spool, or wait when replaying).
    pub queue_bytes: usize,
}

/// Settings shared by all sinks.
pub struct OutputOptions {
    /// Buffered lines reach the destination at least this often.
    pub flush_every: Duration,
    /// Producers wait for room instead of spooling when a live sink is slow.
    pub block_when_full: bool,
    /// Set by SIGHUP: every sink re-opens.
    pub reopen: Arc<AtomicBool>,
    /// The sensor's memory budget, which queued batches draw from.
    pub budget: Arc<Budget>,
}

/// Delivery counters of one sink.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub spooled: AtomicU64,
    pub reconnects: AtomicU64,
    pub errors: AtomicU64,
    pub reopens: AtomicU64,
    pub queue_depth: AtomicU64,
    pub spool_pending: AtomicU64,
    pub spool_bytes: AtomicU64,
}

/// A sink's totals at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct SinkReport {
    pub name: String,
    pub describe: String,
    pub written: u64,
    pub dropped: u64,
    pub spooled: u64,
    pub reconnects: u64,
    pub errors: u64,
    pub reopens: u64,
    /// Lines still in the spool after shutdown (delivered by the next run).
    pub undelivered: u64,
    pub spool_path: PathBuf,
}

/// What the outputs did.
#[derive(Clone, Debug, Default)]
pub struct OutputReport {
    pub sinks: Vec<SinkReport>,
    /// Lines produced per event type (before any sink's filter).
    pub events: [u64; EventType::ALL.len()],
    /// Alert lines produced per `alert.signature_id`.
    pub alerts: BTreeMap<u64, u64>,
}

struct State {
    /// Batches, their first line's sequence number and the bytes charged.
    queue: VecDeque<(Arc<EveBatch>, u64, usize)>,
    meter: Meter,
    /// The spool holds lines older than anything a producer would queue.
    overflow: bool,
    down: bool,
    closing: bool,
    /// When closing: the end of the grace period.
    deadline: Option<Instant>,
    spool: Spool,
    next_seq: u64,
    /// The writer is waiting on `work`, producers on `room`: a condition
    /// variable's notify is a system call even when nobody waits, and
    /// there would be two per batch.
    writer_waits: bool,
    room_waiters: usize,
}

struct SinkShared {
    name: String,
    describe: String,
    filter: TypeFilter,
    spool_types: TypeFilter,
    cap: usize,
    state: Mutex<State>,
    /// The writer waits on it for work.
    work: Condvar,
    /// Producers wait on it for room.
    room: Condvar,
    /// Batches taken by the writer and not yet written.
    in_flight: AtomicU64,
    c: SinkCounters,
}

impl SinkShared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking writer must not take the producers down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer waits for work, at most `timeout`; true if it timed out.
    fn wait_work<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> (MutexGuard<'a, State>, bool) {
        st.writer_waits = true;
        let (mut st, r) = self
            .work
            .wait_timeout(st, timeout)
            .unwrap_or_else(|e| e.into_inner());
        st.writer_waits = false;
        (st, r.timed_out())
    }

    /// A producer waits for room, at most `timeout`.
    fn wait_room<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        st.room_waiters += 1;
        let (mut st, _) = self
            .room
            .wait_timeout(st, timeout)
            .unwrap_or_else(|e| e.into_inner());
        st.room_waiters -= 1;
        st
    }

    fn add(&self, c: &AtomicU64, v: u64) {
        if v > 0 {
            c.fetch_add(v, Ordering::Relaxed);
        }
    }

    fn gauges(&self, st: &State) {
        self.c
            .queue_depth
            .store(st.queue.len() as u64, Ordering::Relaxed);
        self.c
            .spool_pending
            .store(st.spool.pending(), Ordering::Relaxed);
        self.c
            .spool_bytes
            .store(st.spool.bytes(), Ordering::Relaxed);
    }

    /// Spools `lines`, counting what is not kept.
    fn spool(&self, st: &mut State, lines: &[Line<'_>]) {
        let keep: Vec<Line<'_>> = lines
            .iter()
            .filter(|l| self.spool_types.accepts(l.event_type))
            .copied()
            .collect();
        self.add(&self.c.dropped, (lines.len() - keep.len()) as u64);
        if keep.is_empty() {
            return;
        }
        match st.spool.append(&keep) {
            Ok(refused) => {
                self.add(&self.c.dropped, refused);
                self.add(&self.c.spooled, keep.len() as u64 - refused);
                if refused > 0 && self.c.dropped.load(Ordering::Relaxed) == refused {
                    tracing::error!(
                        "output {}: spool {} is full: dropping events (counted in stats.output.{}.dropped)",
                        self.describe,
                        st.spool.path().display(),
                        self.name
                    );
                }
            }
            Err(e) => {
                self.add(&self.c.dropped, keep.len() as u64);
                self.add(&self.c.errors, 1);
                tracing::error!("output {}: spool: {e}", self.describe);
            }
        }
        self.gauges(st);
    }
}

/// The lines of `batch` a sink takes, numbered from `base`.
fn lines_of<'a>(batch: &'a EveBatch, filter: &TypeFilter, base: u64) -> Vec<Line<'a>> {
    batch
        .iter()
        .filter(|(t, _)| filter.accepts(*t))
        .enumerate()
        .map(|(i, (event_type, bytes))| Line {
            seq: base + i as u64,
            event_type,
            bytes,
        })
        .collect()
}

/// The one field of an alert line the report counts by. Alerts are few, so
/// reading it back from the serialised line is cheaper than threading the
/// id through every producer.
#[derive(serde::Deserialize)]
struct AlertSid {
    alert: SignatureId,
}

#[derive(serde::Deserialize)]
struct SignatureId {
    signature_id: u64,
}

/// What producers hold to hand lines over. Cheap to clone.
#[derive(Clone)]
pub struct OutputHandle {
    sinks: Arc<Vec<Arc<SinkShared>>>,
    block: bool,
    events: Arc<[AtomicU64; EventType::ALL.len()]>,
    alerts: Arc<Mutex<BTreeMap<u64, u64>>>,
    recycle_tx: Sender<EveBatch>,
    recycle_rx: Receiver<EveBatch>,
}

impl OutputHandle {
    /// Hands a batch to every sink that takes any of its lines. Never waits
    /// for a sink that is down; waits for a slow one only in replay mode.
    pub fn dispatch(&self, batch: EveBatch) {
        if batch.is_empty() {
            return;
        }
        let mut sids = Vec::new();
        for (t, line) in batch.iter() {
            self.events[t.index()].fetch_add(1, Ordering::Relaxed);
            if t == EventType::Alert
                && let Ok(a) = serde_json::from_slice::<AlertSid>(line)
            {
                sids.push(a.alert.signature_id);
            }
        }
        if !sids.is_empty() {
            let mut m = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
            for sid in sids {
                *m.entry(sid).or_default() += 1;
            }
        }
        let batch = Arc::new(batch);
        for s in self.sinks.iter() {
            let n = batch.iter().filter(|(t, _)| s.filter.accepts(*t)).count() as u64;
            if n == 0 {
                continue;
            }
            let mut st = s.lock();
            loop {
                if st.down || (st.overflow && !self.block) {
                    let base = st.next_seq;
                    st.next_seq += n;
                    let lines = lines_of(&batch, &s.filter, base);
                    s.spool(&mut st, &lines);
                    break;
                }
                let bytes = batch.bytes.len();
                let room = !st.overflow && st.queue.len() < s.cap;
                // An empty queue takes a batch whatever its size, so a huge
                // one cannot wedge the sink; it is charged if the budget allows.
                let took = room && st.meter.try_take(bytes);
                if room && (took || st.queue.is_empty()) {
                    let charged = if took { bytes } else { 0 };
                    let base = st.next_seq;
                    st.next_seq += n;
                    st.queue.push_back((Arc::clone(&batch), base, charged));
                    s.gauges(&st);
                    if st.writer_waits {
                        s.work.notify_one();
                    }
                    break;
                }
                if self.block && !st.closing {
                    // Replay: wait for the writer (it wakes us when it takes
                    // a batch or empties its spool, or the sink goes down).
                    st = s.wait_room(st, Duration::from_millis(100));
                    continue;
                }
                st.overflow = true;
            }
        }
        if let Ok(mut b) = Arc::try_unwrap(batch) {
            b.recycle(RECYCLE_KEEP);
            let _ = self.recycle_tx.try_send(b);
        }
    }

    /// An emptied batch to fill, if one is free.
    pub fn recycled(&self) -> Option<EveBatch> {
        self.recycle_rx.try_recv().ok()
    }

    /// Waits, at most `timeout`, until every sink that is up has written
    /// what is queued for it (so that its counters are final).
    pub fn wait_idle(&self, timeout: Duration) {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            let busy = self.sinks.iter().any(|s| {
                let st = s.lock();
                !st.down && (!st.queue.is_empty() || s.in_flight.load(Ordering::Relaxed) > 0)
            });
            if !busy {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The queues' memory, all sinks together (`memcap.eve_queue.*`).
    pub fn mem_report(&self) -> MemReport {
        let mut r = MemReport::default();
        for s in self.sinks.iter() {
            let st = s.lock();
            let mut m = st.meter.report();
            m.entries = st.queue.len() as u64;
            r.merge(&m);
        }
        r
    }

    /// Per-sink counters as `output.<name>.*`, for stats events.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for s in self.sinks.iter() {
            let k = |f: &str| format!("output.{}.{f}", s.name);
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            c.add(k("written"), get(&s.c.written));
            c.add(k("dropped"), get(&s.c.dropped));
            c.add(k("spooled"), get(&s.c.spooled));
            c.add(k("reconnects"), get(&s.c.reconnects));
            c.add(k("errors"), get(&s.c.errors));
            c.add(k("queue_depth"), get(&s.c.queue_depth));
            c.add(k("spool_pending"), get(&s.c.spool_pending));
            c.add(k("spool_bytes"), get(&s.c.spool_bytes));
        }
        c
    }
}

/// The running outputs.
pub struct Output {
    handle: OutputHandle,
    writers: Vec<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
    /// Dropped to stop the ticker: it wakes at once rather than at its
    /// next tick (a 50 ms sleep there was a fixed 0–50 ms on every exit).
    stop_ticker: Option<Sender<()>>,
}

/// Sequence numbers start at the start-up time in microseconds, so they keep
/// growing across restarts (a spool left by an earlier run is older) and
/// stay exact in a double (a Lua number in Redis) for centuries.
fn first_seq() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
}

impl Output {
    pub fn spawn(specs: Vec<SinkSpec>, opts: OutputOptions) -> std::io::Result<Self> {
        // Emptied batches kept for reuse: enough for the workers in flight,
        // few enough that their memory (at most RECYCLE_KEEP each) stays small.
        let (recycle_tx, recycle_rx) = bounded(16);
        let generation = Arc::new(AtomicU64::new(0));
        let seq = first_seq();
        let mut shared = Vec::new();
        let mut sinks = Vec::new();
        for spec in specs {
            let spool = Spool::open(&spec.spool_path, spec.spool_max_bytes).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{}: cannot open spool: {e}", spec.spool_path.display()),
                )
            })?;
            if spool.pending() > 0 {
                tracing::warn!(
                    "output {}: {} events left in {} by an earlier run are sent first",
                    spec.sink.describe(),
                    spool.pending(),
                    spool.path().display()
                );
            }
            let st = State {
                queue: VecDeque::new(),
                meter: Meter::new("eve_queue", spec.queue_bytes, Arc::clone(&opts.budget)),
                overflow: spool.pending() > 0,
                down: false,
                closing: false,
                deadline: None,
                spool,
                next_seq: seq,
                writer_waits: false,
                room_waiters: 0,
            };
            let s = Arc::new(SinkShared {
                name: spec.name,
                describe: spec.sink.describe(),
                filter: spec.filter,
                spool_types: spec.spool_types,
                cap: spec.queue.max(1),
                state: Mutex::new(st),
                work: Condvar::new(),
                room: Condvar::new(),
                in_flight: AtomicU64::new(0),
                c: SinkCounters::default(),
            });
            s.gauges(&s.lock());
            shared.push(Arc::clone(&s));
            sinks.push((s, spec.sink));
        }
        let handle = OutputHandle {
            sinks: Arc::new(shared),
            block: opts.block_when_full,
            events: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            alerts: Arc::default(),
            recycle_tx: recycle_tx.clone(),
            recycle_rx,
        };
        let mut writers = Vec::new();
        for (s, sink) in sinks {
            let w = Writer {
                s,
                sink,
                flush_every: opts.flush_every,
                generation: Arc::clone(&generation),
                recycle: recycle_tx.clone(),
                failing: 0,
            };
            writers.push(
                std::thread::Builder::new()
                    .name("fumidai-output".into())
                    .spawn(move || w.run())?,
            );
        }
        // SIGHUP arrives as a flag; turn it into a generation every writer sees.
        let (stop_ticker, stop) = bounded::<()>(0);
        let ticker = {
            let reopen = opts.reopen;
            let sinks = Arc::clone(&handle.sinks);
            std::thread::Builder::new()
                .name("fumidai-hup".into())
                .spawn(move || {
                    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                        stop.recv_timeout(Duration::from_millis(50))
                    {
                        if reopen.swap(false, Ordering::Relaxed) {
                            generation.fetch_add(1, Ordering::Relaxed);
                            for s in sinks.iter() {
                                s.work.notify_all();
                            }
                        }
                    }
                })?
        };
        Ok(Output {
            handle,
            writers,
            ticker: Some(ticker),
            stop_ticker: Some(stop_ticker),
        })
    }

    pub fn handle(&self) -> OutputHandle {
        self.handle.clone()
    }

    /// Delivers what is queued and spooled, for at most `timeout`; what is
    /// left stays in the spools. Call once every producer has finished.
    pub fn finish(mut self, timeout: Duration) -> OutputReport {
        let deadline = Instant::now() + timeout;
        for s in self.handle.sinks.iter() {
            let mut st = s.lock();
            st.closing = true;
            st.deadline = Some(deadline);
            drop(st);
            s.work.notify_all();
            s.room.notify_all();
        }
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
        drop(self.stop_ticker.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        let mut report = OutputReport::default();
        for (i, e) in self.handle.events.iter().enumerate() {
            report.events[i] = e.load(Ordering::Relaxed);
        }
        report.alerts = self
            .handle
            .alerts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for s in self.handle.sinks.iter() {
            let st = s.lock();
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            report.sinks.push(SinkReport {
                name: s.name.clone(),
                describe: s.describe.clone(),
                written: get(&s.c.written),
                dropped: get(&s.c.dropped),
                spooled: get(&s.c.spooled),
                reconnects: get(&s.c.reconnects),
                errors: get(&s.c.errors),
                reopens: get(&s.c.reopens),
                undelivered: st.spool.pending(),
                spool_path: st.spool.path().to_owned(),
            });
        }
        report
    }
}

enum Work {
    Batch(Arc<EveBatch>, u64),
    Spool(Chunk),
    /// Nothing to send for a while: flush, rotate, re-open.
    Idle,
    /// Closing and everything delivered, or the grace period is over.
    Exit,
}

struct Writer {
    s: Arc<SinkShared>,
    sink: Box<dyn Sink>,
    flush_every: Duration,
    generation: Arc<AtomicU64>,
    recycle: Sender<EveBatch>,
    /// Writes that failed since the last one that worked: an outage is
    /// said once when it starts and once when it ends, however many
    /// attempts fail in between (a full disk fails every batch).
    failing: u64,
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Writer {
    fn run(mut self) {
        let s = Arc::clone(&self.s);
        let mut connected = false;
        let mut ever_up = false;
        let mut backoff = BACKOFF_MIN;
        let mut seen_gen = self.generation.load(Ordering::Relaxed);
        let mut unflushed = false;
        let mut last_flush = Instant::now();
        loop {
            if !connected {
                if self.failing > 0 {
                    // The sink took the connection and then failed to
                    // write: back off as if it had refused it.
                    let st = s.lock();
                    if !past_deadline(&st) {
                        let _ = s.wait_work(st, backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
                match self.sink.connect() {
                    Ok(()) => {
                        connected = true;
                        if ever_up {
                            s.add(&s.c.reconnects, 1);
                        }
                        ever_up = true;
                        backoff = BACKOFF_MIN;
                        s.lock().down = false;
                    }
                    Err(e) => {
                        let mut st = s.lock();
                        if !st.down {
                            s.add(&s.c.errors, 1);
                            tracing::error!(
                                "output {}: {e}; spooling to {} and retrying",
                                s.describe,
                                st.spool.path().display()
                            );
                        }
                        self.mark_down(&mut st);
                        if past_deadline(&st) {
                            self.save_queue(&mut st);
                            break;
                        }
                        let _ = s.wait_work(st, backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                }
            }
            let g = self.generation.load(Ordering::Relaxed);
            if g != seen_gen {
                seen_gen = g;
                s.add(&s.c.reopens, 1);
                if let Err(e) = self.sink.reopen() {
                    self.fail(&e);
                    connected = false;
                    continue;
                }
            }
            match self.next_work(unflushed, last_flush) {
                Work::Exit => break,
                Work::Idle => {
                    let r = if unflushed { self.sink.flush() } else { Ok(()) };
                    unflushed = false;
                    last_flush = Instant::now();
                    match r.and_then(|()| self.sink.tick()) {
                        // Buffered sinks report a failed write at the flush:
                        // only a flush that worked ends an outage.
                        Ok(()) => {
                            self.recovered();
                            backoff = BACKOFF_MIN;
                        }
                        Err(e) => {
                            self.fail(&e);
                            connected = false;
                        }
                    }
                }
                Work::Batch(b, base) => {
                    let lines = lines_of(&b, &s.filter, base);
                    match self.sink.send(&lines) {
                        Ok(refused) => {
                            s.add(&s.c.written, lines.len() as u64 - refused);
                            s.add(&s.c.dropped, refused);
                            unflushed = true;
                        }
                        Err(e) => {
                            self.fail(&e);
                            connected = false;
                            let mut st = s.lock();
                            st.queue.push_front((Arc::clone(&b), base, 0));
                            self.mark_down(&mut st);
                        }
                    }
                    drop(lines);
                    s.in_flight.fetch_sub(1, Ordering::Relaxed);
                    if let Ok(mut b) = Arc::try_unwrap(b) {
                        b.recycle(RECYCLE_KEEP);
                        let _ = self.recycle.try_send(b);
                    }
                }
                Work::Spool(chunk) => {
                    let lines = chunk.lines();
                    match self.sink.send(&lines) {
                        Ok(refused) => {
                            s.add(&s.c.written, lines.len() as u64 - refused);
                            s.add(&s.c.dropped, refused);
                            unflushed = true;
                            let mut st = s.lock();
                            if let Err(e) = st.spool.consume(&chunk) {
                                tracing::error!("output {}: spool: {e}", s.describe);
                            }
                            s.gauges(&st);
                        }
                        Err(e) => {
                            self.fail(&e);
                            connected = false;
                            self.mark_down(&mut s.lock());
                        }
                    }
                }
            }
        }
        if connected && let Err(e) = self.sink.flush() {
            tracing::error!("output {}: flush: {e}", s.describe);
        }
        let st = s.lock();
        if let Err(e) = st.spool.sync() {
            tracing::error!("output {}: spool: {e}", s.describe);
        }
        s.gauges(&st);
    }

    fn fail(&mut self, e: &std::io::Error) {
        self.s.add(&self.s.c.errors, 1);
        if self.failing == 0 {
            tracing::error!(
                "output {}: {e}; spooling and retrying (further errors counted in stats.output)",
                self.s.describe
            );
        }
        self.failing += 1;
    }

    /// A write worked: if an outage was said, say that it ended.
    fn recovered(&mut self) {
        if self.failing > 0 {
            tracing::warn!(
                "output {}: writing again after {} failed attempts",
                self.s.describe,
                self.failing
            );
            self.failing = 0;
        }
    }

    /// Producers spool from now on; blocked ones are woken to do so.
    fn mark_down(&self, st: &mut State) {
        st.down = true;
        st.overflow = true;
        self.s.room.notify_all();
    }

    /// At the end of the grace period: what is still queued goes to the
    /// front of the spool, as it is older than the spool's records.
    fn save_queue(&self, st: &mut State) {
        let items: Vec<_> = st.queue.drain(..).collect();
        if items.is_empty() {
            return;
        }
        let mut lines = Vec::new();
        for (b, base, charged) in &items {
            st.meter.give(*charged);
            lines.extend(lines_of(b, &self.s.filter, *base));
        }
        let keep: Vec<Line<'_>> = lines
            .iter()
            .filter(|l| self.s.spool_types.accepts(l.event_type))
            .copied()
            .collect();
        self.s
            .add(&self.s.c.dropped, (lines.len() - keep.len()) as u64);
        match st.spool.prepend(&keep) {
            Ok(refused) => {
                self.s.add(&self.s.c.dropped, refused);
                self.s.add(&self.s.c.spooled, keep.len() as u64 - refused);
            }
            Err(e) => {
                self.s.add(&self.s.c.dropped, keep.len() as u64);
                tracing::error!("output {}: spool: {e}", self.s.describe);
            }
        }
        self.s.gauges(st);
    }

    fn next_work(&self, unflushed: bool, last_flush: Instant) -> Work {
        let s = &self.s;
        let mut st = s.lock();
        loop {
            if past_deadline(&st) {
                self.save_queue(&mut st);
                return Work::Exit;
            }
            if let Some((b, base, charged)) = st.queue.pop_front() {
                st.meter.give(charged);
                s.in_flight.fetch_add(1, Ordering::Relaxed);
                s.gauges(&st);
                if st.room_waiters > 0 {
                    s.room.notify_one();
                }
                return Work::Batch(b, base);
            }
            if st.overflow {
                if st.spool.pending() > 0 {
                    match st.spool.read(256 << 10) {
                        Ok(c) if !c.is_empty() => return Work::Spool(c),
                        Ok(c) => {
                            // Only damaged records: skip them.
                            let _ = st.spool.consume(&c);
                            continue;
                        }
                        Err(e) => {
                            tracing::error!("output {}: spool: {e}", s.describe);
                            return Work::Idle;
                        }
                    }
                }
                st.overflow = false;
                s.room.notify_all();
            }
            if st.closing {
                return Work::Exit;
            }
            if unflushed && last_flush.elapsed() >= self.flush_every {
                return Work::Idle;
            }
            let g = self.generation.load(Ordering::Relaxed);
            let (guard, timed_out) = s.wait_work(st, self.flush_every);
            st = guard;
            if timed_out || self.generation.load(Ordering::Relaxed) != g {
                return Work::Idle;
            }
        }
    }
}

fn past_deadline(st: &State) -> bool {
    st.deadline.is_some_and(|d| Instant::now() >= d)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::{EveTime, Header, Record};
    use fumidai_wire::Timestamp;

    /// A collector that takes nothing until released, then records what it gets.
    struct Stuck {
        release: Arc<(Mutex<bool>, Condvar)>,
        got: Arc<Mutex<Vec<(u64, EventType)>>>,
    }

    impl Sink for Stuck {
        fn describe(&self) -> String {
            "stuck".into()
        }
        fn connect(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn send(&mut self, lines: &[Line<'_>]) -> std::io::Result<u64> {
            let (lock, cv) = &*self.release;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            let mut got = self.got.lock().unwrap();
            got.extend(lines.iter().map(|l| (l.seq, l.event_type)));
            Ok(0)
        }
    }

    fn batch(i: u64) -> EveBatch {
        let mut b = EveBatch::default();
        for t in [EventType::Alert, EventType::Flow] {
            b.push(&Record {
                header: Header::new(EveTime(Timestamp::from_secs(i)), t),
                body: serde_json::json!({ "n": i }),
            });
        }
        b
    }

    /// An output whose only sink is a [`Stuck`] collector.
    type Probe = (
        Output,
        Arc<(Mutex<bool>, Condvar)>,
        Arc<Mutex<Vec<(u64, EventType)>>>,
        PathBuf,
    );

    fn stuck_output(name: &str, block_when_full: bool) -> Probe {
        let dir =
            std::env::temp_dir().join(format!("fumidai-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = Output::spawn(
            vec![SinkSpec {
                name: name.into(),
                sink: Box::new(Stuck {
                    release: Arc::clone(&release),
                    got: Arc::clone(&got),
                }),
                filter: TypeFilter::all(),
                spool_types: TypeFilter::only(&[EventType::Alert]),
                spool_path: dir.join(format!("{name}.spool")),
                spool_max_bytes: 1 << 20,
                queue: 2,
                queue_bytes: 1 << 20,
            }],
            OutputOptions {
                flush_every: Duration::from_millis(50),
                block_when_full,
                reopen: Arc::new(AtomicBool::new(false)),
                budget: Budget::unlimited(),
            },
        )
        .unwrap();
        (out, release, got, dir)
    }

    fn release_collector(r: &(Mutex<bool>, Condvar)) {
        *r.0.lock().unwrap() = true;
        r.1.notify_all();
    }

    /// Live capture and a collector that stops reading: producers never wait;
    /// alerts overflow to the spool and arrive later, all and in order;
    /// flows that did not fit are dropped and counted.
    #[test]
    fn a_stuck_collector_never_blocks_producers_and_loses_no_alert() {
        let (out, release, got, dir) = stuck_output("stuck", false);
        let h = out.handle();
        let (done_tx, done_rx) = mpsc::channel();
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                h.dispatch(batch(i));
            }
            done_tx.send(h.counters()).unwrap();
        });
        // The collector is still stuck: the producer must get through anyway.
        let counters = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a producer waited for a stuck collector");
        producer.join().unwrap();
        assert!(counters.get("output.stuck.spooled") > 0, "{counters:?}");
        release_collector(&release);
        let report = out.finish(Duration::from_secs(20));
        let got = got.lock().unwrap();
        let alerts: Vec<u64> = got
            .iter()
            .filter(|(_, t)| *t == EventType::Alert)
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(alerts.len(), 100, "every alert delivered");
        assert!(
            alerts.windows(2).all(|w| w[0] < w[1]),
            "in order: {alerts:?}"
        );
        let s = &report.sinks[0];
        let flows = got.len() as u64 - 100;
        assert_eq!(
            flows + s.dropped,
            100,
            "each flow delivered or counted as dropped"
        );
        assert!(s.dropped > 0 && s.undelivered == 0, "{s:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The report counts alert lines by signature id, whatever sinks
    /// take them.
    #[test]
    fn alerts_are_counted_by_signature_id() {
        let (out, release, _got, dir) = stuck_output("sids", true);
        release_collector(&release);
        let h = out.handle();
        for (i, sid) in [9700002u64, 9700003, 9700002].into_iter().enumerate() {
            let mut b = EveBatch::default();
            b.push(&Record {
                header: Header::new(EveTime(Timestamp::from_secs(i as u64)), EventType::Alert),
                body: serde_json::json!({ "alert": { "gid": 1, "signature_id": sid } }),
            });
            b.push(&Record {
                header: Header::new(EveTime(Timestamp::from_secs(i as u64)), EventType::Flow),
                body: serde_json::json!({ "flow": { "signature_id": 1 } }),
            });
            h.dispatch(b);
        }
        let report = out.finish(Duration::from_secs(20));
        assert_eq!(
            report.alerts.into_iter().collect::<Vec<_>>(),
            vec![(9700002, 2), (9700003, 1)]
        );
        assert_eq!(report.events[EventType::Alert.index()], 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A replay waits for a slow collector instead: nothing is dropped,
    /// every line arrives in order.
    #[test]
    fn a_replay_waits_for_a_slow_collector_and_loses_nothing() {
        let (out, release, got, dir) = stuck_output("slow", true);
        let h = out.handle();
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                h.dispatch(batch(i));
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        release_collector(&release);
        producer.join().unwrap();
        let report = out.finish(Duration::from_secs(20));
        let got = got.lock().unwrap();
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len(), 200, "every line delivered");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
        let s = &report.sinks[0];
        assert_eq!((s.dropped, s.spooled, s.written), (0, 0, 200), "{s:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
