//! aggregate.yaml: the typed configuration and its defaults (which equal the
//! shipped aggregate.yaml; a test holds them to it), loaded with errors that
//! name the file, line and key.

use std::collections::BTreeMap;
use std::path::Path;

use fumidai_budget::ByteSize;
use fumidai_eve::conf::{FileType, OutputConf, RedisSettings};
use serde::{Deserialize, Serialize};

/// The shipped configuration; tests hold the built-in defaults to it.
#[cfg(test)]
pub const SHIPPED: &str = include_str!("../../../aggregate.yaml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This aggregator's name: its alerts' `host`, its consumer name in the
    /// groups, the key of its checkpoint. Empty: the host name.
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub input: InputConf,
    /// Length of the event-time windows, in seconds.
    pub window: u64,
    /// Seconds of event time a window waits after its end for late records.
    pub lateness: u64,
    /// The sum of every memcap below may not exceed this.
    pub memcap: ByteSize,
    /// Seconds (wall clock) between `stats` records when reading a stream.
    pub stats_interval: u64,
    pub sensors: SensorsConf,
    pub amplification: AmpConf,
    pub stepping_stones: StonesConf,
    pub probes: ProbesConf,
    pub log_dir: String,
    pub outputs: Vec<OutputConf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: String::new(),
            tags: BTreeMap::new(),
            input: InputConf::default(),
            window: 300,
            lateness: 330,
            memcap: ByteSize(256 << 20),
            stats_interval: 30,
            sensors: SensorsConf::default(),
            amplification: AmpConf::default(),
            stepping_stones: StonesConf::default(),
            probes: ProbesConf::default(),
            log_dir: "/var/log/fumidai".into(),
            outputs: vec![OutputConf {
                filetype: FileType::Regular,
                filename: "fleet.json".into(),
                ..OutputConf::default()
            }],
        }
    }
}

/// The fleet stream: where the sensors' redis outputs (`mode: stream`) write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConf {
    /// `redis://host:port/db`, `rediss://...` or `redis+unix:///path`, or
    /// the fields below; as an output's (never with a password in it).
    pub url: String,
    pub server: String,
    pub port: u16,
    /// A unix socket instead of TCP.
    pub filename: String,
    pub tls: bool,
    pub tls_ca_file: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub username: String,
    pub password_file: String,
    pub password_env: String,
    pub db: i64,
    /// The stream.
    pub key: String,
    /// The consumer group (created at the stream's start if missing).
    pub group: String,
    /// Entries per read.
    pub count: usize,
    /// Milliseconds a read waits for new entries.
    pub block_ms: u64,
    /// Aggregators sharing the work (each with its own `--shard`).
    pub shards: u32,
    /// Milliseconds between checkpoints (state saved, entries acknowledged).
    pub checkpoint_ms: u64,
    /// With shards: entries a router took and did not forward within this
    /// many milliseconds (it died) are claimed by another.
    pub claim_idle_ms: u64,
}

impl Default for InputConf {
    fn default() -> Self {
        InputConf {
            url: String::new(),
            server: "127.0.0.1".into(),
            port: 6379,
            filename: String::new(),
            tls: false,
            tls_ca_file: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            username: String::new(),
            password_file: String::new(),
            password_env: String::new(),
            db: 0,
            key: "fumidai".into(),
            group: "fumidai-aggregate".into(),
            count: 1000,
            block_ms: 1000,
            shards: 1,
            checkpoint_ms: 1000,
            claim_idle_ms: 60_000,
        }
    }
}

impl InputConf {
    pub fn redis_settings(&self) -> RedisSettings<'_> {
        RedisSettings {
            url: &self.url,
            server: &self.server,
            port: self.port,
            socket: &self.filename,
            tls: self.tls,
            tls_ca_file: &self.tls_ca_file,
            tls_cert_file: &self.tls_cert_file,
            tls_key_file: &self.tls_key_file,
            username: &self.username,
            password_file: &self.password_file,
            password_env: &self.password_env,
            db: self.db,
        }
    }
}

/// The sensors the aggregator keeps apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsConf {
    /// Sensors known at once; records of more are counted, not analysed.
    pub max: usize,
}

impl Default for SensorsConf {
    fn default() -> Self {
        SensorsConf { max: 4096 }
    }
}

/// A reflection service, as the sensor's `amplification.services`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub port: u16,
    /// Response / request bytes (UDP payload) from which a victim is hit.
    pub min_ratio: f64,
    /// Response bytes (UDP payload) in a window below which nothing fires.
    pub min_bytes: u64,
}

impl Service {
    fn new(name: &str, port: u16, min_ratio: f64, min_bytes: u64) -> Self {
        Service {
            name: name.into(),
            port,
            min_ratio,
            min_bytes,
        }
    }
}

/// 9700100: a victim hit by amplified responses across sensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmpConf {
    pub enabled: bool,
    /// Sensors that must have seen part of it.
    pub min_sensors: usize,
    /// Memory for the (window, victim, service) entries.
    pub memcap: ByteSize,
    /// The services and thresholds; the sensor's defaults.
    pub services: Vec<Service>,
}

impl Default for AmpConf {
    fn default() -> Self {
        AmpConf {
            enabled: true,
            min_sensors: 2,
            memcap: ByteSize(64 << 20),
            services: vec![
                Service::new("ntp", 123, 20.0, 10_000),
                Service::new("dns", 53, 30.0, 30_000),
                Service::new("ssdp", 1900, 10.0, 10_000),
                Service::new("chargen", 19, 10.0, 5_000),
                Service::new("qotd", 17, 10.0, 5_000),
                Service::new("memcached", 11211, 10.0, 10_000),
                Service::new("cldap", 389, 10.0, 10_000),
                Service::new("snmp", 161, 8.0, 20_000),
                Service::new("ws-discovery", 3702, 10.0, 10_000),
                Service::new("netbios", 137, 3.5, 20_000),
                Service::new("ripv1", 520, 10.0, 5_000),
                Service::new("portmap", 111, 6.0, 10_000),
                Service::new("mdns", 5353, 6.0, 20_000),
                Service::new("coap", 5683, 10.0, 10_000),
            ],
        }
    }
}

/// 9700101: a stepping stone alerted on by several sensors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StonesConf {
    pub enabled: bool,
    pub min_sensors: usize,
    pub memcap: ByteSize,
}

impl Default for StonesConf {
    fn default() -> Self {
        StonesConf {
            enabled: true,
            min_sensors: 2,
            memcap: ByteSize(32 << 20),
        }
    }
}

/// 9700102: a source probing proxies and relays across sensors' networks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbesConf {
    pub enabled: bool,
    pub min_sensors: usize,
    /// Connections to these ports count as probes (the sensor's sweep.ports).
    pub ports: Vec<u16>,
    /// Distinct hosts probed on them across the fleet that make a sweep.
    pub min_hosts: usize,
    pub memcap: ByteSize,
}

impl Default for ProbesConf {
    fn default() -> Self {
        ProbesConf {
            enabled: true,
            min_sensors: 2,
            ports: vec![1080, 3128, 8080],
            min_hosts: 10,
            memcap: ByteSize(32 << 20),
        }
    }
}

/// A configuration error, naming file, line, column and key.
pub use fumidai_yamlconf::YamlError as ConfigError;

/// The longest window or lateness: a week.
const MAX_SECS: u64 = 7 * 86_400;

fn validate(c: &Config) -> Result<(), (String, String)> {
    fn range(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), (String, String)> {
        if v < lo || v > hi {
            return Err((key.to_owned(), format!("{v} is out of range ({lo}..={hi})")));
        }
        Ok(())
    }
    if c.name.len() > 255
        || c.name
            .chars()
            .any(|ch| ch.is_control() || ch.is_whitespace())
    {
        return Err((
            "name".into(),
            "printable, no spaces, at most 255 bytes".into(),
        ));
    }
    range("window", c.window, 1, MAX_SECS)?;
    range("lateness", c.lateness, 0, MAX_SECS)?;
    range("memcap", c.memcap.0, 1 << 20, u64::MAX)?;
    range("stats_interval", c.stats_interval, 1, 86_400)?;
    range("sensors.max", c.sensors.max as u64, 1, 65_535)?;
    range("input.count", c.input.count as u64, 1, 100_000)?;
    range("input.block_ms", c.input.block_ms, 1, 60_000)?;
    range("input.shards", u64::from(c.input.shards), 1, 1024)?;
    range("input.checkpoint_ms", c.input.checkpoint_ms, 10, 3_600_000)?;
    range(
        "input.claim_idle_ms",
        c.input.claim_idle_ms,
        1000,
        86_400_000,
    )?;
    if c.input.key.is_empty() || c.input.group.is_empty() {
        return Err(("input.key".into(), "the stream and group need names".into()));
    }
    range(
        "amplification.min_sensors",
        c.amplification.min_sensors as u64,
        1,
        65_535,
    )?;
    range(
        "amplification.memcap",
        c.amplification.memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    for (i, s) in c.amplification.services.iter().enumerate() {
        if !(s.min_ratio.is_finite() && s.min_ratio > 0.0) {
            return Err((
                format!("amplification.services[{i}].min_ratio"),
                format!("{} is not a positive ratio", s.min_ratio),
            ));
        }
    }
    range(
        "stepping_stones.min_sensors",
        c.stepping_stones.min_sensors as u64,
        1,
        65_535,
    )?;
    range(
        "stepping_stones.memcap",
        c.stepping_stones.memcap.0,
        64 << 10,
        u64::MAX,
    )?;
    range("probes.min_sensors", c.probes.min_sensors as u64, 1, 65_535)?;
    range("probes.min_hosts", c.probes.min_hosts as u64, 1, 1 << 20)?;
    range("probes.memcap", c.probes.memcap.0, 64 << 10, u64::MAX)?;
    let sum = c.amplification.memcap.0 + c.stepping_stones.memcap.0 + c.probes.memcap.0;
    if sum > c.memcap.0 {
        return Err((
            "memcap".into(),
            format!(
                "{} is less than the memcaps below it ({})",
                c.memcap,
                ByteSize(sum)
            ),
        ));
    }
    for (i, o) in c.outputs.iter().enumerate() {
        range(
            &format!("outputs[{i}].batch_size"),
            o.batch_size as u64,
            1,
            1 << 20,
        )?;
    }
    Ok(())
}

/// Parses configuration text and checks its values; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let cfg: Config = fumidai_yamlconf::parse(text, file)?;
    validate(&cfg).map_err(|(key, message)| ConfigError::at_key(text, file, &key, message))?;
    Ok(cfg)
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
        assert_eq!(parse(SHIPPED, "aggregate.yaml").unwrap(), Config::default());
    }

    #[test]
    fn effective_config_round_trips() {
        let text = serde_norway::to_string(&Config::default()).unwrap();
        assert_eq!(parse(&text, "x").unwrap(), Config::default());
    }

    /// The services and thresholds start as the sensor's, so that the fleet
    /// judges a victim as each sensor judges a reflector.
    #[test]
    fn services_default_to_the_sensors() {
        let sensor = fumidai_detect::config::AmpConf::default();
        let ours = AmpConf::default();
        assert_eq!(sensor.services.len(), ours.services.len());
        for (a, b) in sensor.services.iter().zip(&ours.services) {
            assert_eq!(
                (a.name.as_str(), a.port, a.min_ratio, a.min_bytes),
                (b.name.as_str(), b.port, b.min_ratio, b.min_bytes)
            );
        }
        let sweep = fumidai_detect::config::SweepConf::default();
        assert_eq!(sweep.ports, ProbesConf::default().ports);
        assert_eq!(sweep.min_hosts, ProbesConf::default().min_hosts);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse("window: 0\n", "a.yaml").unwrap_err().to_string();
        assert!(e.starts_with("a.yaml:1:1: window:"), "{e}");
        let e = parse("input:\n  shard: 2\n", "a.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("a.yaml:2:") && e.contains("unknown field `shard`"),
            "{e}"
        );
        let e = parse("memcap: 1mb\n", "a.yaml").unwrap_err().to_string();
        assert!(e.contains("less than the memcaps"), "{e}");
    }
}
