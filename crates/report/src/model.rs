//! What a log is folded into: per host and role, the alerts, peers, targets
//! and a few records to show; per (reflector, victim) pair, the measured
//! amplification; probes; per signature; per input file, its run facts.
//! Every map has a cap (see [`limits`]); what a full map refuses is counted
//! and said on the page, so a limit shows rather than hides.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use fumidai_eve::app::{FumidaiObj, HttpObj, SmtpObj, SocksObj};
use fumidai_eve::objects::AlertObj;
use fumidai_eve::{ChainLink, Counters};

use crate::hist::{Hist, Peak};
use crate::input::{FileRead, Position};
use crate::line::{Amplification, Flood, Line, object};
use crate::nets::HomeNet;
use crate::tally::{Bounded, Seen, Tally};

/// The caps. Sized so that a log crafted to fill every one of them still
/// fits in a few hundred MB, and a real day's log fits in none of them.
pub mod limits {
    /// Hosts with evidence, in home_net and outside it (separately, so that
    /// outsiders cannot crowd out our own hosts).
    pub const HOSTS: usize = 4096;
    /// Peers (clients, servers) and targets kept per host.
    pub const PEERS_PER_HOST: usize = 64;
    pub const TARGETS_PER_HOST: usize = 64;
    /// Signatures kept per host (fumidai has 18).
    pub const SIDS_PER_HOST: usize = 32;
    /// (reflector, victim) pairs and victims with a time series.
    pub const AMP_PAIRS: usize = 65_536;
    pub const AMP_VICTIMS: usize = 4096;
    /// Probe rows (kind, source, target, detail).
    pub const PROBES: usize = 20_000;
    /// Signatures in the per-signature table.
    pub const SIGNATURES: usize = 1024;
    /// Mail clients whose messages are counted (for spam-bot verdicts).
    pub const MAILERS: usize = 65_536;
    /// Relay transactions waiting for their `smtp` record.
    pub const RELAY_TX: usize = 65_536;
    /// Bytes of raw records kept to show, in all, and per record.
    pub const SAMPLE_BYTES: usize = 32 << 20;
    pub const SAMPLE_LINE: usize = 16 << 10;
    /// Text kept of a field from the log (host names, URLs, subjects).
    pub const TEXT: usize = 200;
    /// Unreadable lines quoted (all are counted).
    pub const ERRORS_QUOTED: usize = 5;
    /// Event types counted per file; counters kept per stats record.
    pub const EVENT_TYPES: usize = 64;
    pub const STATS_KEYS: usize = 4096;
}

/// The role a host plays in a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An HTTP proxy that others use (or try to use) to reach mail servers.
    HttpProxy,
    SocksProxy,
    /// An SMTP server that relays (or is asked to relay) for strangers.
    Relay,
    /// A UDP service that answers far more than it is asked (NTP monlist, DNS…).
    Amplifier,
    /// A host sending more mail than any workstation should.
    SpamBot,
    /// A host receiving amplified responses.
    Victim,
    /// An address a proxy-check mail names (`IPv4:port`).
    ProxyListed,
    /// A host sweeping proxy ports.
    Sweeper,
    /// A host in home_net that uses stepping stones elsewhere.
    Client,
}

impl Kind {
    /// The word in class names and `data-kind`.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::HttpProxy => "open-http-proxy",
            Kind::SocksProxy => "open-socks-proxy",
            Kind::Relay => "open-smtp-relay",
            Kind::Amplifier => "amplifier",
            Kind::SpamBot => "spam-bot",
            Kind::Victim => "amplification-victim",
            Kind::ProxyListed => "proxy-check-listed",
            Kind::Sweeper => "proxy-sweeper",
            Kind::Client => "stepping-stone-user",
        }
    }

    /// The role in a few words, for the summary table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::HttpProxy => "open HTTP proxy",
            Kind::SocksProxy => "open SOCKS proxy",
            Kind::Relay => "open SMTP relay",
            Kind::Amplifier => "UDP amplifier",
            Kind::SpamBot => "spam bot",
            Kind::Victim => "amplification victim",
            Kind::ProxyListed => "named by proxy checkers",
            Kind::Sweeper => "proxy port sweeper",
            Kind::Client => "user of stepping stones elsewhere",
        }
    }

    /// What the host's peers in this role are called.
    pub fn peers(self) -> &'static str {
        match self {
            Kind::HttpProxy | Kind::SocksProxy | Kind::Relay => "clients",
            Kind::Amplifier => "victims",
            Kind::Victim => "reflectors",
            Kind::SpamBot => "mail servers",
            Kind::ProxyListed => "mail servers the check mail went to",
            Kind::Sweeper => "hosts",
            Kind::Client => "servers outside home_net",
        }
    }
}

/// What a host reached, or was asked to reach, through a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Absolute-form request target (9700001).
    Url,
    /// CONNECT / SOCKS CONNECT to a mail port (9700002, 9700010).
    MailConnect,
    /// ... granted (9700003, 9700011).
    MailTunnel,
    /// SMTP spoken inside a tunnel (9700023): the mail server reached.
    SmtpRelayed,
    /// CONNECT to another port (9700004).
    OtherConnect,
    /// SOCKS request from outside (9700012).
    SocksRequest,
    /// Recipient domains of relay attempts (9700020) and accepted relays (9700021).
    RcptAttempt,
    RcptAccepted,
    /// `IPv4:port` named by a proxy-check mail (9700022).
    Listed,
    /// Proxy port swept (9700040).
    SweptPort,
    /// A proxy request relayed through the host's tunnel (9700005): the
    /// next proxy of the chain.
    Chained,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Url => "absolute-form request to",
            Target::MailConnect => "CONNECT to a mail port",
            Target::MailTunnel => "tunnel to a mail server granted",
            Target::SmtpRelayed => "SMTP relayed to",
            Target::OtherConnect => "CONNECT to another port",
            Target::SocksRequest => "SOCKS request for",
            Target::RcptAttempt => "relay asked for recipient domain",
            Target::RcptAccepted => "relay accepted for recipient domain",
            Target::Listed => "named as",
            Target::SweptPort => "port swept",
            Target::Chained => "chained to the next proxy",
        }
    }
}

/// One role of one host.
#[derive(Clone, Debug, Default)]
pub struct KindStat {
    pub seen: Seen,
    /// Worst (lowest) severity among its alerts.
    pub severity: u8,
    pub sids: BTreeMap<u32, u64>,
    /// Named counts and peaks (see [`verdict`](crate::verdict) for their use).
    pub n: BTreeMap<&'static str, u64>,
    pub peak_ratio: Option<f64>,
}

impl KindStat {
    pub fn get(&self, name: &str) -> u64 {
        self.n.get(name).copied().unwrap_or(0)
    }

    fn count(&mut self, name: &'static str, v: u64) {
        let c = self.n.entry(name).or_insert(0);
        *c = c.saturating_add(v);
    }

    fn max(&mut self, name: &'static str, v: u64) {
        let c = self.n.entry(name).or_insert(0);
        *c = (*c).max(v);
    }
}

/// Alerts of one signature on one host.
#[derive(Clone, Debug, Default)]
pub struct SidStat {
    pub seen: Seen,
    pub severity: u8,
    pub hist: Hist<u64>,
}

/// A raw record kept to show.
#[derive(Clone, Debug)]
pub struct Sample {
    pub sid: u32,
    pub flow_id: Option<u64>,
    pub tx_id: Option<u64>,
    pub time: Option<u64>,
    /// Index into [`Model::files`].
    pub file: usize,
    /// Line number in that file.
    pub line_no: u64,
    /// The line as read, or `None` when it was too long or the budget was spent.
    pub line: Option<String>,
}

/// A host with evidence against it.
#[derive(Clone, Debug)]
pub struct Host {
    pub home: bool,
    pub kinds: BTreeMap<Kind, KindStat>,
    pub sids: BTreeMap<u32, SidStat>,
    pub sids_refused: u64,
    pub peers: Tally<(Kind, IpAddr)>,
    pub targets: Tally<(Target, String)>,
    /// First and last record per signature.
    pub samples: BTreeMap<u32, (Sample, Option<Sample>)>,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            home: false,
            kinds: BTreeMap::new(),
            sids: BTreeMap::new(),
            sids_refused: 0,
            peers: Tally::new(limits::PEERS_PER_HOST),
            targets: Tally::new(limits::TARGETS_PER_HOST),
            samples: BTreeMap::new(),
        }
    }
}

/// One (reflector, victim) pair's amplification, from the alerts' evidence.
#[derive(Clone, Debug, Default)]
pub struct Pair {
    pub service: String,
    pub seen: Seen,
    pub sids: BTreeMap<u32, u64>,
    /// Sums over the alerts, each of which measured one window.
    pub response_bytes: u64,
    pub request_bytes: u64,
    pub peak_ratio: Option<f64>,
    /// Largest response bytes per second of one alert's window.
    pub peak_rate: Option<f64>,
    /// Monlist responses seen (9700031).
    pub monlist: u64,
    /// 9700033's count of reflectors hitting the victim.
    pub reflectors: u64,
}

/// One victim's amplification over time.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Response bytes of the alerts' windows, by alert time.
    pub bytes: Hist<u64>,
    pub ratio: Hist<Peak>,
    /// The longest measurement window among the alerts (seconds).
    pub window_s: u64,
}

/// A row of the probes table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey {
    pub sid: u32,
    pub src: Option<IpAddr>,
    pub dest: Option<IpAddr>,
    pub detail: String,
    /// The address a proxy-check mail names.
    pub named: Option<IpAddr>,
}

/// One signature across the log.
#[derive(Clone, Debug, Default)]
pub struct SigStat {
    pub seen: Seen,
    pub severity: u8,
    pub signature: String,
}

/// One input file.
#[derive(Clone, Debug, Default)]
pub struct FileFacts {
    pub path: String,
    pub read: FileRead,
    pub events: BTreeMap<String, u64>,
    pub other_events: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Lines that are not EVE records, or whose objects are misshapen.
    pub unreadable: u64,
    pub errors: Vec<String>,
    /// The counters of the last `stats` record of each run in this file,
    /// merged (a log appended to by several runs starts its counters again).
    pub stats: Option<Counters>,
    pub runs: u64,
    /// The run in progress: its latest stats.
    current: Option<Counters>,
}

/// Everything the page is made from.
pub struct Model {
    pub home: HomeNet,
    pub files: Vec<FileFacts>,
    pub alerts: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub home_hosts: Bounded<IpAddr, Host>,
    pub other_hosts: Bounded<IpAddr, Host>,
    /// Hosts in each map without severity-1 evidence: what a full map drops
    /// to make room for a host with it.
    home_lesser: BTreeSet<IpAddr>,
    other_lesser: BTreeSet<IpAddr>,
    /// Hosts so dropped.
    pub evicted: u64,
    pub pairs: Bounded<(IpAddr, IpAddr), Pair>,
    pub series: Bounded<IpAddr, Series>,
    pub probes: Tally<ProbeKey>,
    pub sigs: Bounded<u32, SigStat>,
    /// Alerts by severity (1..=3) over time.
    pub by_severity: [Hist<u64>; 3],
    /// Messages (smtp records with a mail body) per client.
    pub mailers: Tally<IpAddr>,
    relay_tx: Bounded<(u64, u64), RelayTx>,
    pub sample_bytes: usize,
    pub samples_dropped: u64,
    /// Alerts the sensor itself held back (9700090, `fumidai.storm`), by the
    /// signature they belonged to: those signatures' counts are lower bounds.
    pub held_back: Bounded<u32, Seen>,
}

/// An open-relay transaction waiting for its `smtp` record: the server,
/// and the accepted recipients the alert already counted.
#[derive(Clone, Copy, Debug, Default)]
struct RelayTx {
    server: Option<IpAddr>,
    counted: u64,
}

/// The context of one alert.
struct Ctx<'a> {
    sid: u32,
    severity: u8,
    t: Option<u64>,
    line: &'a Line<'a>,
    raw: &'a [u8],
    pos: Position,
}

impl Model {
    pub fn new(home: HomeNet) -> Self {
        Model {
            home,
            files: Vec::new(),
            alerts: 0,
            first: None,
            last: None,
            home_hosts: Bounded::new(limits::HOSTS),
            other_hosts: Bounded::new(limits::HOSTS),
            home_lesser: BTreeSet::new(),
            other_lesser: BTreeSet::new(),
            evicted: 0,
            pairs: Bounded::new(limits::AMP_PAIRS),
            series: Bounded::new(limits::AMP_VICTIMS),
            probes: Tally::new(limits::PROBES),
            sigs: Bounded::new(limits::SIGNATURES),
            by_severity: Default::default(),
            mailers: Tally::new(limits::MAILERS),
            relay_tx: Bounded::new(limits::RELAY_TX),
            sample_bytes: 0,
            samples_dropped: 0,
            held_back: Bounded::new(limits::SIGNATURES),
        }
    }

    /// Starts reading `path`.
    pub fn begin_file(&mut self, path: &Path) {
        self.files.push(FileFacts {
            path: path.display().to_string(),
            ..FileFacts::default()
        });
    }

    /// Ends the file being read.
    pub fn finish_file(&mut self, read: FileRead) {
        if let Some(f) = self.files.last_mut() {
            if let Some(c) = f.current.take() {
                f.stats.get_or_insert_with(Counters::default).merge(&c);
                f.runs += 1;
            }
            f.read = read;
        }
    }

    pub fn host(&self, ip: &IpAddr) -> Option<&Host> {
        self.home_hosts.get(ip).or_else(|| self.other_hosts.get(ip))
    }

    /// Folds one line in.
    pub fn observe(&mut self, raw: &[u8], pos: Position) {
        let line = match Line::parse(raw) {
            Ok(l) => l,
            Err(e) => return self.unreadable(pos, &e.to_string()),
        };
        let t = line.micros();
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if let Some(f) = self.files.last_mut() {
            if let Some(t) = t {
                f.first = Some(f.first.map_or(t, |v| v.min(t)));
                f.last = Some(f.last.map_or(t, |v| v.max(t)));
            }
            let known = f.events.len() < limits::EVENT_TYPES
                || f.events.contains_key(line.event_type.as_ref());
            if known {
                *f.events.entry(line.event_type.to_string()).or_insert(0) += 1;
            } else {
                f.other_events += 1;
            }
        }
        let result = match line.event_type.as_ref() {
            "alert" => self.alert(&line, raw, pos),
            "smtp" => self.smtp(&line),
            "stats" => self.stats(&line),
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.unreadable(pos, &e);
        }
    }

    fn unreadable(&mut self, pos: Position, e: &str) {
        if let Some(f) = self.files.last_mut() {
            f.unreadable += 1;
            if f.errors.len() < limits::ERRORS_QUOTED {
                f.errors.push(format!("{}:{}: {e}", f.path, pos.lines));
            }
        }
    }

    /// Input that could not be read, one sentence per file and kind of trouble.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        for f in &self.files {
            if f.unreadable > 0 {
                w.push(format!(
                    "{}: {} line{} not read as EVE records (first: {})",
                    f.path,
                    f.unreadable,
                    plural(f.unreadable),
                    f.errors.first().map(String::as_str).unwrap_or("")
                ));
            }
            if f.read.oversize > 0 {
                w.push(format!(
                    "{}: {} line{} longer than {} MiB skipped",
                    f.path,
                    f.read.oversize,
                    plural(f.read.oversize),
                    crate::input::MAX_LINE >> 20
                ));
            }
            if let Some(s) = &f.read.stopped {
                w.push(format!("{}: {s}", f.path));
            }
        }
        w
    }

    fn stats(&mut self, line: &Line<'_>) -> Result<(), String> {
        let Some(raw) = line.stats else {
            return Ok(());
        };
        let v: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|e| format!("`stats`: {e}"))?;
        let mut c = Counters::default();
        flatten(&v, &mut String::new(), &mut c);
        let Some(f) = self.files.last_mut() else {
            return Ok(());
        };
        // A run's counters only grow: fewer packets than before is a new run
        // appended to the same file.
        if let Some(prev) = f.current.take()
            && c.get("decoder.pkts") < prev.get("decoder.pkts")
        {
            f.stats.get_or_insert_with(Counters::default).merge(&prev);
            f.runs += 1;
        }
        f.current = Some(c);
        Ok(())
    }

    fn smtp(&mut self, line: &Line<'_>) -> Result<(), String> {
        let t = line.micros();
        if line.email.is_some()
            && let Some(src) = line.src_ip
        {
            self.mailers.add(src, t);
        }
        // The full recipient list of a transaction an open-relay alert
        // was raised on (the alert carries the list as far as it was then).
        let (Some(flow), Some(tx)) = (line.flow_id, line.tx_id) else {
            return Ok(());
        };
        let Some(RelayTx {
            server: Some(host),
            counted,
        }) = self.relay_tx.remove(&(flow, tx))
        else {
            return Ok(());
        };
        let smtp: Option<SmtpObj> = object(line.smtp, "smtp")?;
        let Some(smtp) = smtp else { return Ok(()) };
        let accepted = accepted_domains(&smtp);
        let n = accepted.len() as u64;
        if let Some(h) = self.host_mut(&host) {
            if let Some(k) = h.kinds.get_mut(&Kind::Relay) {
                k.count("accepted_rcpts", n.saturating_sub(counted));
            }
            // Domains the alert had not seen yet.
            for d in accepted.into_iter().skip(counted as usize) {
                h.targets.add((Target::RcptAccepted, d), t);
            }
        }
        Ok(())
    }

    fn host_mut(&mut self, ip: &IpAddr) -> Option<&mut Host> {
        if self.home.contains(*ip) {
            self.home_hosts.get_mut(ip)
        } else {
            self.other_hosts.get_mut(ip)
        }
    }

    /// Records that `ip` plays `kinds` in the alert `cx`; once per host.
    fn roles(&mut self, cx: &Ctx<'_>, roles: &[(IpAddr, Kind)]) {
        let mut done: Vec<IpAddr> = Vec::with_capacity(roles.len());
        for &(ip, kind) in roles {
            let home = self.home.contains(ip);
            let (hosts, lesser) = if home {
                (&mut self.home_hosts, &mut self.home_lesser)
            } else {
                (&mut self.other_hosts, &mut self.other_lesser)
            };
            // A full map makes room for confirmed abuse by dropping a host
            // with lesser evidence only: the cap must not hide the worst.
            if cx.severity == 1
                && hosts.is_full()
                && hosts.get(&ip).is_none()
                && let Some(out) = lesser.pop_first()
                && let Some(gone) = hosts.remove(&out)
            {
                self.evicted += 1;
                let freed: usize = gone
                    .samples
                    .values()
                    .flat_map(|(a, b)| [Some(a), b.as_ref()])
                    .flatten()
                    .filter_map(|s| s.line.as_ref().map(String::len))
                    .sum();
                self.sample_bytes -= freed.min(self.sample_bytes);
            }
            let Some(h) = hosts.entry(ip) else { continue };
            h.home = home;
            let k = h.kinds.entry(kind).or_default();
            k.seen.add(cx.t, 1);
            k.severity = worst(k.severity, cx.severity);
            *k.sids.entry(cx.sid).or_insert(0) += 1;
            if h.kinds.values().any(|k| k.severity == 1) {
                lesser.remove(&ip);
            } else {
                lesser.insert(ip);
            }
            if done.contains(&ip) {
                continue;
            }
            done.push(ip);
            if h.sids.len() < limits::SIDS_PER_HOST || h.sids.contains_key(&cx.sid) {
                let s = h.sids.entry(cx.sid).or_default();
                s.seen.add(cx.t, 1);
                s.severity = worst(s.severity, cx.severity);
                if let Some(t) = cx.t {
                    s.hist.add(t, 1);
                }
            } else {
                h.sids_refused += 1;
            }
            // The first and the latest record of each signature; the latest
            // replaces the one before, so its bytes go back to the budget.
            let file = self.files.len().saturating_sub(1);
            let replaced = match h.samples.get(&cx.sid) {
                Some((_, Some(s))) => s.line.as_ref().map_or(0, String::len),
                _ => 0,
            };
            self.sample_bytes -= replaced.min(self.sample_bytes);
            let len = cx.raw.len();
            let line =
                if len <= limits::SAMPLE_LINE && self.sample_bytes + len <= limits::SAMPLE_BYTES {
                    self.sample_bytes += len;
                    Some(String::from_utf8_lossy(cx.raw).into_owned())
                } else {
                    self.samples_dropped += 1;
                    None
                };
            let sample = Sample {
                sid: cx.sid,
                flow_id: cx.line.flow_id,
                tx_id: cx.line.tx_id,
                time: cx.t,
                file,
                line_no: cx.pos.lines,
                line,
            };
            match h.samples.get_mut(&cx.sid) {
                None => {
                    h.samples.insert(cx.sid, (sample, None));
                }
                Some((_, last)) => *last = Some(sample),
            }
        }
    }

    fn kind_mut(&mut self, ip: IpAddr, kind: Kind) -> Option<&mut KindStat> {
        self.host_mut(&ip).and_then(|h| h.kinds.get_mut(&kind))
    }

    fn peer(&mut self, ip: IpAddr, kind: Kind, peer: Option<IpAddr>, t: Option<u64>) {
        if let (Some(h), Some(p)) = (self.host_mut(&ip), peer) {
            h.peers.add((kind, p), t);
        }
    }

    fn target(&mut self, ip: IpAddr, target: Target, what: String, t: Option<u64>) {
        if let Some(h) = self.host_mut(&ip) {
            h.targets.add((target, what), t);
        }
    }

    fn probe(&mut self, cx: &Ctx<'_>, detail: String, named: Option<IpAddr>) {
        self.probes.add(
            ProbeKey {
                sid: cx.sid,
                src: cx.line.src_ip,
                dest: cx.line.dest_ip,
                detail,
                named,
            },
            cx.t,
        );
    }

    fn alert(&mut self, line: &Line<'_>, raw: &[u8], pos: Position) -> Result<(), String> {
        let Some(a) = object::<AlertObj>(line.alert, "alert")? else {
            return Err("an alert record without an `alert` object".into());
        };
        let severity = a.severity.clamp(1, 3);
        let cx = Ctx {
            sid: a.signature_id,
            severity,
            t: line.micros(),
            line,
            raw,
            pos,
        };
        self.alerts += 1;
        if let Some(t) = cx.t {
            self.by_severity[usize::from(severity - 1)].add(t, 1);
        }
        if let Some(s) = self.sigs.entry(cx.sid) {
            s.seen.add(cx.t, 1);
            s.severity = worst(s.severity, severity);
            if s.signature.is_empty() {
                s.signature = clip(&a.signature);
            }
        }
        let (src, dest) = (line.src_ip, line.dest_ip);
        let t = cx.t;
        // A host of ours reaching stepping stones outside home_net.
        let client_side = |m: &Model| match (src, dest) {
            (Some(s), Some(d)) if m.home.contains(s) && !m.home.contains(d) => Some((s, d)),
            _ => None,
        };
        let uses = client_side(self);
        let with_client = |m: &mut Model, role: (IpAddr, Kind)| {
            let mut roles = vec![role];
            if let Some((s, _)) = uses {
                roles.push((s, Kind::Client));
            }
            m.roles(&cx, &roles);
            if let Some((s, d)) = uses {
                m.peer(s, Kind::Client, Some(d), t);
            }
        };
        match cx.sid {
            9_700_001..=9_700_004 => {
                let Some(server) = dest else { return Ok(()) };
                let http: HttpObj = object(line.http, "http")?.unwrap_or_default();
                let target = http_target(&http);
                with_client(self, (server, Kind::HttpProxy));
                self.peer(server, Kind::HttpProxy, src, t);
                let (which, counter) = match cx.sid {
                    9_700_001 => (Target::Url, "absolute"),
                    9_700_002 => (Target::MailConnect, "connect_mail"),
                    9_700_003 => (Target::MailTunnel, "tunnels"),
                    _ => (Target::OtherConnect, "connect_other"),
                };
                if let Some(k) = self.kind_mut(server, Kind::HttpProxy) {
                    k.count(counter, 1);
                }
                self.target(server, which, target.clone(), t);
                if cx.sid != 9_700_003 {
                    let detail = match (&http.http_method, cx.sid) {
                        (Some(m), 9_700_001) => clip(&format!("{m} {target}")),
                        _ => clip(&format!("CONNECT {target}")),
                    };
                    self.probe(&cx, detail, None);
                }
            }
            9_700_005 => {
                // The first hop of the chain is this flow's server.
                let Some(server) = dest else { return Ok(()) };
                let chain: Vec<ChainLink> =
                    object(line.tunnel_chain, "tunnel_chain")?.unwrap_or_default();
                let kind = match chain.first().map(|l| l.proto.as_ref()) {
                    Some("socks4" | "socks5") => Kind::SocksProxy,
                    _ => Kind::HttpProxy,
                };
                with_client(self, (server, kind));
                self.peer(server, kind, src, t);
                if let Some(k) = self.kind_mut(server, kind) {
                    k.count("chains", 1);
                }
                let next = match object::<HttpObj>(line.http, "http")? {
                    Some(h) => http_target(&h),
                    None => socks_target(&object(line.socks, "socks")?.unwrap_or_default()),
                };
                let hops: Vec<&str> = chain.iter().map(|l| l.target.as_str()).collect();
                self.target(server, Target::Chained, clip(&hops.join(" → ")), t);
                self.probe(
                    &cx,
                    clip(&format!("chain via {} to {next}", hops.join(" → "))),
                    None,
                );
            }
            9_700_010..=9_700_012 => {
                let Some(server) = dest else { return Ok(()) };
                let socks: SocksObj = object(line.socks, "socks")?.unwrap_or_default();
                let target = socks_target(&socks);
                with_client(self, (server, Kind::SocksProxy));
                self.peer(server, Kind::SocksProxy, src, t);
                let (which, counter) = match cx.sid {
                    9_700_010 => (Target::MailConnect, "connect_mail"),
                    9_700_011 => (Target::MailTunnel, "tunnels"),
                    _ => (Target::SocksRequest, "inbound"),
                };
                if let Some(k) = self.kind_mut(server, Kind::SocksProxy) {
                    k.count(counter, 1);
                }
                self.target(server, which, target.clone(), t);
                if cx.sid != 9_700_011 {
                    let v = socks.version;
                    self.probe(&cx, clip(&format!("SOCKS{v} CONNECT {target}")), None);
                }
            }
            9_700_020 | 9_700_021 => {
                let Some(server) = dest else { return Ok(()) };
                let smtp: SmtpObj = object(line.smtp, "smtp")?.unwrap_or_default();
                with_client(self, (server, Kind::Relay));
                self.peer(server, Kind::Relay, src, t);
                if cx.sid == 9_700_020 {
                    if let Some(k) = self.kind_mut(server, Kind::Relay) {
                        k.count("attempts", 1);
                    }
                    let domains = rcpt_domains(&smtp);
                    for d in &domains {
                        self.target(server, Target::RcptAttempt, d.clone(), t);
                    }
                    self.probe(&cx, clip(&format!("RCPT TO {}", domains.join(", "))), None);
                } else {
                    let accepted = accepted_domains(&smtp);
                    let n = accepted.len() as u64;
                    if let Some(k) = self.kind_mut(server, Kind::Relay) {
                        k.count("relayed_tx", 1);
                        k.count("accepted_rcpts", n);
                    }
                    for d in accepted {
                        self.target(server, Target::RcptAccepted, d, t);
                    }
                    if let (Some(flow), Some(tx)) = (line.flow_id, line.tx_id)
                        && let Some(slot) = self.relay_tx.entry((flow, tx))
                    {
                        *slot = RelayTx {
                            server: Some(server),
                            counted: n,
                        };
                    }
                }
            }
            9_700_022 => {
                let f: FumidaiObj = object(line.fumidai, "fumidai")?.unwrap_or_default();
                let Some(pc) = f.proxy_check else {
                    return Ok(());
                };
                let named = format!("{}:{}", pc.address, pc.port);
                self.roles(&cx, &[(pc.address, Kind::ProxyListed)]);
                self.peer(pc.address, Kind::ProxyListed, dest, t);
                self.target(pc.address, Target::Listed, named.clone(), t);
                if let Some(k) = self.kind_mut(pc.address, Kind::ProxyListed) {
                    k.count("mails", 1);
                }
                self.probe(&cx, named, Some(pc.address));
            }
            9_700_023 => {
                let Some(server) = dest else { return Ok(()) };
                let f: FumidaiObj = object(line.fumidai, "fumidai")?.unwrap_or_default();
                let tunnel = f.tunnel;
                let kind = match tunnel.as_ref().map(|t| t.kind.as_ref()) {
                    Some("socks") => Kind::SocksProxy,
                    _ => Kind::HttpProxy,
                };
                with_client(self, (server, kind));
                self.peer(server, kind, src, t);
                if let Some(k) = self.kind_mut(server, kind) {
                    k.count("smtp_sessions", 1);
                }
                if let Some(tn) = tunnel {
                    let to = endpoint(tn.host.as_deref(), tn.port);
                    self.target(server, Target::SmtpRelayed, to, t);
                }
            }
            9_700_024 => {
                let Some(client) = src else { return Ok(()) };
                let f: FumidaiObj = object(line.fumidai, "fumidai")?.unwrap_or_default();
                self.roles(&cx, &[(client, Kind::SpamBot)]);
                self.peer(client, Kind::SpamBot, dest, t);
                if let (Some(v), Some(k)) = (f.mail_volume, self.kind_mut(client, Kind::SpamBot)) {
                    k.max("mails_per_hour", u64::from(v.messages));
                    k.max("limit", u64::from(v.limit));
                }
            }
            9_700_030 => {
                let ntp: Option<fumidai_eve::app::NtpObj> = object(line.ntp, "ntp")?;
                let what = ntp
                    .and_then(|n| n.request.map(|r| r.into_owned()))
                    .unwrap_or_else(|| "monlist".into());
                self.probe(&cx, clip(&format!("NTP mode 7 {what}")), None);
            }
            9_700_031 => {
                // The amplifier is the NTP side of the flow: the flow's
                // server when the request was seen, its client when only
                // the answers were (the victim's view).
                let (amp, victim) = match (src, dest) {
                    (Some(s), Some(d))
                        if line.src_port == Some(123) && line.dest_port != Some(123) =>
                    {
                        (s, Some(d))
                    }
                    (s, Some(d)) => (d, s),
                    (Some(s), None) => (s, None),
                    (None, None) => return Ok(()),
                };
                self.roles(&cx, &[(amp, Kind::Amplifier)]);
                if let Some(k) = self.kind_mut(amp, Kind::Amplifier) {
                    k.count("monlist", 1);
                }
                if let Some(v) = victim
                    && let Some(p) = self.pairs.entry((amp, v))
                {
                    p.seen.add(t, 1);
                    *p.sids.entry(cx.sid).or_insert(0) += 1;
                    p.monlist += 1;
                    if p.service.is_empty() {
                        p.service = "ntp".into();
                    }
                }
            }
            9_700_032..=9_700_034 => {
                let Some(ev) = object::<Amplification>(line.amplification, "amplification")? else {
                    return Ok(());
                };
                self.roles(
                    &cx,
                    &[(ev.reflector, Kind::Amplifier), (ev.victim, Kind::Victim)],
                );
                for (ip, kind) in [(ev.reflector, Kind::Amplifier), (ev.victim, Kind::Victim)] {
                    if let Some(k) = self.kind_mut(ip, kind) {
                        if let Some(r) = ev.ratio {
                            k.peak_ratio = Some(k.peak_ratio.map_or(r, |p| p.max(r)));
                        }
                        if let Some(n) = ev.reflectors {
                            k.max("reflectors", n);
                        }
                    }
                }
                if let Some(p) = self.pairs.entry((ev.reflector, ev.victim)) {
                    p.seen.add(t, 1);
                    *p.sids.entry(cx.sid).or_insert(0) += 1;
                    if p.service.is_empty() {
                        p.service = clip(&ev.service);
                    }
                    p.response_bytes = p.response_bytes.saturating_add(ev.response_bytes);
                    p.request_bytes = p.request_bytes.saturating_add(ev.request_bytes);
                    if let Some(r) = ev.ratio {
                        p.peak_ratio = Some(p.peak_ratio.map_or(r, |x| x.max(r)));
                    }
                    if ev.window_s > 0 {
                        let rate = ev.response_bytes as f64 / ev.window_s as f64;
                        p.peak_rate = Some(p.peak_rate.map_or(rate, |x| x.max(rate)));
                    }
                    if let Some(n) = ev.reflectors {
                        p.reflectors = p.reflectors.max(n);
                    }
                }
                if let Some(t) = t
                    && let Some(s) = self.series.entry(ev.victim)
                {
                    s.bytes.add(t, ev.response_bytes);
                    s.ratio.add(t, Peak(ev.ratio));
                    s.window_s = s.window_s.max(ev.window_s);
                }
            }
            9_700_035 => {
                let Some(ev) = object::<Flood>(line.amplification, "amplification")? else {
                    return Ok(());
                };
                let mut roles = vec![(ev.victim, Kind::Victim)];
                roles.extend(
                    ev.top_reflectors
                        .iter()
                        .map(|r| (r.reflector, Kind::Amplifier)),
                );
                self.roles(&cx, &roles);
                if let Some(k) = self.kind_mut(ev.victim, Kind::Victim) {
                    k.max("reflectors", ev.reflectors);
                    k.max("flood_bytes", ev.response_bytes);
                }
                for r in &ev.top_reflectors {
                    if let Some(p) = self.pairs.entry((r.reflector, ev.victim)) {
                        p.seen.add(t, 1);
                        *p.sids.entry(cx.sid).or_insert(0) += 1;
                        if p.service.is_empty() {
                            p.service = clip(&ev.service);
                        }
                        p.response_bytes = p.response_bytes.saturating_add(r.response_bytes);
                    }
                }
                if let Some(t) = t
                    && let Some(s) = self.series.entry(ev.victim)
                {
                    s.bytes.add(t, ev.response_bytes);
                    s.window_s = s.window_s.max(ev.window_s);
                }
            }
            9_700_040 => {
                let f: FumidaiObj = object(line.fumidai, "fumidai")?.unwrap_or_default();
                let detail = match &f.sweep {
                    Some(s) => format!("port {} on {} hosts in {} s", s.port, s.hosts, s.window_s),
                    None => "proxy ports".into(),
                };
                if let Some(s) = src
                    && self.home.contains(s)
                {
                    self.roles(&cx, &[(s, Kind::Sweeper)]);
                    if let Some(sw) = &f.sweep {
                        if let Some(k) = self.kind_mut(s, Kind::Sweeper) {
                            k.max("hosts", sw.hosts as u64);
                        }
                        self.target(s, Target::SweptPort, sw.port.to_string(), t);
                    }
                }
                self.probe(&cx, detail, None);
            }
            9_700_090 => {
                let f: FumidaiObj = object(line.fumidai, "fumidai")?.unwrap_or_default();
                if let Some(st) = f.storm
                    && let Some(seen) = self.held_back.entry(st.signature_id)
                {
                    seen.merge(&Seen {
                        count: st.suppressed,
                        first: st.first.micros(),
                        last: st.last.micros(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Alerts refused by full maps, for the page: (what, cap, refused).
    pub fn limits_hit(&self) -> Vec<(&'static str, usize, u64)> {
        let mut v = Vec::new();
        let mut add = |what, cap, n: u64| {
            if n > 0 {
                v.push((what, cap, n));
            }
        };
        add(
            "alerts (per host and role) on hosts in home_net beyond the host limit",
            limits::HOSTS,
            self.home_hosts.refused,
        );
        add(
            "alerts (per host and role) on hosts outside home_net beyond the host limit",
            limits::HOSTS,
            self.other_hosts.refused,
        );
        add(
            "hosts with severity-2 or -3 evidence only, dropped to make room for hosts with severity-1 evidence",
            limits::HOSTS,
            self.evicted,
        );
        add(
            "amplification alerts on (reflector, victim) pairs beyond the pair limit",
            limits::AMP_PAIRS,
            self.pairs.refused,
        );
        add(
            "amplification alerts on victims beyond the time-series limit",
            limits::AMP_VICTIMS,
            self.series.refused,
        );
        add(
            "probes beyond the probe-row limit",
            limits::PROBES,
            self.probes.untallied,
        );
        add(
            "alerts of signatures beyond the signature limit",
            limits::SIGNATURES,
            self.sigs.refused,
        );
        add(
            "mails from clients beyond the mail-client limit",
            limits::MAILERS,
            self.mailers.untallied,
        );
        add(
            "open-relay transactions whose full recipient list was not joined",
            limits::RELAY_TX,
            self.relay_tx.refused,
        );
        add(
            "records not kept to show (sample budget)",
            limits::SAMPLE_BYTES,
            self.samples_dropped,
        );
        v
    }
}

/// The amplification pairs by each of their sides, built once per page
/// (looking pairs up per host would cost hosts × pairs).
pub struct PairIndex<'a> {
    /// Reflector → (victim, pair), victims in address order.
    pub by_reflector: BTreeMap<IpAddr, Vec<(IpAddr, &'a Pair)>>,
    /// Victim → (reflector, pair).
    pub by_victim: BTreeMap<IpAddr, Vec<(IpAddr, &'a Pair)>>,
}

impl Model {
    pub fn pair_index(&self) -> PairIndex<'_> {
        let mut ix = PairIndex {
            by_reflector: BTreeMap::new(),
            by_victim: BTreeMap::new(),
        };
        for ((r, v), pair) in self.pairs.iter() {
            ix.by_reflector.entry(*r).or_default().push((*v, pair));
            ix.by_victim.entry(*v).or_default().push((*r, pair));
        }
        for list in ix
            .by_reflector
            .values_mut()
            .chain(ix.by_victim.values_mut())
        {
            list.sort_by_key(|(ip, _)| *ip);
        }
        ix
    }
}

/// The worse of two severities (1 is worst; 0 means none yet).
fn worst(a: u8, b: u8) -> u8 {
    if a == 0 { b } else { a.min(b) }
}

pub fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// At most [`limits::TEXT`] characters of a field from the log.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(limits::TEXT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn endpoint(host: Option<&str>, port: Option<u16>) -> String {
    let host = host.unwrap_or("?");
    // IPv6 literals in brackets, as in a URL authority.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => clip(&format!("{host}:{p}")),
        None => clip(&host),
    }
}

/// Where an HTTP request was going: the CONNECT authority, or the host and
/// port of an absolute-form URL.
fn http_target(h: &HttpObj) -> String {
    if let Some(p) = &h.proxy
        && p.target_host.is_some()
    {
        return endpoint(p.target_host.as_deref(), p.target_port);
    }
    match (&h.hostname, h.http_port) {
        (Some(host), port) => endpoint(Some(host), port),
        (None, _) => clip(h.url.as_deref().unwrap_or("?")),
    }
}

fn socks_target(s: &SocksObj) -> String {
    let Some(r) = &s.request else {
        return "?".into();
    };
    let host = r.name.clone().or_else(|| r.host.map(|h| h.to_string()));
    endpoint(host.as_deref(), r.port)
}

/// The domain of `<user@domain>`, lower-cased.
fn domain(rcpt: &str) -> String {
    let r = rcpt.trim().trim_start_matches('<').trim_end_matches('>');
    let d = r.rsplit_once('@').map_or(r, |(_, d)| d);
    clip(&d.to_ascii_lowercase())
}

fn rcpt_domains(s: &SmtpObj) -> Vec<String> {
    let mut v: Vec<String> = if s.recipients.is_empty() {
        s.rcpt_to.iter().map(|r| domain(r)).collect()
    } else {
        s.recipients.iter().map(|r| domain(&r.to)).collect()
    };
    v.dedup();
    v
}

/// One entry per recipient the server accepted (2xx), by domain, in order.
fn accepted_domains(s: &SmtpObj) -> Vec<String> {
    s.recipients
        .iter()
        .filter(|r| r.reply_code.is_some_and(|c| (200..300).contains(&c)))
        .map(|r| domain(&r.to))
        .collect()
}

/// Numeric leaves of a stats object as dotted counter names.
fn flatten(v: &serde_json::Value, prefix: &mut String, out: &mut Counters) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                if out.0.len() >= limits::STATS_KEYS {
                    return;
                }
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(k);
                flatten(child, prefix, out);
                prefix.truncate(len);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.add(prefix.clone(), u);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict;
    use serde_json::json;
    use std::collections::BTreeSet;

    fn home() -> HomeNet {
        HomeNet::new(vec!["10.77.0.0/24".parse().unwrap()], "test")
    }

    fn feed(m: &mut Model, lines: &[serde_json::Value]) {
        m.begin_file(Path::new("eve.json"));
        for (i, l) in lines.iter().enumerate() {
            let raw = l.to_string();
            m.observe(
                raw.as_bytes(),
                Position {
                    lines: i as u64 + 1,
                    raw_bytes: 0,
                },
            );
        }
        m.finish_file(FileRead::default());
    }

    fn alert(sid: u32, sev: u8, src: &str, dest: &str) -> serde_json::Value {
        json!({"timestamp": "2026-11-29T11:52:47.488071+0000", "flow_id": 7, "tx_id": 0,
               "event_type": "alert", "src_ip": src, "src_port": 40000, "dest_ip": dest, "dest_port": 25,
               "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
                         "signature": "s", "category": "c", "severity": sev}})
    }

    fn rcpt(to: &str, code: u16) -> serde_json::Value {
        json!({"to": to, "reply_code": code})
    }

    #[test]
    fn an_open_relay_counts_the_recipients_of_its_smtp_record() {
        // The alert fires on the first accepted foreign recipient; the
        // transaction's smtp record, later, lists them all.
        let mut a = alert(9_700_021, 1, "203.0.113.9", "10.77.0.2");
        a["smtp"] = json!({"recipients": [rcpt("<a@x.example>", 250)]});
        let smtp = json!({"timestamp": "2026-11-29T11:52:48.000000+0000", "flow_id": 7, "tx_id": 0,
            "event_type": "smtp", "src_ip": "203.0.113.9", "dest_ip": "10.77.0.2",
            "smtp": {"recipients": [rcpt("<a@x.example>", 250), rcpt("<b@y.example>", 250),
                                    rcpt("<c@z.example>", 550)]},
            "email": {"status": "PARSE_DONE"}});
        let mut m = Model::new(home());
        feed(&mut m, &[a, smtp]);
        let v = verdict::all(&m);
        let relay = v.iter().find(|v| v.kind == Kind::Relay).unwrap();
        assert!(relay.home && relay.confirmed && relay.severity == 1);
        assert!(
            relay
                .detail
                .starts_with("accepted 2 recipients from foreign clients in 1 mail transaction"),
            "{}",
            relay.detail
        );
        let h = m.host(&"10.77.0.2".parse().unwrap()).unwrap();
        assert_eq!(h.targets.len(), 2, "both accepted domains are targets");
    }

    #[test]
    fn a_monlist_answer_names_the_ntp_side_whichever_way_the_flow_was_seen() {
        let mut req_first = alert(9_700_031, 1, "203.0.113.5", "10.77.0.123");
        req_first["dest_port"] = json!(123);
        // The victim's view: the first packet was an answer, from port 123.
        let mut answer_first = alert(9_700_031, 1, "10.77.0.124", "203.0.113.6");
        answer_first["src_port"] = json!(123);
        answer_first["dest_port"] = json!(80);
        let mut m = Model::new(home());
        feed(&mut m, &[req_first, answer_first]);
        let amps: BTreeSet<String> = verdict::all(&m)
            .into_iter()
            .filter(|v| v.kind == Kind::Amplifier)
            .map(|v| v.host.to_string())
            .collect();
        assert_eq!(
            amps,
            BTreeSet::from(["10.77.0.123".into(), "10.77.0.124".into()])
        );
    }

    #[test]
    fn stats_of_runs_appended_to_one_file_are_summed() {
        let stats = |pkts: u64| {
            json!({"timestamp": "2026-11-29T11:52:47.000000+0000", "event_type": "stats",
                   "stats": {"decoder": {"pkts": pkts, "max_pkt_size": pkts}, "capture": {"kernel_drops": 1}}})
        };
        let mut m = Model::new(home());
        feed(&mut m, &[stats(10), stats(40), stats(5), stats(7)]);
        let f = &m.files[0];
        assert_eq!(f.runs, 2);
        let c = f.stats.as_ref().unwrap();
        assert_eq!(c.get("decoder.pkts"), 47);
        assert_eq!(c.get("decoder.max_pkt_size"), 40, "maxima are maxima");
        assert_eq!(c.get("capture.kernel_drops"), 2);
    }

    #[test]
    fn unreadable_lines_are_counted_with_file_and_line() {
        let mut m = Model::new(home());
        m.begin_file(Path::new("eve.json"));
        m.observe(
            b"{\"event_type\":\"flow\"}",
            Position {
                lines: 1,
                raw_bytes: 0,
            },
        );
        m.observe(
            b"{\"event_type\":",
            Position {
                lines: 2,
                raw_bytes: 0,
            },
        );
        m.observe(
            br#"{"event_type":"alert","alert":{"signature_id":9700003,"severity":"high"}}"#,
            Position {
                lines: 3,
                raw_bytes: 0,
            },
        );
        m.finish_file(FileRead::default());
        let f = &m.files[0];
        assert_eq!(f.unreadable, 2);
        assert!(f.errors[0].starts_with("eve.json:2: "), "{:?}", f.errors);
        assert!(
            f.errors[1].starts_with("eve.json:3: `alert"),
            "{:?}",
            f.errors
        );
        assert_eq!(m.warnings().len(), 1);
    }

    #[test]
    fn a_full_host_map_makes_room_for_the_worst_and_counts_the_rest() {
        let mut m = Model::new(home());
        m.home_hosts = Bounded::new(2);
        let lines = vec![
            alert(9_700_002, 2, "203.0.113.1", "10.77.0.1"),
            alert(9_700_002, 2, "203.0.113.1", "10.77.0.2"),
            // Full: a confirmed open proxy takes the place of a probed one.
            alert(9_700_003, 1, "203.0.113.1", "10.77.0.3"),
            alert(9_700_002, 2, "203.0.113.1", "10.77.0.4"),
            alert(9_700_003, 1, "203.0.113.1", "10.77.0.5"),
            // Nothing lesser is left to drop.
            alert(9_700_003, 1, "203.0.113.1", "10.77.0.6"),
        ];
        feed(&mut m, &lines);
        let kept: BTreeSet<String> = m.home_hosts.iter().map(|(ip, _)| ip.to_string()).collect();
        assert_eq!(
            kept,
            BTreeSet::from(["10.77.0.3".into(), "10.77.0.5".into()])
        );
        assert_eq!(m.evicted, 2);
        assert_eq!(m.home_hosts.refused, 2);
        assert_eq!(m.limits_hit().len(), 2);
    }

    #[test]
    fn a_full_host_map_is_counted_not_silent() {
        let mut m = Model::new(home());
        m.other_hosts = Bounded::new(2);
        let lines: Vec<_> = (1..=5)
            .map(|i| alert(9_700_003, 1, "10.77.0.9", &format!("198.51.100.{i}")))
            .collect();
        feed(&mut m, &lines);
        assert_eq!(m.other_hosts.len(), 2);
        assert_eq!(m.other_hosts.refused, 3);
        assert!(
            m.limits_hit()
                .iter()
                .any(|(what, _, n)| what.contains("outside home_net") && *n == 3)
        );
        // Our own client's role is kept whatever happens to the outsiders.
        let me = m.host(&"10.77.0.9".parse().unwrap()).unwrap();
        assert_eq!(me.kinds[&Kind::Client].seen.count, 5);
    }

    #[test]
    fn alerts_the_sensor_held_back_are_said() {
        let mut a = alert(9_700_090, 2, "203.0.113.1", "10.77.0.2");
        a["fumidai"] = json!({"storm": {"signature_id": 9_700_001, "suppressed": 1234, "allowed": 100,
            "window_s": 60, "first": "2026-11-29T11:52:47.000000+0000", "last": "2026-11-29T11:53:47.000000+0000",
            "sources": ["203.0.113.1"], "destinations": ["10.77.0.2"]}});
        let mut m = Model::new(home());
        feed(&mut m, &[a]);
        assert_eq!(m.held_back.get(&9_700_001).map(|s| s.count), Some(1234));
        let page = crate::html::render(
            &m,
            &crate::html::PageInfo {
                title: "t".into(),
                home: "h".into(),
                version: "0",
            },
        );
        assert!(
            page.contains("held back 1,234 alerts of"),
            "said at the top"
        );
    }

    proptest::proptest! {
        /// Any bytes, any line: no panic, and the page renders.
        #[test]
        fn any_line_is_survived(lines in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 0..20)) {
            let mut m = Model::new(home());
            m.begin_file(Path::new("x"));
            for (i, l) in lines.iter().enumerate() {
                m.observe(l, Position { lines: i as u64 + 1, raw_bytes: 0 });
            }
            m.finish_file(FileRead::default());
            let _ = crate::html::render(&m, &crate::html::PageInfo { title: "t".into(), home: "h".into(), version: "0" });
        }

        /// Alerts of every signature with any addresses, ports, numbers and
        /// text in their objects: no panic, and no text of theirs becomes markup.
        #[test]
        fn any_alert_renders_as_text(
            sid in proptest::sample::select(vec![9_700_001u32, 9_700_002, 9_700_003, 9_700_004, 9_700_010, 9_700_011,
                9_700_012, 9_700_020, 9_700_021, 9_700_022, 9_700_023, 9_700_024, 9_700_030, 9_700_031, 9_700_032,
                9_700_033, 9_700_034, 9_700_040, 1]),
            sev in 0u8..9,
            src in proptest::num::u32::ANY, dst in proptest::num::u32::ANY,
            sport in proptest::num::u16::ANY, dport in proptest::num::u16::ANY,
            text in "<[a-z]{1,6}[^>]{0,20}>\\PC{0,30}",
            n in proptest::num::u64::ANY,
            ratio in proptest::num::f64::POSITIVE,
            t in 0u64..4_000_000_000,
        ) {
            let ip = |v: u32| std::net::Ipv4Addr::from(v).to_string();
            let ts = fumidai_eve::EveTime::from_micros(t * 1_000_000).to_string();
            let line = json!({"timestamp": ts, "flow_id": n, "tx_id": n % 7, "event_type": "alert",
                "src_ip": ip(src), "src_port": sport, "dest_ip": ip(dst), "dest_port": dport,
                "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 1, "signature": text,
                          "category": text, "severity": sev},
                "http": {"hostname": text, "http_port": dport, "url": text, "http_method": text,
                         "proxy": {"target_form": "authority", "target_host": text, "target_port": dport}},
                "socks": {"version": 5, "request": {"name": text, "port": dport}},
                "smtp": {"recipients": [{"to": text, "reply_code": 250}], "rcpt_to": [text]},
                "email": {"status": "PARSE_DONE", "subject": text},
                "ntp": {"version": 2, "mode": 7, "request": text},
                "fumidai": {"tunnel": {"type": text, "request": text, "host": text, "port": dport, "tx_id": 0},
                            "proxy_check": {"address": ip(dst), "port": dport, "found_in": text, "matches": text},
                            "mail_volume": {"messages": sport, "limit": dport, "window_s": 3600},
                            "sweep": {"hosts": n % 1000, "port": dport, "window_s": 300}},
                "amplification": {"service": text, "port": dport, "reflector": ip(dst), "victim": ip(src),
                                  "ratio": ratio, "request_bytes": n, "response_bytes": n, "request_pkts": 1,
                                  "response_pkts": 1, "window_s": sport, "reflectors": n % 100}});
            let mut m = Model::new(home());
            feed(&mut m, &[line.clone(), line]);
            let page = crate::html::render(&m, &crate::html::PageInfo { title: "t".into(), home: "h".into(), version: "0" });
            proptest::prop_assert!(!page.contains(text.as_str()), "raw text in the page");
        }
    }
}
