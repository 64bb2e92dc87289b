//! DNS: the per-host query counters behind 9700080 and 9700081, and `dns`
//! events in Suricata's layout when `dns.log` is on. Datagrams come from
//! the UDP path (`crate::udp`), TCP messages through [`Session`].

use std::net::IpAddr;

use fumidai_detect::dns::DnsVerdict;
use fumidai_eve::EventType;
use fumidai_eve::app::{DnsObj, DnsQueryObj, DnsVolumeObj, FumidaiObj};
use fumidai_proto::dns::{DnsEvent, DnsMessage, DnsTcpParser, rcode_name, rrtype_name};
use fumidai_proto::{Direction, StreamDriver};
use serde::Serialize;

use super::{Base, Decoder, Outcome};
use crate::cx::Cx;

/// Messages are read from their first bytes only: a little is enough.
const MAX_PENDING: usize = 4 << 10;
const DNS_PORT: u16 = 53;

#[derive(Serialize)]
struct Evidence {
    dns: DnsObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    fumidai: Option<FumidaiObj>,
}

/// Suricata's `dns` object (version 3) for a message.
fn dns_obj(m: &DnsMessage, tx_id: u64) -> DnsObj {
    let h = &m.header;
    DnsObj {
        version: 3,
        kind: if h.response() { "response" } else { "request" }.into(),
        tx_id,
        id: h.id,
        flags: format!("{:x}", h.flags),
        qr: h.response(),
        aa: h.aa(),
        tc: h.tc(),
        rd: h.rd(),
        ra: h.ra(),
        z: h.z(),
        opcode: h.opcode(),
        rcode: rcode_name(h.rcode()).into_owned(),
        queries: m
            .question
            .iter()
            .map(|q| DnsQueryObj {
                rrname: q.name.clone(),
                rrtype: rrtype_name(q.qtype).into_owned(),
            })
            .collect(),
    }
}

/// One DNS message of a flow: counted if it is a query `querier` sent to a
/// server (port 53), logged if `dns.log` is on. `tx_id`: the flow's DNS
/// message count; `stat`: Suricata's counter name (`dns_udp`, `dns_tcp`).
pub(crate) fn message(
    cx: &mut Cx<'_>,
    m: &DnsMessage,
    querier: Option<IpAddr>,
    tx_id: u64,
    stat: &'static str,
) {
    if matches!(cx.meta.app_proto, None | Some("failed")) {
        cx.meta.app_proto = Some("dns");
        cx.stats.flow(stat);
    }
    if cx.det.conf.dns.log {
        cx.stats.tx(stat);
        cx.event(
            EventType::Dns,
            Some(tx_id),
            &Evidence {
                dns: dns_obj(m, tx_id),
                fumidai: None,
            },
        );
    }
    let (Some(client), Some(q)) = (querier, m.question.as_ref()) else {
        return;
    };
    if m.header.response() {
        return;
    }
    let verdicts = cx.det.dns_query(client, &q.name, q.qtype, cx.ts);
    for DnsVerdict {
        sid,
        queries,
        mx_names,
        limit,
    } in verdicts
    {
        let ev = Evidence {
            dns: dns_obj(m, tx_id),
            fumidai: Some(FumidaiObj {
                dns_volume: Some(DnsVolumeObj {
                    queries,
                    mx_names,
                    limit,
                    window_s: 3600,
                }),
                ..FumidaiObj::default()
            }),
        };
        let server = cx.meta.server().addr;
        cx.alert_tracking(sid, Some(tx_id), &ev, client, server);
    }
}

/// Whether a UDP datagram between these ports is DNS: one side is 53.
pub(crate) fn udp_port(sport: u16, dport: u16) -> bool {
    sport == DNS_PORT || dport == DNS_PORT
}

/// A UDP datagram on port 53.
pub(crate) fn datagram(
    cx: &mut Cx<'_>,
    app: &mut super::App,
    src: IpAddr,
    dport: u16,
    payload: &[u8],
) {
    let Ok(m) = fumidai_proto::dns::parse(payload) else {
        return;
    };
    let tx = app.dns_txs;
    app.dns_txs += 1;
    let querier = (dport == DNS_PORT).then_some(src);
    message(cx, &m, querier, tx, "dns_udp");
    if !m.header.opcode_assigned() {
        // Suricata's event, on the datagram that carried it.
        let dir = if src == cx.meta.client().addr {
            fumidai_proto::Direction::ToServer
        } else {
            fumidai_proto::Direction::ToClient
        };
        cx.anomaly_dir("dns", "invalid_opcode", Some(tx), dir);
    }
}

/// DNS over TCP.
#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<DnsTcpParser>,
    events: Vec<DnsEvent>,
    txs: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            driver: StreamDriver::new(DnsTcpParser::default(), MAX_PENDING),
            events: Vec::new(),
            txs: 0,
        }
    }
}

impl Session {
    pub fn memuse(&self) -> usize {
        self.driver.memuse() + self.driver.parser().memuse() + super::vec_bytes(&self.events)
    }
}

impl Decoder for Session {
    type Parser = DnsTcpParser;

    fn parts(&mut self) -> (&mut StreamDriver<DnsTcpParser>, &mut Vec<DnsEvent>) {
        (&mut self.driver, &mut self.events)
    }

    fn handle(&mut self, events: &[DnsEvent], cx: &mut Cx<'_>, base: &mut Base<'_>) -> Outcome {
        for e in events {
            match e {
                DnsEvent::Message { dir, msg } => {
                    let tx = base.tx_base + self.txs;
                    self.txs += 1;
                    let querier = (*dir == Direction::ToServer).then(|| cx.meta.client().addr);
                    message(cx, msg, querier, tx, "dns_tcp");
                }
                DnsEvent::Anomaly { kind, .. } => base.anomaly(cx, "dns", kind.name(), None),
            }
        }
        Outcome::Continue
    }
}
