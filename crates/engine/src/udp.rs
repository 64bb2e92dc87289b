//! UDP: NTP events and monlist alerts per datagram, DNS queries counted
//! (and logged, if asked), and the amplification engine's measurements (per
//! datagram) and verdicts (per batch).

use fumidai_detect::amp::Evidence;
use fumidai_detect::amp::{PairKey, Role};
use fumidai_eve::app::NtpObj;
use fumidai_eve::{EveTime, EventType, Header, Record, Vlan, proto_name};
use fumidai_proto::Direction;
use fumidai_proto::ntp::{self, Body, NtpPacket};
use fumidai_wire::community_id::community_id;
use fumidai_wire::{Endpoint, Packet, Udp};
use serde::Serialize;

use crate::Engine;
use crate::app::App;
use crate::cx::Cx;
use crate::tunnel::FlowTunnel;
use fumidai_detect::amp::AmpTracker;

const NTP_PORT: u16 = 123;

/// What the amplification engine keeps about a pair's latest datagram, to
/// write an alert about the pair later: its flow, the victim's port, and
/// for NTP the datagram's kind.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AmpHint {
    flow_id: u64,
    victim_port: u16,
    ntp: Option<NtpBrief>,
    /// The flow's VLANs and tunnel, for the alert's `vlan`, `tunnel` and `pkt_src`.
    vlan: [u16; 2],
    tunnel: Option<FlowTunnel>,
}

#[derive(Clone, Copy, Debug)]
struct NtpBrief {
    version: u8,
    mode: u8,
    response: bool,
    request_code: Option<u8>,
    implementation: Option<u8>,
}

#[derive(Serialize)]
struct NtpEvidence {
    ntp: NtpObj,
}

#[derive(Serialize)]
struct AmpEvidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ntp: Option<NtpObj>,
    amplification: &'a Evidence,
}

/// Handles one UDP datagram of a flow.
pub(crate) fn datagram(
    cx: &mut Cx<'_>,
    app: &mut Option<Box<App>>,
    amp: &mut AmpTracker<AmpHint>,
    p: &Packet<'_>,
    u: &Udp<'_>,
) {
    let dir = if p.src == cx.meta.client().addr && u.sport == cx.meta.client().port {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    let parsed = if u.sport == NTP_PORT || u.dport == NTP_PORT {
        ntp::parse(u.payload).ok()
    } else {
        None
    };
    if let Some(n) = &parsed {
        let bytes = u64::from(u.len);
        ntp_datagram(cx, app.get_or_insert_with(Box::default), dir, p, n, bytes);
    } else if crate::app::dns::udp_port(u.sport, u.dport) {
        crate::app::dns::datagram(
            cx,
            app.get_or_insert_with(Box::default),
            p.src,
            u.dport,
            u.payload,
        );
    }
    let Some((service, role)) = amp.classify(u.sport, u.dport) else {
        return;
    };
    // Both ports the service's (NTP's 123<->123): the payload says which.
    let role = match (role, &parsed) {
        (Some(r), _) => r,
        (None, Some(n)) if n.is_response() => Role::Response,
        (None, Some(_)) => Role::Request,
        (None, None) => return,
    };
    let (reflector, victim) = match role {
        Role::Response => (
            p.src,
            Endpoint {
                addr: p.dst,
                port: u.dport,
            },
        ),
        Role::Request => (
            p.dst,
            Endpoint {
                addr: p.src,
                port: u.sport,
            },
        ),
    };
    let hint = AmpHint {
        flow_id: cx.meta.flow_id(),
        victim_port: victim.port,
        ntp: parsed.as_ref().map(brief),
        vlan: cx.meta.key.vlan,
        tunnel: cx.meta.tunnel.as_deref().copied(),
    };
    let key = PairKey {
        reflector,
        victim: victim.addr,
        service,
    };
    amp.observe(cx.det, cx.ts, key, role, u64::from(u.len), hint);
}

fn brief(n: &NtpPacket<'_>) -> NtpBrief {
    let (request_code, implementation) = match &n.body {
        Body::Private(p) => (Some(p.request_code.0), Some(p.implementation.0)),
        _ => (None, None),
    };
    NtpBrief {
        version: n.version,
        mode: n.mode.0,
        response: n.is_response(),
        request_code,
        implementation,
    }
}

fn ntp_datagram(
    cx: &mut Cx<'_>,
    app: &mut App,
    dir: Direction,
    p: &Packet<'_>,
    n: &NtpPacket<'_>,
    bytes: u64,
) {
    if matches!(cx.meta.app_proto, None | Some("failed")) {
        cx.meta.app_proto = Some("ntp");
        cx.stats.flow("ntp");
    }
    let tx = app.ntp_txs;
    app.ntp_txs += 1;
    let obj = ntp_obj(n);
    let log = match n.body {
        Body::Standard(_) => match cx.det.conf.ntp.log {
            fumidai_detect::config::NtpLog::All => true,
            fumidai_detect::config::NtpLog::None => false,
            fumidai_detect::config::NtpLog::Summary => {
                !std::mem::replace(&mut app.ntp_logged[dir.index()], true)
            }
        },
        _ => true,
    };
    let mut alerted = false;
    if let Body::Private(pr) = &n.body
        && pr.request_code.is_monlist()
    {
        let sid = if pr.response {
            // Only a server that returned its monitor list is an amplifier;
            // an error or an empty answer is a refusal.
            app.ntp
                .monlist_served(pr, bytes)
                .then_some(fumidai_detect::catalog::NTP_MONLIST_RESPONSE)
        } else {
            app.ntp.monlist_request(bytes);
            Some(fumidai_detect::catalog::NTP_MONLIST_REQUEST)
        };
        // Thresholds follow the packet: the requester, or the answering server.
        if let Some(sid) = sid {
            alerted = cx.alert_tracking(
                sid,
                Some(tx),
                &NtpEvidence { ntp: obj.clone() },
                p.src,
                p.dst,
            );
        }
    }
    // Mode 6/7: a request waits for its answer (a scan's thousands of
    // unanswered requests become one summary per source); an answer
    // releases the requests before it. A request an alert was raised on is
    // logged at once, so that the alert joins its transaction.
    let kind = match &n.body {
        Body::Control(c) => Some((c.response, crate::ntp::kind_of(6, c.opcode.0))),
        Body::Private(pr) => Some((pr.response, crate::ntp::kind_of(7, pr.request_code.0))),
        Body::Standard(_) => None,
    };
    let summarise = cx.det.conf.ntp.unanswered == fumidai_detect::config::Unanswered::Summary;
    match kind {
        Some((false, kind)) if summarise && !alerted => {
            app.ntp.hold(cx.ts, tx, (p.src, p.dst), kind, Some(obj));
            return;
        }
        Some((false, kind)) if summarise => {
            app.ntp.hold(cx.ts, tx, (p.src, p.dst), kind, None);
        }
        Some((true, _)) => app.ntp.answered(cx),
        _ => {}
    }
    if log {
        cx.stats.tx("ntp");
        cx.event(EventType::Ntp, Some(tx), &NtpEvidence { ntp: obj });
    }
}

/// Suricata's `ntp` object with the overlay's mode 6/7 fields.
fn ntp_obj(n: &NtpPacket<'_>) -> NtpObj {
    let mut o = NtpObj {
        version: n.version,
        mode: n.mode.0,
        ..NtpObj::default()
    };
    match &n.body {
        Body::Standard(s) => {
            o.stratum = Some(s.stratum);
            o.reference_id = Some(ntp::reference_id_hex(s.reference_id));
            o.poll = Some(s.poll);
            o.precision = Some(s.precision);
        }
        Body::Control(c) => {
            o.response = Some(c.response);
            o.error = Some(u8::from(c.error));
            o.more = Some(c.more);
            o.opcode = Some(c.opcode.0);
            o.sequence = Some(c.sequence);
            o.status = Some(c.status);
            o.association_id = Some(c.association_id);
        }
        Body::Private(p) => {
            o.response = Some(p.response);
            o.more = Some(p.more);
            o.auth = Some(p.auth);
            o.error = Some(p.error);
            o.sequence = Some(u16::from(p.sequence));
            o.implementation = Some(p.implementation.0);
            o.request_code = Some(p.request_code.0);
            o.request = p.request_code.name().map(Into::into);
            o.item_count = Some(p.item_count);
            o.item_size = Some(p.item_size);
            if p.response && p.request_code.is_monlist() {
                o.monlist_entries = Some(p.monlist().count());
            }
        }
    }
    o
}

/// Runs the amplification verdicts (once per batch) and writes their alerts.
/// `last`: the end of the input, when the open bucket is judged too.
pub(crate) fn evaluate(e: &mut Engine, last: bool) {
    let mut alerts = Vec::new();
    let mut floods = Vec::new();
    e.amp
        .evaluate(e.clock, &e.det, &mut alerts, &mut floods, last);
    for f in floods {
        if write_flood_alert(&e.det, &e.cfg, &f, &mut e.out) {
            e.app_stats.alerts += 1;
        }
    }
    for a in alerts {
        let Some(info) = e.det.alert(a.sid) else {
            continue;
        };
        let ev = &a.evidence;
        if !e
            .det
            .admit(&info, Some(ev.victim), Some(ev.reflector), a.ts)
        {
            continue;
        }
        e.app_stats.alerts += 1;
        if !e.cfg.logs(EventType::Alert) {
            continue;
        }
        let victim = Endpoint {
            addr: ev.victim,
            port: a.flow.victim_port,
        };
        let reflector = Endpoint {
            addr: ev.reflector,
            port: ev.port,
        };
        // The alert reads as the exchange does: victim (or its forger) to reflector.
        let cid = community_id(e.cfg.community_id_seed, victim, reflector, 17);
        let mut header = Header::new(EveTime(a.ts), EventType::Alert);
        header.flow_id = Some(a.flow.flow_id);
        let vlan = a.flow.vlan;
        header.vlan = Vlan(vlan, vlan.iter().filter(|v| **v != 0).count() as u8);
        header.src_ip = Some(victim.addr);
        header.src_port = Some(victim.port);
        header.dest_ip = Some(reflector.addr);
        header.dest_port = Some(reflector.port);
        header.ip_v = Some(if victim.addr.is_ipv4() { 4 } else { 6 });
        header.proto = Some(proto_name(17));
        header.pkt_src = Some(a.flow.tunnel.map_or("wire/pcap", |t| t.pkt_src));
        header.tunnel = a.flow.tunnel.as_ref().map(|t| &t.obj);
        header.community_id = Some(cid);
        header.app_proto = a.flow.ntp.map(|_| "ntp");
        let body = AmpEvidence {
            ntp: a.flow.ntp.map(|b| NtpObj {
                version: b.version,
                mode: b.mode,
                response: Some(b.response),
                request_code: b.request_code,
                implementation: b.implementation,
                request: b
                    .request_code
                    .and_then(|c| ntp::RequestCode(c).name())
                    .map(Into::into),
                ..NtpObj::default()
            }),
            amplification: ev,
        };
        e.out.push(&Record {
            header,
            body: AlertBody {
                alert: crate::cx::alert_obj(&info),
                evidence: body,
            },
        });
    }
}

#[derive(Serialize)]
struct AlertBody<'a> {
    alert: fumidai_eve::objects::AlertObj,
    #[serde(flatten)]
    evidence: AmpEvidence<'a>,
}

#[derive(Serialize)]
struct FloodBody {
    alert: fumidai_eve::objects::AlertObj,
    amplification: FloodObj,
}

/// The `amplification` object of a victim-level verdict (9700035).
#[derive(Serialize)]
struct FloodObj {
    service: String,
    port: u16,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    victim: std::net::IpAddr,
    /// Distinct reflectors (estimated beyond 256).
    reflectors: u64,
    request_bytes: u64,
    response_bytes: u64,
    request_pkts: u64,
    response_pkts: u64,
    /// The busiest sixth of the window, in bytes per second.
    bytes_per_s: u64,
    window_s: u64,
    baf: f64,
    top_reflectors: Vec<TopObj>,
}

#[derive(Serialize)]
struct TopObj {
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    reflector: std::net::IpAddr,
    response_bytes: u64,
    response_pkts: u64,
}

/// Writes a 9700035 alert: one victim receiving unsolicited responses from
/// many reflectors. It has no flow (the responses came in thousands); it
/// names the victim as its destination. Returns whether it was raised.
pub(crate) fn write_flood_alert(
    det: &fumidai_detect::Detector,
    cfg: &crate::EngineConfig,
    f: &fumidai_detect::flood::FloodVerdict,
    out: &mut fumidai_eve::EveBatch,
) -> bool {
    let Some(info) = det.alert(fumidai_detect::catalog::AMP_VICTIM_FLOOD) else {
        return false;
    };
    let Some(svc) = det.conf.amplification.services.get(usize::from(f.service)) else {
        return false;
    };
    if !det.admit(&info, None, Some(f.victim), f.ts) {
        return false;
    }
    if !cfg.logs(EventType::Alert) {
        return true;
    }
    let mut header = Header::new(EveTime(f.ts), EventType::Alert);
    header.dest_ip = Some(f.victim);
    header.ip_v = Some(if f.victim.is_ipv4() { 4 } else { 6 });
    header.proto = Some(proto_name(17));
    header.pkt_src = Some("wire/pcap");
    out.push(&Record {
        header,
        body: FloodBody {
            alert: crate::cx::alert_obj(&info),
            amplification: FloodObj {
                service: svc.name.clone(),
                port: svc.port,
                victim: f.victim,
                reflectors: f.reflectors,
                request_bytes: 0,
                response_bytes: f.bytes,
                request_pkts: 0,
                response_pkts: f.pkts,
                bytes_per_s: f.peak_bytes_per_s,
                window_s: f.window_s,
                baf: svc.baf,
                top_reflectors: f
                    .top
                    .iter()
                    .map(|t| TopObj {
                        reflector: t.addr,
                        response_bytes: t.bytes,
                        response_pkts: t.pkts,
                    })
                    .collect(),
            },
        },
    });
    true
}
