//! Byte ranges held out of order, with overlaps resolved by policy. Shared by
//! TCP reassembly and IP defragmentation, which face the same question:
//! when two pieces cover the same bytes differently, which copy counts?

use std::collections::BTreeMap;

/// Which copy wins when two pieces cover the same bytes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverlapPolicy {
    /// The bytes that arrived first stay (BSD, Linux, Windows TCP stacks).
    First,
    /// Later bytes replace earlier ones.
    Last,
}

/// What an insertion found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// The new piece overlapped held bytes.
    pub overlap: bool,
    /// The first offset where the new piece disagreed with held bytes.
    pub first_diff: Option<u64>,
    /// Bytes that could not be held because `reserve` refused them.
    pub refused: usize,
}

/// Non-overlapping byte ranges keyed by offset.
#[derive(Clone, Debug, Default)]
pub struct SegmentMap {
    map: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

impl SegmentMap {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of pieces held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Offset of the first piece.
    pub fn first_offset(&self) -> Option<u64> {
        self.map.first_key_value().map(|(&k, _)| k)
    }

    /// One past the last held byte.
    pub fn end(&self) -> Option<u64> {
        self.map.last_key_value().map(|(&k, v)| k + v.len() as u64)
    }

    /// Removes and returns the first piece.
    pub fn pop_first(&mut self) -> Option<(u64, Vec<u8>)> {
        let (k, v) = self.map.pop_first()?;
        self.bytes -= v.len();
        Some((k, v))
    }

    /// The pieces in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.map.iter().map(|(&k, v)| (k, v.as_slice()))
    }

    /// Drops everything; returns the bytes freed.
    pub fn clear(&mut self) -> usize {
        let n = self.bytes;
        self.map.clear();
        self.bytes = 0;
        n
    }

    /// Adds `data` at offset `start`. `reserve(n)` is asked before holding
    /// `n` more bytes and `release(n)` told when bytes are let go, so that
    /// the caller can keep a memory budget.
    pub fn insert(
        &mut self,
        start: u64,
        data: &[u8],
        policy: OverlapPolicy,
        reserve: &mut dyn FnMut(usize) -> bool,
        release: &mut dyn FnMut(usize),
    ) -> Inserted {
        let mut out = Inserted::default();
        if data.is_empty() {
            return out;
        }
        let end = start + data.len() as u64;
        let mut overlapping: Vec<u64> = Vec::new();
        if let Some((&k, v)) = self.map.range(..start).next_back()
            && k + v.len() as u64 > start
        {
            overlapping.push(k);
        }
        overlapping.extend(self.map.range(start..end).map(|(&k, _)| k));
        out.overlap = !overlapping.is_empty();
        for &k in &overlapping {
            let old = &self.map[&k];
            let from = start.max(k);
            let to = end.min(k + old.len() as u64);
            let new_part = &data[(from - start) as usize..(to - start) as usize];
            let old_part = &old[(from - k) as usize..(to - k) as usize];
            if let Some(i) = new_part.iter().zip(old_part).position(|(a, b)| a != b) {
                out.first_diff = Some(from + i as u64);
                break;
            }
        }
        match policy {
            OverlapPolicy::First => {
                let mut cursor = start;
                for &k in &overlapping {
                    if cursor < k {
                        let piece = &data[(cursor - start) as usize..(k - start) as usize];
                        self.put(cursor, piece, reserve, &mut out);
                    }
                    let kend = k + self.map.get(&k).map_or(0, |v| v.len() as u64);
                    cursor = cursor.max(kend);
                }
                if cursor < end {
                    self.put(
                        cursor,
                        &data[(cursor - start) as usize..],
                        reserve,
                        &mut out,
                    );
                }
            }
            OverlapPolicy::Last => {
                for &k in &overlapping {
                    let Some(old) = self.map.remove(&k) else {
                        continue;
                    };
                    self.bytes -= old.len();
                    release(old.len());
                    let kend = k + old.len() as u64;
                    if k < start {
                        self.put(k, &old[..(start - k) as usize], reserve, &mut out);
                    }
                    if kend > end {
                        self.put(end, &old[(end - k) as usize..], reserve, &mut out);
                    }
                }
                self.put(start, data, reserve, &mut out);
            }
        }
        out
    }

    fn put(
        &mut self,
        at: u64,
        bytes: &[u8],
        reserve: &mut dyn FnMut(usize) -> bool,
        out: &mut Inserted,
    ) {
        if bytes.is_empty() {
            return;
        }
        if !reserve(bytes.len()) {
            out.refused += bytes.len();
            return;
        }
        self.bytes += bytes.len();
        self.map.insert(at, bytes.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(m: &mut SegmentMap, at: u64, d: &[u8], p: OverlapPolicy) -> Inserted {
        m.insert(at, d, p, &mut |_| true, &mut |_| {})
    }

    fn flat(m: &SegmentMap) -> Vec<(u64, Vec<u8>)> {
        m.iter().map(|(k, v)| (k, v.to_vec())).collect()
    }

    #[test]
    fn first_keeps_old_bytes_and_fills_around_them() {
        let mut m = SegmentMap::default();
        ins(&mut m, 4, b"BB", OverlapPolicy::First);
        let r = ins(&mut m, 2, b"aaaaaa", OverlapPolicy::First);
        assert!(r.overlap);
        assert_eq!(r.first_diff, Some(4));
        assert_eq!(
            flat(&m),
            [
                (2, b"aa".to_vec()),
                (4, b"BB".to_vec()),
                (6, b"aa".to_vec())
            ]
        );
        assert_eq!(m.bytes(), 6);
    }

    #[test]
    fn last_replaces_and_keeps_the_uncovered_ends() {
        let mut m = SegmentMap::default();
        ins(&mut m, 0, b"xxxxxxxx", OverlapPolicy::Last);
        let r = ins(&mut m, 2, b"YY", OverlapPolicy::Last);
        assert_eq!(r.first_diff, Some(2));
        assert_eq!(
            flat(&m),
            [
                (0, b"xx".to_vec()),
                (2, b"YY".to_vec()),
                (4, b"xxxx".to_vec())
            ]
        );
        assert_eq!(m.bytes(), 8);
    }

    #[test]
    fn identical_overlap_is_not_a_difference() {
        let mut m = SegmentMap::default();
        ins(&mut m, 0, b"abcdef", OverlapPolicy::First);
        let r = ins(&mut m, 2, b"cd", OverlapPolicy::Last);
        assert!(r.overlap);
        assert_eq!(r.first_diff, None);
    }

    #[test]
    fn refused_bytes_are_reported() {
        let mut m = SegmentMap::default();
        let r = m.insert(0, b"abc", OverlapPolicy::First, &mut |n| n < 3, &mut |_| {});
        assert_eq!(r.refused, 3);
        assert!(m.is_empty());
    }
}
