//! IRC bots: sessions through stepping stones, on odd ports, acting on
//! their herder's commands, and botnets assembling in one channel.
//!
//! What makes a session a bot's (9700053) is judged in three parts, all
//! required:
//!
//! 1. **A command.** A text that looks like a bot command — a prefix
//!    character (`.` `!` `@` `$` `%` `&` `*` `~` `-` `+` `?`) directly
//!    followed by a word of 2–24 letters or digits starting with a letter
//!    (`.advscan`, `!ddos`, `.download`) — given by the channel's authority:
//!    the channel topic (the 332 reply on joining, or a TOPIC change), or a
//!    PRIVMSG/NOTICE to the channel or to the client from a nick the
//!    session has seen hold operator status there (NAMES `@`, `~`, `&`,
//!    MODE `+o`).
//! 2. **The client acts on it** within `irc.bot_reaction_seconds` (30):
//!    it reports back — a PRIVMSG or NOTICE whose text names the command's
//!    verb or its first argument (rxBot's `[DOWNLOAD]: Downloading URL:
//!    http://...`) — or its host opens new connections to
//!    `irc.bot_reaction_hosts` (10) distinct hosts (a scan) or
//!    `irc.bot_reaction_smtp` (3) connections to SMTP ports (a spam run).
//! 3. **It looks like a bot.** Its nick is machine-made (see [`bot_nick`])
//!    or it joined a channel with a key.
//!
//! A person in a channel with an Eggdrop answering `!seen` has (1) and
//! sometimes (2), rarely (3); a bot has all three.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fumidai_budget::{Aging, Budget, MemReport, Meter, SharedMap};
use fumidai_wire::Timestamp;

use crate::Detector;
use crate::catalog::*;
use crate::config::IrcConf;

/// Why a nick looks machine-made.
pub fn bot_nick(nick: &str) -> Option<&'static str> {
    let digits = nick
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if digits >= 5 {
        // A serial: `damn-0262937047`, `USA|04563`.
        return Some("digits");
    }
    let parts: Vec<&str> = nick
        .split(['|', '[', ']', '-', '_', '^', '{', '}'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 {
        return None;
    }
    if parts.iter().any(|p| OS_TAGS.contains(p)) {
        // `[USA|XP]4818`, `DEU|2K|SP4|0391`.
        return Some("os_tag");
    }
    let country = parts.iter().any(|p| is_country(p));
    let serial = parts
        .iter()
        .any(|p| p.len() >= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    if country && serial {
        // `USA|123`, `[DEU]-4412`.
        return Some("country_tag");
    }
    None
}

/// Operating-system tags bots put in their nicks, in capitals.
const OS_TAGS: &[&str] = &[
    "XP", "XPSP1", "XPSP2", "XPSP3", "SP1", "SP2", "SP3", "SP4", "2K", "2K3", "2K8", "W2K", "W2K3",
    "WIN2K", "WINXP", "98", "95", "NT", "NT4", "VISTA", "VIS", "W7", "WIN7", "W8", "WIN8", "W10",
    "WIN10", "W11", "LNX", "LINUX", "BSD",
];

/// ISO 3166-1 codes in capitals (alpha-2 and the alpha-3 codes of the
/// countries bot nicks most often carry).
fn is_country(p: &str) -> bool {
    const A3: &[&str] = &[
        "USA", "DEU", "GBR", "FRA", "ITA", "ESP", "NLD", "BEL", "POL", "RUS", "UKR", "CHN", "JPN",
        "KOR", "IND", "BRA", "ARG", "MEX", "CAN", "AUS", "TUR", "ROU", "HUN", "CZE", "SWE", "NOR",
        "FIN", "DNK", "PRT", "GRC", "ISR", "EGY", "ZAF", "TWN", "HKG", "SGP", "MYS", "THA", "VNM",
        "PHL", "IDN", "PAK", "IRN", "SAU", "ARE", "CHL", "COL", "PER", "VEN", "AUT", "CHE", "IRL",
        "BGR", "SRB", "HRV", "SVK", "SVN", "LTU", "LVA", "EST",
    ];
    const A2: &str = "AD AE AF AR AT AU BE BG BR BY CA CH CL CN CO CZ DE DK EE EG ES FI FR GB GR HK \
        HR HU ID IE IL IN IR IS IT JP KR KZ LT LU LV MA MX MY NL NO NZ PE PH PK PL PT RO RS RU SA \
        SE SG SI SK TH TR TW UA UK US UY VE VN ZA";
    let upper = p.len() >= 2 && p.bytes().all(|b| b.is_ascii_uppercase());
    upper
        && match p.len() {
            2 => A2.split_whitespace().any(|c| c == p),
            3 => A3.contains(&p),
            _ => false,
        }
}

/// A bot command: its verb (without the prefix) and first argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub text: String,
    pub verb: String,
    pub argument: Option<String>,
}

/// The command a text gives, if it looks like one.
pub fn command(text: &str) -> Option<Command> {
    let t = text.trim_start();
    let mut chars = t.chars();
    let prefix = chars.next()?;
    if !".!@$%&*~-+?".contains(prefix) {
        return None;
    }
    let rest = &t[prefix.len_utf8()..];
    let verb_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let verb = &rest[..verb_len];
    if !(2..=24).contains(&verb.len()) || !verb.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    // A word then a space or the end: `.download http://...`, `!scan`.
    let after = &rest[verb_len..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let argument = after
        .split_whitespace()
        .next()
        .map(|a| a.chars().take(256).collect());
    Some(Command {
        text: t.chars().take(512).collect(),
        verb: verb.to_ascii_lowercase(),
        argument,
    })
}

/// Whether the client's `reply` reports on `cmd`: it names the verb or the
/// first argument.
pub fn acknowledges(reply: &str, cmd: &Command) -> bool {
    let lower = reply.to_ascii_lowercase();
    (cmd.verb.len() >= 3 && lower.contains(&cmd.verb))
        || cmd
            .argument
            .as_deref()
            .is_some_and(|a| a.len() >= 4 && reply.contains(a))
}

/// How a bot's host acted on a command, seen on its other connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaction {
    /// `scan` or `smtp`.
    pub kind: &'static str,
    /// Distinct hosts connected to, or SMTP connections.
    pub count: u32,
    pub at: Timestamp,
}

/// Per host: whether it is a confirmed proxy/relay, and the command it
/// was given and what its other connections did since.
#[derive(Clone, Debug, Default)]
struct HostNote {
    suspect: Option<(u32, Timestamp)>,
    command_at: Option<Timestamp>,
    dests: Vec<u32>,
    smtp: u32,
    reaction: Option<Reaction>,
}

impl Aging for HostNote {
    fn keep(&self) -> u64 {
        let suspect = u64::from(self.suspect.is_some()) << 32;
        suspect
            + self.dests.len() as u64
            + u64::from(self.smtp)
            + u64::from(self.command_at.is_some())
    }
    fn heap_bytes(&self) -> usize {
        self.dests.capacity() * std::mem::size_of::<u32>()
    }
}

/// The hosts of one channel of one server within the window.
#[derive(Clone, Debug)]
struct ChannelWindow {
    start: Timestamp,
    hosts: Vec<u32>,
    alerted: bool,
}

impl Aging for ChannelWindow {
    fn keep(&self) -> u64 {
        self.hosts.len() as u64
    }
    fn heap_bytes(&self) -> usize {
        self.hosts.capacity() * std::mem::size_of::<u32>()
    }
}

/// IRC state shared by all workers: the per-host notes (`irc_hosts`) and
/// the per-channel host sets (`irc_channels`), each bounded by its memcap.
pub struct IrcState {
    hosts: SharedMap<IpAddr, HostNote>,
    channels: SharedMap<(IpAddr, u64), ChannelWindow>,
    hash: foldhash::fast::RandomState,
    /// Packet time (µs) until which some host has a command pending: SYNs
    /// are only looked at while it lies ahead.
    watch_until: AtomicU64,
}

fn hash32<T: Hash>(s: &foldhash::fast::RandomState, v: &T) -> u32 {
    let h = s.hash_one(v);
    (h ^ (h >> 32)) as u32
}

impl IrcState {
    pub fn new(conf: &IrcConf, budget: &Arc<Budget>) -> Self {
        let secs = |s: u64| s.max(1).saturating_mul(1_000_000);
        let host_ttl = secs(conf.suspect_seconds.max(conf.bot_reaction_seconds));
        let hosts_cap = conf.hosts_memcap.as_usize() / 16;
        let chan_cap = conf.channels_memcap.as_usize() / 16;
        IrcState {
            hosts: SharedMap::new(host_ttl, |_| {
                Meter::new("irc_hosts", hosts_cap, Arc::clone(budget))
            }),
            channels: SharedMap::new(secs(conf.botnet_window), |_| {
                Meter::new("irc_channels", chan_cap, Arc::clone(budget))
            }),
            hash: foldhash::fast::RandomState::default(),
            watch_until: AtomicU64::new(0),
        }
    }

    pub fn reports(&self) -> [MemReport; 2] {
        [self.hosts.report(), self.channels.report()]
    }
}

/// Signatures whose alert confirms that its server is a stepping stone.
pub const CONFIRMING: &[u32] = &[
    PROXY_CONNECT_SMTP_OPEN,
    SOCKS_CONNECT_SMTP_OPEN,
    SMTP_RELAY_OPEN,
    SMTP_IN_TUNNEL,
    IRC_IN_TUNNEL,
];

impl Detector {
    /// True when IRC on `port` raises no odd-port alert.
    pub fn irc_standard_port(&self, port: u16) -> bool {
        self.conf.irc.standard_ports.contains(&port)
    }

    /// Notes that alert `sid` showed `server` to be a stepping stone (an
    /// open proxy or relay in home_net), for 9700051.
    pub fn note_stepping_stone(&self, sid: u32, server: IpAddr, ts: Timestamp) {
        if !CONFIRMING.contains(&sid) || !self.is_home(server) {
            return;
        }
        self.shared
            .irc
            .hosts
            .with(server, ts.0, HostNote::default, |n| {
                n.suspect.get_or_insert((sid, ts));
            });
    }

    /// The alert that made `host` a stepping stone, if one did within
    /// `irc.suspect_seconds` of `ts`.
    pub fn stepping_stone(&self, host: IpAddr, ts: Timestamp) -> Option<(u32, Timestamp)> {
        let window = self.conf.irc.suspect_seconds.max(1) * 1_000_000;
        self.shared
            .irc
            .hosts
            .read(&host, |n| n.suspect)
            .flatten()
            .filter(|(_, at)| !crate::window_over(*at, ts, window))
    }

    /// A command was given to a bot-like session on `host` at `ts`: its
    /// new connections are watched for the reaction window.
    pub fn irc_command_given(&self, host: IpAddr, ts: Timestamp) {
        let window = self.conf.irc.bot_reaction_seconds.max(1) * 1_000_000;
        let irc = &self.shared.irc;
        irc.hosts.with(host, ts.0, HostNote::default, |n| {
            n.command_at = Some(ts);
            n.dests.clear();
            n.smtp = 0;
            n.reaction = None;
        });
        irc.watch_until
            .fetch_max(ts.0.saturating_add(window), Ordering::Relaxed);
    }

    /// True while some host's reaction window is open: the engine then
    /// reports new connections (cheap to ask on every SYN).
    pub fn irc_watching(&self, ts: Timestamp) -> bool {
        ts.0 <= self.shared.irc.watch_until.load(Ordering::Relaxed)
    }

    /// A new connection from `src` to `dst:port` (its SYN).
    pub fn irc_connection(&self, src: IpAddr, dst: IpAddr, port: u16, ts: Timestamp) {
        let c = &self.conf.irc;
        let window = c.bot_reaction_seconds.max(1) * 1_000_000;
        let want_hosts = c.bot_reaction_hosts.max(1);
        let want_smtp = c.bot_reaction_smtp.max(1);
        let smtp_port = self.conf.proxy.smtp_ports.contains(&port);
        let irc = &self.shared.irc;
        let h = hash32(&irc.hash, &dst);
        // Only hosts with a command pending: update, never insert.
        irc.hosts.update(&src, |n| {
            let Some(at) = n.command_at else { return };
            if ts < at || ts.micros_since(at) > window || n.reaction.is_some() {
                return;
            }
            if n.dests.len() < want_hosts && !n.dests.contains(&h) {
                n.dests.push(h);
            }
            if smtp_port {
                n.smtp += 1;
            }
            if n.smtp >= want_smtp {
                n.reaction = Some(Reaction {
                    kind: "smtp",
                    count: n.smtp,
                    at: ts,
                });
            } else if n.dests.len() >= want_hosts {
                n.reaction = Some(Reaction {
                    kind: "scan",
                    count: n.dests.len() as u32,
                    at: ts,
                });
            }
        });
    }

    /// How `host` acted on the command it was given, if it did in time.
    pub fn irc_reaction(&self, host: IpAddr) -> Option<Reaction> {
        self.shared.irc.hosts.read(&host, |n| n.reaction).flatten()
    }

    /// `client` (in home_net) joined `channel` on `server` at `ts`. Returns
    /// the hosts counted when this join makes `irc.botnet_min_hosts`
    /// (once per channel and window).
    pub fn irc_join(
        &self,
        server: IpAddr,
        channel: &str,
        client: IpAddr,
        ts: Timestamp,
    ) -> Option<(u32, usize)> {
        if !self.is_home(client) {
            return None;
        }
        let c = &self.conf.irc;
        let window = c.botnet_window.max(1) * 1_000_000;
        let min = c.botnet_min_hosts.max(1);
        let irc = &self.shared.irc;
        let chan = irc.hash.hash_one(channel.to_ascii_lowercase());
        let h = hash32(&irc.hash, &client);
        let fresh = || ChannelWindow {
            start: ts,
            hosts: Vec::new(),
            alerted: false,
        };
        irc.channels
            .with((server, chan), ts.0, fresh, |w| {
                if crate::window_over(w.start, ts, window) {
                    *w = fresh();
                }
                if w.hosts.len() < min && !w.hosts.contains(&h) {
                    w.hosts.push(h);
                }
                if w.hosts.len() >= min && !w.alerted {
                    w.alerted = true;
                    return Some((IRC_BOTNET, w.hosts.len()));
                }
                None
            })
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{det, ip};
    use crate::{DetectConf, NetSet};

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn machine_made_nicks() {
        for (n, why) in [
            ("damn-0262937047", "digits"),
            ("USA|04563", "digits"),
            ("[USA|XP]4818", "os_tag"),
            ("DEU|2K|SP4|0391", "os_tag"),
            ("[DEU]-441", "country_tag"),
            ("FR_123", "country_tag"),
        ] {
            assert_eq!(bot_nick(n), Some(why), "{n}");
        }
        for n in [
            "tim2",
            "brotest",
            "Under0",
            "AL7uB",
            "john_doe",
            "[Ricky]",
            "us_123",
            "ab|cd",
            "Knightsbridge",
            "alice-1984",
        ] {
            assert_eq!(bot_nick(n), None, "{n}");
        }
    }

    #[test]
    fn commands_and_replies() {
        let c = command(".download http://www.wanees.net/bbnz.exe bbnz.exe 1").unwrap();
        assert_eq!(c.verb, "download");
        assert_eq!(
            c.argument.as_deref(),
            Some("http://www.wanees.net/bbnz.exe")
        );
        assert!(acknowledges(
            "[DOWNLOAD]: Downloading URL: http://www.wanees.net/bbnz.exe to: bbnz.exe.",
            &c
        ));
        assert!(!acknowledges("hello there", &c));
        let c = command("!scan").unwrap();
        assert_eq!((c.verb.as_str(), c.argument), ("scan", None));
        for not in [
            "hello",
            "...",
            ". download",
            "!1abc",
            "!x",
            "#channel",
            "-- signed",
            "!!!!",
            ":)",
            ".co.uk",
        ] {
            assert_eq!(command(not), None, "{not}");
        }
    }

    #[test]
    fn a_command_then_a_scan_or_a_spam_run() {
        let d = det();
        let bot = ip("10.1.1.1");
        assert!(!d.irc_watching(t(100)));
        d.irc_command_given(bot, t(100));
        assert!(d.irc_watching(t(120)) && !d.irc_watching(t(131)));
        for i in 0..9u8 {
            d.irc_connection(bot, IpAddr::from([198, 51, 100, i]), 445, t(101));
        }
        assert_eq!(d.irc_reaction(bot), None, "nine hosts");
        d.irc_connection(bot, ip("198.51.100.200"), 445, t(102));
        assert_eq!(
            d.irc_reaction(bot).map(|r| (r.kind, r.count)),
            Some(("scan", 10))
        );
        // Another host's connections, and late ones, do not count.
        let other = ip("10.1.1.2");
        d.irc_command_given(other, t(200));
        for _ in 0..3 {
            d.irc_connection(other, ip("203.0.113.5"), 25, t(300));
        }
        assert_eq!(d.irc_reaction(other), None);
        d.irc_command_given(other, t(400));
        for _ in 0..3 {
            d.irc_connection(other, ip("203.0.113.5"), 25, t(401));
        }
        assert_eq!(
            d.irc_reaction(other).map(|r| (r.kind, r.count)),
            Some(("smtp", 3))
        );
    }

    #[test]
    fn stepping_stones_are_remembered_for_a_while() {
        let d = det();
        let proxy = ip("10.0.0.5");
        d.note_stepping_stone(PROXY_ABSOLUTE_FORM, proxy, t(10));
        assert_eq!(
            d.stepping_stone(proxy, t(11)),
            None,
            "a probe confirms nothing"
        );
        d.note_stepping_stone(PROXY_CONNECT_SMTP_OPEN, proxy, t(10));
        d.note_stepping_stone(SMTP_RELAY_OPEN, ip("8.8.8.8"), t(10));
        assert_eq!(
            d.stepping_stone(proxy, t(5000)),
            Some((PROXY_CONNECT_SMTP_OPEN, t(10)))
        );
        assert_eq!(d.stepping_stone(proxy, t(10 + 86_400)), None);
        assert_eq!(d.stepping_stone(ip("8.8.8.8"), t(11)), None, "not ours");
    }

    #[test]
    fn a_botnet_assembles() {
        let d = det();
        let srv = ip("203.0.113.7");
        let mut fired = Vec::new();
        for i in 0..30u8 {
            let host = IpAddr::from([10, 0, 1, i % 12]);
            if let Some(x) = d.irc_join(
                srv,
                if i % 2 == 0 { "#Bots" } else { "#bots" },
                host,
                t(u64::from(i)),
            ) {
                fired.push(x);
            }
        }
        assert_eq!(fired, [(IRC_BOTNET, 10)]);
        assert_eq!(d.irc_join(srv, "#x", ip("8.8.8.8"), t(1)), None);
        // Another window.
        for i in 0..10u8 {
            let r = d.irc_join(srv, "#bots", IpAddr::from([10, 0, 2, i]), t(1000));
            assert_eq!(r.is_some(), i == 9);
        }
    }

    #[test]
    fn forged_floods_stay_within_the_memcaps() {
        let mut conf = DetectConf::default();
        conf.irc.hosts_memcap = crate::config::ByteSize(1 << 20);
        conf.irc.channels_memcap = crate::config::ByteSize(1 << 20);
        let d = Detector::new(
            conf,
            NetSet::new(["0.0.0.0/0".parse().unwrap()]),
            NetSet::default(),
        );
        let srv = ip("203.0.113.7");
        let proxy = ip("10.0.0.8");
        d.note_stepping_stone(PROXY_CONNECT_SMTP_OPEN, proxy, t(1));
        // Nine hosts of a botnet in its channel, one short of the alert.
        for i in 0..9u8 {
            assert_eq!(
                d.irc_join(srv, "#b0tz", IpAddr::from([10, 1, 0, i]), t(2)),
                None
            );
        }
        // A forger: 300,000 addresses, each joining a channel of its own
        // and being given a command.
        for i in 0..300_000u32 {
            let a = IpAddr::from((0x0a80_0000 + i).to_be_bytes());
            d.irc_join(srv, &format!("#c{i}"), a, t(3));
            d.irc_command_given(a, t(3));
        }
        let [hosts, channels] = d.shared.irc.reports();
        for r in [&hosts, &channels] {
            assert!(r.memuse <= 1 << 20 && r.evicted > 0, "{r:?}");
        }
        // What mattered was kept: the stepping stone, and the botnet's
        // channel, which the tenth host completes.
        assert_eq!(
            d.stepping_stone(proxy, t(4)),
            Some((PROXY_CONNECT_SMTP_OPEN, t(1)))
        );
        assert_eq!(
            d.irc_join(srv, "#B0TZ", ip("10.1.0.9"), t(4)),
            Some((IRC_BOTNET, 10))
        );
    }
}
