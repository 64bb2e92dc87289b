//! The heaviest talkers (reflectors by bytes) in fixed memory: Metwally,
//! Agrawal and El Abbadi's Space-Saving. An address that is not tracked
//! takes the place of the lightest one and inherits its count as an
//! over-estimate (`error`), so every address sending more than
//! total/capacity bytes is in the list, and counts are never too low.

use std::net::IpAddr;

/// Entries kept.
pub const CAPACITY: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Talker {
    pub addr: IpAddr,
    pub bytes: u64,
    pub pkts: u64,
    /// How much of `bytes` may belong to addresses it replaced.
    pub error: u64,
}

#[derive(Clone, Debug, Default)]
pub struct TopTalkers {
    items: Vec<Talker>,
}

impl TopTalkers {
    pub fn add(&mut self, addr: IpAddr, bytes: u64, pkts: u64) {
        self.add_with_error(addr, bytes, pkts, 0);
    }

    fn add_with_error(&mut self, addr: IpAddr, bytes: u64, pkts: u64, error: u64) {
        if let Some(t) = self.items.iter_mut().find(|t| t.addr == addr) {
            t.bytes += bytes;
            t.pkts += pkts;
            t.error += error;
            return;
        }
        if self.items.len() < CAPACITY {
            self.items.push(Talker {
                addr,
                bytes,
                pkts,
                error,
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
        };
    }

    /// Adds `other`'s counts (what another worker saw).
    pub fn merge(&mut self, other: &TopTalkers) {
        for t in &other.items {
            self.add_with_error(t.addr, t.bytes, t.pkts, t.error);
        }
    }

    /// The `n` heaviest, heaviest first (ties by address).
    pub fn top(&self, n: usize) -> Vec<Talker> {
        let mut v = self.items.clone();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.addr.cmp(&b.addr)));
        v.truncate(n);
        v
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
        // Never too low; too high by at most the recorded error.
        assert!(
            top.iter()
                .all(|x| x.bytes >= 200_200 && x.bytes - x.error <= 200_200),
            "{top:?}"
        );
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
