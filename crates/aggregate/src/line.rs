//! One EVE line as the aggregator reads it: the header, and of the objects
//! only the fields the fleet detectors use. Everything else in the line is
//! skipped by the parser without being kept.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use fumidai_eve::EveTime;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(default)]
    pub timestamp: Option<EveTime>,
    #[serde(borrow)]
    pub event_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub host: Option<Cow<'a, str>>,
    #[serde(default)]
    pub sensor: Option<SensorTags>,
    #[serde(default)]
    pub src_ip: Option<IpAddr>,
    #[serde(default)]
    pub src_port: Option<u16>,
    #[serde(default)]
    pub dest_ip: Option<IpAddr>,
    #[serde(default)]
    pub dest_port: Option<u16>,
    #[serde(default, borrow)]
    pub proto: Option<Cow<'a, str>>,
    #[serde(default)]
    pub alert: Option<Alert>,
    #[serde(default)]
    pub flow: Option<Flow>,
    #[serde(default)]
    pub amplification: Option<Amplification>,
    #[serde(default, borrow)]
    pub http: Option<Http<'a>>,
    #[serde(default, borrow)]
    pub socks: Option<Socks<'a>>,
    #[serde(default, borrow)]
    pub smtp: Option<Smtp<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SensorTags {
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Alert {
    pub signature_id: u32,
}

#[derive(Debug, Deserialize)]
pub struct Flow {
    #[serde(default)]
    pub pkts_toserver: u64,
    #[serde(default)]
    pub pkts_toclient: u64,
    #[serde(default)]
    pub bytes_toserver: u64,
    #[serde(default)]
    pub bytes_toclient: u64,
    #[serde(default)]
    pub start: Option<EveTime>,
    #[serde(default)]
    pub end: Option<EveTime>,
}

#[derive(Debug, Deserialize)]
pub struct Amplification {
    #[serde(default)]
    pub victim: Option<IpAddr>,
    #[serde(default)]
    pub reflector: Option<IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize)]
pub struct Http<'a> {
    #[serde(default, borrow)]
    pub hostname: Option<Cow<'a, str>>,
    #[serde(default)]
    pub http_port: Option<u16>,
    #[serde(default, borrow)]
    pub url: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub http_method: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Socks<'a> {
    #[serde(default, borrow)]
    pub request: Option<SocksRequest<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct SocksRequest<'a> {
    #[serde(default)]
    pub host: Option<IpAddr>,
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize)]
pub struct Smtp<'a> {
    #[serde(default, borrow)]
    pub rcpt_to: Vec<Cow<'a, str>>,
}

/// The longest text kept from a line (a target, a tag).
pub const TEXT: usize = 128;

fn clip(s: &str) -> String {
    if s.len() <= TEXT {
        return s.to_owned();
    }
    let mut end = TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl<'a> Line<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Line<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Event time in microseconds since 1970.
    pub fn micros(&self) -> Option<u64> {
        self.timestamp.map(EveTime::micros)
    }

    /// What the alert was about, in a few words: the CONNECT target or
    /// requested host, the SOCKS destination, the recipient's domain.
    pub fn target(&self) -> Option<String> {
        if let Some(h) = &self.http {
            if h.http_method.as_deref() == Some("CONNECT")
                && let Some(u) = &h.url
            {
                return Some(clip(u));
            }
            if let Some(n) = &h.hostname {
                return Some(clip(&match h.http_port {
                    Some(p) => format!("{n}:{p}"),
                    None => n.to_string(),
                }));
            }
        }
        if let Some(r) = self.socks.as_ref().and_then(|s| s.request.as_ref()) {
            let who = match (&r.name, r.host) {
                (Some(n), _) => n.to_string(),
                (None, Some(h)) => h.to_string(),
                (None, None) => return None,
            };
            return Some(clip(&match r.port {
                Some(p) => format!("{who}:{p}"),
                None => who,
            }));
        }
        if let Some(s) = &self.smtp {
            let to = s.rcpt_to.first()?;
            let domain = to
                .trim_matches(['<', '>'])
                .rsplit_once('@')
                .map_or(to.as_ref(), |(_, d)| d);
            return Some(clip(&format!("rcpt {domain}")));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_needs_and_skips_the_rest() {
        let l = br#"{"timestamp":"2026-11-29T11:52:36.120000+0000","flow_id":1,"event_type":"alert","src_ip":"10.77.1.10","src_port":53172,"dest_ip":"10.77.0.2","dest_port":8080,"proto":"TCP","host":"link-a","sensor":{"tags":{"site":"fra1"}},"alert":{"action":"allowed","gid":1,"signature_id":9700003,"rev":1,"signature":"x","category":"y","severity":1},"http":{"hostname":"10.77.0.2","http_port":25,"url":"10.77.0.2:25","http_method":"CONNECT","status":200,"proxy":{"target_form":"authority","tunnel":true}}}"#;
        let line = Line::parse(l).unwrap();
        assert_eq!(line.host.as_deref(), Some("link-a"));
        assert_eq!(line.alert.as_ref().unwrap().signature_id, 9700003);
        assert_eq!(line.sensor.unwrap().tags["site"], "fra1");
        let line = Line::parse(l).unwrap();
        assert_eq!(line.target().as_deref(), Some("10.77.0.2:25"));
        let smtp = br#"{"event_type":"alert","smtp":{"rcpt_to":["<a@Example.net>"]}}"#;
        assert_eq!(
            Line::parse(smtp).unwrap().target().as_deref(),
            Some("rcpt Example.net")
        );
    }
}
