//! The victim-level view of reflection (9700035): per (victim, service),
//! the unsolicited response bytes, packets and distinct reflectors of a
//! window, whoever sent them.
//!
//! A real reflection flood comes from thousands of reflectors, each
//! sending the victim one or two responses: no (reflector, victim) pair
//! reaches a per-pair threshold, so the pair view (9700032–9700034) stays
//! silent. Summed per victim, the flood is obvious.
//!
//! "Unsolicited": the victim sent the reflector no request in the pair's
//! window (the pair view knows). A resolver or a CDN edge answering clients
//! that asked is therefore never counted, however many clients it has; a
//! capture that sees only one direction of traffic makes every response
//! unsolicited (docs/alerts.md says so).
//!
//! Memory is fixed per victim: reflectors are counted with a
//! [`Distinct`] sketch and the heaviest kept in a [`TopTalkers`] list.
//! Each worker sums what it sees per bucket of packet time in a
//! [`FloodAcc`], bounded by its meter, and adds the bucket to the shared
//! [`FloodMap`] (bounded by `amplification.floods_memcap`) once the bucket
//! is over, so the shared map is touched once per victim and bucket, not
//! per packet. Windows are fixed (aligned on multiples of the window).

use std::net::IpAddr;
use std::sync::Arc;

use fumidai_budget::{Aging, BoundedMap, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::config::Service;
use crate::distinct::Distinct;
use crate::top::{Talker, TopTalkers};

/// Buckets per window (as the pair view's).
pub const BUCKETS: u64 = 6;
/// Reflectors named in an alert.
pub const TOP: usize = 10;

/// A victim and a service (index into `amplification.services`).
pub type FloodKey = (IpAddr, u16);

/// What one worker saw of a victim in one bucket.
#[derive(Clone, Debug, Default)]
struct Acc {
    bucket: u64,
    bytes: u64,
    pkts: u64,
    reflectors: Distinct,
    top: TopTalkers,
    last: Timestamp,
}

impl Aging for Acc {
    /// Packets: under pressure, a forged victim of one datagram goes first.
    fn keep(&self) -> u64 {
        self.pkts
    }
    fn heap_bytes(&self) -> usize {
        self.reflectors.heap_bytes() + self.top.heap_bytes()
    }
}

/// A verdict of the victim-level view: the evidence of a 9700035 alert.
#[derive(Clone, Debug, PartialEq)]
pub struct FloodVerdict {
    pub victim: IpAddr,
    pub service: u16,
    /// The packet time the verdict speaks for (the end of the bucket that
    /// made the victim cross a threshold, or the last packet at the end).
    pub ts: Timestamp,
    /// Distinct reflectors in the window so far (estimated beyond 256).
    pub reflectors: u64,
    pub bytes: u64,
    pub pkts: u64,
    /// The busiest bucket's bytes per second.
    pub peak_bytes_per_s: u64,
    pub window_s: u64,
    pub top: Vec<Talker>,
}

/// Per worker: the current bucket's unsolicited responses per victim.
pub struct FloodAcc {
    map: BoundedMap<FloodKey, Acc>,
    bucket: u64,
}

impl FloodAcc {
    /// `bucket`: the bucket length in microseconds; `meter`: this worker's
    /// share of the victim view's memory.
    pub fn new(bucket: u64, meter: Meter) -> Self {
        FloodAcc {
            // Entries leave when their bucket is handed on; the time-to-live
            // only catches what a stopped clock left behind.
            map: BoundedMap::new(meter, bucket.saturating_mul(BUCKETS)),
            bucket: bucket.max(1),
        }
    }

    pub fn report(&self) -> MemReport {
        self.map.report()
    }

    /// Counts one unsolicited response. A victim's previous bucket, if it
    /// is still here, is handed to `shared` first.
    #[allow(clippy::too_many_arguments)]
    pub fn note(
        &mut self,
        ts: Timestamp,
        key: FloodKey,
        reflector: IpAddr,
        bytes: u64,
        svc: &Service,
        shared: &FloodMap,
        out: &mut Vec<FloodVerdict>,
    ) {
        let id = ts.0 / self.bucket;
        let bucket = self.bucket;
        let fresh = || Acc {
            bucket: id,
            ..Acc::default()
        };
        self.map.with(key, ts.0, fresh, |a| {
            if a.bucket != id {
                if a.pkts > 0 {
                    let end = Timestamp((a.bucket + 1) * bucket);
                    out.extend(shared.add(key, a, end, bucket, svc, true));
                }
                *a = Acc {
                    bucket: id,
                    ..Acc::default()
                };
            }
            a.bytes += bytes;
            a.pkts += 1;
            a.reflectors.insert(&reflector);
            a.top.add(reflector, bytes, 1);
            if ts > a.last {
                a.last = ts;
            }
        });
    }

    /// Hands every bucket before `open` to `shared`, with the verdicts
    /// that follow. `last` (the end of the input): every bucket, without
    /// verdicts — those are taken once every worker is done
    /// ([`FloodMap::conclude`]), so that they do not depend on which worker
    /// finished last. `services`: the config's list, which the keys index.
    pub fn flush(
        &mut self,
        open: u64,
        last: bool,
        services: &[Service],
        shared: &FloodMap,
        out: &mut Vec<FloodVerdict>,
    ) {
        let bucket = self.bucket;
        self.map.retain(|key, a| {
            if a.bucket >= open && !last {
                return true;
            }
            if let Some(svc) = services.get(usize::from(key.1))
                && a.pkts > 0
            {
                let end = Timestamp((a.bucket + 1) * bucket);
                out.extend(shared.add(*key, a, end, bucket, svc, !last));
            }
            false
        });
    }
}

/// One victim's window, shared by all workers.
struct VictimFlood {
    window: u64,
    /// Bytes per bucket of the window (by bucket number modulo BUCKETS).
    bucket_bytes: [u64; BUCKETS as usize],
    bytes: u64,
    pkts: u64,
    reflectors: Distinct,
    top: TopTalkers,
    alerted: bool,
    /// The latest response counted.
    last: Timestamp,
}

impl Aging for VictimFlood {
    fn keep(&self) -> u64 {
        self.reflectors.count()
    }
    fn heap_bytes(&self) -> usize {
        self.reflectors.heap_bytes() + self.top.heap_bytes()
    }
}

/// Per victim and service, the window's unsolicited responses, shared by
/// all workers; bounded by half of `amplification.floods_memcap` (the
/// workers' accumulators share the other half).
pub struct FloodMap {
    victims: SharedMap<FloodKey, VictimFlood>,
}

impl FloodMap {
    pub fn new(cap: usize, window_s: u64, budget: &Arc<Budget>) -> Self {
        FloodMap {
            victims: SharedMap::new(window_s.max(1).saturating_mul(2_000_000), |_| {
                Meter::new("amp_floods", cap / 16, Arc::clone(budget))
            }),
        }
    }

    pub fn report(&self) -> MemReport {
        self.victims.report()
    }

    /// Adds one worker's bucket, ending at `end`; with `judge`, returns a
    /// verdict when this makes the victim cross one of the service's
    /// thresholds (once per victim, service and window).
    fn add(
        &self,
        key: FloodKey,
        a: &Acc,
        end: Timestamp,
        bucket: u64,
        svc: &Service,
        judge: bool,
    ) -> Option<FloodVerdict> {
        let window = a.bucket / BUCKETS;
        let fresh = || VictimFlood {
            window,
            bucket_bytes: [0; BUCKETS as usize],
            bytes: 0,
            pkts: 0,
            reflectors: Distinct::new(),
            top: TopTalkers::default(),
            alerted: false,
            last: a.last,
        };
        self.victims
            .with(key, end.0, fresh, |v| {
                if window < v.window {
                    // A late report of a window already over.
                    return None;
                }
                if window > v.window {
                    *v = fresh();
                }
                v.bucket_bytes[(a.bucket % BUCKETS) as usize] += a.bytes;
                v.bytes += a.bytes;
                v.pkts += a.pkts;
                v.reflectors.merge(&a.reflectors);
                v.top.merge(&a.top);
                v.last = v.last.max(a.last);
                if !judge {
                    return None;
                }
                v.judge(key, end, bucket, svc)
            })
            .flatten()
    }

    /// The verdicts still due once every worker is done (the end of the
    /// input), dated at each victim's last response.
    pub fn conclude(&self, bucket: u64, services: &[Service]) -> Vec<FloodVerdict> {
        let mut out = Vec::new();
        self.victims.retain(|key, v| {
            if let Some(svc) = services.get(usize::from(key.1)) {
                out.extend(v.judge(*key, v.last, bucket, svc));
            }
            true
        });
        out.sort_by_key(|v| (v.ts, v.victim, v.service));
        out
    }
}

impl VictimFlood {
    /// A verdict at `ts` when the window crossed one of the service's
    /// thresholds and did not alert yet.
    fn judge(
        &mut self,
        key: FloodKey,
        ts: Timestamp,
        bucket: u64,
        svc: &Service,
    ) -> Option<FloodVerdict> {
        let bucket_s = (bucket / 1_000_000).max(1);
        let peak = self.bucket_bytes.iter().max().copied().unwrap_or(0) / bucket_s;
        let reflectors = self.reflectors.count();
        let many = svc.flood_reflectors > 0 && reflectors >= svc.flood_reflectors;
        let fast = svc.flood_bytes_per_s.0 > 0 && peak >= svc.flood_bytes_per_s.0;
        if self.alerted || !(many || fast) {
            return None;
        }
        self.alerted = true;
        Some(FloodVerdict {
            victim: key.0,
            service: key.1,
            ts,
            reflectors,
            bytes: self.bytes,
            pkts: self.pkts,
            peak_bytes_per_s: peak,
            window_s: bucket * BUCKETS / 1_000_000,
            top: self.top.top(TOP),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ByteSize, Service};

    fn snmp() -> Service {
        Service {
            name: "snmp".into(),
            port: 161,
            baf: 6.3,
            min_ratio: 8.0,
            min_bytes: 20_000,
            flood_reflectors: 100,
            flood_bytes_per_s: ByteSize(1 << 20),
        }
    }

    fn t(s: f64) -> Timestamp {
        Timestamp((s * 1e6) as u64)
    }

    fn reflector(i: u32) -> IpAddr {
        IpAddr::from((0xc000_0000 + i).to_be_bytes())
    }

    const VICTIM: [u8; 4] = [10, 0, 0, 7];

    #[test]
    fn many_small_reflectors_make_one_verdict() {
        let svc = snmp();
        let shared = FloodMap::new(1 << 20, 60, &Budget::unlimited());
        let mut acc = FloodAcc::new(10_000_000, Meter::unlimited("amp_flood_acc"));
        let key = (IpAddr::from(VICTIM), 0);
        let mut out = Vec::new();
        // 4,000 reflectors, one or two 200-byte responses each, within 0.4 s.
        for i in 0..4000u32 {
            for _ in 0..(1 + i % 2) {
                let ts = t(100.0 + f64::from(i) * 0.0001);
                acc.note(ts, key, reflector(i), 200, &svc, &shared, &mut out);
            }
        }
        assert!(out.is_empty(), "the bucket is not over yet");
        acc.flush(11, false, std::slice::from_ref(&svc), &shared, &mut out);
        assert_eq!(out.len(), 1);
        let v = &out[0];
        assert_eq!((v.ts, v.pkts, v.bytes), (t(110.0), 6000, 1_200_000));
        assert!((3800..=4200).contains(&v.reflectors), "{}", v.reflectors);
        assert!(v.top.iter().all(|t| t.pkts <= 2), "{:?}", v.top);
        assert_eq!(v.window_s, 60);
        // Once per window.
        for i in 0..4000u32 {
            acc.note(t(111.0), key, reflector(i), 200, &svc, &shared, &mut out);
        }
        acc.flush(12, false, std::slice::from_ref(&svc), &shared, &mut out);
        assert_eq!(out.len(), 1);
        // The next window is judged afresh.
        for i in 0..4000u32 {
            acc.note(t(125.0), key, reflector(i), 200, &svc, &shared, &mut out);
        }
        acc.flush(0, true, std::slice::from_ref(&svc), &shared, &mut out);
        assert_eq!(out.len(), 1, "at the end, verdicts wait for every worker");
        out.extend(shared.conclude(10_000_000, std::slice::from_ref(&svc)));
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].ts, t(125.0), "at the end, the last packet's time");
    }

    #[test]
    fn few_reflectors_below_the_rate_stay_quiet_and_a_fast_one_does_not() {
        let svc = snmp();
        let shared = FloodMap::new(1 << 20, 60, &Budget::unlimited());
        let mut acc = FloodAcc::new(10_000_000, Meter::unlimited("amp_flood_acc"));
        let key = (IpAddr::from(VICTIM), 0);
        let mut out = Vec::new();
        for i in 0..50u32 {
            acc.note(t(5.0), key, reflector(i), 1000, &svc, &shared, &mut out);
        }
        acc.flush(1, false, std::slice::from_ref(&svc), &shared, &mut out);
        assert!(out.is_empty());
        // Two reflectors, 20 MB in ten seconds: 2 MB/s.
        for _ in 0..20_000 {
            acc.note(t(12.0), key, reflector(1), 1000, &svc, &shared, &mut out);
            acc.note(t(12.0), key, reflector(2), 1000, &svc, &shared, &mut out);
        }
        acc.flush(2, false, std::slice::from_ref(&svc), &shared, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].peak_bytes_per_s, 4_000_000);
        assert_eq!(out[0].reflectors, 50, "the same 50, two of them busy");
        let top = out[0].top[0];
        // What it certainly sent: at most its 20,001,000 bytes.
        assert!(
            top.bytes <= 20_001_000 && top.bytes >= 19_000_000,
            "{top:?}"
        );
    }

    #[test]
    fn workers_add_up() {
        let svc = snmp();
        let shared = FloodMap::new(1 << 20, 60, &Budget::unlimited());
        let key = (IpAddr::from(VICTIM), 0);
        let mut out = Vec::new();
        // Four workers see 30 reflectors each: 120 together.
        for w in 0..4u32 {
            let mut acc = FloodAcc::new(10_000_000, Meter::unlimited("amp_flood_acc"));
            for i in 0..30 {
                acc.note(
                    t(1.0),
                    key,
                    reflector(w * 30 + i),
                    200,
                    &svc,
                    &shared,
                    &mut out,
                );
            }
            acc.flush(1, false, std::slice::from_ref(&svc), &shared, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].reflectors, 120,
            "the report that crossed the threshold"
        );
    }

    #[test]
    fn memory_stays_within_the_meter() {
        let svc = snmp();
        let shared = FloodMap::new(256 << 10, 60, &Budget::unlimited());
        let cap = 128 << 10;
        let mut acc = FloodAcc::new(
            10_000_000,
            Meter::new("amp_flood_acc", cap, Budget::unlimited()),
        );
        let mut out = Vec::new();
        // A million forged victims of one datagram each.
        for i in 0..1_000_000u32 {
            let key = (IpAddr::from((0x0b00_0000 + i).to_be_bytes()), 0);
            acc.note(t(1.0), key, reflector(1), 100, &svc, &shared, &mut out);
            assert!(acc.report().memuse <= cap as u64);
        }
        acc.flush(0, true, std::slice::from_ref(&svc), &shared, &mut out);
        assert!(shared.report().memuse <= 256 << 10);
        assert!(acc.report().evicted > 0);
    }
}
