//! Bot DNS volume: a host sending far more queries than people make
//! (an infected home PC sends 10,000–20,000 an hour, up to 650 times a
//! clean one), and a host resolving many MX records itself (a spam bot
//! delivering straight to its recipients' mail servers).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::catalog::*;
use crate::config::DnsConf;

const HOUR_MICROS: u64 = 3_600_000_000;

/// One host's hour.
#[derive(Clone, Debug)]
struct HostHour {
    start: Timestamp,
    queries: u32,
    /// Hashes of the distinct names looked up as MX (up to the threshold).
    mx: Vec<u32>,
    volume_alerted: bool,
    mx_alerted: bool,
    /// Per mille of the nearer threshold (for eviction).
    progress: u16,
}

impl Aging for HostHour {
    fn keep(&self) -> u64 {
        u64::from(self.progress)
    }
    fn heap_bytes(&self) -> usize {
        self.mx.capacity() * std::mem::size_of::<u32>()
    }
}

/// Per-host query counters shared by all workers (`dns_hosts`), bounded by
/// `dns.memcap`: a host with one query is what goes first, a host nearing
/// a threshold stays.
pub struct DnsHosts {
    hosts: SharedMap<IpAddr, HostHour>,
    hash: foldhash::fast::RandomState,
}

impl DnsHosts {
    pub fn new(conf: &DnsConf, budget: &Arc<Budget>) -> Self {
        let cap = conf.memcap.as_usize() / 16;
        DnsHosts {
            hosts: SharedMap::new(HOUR_MICROS, |_| {
                Meter::new("dns_hosts", cap, Arc::clone(budget))
            }),
            hash: foldhash::fast::RandomState::default(),
        }
    }

    pub fn report(&self) -> MemReport {
        self.hosts.report()
    }
}

/// What a DNS alert counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsVerdict {
    pub sid: u32,
    pub queries: u32,
    pub mx_names: usize,
    pub limit: u64,
}

impl Detector {
    /// True when `host` is one of our resolvers.
    pub fn is_resolver(&self, host: IpAddr) -> bool {
        self.resolvers.contains(host)
    }

    /// Counts one query from `client` for `name` of type `qtype` at `ts`.
    /// Returns the alerts it raises: 9700080 when the hour's count first
    /// exceeds `dns.bot_queries_per_hour`, 9700081 when the distinct MX
    /// names first exceed `dns.mx_lookups_per_hour` (each once per host and
    /// hour). Resolvers are not counted; mail servers may look up MX.
    pub fn dns_query(
        &self,
        client: IpAddr,
        name: &str,
        qtype: u16,
        ts: Timestamp,
    ) -> Vec<DnsVerdict> {
        if self.resolvers.contains(client) {
            return Vec::new();
        }
        let c = &self.conf.dns;
        let limit = c.bot_queries_per_hour.max(1);
        let mx_limit = c.mx_lookups_per_hour.max(1);
        let mx = qtype == MX && !self.mail_servers.contains(client);
        let dns = &self.shared.dns;
        let name_hash = mx.then(|| {
            let h = dns.hash.hash_one(crate::normalise_domain(name));
            (h ^ (h >> 32)) as u32
        });
        let fresh = || HostHour {
            start: ts,
            queries: 0,
            mx: Vec::new(),
            volume_alerted: false,
            mx_alerted: false,
            progress: 0,
        };
        dns.hosts
            .with(client, ts.0, fresh, |w| {
                if crate::window_over(w.start, ts, HOUR_MICROS) {
                    *w = fresh();
                }
                w.queries = w.queries.saturating_add(1);
                if let Some(h) = name_hash
                    && w.mx.len() <= mx_limit
                    && !w.mx.contains(&h)
                {
                    w.mx.push(h);
                }
                let q = u64::from(w.queries) * 1000 / u64::from(limit);
                let m = w.mx.len() as u64 * 1000 / mx_limit as u64;
                w.progress = q.max(m).min(1000) as u16;
                let mut out = Vec::new();
                if w.queries > limit && !w.volume_alerted {
                    w.volume_alerted = true;
                    out.push(DnsVerdict {
                        sid: DNS_BOT_VOLUME,
                        queries: w.queries,
                        mx_names: w.mx.len(),
                        limit: u64::from(limit),
                    });
                }
                if w.mx.len() > mx_limit && !w.mx_alerted {
                    w.mx_alerted = true;
                    out.push(DnsVerdict {
                        sid: DNS_MX_LOOKUPS,
                        queries: w.queries,
                        mx_names: w.mx.len(),
                        limit: mx_limit as u64,
                    });
                }
                out
            })
            .unwrap_or_default()
    }
}

/// Record type MX (RFC 1035).
const MX: u16 = 15;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectConf, NetSet};

    fn det(resolvers: &[&str]) -> Detector {
        let mut conf = DetectConf::default();
        conf.dns.resolvers = resolvers.iter().map(|s| s.parse().unwrap()).collect();
        conf.smtp.mail_servers = vec!["10.0.0.25".parse().unwrap()];
        Detector::new(conf, NetSet::default(), NetSet::default())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn us(t: Timestamp, micros: u64) -> Timestamp {
        Timestamp(t.0 + micros)
    }

    #[test]
    fn volume_once_per_host_and_hour() {
        let d = det(&["10.0.0.53"]);
        let bot = ip("10.9.9.9");
        let t0 = Timestamp::from_secs(10_000);
        let mut fired = Vec::new();
        for i in 0..12_000u64 {
            // 12,000 queries in 50 minutes.
            for v in d.dns_query(bot, "x.example", 1, us(t0, i * 250_000)) {
                fired.push((i, v.sid, v.queries));
            }
        }
        assert_eq!(fired, [(10_000, DNS_BOT_VOLUME, 10_001)]);
        // The next hour starts afresh; resolvers are never counted.
        assert!(d.dns_query(bot, "x", 1, t0.add_secs(3600)).is_empty());
        for i in 0..20_000u64 {
            assert!(d.dns_query(ip("10.0.0.53"), "x", 1, us(t0, i)).is_empty());
        }
    }

    #[test]
    fn many_mx_names_but_not_for_mail_servers() {
        let d = det(&[]);
        let t0 = Timestamp::from_secs(1);
        let mut fired = Vec::new();
        for i in 0..200u64 {
            let name = format!("Domain{}.example.", i % 120);
            for v in d.dns_query(ip("10.9.9.8"), &name, MX, t0.add_secs(i)) {
                fired.push((i, v.sid, v.mx_names));
            }
            assert!(
                d.dns_query(ip("10.0.0.25"), &name, MX, t0.add_secs(i))
                    .is_empty()
            );
        }
        assert_eq!(fired, [(50, DNS_MX_LOOKUPS, 51)]);
        // The same few names over and over are not many.
        for i in 0..500u64 {
            let r = d.dns_query(ip("10.9.9.7"), "gmail.com", MX, t0.add_secs(i));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn a_forged_flood_stays_within_the_memcap() {
        let mut conf = DetectConf::default();
        conf.dns.memcap = crate::config::ByteSize(1 << 20);
        let d = Detector::new(conf, NetSet::default(), NetSet::default());
        let bot = ip("192.0.2.1");
        let t0 = Timestamp::from_secs(1);
        for i in 0..9_000u64 {
            d.dns_query(bot, "q", 1, us(t0, i));
        }
        for i in 0..300_000u32 {
            d.dns_query(IpAddr::from(i.to_be_bytes()), "q", 1, t0.add_secs(1));
        }
        let r = d.shared.dns.report();
        assert!(r.memuse <= 1 << 20 && r.evicted > 0, "{r:?}");
        // The real bot, close to its threshold, was kept.
        let mut v = Vec::new();
        for i in 0..1_001u64 {
            v.extend(d.dns_query(bot, "q", 1, us(t0.add_secs(2), i)));
        }
        assert_eq!(v.len(), 1, "{r:?}");
    }
}
