//! Application-layer objects of EVE records. `http`, `smtp`, `email`,
//! `ntp` and `dns` have Suricata's field names and types; the fields
//! Suricata lacks, and the `socks`, `irc` and `fumidai` objects, are
//! declared in the overlay schema (schema/overlay.json) and described in
//! docs/eve.md. (The
//! `amplification` object is the detector's own evidence,
//! `fumidai_detect::amp::Evidence`.)
//!
//! The objects also deserialise, for tools that read EVE back (`fumidai
//! report`): fields the writer leaves out when empty default when read.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Label;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `http`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
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
    /// The status code as sent when it is not a number (`2XX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Overlay: proxy evidence Suricata does not log by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<HttpProxyObj>,
}

/// `http.proxy` (overlay): how the request addressed a proxy.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpProxyObj {
    /// `origin`, `absolute`, `authority` or `asterisk`.
    pub target_form: Label,
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
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecipientObj {
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// `email`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailObj {
    pub status: Label,
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
    /// URLs in the message text, the last found first (Suricata's order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_md5: Option<String>,
}

/// `socks` (overlay): what Zeek's socks.log carries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SocksObj {
    pub version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<SocksEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<SocksEndpoint>,
}

/// An address a SOCKS request or reply names: an IP (`host`) or a host name (`name`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SocksEndpoint {
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "fumidai_wire::ipfmt::ser_opt"
    )]
    pub host: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// `ntp`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
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
    pub request: Option<Label>,
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

/// `irc` (overlay): one command of a session (Zeek's irc.log: `command`,
/// `value`, `addl`, `nick`, `user`), or the session's summary at its end
/// (no `command`; `channels`, `messages`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IrcObj {
    /// `NICK`, `USER`, `JOIN`, `DCC`; with `irc.log_messages` also
    /// `PRIVMSG`, `NOTICE`, `TOPIC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Label>,
    /// What the command names: the nick, the user, the channel, the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// USER's mode, unused field and real name, as Zeek's `addl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addl: Option<String>,
    /// The client's nick (before a NICK command changes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realname: Option<String>,
    /// The server's name (from its welcome).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// A JOIN with a channel key (the key itself is never logged).
    #[serde(skip_serializing_if = "is_false")]
    pub key: bool,
    /// Messages: who sent it (`nick!user@host`) and its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcc: Option<IrcDccObj>,
    /// Summary: the server welcomed the client (001).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<IrcChannelObj>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<IrcCountsObj>,
}

/// `irc.dcc`: a CTCP DCC offer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IrcDccObj {
    /// `SEND`, `CHAT`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The file name (SEND) or protocol (CHAT).
    pub argument: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// `irc.channels[]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IrcChannelObj {
    pub name: String,
    /// Joined with a key.
    #[serde(skip_serializing_if = "is_false")]
    pub key: bool,
    /// The server confirmed the join.
    pub joined: bool,
}

/// `irc.messages`: counted, never logged unless asked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IrcCountsObj {
    pub privmsg_sent: u64,
    pub privmsg_received: u64,
    pub notice_sent: u64,
    pub notice_received: u64,
    pub dcc: u64,
    pub joins: u64,
    pub nick_in_use: u32,
}

/// `dns`, Suricata's version 3 layout, header and questions only.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsObj {
    pub version: u8,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: Label,
    pub tx_id: u64,
    pub id: u16,
    /// The flags word in hex, as Suricata writes it.
    pub flags: String,
    #[serde(skip_serializing_if = "is_false")]
    pub qr: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub aa: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tc: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub rd: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ra: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub z: bool,
    pub opcode: u8,
    pub rcode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<DnsQueryObj>,
}

/// `dns.queries[]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsQueryObj {
    pub rrname: String,
    pub rrtype: String,
}

/// `ntp.unanswered` (overlay): one source's mode 6/7 requests that no
/// answer followed, within one window (the record of a scan).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NtpUnansweredObj {
    pub requests: u64,
    /// Distinct servers asked (estimated beyond 256).
    pub targets: u64,
    pub first: crate::EveTime,
    pub last: crate::EveTime,
    pub window_s: u64,
    /// Per request kind, most frequent first.
    pub kinds: Vec<NtpKindCount>,
    /// Requests of kinds beyond the listed ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `ntp.unanswered.kinds[]`: a mode and its opcode (6) or request code (7).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NtpKindCount {
    pub mode: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_code: Option<u8>,
    /// The request code by name (mode 7), e.g. `MON_GETLIST_1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Label>,
    pub count: u64,
}

/// `fumidai` (overlay): evidence of fumidai's aggregating detectors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
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
    /// A Shellshock probe (9700070, 9700071).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shellshock: Option<ShellshockObj>,
    /// The XML-RPC call of a request (9700060, 9700061).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xmlrpc: Option<XmlRpcObj>,
    /// Pingbacks counted at a reflector (9700060).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pingback: Option<PingbackObj>,
    /// Pingback verifications counted at a victim (9700062).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pingback_flood: Option<PingbackFloodObj>,
    /// The alert that made an IRC client a stepping stone (9700051).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stepping_stone: Option<SteppingStoneObj>,
    /// What made an IRC session a bot's (9700053).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irc_bot: Option<IrcBotObj>,
    /// Hosts joining one channel (9700054).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub botnet: Option<BotnetObj>,
    /// Queries counted for a DNS bot alert (9700080, 9700081).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_volume: Option<DnsVolumeObj>,
}

/// `fumidai.shellshock`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShellshockObj {
    /// The CVE the probe's form belongs to (`CVE-2014-6271`, ...).
    pub cve: Label,
    /// `uri`, `header`, `body` (HTTP); `command`, `header` (SMTP, mail).
    pub location: Label,
    /// The header's name or the SMTP command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The function definition and what follows (up to 512 bytes).
    pub payload: String,
    /// The command bash would run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `fumidai.xmlrpc`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct XmlRpcObj {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `pingback.ping`'s source URL (the page to be fetched: the victim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `pingback.ping`'s target URL (a post of this site).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `system.multicall`: calls in the batch, pingbacks among them, and the
    /// methods of its first calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pingbacks: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// `fumidai.pingback`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PingbackObj {
    pub pingbacks: u32,
    pub window_s: u64,
    /// The host most named as the source.
    pub victim: String,
    pub victim_pingbacks: u32,
    /// Distinct source hosts named.
    pub victims: usize,
}

/// `fumidai.pingback_flood`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PingbackFloodObj {
    /// WordPress servers that fetched the URL within the window.
    pub reflectors: usize,
    pub window_s: u64,
}

/// `fumidai.stepping_stone`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteppingStoneObj {
    /// The alert that confirmed the host as an open proxy or relay.
    pub signature_id: u32,
    pub since: crate::EveTime,
}

/// `fumidai.irc_bot`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IrcBotObj {
    /// Why the nick looks machine-made: `digits`, `os_tag`, `country_tag`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_pattern: Option<Label>,
    /// A channel was joined with a key.
    pub channel_key: bool,
    /// Where the command was: the channel (or the client's nick).
    pub channel: String,
    /// `topic`, `privmsg`, `notice`.
    pub via: Label,
    /// Who gave it (`nick!user@host`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    pub command: String,
    /// `reply` (the client reported on it), `scan`, `smtp`.
    pub reaction: Label,
    /// The reply, or the hosts or SMTP connections counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// Seconds from the command to the reaction.
    pub reaction_s: f64,
}

/// `fumidai.botnet`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BotnetObj {
    pub channel: String,
    /// Hosts of home_net that joined it on this server within the window.
    pub hosts: usize,
    pub window_s: u64,
}

/// `fumidai.dns_volume`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsVolumeObj {
    pub queries: u32,
    /// Distinct names looked up as MX (counted up to just past the limit).
    pub mx_names: usize,
    pub limit: u64,
    pub window_s: u64,
}

/// `fumidai.tunnel`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TunnelObj {
    /// `http_connect` or `socks`.
    #[serde(rename = "type")]
    pub kind: Label,
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProxyCheckObj {
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser")]
    pub address: IpAddr,
    pub port: u16,
    /// Where it came from: `subject` or `body`.
    pub found_in: Label,
    /// Which endpoint it names: `client`, `server`, `tunnel_server` (the
    /// proxy a tunnel went through) or `other`.
    pub matches: Label,
}

/// `fumidai.mail_volume`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VolumeObj {
    pub messages: u32,
    pub limit: u32,
    pub window_s: u64,
}

/// `fumidai.sweep`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepObj {
    pub hosts: usize,
    pub port: u16,
    pub window_s: u64,
}

/// `fumidai.storm`: what an alert-storm summary counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser_vec")]
    pub sources: Vec<std::net::IpAddr>,
    #[serde(serialize_with = "fumidai_wire::ipfmt::ser_vec")]
    pub destinations: Vec<std::net::IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::AlertObj;

    /// Reads `line` as `T` and writes it again: the same bytes.
    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(line: &str) {
        let v: T = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), line);
    }

    #[test]
    fn objects_read_back_as_written() {
        round_trip::<AlertObj>(
            r#"{"action":"allowed","gid":1,"signature_id":9700003,"rev":1,"signature":"FUMIDAI open proxy: CONNECT tunnel to an SMTP port established","category":"Attempted Information Leak","severity":1}"#,
        );
        round_trip::<HttpObj>(
            r#"{"hostname":"10.77.0.2","http_port":25,"url":"10.77.0.2:25","http_method":"CONNECT","protocol":"HTTP/1.1","status":200,"length":0,"proxy":{"target_form":"authority","target_host":"10.77.0.2","target_port":25,"tunnel":true}}"#,
        );
        round_trip::<SmtpObj>(
            r#"{"helo":"attacker.example","mail_from":"<a@b.example>","rcpt_to":["<user@example.net>"],"recipients":[{"to":"<user@example.net>","reply_code":554,"reply":"554 5.7.1 Relay access denied"}],"last_reply":"221 Bye","server_domain":"mail.victim.lab"}"#,
        );
        round_trip::<EmailObj>(
            r#"{"status":"PARSE_DONE","from":"probe@checker.example","to":["user@external.example"],"subject":"10.77.0.2:8080"}"#,
        );
        round_trip::<SocksObj>(
            r#"{"version":5,"command":"connect","auth_method":0,"request":{"host":"10.77.0.2","port":25},"status":"succeeded","status_code":0,"bound":{"name":"x.example","port":42330}}"#,
        );
        round_trip::<NtpObj>(
            r#"{"version":2,"mode":7,"response":true,"more":true,"error":0,"sequence":0,"implementation":3,"request_code":42,"request":"MON_GETLIST_1","auth":false,"item_count":6,"item_size":72,"monlist_entries":6}"#,
        );
        round_trip::<FumidaiObj>(
            r#"{"tunnel":{"type":"socks","request":"SOCKS5 CONNECT 10.77.0.2:25","host":"10.77.0.2","port":25,"tx_id":0},"proxy_check":{"address":"10.77.0.2","port":8080,"found_in":"subject","matches":"server"},"mail_volume":{"messages":501,"limit":500,"window_s":3600},"sweep":{"hosts":12,"port":8080,"window_s":300}}"#,
        );
    }
}
