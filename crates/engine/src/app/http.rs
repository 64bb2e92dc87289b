//! HTTP: proxy alerts on requests and answers, `http` events per
//! transaction, and the hand-over when a CONNECT opens a tunnel.

use fumidai_detect::proxy::{Form as DForm, HttpRequest as DRequest};
use fumidai_eve::EventType;
use fumidai_eve::app::{HttpObj, HttpProxyObj};
use fumidai_proto::StreamDriver;
use fumidai_proto::http::{Form, HttpConfig, HttpEvent, HttpParser, HttpTx};
use serde::Serialize;

use super::{Base, Decoder, Outcome, Tunnel};
use crate::cx::Cx;

/// Bytes the driver may hold for the parser (a header line, a CONNECT's
/// early tunnel bytes).
const MAX_PENDING: usize = 64 << 10;

#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<HttpParser>,
    events: Vec<HttpEvent>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            driver: StreamDriver::new(HttpParser::new(HttpConfig::default()), MAX_PENDING),
            events: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Evidence {
    http: HttpObj,
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
        let ev = Evidence { http: http_obj(t) };
        for sid in sids {
            cx.alert(sid, Some(base.tx_base + tx), &ev);
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
        let ev = Evidence { http: obj };
        for sid in sids {
            cx.alert(sid, Some(base.tx_base + tx), &ev);
        }
    }
}

impl Session {
    /// Heap bytes held by the driver and the parser.
    pub fn memuse(&self) -> usize {
        self.driver.memuse() + self.driver.parser().memuse() + super::vec_bytes(&self.events)
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
                HttpEvent::Request { tx } => self.on_request(tx, cx, base),
                HttpEvent::Response { tx } => self.on_response(tx, cx, base),
                HttpEvent::TxDone { tx } => {
                    if let Some(t) = self.driver.parser_mut().take_tx(tx) {
                        if t.tunnel {
                            tunnel = tunnel_of(&t, base.tx_base + tx);
                        }
                        cx.stats.tx("http");
                        cx.event(
                            EventType::Http,
                            Some(base.tx_base + tx),
                            &Evidence { http: http_obj(&t) },
                        );
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
