//! Reading the fleet stream with a consumer group, and the checkpoint that
//! makes a restart lose and repeat nothing.
//!
//! Entries are read with `XREADGROUP` as this aggregator's consumer (its
//! name). They stay pending (unacknowledged) until a checkpoint: one Lua
//! script saves the aggregator's state (windows, sensors, counters, the
//! outbox of records to write) and acknowledges every entry read since the
//! last one, atomically. A `kill -9` therefore leaves the last checkpoint
//! and the entries read after it pending; on restart the aggregator loads
//! the checkpoint and reads its pending entries first (`XREADGROUP ... 0`),
//! then new ones (`>`): each entry is counted exactly once.
//!
//! Several aggregators share the work by key (`input.shards`, each started
//! with its `--shard`): each is also a router. Routers read the fleet
//! stream in one group, and forward each entry to the shard streams
//! (`<key>:shard:<n>`) of the keys it concerns — its victim, stepping stone
//! or source, by a hash of the address — acknowledging it in the same
//! script, so an entry is forwarded once even if a router dies. Each
//! aggregator analyses its own shard stream as above. Entries no detector
//! uses are acknowledged without being forwarded; `stats` records (the
//! sensors' clocks) go to every shard.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use fumidai_eve::sink::RedisConn;
use fumidai_eve::sink::redis::to_io;
use redis::Value;

use crate::config::InputConf;
use crate::detect::{AMP_SIDS, PROBE_SIDS, STONE_SIDS};
use crate::line::Line;

/// Saves the state and acknowledges; on a shard stream the entries are
/// also deleted (no one else reads it).
const CHECKPOINT: &str = "redis.call('SET', KEYS[1], ARGV[2]) \
local i = 4 \
while i <= #ARGV do \
  local j = math.min(i + 999, #ARGV) \
  redis.call('XACK', KEYS[2], ARGV[1], unpack(ARGV, i, j)) \
  if ARGV[3] == '1' then redis.call('XDEL', KEYS[2], unpack(ARGV, i, j)) end \
  i = j + 1 \
end \
return 0";

/// Forwards entries to shard streams and acknowledges them on the fleet
/// stream. ARGV: group, then per entry: id, shard mask (comma-separated
/// shard numbers, empty: none), line.
const ROUTE: &str = "local n = 0 \
for i = 2, #ARGV, 3 do \
  for s in string.gmatch(ARGV[i + 1], '[^,]+') do \
    redis.call('XADD', KEYS[1] .. ':shard:' .. s, '*', 'event', ARGV[i + 2]) \
    n = n + 1 \
  end \
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) \
end \
return n";

/// One entry read: its id and its EVE line.
pub struct Entry {
    pub id: String,
    pub line: Vec<u8>,
}

pub struct StreamInput {
    conn: RedisConn,
    con: Option<redis::Connection>,
    /// The fleet stream.
    key: String,
    group: String,
    consumer: String,
    /// The stream this aggregator analyses: the fleet stream, or its shard's.
    source: String,
    shards: u32,
    count: usize,
    block_ms: u64,
    claim_idle_ms: u64,
    /// Reading this consumer's pending entries first (after a restart).
    backlog: bool,
    /// The newest entry this process has read: pending entries are read
    /// from after it, so that one read but not yet acknowledged (before the
    /// next checkpoint, or across a reconnection) is never counted twice.
    last_read: Option<String>,
    route_backlog: bool,
    checkpoint_key: String,
    /// Entries analysed since the last checkpoint.
    pub unacked: Vec<String>,
    pub redelivered: u64,
    pub forwarded: u64,
    pub not_forwarded: u64,
}

impl StreamInput {
    pub fn new(conn: RedisConn, c: &InputConf, name: &str, shard: u32) -> Self {
        let source = if c.shards > 1 {
            format!("{}:shard:{shard}", c.key)
        } else {
            c.key.clone()
        };
        StreamInput {
            conn,
            con: None,
            checkpoint_key: format!("{}:checkpoint:{}:{shard}", c.group, c.key),
            key: c.key.clone(),
            group: c.group.clone(),
            consumer: name.to_owned(),
            source,
            shards: c.shards,
            count: c.count,
            block_ms: c.block_ms,
            claim_idle_ms: c.claim_idle_ms,
            backlog: true,
            last_read: None,
            route_backlog: true,
            unacked: Vec::new(),
            redelivered: 0,
            forwarded: 0,
            not_forwarded: 0,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} stream {} group {}",
            self.conn.describe(),
            self.source,
            self.group
        )
    }

    fn con(&mut self) -> io::Result<&mut redis::Connection> {
        if self.con.is_none() {
            let mut c = self.conn.connect()?;
            for stream in [&self.key, &self.source] {
                let r: redis::RedisResult<()> = redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(stream)
                    .arg(&self.group)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query(&mut c);
                if let Err(e) = r
                    && e.code() != Some("BUSYGROUP")
                {
                    return Err(to_io(e));
                }
            }
            // The read may block for block_ms: give the reply that long.
            c.set_read_timeout(Some(
                Duration::from_millis(self.block_ms) + fumidai_eve::sink::redis::IO_TIMEOUT,
            ))
            .map_err(to_io)?;
            self.con = Some(c);
            // Pending entries first, after every (re)connection.
            self.backlog = true;
            self.route_backlog = true;
        }
        self.con
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))
    }

    fn fail<T>(&mut self, e: io::Error) -> io::Result<T> {
        self.con = None;
        Err(e)
    }

    /// The saved state, if there is one.
    pub fn load_checkpoint(&mut self) -> io::Result<Option<Vec<u8>>> {
        let key = self.checkpoint_key.clone();
        let r = redis::cmd("GET")
            .arg(&key)
            .query::<Option<Vec<u8>>>(self.con()?);
        r.map_err(to_io).or_else(|e| self.fail(e))
    }

    /// Saves `state` and acknowledges what was read since the last one.
    pub fn checkpoint(&mut self, state: &[u8]) -> io::Result<()> {
        let sharded = if self.shards > 1 { "1" } else { "0" };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(CHECKPOINT)
            .arg(2)
            .arg(&self.checkpoint_key)
            .arg(&self.source)
            .arg(&self.group)
            .arg(state)
            .arg(sharded);
        for id in &self.unacked {
            cmd.arg(id);
        }
        let r = cmd.query::<i64>(self.con()?);
        match r {
            Ok(_) => {
                self.unacked.clear();
                Ok(())
            }
            Err(e) => self.fail(to_io(e)),
        }
    }

    /// The next entries to analyse (empty after `block_ms` without any).
    pub fn read(&mut self) -> io::Result<Vec<Entry>> {
        if self.shards > 1 {
            self.route()?;
        }
        let backlog = self.backlog;
        let id = match (&self.last_read, backlog) {
            (_, false) => ">".to_owned(),
            (Some(last), true) => last.clone(),
            (None, true) => "0".to_owned(),
        };
        let (group, consumer, source, count) = (
            self.group.clone(),
            self.consumer.clone(),
            self.source.clone(),
            self.count,
        );
        let block = if backlog || self.shards > 1 {
            // Routing needs its turn: short blocks on the shard stream.
            if backlog { 0 } else { self.block_ms.min(100) }
        } else {
            self.block_ms
        };
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&group)
            .arg(&consumer)
            .arg("COUNT")
            .arg(count);
        if !backlog {
            cmd.arg("BLOCK").arg(block);
        }
        cmd.arg("STREAMS").arg(&source).arg(id);
        let r = cmd.query::<Value>(self.con()?);
        let v = match r {
            Ok(v) => v,
            Err(e) => return self.fail(to_io(e)),
        };
        let entries = entries_of(&v);
        if backlog {
            if entries.is_empty() {
                self.backlog = false;
            } else {
                self.redelivered += entries.len() as u64;
            }
        }
        if let Some(e) = entries.last() {
            self.last_read = Some(e.id.clone());
        }
        self.unacked.extend(entries.iter().map(|e| e.id.clone()));
        Ok(entries)
    }

    /// Routes a batch of the fleet stream to the shard streams.
    fn route(&mut self) -> io::Result<()> {
        let backlog = self.route_backlog;
        let (key, group, consumer, count) = (
            self.key.clone(),
            self.group.clone(),
            self.consumer.clone(),
            self.count,
        );
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&group)
            .arg(&consumer)
            .arg("COUNT")
            .arg(count);
        if !backlog {
            cmd.arg("BLOCK").arg(self.block_ms.min(100));
        }
        cmd.arg("STREAMS")
            .arg(&key)
            .arg(if backlog { "0" } else { ">" });
        let v = match cmd.query::<Value>(self.con()?) {
            Ok(v) => v,
            Err(e) => return self.fail(to_io(e)),
        };
        let mut entries = entries_of(&v);
        if backlog && entries.is_empty() {
            self.route_backlog = false;
            // Entries another router took and never forwarded (it died).
            entries = self.claim()?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        let mut script = redis::cmd("EVAL");
        script.arg(ROUTE).arg(1).arg(&key).arg(&group);
        for e in &entries {
            let shards = shards_of(&e.line, self.shards);
            if shards.is_empty() {
                self.not_forwarded += 1;
            }
            let mask: Vec<String> = shards.iter().map(u32::to_string).collect();
            script.arg(&e.id).arg(mask.join(",")).arg(&e.line);
        }
        match script.query::<i64>(self.con()?) {
            Ok(n) => {
                self.forwarded += n.max(0) as u64;
                Ok(())
            }
            Err(e) => self.fail(to_io(e)),
        }
    }

    fn claim(&mut self) -> io::Result<Vec<Entry>> {
        let (key, group, consumer, idle, count) = (
            self.key.clone(),
            self.group.clone(),
            self.consumer.clone(),
            self.claim_idle_ms,
            self.count,
        );
        let r = redis::cmd("XAUTOCLAIM")
            .arg(&key)
            .arg(&group)
            .arg(&consumer)
            .arg(idle)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query::<Value>(self.con()?);
        match r {
            // [next-id, [entries], [deleted ids]]
            Ok(Value::Array(parts)) => Ok(parts.get(1).map(entry_list).unwrap_or_default()),
            Ok(_) => Ok(Vec::new()),
            Err(e) => self.fail(to_io(e)),
        }
    }
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// `[[id, [field, value, ...]], ...]`: each entry's id and its `event` value.
fn entry_list(v: &Value) -> Vec<Entry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(pair) = item else { continue };
        let (Some(id), Some(Value::Array(fields))) = (pair.first().and_then(bytes_of), pair.get(1))
        else {
            continue;
        };
        let line = fields
            .chunks(2)
            .find(|kv| kv.first().and_then(bytes_of).as_deref() == Some(b"event"))
            .and_then(|kv| kv.get(1).and_then(bytes_of))
            .unwrap_or_default();
        out.push(Entry {
            id: String::from_utf8_lossy(&id).into_owned(),
            line,
        });
    }
    out
}

/// An XREADGROUP reply (RESP2 arrays or RESP3 maps): the entries of its
/// one stream.
fn entries_of(v: &Value) -> Vec<Entry> {
    match v {
        Value::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                Value::Array(kv) => kv.get(1).map(entry_list),
                _ => None,
            })
            .flatten()
            .collect(),
        Value::Map(streams) => streams.iter().flat_map(|(_, e)| entry_list(e)).collect(),
        _ => Vec::new(),
    }
}

/// The shard of an address: FNV-1a of its bytes, fixed for all time, so
/// that every router sends a key to the same shard.
pub fn shard_of(ip: IpAddr, shards: u32) -> u32 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    (fumidai_eve::identity::fnv1a(&bytes) % u64::from(shards.max(1))) as u32
}

/// The shards a record concerns: those of its keys (victim, stepping stone,
/// source), every shard for `stats`, none for what no detector uses.
pub fn shards_of(line: &[u8], shards: u32) -> Vec<u32> {
    let Ok(l) = Line::parse(line) else {
        return Vec::new();
    };
    let mut keys: Vec<IpAddr> = Vec::new();
    match l.event_type.as_ref() {
        "stats" => return (0..shards).collect(),
        "flow" => {
            // Either end may be the victim, the reflector or the prober.
            keys.extend(l.src_ip);
            keys.extend(l.dest_ip);
        }
        "alert" => {
            let sid = l.alert.as_ref().map_or(0, |a| a.signature_id);
            if STONE_SIDS.contains(&sid) {
                keys.extend(
                    l.amplification
                        .as_ref()
                        .and_then(|a| a.reflector)
                        .or(l.dest_ip),
                );
            }
            if PROBE_SIDS.contains(&sid) {
                keys.extend(l.src_ip);
            }
            if AMP_SIDS.contains(&sid) {
                keys.extend(l.amplification.as_ref().and_then(|a| a.victim).or(l.src_ip));
            }
        }
        _ => {}
    }
    let mut out: Vec<u32> = keys.into_iter().map(|k| shard_of(k, shards)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resp2_replies() {
        let b = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let v = Value::Array(vec![Value::Array(vec![
            b("fumidai"),
            Value::Array(vec![
                Value::Array(vec![b("1-0"), Value::Array(vec![b("event"), b("{}")])]),
                Value::Array(vec![
                    b("1-1"),
                    Value::Array(vec![b("other"), b("x"), b("event"), b("{\"a\":1}")]),
                ]),
            ]),
        ])]);
        let e = entries_of(&v);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[1].id.as_str(), e[1].line.as_slice()),
            ("1-1", &b"{\"a\":1}"[..])
        );
        assert!(entries_of(&Value::Nil).is_empty());
    }

    #[test]
    fn a_record_goes_to_the_shards_of_its_keys() {
        let flow = br#"{"timestamp":"2026-11-29T11:52:36.120000+0000","event_type":"flow","src_ip":"192.0.2.77","dest_ip":"198.51.100.11","proto":"UDP"}"#;
        let s = shards_of(flow, 4);
        let want = {
            let mut v = vec![
                shard_of("192.0.2.77".parse().unwrap(), 4),
                shard_of("198.51.100.11".parse().unwrap(), 4),
            ];
            v.sort_unstable();
            v.dedup();
            v
        };
        assert_eq!(s, want);
        let stats =
            br#"{"timestamp":"2026-11-29T11:52:36.120000+0000","event_type":"stats","stats":{}}"#;
        assert_eq!(shards_of(stats, 3), vec![0, 1, 2]);
        let http = br#"{"timestamp":"2026-11-29T11:52:36.120000+0000","event_type":"http","src_ip":"192.0.2.77"}"#;
        assert!(shards_of(http, 3).is_empty());
        // Fixed for all time: the same address, the same shard.
        assert_eq!(
            shard_of("10.77.0.2".parse().unwrap(), 1024),
            shard_of("10.77.0.2".parse().unwrap(), 1024)
        );
    }
}
