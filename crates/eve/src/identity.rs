//! Who writes the records: the sensor's name (Suricata's `host`, its
//! `sensor-name`) and its tags, on every record a process writes.
//!
//! A fleet of sensors writes into one stream, so each record must say
//! which sensor saw it. The identity is one per process and fixed at
//! start-up (the name comes from sensor.yaml or the host name), so it is
//! kept here once rather than threaded through every worker and record
//! builder: [`crate::Header::new`] reads it. A process that never sets it
//! (unit tests, tools that only read EVE) writes records without `host`.
//!
//! Flow ids mix in a salt derived from the name, so that two sensors that
//! see the same flow (two links, two processes on one link) give it
//! different ids: a consumer that joins records by `flow_id` across the
//! fleet never joins two sensors' flows by accident.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The `sensor` object (overlay): what the configuration says about the
/// sensor beyond its name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorObj {
    /// `sensor.tags` from the configuration (site, link, role...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl SensorObj {
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

/// A process's identity.
#[derive(Debug)]
pub struct Identity {
    pub name: String,
    pub sensor: SensorObj,
    salt: u64,
}

static IDENTITY: OnceLock<Identity> = OnceLock::new();

/// Sets the identity of this process; only the first call counts (returns
/// false for later ones).
pub fn set(name: &str, tags: BTreeMap<String, String>) -> bool {
    IDENTITY
        .set(Identity {
            name: name.to_owned(),
            sensor: SensorObj { tags },
            salt: salt_of(name),
        })
        .is_ok()
}

/// This process's identity, once set.
pub fn get() -> Option<&'static Identity> {
    IDENTITY.get()
}

/// What flow ids mix into their hash: 0 without an identity (so the ids of
/// a process without a name are those of earlier releases).
pub fn flow_id_salt() -> u64 {
    IDENTITY.get().map_or(0, |i| i.salt)
}

/// The salt of a name: FNV-1a of its bytes.
pub fn salt_of(name: &str) -> u64 {
    fnv1a(name.as_bytes())
}

/// FNV-1a, 64 bits: fixed for all time and every platform, unlike a
/// library hasher whose output may change between versions (flow id salts,
/// the aggregator's shards).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The host name, the default sensor name (the kernel's, as `hostname`
/// prints it).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_differ_by_name_and_are_fixed() {
        // FNV-1a test vectors: the empty string is the offset basis.
        assert_eq!(salt_of(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(salt_of("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(salt_of("sensor-a"), salt_of("sensor-b"));
    }

    #[test]
    fn the_host_name_is_never_empty() {
        assert!(!host_name().is_empty());
    }
}
