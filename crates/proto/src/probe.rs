//! Protocol detection by content: which parser a new connection (or a
//! freshly opened tunnel) gets. Every protocol's probe looks at the first
//! bytes of each direction; the server port only breaks ties, so HTTP on
//! port 25, SOCKS on 8080, SMTP through a tunnel or IRC on a bot's odd port
//! are all recognised. DNS over TCP is the exception: its binary framing
//! says too little on its own, so it is taken only on port 53.

use crate::{Direction, Probe, dns, http, irc, smtp, socks};

/// The TCP application protocols fumidai decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProto {
    Http,
    Smtp,
    Socks,
    Irc,
    Dns,
}

impl AppProto {
    /// The name EVE uses in `app_proto`.
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Smtp => "smtp",
            AppProto::Socks => "socks",
            AppProto::Irc => "irc",
            AppProto::Dns => "dns",
        }
    }

    /// The protocol a well-known server port suggests.
    fn by_port(port: u16) -> Option<AppProto> {
        match port {
            80 | 81 | 3128 | 8000 | 8008 | 8080 | 8081 | 8118 | 8123 | 8888 => Some(AppProto::Http),
            25 | 465 | 587 | 2525 => Some(AppProto::Smtp),
            1080 | 1081 | 9050 => Some(AppProto::Socks),
            6660..=6669 | 6697 | 7000 => Some(AppProto::Irc),
            _ => None,
        }
    }
}

/// What detection concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    Found(AppProto),
    /// Not enough bytes yet to tell.
    NeedMore,
    /// None of fumidai's protocols.
    Unknown,
}

fn either(a: Probe, b: Probe) -> Probe {
    match (a, b) {
        (Probe::Match, _) | (_, Probe::Match) => Probe::Match,
        (Probe::NeedMore, _) | (_, Probe::NeedMore) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

const DNS_PORT: u16 = 53;
/// SMTP's port, where a bare QUIT is enough to tell SMTP.
const SMTP_PORT: u16 = 25;

/// Detects the protocol from the first bytes each side sent (`ts`: client
/// to server, `tc`: server to client; either may be empty so far).
pub fn detect(ts: &[u8], tc: &[u8], server_port: u16) -> Detection {
    let http = either(
        http::probe(Direction::ToServer, ts),
        http::probe(Direction::ToClient, tc),
    );
    let socks = socks::probe(Direction::ToServer, ts);
    let mut smtp = either(
        smtp::probe(Direction::ToServer, ts),
        smtp::probe(Direction::ToClient, tc),
    );
    // FTP servers greet with 220 too. A 220 greeting alone means SMTP only
    // if it does not name FTP and the port is not FTP's; otherwise wait for
    // the client's EHLO/HELO.
    if smtp == Probe::Match && smtp::probe(Direction::ToServer, ts) != Probe::Match {
        let greeting = String::from_utf8_lossy(&tc[..tc.len().min(256)]).to_ascii_uppercase();
        if server_port == 21 || greeting.contains("FTP") {
            smtp = if ts.is_empty() {
                Probe::NeedMore
            } else {
                Probe::NoMatch
            };
        }
    }
    // A client's QUIT to the SMTP port (Suricata's pattern with its port
    // check: a session seen only as it closes).
    if smtp != Probe::Match
        && server_port == SMTP_PORT
        && ts.len() >= 4
        && ts[..4].eq_ignore_ascii_case(b"QUIT")
    {
        smtp = Probe::Match;
    }
    let irc = either(
        irc::probe(Direction::ToServer, ts),
        irc::probe(Direction::ToClient, tc),
    );
    let dns = if server_port == DNS_PORT {
        dns::probe_tcp(ts)
    } else {
        Probe::NoMatch
    };
    let all = [
        (AppProto::Http, http),
        (AppProto::Smtp, smtp),
        (AppProto::Socks, socks),
        (AppProto::Irc, irc),
        (AppProto::Dns, dns),
    ];
    let found: Vec<AppProto> = all
        .iter()
        .filter(|(_, p)| *p == Probe::Match)
        .map(|(a, _)| *a)
        .collect();
    match found.as_slice() {
        [one] => return Detection::Found(*one),
        [] => {}
        many => {
            let preferred = AppProto::by_port(server_port).filter(|p| many.contains(p));
            return Detection::Found(preferred.unwrap_or(many[0]));
        }
    }
    // On IRC's own ports, any IRC message will do, from either side: a
    // session picked up midway, or a client that opens oddly.
    if AppProto::by_port(server_port) == Some(AppProto::Irc)
        && http::probe(Direction::ToServer, ts) != Probe::NeedMore
        && (irc::looks_like_message(ts) || irc::looks_like_message(tc))
    {
        return Detection::Found(AppProto::Irc);
    }
    if all.iter().any(|(_, p)| *p == Probe::NeedMore) {
        Detection::NeedMore
    } else {
        Detection::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppProto::*;

    #[test]
    fn content_decides_on_any_port() {
        assert_eq!(
            detect(b"GET / HTTP/1.1\r\n", b"", 25),
            Detection::Found(Http)
        );
        assert_eq!(
            detect(b"CONNECT mail:25 HTTP/1.0\r\n", b"", 8240),
            Detection::Found(Http)
        );
        assert_eq!(detect(b"\x05\x01\x00", b"", 8080), Detection::Found(Socks));
        assert_eq!(
            detect(b"\x04\x01\x00\x19\x0a\x00\x00\x05\x00", b"", 443),
            Detection::Found(Socks)
        );
        assert_eq!(
            detect(b"", b"220 mx.example ESMTP\r\n", 8240),
            Detection::Found(Smtp)
        );
        assert_eq!(detect(b"EHLO x\r\n", b"", 2500), Detection::Found(Smtp));
        assert_eq!(detect(b"NICK bot\r\n", b"", 5558), Detection::Found(Irc));
        assert_eq!(
            detect(b"", b":irc.example NOTICE AUTH :*** hi\r\n", 443),
            Detection::Found(Irc)
        );
        // A tunnel's first bytes: the IRC server's notice came first.
        assert_eq!(
            detect(b"NICK x\r\n", b":s NOTICE * :hello\r\n", 25),
            Detection::Found(Irc)
        );
        let q = b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(detect(q, b"", 53), Detection::Found(Dns));
        assert_eq!(detect(q, b"\x00\x1d", 5353), Detection::Unknown);
        // On IRC's ports, any IRC line.
        assert_eq!(detect(b"USER foo\n", b"", 6667), Detection::Found(Irc));
        assert_eq!(detect(b"353 \n", b"", 6666), Detection::Found(Irc));
        assert_eq!(detect(b"USER foo\n", b"+OK\r\n", 110), Detection::Unknown);
        assert_eq!(
            detect(b"GET / HTTP/1.1\r\n", b"", 6667),
            Detection::Found(Http)
        );
    }

    #[test]
    fn waiting_and_giving_up() {
        assert_eq!(detect(b"", b"", 80), Detection::NeedMore);
        assert_eq!(detect(b"GE", b"", 80), Detection::NeedMore);
        assert_eq!(
            detect(b"\x16\x03\x01\x02\x00", b"", 443),
            Detection::NeedMore,
            "the server may still speak first"
        );
        assert_eq!(
            detect(b"\x16\x03\x01\x02\x00", b"\x16\x03\x03", 443),
            Detection::Unknown
        );
        assert_eq!(
            detect(b"SSH-2.0-OpenSSH\r\n", b"SSH-2.0-x\r\n", 22),
            Detection::Unknown
        );
    }

    #[test]
    fn ftp_greetings_are_not_smtp() {
        assert_eq!(
            detect(b"", b"220 ProFTPD Server ready.\r\n", 2121),
            Detection::NeedMore
        );
        assert_eq!(
            detect(b"USER anonymous\r\n", b"220 (vsFTPd 3.0.3)\r\n", 21),
            Detection::Unknown
        );
        assert_eq!(detect(b"", b"220 welcome\r\n", 21), Detection::NeedMore);
        assert_eq!(
            detect(b"EHLO me\r\n", b"220 welcome\r\n", 21),
            Detection::Found(Smtp)
        );
    }
}
