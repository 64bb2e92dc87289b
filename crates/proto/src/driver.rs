//! Drives a [`StreamParser`] over a byte stream delivered in arbitrary pieces.
//!
//! The driver owns the bytes a parser has seen but not consumed (a partial
//! line, a header block still arriving) so that parsers can be written as
//! functions over whole slices. The common case — the parser consumes
//! everything it is given — copies nothing.

use crate::{Direction, StreamParser};

/// What a call to the driver did besides parsing, for the caller's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedOutcome {
    /// Bytes thrown away because the parser left more than the driver's
    /// `max_pending` unconsumed; the parser was told about them as a gap.
    pub overflow: u64,
}

/// A byte buffer with a read offset, so that consuming a prefix is O(1).
#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    head: usize,
}

impl Pending {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn consume(&mut self, n: usize) {
        self.head += n;
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    fn push(&mut self, data: &[u8]) {
        // Compact before growing so a long-lived buffer does not creep.
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
    }

    fn take(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        out.drain(..self.head);
        self.head = 0;
        out
    }

    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Feeds one connection's two byte streams to a parser.
#[derive(Debug)]
pub struct StreamDriver<P> {
    parser: P,
    pending: [Pending; 2],
    max_pending: usize,
}

impl<P: StreamParser> StreamDriver<P> {
    /// `max_pending` bounds what the driver keeps per direction for a parser
    /// that is not consuming; beyond it the bytes are dropped as a gap.
    pub fn new(parser: P, max_pending: usize) -> Self {
        StreamDriver {
            parser,
            pending: [Pending::default(), Pending::default()],
            max_pending: max_pending.max(1),
        }
    }

    /// The parser, to read its transactions.
    pub fn parser(&self) -> &P {
        &self.parser
    }

    /// The parser, to remove transactions once they are logged.
    pub fn parser_mut(&mut self) -> &mut P {
        &mut self.parser
    }

    /// Gives up the parser and the unconsumed bytes of each direction
    /// (to-server first), e.g. when a tunnel opens and the rest of the
    /// connection belongs to another protocol.
    pub fn into_parts(mut self) -> (P, Vec<u8>, Vec<u8>) {
        let ts = self.pending[0].take();
        let tc = self.pending[1].take();
        (self.parser, ts, tc)
    }

    /// Unconsumed bytes held for `dir`.
    pub fn pending(&self, dir: Direction) -> &[u8] {
        self.pending[dir.index()].bytes()
    }

    /// Heap bytes held by the driver (for memory accounting).
    pub fn memuse(&self) -> usize {
        self.pending[0].capacity() + self.pending[1].capacity()
    }

    /// Offers `data`, travelling in `dir`, to the parser.
    ///
    /// The two directions take turns one parse call at a time whenever both
    /// have bytes: a parser that waits on one side for the other (a CONNECT
    /// for its answer, a pipelined command for its reply) then sees the
    /// messages of the two sides in the order they could have happened,
    /// however the bytes were cut.
    pub fn feed(&mut self, dir: Direction, data: &[u8], events: &mut Vec<P::Event>) -> FeedOutcome {
        let mut outcome = FeedOutcome::default();
        let (i, other) = (dir.index(), dir.reverse());
        let mut rest = data;
        if self.pending[i].is_empty() {
            // Fast path: parse straight from the caller's slice.
            while !rest.is_empty() {
                let n = self.parser.parse(dir, rest, events).min(rest.len());
                if n == 0 {
                    break;
                }
                rest = &rest[n..];
                if !self.pending[other.index()].is_empty() {
                    self.step(other, events);
                }
            }
        }
        if !rest.is_empty() {
            self.pending[i].push(rest);
        }
        self.alternate(dir, events);
        let held = self.pending[i].len();
        if held > self.max_pending {
            self.pending[i].consume(held);
            outcome.overflow += held as u64;
            self.parser.gap(dir, held as u64, events);
        }
        outcome
    }

    /// Bytes travelling in `dir` were lost. What the parser had not consumed
    /// can never be completed, so it is part of the gap.
    pub fn gap(&mut self, dir: Direction, len: u64, events: &mut Vec<P::Event>) {
        let p = &mut self.pending[dir.index()];
        let lost = len + p.len() as u64;
        p.consume(p.len());
        self.parser.gap(dir, lost, events);
        self.alternate(dir.reverse(), events);
    }

    /// No more bytes will travel in `dir`.
    pub fn end(&mut self, dir: Direction, events: &mut Vec<P::Event>) {
        let p = &mut self.pending[dir.index()];
        if !p.is_empty() {
            self.parser.unterminated(dir, p.bytes(), events);
            p.consume(p.len());
        }
        self.parser.end(dir, events);
    }

    /// One parse call on what is pending in `dir`; true if it consumed.
    fn step(&mut self, dir: Direction, events: &mut Vec<P::Event>) -> bool {
        let p = &mut self.pending[dir.index()];
        if p.is_empty() {
            return false;
        }
        let input = p.bytes();
        let n = self.parser.parse(dir, input, events).min(input.len());
        p.consume(n);
        n > 0
    }

    /// Steps the two directions in turn, starting with `first`, until
    /// neither consumes anything. Every step that counts consumes a byte,
    /// so this ends.
    fn alternate(&mut self, first: Direction, events: &mut Vec<P::Event>) {
        let mut dir = first;
        let mut idle = 0;
        while idle < 2 {
            if self.step(dir, events) {
                idle = 0;
            } else {
                idle += 1;
            }
            dir = dir.reverse();
        }
    }
}

/// Drives `parser` as the input itself says, the form of the fuzz
/// targets' inputs and of the regression seeds they leave: each step reads
/// a control byte (bit 0 the direction, bits 1–6 a piece length of 0–63,
/// bit 7 a gap of that length plus one instead of bytes; 0xff ends both
/// directions), so that the cutting, gaps and repeated ends are explored
/// too. `after_events` sees the events of each step, both ends included.
pub fn play_script<P: StreamParser>(
    parser: P,
    data: &[u8],
    mut after_events: impl FnMut(&mut StreamDriver<P>, &[P::Event]),
) {
    let mut d = StreamDriver::new(parser, 4096);
    let mut ev = Vec::new();
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let len = usize::from((ctl >> 1) & 0x3f).min(tail.len());
        let before = ev.len();
        if ctl == 0xff {
            d.end(Direction::ToServer, &mut ev);
            d.end(Direction::ToClient, &mut ev);
            rest = tail;
        } else if ctl & 0x80 != 0 {
            d.gap(dir, len as u64 + 1, &mut ev);
            rest = tail;
        } else {
            d.feed(dir, &tail[..len], &mut ev);
            rest = &tail[len..];
        }
        after_events(&mut d, &ev[before..]);
    }
    let before = ev.len();
    d.end(Direction::ToServer, &mut ev);
    d.end(Direction::ToClient, &mut ev);
    after_events(&mut d, &ev[before..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line parser that emits each complete line, used to test the driver.
    #[derive(Default)]
    struct Lines {
        /// Lines of the to-server side are only accepted once the to-client
        /// side has produced as many, to exercise waiting on the other side.
        lockstep: bool,
        seen: [usize; 2],
    }

    impl StreamParser for Lines {
        type Event = (Direction, Vec<u8>);

        fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<Self::Event>) -> usize {
            if self.lockstep && dir == Direction::ToServer && self.seen[0] > self.seen[1] {
                return 0;
            }
            match input.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    events.push((dir, input[..p].to_vec()));
                    self.seen[dir.index()] += 1;
                    p + 1
                }
                None => 0,
            }
        }

        fn gap(&mut self, dir: Direction, len: u64, events: &mut Vec<Self::Event>) {
            events.push((dir, format!("<gap {len}>").into_bytes()));
        }

        fn end(&mut self, _dir: Direction, _events: &mut Vec<Self::Event>) {}
    }

    #[test]
    fn any_split_gives_the_same_lines() {
        let text = b"alpha\nbeta\n\ngamma delta\nepsilon\n";
        let mut whole = Vec::new();
        StreamDriver::new(Lines::default(), 1024).feed(Direction::ToServer, text, &mut whole);
        assert_eq!(whole.len(), 5);
        for a in 0..text.len() {
            for b in a..text.len() {
                let mut d = StreamDriver::new(Lines::default(), 1024);
                let mut ev = Vec::new();
                for piece in [&text[..a], &text[a..b], &text[b..]] {
                    d.feed(Direction::ToServer, piece, &mut ev);
                }
                assert_eq!(ev, whole, "split at {a},{b}");
            }
        }
    }

    #[test]
    fn waiting_side_is_retried_when_the_other_side_moves() {
        let mut d = StreamDriver::new(
            Lines {
                lockstep: true,
                ..Default::default()
            },
            1024,
        );
        let mut ev = Vec::new();
        d.feed(Direction::ToServer, b"one\ntwo\n", &mut ev);
        assert_eq!(ev.len(), 1, "second line waits for an answer");
        d.feed(Direction::ToClient, b"ok\n", &mut ev);
        let dirs: Vec<_> = ev.iter().map(|e| e.0).collect();
        assert_eq!(
            dirs,
            [
                Direction::ToServer,
                Direction::ToClient,
                Direction::ToServer
            ]
        );
        assert!(d.pending(Direction::ToServer).is_empty());
    }

    #[test]
    fn overflow_becomes_a_gap() {
        let mut d = StreamDriver::new(Lines::default(), 8);
        let mut ev = Vec::new();
        let out = d.feed(Direction::ToServer, b"0123456789abc", &mut ev);
        assert_eq!(out.overflow, 13);
        assert_eq!(ev, [(Direction::ToServer, b"<gap 13>".to_vec())]);
        d.feed(Direction::ToServer, b"x\n", &mut ev);
        assert_eq!(ev[1].1, b"x");
    }

    #[test]
    fn gap_includes_unconsumed_bytes() {
        let mut d = StreamDriver::new(Lines::default(), 64);
        let mut ev = Vec::new();
        d.feed(Direction::ToClient, b"partial", &mut ev);
        d.gap(Direction::ToClient, 10, &mut ev);
        assert_eq!(ev, [(Direction::ToClient, b"<gap 17>".to_vec())]);
    }

    #[test]
    fn into_parts_returns_unconsumed_bytes() {
        let mut d = StreamDriver::new(Lines::default(), 64);
        let mut ev = Vec::new();
        d.feed(Direction::ToServer, b"line\nrest", &mut ev);
        let (_, ts, tc) = d.into_parts();
        assert_eq!(ts, b"rest");
        assert!(tc.is_empty());
    }
}
