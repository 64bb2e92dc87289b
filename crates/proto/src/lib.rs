//! Application-layer parsers for fumidai.
//!
//! Parsers know nothing about packets, flows or EVE: they turn bytes into typed
//! transactions. TCP protocols implement [`StreamParser`] and are driven by a
//! [`StreamDriver`], which keeps whatever a parser has not consumed yet and
//! presents it again with the next bytes. UDP protocols are plain functions
//! over one datagram.
//!
//! # The stream contract
//!
//! * `parse(dir, input)` consumes a prefix of `input` and returns its length.
//!   Bytes it does not consume are handed back, followed by newer bytes, on
//!   the next call for that direction. Returning 0 means "need more bytes" or
//!   "waiting for the other direction" (e.g. a CONNECT awaiting its answer).
//! * The events a parser emits depend only on the byte streams and on the
//!   order in which the two directions were offered, never on how a direction
//!   was cut into calls: feeding a stream in one piece or split at any point
//!   yields the same events (each parser has property tests for this).
//! * A parser never panics, whatever the bytes. Every buffer or list it keeps
//!   is bounded; hitting a bound is reported as an anomaly event, not a crash.
//! * `gap(dir, len)` says `len` bytes of `dir` were lost (capture loss, a
//!   reassembly hole that never filled). The parser resynchronises (e.g. skips
//!   to the next line that looks like a request) instead of misparsing.
//! * `end(dir)` says `dir` has ended (FIN, RST, flow timeout). Transactions
//!   still open are completed so they can be logged.
//! * Transactions are owned by the parser and numbered from 0 in the order
//!   they start; events name them by that number. The caller reads them with
//!   the parser's accessors and removes them once logged.

#![forbid(unsafe_code)]

pub mod dns;
pub mod driver;
pub mod heap;
pub mod http;
pub mod irc;
pub mod ntp;
pub mod probe;
pub mod shellshock;
pub mod smtp;
pub mod socks;
pub mod xmlrpc;

pub use driver::StreamDriver;
pub use probe::{AppProto, Detection, detect};

pub use fumidai_wire::Direction;

/// A parser for one TCP connection's application-layer bytes.
pub trait StreamParser {
    /// What the parser reports: transactions started, progressed, completed,
    /// anomalies, and the hand-over to a tunnelled protocol.
    type Event;

    /// Parses a prefix of `input` (bytes travelling in `dir`), pushes the
    /// resulting events onto `events` and returns how many bytes it consumed.
    fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<Self::Event>) -> usize;

    /// `len` bytes travelling in `dir` were lost.
    fn gap(&mut self, dir: Direction, len: u64, events: &mut Vec<Self::Event>);

    /// No more bytes will travel in `dir`.
    fn end(&mut self, dir: Direction, events: &mut Vec<Self::Event>);

    /// `dir` is ending with `rest` left unconsumed (a last line without its
    /// line end, say): what a parser that reads such a line as complete,
    /// as libhtp does at the end of a stream, makes of it. Called before
    /// [`end`](Self::end); by default the bytes are dropped.
    fn unterminated(&mut self, _dir: Direction, _rest: &[u8], _events: &mut Vec<Self::Event>) {}
}

/// What a protocol's probe concludes from the first bytes of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The bytes are this protocol's opening.
    Match,
    /// The bytes cannot be this protocol's opening.
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
}
