//! HTTP/1.x, both directions, incrementally, tolerant of what real clients
//! and servers send (odd spacing, HTTP/0.9, colon-less header lines, bodies
//! delimited by the connection's end), and bounded everywhere.
//!
//! The parser reads one line at a time and keeps its place between calls,
//! so bytes arriving one by one cost no rescans. Bodies are skipped, never
//! buffered: by Content-Length, by chunked encoding, or up to the end of the
//! connection, which keeps pipelined requests in step. Responses pair with
//! requests in order.
//!
//! A `CONNECT` makes the client side wait for the answer: a 2xx answer
//! opens a tunnel ([`HttpEvent::Tunnel`]) and the parser stops, leaving the
//! rest of both streams, unconsumed, to the tunnelled protocol.
//!
//! Request bodies are looked into as they pass, still without being kept:
//! every request's URI, headers and body go through the Shellshock scanner,
//! and the body of a `POST` to an `xmlrpc.php` through the XML-RPC reader
//! ([`HttpEvent::RequestBody`] when either found something).

use std::collections::VecDeque;

use memchr::memchr;
use nom::bytes::complete::{tag_no_case, take_while_m_n, take_while1};
use nom::character::complete::{digit1, space0};
use nom::combinator::opt;
use nom::{IResult, Parser};

use crate::shellshock::{self, Hit};
use crate::xmlrpc;
use crate::{Direction, Probe, StreamParser};

/// Limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Longest line kept; a longer one is consumed, truncated, and reported.
    pub max_line: usize,
    /// Header lines kept per message; more are counted and reported.
    pub max_headers: usize,
    /// Bytes of a header value kept.
    pub max_value: usize,
    /// Transactions alive at once (pipelining depth).
    pub max_txs: usize,
    /// Look for Shellshock probes in request URIs, headers and bodies.
    pub shellshock: bool,
    /// Read the XML-RPC calls posted to `xmlrpc.php` (None: do not).
    pub xmlrpc: Option<xmlrpc::Limits>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_line: 8192,
            max_headers: 128,
            max_value: 1024,
            max_txs: 64,
            shellshock: true,
            xmlrpc: Some(xmlrpc::Limits::default()),
        }
    }
}

/// How a request names its target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Origin,
    /// `scheme://authority/path`, as sent to a proxy.
    Absolute,
    /// `host:port`, as CONNECT sends it.
    Authority,
    Asterisk,
}

/// The headers fumidai cares about, and how many lines there were.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub transfer_encoding: Option<String>,
    pub connection: Option<String>,
    pub proxy_connection: Option<String>,
    pub via: Option<String>,
    pub proxy_agent: Option<String>,
    pub referer: Option<String>,
    pub x_forwarded_for: Option<String>,
    pub location: Option<String>,
    pub server: Option<String>,
    /// An `Authorization` header was sent (its value is never kept).
    pub authorization: bool,
    /// A `Proxy-Authorization` header was sent (its value is never kept).
    pub proxy_authorization: bool,
    /// Header lines read, up to `max_headers` (continuation lines are
    /// part of the line they continue).
    pub lines: u32,
    /// Header lines beyond `max_headers`: not looked at (the Shellshock
    /// scanner still reads them), counted and reported.
    pub dropped: u32,
}

impl Headers {
    /// True when the message body is chunked.
    pub fn chunked(&self) -> bool {
        self.transfer_encoding
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    }

    /// Keeps the value of a header fumidai looks at.
    fn known(
        &mut self,
        name: &[u8],
        value: &[u8],
        max_value: usize,
        tx: u64,
        ev: &mut Vec<HttpEvent>,
    ) {
        let h = self;
        // The name, lower-cased on the stack: most headers are none of
        // those below, and cost no allocation at all.
        let name = name.trim_ascii();
        let mut lower = [0u8; 20];
        let Some(lname) = lower.get_mut(..name.len()) else {
            return;
        };
        lname.copy_from_slice(name);
        lname.make_ascii_lowercase();
        let raw = value.trim_ascii();
        let value = || Some(truncate(lossy(raw), max_value));
        match &*lname {
            b"host" => h.host = value(),
            b"user-agent" => h.user_agent = value(),
            b"content-type" => h.content_type = value(),
            b"content-length" => match std::str::from_utf8(raw).ok().map(|v| v.parse::<u64>()) {
                Some(Ok(n)) => h.content_length = Some(n),
                _ => ev.push(HttpEvent::Anomaly {
                    tx: Some(tx),
                    kind: HttpAnomaly::InvalidContentLength,
                }),
            },
            b"transfer-encoding" => h.transfer_encoding = value(),
            b"connection" => h.connection = value(),
            b"proxy-connection" => h.proxy_connection = value(),
            b"via" => h.via = value(),
            b"proxy-agent" => h.proxy_agent = value(),
            b"referer" => h.referer = value(),
            b"x-forwarded-for" => h.x_forwarded_for = value(),
            b"location" => h.location = value(),
            b"server" => h.server = value(),
            b"authorization" => h.authorization = true,
            b"proxy-authorization" => h.proxy_authorization = true,
            _ => {}
        }
    }
}

/// A request line and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The target exactly as sent (what Zeek logs as `uri`).
    pub uri: String,
    pub form: Form,
    /// Host and port named by an absolute- or authority-form target.
    pub target_host: Option<String>,
    pub target_port: Option<u16>,
    /// `HTTP/1.1` and the like; `None` for an HTTP/0.9 request line.
    pub protocol: Option<String>,
    pub headers: Headers,
    pub body_len: u64,
    /// The first Shellshock probe in the URI, a header or the body.
    pub shellshock: Option<Box<Hit>>,
    /// The XML-RPC call in the body of a POST to `xmlrpc.php`.
    pub xmlrpc: Option<Box<xmlrpc::Call>>,
}

/// A status line and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `HTTP/1.0` and the like; `None` for an HTTP/0.9 response (no status line).
    pub protocol: Option<String>,
    /// 0 for an HTTP/0.9 response, and when the code is not a number.
    pub status: u16,
    /// The code as sent when it is not a three-digit number (`2XX`), which
    /// Suricata logs as `status_string`.
    pub status_text: Option<String>,
    pub reason: String,
    pub headers: Headers,
    /// Interim (1xx) statuses seen before this one.
    pub interim: Vec<u16>,
    pub body_len: u64,
}

/// A request and its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTx {
    pub id: u64,
    pub request: Option<Request>,
    pub response: Option<Response>,
    pub request_done: bool,
    pub response_done: bool,
    /// Bytes of this transaction were lost.
    pub gap: bool,
    /// The response was a 2xx to CONNECT: a tunnel opened here.
    pub tunnel: bool,
}

crate::heap_size_of_fields!(Headers: host, user_agent, content_type, transfer_encoding, connection,
    proxy_connection, via, proxy_agent, referer, x_forwarded_for, location, server);
crate::heap_size_of_fields!(Request: method, uri, target_host, protocol, headers, shellshock, xmlrpc);
crate::heap_size_of_fields!(Response: protocol, reason, headers, interim);
crate::heap_size_of_fields!(HttpTx: request, response);

/// What went wrong, for `anomaly` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpAnomaly {
    LineTooLong,
    InvalidRequestLine,
    /// A request line without a version, followed by header lines.
    RequestLineMissingProtocol,
    MissingUri,
    InvalidStatusLine,
    HeaderWithoutColon,
    TooManyHeaders,
    InvalidContentLength,
    InvalidChunkSize,
    TooManyTransactions,
    ResponseWithoutRequest,
    /// Bytes were lost and the parser resynchronised.
    Gap,
    /// Data after the parser stopped that it could not account for.
    DataAfterEnd,
}

impl HttpAnomaly {
    /// The event name, as in `anomaly.event`.
    pub fn name(self) -> &'static str {
        match self {
            HttpAnomaly::LineTooLong => "line_too_long",
            HttpAnomaly::InvalidRequestLine => "invalid_request_line",
            HttpAnomaly::RequestLineMissingProtocol => "request_line_missing_protocol",
            HttpAnomaly::MissingUri => "missing_uri",
            HttpAnomaly::InvalidStatusLine => "invalid_status_line",
            HttpAnomaly::HeaderWithoutColon => "header_without_colon",
            HttpAnomaly::TooManyHeaders => "too_many_headers",
            HttpAnomaly::InvalidContentLength => "invalid_content_length",
            HttpAnomaly::InvalidChunkSize => "invalid_chunk_size",
            HttpAnomaly::TooManyTransactions => "too_many_transactions",
            HttpAnomaly::ResponseWithoutRequest => "response_without_request",
            HttpAnomaly::Gap => "gap",
            HttpAnomaly::DataAfterEnd => "data_after_end",
        }
    }
}

/// What the parser reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpEvent {
    /// A request line and its headers are complete: request alerts fire here.
    Request {
        tx: u64,
    },
    /// A final response's status line and headers are complete.
    Response {
        tx: u64,
    },
    /// Both sides of the transaction are complete (or ended): log it.
    TxDone {
        tx: u64,
    },
    /// A 2xx answer to CONNECT: the rest of both streams is the tunnel's.
    Tunnel {
        tx: u64,
    },
    /// The request's body was read, and held an XML-RPC call or a
    /// Shellshock probe (see `Request::xmlrpc`, `Request::shellshock`).
    RequestBody {
        tx: u64,
    },
    Anomaly {
        tx: Option<u64>,
        kind: HttpAnomaly,
    },
}

/// Where a body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    ChunkData(u64),
    /// The line ending a chunk's data.
    ChunkEnd,
    Trailers,
    /// Until the connection closes (responses only).
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// Expecting a request line or status line.
    Start,
    Headers {
        tx: u64,
    },
    Body {
        tx: u64,
        body: Body,
    },
    /// Client side after a CONNECT: waits for the answer.
    AwaitConnect {
        tx: u64,
    },
    /// Skipping to something that looks like a message start.
    Resync,
    /// Nothing more is parsed (tunnel, upgrade).
    Stopped,
}

/// What looks into the request body being read.
#[derive(Debug)]
struct BodyInspect {
    tx: u64,
    xmlrpc: Option<xmlrpc::Scanner>,
    shellshock: Option<shellshock::Scanner>,
}

impl crate::heap::HeapSize for BodyInspect {
    fn heap_size(&self) -> usize {
        self.xmlrpc.heap_size() + self.shellshock.heap_size()
    }
}

/// An HTTP/1.x connection.
#[derive(Debug)]
pub struct HttpParser {
    cfg: HttpConfig,
    req: Side,
    resp: Side,
    txs: VecDeque<HttpTx>,
    next_id: u64,
    /// Transactions whose request is sent and whose final response is due, in order.
    awaiting: VecDeque<u64>,
    ended: [bool; 2],
    inspect: Option<Box<BodyInspect>>,
    /// The name of the request's latest header line (its first 128 bytes),
    /// which a folded line continues: past `max_headers` it is not kept in
    /// the headers, yet a probe there is still reported under its name.
    last_req_header: Vec<u8>,
    /// A header line of the current request was read.
    req_header_seen: bool,
}

impl HttpParser {
    pub fn new(cfg: HttpConfig) -> Self {
        HttpParser {
            cfg,
            req: Side::Start,
            resp: Side::Start,
            txs: VecDeque::new(),
            next_id: 0,
            awaiting: VecDeque::new(),
            ended: [false; 2],
            inspect: None,
            last_req_header: Vec::new(),
            req_header_seen: false,
        }
    }

    /// The live transaction `id`.
    pub fn tx(&self, id: u64) -> Option<&HttpTx> {
        self.txs.iter().find(|t| t.id == id)
    }

    /// Removes transaction `id` (once logged).
    pub fn take_tx(&mut self, id: u64) -> Option<HttpTx> {
        let i = self.txs.iter().position(|t| t.id == id)?;
        self.txs.remove(i)
    }

    /// Transactions started so far.
    pub fn tx_count(&self) -> u64 {
        self.next_id
    }

    /// Heap bytes held (transactions and their strings).
    pub fn memuse(&self) -> usize {
        use crate::heap::HeapSize;
        self.txs.heap_size()
            + self.awaiting.heap_size()
            + self.inspect.heap_size()
            + self.last_req_header.capacity()
    }

    /// True once a tunnel or upgrade stopped the parser.
    pub fn stopped(&self) -> bool {
        self.req == Side::Stopped && self.resp == Side::Stopped
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut HttpTx> {
        self.txs.iter_mut().find(|t| t.id == id)
    }

    fn new_tx(&mut self, ev: &mut Vec<HttpEvent>) -> u64 {
        let open = |t: &HttpTx| !(t.request_done && t.response_done);
        if self.txs.iter().filter(|t| open(t)).count() >= self.cfg.max_txs {
            // The oldest open one is given up on: completed, not dropped. It
            // stays readable until the caller takes it, so its request is
            // still inspected and logged (padding must not push an absolute
            // form or a CONNECT out of sight).
            if let Some(old) = self.txs.iter().find(|t| open(t)).map(|t| t.id) {
                ev.push(HttpEvent::Anomaly {
                    tx: Some(old),
                    kind: HttpAnomaly::TooManyTransactions,
                });
                self.awaiting.retain(|&i| i != old);
                self.finish_tx(old, ev);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        // A transaction is most of a kilobyte and most connections have one
        // open at a time: a first push would otherwise reserve room for four.
        if self.txs.len() == self.txs.capacity() {
            self.txs.reserve_exact(self.txs.len().max(1));
        }
        self.txs.push_back(HttpTx {
            id,
            request: None,
            response: None,
            request_done: false,
            response_done: false,
            gap: false,
            tunnel: false,
        });
        id
    }

    /// Marks both sides of `id` done and reports it, once.
    fn finish_tx(&mut self, id: u64, ev: &mut Vec<HttpEvent>) {
        if let Some(t) = self.tx_mut(id)
            && !(t.request_done && t.response_done)
        {
            t.request_done = true;
            t.response_done = true;
            ev.push(HttpEvent::TxDone { tx: id });
        }
    }

    fn maybe_done(&mut self, id: u64, ev: &mut Vec<HttpEvent>) {
        if self
            .tx(id)
            .is_some_and(|t| t.request_done && t.response_done)
        {
            ev.push(HttpEvent::TxDone { tx: id });
        }
    }

    // ---- client side -------------------------------------------------

    fn parse_request_side(&mut self, input: &[u8], ev: &mut Vec<HttpEvent>) -> usize {
        match self.req {
            // Stopped: what follows belongs to the tunnel and stays unconsumed.
            Side::Stopped => 0,
            Side::AwaitConnect { .. } => 0,
            Side::Body { tx, body } => self.body(Direction::ToServer, tx, body, input, ev),
            Side::Start | Side::Resync => {
                let Some((line, used)) = self.line(input, None, ev) else {
                    return 0;
                };
                let resync = self.req == Side::Resync;
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    // Empty lines between requests are allowed (RFC 9112 §2.2).
                    return used;
                }
                match parse_request_line(line) {
                    // Resynchronising, only a full HTTP/1.x request line will do.
                    Some(r) if resync && r.protocol.is_none() => {}
                    Some(r) => self.start_request(r, ev),
                    None if resync => {}
                    None => {
                        ev.push(HttpEvent::Anomaly {
                            tx: None,
                            kind: HttpAnomaly::InvalidRequestLine,
                        });
                        self.req = Side::Resync;
                    }
                }
                used
            }
            Side::Headers { tx } => {
                let Some((line, used)) = self.line(input, Some(tx), ev) else {
                    return 0;
                };
                if !line.is_empty()
                    && !std::mem::replace(&mut self.req_header_seen, true)
                    && self.is_http09(tx)
                {
                    // More lines after a request line without a version
                    // (headers, or libhtp's folding whitespace): HTTP/1.x
                    // missing its protocol, not HTTP/0.9.
                    ev.push(HttpEvent::Anomaly {
                        tx: Some(tx),
                        kind: HttpAnomaly::RequestLineMissingProtocol,
                    });
                }
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    self.header_line(Direction::ToServer, tx, line, ev);
                    return used;
                }
                self.request_headers_done(tx, ev);
                used
            }
        }
    }

    fn start_request(&mut self, r: RequestLine, ev: &mut Vec<HttpEvent>) {
        let id = self.new_tx(ev);
        self.last_req_header.clear();
        self.req_header_seen = false;
        if r.uri.is_empty() {
            ev.push(HttpEvent::Anomaly {
                tx: Some(id),
                kind: HttpAnomaly::MissingUri,
            });
        }
        let shellshock = if self.cfg.shellshock {
            shellshock::scan(r.uri.as_bytes(), shellshock::Encoding::Url)
                .map(|f| Box::new(Hit::new("uri", None, f)))
        } else {
            None
        };
        let req = Request {
            method: r.method,
            uri: r.uri,
            form: r.form,
            target_host: r.host,
            target_port: r.port,
            protocol: r.protocol,
            headers: Headers::default(),
            body_len: 0,
            shellshock,
            xmlrpc: None,
        };
        if let Some(t) = self.tx_mut(id) {
            t.request = Some(req);
        }
        self.req = Side::Headers { tx: id };
    }

    fn request_headers_done(&mut self, tx: u64, ev: &mut Vec<HttpEvent>) {
        self.awaiting.push_back(tx);
        ev.push(HttpEvent::Request { tx });
        let Some(req) = self.tx(tx).and_then(|t| t.request.as_ref()) else {
            self.req = Side::Start;
            return;
        };
        let connect = req.method.eq_ignore_ascii_case("CONNECT");
        let body = if req.headers.chunked() {
            Some(Body::ChunkSize)
        } else {
            req.headers
                .content_length
                .filter(|&n| n > 0)
                .map(Body::Length)
        };
        if body.is_some() {
            self.inspect = self.body_inspect(tx);
        }
        self.req = match body {
            Some(body) => Side::Body { tx, body },
            None => {
                self.request_complete(tx, ev);
                if connect {
                    Side::AwaitConnect { tx }
                } else {
                    Side::Start
                }
            }
        };
    }

    /// What the body of request `tx` is to be read for.
    fn body_inspect(&self, tx: u64) -> Option<Box<BodyInspect>> {
        let r = self.tx(tx)?.request.as_ref()?;
        let xmlrpc = self
            .cfg
            .xmlrpc
            .clone()
            .filter(|_| r.method.eq_ignore_ascii_case("POST") && is_xmlrpc_path(&r.uri))
            .map(xmlrpc::Scanner::new);
        let form = r
            .headers
            .content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("x-www-form-urlencoded"));
        let encoding = if form {
            shellshock::Encoding::Url
        } else {
            shellshock::Encoding::Raw
        };
        let shellshock = (self.cfg.shellshock && r.shellshock.is_none())
            .then(|| shellshock::Scanner::new(encoding));
        if xmlrpc.is_none() && shellshock.is_none() {
            return None;
        }
        Some(Box::new(BodyInspect {
            tx,
            xmlrpc,
            shellshock,
        }))
    }

    /// Request body bytes of `tx` pass by.
    fn inspect_body(&mut self, tx: u64, data: &[u8]) {
        if let Some(i) = self.inspect.as_mut().filter(|i| i.tx == tx) {
            if let Some(x) = i.xmlrpc.as_mut() {
                x.feed(data);
            }
            if let Some(s) = i.shellshock.as_mut() {
                s.feed(data);
            }
        }
    }

    /// The request body of `tx` ended (or was cut short): what was found
    /// goes into the request.
    fn body_inspected(&mut self, tx: u64, ev: &mut Vec<HttpEvent>) {
        let Some(i) = self.inspect.take_if(|i| i.tx == tx) else {
            return;
        };
        let BodyInspect {
            xmlrpc, shellshock, ..
        } = *i;
        let call = xmlrpc.map(|x| Box::new(x.finish()));
        let hit = shellshock
            .and_then(|mut s| s.take())
            .map(|f| Box::new(Hit::new("body", None, f)));
        if call.is_none() && hit.is_none() {
            return;
        }
        if let Some(r) = self.tx_mut(tx).and_then(|t| t.request.as_mut()) {
            r.xmlrpc = call;
            if r.shellshock.is_none() {
                r.shellshock = hit;
            }
        }
        ev.push(HttpEvent::RequestBody { tx });
    }

    fn request_complete(&mut self, tx: u64, ev: &mut Vec<HttpEvent>) {
        if let Some(t) = self.tx_mut(tx) {
            t.request_done = true;
        }
        self.maybe_done(tx, ev);
    }

    // ---- server side -------------------------------------------------

    fn parse_response_side(&mut self, input: &[u8], ev: &mut Vec<HttpEvent>) -> usize {
        match self.resp {
            Side::Stopped => 0,
            Side::AwaitConnect { .. } => 0,
            Side::Body { tx, body } => self.body(Direction::ToClient, tx, body, input, ev),
            Side::Start | Side::Resync => {
                let resync = self.resp == Side::Resync;
                // An HTTP/0.9 request is answered with a bare body.
                if !resync
                    && let Some(&tx) = self.awaiting.front()
                    && self.is_http09(tx)
                    && !input.starts_with(b"HTTP/")
                {
                    if input.len() < 5 && b"HTTP/".starts_with(input) && !self.ended[1] {
                        return 0;
                    }
                    self.awaiting.pop_front();
                    if let Some(t) = self.tx_mut(tx) {
                        t.response = Some(Response {
                            protocol: None,
                            status: 0,
                            status_text: None,
                            reason: String::new(),
                            headers: Headers::default(),
                            interim: Vec::new(),
                            body_len: 0,
                        });
                    }
                    ev.push(HttpEvent::Response { tx });
                    self.resp = Side::Body {
                        tx,
                        body: Body::UntilClose,
                    };
                    return 0;
                }
                let Some((line, used)) = self.line(input, None, ev) else {
                    return 0;
                };
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    return used;
                }
                match parse_status_line(line) {
                    Some(s) => {
                        // A code that is not a number (`2XX`): the response
                        // is followed all the same, as libhtp does, and the
                        // oddity reported.
                        if s.status_text.is_some() {
                            ev.push(HttpEvent::Anomaly {
                                tx: self.awaiting.front().copied(),
                                kind: HttpAnomaly::InvalidStatusLine,
                            });
                        }
                        self.start_response(s, ev)
                    }
                    None if resync => {}
                    None => {
                        ev.push(HttpEvent::Anomaly {
                            tx: self.awaiting.front().copied(),
                            kind: HttpAnomaly::InvalidStatusLine,
                        });
                        self.resp = Side::Resync;
                    }
                }
                used
            }
            Side::Headers { tx } => {
                let Some((line, used)) = self.line(input, Some(tx), ev) else {
                    return 0;
                };
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    self.header_line(Direction::ToClient, tx, line, ev);
                    return used;
                }
                self.response_headers_done(tx, ev);
                used
            }
        }
    }

    fn is_http09(&self, tx: u64) -> bool {
        self.tx(tx)
            .and_then(|t| t.request.as_ref())
            .is_some_and(|r| r.protocol.is_none())
    }

    fn start_response(&mut self, s: StatusLine, ev: &mut Vec<HttpEvent>) {
        let tx = match self.awaiting.front() {
            Some(&tx) => tx,
            None => {
                // No request for it: picked up midstream, or a request lost.
                let tx = self.new_tx(ev);
                ev.push(HttpEvent::Anomaly {
                    tx: Some(tx),
                    kind: HttpAnomaly::ResponseWithoutRequest,
                });
                if let Some(t) = self.tx_mut(tx) {
                    t.request_done = true;
                }
                self.awaiting.push_back(tx);
                tx
            }
        };
        if let Some(t) = self.tx_mut(tx) {
            match &mut t.response {
                // A final status after interim (1xx) ones: keep their codes.
                Some(r) if (100..200).contains(&r.status) => {
                    r.interim.push(r.status);
                    r.protocol = Some(s.protocol);
                    r.status = s.status;
                    r.status_text = s.status_text;
                    r.reason = s.reason;
                    r.headers = Headers::default();
                }
                _ => {
                    t.response = Some(Response {
                        protocol: Some(s.protocol),
                        status: s.status,
                        status_text: s.status_text,
                        reason: s.reason,
                        headers: Headers::default(),
                        interim: Vec::new(),
                        body_len: 0,
                    })
                }
            }
        }
        self.resp = Side::Headers { tx };
    }

    fn response_headers_done(&mut self, tx: u64, ev: &mut Vec<HttpEvent>) {
        let Some(t) = self.tx(tx) else {
            self.resp = Side::Start;
            return;
        };
        let status = t.response.as_ref().map_or(0, |r| r.status);
        let req = t.request.as_ref();
        let head = req.is_some_and(|r| r.method.eq_ignore_ascii_case("HEAD"));
        let connect = req.is_some_and(|r| r.method.eq_ignore_ascii_case("CONNECT"));
        let headers = t.response.as_ref().map(|r| &r.headers);
        let chunked = headers.is_some_and(|h| h.chunked());
        let length = headers.and_then(|h| h.content_length);
        if (100..200).contains(&status) && status != 101 {
            // Interim: the final response follows.
            self.resp = Side::Start;
            return;
        }
        self.awaiting.retain(|&i| i != tx);
        ev.push(HttpEvent::Response { tx });
        if status == 101 || (connect && (200..300).contains(&status)) {
            // The connection now carries another protocol: for a 2xx CONNECT
            // it is the tunnel's; after 101 (Upgrade) it is not followed.
            if let Some(t) = self.tx_mut(tx) {
                t.tunnel = connect;
            }
            self.finish_tx(tx, ev);
            if connect {
                ev.push(HttpEvent::Tunnel { tx });
            }
            self.req = Side::Stopped;
            self.resp = Side::Stopped;
            return;
        }
        if let Side::AwaitConnect { tx: waiting } = self.req
            && waiting == tx
        {
            // The CONNECT was refused: the client may try again.
            self.req = Side::Start;
        }
        let body = if head || status == 204 || status == 304 {
            None
        } else if chunked {
            Some(Body::ChunkSize)
        } else {
            match length {
                Some(0) => None,
                Some(n) => Some(Body::Length(n)),
                None => Some(Body::UntilClose),
            }
        };
        match body {
            Some(body) => self.resp = Side::Body { tx, body },
            None => {
                self.response_complete(tx, ev);
            }
        }
    }

    fn response_complete(&mut self, tx: u64, ev: &mut Vec<HttpEvent>) {
        if let Some(t) = self.tx_mut(tx) {
            t.response_done = true;
        }
        self.resp = Side::Start;
        self.maybe_done(tx, ev);
    }

    // ---- shared --------------------------------------------------------

    /// The next line (without its CR LF) and the bytes it used; `None` when
    /// no complete line is there yet. Over-long lines are cut and reported.
    fn line<'a>(
        &self,
        input: &'a [u8],
        tx: Option<u64>,
        ev: &mut Vec<HttpEvent>,
    ) -> Option<(&'a [u8], usize)> {
        match memchr(b'\n', input) {
            Some(i) if i <= self.cfg.max_line => {
                let line = &input[..i];
                Some((line.strip_suffix(b"\r").unwrap_or(line), i + 1))
            }
            _ if input.len() > self.cfg.max_line => {
                ev.push(HttpEvent::Anomaly {
                    tx,
                    kind: HttpAnomaly::LineTooLong,
                });
                let end = memchr(b'\n', input).map_or(input.len(), |i| i + 1);
                Some((&input[..self.cfg.max_line], end))
            }
            _ => None,
        }
    }

    fn header_line(&mut self, dir: Direction, tx: u64, line: &[u8], ev: &mut Vec<HttpEvent>) {
        if dir == Direction::ToServer && self.cfg.shellshock {
            self.shellshock_header(tx, line);
        }
        let (max_value, max_headers) = (self.cfg.max_value, self.cfg.max_headers);
        let Some(h) = self.headers_mut(dir, tx) else {
            return;
        };
        // obs-fold: a line starting with white space continues the last
        // header. The values kept are those of single-line headers as
        // sent; a continuation only reaches the Shellshock scanner.
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return;
        }
        let Some(colon) = memchr(b':', line) else {
            ev.push(HttpEvent::Anomaly {
                tx: Some(tx),
                kind: HttpAnomaly::HeaderWithoutColon,
            });
            return;
        };
        // Past the limit a line is still looked at (padding must not hide
        // a Host header), only counted as dropped.
        let too_many = h.lines as usize >= max_headers;
        if too_many {
            // Saturating: a stream with no depth limit can send more than
            // 2^32 lines, and the anomaly below must not fire again on wrap.
            h.dropped = h.dropped.saturating_add(1);
        } else {
            h.lines += 1;
        }
        h.known(&line[..colon], &line[colon + 1..], max_value, tx, ev);
        if too_many && h.dropped == 1 {
            ev.push(HttpEvent::Anomaly {
                tx: Some(tx),
                kind: HttpAnomaly::TooManyHeaders,
            });
        }
    }

    /// A request header line through the Shellshock scanner: the value as
    /// sent, whole (kept values are cut at `max_value`), every line, also
    /// those past `max_headers` (an attacker can pad a request with
    /// harmless headers first).
    fn shellshock_header(&mut self, tx: u64, line: &[u8]) {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        let colon = memchr(b':', line).filter(|_| !folded);
        if let Some(c) = colon {
            let name = line[..c].trim_ascii();
            self.last_req_header.clear();
            self.last_req_header
                .extend_from_slice(&name[..name.len().min(128)]);
        }
        let value = colon.map_or(line, |c| &line[c + 1..]);
        let name = &self.last_req_header;
        let Some(t) = self.txs.iter_mut().find(|t| t.id == tx) else {
            return;
        };
        let Some(r) = t.request.as_mut().filter(|r| r.shellshock.is_none()) else {
            return;
        };
        if let Some(f) = shellshock::scan(value, shellshock::Encoding::Raw) {
            let name = (!name.is_empty()).then_some(&name[..]);
            r.shellshock = Some(Box::new(Hit::new("header", name, f)));
        }
    }

    fn headers_mut(&mut self, dir: Direction, tx: u64) -> Option<&mut Headers> {
        let t = self.tx_mut(tx)?;
        match dir {
            Direction::ToServer => t.request.as_mut().map(|r| &mut r.headers),
            Direction::ToClient => t.response.as_mut().map(|r| &mut r.headers),
        }
    }

    fn add_body(&mut self, dir: Direction, tx: u64, n: u64) {
        if let Some(t) = self.tx_mut(tx) {
            match dir {
                Direction::ToServer => {
                    if let Some(r) = t.request.as_mut() {
                        r.body_len += n;
                    }
                }
                Direction::ToClient => {
                    if let Some(r) = t.response.as_mut() {
                        r.body_len += n;
                    }
                }
            }
        }
    }

    fn set_side(&mut self, dir: Direction, s: Side) {
        match dir {
            Direction::ToServer => self.req = s,
            Direction::ToClient => self.resp = s,
        }
    }

    fn body_complete(&mut self, dir: Direction, tx: u64, ev: &mut Vec<HttpEvent>) {
        match dir {
            Direction::ToServer => {
                self.body_inspected(tx, ev);
                self.req = Side::Start;
                self.request_complete(tx, ev);
            }
            Direction::ToClient => self.response_complete(tx, ev),
        }
    }

    /// Consumes body bytes; never buffers them.
    fn body(
        &mut self,
        dir: Direction,
        tx: u64,
        body: Body,
        input: &[u8],
        ev: &mut Vec<HttpEvent>,
    ) -> usize {
        match body {
            Body::UntilClose => {
                self.add_body(dir, tx, input.len() as u64);
                input.len()
            }
            Body::Length(left) => {
                let n = (input.len() as u64).min(left);
                self.add_body(dir, tx, n);
                if dir == Direction::ToServer {
                    self.inspect_body(tx, &input[..n as usize]);
                }
                if n == left {
                    self.body_complete(dir, tx, ev);
                } else {
                    self.set_side(
                        dir,
                        Side::Body {
                            tx,
                            body: Body::Length(left - n),
                        },
                    );
                }
                n as usize
            }
            Body::ChunkData(left) => {
                let n = (input.len() as u64).min(left);
                self.add_body(dir, tx, n);
                if dir == Direction::ToServer {
                    self.inspect_body(tx, &input[..n as usize]);
                }
                let next = if n == left {
                    Body::ChunkEnd
                } else {
                    Body::ChunkData(left - n)
                };
                self.set_side(dir, Side::Body { tx, body: next });
                n as usize
            }
            Body::ChunkSize | Body::ChunkEnd | Body::Trailers => {
                let Some((line, used)) = self.line(input, Some(tx), ev) else {
                    return 0;
                };
                let next = match body {
                    Body::ChunkEnd if line.is_empty() => Some(Body::ChunkSize),
                    Body::Trailers if line.is_empty() => None,
                    Body::Trailers => Some(Body::Trailers),
                    // A size line (also tolerated where the empty line after
                    // the data should have been).
                    _ => match parse_chunk_size(line) {
                        Some(0) => Some(Body::Trailers),
                        Some(n) => Some(Body::ChunkData(n)),
                        None => {
                            ev.push(HttpEvent::Anomaly {
                                tx: Some(tx),
                                kind: HttpAnomaly::InvalidChunkSize,
                            });
                            // The framing is lost: treat the rest as the body.
                            Some(Body::UntilClose)
                        }
                    },
                };
                match next {
                    Some(b) => self.set_side(dir, Side::Body { tx, body: b }),
                    None => self.body_complete(dir, tx, ev),
                }
                used
            }
        }
    }
}

impl StreamParser for HttpParser {
    type Event = HttpEvent;

    fn parse(&mut self, dir: Direction, input: &[u8], events: &mut Vec<HttpEvent>) -> usize {
        match dir {
            Direction::ToServer => self.parse_request_side(input, events),
            Direction::ToClient => self.parse_response_side(input, events),
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, events: &mut Vec<HttpEvent>) {
        let side = match dir {
            Direction::ToServer => self.req,
            Direction::ToClient => self.resp,
        };
        // A hole inside a body of known length loses nothing that matters
        // (an XML-RPC call cut by it is no longer read).
        if let Side::Body {
            tx,
            body: Body::Length(left),
        } = side
            && len < left
        {
            if dir == Direction::ToServer
                && let Some(i) = self.inspect.as_mut().filter(|i| i.tx == tx)
            {
                i.xmlrpc = None;
            }
            self.add_body(dir, tx, len);
            self.set_side(
                dir,
                Side::Body {
                    tx,
                    body: Body::Length(left - len),
                },
            );
            return;
        }
        if let Side::Body {
            body: Body::UntilClose,
            tx,
        } = side
        {
            self.add_body(dir, tx, len);
            return;
        }
        let tx = match side {
            Side::Headers { tx } | Side::Body { tx, .. } | Side::AwaitConnect { tx } => Some(tx),
            _ => None,
        };
        if let Some(tx) = tx
            && let Some(t) = self.tx_mut(tx)
        {
            t.gap = true;
        }
        events.push(HttpEvent::Anomaly {
            tx,
            kind: HttpAnomaly::Gap,
        });
        if side != Side::Stopped {
            if let Some(tx) = tx {
                match dir {
                    Direction::ToServer => {
                        if !self.awaiting.contains(&tx) {
                            self.awaiting.push_back(tx);
                        }
                        if let Some(i) = self.inspect.as_mut() {
                            i.xmlrpc = None;
                        }
                        self.body_inspected(tx, events);
                        self.request_complete(tx, events);
                    }
                    Direction::ToClient => {
                        self.awaiting.retain(|&i| i != tx);
                        if let Some(t) = self.tx_mut(tx) {
                            t.response_done = true;
                        }
                        self.maybe_done(tx, events);
                    }
                }
            }
            self.set_side(dir, Side::Resync);
        }
    }

    fn unterminated(&mut self, dir: Direction, rest: &[u8], events: &mut Vec<HttpEvent>) {
        let side = match dir {
            Direction::ToServer => self.req,
            Direction::ToClient => self.resp,
        };
        // A request line or header line cut by the end of the stream is
        // read as complete, as libhtp reads it (a bare `GET /` the client
        // closed after is a request); bodies are handled by `end`.
        if !matches!(side, Side::Start | Side::Headers { .. }) || memchr(b'\n', rest).is_some() {
            return;
        }
        let mut line = Vec::with_capacity(rest.len() + 1);
        line.extend_from_slice(rest);
        line.push(b'\n');
        let mut at = 0;
        while at < line.len() {
            let n = self.parse(dir, &line[at..], events);
            if n == 0 {
                break;
            }
            at += n;
        }
    }

    fn end(&mut self, dir: Direction, events: &mut Vec<HttpEvent>) {
        self.ended[dir.index()] = true;
        if dir == Direction::ToServer
            && let Side::Body { tx, .. } = self.req
        {
            // The body was cut short: what was read of it still counts.
            self.body_inspected(tx, events);
        }
        if dir == Direction::ToClient
            && let Side::Body {
                tx,
                body: Body::UntilClose,
            } = self.resp
        {
            self.response_complete(tx, events);
        }
        if self.ended[0] && self.ended[1] {
            // Whatever is still open is as complete as it will get.
            let open: Vec<u64> = self
                .txs
                .iter()
                .filter(|t| !(t.request_done && t.response_done))
                .map(|t| t.id)
                .collect();
            for id in open {
                self.finish_tx(id, events);
            }
            self.awaiting.clear();
        }
    }
}

// ---- lines -------------------------------------------------------------

struct RequestLine {
    method: String,
    uri: String,
    form: Form,
    host: Option<String>,
    port: Option<u16>,
    protocol: Option<String>,
}

struct StatusLine {
    protocol: String,
    status: u16,
    status_text: Option<String>,
    reason: String,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A target whose path ends in `xmlrpc.php` (WordPress's XML-RPC endpoint),
/// in any form and case, whatever its query.
fn is_xmlrpc_path(uri: &str) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    let b = path.as_bytes();
    b.len() >= 10 && b[b.len() - 10..].eq_ignore_ascii_case(b"xmlrpc.php")
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `HTTP/d.d`, case-insensitively (some clients shout).
fn http_version(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (rest, _) = tag_no_case(&b"HTTP/"[..]).parse(i)?;
    let (rest2, _) = (digit1, opt((nom::bytes::complete::tag(&b"."[..]), digit1))).parse(rest)?;
    Ok((rest2, &i[..i.len() - rest2.len()]))
}

/// A request line, tolerantly: the method is the first token, the version
/// the last one if it looks like `HTTP/x.y`, and the target whatever lies
/// between, as sent (`CONNECT host:25 / HTTP/1.0` has target `host:25 /`).
fn parse_request_line(line: &[u8]) -> Option<RequestLine> {
    let line = line.trim_ascii();
    let method_len = line.iter().position(|&c| is_ws(c)).unwrap_or(line.len());
    let method = &line[..method_len];
    if method.is_empty() || method.len() > 32 || !method.iter().all(|&c| is_tchar(c)) {
        return None;
    }
    let rest = line[method_len..].trim_ascii();
    if rest.is_empty() {
        // A method alone is not a request.
        return None;
    }
    let last_start = rest.iter().rposition(|&c| is_ws(c)).map_or(0, |p| p + 1);
    let last = &rest[last_start..];
    // A last token that starts like a version is one, even cut short
    // (`GET / HTTP/1.`, seen in the wild): the target stays `/`, as Zeek
    // and libhtp read it.
    let looks_like_version =
        last_start > 0 && last.len() >= 5 && last[..5].eq_ignore_ascii_case(b"HTTP/");
    let (uri, protocol) = match http_version(last) {
        Ok((&[], v)) => (
            rest[..last_start].trim_ascii(),
            Some(lossy(v).to_ascii_uppercase()),
        ),
        _ if looks_like_version => (
            rest[..last_start].trim_ascii(),
            Some(lossy(last).to_ascii_uppercase()),
        ),
        _ => (rest, None),
    };
    let method = lossy(method);
    let uri_s = lossy(uri);
    let (form, host, port) = classify_target(&method, uri);
    Some(RequestLine {
        method,
        uri: uri_s,
        form,
        host,
        port,
        protocol,
    })
}

/// The target's form and the host and port it names.
fn classify_target(method: &str, uri: &[u8]) -> (Form, Option<String>, Option<u16>) {
    if uri == b"*" {
        return (Form::Asterisk, None, None);
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        // The authority is the first token (the real 2004 spam run sent
        // `CONNECT host:25 / HTTP/1.0`).
        let first = uri.split(|&c| is_ws(c)).next().unwrap_or(b"");
        if let Some((h, p)) = host_port(first) {
            return (Form::Authority, Some(h), p);
        }
        return (Form::Origin, None, None);
    }
    if let Some((scheme, after)) = split_scheme(uri) {
        let authority_end = after
            .iter()
            .position(|&c| c == b'/' || c == b'?' || c == b'#')
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        // Drop userinfo.
        let authority = match authority.iter().rposition(|&c| c == b'@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        let default_port = match scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            "ftp" => Some(21),
            _ => None,
        };
        return match host_port(authority) {
            Some((h, p)) => (Form::Absolute, Some(h), p.or(default_port)),
            None => (Form::Absolute, None, default_port),
        };
    }
    (Form::Origin, None, None)
}

/// `scheme://` at the start of `uri`: the lower-cased scheme and the rest.
fn split_scheme(uri: &[u8]) -> Option<(String, &[u8])> {
    let r: IResult<&[u8], &[u8]> =
        take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.')
            .parse(uri);
    let (rest, scheme) = r.ok()?;
    let rest = rest.strip_prefix(b"://")?;
    if !scheme.first()?.is_ascii_alphabetic() {
        return None;
    }
    Some((lossy(scheme).to_ascii_lowercase(), rest))
}

/// `host`, `host:port` or `[v6]:port`.
fn host_port(a: &[u8]) -> Option<(String, Option<u16>)> {
    if a.is_empty() {
        return None;
    }
    let (host, port) = if let Some(rest) = a.strip_prefix(b"[") {
        let close = memchr(b']', rest)?;
        let host = &rest[..close];
        match &rest[close + 1..] {
            [] => (host, None),
            [b':', p @ ..] => (host, Some(p)),
            _ => return None,
        }
    } else {
        match a.iter().rposition(|&c| c == b':') {
            Some(i) => (&a[..i], Some(&a[i + 1..])),
            None => (a, None),
        }
    };
    // A path (`CONNECT / HTTP/1.1`) is not a host.
    if host.is_empty()
        || !host.iter().all(|&c| c.is_ascii_graphic())
        || host.iter().any(|&c| matches!(c, b'/' | b'?' | b'#' | b'@'))
    {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => {
            let r: IResult<&[u8], &[u8]> =
                take_while_m_n(1, 5, |c: u8| c.is_ascii_digit()).parse(p);
            match r {
                Ok((&[], d)) => Some(lossy(d).parse::<u16>().ok()?),
                _ => return None,
            }
        }
    };
    Some((lossy(host).to_ascii_lowercase(), port))
}

/// `HTTP/1.1 200 OK`, tolerating a missing reason and extra spaces.
fn parse_status_line(line: &[u8]) -> Option<StatusLine> {
    let (rest, version) = http_version(line).ok()?;
    let (rest, _) = nom::character::complete::space1::<&[u8], nom::error::Error<&[u8]>>
        .parse(rest)
        .ok()?;
    let protocol = lossy(version).to_ascii_uppercase();
    let numeric =
        take_while_m_n::<_, &[u8], nom::error::Error<&[u8]>>(3, 3, |c: u8| c.is_ascii_digit())
            .parse(rest)
            .ok()
            .filter(|(after, _)| !after.first().is_some_and(|c| c.is_ascii_digit()));
    if let Some((after, code)) = numeric {
        let (reason, _) = space0::<&[u8], nom::error::Error<&[u8]>>
            .parse(after)
            .ok()?;
        return Some(StatusLine {
            protocol,
            status: lossy(code).parse().ok()?,
            status_text: None,
            reason: lossy(reason.trim_ascii()),
        });
    }
    // Any other code token (`2XX`, `2000`) is kept as sent: Suricata logs
    // it as `status_string`.
    let end = rest.iter().position(|&c| is_ws(c)).unwrap_or(rest.len());
    let (code, after) = rest.split_at(end);
    if code.is_empty() {
        return None;
    }
    Some(StatusLine {
        protocol,
        status: 0,
        status_text: Some(lossy(code)),
        reason: lossy(after.trim_ascii()),
    })
}

/// A chunk-size line: hex digits, optionally followed by `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.trim_ascii();
    let hex_end = line
        .iter()
        .position(|c| !c.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if hex_end == 0 || hex_end > 15 {
        return None;
    }
    let tail = line[hex_end..].trim_ascii();
    if !(tail.is_empty() || tail.starts_with(b";")) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&line[..hex_end]).ok()?, 16).ok()
}

/// Methods that open an HTTP request for detection by content.
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
];

/// Does `data`, the first bytes one side sent, open an HTTP exchange?
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    // Empty lines before a message are tolerated (RFC 9112 §2.2), and a
    // tunnel may begin with the stray line end of the CONNECT before it.
    let start = data
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(data.len());
    if start > MAX_LEADING_EOL {
        return Probe::NoMatch;
    }
    let data = &data[start..];
    if data.is_empty() {
        return Probe::NeedMore;
    }
    match dir {
        Direction::ToServer => {
            let mut need_more = false;
            for m in METHODS {
                // `data` starts like "METHOD " (compared without building it:
                // this runs on every first chunk of every stream).
                let want = m.len() + 1;
                let n = data.len().min(want);
                let k = n.min(m.len());
                if data[..k] == m[..k] && (n <= m.len() || data[m.len()] == b' ') {
                    if n == want {
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
        Direction::ToClient => {
            let want = b"HTTP/1.";
            let n = data.len().min(want.len());
            if !data[..n].eq_ignore_ascii_case(&want[..n]) {
                Probe::NoMatch
            } else if n == want.len() {
                Probe::Match
            } else {
                Probe::NeedMore
            }
        }
    }
}

/// Line ends a probe skips before a message (libhtp skips them too).
const MAX_LEADING_EOL: usize = 16;

#[cfg(test)]
mod tests {

    #[test]
    fn request_lines_as_zeek_and_libhtp_read_them() {
        let l = parse_request_line(b"GET / HTTP/1.").unwrap();
        assert_eq!(
            (l.uri.as_str(), l.protocol.as_deref()),
            ("/", Some("HTTP/1."))
        );
        // A path where CONNECT wants an authority names no host.
        for line in [
            &b"CONNECT / HTTP/1.1"[..],
            b"CONNECT /HTTP/1.1",
            b"CONNECT / HTTP/1.",
        ] {
            let l = parse_request_line(line).unwrap();
            assert_eq!(l.host, None, "{}", String::from_utf8_lossy(line));
        }
        let l = parse_request_line(b"CONNECT mail.example.net:25 HTTP/1.0").unwrap();
        assert_eq!(
            (l.host.as_deref(), l.port),
            (Some("mail.example.net"), Some(25))
        );
        // HTTP/0.9 keeps its whole target.
        let l = parse_request_line(b"GET /HTTP/1.1").unwrap();
        assert_eq!((l.uri.as_str(), l.protocol), ("/HTTP/1.1", None));
    }
    use super::*;
    use crate::StreamDriver;

    use Direction::{ToClient as TC, ToServer as TS};

    /// Feeds a scripted conversation and collects events and finished txs.
    fn run(script: &[(Direction, &[u8])]) -> (Vec<HttpEvent>, Vec<HttpTx>) {
        run_split(script, usize::MAX)
    }

    /// The same, every piece cut into `step`-byte calls.
    fn run_split(script: &[(Direction, &[u8])], step: usize) -> (Vec<HttpEvent>, Vec<HttpTx>) {
        let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
        let mut ev = Vec::new();
        let mut done = Vec::new();
        for &(dir, bytes) in script {
            for piece in bytes.chunks(step.max(1)) {
                let before = ev.len();
                d.feed(dir, piece, &mut ev);
                collect(&mut d, &ev[before..], &mut done);
            }
        }
        let before = ev.len();
        d.end(TS, &mut ev);
        d.end(TC, &mut ev);
        collect(&mut d, &ev[before..], &mut done);
        (ev, done)
    }

    #[test]
    fn a_request_line_cut_by_the_end_of_the_stream_is_a_request() {
        // Suricata-verify bug-4702-01: `GET /` without a line end, the
        // client closes; libhtp logs the request.
        for step in [1, 2, 5] {
            let (_, txs) = run_split(&[(TS, b"GET /")], step);
            assert_eq!(txs.len(), 1, "step {step}");
            assert_eq!(req(&txs[0]).uri, "/");
        }
        // An unfinished header line does not make a request of nothing.
        let (_, txs) = run(&[(TS, b"\r\n")]);
        assert!(txs.is_empty());
    }

    #[test]
    fn headers_after_a_request_line_without_a_version() {
        let missing = |ev: &[HttpEvent]| {
            ev.iter()
                .filter(|e| {
                    matches!(
                        e,
                        HttpEvent::Anomaly {
                            kind: HttpAnomaly::RequestLineMissingProtocol,
                            ..
                        }
                    )
                })
                .count()
        };
        let (ev, txs) = run(&[(TS, b"GET /\r\nHost: a\r\nX: y\r\n\r\n")]);
        assert_eq!(missing(&ev), 1);
        assert_eq!(req(&txs[0]).headers.host.as_deref(), Some("a"));
        let (ev, _) = run(&[(TS, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")]);
        assert_eq!(missing(&ev), 0);
    }

    fn collect(d: &mut StreamDriver<HttpParser>, ev: &[HttpEvent], done: &mut Vec<HttpTx>) {
        for e in ev {
            if let HttpEvent::TxDone { tx } = e
                && let Some(t) = d.parser_mut().take_tx(*tx)
            {
                done.push(t);
            }
        }
    }

    fn req(t: &HttpTx) -> &Request {
        t.request.as_ref().expect("request")
    }

    fn resp(t: &HttpTx) -> &Response {
        t.response.as_ref().expect("response")
    }

    #[test]
    fn get_with_content_length_response() {
        let (ev, txs) = run(&[
            (
                TS,
                b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: t/1\r\n\r\n",
            ),
            (
                TC,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
            ),
        ]);
        assert_eq!(txs.len(), 1);
        let t = &txs[0];
        assert_eq!(req(t).method, "GET");
        assert_eq!(req(t).uri, "/index.html");
        assert_eq!(req(t).form, Form::Origin);
        assert_eq!(req(t).headers.host.as_deref(), Some("www.example.com"));
        assert_eq!(req(t).protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!(
            (resp(t).status, resp(t).reason.as_str(), resp(t).body_len),
            (200, "OK", 5)
        );
        assert_eq!(
            ev,
            [
                HttpEvent::Request { tx: 0 },
                HttpEvent::Response { tx: 0 },
                HttpEvent::TxDone { tx: 0 }
            ]
        );
    }

    #[test]
    fn a_status_code_that_is_not_a_number_is_kept_as_sent() {
        for step in [1, 3, usize::MAX] {
            let (ev, txs) = run_split(
                &[
                    (TS, b"GET /test HTTP/1.1\r\nHost: h\r\n\r\n"),
                    (TC, b"HTTP/1.0 2XX OK\r\nContent-Length: 4\r\n\r\nbody"),
                    (TS, b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
                    (TC, b"HTTP/1.0 204 No Content\r\n\r\n"),
                ],
                step,
            );
            assert_eq!(txs.len(), 2, "step {step}");
            let r = resp(&txs[0]);
            assert_eq!(
                (
                    r.status,
                    r.status_text.as_deref(),
                    r.reason.as_str(),
                    r.body_len
                ),
                (0, Some("2XX"), "OK", 4)
            );
            // The body was framed by its headers: the next exchange is intact.
            assert_eq!(
                (resp(&txs[1]).status, resp(&txs[1]).status_text.as_deref()),
                (204, None)
            );
            assert!(ev.contains(&HttpEvent::Anomaly {
                tx: Some(0),
                kind: HttpAnomaly::InvalidStatusLine
            }));
        }
    }

    #[test]
    fn absolute_form_upper_case_scheme() {
        let (_, txs) = run(&[(TS, b"GET HTTP://bro.org/ HTTP/1.1\r\nHost: bro.org\r\n\r\n")]);
        let r = req(&txs[0]);
        assert_eq!(r.form, Form::Absolute);
        assert_eq!(
            (r.target_host.as_deref(), r.target_port),
            (Some("bro.org"), Some(80))
        );
        let (_, txs) = run(&[(TS, b"GET http://irc.stealth.net:5558/ HTTP/1.1\r\n\r\n")]);
        assert_eq!(req(&txs[0]).target_port, Some(5558));
    }

    #[test]
    fn connect_waits_for_its_answer_and_opens_a_tunnel() {
        let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
        let mut ev = Vec::new();
        d.feed(TS, b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible)\r\n\r\nHELO x\r\n", &mut ev);
        let tx0 = d.parser().tx(0).unwrap().clone();
        let r = req(&tx0);
        assert_eq!(r.uri, "mailin03.sul.t-online.de:25 /");
        assert_eq!(r.form, Form::Authority);
        assert_eq!(
            (r.target_host.as_deref(), r.target_port),
            (Some("mailin03.sul.t-online.de"), Some(25))
        );
        assert!(ev.contains(&HttpEvent::Anomaly {
            tx: Some(0),
            kind: HttpAnomaly::HeaderWithoutColon
        }));
        assert_eq!(d.pending(TS), b"HELO x\r\n", "tunnel bytes wait");
        d.feed(
            TC,
            b"HTTP/1.0 200 Connection established\r\n\r\n220 mail ESMTP\r\n",
            &mut ev,
        );
        assert_eq!(
            &ev[ev.len() - 3..],
            [
                HttpEvent::Response { tx: 0 },
                HttpEvent::TxDone { tx: 0 },
                HttpEvent::Tunnel { tx: 0 }
            ]
        );
        assert!(d.parser().stopped());
        let (_, ts, tc) = d.into_parts();
        assert_eq!(ts, b"HELO x\r\n");
        assert_eq!(tc, b"220 mail ESMTP\r\n");
    }

    #[test]
    fn refused_connect_lets_the_client_go_on() {
        let (ev, txs) = run(&[
            (TS, b"CONNECT maila.microsoft.com:25 / HTTP/1.0\r\n\r\nCONNECT maila.microsoft.com:25 / HTTP/1.0\r\n\r\n"),
            (TC, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nno!HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(txs.len(), 2);
        assert!(txs.iter().all(|t| resp(t).status == 400 && !t.tunnel));
        assert!(!ev.iter().any(|e| matches!(e, HttpEvent::Tunnel { .. })));
    }

    #[test]
    fn pipelined_requests_pair_with_responses_in_order() {
        let (_, txs) = run(&[
            (TS, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET /c HTTP/1.1\r\n\r\n"),
            (
                TC,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n\
                  HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
        ]);
        let got: Vec<(&str, u16, u64, u64)> = txs
            .iter()
            .map(|t| {
                (
                    req(t).uri.as_str(),
                    resp(t).status,
                    req(t).body_len,
                    resp(t).body_len,
                )
            })
            .collect();
        assert_eq!(
            got,
            [("/a", 200, 0, 3), ("/b", 201, 4, 2), ("/c", 404, 0, 0)]
        );
    }

    #[test]
    fn interim_responses_and_head() {
        let (_, txs) = run(&[
            (TS, b"HEAD / HTTP/1.1\r\n\r\nPOST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx"),
            (TC, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(txs.len(), 2);
        assert_eq!(resp(&txs[0]).body_len, 0, "HEAD answers carry no body");
        assert_eq!(resp(&txs[1]).interim, [100]);
        assert_eq!(resp(&txs[1]).status, 200);
    }

    #[test]
    fn http09_and_odd_request_lines() {
        let (_, txs) = run(&[
            (TS, b"GET /HTTP/1.1\r\nHost: www.google.com\r\n\r\n"),
            (TC, b"<html>hi</html>"),
        ]);
        let t = &txs[0];
        assert_eq!(
            (req(t).uri.as_str(), req(t).protocol.as_deref()),
            ("/HTTP/1.1", None)
        );
        assert_eq!((resp(t).status, resp(t).body_len), (0, 15));
        // A bare method or a glued version is not a request; the answer is logged alone.
        for bad in [
            &b"OPTIONSHTTP/1.1\r\n\r\n"[..],
            b"OPTIONS\r\n\r\n",
            b"CONNECT/ HTTP/1.1\r\n\r\n",
        ] {
            let (ev, txs) = run(&[
                (TS, bad),
                (TC, b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
            ]);
            assert!(ev.contains(&HttpEvent::Anomaly {
                tx: None,
                kind: HttpAnomaly::InvalidRequestLine
            }));
            assert_eq!(txs.len(), 1);
            assert!(txs[0].request.is_none());
            assert_eq!(resp(&txs[0]).status, 400);
        }
        let (ev, txs) = run(&[(TS, b"OPTIONS HTTP/1.1\r\n\r\n")]);
        assert_eq!(req(&txs[0]).uri, "");
        assert!(ev.iter().any(|e| matches!(
            e,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::MissingUri,
                ..
            }
        )));
    }

    #[test]
    fn response_until_close_and_credentials_redacted() {
        let (_, txs) = run(&[
            (
                TS,
                b"GET / HTTP/1.0\r\nProxy-Authorization: Basic c2VjcmV0\r\nCookie: a=b\r\n\r\n",
            ),
            (TC, b"HTTP/1.0 200 OK\r\n\r\nthe body goes on until the end"),
        ]);
        let r = req(&txs[0]);
        assert!(r.headers.proxy_authorization);
        // Credentials are never kept: no field holds them.
        assert!(!format!("{r:?}").contains("c2Vj"));
        assert!(!format!("{r:?}").contains("a=b"));
        assert_eq!(resp(&txs[0]).body_len, 30);
    }

    #[test]
    fn gap_in_a_body_is_harmless_elsewhere_it_resyncs() {
        let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
        let mut ev = Vec::new();
        d.feed(
            TS,
            b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
            &mut ev,
        );
        d.gap(TS, 5, &mut ev);
        d.feed(TS, b"cde", &mut ev);
        d.feed(TS, b"GET /next HTTP/1.1\r\n\r\n", &mut ev);
        assert_eq!(d.parser().tx(1).map(|t| req(t).uri.as_str()), Some("/next"));
        assert!(!ev.iter().any(|e| matches!(e, HttpEvent::Anomaly { .. })));
        // A gap in the headers: the message is given up and the parser
        // finds the next request line.
        d.feed(TS, b"GET /lost HTTP/1.1\r\nHo", &mut ev);
        d.gap(TS, 100, &mut ev);
        d.feed(
            TS,
            b"garbage\r\nmore garbage\r\nGET /found HTTP/1.1\r\n\r\n",
            &mut ev,
        );
        assert!(ev.contains(&HttpEvent::Anomaly {
            tx: Some(2),
            kind: HttpAnomaly::Gap
        }));
        assert_eq!(
            d.parser().tx(3).map(|t| req(t).uri.as_str()),
            Some("/found")
        );
        assert!(d.parser().tx(2).unwrap().gap);
    }

    /// An absolute-form request followed, in the same segment, by more
    /// pipelined requests than the transaction limit: the first one is
    /// still there when its Request event is handled.
    #[test]
    fn padding_cannot_push_a_request_out_of_sight() {
        let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
        let mut script = b"GET http://mail.example.net/ HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        for _ in 0..100 {
            script.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        }
        let mut ev = Vec::new();
        d.feed(TS, &script, &mut ev);
        assert!(ev.contains(&HttpEvent::Request { tx: 0 }));
        let first = d.parser().tx(0).expect("still readable");
        assert_eq!(req(first).form, Form::Absolute);
        let done = ev
            .iter()
            .filter(|e| matches!(e, HttpEvent::TxDone { .. }))
            .count();
        assert_eq!(
            done,
            101 - HttpConfig::default().max_txs,
            "every evicted one is logged"
        );
    }

    #[test]
    fn bounds_hold() {
        let cfg = HttpConfig {
            max_txs: 4,
            max_headers: 2,
            ..HttpConfig::default()
        };
        let mut d = StreamDriver::new(HttpParser::new(cfg), 1 << 16);
        let mut ev = Vec::new();
        let mut script = Vec::new();
        for i in 0..10 {
            script.extend_from_slice(
                format!("GET /{i} HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").as_bytes(),
            );
        }
        d.feed(TS, &script, &mut ev);
        // Evicted transactions wait, completed, for the caller to take them.
        for e in &ev {
            if let HttpEvent::TxDone { tx } = e {
                assert!(d.parser_mut().take_tx(*tx).is_some(), "tx {tx} readable");
            }
        }
        assert!(d.parser().txs.len() <= 4);
        assert!(ev.iter().any(|e| matches!(
            e,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::TooManyTransactions,
                ..
            }
        )));
        assert!(ev.iter().any(|e| matches!(
            e,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::TooManyHeaders,
                ..
            }
        )));
        let long = vec![b'a'; 20_000];
        d.feed(TS, &long, &mut ev);
        assert!(ev.iter().any(|e| matches!(
            e,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::LineTooLong,
                ..
            }
        )));
    }

    #[test]
    fn probes() {
        assert_eq!(probe(TS, b"GET / HTTP/1.1\r\n"), Probe::Match);
        assert_eq!(probe(TS, b"CONNE"), Probe::NeedMore);
        assert_eq!(probe(TS, b"CONNECT"), Probe::NeedMore);
        assert_eq!(probe(TS, b"\x05\x01\x00"), Probe::NoMatch);
        assert_eq!(probe(TS, b"GETX /"), Probe::NoMatch);
        assert_eq!(probe(TC, b"HTTP/1.0 200"), Probe::Match);
        assert_eq!(probe(TC, b"HTT"), Probe::NeedMore);
        assert_eq!(probe(TC, b"220 mail"), Probe::NoMatch);
        // A tunnel's first bytes may be the stray line end of the CONNECT.
        assert_eq!(probe(TS, b"\nGET / HTTP/1.1\r\n"), Probe::Match);
        assert_eq!(probe(TC, b"\r\n\r\nHTTP/1.1 200"), Probe::Match);
        assert_eq!(probe(TS, b"\r\n"), Probe::NeedMore);
        assert_eq!(probe(TS, &[b'\n'; 40]), Probe::NoMatch);
    }

    #[test]
    fn shellshock_in_uri_headers_and_body() {
        let (ev, txs) = run(&[(
            TS,
            b"GET /cgi-bin/a.cgi?q=%28%29%20%7B%20%3A%3B%20%7D%3B%20id HTTP/1.1\r\nHost: h\r\n\r\n\
GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nReferer: () { :; }; /bin/cat /etc/passwd\r\n\r\n\
POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 31\r\n\r\nuser=a&pass=()+{+:;};+uname+-a\n\
GET /plain HTTP/1.1\r\nCookie: pref=(x)\r\n\r\n",
        )]);
        let hits: Vec<(&str, Option<&str>, Option<&str>)> = txs
            .iter()
            .map(|t| {
                let h = req(t).shellshock.as_deref();
                (
                    h.map_or("-", |h| h.location),
                    h.and_then(|h| h.name.as_deref()),
                    h.and_then(|h| h.finding.command.as_deref()),
                )
            })
            .collect();
        assert_eq!(
            hits,
            [
                ("uri", None, Some("id")),
                ("header", Some("Referer"), Some("/bin/cat /etc/passwd")),
                ("body", None, Some("uname -a")),
                ("-", None, None),
            ]
        );
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, HttpEvent::RequestBody { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn shellshock_past_max_headers_is_still_found() {
        // Padding headers first push the probe past what is kept.
        let mut bytes = b"GET /cgi-bin/status HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 0..HttpConfig::default().max_headers + 10 {
            bytes.extend_from_slice(format!("X-Pad-{i}: {i}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"X-Late: () { :; }; /bin/id\r\n\r\n");
        bytes.extend_from_slice(b"GET /b HTTP/1.1\r\nHost: h\r\n");
        for i in 0..HttpConfig::default().max_headers + 10 {
            bytes.extend_from_slice(format!("X-Pad-{i}: {i}\r\n").as_bytes());
        }
        // A folded continuation of a header that is not kept either.
        bytes.extend_from_slice(b"X-Folded: a\r\n () { :; }; /bin/uname -a\r\n\r\n");
        let (ev, txs) = run(&[(TS, &bytes)]);
        assert!(ev.iter().any(|e| matches!(
            e,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::TooManyHeaders,
                ..
            }
        )));
        let hits: Vec<(Option<&str>, Option<&str>)> = txs
            .iter()
            .map(|t| {
                let h = req(t).shellshock.as_deref().expect("found");
                assert_eq!(h.location, "header");
                assert_eq!(
                    req(t).headers.lines as usize,
                    HttpConfig::default().max_headers
                );
                (h.name.as_deref(), h.finding.command.as_deref())
            })
            .collect();
        assert_eq!(
            hits,
            [
                (Some("X-Late"), Some("/bin/id")),
                (Some("X-Folded"), Some("/bin/uname -a")),
            ]
        );
    }

    const PINGBACK_POST: &[u8] = b"POST /xmlrpc.php HTTP/1.1\r\nHost: blog.example.net\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n\
20\r\n<?xml version=\"1.0\"?><methodCall\r\n\
ca\r\n><methodName>pingback.ping</methodName><params><param><value><string>http://victim.example/?1</string></value></param><param><value><string>http://blog.example.net/?p=1</string></value></param></params>\r\n\
0d\r\n</methodCall>\r\n0\r\n\r\n";

    #[test]
    fn xmlrpc_posts_are_read_and_other_bodies_are_not() {
        let (ev, txs) = run(&[
            (TS, PINGBACK_POST),
            (TC, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (
                TS,
                b"POST /other.php HTTP/1.1\r\nContent-Length: 27\r\n\r\n<methodCall></methodCall>\r\n",
            ),
        ]);
        assert!(ev.contains(&HttpEvent::RequestBody { tx: 0 }));
        let call = req(&txs[0]).xmlrpc.as_deref().expect("call");
        assert_eq!(call.method.as_deref(), Some("pingback.ping"));
        assert_eq!(call.pingbacks()[0].0, "http://victim.example/?1");
        assert!(!call.incomplete);
        assert!(req(&txs[1]).xmlrpc.is_none());
        assert!(is_xmlrpc_path("http://h/wp/XMLRPC.PHP?rsd"));
        assert!(!is_xmlrpc_path("/xmlrpc.php.bak"));
        assert!(!is_xmlrpc_path("/é"));
        for step in 1..40 {
            assert_eq!(
                run_split(&[(TS, PINGBACK_POST)], step).1,
                run(&[(TS, PINGBACK_POST)]).1,
                "step {step}"
            );
        }
    }

    #[test]
    fn a_body_cut_short_is_still_reported() {
        let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
        let mut ev = Vec::new();
        d.feed(
            TS,
            b"POST /xmlrpc.php HTTP/1.0\r\nContent-Length: 999\r\n\r\n<methodCall><methodName>system.multicall",
            &mut ev,
        );
        d.end(TS, &mut ev);
        assert!(ev.contains(&HttpEvent::RequestBody { tx: 0 }));
        let call = d
            .parser()
            .tx(0)
            .and_then(|t| req(t).xmlrpc.clone())
            .unwrap();
        assert!(call.incomplete);
    }

    const CONVERSATION: &[(Direction, &[u8])] = &[
        (TS, b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
        (TC, b"HTTP/1.1 407 Proxy Auth Required\r\nContent-Length: 4\r\n\r\nauth"),
        (
            TS,
            b"GET http://b.example/x HTTP/1.1\r\nHost: b.example\r\nFolded: a\r\n b\r\n\r\nPOST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n",
        ),
        (TC, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n\r\ntail"),
    ];

    #[test]
    fn every_split_gives_the_same_transactions() {
        let whole = run(CONVERSATION);
        assert_eq!(whole.1.len(), 3);
        for step in 1..40 {
            assert_eq!(run_split(CONVERSATION, step), whole, "step {step}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_cut_points_give_the_same_result(cuts in proptest::collection::vec(0usize..400, 0..12)) {
                // Cut each direction's bytes at arbitrary points, keeping the
                // order of direction switches.
                let whole = run(CONVERSATION);
                let mut d = StreamDriver::new(HttpParser::new(HttpConfig::default()), 1 << 16);
                let mut ev = Vec::new();
                let mut done = Vec::new();
                for &(dir, bytes) in CONVERSATION {
                    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
                    points.sort_unstable();
                    let mut at = 0;
                    for p in points.into_iter().chain([bytes.len()]) {
                        let before = ev.len();
                        d.feed(dir, &bytes[at..p.max(at)], &mut ev);
                        collect(&mut d, &ev[before..], &mut done);
                        at = p.max(at);
                    }
                }
                let before = ev.len();
                d.end(TS, &mut ev);
                d.end(TC, &mut ev);
                collect(&mut d, &ev[before..], &mut done);
                prop_assert_eq!((ev, done), whole);
            }

            #[test]
            fn arbitrary_bytes_never_panic(ts in proptest::collection::vec(any::<u8>(), 0..600),
                                           tc in proptest::collection::vec(any::<u8>(), 0..600),
                                           step in 1usize..64) {
                let script = [(TS, ts.as_slice()), (TC, tc.as_slice())];
                let _ = run_split(&script, step);
            }

            #[test]
            fn request_like_garbage_never_panics(s in "(GET|CONNECT|POST) [ -~]{0,40}( HTTP/1\\.[01])?\r\n([A-Za-z-]{1,10}: [ -~]{0,20}\r\n){0,4}\r\n") {
                let _ = run(&[(TS, s.as_bytes()), (TC, b"HTTP/1.1 200 OK\r\n\r\n")]);
            }
        }
    }
}
