//! `X.expect.yaml`: what replaying the capture `X.pcap` must (and must not)
//! produce. The format is documented in docs/expect.md.

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One expectation file, parsed.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A partial sensor.yaml for this capture, merged over the base.
    #[serde(default)]
    pub config: Option<serde_norway::Mapping>,
    /// The alerts: exactly these (every alert matched by an entry, every
    /// entry's count exact) unless `at_least`. Absent: alerts not checked.
    #[serde(default)]
    pub alerts: Option<Vec<AlertExpect>>,
    /// The entries of `alerts` are minimums and other alerts may fire.
    #[serde(default)]
    pub at_least: bool,
    /// Signature ids that must not fire.
    #[serde(default)]
    pub no_alerts: Vec<u64>,
    /// Events of any type, counted by field matches.
    #[serde(default)]
    pub events: Vec<EventExpect>,
}

impl Spec {
    /// True when the file checks nothing (a config alone, or empty).
    pub fn checks_nothing(&self) -> bool {
        self.alerts.is_none() && self.no_alerts.is_empty() && self.events.is_empty()
    }

    /// How many expectations the file states: each entry, and for an exact
    /// `alerts` list, that no other alert fires.
    pub fn expectations(&self) -> usize {
        let alerts = self
            .alerts
            .as_ref()
            .map_or(0, |a| a.len() + usize::from(!self.at_least));
        alerts + self.no_alerts.len() + self.events.len()
    }
}

fn one() -> u64 {
    1
}

/// Alerts of one signature, optionally narrowed by endpoint and fields.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertExpect {
    pub sid: u64,
    #[serde(default)]
    pub src_ip: Option<IpAddr>,
    #[serde(default)]
    pub src_port: Option<u16>,
    #[serde(default)]
    pub dest_ip: Option<IpAddr>,
    #[serde(default)]
    pub dest_port: Option<u16>,
    #[serde(default)]
    pub proto: Option<String>,
    #[serde(default)]
    pub app_proto: Option<String>,
    /// Further fields of the alert record, as in `events`.
    #[serde(rename = "match", default)]
    pub fields: Matcher,
    #[serde(default = "one")]
    pub count: u64,
}

impl AlertExpect {
    /// The entry's conditions as (path, value) pairs, the sid first.
    pub fn conditions(&self) -> Vec<(FieldPath, Value)> {
        let mut v = vec![(
            FieldPath::parse("alert.signature_id"),
            Value::from(self.sid),
        )];
        let ip = |p: &str, a: &Option<IpAddr>| {
            a.map(|a| (FieldPath::parse(p), Value::from(a.to_string())))
        };
        let port = |p: &str, n: &Option<u16>| n.map(|n| (FieldPath::parse(p), Value::from(n)));
        v.extend(ip("src_ip", &self.src_ip));
        v.extend(port("src_port", &self.src_port));
        v.extend(ip("dest_ip", &self.dest_ip));
        v.extend(port("dest_port", &self.dest_port));
        if let Some(p) = &self.proto {
            v.push((FieldPath::parse("proto"), Value::from(p.clone())));
        }
        if let Some(p) = &self.app_proto {
            v.push((FieldPath::parse("app_proto"), Value::from(p.clone())));
        }
        v.extend(self.fields.0.iter().cloned());
        v
    }

    /// Whether `event` is an alert this entry describes.
    pub fn matches(&self, event: &Value) -> bool {
        event.get("event_type").and_then(Value::as_str) == Some("alert")
            && self.conditions().iter().all(|(p, want)| {
                p.lookup(event).is_some_and(|got| {
                    // EVE writes TCP; a file saying tcp means the same.
                    if p.text == "proto" {
                        got.as_str()
                            .zip(want.as_str())
                            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    } else {
                        equal(got, want)
                    }
                })
            })
    }
}

/// Events matching every field of `match`, and how many there must be.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventExpect {
    #[serde(rename = "match")]
    pub fields: Matcher,
    #[serde(default = "one")]
    pub count: u64,
}

/// Field conditions, in the order written: every one must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matcher(pub Vec<(FieldPath, Value)>);

impl Matcher {
    pub fn matches(&self, event: &Value) -> bool {
        self.0
            .iter()
            .all(|(p, want)| p.lookup(event).is_some_and(|got| equal(got, want)))
    }

    /// The `event_type` this matcher names, if it names one.
    pub fn event_type(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(p, _)| p.text == "event_type")
            .and_then(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Matcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of dotted field paths to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matcher, A::Error> {
                let mut out: Vec<(FieldPath, Value)> = Vec::new();
                while let Some(key) = map.next_key::<FieldPath>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("`{}` given twice", key.text)));
                    }
                    let value: Value = map.next_value()?;
                    if key.text == "event_type" {
                        let known = value
                            .as_str()
                            .is_some_and(|t| fumidai_eve::EventType::from_name(t).is_some());
                        if !known {
                            let names: Vec<&str> = fumidai_eve::EventType::ALL
                                .iter()
                                .map(|t| t.as_str())
                                .collect();
                            return Err(de::Error::custom(format!(
                                "event_type {value}: fumidai writes none of that type, expected one of {}",
                                names.join(", ")
                            )));
                        }
                    }
                    out.push((key, value));
                }
                Ok(Matcher(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A dotted path into an EVE record, as Suricata-verify writes them:
/// `smtp.rcpt_to[0]`, `alert.signature_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    pub text: String,
    parts: Vec<(String, Vec<usize>)>,
}

impl FieldPath {
    /// Parses a path known to be valid (the built-in ones).
    fn parse(text: &str) -> FieldPath {
        text.parse().unwrap_or(FieldPath {
            text: text.to_owned(),
            parts: vec![(text.to_owned(), Vec::new())],
        })
    }

    /// The value at this path, if the record has one.
    pub fn lookup<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut v = v;
        for (name, indices) in &self.parts {
            v = v.get(name.as_str())?;
            for i in indices {
                v = v.get(*i)?;
            }
        }
        Some(v)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("field path `{text}`: {why}"));
        let mut parts = Vec::new();
        for part in text.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() {
                return bad("an empty name (two dots, or a leading or trailing dot)");
            }
            let mut indices = Vec::new();
            while !rest.is_empty() {
                let Some(inner) = rest.strip_prefix('[') else {
                    return bad("text after `]`");
                };
                let Some((index, after)) = inner.split_once(']') else {
                    return bad("`[` without `]`");
                };
                match index.parse::<usize>() {
                    Ok(i) => indices.push(i),
                    Err(_) => return bad("an index must be a number, as in rcpt_to[0]"),
                }
                rest = after;
            }
            parts.push((name.to_owned(), indices));
        }
        Ok(FieldPath {
            text: text.to_owned(),
            parts,
        })
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Whether an EVE value equals the expected one: numbers by value (25 is
/// 25.0), addresses by address (`2001:db8::1` is `2001:DB8:0::1`), arrays
/// and objects element by element, everything else exactly ("25" is not 25).
pub fn equal(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => match (a.as_u64(), b.as_u64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64(),
            },
        },
        (Value::String(a), Value::String(b)) => {
            a == b || matches!((a.parse::<IpAddr>(), b.parse::<IpAddr>()), (Ok(x), Ok(y)) if x == y)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| equal(x, y)))
        }
        _ => got == want,
    }
}

/// A problem with an expectation file, naming where it is.
#[derive(Debug)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// Parses expectation text; `file` names it in errors as
/// `file:line:column: key.path: message`.
pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
    fumidai_yamlconf::parse(text, file).map_err(|e| SpecError(e.to_string()))
}

/// The text of the `config:` value, laid out so that each of its lines and
/// columns is where it is in the expectation file: everything else blanked.
/// The sensor's own errors about it then point into the expectation file.
/// `None` when the value cannot be cut out that way (an alias, a flow
/// mapping spread over lines at column 0, ...); the caller checks the text
/// parses to the same mapping before relying on it.
pub fn config_text(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut found = false;
    for line in text.lines() {
        let top_level = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '#');
        if top_level {
            inside = false;
            let key_end = ["config:", "\"config\":", "'config':"]
                .iter()
                .find(|k| line.starts_with(*k))
                .map(|k| k.len());
            if let Some(n) = key_end {
                if found {
                    return None;
                }
                found = true;
                inside = true;
                out.push(format!("{}{}", " ".repeat(n), &line[n..]));
                continue;
            }
        }
        out.push(if inside {
            line.to_owned()
        } else {
            String::new()
        });
    }
    found.then(|| out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"config: {home_net: [192.0.2.0/24]}
alerts:
  - {sid: 9700002, src_ip: 198.51.100.7, dest_port: 25, count: 1}
no_alerts: [9700021]
events:
  - {match: {event_type: smtp, "smtp.rcpt_to[0]": "<a@example.net>"}, count: 1}
"#;

    #[test]
    fn the_documented_example_parses() {
        let s = parse(EXAMPLE, "x.expect.yaml").unwrap();
        assert_eq!(s.no_alerts, vec![9700021]);
        let a = &s.alerts.as_ref().unwrap()[0];
        assert_eq!(a.src_ip, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(a.dest_port, Some(25));
        assert!(!s.at_least);
        assert_eq!(s.events[0].fields.event_type(), Some("smtp"));
        assert!(s.config.is_some());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse(
            "alerts:\n  - {sid: 9700002, dst_port: 25}\n",
            "x.expect.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x.expect.yaml:2:"), "{e}");
        assert!(
            e.contains("alerts[0]") && e.contains("unknown field `dst_port`"),
            "{e}"
        );

        let e = parse(
            "alerts:\n  - {sid: 9700002}\nno_alert: [1]\n",
            "x.expect.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x.expect.yaml:3:"), "{e}");
        assert!(e.contains("unknown field `no_alert`"), "{e}");

        let e = parse(
            "alerts:\n  - {sid: 9700002, src_ip: 10.0.0.300}\n",
            "x.expect.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("x.expect.yaml:2:") && e.contains("alerts[0].src_ip"),
            "{e}"
        );

        let e = parse("events:\n  - match: {event_type: smpt}\n", "x.expect.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.expect.yaml:2:") && e.contains("smpt"),
            "{e}"
        );

        let e = parse(
            "events:\n  - match:\n      \"smtp.rcpt_to[x]\": 1\n",
            "x.expect.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("x.expect.yaml:3:") && e.contains("index"),
            "{e}"
        );

        let e = parse("config: [1, 2]\n", "x.expect.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.expect.yaml:1:") && e.contains("config"),
            "{e}"
        );
    }

    #[test]
    fn paths_look_into_objects_and_arrays() {
        let ev = json!({"smtp": {"rcpt_to": ["<a@x>", "<b@x>"]}, "m": [[1, 2]]});
        let p: FieldPath = "smtp.rcpt_to[1]".parse().unwrap();
        assert_eq!(p.lookup(&ev), Some(&json!("<b@x>")));
        let p: FieldPath = "m[0][1]".parse().unwrap();
        assert_eq!(p.lookup(&ev), Some(&json!(2)));
        let p: FieldPath = "smtp.rcpt_to[2]".parse().unwrap();
        assert_eq!(p.lookup(&ev), None);
        for bad in ["a..b", ".a", "a[", "a[1]x", "a[-1]", ""] {
            assert!(bad.parse::<FieldPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn equality_is_by_value() {
        assert!(equal(&json!(25), &json!(25.0)));
        assert!(!equal(&json!("25"), &json!(25)));
        assert!(equal(&json!("2001:db8::1"), &json!("2001:DB8:0::1")));
        assert!(!equal(&json!("2001:db8::1"), &json!("2001:db8::2")));
        assert!(equal(&json!({"a": [1, "x"]}), &json!({"a": [1.0, "x"]})));
        assert!(!equal(&json!({"a": 1, "b": 2}), &json!({"a": 1})));
        assert!(equal(&json!(1u64 << 50), &json!(1u64 << 50)));
        assert!(!equal(&json!((1u64 << 60) + 1), &json!(1u64 << 60)));
    }

    #[test]
    fn alert_entries_match_on_every_field_they_name() {
        let s = parse(EXAMPLE, "x").unwrap();
        let a = &s.alerts.unwrap()[0];
        let ev = json!({"event_type": "alert", "src_ip": "198.51.100.7", "dest_port": 25,
                        "proto": "TCP", "alert": {"signature_id": 9700002}});
        assert!(a.matches(&ev));
        let mut other = ev.clone();
        other["dest_port"] = json!(587);
        assert!(!a.matches(&other));
        let mut other = ev.clone();
        other["event_type"] = json!("http");
        assert!(!a.matches(&other));
        let s = parse("alerts: [{sid: 9700002, proto: tcp}]", "x").unwrap();
        assert!(s.alerts.unwrap()[0].matches(&ev));
    }

    #[test]
    fn the_config_text_keeps_lines_and_columns() {
        let text = "# comment\nalerts: []\nconfig:\n  home_net: [10.0.0.0/8]\n  # inner\n  smtp:\n    local_domains: [a]\nno_alerts: [1]\n";
        let c = config_text(text).unwrap();
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 8, "one line per line of the file");
        assert_eq!(lines[3], "  home_net: [10.0.0.0/8]");
        assert_eq!(lines[0], "");
        let v: serde_norway::Mapping = serde_norway::from_str(&c).unwrap();
        let s = parse(text, "x").unwrap();
        assert_eq!(Some(v), s.config);

        let c = config_text("config: {home_net: [192.0.2.0/24]}\nalerts: []\n").unwrap();
        assert_eq!(c, "        {home_net: [192.0.2.0/24]}\n\n");
        assert!(config_text("alerts: []\n").is_none());
    }
}
