//! Holding a capture's events to its expectations, and saying what differs
//! in a way a person can act on.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::render;
use crate::spec::{AlertExpect, FieldPath, Spec};

/// The outcome of one check.
#[derive(Clone, Debug)]
pub enum Check {
    /// An entry of `alerts`: how many alerts it matched.
    Alert {
        index: usize,
        want: u64,
        got: u64,
        at_least: bool,
        hint: Vec<String>,
    },
    /// Alerts no entry of an exact `alerts` list describes, grouped as a
    /// new entry would list them.
    Unexpected {
        entry: AlertExpect,
        signature: String,
    },
    /// A sid of `no_alerts`: how often it fired.
    NoAlert { sid: u64, got: u64, first: String },
    /// An entry of `events`.
    Event {
        index: usize,
        want: u64,
        got: u64,
        hint: Vec<String>,
    },
}

impl Check {
    pub fn ok(&self) -> bool {
        match self {
            Check::Alert {
                want,
                got,
                at_least,
                ..
            } => got == want || (*at_least && got > want),
            Check::Unexpected { .. } => false,
            Check::NoAlert { got, .. } => *got == 0,
            Check::Event { want, got, .. } => got == want,
        }
    }
}

/// Every check of `spec` against `events`, in the file's order (unexpected
/// alerts after the `alerts` entries).
pub fn evaluate(spec: &Spec, events: &[Value]) -> Vec<Check> {
    let alerts: Vec<&Value> = events.iter().filter(|e| is_alert(e)).collect();
    let mut out = Vec::new();
    if let Some(entries) = &spec.alerts {
        let mut matched = vec![false; alerts.len()];
        for (index, entry) in entries.iter().enumerate() {
            let mut got = 0;
            for (i, a) in alerts.iter().enumerate() {
                if entry.matches(a) {
                    got += 1;
                    matched[i] = true;
                }
            }
            let hint = if got < entry.count {
                closest(
                    &entry.conditions(),
                    alerts.iter().copied().filter(|a| sid(a) == Some(entry.sid)),
                    &format!("alerts with sid {}", entry.sid),
                )
            } else {
                Vec::new()
            };
            out.push(Check::Alert {
                index,
                want: entry.count,
                got,
                at_least: spec.at_least,
                hint,
            });
        }
        if !spec.at_least {
            let rest = alerts
                .iter()
                .zip(&matched)
                .filter(|(_, m)| !**m)
                .map(|(a, _)| *a);
            for (entry, signature) in group(rest) {
                out.push(Check::Unexpected { entry, signature });
            }
        }
    }
    for &s in &spec.no_alerts {
        let fired: Vec<&Value> = alerts
            .iter()
            .copied()
            .filter(|a| sid(a) == Some(s))
            .collect();
        out.push(Check::NoAlert {
            sid: s,
            got: fired.len() as u64,
            first: fired.first().map(|a| describe(a)).unwrap_or_default(),
        });
    }
    for (index, entry) in spec.events.iter().enumerate() {
        let got = events.iter().filter(|e| entry.fields.matches(e)).count() as u64;
        let hint = if got != entry.count {
            let t = entry.fields.event_type();
            let same_type = events.iter().filter(|e| {
                t.is_none_or(|t| e.get("event_type").and_then(Value::as_str) == Some(t))
            });
            let what = t.map_or("events".to_owned(), |t| format!("{t} events"));
            closest(&entry.fields.0, same_type, &what)
        } else {
            Vec::new()
        };
        out.push(Check::Event {
            index,
            want: entry.count,
            got,
            hint,
        });
    }
    out
}

fn is_alert(e: &Value) -> bool {
    e.get("event_type").and_then(Value::as_str) == Some("alert")
}

fn sid(e: &Value) -> Option<u64> {
    e.get("alert")?.get("signature_id")?.as_u64()
}

/// `9700020 10.0.0.1:1234 -> 10.0.0.2:25 at 2004-...`: one alert, briefly.
pub fn describe(a: &Value) -> String {
    let s = |k: &str| match a.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "?".into(),
    };
    format!(
        "{}:{} -> {}:{} at {}",
        s("src_ip"),
        s("src_port"),
        s("dest_ip"),
        s("dest_port"),
        s("timestamp")
    )
}

/// The entry `--update` would write for an alert: its sid and endpoints
/// (not the source port, which changes with every connection).
pub fn entry_for(a: &Value) -> AlertExpect {
    let ip = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    };
    let port = |k: &str| {
        a.get(k)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
    };
    AlertExpect {
        sid: sid(a).unwrap_or(0),
        src_ip: ip("src_ip"),
        src_port: None,
        dest_ip: ip("dest_ip"),
        dest_port: port("dest_port"),
        proto: None,
        app_proto: None,
        fields: Default::default(),
        count: 1,
    }
}

/// Alerts grouped by the entry that would describe them, in order of first
/// appearance by sid, with each group's signature text.
pub fn group<'a>(alerts: impl Iterator<Item = &'a Value>) -> Vec<(AlertExpect, String)> {
    let mut groups: Vec<(AlertExpect, String)> = Vec::new();
    for a in alerts {
        let e = entry_for(a);
        match groups.iter_mut().find(|(g, _)| {
            (g.sid, g.src_ip, g.dest_ip, g.dest_port) == (e.sid, e.src_ip, e.dest_ip, e.dest_port)
        }) {
            Some((g, _)) => g.count += 1,
            None => {
                let signature = a
                    .get("alert")
                    .and_then(|x| x.get("signature"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                groups.push((e, signature));
            }
        }
    }
    // Stable and readable: by sid, then endpoints, whatever the event order.
    groups.sort_by(|(a, _), (b, _)| {
        (a.sid, a.src_ip, a.dest_ip, a.dest_port).cmp(&(b.sid, b.src_ip, b.dest_ip, b.dest_port))
    });
    groups
}

/// For an expectation that matched too few: the candidates that came
/// closest (most conditions met), with what they have where they differ.
/// At most three distinct descriptions.
fn closest<'a>(
    conditions: &[(FieldPath, Value)],
    candidates: impl Iterator<Item = &'a Value>,
    what: &str,
) -> Vec<String> {
    let mut best = 0usize;
    let mut diffs: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    for c in candidates {
        total += 1;
        let mut met = 0;
        let mut differs = Vec::new();
        for (p, want) in conditions {
            match p.lookup(c) {
                Some(got) if crate::spec::equal(got, want) => met += 1,
                // An alert's `proto: tcp` against EVE's "TCP".
                Some(Value::String(g))
                    if p.text == "proto"
                        && want.as_str().is_some_and(|w| w.eq_ignore_ascii_case(g)) =>
                {
                    met += 1
                }
                Some(got) => differs.push(format!("{p} = {}", render::value(got))),
                None => differs.push(format!("no {p}")),
            }
        }
        if differs.is_empty() {
            continue;
        }
        if met > best {
            best = met;
            diffs.clear();
        }
        if met == best {
            *diffs.entry(differs.join(", ")).or_default() += 1;
        }
    }
    if total == 0 {
        return vec![format!("no {what} at all")];
    }
    let mut out: Vec<(String, usize)> = diffs.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown = out.len().min(3);
    let mut lines: Vec<String> = out[..shown]
        .iter()
        .map(|(d, n)| format!("closest: {d} ({n} of the {total} {what})"))
        .collect();
    if out.len() > shown {
        lines.push(format!("... and {} other differences", out.len() - shown));
    }
    lines
}

/// The checks as JSON for `--json`.
pub fn to_json(spec: &Spec, checks: &[Check]) -> Vec<Value> {
    checks
        .iter()
        .map(|c| {
            let mut v = match c {
                Check::Alert {
                    index,
                    want,
                    got,
                    at_least,
                    ..
                } => json!({
                    "kind": "alert",
                    "expect": spec.alerts.as_ref().map(|a| render::alert_json(&a[*index])),
                    "count": want, "got": got, "at_least": at_least,
                }),
                Check::Unexpected { entry, signature } => json!({
                    "kind": "unexpected_alert",
                    "alert": render::alert_json(entry),
                    "signature": signature,
                    "got": entry.count,
                }),
                Check::NoAlert { sid, got, .. } => json!({
                    "kind": "no_alert", "sid": sid, "got": got,
                }),
                Check::Event {
                    index, want, got, ..
                } => json!({
                    "kind": "event",
                    "match": render::matcher_json(&spec.events[*index].fields),
                    "count": want, "got": got,
                }),
            };
            v["ok"] = json!(c.ok());
            v
        })
        .collect()
}

/// The failed checks as a diff: `-` expected but missing, `+` there but
/// not expected, `~` a count that differs, `!` a forbidden alert. Each line
/// is what the expectation file says (or would say), then why.
pub fn diff(spec: &Spec, checks: &[Check]) -> Vec<String> {
    let mut out = Vec::new();
    for c in checks.iter().filter(|c| !c.ok()) {
        match c {
            Check::Alert {
                index,
                want,
                got,
                at_least,
                hint,
            } => {
                let Some(entries) = &spec.alerts else {
                    continue;
                };
                let e = render::alert(&entries[*index]);
                let more = if *at_least { "at least " } else { "" };
                if *got == 0 {
                    out.push(format!(
                        "- alerts: {e}    # missing: expected {more}{want}, got 0"
                    ));
                } else {
                    out.push(format!(
                        "~ alerts: {e}    # expected {more}{want}, got {got}"
                    ));
                }
                out.extend(hint.iter().map(|h| format!("      {h}")));
            }
            Check::Unexpected { entry, signature } => out.push(format!(
                "+ alerts: {}    # unexpected: {signature}",
                render::alert(entry)
            )),
            Check::NoAlert { sid, got, first } => out.push(format!(
                "! no_alerts: {sid}    # fired {got} time{}, first {first}",
                if *got == 1 { "" } else { "s" }
            )),
            Check::Event {
                index,
                want,
                got,
                hint,
            } => {
                let e = render::event(&spec.events[*index]);
                let sign = if *got == 0 { '-' } else { '~' };
                out.push(format!(
                    "{sign} events: {e}    # expected {want}, got {got}"
                ));
                out.extend(hint.iter().map(|h| format!("      {h}")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn alert(sid: u64, src: &str, dst: &str, dport: u16) -> Value {
        json!({"event_type": "alert", "src_ip": src, "src_port": 40000, "dest_ip": dst,
               "dest_port": dport, "proto": "TCP", "timestamp": "2004-03-02T13:57:50.104219+0000",
               "alert": {"signature_id": sid, "signature": format!("sig {sid}")}})
    }

    fn events() -> Vec<Value> {
        vec![
            alert(9700002, "10.0.0.1", "10.0.0.2", 8080),
            alert(9700003, "10.0.0.1", "10.0.0.2", 8080),
            alert(9700002, "10.0.0.1", "10.0.0.2", 8080),
            json!({"event_type": "smtp", "smtp": {"rcpt_to": ["<a@example.net>"]}}),
            json!({"event_type": "smtp", "smtp": {"rcpt_to": ["<b@example.net>"]}}),
            json!({"event_type": "flow"}),
        ]
    }

    #[test]
    fn an_exact_list_passes_only_when_everything_is_accounted_for() {
        let s = parse(
            "alerts:\n  - {sid: 9700002, count: 2}\n  - {sid: 9700003, dest_port: 8080}\n",
            "x",
        )
        .unwrap();
        let c = evaluate(&s, &events());
        assert!(c.iter().all(Check::ok), "{c:?}");

        let s = parse("alerts:\n  - {sid: 9700002, count: 2}\n", "x").unwrap();
        let c = evaluate(&s, &events());
        let d = diff(&s, &c);
        assert_eq!(
            d,
            vec![
                "+ alerts: {sid: 9700003, src_ip: 10.0.0.1, dest_ip: 10.0.0.2, dest_port: 8080, count: 1}    # unexpected: sig 9700003"
            ]
        );
        let s = parse(
            "at_least: true\nalerts:\n  - {sid: 9700002, count: 2}\n",
            "x",
        )
        .unwrap();
        assert!(evaluate(&s, &events()).iter().all(Check::ok));
        let s = parse(
            "at_least: true\nalerts:\n  - {sid: 9700002, count: 3}\n",
            "x",
        )
        .unwrap();
        assert!(!evaluate(&s, &events()).iter().all(Check::ok));
    }

    #[test]
    fn the_diff_says_what_is_missing_what_differs_and_how_close_it_came() {
        let s = parse(
            "alerts:\n  - {sid: 9700002, dest_port: 25}\n  - {sid: 9700003, count: 2}\n  - {sid: 9700002, dest_port: 8080, count: 2}\nno_alerts: [9700003]\nevents:\n  - {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<c@example.net>\"}, count: 1}\n",
            "x",
        )
        .unwrap();
        let c = evaluate(&s, &events());
        let d = diff(&s, &c).join("\n");
        assert_eq!(
            d,
            "- alerts: {sid: 9700002, dest_port: 25, count: 1}    # missing: expected 1, got 0\n      \
             closest: dest_port = 8080 (2 of the 2 alerts with sid 9700002)\n\
             ~ alerts: {sid: 9700003, count: 2}    # expected 2, got 1\n\
             ! no_alerts: 9700003    # fired 1 time, first 10.0.0.1:40000 -> 10.0.0.2:8080 at 2004-03-02T13:57:50.104219+0000\n\
             - events: {match: {event_type: smtp, \"smtp.rcpt_to[0]\": \"<c@example.net>\"}, count: 1}    # expected 1, got 0\n      \
             closest: smtp.rcpt_to[0] = \"<a@example.net>\" (1 of the 2 smtp events)\n      \
             closest: smtp.rcpt_to[0] = \"<b@example.net>\" (1 of the 2 smtp events)"
        );
    }

    #[test]
    fn an_absent_alert_type_is_named() {
        let s = parse("events:\n  - {match: {event_type: ntp}, count: 1}\n", "x").unwrap();
        let d = diff(&s, &evaluate(&s, &events())).join("\n");
        assert!(d.ends_with("      no ntp events at all"), "{d}");
    }

    #[test]
    fn groups_do_not_depend_on_event_order() {
        let mut ev = events();
        let a = group(ev.iter().filter(|e| is_alert(e)));
        ev.reverse();
        let b = group(ev.iter().filter(|e| is_alert(e)));
        assert_eq!(a, b);
        assert_eq!(a[0].0.count, 2);
    }
}
