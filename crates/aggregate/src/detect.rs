//! The fleet detectors. Each keeps, per event-time window and key (victim,
//! host, source), one part per sensor that saw something, in a map bounded
//! by its memcap; when a window closes, each entry is judged and removed.
//!
//! - [`Amp`] (9700100): UDP flows of a reflection service, per victim and
//!   service. A victim is hit when the responses it received across the
//!   fleet reach the service's `min_bytes` and `min_ratio` (UDP payload, as
//!   the sensor measures), parts of it were seen by at least `min_sensors`
//!   sensors, and no sensor raised an amplification alert (9700032–9700035)
//!   for that victim in the window: the fleet alert is for what no single
//!   sensor could see.
//! - [`Stones`] (9700101): alerts naming a stepping stone (an open proxy,
//!   SOCKS server, relay or amplifier), per host; at least `min_sensors`
//!   sensors alerted on it.
//! - [`Probes`] (9700102): probe alerts a source raised, and its
//!   connections to proxy ports, per source; seen by at least `min_sensors`
//!   sensors, with probe alerts on that many or `min_hosts` hosts probed.

use std::collections::BTreeMap;
use std::net::IpAddr;

use fumidai_budget::{Aging, BoundedMap, MemReport, Meter};
use serde::{Deserialize, Serialize};

use crate::config::{AmpConf, ProbesConf, StonesConf};
use crate::sensors::SensorId;

/// Signatures whose `dest_ip` (or `amplification.reflector`) is a stepping
/// stone: proxies, SOCKS servers, relays, amplifiers.
pub const STONE_SIDS: &[u32] = &[
    9_700_001, 9_700_002, 9_700_003, 9_700_004, 9_700_005, 9_700_010, 9_700_011, 9_700_012,
    9_700_020, 9_700_021, 9_700_023, 9_700_031, 9_700_032, 9_700_034,
];
/// Signatures whose `src_ip` probes for stepping stones.
pub const PROBE_SIDS: &[u32] = &[
    9_700_001, 9_700_002, 9_700_004, 9_700_010, 9_700_012, 9_700_020, 9_700_040,
];
/// The sensor's own amplification verdicts about a victim.
pub const AMP_SIDS: &[u32] = &[9_700_032, 9_700_033, 9_700_034, 9_700_035];

/// Values kept per part (clients, ports, targets, reflectors).
pub const SAMPLE: usize = 16;
/// Distinct hosts kept per part to count a sweep.
pub const SWEPT: usize = 256;
/// Sensors kept per entry (the rest are counted in `parts_refused`).
pub const PARTS: usize = 64;

/// A small set with a cap; what did not fit is counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capped<T> {
    pub items: Vec<T>,
    pub more: u64,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            items: Vec::new(),
            more: 0,
        }
    }
}

impl<T: PartialEq> Capped<T> {
    pub fn insert(&mut self, v: T, cap: usize) -> bool {
        if self.items.contains(&v) {
            return false;
        }
        if self.items.len() < cap {
            self.items.push(v);
        } else {
            self.more += 1;
        }
        true
    }

    fn bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
    }
}

impl Capped<String> {
    fn text_bytes(&self) -> usize {
        self.bytes() + self.items.iter().map(String::capacity).sum::<usize>()
    }
}

/// Parts of an entry, one per sensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parts<P> {
    pub parts: Vec<(SensorId, P)>,
    pub refused: u64,
    /// Newest event time of the evidence (µs): the alert's time.
    pub last: u64,
}

impl<P> Default for Parts<P> {
    fn default() -> Self {
        Parts {
            parts: Vec::new(),
            refused: 0,
            last: 0,
        }
    }
}

impl<P: Default> Parts<P> {
    pub fn part(&mut self, s: SensorId) -> Option<&mut P> {
        match self.parts.iter().position(|(id, _)| *id == s) {
            Some(i) => Some(&mut self.parts[i].1),
            None if self.parts.len() < PARTS => {
                self.parts.push((s, P::default()));
                self.parts.last_mut().map(|(_, p)| p)
            }
            None => {
                self.refused += 1;
                None
            }
        }
    }
}

// --- amplification ---------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AmpKey {
    pub window: u64,
    pub victim: IpAddr,
    /// Index into `amplification.services`.
    pub service: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmpPart {
    pub response_bytes: u64,
    pub request_bytes: u64,
    pub response_pkts: u64,
    pub request_pkts: u64,
    pub flows: u64,
    pub reflectors: Capped<IpAddr>,
    /// This sensor raised 9700032–9700034 for the victim in the window.
    pub alerted: bool,
}

pub type AmpEntry = Parts<AmpPart>;

impl Aging for AmpEntry {
    fn keep(&self) -> u64 {
        self.parts.iter().map(|(_, p)| p.response_bytes).sum()
    }
    fn heap_bytes(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<(SensorId, AmpPart)>()
            + self
                .parts
                .iter()
                .map(|(_, p)| p.reflectors.bytes())
                .sum::<usize>()
    }
}

/// One flow's contribution: payload bytes and datagrams each way.
#[derive(Clone, Copy, Debug)]
pub struct AmpFlow {
    pub victim: IpAddr,
    pub reflector: IpAddr,
    pub service: u16,
    pub response_bytes: u64,
    pub request_bytes: u64,
    pub response_pkts: u64,
    pub request_pkts: u64,
}

/// Estimated link, IP and UDP header bytes of a datagram: flow records
/// count frames, the thresholds are UDP payload (as the sensor measures).
pub fn header_bytes(v6: bool) -> u64 {
    14 + if v6 { 40 } else { 20 } + 8
}

// --- stepping stones -------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HostKey {
    pub window: u64,
    pub host: IpAddr,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StonePart {
    pub alerts: u64,
    pub sids: BTreeMap<u32, u64>,
    pub first: u64,
    pub last: u64,
    pub clients: Capped<IpAddr>,
    pub ports: Capped<u16>,
    pub targets: Capped<String>,
}

pub type StoneEntry = Parts<StonePart>;

impl Aging for StoneEntry {
    fn keep(&self) -> u64 {
        self.parts.len() as u64 * 1_000_000 + self.parts.iter().map(|(_, p)| p.alerts).sum::<u64>()
    }
    fn heap_bytes(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<(SensorId, StonePart)>()
            + self
                .parts
                .iter()
                .map(|(_, p)| {
                    p.sids.len() * 48 + p.clients.bytes() + p.ports.bytes() + p.targets.text_bytes()
                })
                .sum::<usize>()
    }
}

// --- probes ----------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbePart {
    pub alerts: u64,
    pub sids: BTreeMap<u32, u64>,
    pub first: u64,
    pub last: u64,
    /// `address:port` probed (from alerts).
    pub targets: Capped<String>,
    /// Hosts connected to on a proxy port (from flows).
    pub swept: Capped<IpAddr>,
}

pub type ProbeEntry = Parts<ProbePart>;

impl Aging for ProbeEntry {
    fn keep(&self) -> u64 {
        self.parts.len() as u64 * 1_000_000
            + self
                .parts
                .iter()
                .map(|(_, p)| p.alerts * 100 + p.swept.items.len() as u64)
                .sum::<u64>()
    }
    fn heap_bytes(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<(SensorId, ProbePart)>()
            + self
                .parts
                .iter()
                .map(|(_, p)| p.sids.len() * 48 + p.targets.text_bytes() + p.swept.bytes())
                .sum::<usize>()
    }
}

// --- the detectors -----------------------------------------------------------

/// A map of window entries, judged when their window closes.
pub struct Windowed<K, V> {
    pub map: BoundedMap<K, V>,
}

impl<K: std::hash::Hash + Eq + Copy + WindowKey, V: Aging> Windowed<K, V> {
    fn new(
        name: &'static str,
        cap: usize,
        ttl_us: u64,
        budget: &std::sync::Arc<fumidai_budget::Budget>,
    ) -> Self {
        Windowed {
            map: BoundedMap::new(Meter::new(name, cap, std::sync::Arc::clone(budget)), ttl_us),
        }
    }

    /// Removes and returns the entries of windows below `closed_before`.
    pub fn take_closed(&mut self, closed_before: u64) -> Vec<(K, V)>
    where
        V: Default,
    {
        let mut keys = Vec::new();
        for (k, _) in self.map.iter() {
            if k.window() < closed_before {
                keys.push(*k);
            }
        }
        keys.into_iter()
            .filter_map(|k| self.map.remove(&k).map(|v| (k, v)))
            .collect()
    }

    pub fn report(&self) -> MemReport {
        self.map.report()
    }
}

pub trait WindowKey {
    fn window(&self) -> u64;
}

impl WindowKey for AmpKey {
    fn window(&self) -> u64 {
        self.window
    }
}

impl WindowKey for HostKey {
    fn window(&self) -> u64 {
        self.window
    }
}

/// The three detectors' state.
pub struct Detectors {
    pub amp: Windowed<AmpKey, AmpEntry>,
    pub stones: Windowed<HostKey, StoneEntry>,
    pub probes: Windowed<HostKey, ProbeEntry>,
}

impl Detectors {
    /// Entries expire (in event time) a window and the lateness after their
    /// last update: by then their window has closed and they were judged.
    pub fn new(
        amp: &AmpConf,
        stones: &StonesConf,
        probes: &ProbesConf,
        ttl_us: u64,
        budget: &std::sync::Arc<fumidai_budget::Budget>,
    ) -> Self {
        Detectors {
            amp: Windowed::new("fleet_amp", amp.memcap.as_usize(), ttl_us, budget),
            stones: Windowed::new("fleet_stones", stones.memcap.as_usize(), ttl_us, budget),
            probes: Windowed::new("fleet_probes", probes.memcap.as_usize(), ttl_us, budget),
        }
    }

    pub fn reports(&self) -> [MemReport; 3] {
        [
            self.amp.report(),
            self.stones.report(),
            self.probes.report(),
        ]
    }
}

/// The entries of all detectors, as a checkpoint keeps them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    pub amp: Vec<(AmpKey, AmpEntry)>,
    pub stones: Vec<(HostKey, StoneEntry)>,
    pub probes: Vec<(HostKey, ProbeEntry)>,
}

impl Detectors {
    pub fn save(&self) -> Saved {
        Saved {
            amp: self.amp.map.iter().map(|(k, v)| (*k, v.clone())).collect(),
            stones: self
                .stones
                .map
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            probes: self
                .probes
                .map
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
        }
    }

    pub fn restore(&mut self, s: Saved, now: u64) {
        for (k, v) in s.amp {
            self.amp.map.with(k, now, || v, |_| ());
        }
        for (k, v) in s.stones {
            self.stones.map.with(k, now, || v, |_| ());
        }
        for (k, v) in s.probes {
            self.probes.map.with(k, now, || v, |_| ());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_samples_are_capped_and_counted() {
        let mut c = Capped::default();
        for i in 0..20u16 {
            c.insert(i, SAMPLE);
        }
        assert!(!c.insert(3, SAMPLE), "already there");
        assert_eq!((c.items.len(), c.more), (SAMPLE, 4));
        let mut p: Parts<AmpPart> = Parts::default();
        for s in 0..(PARTS as u16 + 3) {
            let _ = p.part(s);
        }
        assert_eq!((p.parts.len(), p.refused), (PARTS, 3));
        assert!(p.part(0).is_some(), "a known sensor still finds its part");
    }
}
