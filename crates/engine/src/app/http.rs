//! HTTP: proxy alerts on requests and answers, Shellshock probes, WordPress
//! XML-RPC abuse (pingback reflection, multicall brute force, the victim's
//! view of a pingback flood), `http` events per transaction, and the
//! hand-over when a CONNECT opens a tunnel.

use std::collections::BTreeMap;

use fumidai_detect::catalog::{
    SHELLSHOCK_HTTP, WP_MULTICALL, WP_PINGBACK_REFLECTOR, WP_PINGBACK_VICTIM,
};
use fumidai_detect::proxy::{Form as DForm, HttpRequest as DRequest};
use fumidai_detect::wordpress::is_pingback_fetch;
use fumidai_eve::EventType;
use fumidai_eve::app::{
    FumidaiObj, HttpObj, HttpProxyObj, PingbackFloodObj, PingbackObj, XmlRpcObj,
};
use fumidai_proto::StreamDriver;
use fumidai_proto::http::{Form, HttpConfig, HttpEvent, HttpParser, HttpTx};
use fumidai_proto::xmlrpc::{Call, url_host};
use serde::Serialize;

use super::{Base, Decoder, Outcome, Tunnel};
use crate::cx::Cx;

/// Bytes the driver may hold for the parser (a header line, a CONNECT's
/// early tunnel bytes).
const MAX_PENDING: usize = 64 << 10;

/// Transactions remembered as having raised their Shellshock alert.
const MAX_FIRED: usize = 64;

#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<HttpParser>,
    events: Vec<HttpEvent>,
    /// Transactions whose Shellshock alert fired (one per transaction).
    shellshock_fired: Vec<u64>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            driver: StreamDriver::new(HttpParser::new(HttpConfig::default()), MAX_PENDING),
            events: Vec::new(),
            shellshock_fired: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Evidence {
    http: HttpObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    fumidai: Option<FumidaiObj>,
}

impl Evidence {
    fn of(t: &HttpTx) -> Self {
        Evidence {
            http: http_obj(t),
            fumidai: None,
        }
    }
}

/// `fumidai.xmlrpc` from a call.
fn xmlrpc_obj(c: &Call) -> XmlRpcObj {
    let mut o = XmlRpcObj {
        method: c.method.clone(),
        ..XmlRpcObj::default()
    };
    if c.method.as_deref() == Some("pingback.ping") {
        o.source = c.params.first().cloned().flatten();
        o.target = c.params.get(1).cloned().flatten();
    }
    if c.is_multicall() {
        o.calls = Some(c.calls);
        o.pingbacks = Some(c.pingbacks);
        for m in c.subcalls.iter().filter_map(|s| s.method.as_ref()) {
            if o.methods.len() < 8 && !o.methods.contains(m) {
                o.methods.push(m.clone());
            }
        }
        if let Some((src, tgt)) = c.pingbacks().first() {
            o.source = Some((*src).to_owned());
            o.target = tgt.map(str::to_owned);
        }
    }
    o
}

/// The hosts a call's pingbacks name, with their counts. The pingbacks of a
/// multicall beyond those kept count toward the most named host.
fn pingback_sources(c: &Call) -> Vec<(String, u32)> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let kept = c.pingbacks();
    for (src, _) in &kept {
        if let Some(h) = url_host(src) {
            *counts.entry(h).or_default() += 1;
        }
    }
    if c.is_multicall() {
        let rest = c.pingbacks.saturating_sub(kept.len() as u64);
        if let Some(top) = counts.values_mut().max() {
            *top = top.saturating_add(u32::try_from(rest).unwrap_or(u32::MAX));
        }
    }
    counts.into_iter().collect()
}

impl Session {
    /// The bytes the parser left (the tunnel's first bytes) and how many
    /// transactions it started.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>, u64) {
        let (parser, ts, tc) = self.driver.into_parts();
        (ts, tc, parser.tx_count())
    }

    fn on_request(&self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        let Some(t) = self.driver.parser().tx(tx) else {
            return;
        };
        let Some(req) = detect_request(t) else { return };
        let req = DRequest {
            in_tunnel: base.in_tunnel(),
            ..req
        };
        let sids = cx.det.http_request(cx.meta.server().addr, &req);
        if sids.is_empty() {
            return;
        }
        let ev = Evidence::of(t);
        for sid in sids {
            cx.alert(sid, Some(base.tx_base + tx), &ev);
        }
    }

    /// Inspection of a request's head: a Shellshock probe in its URI or
    /// headers; WordPress verifying a pingback (the victim's side).
    fn inspect_request(&mut self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        self.shellshock(tx, cx, base);
        let Some(t) = self.driver.parser().tx(tx) else {
            return;
        };
        let Some(r) = t.request.as_ref() else { return };
        if !r
            .headers
            .user_agent
            .as_deref()
            .is_some_and(is_pingback_fetch)
        {
            return;
        }
        let (client, server) = (cx.meta.client().addr, cx.meta.server().addr);
        if let Some(v) = cx.det.pingback_fetch(server, &r.uri, client, cx.ts) {
            let ev = Evidence {
                http: http_obj(t),
                fumidai: Some(FumidaiObj {
                    pingback_flood: Some(PingbackFloodObj {
                        reflectors: v.reflectors,
                        window_s: v.window_s,
                    }),
                    ..FumidaiObj::default()
                }),
            };
            cx.alert(WP_PINGBACK_VICTIM, Some(base.tx_base + tx), &ev);
        }
    }

    /// 9700070, once per transaction, for the first probe found.
    fn shellshock(&mut self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        if self.shellshock_fired.contains(&tx) {
            return;
        }
        let Some(t) = self.driver.parser().tx(tx) else {
            return;
        };
        let Some(hit) = t.request.as_ref().and_then(|r| r.shellshock.as_deref()) else {
            return;
        };
        if self.shellshock_fired.len() >= MAX_FIRED {
            self.shellshock_fired.remove(0);
        }
        self.shellshock_fired.push(tx);
        let ev = Evidence {
            http: http_obj(t),
            fumidai: Some(FumidaiObj {
                shellshock: Some(super::shellshock_obj(hit)),
                ..FumidaiObj::default()
            }),
        };
        cx.alert(SHELLSHOCK_HTTP, Some(base.tx_base + tx), &ev);
    }

    /// The request's body was read: Shellshock in it, and the XML-RPC call.
    fn on_body(&mut self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        self.shellshock(tx, cx, base);
        let Some(t) = self.driver.parser().tx(tx) else {
            return;
        };
        let Some(call) = t.request.as_ref().and_then(|r| r.xmlrpc.as_deref()) else {
            return;
        };
        let tx_id = Some(base.tx_base + tx);
        let with = |f: FumidaiObj| Evidence {
            http: http_obj(t),
            fumidai: Some(f),
        };
        let sources = pingback_sources(call);
        if !sources.is_empty() {
            let site = t.request.as_ref().and_then(|r| r.headers.host.as_deref());
            let server = cx.meta.server().addr;
            if let Some(v) = cx.det.pingbacks(server, site, &sources, cx.ts) {
                let ev = with(FumidaiObj {
                    xmlrpc: Some(xmlrpc_obj(call)),
                    pingback: Some(PingbackObj {
                        pingbacks: v.pingbacks,
                        window_s: v.window_s,
                        victim: v.victim,
                        victim_pingbacks: v.victim_pingbacks,
                        victims: v.victims,
                    }),
                    ..FumidaiObj::default()
                });
                cx.alert(WP_PINGBACK_REFLECTOR, tx_id, &ev);
            }
        }
        if call.is_multicall() && cx.det.multicall_too_big(call.calls) {
            let ev = with(FumidaiObj {
                xmlrpc: Some(xmlrpc_obj(call)),
                ..FumidaiObj::default()
            });
            cx.alert(WP_MULTICALL, tx_id, &ev);
        }
    }

    fn on_response(&self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        let Some(t) = self.driver.parser().tx(tx) else {
            return;
        };
        let (Some(req), Some(resp)) = (detect_request(t), t.response.as_ref()) else {
            return;
        };
        let sids = cx.det.http_response(&req, resp.status);
        if sids.is_empty() {
            return;
        }
        let mut obj = http_obj(t);
        if let Some(p) = obj.proxy.as_mut() {
            p.tunnel = req.is_connect() && (200..300).contains(&resp.status);
        }
        let ev = Evidence {
            http: obj,
            fumidai: None,
        };
        for sid in sids {
            cx.alert(sid, Some(base.tx_base + tx), &ev);
        }
    }
}

impl Session {
    /// Heap bytes held by the driver and the parser.
    pub fn memuse(&self) -> usize {
        self.driver.memuse()
            + self.driver.parser().memuse()
            + super::vec_bytes(&self.events)
            + super::vec_bytes(&self.shellshock_fired)
    }
}

impl Decoder for Session {
    type Parser = HttpParser;

    fn parts(&mut self) -> (&mut StreamDriver<HttpParser>, &mut Vec<HttpEvent>) {
        (&mut self.driver, &mut self.events)
    }

    fn handle(&mut self, events: &[HttpEvent], cx: &mut Cx<'_>, base: &mut Base<'_>) -> Outcome {
        let mut outcome = Outcome::Continue;
        let mut tunnel = None;
        for e in events {
            match *e {
                HttpEvent::Request { tx } => {
                    self.on_request(tx, cx, base);
                    self.inspect_request(tx, cx, base);
                }
                HttpEvent::RequestBody { tx } => self.on_body(tx, cx, base),
                HttpEvent::Response { tx } => self.on_response(tx, cx, base),
                HttpEvent::TxDone { tx } => {
                    if let Some(t) = self.driver.parser_mut().take_tx(tx) {
                        if t.tunnel {
                            tunnel = tunnel_of(&t, base.tx_base + tx);
                        }
                        cx.stats.tx("http");
                        cx.event(EventType::Http, Some(base.tx_base + tx), &Evidence::of(&t));
                        self.shellshock_fired.retain(|&f| f != tx);
                    }
                }
                HttpEvent::Tunnel { .. } => {
                    if let Some(t) = tunnel.take() {
                        outcome = Outcome::Tunnel(t);
                    }
                }
                HttpEvent::Anomaly { tx, kind } => base.anomaly(cx, "http", kind.name(), tx),
            }
        }
        if matches!(outcome, Outcome::Continue) && self.driver.parser().stopped() {
            // An upgrade (101) to a protocol fumidai does not follow.
            return Outcome::Stop;
        }
        outcome
    }
}

fn detect_request(t: &HttpTx) -> Option<DRequest<'_>> {
    let r = t.request.as_ref()?;
    Some(DRequest {
        method: &r.method,
        form: match r.form {
            Form::Origin => DForm::Origin,
            Form::Absolute => DForm::Absolute,
            Form::Authority => DForm::Authority,
            Form::Asterisk => DForm::Asterisk,
        },
        target_port: r.target_port,
        in_tunnel: false,
    })
}

fn tunnel_of(t: &HttpTx, tx_id: u64) -> Option<Tunnel> {
    let r = t.request.as_ref()?;
    let mut request = format!("{} {}", r.method, r.uri);
    if let Some(p) = &r.protocol {
        request.push(' ');
        request.push_str(p);
    }
    Some(Tunnel {
        kind: "http_connect",
        proto: "http",
        request,
        host: r.target_host.clone(),
        port: r.target_port,
        tx_id,
        outer: "http",
        smtp_alerted: false,
    })
}

/// `Host: name:port` split into name and port.
fn host_header(h: &str) -> (String, Option<u16>) {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[')
        && let Some((v6, tail)) = rest.split_once(']')
    {
        return (
            v6.to_ascii_lowercase(),
            tail.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match h.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') => match p.parse() {
            Ok(port) => (n.to_ascii_lowercase(), Some(port)),
            Err(_) => (h.to_ascii_lowercase(), None),
        },
        _ => (h.to_ascii_lowercase(), None),
    }
}

/// Suricata's `http` object from a transaction: the host and port named by
/// the request target (absolute or authority form), else by `Host`.
pub(crate) fn http_obj(t: &HttpTx) -> HttpObj {
    let mut o = HttpObj::default();
    if let Some(r) = &t.request {
        let (host_name, host_port) = r.headers.host.as_deref().map(host_header).unzip();
        // Suricata prints an IPv6 literal host as the request wrote it, in
        // brackets; the parser keeps the bare address for detection.
        o.hostname = r
            .target_host
            .clone()
            .or(host_name)
            .map(|h| if h.contains(':') { format!("[{h}]") } else { h });
        o.http_port = match r.form {
            Form::Absolute | Form::Authority => r.target_port,
            _ => host_port.flatten(),
        };
        o.url = Some(r.uri.clone());
        o.http_user_agent = r.headers.user_agent.clone();
        o.http_refer = r.headers.referer.clone();
        o.xff = r.headers.x_forwarded_for.clone();
        o.http_method = Some(r.method.clone());
        o.protocol = r.protocol.clone();
        o.proxy = Some(HttpProxyObj {
            target_form: match r.form {
                Form::Origin => "origin",
                Form::Absolute => "absolute",
                Form::Authority => "authority",
                Form::Asterisk => "asterisk",
            }
            .into(),
            target_host: r.target_host.clone(),
            target_port: r.target_port,
            proxy_authorization: r.headers.proxy_authorization,
            via: r.headers.via.clone(),
            proxy_agent: None,
            proxy_connection: r.headers.proxy_connection.clone(),
            tunnel: t.tunnel,
        });
    }
    if let Some(s) = &t.response {
        if s.status != 0 {
            o.status = Some(s.status);
        } else {
            o.status_string = s.status_text.clone();
        }
        if o.protocol.is_none() {
            o.protocol = s.protocol.clone();
        }
        // The media type alone, as Suricata logs it: everything before the
        // first `;` (its parameters, e.g. charset, are dropped).
        o.http_content_type = s
            .headers
            .content_type
            .as_deref()
            .map(|c| c.split(';').next().unwrap_or(c).to_owned());
        o.redirect = s.headers.location.clone();
        if let Some(p) = o.proxy.as_mut() {
            p.proxy_agent = s.headers.proxy_agent.clone();
        }
    }
    // Suricata always writes the response body length, 0 before any response.
    o.length = Some(t.response.as_ref().map_or(0, |s| s.body_len));
    o
}
