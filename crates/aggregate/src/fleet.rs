//! The aggregator's state and its path for one record: parse, find the
//! sensor, count its evidence in the open windows, and close the windows
//! the fleet's time has passed, writing their alerts.

use std::collections::BTreeMap;
use std::sync::Arc;

use fumidai_budget::{Budget, MemReport};
use fumidai_eve::{Counters, EveBatch, EventType};
use serde::{Deserialize, Serialize};

use crate::alert;
use crate::clock::Clock;
use crate::config::Config;
use crate::detect::{
    AMP_SIDS, AmpFlow, AmpKey, Detectors, HostKey, PROBE_SIDS, SAMPLE, STONE_SIDS, SWEPT, Saved,
    header_bytes,
};
use crate::line::Line;
use crate::sensors::{SensorId, Sensors};

/// What the aggregator counted (`stats.aggregate.*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records read.
    pub records: u64,
    /// Lines that are not EVE JSON.
    pub unreadable: u64,
    /// Records without a timestamp.
    pub untimed: u64,
    /// Records counted in a window whose end the fleet's time had passed.
    pub late: u64,
    /// Records whose window had closed: not analysed.
    pub too_late: u64,
    /// Records a detector used.
    pub used: u64,
    /// Fleet alerts written, by signature.
    pub alerts: BTreeMap<u32, u64>,
    /// Victims over the fleet threshold not alerted because a sensor had
    /// raised its own amplification alert for them.
    pub amp_sensor_alerted: u64,
    /// Evidence not kept because a detector map could make no room.
    pub refused: u64,
}

/// Everything a checkpoint holds of the analysis.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FleetState {
    pub clock: Clock,
    pub sensors: Sensors,
    pub counts: Counts,
    pub entries: Saved,
}

pub struct Fleet {
    cfg: Arc<Config>,
    pub clock: Clock,
    pub sensors: Sensors,
    pub counts: Counts,
    det: Detectors,
    /// Service index by UDP port.
    services: BTreeMap<u16, u16>,
    /// With shards: (this shard, shards); keys of other shards are theirs.
    owner: Option<(u32, u32)>,
    /// Files: windows close only at the end of every file, because the
    /// files are read one after the other and the second sensor's file
    /// starts back at the first one's beginning.
    hold: bool,
    /// Holding: the newest event time read, the clock's once every file is.
    held_newest: u64,
}

impl Fleet {
    pub fn new(cfg: Arc<Config>, budget: &Arc<Budget>) -> Self {
        let ttl = (cfg.window + cfg.lateness + 60) * 1_000_000;
        let det = Detectors::new(
            &cfg.amplification,
            &cfg.stepping_stones,
            &cfg.probes,
            ttl,
            budget,
        );
        let mut services = BTreeMap::new();
        for (i, s) in cfg.amplification.services.iter().enumerate() {
            services.entry(s.port).or_insert(i as u16);
        }
        Fleet {
            clock: Clock::new(cfg.window, cfg.lateness),
            sensors: Sensors::new(cfg.sensors.max),
            counts: Counts::default(),
            det,
            services,
            owner: None,
            hold: false,
            held_newest: 0,
            cfg,
        }
    }

    /// Analyses only the keys of `shard` of `shards`.
    pub fn with_shard(mut self, shard: u32, shards: u32) -> Self {
        if shards > 1 {
            self.owner = Some((shard, shards));
        }
        self
    }

    fn mine(&self, ip: std::net::IpAddr) -> bool {
        self.owner
            .is_none_or(|(me, n)| crate::stream::shard_of(ip, n) == me)
    }

    pub fn save(&self) -> FleetState {
        FleetState {
            clock: self.clock.clone(),
            sensors: self.sensors.clone(),
            counts: self.counts.clone(),
            entries: self.det.save(),
        }
    }

    pub fn restore(&mut self, s: FleetState) {
        // The window settings are the configuration's, the position the saved one's.
        self.clock.newest = s.clock.newest;
        self.clock.closed_before = s.clock.closed_before;
        self.sensors = s.sensors;
        self.sensors.reindex(self.cfg.sensors.max);
        self.counts = s.counts;
        self.det.restore(s.entries, self.clock.newest);
    }

    /// Reads one EVE line; alerts of windows it closes go into `out`.
    pub fn ingest(&mut self, bytes: &[u8], out: &mut EveBatch) {
        self.counts.records += 1;
        let Ok(line) = Line::parse(bytes) else {
            self.counts.unreadable += 1;
            return;
        };
        let Some(t) = line.micros() else {
            self.counts.untimed += 1;
            return;
        };
        let name = line.host.as_deref().unwrap_or("-");
        let Some(sensor) = self
            .sensors
            .intern(name, line.sensor.as_ref().map(|s| &s.tags))
        else {
            return;
        };
        self.sensors.note(sensor, t);
        let used = match line.event_type.as_ref() {
            "flow" => self.flow(&line, sensor, t),
            "alert" => self.alert(&line, sensor, t),
            _ => false,
        };
        if used {
            self.counts.used += 1;
        }
        if self.hold {
            self.held_newest = self.held_newest.max(t);
        } else if let Some(closed_before) = self.clock.observe(t) {
            self.close(closed_before, out);
        }
    }

    /// The time entries age by: the fleet's, or none while holding windows
    /// (one file's late records must not expire the next file's entries;
    /// the memcaps still bound them).
    fn age_now(&self, t: u64) -> u64 {
        if self.hold {
            0
        } else {
            self.clock.newest.max(t)
        }
    }

    /// Keeps every window open until [`Fleet::finish`] (reading files).
    pub fn holding_windows(mut self) -> Self {
        self.hold = true;
        self
    }

    /// Closes every window (end of input) and writes their alerts.
    pub fn finish(&mut self, out: &mut EveBatch) {
        self.clock.newest = self.clock.newest.max(self.held_newest);
        let all = self.clock.close_all();
        self.close(all, out);
    }

    /// Counts a record about window `w`; false when it is too late.
    fn admit(&mut self, w: u64) -> bool {
        if !self.clock.open(w) {
            self.counts.too_late += 1;
            return false;
        }
        if self.clock.late(w) {
            self.counts.late += 1;
        }
        true
    }

    fn flow(&mut self, line: &Line<'_>, sensor: SensorId, t: u64) -> bool {
        let Some(f) = &line.flow else { return false };
        let (Some(src), Some(dst), Some(sp), Some(dp)) =
            (line.src_ip, line.dest_ip, line.src_port, line.dest_port)
        else {
            return false;
        };
        let start = f.start.map_or(t, |s| s.micros());
        let end = f.end.map_or(t, |e| e.micros());
        match line.proto.as_deref() {
            Some("UDP") if self.cfg.amplification.enabled => {
                // The service's end is the reflector; the client end if
                // both are (NTP's 123 to 123 symmetric mode).
                let (svc, reflector_is_dest) =
                    match (self.services.get(&dp), self.services.get(&sp)) {
                        (Some(&s), _) => (s, true),
                        (None, Some(&s)) => (s, false),
                        (None, None) => return false,
                    };
                let hdr = header_bytes(src.is_ipv6());
                let payload = |bytes: u64, pkts: u64| bytes.saturating_sub(pkts * hdr);
                let (to_s, to_c) = (
                    payload(f.bytes_toserver, f.pkts_toserver),
                    payload(f.bytes_toclient, f.pkts_toclient),
                );
                let a = if reflector_is_dest {
                    AmpFlow {
                        victim: src,
                        reflector: dst,
                        service: svc,
                        response_bytes: to_c,
                        request_bytes: to_s,
                        response_pkts: f.pkts_toclient,
                        request_pkts: f.pkts_toserver,
                    }
                } else {
                    AmpFlow {
                        victim: dst,
                        reflector: src,
                        service: svc,
                        response_bytes: to_s,
                        request_bytes: to_c,
                        response_pkts: f.pkts_toserver,
                        request_pkts: f.pkts_toclient,
                    }
                };
                self.mine(a.victim) && self.amp_flow(a, sensor, start, end)
            }
            Some("TCP")
                if self.cfg.probes.enabled
                    && self.cfg.probes.ports.contains(&dp)
                    && self.mine(src) =>
            {
                self.probe_flow(src, dst, sensor, end)
            }
            _ => false,
        }
    }

    fn amp_flow(&mut self, a: AmpFlow, sensor: SensorId, start: u64, end: u64) -> bool {
        let mut any = false;
        let share = |v: u64, s: u64| (u128::from(v) * u128::from(s) / 1_000_000) as u64;
        let now = self.age_now(end);
        for (w, s) in self.clock.spread(start, end) {
            if !self.admit(w) {
                continue;
            }
            let key = AmpKey {
                window: w,
                victim: a.victim,
                service: a.service,
            };
            let ok = self.det.amp.map.with(key, now, Default::default, |e| {
                e.last = e.last.max(end.min(self.clock.bounds(w).1 - 1));
                if let Some(p) = e.part(sensor) {
                    p.response_bytes += share(a.response_bytes, s);
                    p.request_bytes += share(a.request_bytes, s);
                    p.response_pkts += share(a.response_pkts, s);
                    p.request_pkts += share(a.request_pkts, s);
                    p.flows += 1;
                    p.reflectors.insert(a.reflector, SWEPT);
                }
            });
            if ok.is_none() {
                self.counts.refused += 1;
            }
            any = true;
        }
        any
    }

    fn probe_flow(
        &mut self,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        sensor: SensorId,
        t: u64,
    ) -> bool {
        let w = self.clock.window_of(t);
        if !self.admit(w) {
            return false;
        }
        let key = HostKey {
            window: w,
            host: src,
        };
        let ok = self
            .det
            .probes
            .map
            .with(key, self.age_now(t), Default::default, |e| {
                e.last = e.last.max(t);
                if let Some(p) = e.part(sensor) {
                    p.first = if p.first == 0 { t } else { p.first.min(t) };
                    p.last = p.last.max(t);
                    p.swept.insert(dst, SWEPT);
                }
            });
        if ok.is_none() {
            self.counts.refused += 1;
        }
        true
    }

    fn alert(&mut self, line: &Line<'_>, sensor: SensorId, t: u64) -> bool {
        let Some(sid) = line.alert.as_ref().map(|a| a.signature_id) else {
            return false;
        };
        let stone = self.cfg.stepping_stones.enabled && STONE_SIDS.contains(&sid);
        let probe = self.cfg.probes.enabled && PROBE_SIDS.contains(&sid);
        let amp = self.cfg.amplification.enabled && AMP_SIDS.contains(&sid);
        if !(stone || probe || amp) {
            return false;
        }
        let w = self.clock.window_of(t);
        if !self.admit(w) {
            return false;
        }
        let now = self.age_now(t);
        let target = line.target();
        let mut refused = 0;
        if stone {
            let host = line
                .amplification
                .as_ref()
                .and_then(|a| a.reflector)
                .or(line.dest_ip);
            if let Some(host) = host.filter(|h| self.mine(*h)) {
                let key = HostKey { window: w, host };
                let ok = self.det.stones.map.with(key, now, Default::default, |e| {
                    e.last = e.last.max(t);
                    if let Some(p) = e.part(sensor) {
                        p.alerts += 1;
                        *p.sids.entry(sid).or_insert(0) += 1;
                        p.first = if p.first == 0 { t } else { p.first.min(t) };
                        p.last = p.last.max(t);
                        if let Some(c) = line.src_ip {
                            p.clients.insert(c, SAMPLE);
                        }
                        if let Some(port) = line.dest_port {
                            p.ports.insert(port, SAMPLE);
                        }
                        if let Some(tg) = &target {
                            p.targets.insert(tg.clone(), SAMPLE);
                        }
                    }
                });
                refused += u64::from(ok.is_none());
            }
        }
        if probe && let Some(src) = line.src_ip.filter(|s| self.mine(*s)) {
            let key = HostKey {
                window: w,
                host: src,
            };
            let dest = match (line.dest_ip, line.dest_port) {
                (Some(ip), Some(port)) => Some(if ip.is_ipv6() {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                }),
                _ => None,
            };
            let ok = self.det.probes.map.with(key, now, Default::default, |e| {
                e.last = e.last.max(t);
                if let Some(p) = e.part(sensor) {
                    p.alerts += 1;
                    *p.sids.entry(sid).or_insert(0) += 1;
                    p.first = if p.first == 0 { t } else { p.first.min(t) };
                    p.last = p.last.max(t);
                    if let Some(d) = dest {
                        p.targets.insert(d, SAMPLE);
                    }
                }
            });
            refused += u64::from(ok.is_none());
        }
        if amp {
            let a = line.amplification.as_ref();
            let victim = a.and_then(|a| a.victim).or(line.src_ip);
            let port = a.and_then(|a| a.port).or(line.dest_port);
            if let (Some(victim), Some(&service)) = (
                victim.filter(|v| self.mine(*v)),
                port.and_then(|p| self.services.get(&p)),
            ) {
                let key = AmpKey {
                    window: w,
                    victim,
                    service,
                };
                let ok = self.det.amp.map.with(key, now, Default::default, |e| {
                    if let Some(p) = e.part(sensor) {
                        p.alerted = true;
                    }
                });
                refused += u64::from(ok.is_none());
            }
        }
        self.counts.refused += refused;
        true
    }

    /// Judges and removes the entries of windows below `closed_before`,
    /// writing alerts in a fixed order (window, signature, key).
    fn close(&mut self, closed_before: u64, out: &mut EveBatch) {
        let cfg = Arc::clone(&self.cfg);
        let mut amp = self.det.amp.take_closed(closed_before);
        amp.sort_by_key(|(k, _)| *k);
        let mut stones = self.det.stones.take_closed(closed_before);
        stones.sort_by_key(|(k, _)| *k);
        let mut probes = self.det.probes.take_closed(closed_before);
        probes.sort_by_key(|(k, _)| *k);
        let mut windows: Vec<u64> = amp
            .iter()
            .map(|(k, _)| k.window)
            .chain(stones.iter().map(|(k, _)| k.window))
            .chain(probes.iter().map(|(k, _)| k.window))
            .collect();
        windows.sort_unstable();
        windows.dedup();
        let count = |sid: u32, counts: &mut Counts| *counts.alerts.entry(sid).or_insert(0) += 1;
        for w in windows {
            for (k, e) in amp.iter().filter(|(k, _)| k.window == w) {
                match alert::amp(&cfg, &self.clock, &self.sensors, k, e, out) {
                    alert::AmpVerdict::Alerted => count(alert::FLEET_AMP.sid, &mut self.counts),
                    alert::AmpVerdict::No => {}
                    alert::AmpVerdict::SensorAlerted => self.counts.amp_sensor_alerted += 1,
                }
            }
            for (k, e) in stones.iter().filter(|(k, _)| k.window == w) {
                if alert::stone(&cfg, &self.clock, &self.sensors, k, e, out) {
                    count(alert::FLEET_STONE.sid, &mut self.counts);
                }
            }
            for (k, e) in probes.iter().filter(|(k, _)| k.window == w) {
                if alert::probe(&cfg, &self.clock, &self.sensors, k, e, out) {
                    count(alert::FLEET_PROBE.sid, &mut self.counts);
                }
            }
        }
    }

    pub fn mem_reports(&self) -> [MemReport; 3] {
        self.det.reports()
    }

    /// The counters of a `stats` record: `aggregate.*` and `memcap.fleet_*`.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        let n = &self.counts;
        for (k, v) in [
            ("records", n.records),
            ("unreadable", n.unreadable),
            ("untimed", n.untimed),
            ("late", n.late),
            ("too_late", n.too_late),
            ("used", n.used),
            ("refused", n.refused),
            ("amp_sensor_alerted", n.amp_sensor_alerted),
            ("sensors", self.sensors.list.len() as u64),
            ("sensors_refused", self.sensors.refused),
            ("alerts", n.alerts.values().sum()),
        ] {
            c.add(format!("aggregate.{k}"), v);
        }
        for r in self.mem_reports() {
            let k = |f: &str| format!("memcap.{}.{f}", r.name);
            c.add(k("memuse"), r.memuse);
            c.add(k("memcap"), r.memcap);
            c.add(k("refused"), r.refused);
            c.add(k("evicted"), r.evicted);
            c.add(k("expired"), r.expired);
            c.add(k("entries"), r.entries);
        }
        c
    }

    /// One `stats` record at the fleet's time.
    pub fn stats_record(&self, extra: &Counters, out: &mut EveBatch) {
        #[derive(Serialize)]
        struct Body {
            stats: serde_json::Value,
        }
        let mut all = self.counters();
        all.merge(extra);
        out.push(&fumidai_eve::Record {
            header: fumidai_eve::Header::new(
                fumidai_eve::EveTime::from_micros(self.clock.newest),
                EventType::Stats,
            ),
            body: Body {
                stats: all.to_json(),
            },
        });
    }
}
