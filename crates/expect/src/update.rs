//! `--update`: bringing an expectation file in line with what fumidai
//! writes now, for a person to review as a diff. Only the sections that
//! change are rewritten; comments and everything else stay as they are.

use serde_json::Value;

use crate::check::{self, Check};
use crate::render;
use crate::spec::{AlertExpect, Spec};

/// A new text for an expectation file and what changed, line by line.
pub struct Update {
    pub text: String,
    pub changes: Vec<String>,
    pub created: bool,
}

/// The updated file, or `None` when nothing changes. `existing`: the
/// file's parsed form and text, if there is one; `checks`: its checks
/// against this run; `alerts`: this run's alerts; `capture`: its name.
pub fn update(
    existing: Option<(&Spec, &str)>,
    checks: &[Check],
    alerts: &[Value],
    capture: &str,
) -> Option<Update> {
    let Some((spec, text)) = existing else {
        return Some(create(alerts, capture));
    };
    let mut changes = Vec::new();
    let mut text = text.to_owned();

    let new_alerts: Option<Vec<AlertExpect>> = match &spec.alerts {
        Some(entries) => {
            let mut out = Vec::new();
            let mut changed = false;
            for c in checks {
                match c {
                    Check::Alert { index, got, .. } => {
                        let mut e = entries[*index].clone();
                        let keep = if spec.at_least {
                            *got >= e.count
                        } else {
                            *got == e.count
                        };
                        if keep {
                            out.push(e);
                        } else if *got == 0 {
                            changes.push(format!(
                                "- alerts: {}    # no longer fires",
                                render::alert(&e)
                            ));
                            changed = true;
                        } else {
                            changes.push(format!(
                                "~ alerts: {}    # count {} -> {got}",
                                render::alert(&e),
                                e.count
                            ));
                            e.count = *got;
                            out.push(e);
                            changed = true;
                        }
                    }
                    Check::Unexpected { entry, signature } => {
                        changes.push(format!(
                            "+ alerts: {}    # {signature}",
                            render::alert(entry)
                        ));
                        out.push(entry.clone());
                        changed = true;
                    }
                    _ => {}
                }
            }
            changed.then_some(out)
        }
        // A file that checks nothing yet (a config alone) gets the alerts.
        None if spec.checks_nothing() => {
            let out = fresh_alerts(alerts, &mut changes);
            Some(out)
        }
        None => None,
    };
    if let Some(a) = &new_alerts {
        text = replace_block(&text, "alerts", &alerts_block(a));
    }

    let mut no_alerts = Vec::new();
    let mut no_changed = false;
    for c in checks {
        if let Check::NoAlert { sid, got, .. } = c {
            if *got == 0 {
                no_alerts.push(*sid);
            } else {
                changes.push(format!("- no_alerts: {sid}    # fires now ({got}×)"));
                no_changed = true;
            }
        }
    }
    if no_changed {
        let list: Vec<String> = no_alerts.iter().map(u64::to_string).collect();
        text = replace_block(
            &text,
            "no_alerts",
            &format!("no_alerts: [{}]\n", list.join(", ")),
        );
    }

    let mut events = spec.events.clone();
    let mut ev_changed = false;
    for c in checks {
        if let Check::Event {
            index, want, got, ..
        } = c
            && want != got
        {
            changes.push(format!(
                "~ events: {}    # count {want} -> {got}",
                render::event(&events[*index])
            ));
            events[*index].count = *got;
            ev_changed = true;
        }
    }
    if ev_changed {
        let mut block = String::from("events:\n");
        for e in &events {
            block.push_str(&format!("  - {}\n", render::event(e)));
        }
        text = replace_block(&text, "events", &block);
    }

    (!changes.is_empty()).then_some(Update {
        text,
        changes,
        created: false,
    })
}

fn fresh_alerts(alerts: &[Value], changes: &mut Vec<String>) -> Vec<AlertExpect> {
    let groups = check::group(alerts.iter());
    if groups.is_empty() {
        changes.push("+ alerts: []    # no alerts".into());
    }
    groups
        .into_iter()
        .map(|(e, signature)| {
            changes.push(format!("+ alerts: {}    # {signature}", render::alert(&e)));
            e
        })
        .collect()
}

fn create(alerts: &[Value], capture: &str) -> Update {
    let mut changes = Vec::new();
    let entries = fresh_alerts(alerts, &mut changes);
    let text = format!(
        "# What replaying {capture} must produce; checked by `fumidai test` (docs/expect.md).\n\
         # Written by `fumidai test --update` from fumidai {}'s output: review it.\n{}",
        env!("CARGO_PKG_VERSION"),
        alerts_block(&entries)
    );
    Update {
        text,
        changes,
        created: true,
    }
}

fn alerts_block(entries: &[AlertExpect]) -> String {
    if entries.is_empty() {
        return "alerts: []\n".into();
    }
    let mut s = String::from("alerts:\n");
    for e in entries {
        s.push_str(&format!("  - {}\n", render::alert(e)));
    }
    s
}

/// Whether a line starts a top-level entry (not indented, not a comment).
fn top_level(line: &str) -> bool {
    line.chars()
        .next()
        .is_some_and(|c| !c.is_whitespace() && c != '#')
}

/// `text` with the top-level `key:` section replaced by `block`; comments
/// and blank lines right before the next section stay with it. Appended
/// when the key is not there.
pub fn replace_block(text: &str, key: &str, block: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let prefix = format!("{key}:");
    let Some(start) = lines
        .iter()
        .position(|l| l.starts_with(&prefix) || l.starts_with(&format!("\"{key}\":")))
    else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(block);
        return out;
    };
    let mut end = lines[start + 1..]
        .iter()
        .position(|l| top_level(l))
        .map_or(lines.len(), |i| start + 1 + i);
    while end > start + 1 {
        let l = lines[end - 1].trim_end();
        if l.is_empty() || l.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    let mut out: String = lines[..start].concat();
    out.push_str(block);
    out.push_str(&lines[end..].concat());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::evaluate;
    use crate::spec::parse;
    use serde_json::json;

    fn alert(sid: u64, dport: u16) -> Value {
        json!({"event_type": "alert", "src_ip": "10.0.0.1", "src_port": 40000,
               "dest_ip": "10.0.0.2", "dest_port": dport, "alert": {"signature_id": sid, "signature": "s"}})
    }

    #[test]
    fn sections_are_replaced_in_place() {
        let text = "# head\nconfig:\n  home_net: [10.0.0.0/8]\nalerts:\n  - {sid: 1}\n  # old\n\n# about events\nevents: []\n# tail\n";
        let out = replace_block(text, "alerts", "alerts: []\n");
        assert_eq!(
            out,
            "# head\nconfig:\n  home_net: [10.0.0.0/8]\nalerts: []\n\n# about events\nevents: []\n# tail\n"
        );
        let out = replace_block("config: {}", "alerts", "alerts: []\n");
        assert_eq!(out, "config: {}\nalerts: []\n");
    }

    #[test]
    fn an_update_says_each_change_and_then_passes() {
        let text = "# keep me\nconfig: {home_net: [10.0.0.0/8]}\nalerts:\n  - {sid: 9700002, count: 2}   # two\n  - {sid: 9700021}\nno_alerts: [9700003, 9700030]\nevents:\n  - {match: {event_type: alert}, count: 1}\n";
        let spec = parse(text, "x").unwrap();
        let alerts = vec![alert(9700002, 25), alert(9700003, 25), alert(9700004, 8080)];
        let checks = evaluate(&spec, &alerts);
        let u = update(Some((&spec, text)), &checks, &alerts, "x.pcap").unwrap();
        assert_eq!(
            u.changes,
            vec![
                "~ alerts: {sid: 9700002, count: 2}    # count 2 -> 1",
                "- alerts: {sid: 9700021, count: 1}    # no longer fires",
                "+ alerts: {sid: 9700003, src_ip: 10.0.0.1, dest_ip: 10.0.0.2, dest_port: 25, count: 1}    # s",
                "+ alerts: {sid: 9700004, src_ip: 10.0.0.1, dest_ip: 10.0.0.2, dest_port: 8080, count: 1}    # s",
                "- no_alerts: 9700003    # fires now (1×)",
                "~ events: {match: {event_type: alert}, count: 1}    # count 1 -> 3",
            ]
        );
        assert!(
            u.text
                .starts_with("# keep me\nconfig: {home_net: [10.0.0.0/8]}\nalerts:\n")
        );
        let again = parse(&u.text, "x").unwrap();
        assert_eq!(again.config, spec.config);
        assert!(
            evaluate(&again, &alerts).iter().all(Check::ok),
            "{}",
            u.text
        );
        // Nothing left to change.
        let checks = evaluate(&again, &alerts);
        assert!(update(Some((&again, &u.text)), &checks, &alerts, "x.pcap").is_none());
    }

    #[test]
    fn a_new_file_lists_the_alerts() {
        let alerts = vec![alert(9700002, 25), alert(9700002, 25)];
        let u = update(None, &[], &alerts, "x.pcap").unwrap();
        assert!(u.created);
        let spec = parse(&u.text, "x").unwrap();
        assert_eq!(spec.alerts.as_ref().unwrap()[0].count, 2);
        assert!(evaluate(&spec, &alerts).iter().all(Check::ok));
        let u = update(None, &[], &[], "x.pcap").unwrap();
        assert!(u.text.ends_with("alerts: []\n"));
        // A file with a config only gets the alerts, and keeps the config.
        let text = "config:\n  home_net: [10.0.0.0/8]\n";
        let spec = parse(text, "x").unwrap();
        let u = update(Some((&spec, text)), &[], &alerts, "x.pcap").unwrap();
        assert!(u.text.starts_with(text), "{}", u.text);
        assert_eq!(parse(&u.text, "x").unwrap().alerts.unwrap().len(), 1);
    }
}
