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

impl ProtoName {
    /// Suricata's name for the protocol; `None`: it writes the number.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            6 => "TCP",
            17 => "UDP",
            1 => "ICMP",
            58 => "IPv6-ICMP",
            4 => "IP-in-IP",
            41 => "IPv6",
            47 => "GRE",
            50 => "ESP",
            132 => "SCTP",
            _ => return None,
        })
    }
}

impl Serialize for ProtoName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.collect_str(&self.0),
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

use crate::json::{key, number, quoted, string};

impl Header<'_> {
    /// Writes the header as the start of a JSON object, `{"timestamp":…`,
    /// without the closing brace: byte for byte what serde writes for it,
    /// without serde's generic path (see [`crate::json`]).
    pub fn write_open(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        crate::json::first_key(out, "timestamp");
        crate::json::time(out, self.timestamp);
        if let Some(id) = self.flow_id {
            key(out, "flow_id");
            number(out, id);
        }
        if let Some(f) = self.pcap_filename {
            key(out, "pcap_filename");
            string(out, f)?;
        }
        key(out, "event_type");
        quoted(out, self.event_type.as_str());
        if !self.vlan.is_empty() {
            key(out, "vlan");
            serde_json::to_writer(&mut *out, &self.vlan)?;
        }
        if let Some(a) = self.src_ip {
            key(out, "src_ip");
            quoted(out, fumidai_wire::ipfmt::Text::of(a).as_bytes());
        }
        if let Some(p) = self.src_port {
            key(out, "src_port");
            number(out, p);
        }
        if let Some(a) = self.dest_ip {
            key(out, "dest_ip");
            quoted(out, fumidai_wire::ipfmt::Text::of(a).as_bytes());
        }
        if let Some(p) = self.dest_port {
            key(out, "dest_port");
            number(out, p);
        }
        if let Some(v) = self.ip_v {
            key(out, "ip_v");
            number(out, v);
        }
        if let Some(p) = self.proto {
            key(out, "proto");
            match p.name() {
                Some(n) => quoted(out, n),
                None => {
                    out.push(b'"');
                    number(out, p.0);
                    out.push(b'"');
                }
            }
        }
        if let Some(t) = self.icmp_type {
            key(out, "icmp_type");
            number(out, t);
        }
        if let Some(c) = self.icmp_code {
            key(out, "icmp_code");
            number(out, c);
        }
        if let Some(s) = self.pkt_src {
            key(out, "pkt_src");
            string(out, s)?;
        }
        if let Some(t) = self.tunnel {
            key(out, "tunnel");
            serde_json::to_writer(&mut *out, t)?;
        }
        if let Some(t) = self.tx_id {
            key(out, "tx_id");
            number(out, t);
        }
        if let Some(c) = &self.community_id {
            key(out, "community_id");
            quoted(out, c.as_bytes());
        }
        if let Some(a) = self.app_proto {
            key(out, "app_proto");
            string(out, a)?;
        }
        if let Some(h) = self.host {
            key(out, "host");
            string(out, h)?;
        }
        if let Some(s) = self.sensor {
            key(out, "sensor");
            serde_json::to_writer(&mut *out, s)?;
        }
        if let Some(c) = self.tunnel_chain {
            key(out, "tunnel_chain");
            serde_json::to_writer(&mut *out, c)?;
        }
        Ok(())
    }
}

/// A whole EVE line: the header followed by the event's own object(s).
/// `Serialize` (with both flattened into one object) is the reference
/// form; [`EveBatch::push`] writes the same bytes faster.
#[derive(Serialize)]
pub struct Record<'a, B: Serialize> {
    #[serde(flatten)]
    pub header: Header<'a>,
    #[serde(flatten)]
    pub body: B,
}

impl<B: Serialize> Record<'_, B> {
    /// Writes the record as one JSON object (no newline): the header's
    /// fields, then the body's, as `Serialize` would with both flattened.
    pub fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.header.write_open(out)?;
        body_fields(&self.body, out)?;
        out.push(b'}');
        Ok(())
    }
}

/// Writes `body`'s fields as `,"k":v` pairs continuing an open object. The
/// body must serialise as an object (a struct or a map), as flattening
/// requires too.
fn body_fields<B: Serialize>(body: &B, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let at = out.len();
    if crate::fastser::write(out, body).is_err() {
        // A shape the fast serialiser does not write: serde_json does.
        out.truncate(at);
        serde_json::to_writer(&mut *out, body)?;
    }
    // Debug builds (the whole test suite) check every body against the
    // reference.
    #[cfg(debug_assertions)]
    {
        let reference = serde_json::to_vec(body)?;
        assert_eq!(
            String::from_utf8_lossy(&out[at..]),
            String::from_utf8_lossy(&reference),
            "the fast serialiser and serde_json disagree"
        );
    }
    match out.get(at..) {
        // Nothing to add.
        Some(b"{}") => {
            out.truncate(at);
            Ok(())
        }
        // `{"k":…}` continues the open object as `,"k":…`.
        Some([b'{', .., b'}']) => {
            out[at] = b',';
            out.pop();
            Ok(())
        }
        _ => Err(serde::ser::Error::custom(
            "can only flatten structs and maps",
        )),
    }
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
        self.push_fields(&record.header, |out| body_fields(&record.body, out));
    }

    /// Writes a line whose event fields `fields` writes itself, after the
    /// header's, each as `,"key":value` ([`crate::json`]): for the records
    /// written most, with no generic serialisation at all.
    pub fn push_fields(
        &mut self,
        header: &Header<'_>,
        fields: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) {
        let start = self.bytes.len();
        let written = header
            .write_open(&mut self.bytes)
            .and_then(|()| fields(&mut self.bytes));
        self.end_line(start, header.event_type, written);
    }

    fn end_line(&mut self, start: usize, event_type: EventType, written: serde_json::Result<()>) {
        match written {
            Ok(()) => {
                self.bytes.extend_from_slice(b"}\n");
                self.lines.push((event_type, self.bytes.len() as u32));
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

/// `Record::write` against the reference, serde with both parts flattened.
#[cfg(test)]
mod write_equals_serde {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use fumidai_wire::Timestamp;
    use fumidai_wire::key::Endpoint;
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Empty {}

    #[derive(Serialize)]
    struct Body {
        flow: BTreeMap<String, u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u16; 8]>().prop_map(IpAddr::from),
        ]
    }

    /// Text with what JSON must escape: quotes, backslashes, controls.
    fn text() -> impl Strategy<Value = String> {
        "[a-z\"\\\\/\\x00-\\x1f\\x7f é漢]{0,12}"
    }

    #[allow(clippy::type_complexity)]
    fn parts() -> impl Strategy<
        Value = (
            (
                u64,
                Option<u64>,
                Option<String>,
                usize,
                u8,
                Option<(IpAddr, u16)>,
            ),
            (
                Option<(IpAddr, u16)>,
                Option<u8>,
                Option<u8>,
                Option<(u8, u8)>,
                Option<u64>,
            ),
            (
                Option<String>,
                Option<String>,
                bool,
                Option<Vec<(String, u64)>>,
                bool,
                bool,
            ),
        ),
    > {
        (
            (
                0u64..4_000_000_000_000_000,
                proptest::option::of(any::<u64>()),
                proptest::option::of(text()),
                0usize..EventType::ALL.len(),
                0u8..3,
                proptest::option::of((ip(), any::<u16>())),
            ),
            (
                proptest::option::of((ip(), any::<u16>())),
                proptest::option::of(any::<u8>()),
                proptest::option::of(any::<u8>()),
                proptest::option::of((any::<u8>(), any::<u8>())),
                proptest::option::of(any::<u64>()),
            ),
            (
                proptest::option::of(text()),
                proptest::option::of(text()),
                any::<bool>(),
                proptest::option::of(proptest::collection::vec((text(), any::<u64>()), 0..3)),
                any::<bool>(),
                any::<bool>(),
            ),
        )
    }

    fn same<B: Serialize>(r: &Record<'_, B>) -> Result<(), TestCaseError> {
        let mut fast = Vec::new();
        r.write(&mut fast)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reference = serde_json::to_vec(r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference)
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn any_header_with_any_body(p in parts(), body in proptest::collection::btree_map(text(), any::<u64>(), 0..3), note in proptest::option::of(text())) {
            let ((ts, flow_id, file, et, nvlan, src), (dst, ip_v, proto, icmp, tx), (app, host, pkt_src, chain, tunnel, tags)) = p;
            let mut h = Header::new(EveTime(Timestamp(ts)), EventType::ALL[et]);
            h.flow_id = flow_id;
            h.pcap_filename = file.as_deref();
            h.vlan = Vlan([100, 4095], nvlan);
            h.src_ip = src.map(|s| s.0);
            h.src_port = src.map(|s| s.1);
            h.dest_ip = dst.map(|d| d.0);
            h.dest_port = dst.map(|d| d.1);
            h.ip_v = ip_v;
            h.proto = proto.map(proto_name);
            h.icmp_type = icmp.map(|i| i.0);
            h.icmp_code = icmp.map(|i| i.1);
            h.pkt_src = pkt_src.then_some("wire/pcap");
            let t = TunnelObj {
                src_ip: "192.0.2.1".parse().unwrap(),
                src_port: Some(51000),
                dest_ip: "2001:db8::2".parse().unwrap(),
                dest_port: None,
                proto: proto_name(17),
                depth: 1,
                pkt_src: "wire/pcap",
            };
            h.tunnel = tunnel.then_some(&t);
            h.tx_id = tx;
            if let (Some(s), Some(d)) = (src, dst) {
                h.community_id = Some(fumidai_wire::community_id::community_id(
                    0,
                    Endpoint { addr: s.0, port: s.1 },
                    Endpoint { addr: d.0, port: d.1 },
                    6,
                ));
            }
            h.app_proto = app.as_deref();
            h.host = host.as_deref();
            let sensor = crate::identity::SensorObj {
                tags: [("site".to_owned(), "a\"b".to_owned())].into_iter().collect(),
            };
            h.sensor = tags.then_some(&sensor);
            let links: Option<Vec<ChainLink>> = chain.map(|c| {
                c.into_iter()
                    .map(|(target, tx_id)| ChainLink { proto: "socks5".into(), target, tx_id })
                    .collect()
            });
            h.tunnel_chain = links.as_deref();
            same(&Record { header: h.clone(), body: Empty {} })?;
            same(&Record { header: h, body: Body { flow: body.into_iter().collect(), note } })?;
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_serde_refuses_it() {
        let h = Header::new(EveTime(Timestamp(0)), EventType::Flow);
        let r = Record {
            header: h,
            body: 7u32,
        };
        assert!(serde_json::to_vec(&r).is_err());
        assert!(r.write(&mut Vec::new()).is_err());
    }
}
