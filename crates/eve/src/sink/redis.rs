//! Redis: `RPUSH` to a list, `XADD` to a stream, or `PUBLISH` to a channel,
//! pipelined, speaking RESP directly (no client library: the protocol is a
//! few lines and the sensor needs control over timeouts and retries).
//!
//! Exactly once for lists and streams. A batch whose replies were lost with
//! the connection may or may not have been applied, and is sent again. So
//! lists and streams are written by a small Lua script that also keeps the
//! highest sequence number applied (`<key>:fumidai-seq`); Redis runs a script
//! atomically, so a line at or below that mark was applied and is skipped.
//! Sequence numbers grow across restarts (they start at the start-up time in
//! microseconds), and lines are sent in order, so the mark only grows.
//! `PUBLISH` has no memory to protect (a subscriber that is not listening
//! misses it anyway) and is sent as is.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use super::{Line, Sink};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// `RPUSH key line`
    List,
    /// `XADD key * event line`
    Stream,
    /// `PUBLISH key line`
    Channel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTarget {
    Tcp(String, u16),
    Unix(PathBuf),
}

const SCRIPT_LIST: &str = "local mark = tonumber(redis.call('GET', KEYS[2]) or '0') \
local top = mark \
for i = 1, #ARGV, 2 do \
  local s = tonumber(ARGV[i]) \
  if s > mark then redis.call('RPUSH', KEYS[1], ARGV[i + 1]) if s > top then top = s end end \
end \
redis.call('SET', KEYS[2], string.format('%.0f', top)) \
return 0";

const SCRIPT_STREAM: &str = "local mark = tonumber(redis.call('GET', KEYS[2]) or '0') \
local top = mark \
for i = 1, #ARGV, 2 do \
  local s = tonumber(ARGV[i]) \
  if s > mark then redis.call('XADD', KEYS[1], '*', 'event', ARGV[i + 1]) if s > top then top = s end end \
end \
redis.call('SET', KEYS[2], string.format('%.0f', top)) \
return 0";

trait Stream: Read + Write + Send {}
impl Stream for TcpStream {}
impl Stream for UnixStream {}

pub struct RedisSink {
    target: RedisTarget,
    mode: RedisMode,
    key: String,
    mark_key: String,
    /// Lines per command (script call or pipelined PUBLISHes per round trip).
    batch: usize,
    conn: Option<BufReader<Box<dyn Stream>>>,
    sha: String,
    out: Vec<u8>,
}

impl RedisSink {
    pub fn new(target: RedisTarget, mode: RedisMode, key: &str, batch: usize) -> Self {
        RedisSink {
            target,
            mode,
            key: key.to_owned(),
            mark_key: format!("{key}:fumidai-seq"),
            batch: batch.max(1),
            conn: None,
            sha: String::new(),
            out: Vec::new(),
        }
    }

    fn script(&self) -> &'static str {
        match self.mode {
            RedisMode::Stream => SCRIPT_STREAM,
            _ => SCRIPT_LIST,
        }
    }

    fn roundtrip(&mut self, replies: usize) -> io::Result<Vec<Reply>> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        conn.get_mut().write_all(&self.out)?;
        (0..replies).map(|_| read_reply(conn)).collect()
    }

    fn send_inner(&mut self, lines: &[Line<'_>]) -> io::Result<()> {
        self.out.clear();
        let mut calls = 0;
        for chunk in lines.chunks(self.batch) {
            calls += match self.mode {
                RedisMode::Channel => {
                    for l in chunk {
                        command(&mut self.out, &[b"PUBLISH", self.key.as_bytes(), l.json()]);
                    }
                    chunk.len()
                }
                RedisMode::List | RedisMode::Stream => {
                    let seqs: Vec<String> = chunk.iter().map(|l| l.seq.to_string()).collect();
                    let mut args: Vec<&[u8]> = vec![
                        b"EVALSHA",
                        self.sha.as_bytes(),
                        b"2",
                        self.key.as_bytes(),
                        self.mark_key.as_bytes(),
                    ];
                    for (l, s) in chunk.iter().zip(&seqs) {
                        args.push(s.as_bytes());
                        args.push(l.json());
                    }
                    command(&mut self.out, &args);
                    1
                }
            };
        }
        for r in self.roundtrip(calls)? {
            if let Reply::Error(e) = r {
                // NOSCRIPT after a restart without persistence, LOADING while
                // it reads its data, OOM...: treat as down and retry later.
                return Err(io::Error::other(format!("redis: {e}")));
            }
        }
        Ok(())
    }
}

impl Sink for RedisSink {
    fn describe(&self) -> String {
        let mode = match self.mode {
            RedisMode::List => "list",
            RedisMode::Stream => "stream",
            RedisMode::Channel => "channel",
        };
        match &self.target {
            RedisTarget::Tcp(h, p) => format!("redis://{h}:{p} {mode} {}", self.key),
            RedisTarget::Unix(p) => format!("redis:{} {mode} {}", p.display(), self.key),
        }
    }

    fn connect(&mut self) -> io::Result<()> {
        self.conn = None;
        let s: Box<dyn Stream> = match &self.target {
            RedisTarget::Tcp(h, p) => {
                let addr = (h.as_str(), *p).to_socket_addrs()?.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{h}: no address"))
                })?;
                let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Box::new(s)
            }
            RedisTarget::Unix(p) => {
                let s = UnixStream::connect(p)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Box::new(s)
            }
        };
        self.conn = Some(BufReader::new(s));
        if self.mode != RedisMode::Channel {
            let script = self.script();
            self.out.clear();
            command(&mut self.out, &[b"SCRIPT", b"LOAD", script.as_bytes()]);
            match self.roundtrip(1)?.pop() {
                Some(Reply::Bulk(sha)) => self.sha = String::from_utf8_lossy(&sha).into_owned(),
                other => {
                    self.conn = None;
                    return Err(io::Error::other(format!(
                        "redis: SCRIPT LOAD answered {other:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        match self.send_inner(lines) {
            Ok(()) => Ok(0),
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

/// Appends one RESP command (an array of bulk strings).
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for a in args {
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple,
    Error(String),
    Int,
    Bulk(Vec<u8>),
    Nil,
    Array,
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut s = String::new();
    if r.read_line(&mut s)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "redis closed the connection",
        ));
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis: bad reply {what:?}"),
    )
}

fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| bad(&line))?;
    match kind {
        "+" => Ok(Reply::Simple),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => Ok(Reply::Int),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad(&line))?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut v = vec![0; n as usize + 2];
            r.read_exact(&mut v)?;
            v.truncate(n as usize);
            Ok(Reply::Bulk(v))
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad(&line))?;
            for _ in 0..n.max(0) {
                read_reply(r)?;
            }
            Ok(Reply::Array)
        }
        _ => Err(bad(&line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_encoding_and_replies() {
        let mut out = Vec::new();
        command(&mut out, &[b"RPUSH", b"k", b"{\"a\":1}"]);
        assert_eq!(out, b"*3\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$7\r\n{\"a\":1}\r\n");
        let mut r = io::Cursor::new(
            &b"+OK\r\n-ERR x\r\n:3\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nz\r\n"[..],
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Simple);
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Error("ERR x".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Int);
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(b"abc".to_vec()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Nil);
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Array);
        assert!(read_reply(&mut r).is_err());
    }
}
