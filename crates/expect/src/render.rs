//! Expectations written back as YAML flow mappings (one entry a line, as
//! people write them), for diffs and for `--update`.

use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};

use crate::spec::{AlertExpect, EventExpect, Matcher};

/// A string as a YAML scalar: plain when that cannot be read as anything
/// else, else double-quoted (JSON's quoting is valid YAML).
pub fn scalar(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@' | '-'));
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    let special = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
    );
    if plain_chars && !special && (first_ok || s.parse::<Ipv4Addr>().is_ok()) {
        s.to_owned()
    } else {
        Value::from(s).to_string()
    }
}

/// A JSON value in YAML flow style.
pub fn value(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Array(a) => format!("[{}]", a.iter().map(value).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn matcher(m: &Matcher) -> String {
    format!(
        "{{{}}}",
        m.0.iter()
            .map(|(k, v)| format!("{}: {}", scalar(&k.text), value(v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// An `alerts` entry: sid, endpoints, protocol, fields, count.
pub fn alert(a: &AlertExpect) -> String {
    let mut parts = vec![format!("sid: {}", a.sid)];
    if let Some(ip) = a.src_ip {
        parts.push(format!("src_ip: {}", scalar(&ip.to_string())));
    }
    if let Some(p) = a.src_port {
        parts.push(format!("src_port: {p}"));
    }
    if let Some(ip) = a.dest_ip {
        parts.push(format!("dest_ip: {}", scalar(&ip.to_string())));
    }
    if let Some(p) = a.dest_port {
        parts.push(format!("dest_port: {p}"));
    }
    if let Some(p) = &a.proto {
        parts.push(format!("proto: {}", scalar(p)));
    }
    if let Some(p) = &a.app_proto {
        parts.push(format!("app_proto: {}", scalar(p)));
    }
    if !a.fields.0.is_empty() {
        parts.push(format!("match: {}", matcher(&a.fields)));
    }
    parts.push(format!("count: {}", a.count));
    format!("{{{}}}", parts.join(", "))
}

/// An `events` entry.
pub fn event(e: &EventExpect) -> String {
    format!("{{match: {}, count: {}}}", matcher(&e.fields), e.count)
}

pub fn matcher_json(m: &Matcher) -> Value {
    Value::Object(
        m.0.iter()
            .map(|(k, v)| (k.text.clone(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

pub fn alert_json(a: &AlertExpect) -> Value {
    let mut v = json!({ "sid": a.sid, "count": a.count });
    let ip = |x: &Option<std::net::IpAddr>| x.map(|i| Value::from(i.to_string()));
    for (k, x) in [
        ("src_ip", ip(&a.src_ip)),
        ("src_port", a.src_port.map(Value::from)),
        ("dest_ip", ip(&a.dest_ip)),
        ("dest_port", a.dest_port.map(Value::from)),
        ("proto", a.proto.clone().map(Value::from)),
        ("app_proto", a.app_proto.clone().map(Value::from)),
    ] {
        if let Some(x) = x {
            v[k] = x;
        }
    }
    if !a.fields.0.is_empty() {
        v["match"] = matcher_json(&a.fields);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in [
            "10.0.0.1",
            "2001:db8::1",
            "::1",
            "<a@example.net>",
            "yes",
            "No",
            "1e5",
            "0x1F",
            "25",
            "-x",
            "",
            "a b",
            "smtp.rcpt_to[0]",
            "tab\there",
            "quote\"d",
            "ünïcode",
            "null",
            "~",
            "#x",
            "a: b",
            "mail.example.net",
        ] {
            let yaml = format!("k: {}\n", scalar(s));
            let back: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(back["k"], s, "{yaml}");
            let flow = format!("{{k: {}}}", scalar(s));
            let back: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&flow).unwrap_or_else(|e| panic!("{flow}: {e}"));
            assert_eq!(back["k"], s, "{flow}");
        }
        assert_eq!(scalar("10.0.0.1"), "10.0.0.1");
        assert_eq!(scalar("smtp"), "smtp");
    }

    #[test]
    fn entries_read_back_as_themselves() {
        let text = "alerts:\n  - {sid: 9700002, src_ip: \"2001:db8::1\", src_port: 5, dest_ip: 10.0.0.2, dest_port: 25, proto: TCP, app_proto: http, match: {\"http.hostname\": \"a b\", \"x[0]\": [1, {y: true}]}, count: 3}\nevents:\n  - {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<a@example.net>\"}, count: 0}\n";
        let s = parse(text, "x").unwrap();
        let a = &s.alerts.as_ref().unwrap()[0];
        let e = &s.events[0];
        let again = format!("alerts:\n  - {}\nevents:\n  - {}\n", alert(a), event(e));
        assert_eq!(parse(&again, "x").unwrap(), s, "{again}");
    }
}
