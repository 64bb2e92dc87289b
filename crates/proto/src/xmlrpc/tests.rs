use super::*;

fn read(body: &[u8]) -> Call {
    let mut s = Scanner::new(Limits::default());
    s.feed(body);
    s.finish()
}

/// What WordPress's own pingback client sends (wp-includes/comment.php,
/// IXR_Client), and what the reflection floods imitate.
const PINGBACK: &[u8] =
    b"<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>pingback.ping</methodName>\n\
<params>\n<param><value><string>http://victim.example/?p=8a1c</string></value></param>\n\
<param><value><string>https://blog.example.net/2014/03/hello-world/</string></value></param>\n\
</params>\n</methodCall>\n";

fn multicall(n: usize, method: &str) -> Vec<u8> {
    let mut b = b"<?xml version=\"1.0\"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>".to_vec();
    for i in 0..n {
        b.extend_from_slice(
            format!(
                "<value><struct><member><name>methodName</name><value><string>{method}</string></value></member>\
                 <member><name>params</name><value><array><data><value><string>admin</string></value>\
                 <value><string>pass{i}</string></value></data></array></value></member></struct></value>"
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(b"</data></array></value></param></params></methodCall>");
    b
}

#[test]
fn a_pingback_names_its_source_and_target() {
    let c = read(PINGBACK);
    assert_eq!(c.method.as_deref(), Some("pingback.ping"));
    assert_eq!(
        c.params,
        [
            Some("http://victim.example/?p=8a1c".to_owned()),
            Some("https://blog.example.net/2014/03/hello-world/".to_owned())
        ]
    );
    assert!(!c.incomplete && !c.is_multicall());
    assert_eq!(
        c.pingbacks(),
        [(
            "http://victim.example/?p=8a1c",
            Some("https://blog.example.net/2014/03/hello-world/")
        )]
    );
}

#[test]
fn a_multicall_is_counted_whole_and_kept_in_part() {
    let c = read(&multicall(500, "wp.getUsersBlogs"));
    assert!(c.is_multicall());
    assert_eq!(c.calls, 500);
    assert_eq!(c.pingbacks, 0);
    assert_eq!(c.subcalls.len(), Limits::default().max_calls);
    assert_eq!(c.subcalls[3].method.as_deref(), Some("wp.getUsersBlogs"));
    assert_eq!(c.subcalls[3].params, ["admin", "pass3"]);
    assert_eq!(c.params, [None], "the batch is one array parameter");
    let c = read(&multicall(3, "pingback.ping"));
    assert_eq!((c.calls, c.pingbacks), (3, 3));
    assert_eq!(c.pingbacks().len(), 3);
    assert_eq!(c.pingbacks()[0], ("admin", Some("pass0")));
}

#[test]
fn xml_details_are_read_as_xml() {
    let body =
        b"<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE x>\n<!-- a comment with <tags> -->\
<methodCall  xmlns:x=\"a>b\"><methodName>pingback.ping</methodName><params>\
<param><value>http://a.example/?x=1&amp;y=&#50;&#x33;</value></param>\
<param><value><string><![CDATA[http://b.example/<p>&]]]]></string></value></param>\
<param><value><int>7</int></value></param><param><value><nil/></value></param>\
</params></methodCall>";
    let c = read(body);
    assert_eq!(
        c.params,
        [
            Some("http://a.example/?x=1&y=23".to_owned()),
            Some("http://b.example/<p>&]]".to_owned()),
            Some("7".to_owned()),
            Some(String::new()),
        ]
    );
    assert!(!c.incomplete, "{c:?}");
}

#[test]
fn what_is_not_a_request_is_incomplete() {
    for body in [
        &b""[..],
        b"<methodCall><methodName>pingback.ping</methodName>",
        b"<html><body>hi</body></html>",
        b"plain text",
        b"<methodResponse><params/></methodResponse>",
    ] {
        assert!(read(body).incomplete, "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn bounds_hold() {
    let long = "x".repeat(5000);
    let body = format!(
        "<methodCall><methodName>{long}</methodName><params><param><value>{long}</value></param></params></methodCall>"
    );
    let c = read(body.as_bytes());
    assert_eq!(c.method.as_ref().map(String::len), Some(512));
    let mut deep = b"<methodCall><params><param><value>".to_vec();
    deep.extend(std::iter::repeat_n(b"<array><data><value>".as_slice(), 100).flatten());
    deep.extend(std::iter::repeat_n(b"</value></data></array>".as_slice(), 100).flatten());
    deep.extend_from_slice(b"</value></param></params></methodCall>");
    let c = read(&deep);
    assert!(c.too_deep);
}

#[test]
fn hosts_of_urls() {
    assert_eq!(
        url_host("http://Victim.Example:8080/x?y").as_deref(),
        Some("victim.example")
    );
    assert_eq!(
        url_host("https://user:pw@[2001:db8::1]:443/").as_deref(),
        Some("2001:db8::1")
    );
    assert_eq!(url_host("//cdn.example./a").as_deref(), Some("cdn.example"));
    assert_eq!(url_host("no scheme"), None);
    assert_eq!(url_host("http:///path"), None);
}

#[test]
fn a_cut_at_every_point_gives_the_same_call() {
    let mut body = PINGBACK.to_vec();
    body.extend_from_slice(&multicall(3, "pingback.ping"));
    let whole = read(&body);
    for at in 0..=body.len() {
        let mut s = Scanner::new(Limits::default());
        s.feed(&body[..at]);
        s.feed(&body[at..]);
        assert_eq!(s.finish(), whole, "cut at {at}");
    }
    let mut s = Scanner::new(Limits::default());
    for b in body.chunks(1) {
        s.feed(b);
    }
    assert_eq!(s.finish(), whole, "byte by byte");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_cut_gives_the_same_call(cuts in proptest::collection::vec(0usize..2000, 0..10)) {
            let mut body = PINGBACK.to_vec();
            body.extend_from_slice(&multicall(4, "pingback.ping"));
            let whole = read(&body);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            points.sort_unstable();
            let mut s = Scanner::new(Limits::default());
            let mut at = 0;
            for p in points.into_iter().chain([body.len()]) {
                s.feed(&body[at..p]);
                at = p;
            }
            prop_assert_eq!(s.finish(), whole);
        }

        #[test]
        fn every_single_split_of_a_multicall(at in 0usize..1500) {
            let body = multicall(5, "pingback.ping");
            let at = at % (body.len() + 1);
            let mut s = Scanner::new(Limits::default());
            s.feed(&body[..at]);
            s.feed(&body[at..]);
            prop_assert_eq!(s.finish(), read(&body));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..800)) {
            let _ = read(&data);
        }

        #[test]
        fn xml_like_garbage_never_panics(s in "(<[/!?]?[a-zA-Z\\[\\]-]{0,12}[ ='\"a-z]{0,8}/?>|[a-z &;#x0-9]{0,6}){0,40}") {
            let _ = read(s.as_bytes());
        }
    }
}
