//! Proxy port sweeps: one source probing the proxy ports (1080, 3128,
//! 8080, ...) of many hosts — the scan that builds open-proxy lists.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::catalog::PROXY_PORT_SWEEP;
use crate::config::SweepConf;

/// Per source, the hosts it probed on proxy ports in the current window,
/// shared by all workers (a scan's targets hash to every worker). Bounded
/// by `sweep.memcap`: a flood of forged sources, each with one probe, is
/// what gets evicted, while a real scanner's growing set stays.
pub struct SweepMap {
    sources: SharedMap<IpAddr, SweepWindow>,
    /// Hashes the probed hosts: a set of 4-byte hashes holds as much as a
    /// set of addresses for counting distinct hosts, at a quarter of the size.
    host_hash: foldhash::fast::RandomState,
}

struct SweepWindow {
    start: Timestamp,
    hosts: Vec<u32>,
    alerted: bool,
}

impl Aging for SweepWindow {
    fn keep(&self) -> u64 {
        self.hosts.len() as u64
    }
    fn heap_bytes(&self) -> usize {
        self.hosts.capacity() * std::mem::size_of::<u32>()
    }
}

impl SweepMap {
    pub fn new(conf: &SweepConf, budget: &Arc<Budget>) -> Self {
        let cap = conf.memcap.as_usize() / 16;
        SweepMap {
            sources: SharedMap::new(conf.window.max(1).saturating_mul(1_000_000), |_| {
                Meter::new("sweep", cap, Arc::clone(budget))
            }),
            host_hash: foldhash::fast::RandomState::default(),
        }
    }

    pub fn report(&self) -> MemReport {
        self.sources.report()
    }
}

impl Detector {
    /// True when `port` is a proxy port the sweep detector watches.
    pub fn is_sweep_port(&self, port: u16) -> bool {
        self.conf.sweep.ports.contains(&port)
    }

    /// Records a connection attempt (a SYN) from `source` to `host` on a
    /// proxy port. Returns the number of hosts probed when this attempt
    /// makes the source reach `sweep.min_hosts` (once per source and window).
    pub fn sweep_probe(&self, source: IpAddr, host: IpAddr, ts: Timestamp) -> Option<(u32, usize)> {
        let cfg = &self.conf.sweep;
        let window = cfg.window.max(1) * 1_000_000;
        let min = cfg.min_hosts.max(1);
        let map = &self.shared.sweeps;
        let h = hash32(&map.host_hash, &host);
        map.sources
            .with(
                source,
                ts.0,
                || SweepWindow {
                    start: ts,
                    hosts: Vec::new(),
                    alerted: false,
                },
                |w| {
                    if crate::window_over(w.start, ts, window) {
                        *w = SweepWindow {
                            start: ts,
                            hosts: Vec::new(),
                            alerted: false,
                        };
                    }
                    // Past the threshold the set only needs to say "enough".
                    if w.hosts.len() < min && !w.hosts.contains(&h) {
                        w.hosts.push(h);
                    }
                    if w.hosts.len() >= min && !w.alerted {
                        w.alerted = true;
                        return Some((PROXY_PORT_SWEEP, w.hosts.len()));
                    }
                    None
                },
            )
            .flatten()
    }
}

fn hash32<T: Hash>(s: &foldhash::fast::RandomState, v: &T) -> u32 {
    let h = s.hash_one(v);
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use crate::{DetectConf, Detector, NetSet};
    use fumidai_wire::Timestamp;
    use std::net::IpAddr;

    #[test]
    fn one_alert_when_enough_hosts_are_probed() {
        let d = Detector::new(DetectConf::default(), NetSet::default(), NetSet::default());
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let mut alerts = 0;
        for round in 0..3 {
            for h in 0..50u8 {
                let host = IpAddr::from([10, 0, 0, h]);
                if d.sweep_probe(
                    src,
                    host,
                    Timestamp::from_secs(round * 10 + u64::from(h) / 10),
                )
                .is_some()
                {
                    alerts += 1;
                }
            }
        }
        assert_eq!(alerts, 1);
        assert!(d.is_sweep_port(3128) && !d.is_sweep_port(80));
    }
}
