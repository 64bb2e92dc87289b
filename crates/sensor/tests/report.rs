//! `fumidai report` end to end: replay the attack captures with the real
//! binary, write the report, and read it in a real browser (Debian's
//! headless chromium): it must load with no console error and no request
//! beyond its own file, say the verdicts on the lab's open proxy, open relay
//! and amplifier with the figures the EVE records hold (counted here from
//! those records), sort its tables, survive hostile text from the log, work
//! with script off, follow a dark theme and print. The screenshots and the
//! PDF are kept under the test's output directory.

#[path = "report/cdp.rs"]
mod cdp;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, pcap};
use serde_json::Value;

/// The lab as the sensor sees it (as in live_lab.rs): home_net is the victim network.
const LAB_CONFIG: &str = "home_net: [10.77.0.0/24]\nsmtp:\n  relay_networks: [10.77.0.0/24]\n  local_domains: [victim.lab]\nstats:\n  interval: 5\n";
const LAB_SERVER: &str = "10.77.0.2";
/// The ntpd 4.2.6 monlist exchange replayed into the lab.
const LAB_AMPLIFIER: &str = "127.0.0.1";

/// Where this test keeps what it made, to look at afterwards.
fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&d).expect("output dir");
    d
}

/// `fumidai report ARGS`.
fn report(args: &[&str]) -> Output {
    bin()
        .arg("report")
        .args(args)
        .output()
        .expect("run fumidai report")
}

fn replay_to(dir: &Path, captures: &[PathBuf], extra: &[&str]) -> PathBuf {
    let mut cmd = bin();
    for c in captures {
        cmd.arg("-r").arg(c);
    }
    let out = cmd
        .args(extra)
        .arg("-q")
        .arg("-l")
        .arg(dir)
        .output()
        .expect("fumidai -r");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("eve.json")
}

fn events(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).expect("eve");
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8(bytes).expect("utf-8")
    };
    text.lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// The attack captures' EVE: the lab under its own config, and the
/// generated scenarios under the defaults, the latter gzipped as logrotate
/// leaves it.
struct Logs {
    _dir: tempfile::TempDir,
    lab_cfg: PathBuf,
    files: Vec<PathBuf>,
    events: Vec<Value>,
}

fn attack_logs() -> Logs {
    let dir = tempfile::tempdir().unwrap();
    let lab_cfg = dir.path().join("lab.yaml");
    std::fs::write(&lab_cfg, LAB_CONFIG).unwrap();
    let lab_dir = dir.path().join("lab");
    let lab = replay_to(
        &lab_dir,
        &[pcap("lab/lab-attack.pcap")],
        &["-c", lab_cfg.to_str().unwrap()],
    );
    let sc_dir = dir.path().join("scenarios");
    let sc = replay_to(&sc_dir, &[pcap("scenarios")], &[]);
    let gz = sc_dir.join("eve.json.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(&sc).unwrap()).unwrap();
    enc.finish().unwrap();
    let mut all = events(&lab);
    all.extend(events(&gz));
    Logs {
        _dir: dir,
        lab_cfg,
        files: vec![lab, gz],
        events: all,
    }
}

fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(n: u64, word: &str) -> String {
    format!("{} {word}{}", num(n), if n == 1 { "" } else { "s" })
}

fn sid(e: &Value) -> u64 {
    e["alert"]["signature_id"].as_u64().unwrap_or(0)
}

fn alerts<'a>(ev: &'a [Value], sids: &[u64]) -> Vec<&'a Value> {
    ev.iter()
        .filter(|e| e["event_type"] == "alert" && sids.contains(&sid(e)))
        .collect()
}

/// A verdict the page must hold: its kind and host, words that must
/// appear in it, and `data-*` attributes that must match.
struct Want {
    kind: String,
    host: String,
    words: String,
    data: Vec<(String, String)>,
}

/// What the verdicts must say, counted from the records.
struct Expected {
    lines: Vec<Want>,
}

fn expected(ev: &[Value]) -> Expected {
    let mut lines = Vec::new();
    // The open HTTP proxy: SMTP spoken inside its CONNECT tunnels.
    let smtp_in: Vec<&Value> = alerts(ev, &[9700023])
        .into_iter()
        .filter(|e| e["dest_ip"] == LAB_SERVER && e["fumidai"]["tunnel"]["type"] == "http_connect")
        .collect();
    let servers: BTreeSet<String> = smtp_in
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["fumidai"]["tunnel"]["host"].as_str().unwrap_or("?"),
                e["fumidai"]["tunnel"]["port"]
            )
        })
        .collect();
    assert!(
        !smtp_in.is_empty(),
        "the lab capture has SMTP through squid"
    );
    lines.push(Want {
        kind: "open-http-proxy".into(),
        host: LAB_SERVER.into(),
        words: format!(
            "open HTTP proxy (relayed SMTP to {} in {}",
            count(servers.len() as u64, "mail server"),
            count(smtp_in.len() as u64, "tunnel")
        ),
        data: vec![
            ("servers".into(), servers.len().to_string()),
            ("sessions".into(), smtp_in.len().to_string()),
        ],
    });
    // The open relay: each confirmed transaction, with its recipients as
    // the transaction's own smtp record lists them.
    let relayed: BTreeSet<(u64, u64)> = alerts(ev, &[9700021])
        .into_iter()
        .filter(|e| e["dest_ip"] == LAB_SERVER)
        .map(|e| (e["flow_id"].as_u64().unwrap(), e["tx_id"].as_u64().unwrap()))
        .collect();
    assert!(!relayed.is_empty(), "the lab capture has an open relay");
    let accepted: usize = relayed
        .iter()
        .map(|(f, t)| {
            let rec = ev
                .iter()
                .find(|e| e["event_type"] == "smtp" && e["flow_id"] == *f && e["tx_id"] == *t)
                .expect("the relayed transaction's smtp record");
            rec["smtp"]["recipients"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter(|x| {
                            x["reply_code"]
                                .as_u64()
                                .is_some_and(|c| (200..300).contains(&c))
                        })
                        .count()
                })
                .unwrap_or(0)
        })
        .sum();
    lines.push(Want {
        kind: "open-smtp-relay".into(),
        host: LAB_SERVER.into(),
        words: format!(
            "open SMTP relay (accepted {} from foreign clients in {}",
            count(accepted as u64, "recipient"),
            count(relayed.len() as u64, "mail transaction")
        ),
        data: vec![
            ("accepted".into(), accepted.to_string()),
            ("transactions".into(), relayed.len().to_string()),
        ],
    });
    // Every amplifier: its victims and its peak ratio, from the evidence.
    let mut amps: BTreeMap<String, (BTreeSet<String>, Option<f64>, bool)> = BTreeMap::new();
    for e in alerts(ev, &[9700032, 9700033, 9700034]) {
        let a = &e["amplification"];
        let r = amps
            .entry(a["reflector"].as_str().unwrap().to_owned())
            .or_default();
        r.0.insert(a["victim"].as_str().unwrap().to_owned());
        if let Some(x) = a["ratio"].as_f64() {
            r.1 = Some(r.1.map_or(x, |y: f64| y.max(x)));
        }
    }
    for e in alerts(ev, &[9700031]) {
        // The NTP side of the flow answered.
        let (amp, victim) = if e["src_port"] == 123 && e["dest_port"] != 123 {
            (&e["src_ip"], &e["dest_ip"])
        } else {
            (&e["dest_ip"], &e["src_ip"])
        };
        let r = amps.entry(amp.as_str().unwrap().to_owned()).or_default();
        r.0.insert(victim.as_str().unwrap().to_owned());
        r.2 = true;
    }
    assert!(
        amps.contains_key(LAB_AMPLIFIER),
        "the lab capture has the monlist amplifier"
    );
    for (ip, (victims, ratio, monlist)) in amps {
        let mut words = String::new();
        if monlist {
            words.push_str("monlist, ");
        }
        words.push_str(&count(victims.len() as u64, "victim"));
        let mut data = vec![("victims".to_string(), victims.len().to_string())];
        if let Some(r) = ratio {
            words.push_str(&format!(", peak ratio {r}×"));
            data.push(("ratio".into(), format!("{r}")));
        }
        lines.push(Want {
            kind: "amplifier".into(),
            host: ip,
            words,
            data,
        });
    }
    Expected { lines }
}

const VERDICTS_JS: &str = r#"JSON.stringify(Array.from(document.querySelectorAll('li.verdict')).map(function (li) {
  return {kind: li.dataset.kind, host: li.dataset.host, text: li.textContent, data: Object.assign({}, li.dataset),
          top: !!li.closest('#verdicts')};
}))"#;

#[test]
fn the_report_of_the_attack_captures_reads_right_in_a_browser() {
    let logs = attack_logs();
    let out = out_dir();
    let page = out.join("report.html");
    let mut args: Vec<String> = logs.files.iter().map(|p| p.display().to_string()).collect();
    args.extend([
        "-c".into(),
        logs.lab_cfg.display().to_string(),
        "-o".into(),
        page.display().to_string(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = report(&refs);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        stdout.contains(&page.display().to_string()),
        "the summary names the page: {stdout}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // Nothing from outside the file: links are anchors in the page, and
    // nothing is loaded (log text is escaped, so a quote here is markup).
    for (i, _) in html.match_indices("href=\"") {
        assert!(
            html[i + 6..].starts_with('#'),
            "a link out of the page: {}",
            &html[i..(i + 80).min(html.len())]
        );
    }
    for markup in ["src=\"", "@import", "url("] {
        assert!(!html.contains(markup), "{markup} in the page");
    }

    let profile = tempfile::tempdir().unwrap();
    let mut b = cdp::Browser::launch(profile.path()).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("file://{}", page.display());
    let since = b.events.len();
    b.open(&url)
        .unwrap_or_else(|e| panic!("loading the report: {e}\n{}", b.log()));
    let problems = b.problems(since);
    assert!(
        problems.is_empty(),
        "the page logged problems: {problems:#?}"
    );
    let requests = b.requests(since);
    assert!(
        requests.iter().all(|u| u == &url),
        "the page asked for more than itself: {requests:?}"
    );

    // The verdicts, with the figures counted from the records.
    let got: Vec<Value> =
        serde_json::from_str(b.eval(VERDICTS_JS).unwrap().as_str().unwrap()).unwrap();
    let want = expected(&logs.events);
    for Want {
        kind,
        host,
        words,
        data,
    } in &want.lines
    {
        let v = got
            .iter()
            .find(|v| v["top"] == true && v["kind"] == kind.as_str() && v["host"] == host.as_str())
            .unwrap_or_else(|| panic!("no {kind} verdict on {host}; verdicts: {got:#?}"));
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains(words.as_str()),
            "{kind} on {host}: want {words:?} in {text:?}"
        );
        for (k, val) in data {
            assert_eq!(
                v["data"][k],
                val.as_str(),
                "{kind} on {host}: data-{k} in {v}"
            );
        }
        assert!(
            v["data"]["severity"] == "1" && v["data"]["confirmed"] == "true",
            "{v}"
        );
    }
    for v in &got {
        let t = v["text"].as_str().unwrap();
        assert!(!t.contains("NaN") && !t.contains("undefined"), "{t}");
    }
    // Run facts: each file's packets, from its last stats record.
    let body = b.eval("document.body.textContent").unwrap();
    let body = body.as_str().unwrap();
    for f in &logs.files {
        let ev = events(f);
        let stats = ev
            .iter()
            .rev()
            .find(|e| e["event_type"] == "stats")
            .expect("stats");
        let pkts = stats["stats"]["decoder"]["pkts"].as_u64().unwrap();
        assert!(
            body.contains(&num(pkts)),
            "packets of {} ({pkts}) on the page",
            f.display()
        );
    }

    // Tables sort when a heading is clicked, both ways.
    let sorted = b
        .eval(
            r#"(function () {
  var t = document.querySelector('#probes table'); var th = t.tHead.rows[0].cells[0];
  function col() { return Array.from(t.tBodies[0].rows).map(function (r) { return parseFloat(r.cells[0].dataset.v); }); }
  th.click(); var up = col(); th.click(); var down = col();
  var asc = up.every(function (v, i) { return i == 0 || up[i - 1] <= v; });
  var desc = down.every(function (v, i) { return i == 0 || down[i - 1] >= v; });
  return asc && desc && up.length > 1 && th.getAttribute('aria-sort') == 'descending';
})()"#,
        )
        .unwrap();
    assert_eq!(sorted, Value::Bool(true), "the probes table sorts by count");
    let png = b.screenshot(1280, Some(1600)).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(out.join("report.png"), &png).unwrap();
    std::fs::write(
        out.join("report-full.png"),
        b.screenshot(1280, None).unwrap(),
    )
    .unwrap();
    let pdf = b.pdf().unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(out.join("report.pdf"), &pdf).unwrap();
    // Printed on A4 (186 mm between 12 mm margins: 703 CSS pixels), no
    // table runs off the page.
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": "print"}),
    )
    .unwrap();
    let print = b.screenshot(703, Some(1600)).unwrap();
    std::fs::write(out.join("report-print.png"), &print).unwrap();
    let cut = b
        .eval("Array.from(document.querySelectorAll('table')).filter(function (t) { return t.getBoundingClientRect().right > document.documentElement.clientWidth + 1; }).map(function (t) { return t.className; })")
        .unwrap();
    assert_eq!(cut, serde_json::json!([]), "tables wider than an A4 page");
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": ""}),
    )
    .unwrap();

    // Dark theme.
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .unwrap();
    let bg = b
        .eval("getComputedStyle(document.body).backgroundColor")
        .unwrap();
    let rgb: Vec<u32> = bg
        .as_str()
        .unwrap()
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    assert!(
        rgb.len() == 3 && rgb.iter().all(|&c| c < 64),
        "dark background: {bg}"
    );
    std::fs::write(
        out.join("report-dark.png"),
        b.screenshot(1280, Some(1600)).unwrap(),
    )
    .unwrap();
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
    )
    .unwrap();

    // Without script: the same verdicts, tables as written.
    b.call(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({"value": true}),
    )
    .unwrap();
    let since = b.events.len();
    b.open(&url).unwrap();
    b.call(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({"value": false}),
    )
    .unwrap();
    // Evaluated by the protocol, not by the page: the page's own script stayed off.
    let no_js = b
        .eval("[document.querySelectorAll('li.verdict').length, document.querySelectorAll('table.sortable.js').length, document.querySelectorAll('table.sortable').length]")
        .unwrap();
    assert_eq!(no_js[0].as_u64(), Some(got.len() as u64), "{no_js}");
    assert_eq!(
        no_js[1].as_u64(),
        Some(0),
        "script ran while disabled: {no_js}"
    );
    assert!(no_js[2].as_u64().unwrap_or(0) > 0);
    assert!(b.problems(since).is_empty(), "{:#?}", b.problems(since));

    println!(
        "report: {}\nscreenshots: {} {} {}\nprinted: {}",
        page.display(),
        out.join("report.png").display(),
        out.join("report-dark.png").display(),
        out.join("report-full.png").display(),
        out.join("report.pdf").display()
    );
}

/// Text from the log is the attacker's: in the page it stays text.
#[test]
fn hostile_text_from_the_log_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lab.yaml");
    std::fs::write(&cfg, LAB_CONFIG).unwrap();
    let eve = replay_to(
        &dir.path().join("lab"),
        &[pcap("lab/lab-attack.pcap")],
        &["-c", cfg.to_str().unwrap()],
    );
    let hostile_host = "<img src=x onerror=alert(1)>\u{202e}moc.example";
    let hostile_subject = "</pre><script>alert(2)</script>10.77.0.2:8080";
    let mut touched = 0;
    let lines: Vec<String> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["event_type"] == "alert" {
                if v["http"].is_object() {
                    v["http"]["hostname"] = Value::from(hostile_host);
                    if v["http"]["proxy"].is_object() {
                        v["http"]["proxy"]["target_host"] = Value::from(hostile_host);
                    }
                    touched += 1;
                }
                if v["email"].is_object() {
                    v["email"]["subject"] = Value::from(hostile_subject);
                }
                if v["fumidai"]["tunnel"].is_object() {
                    v["fumidai"]["tunnel"]["host"] = Value::from(hostile_host);
                }
            }
            v.to_string()
        })
        .collect();
    assert!(touched > 0);
    let bad = dir.path().join("hostile.json");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let page = dir.path().join("hostile.html");
    let r = report(&[
        bad.to_str().unwrap(),
        "-c",
        cfg.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "-q",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<img src=x") && !html.contains("<script>alert"));
    assert!(
        !html.contains('\u{202e}'),
        "bidi override shown as an escape, not obeyed"
    );

    let profile = tempfile::tempdir().unwrap();
    let mut b = cdp::Browser::launch(profile.path()).unwrap_or_else(|e| panic!("{e}"));
    let since = b.events.len();
    b.open(&format!("file://{}", page.display())).unwrap();
    let problems = b.problems(since);
    assert!(problems.is_empty(), "{problems:#?}");
    let found = b
        .eval("[document.querySelectorAll('img').length, document.scripts.length, document.body.textContent.indexOf('<img src=x onerror=alert(1)>') >= 0]")
        .unwrap();
    assert_eq!(
        found,
        serde_json::json!([0, 1, true]),
        "only the page's own script, the text shown as text"
    );
}

/// The structure of the page, as a reader scans it: sections, headings,
/// table columns, how many verdicts of each kind. A change here is a change
/// to what operators see; review it with `cargo insta review`.
#[test]
fn the_page_has_the_same_outline() {
    let logs = attack_logs();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let mut args: Vec<String> = logs.files.iter().map(|p| p.display().to_string()).collect();
    args.extend([
        "-c".into(),
        logs.lab_cfg.display().to_string(),
        "-o".into(),
        page.display().to_string(),
        "-q".into(),
    ]);
    args.extend(["--title".into(), "the attack captures".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(report(&refs).status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    insta::assert_snapshot!(outline(&html));
}

/// Section ids, headings, the verdict kinds of each list, each kind of
/// table with its columns (once), and how many host sections: one a line.
fn outline(html: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut hosts = 0;
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let tag = &rest[..end];
        let inner = |close: &str| {
            rest[end..]
                .find(close)
                .map(|e| strip_tags(&rest[end..end + e]))
                .unwrap_or_default()
        };
        let mut once = |line: String, out: &mut Vec<String>| {
            if seen.insert(line.clone()) {
                out.push(line);
            }
        };
        if tag.starts_with("<section") {
            out.push(format!("section {}", attr(tag, "id").unwrap_or_default()));
        } else if tag.starts_with("<article class=\"host\"") {
            hosts += 1;
        } else if tag.starts_with("<h1") || tag.starts_with("<h2") || tag.starts_with("<h3") {
            if !(tag.starts_with("<h3") && rest[end..].starts_with("<span class=\"ip\"")) {
                out.push(format!(
                    "  {} {}",
                    &tag[1..3],
                    inner(&format!("</{}>", &tag[1..3]))
                ));
            }
        } else if tag.starts_with("<h4") {
            // Role headings name the role, not the host.
            once(format!("  h4 {}", inner("</h4>")), &mut out);
        } else if tag.starts_with("<table") {
            let columns = rest[end..]
                .find("</thead>")
                .map(|e| strip_tags(&rest[end..end + e]))
                .unwrap_or_default();
            // The counters table has a column per input file: their names vary.
            let columns = if tag.contains("counters") {
                String::new()
            } else {
                columns
            };
            once(
                format!(
                    "    table {}: {columns}",
                    attr(tag, "class").unwrap_or_default()
                ),
                &mut out,
            );
        } else if tag.starts_with("<ol class=\"verdicts") {
            let list = &rest[end..rest[end..].find("</ol>").map_or(rest.len(), |e| end + e)];
            let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
            for (j, _) in list.match_indices("data-kind=\"") {
                let k = &list[j + 11..];
                *kinds
                    .entry(k[..k.find('"').unwrap_or(0)].to_owned())
                    .or_default() += 1;
            }
            for (k, n) in kinds {
                out.push(format!("    verdicts {k}: {n}"));
            }
        }
        rest = &rest[end.min(rest.len())..];
    }
    out.push(format!("host sections: {hosts}"));
    out.join("\n")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let i = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let j = tag[i..].find('"')?;
    Some(tag[i..i + j].to_owned())
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => {
                inside = false;
                out.push(' ');
            }
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn unreadable_input_is_named_and_the_exit_status_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    std::fs::write(
        &eve,
        "{\"timestamp\":\"2024-01-01T00:00:00.000000+0000\",\"event_type\":\"flow\"}\nnot json\n{\"event_type\":\"alert\",\"alert\":{\"signature_id\":\"x\"}}\n",
    )
    .unwrap();
    let page = dir.path().join("r.html");
    let r = report(&[eve.to_str().unwrap(), "-o", page.to_str().unwrap(), "-q"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:", eve.display())),
        "{stderr}"
    );
    assert!(stderr.contains("2 lines not read"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Read this first") && html.contains("alert.signature_id"),
        "the page says it too"
    );

    let r = report(&[
        dir.path().join("missing.json").to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing.json"));
    let r = report(&[dir.path().to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(
        report(&["--no-such-flag"]).status.code(),
        Some(2),
        "a bad command line"
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("is a directory"));
    let bad_cfg = dir.path().join("bad.yaml");
    std::fs::write(&bad_cfg, "home_net:\n  - 10.0.0.0/8\n  - nonsense\n").unwrap();
    let r = report(&[
        eve.to_str().unwrap(),
        "-c",
        bad_cfg.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("bad.yaml") && e.contains("home_net[1]"), "{e}");
}

/// Without -c or --home-net the report takes the sensor's own default home_net.
#[test]
fn the_default_home_net_is_the_sensors() {
    let out = bin().arg("--check-config").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let cfg: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let nets: Vec<String> = cfg["home_net"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(nets, fumidai_report::nets::DEFAULT_HOME_NET);
}
