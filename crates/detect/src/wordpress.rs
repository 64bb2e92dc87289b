//! WordPress XML-RPC abuse: pingback reflection seen at the reflector and
//! at the victim, and `system.multicall` brute-force amplification.
//!
//! `pingback.ping(source, target)` makes WordPress fetch `source` to check
//! that it links to `target`. Attackers send hundreds a minute naming one
//! victim as the source (with a different query string each time, past any
//! cache): every WordPress server they reach becomes an HTTP flood
//! reflector. At the reflector that is a rate of pingbacks whose source is
//! not the site itself; at the victim, the same URL fetched by many
//! servers whose User-Agent says `WordPress/x.y; http://...; verifying
//! pingback from ...`.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::config::WordPressConf;

/// Victim hosts remembered per server and window.
const MAX_VICTIMS: usize = 8;

/// One server's pingback window.
#[derive(Clone, Debug)]
struct ServerWindow {
    start: Timestamp,
    calls: u32,
    /// Source hosts named, with their counts (the first few).
    victims: Vec<(String, u32)>,
    other_victims: u32,
    alerted: bool,
}

impl Aging for ServerWindow {
    fn keep(&self) -> u64 {
        u64::from(self.calls)
    }
    fn heap_bytes(&self) -> usize {
        self.victims.capacity() * std::mem::size_of::<(String, u32)>()
            + self
                .victims
                .iter()
                .map(|(h, _)| h.capacity())
                .sum::<usize>()
    }
}

/// One URL of one web server: the WordPress servers that fetched it.
#[derive(Clone, Debug)]
struct UrlWindow {
    start: Timestamp,
    sources: Vec<u32>,
    alerted: bool,
}

impl Aging for UrlWindow {
    fn keep(&self) -> u64 {
        self.sources.len() as u64
    }
    fn heap_bytes(&self) -> usize {
        self.sources.capacity() * std::mem::size_of::<u32>()
    }
}

/// Shared by all workers, each map bounded by its half of
/// `wordpress.memcap` (`wp_pingbacks`, `wp_victims`).
pub struct WordPressState {
    servers: SharedMap<IpAddr, ServerWindow>,
    urls: SharedMap<(IpAddr, u64), UrlWindow>,
    hash: foldhash::fast::RandomState,
}

impl WordPressState {
    pub fn new(conf: &WordPressConf, budget: &Arc<Budget>) -> Self {
        let cap = conf.memcap.as_usize() / 32;
        let secs = |s: u64| s.max(1).saturating_mul(1_000_000);
        WordPressState {
            servers: SharedMap::new(secs(conf.pingback_rate.seconds), |_| {
                Meter::new("wp_pingbacks", cap, Arc::clone(budget))
            }),
            urls: SharedMap::new(secs(conf.victim_window), |_| {
                Meter::new("wp_victims", cap, Arc::clone(budget))
            }),
            hash: foldhash::fast::RandomState::default(),
        }
    }

    pub fn reports(&self) -> [MemReport; 2] {
        [self.servers.report(), self.urls.report()]
    }
}

/// The evidence of a reflector alert (9700060).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReflectorVerdict {
    /// Pingbacks with a source elsewhere counted in the window.
    pub pingbacks: u32,
    pub window_s: u64,
    /// The host named most often as the source: the victim.
    pub victim: String,
    pub victim_pingbacks: u32,
    /// Distinct source hosts named.
    pub victims: usize,
}

/// The evidence of a victim-side alert (9700062).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VictimVerdict {
    /// WordPress servers that fetched the URL in the window.
    pub reflectors: usize,
    pub window_s: u64,
}

/// Whether a User-Agent is WordPress verifying a pingback
/// (`WordPress/6.1.9; http://blog.example; verifying pingback from 192.0.2.7`).
pub fn is_pingback_fetch(user_agent: &str) -> bool {
    user_agent.starts_with("WordPress/") && user_agent.contains("verifying pingback from")
}

impl Detector {
    /// `pingback.ping` calls reaching `server` (in home_net) at `ts`: the
    /// source hosts they name, each with its number of calls; `site` is the
    /// Host the request was sent to.
    /// Sources on the site itself are WordPress's own links and do not
    /// count. Returns the evidence when the window's count first reaches
    /// `wordpress.pingback_rate` (once per server and window).
    pub fn pingbacks(
        &self,
        server: IpAddr,
        site: Option<&str>,
        sources: &[(String, u32)],
        ts: Timestamp,
    ) -> Option<ReflectorVerdict> {
        if !self.is_home(server) {
            return None;
        }
        let site = site.map(|s| {
            let s = s.trim().to_ascii_lowercase();
            crate::normalise_domain(s.split(':').next().unwrap_or(&s))
        });
        let server_text = server.to_string();
        let elsewhere: Vec<&(String, u32)> = sources
            .iter()
            .filter(|(h, _)| Some(h.as_str()) != site.as_deref() && *h != server_text)
            .collect();
        if elsewhere.is_empty() {
            return None;
        }
        let rate = self.conf.wordpress.pingback_rate;
        let window = rate.seconds.max(1) * 1_000_000;
        let need = rate.count.max(1);
        let fresh = || ServerWindow {
            start: ts,
            calls: 0,
            victims: Vec::new(),
            other_victims: 0,
            alerted: false,
        };
        self.shared
            .wordpress
            .servers
            .with(server, ts.0, fresh, |w| {
                if crate::window_over(w.start, ts, window) {
                    *w = fresh();
                }
                for (h, k) in elsewhere.iter().copied() {
                    w.calls = w.calls.saturating_add(*k);
                    if let Some((_, n)) = w.victims.iter_mut().find(|(v, _)| v == h) {
                        *n = n.saturating_add(*k);
                    } else if w.victims.len() < MAX_VICTIMS {
                        w.victims.push((h.chars().take(255).collect(), *k));
                    } else {
                        w.other_victims += 1;
                    }
                }
                if w.calls < need || w.alerted {
                    return None;
                }
                w.alerted = true;
                let (victim, n) = w
                    .victims
                    .iter()
                    .max_by_key(|(_, n)| *n)
                    .cloned()
                    .unwrap_or_default();
                Some(ReflectorVerdict {
                    pingbacks: w.calls,
                    window_s: rate.seconds,
                    victim,
                    victim_pingbacks: n,
                    victims: w.victims.len() + w.other_victims.min(1) as usize,
                })
            })
            .flatten()
    }

    /// True when a multicall batch of `calls` calls is brute-force sized.
    pub fn multicall_too_big(&self, calls: u64) -> bool {
        calls > self.conf.wordpress.multicall_max_calls
    }

    /// A WordPress server (`reflector`) fetched `url` from `server` to
    /// verify a pingback. Returns the evidence when the URL's fetchers in
    /// the window first reach `wordpress.victim_min_sources`.
    pub fn pingback_fetch(
        &self,
        server: IpAddr,
        url: &str,
        reflector: IpAddr,
        ts: Timestamp,
    ) -> Option<VictimVerdict> {
        let c = &self.conf.wordpress;
        let window = c.victim_window.max(1) * 1_000_000;
        let need = c.victim_min_sources.max(1);
        let wp = &self.shared.wordpress;
        // Floods vary the query string to get past caches: the path is
        // what they all fetch.
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let key = (server, wp.hash.hash_one(path));
        let h = {
            let x = wp.hash.hash_one(reflector);
            (x ^ (x >> 32)) as u32
        };
        let fresh = || UrlWindow {
            start: ts,
            sources: Vec::new(),
            alerted: false,
        };
        wp.urls
            .with(key, ts.0, fresh, |w| {
                if crate::window_over(w.start, ts, window) {
                    *w = fresh();
                }
                if w.sources.len() < need && !w.sources.contains(&h) {
                    w.sources.push(h);
                }
                if w.sources.len() >= need && !w.alerted {
                    w.alerted = true;
                    return Some(VictimVerdict {
                        reflectors: w.sources.len(),
                        window_s: c.victim_window,
                    });
                }
                None
            })
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{det, ip};
    use crate::{DetectConf, NetSet};

    #[test]
    fn a_reflector_in_use() {
        let d = det();
        let wp = ip("10.0.0.80");
        let site = Some("Blog.Example.NET:80");
        let t = Timestamp::from_secs;
        // Its own links are normal.
        for i in 0..50 {
            assert!(
                d.pingbacks(wp, site, &[("blog.example.net".into(), 1)], t(i))
                    .is_none()
            );
        }
        let mut got = Vec::new();
        for i in 0..40u64 {
            let victim = if i % 4 == 0 {
                "other.example"
            } else {
                "victim.example"
            };
            if let Some(v) = d.pingbacks(wp, site, &[(victim.into(), 1)], t(100 + i)) {
                got.push((i, v));
            }
        }
        assert_eq!(got.len(), 1);
        let (i, v) = &got[0];
        assert_eq!(*i, 9);
        assert_eq!(v.pingbacks, 10);
        assert_eq!(
            (v.victim.as_str(), v.victim_pingbacks, v.victims),
            ("victim.example", 7, 2)
        );
        // Not ours: nothing.
        for i in 0..40 {
            assert!(
                d.pingbacks(ip("8.8.8.8"), None, &[("v.example".into(), 1)], t(i))
                    .is_none()
            );
        }
    }

    #[test]
    fn a_victim_fetched_by_many_wordpress_servers() {
        let d = det();
        let victim = ip("10.0.0.9");
        let t = Timestamp::from_secs(5);
        let mut fired = 0;
        for i in 0..30u8 {
            let url = format!("/?{}", 1000 + u32::from(i));
            let refl = IpAddr::from([198, 51, 100, i % 12]);
            if let Some(v) = d.pingback_fetch(victim, &url, refl, t) {
                fired += 1;
                assert_eq!(v.reflectors, 10);
            }
        }
        assert_eq!(fired, 1);
        assert!(is_pingback_fetch(
            "WordPress/6.1.9; http://wp.victim.lab:8081; verifying pingback from 10.77.1.10"
        ));
        assert!(!is_pingback_fetch("WordPress/6.1.9; http://wp.example"));
        assert!(d.multicall_too_big(21) && !d.multicall_too_big(20));
    }

    #[test]
    fn forged_floods_stay_within_the_memcap() {
        let mut conf = DetectConf::default();
        conf.wordpress.memcap = crate::config::ByteSize(2 << 20);
        let d = Detector::new(
            conf,
            NetSet::new(["0.0.0.0/0".parse().unwrap()]),
            NetSet::default(),
        );
        let t = Timestamp::from_secs;
        let wp = ip("10.0.0.80");
        let victim = ip("10.0.0.9");
        // A reflector and a victim, each one short of its alert.
        for i in 0..9u8 {
            assert!(
                d.pingbacks(wp, None, &[("victim.example".into(), 1)], t(1))
                    .is_none()
            );
            let refl = IpAddr::from([198, 51, 100, i]);
            assert!(d.pingback_fetch(victim, "/", refl, t(1)).is_none());
        }
        // A forger: pingbacks to 300,000 servers, fetches of 300,000 URLs.
        for i in 0..300_000u32 {
            let a = IpAddr::from((0x0a80_0000 + i).to_be_bytes());
            d.pingbacks(a, None, &[("x.example".into(), 1)], t(2));
            d.pingback_fetch(victim, &format!("/p{i}"), a, t(2));
        }
        let [servers, urls] = d.shared.wordpress.reports();
        for r in [&servers, &urls] {
            assert!(r.memuse <= 1 << 20 && r.evicted > 0, "{r:?}");
        }
        // Both windows near their thresholds were kept.
        let v = d.pingbacks(wp, None, &[("victim.example".into(), 1)], t(3));
        assert_eq!(v.map(|v| v.pingbacks), Some(10));
        let refl = ip("198.51.100.9");
        let v = d.pingback_fetch(victim, "/?x", refl, t(3));
        assert_eq!(v.map(|v| v.reflectors), Some(10));
    }
}
