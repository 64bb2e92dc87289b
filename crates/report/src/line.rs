//! One EVE line as the report reads it: the common header typed, each
//! event object kept as raw JSON and typed only when the report needs it (a
//! `flow` or `ntp` record, most of a log, costs one scan and no allocation).

use std::borrow::Cow;
use std::net::IpAddr;

use fumidai_eve::EveTime;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The header fields and the raw objects of one line.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(default)]
    pub timestamp: Option<EveTime>,
    #[serde(borrow)]
    pub event_type: Cow<'a, str>,
    #[serde(default)]
    pub flow_id: Option<u64>,
    #[serde(default)]
    pub src_ip: Option<IpAddr>,
    #[serde(default)]
    pub src_port: Option<u16>,
    #[serde(default)]
    pub dest_ip: Option<IpAddr>,
    #[serde(default)]
    pub dest_port: Option<u16>,
    #[serde(default)]
    pub tx_id: Option<u64>,
    #[serde(default, borrow)]
    pub alert: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub http: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub smtp: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub email: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub socks: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub ntp: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub amplification: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub fumidai: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub tunnel_chain: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub stats: Option<&'a RawValue>,
}

impl<'a> Line<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Line<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Packet time in microseconds since 1970, when the line has one.
    pub fn micros(&self) -> Option<u64> {
        self.timestamp.map(EveTime::micros)
    }
}

/// Types an object of the line; `None` when absent. An object of the wrong
/// shape is an error naming the key inside it that did not fit.
pub fn object<'de, T: Deserialize<'de>>(
    raw: Option<&'de RawValue>,
    name: &str,
) -> Result<Option<T>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de)
        .map(Some)
        .map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                format!("`{name}`: {}", e.inner())
            } else {
                format!("`{name}.{path}`: {}", e.inner())
            }
        })
}

/// The `amplification` object (overlay schema, docs/eve.md). The sensor
/// writes it from the detector's own type, which lives on the packet path;
/// the report reads the documented fields here.
#[derive(Clone, Debug, Deserialize)]
pub struct Amplification {
    pub service: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub reflector: IpAddr,
    pub victim: IpAddr,
    /// Response ÷ request bytes; absent when no request was seen.
    #[serde(default)]
    pub ratio: Option<f64>,
    #[serde(default)]
    pub request_bytes: u64,
    #[serde(default)]
    pub response_bytes: u64,
    #[serde(default)]
    pub request_pkts: u64,
    #[serde(default)]
    pub response_pkts: u64,
    #[serde(default)]
    pub window_s: u64,
    #[serde(default)]
    pub baf: Option<f64>,
    /// 9700033: reflectors seen hitting the victim.
    #[serde(default)]
    pub reflectors: Option<u64>,
}

/// The `amplification` object of a victim-level verdict (9700035): many
/// reflectors, the busiest named.
#[derive(Clone, Debug, Deserialize)]
pub struct Flood {
    pub service: String,
    pub victim: IpAddr,
    #[serde(default)]
    pub reflectors: u64,
    #[serde(default)]
    pub response_bytes: u64,
    #[serde(default)]
    pub window_s: u64,
    #[serde(default)]
    pub top_reflectors: Vec<TopReflector>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TopReflector {
    pub reflector: IpAddr,
    #[serde(default)]
    pub response_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fumidai_eve::objects::AlertObj;

    #[test]
    fn reads_a_fumidai_alert() {
        let l = br#"{"timestamp":"2026-11-29T11:52:47.814752+0000","flow_id":1742235925853668,"event_type":"alert","src_ip":"127.0.0.1","src_port":45673,"dest_ip":"127.0.0.1","dest_port":123,"proto":"UDP","pkt_src":"wire/pcap","community_id":"1:JCkg4gkj+AwFLZe/2pDnFimYIMY=","app_proto":"ntp","alert":{"action":"allowed","gid":1,"signature_id":9700032,"rev":1,"signature":"FUMIDAI UDP amplification: reflector answers far more than it is asked","category":"Attempted Denial of Service","severity":1},"ntp":{"version":2,"mode":7,"response":true,"implementation":3,"request_code":42,"request":"MON_GETLIST_1"},"amplification":{"service":"ntp","port":123,"reflector":"127.0.0.1","victim":"127.0.0.1","ratio":57.3,"request_bytes":192,"response_bytes":11000,"request_pkts":1,"response_pkts":25,"window_s":60,"baf":556.9}}"#;
        let line = Line::parse(l).unwrap();
        assert_eq!(line.event_type, "alert");
        assert_eq!(line.micros(), Some(1_795_953_167_814_752));
        let a: AlertObj = object(line.alert, "alert").unwrap().unwrap();
        assert_eq!(a.signature_id, 9700032);
        let amp: Amplification = object(line.amplification, "amplification")
            .unwrap()
            .unwrap();
        assert_eq!(amp.ratio, Some(57.3));
        assert_eq!(amp.response_bytes, 11000);
    }

    #[test]
    fn a_misshapen_object_names_its_key() {
        let l = br#"{"event_type":"alert","alert":{"signature_id":"x"}}"#;
        let line = Line::parse(l).unwrap();
        let e = object::<AlertObj>(line.alert, "alert").unwrap_err();
        assert!(e.contains("alert.signature_id"), "{e}");
    }
}
