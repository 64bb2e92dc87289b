//! SMTP (RFC 5321), both directions, with pipelining (RFC 2920), CHUNKING's
//! BDAT (RFC 3030), AUTH (mechanism only, never credentials) and STARTTLS.
//!
//! Replies are matched to commands in order through a queue, the server's
//! greeting answering the connection itself. Where the client must wait
//! for an answer before its next bytes mean anything (after DATA, during
//! AUTH, after STARTTLS) it waits, so message text is never mistaken for
//! commands and vice versa. The message travels through a [`MessageParser`]
//! without being stored: only headers, attachment names and the first body
//! lines are kept.
//!
//! A mail transaction runs from MAIL (or a RCPT with none before it) to the
//! answer to the end of its data, or to a new MAIL, QUIT, the end of the
//! connection, or (as Suricata has it) a RSET or mid-transaction HELO/EHLO
//! once the server answers it 250, or a STARTTLS once answered 220: a
//! refused RSET or EHLO leaves the envelope as it was.
//!
//! Lines are cut at `max_line` bytes with their line break, as Suricata's
//! are: a longer command is still taken (its first `max_line` bytes, with
//! no line break removed) and the rest of the line is skipped.

pub mod message;
pub mod url;

use std::collections::VecDeque;

use memchr::memchr;

use crate::shellshock::{self, Hit};
use crate::{Direction, Probe, StreamParser};
pub use message::{Email, Limits, MessageParser};

/// Limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Longest command or reply line kept, line break included.
    pub max_line: usize,
    /// Recipients kept per transaction.
    pub max_recipients: usize,
    /// Transactions alive at once.
    pub max_txs: usize,
    /// Commands awaiting their reply (pipelining depth).
    pub max_pending: usize,
    pub message: Limits,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            max_line: 4096,
            max_recipients: 128,
            max_txs: 16,
            max_pending: 256,
            message: Limits {
                max_value: 1024,
                max_list: 32,
                body_lines: 10,
                max_header: 16384,
                urls: url::UrlConfig::default(),
                body_md5: false,
                subject_md5: false,
            },
        }
    }
}

/// A reply: the code and the text of its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Text of each line, after the code.
    pub lines: Vec<String>,
}

impl Reply {
    /// `250 Message accepted.`: the code and the last line's text, as Zeek's
    /// `last_reply` has it.
    pub fn summary(&self) -> String {
        match self.lines.last().map(|l| l.trim()) {
            Some(t) if !t.is_empty() => format!("{} {t}", self.code),
            _ => self.code.to_string(),
        }
    }

    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// A recipient and the server's answer to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The argument as sent, e.g. `<a@example.net>` (what Suricata logs).
    pub arg: String,
    /// The bare address, e.g. `a@example.net` (what Zeek logs).
    pub address: String,
    pub reply: Option<Reply>,
}

impl Recipient {
    /// The domain of the address, lower-cased.
    pub fn domain(&self) -> Option<String> {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
    }
}

/// Facts about the connection, not one mail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The greeting's text (after `220 `).
    pub banner: Option<String>,
    /// The host name the server gave in its greeting or EHLO answer.
    pub server_domain: Option<String>,
    /// `HELO` or `EHLO`.
    pub helo_verb: Option<String>,
    pub helo: Option<String>,
    /// EHLO keywords the server offered (PIPELINING, CHUNKING, STARTTLS, AUTH ...).
    pub capabilities: Vec<String>,
    pub auth_mechanism: Option<String>,
    pub auth_ok: Option<bool>,
    /// STARTTLS was accepted: the rest of the connection is encrypted.
    pub tls: bool,
    /// The server's latest reply.
    pub last_reply: Option<Reply>,
    /// A Shellshock probe in a command outside any mail transaction (HELO,
    /// EHLO, VRFY ...).
    pub shellshock: Option<Box<Hit>>,
}

crate::heap_size_of_fields!(Reply: lines);
crate::heap_size_of_fields!(Recipient: arg, address, reply);
crate::heap_size_of_fields!(Session: banner, server_domain, helo_verb, helo, capabilities,
    auth_mechanism, last_reply, shellshock);
crate::heap_size_of_fields!(SmtpTx: helo, mail_from, mail_from_address, mail_params, mail_reply,
    rcpt, email, data_reply, last_reply, shellshock);

/// One mail transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpTx {
    pub id: u64,
    pub helo: Option<String>,
    /// MAIL's argument as sent, e.g. `<a@example.net>` (Suricata's `mail_from`).
    pub mail_from: Option<String>,
    /// The bare address (Zeek's `mailfrom`).
    pub mail_from_address: Option<String>,
    /// MAIL's parameters (`SIZE=1234`, `BODY=8BITMIME`).
    pub mail_params: Vec<String>,
    pub mail_reply: Option<Reply>,
    pub rcpt: Vec<Recipient>,
    pub rcpt_dropped: u32,
    /// The message, once DATA or BDAT carried one.
    pub email: Option<Email>,
    /// The end of the data was seen (`.` line or BDAT LAST).
    pub data_complete: bool,
    /// The answer to the end of the data: the message's fate.
    pub data_reply: Option<Reply>,
    /// The last reply within the transaction.
    pub last_reply: Option<Reply>,
    pub bdat: bool,
    pub gap: bool,
    /// STARTTLS happened on the connection before this transaction ended.
    pub tls: bool,
    /// A Shellshock probe in one of its commands (MAIL, RCPT ...).
    pub shellshock: Option<Box<Hit>>,
}

impl SmtpTx {
    fn new(id: u64, helo: Option<String>) -> Self {
        SmtpTx {
            id,
            helo,
            mail_from: None,
            mail_from_address: None,
            mail_params: Vec::new(),
            mail_reply: None,
            rcpt: Vec::new(),
            rcpt_dropped: 0,
            email: None,
            data_complete: false,
            data_reply: None,
            last_reply: None,
            bdat: false,
            gap: false,
            tls: false,
            shellshock: None,
        }
    }
}

/// Malformed or unexpected input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmtpAnomaly {
    LineTooLong,
    UnknownCommand,
    InvalidReply,
    /// A reply with no command waiting for it.
    UnexpectedReply,
    TooManyRecipients,
    TooManyTransactions,
    TooManyPendingCommands,
    /// More URLs in a message than are kept (`email.url`).
    TooManyUrls,
    /// More attachments in a message than are kept (`email.attachment`).
    TooManyAttachments,
    Gap,
    /// A second HELO/EHLO in a session.
    DuplicateFields,
    /// DATA answered with anything but 354.
    DataCommandRejected,
    /// A BDAT command without a valid size and optional LAST.
    InvalidBdat,
    /// A command sent behind DATA or STARTTLS before its answer.
    InvalidPipelinedSequence,
}

impl SmtpAnomaly {
    pub fn name(self) -> &'static str {
        match self {
            SmtpAnomaly::LineTooLong => "line_too_long",
            SmtpAnomaly::UnknownCommand => "unknown_command",
            SmtpAnomaly::InvalidReply => "invalid_reply",
            SmtpAnomaly::UnexpectedReply => "unexpected_reply",
            SmtpAnomaly::TooManyRecipients => "too_many_recipients",
            SmtpAnomaly::TooManyTransactions => "too_many_transactions",
            SmtpAnomaly::TooManyPendingCommands => "too_many_pending_commands",
            SmtpAnomaly::TooManyUrls => "too_many_urls",
            SmtpAnomaly::TooManyAttachments => "too_many_attachments",
            SmtpAnomaly::Gap => "gap",
            SmtpAnomaly::DuplicateFields => "duplicate_fields",
            SmtpAnomaly::DataCommandRejected => "data_command_rejected",
            SmtpAnomaly::InvalidBdat => "invalid_bdat",
            SmtpAnomaly::InvalidPipelinedSequence => "invalid_pipelined_sequence",
        }
    }
}

/// What the parser reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpEvent {
    /// The server answered recipient `index` of `tx`: relay alerts fire here.
    Rcpt {
        tx: u64,
        index: usize,
    },
    /// The message's data ended: headers and first body lines are known.
    MessageDone {
        tx: u64,
    },
    /// The transaction is over: log it.
    TxDone {
        tx: u64,
    },
    /// STARTTLS was accepted; nothing more will be parsed.
    StartTls,
    Anomaly {
        tx: Option<u64>,
        kind: SmtpAnomaly,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Greeting,
    /// `reset`: the transaction a 250 ends (a HELO in the middle of one).
    Helo {
        reset: Option<u64>,
    },
    /// The transaction a 250 ends.
    Rset {
        tx: Option<u64>,
    },
    Mail {
        tx: u64,
    },
    Rcpt {
        tx: u64,
        index: Option<usize>,
    },
    Data {
        tx: u64,
    },
    DataEnd {
        tx: u64,
    },
    Bdat {
        tx: u64,
        last: bool,
    },
    Auth,
    StartTls,
    Other {
        tx: Option<u64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Commands,
    /// DATA sent; its answer decides what the next bytes are.
    AwaitData {
        tx: u64,
    },
    /// In the message; `line_start` when the next byte starts a line.
    Data {
        tx: u64,
        line_start: bool,
    },
    /// BDAT chunk bytes still to come.
    Bdat {
        tx: u64,
        left: u64,
        last: bool,
    },
    /// AUTH sent; waiting for a challenge or the verdict.
    AwaitAuth,
    /// A challenge came: the next line is a credential.
    AuthLine,
    AwaitTls,
    Opaque,
}

/// An SMTP connection.
#[derive(Debug)]
pub struct SmtpParser {
    cfg: SmtpConfig,
    session: Session,
    client: Client,
    /// Lines of the reply being read.
    reply: Option<Reply>,
    pending: VecDeque<Cmd>,
    txs: VecDeque<SmtpTx>,
    messages: Vec<(u64, MessageParser)>,
    current: Option<u64>,
    /// Transactions whose data ended, waiting for the server's verdict.
    /// They no longer take commands (a new MAIL starts a new transaction).
    awaiting_verdict: Vec<u64>,
    /// Transactions reported done that the caller has not taken yet.
    done: Vec<u64>,
    next_id: u64,
    server_opaque: bool,
    /// A finding in a MAIL command, for the transaction it opens.
    pending_shellshock: Option<Box<Hit>>,
    /// The rest of a cut line is being skipped, per direction (client, server).
    skip_line: [bool; 2],
    /// The server's side of the connection ended: no reply will come.
    server_ended: bool,
    /// The client sent more before DATA or STARTTLS was answered
    /// (Suricata's INVALID_PIPELINED_SEQUENCE, once per such command).
    pipelined_past: bool,
}

/// The next line of one direction.
enum Line<'a> {
    /// Not complete yet.
    More,
    /// Bytes of a cut line's rest, skipped.
    Skip(usize),
    /// A line: its text without the line break (or, `cut`, its first
    /// `max_line` bytes as they are) and the bytes it used.
    Got {
        text: &'a [u8],
        used: usize,
        cut: bool,
    },
}

impl SmtpParser {
    pub fn new(cfg: SmtpConfig) -> Self {
        let mut pending = VecDeque::new();
        pending.push_back(Cmd::Greeting);
        SmtpParser {
            cfg,
            session: Session::default(),
            client: Client::Commands,
            reply: None,
            pending,
            txs: VecDeque::new(),
            messages: Vec::new(),
            current: None,
            awaiting_verdict: Vec::new(),
            done: Vec::new(),
            next_id: 0,
            server_opaque: false,
            pending_shellshock: None,
            skip_line: [false; 2],
            server_ended: false,
            pipelined_past: false,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn tx(&self, id: u64) -> Option<&SmtpTx> {
        self.txs.iter().find(|t| t.id == id)
    }

    pub fn take_tx(&mut self, id: u64) -> Option<SmtpTx> {
        self.done.retain(|&d| d != id);
        let i = self.txs.iter().position(|t| t.id == id)?;
        self.txs.remove(i)
    }

    /// Reports `tx` done; it stays readable until the caller takes it.
    fn done(&mut self, tx: u64, ev: &mut Vec<SmtpEvent>) {
        // Already taken (its data may end after the connection was closed
        // under it): nothing to report.
        if self.tx(tx).is_none() {
            return;
        }
        if !self.done.contains(&tx) {
            self.done.push(tx);
        }
        ev.push(SmtpEvent::TxDone { tx });
    }

    pub fn tx_count(&self) -> u64 {
        self.next_id
    }

    /// Heap bytes held (session, transactions, messages being read).
    pub fn memuse(&self) -> usize {
        use crate::heap::HeapSize;
        self.session.heap_size()
            + self.reply.heap_size()
            + self.pending.capacity() * std::mem::size_of::<Cmd>()
            + self.txs.heap_size()
            + self.messages.capacity() * std::mem::size_of::<(u64, MessageParser)>()
            + self
                .messages
                .iter()
                .map(|(_, m)| m.heap_size())
                .sum::<usize>()
            + self.awaiting_verdict.heap_size()
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut SmtpTx> {
        self.txs.iter_mut().find(|t| t.id == id)
    }

    fn open_tx(&mut self, ev: &mut Vec<SmtpEvent>) -> u64 {
        self.close_tx(ev);
        // Too many transactions open (pipelined, or never answered): the
        // oldest is completed now rather than dropped, so that it is still
        // judged and logged, with an anomaly saying why it ended early.
        if self.txs.len().saturating_sub(self.done.len()) >= self.cfg.max_txs
            && let Some(old) = self
                .txs
                .iter()
                .map(|t| t.id)
                .find(|id| !self.done.contains(id))
        {
            ev.push(SmtpEvent::Anomaly {
                tx: Some(old),
                kind: SmtpAnomaly::TooManyTransactions,
            });
            self.awaiting_verdict.retain(|&t| t != old);
            self.finish_message(old, ev);
            self.done(old, ev);
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut t = SmtpTx::new(id, self.session.helo.clone());
        t.tls = self.session.tls;
        self.txs.push_back(t);
        self.current = Some(id);
        id
    }

    /// Ends the current transaction (RSET, a new MAIL, HELO, QUIT, the end).
    fn close_tx(&mut self, ev: &mut Vec<SmtpEvent>) {
        if let Some(id) = self.current.take() {
            self.finish_message(id, ev);
            self.done(id, ev);
        }
    }

    /// The data of `tx` ended: it waits for its verdict, detached from the
    /// commands that follow.
    fn data_ended(&mut self, tx: u64, ev: &mut Vec<SmtpEvent>) {
        if let Some(t) = self.tx_mut(tx) {
            t.data_complete = true;
        }
        self.finish_message(tx, ev);
        if self.current == Some(tx) {
            self.current = None;
        }
        if self.server_ended {
            self.done(tx, ev);
        } else if !self.awaiting_verdict.contains(&tx) {
            self.awaiting_verdict.push(tx);
        }
    }

    /// A RSET (or mid-transaction HELO) was accepted: the transaction it
    /// was sent in ends, unless a later command already ended it.
    fn reset(&mut self, tx: Option<u64>, ev: &mut Vec<SmtpEvent>) {
        if tx.is_some() && self.current == tx {
            self.close_tx(ev);
        }
    }

    fn current_or_new(&mut self, ev: &mut Vec<SmtpEvent>) -> u64 {
        match self.current {
            Some(id) => id,
            None => self.open_tx(ev),
        }
    }

    fn push_cmd(&mut self, c: Cmd, ev: &mut Vec<SmtpEvent>) {
        if self.pending.len() >= self.cfg.max_pending {
            ev.push(SmtpEvent::Anomaly {
                tx: self.current,
                kind: SmtpAnomaly::TooManyPendingCommands,
            });
            self.pending.pop_front();
        }
        self.pending.push_back(c);
    }

    fn message(&mut self, tx: u64) -> &mut MessageParser {
        if let Some(i) = self.messages.iter().position(|(id, _)| *id == tx) {
            return &mut self.messages[i].1;
        }
        self.messages
            .push((tx, MessageParser::new(self.cfg.message.clone())));
        let last = self.messages.len() - 1;
        &mut self.messages[last].1
    }

    /// Moves a message's parsed facts into its transaction.
    fn finish_message(&mut self, tx: u64, ev: &mut Vec<SmtpEvent>) {
        let Some(i) = self.messages.iter().position(|(id, _)| *id == tx) else {
            return;
        };
        let (_, mut m) = self.messages.swap_remove(i);
        m.finish();
        for (dropped, kind) in [
            (m.email.urls_dropped, SmtpAnomaly::TooManyUrls),
            (m.email.attachments_dropped, SmtpAnomaly::TooManyAttachments),
        ] {
            if dropped > 0 {
                ev.push(SmtpEvent::Anomaly { tx: Some(tx), kind });
            }
        }
        let complete = self.tx(tx).is_some_and(|t| t.data_complete);
        if let Some(t) = self.tx_mut(tx) {
            t.email = Some(m.email);
        }
        if complete {
            ev.push(SmtpEvent::MessageDone { tx });
        }
    }

    /// The next line travelling in `dir`, cut as Suricata cuts lines: one
    /// whose bytes with the line break reach `max_line` is taken as its
    /// first `max_line` bytes, unstripped, and the rest skipped.
    fn line<'a>(&mut self, dir: Direction, input: &'a [u8], ev: &mut Vec<SmtpEvent>) -> Line<'a> {
        let max = self.cfg.max_line.max(1);
        let skipping = &mut self.skip_line[dir.index()];
        let lf = memchr(b'\n', input);
        if *skipping {
            return match lf {
                Some(i) => {
                    *skipping = false;
                    Line::Skip(i + 1)
                }
                None => Line::Skip(input.len()),
            };
        }
        match lf {
            Some(i) if i + 1 < max => {
                let l = &input[..i];
                Line::Got {
                    text: l.strip_suffix(b"\r").unwrap_or(l),
                    used: i + 1,
                    cut: false,
                }
            }
            Some(i) => {
                ev.push(SmtpEvent::Anomaly {
                    tx: self.current,
                    kind: SmtpAnomaly::LineTooLong,
                });
                Line::Got {
                    text: &input[..max],
                    used: i + 1,
                    cut: true,
                }
            }
            None if input.len() >= max => {
                ev.push(SmtpEvent::Anomaly {
                    tx: self.current,
                    kind: SmtpAnomaly::LineTooLong,
                });
                *skipping = true;
                Line::Got {
                    text: &input[..max],
                    used: input.len(),
                    cut: true,
                }
            }
            None => Line::More,
        }
    }

    // ---- client ------------------------------------------------------------

    fn client_bytes(&mut self, input: &[u8], ev: &mut Vec<SmtpEvent>) -> usize {
        match self.client {
            Client::Opaque => input.len(),
            Client::AwaitData { .. } | Client::AwaitTls => {
                // RFC 2920 §3.1: DATA and STARTTLS end a pipelined group;
                // a whole line behind them is a command sent too early (a
                // TLS hello right behind STARTTLS is not a line).
                if memchr(b'\n', input).is_some()
                    && !std::mem::replace(&mut self.pipelined_past, true)
                {
                    ev.push(SmtpEvent::Anomaly {
                        tx: self.current,
                        kind: SmtpAnomaly::InvalidPipelinedSequence,
                    });
                }
                0
            }
            Client::AwaitAuth => 0,
            Client::Data { tx, line_start } => self.data_bytes(tx, line_start, input, ev),
            Client::Bdat { tx, left, last } => {
                let n = (input.len() as u64).min(left);
                self.message(tx).feed(&input[..n as usize]);
                if n == left {
                    self.client = Client::Commands;
                    if last {
                        self.data_ended(tx, ev);
                    }
                } else {
                    self.client = Client::Bdat {
                        tx,
                        left: left - n,
                        last,
                    };
                }
                n as usize
            }
            Client::AuthLine => match self.line(Direction::ToServer, input, ev) {
                // A credential: consumed, never kept.
                Line::More => 0,
                Line::Skip(n) => n,
                Line::Got { used, .. } => {
                    self.client = Client::AwaitAuth;
                    used
                }
            },
            Client::Commands => match self.line(Direction::ToServer, input, ev) {
                Line::More => 0,
                Line::Skip(n) => n,
                Line::Got { text, used, cut } => {
                    self.command(text, cut, ev);
                    used
                }
            },
        }
    }

    /// Message text after a 354, up to the `.` line, dot-unstuffed.
    fn data_bytes(
        &mut self,
        tx: u64,
        line_start: bool,
        input: &[u8],
        ev: &mut Vec<SmtpEvent>,
    ) -> usize {
        let mut at = 0;
        if line_start && input.first() == Some(&b'.') {
            match input.get(1) {
                None => return 0,
                Some(b'\n') | Some(b'\r') => {
                    let end = match input.get(1) {
                        Some(b'\n') => 2,
                        _ => match input.get(2) {
                            None => return 0,
                            Some(b'\n') => 3,
                            // ".\r" followed by something else: a line starting with ".\r".
                            Some(_) => 0,
                        },
                    };
                    if end > 0 {
                        self.data_ended(tx, ev);
                        self.push_cmd(Cmd::DataEnd { tx }, ev);
                        self.client = Client::Commands;
                        return end;
                    }
                }
                // Dot-stuffed: drop the first dot.
                Some(_) => {
                    at = 1;
                    self.message(tx).stuffed_dot();
                }
            }
        }
        let rest = &input[at..];
        let (chunk, next_start) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..=i], true),
            None => (rest, false),
        };
        self.message(tx).feed(chunk);
        self.client = Client::Data {
            tx,
            line_start: next_start,
        };
        at + chunk.len()
    }

    /// One command line; `cut`: its first `max_line` bytes, kept as sent
    /// to the end (Suricata logs a cut HELO with whatever it ends in).
    fn command(&mut self, line: &[u8], cut: bool, ev: &mut Vec<SmtpEvent>) {
        let line = if cut {
            line.trim_ascii_start()
        } else {
            line.trim_ascii()
        };
        if line.is_empty() {
            return;
        }
        let verb_end = line
            .iter()
            .position(|&c| c == b' ' || c == b'\t')
            .unwrap_or(line.len());
        let verb = String::from_utf8_lossy(&line[..verb_end]).to_ascii_uppercase();
        let arg = if cut {
            line[verb_end..].trim_ascii_start()
        } else {
            line[verb_end..].trim_ascii()
        };
        self.shellshock_command(&line[..verb_end], arg);
        match verb.as_str() {
            "HELO" | "EHLO" => {
                // The first HELO names the client for the whole connection,
                // as in Suricata (a later one is a duplicate, its event
                // DUPLICATE_FIELDS).
                if self.session.helo.is_some() {
                    ev.push(SmtpEvent::Anomaly {
                        tx: None,
                        kind: SmtpAnomaly::DuplicateFields,
                    });
                }
                if self.session.helo.is_none() {
                    self.session.helo_verb = Some(verb);
                    self.session.helo = Some(lossy(arg));
                }
                self.push_cmd(
                    Cmd::Helo {
                        reset: self.current,
                    },
                    ev,
                );
            }
            "MAIL" => {
                let tx = self.open_tx(ev);
                let (raw, addr, params) = path_argument(arg, b"FROM:");
                let hit = self.pending_shellshock.take();
                if let Some(t) = self.tx_mut(tx) {
                    t.mail_from = Some(raw);
                    t.mail_from_address = Some(addr);
                    t.mail_params = params;
                    if hit.is_some() {
                        t.shellshock = hit;
                    }
                }
                self.push_cmd(Cmd::Mail { tx }, ev);
            }
            "RCPT" => {
                let tx = self.current_or_new(ev);
                let (raw, addr, _) = path_argument(arg, b"TO:");
                let max = self.cfg.max_recipients;
                let mut index = None;
                let mut too_many = false;
                if let Some(t) = self.tx_mut(tx) {
                    if t.rcpt.len() < max {
                        t.rcpt.push(Recipient {
                            arg: raw,
                            address: addr,
                            reply: None,
                        });
                        index = Some(t.rcpt.len() - 1);
                    } else {
                        t.rcpt_dropped += 1;
                        too_many = t.rcpt_dropped == 1;
                    }
                }
                if too_many {
                    ev.push(SmtpEvent::Anomaly {
                        tx: Some(tx),
                        kind: SmtpAnomaly::TooManyRecipients,
                    });
                }
                self.push_cmd(Cmd::Rcpt { tx, index }, ev);
            }
            "DATA" => {
                let tx = self.current_or_new(ev);
                self.push_cmd(Cmd::Data { tx }, ev);
                // What follows is the message only if the server says so:
                // a client sending on past a refused DATA is sending
                // commands the server will act on. With the server gone,
                // nobody will say: it is taken as the message (see `end`).
                self.client = if self.server_ended {
                    Client::Data {
                        tx,
                        line_start: true,
                    }
                } else {
                    Client::AwaitData { tx }
                };
                self.pipelined_past = false;
            }
            "BDAT" => {
                // `BDAT <size> [LAST]` exactly; anything else is refused by
                // the server and opens nothing.
                let mut parts = arg
                    .split(|&c| c == b' ' || c == b'\t')
                    .filter(|p| !p.is_empty());
                let size = parts
                    .next()
                    .and_then(|s| std::str::from_utf8(s).ok()?.parse::<u64>().ok());
                let (last, tail_ok) = match parts.next() {
                    None => (false, true),
                    Some(p) => (
                        p.eq_ignore_ascii_case(b"LAST"),
                        p.eq_ignore_ascii_case(b"LAST"),
                    ),
                };
                let size = size.filter(|_| tail_ok && parts.next().is_none());
                match size {
                    Some(n) => {
                        let tx = self.current_or_new(ev);
                        if let Some(t) = self.tx_mut(tx) {
                            t.bdat = true;
                        }
                        self.message(tx);
                        self.push_cmd(Cmd::Bdat { tx, last }, ev);
                        if n > 0 {
                            self.client = Client::Bdat { tx, left: n, last };
                        } else if last {
                            self.data_ended(tx, ev);
                        }
                    }
                    None => {
                        ev.push(SmtpEvent::Anomaly {
                            tx: self.current,
                            kind: SmtpAnomaly::InvalidBdat,
                        });
                        self.push_cmd(Cmd::Other { tx: self.current }, ev);
                    }
                }
            }
            "RSET" => {
                self.push_cmd(Cmd::Rset { tx: self.current }, ev);
            }
            "QUIT" => {
                self.close_tx(ev);
                self.push_cmd(Cmd::Other { tx: None }, ev);
            }
            "AUTH" => {
                let mech = arg.split(|&c| c == b' ').next().unwrap_or(b"");
                self.session.auth_mechanism = Some(lossy(mech).to_ascii_uppercase());
                self.push_cmd(Cmd::Auth, ev);
                self.client = Client::AwaitAuth;
            }
            "STARTTLS" => {
                self.push_cmd(Cmd::StartTls, ev);
                self.client = Client::AwaitTls;
                self.pipelined_past = false;
            }
            "NOOP" | "VRFY" | "EXPN" | "HELP" | "TURN" | "ETRN" | "ATRN" | "XCLIENT"
            | "XFORWARD" => {
                self.push_cmd(Cmd::Other { tx: self.current }, ev);
            }
            _ => {
                ev.push(SmtpEvent::Anomaly {
                    tx: self.current,
                    kind: SmtpAnomaly::UnknownCommand,
                });
                // The server answers unknown commands too (500).
                self.push_cmd(Cmd::Other { tx: self.current }, ev);
            }
        }
    }

    /// A command's argument through the Shellshock scanner (mail filters
    /// and MTA hooks put envelope fields into environment variables). The
    /// finding goes to the transaction the command is part of, or to the
    /// session. HELO/EHLO and MAIL start their own, so they are placed
    /// after the command is handled; here the current one is the place.
    fn shellshock_command(&mut self, verb: &[u8], arg: &[u8]) {
        let Some(f) = shellshock::scan(arg, shellshock::Encoding::Raw) else {
            return;
        };
        let hit = Box::new(Hit::new("command", Some(verb), f));
        let upper = verb.to_ascii_uppercase();
        let tx = match upper.as_slice() {
            b"HELO" | b"EHLO" | b"RSET" | b"QUIT" => None,
            // MAIL opens a new transaction: the finding is that one's.
            b"MAIL" => {
                self.pending_shellshock = Some(hit);
                return;
            }
            _ => self.current,
        };
        let slot = match tx.and_then(|id| self.tx_mut(id)) {
            Some(t) => &mut t.shellshock,
            None => &mut self.session.shellshock,
        };
        if slot.is_none() {
            *slot = Some(hit);
        }
    }

    // ---- server ------------------------------------------------------------

    fn server_bytes(&mut self, input: &[u8], ev: &mut Vec<SmtpEvent>) -> usize {
        if self.server_opaque {
            return input.len();
        }
        let (line, used) = match self.line(Direction::ToClient, input, ev) {
            Line::More => return 0,
            Line::Skip(n) => return n,
            Line::Got { text, used, .. } => (text, used),
        };
        let Some((code, last, text)) = reply_line(line) else {
            if !line.is_empty() {
                ev.push(SmtpEvent::Anomaly {
                    tx: self.current,
                    kind: SmtpAnomaly::InvalidReply,
                });
            }
            return used;
        };
        let r = self.reply.get_or_insert_with(|| Reply {
            code,
            lines: Vec::new(),
        });
        if r.lines.len() < 64 {
            r.lines.push(text);
        }
        r.code = code;
        if last && let Some(r) = self.reply.take() {
            self.answer(r, ev);
        }
        used
    }

    fn answer(&mut self, r: Reply, ev: &mut Vec<SmtpEvent>) {
        self.session.last_reply = Some(r.clone());
        let Some(cmd) = self.pending.pop_front() else {
            ev.push(SmtpEvent::Anomaly {
                tx: self.current,
                kind: SmtpAnomaly::UnexpectedReply,
            });
            return;
        };
        let cmd = match cmd {
            // Picked up midstream: the first reply is not a greeting.
            Cmd::Greeting if r.code != 220 && !self.pending.is_empty() => {
                match self.pending.pop_front() {
                    Some(c) => c,
                    None => return,
                }
            }
            c => c,
        };
        let tx_of = match cmd {
            Cmd::Mail { tx }
            | Cmd::Rcpt { tx, .. }
            | Cmd::Data { tx }
            | Cmd::DataEnd { tx }
            | Cmd::Bdat { tx, .. }
            | Cmd::Other { tx: Some(tx) } => Some(tx),
            _ => None,
        };
        if let Some(tx) = tx_of
            && let Some(t) = self.tx_mut(tx)
        {
            t.last_reply = Some(r.clone());
        }
        match cmd {
            Cmd::Greeting => {
                let text = r.lines.first().cloned().unwrap_or_default();
                self.session.server_domain = first_word(&text);
                self.session.banner = Some(text);
            }
            Cmd::Helo { reset } => {
                if r.code == 250 {
                    self.reset(reset, ev);
                }
                if r.is_positive() {
                    if let Some(d) = r.lines.first().and_then(|l| first_word(l)) {
                        self.session.server_domain.get_or_insert(d);
                    }
                    self.session.capabilities = r
                        .lines
                        .iter()
                        .skip(1)
                        .map(|l| l.trim().to_owned())
                        .collect();
                }
            }
            Cmd::Mail { tx } => {
                if let Some(t) = self.tx_mut(tx) {
                    t.mail_reply = Some(r);
                }
            }
            Cmd::Rcpt { tx, index } => {
                if let Some(i) = index
                    && let Some(t) = self.tx_mut(tx)
                    && let Some(rc) = t.rcpt.get_mut(i)
                {
                    rc.reply = Some(r);
                    ev.push(SmtpEvent::Rcpt { tx, index: i });
                }
            }
            Cmd::Data { tx } => {
                let waiting = self.client == Client::AwaitData { tx };
                if r.code == 354 {
                    if waiting {
                        self.message(tx);
                        self.client = Client::Data {
                            tx,
                            line_start: true,
                        };
                    }
                } else {
                    ev.push(SmtpEvent::Anomaly {
                        tx: Some(tx),
                        kind: SmtpAnomaly::DataCommandRejected,
                    });
                    if waiting {
                        self.client = Client::Commands;
                    }
                }
            }
            Cmd::DataEnd { tx } | Cmd::Bdat { tx, last: true } => {
                if let Some(t) = self.tx_mut(tx) {
                    t.data_reply = Some(r);
                }
                if let Some(i) = self.awaiting_verdict.iter().position(|&id| id == tx) {
                    self.awaiting_verdict.remove(i);
                    self.done(tx, ev);
                }
            }
            Cmd::Bdat { .. } => {}
            Cmd::Auth => {
                if r.code == 334 {
                    // A challenge: the command stays answered-to-be.
                    self.pending.push_front(Cmd::Auth);
                    if self.client == Client::AwaitAuth {
                        self.client = Client::AuthLine;
                    }
                } else {
                    self.session.auth_ok = Some(r.is_positive());
                    if matches!(self.client, Client::AwaitAuth | Client::AuthLine) {
                        self.client = Client::Commands;
                    }
                }
            }
            Cmd::Rset { tx } => {
                if r.code == 250 {
                    self.reset(tx, ev);
                }
            }
            Cmd::StartTls => {
                if r.code == 220 {
                    // The transaction STARTTLS was part of ends with it.
                    self.close_tx(ev);
                    self.session.tls = true;
                    for t in self.txs.iter_mut() {
                        t.tls = true;
                    }
                    self.client = Client::Opaque;
                    self.server_opaque = true;
                    ev.push(SmtpEvent::StartTls);
                } else if self.client == Client::AwaitTls {
                    self.client = Client::Commands;
                }
            }
            Cmd::Other { .. } => {}
        }
    }
}

impl StreamParser for SmtpParser {
    type Event = SmtpEvent;

    fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<SmtpEvent>) -> usize {
        match dir {
            Direction::ToServer => self.client_bytes(input, events),
            Direction::ToClient => self.server_bytes(input, events),
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, events: &mut Vec<SmtpEvent>) {
        if let Some(id) = self.current
            && let Some(t) = self.tx_mut(id)
        {
            t.gap = true;
        }
        match (dir, self.client) {
            // A hole inside a BDAT chunk only shortens it.
            (Direction::ToServer, Client::Bdat { tx, left, last }) if len < left => {
                self.client = Client::Bdat {
                    tx,
                    left: left - len,
                    last,
                };
                return;
            }
            // A hole in message text loses text; the `.` line still ends it.
            (Direction::ToServer, Client::Data { tx, .. }) => {
                self.client = Client::Data {
                    tx,
                    line_start: false,
                };
            }
            (Direction::ToServer, Client::Opaque) | (Direction::ToClient, _)
                if self.server_opaque =>
            {
                return;
            }
            (Direction::ToServer, _) => self.client = Client::Commands,
            (Direction::ToClient, _) => {
                // Replies lost: their commands will not be answered.
                self.reply = None;
                self.pending.clear();
            }
        }
        events.push(SmtpEvent::Anomaly {
            tx: self.current,
            kind: SmtpAnomaly::Gap,
        });
    }

    fn end(&mut self, dir: Direction, events: &mut Vec<SmtpEvent>) {
        match dir {
            Direction::ToClient => {
                if let Some(r) = self.reply.take() {
                    self.answer(r, events);
                }
                // No verdict will come any more; the client may still
                // send (a server closing after an error does not stop a
                // pipelining client), so the transaction stays open, and
                // what it sends after a DATA nobody answered is taken as
                // the message, as Suricata takes it.
                self.server_ended = true;
                if let Client::AwaitData { tx } = self.client {
                    self.client = Client::Data {
                        tx,
                        line_start: true,
                    };
                }
            }
            Direction::ToServer => self.close_tx(events),
        }
        if self.server_ended {
            for tx in std::mem::take(&mut self.awaiting_verdict) {
                self.done(tx, events);
            }
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn first_word(s: &str) -> Option<String> {
    s.split_whitespace().next().map(|w| w.to_ascii_lowercase())
}

/// `FROM:<a@b> SIZE=10` → (`<a@b>`, `a@b`, [`SIZE=10`]), tolerating a
/// space after the colon and a missing pair of angle brackets.
fn path_argument(arg: &[u8], keyword: &[u8]) -> (String, String, Vec<String>) {
    let rest = if arg.len() >= keyword.len() && arg[..keyword.len()].eq_ignore_ascii_case(keyword) {
        arg[keyword.len()..].trim_ascii()
    } else {
        // `MAIL FROM <a@b>` and other deviations: take what follows the verb.
        let colon = memchr(b':', arg).map_or(0, |i| i + 1);
        arg[colon..].trim_ascii()
    };
    let (path, params) = if rest.first() == Some(&b'<') {
        match memchr(b'>', rest) {
            Some(i) => (&rest[..=i], rest[i + 1..].trim_ascii()),
            None => (rest, &b""[..]),
        }
    } else {
        let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        (&rest[..end], rest[end..].trim_ascii())
    };
    let raw = lossy(path);
    let bare = raw.trim_start_matches('<').trim_end_matches('>').to_owned();
    let params = params
        .split(|&c| c == b' ')
        .filter(|p| !p.is_empty())
        .take(16)
        .map(lossy)
        .collect();
    (raw, bare, params)
}

/// `250-text` / `250 text` / `250`: (code, last line?, text).
fn reply_line(line: &[u8]) -> Option<(u16, bool, String)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    match line.get(3) {
        None => Some((code, true, String::new())),
        Some(b'-') => Some((code, false, lossy(&line[4..]))),
        Some(b' ') | Some(b'\t') => Some((code, true, lossy(&line[4..]))),
        Some(_) => None,
    }
}

/// Does `data`, the first bytes one side sent, open an SMTP exchange?
/// The server's `220` greeting, or the client's EHLO/HELO.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    let want: &[&[u8]] = match dir {
        Direction::ToClient => &[b"220 ", b"220-"],
        // Suricata's patterns: the verb alone (`EHLO` without a name too).
        Direction::ToServer => &[b"EHLO", b"HELO"],
    };
    let mut need_more = false;
    for w in want {
        let n = data.len().min(w.len());
        if data[..n].eq_ignore_ascii_case(&w[..n]) {
            if n == w.len() {
                return Probe::Match;
            }
            need_more = true;
        }
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests;
