use super::*;
use crate::{Probe, StreamDriver};

use Direction::{ToClient as TC, ToServer as TS};

/// A query for `www.Example.com MX`, id 0x1234, RD set.
fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

#[test]
fn a_query_and_its_answer() {
    let q = parse(&query("www.Example.com", MX)).unwrap();
    assert_eq!(q.header.id, 0x1234);
    assert!(!q.header.response() && q.header.rd());
    let qn = q.question.unwrap();
    assert_eq!(
        (qn.name.as_str(), qn.qtype, qn.qclass),
        ("www.Example.com", 15, 1)
    );
    // An NXDOMAIN answer repeating the question through a pointer to it.
    let mut r = query("a.example", 1);
    r[2] = 0x81;
    r[3] = 0x83;
    r[7] = 1;
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    let m = parse(&r).unwrap();
    assert!(m.header.response() && m.header.ra());
    assert_eq!(rcode_name(m.header.rcode()), "NXDOMAIN");
    assert_eq!(m.question.unwrap().name, "a.example");
    assert_eq!(rrtype_name(1), "A");
    assert_eq!(rrtype_name(65000), "65000");
    assert_eq!(rcode_name(12), "12");
}

#[test]
fn odd_names_are_escaped_and_bad_ones_refused() {
    let mut m = query("x", 1);
    m[13] = 0xff;
    assert_eq!(parse(&m).unwrap().question.unwrap().name, "\\xff");
    let root = {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0, 2, 0, 1]);
        m
    };
    assert_eq!(parse(&root).unwrap().question.unwrap().name, "");
    // A pointer to itself.
    let mut lp = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12];
    lp.extend_from_slice(&[0, 1, 0, 1]);
    assert_eq!(parse(&lp), Err(DnsError::BadQuestion));
    assert_eq!(parse(&[0; 5]), Err(DnsError::Short));
    let mut cut = query("example.com", 1);
    cut.truncate(cut.len() - 3);
    assert_eq!(parse(&cut), Err(DnsError::BadQuestion));
    let mut many = query("a", 1);
    many[5] = 200;
    assert_eq!(parse(&many), Err(DnsError::NotDns));
    let long: Vec<String> = (0..10).map(|_| "a".repeat(60)).collect();
    assert_eq!(
        parse(&query(&long.join("."), 1)),
        Err(DnsError::BadQuestion)
    );
}

fn tcp(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

fn run_tcp(ts: &[u8], tc: &[u8], step: usize) -> Vec<DnsEvent> {
    let mut d = StreamDriver::new(DnsTcpParser::default(), 1 << 16);
    let mut ev = Vec::new();
    for p in ts.chunks(step) {
        d.feed(TS, p, &mut ev);
    }
    for p in tc.chunks(step) {
        d.feed(TC, p, &mut ev);
    }
    ev
}

#[test]
fn tcp_messages_whole_and_long() {
    let mut big = query("axfr.example", 252);
    big.extend(std::iter::repeat_n(0u8, 3000));
    let ts = tcp(&[query("a.example", 1), big, query("b.example", MX)]);
    let ev = run_tcp(&ts, &[], usize::MAX);
    let names: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            DnsEvent::Message { msg, .. } => msg.question.as_ref().map(|q| q.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["a.example", "axfr.example", "b.example"]);
    for step in [1, 2, 3, 7, 100] {
        assert_eq!(run_tcp(&ts, &[], step), ev, "step {step}");
    }
    assert_eq!(probe_tcp(&ts), Probe::Match);
    assert_eq!(probe_tcp(&ts[..5]), Probe::NeedMore);
    assert_eq!(probe_tcp(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
}

#[test]
fn tcp_cut_at_every_point_gives_the_same_events() {
    let ts = tcp(&[query("one.example", 1), query("two.example", MX)]);
    let whole = run_tcp(&ts, &ts, usize::MAX);
    assert_eq!(whole.len(), 4);
    for at in 0..=ts.len() {
        let mut d = StreamDriver::new(DnsTcpParser::default(), 1 << 16);
        let mut ev = Vec::new();
        for dir in [TS, TC] {
            d.feed(dir, &ts[..at], &mut ev);
            d.feed(dir, &ts[at..], &mut ev);
        }
        assert_eq!(ev, whole, "cut at {at}");
    }
}

#[test]
fn a_gap_ends_tcp_reading() {
    let mut d = StreamDriver::new(DnsTcpParser::default(), 1 << 16);
    let mut ev = Vec::new();
    d.gap(TS, 10, &mut ev);
    d.feed(TS, &tcp(&[query("a.example", 1)]), &mut ev);
    assert_eq!(
        ev,
        [DnsEvent::Anomaly {
            dir: TS,
            kind: DnsError::Gap
        }]
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&data);
            let _ = probe_tcp(&data);
            let _ = run_tcp(&data, &data, 7);
        }

        #[test]
        fn any_cut_gives_the_same_tcp_events(cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let ts = tcp(&[query("one.example", 1), query("two.example", 28), query("three.example", MX)]);
            let whole = run_tcp(&ts, &[], usize::MAX);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (ts.len() + 1)).collect();
            points.sort_unstable();
            let mut d = StreamDriver::new(DnsTcpParser::default(), 1 << 16);
            let mut ev = Vec::new();
            let mut at = 0;
            for p in points.into_iter().chain([ts.len()]) {
                d.feed(TS, &ts[at..p], &mut ev);
                at = p;
            }
            prop_assert_eq!(ev, whole);
        }
    }
}
