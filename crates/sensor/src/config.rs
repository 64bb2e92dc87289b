//! sensor.yaml: the typed configuration, its defaults (which equal the
//! shipped sensor.yaml, a test checks it) and loading with errors that name
//! the file, line and key.

mod decoder;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use fumidai_detect::config::{
    AlertLimitsConf, AmpConf, DnsConf, IrcConf, NtpConf, ProxyConf, Sid, SidConf, SmtpConf,
    SocksConf, SweepConf, WordPressConf, from_str_scalar,
};
pub use fumidai_detect::config::{ByteSize, Net};
use fumidai_flow::OverlapPolicy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use decoder::DecoderConf;
pub use fumidai_eve::conf::{EventTypeName, OutputConf};

/// The shipped configuration; tests hold the built-in defaults to it.
#[cfg(test)]
pub const SHIPPED: &str = include_str!("../../../sensor.yaml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sensor: SensorConf,
    pub home_net: Vec<Net>,
    pub external_net: Vec<Net>,
    pub workers: usize,
    /// The sum of every memcap below may not exceed this.
    pub memcap: ByteSize,
    pub capture: CaptureConfig,
    pub decoder: DecoderConf,
    pub flow: FlowConfig,
    pub stream: StreamConf,
    pub defrag: DefragConf,
    pub app_layer: AppLayerConf,
    pub eve: EveConfig,
    pub stats: StatsConfig,
    pub proxy: ProxyConf,
    pub socks: SocksConf,
    pub smtp: SmtpConf,
    pub ntp: NtpConf,
    pub amplification: AmpConf,
    pub sweep: SweepConf,
    pub irc: IrcConf,
    pub wordpress: WordPressConf,
    pub dns: DnsConf,
    pub alerts: BTreeMap<Sid, SidConf>,
    pub alert_limits: AlertLimitsConf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sensor: SensorConf::default(),
            home_net: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            external_net: Vec::new(),
            workers: 0,
            memcap: ByteSize(1 << 30),
            capture: CaptureConfig::default(),
            decoder: DecoderConf::default(),
            flow: FlowConfig::default(),
            stream: StreamConf::default(),
            defrag: DefragConf::default(),
            app_layer: AppLayerConf::default(),
            eve: EveConfig::default(),
            stats: StatsConfig::default(),
            proxy: ProxyConf::default(),
            socks: SocksConf::default(),
            smtp: SmtpConf::default(),
            ntp: NtpConf::default(),
            amplification: AmpConf::default(),
            sweep: SweepConf::default(),
            irc: IrcConf::default(),
            wordpress: WordPressConf::default(),
            dns: DnsConf::default(),
            alerts: BTreeMap::new(),
            alert_limits: AlertLimitsConf::default(),
        }
    }
}

/// Who this sensor is, in a fleet: its name (Suricata's `host` on every
/// record) and tags that ride along (`sensor.tags`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorConf {
    /// Empty: the host name.
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

impl SensorConf {
    /// The name records carry: the configured one, else the host name.
    pub fn effective_name(&self) -> String {
        if self.name.is_empty() {
            fumidai_eve::identity::host_name()
        } else {
            self.name.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// How live capture reads the interface.
    pub method: CaptureMethod,
    /// af-packet: the PACKET_FANOUT group the workers' sockets join; 0 picks
    /// one of this process's own. Processes that give the same id share
    /// the interface's traffic.
    pub fanout_group: u16,
    /// af-packet: the ring's layout (TPACKET_V3 or TPACKET_V2).
    pub tpacket: Tpacket,
    /// TPACKET_V2: how long a worker that has just handed over a short run
    /// of frames lets the next ones gather before it takes them, in
    /// microseconds. 0: each as it arrives.
    pub gather_us: u64,
    pub promiscuous: bool,
    pub snaplen: u32,
    pub buffer_size: ByteSize,
    pub immediate: bool,
    pub flush_ms: u64,
    pub bpf: String,
    pub checksum_validation: ChecksumValidation,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            method: CaptureMethod::Pcap,
            fanout_group: 0,
            tpacket: Tpacket::V3,
            gather_us: 100,
            promiscuous: true,
            snaplen: 65535,
            buffer_size: ByteSize(64 << 20),
            immediate: false,
            flush_ms: 100,
            bpf: String::new(),
            checksum_validation: ChecksumValidation::Auto,
        }
    }
}

/// `capture.method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureMethod {
    /// libpcap: one capture thread hands batches to the workers.
    #[serde(rename = "pcap")]
    Pcap,
    /// Linux AF_PACKET: a TPACKET_V3 ring per worker in one fanout group.
    #[serde(rename = "af-packet")]
    AfPacket,
}

/// `capture.tpacket`: the AF_PACKET ring version. V3 hands over blocks of
/// packets (fewest wakeups, most throughput; a block that is not full waits
/// for its timer); V2 hands over each frame as it arrives (lowest latency,
/// one wakeup per packet when the link is not busy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub enum Tpacket {
    V2,
    V3,
}

impl TryFrom<u64> for Tpacket {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        match v {
            2 => Ok(Tpacket::V2),
            3 => Ok(Tpacket::V3),
            _ => Err(format!(
                "TPACKET version {v} is not supported, expected 3 or 2"
            )),
        }
    }
}

impl From<Tpacket> for u64 {
    fn from(t: Tpacket) -> u64 {
        match t {
            Tpacket::V2 => 2,
            Tpacket::V3 => 3,
        }
    }
}

/// Whether packets with bad checksums are ignored (Suricata's
/// `checksum-checks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumValidation {
    /// Live capture: yes. Capture files: yes, unless the first packets of
    /// a file show checksum offloading (more than 1 in 10 bad).
    Auto,
    Yes,
    No,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowConfig {
    pub max_flows: usize,
    pub memcap: ByteSize,
    pub timeouts: FlowTimeouts,
    /// Tunnelled flows are told apart by tunnel (see sensor.yaml).
    pub tunnel_aware_keys: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            memcap: ByteSize(512 << 20),
            timeouts: FlowTimeouts::default(),
            tunnel_aware_keys: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowTimeouts {
    pub tcp: TcpTimeouts,
    pub udp: StateTimeouts,
    pub icmp: StateTimeouts,
    pub default: StateTimeouts,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpTimeouts {
    pub new: u64,
    pub established: u64,
    pub closed: u64,
}

impl Default for TcpTimeouts {
    fn default() -> Self {
        TcpTimeouts {
            new: 60,
            established: 600,
            closed: 60,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateTimeouts {
    pub new: u64,
    pub established: u64,
}

impl Default for StateTimeouts {
    fn default() -> Self {
        StateTimeouts {
            new: 30,
            established: 300,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    First,
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConf {
    pub depth: ByteSize,
    pub overlap_policy: StreamPolicy,
    /// Per host: the stack whose overlap policy applies to bytes it receives.
    pub host_os_policy: BTreeMap<StreamPolicy, Vec<Net>>,
    pub urgent_policy: UrgentPolicy,
    pub ttl_check: bool,
    pub memcap: ByteSize,
    pub max_buffered: ByteSize,
    pub max_segments: usize,
    pub retain_bytes: ByteSize,
    pub app_depth: AppDepth,
}

impl Default for StreamConf {
    fn default() -> Self {
        StreamConf {
            depth: ByteSize(1 << 20),
            overlap_policy: StreamPolicy(OverlapPolicy::First),
            host_os_policy: BTreeMap::new(),
            urgent_policy: UrgentPolicy::Oob,
            ttl_check: true,
            memcap: ByteSize(256 << 20),
            max_buffered: ByteSize(1 << 20),
            max_segments: 2048,
            retain_bytes: ByteSize(64 << 10),
            app_depth: AppDepth::default(),
        }
    }
}

/// A TCP overlap policy by its Suricata name (`first`, `last`, `bsd`,
/// `linux`, `windows`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamPolicy(pub OverlapPolicy);

impl PartialOrd for StreamPolicy {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for StreamPolicy {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.name().cmp(o.0.name())
    }
}

impl FromStr for StreamPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OverlapPolicy::from_name(s.trim())
            .map(StreamPolicy)
            .ok_or_else(|| {
                let names: Vec<_> = OverlapPolicy::ALL.iter().map(|(_, n)| *n).collect();
                format!(
                    "unknown overlap policy `{s}`, expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl Serialize for StreamPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for StreamPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "an overlap policy")
    }
}

/// What the receiving stack does with TCP urgent data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrgentPolicy {
    /// Out of band: the urgent byte is not part of the stream (the default
    /// of Linux, BSD and Windows sockets).
    Oob,
    /// Inline (`SO_OOBINLINE`).
    Inline,
}

/// The application-layer parsers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppLayerConf {
    /// Parser buffers and transactions across all flows.
    pub memcap: ByteSize,
}

impl Default for AppLayerConf {
    fn default() -> Self {
        AppLayerConf {
            memcap: ByteSize(256 << 20),
        }
    }
}

/// Reassembly depth per application protocol once it is detected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppDepth {
    pub http: ByteSize,
    pub smtp: ByteSize,
    pub socks: ByteSize,
    pub irc: ByteSize,
    pub dns: ByteSize,
}

impl Default for AppDepth {
    fn default() -> Self {
        AppDepth {
            http: ByteSize(0),
            smtp: ByteSize(0),
            socks: ByteSize(1 << 20),
            irc: ByteSize(0),
            dns: ByteSize(1 << 20),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefragConf {
    pub timeout: u64,
    pub max_trackers: usize,
    pub memcap: ByteSize,
    pub max_fragments: usize,
    pub overlap_policy: Policy,
}

impl Default for DefragConf {
    fn default() -> Self {
        DefragConf {
            timeout: 60,
            max_trackers: 65535,
            memcap: ByteSize(32 << 20),
            max_fragments: 256,
            overlap_policy: Policy::First,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EveConfig {
    pub log_dir: String,
    pub types: Vec<EventTypeName>,
    pub anomaly: AnomalyConf,
    pub community_id_seed: u16,
    /// How IPv6 addresses are printed: Suricata's expanded form or RFC 5952's.
    pub ipv6: Ipv6Form,
    pub outputs: Vec<OutputConf>,
    /// Memory each output may queue before it counts as slow.
    pub queue_memcap: ByteSize,
    /// Seconds given to the outputs at exit to deliver what is queued.
    pub flush_timeout: u64,
    pub spool: SpoolConf,
}

impl Default for EveConfig {
    fn default() -> Self {
        EveConfig {
            log_dir: "/var/log/fumidai".into(),
            types: fumidai_eve::EventType::ALL
                .iter()
                .map(|t| EventTypeName(*t))
                .collect(),
            anomaly: AnomalyConf::default(),
            community_id_seed: 0,
            ipv6: Ipv6Form::Expanded,
            outputs: vec![OutputConf::default()],
            queue_memcap: ByteSize(16 << 20),
            flush_timeout: 5,
            spool: SpoolConf::default(),
        }
    }
}

/// `eve.ipv6`: `expanded` (`fe80:0000:…:cf38`, as Suricata writes it, so
/// that parsers and lookups written against Suricata's output match) or
/// `compressed` (`fe80::20c:…:cf38`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ipv6Form {
    Expanded,
    Compressed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConf {
    pub decode: bool,
    pub stream: bool,
    pub applayer: bool,
}

impl Default for AnomalyConf {
    fn default() -> Self {
        AnomalyConf {
            decode: true,
            stream: true,
            applayer: true,
        }
    }
}

/// Where outputs keep what they could not deliver yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConf {
    /// Directory of the spool files (empty: `<log dir>/spool`).
    pub dir: String,
    /// Disk each output's spool may use; beyond it, events are dropped and counted.
    pub max_bytes: ByteSize,
    /// Event types kept while an output is down (the others are counted as dropped).
    pub types: Vec<EventTypeName>,
}

impl Default for SpoolConf {
    fn default() -> Self {
        SpoolConf {
            dir: String::new(),
            max_bytes: ByteSize(64 << 20),
            types: vec![EventTypeName(fumidai_eve::EventType::Alert)],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    pub enabled: bool,
    pub interval: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            enabled: true,
            interval: 30,
        }
    }
}

/// A configuration error, naming file, line, column and key.
pub use fumidai_yamlconf::YamlError as ConfigError;

/// Parses configuration text and checks its values; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let cfg = parse_only(text, file)?;
    validate(&cfg).map_err(|(key, message)| ConfigError::at_key(text, file, &key, message))?;
    Ok(cfg)
}

/// A sensor name is printable, at most 255 bytes (a host name's limit), and
/// empty only to mean the host name.
pub fn check_sensor_name(name: &str) -> Result<(), String> {
    if name.len() > 255 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "`{}` is not a sensor name (printable, no spaces, at most 255 bytes)",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// The most worker threads a run may have.
pub const MAX_WORKERS: usize = 1024;
/// The longest duration any setting may name: a week of packet time.
const MAX_SECS: u64 = 7 * 86_400;

/// Checks that every value is one the sensor can run with, so that what
/// `--check-config` accepts also runs. The error names the key.
fn validate(c: &Config) -> Result<(), (String, String)> {
    fn range(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), (String, String)> {
        if v < lo || v > hi {
            return Err((key.to_owned(), format!("{v} is out of range ({lo}..={hi})")));
        }
        Ok(())
    }
    let secs = |key: &str, v: u64| range(key, v, 1, MAX_SECS);
    check_sensor_name(&c.sensor.name).map_err(|e| ("sensor.name".to_owned(), e))?;
    for (k, v) in &c.sensor.tags {
        if k.is_empty() || k.chars().chain(v.chars()).any(char::is_control) {
            return Err((
                format!("sensor.tags.{k}"),
                "tags are printable text with a non-empty name".into(),
            ));
        }
    }
    range("workers", c.workers as u64, 0, MAX_WORKERS as u64)?;
    range("memcap", c.memcap.0, 1 << 20, u64::MAX)?;
    range("capture.snaplen", u64::from(c.capture.snaplen), 64, 262_144)?;
    range("capture.flush_ms", c.capture.flush_ms, 1, 60_000)?;
    range("capture.gather_us", c.capture.gather_us, 0, 100_000)?;
    range("flow.max_flows", c.flow.max_flows as u64, 1, 1 << 32)?;
    range("flow.memcap", c.flow.memcap.0, 1 << 20, u64::MAX)?;
    let t = &c.flow.timeouts;
    for (k, v) in [
        ("flow.timeouts.tcp.new", t.tcp.new),
        ("flow.timeouts.tcp.established", t.tcp.established),
        ("flow.timeouts.tcp.closed", t.tcp.closed),
        ("flow.timeouts.udp.new", t.udp.new),
        ("flow.timeouts.udp.established", t.udp.established),
        ("flow.timeouts.icmp.new", t.icmp.new),
        ("flow.timeouts.icmp.established", t.icmp.established),
        ("flow.timeouts.default.new", t.default.new),
        ("flow.timeouts.default.established", t.default.established),
    ] {
        secs(k, v)?;
    }
    range("stream.memcap", c.stream.memcap.0, 64 << 10, u64::MAX)?;
    range(
        "stream.max_segments",
        c.stream.max_segments as u64,
        1,
        1 << 20,
    )?;
    range("stream.max_buffered", c.stream.max_buffered.0, 1, 1 << 30)?;
    range("stream.retain_bytes", c.stream.retain_bytes.0, 0, 16 << 20)?;
    secs("defrag.timeout", c.defrag.timeout)?;
    range(
        "defrag.max_trackers",
        c.defrag.max_trackers as u64,
        1,
        1 << 24,
    )?;
    range(
        "defrag.max_fragments",
        c.defrag.max_fragments as u64,
        1,
        8192,
    )?;
    range("defrag.memcap", c.defrag.memcap.0, 64 << 10, u64::MAX)?;
    range("app_layer.memcap", c.app_layer.memcap.0, 1 << 20, u64::MAX)?;
    range("eve.flush_timeout", c.eve.flush_timeout, 0, 3600)?;
    range("eve.queue_memcap", c.eve.queue_memcap.0, 64 << 10, u64::MAX)?;
    for (i, o) in c.eve.outputs.iter().enumerate() {
        range(
            &format!("eve.outputs[{i}].queue"),
            o.queue as u64,
            1,
            1 << 20,
        )?;
        range(
            &format!("eve.outputs[{i}].batch_size"),
            o.batch_size as u64,
            1,
            1 << 20,
        )?;
        range(
            &format!("eve.outputs[{i}].rotate_interval"),
            o.rotate_interval,
            0,
            MAX_SECS,
        )?;
    }
    if c.stats.enabled {
        secs("stats.interval", c.stats.interval)?;
    }
    secs("amplification.window", c.amplification.window)?;
    range(
        "amplification.min_reflectors",
        c.amplification.min_reflectors as u64,
        1,
        1 << 20,
    )?;
    range(
        "amplification.memcap",
        c.amplification.memcap.0,
        1 << 20,
        u64::MAX,
    )?;
    range(
        "amplification.victims_memcap",
        c.amplification.victims_memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    range(
        "amplification.floods_memcap",
        c.amplification.floods_memcap.0,
        128 << 10,
        u64::MAX,
    )?;
    secs("ntp.summary_window", c.ntp.summary_window)?;
    range(
        "ntp.summary_memcap",
        c.ntp.summary_memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    for (i, svc) in c.amplification.services.iter().enumerate() {
        if !(svc.min_ratio.is_finite() && svc.min_ratio > 0.0) {
            return Err((
                format!("amplification.services[{i}].min_ratio"),
                format!("{} is not a positive ratio", svc.min_ratio),
            ));
        }
    }
    secs("sweep.window", c.sweep.window)?;
    range("sweep.min_hosts", c.sweep.min_hosts as u64, 1, 1 << 20)?;
    range("sweep.memcap", c.sweep.memcap.0, 64 << 10, u64::MAX)?;
    range(
        "smtp.bot_messages_per_hour",
        u64::from(c.smtp.bot_messages_per_hour),
        1,
        u64::MAX,
    )?;
    range("smtp.bots_memcap", c.smtp.bots_memcap.0, 64 << 10, u64::MAX)?;
    for (i, s) in c.smtp.mime.extract_urls_schemes.iter().enumerate() {
        if s.is_empty() || s.len() > 250 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err((
                format!("smtp.mime.extract_urls_schemes[{i}]"),
                format!("{s:?} is not a URL scheme (1-250 printable characters, e.g. https)"),
            ));
        }
    }
    let irc = &c.irc;
    secs("irc.bot_reaction_seconds", irc.bot_reaction_seconds)?;
    range(
        "irc.bot_reaction_hosts",
        irc.bot_reaction_hosts as u64,
        1,
        1 << 16,
    )?;
    range(
        "irc.bot_reaction_smtp",
        u64::from(irc.bot_reaction_smtp),
        1,
        1 << 16,
    )?;
    range(
        "irc.botnet_min_hosts",
        irc.botnet_min_hosts as u64,
        2,
        1 << 16,
    )?;
    secs("irc.botnet_window", irc.botnet_window)?;
    secs("irc.suspect_seconds", irc.suspect_seconds)?;
    range("irc.hosts_memcap", irc.hosts_memcap.0, 64 << 10, u64::MAX)?;
    range(
        "irc.channels_memcap",
        irc.channels_memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    let wp = &c.wordpress;
    secs("wordpress.pingback_rate.seconds", wp.pingback_rate.seconds)?;
    range(
        "wordpress.pingback_rate.count",
        u64::from(wp.pingback_rate.count),
        1,
        u64::from(u32::MAX),
    )?;
    range(
        "wordpress.victim_min_sources",
        wp.victim_min_sources as u64,
        1,
        1 << 16,
    )?;
    secs("wordpress.victim_window", wp.victim_window)?;
    range("wordpress.memcap", wp.memcap.0, 64 << 10, u64::MAX)?;
    range(
        "dns.bot_queries_per_hour",
        u64::from(c.dns.bot_queries_per_hour),
        1,
        u64::from(u32::MAX),
    )?;
    range(
        "dns.mx_lookups_per_hour",
        c.dns.mx_lookups_per_hour as u64,
        1,
        1 << 20,
    )?;
    range("dns.memcap", c.dns.memcap.0, 64 << 10, u64::MAX)?;
    secs(
        "alert_limits.per_signature.seconds",
        c.alert_limits.per_signature.seconds,
    )?;
    range(
        "alert_limits.memcap",
        c.alert_limits.memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    for (sid, sc) in &c.alerts {
        if let Some(t) = &sc.threshold {
            secs(&format!("alerts.{}.threshold.seconds", sid.0), t.seconds)?;
            range(
                &format!("alerts.{}.threshold.count", sid.0),
                u64::from(t.count),
                1,
                u64::from(u32::MAX),
            )?;
        }
    }
    Ok(())
}

/// Parses configuration text without checking value ranges.
fn parse_only(text: &str, file: &str) -> Result<Config, ConfigError> {
    fumidai_yamlconf::parse(text, file)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    fumidai_yamlconf::load(path, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_equals_the_built_in_defaults() {
        let shipped = parse(SHIPPED, "sensor.yaml").unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn effective_config_round_trips() {
        let text = serde_norway::to_string(&Config::default()).unwrap();
        assert_eq!(parse(&text, "x").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "workers: 2\nflow:\n  timeouts:\n    tcp:\n      nwe: 5\n";
        let e = parse(text, "bad.yaml").unwrap_err().to_string();
        assert!(e.starts_with("bad.yaml:5:"), "{e}");
        assert!(e.contains("flow.timeouts.tcp"), "{e}");
        assert!(e.contains("unknown field `nwe`"), "{e}");
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let text = "stream:\n  depth: lots\n";
        let e = parse(text, "bad.yaml").unwrap_err().to_string();
        assert!(e.starts_with("bad.yaml:2:"), "{e}");
        assert!(e.contains("stream.depth"), "{e}");
        let text = "home_net:\n  - 10.0.0.0/8\n  - not-a-net\n";
        let e = parse(text, "bad.yaml").unwrap_err().to_string();
        assert!(e.contains("home_net[1]"), "{e}");
        assert!(e.starts_with("bad.yaml:3:"), "{e}");
    }

    #[test]
    fn smtp_url_schemes_and_md5_are_checked() {
        let e = parse(
            "smtp:\n  mime:\n    extract_urls_schemes: [http, \"ht tp\"]\n",
            "m.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("smtp.mime.extract_urls_schemes[1]"), "{e}");
        let e = parse("smtp:\n  mime:\n    md5: [headers]\n", "m.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.yaml:3:"), "{e}");
        let c = parse(
            "smtp:\n  mime:\n    extract_urls_schemes: [https, ftp]\n    md5: [body]\n",
            "m.yaml",
        )
        .unwrap();
        assert_eq!(c.smtp.mime.extract_urls_schemes, ["https", "ftp"]);
    }

    #[test]
    fn decoder_ports_and_layers_are_checked() {
        let e = parse("decoder:\n  vxlan:\n    ports: []\n", "d.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("d.yaml:3:") && e.contains("decoder.vxlan.ports"),
            "{e}"
        );
        let e = parse("decoder:\n  max_layers: 1\n", "d.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("decoder.max_layers"), "{e}");
        let c = parse(
            "decoder:\n  vxlan:\n    ports: [4789, 8472]\n  teredo:\n    enabled: false\n",
            "d.yaml",
        )
        .unwrap();
        let d = c.decoder.engine(c.flow.tunnel_aware_keys);
        assert_eq!(
            d.vxlan.map(|p| p.as_slice().to_vec()),
            Some(vec![4789, 8472])
        );
        assert!(d.teredo.is_none() && d.tunnel_keys);
        assert_eq!(
            Config::default().decoder.engine(true),
            fumidai_wire::DecoderConfig::default()
        );
    }

    #[test]
    fn values_that_cannot_run_are_refused_with_their_line() {
        for (text, line, key) in [
            ("workers: 100000\n", 1, "workers"),
            ("workers: 18446744073709551615\n", 1, "workers"),
            (
                "eve:\n  flush_timeout: 18446744073709551615\n",
                2,
                "eve.flush_timeout",
            ),
            (
                "amplification:\n  min_reflectors: 5\n  window: 18446744073709551\n",
                3,
                "amplification.window",
            ),
            ("sweep:\n  window: 0\n", 2, "sweep.window"),
            (
                "alerts:\n  9700030:\n    threshold: {type: limit, track: by_src, count: 0, seconds: 60}\n",
                3,
                "alerts.9700030.threshold.count",
            ),
        ] {
            let e = parse(text, "s.yaml").unwrap_err().to_string();
            assert!(e.starts_with(&format!("s.yaml:{line}:")), "{e}");
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn gather_us_is_bounded() {
        let c = parse("capture:\n  tpacket: 2\n  gather_us: 0\n", "t.yaml").unwrap();
        assert_eq!(c.capture.gather_us, 0);
        let e = parse("capture:\n  gather_us: 100001\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("capture.gather_us"), "{e}");
    }

    #[test]
    fn tpacket_is_3_or_2() {
        let c = parse("capture:\n  method: af-packet\n  tpacket: 2\n", "t.yaml").unwrap();
        assert_eq!(c.capture.tpacket, Tpacket::V2);
        for bad in ["1", "4", "v2", "2.0"] {
            let text = format!("workers: 1\ncapture:\n  tpacket: {bad}\n");
            let e = parse(&text, "t.yaml").unwrap_err().to_string();
            assert!(e.starts_with("t.yaml:3:"), "{e}");
            assert!(e.contains("capture.tpacket"), "{e}");
        }
    }

    #[test]
    fn sizes_and_nets() {
        assert_eq!("64kb".parse::<ByteSize>().unwrap(), ByteSize(65536));
        assert_eq!("3".parse::<ByteSize>().unwrap(), ByteSize(3));
        assert!("3 parsecs".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(32 << 20).to_string(), "32mb");
        assert_eq!("10.1.2.3".parse::<Net>().unwrap().0.prefix_len(), 32);
        let text = "alerts:\n  9700004:\n    enabled: false\n  9700077:\n    severity: 1\n";
        let e = parse(text, "s.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("s.yaml:4:") && e.contains("unknown signature id 9700077"),
            "{e}"
        );
        assert_eq!(
            "10.1.2.3/8".parse::<Net>().unwrap().0.to_string(),
            "10.0.0.0/8"
        );
    }
}
