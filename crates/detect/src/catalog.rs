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
    SOCKS_CONNECT_SMTP = 9700010, 1, 2, ATTACK, "FUMIDAI open SOCKS: CONNECT to an SMTP port (spam relay attempt)";
    SOCKS_CONNECT_SMTP_OPEN = 9700011, 1, 1, ATTACK, "FUMIDAI open SOCKS: CONNECT to an SMTP port granted";
    SOCKS_INBOUND = 9700012, 1, 2, LEAK, "FUMIDAI open SOCKS probe: request from outside home_net to a server inside it";
    SMTP_RELAY_ATTEMPT = 9700020, 1, 2, ATTACK, "FUMIDAI SMTP relay attempt: foreign client, foreign recipient domain";
    SMTP_RELAY_OPEN = 9700021, 1, 1, ATTACK, "FUMIDAI SMTP open relay: foreign recipient accepted for a foreign client";
    SMTP_PROXY_CHECK = 9700022, 1, 2, LEAK, "FUMIDAI proxy-check mail: subject or body carries an IPv4:port";
    SMTP_IN_TUNNEL = 9700023, 1, 1, ATTACK, "FUMIDAI SMTP inside an HTTP CONNECT or SOCKS tunnel";
    SMTP_BOT_VOLUME = 9700024, 1, 2, BAD, "FUMIDAI spam bot: host sends more mail per hour than allowed";
    NTP_MONLIST_REQUEST = 9700030, 1, 2, DOS, "FUMIDAI NTP mode 7 monlist request";
    NTP_MONLIST_RESPONSE = 9700031, 1, 1, DOS, "FUMIDAI NTP mode 7 monlist response: this server is an amplifier";
    AMP_RATIO = 9700032, 1, 1, DOS, "FUMIDAI UDP amplification: reflector answers far more than it is asked";
    AMP_REFLECTION_DDOS = 9700033, 1, 1, DOS, "FUMIDAI reflection DDoS: one victim hit by amplified responses from many reflectors";
    AMP_UNSOLICITED = 9700034, 1, 2, DOS, "FUMIDAI unsolicited amplified responses: answers arrive with no request seen";
    PROXY_PORT_SWEEP = 9700040, 1, 3, SCAN, "FUMIDAI proxy port sweep: one source probes proxy ports on many hosts";
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
/// and per answering server (the response's source), per minute.
pub fn default_threshold(sid: u32) -> Option<Threshold> {
    let per_minute = |track| Threshold {
        kind: ThresholdType::Limit,
        track,
        count: 1,
        seconds: 60,
    };
    match sid {
        NTP_MONLIST_REQUEST => Some(per_minute(Track::BySrc)),
        NTP_MONLIST_RESPONSE => Some(per_minute(Track::BySrc)),
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
