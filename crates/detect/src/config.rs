//! The detectors' part of sensor.yaml: `proxy`, `socks`, `smtp`, `ntp`,
//! `amplification`, `sweep`, `irc`, `wordpress`, `dns` and `alerts`. Defaults here equal the shipped
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
    /// What is taken from message bodies.
    pub mime: SmtpMimeConf,
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
            mime: SmtpMimeConf::default(),
        }
    }
}

/// URL extraction from message text (`email.url`), as Suricata's
/// `app-layer.protocols.smtp.mime` options of the same names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpMimeConf {
    /// Search message text for URLs.
    pub extract_urls: bool,
    /// Schemes searched for (`http`, `https`, `ftp`, `mailto` ...).
    pub extract_urls_schemes: Vec<String>,
    /// Keep the scheme (`http://`) in what is logged.
    pub log_url_scheme: bool,
    /// MD5s written in `email` (`body_md5`, `subject_md5`), as Suricata's
    /// eve-log smtp `md5` option.
    pub md5: Vec<Md5Of>,
}

/// What `smtp.mime.md5` hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Md5Of {
    /// The message body as sent (after its headers).
    Body,
    /// The Subject header's value as sent.
    Subject,
}

impl Default for SmtpMimeConf {
    fn default() -> Self {
        SmtpMimeConf {
            extract_urls: true,
            extract_urls_schemes: vec!["http".into()],
            log_url_scheme: false,
            md5: Vec::new(),
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

/// How mode 6/7 requests that no answer follows are logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unanswered {
    /// One `ntp` record per source and window (`ntp.unanswered`): a scan of
    /// 10,000 servers is one line. Answered requests keep their records.
    Summary,
    /// One `ntp` record per request, as it arrives.
    All,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtpConf {
    pub log: NtpLog,
    pub unanswered: Unanswered,
    /// Seconds of packet time one unanswered-request summary covers.
    pub summary_window: u64,
    /// Memory for the per-source summaries.
    pub summary_memcap: ByteSize,
}

impl Default for NtpConf {
    fn default() -> Self {
        NtpConf {
            log: NtpLog::Summary,
            unanswered: Unanswered::Summary,
            summary_window: 300,
            summary_memcap: ByteSize(16 << 20),
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
    /// The victim-level view (9700035): distinct reflectors sending one
    /// victim unsolicited responses within a window, from which it fires
    /// (0: this criterion is off).
    #[serde(default = "default_flood_reflectors")]
    pub flood_reflectors: u64,
    /// ... or unsolicited response bytes per second one victim receives
    /// (the busiest sixth of a window), from which it fires (0: off).
    #[serde(default = "default_flood_bytes_per_s")]
    pub flood_bytes_per_s: ByteSize,
}

fn default_flood_reflectors() -> u64 {
    100
}

fn default_flood_bytes_per_s() -> ByteSize {
    ByteSize(1 << 20)
}

impl Service {
    fn new(name: &str, port: u16, baf: f64, min_ratio: f64, min_bytes: u64) -> Self {
        Service {
            name: name.into(),
            port,
            baf,
            min_ratio,
            min_bytes,
            flood_reflectors: default_flood_reflectors(),
            flood_bytes_per_s: default_flood_bytes_per_s(),
        }
    }
}

/// The amplification engine (sids 9700032–9700035).
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
    /// Memory for the victim-level view (9700035): half for the shared
    /// per-victim windows, half for the workers' per-bucket sums.
    pub floods_memcap: ByteSize,
    pub services: Vec<Service>,
}

impl Default for AmpConf {
    fn default() -> Self {
        AmpConf {
            window: 60,
            min_reflectors: 5,
            memcap: ByteSize(64 << 20),
            victims_memcap: ByteSize(16 << 20),
            floods_memcap: ByteSize(16 << 20),
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

/// IRC decoding and bot detection (sids 9700050–9700054).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IrcConf {
    /// Server ports where IRC is expected; a session on any other raises 9700052.
    pub standard_ports: Vec<u16>,
    /// Log message texts (PRIVMSG, NOTICE, topics) as `irc` events.
    /// Never by default: they are people's conversations.
    pub log_messages: bool,
    /// Seconds after a command within which the client must act on it for
    /// the session to count as a bot's (9700053).
    pub bot_reaction_seconds: u64,
    /// New outbound connections to this many distinct hosts within those
    /// seconds count as acting on the command (a scan).
    pub bot_reaction_hosts: usize,
    /// ... and this many new connections to SMTP ports (a spam run).
    pub bot_reaction_smtp: u32,
    /// Hosts of home_net joining one channel of one server within
    /// `botnet_window` seconds that make a botnet assembling (9700054).
    pub botnet_min_hosts: usize,
    pub botnet_window: u64,
    /// Seconds a host stays a proxy/relay suspect after an alert that
    /// confirmed it (for 9700051).
    pub suspect_seconds: u64,
    /// Memory for per-host IRC state (suspects, pending bot commands).
    pub hosts_memcap: ByteSize,
    /// Memory for the hosts seen per channel (9700054).
    pub channels_memcap: ByteSize,
}

impl Default for IrcConf {
    fn default() -> Self {
        IrcConf {
            standard_ports: (6660..=6669).chain([6697, 7000]).collect(),
            log_messages: false,
            bot_reaction_seconds: 30,
            bot_reaction_hosts: 10,
            bot_reaction_smtp: 3,
            botnet_min_hosts: 10,
            botnet_window: 600,
            suspect_seconds: 86_400,
            hosts_memcap: ByteSize(16 << 20),
            channels_memcap: ByteSize(16 << 20),
        }
    }
}

/// WordPress XML-RPC abuse (sids 9700060–9700062).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WordPressConf {
    /// `pingback.ping` calls naming a source elsewhere, received by one
    /// server in home_net within the window, that make it a reflector in
    /// use (9700060).
    pub pingback_rate: Rate,
    /// `system.multicall` batches of more calls than this raise 9700061.
    pub multicall_max_calls: u64,
    /// WordPress servers verifying pingbacks by fetching the same URL of
    /// one web server within `victim_window` seconds: a reflected flood
    /// (9700062).
    pub victim_min_sources: usize,
    pub victim_window: u64,
    /// Memory for the per-server pingback counts and per-URL fetchers.
    pub memcap: ByteSize,
}

impl Default for WordPressConf {
    fn default() -> Self {
        WordPressConf {
            pingback_rate: Rate {
                count: 10,
                seconds: 60,
            },
            multicall_max_calls: 20,
            victim_min_sources: 10,
            victim_window: 60,
            memcap: ByteSize(16 << 20),
        }
    }
}

/// DNS decoding and bot query volume (sids 9700080–9700081).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConf {
    /// Write a `dns` event (Suricata's layout, version 3) for every query and
    /// response. Off by default: counting needs no log.
    pub log: bool,
    /// Our resolvers: they ask on behalf of many clients, so their queries
    /// are not counted.
    pub resolvers: Vec<Net>,
    /// Queries per hour of packet time from one host above which it is
    /// reported as a bot (9700080).
    pub bot_queries_per_hour: u32,
    /// Distinct names looked up as MX per hour above which a host that is
    /// neither a resolver nor a mail server is reported (9700081).
    pub mx_lookups_per_hour: usize,
    /// Memory for the per-host counters.
    pub memcap: ByteSize,
}

impl Default for DnsConf {
    fn default() -> Self {
        DnsConf {
            log: false,
            resolvers: Vec::new(),
            bot_queries_per_hour: 10_000,
            mx_lookups_per_hour: 50,
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
    pub irc: IrcConf,
    pub wordpress: WordPressConf,
    pub dns: DnsConf,
    /// Per-signature overrides, by signature id.
    pub alerts: BTreeMap<Sid, SidConf>,
    pub alert_limits: AlertLimitsConf,
}
