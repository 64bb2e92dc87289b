//! IRC: `irc` events (registration, joins, DCC offers; message texts only
//! when `irc.log_messages` is on; a summary at the session's end) and the
//! bot alerts: IRC through a tunnel (9700050), from a host confirmed as a
//! stepping stone (9700051), on an odd port (9700052), a bot acting on its
//! herder's command (9700053), a botnet assembling (9700054).

use std::net::IpAddr;

use fumidai_detect::catalog::{IRC_BOT, IRC_FROM_SUSPECT, IRC_IN_TUNNEL, IRC_ODD_PORT};
use fumidai_detect::irc::{Command, acknowledges, bot_nick, command};
use fumidai_eve::app::{
    BotnetObj, FumidaiObj, IrcBotObj, IrcChannelObj, IrcCountsObj, IrcDccObj, IrcObj,
    SteppingStoneObj, TunnelObj,
};
use fumidai_eve::{EveTime, EventType};
use fumidai_proto::irc::{Chat, IrcConfig, IrcEvent, IrcParser, Session as IrcSession};
use fumidai_proto::{Direction, StreamDriver};
use fumidai_wire::Timestamp;
use serde::Serialize;

use super::{Base, Decoder, Outcome};
use crate::cx::Cx;

const MAX_PENDING: usize = 16 << 10;
/// Commands waiting for their reaction.
const MAX_COMMANDS: usize = 8;
/// How often (packet time) the session asks whether its client has since
/// been confirmed as a stepping stone.
const RECHECK_MICROS: u64 = 10_000_000;

/// A command given to the client, waiting for it to act.
#[derive(Debug)]
struct Given {
    cmd: Command,
    at: Timestamp,
    channel: String,
    via: &'static str,
    commander: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<IrcParser>,
    events: Vec<IrcEvent>,
    /// `irc` events written (their tx ids).
    txs: u64,
    /// The client's nick and user as the events so far have it (the
    /// parser's session may already know later lines of the same chunk).
    nick: Option<String>,
    user: Option<String>,
    welcomed: bool,
    log_messages: bool,
    started: bool,
    /// Alerts raised once per session: tunnel, stepping stone, odd port, bot.
    fired: [bool; 4],
    next_check: u64,
    given: Vec<Given>,
    summarised: bool,
}

#[derive(Serialize)]
struct Evidence {
    irc: IrcObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    fumidai: Option<FumidaiObj>,
}

fn is_channel(target: &str) -> bool {
    target.starts_with(['#', '&', '+', '!'])
}

impl Session {
    pub fn new(cx: &Cx<'_>) -> Self {
        Session {
            driver: StreamDriver::new(IrcParser::new(IrcConfig::default()), MAX_PENDING),
            events: Vec::new(),
            txs: 0,
            nick: None,
            user: None,
            welcomed: false,
            log_messages: cx.det.conf.irc.log_messages,
            started: false,
            fired: [false; 4],
            next_check: 0,
            given: Vec::new(),
            summarised: false,
        }
    }

    /// Heap bytes held by the driver and the parser.
    pub fn memuse(&self) -> usize {
        self.driver.memuse()
            + self.driver.parser().memuse()
            + super::vec_bytes(&self.events)
            + self.given.capacity() * std::mem::size_of::<Given>()
            + self
                .given
                .iter()
                .map(|g| {
                    g.cmd.text.capacity()
                        + g.cmd.verb.capacity()
                        + g.cmd.argument.as_ref().map_or(0, String::capacity)
                        + g.channel.capacity()
                        + g.commander.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>()
    }

    fn session(&self) -> &IrcSession {
        self.driver.parser().session()
    }

    /// The `irc` object with what is known of the session.
    fn obj(&self) -> IrcObj {
        IrcObj {
            nick: self.nick.clone(),
            user: self.user.clone(),
            server: self.session().server.clone(),
            ..IrcObj::default()
        }
    }

    fn write(&mut self, mut obj: IrcObj, cx: &mut Cx<'_>, base: &Base<'_>) {
        if obj.server.is_none() {
            obj.server = self.session().server.clone();
        }
        cx.stats.tx("irc");
        cx.event(
            EventType::Irc,
            Some(base.tx_base + self.txs),
            &Evidence {
                irc: obj,
                fumidai: None,
            },
        );
        self.txs += 1;
    }

    fn alert(
        &mut self,
        slot: usize,
        sid: u32,
        fumidai: Option<FumidaiObj>,
        cx: &mut Cx<'_>,
        base: &Base<'_>,
    ) {
        if self.fired[slot] {
            return;
        }
        self.fired[slot] = true;
        let mut irc = self.obj();
        irc.channels = channels(self.session());
        let tx = Some(base.tx_base + self.txs.saturating_sub(1));
        cx.alert(sid, tx, &Evidence { irc, fumidai });
    }

    /// What is judged once the protocol is known: a tunnel, an odd port.
    fn start(&mut self, cx: &mut Cx<'_>, base: &Base<'_>) {
        self.started = true;
        let port = match base.chain.last() {
            Some(t) => t.port,
            None => Some(cx.meta.server().port),
        };
        if let Some(t) = base.chain.last() {
            let tunnel = TunnelObj {
                kind: t.kind.into(),
                request: t.request.clone(),
                host: t.host.clone(),
                port: t.port,
                tx_id: t.tx_id,
            };
            self.alert(
                0,
                IRC_IN_TUNNEL,
                Some(FumidaiObj {
                    tunnel: Some(tunnel),
                    ..FumidaiObj::default()
                }),
                cx,
                base,
            );
        }
        if let Some(p) = port
            && !cx.det.irc_standard_port(p)
        {
            self.alert(2, IRC_ODD_PORT, None, cx, base);
        }
    }

    /// 9700051: the client host was confirmed as an open proxy or relay.
    fn check_stepping_stone(&mut self, cx: &mut Cx<'_>, base: &Base<'_>, now: bool) {
        if self.fired[1] || (!now && cx.ts.0 < self.next_check) {
            return;
        }
        self.next_check = cx.ts.0.saturating_add(RECHECK_MICROS);
        let client = cx.meta.client().addr;
        if let Some((sid, since)) = cx.det.stepping_stone(client, cx.ts) {
            let ev = FumidaiObj {
                stepping_stone: Some(SteppingStoneObj {
                    signature_id: sid,
                    since: EveTime(since),
                }),
                ..FumidaiObj::default()
            };
            self.alert(1, IRC_FROM_SUSPECT, Some(ev), cx, base);
        }
    }

    /// A command given by the channel's authority.
    fn given(
        &mut self,
        text: &str,
        channel: &str,
        via: &'static str,
        commander: Option<String>,
        cx: &mut Cx<'_>,
    ) {
        let Some(cmd) = command(text) else { return };
        if self.given.len() >= MAX_COMMANDS {
            self.given.remove(0);
        }
        self.given.push(Given {
            cmd,
            at: cx.ts,
            channel: channel.chars().take(256).collect(),
            via,
            commander,
        });
        cx.det.irc_command_given(cx.meta.client().addr, cx.ts);
    }

    fn window(cx: &Cx<'_>) -> u64 {
        cx.det.conf.irc.bot_reaction_seconds.max(1) * 1_000_000
    }

    /// The client's own message: does it report on a command?
    fn reply(&mut self, c: &Chat, cx: &mut Cx<'_>, base: &Base<'_>) {
        let window = Self::window(cx);
        // Bots report wherever they were told to: the channel, the
        // commander, their own status channel. A reply naming a command's
        // argument (its URL, its target) is that command's; else the
        // latest whose verb it names.
        let live = |g: &Given| cx.ts >= g.at && cx.ts.micros_since(g.at) <= window;
        let by_argument = self.given.iter().rposition(|g| {
            live(g)
                && g.cmd
                    .argument
                    .as_deref()
                    .is_some_and(|a| a.len() >= 4 && c.text.contains(a))
        });
        let Some(i) = by_argument.or_else(|| {
            self.given
                .iter()
                .rposition(|g| live(g) && acknowledges(&c.text, &g.cmd))
        }) else {
            return;
        };
        let g = &self.given[i];
        let obj = self.bot_obj(
            g,
            "reply",
            Some(c.text.chars().take(256).collect()),
            None,
            cx.ts,
        );
        self.fire_bot(obj, cx, base);
    }

    /// The client's host acted on a command on its other connections.
    fn check_reaction(&mut self, cx: &mut Cx<'_>, base: &Base<'_>) {
        if self.fired[3] || self.given.is_empty() {
            return;
        }
        let Some(r) = cx.det.irc_reaction(cx.meta.client().addr) else {
            return;
        };
        let window = Self::window(cx);
        let Some(g) = self
            .given
            .iter()
            .rev()
            .find(|g| r.at >= g.at && r.at.micros_since(g.at) <= window)
        else {
            return;
        };
        let obj = self.bot_obj(g, r.kind, None, Some(r.count), r.at);
        self.fire_bot(obj, cx, base);
    }

    fn bot_obj(
        &self,
        g: &Given,
        reaction: &'static str,
        reply: Option<String>,
        connections: Option<u32>,
        at: Timestamp,
    ) -> IrcBotObj {
        let s = self.session();
        IrcBotObj {
            nick_pattern: self.nick.as_deref().and_then(bot_nick).map(Into::into),
            channel_key: s.channels.iter().any(|c| c.key),
            channel: g.channel.clone(),
            via: g.via.into(),
            commander: g.commander.clone(),
            command: g.cmd.text.clone(),
            reaction: reaction.into(),
            reply,
            connections,
            reaction_s: at.micros_since(g.at) as f64 / 1e6,
        }
    }

    /// 9700053, when the session also looks like a bot's.
    fn fire_bot(&mut self, obj: IrcBotObj, cx: &mut Cx<'_>, base: &Base<'_>) {
        if obj.nick_pattern.is_none() && !obj.channel_key {
            return;
        }
        let ev = FumidaiObj {
            irc_bot: Some(obj),
            ..FumidaiObj::default()
        };
        self.alert(3, IRC_BOT, Some(ev), cx, base);
    }

    fn chat(&mut self, c: &Chat, cx: &mut Cx<'_>, base: &Base<'_>) {
        let command_name = if c.notice { "NOTICE" } else { "PRIVMSG" };
        if let Some(d) = &c.dcc {
            let mut o = self.obj();
            o.command = Some("DCC".into());
            o.value = Some(c.target.clone());
            o.dcc = Some(IrcDccObj {
                kind: d.kind.clone(),
                argument: d.argument.clone(),
                address: d.address,
                port: d.port,
                size: d.size,
            });
            self.write(o, cx, base);
        } else if self.log_messages {
            let mut o = self.obj();
            o.command = Some(command_name.into());
            o.value = Some(c.target.clone());
            // The sender as the server names it; none for the client's own.
            o.source = c.prefix.clone();
            o.text = Some(c.text.clone());
            self.write(o, cx, base);
        }
        match c.dir {
            Direction::ToClient => {
                let me = self.session().nick.clone();
                let to_me = me
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&c.target));
                let authority = if is_channel(&c.target) {
                    c.from_op
                } else {
                    // A private command counts from an operator of one of
                    // the client's channels.
                    to_me
                        && c.source.as_deref().is_some_and(|src| {
                            self.session()
                                .channels
                                .iter()
                                .any(|ch| self.session().is_op(&ch.name, src))
                        })
                };
                if authority {
                    let via = if c.notice { "notice" } else { "privmsg" };
                    self.given(&c.text, &c.target, via, c.prefix.clone(), cx);
                }
            }
            Direction::ToServer => self.reply(c, cx, base),
        }
    }

    /// The end-of-session `irc` event.
    fn summary(&mut self, cx: &mut Cx<'_>, base: &Base<'_>) {
        if self.summarised {
            return;
        }
        self.summarised = true;
        let s = self.session();
        if s.nick.is_none() && s.user.is_none() && !s.welcome {
            return;
        }
        let c = &s.counts;
        let mut o = self.obj();
        o.realname = s.realname.clone();
        o.registered = Some(s.welcome);
        o.channels = channels(s);
        o.messages = Some(IrcCountsObj {
            privmsg_sent: c.privmsg_sent,
            privmsg_received: c.privmsg_received,
            notice_sent: c.notice_sent,
            notice_received: c.notice_received,
            dcc: c.dcc,
            joins: c.joins,
            nick_in_use: s.nick_in_use,
        });
        self.write(o, cx, base);
    }
}

fn channels(s: &IrcSession) -> Vec<IrcChannelObj> {
    s.channels
        .iter()
        .map(|c| IrcChannelObj {
            name: c.name.clone(),
            key: c.key,
            joined: c.joined,
        })
        .collect()
}

impl Decoder for Session {
    type Parser = IrcParser;

    fn parts(&mut self) -> (&mut StreamDriver<IrcParser>, &mut Vec<IrcEvent>) {
        (&mut self.driver, &mut self.events)
    }

    fn handle(&mut self, events: &[IrcEvent], cx: &mut Cx<'_>, base: &mut Base<'_>) -> Outcome {
        if !self.started {
            self.start(cx, base);
        }
        let client: IpAddr = cx.meta.client().addr;
        let server: IpAddr = cx.meta.server().addr;
        for e in events {
            match e {
                IrcEvent::Nick { nick } => {
                    // As Zeek's irc.log: the nick before the command.
                    let mut o = self.obj();
                    o.command = Some("NICK".into());
                    o.value = Some(nick.clone());
                    self.write(o, cx, base);
                    if !self.welcomed {
                        self.nick = Some(nick.clone());
                    }
                }
                IrcEvent::NickChanged { nick } => self.nick = Some(nick.clone()),
                IrcEvent::User {
                    user,
                    mode,
                    unused,
                    realname,
                } => {
                    let mut o = self.obj();
                    o.command = Some("USER".into());
                    o.value = Some(user.clone());
                    o.addl = Some(format!("{mode} {unused} {realname}"));
                    self.write(o, cx, base);
                    self.user = Some(user.clone());
                }
                IrcEvent::Join { channel, key } => {
                    let mut o = self.obj();
                    o.command = Some("JOIN".into());
                    o.value = Some(channel.clone());
                    o.key = *key;
                    self.write(o, cx, base);
                    if let Some((sid, hosts)) = cx.det.irc_join(server, channel, client, cx.ts) {
                        let ev = FumidaiObj {
                            botnet: Some(BotnetObj {
                                channel: channel.clone(),
                                hosts,
                                window_s: cx.det.conf.irc.botnet_window,
                            }),
                            ..FumidaiObj::default()
                        };
                        let mut irc = self.obj();
                        irc.command = Some("JOIN".into());
                        irc.value = Some(channel.clone());
                        let tx = Some(base.tx_base + self.txs - 1);
                        cx.alert(
                            sid,
                            tx,
                            &Evidence {
                                irc,
                                fumidai: Some(ev),
                            },
                        );
                    }
                }
                IrcEvent::Chat(c) => self.chat(c, cx, base),
                IrcEvent::Topic {
                    channel,
                    text,
                    setter,
                } => {
                    if self.log_messages {
                        let mut o = self.obj();
                        o.command = Some("TOPIC".into());
                        o.value = Some(channel.clone());
                        o.source = setter.clone();
                        o.text = Some(text.clone());
                        self.write(o, cx, base);
                    }
                    self.given(text, channel, "topic", setter.clone(), cx);
                }
                IrcEvent::Welcome { nick, .. } => {
                    self.welcomed = true;
                    if !nick.is_empty() {
                        self.nick = Some(nick.clone());
                    }
                }
                IrcEvent::StartTls => {
                    // Encrypted from here on: the session ends as far as
                    // fumidai can follow it.
                    self.check_stepping_stone(cx, base, true);
                    self.summary(cx, base);
                    return Outcome::Stop;
                }
                IrcEvent::Joined { .. }
                | IrcEvent::Part { .. }
                | IrcEvent::Quit { .. }
                | IrcEvent::NickInUse { .. } => {}
                IrcEvent::Anomaly { kind } => base.anomaly(cx, "irc", kind.name(), None),
            }
        }
        self.check_stepping_stone(cx, base, false);
        self.check_reaction(cx, base);
        // Commands too old to be acted on are dropped.
        let window = Self::window(cx);
        let now = cx.ts;
        self.given
            .retain(|g| now < g.at || now.micros_since(g.at) <= window);
        Outcome::Continue
    }

    fn ended(&mut self, dir: Direction, cx: &mut Cx<'_>, base: &mut Base<'_>) {
        if dir == Direction::ToClient {
            self.check_stepping_stone(cx, base, true);
            self.check_reaction(cx, base);
            self.summary(cx, base);
        }
    }
}
