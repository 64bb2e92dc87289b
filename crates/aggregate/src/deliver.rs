//! Writing the aggregator's records to its outputs, exactly once per output
//! across restarts where the output allows it.
//!
//! Records wait in an outbox, numbered; the outbox is part of the
//! checkpoint, and a record is delivered only once the checkpoint holding
//! it is saved. Each output's highest delivered number is kept too. After a
//! crash the outbox is delivered again from each output's number on, and
//! what the crash hid (delivered, number not yet saved) is found:
//! - redis lists and streams skip it themselves (the sink's exactly-once
//!   mark, under the aggregator's name, with these numbers);
//! - files are read back: the records found at the file's end are not
//!   written again;
//! - syslog and unix sockets cannot be read back: a record delivered in the
//!   instant before a crash may be delivered twice (its `fleet.id` tells).
//!
//! The aggregator does not drop records when an output is down: it stops
//! reading (the stream holds what the sensors write) and retries, so an
//! output's outage delays fleet alerts and loses none.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fumidai_eve::conf::{OutputConf, output_names, type_filter};
use fumidai_eve::sink::{Line, Sink, TypeFilter};
use fumidai_eve::{Counters, EveBatch, EventType};
use serde::{Deserialize, Serialize};

/// One record waiting for its outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub seq: u64,
    pub event_type: String,
    /// The line, without its newline.
    pub line: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub next_seq: u64,
    pub pending: VecDeque<Pending>,
    /// Per output (by its stats name): the highest number delivered.
    pub delivered: BTreeMap<String, u64>,
}

impl Outbox {
    /// Numbers start at the time in microseconds, so that they grow across
    /// runs that keep no checkpoint (a redis output's mark is kept by
    /// Redis, whatever this process remembers).
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        Outbox {
            next_seq: now,
            ..Outbox::default()
        }
    }

    pub fn push(&mut self, batch: &EveBatch) {
        for (t, bytes) in batch.iter() {
            let line = String::from_utf8_lossy(bytes.strip_suffix(b"\n").unwrap_or(bytes));
            self.pending.push_back(Pending {
                seq: self.next_seq,
                event_type: t.as_str().to_owned(),
                line: line.into_owned(),
            });
            self.next_seq += 1;
        }
    }

    /// Drops what every output has.
    pub fn trim(&mut self, outputs: &[String]) {
        let done = outputs
            .iter()
            .map(|n| self.delivered.get(n).copied().unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX);
        while self.pending.front().is_some_and(|p| p.seq <= done) {
            self.pending.pop_front();
        }
    }
}

struct Out {
    name: String,
    sink: Box<dyn Sink>,
    filter: TypeFilter,
    file: Option<PathBuf>,
    connected: bool,
    written: u64,
    errors: u64,
    reconnects: u64,
    duplicates_avoided: u64,
}

pub struct Outputs {
    outs: Vec<Out>,
}

/// Lines sent per call.
const CHUNK: usize = 256;

impl Outputs {
    /// Opens every output; files must open now.
    pub fn open(confs: &[OutputConf], log_dir: &Path, producer: &str) -> anyhow::Result<Self> {
        let mut outs = Vec::new();
        for ((i, o), name) in confs.iter().enumerate().zip(output_names(confs)) {
            let (sink, file) = o
                .open_sink(log_dir, producer)
                .map_err(|e| anyhow::anyhow!("outputs[{i}] ({:?}): {e}", o.filetype))?;
            outs.push(Out {
                name,
                sink,
                filter: type_filter(&o.types),
                file,
                connected: false,
                written: 0,
                errors: 0,
                reconnects: 0,
                duplicates_avoided: 0,
            });
        }
        Ok(Outputs { outs })
    }

    pub fn names(&self) -> Vec<String> {
        self.outs.iter().map(|o| o.name.clone()).collect()
    }

    pub fn describe(&self) -> Vec<(String, String, u64)> {
        self.outs
            .iter()
            .map(|o| (o.name.clone(), o.sink.describe(), o.written))
            .collect()
    }

    /// After a restart: what each file output already holds of the outbox
    /// (delivered just before the crash) counts as delivered.
    pub fn recover(&mut self, outbox: &mut Outbox) {
        for o in &mut self.outs {
            let Some(path) = &o.file else { continue };
            let from = outbox.delivered.get(&o.name).copied().unwrap_or(0);
            let cands: Vec<&Pending> = outbox
                .pending
                .iter()
                .filter(|p| p.seq > from && accepts(&o.filter, &p.event_type))
                .collect();
            if cands.is_empty() {
                continue;
            }
            let want: usize = cands.iter().map(|p| p.line.len() + 1).sum::<usize>() + 4096;
            let Ok(tail) = read_tail(path, want.min(64 << 20)) else {
                continue;
            };
            // The crashed run wrote the first k candidates, in order, as the
            // file's last lines (nothing else writes to it): find the largest k.
            let last: Vec<&str> = tail.lines().collect();
            let k = (1..=cands.len().min(last.len()))
                .rev()
                .find(|&k| {
                    last[last.len() - k..]
                        .iter()
                        .zip(&cands[..k])
                        .all(|(l, c)| *l == c.line)
                })
                .unwrap_or(0);
            if k > 0 {
                o.duplicates_avoided += k as u64;
                tracing::info!(
                    "output {}: {k} records of the last run were already written; not again",
                    o.sink.describe()
                );
                outbox.delivered.insert(o.name.clone(), cands[k - 1].seq);
            }
        }
    }

    /// Delivers the outbox up to (not including) `upto`, retrying outputs
    /// that are down until they take it or `stop` is set. True when every
    /// output has everything.
    pub fn deliver(&mut self, outbox: &mut Outbox, upto: u64, stop: &AtomicBool) -> bool {
        let mut all = true;
        for o in &mut self.outs {
            let from = outbox.delivered.get(&o.name).copied().unwrap_or(0);
            let todo: Vec<&Pending> = outbox
                .pending
                .iter()
                .filter(|p| p.seq > from && p.seq < upto)
                .collect();
            if todo.is_empty() {
                continue;
            }
            let mut backoff = Duration::from_millis(100);
            let mut done = from;
            let mut i = 0;
            while i < todo.len() {
                let chunk = &todo[i..(i + CHUNK).min(todo.len())];
                let lines_text: Vec<(u64, EventType, Vec<u8>)> = chunk
                    .iter()
                    .filter(|p| accepts(&o.filter, &p.event_type))
                    .map(|p| {
                        let mut b = Vec::with_capacity(p.line.len() + 1);
                        b.extend_from_slice(p.line.as_bytes());
                        b.push(b'\n');
                        (p.seq, type_of(&p.event_type), b)
                    })
                    .collect();
                let lines: Vec<Line<'_>> = lines_text
                    .iter()
                    .map(|(seq, t, b)| Line {
                        seq: *seq,
                        event_type: *t,
                        bytes: b,
                    })
                    .collect();
                let r = if !o.connected {
                    o.sink.connect().map(|()| {
                        if o.errors > 0 {
                            o.reconnects += 1;
                        }
                        o.connected = true;
                        0
                    })
                } else {
                    Ok(0)
                }
                .and_then(|_| {
                    if lines.is_empty() {
                        Ok(0)
                    } else {
                        o.sink.send(&lines)
                    }
                })
                .and_then(|n| o.sink.flush().map(|()| n));
                match r {
                    Ok(_) => {
                        o.written += lines.len() as u64;
                        done = chunk.last().map_or(done, |p| p.seq);
                        outbox.delivered.insert(o.name.clone(), done);
                        backoff = Duration::from_millis(100);
                        i += chunk.len();
                    }
                    Err(e) => {
                        o.connected = false;
                        o.errors += 1;
                        if o.errors == 1 || o.errors.is_power_of_two() {
                            tracing::error!(
                                "output {}: {e}; retrying (fleet records wait)",
                                o.sink.describe()
                            );
                        }
                        if stop.load(Ordering::Relaxed) {
                            all = false;
                            break;
                        }
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        let names = self.names();
        outbox.trim(&names);
        all
    }

    /// SIGHUP: files are opened again (after logrotate renamed them).
    pub fn reopen(&mut self) {
        for o in &mut self.outs {
            if let Err(e) = o.sink.reopen() {
                tracing::error!("output {}: {e}", o.sink.describe());
                o.connected = false;
            }
        }
    }

    /// `output.<name>.*` for stats.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for o in &self.outs {
            let k = |f: &str| format!("output.{}.{f}", o.name);
            c.add(k("written"), o.written);
            c.add(k("errors"), o.errors);
            c.add(k("reconnects"), o.reconnects);
        }
        c
    }

    pub fn duplicates_avoided(&self) -> u64 {
        self.outs.iter().map(|o| o.duplicates_avoided).sum()
    }
}

fn type_of(name: &str) -> EventType {
    EventType::from_name(name).unwrap_or(EventType::Alert)
}

fn accepts(f: &TypeFilter, name: &str) -> bool {
    f.accepts(type_of(name))
}

/// The last `n` bytes of a file, from a line start.
fn read_tail(path: &Path, n: usize) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(n as u64);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::with_capacity((len - from) as usize);
    f.read_to_end(&mut buf)?;
    if from > 0 {
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                buf.drain(..=i);
            }
            None => buf.clear(),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fumidai_eve::conf::FileType;

    fn batch(n: usize) -> EveBatch {
        let mut b = EveBatch::default();
        for i in 0..n {
            b.push(&fumidai_eve::Record {
                header: fumidai_eve::Header::new(
                    fumidai_eve::EveTime::from_micros(i as u64),
                    EventType::Alert,
                ),
                body: serde_json::json!({ "n": i }),
            });
        }
        b
    }

    /// A crash after the file got the records and before their numbers were
    /// saved: the next run finds them at the file's end and does not write
    /// them again; the rest it writes.
    #[test]
    fn records_a_crash_hid_are_found_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let conf = vec![OutputConf {
            filetype: FileType::Regular,
            filename: "fleet.json".into(),
            ..OutputConf::default()
        }];
        let stop = AtomicBool::new(false);
        let mut outbox = Outbox::new();
        outbox.push(&batch(5));
        let saved = outbox.clone(); // the checkpoint, before delivery
        let mut outs = Outputs::open(&conf, dir.path(), "t").unwrap();
        assert!(outs.deliver(&mut outbox, u64::MAX, &stop));
        drop(outs); // the crash: delivered, not saved
        let mut outbox = saved;
        outbox.push(&batch(2));
        let mut outs = Outputs::open(&conf, dir.path(), "t").unwrap();
        outs.recover(&mut outbox);
        assert_eq!(outs.duplicates_avoided(), 5);
        assert!(outs.deliver(&mut outbox, u64::MAX, &stop));
        let text = std::fs::read_to_string(dir.path().join("fleet.json")).unwrap();
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(outbox.pending.is_empty());
    }
}
