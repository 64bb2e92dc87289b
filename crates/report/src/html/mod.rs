//! The page. One HTML file with its CSS, script and charts inline and no
//! reference to anything outside it, so it opens offline and can be attached
//! to a ticket. Everything that came from the log is escaped ([`esc`]): host
//! names, URLs, mail subjects and recipients are chosen by attackers.
//! Tables are sorted on the server (by count) and re-sortable with a few
//! lines of script; without script the page is whole, only not re-sortable.

pub mod svg;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;

use crate::cli::ReportArgs;
use crate::model::{Host, Kind, Model, Pair, PairIndex, limits, plural};
use crate::nets::HomeNet;
use crate::tally::Seen;
use crate::verdict::{self, Verdict, num, ratio, time};

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// Hosts given a section of their own (the verdict list names them all).
pub const DETAIL_HOSTS: usize = 200;
/// Rows shown in the big tables (all are counted).
pub const TABLE_ROWS: usize = 500;
/// Rows shown in a host's or a victim's small tables.
pub const SMALL_ROWS: usize = 20;
/// Victims given a chart.
pub const CHARTED_VICTIMS: usize = 20;

/// What the page says about its own making.
pub struct PageInfo {
    pub title: String,
    pub home: String,
    pub version: &'static str,
}

impl PageInfo {
    pub fn new(args: &ReportArgs, home: &HomeNet) -> Self {
        let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
        let nets: Vec<String> = home.nets().iter().map(|n| n.to_string()).collect();
        PageInfo {
            title: args
                .title
                .clone()
                .unwrap_or_else(|| format!("fumidai report: {}", names.join(", "))),
            home: format!("{} ({})", nets.join(", "), home.source),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Text for HTML (content or a double-quoted attribute). Control characters
/// and bidirectional overrides (which could make a host name read as
/// another) are shown as escapes rather than obeyed.
pub fn esc(s: &str) -> Cow<'_, str> {
    let needs = s
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"' | '\'') || is_hidden(c));
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_hidden(c) => {
                // As JSON writes it, so a record stays valid JSON.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Bytes in SI units: `44.0 kB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The anchor of a host's section.
pub fn host_id(ip: &IpAddr) -> String {
    let s: String = ip
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("host-{s}")
}

/// A cell: its HTML and, for sorting, its value.
struct Cell(String, Option<String>);

fn text(s: &str) -> Cell {
    Cell(esc(s).into_owned(), None)
}

fn count_cell(n: u64) -> Cell {
    Cell(num(n), Some(n.to_string()))
}

fn time_cell(us: u64) -> Cell {
    if us == 0 {
        Cell("–".into(), Some("0".into()))
    } else {
        Cell(time(us), Some(us.to_string()))
    }
}

fn bytes_cell(n: u64) -> Cell {
    Cell(
        format!(r#"<span title="{} bytes">{}</span>"#, num(n), bytes(n)),
        Some(n.to_string()),
    )
}

fn ratio_cell(r: Option<f64>) -> Cell {
    match r {
        Some(r) => Cell(format!("{}×", ratio(r)), Some(format!("{r}"))),
        None => Cell("–".into(), Some("-1".into())),
    }
}

/// A table; columns marked numeric sort as numbers.
fn table(out: &mut String, class: &str, head: &[(&str, bool)], rows: Vec<Vec<Cell>>) {
    let _ = write!(
        out,
        r#"<div class="scroll"><table class="sortable {class}"><thead><tr>"#
    );
    for (h, numeric) in head {
        let _ = write!(
            out,
            r#"<th scope="col"{}>{}</th>"#,
            if *numeric { r#" data-type="num""# } else { "" },
            esc(h)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, Cell(html, sort)) in row.into_iter().enumerate() {
            let numeric = head.get(i).is_some_and(|h| h.1);
            match sort {
                Some(v) => {
                    let _ = write!(
                        out,
                        r#"<td data-v="{}"{}>{html}</td>"#,
                        esc(&v),
                        if numeric { r#" class="n""# } else { "" }
                    );
                }
                None => {
                    let _ = write!(out, "<td>{html}</td>");
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn note(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        let _ = write!(
            out,
            r#"<p class="more">{} of {} {what} shown (the most frequent); the rest are counted above.</p>"#,
            num(shown as u64),
            num(total as u64)
        );
    }
}

struct Page<'a> {
    m: &'a Model,
    pairs: PairIndex<'a>,
    verdicts: Vec<Verdict>,
    /// Hosts with a section, in verdict order, and as a set for links.
    detailed: Vec<IpAddr>,
    linked: BTreeSet<IpAddr>,
    out: String,
}

impl Page<'_> {
    fn ip(&self, ip: &IpAddr) -> String {
        let ours = if self.m.home.contains(*ip) {
            " ours"
        } else {
            ""
        };
        if self.linked.contains(ip) {
            format!(
                r##"<a class="ip{ours}" href="#{}">{}</a>"##,
                host_id(ip),
                esc(&ip.to_string())
            )
        } else {
            format!(r#"<span class="ip{ours}">{}</span>"#, esc(&ip.to_string()))
        }
    }

    fn ip_cell(&self, ip: &IpAddr) -> Cell {
        Cell(self.ip(ip), Some(sort_key(ip)))
    }
}

/// Addresses sort numerically, IPv4 before IPv6.
fn sort_key(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:010}", u32::from(*v4)),
        IpAddr::V6(v6) => format!("z{:039}", u128::from(*v6)),
    }
}

/// The whole page.
pub fn render(m: &Model, info: &PageInfo) -> String {
    let verdicts = verdict::all(m);
    let mut detailed: Vec<IpAddr> = Vec::new();
    for v in &verdicts {
        if detailed.len() >= DETAIL_HOSTS {
            break;
        }
        if !detailed.contains(&v.host) {
            // At most DETAIL_HOSTS entries: a short scan.
            detailed.push(v.host);
        }
    }
    let mut p = Page {
        m,
        pairs: m.pair_index(),
        verdicts,
        linked: detailed.iter().copied().collect(),
        detailed,
        out: String::with_capacity(256 << 10),
    };
    head(&mut p, info);
    verdicts_section(&mut p);
    timeline_section(&mut p);
    hosts_section(&mut p);
    amplification_section(&mut p);
    probes_section(&mut p);
    signatures_section(&mut p);
    run_section(&mut p);
    let _ = write!(
        p.out,
        r##"</main><footer><p>Written by fumidai report {} from the EVE records named under <a href="#run">Run facts</a>; every figure is read from those records. Signature ids: docs/alerts.md.</p></footer><script>{SCRIPT}</script></body></html>"##,
        esc(info.version)
    );
    p.out.push('\n');
    p.out
}

fn head(p: &mut Page<'_>, info: &PageInfo) {
    let m = p.m;
    let lines: u64 = m.files.iter().map(|f| f.read.lines).sum();
    let ours = p.verdicts.iter().filter(|v| v.home).count();
    let _ = write!(
        p.out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="generator" content="fumidai report {}"><title>{}</title><style>{STYLE}</style></head><body><header><h1>{}</h1><p class="facts">{} verdict{} on hosts in home_net, {} outside · {} alerts · {} lines from {} file{}"#,
        esc(info.version),
        esc(&info.title),
        esc(&info.title),
        num(ours as u64),
        plural(ours as u64),
        num((p.verdicts.len() - ours) as u64),
        num(m.alerts),
        num(lines),
        num(m.files.len() as u64),
        plural(m.files.len() as u64)
    );
    if let (Some(a), Some(b)) = (m.first, m.last) {
        let _ = write!(p.out, " · packet time {} to {}", time(a), time(b));
    }
    let _ = write!(
        p.out,
        r##"</p><p class="facts">home_net: {}</p><nav><a href="#verdicts">Verdicts</a> <a href="#timeline">Over time</a> <a href="#hosts">Hosts</a> <a href="#amplification">Amplification</a> <a href="#probes">Probes</a> <a href="#signatures">Signatures</a> <a href="#run">Run facts</a></nav></header><main>"##,
        esc(&info.home)
    );
    // What could not be read or kept, before anything else.
    let warnings = m.warnings();
    let limits_hit = m.limits_hit();
    if !warnings.is_empty() || !limits_hit.is_empty() || !m.held_back.is_empty() {
        p.out
            .push_str(r#"<aside class="warn" id="warnings"><h2>Read this first</h2><ul>"#);
        for w in &warnings {
            let _ = write!(p.out, "<li>{}</li>", esc(w));
        }
        let mut held: Vec<_> = m.held_back.iter().collect();
        held.sort_by_key(|(sid, _)| **sid);
        for (sid, seen) in held {
            let _ = write!(
                p.out,
                r##"<li>The sensor held back {} alerts of <a class="sid" href="#sig-{sid}">{sid}</a> (its alert-rate ceiling, 9700090) between {} and {}: what this page counts of that signature is a lower bound.</li>"##,
                num(seen.count),
                time(seen.first),
                time(seen.last)
            );
        }
        for (what, cap, n) in &limits_hit {
            let _ = write!(
                p.out,
                "<li>{} {what} (limit {}): left out of what is itemised below.</li>",
                num(*n),
                num(*cap as u64)
            );
        }
        p.out.push_str("</ul></aside>");
    }
}

fn sids_html(sids: &[(u32, u64)]) -> String {
    sids.iter()
        .map(|(s, n)| {
            format!(
                r##"<a class="sid" href="#sig-{s}">{s}</a>{}"##,
                if *n > 1 {
                    format!("×{}", num(*n))
                } else {
                    String::new()
                }
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn verdict_li(p: &Page<'_>, v: &Verdict, with_host: bool) -> String {
    let mut attrs = String::new();
    for (k, val) in &v.data {
        let _ = write!(attrs, r#" data-{k}="{}""#, esc(val));
    }
    format!(
        r#"<li class="verdict sev{sev}" data-kind="{kind}" data-host="{host}" data-severity="{sev}" data-confirmed="{conf}"{attrs}><span class="badge sev{sev}">severity {sev}</span> <span class="conf {confc}">{confw}</span> {hostlink}<span class="what">{what}</span> <span class="detail">({detail})</span> <span class="sids">sids {sids}</span></li>"#,
        sev = v.severity,
        kind = v.kind.slug(),
        host = esc(&v.host.to_string()),
        conf = v.confirmed,
        confc = if v.confirmed { "yes" } else { "no" },
        confw = if v.confirmed {
            "confirmed"
        } else {
            "suspected"
        },
        hostlink = if with_host {
            format!("{}: ", p.ip(&v.host))
        } else {
            String::new()
        },
        what = esc(&v.what),
        detail = esc(&v.detail),
        sids = sids_html(&v.sids),
    )
}

fn verdicts_section(p: &mut Page<'_>) {
    let mut s = String::from(r#"<section id="verdicts"><h2>Verdicts</h2>"#);
    let (ours, others): (Vec<&Verdict>, Vec<&Verdict>) = p.verdicts.iter().partition(|v| v.home);
    s.push_str(r#"<p class="lead">Hosts in home_net that fumidai has evidence against, worst first. <em>Confirmed</em>: the abuse was seen succeeding (a tunnel granted, a relay accepted, an amplified answer measured); <em>suspected</em>: probed or attempted only.</p>"#);
    // How many of each, before the list.
    let mut by_kind: std::collections::BTreeMap<Kind, [u64; 4]> = Default::default();
    for v in &p.verdicts {
        let i = usize::from(!v.home) * 2 + usize::from(!v.confirmed);
        by_kind.entry(v.kind).or_default()[i] += 1;
    }
    if !by_kind.is_empty() {
        s.push_str(r#"<div class="scroll"><table class="summary"><thead><tr><th scope="col">role</th><th scope="col">home_net, confirmed</th><th scope="col">home_net, suspected</th><th scope="col">outside, confirmed</th><th scope="col">outside, suspected</th></tr></thead><tbody>"#);
        for (kind, n) in &by_kind {
            let _ = write!(
                s,
                r#"<tr data-kind="{}"><th scope="row">{}</th>"#,
                kind.slug(),
                esc(kind.label())
            );
            for v in n {
                let _ = write!(
                    s,
                    r#"<td class="n">{}</td>"#,
                    if *v == 0 { "–".into() } else { num(*v) }
                );
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table></div>");
    }
    if ours.is_empty() {
        s.push_str(
            r#"<p class="none">No host in home_net has evidence against it in these records.</p>"#,
        );
    } else {
        s.push_str(r#"<ol class="verdicts home">"#);
        for v in &ours {
            s.push_str(&verdict_li(p, v, true));
        }
        s.push_str("</ol>");
    }
    if !others.is_empty() {
        s.push_str(r#"<h3>Hosts outside home_net</h3><p class="lead">Stepping stones and victims elsewhere, seen from here.</p><ol class="verdicts other">"#);
        for v in &others {
            s.push_str(&verdict_li(p, v, true));
        }
        s.push_str("</ol>");
    }
    s.push_str("</section>");
    p.out.push_str(&s);
}

fn timeline_section(p: &mut Page<'_>) {
    let m = p.m;
    let mut s = String::from(r#"<section id="timeline"><h2>Alerts over time</h2>"#);
    match (m.first, m.last) {
        (Some(lo), Some(hi)) if m.alerts > 0 => {
            s.push_str(r#"<figure>"#);
            s.push_str(&svg::by_severity(&m.by_severity, lo, hi));
            s.push_str(
                "<figcaption>All alerts by packet time, stacked by severity.</figcaption></figure>",
            );
        }
        _ => s.push_str(r#"<p class="none">No alerts.</p>"#),
    }
    s.push_str("</section>");
    p.out.push_str(&s);
}

fn hosts_section(p: &mut Page<'_>) {
    let mut s = String::from(r#"<section id="hosts"><h2>Hosts</h2>"#);
    if p.detailed.is_empty() {
        s.push_str(r#"<p class="none">No host has evidence against it.</p>"#);
    }
    let total_hosts: BTreeSet<IpAddr> = p.verdicts.iter().map(|v| v.host).collect();
    note(&mut s, p.detailed.len(), total_hosts.len(), "hosts");
    for ip in p.detailed.clone() {
        if let Some(h) = p.m.host(&ip) {
            host_article(p, &mut s, &ip, h);
        }
    }
    s.push_str("</section>");
    p.out.push_str(&s);
}

fn host_article(p: &Page<'_>, s: &mut String, ip: &IpAddr, h: &Host) {
    let m = p.m;
    let _ = write!(
        s,
        r#"<article class="host" id="{}"><h3><span class="ip">{}</span> <small>{}</small></h3><ul class="verdicts brief">"#,
        host_id(ip),
        esc(&ip.to_string()),
        if h.home {
            "in home_net"
        } else {
            "outside home_net"
        }
    );
    for v in p.verdicts.iter().filter(|v| v.host == *ip) {
        s.push_str(&verdict_li(p, v, false));
    }
    s.push_str("</ul>");
    // The timeline: one strip per signature.
    let rows: Vec<(String, &crate::hist::Hist<u64>)> = h
        .sids
        .iter()
        .filter(|(_, st)| !st.hist.is_empty())
        .map(|(sid, st)| (sid.to_string(), &st.hist))
        .collect();
    let lo = h
        .sids
        .values()
        .map(|st| st.seen.first)
        .filter(|&t| t > 0)
        .min();
    let hi = h.sids.values().map(|st| st.seen.last).max();
    if let (Some(lo), Some(hi)) = (lo, hi)
        && !rows.is_empty()
    {
        s.push_str("<figure>");
        s.push_str(&svg::small_multiples(
            &rows,
            lo,
            hi,
            &format!("Alerts on {ip} over time, by signature"),
        ));
        let _ = write!(
            s,
            "<figcaption>Alerts on {} by signature, {} to {}; each strip scaled to its own peak.</figcaption></figure>",
            esc(&ip.to_string()),
            time(lo),
            time(hi)
        );
    }
    if h.sids_refused > 0 {
        let _ = write!(
            s,
            r#"<p class="more">{} alerts of further signatures not charted.</p>"#,
            num(h.sids_refused)
        );
    }
    // Peers and targets, per role.
    for kind in h.kinds.keys() {
        let peers = h.peers.top_where(SMALL_ROWS, |(k, _)| k == kind);
        let all = h.peers.iter().filter(|((k, _), _)| k == kind).count();
        if !peers.is_empty() {
            let _ = write!(
                s,
                "<h4>{} ({})</h4>",
                esc(&capitalised(kind.peers())),
                esc(role(*kind))
            );
            let rows = peers
                .into_iter()
                .map(|((_, peer), seen)| {
                    vec![
                        p.ip_cell(peer),
                        text(if m.home.contains(*peer) {
                            "home_net"
                        } else {
                            "outside"
                        }),
                        count_cell(seen.count),
                        time_cell(seen.first),
                        time_cell(seen.last),
                    ]
                })
                .collect();
            table(
                s,
                "peers",
                &[
                    ("address", false),
                    ("where", false),
                    ("alerts", true),
                    ("first", true),
                    ("last", true),
                ],
                rows,
            );
            note(s, SMALL_ROWS.min(all), all, kind.peers());
        }
    }
    if h.peers.untallied > 0 {
        let _ = write!(
            s,
            r#"<p class="more">{} alerts from further peers not itemised (limit {} per host).</p>"#,
            num(h.peers.untallied),
            limits::PEERS_PER_HOST
        );
    }
    amp_peers(p, s, ip, h);
    let targets = h.targets.top(SMALL_ROWS);
    if !targets.is_empty() {
        s.push_str("<h4>Targets</h4>");
        let rows = targets
            .into_iter()
            .map(|((t, what), seen)| {
                vec![
                    text(t.label()),
                    Cell(format!("<code>{}</code>", esc(what)), Some(what.clone())),
                    count_cell(seen.count),
                    time_cell(seen.first),
                    time_cell(seen.last),
                ]
            })
            .collect();
        table(
            s,
            "targets",
            &[
                ("what", false),
                ("target", false),
                ("alerts", true),
                ("first", true),
                ("last", true),
            ],
            rows,
        );
        note(
            s,
            SMALL_ROWS.min(h.targets.len()),
            h.targets.len(),
            "targets",
        );
    }
    if h.targets.untallied > 0 {
        let _ = write!(
            s,
            r#"<p class="more">{} further targets not itemised (limit {} per host).</p>"#,
            num(h.targets.untallied),
            limits::TARGETS_PER_HOST
        );
    }
    records(p, s, ip, h);
    s.push_str("</article>");
}

/// For amplifiers and victims: the other side of each pair, with its figures.
fn amp_peers(p: &Page<'_>, s: &mut String, ip: &IpAddr, h: &Host) {
    for (kind, title, mine) in [
        (Kind::Amplifier, "Victims of its answers", true),
        (Kind::Victim, "Reflectors hitting it", false),
    ] {
        if !h.kinds.contains_key(&kind) {
            continue;
        }
        let side = if mine {
            &p.pairs.by_reflector
        } else {
            &p.pairs.by_victim
        };
        let mut pairs: Vec<(IpAddr, &Pair)> = side.get(ip).cloned().unwrap_or_default();
        if pairs.is_empty() {
            continue;
        }
        let all = pairs.len();
        pairs.sort_by(|a, b| {
            b.1.response_bytes
                .cmp(&a.1.response_bytes)
                .then(b.1.seen.count.cmp(&a.1.seen.count))
                .then(a.0.cmp(&b.0))
        });
        pairs.truncate(SMALL_ROWS);
        let _ = write!(s, "<h4>{}</h4>", esc(title));
        let rows = pairs
            .into_iter()
            .map(|(peer, pair)| pair_row(p, &peer, pair))
            .collect();
        table(s, "pairs", PAIR_HEAD, rows);
        note(
            s,
            SMALL_ROWS.min(all),
            all,
            if mine { "victims" } else { "reflectors" },
        );
    }
}

const PAIR_HEAD: &[(&str, bool)] = &[
    ("address", false),
    ("service", false),
    ("alerts", true),
    ("response bytes", true),
    ("request bytes", true),
    ("peak ratio", true),
    ("monlist answers", true),
    ("first", true),
    ("last", true),
];

fn pair_row(p: &Page<'_>, peer: &IpAddr, pair: &Pair) -> Vec<Cell> {
    vec![
        p.ip_cell(peer),
        text(&pair.service),
        count_cell(pair.seen.count),
        bytes_cell(pair.response_bytes),
        bytes_cell(pair.request_bytes),
        ratio_cell(pair.peak_ratio),
        count_cell(pair.monlist),
        time_cell(pair.seen.first),
        time_cell(pair.seen.last),
    ]
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn role(kind: Kind) -> &'static str {
    match kind {
        Kind::HttpProxy => "as an HTTP proxy",
        Kind::SocksProxy => "as a SOCKS proxy",
        Kind::Relay => "as an SMTP relay",
        Kind::Amplifier => "as an amplifier",
        Kind::SpamBot => "as a spam bot",
        Kind::Victim => "as a victim",
        Kind::ProxyListed => "as named by proxy checkers",
        Kind::Sweeper => "as a sweeper",
        Kind::Client => "as a user of stepping stones",
    }
}

/// The raw records behind a host: the first and the latest per signature,
/// copyable, with the command that finds the rest of their flow.
fn records(p: &Page<'_>, s: &mut String, ip: &IpAddr, h: &Host) {
    if h.samples.is_empty() {
        return;
    }
    let _ = write!(
        s,
        r#"<details class="records"><summary>EVE records: the first and the latest per signature ({})</summary>"#,
        num(h
            .samples
            .values()
            .map(|(_, l)| 1 + u64::from(l.is_some()))
            .sum())
    );
    for (first, last) in h.samples.values() {
        for (which, sample) in [("first", Some(first)), ("latest", last.as_ref())] {
            let Some(sm) = sample else { continue };
            let id = format!(
                "rec-{}-{}-{}-{}",
                host_id(ip),
                sm.sid,
                sm.flow_id.unwrap_or(0),
                sm.tx_id.map_or("none".to_string(), |t| t.to_string())
            );
            let file = p.m.files.get(sm.file).map_or("?", |f| f.path.as_str());
            let _ = write!(
                s,
                r##"<div class="rec" id="{id}-{which}"><p><a class="sid" href="#sig-{sid}">{sid}</a> {which} · <code>flow_id {flow}</code> · <code>tx_id {tx}</code> · {time} · {file}:{line} <button type="button" class="copy" data-copy="{id}-{which}-json" hidden>copy</button></p>"##,
                sid = sm.sid,
                flow = sm.flow_id.map_or("–".to_string(), |f| f.to_string()),
                tx = sm.tx_id.map_or("–".to_string(), |t| t.to_string()),
                time = sm.time.map_or("–".to_string(), time),
                file = esc(file),
                line = sm.line_no,
            );
            match &sm.line {
                Some(l) => {
                    let _ = write!(s, r#"<pre class="json" id="{id}-{which}-json">{}</pre>"#, esc(l));
                }
                None => s.push_str(r#"<p class="more">Record not kept (too long, or the page's record budget was spent): find it by its file and line.</p>"#),
            }
            if let Some(f) = sm.flow_id {
                let _ = write!(
                    s,
                    r#"<p class="hint">Every record of this flow: <code>jq -c 'select(.flow_id=={f})' {}</code></p>"#,
                    esc(file)
                );
            }
            s.push_str("</div>");
        }
    }
    s.push_str("</details>");
}

/// One side of the amplification pairs (a victim or a reflector) with
/// the other sides it was paired with.
#[derive(Default)]
struct Side {
    services: BTreeSet<String>,
    /// The other side of each pair, in address order.
    peers: Vec<IpAddr>,
    seen: Seen,
    bytes: u64,
    monlist: u64,
    ratio: Option<f64>,
    /// 9700033's count of reflectors, when larger than the pairs seen.
    reflectors_max: u64,
}

impl Side {
    fn reflectors(&self) -> u64 {
        (self.peers.len() as u64).max(self.reflectors_max)
    }
}

/// The pairs folded by one side (`key`), collecting the other (`other`).
fn sides(
    m: &Model,
    key: impl Fn(&(IpAddr, IpAddr)) -> IpAddr,
    other: impl Fn(&(IpAddr, IpAddr)) -> IpAddr,
) -> std::collections::BTreeMap<IpAddr, Side> {
    let mut out: std::collections::BTreeMap<IpAddr, Side> = Default::default();
    for (k, pair) in m.pairs.iter() {
        let e = out.entry(key(k)).or_default();
        e.services.insert(pair.service.clone());
        e.peers.push(other(k));
        e.seen.merge(&pair.seen);
        e.bytes = e.bytes.saturating_add(pair.response_bytes);
        e.monlist += pair.monlist;
        e.reflectors_max = e.reflectors_max.max(pair.reflectors);
        if let Some(r) = pair.peak_ratio {
            e.ratio = Some(e.ratio.map_or(r, |x| x.max(r)));
        }
    }
    for side in out.values_mut() {
        side.peers.sort();
    }
    out
}

fn amplification_section(p: &mut Page<'_>) {
    let m = p.m;
    let mut s = String::from(r#"<section id="amplification"><h2>Amplification</h2>"#);
    if m.pairs.is_empty() {
        s.push_str(r#"<p class="none">No amplification or monlist alerts.</p></section>"#);
        p.out.push_str(&s);
        return;
    }
    s.push_str(r#"<p class="lead">From the evidence of alerts 9700031–9700034: bytes and ratios are those each alert measured over its window (fumidai alerts once per pair and window while the condition holds), so totals cover the alerted windows.</p>"#);
    // Victims.
    let mut victims: Vec<(IpAddr, Side)> = sides(m, |(_, v)| *v, |(r, _)| *r).into_iter().collect();
    victims.sort_by(|a, b| {
        m.home
            .contains(b.0)
            .cmp(&m.home.contains(a.0))
            .then(b.1.bytes.cmp(&a.1.bytes))
            .then(b.1.seen.count.cmp(&a.1.seen.count))
            .then(a.0.cmp(&b.0))
    });
    s.push_str("<h3>Victims</h3>");
    let n = victims.len();
    let rows = victims
        .iter()
        .take(TABLE_ROWS)
        .map(|(ip, v)| {
            vec![
                p.ip_cell(ip),
                text(if m.home.contains(*ip) {
                    "home_net"
                } else {
                    "outside"
                }),
                text(&v.services.iter().cloned().collect::<Vec<_>>().join(", ")),
                count_cell(v.reflectors()),
                count_cell(v.seen.count),
                bytes_cell(v.bytes),
                ratio_cell(v.ratio),
                time_cell(v.seen.first),
                time_cell(v.seen.last),
            ]
        })
        .collect();
    table(
        &mut s,
        "victims",
        &[
            ("victim", false),
            ("where", false),
            ("service", false),
            ("reflectors", true),
            ("alerts", true),
            ("response bytes", true),
            ("peak ratio", true),
            ("first", true),
            ("last", true),
        ],
        rows,
    );
    note(&mut s, TABLE_ROWS.min(n), n, "victims");
    // Charts of the victims with the most bytes.
    let mut charted = 0;
    for (ip, v) in &victims {
        if charted >= CHARTED_VICTIMS {
            break;
        }
        let Some(series) = m.series.get(ip) else {
            continue;
        };
        // A single measurement is all in the table; a chart shows a course.
        let windows = series.bytes.iter().filter(|(_, b)| *b > 0).count();
        if windows < 2 || v.seen.first == 0 {
            continue;
        }
        charted += 1;
        let _ = write!(
            s,
            "<figure class=\"victim\"><figcaption>{}: amplified bytes per second (from the alerts' {}-second windows) and peak ratio</figcaption>",
            p.ip(ip),
            series.window_s
        );
        s.push_str(&svg::amplification(
            &series.bytes,
            &series.ratio,
            series.window_s,
            v.seen.first,
            v.seen.last.max(v.seen.first),
        ));
        s.push_str("</figure>");
    }
    // Reflectors.
    let mut refl: Vec<(IpAddr, Side)> = sides(m, |(r, _)| *r, |(_, v)| *v).into_iter().collect();
    refl.sort_by(|a, b| {
        m.home
            .contains(b.0)
            .cmp(&m.home.contains(a.0))
            .then(b.1.bytes.cmp(&a.1.bytes))
            .then(b.1.seen.count.cmp(&a.1.seen.count))
            .then(a.0.cmp(&b.0))
    });
    s.push_str("<h3>Reflectors</h3>");
    let n = refl.len();
    let rows = refl
        .iter()
        .take(TABLE_ROWS)
        .map(|(ip, side)| {
            let vs = &side.peers;
            let shown: Vec<String> = vs.iter().take(5).map(|v| p.ip(v)).collect();
            let more = if vs.len() > 5 {
                format!(" +{}", num(vs.len() as u64 - 5))
            } else {
                String::new()
            };
            vec![
                p.ip_cell(ip),
                text(if m.home.contains(*ip) {
                    "home_net"
                } else {
                    "outside"
                }),
                text(&side.services.iter().cloned().collect::<Vec<_>>().join(", ")),
                Cell(
                    format!("{}{more}", shown.join(" ")),
                    Some(format!("{:010}", vs.len())),
                ),
                count_cell(side.seen.count),
                count_cell(side.monlist),
                bytes_cell(side.bytes),
                ratio_cell(side.ratio),
                time_cell(side.seen.first),
                time_cell(side.seen.last),
            ]
        })
        .collect();
    table(
        &mut s,
        "reflectors",
        &[
            ("reflector", false),
            ("where", false),
            ("service", false),
            ("victims", false),
            ("alerts", true),
            ("monlist answers", true),
            ("response bytes", true),
            ("peak ratio", true),
            ("first", true),
            ("last", true),
        ],
        rows,
    );
    note(&mut s, TABLE_ROWS.min(n), n, "reflectors");
    s.push_str("</section>");
    p.out.push_str(&s);
}

/// Short names of the probing signatures.
fn probe_kind(sid: u32) -> &'static str {
    match sid {
        9_700_001 => "open-proxy probe (absolute-form request)",
        9_700_002 => "CONNECT to a mail port",
        9_700_004 => "CONNECT to another port",
        9_700_010 => "SOCKS CONNECT to a mail port",
        9_700_012 => "SOCKS probe from outside",
        9_700_020 => "SMTP relay attempt",
        9_700_022 => "proxy-check mail",
        9_700_030 => "NTP monlist request",
        9_700_040 => "proxy port sweep",
        _ => "probe",
    }
}

fn probes_section(p: &mut Page<'_>) {
    let m = p.m;
    let mut s = String::from(r#"<section id="probes"><h2>Probes</h2>"#);
    if m.probes.is_empty() {
        s.push_str(r#"<p class="none">No probes.</p></section>"#);
        p.out.push_str(&s);
        return;
    }
    s.push_str(r#"<p class="lead">Attempts to find or use a stepping stone, by source and target, most frequent first (click a heading to sort). A proxy-check mail carries the <code>IPv4:port</code> of the proxy the prober hopes it went through: the last column says which host that names.</p>"#);
    let top = m.probes.top(TABLE_ROWS);
    let rows = top
        .into_iter()
        .map(|(k, seen)| {
            let from = match k.src {
                Some(a) if m.home.contains(a) => "home_net",
                Some(_) => "outside",
                None => "–",
            };
            let names = match k.named {
                Some(a) if m.home.contains(a) => format!("our host {}", p.ip(&a)),
                Some(a) => format!("{} (not in home_net)", p.ip(&a)),
                None => "–".into(),
            };
            vec![
                count_cell(seen.count),
                Cell(
                    format!(
                        r##"{} <a class="sid" href="#sig-{}">{}</a>"##,
                        esc(probe_kind(k.sid)),
                        k.sid,
                        k.sid
                    ),
                    Some(k.sid.to_string()),
                ),
                k.src.map_or(text("–"), |a| p.ip_cell(&a)),
                text(from),
                k.dest.map_or(text("–"), |a| p.ip_cell(&a)),
                Cell(
                    format!("<code>{}</code>", esc(&k.detail)),
                    Some(k.detail.clone()),
                ),
                Cell(names, None),
                time_cell(seen.first),
                time_cell(seen.last),
            ]
        })
        .collect();
    table(
        &mut s,
        "probes",
        &[
            ("count", true),
            ("kind", false),
            ("source", false),
            ("from", false),
            ("target", false),
            ("detail", false),
            ("names", false),
            ("first", true),
            ("last", true),
        ],
        rows,
    );
    note(
        &mut s,
        TABLE_ROWS.min(m.probes.len()),
        m.probes.len(),
        "probe rows",
    );
    s.push_str("</section>");
    p.out.push_str(&s);
}

fn signatures_section(p: &mut Page<'_>) {
    let m = p.m;
    let mut s = String::from(r#"<section id="signatures"><h2>Alerts by signature</h2>"#);
    if m.sigs.is_empty() {
        s.push_str(r#"<p class="none">No alerts.</p></section>"#);
        p.out.push_str(&s);
        return;
    }
    let mut sigs: Vec<_> = m.sigs.iter().collect();
    sigs.sort_by_key(|(sid, _)| **sid);
    let _ = write!(
        s,
        r#"<div class="scroll"><table class="sortable sigs"><thead><tr><th scope="col" data-type="num">sid</th><th scope="col" data-type="num">severity</th><th scope="col">signature</th><th scope="col" data-type="num">alerts</th><th scope="col" data-type="num">first</th><th scope="col" data-type="num">last</th></tr></thead><tbody>"#
    );
    for (sid, st) in sigs {
        let _ = write!(
            s,
            r#"<tr id="sig-{sid}"><td data-v="{sid}" class="n">{sid}</td><td data-v="{sev}" class="n"><span class="badge sev{sev}">{sev}</span></td><td>{sig}</td><td data-v="{n}" class="n">{nn}</td><td data-v="{f}" class="n">{ft}</td><td data-v="{l}" class="n">{lt}</td></tr>"#,
            sev = st.severity,
            sig = esc(&st.signature),
            n = st.seen.count,
            nn = num(st.seen.count),
            f = st.seen.first,
            ft = if st.seen.first > 0 {
                time(st.seen.first)
            } else {
                "–".into()
            },
            l = st.seen.last,
            lt = if st.seen.last > 0 {
                time(st.seen.last)
            } else {
                "–".into()
            },
        );
    }
    s.push_str("</tbody></table></div></section>");
    p.out.push_str(&s);
}

/// Counters that say something was lost or given up: judged by the last
/// part of the name, so that a configured limit (`memcap.flow.memcap`) or a
/// level (`memuse`, `expired`) is not taken for a loss.
fn is_loss(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    name == "flow.memcap"
        || ["drop", "gap", "suppressed", "truncated", "error"]
            .iter()
            .any(|w| last.contains(w))
        || matches!(
            last,
            "refused" | "evicted" | "invalid" | "undelivered" | "max_trackers_reached"
        )
}

fn run_section(p: &mut Page<'_>) {
    let m = p.m;
    let mut s = String::from(r#"<section id="run"><h2>Run facts</h2><h3>Input</h3>"#);
    let rows = m
        .files
        .iter()
        .map(|f| {
            let events: Vec<String> = f
                .events
                .iter()
                .map(|(t, n)| format!("{} {}", esc(t), num(*n)))
                .collect();
            let mut problems = Vec::new();
            if f.unreadable > 0 {
                problems.push(format!(
                    "{} unreadable line{}",
                    num(f.unreadable),
                    plural(f.unreadable)
                ));
            }
            if f.read.oversize > 0 {
                problems.push(format!(
                    "{} over-long line{} skipped",
                    num(f.read.oversize),
                    plural(f.read.oversize)
                ));
            }
            if let Some(st) = &f.read.stopped {
                problems.push(st.clone());
            }
            for e in &f.errors {
                problems.push(e.clone());
            }
            vec![
                Cell(
                    format!("<code>{}</code>", esc(&f.path)),
                    Some(f.path.clone()),
                ),
                bytes_cell(f.read.raw_bytes),
                text(if f.read.gzip { "gzip" } else { "plain" }),
                count_cell(f.read.lines),
                Cell(events.join(", "), None),
                time_cell(f.first.unwrap_or(0)),
                time_cell(f.last.unwrap_or(0)),
                count_cell(f.runs),
                text(&if problems.is_empty() {
                    "none".to_string()
                } else {
                    problems.join("; ")
                }),
            ]
        })
        .collect();
    table(
        &mut s,
        "files",
        &[
            ("file", false),
            ("size", true),
            ("format", false),
            ("lines", true),
            ("events", false),
            ("first", true),
            ("last", true),
            ("runs (stats)", true),
            ("not read", false),
        ],
        rows,
    );
    // The sensor's own counters, from each file's last stats record.
    let with_stats: Vec<_> = m
        .files
        .iter()
        .filter_map(|f| f.stats.as_ref().map(|c| (f, c)))
        .collect();
    if with_stats.is_empty() {
        s.push_str(r#"<p class="none">No <code>stats</code> records: packets, flows and loss are unknown.</p>"#);
    } else {
        s.push_str(r#"<h3>Sensor counters</h3><p class="lead">From the last <code>stats</code> record of each run (summed over runs appended to one file).</p>"#);
        let key = [
            ("packets", "decoder.pkts"),
            ("bytes", "decoder.bytes"),
            ("flows", "flow.total"),
            ("TCP flows", "flow.tcp"),
            ("UDP flows", "flow.udp"),
            ("invalid packets", "decoder.invalid"),
            ("kernel packets", "capture.kernel_packets"),
            ("kernel drops", "capture.kernel_drops"),
            ("interface drops", "capture.kernel_ifdrops"),
            ("TCP reassembly gaps", "tcp.reassembly_gap"),
            ("alerts", "detect.alert"),
            ("alerts held back", "detect.alerts_suppressed"),
        ];
        let _ = write!(
            s,
            r#"<div class="scroll"><table class="counters"><thead><tr><th scope="col">counter</th>"#
        );
        for (f, _) in &with_stats {
            let _ = write!(s, r#"<th scope="col"><code>{}</code></th>"#, esc(&f.path));
        }
        s.push_str("</tr></thead><tbody>");
        for (label, name) in key {
            let _ = write!(s, "<tr><th scope=\"row\">{label} <code>{name}</code></th>");
            for (_, c) in &with_stats {
                let v = c.0.get(name);
                let _ = write!(
                    s,
                    r#"<td class="n">{}</td>"#,
                    v.map_or("–".into(), |v| num(*v))
                );
            }
            s.push_str("</tr>");
        }
        let decoder_events: Vec<u64> = with_stats
            .iter()
            .map(|(_, c)| {
                c.0.iter()
                    .filter(|(k, _)| k.starts_with("decoder.event."))
                    .map(|(_, v)| *v)
                    .sum()
            })
            .collect();
        s.push_str("<tr><th scope=\"row\">decoder events <code>decoder.event.*</code></th>");
        for v in decoder_events {
            let _ = write!(s, r#"<td class="n">{}</td>"#, num(v));
        }
        s.push_str("</tr></tbody></table></div>");
        // Outputs.
        let mut outputs: BTreeSet<String> = BTreeSet::new();
        for (_, c) in &with_stats {
            for k in c.0.keys() {
                if let Some(rest) = k.strip_prefix("output.")
                    && let Some((name, _)) = rest.split_once('.')
                {
                    outputs.insert(name.to_owned());
                }
            }
        }
        if !outputs.is_empty() {
            s.push_str("<h3>Outputs</h3>");
            let rows = with_stats
                .iter()
                .flat_map(|(f, c)| {
                    outputs
                        .iter()
                        .filter(|o| c.0.keys().any(|k| k.starts_with(&format!("output.{o}."))))
                        .map(move |o| {
                            let g = |n: &str| c.get(&format!("output.{o}.{n}"));
                            vec![
                                Cell(
                                    format!("<code>{}</code>", esc(&f.path)),
                                    Some(f.path.clone()),
                                ),
                                text(o),
                                count_cell(g("written")),
                                count_cell(g("dropped")),
                                count_cell(g("spooled")),
                                count_cell(g("spool_pending")),
                                count_cell(g("reconnects")),
                                count_cell(g("errors")),
                            ]
                        })
                })
                .collect();
            table(
                &mut s,
                "outputs",
                &[
                    ("file", false),
                    ("output", false),
                    ("written", true),
                    ("dropped", true),
                    ("spooled", true),
                    ("spool pending", true),
                    ("reconnects", true),
                    ("errors", true),
                ],
                rows,
            );
        }
        // Loss, plainly.
        let mut loss: Vec<(String, &str, u64)> = Vec::new();
        for (f, c) in &with_stats {
            for (k, v) in &c.0 {
                if *v > 0 && is_loss(k) {
                    loss.push((f.path.clone(), k.as_ref(), *v));
                }
            }
        }
        s.push_str("<h3>Loss</h3>");
        if loss.is_empty() {
            s.push_str(r#"<p class="ok">No counter reports loss: no drops, gaps, memcap hits, errors or suppressed events.</p>"#);
        } else {
            s.push_str(r#"<p class="lead">Counters that report something lost, skipped or given up (non-zero):</p>"#);
            let rows = loss
                .into_iter()
                .map(|(f, k, v)| {
                    vec![
                        Cell(format!("<code>{}</code>", esc(&f)), Some(f.clone())),
                        Cell(format!("<code>{}</code>", esc(k)), Some(k.to_owned())),
                        count_cell(v),
                    ]
                })
                .collect();
            table(
                &mut s,
                "loss",
                &[("file", false), ("counter", false), ("value", true)],
                rows,
            );
        }
        for (f, c) in &with_stats {
            let _ = write!(
                s,
                r#"<details class="allstats"><summary>All counters of <code>{}</code></summary><div class="scroll"><table class="counters"><tbody>"#,
                esc(&f.path)
            );
            for (k, v) in &c.0 {
                let _ = write!(
                    s,
                    r#"<tr><th scope="row"><code>{}</code></th><td class="n">{}</td></tr>"#,
                    esc(k),
                    num(*v)
                );
            }
            s.push_str("</tbody></table></div></details>");
        }
    }
    s.push_str("</section>");
    p.out.push_str(&s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_hidden_characters() {
        assert_eq!(esc("plain"), "plain");
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(esc("evil\u{202e}moc.example"), "evil\\u202emoc.example");
        assert_eq!(esc("a\u{0}b\u{1b}[31m"), "a\\u0000b\\u001b[31m");
    }

    proptest::proptest! {
        /// Whatever the log holds, the escaped text opens no tag, attribute or entity.
        #[test]
        fn escaped_text_has_no_markup(s in "\\PC*") {
            let e = esc(&s);
            proptest::prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
            // Every & starts one of the entities esc writes.
            for (i, _) in e.match_indices('&') {
                let rest = &e[i..];
                proptest::prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|x| rest.starts_with(x)));
            }
        }
    }

    #[test]
    fn losses_are_told_from_limits_and_levels() {
        for loss in [
            "capture.kernel_drops",
            "output.eve_json.dropped",
            "tcp.reassembly_gap",
            "memcap.flow.refused",
            "memcap.amp_pairs.evicted",
            "detect.alerts_suppressed",
            "flow.memcap",
            "defrag.memcap_drop",
            "decoder.invalid",
        ] {
            assert!(is_loss(loss), "{loss}");
        }
        for level in [
            "memcap.flow.memcap",
            "memcap.flow.memuse",
            "memcap.amp_pairs.expired",
            "decoder.pkts",
            "flow.total",
        ] {
            assert!(!is_loss(level), "{level}");
        }
    }

    #[test]
    fn bytes_in_si_units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(44_000), "44.0 kB");
        assert_eq!(bytes(1_500_000), "1.5 MB");
    }
}
