//! Byte ranges held out of order, with overlaps resolved by policy. Shared by
//! TCP reassembly and IP defragmentation, which face the same question:
//! when two pieces cover the same bytes differently, which copy counts?

use std::collections::BTreeMap;

/// Which copy wins when two pieces cover the same bytes differently.
///
/// Besides "first" and "last", the target-based policies of Novak and
/// Sturges ("Target-Based TCP Stream Reassembly", 2007), as Suricata names
/// them in `host-os-policy`: the receiving stack decides, and which copy it
/// keeps depends on how the new piece lies against the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverlapPolicy {
    /// The bytes that arrived first stay.
    First,
    /// Later bytes replace earlier ones.
    Last,
    Bsd,
    BsdRight,
    OldLinux,
    Linux,
    OldSolaris,
    Solaris,
    Hpux10,
    Hpux11,
    Irix,
    Macos,
    Windows,
    Windows2k3,
    Vista,
}

impl OverlapPolicy {
    /// Every policy with its configuration name (Suricata's).
    pub const ALL: [(OverlapPolicy, &'static str); 15] = [
        (OverlapPolicy::First, "first"),
        (OverlapPolicy::Last, "last"),
        (OverlapPolicy::Bsd, "bsd"),
        (OverlapPolicy::BsdRight, "bsd-right"),
        (OverlapPolicy::OldLinux, "old-linux"),
        (OverlapPolicy::Linux, "linux"),
        (OverlapPolicy::OldSolaris, "old-solaris"),
        (OverlapPolicy::Solaris, "solaris"),
        (OverlapPolicy::Hpux10, "hpux10"),
        (OverlapPolicy::Hpux11, "hpux11"),
        (OverlapPolicy::Irix, "irix"),
        (OverlapPolicy::Macos, "macos"),
        (OverlapPolicy::Windows, "windows"),
        (OverlapPolicy::Windows2k3, "windows2k3"),
        (OverlapPolicy::Vista, "vista"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("first", |(_, n)| n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }

    /// Whether the receiver keeps the new piece `[ns, ne)` where it overlaps
    /// the old piece `[os, oe)`.
    pub fn new_wins(self, ns: u64, ne: u64, os: u64, oe: u64) -> bool {
        use OverlapPolicy::*;
        match self {
            First => false,
            Last => true,
            _ if ns == os => {
                (ne > oe && self == Linux)
                    || (ne >= oe && matches!(self, OldLinux | Solaris | Hpux11))
            }
            // The new piece starts first: most stacks take it.
            _ if ns < os => {
                (ne >= oe && matches!(self, Solaris | Hpux11))
                    || matches!(
                        self,
                        Bsd | Hpux10 | Irix | Windows | Windows2k3 | OldLinux | Linux | Macos
                    )
            }
            _ => ne > oe && matches!(self, Solaris | Hpux11),
        }
    }
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
        // Old pieces the policy keeps cut holes in the new one; those it
        // gives up keep only what lies outside the new piece.
        let mut kept: Vec<(u64, u64)> = Vec::new();
        for &k in &overlapping {
            let Some(len) = self.map.get(&k).map(|v| v.len() as u64) else {
                continue;
            };
            if !policy.new_wins(start, end, k, k + len) {
                kept.push((k.max(start), (k + len).min(end)));
                continue;
            }
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
        let mut cursor = start;
        for (a, b) in kept {
            if cursor < a {
                self.put(
                    cursor,
                    &data[(cursor - start) as usize..(a - start) as usize],
                    reserve,
                    &mut out,
                );
            }
            cursor = cursor.max(b);
        }
        if cursor < end {
            self.put(
                cursor,
                &data[(cursor - start) as usize..],
                reserve,
                &mut out,
            );
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

    /// Novak & Sturges' cases as Suricata resolves them: a new piece that
    /// starts before an old one wins on BSD-like and Linux stacks, one that
    /// starts at the same byte and runs longer wins on Linux, and Solaris /
    /// HP-UX 11 take any new piece that ends at or past the old one's end.
    #[test]
    fn target_based_policies() {
        use OverlapPolicy::*;
        // (old at 4..8 "oooo"; new piece) -> what ends up at 4..8 per policy
        // (where the new piece starts, its bytes, what each policy keeps)
        type Case<'a> = (u64, &'a [u8], &'a [(OverlapPolicy, &'a [u8])]);
        let cases: &[Case<'_>] = &[
            (
                2,
                b"nnnnnn",
                &[
                    (Bsd, b"nnnn"),
                    (Linux, b"nnnn"),
                    (Windows, b"nnnn"),
                    (Solaris, b"nnnn"),
                    (Vista, b"oooo"),
                    (First, b"oooo"),
                ],
            ),
            (
                4,
                b"nnnnnn",
                &[
                    (Linux, b"nnnn"),
                    (OldLinux, b"nnnn"),
                    (Solaris, b"nnnn"),
                    (Bsd, b"oooo"),
                    (Windows, b"oooo"),
                ],
            ),
            (
                4,
                b"nnnn",
                &[
                    (Linux, b"oooo"),
                    (OldLinux, b"nnnn"),
                    (Hpux11, b"nnnn"),
                    (Bsd, b"oooo"),
                ],
            ),
            (
                6,
                b"nnnn",
                &[
                    (Solaris, b"oonn"),
                    (Linux, b"oooo"),
                    (Bsd, b"oooo"),
                    (Last, b"oonn"),
                ],
            ),
            (2, b"nnn", &[(Bsd, b"nooo"), (Solaris, b"oooo")]),
        ];
        for (at, new, want) in cases {
            for (policy, bytes) in *want {
                let mut m = SegmentMap::default();
                ins(&mut m, 4, b"oooo", *policy);
                ins(&mut m, *at, new, *policy);
                let whole: Vec<(u64, u8)> = m
                    .iter()
                    .flat_map(|(k, v)| v.iter().enumerate().map(move |(i, b)| (k + i as u64, *b)))
                    .collect();
                let got: Vec<u8> = (4..8u64)
                    .filter_map(|o| whole.iter().find(|(k, _)| *k == o).map(|(_, b)| *b))
                    .collect();
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(bytes),
                    "{policy:?}, new at {at}"
                );
            }
        }
    }

    #[test]
    fn refused_bytes_are_reported() {
        let mut m = SegmentMap::default();
        let r = m.insert(0, b"abc", OverlapPolicy::First, &mut |n| n < 3, &mut |_| {});
        assert_eq!(r.refused, 3);
        assert!(m.is_empty());
    }
}
