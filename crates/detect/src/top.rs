//! The heaviest talkers (reflectors by bytes) in fixed memory: Metwally,
//! Agrawal and El Abbadi's Space-Saving. An address that is not tracked
//! takes the place of the lightest one and inherits its count as an
//! over-estimate (`error`), so every address sending more than
//! total/capacity bytes is in the list; what it certainly sent is its
//! count less the error, which is what [`TopTalkers::top`] reports.

use std::net::IpAddr;

/// Entries kept.
pub const CAPACITY: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Talker {
    pub addr: IpAddr,
    pub bytes: u64,
    pub pkts: u64,
    /// How much of `bytes` (and `pkts_error` of `pkts`) may belong to
    /// addresses it replaced.
    pub error: u64,
    pub pkts_error: u64,
}

#[derive(Clone, Debug, Default)]
pub struct TopTalkers {
    items: Vec<Talker>,
}

impl TopTalkers {
    pub fn add(&mut self, addr: IpAddr, bytes: u64, pkts: u64) {
        self.add_with_error(addr, bytes, pkts, 0, 0);
    }

    fn add_with_error(&mut self, addr: IpAddr, bytes: u64, pkts: u64, error: u64, perr: u64) {
        if let Some(t) = self.items.iter_mut().find(|t| t.addr == addr) {
            t.bytes += bytes;
            t.pkts += pkts;
            t.error += error;
            t.pkts_error += perr;
            return;
        }
        if self.items.len() < CAPACITY {
            self.items.push(Talker {
                addr,
                bytes,
                pkts,
                error,
                pkts_error: perr,
            });
            return;
        }
        // Replace the lightest (the first of equals, for a stable result).
        let Some(min) = self.items.iter_mut().min_by_key(|t| (t.bytes, t.addr)) else {
            return;
        };
        *min = Talker {
            addr,
            bytes: min.bytes + bytes,
            pkts: min.pkts + pkts,
            error: min.bytes + error,
            pkts_error: min.pkts + perr,
        };
    }

    /// Adds `other`'s counts (what another worker saw).
    pub fn merge(&mut self, other: &TopTalkers) {
        for t in &other.items {
            self.add_with_error(t.addr, t.bytes, t.pkts, t.error, t.pkts_error);
        }
    }

    /// The `n` heaviest by what they certainly sent (count less error),
    /// heaviest first, ties by address; those certainly sending nothing
    /// are left out. The counts returned are those lower bounds.
    pub fn top(&self, n: usize) -> Vec<Talker> {
        let mut v: Vec<Talker> = self
            .items
            .iter()
            .map(|t| Talker {
                addr: t.addr,
                bytes: t.bytes.saturating_sub(t.error),
                pkts: t.pkts.saturating_sub(t.pkts_error),
                error: 0,
                pkts_error: 0,
            })
            .filter(|t| t.bytes > 0)
            .collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.addr.cmp(&b.addr)));
        v.truncate(n);
        v
    }

    /// Every entry with its raw count and error (for tests).
    pub fn entries(&self) -> &[Talker] {
        &self.items
    }

    pub fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Talker>()
    }

    pub fn clear(&mut self) {
        self.items = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(i: u32) -> IpAddr {
        IpAddr::from((0xc633_6400 + i).to_be_bytes())
    }

    #[test]
    fn heavy_talkers_are_found_among_many_light_ones() {
        let mut t = TopTalkers::default();
        // 4,000 reflectors of 200 bytes, four of them sending 200 KB:
        // more than a sixteenth of the total, so they must be listed.
        for i in 0..4000 {
            t.add(ip(i), 200, 1);
            if i % 1000 == 7 {
                t.add(ip(i), 200_000, 100);
            }
        }
        let top = t.top(4);
        let mut addrs: Vec<IpAddr> = top.iter().map(|x| x.addr).collect();
        addrs.sort();
        assert_eq!(addrs, vec![ip(7), ip(1007), ip(2007), ip(3007)]);
        // Raw counts are never too low, and too high by at most the error;
        // what top() reports is the lower bound.
        for x in t.entries().iter().filter(|x| addrs.contains(&x.addr)) {
            assert!(x.bytes >= 200_200 && x.bytes - x.error <= 200_200, "{x:?}");
        }
        assert!(
            top.iter().all(|x| x.bytes <= 200_200 && x.bytes >= 150_000),
            "{top:?}"
        );
        // Equal light talkers: nothing certain is claimed about any.
        let mut flat = TopTalkers::default();
        for i in 0..4000 {
            flat.add(ip(i), 200, 1);
        }
        assert!(flat.top(10).iter().all(|x| x.bytes <= 200 && x.pkts <= 1));
        assert!(t.heap_bytes() <= CAPACITY * std::mem::size_of::<Talker>() * 2);
    }

    #[test]
    fn merged_counts_add_up() {
        let (mut a, mut b) = (TopTalkers::default(), TopTalkers::default());
        a.add(ip(1), 1000, 2);
        b.add(ip(1), 500, 1);
        b.add(ip(2), 700, 1);
        a.merge(&b);
        assert_eq!(
            a.top(2)
                .iter()
                .map(|x| (x.addr, x.bytes, x.pkts))
                .collect::<Vec<_>>(),
            vec![(ip(1), 1500, 3), (ip(2), 700, 1)]
        );
    }
}
