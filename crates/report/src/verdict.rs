//! One sentence per host and role, from the summaries: what the host is
//! ("open SMTP relay"), the figures that say so, taken from the records
//! ("accepted 3 recipients in 2 relayed mail transactions"), since when,
//! how sure (a confirmed verdict rests on a severity-1 signature that saw
//! the abuse succeed: a tunnel granted, a relay accepted, an amplified
//! answer measured), and the signatures behind it (docs/alerts.md).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::model::{Host, Kind, KindStat, Model, PairIndex, Target, plural};

/// A verdict on one host in one role.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub host: IpAddr,
    pub home: bool,
    pub kind: Kind,
    /// 1 (worst) to 3: the worst of its alerts.
    pub severity: u8,
    /// The abuse was seen succeeding, not only attempted.
    pub confirmed: bool,
    /// "open HTTP proxy", "probed as an open SOCKS proxy", …
    pub what: String,
    /// The figures, in words: "relayed SMTP to 1 mail server in 2 tunnels".
    pub detail: String,
    pub first: u64,
    pub last: u64,
    pub alerts: u64,
    pub sids: Vec<(u32, u64)>,
    /// The figures again, for `data-*` attributes (tests and scripts read these).
    pub data: Vec<(&'static str, String)>,
}

/// Every verdict: hosts in home_net first, then the worst, the confirmed,
/// the busiest.
pub fn all(m: &Model) -> Vec<Verdict> {
    let ix = m.pair_index();
    let mut v = Vec::new();
    for (ip, h) in m.home_hosts.iter().chain(m.other_hosts.iter()) {
        for (kind, k) in &h.kinds {
            v.push(one(m, &ix, *ip, h, *kind, k));
        }
    }
    v.sort_by(|a, b| {
        b.home
            .cmp(&a.home)
            .then(a.severity.cmp(&b.severity))
            .then(b.confirmed.cmp(&a.confirmed))
            .then(b.alerts.cmp(&a.alerts))
            .then(a.host.cmp(&b.host))
            .then(a.kind.cmp(&b.kind))
    });
    v
}

/// `n` with thousands separators: 1480 → "1,480".
pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "3 mail servers", "1 tunnel".
fn count(n: u64, word: &str) -> String {
    format!("{} {word}{}", num(n), plural(n))
}

/// A ratio as the sensor wrote it (one decimal).
pub fn ratio(r: f64) -> String {
    format!("{r}")
}

/// Packet time as `2026-11-29 11:52:36 UTC`.
pub fn time(us: u64) -> String {
    let b = fumidai_eve::EveTime::from_micros(us).format();
    let s = String::from_utf8_lossy(&b);
    format!("{} {} UTC", &s[..10], &s[11..19])
}

/// Distinct targets of one sort, and whether the count is a lower bound.
fn distinct(h: &Host, t: Target) -> (u64, bool) {
    let n = h.targets.iter().filter(|((k, _), _)| *k == t).count() as u64;
    (n, h.targets.overflowed())
}

fn distinct_peers(h: &Host, kind: Kind) -> (u64, bool) {
    let n = h.peers.iter().filter(|((k, _), _)| *k == kind).count() as u64;
    (n, h.peers.overflowed())
}

/// "at least 64 mail servers" when the list was full.
fn at_least(n: (u64, bool), word: &str) -> String {
    if n.1 {
        format!("at least {}", count(n.0, word))
    } else {
        count(n.0, word)
    }
}

fn one(m: &Model, ix: &PairIndex<'_>, ip: IpAddr, h: &Host, kind: Kind, k: &KindStat) -> Verdict {
    let mut data: Vec<(&'static str, String)> = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    let confirmed;
    let what: String;
    match kind {
        Kind::HttpProxy | Kind::SocksProxy => {
            let proto = if kind == Kind::HttpProxy {
                "HTTP"
            } else {
                "SOCKS"
            };
            let sessions = k.get("smtp_sessions");
            let tunnels = k.get("tunnels");
            if sessions > 0 {
                let servers = distinct(h, Target::SmtpRelayed);
                parts.push(format!(
                    "relayed SMTP to {} in {}",
                    at_least(servers, "mail server"),
                    count(sessions, "tunnel")
                ));
                data.push(("servers", servers.0.to_string()));
                data.push(("sessions", sessions.to_string()));
            }
            if tunnels > 0 {
                let servers = distinct(h, Target::MailTunnel);
                // With SMTP seen inside, the tunnels are the lesser news.
                if sessions == 0 {
                    parts.push(format!(
                        "tunnels to {} granted {}",
                        at_least(servers, "mail server"),
                        count(tunnels, "time")
                    ));
                }
                data.push(("tunnel-servers", servers.0.to_string()));
                data.push(("tunnels", tunnels.to_string()));
            }
            // A proxy request relayed through it: the tunnel was open.
            let chains = k.get("chains");
            if chains > 0 {
                parts.push(format!(
                    "relayed {} to further proxies",
                    count(chains, "proxy request")
                ));
                data.push(("chains", chains.to_string()));
            }
            confirmed = sessions > 0 || tunnels > 0 || chains > 0;
            if confirmed {
                what = format!("open {proto} proxy");
            } else {
                what = format!("probed as an open {proto} proxy");
                for (name, one, many) in [
                    (
                        "absolute",
                        "absolute-form request",
                        "absolute-form requests",
                    ),
                    (
                        "connect_mail",
                        "CONNECT to a mail port",
                        "CONNECTs to mail ports",
                    ),
                    (
                        "connect_other",
                        "CONNECT to another port",
                        "CONNECTs to other ports",
                    ),
                    (
                        "inbound",
                        "request from outside home_net",
                        "requests from outside home_net",
                    ),
                ] {
                    let n = k.get(name);
                    if n > 0 {
                        parts.push(format!("{} {}", num(n), if n == 1 { one } else { many }));
                    }
                }
                let clients = distinct_peers(h, kind);
                parts.push(format!(
                    "from {}, none seen granted",
                    at_least(clients, "client")
                ));
                data.push(("clients", clients.0.to_string()));
            }
        }
        Kind::Relay => {
            let tx = k.get("relayed_tx");
            confirmed = tx > 0;
            let clients = distinct_peers(h, kind);
            data.push(("clients", clients.0.to_string()));
            if confirmed {
                what = "open SMTP relay".into();
                let accepted = k.get("accepted_rcpts");
                parts.push(format!(
                    "accepted {} from foreign clients in {}",
                    count(accepted, "recipient"),
                    count(tx, "mail transaction")
                ));
                data.push(("accepted", accepted.to_string()));
                data.push(("transactions", tx.to_string()));
            } else {
                what = "asked to relay mail".into();
                let attempts = k.get("attempts");
                parts.push(format!(
                    "{} from {}, none confirmed accepted",
                    count(attempts, "attempt"),
                    at_least(clients, "client")
                ));
                data.push(("attempts", attempts.to_string()));
            }
        }
        Kind::Amplifier => {
            let pairs = ix.by_reflector.get(&ip).map_or(&[][..], Vec::as_slice);
            let services: BTreeSet<String> = pairs
                .iter()
                .map(|(_, p)| p.service.to_uppercase())
                .collect();
            let label = if services.is_empty() {
                "UDP".to_owned()
            } else {
                services.into_iter().collect::<Vec<_>>().join("/")
            };
            what = format!("{label} amplifier");
            confirmed = true;
            let monlist = k.get("monlist");
            if monlist > 0 {
                parts.push("monlist".into());
                data.push(("monlist", monlist.to_string()));
            }
            let victims = (pairs.len() as u64, m.pairs.refused > 0);
            parts.push(at_least(victims, "victim"));
            data.push(("victims", victims.0.to_string()));
            if let Some(r) = k.peak_ratio {
                parts.push(format!("peak ratio {}×", ratio(r)));
                data.push(("ratio", ratio(r)));
            }
        }
        Kind::Victim => {
            let pairs = ix.by_victim.get(&ip).map_or(&[][..], Vec::as_slice);
            let services: BTreeSet<String> = pairs
                .iter()
                .map(|(_, p)| p.service.to_uppercase())
                .collect();
            confirmed = true;
            what = if k.sids.contains_key(&9_700_033) || k.sids.contains_key(&9_700_035) {
                "target of a reflection DDoS".into()
            } else {
                "receives amplified UDP responses".into()
            };
            let reflectors = (pairs.len() as u64).max(k.get("reflectors"));
            // 9700035 names only the busiest reflectors: its total is the
            // victim's bytes when larger.
            let bytes: u64 = pairs
                .iter()
                .map(|(_, p)| p.response_bytes)
                .sum::<u64>()
                .max(k.get("flood_bytes"));
            let svc = services.into_iter().collect::<Vec<_>>().join("/");
            parts.push(format!(
                "{}{} from {}",
                svc,
                if svc.is_empty() {
                    "responses"
                } else {
                    " responses"
                },
                at_least((reflectors, m.pairs.refused > 0), "reflector")
            ));
            parts.push(format!(
                "{} in the alerts' windows",
                crate::html::bytes(bytes)
            ));
            data.push(("reflectors", reflectors.to_string()));
            data.push(("bytes", bytes.to_string()));
            if let Some(r) = k.peak_ratio {
                parts.push(format!("peak ratio {}×", ratio(r)));
                data.push(("ratio", ratio(r)));
            }
        }
        Kind::SpamBot => {
            confirmed = true;
            what = "spam bot".into();
            let per_hour = k.get("mails_per_hour");
            let limit = k.get("limit");
            parts.push(format!(
                "{} in an hour, limit {}",
                count(per_hour, "mail"),
                num(limit)
            ));
            data.push(("mails-per-hour", per_hour.to_string()));
            if let Some(s) = m.mailers.get(&ip) {
                parts.push(format!(
                    "{} in the log from {} to {}",
                    count(s.count, "mail"),
                    time(s.first),
                    time(s.last)
                ));
                data.push(("mails", s.count.to_string()));
            }
        }
        Kind::ProxyListed => {
            confirmed = false;
            what = "named as an open proxy by proxy checkers".into();
            let named: Vec<String> = h
                .targets
                .top_where(5, |(t, _)| *t == Target::Listed)
                .into_iter()
                .map(|((_, s), _)| s.clone())
                .collect();
            let mails = k.get("mails");
            parts.push(format!(
                "{} in {}",
                named.join(", "),
                count(mails, "proxy-check mail")
            ));
            data.push(("mails", mails.to_string()));
        }
        Kind::Sweeper => {
            confirmed = true;
            what = "sweeps for open proxies".into();
            let ports: Vec<String> = h
                .targets
                .top_where(8, |(t, _)| *t == Target::SweptPort)
                .into_iter()
                .map(|((_, s), _)| s.clone())
                .collect();
            let hosts = k.get("hosts");
            parts.push(format!(
                "port{} {} on up to {} at once",
                if ports.len() == 1 { "" } else { "s" },
                ports.join(", "),
                count(hosts, "host")
            ));
            data.push(("hosts", hosts.to_string()));
        }
        Kind::Client => {
            confirmed = k.severity == 1;
            what = "uses stepping stones outside home_net".into();
            let servers = distinct_peers(h, kind);
            parts.push(format!(
                "{} toward {}",
                count(k.seen.count, "alert"),
                at_least(servers, "server")
            ));
            data.push(("servers", servers.0.to_string()));
        }
    }
    if k.seen.first > 0 {
        parts.push(format!("first seen {}", time(k.seen.first)));
    }
    Verdict {
        host: ip,
        home: h.home,
        kind,
        severity: k.severity,
        confirmed,
        what,
        detail: parts.join(", "),
        first: k.seen.first,
        last: k.seen.last,
        alerts: k.seen.count,
        sids: k.sids.iter().map(|(s, n)| (*s, *n)).collect(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(num(0), "0");
        assert_eq!(num(999), "999");
        assert_eq!(num(1480), "1,480");
        assert_eq!(num(1_234_567), "1,234,567");
        assert_eq!(ratio(229.2), "229.2");
        assert_eq!(ratio(57.0), "57");
        assert_eq!(time(1_078_235_870_104_219), "2004-03-02 13:57:50 UTC");
    }
}
