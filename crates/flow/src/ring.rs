//! A byte ring: delivered bytes kept for retransmission checks. Appending
//! at the back and forgetting at the front are O(1) whatever its size, so
//! a stream whose acknowledgements are never seen costs one copy per byte.

/// Bytes in a fixed-capacity ring; the capacity only changes by `resize`.
#[derive(Debug, Default)]
pub struct Ring {
    buf: Box<[u8]>,
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
        self.buf.len()
    }

    /// Forgets the `n` oldest bytes.
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.buf.len()
        };
    }

    /// Appends `data`, which must fit (`len + data.len() <= capacity`).
    pub fn push(&mut self, data: &[u8]) {
        let cap = self.buf.len();
        debug_assert!(self.len + data.len() <= cap);
        if data.is_empty() || cap == 0 {
            return;
        }
        let tail = (self.head + self.len) % cap;
        let first = data.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..data.len() - first].copy_from_slice(&data[first..]);
        self.len += data.len();
    }

    /// The bytes at positions `from..to` (0 is the oldest), in up to two pieces.
    pub fn range(&self, from: usize, to: usize) -> (&[u8], &[u8]) {
        let (from, to) = (from.min(self.len), to.min(self.len));
        if from >= to {
            return (&[], &[]);
        }
        let cap = self.buf.len();
        let a = (self.head + from) % cap;
        let n = to - from;
        if a + n <= cap {
            (&self.buf[a..a + n], &[])
        } else {
            (&self.buf[a..], &self.buf[..n - (cap - a)])
        }
    }

    /// Changes the capacity to `cap` (at least `len`), keeping the bytes.
    pub fn resize(&mut self, cap: usize) {
        let cap = cap.max(self.len);
        let mut buf = vec![0u8; cap].into_boxed_slice();
        let (a, b) = self.range(0, self.len);
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..a.len() + b.len()].copy_from_slice(b);
        self.buf = buf;
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
                let (a, b) = r.range(0, r.len());
                proptest::prop_assert_eq!([a, b].concat(), model.clone());
                let k = model.len() / 3;
                let (a, b) = r.range(k, model.len() - k);
                proptest::prop_assert_eq!([a, b].concat(), model[k..model.len() - k].to_vec());
            }
        }
    }
}
