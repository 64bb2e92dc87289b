//! The alert catalogue. Signature ids are a stable API: SIEM rules key on
//! them, so an id never changes meaning; a changed detection gets a new
//! `rev`.

use crate::config::{Threshold, ThresholdType, Track};

/// One signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    pub sid: u32,
    pub rev: u32,
    pub msg: &'static str,
    /// A Suricata classification (classification.config) description.
    pub category: &'static str,
    /// 1 (worst) to 3.
    pub severity: u8,
}

const LEAK: &str = "Attempted Information Leak";
const ATTACK: &str = "Misc Attack";
const DOS: &str = "Attempted Denial of Service";
const BAD: &str = "Potentially Bad Traffic";
const POLICY: &str = "Potential Corporate Privacy Violation";
const SCAN: &str = "Detection of a Network Scan";
const TROJAN: &str = "A Network Trojan was detected";
const USER: &str = "Attempted User Privilege Gain";
const ADMIN: &str = "Attempted Administrator Privilege Gain";

macro_rules! catalogue {
    ($($name:ident = $sid:literal, $rev:literal, $sev:literal, $cat:ident, $msg:literal;)*) => {
        $(pub const $name: u32 = $sid;)*

        /// Every signature fumidai can raise.
        pub const SIGNATURES: &[Signature] = &[
            $(Signature { sid: $sid, rev: $rev, msg: $msg, category: $cat, severity: $sev },)*
        ];
    };
}

catalogue! {
    PROXY_ABSOLUTE_FORM = 9700001, 1, 2, LEAK, "FUMIDAI open proxy probe: absolute-form HTTP request sent to a server";
    PROXY_CONNECT_SMTP = 9700002, 1, 2, ATTACK, "FUMIDAI open proxy: HTTP CONNECT to an SMTP port (spam relay attempt)";
    PROXY_CONNECT_SMTP_OPEN = 9700003, 1, 1, LEAK, "FUMIDAI open proxy: CONNECT tunnel to an SMTP port established";
    PROXY_CONNECT_PORT = 9700004, 1, 3, POLICY, "FUMIDAI proxy: HTTP CONNECT to a port outside the allowed ones";
    PROXY_CHAIN = 9700005, 1, 1, ATTACK, "FUMIDAI proxy chain: a proxy request sent through an HTTP CONNECT or SOCKS tunnel";
    SOCKS_CONNECT_SMTP = 9700010, 1, 2, ATTACK, "FUMIDAI open SOCKS: CONNECT to an SMTP port (spam relay attempt)";
    SOCKS_CONNECT_SMTP_OPEN = 9700011, 1, 1, ATTACK, "FUMIDAI open SOCKS: CONNECT to an SMTP port granted";
    SOCKS_INBOUND = 9700012, 1, 2, LEAK, "FUMIDAI open SOCKS probe: request from outside home_net to a server inside it";
    SMTP_RELAY_ATTEMPT = 9700020, 1, 2, ATTACK, "FUMIDAI SMTP relay attempt: foreign client, foreign recipient domain";
    SMTP_RELAY_OPEN = 9700021, 1, 1, ATTACK, "FUMIDAI SMTP open relay: foreign recipient accepted for a foreign client";
    SMTP_PROXY_CHECK = 9700022, 1, 2, LEAK, "FUMIDAI proxy-check mail: subject or body carries an IPv4:port";
    SMTP_IN_TUNNEL = 9700023, 1, 1, ATTACK, "FUMIDAI SMTP inside an HTTP CONNECT or SOCKS tunnel";
    SMTP_BOT_VOLUME = 9700024, 1, 2, BAD, "FUMIDAI spam bot: host sends more mail per hour than allowed";
    NTP_MONLIST_REQUEST = 9700030, 1, 2, DOS, "FUMIDAI NTP mode 7 monlist request";
    NTP_MONLIST_RESPONSE = 9700031, 2, 1, DOS, "FUMIDAI NTP mode 7 monlist response with monitor entries: this server is an amplifier";
    AMP_RATIO = 9700032, 1, 1, DOS, "FUMIDAI UDP amplification: reflector answers far more than it is asked";
    AMP_REFLECTION_DDOS = 9700033, 1, 1, DOS, "FUMIDAI reflection DDoS: one victim hit by amplified responses from many reflectors";
    AMP_UNSOLICITED = 9700034, 1, 2, DOS, "FUMIDAI unsolicited amplified responses: answers arrive with no request seen";
    AMP_VICTIM_FLOOD = 9700035, 1, 1, DOS, "FUMIDAI reflection flood at the victim: unsolicited responses from many reflectors";
    PROXY_PORT_SWEEP = 9700040, 1, 3, SCAN, "FUMIDAI proxy port sweep: one source probes proxy ports on many hosts";
    IRC_IN_TUNNEL = 9700050, 1, 1, TROJAN, "FUMIDAI IRC inside an HTTP CONNECT or SOCKS tunnel";
    IRC_FROM_SUSPECT = 9700051, 1, 1, TROJAN, "FUMIDAI IRC client is a confirmed open proxy or open relay";
    IRC_ODD_PORT = 9700052, 1, 3, BAD, "FUMIDAI IRC on a non-standard port";
    IRC_BOT = 9700053, 1, 1, TROJAN, "FUMIDAI IRC bot: client acts on a channel command within seconds";
    IRC_BOTNET = 9700054, 1, 2, TROJAN, "FUMIDAI IRC botnet assembling: many home_net hosts join one channel";
    WP_PINGBACK_REFLECTOR = 9700060, 1, 2, DOS, "FUMIDAI WordPress pingback reflection: server in home_net used as an HTTP flood reflector";
    WP_MULTICALL = 9700061, 1, 2, USER, "FUMIDAI WordPress XML-RPC system.multicall with many calls (brute-force amplification)";
    WP_PINGBACK_VICTIM = 9700062, 1, 2, DOS, "FUMIDAI WordPress pingback flood: many WordPress servers fetch one URL";
    SHELLSHOCK_HTTP = 9700070, 1, 1, ADMIN, "FUMIDAI Shellshock probe in an HTTP request (bash function import)";
    SHELLSHOCK_SMTP = 9700071, 1, 1, ADMIN, "FUMIDAI Shellshock probe in SMTP (bash function import)";
    DNS_BOT_VOLUME = 9700080, 1, 2, BAD, "FUMIDAI DNS bot: host sends more queries per hour than allowed";
    DNS_MX_LOOKUPS = 9700081, 1, 2, BAD, "FUMIDAI spam bot: host resolves many MX records itself";
    ALERT_STORM = 9700090, 1, 2, BAD, "FUMIDAI alert storm: alerts of one signature beyond its rate were suppressed";
}

/// Signatures `fumidai aggregate` raises from a fleet's records, never the
/// sensor (so sensor.yaml's `alerts:` does not know them): the aggregator
/// keeps its own copy of this table (it depends on nothing of the packet
/// path), and its tests hold the two equal.
pub const FLEET_SIGNATURES: &[Signature] = &[
    Signature {
        sid: 9_700_100,
        rev: 1,
        msg: "FUMIDAI fleet: victim hit by amplified responses across sensors, no sensor alerted alone",
        category: DOS,
        severity: 1,
    },
    Signature {
        sid: 9_700_101,
        rev: 1,
        msg: "FUMIDAI fleet: stepping stone alerted on by several sensors",
        category: ATTACK,
        severity: 2,
    },
    Signature {
        sid: 9_700_102,
        rev: 1,
        msg: "FUMIDAI fleet: one source probes proxies or relays across several sensors' networks",
        category: LEAK,
        severity: 2,
    },
];

/// Thresholds a signature has unless sensor.yaml says otherwise: one
/// monlist alert per requester (a scan of 10,000 servers is one scanner)
/// and per answering server (the response's source), per minute; one
/// alert per IRC client (and per client and proxy for tunnels) per hour,
/// since a bot reconnects all day; one multicall alert per client and
/// server per minute, since a brute-forcer posts batch after batch.
pub fn default_threshold(sid: u32) -> Option<Threshold> {
    let limit = |track, seconds| Threshold {
        kind: ThresholdType::Limit,
        track,
        count: 1,
        seconds,
    };
    match sid {
        NTP_MONLIST_REQUEST => Some(limit(Track::BySrc, 60)),
        NTP_MONLIST_RESPONSE => Some(limit(Track::BySrc, 60)),
        IRC_IN_TUNNEL => Some(limit(Track::ByBoth, 3600)),
        IRC_FROM_SUSPECT | IRC_ODD_PORT | IRC_BOT => Some(limit(Track::BySrc, 3600)),
        WP_MULTICALL => Some(limit(Track::ByBoth, 60)),
        _ => None,
    }
}

/// The signature with id `sid`.
pub fn signature(sid: u32) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.sid == sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_range() {
        let all: Vec<&Signature> = SIGNATURES.iter().chain(FLEET_SIGNATURES).collect();
        let mut ids: Vec<u32> = all.iter().map(|s| s.sid).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert!(ids.iter().all(|&s| (9_700_000..9_800_000).contains(&s)));
        assert!(all.iter().all(|s| (1..=3).contains(&s.severity)));
    }
}
