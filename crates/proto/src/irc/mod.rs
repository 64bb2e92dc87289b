//! IRC (RFC 1459, RFC 2812, IRCv3 message tags), both directions.
//!
//! IRC is one message per line, `[@tags] [:prefix] COMMAND params [:trailing]`,
//! on any port: bots are told to use odd ones. The parser reads the lines of
//! each side, keeps what the session is about (the client's nick, user and
//! real name, the server's name, the channels joined and with what key, who
//! is an operator there) and reports what the sensor acts on: registration,
//! joins, messages and notices (with their CTCP DCC offers), topics, the
//! welcome and "nick in use" replies. Message texts are in the events, not
//! in the session: the sensor decides whether they are logged.
//!
//! Everything kept is bounded: line length, text length, channels, operators
//! per channel. An over-long line is cut and reported; a gap resynchronises
//! at the next line.

pub mod message;

#[cfg(test)]
mod tests;

use memchr::memchr;

use crate::{Direction, Probe, StreamParser};
pub use message::{Dcc, Message, parse_dcc, parse_message};

/// Limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrcConfig {
    /// Longest line read; longer ones are cut and reported (RFC 2812 allows
    /// 512 bytes; servers accept more, and Zeek's line reader stops at 4096).
    pub max_line: usize,
    /// Bytes of a nick, channel, text kept.
    pub max_text: usize,
    /// Channels remembered per session.
    pub max_channels: usize,
    /// Operators remembered per channel.
    pub max_ops: usize,
}

impl Default for IrcConfig {
    fn default() -> Self {
        IrcConfig {
            max_line: 4096,
            max_text: 512,
            max_channels: 64,
            max_ops: 64,
        }
    }
}

/// A channel the client joined or asked to join.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    /// The JOIN carried a key (the channel's password; never kept).
    pub key: bool,
    /// The server confirmed the join.
    pub joined: bool,
    /// Nicks holding operator (or higher) status there, as far as seen.
    pub ops: Vec<String>,
    /// Operators beyond the bound, not kept.
    pub ops_dropped: u32,
}

/// Messages counted per kind and direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub privmsg_sent: u64,
    pub privmsg_received: u64,
    pub notice_sent: u64,
    pub notice_received: u64,
    /// CTCP requests (other than DCC) and DCC offers, either way.
    pub ctcp: u64,
    pub dcc: u64,
    pub joins: u64,
    pub pings: u64,
    pub lines_sent: u64,
    pub lines_received: u64,
}

/// What is known about the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The client's nick now: the one it asked for until the server
    /// welcomed it, then as the server confirms changes.
    pub nick: Option<String>,
    /// USER's user name, mode and real name.
    pub user: Option<String>,
    pub user_mode: Option<String>,
    pub realname: Option<String>,
    /// PASS was sent (the password is never kept).
    pub pass: bool,
    /// The server's own name: the prefix of its welcome (001), or of its
    /// first message before that.
    pub server: Option<String>,
    /// The server welcomed the client (001): registration succeeded.
    pub welcome: bool,
    /// 433 answers (nick in use).
    pub nick_in_use: u32,
    pub channels: Vec<Channel>,
    pub channels_dropped: u32,
    pub counts: Counts,
}

crate::heap_size_of_fields!(Channel: name, ops);
crate::heap_size_of_fields!(Session: nick, user, user_mode, realname, server, channels);

impl Session {
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// True when `nick` is an operator of `channel`.
    pub fn is_op(&self, channel: &str, nick: &str) -> bool {
        self.channel(channel)
            .is_some_and(|c| c.ops.iter().any(|o| o.eq_ignore_ascii_case(nick)))
    }

    fn channel_mut(&mut self, name: &str) -> Option<&mut Channel> {
        self.channels
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Malformed or unexpected input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IrcAnomaly {
    LineTooLong,
    /// A line that is not an IRC message (no command).
    InvalidLine,
    /// A 353 (NAMES) reply without its parameters.
    InvalidNamesLine,
    /// A DCC offer whose address or port does not parse.
    MalformedDcc,
    TooManyChannels,
    Gap,
}

impl IrcAnomaly {
    pub fn name(self) -> &'static str {
        match self {
            IrcAnomaly::LineTooLong => "line_too_long",
            IrcAnomaly::InvalidLine => "invalid_line",
            IrcAnomaly::InvalidNamesLine => "invalid_names_line",
            IrcAnomaly::MalformedDcc => "malformed_dcc",
            IrcAnomaly::TooManyChannels => "too_many_channels",
            IrcAnomaly::Gap => "gap",
        }
    }
}

/// A PRIVMSG or NOTICE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chat {
    pub dir: Direction,
    pub notice: bool,
    /// Who sent it: the prefix's nick (from the server), the client's nick
    /// (from the client).
    pub source: Option<String>,
    /// The full prefix as the server gave it (`nick!user@host`).
    pub prefix: Option<String>,
    pub target: String,
    pub text: String,
    /// The sender is an operator of the target channel.
    pub from_op: bool,
    /// A CTCP DCC offer carried in the text.
    pub dcc: Option<Dcc>,
}

/// What the parser reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrcEvent {
    /// The client asked for a nick (NICK).
    Nick {
        nick: String,
    },
    /// The server confirmed a change of the client's nick.
    NickChanged {
        nick: String,
    },
    /// The client registered its user name (USER user mode unused :real
    /// name; RFC 1459 has host and server names for mode and unused).
    User {
        user: String,
        mode: String,
        unused: String,
        realname: String,
    },
    /// The client asked to join a channel (one event per channel of a JOIN).
    Join {
        channel: String,
        key: bool,
    },
    /// The server confirmed that the client joined.
    Joined {
        channel: String,
    },
    /// The client left a channel.
    Part {
        channel: String,
    },
    /// The client quit.
    Quit {
        message: Option<String>,
    },
    /// A PRIVMSG or NOTICE, either way.
    Chat(Box<Chat>),
    /// A channel topic: the 332 reply on joining (no setter), or a TOPIC
    /// change by `setter`.
    Topic {
        channel: String,
        text: String,
        setter: Option<String>,
    },
    /// The server welcomed the client (001).
    Welcome {
        server: String,
        nick: String,
    },
    /// 433: the nick the client asked for is taken.
    NickInUse {
        nick: String,
    },
    /// 670: STARTTLS accepted; the rest is encrypted and not parsed.
    StartTls,
    Anomaly {
        kind: IrcAnomaly,
    },
}

/// An IRC connection.
#[derive(Debug)]
pub struct IrcParser {
    cfg: IrcConfig,
    session: Session,
    /// Skipping to the end of a line (after a gap or an over-long line).
    skip: [bool; 2],
    /// After STARTTLS: nothing more is read.
    opaque: bool,
}

impl IrcParser {
    pub fn new(cfg: IrcConfig) -> Self {
        IrcParser {
            cfg,
            session: Session::default(),
            skip: [false; 2],
            opaque: false,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Heap bytes held.
    pub fn memuse(&self) -> usize {
        use crate::heap::HeapSize;
        self.session.heap_size()
    }

    fn text(&self, b: &[u8]) -> String {
        let s = String::from_utf8_lossy(&b[..b.len().min(self.cfg.max_text)]).into_owned();
        if s.len() > self.cfg.max_text {
            // Replacement characters grew it: cut on a boundary.
            let mut cut = self.cfg.max_text;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            return s[..cut].to_owned();
        }
        s
    }

    fn line(&mut self, dir: Direction, input: &[u8], ev: &mut Vec<IrcEvent>) -> usize {
        let i = dir.index();
        let max = self.cfg.max_line;
        let (line, used) = match memchr(b'\n', input) {
            Some(n) if self.skip[i] => {
                self.skip[i] = false;
                return n + 1;
            }
            None if self.skip[i] => return input.len(),
            Some(n) if n <= max => (&input[..n], n + 1),
            Some(n) => {
                ev.push(IrcEvent::Anomaly {
                    kind: IrcAnomaly::LineTooLong,
                });
                (&input[..max], n + 1)
            }
            None if input.len() > max => {
                ev.push(IrcEvent::Anomaly {
                    kind: IrcAnomaly::LineTooLong,
                });
                // The rest of this line is skipped when it comes.
                self.skip[i] = true;
                (&input[..max], input.len())
            }
            None => return 0,
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            return used;
        }
        match dir {
            Direction::ToServer => self.session.counts.lines_sent += 1,
            Direction::ToClient => self.session.counts.lines_received += 1,
        }
        match parse_message(line, &self.cfg) {
            Some(m) => match dir {
                Direction::ToServer => self.client(m, ev),
                Direction::ToClient => self.server(m, ev),
            },
            None => ev.push(IrcEvent::Anomaly {
                kind: IrcAnomaly::InvalidLine,
            }),
        }
        used
    }

    // ---- client ------------------------------------------------------------

    fn client(&mut self, m: Message, ev: &mut Vec<IrcEvent>) {
        let p = |i: usize| m.params.get(i).cloned();
        match m.command.as_str() {
            "NICK" => {
                if let Some(n) = p(0).filter(|n| !n.is_empty()) {
                    // Before the welcome the nick asked for is the one in
                    // use (a 433 makes the client ask again); after it, only
                    // the server's confirmation changes it.
                    if !self.session.welcome {
                        self.session.nick = Some(n.clone());
                    }
                    ev.push(IrcEvent::Nick { nick: n });
                }
            }
            // A names reply sent by a client is malformed either way.
            "353" => self.names(&m, ev),
            "USER" => {
                let user = p(0).unwrap_or_default();
                let mode = p(1).unwrap_or_default();
                let unused = p(2).unwrap_or_default();
                let realname = m.params.get(3..).map(|r| r.join(" ")).unwrap_or_default();
                self.session.user = Some(user.clone());
                self.session.user_mode = Some(mode.clone());
                self.session.realname = Some(realname.clone());
                ev.push(IrcEvent::User {
                    user,
                    mode,
                    unused,
                    realname,
                });
            }
            "PASS" => self.session.pass = true,
            "JOIN" => {
                let chans = p(0).unwrap_or_default();
                if chans == "0" {
                    // JOIN 0: leave every channel.
                    for c in std::mem::take(&mut self.session.channels) {
                        ev.push(IrcEvent::Part { channel: c.name });
                    }
                    return;
                }
                let keys = p(1).unwrap_or_default();
                let keys: Vec<&str> = keys.split(',').collect();
                for (k, name) in chans.split(',').filter(|c| !c.is_empty()).enumerate() {
                    let key = keys.get(k).is_some_and(|k| !k.is_empty());
                    self.session.counts.joins += 1;
                    self.note_channel(name, key, ev);
                    ev.push(IrcEvent::Join {
                        channel: name.to_owned(),
                        key,
                    });
                }
            }
            "PART" => {
                for name in p(0)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|c| !c.is_empty())
                {
                    self.session
                        .channels
                        .retain(|c| !c.name.eq_ignore_ascii_case(name));
                    ev.push(IrcEvent::Part {
                        channel: name.to_owned(),
                    });
                }
            }
            "QUIT" => ev.push(IrcEvent::Quit { message: p(0) }),
            "PRIVMSG" | "NOTICE" => {
                let notice = m.command == "NOTICE";
                let c = &mut self.session.counts;
                if notice {
                    c.notice_sent += 1;
                } else {
                    c.privmsg_sent += 1;
                }
                let source = self.session.nick.clone();
                self.chat(Direction::ToServer, notice, source, None, &m, ev);
            }
            "PING" | "PONG" => self.session.counts.pings += 1,
            _ => {}
        }
    }

    fn note_channel(&mut self, name: &str, key: bool, ev: &mut Vec<IrcEvent>) {
        if let Some(c) = self.session.channel_mut(name) {
            c.key |= key;
            return;
        }
        if self.session.channels.len() >= self.cfg.max_channels {
            self.session.channels_dropped += 1;
            if self.session.channels_dropped == 1 {
                ev.push(IrcEvent::Anomaly {
                    kind: IrcAnomaly::TooManyChannels,
                });
            }
            return;
        }
        let name = self.text(name.as_bytes());
        self.session.channels.push(Channel {
            name,
            key,
            ..Channel::default()
        });
    }

    /// A PRIVMSG or NOTICE, with the DCC offer it may carry.
    fn chat(
        &mut self,
        dir: Direction,
        notice: bool,
        source: Option<String>,
        prefix: Option<String>,
        m: &Message,
        ev: &mut Vec<IrcEvent>,
    ) {
        let target = m.params.first().cloned().unwrap_or_default();
        let text = m.params.get(1..).map(|r| r.join(" ")).unwrap_or_default();
        let from_op = source
            .as_deref()
            .is_some_and(|s| self.session.is_op(&target, s));
        let ctcp = text.starts_with('\u{1}');
        let dcc = if ctcp { parse_dcc(&text) } else { None };
        if ctcp {
            if dcc.is_some() {
                self.session.counts.dcc += 1;
            } else {
                self.session.counts.ctcp += 1;
            }
        }
        if dcc.as_ref().is_some_and(|d| d.malformed) {
            ev.push(IrcEvent::Anomaly {
                kind: IrcAnomaly::MalformedDcc,
            });
        }
        ev.push(IrcEvent::Chat(Box::new(Chat {
            dir,
            notice,
            source,
            prefix,
            target,
            text,
            from_op,
            dcc,
        })));
    }

    // ---- server ------------------------------------------------------------

    fn server(&mut self, m: Message, ev: &mut Vec<IrcEvent>) {
        let p = |i: usize| m.params.get(i).cloned();
        let source = m.prefix.as_deref().map(|x| nick_of(x).to_owned());
        let ours = |s: &Session| {
            source.as_deref().is_some_and(|n| {
                s.nick
                    .as_deref()
                    .is_some_and(|me| me.eq_ignore_ascii_case(n))
            })
        };
        if self.session.server.is_none()
            && !self.session.welcome
            && let Some(px) = &m.prefix
            && !px.contains('!')
        {
            self.session.server = Some(px.clone());
        }
        match m.command.as_str() {
            "001" => {
                let nick = p(0).unwrap_or_default();
                let server = m.prefix.clone().unwrap_or_default();
                self.session.welcome = true;
                if !server.is_empty() {
                    self.session.server = Some(server.clone());
                }
                if !nick.is_empty() && self.session.nick.as_deref() != Some(nick.as_str()) {
                    self.session.nick = Some(nick.clone());
                }
                ev.push(IrcEvent::Welcome { server, nick });
            }
            "670" => {
                self.opaque = true;
                ev.push(IrcEvent::StartTls);
            }
            "433" => {
                self.session.nick_in_use += 1;
                ev.push(IrcEvent::NickInUse {
                    nick: p(1).unwrap_or_default(),
                });
            }
            "332" => {
                let (Some(channel), Some(text)) = (p(1), p(2)) else {
                    return;
                };
                ev.push(IrcEvent::Topic {
                    channel,
                    text,
                    setter: None,
                });
            }
            "353" => self.names(&m, ev),
            "NICK" if ours(&self.session) => {
                if let Some(n) = p(0).filter(|n| !n.is_empty()) {
                    self.session.nick = Some(n.clone());
                    ev.push(IrcEvent::NickChanged { nick: n });
                }
            }
            "NICK" => {
                // Someone else renamed: follow them in the operator lists.
                if let (Some(old), Some(new)) = (source.as_deref(), p(0)) {
                    for c in &mut self.session.channels {
                        for o in &mut c.ops {
                            if o.eq_ignore_ascii_case(old) {
                                *o = new.clone();
                            }
                        }
                    }
                }
            }
            "JOIN" if ours(&self.session) => {
                for name in p(0)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|c| !c.is_empty())
                {
                    self.note_channel(name, false, ev);
                    if let Some(c) = self.session.channel_mut(name) {
                        c.joined = true;
                    }
                    ev.push(IrcEvent::Joined {
                        channel: name.to_owned(),
                    });
                }
            }
            "KICK" => {
                if let (Some(chan), Some(who)) = (p(0), p(1))
                    && self
                        .session
                        .nick
                        .as_deref()
                        .is_some_and(|me| me.eq_ignore_ascii_case(&who))
                {
                    self.session
                        .channels
                        .retain(|c| !c.name.eq_ignore_ascii_case(&chan));
                }
            }
            "MODE" => self.mode(&m),
            "TOPIC" => {
                if let (Some(channel), Some(text)) = (p(0), p(1)) {
                    ev.push(IrcEvent::Topic {
                        channel,
                        text,
                        setter: source.clone(),
                    });
                }
            }
            "PRIVMSG" | "NOTICE" => {
                let notice = m.command == "NOTICE";
                let c = &mut self.session.counts;
                if notice {
                    c.notice_received += 1;
                } else {
                    c.privmsg_received += 1;
                }
                self.chat(
                    Direction::ToClient,
                    notice,
                    source.clone(),
                    m.prefix.clone(),
                    &m,
                    ev,
                );
            }
            "PING" => self.session.counts.pings += 1,
            _ => {}
        }
    }

    /// `353 me = #chan :@op +voice user`: who is an operator.
    fn names(&mut self, m: &Message, ev: &mut Vec<IrcEvent>) {
        // RFC 2812 has a channel type (= * @) before the channel; RFC 1459
        // servers leave it out.
        let (chan, list) = match m.params.len() {
            n if n >= 4 => (m.params[2].as_str(), m.params[3].as_str()),
            3 if !matches!(m.params[1].as_str(), "=" | "*" | "@") => {
                (m.params[1].as_str(), m.params[2].as_str())
            }
            _ => {
                ev.push(IrcEvent::Anomaly {
                    kind: IrcAnomaly::InvalidNamesLine,
                });
                return;
            }
        };
        let max = self.cfg.max_ops;
        let max_text = self.cfg.max_text;
        let Some(c) = self.session.channel_mut(chan) else {
            return;
        };
        for name in list.split(' ').filter(|n| !n.is_empty()) {
            // Multi-prefix servers list all of a user's prefixes (`@+nick`).
            let bare = name.trim_start_matches(['@', '~', '&', '%', '+']);
            let op = name
                .bytes()
                .take_while(|b| b"@~&%+".contains(b))
                .any(|b| matches!(b, b'@' | b'~' | b'&'));
            if op && !bare.is_empty() {
                add_op(c, bare, max, max_text);
            }
        }
    }

    /// `MODE #chan +o-o+v a b c`: operator status given and taken.
    fn mode(&mut self, m: &Message) {
        let Some(chan) = m.params.first() else { return };
        let Some(modes) = m.params.get(1) else { return };
        let max = self.cfg.max_ops;
        let max_text = self.cfg.max_text;
        let Some(c) = self.session.channel_mut(chan) else {
            return;
        };
        let mut args = m.params.iter().skip(2);
        let mut plus = true;
        for ch in modes.chars() {
            match ch {
                '+' => plus = true,
                '-' => plus = false,
                // Modes that take an argument (RFC 2811, common extensions).
                'o' | 'q' | 'a' => {
                    let Some(who) = args.next() else { break };
                    if plus {
                        add_op(c, who, max, max_text);
                    } else {
                        c.ops.retain(|o| !o.eq_ignore_ascii_case(who));
                    }
                }
                'v' | 'h' | 'b' | 'e' | 'I' | 'k' => {
                    args.next();
                }
                'l' if plus => {
                    args.next();
                }
                _ => {}
            }
        }
    }
}

fn add_op(c: &mut Channel, nick: &str, max: usize, max_text: usize) {
    if c.ops.iter().any(|o| o.eq_ignore_ascii_case(nick)) {
        return;
    }
    if c.ops.len() >= max {
        c.ops_dropped += 1;
        return;
    }
    c.ops.push(nick.chars().take(max_text).collect());
}

/// The nick of a prefix `nick!user@host` (a server name stays whole).
pub fn nick_of(prefix: &str) -> &str {
    prefix.split(['!', '@']).next().unwrap_or(prefix)
}

impl StreamParser for IrcParser {
    type Event = IrcEvent;

    fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<IrcEvent>) -> usize {
        if self.opaque {
            return input.len();
        }
        self.line(dir, input, events)
    }

    fn gap(&mut self, dir: Direction, _len: u64, events: &mut Vec<IrcEvent>) {
        if self.opaque {
            return;
        }
        // The line the hole fell in is lost; the next one is whole.
        self.skip[dir.index()] = true;
        events.push(IrcEvent::Anomaly {
            kind: IrcAnomaly::Gap,
        });
    }

    fn end(&mut self, _dir: Direction, _events: &mut Vec<IrcEvent>) {}
}

/// Commands a client opens an IRC session with.
const CLIENT_OPENERS: &[&[u8]] = &[b"NICK", b"USER", b"PASS", b"CAP"];
/// Commands a server opens with (after its prefix, if any).
const SERVER_OPENERS: &[&[u8]] = &[b"NOTICE", b"PING", b"ERROR"];
/// How far detection reads before giving up on a line.
const PROBE_LINE: usize = 1024;

/// Does `data`, the first bytes one side sent, open an IRC session? The
/// client's NICK, USER (with its four parameters: FTP and POP3 send one),
/// CAP, or PASS followed by one of those; the server's NOTICE, PING, ERROR
/// or a welcome numeric, with or without its prefix.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    match dir {
        Direction::ToServer => probe_client(data, 0),
        Direction::ToClient => probe_server(data),
    }
}

fn first_line(data: &[u8]) -> Option<&[u8]> {
    let n = memchr(b'\n', data)?;
    let l = &data[..n];
    Some(l.strip_suffix(b"\r").unwrap_or(l))
}

/// Whether the partial `word` could still become one of `words`.
fn could_be(word: &[u8], words: &[&[u8]]) -> bool {
    words
        .iter()
        .any(|w| word.len() <= w.len() && w[..word.len()].eq_ignore_ascii_case(word))
}

fn probe_client(data: &[u8], depth: u8) -> Probe {
    let Some(line) = first_line(data) else {
        let word_end = data.iter().position(|&c| c == b' ').unwrap_or(data.len());
        let word = &data[..word_end];
        let fits = if word_end < data.len() {
            CLIENT_OPENERS.iter().any(|w| w.eq_ignore_ascii_case(word))
        } else {
            could_be(word, CLIENT_OPENERS)
        };
        return if fits && data.len() < PROBE_LINE {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    // Only a client's opener, without a prefix, is worth parsing.
    let Some((None, cmd)) = message::prefix_and_command(line) else {
        return Probe::NoMatch;
    };
    if !CLIENT_OPENERS.iter().any(|w| w.eq_ignore_ascii_case(cmd)) {
        return Probe::NoMatch;
    }
    let cfg = IrcConfig::default();
    let Some(m) = parse_message(line, &cfg).filter(|m| m.prefix.is_none()) else {
        return Probe::NoMatch;
    };
    match m.command.as_str() {
        "NICK" if m.params.len() == 1 && valid_nick(&m.params[0]) => Probe::Match,
        "USER" if m.params.len() >= 4 => Probe::Match,
        "CAP"
            if m.params.first().is_some_and(|s| {
                matches!(s.to_ascii_uppercase().as_str(), "LS" | "REQ" | "END")
            }) =>
        {
            Probe::Match
        }
        // PASS alone could be another protocol's: the next line decides.
        "PASS" if depth == 0 && m.params.len() == 1 => {
            let rest = &data[memchr(b'\n', data).map_or(data.len(), |n| n + 1)..];
            probe_client(rest, 1)
        }
        _ => Probe::NoMatch,
    }
}

fn probe_server(data: &[u8]) -> Probe {
    let Some(line) = first_line(data) else {
        // A prefix, or the start of an opener without one.
        let fits = data.first() == Some(&b':') || could_be(data, SERVER_OPENERS);
        return if fits && data.len() < PROBE_LINE {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    // Only a server's opener, or a welcome numeric after a prefix, is
    // worth parsing.
    let Some((prefix, cmd)) = message::prefix_and_command(line) else {
        return Probe::NoMatch;
    };
    let numeric_welcome = matches!(
        cmd,
        b"001" | b"002" | b"003" | b"004" | b"005" | b"020" | b"439" | b"451"
    );
    let worth = SERVER_OPENERS.iter().any(|w| w.eq_ignore_ascii_case(cmd))
        || (numeric_welcome && prefix.is_some());
    if !worth {
        return Probe::NoMatch;
    }
    let cfg = IrcConfig::default();
    let Some(m) = parse_message(line, &cfg) else {
        return Probe::NoMatch;
    };
    match m.command.as_str() {
        "NOTICE" | "PING" if !m.params.is_empty() => Probe::Match,
        "ERROR" if !m.params.is_empty() => Probe::Match,
        _ if numeric_welcome && m.prefix.is_some() => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// Whether the first complete line of `data` is an IRC message at all: on
/// IRC's own ports that is enough (Zeek takes those ports by number).
pub fn looks_like_message(data: &[u8]) -> bool {
    first_line(data)
        .and_then(|l| parse_message(l, &IrcConfig::default()))
        .is_some()
}

/// A nick as RFC 2812 allows it (leniently: any length up to 64, and the
/// characters servers accept in practice).
pub fn valid_nick(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || b"[]\\`_^{|}".contains(&c))
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"[]\\`_^{|}-".contains(&c))
}
