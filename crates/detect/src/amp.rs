//! The amplification engine: per (reflector, victim, service), bytes and
//! packets each way over a sliding window of packet time.
//!
//! The ratio is response bytes ÷ request bytes, counting UDP payload as the
//! UDP header declares it (what travelled, even when the capture was cut).
//! When no request was seen in the window the ratio is undefined: no ratio
//! is reported and 9700032 cannot fire; responses of at least the
//! service's `min_bytes` with no request raise 9700034 instead, which is
//! what a victim's side of the link shows (the forged requests never cross
//! it).
//!
//! Packets of one (reflector, victim) pair always reach the same worker (the
//! capture thread hashes the address pair), so pairs are tracked without
//! locks; only the per-victim reflector sets for 9700033 are shared, and
//! they are updated per batch.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Aging, BoundedMap, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::catalog::*;
use crate::flood::{FloodAcc, FloodVerdict};

/// Buckets per window: the window slides in steps of window/BUCKETS.
const BUCKETS: usize = 6;
/// Reflectors remembered per victim and service.
const MAX_REFLECTORS: usize = 4096;

/// Which way a datagram goes relative to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// To the service (from the victim, or its forger).
    Request,
    /// From the service.
    Response,
}

/// A reflector, its victim, and the service (index into the config's list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PairKey {
    pub reflector: IpAddr,
    pub victim: IpAddr,
    pub service: u16,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    id: u64,
    req_bytes: u64,
    req_pkts: u64,
    resp_bytes: u64,
    resp_pkts: u64,
}

#[derive(Clone, Debug)]
struct Pair<F> {
    buckets: [Bucket; BUCKETS],
    last_seen: Timestamp,
    /// When 9700032 / 9700034 last fired for this pair.
    last_ratio_alert: Option<Timestamp>,
    last_unsolicited_alert: Option<Timestamp>,
    dirty: bool,
    /// The oldest bucket holding packets not judged yet (meaningful while
    /// `dirty`).
    first_unjudged: u64,
    /// What the caller wants back with an alert about this pair (the flow
    /// of its latest packet, for the alert's header).
    flow: F,
}

/// The window's totals for one pair: the evidence an alert carries, as
/// the EVE `amplification` object (overlay schema, docs/eve.md).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub service: String,
    pub port: u16,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    pub reflector: IpAddr,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    pub victim: IpAddr,
    /// Response ÷ request bytes; `None` when no request was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_pkts: u64,
    pub response_pkts: u64,
    pub window_s: u64,
    /// The service's published amplification factor, for context.
    pub baf: f64,
    /// For 9700033: the reflectors seen hitting the victim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reflectors: Option<usize>,
}

/// An amplification alert: the signature, the flow to attach it to, evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct AmpAlert<F> {
    pub sid: u32,
    pub flow: F,
    pub evidence: Evidence,
    /// The packet time the verdict speaks for.
    pub ts: Timestamp,
}

impl<F> Aging for Pair<F> {
    /// Response bytes in the window: a pair that carries traffic is worth
    /// more than one forged datagram.
    fn keep(&self) -> u64 {
        self.buckets.iter().map(|b| b.resp_bytes).sum()
    }
}

/// A worker's amplification state. `F` is the caller's note about the
/// latest packet of a pair (which flow it was in), returned with alerts.
pub struct AmpTracker<F> {
    window: u64,
    bucket: u64,
    ports: HashMap<u16, u16, foldhash::fast::RandomState>,
    /// Bounded by its meter (`amplification.memcap`, this worker's share):
    /// under a flood of forged one-datagram pairs those are what goes.
    pairs: BoundedMap<PairKey, Pair<F>>,
    /// The bucket that was open at the last evaluation: verdicts only
    /// change when a bucket closes.
    judged_upto: u64,
    /// The victim-level view's sums of this worker's unsolicited responses.
    floods: FloodAcc,
    /// Its verdicts, until the next evaluation hands them out.
    flood_verdicts: Vec<FloodVerdict>,
}

impl<F: Copy> AmpTracker<F> {
    /// `meter`: this worker's share of `amplification.memcap`;
    /// `flood_meter`: its share of the victim-level view's memory.
    pub fn new(det: &Detector, meter: Meter, flood_meter: Meter) -> Self {
        let window = det.conf.amplification.window.max(BUCKETS as u64) * 1_000_000;
        let ports = det
            .conf
            .amplification
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.port, i as u16))
            .collect();
        AmpTracker {
            window,
            bucket: window / BUCKETS as u64,
            ports,
            pairs: BoundedMap::new(meter, window),
            judged_upto: 0,
            floods: FloodAcc::new(window / BUCKETS as u64, flood_meter),
            flood_verdicts: Vec::new(),
        }
    }

    /// The service a UDP datagram between these ports belongs to, and the
    /// datagram's role, when the ports alone tell. Both ports equal to the
    /// service's (NTP's symmetric 123↔123) is left to the caller, who may
    /// know from the payload.
    pub fn classify(&self, sport: u16, dport: u16) -> Option<(u16, Option<Role>)> {
        match (self.ports.get(&sport), self.ports.get(&dport)) {
            (Some(&s), Some(&d)) if s == d => Some((s, None)),
            (Some(&s), _) => Some((s, Some(Role::Response))),
            (None, Some(&d)) => Some((d, Some(Role::Request))),
            (None, None) => None,
        }
    }

    /// Pairs being tracked.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pair map's memory counters.
    pub fn report(&self) -> MemReport {
        self.pairs.report()
    }

    /// The victim-level view's memory counters (this worker's sums).
    pub fn flood_report(&self) -> MemReport {
        self.floods.report()
    }

    /// Counts one datagram of `bytes` UDP payload. A response to a victim
    /// that sent the reflector no request in the window also counts toward
    /// the victim-level view (9700035).
    pub fn observe(
        &mut self,
        det: &Detector,
        ts: Timestamp,
        key: PairKey,
        role: Role,
        bytes: u64,
        flow: F,
    ) {
        let id = ts.0 / self.bucket;
        let fresh = || Pair {
            buckets: [Bucket::default(); BUCKETS],
            last_seen: ts,
            last_ratio_alert: None,
            last_unsolicited_alert: None,
            dirty: false,
            first_unjudged: id,
            flow,
        };
        let unsolicited = self
            .pairs
            .with(key, ts.0, fresh, |p| {
                Self::count(p, id, ts, role, bytes, flow)
            })
            // No room to remember the pair (a flood filled the map): what
            // cannot be matched to a request counts as unasked.
            .unwrap_or(role == Role::Response);
        if unsolicited
            && let Some(svc) = det
                .conf
                .amplification
                .services
                .get(usize::from(key.service))
        {
            self.floods.note(
                ts,
                (key.victim, key.service),
                key.reflector,
                bytes,
                svc,
                &det.shared.floods,
                &mut self.flood_verdicts,
            );
        }
    }

    /// Adds a datagram to a pair; true for a response to a victim that sent
    /// no request in the window.
    fn count(p: &mut Pair<F>, id: u64, ts: Timestamp, role: Role, bytes: u64, flow: F) -> bool {
        let b = &mut p.buckets[(id % BUCKETS as u64) as usize];
        if b.id != id {
            *b = Bucket {
                id,
                ..Bucket::default()
            };
        }
        match role {
            Role::Request => {
                b.req_bytes += bytes;
                b.req_pkts += 1;
            }
            Role::Response => {
                b.resp_bytes += bytes;
                b.resp_pkts += 1;
            }
        }
        if ts > p.last_seen {
            p.last_seen = ts;
        }
        p.flow = flow;
        if !p.dirty {
            p.dirty = true;
            p.first_unjudged = id;
        } else if id < p.first_unjudged {
            p.first_unjudged = id;
        }
        role == Role::Response
            && p.buckets
                .iter()
                .filter(|b| b.id <= id && b.id + BUCKETS as u64 > id)
                .all(|b| b.req_pkts == 0)
    }

    /// Judges the pairs that changed: ratio and unsolicited alerts for the
    /// pair, and the shared per-victim reflector count.
    ///
    /// Verdicts are taken at bucket boundaries of packet time, over the
    /// buckets that are complete at `now`, so they do not depend on where
    /// batches happen to end; a pair whose new packets all lie in the bucket
    /// still open waits for the next boundary. `last` judges everything
    /// (end of input).
    ///
    /// The victim-level view's sums of the buckets that closed go to the
    /// shared per-victim windows here too; its verdicts come out in `floods`.
    pub fn evaluate(
        &mut self,
        now: Timestamp,
        det: &Detector,
        out: &mut Vec<AmpAlert<F>>,
        floods: &mut Vec<FloodVerdict>,
        last: bool,
    ) {
        let services = &det.conf.amplification.services;
        let min_reflectors = det.conf.amplification.min_reflectors.max(1);
        let window_s = self.window / 1_000_000;
        let (window, bucket) = (self.window, self.bucket);
        let open = now.0 / bucket;
        if open == self.judged_upto && !last {
            // No bucket closed since the last evaluation, so no verdict can
            // change: skipping keeps a flood of new pairs from being walked
            // once per batch.
            floods.append(&mut self.flood_verdicts);
            return;
        }
        self.judged_upto = open;
        self.floods.flush(
            open,
            last,
            services,
            &det.shared.floods,
            &mut self.flood_verdicts,
        );
        self.flood_verdicts
            .sort_by_key(|a| (a.ts, a.victim, a.service));
        floods.append(&mut self.flood_verdicts);
        // One pass over the (bounded) map judges the pairs with new packets
        // and forgets those idle for a whole window.
        self.pairs.retain(|key, p| {
            if !p.dirty {
                return now.micros_since(p.last_seen) < window;
            }
            let newest = p.last_seen.0 / bucket;
            if p.first_unjudged >= open && !last {
                // All its new packets are in the open bucket: judge later.
                return true;
            }
            if newest >= open && !last {
                // Judge the complete buckets now; the open one stays due.
                p.first_unjudged = open;
            } else {
                p.dirty = false;
            }
            let Some(svc) = services.get(usize::from(key.service)) else {
                return true;
            };
            let upto = if last { newest + 1 } else { open };
            let verdict_ts = if last {
                p.last_seen
            } else {
                Timestamp(open * bucket)
            };
            let mut t = Bucket::default();
            for b in p
                .buckets
                .iter()
                .filter(|b| b.id < upto && b.id + BUCKETS as u64 >= upto)
            {
                t.req_bytes += b.req_bytes;
                t.req_pkts += b.req_pkts;
                t.resp_bytes += b.resp_bytes;
                t.resp_pkts += b.resp_pkts;
            }
            if t.resp_bytes < svc.min_bytes {
                return true;
            }
            let ratio = (t.req_bytes > 0).then(|| t.resp_bytes as f64 / t.req_bytes as f64);
            let evidence = |reflectors| Evidence {
                service: svc.name.clone(),
                port: svc.port,
                reflector: key.reflector,
                victim: key.victim,
                ratio: ratio.map(|r| (r * 10.0).round() / 10.0),
                request_bytes: t.req_bytes,
                response_bytes: t.resp_bytes,
                request_pkts: t.req_pkts,
                response_pkts: t.resp_pkts,
                window_s,
                baf: svc.baf,
                reflectors,
            };
            let due =
                |last: Option<Timestamp>| last.is_none_or(|l| verdict_ts.micros_since(l) >= window);
            let amplifying = match ratio {
                Some(r) if r >= svc.min_ratio => {
                    if due(p.last_ratio_alert) {
                        p.last_ratio_alert = Some(verdict_ts);
                        out.push(AmpAlert {
                            sid: AMP_RATIO,
                            flow: p.flow,
                            evidence: evidence(None),
                            ts: verdict_ts,
                        });
                    }
                    true
                }
                Some(_) => false,
                None => {
                    if due(p.last_unsolicited_alert) {
                        p.last_unsolicited_alert = Some(verdict_ts);
                        out.push(AmpAlert {
                            sid: AMP_UNSOLICITED,
                            flow: p.flow,
                            evidence: evidence(None),
                            ts: verdict_ts,
                        });
                    }
                    true
                }
            };
            if amplifying
                && let Some(n) =
                    det.shared
                        .victims
                        .reflector(key, verdict_ts, window, min_reflectors)
            {
                out.push(AmpAlert {
                    sid: AMP_REFLECTION_DDOS,
                    flow: p.flow,
                    evidence: evidence(Some(n)),
                    ts: verdict_ts,
                });
            }
            true
        });
        // The map walk visits pairs in storage order; verdicts are sorted
        // so that the output does not depend on it.
        out.sort_by(|a, b| {
            (a.ts, a.sid, a.evidence.victim, a.evidence.reflector).cmp(&(
                b.ts,
                b.sid,
                b.evidence.victim,
                b.evidence.reflector,
            ))
        });
    }
}

/// Per victim and service, the reflectors seen sending it amplified
/// responses, shared by all workers; bounded by
/// `amplification.victims_memcap`.
pub struct VictimMap {
    victims: SharedMap<(IpAddr, u16), VictimWindow>,
}

struct VictimWindow {
    start: Timestamp,
    reflectors: Vec<IpAddr>,
    alerted: bool,
}

impl Aging for VictimWindow {
    fn keep(&self) -> u64 {
        self.reflectors.len() as u64
    }
    fn heap_bytes(&self) -> usize {
        self.reflectors.capacity() * std::mem::size_of::<IpAddr>()
    }
}

impl VictimMap {
    pub fn new(cap: usize, window_s: u64, budget: &Arc<Budget>) -> Self {
        VictimMap {
            victims: SharedMap::new(window_s.max(1).saturating_mul(1_000_000), |_| {
                Meter::new("amp_victims", cap / 16, Arc::clone(budget))
            }),
        }
    }

    pub fn report(&self) -> MemReport {
        self.victims.report()
    }

    /// Records that `key.reflector` amplifies toward `key.victim`. Returns
    /// the number of reflectors when this report makes the victim reach
    /// `min` within the window (once per victim, service and window).
    pub fn reflector(
        &self,
        key: &PairKey,
        ts: Timestamp,
        window: u64,
        min: usize,
    ) -> Option<usize> {
        let fresh = || VictimWindow {
            start: ts,
            reflectors: Vec::new(),
            alerted: false,
        };
        self.victims
            .with((key.victim, key.service), ts.0, fresh, |w| {
                if crate::window_over(w.start, ts, window) {
                    *w = VictimWindow {
                        start: ts,
                        reflectors: Vec::new(),
                        alerted: false,
                    };
                }
                // Past the threshold the set only needs to say "enough".
                if w.reflectors.len() < MAX_REFLECTORS.max(min)
                    && !w.reflectors.contains(&key.reflector)
                {
                    w.reflectors.push(key.reflector);
                }
                if w.reflectors.len() >= min && !w.alerted {
                    w.alerted = true;
                    return Some(w.reflectors.len());
                }
                None
            })
            .flatten()
    }
}

impl Detector {
    /// The window of the amplification engine, in microseconds.
    pub fn amp_window(&self) -> u64 {
        self.conf.amplification.window.max(1) * 1_000_000
    }

    /// The step the amplification window slides by, in microseconds.
    pub fn amp_bucket(&self) -> u64 {
        self.conf.amplification.window.max(BUCKETS as u64) * 1_000_000 / BUCKETS as u64
    }

    /// The victim-level verdicts still due once every worker is done.
    pub fn conclude_floods(&self) -> Vec<FloodVerdict> {
        self.shared
            .floods
            .conclude(self.amp_bucket(), &self.conf.amplification.services)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{det, ip};

    fn t(s: f64) -> Timestamp {
        Timestamp((s * 1e6) as u64)
    }

    #[test]
    fn monlist_reflection_ratio() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::unlimited("amp_pairs"),
            Meter::unlimited("amp_flood_acc"),
        );
        let (svc, role) = a.classify(40000, 123).unwrap();
        assert_eq!(role, Some(Role::Request));
        let key = PairKey {
            reflector: ip("10.0.0.5"),
            victim: ip("203.0.113.7"),
            service: svc,
        };
        // ntpd 4.2.6 with a full list: 192 bytes in, 100 × 440 bytes out.
        a.observe(&d, t(100.0), key, Role::Request, 192, 1);
        for i in 0..100 {
            a.observe(
                &d,
                t(100.001 + f64::from(i) * 0.001),
                key,
                Role::Response,
                440,
                1,
            );
        }
        let mut out = Vec::new();
        a.evaluate(t(100.2), &d, &mut out, &mut Vec::new(), true);
        assert_eq!(out.len(), 1);
        let e = &out[0].evidence;
        assert_eq!(out[0].sid, AMP_RATIO);
        assert_eq!(
            (e.request_bytes, e.response_bytes, e.response_pkts),
            (192, 44_000, 100)
        );
        assert_eq!(e.ratio, Some(229.2));
        // Nothing new: nothing more. More responses within the window: rate-limited.
        a.evaluate(t(100.3), &d, &mut out, &mut Vec::new(), true);
        a.observe(&d, t(110.0), key, Role::Response, 440, 1);
        a.evaluate(t(110.0), &d, &mut out, &mut Vec::new(), true);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn verdicts_wait_for_the_open_bucket_to_close() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::unlimited("amp_pairs"),
            Meter::unlimited("amp_flood_acc"),
        );
        let key = PairKey {
            reflector: ip("10.0.0.5"),
            victim: ip("203.0.113.7"),
            service: a.classify(123, 40000).unwrap().0,
        };
        let mut out = Vec::new();
        a.observe(&d, t(101.0), key, Role::Request, 192, 1);
        a.observe(&d, t(101.5), key, Role::Response, 20_000, 1);
        a.evaluate(t(105.0), &d, &mut out, &mut Vec::new(), false);
        assert!(out.is_empty(), "the 100-110 s bucket is still open");
        // Whenever the evaluation runs after the boundary, the verdict is the same.
        a.observe(&d, t(111.0), key, Role::Response, 20_000, 1);
        a.evaluate(t(112.0), &d, &mut out, &mut Vec::new(), false);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].evidence.response_bytes, out[0].ts),
            (20_000, t(110.0))
        );
    }

    #[test]
    fn ordinary_sync_is_quiet() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::unlimited("amp_pairs"),
            Meter::unlimited("amp_flood_acc"),
        );
        let key = PairKey {
            reflector: ip("10.0.0.5"),
            victim: ip("10.0.0.9"),
            service: a.classify(123, 123).unwrap().0,
        };
        for i in 0..1000 {
            a.observe(&d, t(f64::from(i)), key, Role::Request, 48, 1);
            a.observe(&d, t(f64::from(i) + 0.01), key, Role::Response, 48, 1);
        }
        let mut out = Vec::new();
        a.evaluate(t(1000.0), &d, &mut out, &mut Vec::new(), true);
        assert!(out.is_empty());
    }

    #[test]
    fn unsolicited_and_many_reflectors() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::unlimited("amp_pairs"),
            Meter::unlimited("amp_flood_acc"),
        );
        let svc = a.classify(123, 5555).unwrap().0;
        let mut out = Vec::new();
        for r in 0..6 {
            let key = PairKey {
                reflector: IpAddr::from([198, 51, 100, r]),
                victim: ip("10.9.9.9"),
                service: svc,
            };
            for i in 0..30 {
                a.observe(
                    &d,
                    t(50.0 + f64::from(i) * 0.01),
                    key,
                    Role::Response,
                    468,
                    u64::from(r),
                );
            }
        }
        a.evaluate(t(51.0), &d, &mut out, &mut Vec::new(), true);
        let sids: Vec<u32> = out.iter().map(|a| a.sid).collect();
        assert_eq!(sids.iter().filter(|&&s| s == AMP_UNSOLICITED).count(), 6);
        assert_eq!(
            sids.iter().filter(|&&s| s == AMP_REFLECTION_DDOS).count(),
            1
        );
        let ddos = out.iter().find(|a| a.sid == AMP_REFLECTION_DDOS).unwrap();
        assert_eq!(ddos.evidence.reflectors, Some(5));
        assert!(out.iter().all(|a| a.evidence.ratio.is_none()));
    }

    #[test]
    fn window_slides() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::unlimited("amp_pairs"),
            Meter::unlimited("amp_flood_acc"),
        );
        let key = PairKey {
            reflector: ip("10.0.0.5"),
            victim: ip("203.0.113.7"),
            service: a.classify(123, 40000).unwrap().0,
        };
        // 6 KB every 70 s: never 10 KB within one 60 s window...
        let mut out = Vec::new();
        for k in 0..10 {
            a.observe(&d, t(f64::from(k) * 70.0), key, Role::Request, 100, 1);
            a.observe(&d, t(f64::from(k) * 70.0), key, Role::Response, 6_000, 1);
            a.evaluate(t(f64::from(k) * 70.0), &d, &mut out, &mut Vec::new(), true);
        }
        assert!(out.is_empty(), "{out:?}");
        // ...but one 40 s after the last shares its window.
        a.observe(&d, t(670.0), key, Role::Request, 100, 1);
        a.observe(&d, t(670.0), key, Role::Response, 6_000, 1);
        a.evaluate(t(670.0), &d, &mut out, &mut Vec::new(), true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence.response_bytes, 12_000);
    }

    #[test]
    fn scans_are_rate_limited_per_source() {
        let d = det();
        let scanner = ip("192.0.2.66");
        let req = d.alert(NTP_MONLIST_REQUEST).unwrap();
        let resp = d.alert(NTP_MONLIST_RESPONSE).unwrap();
        let fired = (0..10_000u32)
            .filter(|i| {
                let target = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
                d.admit(&req, Some(scanner), Some(target), t(f64::from(*i) * 0.001))
            })
            .count();
        assert_eq!(fired, 1);
        assert!(d.admit(&req, Some(scanner), None, t(61.0)));
        assert!(
            d.admit(&resp, Some(scanner), None, t(61.0)),
            "responses are limited separately"
        );
    }

    #[test]
    fn a_real_reflection_survives_a_flood_of_forged_pairs() {
        let d = det();
        let mut a = AmpTracker::<u64>::new(
            &d,
            Meter::new("amp_pairs", 1 << 20, Budget::unlimited()),
            Meter::new("amp_flood_acc", 1 << 20, Budget::unlimited()),
        );
        let svc = a.classify(123, 40000).unwrap().0;
        let real = PairKey {
            reflector: ip("10.0.0.5"),
            victim: ip("203.0.113.7"),
            service: svc,
        };
        let mut out = Vec::new();
        for i in 0..500_000u32 {
            let ts = t(100.0 + f64::from(i) * 0.00001);
            let forged = PairKey {
                reflector: ip("10.0.0.9"),
                victim: IpAddr::from((0x0100_0000 + i).to_be_bytes()),
                service: svc,
            };
            a.observe(&d, ts, forged, Role::Response, 468, 0);
            if i % 5000 == 0 {
                a.observe(&d, ts, real, Role::Request, 192, 1);
                for _ in 0..100 {
                    a.observe(&d, ts, real, Role::Response, 440, 1);
                }
            }
            assert!(a.report().memuse <= 1 << 20);
        }
        a.evaluate(t(200.0), &d, &mut out, &mut Vec::new(), true);
        assert!(
            out.iter()
                .any(|x| x.sid == AMP_RATIO && x.evidence.victim == real.victim),
            "{out:?}"
        );
        assert!(a.report().evicted > 100_000);
    }
}
