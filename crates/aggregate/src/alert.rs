//! Fleet alerts: judging a closed window's entry and writing it as an EVE
//! `alert` whose `fleet` object (overlay) carries the evidence: the window,
//! every sensor's part by its name and tags, and the fleet's totals.
//!
//! Each alert has an `id` made of its signature, key and window
//! (`9700100/192.0.2.77/ntp/5986510`): the same evidence gives the same id
//! after a restart, so a consumer can tell a repeat from a new alert.

use std::collections::BTreeMap;
use std::net::IpAddr;

use fumidai_eve::objects::AlertObj;
use fumidai_eve::{EveBatch, EveTime, EventType, Header, Record};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::detect::{AmpEntry, AmpKey, HostKey, ProbeEntry, StoneEntry};
use crate::sensors::Sensors;

/// This crate's signatures (the catalogue's `FLEET_SIGNATURES`; a test
/// holds them equal).
pub struct Sig {
    pub sid: u32,
    pub rev: u32,
    pub msg: &'static str,
    pub category: &'static str,
    pub severity: u8,
}

pub const FLEET_AMP: Sig = Sig {
    sid: 9_700_100,
    rev: 1,
    msg: "FUMIDAI fleet: victim hit by amplified responses across sensors, no sensor alerted alone",
    category: "Attempted Denial of Service",
    severity: 1,
};
pub const FLEET_STONE: Sig = Sig {
    sid: 9_700_101,
    rev: 1,
    msg: "FUMIDAI fleet: stepping stone alerted on by several sensors",
    category: "Misc Attack",
    severity: 2,
};
pub const FLEET_PROBE: Sig = Sig {
    sid: 9_700_102,
    rev: 1,
    msg: "FUMIDAI fleet: one source probes proxies or relays across several sensors' networks",
    category: "Attempted Information Leak",
    severity: 2,
};
pub const SIGNATURES: [&Sig; 3] = [&FLEET_AMP, &FLEET_STONE, &FLEET_PROBE];

fn alert_obj(s: &Sig) -> AlertObj {
    AlertObj {
        action: "allowed".into(),
        gid: 1,
        signature_id: s.sid,
        rev: s.rev,
        signature: s.msg.into(),
        category: s.category.into(),
        severity: s.severity,
    }
}

fn time(us: u64) -> EveTime {
    EveTime::from_micros(us)
}

#[derive(Serialize)]
struct WindowObj {
    start: EveTime,
    end: EveTime,
    seconds: u64,
}

#[derive(Serialize)]
struct SidCount {
    signature_id: u32,
    count: u64,
}

fn sid_counts(m: &BTreeMap<u32, u64>) -> Vec<SidCount> {
    m.iter()
        .map(|(&signature_id, &count)| SidCount {
            signature_id,
            count,
        })
        .collect()
}

/// One sensor's part of the evidence.
#[derive(Serialize, Default)]
struct PartObj<'a> {
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_pkts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_pkts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reflectors: Option<Vec<IpAddr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signatures: Option<Vec<SidCount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first: Option<EveTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<EveTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<Vec<IpAddr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ports: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swept_hosts: Option<usize>,
}

#[derive(Serialize)]
struct AmpTotals<'a> {
    service: &'a str,
    port: u16,
    victim: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    request_bytes: u64,
    response_bytes: u64,
    request_pkts: u64,
    response_pkts: u64,
    reflectors: usize,
    min_ratio: f64,
    min_bytes: u64,
}

#[derive(Serialize, Default)]
struct FleetObj<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<WindowObj>,
    sensor_count: usize,
    sensors: Vec<PartObj<'a>>,
    /// Sensors beyond the per-entry cap, not itemised.
    #[serde(skip_serializing_if = "is_zero")]
    sensors_not_listed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    amplification: Option<AmpTotals<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signatures: Option<Vec<SidCount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<Vec<IpAddr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swept_hosts: Option<usize>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct Body<'a> {
    alert: AlertObj,
    fleet: FleetObj<'a>,
}

fn window_obj(clock: &Clock, w: u64) -> WindowObj {
    let (s, e) = clock.bounds(w);
    WindowObj {
        start: time(s),
        end: time(e),
        seconds: clock.window_us() / 1_000_000,
    }
}

fn base_part<'a>(sensors: &'a Sensors, id: u16) -> PartObj<'a> {
    let s = sensors.get(id);
    PartObj {
        host: sensors.name(id),
        tags: s.map(|s| &s.tags).filter(|t| !t.is_empty()),
        ..PartObj::default()
    }
}

/// How a victim's entry was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmpVerdict {
    /// Not hit, or not across enough sensors.
    No,
    /// Hit: 9700100 written.
    Alerted,
    /// Hit, but a sensor raised its own amplification alert for the victim.
    SensorAlerted,
}

/// Judges a victim's entry; writes 9700100 into `out` when it is hit.
pub fn amp(
    cfg: &Config,
    clock: &Clock,
    sensors: &Sensors,
    key: &AmpKey,
    e: &AmpEntry,
    out: &mut EveBatch,
) -> AmpVerdict {
    let Some(svc) = cfg.amplification.services.get(usize::from(key.service)) else {
        return AmpVerdict::No;
    };
    let (mut resp, mut req, mut rp, mut qp) = (0u64, 0u64, 0u64, 0u64);
    let mut reflectors: Vec<IpAddr> = Vec::new();
    let mut seen = 0;
    for (_, p) in &e.parts {
        resp += p.response_bytes;
        req += p.request_bytes;
        rp += p.response_pkts;
        qp += p.request_pkts;
        if p.response_pkts > 0 || p.request_pkts > 0 {
            seen += 1;
        }
        for r in &p.reflectors.items {
            if !reflectors.contains(r) {
                reflectors.push(*r);
            }
        }
    }
    let ratio = (req > 0).then(|| resp as f64 / req as f64);
    let amplified = resp >= svc.min_bytes && ratio.is_none_or(|r| r >= svc.min_ratio);
    if !amplified || seen < cfg.amplification.min_sensors {
        return AmpVerdict::No;
    }
    if e.parts.iter().any(|(_, p)| p.alerted) {
        return AmpVerdict::SensorAlerted;
    }
    let mut parts: Vec<PartObj<'_>> = e
        .parts
        .iter()
        .filter(|(_, p)| p.response_pkts > 0 || p.request_pkts > 0)
        .map(|(id, p)| {
            let mut r = p.reflectors.items.clone();
            r.sort();
            PartObj {
                response_bytes: Some(p.response_bytes),
                request_bytes: Some(p.request_bytes),
                response_pkts: Some(p.response_pkts),
                request_pkts: Some(p.request_pkts),
                flows: Some(p.flows),
                reflectors: Some(r),
                alerted: Some(p.alerted),
                ..base_part(sensors, *id)
            }
        })
        .collect();
    parts.sort_by(|a, b| a.host.cmp(b.host));
    let mut h = Header::new(time(e.last), EventType::Alert);
    h.src_ip = Some(key.victim);
    h.proto = Some(fumidai_eve::proto_name(17));
    h.ip_v = Some(if key.victim.is_ipv4() { 4 } else { 6 });
    out.push(&Record {
        header: h,
        body: Body {
            alert: alert_obj(&FLEET_AMP),
            fleet: FleetObj {
                id: format!(
                    "{}/{}/{}/{}",
                    FLEET_AMP.sid, key.victim, svc.name, key.window
                ),
                window: Some(window_obj(clock, key.window)),
                sensor_count: parts.len(),
                sensors: parts,
                sensors_not_listed: e.refused,
                amplification: Some(AmpTotals {
                    service: &svc.name,
                    port: svc.port,
                    victim: key.victim,
                    ratio: ratio.map(|r| (r * 10.0).round() / 10.0),
                    request_bytes: req,
                    response_bytes: resp,
                    request_pkts: qp,
                    response_pkts: rp,
                    reflectors: reflectors.len(),
                    min_ratio: svc.min_ratio,
                    min_bytes: svc.min_bytes,
                }),
                ..FleetObj::default()
            },
        },
    });
    AmpVerdict::Alerted
}

/// Judges a stepping stone's entry; writes 9700101 when enough sensors
/// alerted on it.
pub fn stone(
    cfg: &Config,
    clock: &Clock,
    sensors: &Sensors,
    key: &HostKey,
    e: &StoneEntry,
    out: &mut EveBatch,
) -> bool {
    if e.parts.len() < cfg.stepping_stones.min_sensors {
        return false;
    }
    let mut sids = BTreeMap::new();
    let mut clients: Vec<IpAddr> = Vec::new();
    let mut targets: Vec<&str> = Vec::new();
    let mut alerts = 0;
    let mut parts: Vec<PartObj<'_>> = Vec::new();
    for (id, p) in &e.parts {
        alerts += p.alerts;
        for (s, n) in &p.sids {
            *sids.entry(*s).or_insert(0) += n;
        }
        for c in &p.clients.items {
            if !clients.contains(c) {
                clients.push(*c);
            }
        }
        for t in &p.targets.items {
            if !targets.contains(&t.as_str()) {
                targets.push(t);
            }
        }
        let mut ports = p.ports.items.clone();
        ports.sort_unstable();
        let mut cl = p.clients.items.clone();
        cl.sort();
        let mut tg: Vec<&str> = p.targets.items.iter().map(String::as_str).collect();
        tg.sort_unstable();
        parts.push(PartObj {
            alerts: Some(p.alerts),
            signatures: Some(sid_counts(&p.sids)),
            first: Some(time(p.first)),
            last: Some(time(p.last)),
            clients: Some(cl),
            ports: Some(ports),
            targets: Some(tg),
            ..base_part(sensors, *id)
        });
    }
    parts.sort_by(|a, b| a.host.cmp(b.host));
    clients.sort();
    targets.sort_unstable();
    let mut h = Header::new(time(e.last), EventType::Alert);
    h.dest_ip = Some(key.host);
    h.ip_v = Some(if key.host.is_ipv4() { 4 } else { 6 });
    out.push(&Record {
        header: h,
        body: Body {
            alert: alert_obj(&FLEET_STONE),
            fleet: FleetObj {
                id: format!("{}/{}/{}", FLEET_STONE.sid, key.host, key.window),
                window: Some(window_obj(clock, key.window)),
                sensor_count: parts.len(),
                sensors: parts,
                sensors_not_listed: e.refused,
                alerts: Some(alerts),
                signatures: Some(sid_counts(&sids)),
                clients: Some(clients),
                targets: Some(targets),
                ..FleetObj::default()
            },
        },
    });
    true
}

/// Judges a source's entry; writes 9700102 when it probed across enough
/// sensors.
pub fn probe(
    cfg: &Config,
    clock: &Clock,
    sensors: &Sensors,
    key: &HostKey,
    e: &ProbeEntry,
    out: &mut EveBatch,
) -> bool {
    let c = &cfg.probes;
    let alerted_on = e.parts.iter().filter(|(_, p)| p.alerts > 0).count();
    let mut swept: Vec<IpAddr> = Vec::new();
    for (_, p) in &e.parts {
        for h in &p.swept.items {
            if !swept.contains(h) {
                swept.push(*h);
            }
        }
    }
    if e.parts.len() < c.min_sensors || (alerted_on < c.min_sensors && swept.len() < c.min_hosts) {
        return false;
    }
    let mut sids = BTreeMap::new();
    let mut targets: Vec<&str> = Vec::new();
    let mut alerts = 0;
    let mut parts: Vec<PartObj<'_>> = Vec::new();
    for (id, p) in &e.parts {
        alerts += p.alerts;
        for (s, n) in &p.sids {
            *sids.entry(*s).or_insert(0) += n;
        }
        for t in &p.targets.items {
            if !targets.contains(&t.as_str()) {
                targets.push(t);
            }
        }
        let mut tg: Vec<&str> = p.targets.items.iter().map(String::as_str).collect();
        tg.sort_unstable();
        parts.push(PartObj {
            alerts: Some(p.alerts),
            signatures: Some(sid_counts(&p.sids)),
            first: Some(time(p.first)),
            last: Some(time(p.last)),
            targets: Some(tg),
            swept_hosts: Some(p.swept.items.len()),
            ..base_part(sensors, *id)
        });
    }
    parts.sort_by(|a, b| a.host.cmp(b.host));
    targets.sort_unstable();
    let mut h = Header::new(time(e.last), EventType::Alert);
    h.src_ip = Some(key.host);
    h.ip_v = Some(if key.host.is_ipv4() { 4 } else { 6 });
    out.push(&Record {
        header: h,
        body: Body {
            alert: alert_obj(&FLEET_PROBE),
            fleet: FleetObj {
                id: format!("{}/{}/{}", FLEET_PROBE.sid, key.host, key.window),
                window: Some(window_obj(clock, key.window)),
                sensor_count: parts.len(),
                sensors: parts,
                sensors_not_listed: e.refused,
                alerts: Some(alerts),
                signatures: Some(sid_counts(&sids)),
                targets: Some(targets),
                swept_hosts: Some(swept.len()),
                ..FleetObj::default()
            },
        },
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signatures_are_the_catalogues() {
        let cat = fumidai_detect::catalog::FLEET_SIGNATURES;
        assert_eq!(cat.len(), SIGNATURES.len());
        for (c, s) in cat.iter().zip(SIGNATURES) {
            assert_eq!(
                (c.sid, c.rev, c.msg, c.category, c.severity),
                (s.sid, s.rev, s.msg, s.category, s.severity)
            );
        }
        // And none of them is one the sensor raises.
        for s in SIGNATURES {
            assert!(fumidai_detect::catalog::signature(s.sid).is_none());
        }
    }
}
