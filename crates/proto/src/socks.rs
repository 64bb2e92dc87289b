//! SOCKS 4, 4a and 5 (RFC 1928, RFC 1929), both directions.
//!
//! Every message has a fixed or self-describing length, so each is parsed
//! only once whole; the parser returns 0 until then. SOCKS 5 alternates
//! strictly (greeting, method choice, authentication, request, reply), so
//! the client side waits for the server's answer before reading its next
//! message, which also copes with clients that send ahead.
//!
//! A granted CONNECT opens a tunnel ([`SocksEvent::Tunnel`]): the parser
//! stops and leaves the rest of both streams to the tunnelled protocol.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, u8 as byte};
use nom::{IResult, Parser};

use crate::{Direction, Probe, StreamParser};

/// Settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocksConfig {
    /// Keep the RFC 1929 password. When false the parser never stores it,
    /// only that one was sent.
    pub keep_password: bool,
}

/// Requested address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A host name (SOCKS 4a, or SOCKS 5 ATYP 3).
    Name(String),
}

/// SOCKS command codes (the same numbers in 4 and 5).
pub const CMD_CONNECT: u8 = 1;
pub const CMD_BIND: u8 = 2;
pub const CMD_UDP_ASSOCIATE: u8 = 3;

/// One SOCKS request and its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocksTx {
    pub id: u64,
    /// 4 or 5 (4a is version 4 with a host name).
    pub version: u8,
    /// Authentication methods the client offered (SOCKS 5).
    pub methods_offered: Vec<u8>,
    /// The method the server chose (SOCKS 5).
    pub method: Option<u8>,
    /// SOCKS 4 user id or SOCKS 5 user name.
    pub user: Option<String>,
    /// Only when `SocksConfig::keep_password`.
    pub password: Option<String>,
    pub password_seen: bool,
    /// RFC 1929 status: true when the server accepted the credentials.
    pub auth_ok: Option<bool>,
    pub command: Option<u8>,
    pub address: Option<Address>,
    pub port: Option<u16>,
    /// Reply code as sent (SOCKS 4: 90..93, SOCKS 5: 0..8).
    pub reply: Option<u8>,
    pub bound_address: Option<Address>,
    pub bound_port: Option<u16>,
}

impl crate::heap::HeapSize for Address {
    fn heap_size(&self) -> usize {
        match self {
            Address::Name(n) => n.capacity(),
            _ => 0,
        }
    }
}

crate::heap_size_of_fields!(SocksTx: methods_offered, user, password, address, bound_address);

impl SocksTx {
    fn new(id: u64, version: u8) -> Self {
        SocksTx {
            id,
            version,
            methods_offered: Vec::new(),
            method: None,
            user: None,
            password: None,
            password_seen: false,
            auth_ok: None,
            command: None,
            address: None,
            port: None,
            reply: None,
            bound_address: None,
            bound_port: None,
        }
    }

    /// True when the reply granted the request.
    pub fn granted(&self) -> bool {
        matches!((self.version, self.reply), (4, Some(90)) | (5, Some(0)))
    }

    /// The reply in words, as Zeek's socks.log has it.
    pub fn status(&self) -> Option<&'static str> {
        let r = self.reply?;
        Some(match (self.version, r) {
            (4, 90) | (5, 0) => "succeeded",
            (4, 91) => "request rejected or failed",
            (4, 92) => {
                "request rejected because SOCKS server cannot connect to identd on the client"
            }
            (4, 93) => {
                "request rejected because the client program and identd report different user-ids"
            }
            (5, 1) => "general SOCKS server failure",
            (5, 2) => "connection not allowed by ruleset",
            (5, 3) => "Network unreachable",
            (5, 4) => "Host unreachable",
            (5, 5) => "Connection refused",
            (5, 6) => "TTL expired",
            (5, 7) => "Command not supported",
            (5, 8) => "Address type not supported",
            _ => "unknown",
        })
    }
}

/// Malformed or unexpected input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocksAnomaly {
    UnknownVersion,
    /// A SOCKS 4 user id or host name without its NUL within 255 bytes.
    StringTooLong,
    InvalidMessage,
    /// The server chose a method the client did not offer, or one fumidai
    /// cannot follow (GSSAPI): parsing stops.
    UnsupportedMethod,
    Gap,
}

impl SocksAnomaly {
    pub fn name(self) -> &'static str {
        match self {
            SocksAnomaly::UnknownVersion => "unknown_version",
            SocksAnomaly::StringTooLong => "string_too_long",
            SocksAnomaly::InvalidMessage => "invalid_message",
            SocksAnomaly::UnsupportedMethod => "unsupported_method",
            SocksAnomaly::Gap => "gap",
        }
    }
}

/// What the parser reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocksEvent {
    /// The request (command, address, port) is known: request alerts fire here.
    Request {
        tx: u64,
    },
    /// The reply is known.
    Reply {
        tx: u64,
    },
    /// The transaction is over: log it.
    TxDone {
        tx: u64,
    },
    /// A CONNECT (or BIND's second reply) was granted: the rest of both
    /// streams belongs to the tunnel.
    Tunnel {
        tx: u64,
    },
    Anomaly {
        tx: Option<u64>,
        kind: SocksAnomaly,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the client's first message.
    Start,
    /// SOCKS 4: request sent, reply due.
    V4Reply,
    /// SOCKS 4 BIND: the second reply (the incoming connection) is due.
    V4SecondReply,
    /// SOCKS 5: greeting sent, method choice due.
    V5Method,
    /// SOCKS 5: RFC 1929 credentials due from the client.
    V5Auth,
    /// SOCKS 5: RFC 1929 status due from the server.
    V5AuthStatus,
    /// SOCKS 5: request due from the client.
    V5Request,
    /// SOCKS 5: reply due from the server.
    V5Reply,
    /// SOCKS 5 BIND: the second reply is due.
    V5SecondReply,
    /// Nothing more to parse.
    Stopped,
}

/// A SOCKS connection.
#[derive(Debug)]
pub struct SocksParser {
    cfg: SocksConfig,
    state: State,
    txs: VecDeque<SocksTx>,
    next_id: u64,
}

/// How a message parse went.
enum Msg<T> {
    Done(T, usize),
    NeedMore,
    Invalid(SocksAnomaly),
}

fn run<'a, T>(r: IResult<&'a [u8], T>, input: &'a [u8]) -> Msg<T> {
    match r {
        Ok((rest, v)) => Msg::Done(v, input.len() - rest.len()),
        Err(nom::Err::Incomplete(_)) => Msg::NeedMore,
        // Complete-mode parsers report running out of bytes as an error;
        // every message here is length-prefixed or fixed, so that means
        // "not all here yet".
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e))
            if e.code == nom::error::ErrorKind::Eof =>
        {
            Msg::NeedMore
        }
        Err(_) => Msg::Invalid(SocksAnomaly::InvalidMessage),
    }
}

impl SocksParser {
    pub fn new(cfg: SocksConfig) -> Self {
        SocksParser {
            cfg,
            state: State::Start,
            txs: VecDeque::new(),
            next_id: 0,
        }
    }

    pub fn tx(&self, id: u64) -> Option<&SocksTx> {
        self.txs.iter().find(|t| t.id == id)
    }

    pub fn take_tx(&mut self, id: u64) -> Option<SocksTx> {
        let i = self.txs.iter().position(|t| t.id == id)?;
        self.txs.remove(i)
    }

    pub fn tx_count(&self) -> u64 {
        self.next_id
    }

    /// Heap bytes held (transactions and their strings).
    pub fn memuse(&self) -> usize {
        crate::heap::HeapSize::heap_size(&self.txs)
    }

    /// True once the parser stopped (tunnel, failure, or something it cannot follow).
    pub fn stopped(&self) -> bool {
        self.state == State::Stopped
    }

    fn current(&mut self) -> Option<&mut SocksTx> {
        self.txs.back_mut()
    }

    fn current_id(&self) -> Option<u64> {
        self.txs.back().map(|t| t.id)
    }

    fn new_tx(&mut self, version: u8) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        // One connection carries one request (two for BIND); keep a few.
        if self.txs.len() >= 4 {
            self.txs.pop_front();
        }
        self.txs.push_back(SocksTx::new(id, version));
        id
    }

    fn stop(&mut self, kind: Option<SocksAnomaly>, ev: &mut Vec<SocksEvent>) {
        let tx = self.current_id();
        if let Some(kind) = kind {
            ev.push(SocksEvent::Anomaly { tx, kind });
        }
        if let Some(tx) = tx
            && self.state != State::Stopped
        {
            ev.push(SocksEvent::TxDone { tx });
        }
        self.state = State::Stopped;
    }

    fn client(&mut self, input: &[u8], ev: &mut Vec<SocksEvent>) -> usize {
        match self.state {
            State::Start => match input.first() {
                None => 0,
                Some(4) => match run(v4_request(input), input) {
                    Msg::Done(r, used) => {
                        let tx = self.new_tx(4);
                        if let Some(t) = self.current() {
                            t.command = Some(r.command);
                            t.port = Some(r.port);
                            t.user = Some(r.user);
                            t.address = Some(r.address);
                        }
                        ev.push(SocksEvent::Request { tx });
                        self.state = State::V4Reply;
                        used
                    }
                    Msg::NeedMore if input.len() > 8 + 2 * 256 => {
                        self.new_tx(4);
                        self.stop(Some(SocksAnomaly::StringTooLong), ev);
                        input.len()
                    }
                    Msg::NeedMore => 0,
                    Msg::Invalid(a) => {
                        self.stop(Some(a), ev);
                        input.len()
                    }
                },
                Some(5) => match run(v5_greeting(input), input) {
                    Msg::Done(methods, used) => {
                        self.new_tx(5);
                        if let Some(t) = self.current() {
                            t.methods_offered = methods;
                        }
                        self.state = State::V5Method;
                        used
                    }
                    Msg::NeedMore => 0,
                    Msg::Invalid(a) => {
                        self.stop(Some(a), ev);
                        input.len()
                    }
                },
                Some(_) => {
                    self.stop(Some(SocksAnomaly::UnknownVersion), ev);
                    input.len()
                }
            },
            State::V5Auth => match run(rfc1929_request(input), input) {
                Msg::Done((user, pass), used) => {
                    let keep = self.cfg.keep_password;
                    if let Some(t) = self.current() {
                        t.user = Some(user);
                        t.password_seen = true;
                        t.password = keep.then_some(pass);
                    }
                    self.state = State::V5AuthStatus;
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            State::V5Request => match run(v5_message(input), input) {
                Msg::Done(m, used) => {
                    let tx = self.current_id().unwrap_or_else(|| self.new_tx(5));
                    if let Some(t) = self.current() {
                        t.command = Some(m.code);
                        t.address = Some(m.address);
                        t.port = Some(m.port);
                    }
                    ev.push(SocksEvent::Request { tx });
                    self.state = State::V5Reply;
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            // The client waits for the server, or the parser has stopped:
            // bytes stay unconsumed (they may belong to a tunnel).
            _ => 0,
        }
    }

    fn server(&mut self, input: &[u8], ev: &mut Vec<SocksEvent>) -> usize {
        match self.state {
            State::V4Reply | State::V4SecondReply => match run(v4_reply(input), input) {
                Msg::Done((code, port, addr), used) => {
                    let second = self.state == State::V4SecondReply;
                    self.reply(code, Address::V4(addr), port, second, ev);
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            State::V5Method => match run(v5_method_choice(input), input) {
                Msg::Done(method, used) => {
                    let offered = self
                        .current()
                        .is_some_and(|t| t.methods_offered.contains(&method));
                    if let Some(t) = self.current() {
                        t.method = Some(method);
                    }
                    match method {
                        0 if offered => self.state = State::V5Request,
                        2 if offered => self.state = State::V5Auth,
                        // No acceptable method: the server closes.
                        0xff => self.stop(None, ev),
                        _ => self.stop(Some(SocksAnomaly::UnsupportedMethod), ev),
                    }
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            State::V5AuthStatus => match run(rfc1929_status(input), input) {
                Msg::Done(status, used) => {
                    let ok = status == 0;
                    if let Some(t) = self.current() {
                        t.auth_ok = Some(ok);
                    }
                    if ok {
                        self.state = State::V5Request;
                    } else {
                        self.stop(None, ev);
                    }
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            State::V5Reply | State::V5SecondReply => match run(v5_message(input), input) {
                Msg::Done(m, used) => {
                    let second = self.state == State::V5SecondReply;
                    self.reply(m.code, m.address, m.port, second, ev);
                    used
                }
                Msg::NeedMore => 0,
                Msg::Invalid(a) => {
                    self.stop(Some(a), ev);
                    input.len()
                }
            },
            _ => 0,
        }
    }

    fn reply(
        &mut self,
        code: u8,
        addr: Address,
        port: u16,
        second: bool,
        ev: &mut Vec<SocksEvent>,
    ) {
        let Some(tx) = self.current_id() else { return };
        let (version, command) = match self.current() {
            Some(t) => {
                t.reply = Some(code);
                if !second {
                    t.bound_address = Some(addr);
                    t.bound_port = Some(port);
                }
                (t.version, t.command)
            }
            None => return,
        };
        ev.push(SocksEvent::Reply { tx });
        let granted = self.tx(tx).is_some_and(|t| t.granted());
        match (granted, command, second) {
            (true, Some(CMD_BIND), false) => {
                // BIND: the first reply names the listening address; the
                // second arrives when the peer connects.
                self.state = if version == 4 {
                    State::V4SecondReply
                } else {
                    State::V5SecondReply
                };
            }
            (true, Some(CMD_CONNECT | CMD_BIND), _) => {
                ev.push(SocksEvent::TxDone { tx });
                ev.push(SocksEvent::Tunnel { tx });
                self.state = State::Stopped;
            }
            // Refused, or UDP ASSOCIATE (whose TCP connection just idles).
            _ => self.stop(None, ev),
        }
    }
}

impl StreamParser for SocksParser {
    type Event = SocksEvent;

    fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<SocksEvent>) -> usize {
        match dir {
            Direction::ToServer => self.client(input, events),
            Direction::ToClient => self.server(input, events),
        }
    }

    fn gap(&mut self, _dir: Direction, _len: u64, events: &mut Vec<SocksEvent>) {
        // The handshake has no resynchronisation point.
        if self.state != State::Stopped {
            self.stop(Some(SocksAnomaly::Gap), events);
        }
    }

    fn end(&mut self, _dir: Direction, events: &mut Vec<SocksEvent>) {
        if self.state != State::Stopped && self.current_id().is_some() {
            self.stop(None, events);
        }
    }
}

// ---- messages ------------------------------------------------------------

struct V4Request {
    command: u8,
    port: u16,
    user: String,
    address: Address,
}

/// A NUL-terminated string of at most 255 bytes.
fn cstring(i: &[u8]) -> IResult<&[u8], String> {
    match i.iter().take(256).position(|&b| b == 0) {
        Some(n) => Ok((&i[n + 1..], String::from_utf8_lossy(&i[..n]).into_owned())),
        None if i.len() < 256 => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Eof,
        ))),
        None => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TooLarge,
        ))),
    }
}

fn v4_request(i: &[u8]) -> IResult<&[u8], V4Request> {
    let (i, _version) = byte(i)?;
    let (i, command) = byte(i)?;
    let (i, port) = be_u16(i)?;
    let (i, ip) = take(4usize)(i)?;
    let (i, user) = cstring(i)?;
    let ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
    // SOCKS 4a: 0.0.0.x (x != 0) means "the host name follows".
    let o = ip.octets();
    let (i, address) = if o[..3] == [0, 0, 0] && o[3] != 0 {
        let (i, name) = cstring(i)?;
        (i, Address::Name(name))
    } else {
        (i, Address::V4(ip))
    };
    if !(1..=2).contains(&command) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((
        i,
        V4Request {
            command,
            port,
            user,
            address,
        },
    ))
}

fn v4_reply(i: &[u8]) -> IResult<&[u8], (u8, u16, Ipv4Addr)> {
    let (i, (vn, code, port, ip)) = (byte, byte, be_u16, take(4usize)).parse(i)?;
    if vn != 0 && vn != 4 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, (code, port, Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))))
}

fn v5_greeting(i: &[u8]) -> IResult<&[u8], Vec<u8>> {
    let (i, (_version, n)) = (byte, byte).parse(i)?;
    if n == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, methods) = take(n)(i)?;
    Ok((i, methods.to_vec()))
}

fn v5_method_choice(i: &[u8]) -> IResult<&[u8], u8> {
    let (i, (version, method)) = (byte, byte).parse(i)?;
    if version != 5 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, method))
}

fn rfc1929_request(i: &[u8]) -> IResult<&[u8], (String, String)> {
    let (i, version) = byte(i)?;
    if version != 1 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, ulen) = byte(i)?;
    let (i, user) = take(ulen)(i)?;
    let (i, plen) = byte(i)?;
    let (i, pass) = take(plen)(i)?;
    Ok((
        i,
        (
            String::from_utf8_lossy(user).into_owned(),
            String::from_utf8_lossy(pass).into_owned(),
        ),
    ))
}

fn rfc1929_status(i: &[u8]) -> IResult<&[u8], u8> {
    let (i, (_version, status)) = (byte, byte).parse(i)?;
    Ok((i, status))
}

/// A SOCKS 5 request or reply: VER, CMD/REP, RSV, ATYP, ADDR, PORT.
struct V5Message {
    code: u8,
    address: Address,
    port: u16,
}

fn v5_message(i: &[u8]) -> IResult<&[u8], V5Message> {
    let (i, (version, code, _rsv, atyp)) = (byte, byte, byte, byte).parse(i)?;
    if version != 5 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, address) = match atyp {
        1 => {
            let (i, a) = take(4usize)(i)?;
            (i, Address::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        }
        3 => {
            let (i, n) = byte(i)?;
            let (i, name) = take(n)(i)?;
            (i, Address::Name(String::from_utf8_lossy(name).into_owned()))
        }
        4 => {
            let (i, a) = take(16usize)(i)?;
            let mut o = [0u8; 16];
            o.copy_from_slice(a);
            (i, Address::V6(Ipv6Addr::from(o)))
        }
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Verify,
            )));
        }
    };
    let (i, port) = be_u16(i)?;
    Ok((
        i,
        V5Message {
            code,
            address,
            port,
        },
    ))
}

/// Does `data`, the first bytes the client sent, open a SOCKS exchange?
/// SOCKS 4: a CONNECT or BIND request; SOCKS 5: a greeting whose method
/// count matches its length (clients may send the next message right
/// behind it, so bytes beyond the greeting are allowed if they start like
/// a SOCKS 5 request or RFC 1929 credentials).
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    if dir != Direction::ToServer {
        return Probe::NoMatch;
    }
    match data.first() {
        None => Probe::NeedMore,
        Some(4) => match v4_request(data) {
            Ok(_) => Probe::Match,
            Err(nom::Err::Error(e))
                if e.code == nom::error::ErrorKind::Eof && data.len() < 8 + 2 * 256 =>
            {
                if data.len() >= 2 && !(1..=2).contains(&data[1]) {
                    Probe::NoMatch
                } else {
                    Probe::NeedMore
                }
            }
            _ => Probe::NoMatch,
        },
        Some(5) => {
            let Some(&n) = data.get(1) else {
                return Probe::NeedMore;
            };
            if n == 0 || n > 16 {
                return Probe::NoMatch;
            }
            let end = 2 + usize::from(n);
            if data.len() < end {
                return Probe::NeedMore;
            }
            // Method numbers: 0..=3 standard, 0x80..=0xfe private.
            if !data[2..end]
                .iter()
                .all(|&m| m <= 3 || (0x80..=0xfe).contains(&m))
            {
                return Probe::NoMatch;
            }
            match data.get(end) {
                None => Probe::Match,
                Some(5) | Some(1) => Probe::Match,
                Some(_) => Probe::NoMatch,
            }
        }
        Some(_) => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamDriver;

    use Direction::{ToClient as TC, ToServer as TS};

    fn run_split(
        cfg: SocksConfig,
        script: &[(Direction, &[u8])],
        step: usize,
    ) -> (Vec<SocksEvent>, Vec<SocksTx>, Vec<u8>, Vec<u8>) {
        let mut d = StreamDriver::new(SocksParser::new(cfg), 4096);
        let mut ev = Vec::new();
        for &(dir, bytes) in script {
            for piece in bytes.chunks(step.max(1)) {
                d.feed(dir, piece, &mut ev);
            }
        }
        let txs: Vec<SocksTx> = d.parser().txs.iter().cloned().collect();
        let (_, ts, tc) = d.into_parts();
        (ev, txs, ts, tc)
    }

    fn run(script: &[(Direction, &[u8])]) -> (Vec<SocksEvent>, Vec<SocksTx>, Vec<u8>, Vec<u8>) {
        run_split(SocksConfig::default(), script, usize::MAX)
    }

    /// SOCKS 5 with user/password, CONNECT 192.168.0.2:22, as in Zeek's socks-auth trace.
    const AUTH: &[(Direction, &[u8])] = &[
        (TS, b"\x05\x01\x02"),
        (TC, b"\x05\x02"),
        (TS, b"\x01\x03bob\x05alice"),
        (TC, b"\x01\x00"),
        (TS, b"\x05\x01\x00\x01\xc0\xa8\x00\x02\x00\x16"),
        (TC, b"\x05\x00\x00\x01\xc0\xa8\x00\x01\xda\x8f"),
        (TS, b"SSH-2.0-client\r\n"),
    ];

    #[test]
    fn socks5_with_authentication() {
        let (ev, txs, ts, _) = run(AUTH);
        let t = &txs[0];
        assert_eq!(
            (t.version, t.method, t.user.as_deref()),
            (5, Some(2), Some("bob"))
        );
        assert!(
            t.password_seen && t.password.is_none(),
            "password not kept by default"
        );
        assert_eq!(t.auth_ok, Some(true));
        assert_eq!((t.command, t.port), (Some(CMD_CONNECT), Some(22)));
        assert_eq!(t.address, Some(Address::V4(Ipv4Addr::new(192, 168, 0, 2))));
        assert_eq!(
            t.bound_address,
            Some(Address::V4(Ipv4Addr::new(192, 168, 0, 1)))
        );
        assert_eq!((t.bound_port, t.status()), (Some(55951), Some("succeeded")));
        assert_eq!(
            ev,
            [
                SocksEvent::Request { tx: 0 },
                SocksEvent::Reply { tx: 0 },
                SocksEvent::TxDone { tx: 0 },
                SocksEvent::Tunnel { tx: 0 }
            ]
        );
        assert_eq!(
            ts, b"SSH-2.0-client\r\n",
            "the tunnel's bytes are left alone"
        );
        let (_, txs, _, _) = run_split(
            SocksConfig {
                keep_password: true,
            },
            AUTH,
            usize::MAX,
        );
        assert_eq!(txs[0].password.as_deref(), Some("alice"));
    }

    #[test]
    fn socks4_and_4a() {
        let (ev, txs, _, tc) = run(&[
            (TS, b"\x04\x01\x00\x19\x0a\x00\x00\x05spammer\x00"),
            (TC, b"\x00\x5a\x00\x00\x00\x00\x00\x00220 mx ESMTP\r\n"),
        ]);
        let t = &txs[0];
        assert_eq!(
            (t.version, t.port, t.user.as_deref()),
            (4, Some(25), Some("spammer"))
        );
        assert!(t.granted());
        assert!(ev.contains(&SocksEvent::Tunnel { tx: 0 }));
        assert_eq!(tc, b"220 mx ESMTP\r\n");
        let (_, txs, _, _) = run(&[
            (
                TS,
                b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00mail.example.net\x00",
            ),
            (TC, b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
        ]);
        assert_eq!(
            txs[0].address,
            Some(Address::Name("mail.example.net".into()))
        );
        assert_eq!(txs[0].status(), Some("request rejected or failed"));
    }

    #[test]
    fn socks5_domain_and_ipv6_and_refusal() {
        let (ev, txs, _, _) = run(&[
            (TS, b"\x05\x01\x00"),
            (TC, b"\x05\x00"),
            (TS, b"\x05\x01\x00\x03\x0ewww.google.com\x01\xbb"),
            (TC, b"\x05\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
        ]);
        let t = &txs[0];
        assert_eq!(t.address, Some(Address::Name("www.google.com".into())));
        assert_eq!(t.bound_address, Some(Address::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(t.status(), Some("Connection refused"));
        assert!(!ev.iter().any(|e| matches!(e, SocksEvent::Tunnel { .. })));
    }

    #[test]
    fn client_sending_ahead_waits_for_the_method() {
        // Greeting and request in one segment.
        let (ev, txs, _, _) = run(&[
            (TS, b"\x05\x01\x00\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x19"),
            (TC, b"\x05\x00\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
        ]);
        assert_eq!(txs[0].port, Some(25));
        assert!(ev.contains(&SocksEvent::Tunnel { tx: 0 }));
    }

    #[test]
    fn garbage_and_gaps_stop_cleanly() {
        let (ev, _, _, _) = run(&[(TS, b"\x07\x01hello")]);
        assert_eq!(
            ev,
            [SocksEvent::Anomaly {
                tx: None,
                kind: SocksAnomaly::UnknownVersion
            }]
        );
        let mut d = StreamDriver::new(SocksParser::new(SocksConfig::default()), 4096);
        let mut ev = Vec::new();
        d.feed(TS, b"\x05\x01\x00", &mut ev);
        d.gap(TC, 10, &mut ev);
        assert!(d.parser().stopped());
        assert!(ev.contains(&SocksEvent::TxDone { tx: 0 }));
    }

    #[test]
    fn probes() {
        assert_eq!(probe(TS, b"\x05\x01\x00"), Probe::Match);
        assert_eq!(probe(TS, b"\x05\x02\x00\x02"), Probe::Match);
        assert_eq!(probe(TS, b"\x05\x02\x00"), Probe::NeedMore);
        assert_eq!(probe(TS, b"\x05\x01\x00\x05\x01\x00\x01"), Probe::Match);
        assert_eq!(probe(TS, b"\x05\x01\x00GET"), Probe::NoMatch);
        assert_eq!(
            probe(TS, b"\x04\x01\x00\x19\x0a\x00\x00\x05\x00"),
            Probe::Match
        );
        assert_eq!(probe(TS, b"\x04\x01\x00\x19"), Probe::NeedMore);
        assert_eq!(probe(TS, b"\x04\x09"), Probe::NoMatch);
        assert_eq!(probe(TS, b"GET / HTTP/1.1"), Probe::NoMatch);
        assert_eq!(probe(TC, b"\x05\x00"), Probe::NoMatch);
    }

    #[test]
    fn every_split_gives_the_same_result() {
        let whole = run(AUTH);
        for step in 1..12 {
            assert_eq!(
                run_split(SocksConfig::default(), AUTH, step),
                whole,
                "step {step}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(ts in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                                       tc in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                                       step in 1usize..20) {
            let _ = run_split(SocksConfig::default(), &[(TS, &ts), (TC, &tc), (TS, &ts)], step);
            let _ = probe(TS, &ts);
        }

        #[test]
        fn socks5_shaped_input_never_panics(n in 1u8..4, rest in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut ts = vec![5, n];
            ts.extend(std::iter::repeat_n(0u8, n as usize));
            ts.extend_from_slice(&rest);
            let _ = run(&[(TS, &ts), (TC, b"\x05\x00"), (TC, &rest)]);
        }
    }
}
