//! What application-layer handlers write through: the flow's identity, the
//! packet time, the detectors, and the worker's EVE output and counters.

use std::net::IpAddr;

use fumidai_detect::{AlertInfo, Detector};
use fumidai_eve::objects::{AlertObj, AnomalyObj};
use fumidai_eve::{EveBatch, EventType, Record};
use fumidai_wire::Timestamp;
use serde::Serialize;

use crate::EngineConfig;
use crate::meta::Meta;

/// Counters the application layer keeps (merged into `stats`).
#[derive(Clone, Debug, Default)]
pub struct AppCounters {
    pub alerts: u64,
    pub anomalies: u64,
    /// Flows per detected protocol and transactions logged per protocol.
    pub flows: Vec<(&'static str, u64)>,
    pub txs: Vec<(&'static str, u64)>,
    /// Application-layer anomalies counted but not logged (per-flow cap).
    pub anomalies_suppressed: u64,
    /// Flows whose parsing stopped because the app-layer memcap was reached.
    pub memcap_stops: u64,
}

fn bump(list: &mut Vec<(&'static str, u64)>, name: &'static str) {
    match list.iter_mut().find(|(n, _)| *n == name) {
        Some((_, c)) => *c += 1,
        None => list.push((name, 1)),
    }
}

impl AppCounters {
    pub fn flow(&mut self, proto: &'static str) {
        bump(&mut self.flows, proto);
    }

    pub fn tx(&mut self, proto: &'static str) {
        bump(&mut self.txs, proto);
    }
}

/// A flow's context for one call into the application layer.
pub struct Cx<'a> {
    pub meta: &'a mut Meta,
    pub ts: Timestamp,
    pub out: &'a mut EveBatch,
    pub det: &'a Detector,
    pub cfg: &'a EngineConfig,
    pub stats: &'a mut AppCounters,
    /// Records are written as the flow ends (timeout, eviction, end of
    /// input), not on a packet: Suricata's `pkt_src` "stream (flow timeout)".
    pub flow_end: bool,
}

#[derive(Serialize)]
struct AlertBody<'b, B: Serialize> {
    alert: AlertObj,
    #[serde(flatten)]
    evidence: &'b B,
}

#[derive(Serialize)]
struct AnomalyBody {
    anomaly: AnomalyObj,
}

impl Cx<'_> {
    pub fn logs(&self, t: EventType) -> bool {
        self.cfg.log[t.index()]
    }

    /// Writes an application-layer event (`http`, `smtp`, `socks`, `ntp`)
    /// whose objects are `body`'s fields.
    pub fn event<B: Serialize>(&mut self, t: EventType, tx_id: Option<u64>, body: &B) {
        if !self.logs(t) {
            return;
        }
        let mut header = self.meta.header(self.ts, t);
        header.tx_id = tx_id;
        // As Suricata's: every record names its source (the flow-timeout
        // pseudo-packet's at the flow's end).
        header.pkt_src = Some(self.pkt_src());
        self.out.push(&Record { header, body });
    }

    /// Suricata's `pkt_src` of a record written now: the packet's source,
    /// or the flow-timeout pseudo-packet's when the flow is ending.
    pub fn pkt_src(&self) -> &'static str {
        if self.flow_end && self.meta.tunnel.is_none() {
            "stream (flow timeout)"
        } else {
            self.meta.pkt_src()
        }
    }

    /// As [`event`](Self::event), for something that happened at `ts`
    /// (a request held until its answer came).
    pub fn event_at<B: Serialize>(
        &mut self,
        ts: Timestamp,
        t: EventType,
        tx_id: Option<u64>,
        body: &B,
    ) {
        if !self.logs(t) {
            return;
        }
        let mut header = self.meta.header(ts, t);
        header.tx_id = tx_id;
        // As Suricata's: every record names its source (the flow-timeout
        // pseudo-packet's at the flow's end).
        header.pkt_src = Some(self.pkt_src());
        self.out.push(&Record { header, body });
    }

    /// Raises `sid` with `evidence` (the transaction's objects), unless the
    /// signature is switched off or held back by its threshold or ceiling,
    /// which track the flow's client and server. Returns whether it fired.
    pub fn alert<B: Serialize>(&mut self, sid: u32, tx_id: Option<u64>, evidence: &B) -> bool {
        let (src, dst) = (self.meta.client().addr, self.meta.server().addr);
        self.alert_tracking(sid, tx_id, evidence, src, dst)
    }

    /// As [`alert`](Self::alert), with thresholds tracking the addresses of
    /// the packet that raised it (`src`, `dst`), as Suricata's do.
    pub fn alert_tracking<B: Serialize>(
        &mut self,
        sid: u32,
        tx_id: Option<u64>,
        evidence: &B,
        src: IpAddr,
        dst: IpAddr,
    ) -> bool {
        let Some(a) = self.det.alert(sid) else {
            return false;
        };
        if !self.det.admit(&a, Some(src), Some(dst), self.ts) {
            return false;
        }
        self.stats.alerts += 1;
        self.meta.alerted = true;
        // An alert that confirms an open proxy or relay makes its server a
        // stepping stone, for IRC sessions it opens (9700051).
        self.det
            .note_stepping_stone(sid, self.meta.server().addr, self.ts);
        if !self.logs(EventType::Alert) {
            return true;
        }
        let mut header = self.meta.header(self.ts, EventType::Alert);
        header.tx_id = tx_id;
        header.pkt_src = Some(self.pkt_src());
        self.out.push(&Record {
            header,
            body: AlertBody {
                alert: alert_obj(&a),
                evidence,
            },
        });
        true
    }

    /// As [`anomaly`](Self::anomaly), for an event of a packet travelling
    /// in `dir`: its record names that packet's sender as `src_ip`, as
    /// Suricata's do (for a datagram, logged as it arrives).
    pub fn anomaly_dir(
        &mut self,
        app_proto: &'static str,
        event: &str,
        tx_id: Option<u64>,
        dir: fumidai_proto::Direction,
    ) {
        self.applayer_anomaly(
            app_proto,
            event,
            tx_id,
            dir == fumidai_proto::Direction::ToClient,
        );
    }

    /// Logs an application-layer anomaly (`anomaly.type` `applayer`).
    pub fn anomaly(&mut self, app_proto: &'static str, event: &str, tx_id: Option<u64>) {
        self.applayer_anomaly(app_proto, event, tx_id, false);
    }

    /// `reverse`: written server to client.
    fn applayer_anomaly(
        &mut self,
        app_proto: &'static str,
        event: &str,
        tx_id: Option<u64>,
        reverse: bool,
    ) {
        self.stats.anomalies += 1;
        if !(self.cfg.anomaly.applayer && self.logs(EventType::Anomaly)) {
            return;
        }
        let mut header = self.meta.header(self.ts, EventType::Anomaly);
        header.tx_id = tx_id;
        // As Suricata's: every record names its source (the flow-timeout
        // pseudo-packet's at the flow's end).
        header.pkt_src = Some(self.pkt_src());
        if reverse {
            std::mem::swap(&mut header.src_ip, &mut header.dest_ip);
            std::mem::swap(&mut header.src_port, &mut header.dest_port);
        }
        self.out.push(&Record {
            header,
            body: AnomalyBody {
                anomaly: AnomalyObj {
                    app_proto: Some(app_proto),
                    kind: "applayer",
                    event: crate::anomaly_name::applayer(app_proto, event),
                    layer: Some("proto_parser"),
                },
            },
        });
    }
}

/// The EVE `alert` object of a signature.
pub fn alert_obj(a: &AlertInfo) -> AlertObj {
    AlertObj {
        action: "allowed".into(),
        gid: 1,
        signature_id: a.sid,
        rev: a.rev,
        signature: a.msg.into(),
        category: a.category.into(),
        severity: a.severity,
    }
}
