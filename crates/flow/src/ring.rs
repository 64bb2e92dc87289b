//! A byte ring: delivered bytes kept for retransmission checks. Appending
//! at the back and forgetting at the front are O(1) whatever its size, so
//! a stream whose acknowledgements are never seen costs one copy per byte.

/// Bytes in a fixed-capacity ring; the capacity only changes by `resize`.
///
/// The buffer is initialised only as far as bytes have been written into
/// it (`buf.len()`), not to its whole capacity: a ring grows by doubling,
/// and zeroing the half a stream may never fill cost a memset and resident
/// pages per resize. Writes go on at `head + len`, so they always land in
/// the initialised part or extend it by appending.
#[derive(Debug, Default)]
pub struct Ring {
    buf: Vec<u8>,
    cap: usize,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets the `n` oldest bytes.
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.cap
        };
    }

    /// Appends `data`, which must fit (`len + data.len() <= capacity`).
    pub fn push(&mut self, data: &[u8]) {
        let cap = self.cap;
        debug_assert!(self.len + data.len() <= cap);
        if data.is_empty() || cap == 0 {
            return;
        }
        let tail = (self.head + self.len) % cap;
        let first = data.len().min(cap - tail);
        self.write_at(tail, &data[..first]);
        self.write_at(0, &data[first..]);
        self.len += data.len();
    }

    /// Writes `bytes` at `at`, which is at most the initialised length.
    fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let end = at + bytes.len();
        let init = self.buf.len();
        if end <= init {
            self.buf[at..end].copy_from_slice(bytes);
        } else {
            let (old, new) = bytes.split_at(init.saturating_sub(at));
            self.buf[at..at + old.len()].copy_from_slice(old);
            self.buf.extend_from_slice(new);
        }
    }

    /// The bytes at positions `from..to` (0 is the oldest), in up to two pieces.
    pub fn range(&self, from: usize, to: usize) -> (&[u8], &[u8]) {
        let (from, to) = (from.min(self.len), to.min(self.len));
        if from >= to {
            return (&[], &[]);
        }
        let cap = self.cap;
        let a = (self.head + from) % cap;
        let n = to - from;
        if a + n <= cap {
            (&self.buf[a..a + n], &[])
        } else {
            (&self.buf[a..cap], &self.buf[..n - (cap - a)])
        }
    }

    /// Changes the capacity to `cap` (at least `len`), keeping the bytes.
    pub fn resize(&mut self, cap: usize) {
        let cap = cap.max(self.len);
        let mut buf = Vec::with_capacity(cap);
        let (a, b) = self.range(0, self.len);
        buf.extend_from_slice(a);
        buf.extend_from_slice(b);
        self.buf = buf;
        self.cap = cap;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Against a plain vector, through pushes, drops and resizes.
        #[test]
        fn behaves_as_a_queue(ops in proptest::collection::vec((0u8..3, 0usize..40), 1..200)) {
            let mut r = Ring::default();
            let mut model: Vec<u8> = Vec::new();
            let mut next = 0u8;
            for (op, n) in ops {
                match op {
                    0 => {
                        let n = n.min(r.capacity() - r.len());
                        let data: Vec<u8> = (0..n).map(|_| { next = next.wrapping_add(1); next }).collect();
                        r.push(&data);
                        model.extend_from_slice(&data);
                    }
                    1 => {
                        r.drop_front(n);
                        model.drain(..n.min(model.len()));
                    }
                    _ => r.resize(n.max(model.len())),
                }
                // Only what was written is initialised, never past the capacity.
                proptest::prop_assert!(r.buf.len() <= r.capacity());
                let (a, b) = r.range(0, r.len());
                proptest::prop_assert_eq!([a, b].concat(), model.clone());
                let k = model.len() / 3;
                let (a, b) = r.range(k, model.len() - k);
                proptest::prop_assert_eq!([a, b].concat(), model[k..model.len() - k].to_vec());
            }
        }
    }

    #[test]
    fn growing_initialises_only_the_bytes_kept() {
        let mut r = Ring::default();
        r.resize(16);
        r.push(b"0123456789");
        r.resize(1 << 20);
        assert_eq!(r.capacity(), 1 << 20);
        assert_eq!(r.buf.len(), 10);
        // Writing wraps into the initialised part once the end is reached.
        r.resize(12);
        r.drop_front(4);
        r.push(b"abcdef");
        assert_eq!(r.buf.len(), 12);
        let (a, b) = r.range(0, r.len());
        assert_eq!([a, b].concat(), b"456789abcdef");
    }
}
