//! Where EVE lines go: the sink kinds of suricata.yaml's `eve-log`
//! (`regular`, `unix_stream`, `unix_dgram`, `syslog`, `redis`).
//!
//! A sink only knows how to reach its destination. Queueing, spooling while
//! it is down, reconnect backoff and counting live in [`crate::output`], so
//! every kind gets the same delivery guarantees.

use std::io;

use crate::EventType;

pub mod file;
pub mod redis;
pub mod syslog;
pub mod unix;

pub use file::{FileSink, Rotation};
pub use redis::{RedisConn, RedisMode, RedisSink, RedisTarget, Secret, TlsFiles, Trim};
pub use syslog::{SyslogSink, SyslogTransport};
pub use unix::{UnixDgramSink, UnixStreamSink};

/// Which event types a sink takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeFilter {
    allowed: [bool; EventType::ALL.len()],
}

impl TypeFilter {
    /// Every event type.
    pub fn all() -> Self {
        TypeFilter {
            allowed: [true; EventType::ALL.len()],
        }
    }

    /// Only the listed types.
    pub fn only(types: &[EventType]) -> Self {
        let mut allowed = [false; EventType::ALL.len()];
        for t in types {
            allowed[t.index()] = true;
        }
        TypeFilter { allowed }
    }

    pub fn accepts(&self, t: EventType) -> bool {
        self.allowed[t.index()]
    }
}

/// One line handed to a sink: its per-sink sequence number (increasing in
/// delivery order, used by sinks that can deduplicate a retried batch) and
/// the EVE line, newline included.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    pub seq: u64,
    pub event_type: EventType,
    pub bytes: &'a [u8],
}

impl Line<'_> {
    /// The JSON without its trailing newline.
    pub fn json(&self) -> &[u8] {
        self.bytes.strip_suffix(b"\n").unwrap_or(self.bytes)
    }
}

/// An output for EVE lines.
pub trait Sink: Send {
    /// A short name for logs (`redis://127.0.0.1:6379/fumidai`).
    fn describe(&self) -> String;
    /// Opens the file or connects the socket. Called before the first
    /// write and, after an error, until it succeeds.
    fn connect(&mut self) -> io::Result<()>;
    /// Delivers `lines` in order. `Ok(n)`: all were handled, `n` of them
    /// refused by the destination for good (a datagram too large) and
    /// dropped. `Err`: the sink is down; the caller keeps the lines, calls
    /// `connect` again and retries them.
    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64>;
    /// Pushes buffered lines out.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Re-opens the destination (SIGHUP: log rotation).
    fn reopen(&mut self) -> io::Result<()> {
        self.connect()
    }
    /// Time-based rotation, checked when idle.
    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Errors that mean one datagram cannot be delivered, whatever we retry.
pub(crate) fn datagram_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMSGSIZE)
}
