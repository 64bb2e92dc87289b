//! The EVE record: Suricata's common header fields followed by one
//! event-type object, serialised as one JSON line.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use crate::EveTime;
use crate::identity::SensorObj;

/// EVE event types fumidai writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Alert,
    Anomaly,
    Dns,
    Flow,
    Http,
    Irc,
    Ntp,
    Smtp,
    Socks,
    Stats,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::Alert,
        EventType::Anomaly,
        EventType::Dns,
        EventType::Flow,
        EventType::Http,
        EventType::Irc,
        EventType::Ntp,
        EventType::Smtp,
        EventType::Socks,
        EventType::Stats,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Alert => "alert",
            EventType::Anomaly => "anomaly",
            EventType::Dns => "dns",
            EventType::Flow => "flow",
            EventType::Http => "http",
            EventType::Irc => "irc",
            EventType::Ntp => "ntp",
            EventType::Smtp => "smtp",
            EventType::Socks => "socks",
            EventType::Stats => "stats",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Suricata's name for an IP protocol number in `proto`.
pub fn proto_name(proto: u8) -> ProtoName {
    ProtoName(proto)
}

/// An IP protocol as EVE writes it (`TCP`, `UDP`, `ICMP`, `IPv6-ICMP`, or the number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoName(pub u8);

impl Serialize for ProtoName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            6 => s.serialize_str("TCP"),
            17 => s.serialize_str("UDP"),
            1 => s.serialize_str("ICMP"),
            58 => s.serialize_str("IPv6-ICMP"),
            4 => s.serialize_str("IP-in-IP"),
            41 => s.serialize_str("IPv6"),
            47 => s.serialize_str("GRE"),
            50 => s.serialize_str("ESP"),
            132 => s.serialize_str("SCTP"),
            n => s.collect_str(&n),
        }
    }
}

/// VLAN ids, outermost first; serialised as an array of the ids present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vlan(pub [u16; 2], pub u8);

impl Vlan {
    pub fn is_empty(&self) -> bool {
        self.1 == 0
    }
}

impl Serialize for Vlan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = usize::from(self.1).min(2);
        s.collect_seq(&self.0[..n])
    }
}

/// Suricata's `tunnel` object: the outermost packet (as captured) that a
/// tunnelled packet was found in, and how deep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelObj {
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    pub src_ip: IpAddr,
    /// Ports when the outer packet is UDP (VXLAN, Geneve, Teredo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    pub dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    pub proto: ProtoName,
    /// Outer IP headers around the packet.
    pub depth: u8,
    /// Where the outer packet came from (always the capture).
    pub pkt_src: &'static str,
}

/// One proxy hop of a flow's `tunnel_chain` (overlay): a CONNECT answered
/// 2xx or a granted SOCKS request, after which the connection carries
/// whatever the client sends through it. Not to be confused with `tunnel`,
/// the packet encapsulation a flow arrived in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChainLink {
    /// The protocol of the hop: `http` (CONNECT), `socks4`, `socks5`.
    pub proto: crate::Label,
    /// Where the hop leads, `host:port` (IPv6 in brackets).
    pub target: String,
    /// The hop's transaction in its own protocol's numbering.
    pub tx_id: u64,
}

/// The fields every EVE record starts with. `None` fields are omitted.
#[derive(Clone, Debug, Serialize)]
pub struct Header<'a> {
    pub timestamp: EveTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_filename: Option<&'a str>,
    pub event_type: EventType,
    #[serde(skip_serializing_if = "Vlan::is_empty")]
    pub vlan: Vlan,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "fumidai_wire::ipfmt::ser_opt"
    )]
    pub src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "fumidai_wire::ipfmt::ser_opt"
    )]
    pub dest_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<ProtoName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_src: Option<&'static str>,
    /// The outer packet a tunnelled flow arrived in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'a TunnelObj>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<fumidai_wire::community_id::CommunityId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'a str>,
    /// The sensor's name (Suricata's `host`, its `sensor-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<&'a str>,
    /// The sensor's tags (overlay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<&'a SensorObj>,
    /// The proxy hops (HTTP CONNECT, SOCKS) the transaction went through,
    /// outermost first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_chain: Option<&'a [ChainLink]>,
}

impl<'a> Header<'a> {
    /// A header with only the time and type set, and this process's
    /// identity (see [`crate::identity`]).
    pub fn new(timestamp: EveTime, event_type: EventType) -> Self {
        let id = crate::identity::get();
        Header {
            timestamp,
            flow_id: None,
            pcap_filename: None,
            event_type,
            vlan: Vlan::default(),
            src_ip: None,
            src_port: None,
            dest_ip: None,
            dest_port: None,
            ip_v: None,
            proto: None,
            icmp_type: None,
            icmp_code: None,
            pkt_src: None,
            tunnel: None,
            tx_id: None,
            community_id: None,
            app_proto: None,
            host: id.map(|i| i.name.as_str()),
            sensor: id.map(|i| &i.sensor).filter(|s| !s.is_empty()),
            tunnel_chain: None,
        }
    }
}

/// A whole EVE line: the header followed by the event's own object(s).
#[derive(Serialize)]
pub struct Record<'a, B: Serialize> {
    #[serde(flatten)]
    pub header: Header<'a>,
    #[serde(flatten)]
    pub body: B,
}

/// EVE lines written by one thread, with each line's event type, so that
/// outputs can filter by type without parsing JSON.
#[derive(Debug, Default)]
pub struct EveBatch {
    pub bytes: Vec<u8>,
    /// For each line: its event type and the offset just past its newline.
    pub lines: Vec<(EventType, u32)>,
}

impl EveBatch {
    pub fn with_capacity(bytes: usize) -> Self {
        EveBatch {
            bytes: Vec::with_capacity(bytes),
            lines: Vec::new(),
        }
    }

    /// Serialises `record` as one line.
    pub fn push<B: Serialize>(&mut self, record: &Record<'_, B>) {
        let start = self.bytes.len();
        match serde_json::to_writer(&mut self.bytes, record) {
            Ok(()) => {
                self.bytes.push(b'\n');
                self.lines
                    .push((record.header.event_type, self.bytes.len() as u32));
            }
            Err(e) => {
                // Only a non-string map key or a failing Serialize impl can
                // get here; drop the partial line rather than corrupt the log.
                self.bytes.truncate(start);
                tracing::error!("EVE serialisation failed: {e}");
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }

    /// Empties the batch for reuse. A batch that grew past `keep` bytes
    /// (a burst, the flow records at the end) gives its memory back, so a
    /// pool of recycled batches stays small.
    pub fn recycle(&mut self, keep: usize) {
        self.clear();
        if self.bytes.capacity() > keep {
            self.bytes = Vec::with_capacity(keep);
        }
        if self.lines.capacity() > keep / 64 {
            self.lines = Vec::new();
        }
    }

    /// Each line with its type.
    pub fn iter(&self) -> impl Iterator<Item = (EventType, &[u8])> {
        let mut start = 0usize;
        self.lines.iter().map(move |&(t, end)| {
            let line = &self.bytes[start..end as usize];
            start = end as usize;
            (t, line)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fumidai_wire::Timestamp;

    #[derive(Serialize)]
    struct Body {
        flow: Inner,
    }
    #[derive(Serialize)]
    struct Inner {
        x: u32,
    }

    #[test]
    fn tunnel_object_as_suricata_writes_it() {
        let t = TunnelObj {
            src_ip: "192.0.2.1".parse().unwrap(),
            src_port: Some(51000),
            dest_ip: "192.0.2.2".parse().unwrap(),
            dest_port: Some(4789),
            proto: proto_name(17),
            depth: 1,
            pkt_src: "wire/pcap",
        };
        let mut h = Header::new(EveTime(Timestamp::from_secs(0)), EventType::Alert);
        h.pkt_src = Some("vxlan encapsulation");
        h.tunnel = Some(&t);
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(
            v["tunnel"].to_string(),
            r#"{"depth":1,"dest_ip":"192.0.2.2","dest_port":4789,"pkt_src":"wire/pcap","proto":"UDP","src_ip":"192.0.2.1","src_port":51000}"#
        );
        assert_eq!(
            serde_json::to_string(&proto_name(4)).unwrap(),
            r#""IP-in-IP""#
        );
        assert_eq!(serde_json::to_string(&proto_name(41)).unwrap(), r#""IPv6""#);
    }

    #[test]
    fn header_then_body_on_one_line() {
        let mut h = Header::new(EveTime(Timestamp::from_secs(0)), EventType::Flow);
        h.src_ip = Some("10.0.0.1".parse().unwrap());
        h.proto = Some(proto_name(58));
        h.vlan = Vlan([10, 0], 1);
        let mut b = EveBatch::default();
        b.push(&Record {
            header: h,
            body: Body {
                flow: Inner { x: 1 },
            },
        });
        let line = std::str::from_utf8(&b.bytes).unwrap();
        assert_eq!(
            line,
            "{\"timestamp\":\"1970-01-01T00:00:00.000000+0000\",\"event_type\":\"flow\",\"vlan\":[10],\
             \"src_ip\":\"10.0.0.1\",\"proto\":\"IPv6-ICMP\",\"flow\":{\"x\":1}}\n"
        );
        let lines: Vec<_> = b.iter().collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, EventType::Flow);
    }
}
