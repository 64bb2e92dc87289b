//! Proxy port sweeps: one source probing the proxy ports (1080, 3128,
//! 8080, ...) of many hosts — the scan that builds open-proxy lists.

use std::net::IpAddr;

use dashmap::DashMap;
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::catalog::PROXY_PORT_SWEEP;

/// Hosts remembered per source and window.
const MAX_HOSTS: usize = 1024;

/// Per source, the hosts it probed on proxy ports in the current window,
/// shared by all workers (a scan's targets hash to every worker).
#[derive(Default)]
pub struct SweepMap {
    sources: DashMap<IpAddr, SweepWindow, foldhash::fast::RandomState>,
}

struct SweepWindow {
    start: Timestamp,
    hosts: Vec<IpAddr>,
    alerted: bool,
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
        let mut e = self
            .shared
            .sweeps
            .sources
            .entry(source)
            .or_insert(SweepWindow {
                start: ts,
                hosts: Vec::new(),
                alerted: false,
            });
        let w = e.value_mut();
        if crate::window_over(w.start, ts, window) {
            *w = SweepWindow {
                start: ts,
                hosts: Vec::new(),
                alerted: false,
            };
        }
        if !w.hosts.contains(&host) && w.hosts.len() < MAX_HOSTS {
            w.hosts.push(host);
        }
        if w.hosts.len() >= cfg.min_hosts.max(1) && !w.alerted {
            w.alerted = true;
            return Some((PROXY_PORT_SWEEP, w.hosts.len()));
        }
        None
    }
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
