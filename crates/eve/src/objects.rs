//! The event-type objects fumidai shares with Suricata: `flow`, `tcp`,
//! `anomaly`, `alert`. Field names and types are Suricata's.

use serde::{Deserialize, Serialize};

use crate::{EveTime, Label};

/// `flow`: a flow's totals when it ends.
#[derive(Clone, Debug, Serialize)]
pub struct FlowObj {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: EveTime,
    pub end: EveTime,
    pub age: u64,
    pub state: &'static str,
    pub reason: &'static str,
    pub alerted: bool,
}

/// `tcp`: flags seen and the session's state, on TCP flow records.
#[derive(Clone, Debug, Serialize)]
pub struct TcpObj {
    pub tcp_flags: Hex8,
    pub tcp_flags_ts: Hex8,
    pub tcp_flags_tc: Hex8,
    #[serde(skip_serializing_if = "is_false")]
    pub syn: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub fin: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub rst: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub psh: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ack: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub urg: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ecn: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub cwr: bool,
    pub state: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    pub ts_gap: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tc_gap: bool,
}

impl TcpObj {
    /// From the flags seen to-server and to-client, the state, and gaps.
    pub fn new(ts: u8, tc: u8, state: &'static str, ts_gap: bool, tc_gap: bool) -> Self {
        let all = ts | tc;
        let bit = |b: u8| all & b != 0;
        TcpObj {
            tcp_flags: Hex8(all),
            tcp_flags_ts: Hex8(ts),
            tcp_flags_tc: Hex8(tc),
            fin: bit(0x01),
            syn: bit(0x02),
            rst: bit(0x04),
            psh: bit(0x08),
            ack: bit(0x10),
            urg: bit(0x20),
            ecn: bit(0x40),
            cwr: bit(0x80),
            state,
            ts_gap,
            tc_gap,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A byte written as two lower-case hex digits, as Suricata writes TCP flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex8(pub u8);

impl Serialize for Hex8 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02x}", self.0))
    }
}

/// `anomaly`: a decoder, stream or app-layer anomaly.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyObj {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'static str>,
    /// `decode`, `stream` or `applayer`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub event: String,
    /// For app-layer anomalies: `proto_parser` or `proto_detect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<&'static str>,
}

/// `alert`: which signature fired.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlertObj {
    pub action: Label,
    pub gid: u32,
    pub signature_id: u32,
    pub rev: u32,
    pub signature: Label,
    pub category: Label,
    pub severity: u8,
}
