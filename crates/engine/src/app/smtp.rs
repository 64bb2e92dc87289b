//! SMTP: relay, proxy-check, bot-volume, in-tunnel and Shellshock alerts,
//! and `smtp` events with their `email` objects.

use std::net::IpAddr;

use fumidai_detect::catalog::{SHELLSHOCK_SMTP, SMTP_BOT_VOLUME, SMTP_IN_TUNNEL, SMTP_PROXY_CHECK};
use fumidai_detect::config::Md5Of;
use fumidai_detect::smtp::{Recipient, find_ipv4_port};
use fumidai_eve::EventType;
use fumidai_eve::app::{
    EmailObj, FumidaiObj, ProxyCheckObj, RecipientObj, SmtpObj, TunnelObj, VolumeObj,
};
use fumidai_proto::smtp::url::UrlConfig;
use fumidai_proto::smtp::{
    Recipient as RcptLine, Session as SmtpSession, SmtpConfig, SmtpEvent, SmtpParser, SmtpTx,
};
use fumidai_proto::{Direction, StreamDriver};
use serde::Serialize;

use super::{Base, Decoder, Outcome};
use crate::cx::Cx;

const MAX_PENDING: usize = 64 << 10;

#[derive(Debug)]
pub(crate) struct Session {
    driver: StreamDriver<SmtpParser>,
    events: Vec<SmtpEvent>,
    /// (tx, sid) pairs already raised: each fires once per transaction.
    fired: Vec<(u64, u32)>,
    /// An `smtp` event was written for this connection.
    logged: bool,
    /// A Shellshock alert was raised for this connection's HELO/EHLO.
    session_shellshock: bool,
}

impl Session {
    pub(crate) fn new(cx: &Cx<'_>) -> Self {
        let mime = &cx.det.conf.smtp.mime;
        let mut cfg = SmtpConfig::default();
        cfg.message.urls = UrlConfig::new(
            mime.extract_urls,
            &mime.extract_urls_schemes,
            mime.log_url_scheme,
        );
        cfg.message.body_md5 = mime.md5.contains(&Md5Of::Body);
        cfg.message.subject_md5 = mime.md5.contains(&Md5Of::Subject);
        Session {
            driver: StreamDriver::new(SmtpParser::new(cfg), MAX_PENDING),
            events: Vec::new(),
            fired: Vec::new(),
            logged: false,
            session_shellshock: false,
        }
    }
}

#[derive(Serialize, Default)]
struct Evidence {
    smtp: SmtpObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<EmailObj>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fumidai: Option<FumidaiObj>,
}

impl Session {
    /// Raises `sid` for `tx` unless it already fired for it.
    fn raise(&mut self, sid: u32, tx: u64, ev: &Evidence, cx: &mut Cx<'_>, base: &Base<'_>) {
        if self.fired.contains(&(tx, sid)) {
            return;
        }
        if self.fired.len() >= 64 {
            self.fired.remove(0);
        }
        self.fired.push((tx, sid));
        cx.alert(sid, Some(base.tx_base + tx), ev);
    }

    fn on_rcpt(&mut self, tx: u64, index: usize, cx: &mut Cx<'_>, base: &Base<'_>) {
        let p = self.driver.parser();
        let Some(t) = p.tx(tx) else { return };
        let Some(r) = t.rcpt.get(index) else { return };
        let sids = relay_sids(cx, p.session(), r, None);
        if sids.is_empty() {
            return;
        }
        let ev = evidence(t, p.session());
        for sid in sids {
            self.raise(sid, tx, &ev, cx, base);
        }
    }

    /// Once the server accepted the message: recipients whose relay could
    /// only be confirmed then (someone else's server) are judged again.
    fn confirm_relay(
        &mut self,
        t: &SmtpTx,
        session: &SmtpSession,
        ev: &Evidence,
        cx: &mut Cx<'_>,
        base: &Base<'_>,
    ) {
        let accepted = t
            .data_reply
            .as_ref()
            .is_some_and(|r| (200..300).contains(&r.code));
        if !accepted {
            return;
        }
        for r in &t.rcpt {
            for sid in relay_sids(cx, session, r, Some(true)) {
                self.raise(sid, t.id, ev, cx, base);
            }
        }
    }

    fn on_message(&mut self, tx: u64, cx: &mut Cx<'_>, base: &Base<'_>) {
        let p = self.driver.parser();
        let Some(t) = p.tx(tx) else { return };
        let Some(email) = &t.email else { return };
        let lines = cx.det.conf.smtp.proxy_check_body_lines;
        let found = email
            .subject
            .as_deref()
            .and_then(find_ipv4_port)
            .map(|m| (m, "subject"))
            .or_else(|| {
                email
                    .body_lines
                    .iter()
                    .take(lines)
                    .find_map(|l| find_ipv4_port(l))
                    .map(|m| (m, "body"))
            });
        let Some(((addr, port), found_in)) = found else {
            return;
        };
        let addr = IpAddr::V4(addr);
        let (client, server) = (cx.meta.client(), cx.meta.server());
        let matches = if addr == server.addr && port == server.port {
            if base.in_tunnel() {
                "tunnel_server"
            } else {
                "server"
            }
        } else if addr == client.addr {
            "client"
        } else if addr == server.addr {
            "server"
        } else {
            "other"
        };
        let mut ev = evidence(t, p.session());
        ev.fumidai = Some(FumidaiObj {
            proxy_check: Some(ProxyCheckObj {
                address: addr,
                port,
                found_in: found_in.into(),
                matches: matches.into(),
            }),
            ..FumidaiObj::default()
        });
        self.raise(SMTP_PROXY_CHECK, tx, &ev, cx, base);
    }

    fn on_done(&mut self, tx: u64, cx: &mut Cx<'_>, base: &mut Base<'_>) {
        let Some(t) = self.driver.parser_mut().take_tx(tx) else {
            return;
        };
        let session = self.driver.parser().session().clone();
        let ev = evidence(&t, &session);
        self.confirm_relay(&t, &session, &ev, cx, base);
        cx.stats.tx("smtp");
        cx.event(EventType::Smtp, Some(base.tx_base + tx), &ev);
        self.logged = true;
        self.tunnel_alert(Some(&t), base.tx_base + tx, &session, cx, base);
        self.shellshock(Some(&t), base.tx_base + tx, &session, cx, base);
        if t.data_complete && cx.det.smtp_message(cx.meta.client().addr, cx.ts) {
            let mut ev = ev;
            ev.fumidai = Some(FumidaiObj {
                mail_volume: Some(VolumeObj {
                    messages: cx.det.shared.bots.messages(cx.meta.client().addr),
                    limit: cx.det.conf.smtp.bot_messages_per_hour,
                    window_s: 3600,
                }),
                ..FumidaiObj::default()
            });
            self.raise(SMTP_BOT_VOLUME, tx, &ev, cx, base);
        }
        self.fired.retain(|(id, _)| *id != tx);
    }

    /// 9700071 once per transaction: a probe in one of its commands or mail
    /// headers, or (once per connection) in HELO/EHLO.
    fn shellshock(
        &mut self,
        t: Option<&SmtpTx>,
        tx_id: u64,
        session: &SmtpSession,
        cx: &mut Cx<'_>,
        base: &Base<'_>,
    ) {
        let own = t.and_then(|t| {
            t.shellshock
                .as_deref()
                .or_else(|| t.email.as_ref().and_then(|e| e.shellshock.as_deref()))
        });
        let from_session = session
            .shellshock
            .as_deref()
            .filter(|_| !self.session_shellshock);
        let Some(hit) = own.or(from_session) else {
            return;
        };
        if session.shellshock.is_some() {
            self.session_shellshock = true;
        }
        let mut ev = match t {
            Some(t) => evidence(t, session),
            None => Evidence {
                smtp: session_obj(session),
                ..Evidence::default()
            },
        };
        ev.fumidai = Some(FumidaiObj {
            shellshock: Some(super::shellshock_obj(hit)),
            ..FumidaiObj::default()
        });
        match t {
            Some(t) => self.raise(SHELLSHOCK_SMTP, t.id, &ev, cx, base),
            None => {
                cx.alert(SHELLSHOCK_SMTP, Some(tx_id), &ev);
            }
        }
    }

    /// 9700023 once per tunnel, with the tunnel's outer request.
    fn tunnel_alert(
        &mut self,
        t: Option<&SmtpTx>,
        tx_id: u64,
        session: &SmtpSession,
        cx: &mut Cx<'_>,
        base: &mut Base<'_>,
    ) {
        let Some(tunnel) = base.tunnel() else {
            return;
        };
        if tunnel.smtp_alerted {
            return;
        }
        tunnel.smtp_alerted = true;
        let mut ev = match t {
            Some(t) => evidence(t, session),
            None => Evidence {
                smtp: session_obj(session),
                ..Evidence::default()
            },
        };
        ev.fumidai = Some(FumidaiObj {
            tunnel: Some(TunnelObj {
                kind: tunnel.kind.into(),
                request: tunnel.request.clone(),
                host: tunnel.host.clone(),
                port: tunnel.port,
                tx_id: tunnel.tx_id,
            }),
            ..FumidaiObj::default()
        });
        cx.alert(SMTP_IN_TUNNEL, Some(tx_id), &ev);
    }

    /// A connection that never got to a mail transaction (STARTTLS, or
    /// only a greeting and HELO) is still logged once, as Zeek does.
    fn log_session(&mut self, cx: &mut Cx<'_>, base: &mut Base<'_>) {
        // A transaction, once opened, is logged itself when it ends (the
        // client may go on after the server closed).
        if self.logged || self.driver.parser().tx_count() > 0 {
            return;
        }
        let session = self.driver.parser().session().clone();
        if session.helo.is_none() && session.banner.is_none() {
            return;
        }
        self.logged = true;
        let ev = Evidence {
            smtp: session_obj(&session),
            ..Evidence::default()
        };
        let tx_id = base.tx_base + self.driver.parser().tx_count();
        cx.stats.tx("smtp");
        cx.event(EventType::Smtp, Some(tx_id), &ev);
        self.tunnel_alert(None, tx_id, &session, cx, base);
        self.shellshock(None, tx_id, &session, cx, base);
    }
}

impl Session {
    /// Heap bytes held by the driver and the parser.
    pub fn memuse(&self) -> usize {
        self.driver.memuse() + self.driver.parser().memuse() + super::vec_bytes(&self.events)
    }
}

impl Decoder for Session {
    type Parser = SmtpParser;

    fn parts(&mut self) -> (&mut StreamDriver<SmtpParser>, &mut Vec<SmtpEvent>) {
        (&mut self.driver, &mut self.events)
    }

    fn handle(&mut self, events: &[SmtpEvent], cx: &mut Cx<'_>, base: &mut Base<'_>) -> Outcome {
        let mut outcome = Outcome::Continue;
        for e in events {
            match *e {
                SmtpEvent::Rcpt { tx, index } => self.on_rcpt(tx, index, cx, base),
                SmtpEvent::MessageDone { tx } => self.on_message(tx, cx, base),
                SmtpEvent::TxDone { tx } => self.on_done(tx, cx, base),
                SmtpEvent::StartTls => {
                    // The rest is encrypted: nothing more to see.
                    self.log_session(cx, base);
                    outcome = Outcome::Stop;
                }
                SmtpEvent::Anomaly { tx, kind } => base.anomaly(cx, "smtp", kind.name(), tx),
            }
        }
        outcome
    }

    fn ended(&mut self, dir: Direction, cx: &mut Cx<'_>, base: &mut Base<'_>) {
        if dir == Direction::ToClient {
            self.log_session(cx, base);
        }
    }
}

/// The relay detector's verdict on one recipient of this connection.
fn relay_sids(
    cx: &Cx<'_>,
    session: &SmtpSession,
    r: &RcptLine,
    message_accepted: Option<bool>,
) -> Vec<u32> {
    let Some(domain) = r.domain() else {
        return Vec::new();
    };
    cx.det.smtp_recipient(&Recipient {
        client: cx.meta.client().addr,
        server: cx.meta.server().addr,
        domain: &domain,
        server_domain: session.server_domain.as_deref(),
        reply: r.reply.as_ref().map(|r| r.code),
        authenticated: session.auth_ok == Some(true),
        message_accepted,
    })
}

fn session_obj(s: &SmtpSession) -> SmtpObj {
    SmtpObj {
        helo: s.helo.clone(),
        last_reply: s.last_reply.as_ref().map(|r| r.summary()),
        server_domain: s.server_domain.clone(),
        starttls: s.tls,
        auth_mechanism: s.auth_mechanism.clone(),
        ..SmtpObj::default()
    }
}

fn evidence(t: &SmtpTx, s: &SmtpSession) -> Evidence {
    Evidence {
        smtp: smtp_obj(t, s),
        email: t.email.as_ref().map(|e| EmailObj {
            status: if t.data_complete {
                "PARSE_DONE"
            } else if e.headers_done {
                "BODY_STARTED"
            } else {
                "HEADER_READY"
            }
            .into(),
            from: e.from.clone(),
            to: e.to.clone(),
            cc: e.cc.clone(),
            subject: e.subject.clone(),
            date: e.date.clone(),
            message_id: e.message_id.clone(),
            x_mailer: e.x_mailer.clone(),
            received: e.received.clone(),
            attachment: e.attachments.clone(),
            url: e.urls.iter().rev().cloned().collect(),
            body_md5: e.body_md5.clone(),
            subject_md5: e.subject_md5.clone(),
        }),
        fumidai: None,
    }
}

/// Suricata's `smtp` object, plus the overlay's per-recipient replies.
fn smtp_obj(t: &SmtpTx, s: &SmtpSession) -> SmtpObj {
    SmtpObj {
        helo: t.helo.clone().or_else(|| s.helo.clone()),
        mail_from: t.mail_from.clone(),
        rcpt_to: t.rcpt.iter().map(|r| r.arg.clone()).collect(),
        recipients: t
            .rcpt
            .iter()
            .map(|r| RecipientObj {
                to: r.arg.clone(),
                reply_code: r.reply.as_ref().map(|r| r.code),
                reply: r.reply.as_ref().map(|r| r.summary()),
            })
            .collect(),
        last_reply: t.last_reply.as_ref().map(|r| r.summary()),
        server_domain: s.server_domain.clone(),
        starttls: t.tls || s.tls,
        auth_mechanism: s.auth_mechanism.clone(),
    }
}
