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

impl FlowObj {
    /// Writes the object as `Serialize` does, without serde
    /// ([`crate::json`]): one is written for every flow.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json::{boolean, first_key, key, number, quoted, time};
        out.push(b'{');
        first_key(out, "pkts_toserver");
        number(out, self.pkts_toserver);
        key(out, "pkts_toclient");
        number(out, self.pkts_toclient);
        key(out, "bytes_toserver");
        number(out, self.bytes_toserver);
        key(out, "bytes_toclient");
        number(out, self.bytes_toclient);
        key(out, "start");
        time(out, self.start);
        key(out, "end");
        time(out, self.end);
        key(out, "age");
        number(out, self.age);
        key(out, "state");
        quoted(out, self.state);
        key(out, "reason");
        quoted(out, self.reason);
        key(out, "alerted");
        boolean(out, self.alerted);
        out.push(b'}');
    }
}

impl TcpObj {
    /// Writes the object as `Serialize` does, without serde.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json::{first_key, key, quoted};
        out.push(b'{');
        first_key(out, "tcp_flags");
        self.tcp_flags.write_json(out);
        key(out, "tcp_flags_ts");
        self.tcp_flags_ts.write_json(out);
        key(out, "tcp_flags_tc");
        self.tcp_flags_tc.write_json(out);
        for (set, name) in [
            (self.syn, "syn"),
            (self.fin, "fin"),
            (self.rst, "rst"),
            (self.psh, "psh"),
            (self.ack, "ack"),
            (self.urg, "urg"),
            (self.ecn, "ecn"),
            (self.cwr, "cwr"),
        ] {
            if set {
                key(out, name);
                out.extend_from_slice(b"true");
            }
        }
        key(out, "state");
        quoted(out, self.state);
        if self.ts_gap {
            key(out, "ts_gap");
            out.extend_from_slice(b"true");
        }
        if self.tc_gap {
            key(out, "tc_gap");
            out.extend_from_slice(b"true");
        }
        out.push(b'}');
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A byte written as two lower-case hex digits, as Suricata writes TCP flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex8(pub u8);

impl Hex8 {
    fn digits(self) -> [u8; 2] {
        fumidai_wire::ipfmt::hex_byte(self.0)
    }

    fn write_json(self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.digits());
        out.push(b'"');
    }
}

impl Serialize for Hex8 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.digits();
        s.serialize_str(std::str::from_utf8(&d).unwrap_or_default())
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

#[cfg(test)]
mod write_equals_serde {
    use fumidai_wire::Timestamp;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn flow_and_tcp_objects(n in any::<[u64; 5]>(), t in any::<[u64; 2]>(),
                                flags in any::<[u8; 2]>(), b in any::<[bool; 3]>(),
                                names in (0usize..3, 0usize..3)) {
            let states = ["new", "established", "close_wait"];
            let f = FlowObj {
                pkts_toserver: n[0],
                pkts_toclient: n[1],
                bytes_toserver: n[2],
                bytes_toclient: n[3],
                start: EveTime(Timestamp(t[0] % 300_000_000_000_000_000)),
                end: EveTime(Timestamp(t[1])),
                age: n[4],
                state: states[names.0],
                reason: states[names.1],
                alerted: b[0],
            };
            let mut fast = Vec::new();
            f.write_json(&mut fast);
            prop_assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&f).unwrap());
            let tcp = TcpObj::new(flags[0], flags[1], states[names.0], b[1], b[2]);
            let mut fast = Vec::new();
            tcp.write_json(&mut fast);
            prop_assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&tcp).unwrap());
        }
    }

    #[test]
    fn flags_are_two_lower_case_hex_digits() {
        assert_eq!(serde_json::to_string(&Hex8(0x1b)).unwrap(), r#""1b""#);
        assert_eq!(serde_json::to_string(&Hex8(0)).unwrap(), r#""00""#);
        assert_eq!(serde_json::to_string(&Hex8(0xff)).unwrap(), r#""ff""#);
    }
}
