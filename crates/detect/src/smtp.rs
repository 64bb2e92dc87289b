//! Open SMTP relays, proxy-check mail and spam bots.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::catalog::*;
use crate::{Detector, normalise_domain};

/// What the relay judgement needs about one recipient.
#[derive(Clone, Copy, Debug)]
pub struct Recipient<'a> {
    pub client: IpAddr,
    pub server: IpAddr,
    pub domain: &'a str,
    /// The server's own host name (its greeting or EHLO answer).
    pub server_domain: Option<&'a str>,
    /// The server's answer to this recipient.
    pub reply: Option<u16>,
    /// The client authenticated (SMTP AUTH succeeded): authorised relaying.
    pub authenticated: bool,
    /// The server's answer to the end of the message, once known: `Some(true)`
    /// when it accepted the message (2xx).
    pub message_accepted: Option<bool>,
}

impl Detector {
    /// Signatures a recipient raises once its reply code is known: 9700020
    /// for a relay attempt, plus 9700021 when the server accepted it.
    ///
    /// For our own servers (in home_net) a relay attempt is a client outside
    /// `relay_networks` naming a domain outside `local_domains` (or, with
    /// none configured, outside the server's own domain). For other servers
    /// our relay networks and domains mean nothing: a recipient outside the
    /// server's own domain is asked to be relayed by whoever asks. An
    /// authenticated client, or one on the server's own host, relays by
    /// right. With no domain to judge by, nothing fires.
    pub fn smtp_recipient(&self, r: &Recipient<'_>) -> Vec<u32> {
        if r.authenticated || r.client == r.server || r.client.is_loopback() {
            return Vec::new();
        }
        let ours = self.home_net.contains(r.server);
        if ours && self.relay_networks.contains(r.client) {
            return Vec::new();
        }
        let rcpt = normalise_domain(r.domain);
        if rcpt.is_empty() {
            return Vec::new();
        }
        let local = if ours && !self.local_domains.is_empty() {
            self.local_domains
                .iter()
                .any(|d| rcpt == *d || rcpt.ends_with(&format!(".{d}")))
        } else {
            match r.server_domain {
                Some(s) => same_organisation(&rcpt, &normalise_domain(s)),
                None => return Vec::new(),
            }
        };
        if local {
            return Vec::new();
        }
        match r.reply {
            // Someone else's server, judged by its banner: one machine often
            // hosts many domains, and many servers accept any RCPT and refuse
            // at the end of DATA. Confirm only once the message was taken.
            Some(code)
                if (200..300).contains(&code) && (ours || r.message_accepted == Some(true)) =>
            {
                vec![SMTP_RELAY_ATTEMPT, SMTP_RELAY_OPEN]
            }
            _ => vec![SMTP_RELAY_ATTEMPT],
        }
    }

    /// Counts one message sent by `client` at `ts`. True exactly once per
    /// host and window: when the count first exceeds the hourly limit.
    pub fn smtp_message(&self, client: IpAddr, ts: Timestamp) -> bool {
        if self.mail_servers.contains(client) {
            return false;
        }
        self.shared
            .bots
            .count(client, ts, self.conf.smtp.bot_messages_per_hour)
    }
}

/// True when recipient domain `rcpt` belongs with server host `server`:
/// the same name, the server's parent domain (mx.example.net serves
/// example.net) or a name under it.
fn same_organisation(rcpt: &str, server: &str) -> bool {
    if rcpt == server || server.ends_with(&format!(".{rcpt}")) {
        return true;
    }
    // The server's registrable-ish parent: drop its first label when at
    // least two remain (mail.example.net -> example.net).
    match server.split_once('.') {
        Some((_, parent)) if parent.contains('.') => {
            rcpt == parent || rcpt.ends_with(&format!(".{parent}"))
        }
        _ => false,
    }
}

/// The `IPv4:port` a proxy-check mail carries: in its subject or the first
/// lines of its body, a probe mails itself the address of the proxy it went
/// through, so the prober can list which proxies work.
pub fn proxy_check_marker<'a>(
    subject: Option<&str>,
    body: impl IntoIterator<Item = &'a str>,
) -> Option<(Ipv4Addr, u16)> {
    subject
        .and_then(find_ipv4_port)
        .or_else(|| body.into_iter().find_map(find_ipv4_port))
}

/// Finds the first `a.b.c.d:port` in `s` with valid octets and a port in 1..=65535.
pub fn find_ipv4_port(s: &str) -> Option<(Ipv4Addr, u16)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Candidates start at a digit not preceded by a digit or a dot.
        let starts =
            b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'));
        if starts && let Some((ip, port, _)) = parse_ipv4_port(&b[i..]) {
            return Some((ip, port));
        }
        i += 1;
    }
    None
}

fn parse_ipv4_port(b: &[u8]) -> Option<(Ipv4Addr, u16, usize)> {
    let mut octets = [0u8; 4];
    let mut at = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        let (v, n) = number(&b[at..], 3)?;
        *o = u8::try_from(v).ok()?;
        at += n;
        let sep = if k < 3 { b'.' } else { b':' };
        if b.get(at) != Some(&sep) {
            return None;
        }
        at += 1;
    }
    let (port, n) = number(&b[at..], 5)?;
    at += n;
    if b.get(at).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let port = u16::try_from(port).ok().filter(|&p| p > 0)?;
    Some((Ipv4Addr::from(octets), port, at))
}

/// A decimal number of 1..=max_digits digits at the start of `b`.
fn number(b: &[u8], max_digits: usize) -> Option<(u32, usize)> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > max_digits {
        return None;
    }
    let v = b[..n]
        .iter()
        .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
    Some((v, n))
}

/// Messages per client host per hour of packet time, across workers.
pub struct BotCounter {
    hosts: SharedMap<IpAddr, BotWindow>,
}

#[derive(Clone, Copy, Debug)]
struct BotWindow {
    start: Timestamp,
    count: u32,
    alerted: bool,
}

impl Aging for BotWindow {
    fn keep(&self) -> u64 {
        u64::from(self.count)
    }
}

const HOUR_MICROS: u64 = 3_600_000_000;

impl BotCounter {
    /// Bounded by `cap` bytes under `budget`: forged senders with one
    /// message each are evicted first, a host nearing the limit stays.
    pub fn new(cap: usize, budget: &Arc<Budget>) -> Self {
        BotCounter {
            hosts: SharedMap::new(HOUR_MICROS, |_| {
                Meter::new("smtp_bots", cap / 16, Arc::clone(budget))
            }),
        }
    }

    /// Counts a message; true when this one takes the host over `limit`
    /// in its current hour. The hour starts at the host's first message and
    /// a new one starts with the first message after it ends.
    pub fn count(&self, host: IpAddr, ts: Timestamp, limit: u32) -> bool {
        self.hosts
            .with(
                host,
                ts.0,
                || BotWindow {
                    start: ts,
                    count: 0,
                    alerted: false,
                },
                |w| {
                    if crate::window_over(w.start, ts, HOUR_MICROS) {
                        *w = BotWindow {
                            start: ts,
                            count: 0,
                            alerted: false,
                        };
                    }
                    w.count = w.count.saturating_add(1);
                    if w.count > limit && !w.alerted {
                        w.alerted = true;
                        return true;
                    }
                    false
                },
            )
            .unwrap_or(false)
    }

    /// Messages counted for `host` in its current window.
    pub fn messages(&self, host: IpAddr) -> u32 {
        self.hosts.read(&host, |w| w.count).unwrap_or(0)
    }

    pub fn report(&self) -> MemReport {
        self.hosts.report()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectConf, NetSet};

    fn det(local: &[&str]) -> Detector {
        let mut conf = DetectConf::default();
        conf.smtp.local_domains = local.iter().map(|s| s.to_string()).collect();
        Detector::new(
            conf,
            NetSet::new(["10.0.0.0/8".parse().unwrap()]),
            NetSet::default(),
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rcpt<'a>(
        client: &str,
        server: &str,
        domain: &'a str,
        server_domain: Option<&'a str>,
        reply: u16,
    ) -> Recipient<'a> {
        Recipient {
            client: ip(client),
            server: ip(server),
            domain,
            server_domain,
            reply: Some(reply),
            authenticated: false,
            message_accepted: None,
        }
    }

    #[test]
    fn external_servers_are_judged_by_their_own_domain() {
        let d = det(&[]);
        let mx = Some("mailin03.sul.t-online.de");
        // t-online's MX receiving mail for t-online.de is not relaying.
        assert!(
            d.smtp_recipient(&rcpt("203.0.113.9", "194.25.134.8", "t-online.de", mx, 250))
                .is_empty()
        );
        let ex = Some("mail.example.net");
        assert!(
            d.smtp_recipient(&rcpt(
                "10.1.1.1",
                "198.51.100.1",
                "sales.example.net",
                ex,
                250
            ))
            .is_empty()
        );
        // Our client asking someone else's server to relay: reported.
        assert_eq!(
            d.smtp_recipient(&rcpt(
                "10.1.1.1",
                "64.12.168.40",
                "example",
                Some("mtaout.aol.com"),
                553
            )),
            [SMTP_RELAY_ATTEMPT]
        );
        // Someone else's server answering RCPT 250: an attempt; confirmed
        // only once it accepts the message itself.
        let mut r = rcpt("10.1.1.1", "198.51.100.1", "yahoo.com", ex, 250);
        assert_eq!(d.smtp_recipient(&r), [SMTP_RELAY_ATTEMPT]);
        r.message_accepted = Some(false);
        assert_eq!(d.smtp_recipient(&r), [SMTP_RELAY_ATTEMPT]);
        r.message_accepted = Some(true);
        assert_eq!(d.smtp_recipient(&r), [SMTP_RELAY_ATTEMPT, SMTP_RELAY_OPEN]);
        assert!(
            d.smtp_recipient(&rcpt("10.1.1.1", "198.51.100.1", "yahoo.com", None, 250))
                .is_empty(),
            "cannot judge"
        );
    }

    #[test]
    fn our_servers_relay_for_our_clients() {
        let d = det(&[]);
        let ex = Some("mail.example.net");
        assert!(
            d.smtp_recipient(&rcpt("10.1.1.1", "10.0.0.25", "yahoo.com", ex, 250))
                .is_empty()
        );
        assert_eq!(
            d.smtp_recipient(&rcpt("203.0.113.9", "10.0.0.25", "yahoo.com", ex, 554)),
            [SMTP_RELAY_ATTEMPT]
        );
        let d = det(&["Example.NET."]);
        assert!(
            d.smtp_recipient(&rcpt(
                "203.0.113.9",
                "10.0.0.25",
                "example.net",
                Some("smtp.isp.test"),
                250
            ))
            .is_empty()
        );
        assert_eq!(
            d.smtp_recipient(&rcpt("203.0.113.9", "10.0.0.25", "other.org", ex, 250)),
            [SMTP_RELAY_ATTEMPT, SMTP_RELAY_OPEN]
        );
    }

    #[test]
    fn authenticated_and_same_host_clients_relay_by_right() {
        let d = det(&[]);
        let ex = Some("mail.example.net");
        let mut r = rcpt("203.0.113.9", "10.0.0.25", "yahoo.com", ex, 250);
        r.authenticated = true;
        assert!(d.smtp_recipient(&r).is_empty());
        assert!(
            d.smtp_recipient(&rcpt("127.0.0.1", "127.0.0.1", "yahoo.com", ex, 250))
                .is_empty()
        );
        assert!(
            d.smtp_recipient(&rcpt("10.0.0.25", "10.0.0.25", "yahoo.com", ex, 250))
                .is_empty()
        );
    }

    #[test]
    fn proxy_check_markers() {
        assert_eq!(
            find_ipv4_port("61.12.4.5:8080"),
            Some((Ipv4Addr::new(61, 12, 4, 5), 8080))
        );
        assert_eq!(
            find_ipv4_port("check 192.0.2.1:3128 ok"),
            Some((Ipv4Addr::new(192, 0, 2, 1), 3128))
        );
        assert_eq!(find_ipv4_port("1.2.3.4:0"), None);
        assert_eq!(find_ipv4_port("1.2.3.256:80"), None);
        assert_eq!(find_ipv4_port("1.2.3.4:655350"), None);
        assert_eq!(find_ipv4_port("v1.2.3.4.5:80"), None);
        assert_eq!(find_ipv4_port("no address here"), None);
        assert_eq!(
            proxy_check_marker(Some("hello"), ["", "proxy 10.9.8.7:1080"]),
            Some((Ipv4Addr::new(10, 9, 8, 7), 1080))
        );
    }

    #[test]
    fn bot_alerts_once_per_host_and_hour() {
        let c = BotCounter::new(1 << 20, &Budget::unlimited());
        let h = ip("198.51.100.7");
        let t0 = Timestamp::from_secs(1_000);
        let fired: Vec<bool> = (0..600)
            .map(|i| c.count(h, t0.add_secs(i * 6), 500))
            .collect();
        assert_eq!(fired.iter().filter(|f| **f).count(), 1);
        assert!(fired[500]);
        // The next hour starts afresh.
        assert!(!c.count(h, t0.add_secs(3_600), 500));
        assert_eq!(c.messages(h), 1);
    }

    proptest::proptest! {
        #[test]
        fn marker_search_never_panics(s in ".{0,200}") {
            let _ = find_ipv4_port(&s);
        }
    }
}
