//! The detectors' part of sensor.yaml: `proxy`, `socks`, `smtp`, `ntp`,
//! `amplification`, `sweep` and `alerts`. Defaults here equal the shipped
//! sensor.yaml (the sensor's tests hold them to it).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog;

pub use fumidai_budget::size::{ByteSize, from_str_scalar};

/// A network in CIDR notation; a bare address means that one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net(pub IpNet);

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<IpNet>() {
            return Ok(Net(n.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|a| Net(IpNet::from(a)))
            .map_err(|_| format!("`{s}` is not an address or CIDR network"))
    }
}

impl Serialize for Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "an address or CIDR network")
    }
}

/// HTTP proxy detection (sids 9700001–9700004).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConf {
    /// Ports that make a CONNECT (or a SOCKS CONNECT) a mail relay attempt.
    pub smtp_ports: Vec<u16>,
    /// Ports a CONNECT may ask for without alert 9700004.
    pub allowed_connect_ports: Vec<u16>,
    /// Our own proxies: absolute-form requests and CONNECT to allowed ports
    /// are normal there; the SMTP and port rules still apply.
    pub known_proxies: Vec<Net>,
}

impl Default for ProxyConf {
    fn default() -> Self {
        ProxyConf {
            smtp_ports: vec![25, 465, 587],
            allowed_connect_ports: vec![443],
            known_proxies: Vec::new(),
        }
    }
}

/// SOCKS decoding (sids 9700010–9700012).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocksConf {
    /// Log SOCKS 5 passwords in `socks` events (never by default).
    pub log_password: bool,
}

/// SMTP relay, proxy-check and bot detection (sids 9700020–9700024).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConf {
    /// Clients allowed to relay. Empty: home_net.
    pub relay_networks: Vec<Net>,
    /// Our mail domains. Empty: judge by the server's own banner/HELO
    /// domain (a recipient in the server's own domain is local).
    pub local_domains: Vec<String>,
    /// Hosts that legitimately send a lot of mail (our MTAs).
    pub mail_servers: Vec<Net>,
    /// Messages per hour of packet time above which a host that is not a
    /// mail server is reported as a spam bot.
    pub bot_messages_per_hour: u32,
    /// Body lines searched for an `IPv4:port` proxy-check marker.
    pub proxy_check_body_lines: usize,
    /// Memory for the per-host message counters of the bot detector.
    pub bots_memcap: ByteSize,
}

impl Default for SmtpConf {
    fn default() -> Self {
        SmtpConf {
            relay_networks: Vec::new(),
            local_domains: Vec::new(),
            mail_servers: Vec::new(),
            bot_messages_per_hour: 500,
            proxy_check_body_lines: 10,
            bots_memcap: ByteSize(16 << 20),
        }
    }
}

/// How ordinary NTP (modes 1–5) is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NtpLog {
    /// Every packet.
    All,
    /// One `ntp` event per flow for modes 1–5 (the first packet), so time
    /// sync does not flood the log; modes 6 and 7 are always logged.
    Summary,
    /// Modes 6 and 7 only.
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtpConf {
    pub log: NtpLog,
}

impl Default for NtpConf {
    fn default() -> Self {
        NtpConf {
            log: NtpLog::Summary,
        }
    }
}

/// A reflection service the amplification engine watches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// UDP port the service answers on.
    pub port: u16,
    /// Published bandwidth amplification factor, for context in alerts
    /// (Rossow, "Amplification Hell", NDSS 2014; US-CERT TA14-017A).
    pub baf: f64,
    /// Response bytes ÷ request bytes at or above which 9700032 fires.
    pub min_ratio: f64,
    /// Response bytes in the window below which nothing fires.
    pub min_bytes: u64,
}

impl Service {
    fn new(name: &str, port: u16, baf: f64, min_ratio: f64, min_bytes: u64) -> Self {
        Service {
            name: name.into(),
            port,
            baf,
            min_ratio,
            min_bytes,
        }
    }
}

/// The amplification engine (sids 9700032–9700034).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmpConf {
    /// Sliding window of packet time, in seconds.
    pub window: u64,
    /// Reflectors hitting one victim that make a reflection DDoS (9700033).
    pub min_reflectors: usize,
    /// Memory for (reflector, victim, service) pairs, across all workers.
    pub memcap: ByteSize,
    /// Memory for the per-victim reflector sets (9700033).
    pub victims_memcap: ByteSize,
    pub services: Vec<Service>,
}

impl Default for AmpConf {
    fn default() -> Self {
        AmpConf {
            window: 60,
            min_reflectors: 5,
            memcap: ByteSize(64 << 20),
            victims_memcap: ByteSize(16 << 20),
            services: vec![
                Service::new("ntp", 123, 556.9, 20.0, 10_000),
                Service::new("dns", 53, 54.6, 30.0, 30_000),
                Service::new("ssdp", 1900, 30.8, 10.0, 10_000),
                Service::new("chargen", 19, 358.8, 10.0, 5_000),
                Service::new("qotd", 17, 140.3, 10.0, 5_000),
                Service::new("memcached", 11211, 51_000.0, 10.0, 10_000),
                Service::new("cldap", 389, 70.0, 10.0, 10_000),
                Service::new("snmp", 161, 6.3, 8.0, 20_000),
                Service::new("ws-discovery", 3702, 300.0, 10.0, 10_000),
                Service::new("netbios", 137, 3.8, 3.5, 20_000),
                Service::new("ripv1", 520, 131.2, 10.0, 5_000),
                Service::new("portmap", 111, 28.0, 6.0, 10_000),
                Service::new("mdns", 5353, 9.8, 6.0, 20_000),
                Service::new("coap", 5683, 34.0, 10.0, 10_000),
            ],
        }
    }
}

/// Proxy port sweeps (sid 9700040).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConf {
    pub ports: Vec<u16>,
    /// Distinct hosts probed on those ports within the window.
    pub min_hosts: usize,
    /// Seconds of packet time.
    pub window: u64,
    /// Memory for the per-source probe sets.
    pub memcap: ByteSize,
}

impl Default for SweepConf {
    fn default() -> Self {
        SweepConf {
            ports: vec![1080, 3128, 8080],
            min_hosts: 10,
            window: 300,
            memcap: ByteSize(16 << 20),
        }
    }
}

/// A signature id that exists in the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid(pub u32);

impl FromStr for Sid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n: u32 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a signature id"))?;
        catalog::signature(n)
            .map(|_| Sid(n))
            .ok_or_else(|| format!("unknown signature id {n} (see docs/alerts.md)"))
    }
}

impl Serialize for Sid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Sid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "a signature id")
    }
}

/// Per-signature switches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SidConf {
    pub enabled: bool,
    /// Overrides the catalogue's severity (1 worst .. 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    /// Overrides the catalogue's threshold (Suricata's `threshold`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
}

impl Default for SidConf {
    fn default() -> Self {
        SidConf {
            enabled: true,
            severity: None,
            threshold: None,
        }
    }
}

/// How a threshold counts, as Suricata's `threshold: type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdType {
    /// The first `count` alerts of each window.
    Limit,
    /// Every `count`-th match within the window.
    Threshold,
    /// One alert per window, once `count` matches were seen in it.
    Both,
    /// No threshold (switches off the catalogue's default for this sid).
    Off,
}

/// What a threshold counts per, as Suricata's `track`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    /// The alert's `src_ip`.
    BySrc,
    /// The alert's `dest_ip`.
    ByDst,
    /// The signature as a whole.
    ByRule,
    /// The pair of addresses.
    ByBoth,
}

/// A per-signature threshold (Suricata's threshold.config semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    #[serde(rename = "type")]
    pub kind: ThresholdType,
    pub track: Track,
    pub count: u32,
    /// Window in seconds of packet time.
    pub seconds: u64,
}

/// A rate: at most `count` per `seconds` of packet time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub count: u32,
    pub seconds: u64,
}

/// Guards against alert storms: forged sources defeat per-source limits,
/// so every signature also has a ceiling of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertLimitsConf {
    /// Alerts per signature per window, whatever their sources; beyond it
    /// they are counted and summarised by 9700090 once the window ends.
    pub per_signature: Rate,
    /// Sources and destinations named in a summary.
    pub sample: usize,
    /// Memory for per-source and per-destination threshold state.
    pub memcap: ByteSize,
}

impl Default for AlertLimitsConf {
    fn default() -> Self {
        AlertLimitsConf {
            per_signature: Rate {
                count: 1000,
                seconds: 60,
            },
            sample: 10,
            memcap: ByteSize(16 << 20),
        }
    }
}

/// Everything the detectors are configured with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConf {
    pub proxy: ProxyConf,
    pub socks: SocksConf,
    pub smtp: SmtpConf,
    pub ntp: NtpConf,
    pub amplification: AmpConf,
    pub sweep: SweepConf,
    /// Per-signature overrides, by signature id.
    pub alerts: BTreeMap<Sid, SidConf>,
    pub alert_limits: AlertLimitsConf,
}
