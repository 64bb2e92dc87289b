//! fumidai's detectors: open HTTP/SOCKS proxies, open SMTP relays,
//! proxy-check mail, spam bots, NTP monlist and UDP amplification, proxy
//! port sweeps, IRC bots and botnets, WordPress pingback reflection and
//! multicall brute force, Shellshock probes, bot DNS volume.
//!
//! Detectors know nothing about packets: they are asked about transactions
//! and endpoints (and, for amplification, byte counts), and answer with the
//! signature ids that apply. The engine turns those into EVE alerts with the
//! transaction's object as evidence.

pub mod amp;
pub mod catalog;
pub mod config;
pub mod distinct;
pub mod dns;
pub mod flood;
pub mod irc;
pub mod limits;
pub mod nets;
pub mod ntp_scan;
pub mod proxy;
pub mod smtp;
pub mod sweep;
pub mod top;
pub mod wordpress;

#[cfg(test)]
mod testutil;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Budget, MemReport};
use fumidai_wire::Timestamp;

pub use catalog::Signature;
pub use config::DetectConf;
pub use nets::NetSet;

/// An alert's identity as EVE writes it (`alert.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertInfo {
    pub sid: u32,
    pub rev: u32,
    pub msg: &'static str,
    pub category: &'static str,
    pub severity: u8,
    /// The signature's threshold (sensor.yaml's, else the catalogue's).
    pub threshold: Option<config::Threshold>,
}

/// The detectors' configuration, compiled for lookups, plus the state
/// shared by all workers.
pub struct Detector {
    pub conf: DetectConf,
    pub home_net: NetSet,
    /// Empty: everything outside home_net.
    pub external_net: NetSet,
    pub relay_networks: NetSet,
    pub known_proxies: NetSet,
    pub mail_servers: NetSet,
    /// `dns.resolvers`.
    pub resolvers: NetSet,
    pub local_domains: Vec<String>,
    sids: HashMap<u32, AlertInfo>,
    pub shared: Arc<Shared>,
}

/// Cross-flow state every worker sees: kept coarse and off the packet path
/// (touched per transaction or per batch), each map bounded by its memcap.
pub struct Shared {
    pub bots: smtp::BotCounter,
    pub victims: amp::VictimMap,
    pub floods: flood::FloodMap,
    pub sweeps: sweep::SweepMap,
    pub irc: irc::IrcState,
    pub dns: dns::DnsHosts,
    pub wordpress: wordpress::WordPressState,
    pub ntp_scans: ntp_scan::NtpScans,
    pub limits: limits::AlertLimits,
    pub budget: Arc<Budget>,
}

impl Shared {
    /// The memory counters of every shared map.
    pub fn reports(&self) -> Vec<MemReport> {
        let [irc_hosts, irc_channels] = self.irc.reports();
        let [wp_pingbacks, wp_victims] = self.wordpress.reports();
        vec![
            self.bots.report(),
            self.victims.report(),
            self.floods.report(),
            self.sweeps.report(),
            irc_hosts,
            irc_channels,
            self.dns.report(),
            wp_pingbacks,
            wp_victims,
            self.ntp_scans.report(),
            self.limits.report(),
        ]
    }
}

impl Detector {
    /// Detectors with no memory limit beyond their own memcaps (tools, tests).
    pub fn new(conf: DetectConf, home_net: NetSet, external_net: NetSet) -> Self {
        Self::with_budget(conf, home_net, external_net, Budget::unlimited())
    }

    /// Detectors whose shared maps draw from the sensor's `budget`.
    pub fn with_budget(
        conf: DetectConf,
        home_net: NetSet,
        external_net: NetSet,
        budget: Arc<Budget>,
    ) -> Self {
        let set = |v: &[config::Net]| NetSet::new(v.iter().map(|n| n.0));
        let relay_networks = if conf.smtp.relay_networks.is_empty() {
            home_net.clone()
        } else {
            set(&conf.smtp.relay_networks)
        };
        let mut sids = HashMap::new();
        for s in catalog::SIGNATURES {
            let over = conf
                .alerts
                .get(&config::Sid(s.sid))
                .cloned()
                .unwrap_or_default();
            if over.enabled {
                sids.insert(
                    s.sid,
                    AlertInfo {
                        sid: s.sid,
                        rev: s.rev,
                        msg: s.msg,
                        category: s.category,
                        severity: over.severity.unwrap_or(s.severity).clamp(1, 3),
                        threshold: over
                            .threshold
                            .or_else(|| catalog::default_threshold(s.sid))
                            .filter(|t| t.kind != config::ThresholdType::Off),
                    },
                );
            }
        }
        let longest_threshold = sids
            .values()
            .filter_map(|a: &AlertInfo| a.threshold.map(|t| t.seconds))
            .max()
            .unwrap_or(60);
        let shared = Arc::new(Shared {
            bots: smtp::BotCounter::new(conf.smtp.bots_memcap.as_usize(), &budget),
            victims: amp::VictimMap::new(
                conf.amplification.victims_memcap.as_usize(),
                conf.amplification.window,
                &budget,
            ),
            floods: flood::FloodMap::new(
                conf.amplification.floods_memcap.as_usize() / 2,
                conf.amplification.window,
                &budget,
            ),
            sweeps: sweep::SweepMap::new(&conf.sweep, &budget),
            irc: irc::IrcState::new(&conf.irc, &budget),
            dns: dns::DnsHosts::new(&conf.dns, &budget),
            wordpress: wordpress::WordPressState::new(&conf.wordpress, &budget),
            ntp_scans: ntp_scan::NtpScans::new(
                conf.ntp.summary_memcap.as_usize(),
                conf.ntp.summary_window,
                &budget,
            ),
            limits: limits::AlertLimits::new(conf.alert_limits.clone(), longest_threshold, &budget),
            budget,
        });
        Detector {
            known_proxies: set(&conf.proxy.known_proxies),
            mail_servers: set(&conf.smtp.mail_servers),
            resolvers: set(&conf.dns.resolvers),
            local_domains: conf
                .smtp
                .local_domains
                .iter()
                .map(|d| normalise_domain(d))
                .collect(),
            relay_networks,
            home_net,
            external_net,
            sids,
            conf,
            shared,
        }
    }

    /// The alert for `sid`, or `None` when that signature is switched off.
    pub fn alert(&self, sid: u32) -> Option<AlertInfo> {
        self.sids.get(&sid).copied()
    }

    /// Whether an alert of `a` from `src` to `dst` at `ts` is written, after
    /// its threshold and its signature's ceiling (see [`limits`]).
    pub fn admit(
        &self,
        a: &AlertInfo,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        ts: Timestamp,
    ) -> bool {
        self.shared
            .limits
            .admit(a.sid, a.threshold.as_ref(), src, dst, ts)
    }

    /// True when `a` is outside home_net (or inside external_net when that is set).
    pub fn is_external(&self, a: IpAddr) -> bool {
        if self.external_net.is_empty() {
            !self.home_net.contains(a)
        } else {
            self.external_net.contains(a)
        }
    }

    pub fn is_home(&self, a: IpAddr) -> bool {
        self.home_net.contains(a)
    }
}

/// Lower-case, without a trailing dot.
pub fn normalise_domain(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// True when a window that began at `start` no longer covers `ts`: a whole
/// window has passed, or time went back by a whole window (the next capture
/// of a replay). Workers report slightly out of order, so a small step back
/// stays in the window; treating it as new would fire again.
pub(crate) fn window_over(
    start: fumidai_wire::Timestamp,
    ts: fumidai_wire::Timestamp,
    window: u64,
) -> bool {
    ts.micros_since(start) >= window || start.micros_since(ts) >= window
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::{Sid, SidConf};

    fn home() -> NetSet {
        NetSet::new(["10.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn disabled_and_reweighted_signatures() {
        let mut conf = DetectConf::default();
        conf.alerts.insert(
            Sid(catalog::PROXY_CONNECT_PORT),
            SidConf {
                enabled: false,
                severity: None,
                threshold: None,
            },
        );
        conf.alerts.insert(
            Sid(catalog::PROXY_ABSOLUTE_FORM),
            SidConf {
                enabled: true,
                severity: Some(1),
                threshold: None,
            },
        );
        let d = Detector::new(conf, home(), NetSet::default());
        assert!(d.alert(catalog::PROXY_CONNECT_PORT).is_none());
        assert_eq!(d.alert(catalog::PROXY_ABSOLUTE_FORM).unwrap().severity, 1);
        assert_eq!(d.alert(catalog::PROXY_CONNECT_SMTP).unwrap().severity, 2);
    }

    #[test]
    fn external_is_the_complement_of_home_unless_set() {
        let d = Detector::new(DetectConf::default(), home(), NetSet::default());
        assert!(d.is_external("8.8.8.8".parse().unwrap()));
        assert!(!d.is_external("10.1.1.1".parse().unwrap()));
        let d = Detector::new(
            DetectConf::default(),
            home(),
            NetSet::new(["8.8.0.0/16".parse().unwrap()]),
        );
        assert!(!d.is_external("9.9.9.9".parse().unwrap()));
    }

    #[test]
    fn sid_keys_are_checked_against_the_catalogue() {
        let ok: std::collections::BTreeMap<Sid, SidConf> =
            serde_norway::from_str("9700004: {enabled: false}").unwrap();
        assert_eq!(ok.len(), 1);
        let e = serde_norway::from_str::<std::collections::BTreeMap<Sid, SidConf>>(
            "9700099: {enabled: false}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown signature id 9700099"), "{e}");
    }
}
