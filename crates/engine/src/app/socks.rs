//! SOCKS: open-SOCKS alerts on requests and grants, `socks` events, and the
//! hand-over when a granted CONNECT opens a tunnel.

use fumidai_detect::proxy::SocksRequest;
use fumidai_eve::EventType;
use fumidai_eve::app::{SocksEndpoint, SocksObj};
use fumidai_proto::StreamDriver;
use fumidai_proto::socks::{
    Address, CMD_BIND, CMD_CONNECT, CMD_UDP_ASSOCIATE, SocksConfig, SocksEvent, SocksParser,
    SocksTx,
};
use serde::Serialize;

use super::{Base, Decoder, Outcome, Tunnel};
use crate::cx::Cx;

const MAX_PENDING: usize = 16 << 10;

#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<SocksParser>,
    events: Vec<SocksEvent>,
    log_password: bool,
}

#[derive(Serialize)]
struct Evidence {
    socks: SocksObj,
}

impl Session {
    pub fn new(cx: &Cx<'_>) -> Self {
        let log_password = cx.det.conf.socks.log_password;
        Session {
            driver: StreamDriver::new(
                SocksParser::new(SocksConfig {
                    keep_password: log_password,
                }),
                MAX_PENDING,
            ),
            events: Vec::new(),
            log_password,
        }
    }

    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>, u64) {
        let (parser, ts, tc) = self.driver.into_parts();
        (ts, tc, parser.tx_count())
    }

    fn alert(&self, sids: Vec<u32>, t: &SocksTx, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        if sids.is_empty() {
            return;
        }
        let ev = Evidence {
            socks: socks_obj(t, self.log_password),
        };
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
    type Parser = SocksParser;

    fn parts(&mut self) -> (&mut StreamDriver<SocksParser>, &mut Vec<SocksEvent>) {
        (&mut self.driver, &mut self.events)
    }

    fn handle(&mut self, events: &[SocksEvent], cx: &mut Cx<'_>, base: &mut Base<'_>) -> Outcome {
        let mut outcome = Outcome::Continue;
        let mut tunnel = None;
        for e in events {
            match *e {
                SocksEvent::Request { tx } => {
                    if let Some(t) = self.driver.parser().tx(tx)
                        && let Some(r) = request(t)
                    {
                        let (client, server) = (cx.meta.client().addr, cx.meta.server().addr);
                        let r = SocksRequest {
                            in_tunnel: base.in_tunnel(),
                            ..r
                        };
                        let sids = cx.det.socks_request(client, server, &r);
                        self.alert(sids, t, tx, cx, base);
                    }
                }
                SocksEvent::Reply { tx } => {
                    if let Some(t) = self.driver.parser().tx(tx)
                        && let Some(r) = request(t)
                    {
                        let sids = cx.det.socks_reply(&r, t.granted());
                        self.alert(sids, t, tx, cx, base);
                    }
                }
                SocksEvent::TxDone { tx } => {
                    if let Some(t) = self.driver.parser_mut().take_tx(tx) {
                        if t.granted() && matches!(t.command, Some(CMD_CONNECT | CMD_BIND)) {
                            tunnel = Some(tunnel_of(&t, base.tx_base + tx));
                        }
                        cx.stats.tx("socks");
                        let ev = Evidence {
                            socks: socks_obj(&t, self.log_password),
                        };
                        cx.event(EventType::Socks, Some(base.tx_base + tx), &ev);
                    }
                }
                SocksEvent::Tunnel { .. } => {
                    if let Some(t) = tunnel.take() {
                        outcome = Outcome::Tunnel(t);
                    }
                }
                SocksEvent::Anomaly { tx, kind } => base.anomaly(cx, "socks", kind.name(), tx),
            }
        }
        if matches!(outcome, Outcome::Continue) && self.driver.parser().stopped() {
            return Outcome::Stop;
        }
        outcome
    }
}

fn request(t: &SocksTx) -> Option<SocksRequest> {
    Some(SocksRequest {
        command: t.command?,
        port: t.port?,
        in_tunnel: false,
    })
}

fn endpoint(a: Option<&Address>, port: Option<u16>) -> Option<SocksEndpoint> {
    let a = a?;
    let (host, name) = match a {
        Address::V4(v4) => (Some((*v4).into()), None),
        Address::V6(v6) => (Some((*v6).into()), None),
        Address::Name(n) => (None, Some(n.clone())),
    };
    Some(SocksEndpoint { host, name, port })
}

fn address_text(a: Option<&Address>) -> Option<String> {
    Some(match a? {
        Address::V4(v4) => v4.to_string(),
        Address::V6(v6) => v6.to_string(),
        Address::Name(n) => n.clone(),
    })
}

fn tunnel_of(t: &SocksTx, tx_id: u64) -> Tunnel {
    let host = address_text(t.address.as_ref());
    let verb = match t.command {
        Some(CMD_BIND) => "BIND",
        _ => "CONNECT",
    };
    let target = match (&host, t.port) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.clone(),
        _ => String::new(),
    };
    Tunnel {
        kind: "socks",
        proto: if t.version == 4 { "socks4" } else { "socks5" },
        request: format!("SOCKS{} {verb} {target}", t.version),
        host,
        port: t.port,
        tx_id,
        outer: "socks",
        smtp_alerted: false,
    }
}

/// The `socks` object (overlay), Zeek's socks.log in EVE form.
pub(crate) fn socks_obj(t: &SocksTx, log_password: bool) -> SocksObj {
    SocksObj {
        version: t.version,
        command: t.command.map(|c| {
            match c {
                CMD_CONNECT => "connect",
                CMD_BIND => "bind",
                CMD_UDP_ASSOCIATE => "udp_associate",
                _ => "unknown",
            }
            .into()
        }),
        user: t.user.clone().filter(|u| !u.is_empty()),
        password: if log_password {
            t.password.clone()
        } else {
            None
        },
        auth_method: t.method,
        request: endpoint(t.address.as_ref(), t.port),
        status: t.status().map(Into::into),
        status_code: t.reply,
        bound: endpoint(t.bound_address.as_ref(), t.bound_port),
    }
}
