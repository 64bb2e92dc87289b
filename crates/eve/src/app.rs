//! Application-layer objects of EVE records. `http`, `smtp`, `email` and
//! `ntp` have Suricata's field names and types; the fields Suricata lacks,
//! and the `socks` and `fumidai` objects, are declared in the overlay
//! schema (schema/overlay.json) and described in docs/eve.md. (The
//! `amplification` object is the detector's own evidence,
//! `fumidai_detect::amp::Evidence`.)

use std::net::IpAddr;

use serde::Serialize;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `http`
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpObj {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_refer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Overlay: proxy evidence Suricata does not log by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<HttpProxyObj>,
}

/// `http.proxy` (overlay): how the request addressed a proxy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpProxyObj {
    /// `origin`, `absolute`, `authority` or `asterisk`.
    pub target_form: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u16>,
    #[serde(skip_serializing_if = "is_false")]
    pub proxy_authorization: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_connection: Option<String>,
    /// A 2xx answer to CONNECT opened a tunnel.
    #[serde(skip_serializing_if = "is_false")]
    pub tunnel: bool,
}

/// `smtp`
#[derive(Clone, Debug, Default, Serialize)]
pub struct SmtpObj {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rcpt_to: Vec<String>,
    /// Overlay: each recipient with the server's answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<RecipientObj>,
    /// Overlay: the last reply in the transaction, e.g. `250 Message accepted.`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<String>,
    /// Overlay: the server's own host name, from its greeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_domain: Option<String>,
    /// Overlay: STARTTLS was accepted on the connection.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls: bool,
    /// Overlay: the AUTH mechanism used (never the credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_mechanism: Option<String>,
}

/// `smtp.recipients[]` (overlay).
#[derive(Clone, Debug, Serialize)]
pub struct RecipientObj {
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// `email`
#[derive(Clone, Debug, Default, Serialize)]
pub struct EmailObj {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_mailer: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachment: Vec<String>,
}

/// `socks` (overlay): what Zeek's socks.log carries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SocksObj {
    pub version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<SocksEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<SocksEndpoint>,
}

/// An address a SOCKS request or reply names: an IP (`host`) or a host name (`name`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SocksEndpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// `ntp`
#[derive(Clone, Debug, Default, Serialize)]
pub struct NtpObj {
    pub version: u8,
    pub mode: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stratum: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// Overlay: poll and precision (log2 seconds), modes 1–5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<i8>,
    /// Overlay: modes 6 and 7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u16>,
    /// Overlay: mode 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<u16>,
    /// Overlay: mode 7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_count: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_size: Option<u16>,
    /// Monitor-list entries this datagram carried (monlist responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monlist_entries: Option<usize>,
}

/// `fumidai` (overlay): evidence of fumidai's aggregating detectors.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FumidaiObj {
    /// The outer request of an HTTP CONNECT or SOCKS tunnel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelObj>,
    /// The `IPv4:port` a proxy-check mail carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_check: Option<ProxyCheckObj>,
    /// Messages counted for a spam-bot alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_volume: Option<VolumeObj>,
    /// Hosts probed for a proxy port sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepObj>,
    /// Alerts of one signature held back by its rate ceiling (9700090).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm: Option<StormObj>,
}

/// `fumidai.tunnel`
#[derive(Clone, Debug, Serialize)]
pub struct TunnelObj {
    /// `http_connect` or `socks`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The request as it was made (`CONNECT host:25 HTTP/1.0`, `SOCKS5 CONNECT host:25`).
    pub request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The outer transaction's id in this flow.
    pub tx_id: u64,
}

/// `fumidai.proxy_check`
#[derive(Clone, Debug, Serialize)]
pub struct ProxyCheckObj {
    pub address: IpAddr,
    pub port: u16,
    /// Where it came from: `subject` or `body`.
    pub found_in: &'static str,
    /// Which endpoint it names: `client`, `server`, `tunnel_server` (the
    /// proxy a tunnel went through) or `other`.
    pub matches: &'static str,
}

/// `fumidai.mail_volume`
#[derive(Clone, Debug, Serialize)]
pub struct VolumeObj {
    pub messages: u32,
    pub limit: u32,
    pub window_s: u64,
}

/// `fumidai.sweep`
#[derive(Clone, Debug, Serialize)]
pub struct SweepObj {
    pub hosts: usize,
    pub port: u16,
    pub window_s: u64,
}

/// `fumidai.storm`: what an alert-storm summary counts.
#[derive(Clone, Debug, Serialize)]
pub struct StormObj {
    /// The signature whose alerts were held back.
    pub signature_id: u32,
    pub suppressed: u64,
    /// Its alerts that were written in the window.
    pub allowed: u32,
    pub window_s: u64,
    /// First and last held-back alert, in packet time.
    pub first: crate::EveTime,
    pub last: crate::EveTime,
    /// A sample of their sources and destinations.
    pub sources: Vec<std::net::IpAddr>,
    pub destinations: Vec<std::net::IpAddr>,
}
