//! A flow's NTP state beyond the datagram at hand: what decides 9700031
//! (did the server return monitor entries?), and the mode 6/7 requests
//! held until an answer comes or the flow ends unanswered, which then go
//! to the per-source summaries of `ntp.unanswered`.

use std::net::IpAddr;

use fumidai_detect::Detector;
use fumidai_detect::ntp_scan::{ReqKind, ScanSummary, Unanswered};
use fumidai_eve::app::{NtpKindCount, NtpObj, NtpUnansweredObj};
use fumidai_eve::{EveBatch, EveTime, EventType, Header, Record, proto_name};
use fumidai_flow::Class;
use fumidai_proto::ntp::{Private, RequestCode};
use fumidai_wire::Timestamp;
use serde::Serialize;

use crate::EngineConfig;
use crate::cx::Cx;

/// Requests held per flow; more (a flow that keeps asking and is never
/// answered) are only counted.
const MAX_PENDING: usize = 8;

/// One mode 6/7 request waiting for an answer.
#[derive(Debug)]
struct Pending {
    ts: Timestamp,
    tx: u64,
    src: IpAddr,
    dst: IpAddr,
    kind: ReqKind,
    /// `None` once logged (an alert was raised on it: its record is
    /// written at once so that the alert joins it).
    obj: Option<NtpObj>,
}

#[derive(Debug, Default)]
pub struct NtpFlow {
    /// UDP payload bytes of monlist requests, and of error-free monlist
    /// responses, on this flow.
    monlist_request_bytes: u64,
    monlist_response_bytes: u64,
    pending: Vec<Pending>,
    /// Requests beyond MAX_PENDING, and where they went.
    overflow: Unanswered,
    overflow_ends: Option<(IpAddr, IpAddr)>,
}

#[derive(Serialize)]
struct NtpBody<'a> {
    ntp: &'a NtpObj,
}

impl NtpFlow {
    /// Heap bytes held (the app-layer memcap counts them).
    pub fn memuse(&self) -> usize {
        self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.overflow.kinds.capacity() * std::mem::size_of::<(ReqKind, u64)>()
    }

    /// A monlist request of `bytes` UDP payload.
    pub fn monlist_request(&mut self, bytes: u64) {
        self.monlist_request_bytes += bytes;
    }

    /// Whether a monlist response of `bytes` UDP payload shows the server
    /// returning its monitor list (9700031): no error code and items
    /// announced, or, with no error, a train of responses larger than the
    /// requests seen on the flow. An ntpd with monitoring off answers with
    /// an error (`INFO_ERR_NODATA`) or with no items; that is a refusal.
    pub fn monlist_served(&mut self, p: &Private<'_>, bytes: u64) -> bool {
        if p.error != 0 {
            return false;
        }
        self.monlist_response_bytes += bytes;
        p.item_count > 0
            || (self.monlist_request_bytes > 0
                && self.monlist_response_bytes > self.monlist_request_bytes)
    }

    /// Holds a mode 6/7 request until it is answered or the flow ends
    /// (`obj`: `None` when its record was written already).
    pub fn hold(
        &mut self,
        ts: Timestamp,
        tx: u64,
        (src, dst): (IpAddr, IpAddr),
        kind: ReqKind,
        obj: Option<NtpObj>,
    ) {
        if self.pending.len() < MAX_PENDING {
            self.pending.push(Pending {
                ts,
                tx,
                src,
                dst,
                kind,
                obj,
            });
        } else {
            self.overflow.add(ts, kind);
            self.overflow_ends = Some((src, dst));
        }
    }

    /// An answer came: the requests held are logged now, each at its own
    /// time, before the answer.
    pub fn answered(&mut self, cx: &mut Cx<'_>) {
        for p in self.pending.drain(..) {
            if let Some(obj) = &p.obj {
                cx.stats.tx("ntp");
                cx.event_at(p.ts, EventType::Ntp, Some(p.tx), &NtpBody { ntp: obj });
            }
        }
    }

    /// The flow ends: what is still held was never answered, and goes to
    /// its source's summary.
    pub fn finish(&mut self, cx: &mut Cx<'_>) {
        let scans = &cx.det.shared.ntp_scans;
        let mut by_ends: Vec<((IpAddr, IpAddr), Unanswered)> = Vec::new();
        for p in self.pending.drain(..) {
            let ends = (p.src, p.dst);
            match by_ends.iter_mut().find(|(e, _)| *e == ends) {
                Some((_, u)) => u.add(p.ts, p.kind),
                None => {
                    let mut u = Unanswered::default();
                    u.add(p.ts, p.kind);
                    by_ends.push((ends, u));
                }
            }
        }
        for ((src, dst), u) in &by_ends {
            scans.add(*src, *dst, u);
        }
        if let Some((src, dst)) = self.overflow_ends.take() {
            scans.add(src, dst, &std::mem::take(&mut self.overflow));
        }
    }
}

/// The kind of a mode 6/7 request, for the summaries.
pub fn kind_of(mode: u8, code: u8) -> ReqKind {
    ReqKind { mode, code }
}

#[derive(Serialize)]
struct SummaryBody {
    ntp: SummaryNtp,
}

#[derive(Serialize)]
struct SummaryNtp {
    unanswered: NtpUnansweredObj,
}

/// Writes the `ntp.unanswered` summaries due at `now` (all of them when
/// `last`: the end of the input, every worker done). Returns how many.
pub fn write_summaries(
    det: &Detector,
    cfg: &EngineConfig,
    now: Timestamp,
    last: bool,
    out: &mut EveBatch,
) -> u64 {
    // A window's last flows end one idle timeout after their last packet.
    let grace = cfg.timeouts.micros(Class::UdpNew);
    let due = det.shared.ntp_scans.due(now, grace, last);
    let n = due.len() as u64;
    if cfg.log[EventType::Ntp.index()] {
        for s in &due {
            write_summary(s, out);
        }
    }
    n
}

fn write_summary(s: &ScanSummary, out: &mut EveBatch) {
    let mut header = Header::new(EveTime(s.last), EventType::Ntp);
    header.src_ip = Some(s.source);
    header.ip_v = Some(if s.source.is_ipv4() { 4 } else { 6 });
    header.proto = Some(proto_name(17));
    header.app_proto = Some("ntp");
    let kinds = s
        .kinds
        .iter()
        .map(|(k, count)| NtpKindCount {
            mode: k.mode,
            opcode: (k.mode == 6).then_some(k.code),
            request_code: (k.mode == 7).then_some(k.code),
            request: (k.mode == 7)
                .then(|| RequestCode(k.code).name())
                .flatten()
                .map(Into::into),
            count: *count,
        })
        .collect();
    out.push(&Record {
        header,
        body: SummaryBody {
            ntp: SummaryNtp {
                unanswered: NtpUnansweredObj {
                    requests: s.requests,
                    targets: s.targets,
                    first: EveTime(s.first),
                    last: EveTime(s.last),
                    window_s: s.window_s,
                    kinds,
                    other: s.other,
                },
            },
        },
    });
}
