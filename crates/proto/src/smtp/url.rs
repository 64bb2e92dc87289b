//! URLs in the text of a message (`email.url`), found the way Suricata's
//! MIME decoder finds them, so that the lists agree:
//!
//! - only in parts whose text a reader sees or saves: a part with no
//!   Content-Type, `text/plain`, `text/html`, `message/*`, and any part
//!   with a file name (an attachment), after undoing its transfer encoding;
//! - whole lines at a time (a line split by a base64 chunk or a
//!   quoted-printable soft break is joined first, up to 8 KiB);
//! - for each configured scheme in turn (`http://` by default), every
//!   case-insensitive occurrence, up to the first space, tab, quote,
//!   apostrophe, angle bracket or `]`. A line break does not end a URL
//!   (Suricata's rule), so a URL that ends its line keeps the break;
//! - written without the scheme unless `log_url_scheme` is set.
//!
//! The list is bounded; URLs past the bound are counted, not kept.

use std::sync::Arc;

/// What is extracted (Suricata's `app-layer.protocols.smtp.mime`
/// `extract-urls`, `extract-urls-schemes`, `log-url-scheme`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlConfig {
    pub extract: bool,
    /// Lower-case prefixes searched for, each ending in `://` (or `/`).
    pub schemes: Arc<[Box<[u8]>]>,
    /// Keep the scheme in what is logged.
    pub log_scheme: bool,
}

impl Default for UrlConfig {
    fn default() -> Self {
        UrlConfig::new(true, &["http"], false)
    }
}

impl UrlConfig {
    /// `schemes` as configured (`http`, `ftp`, `mailto`): `://` is added to
    /// a name that does not end in `/`, as Suricata does.
    pub fn new<S: AsRef<str>>(extract: bool, schemes: &[S], log_scheme: bool) -> Self {
        let schemes = schemes
            .iter()
            .map(|s| {
                let mut p = s.as_ref().trim().to_ascii_lowercase().into_bytes();
                if !p.ends_with(b"/") {
                    p.extend_from_slice(b"://");
                }
                p.into_boxed_slice()
            })
            .filter(|p| p.len() > 3)
            .collect();
        UrlConfig {
            extract,
            schemes,
            log_scheme,
        }
    }
}

/// A line is searched once it is complete or this long.
const MAX_LINE: usize = 8192;

/// Bytes that end a URL.
fn ends_url(c: u8) -> bool {
    matches!(c, b' ' | b'"' | b'\'' | b'<' | b'>' | b']' | b'\t')
}

/// Finds URLs in decoded message text fed in arbitrary pieces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlScanner {
    /// The start of a line not complete yet.
    pending: Vec<u8>,
    /// URLs in the order found (Suricata logs them last first).
    pub urls: Vec<String>,
    /// URLs found beyond the bound.
    pub dropped: u32,
}

/// Bounds on what a scanner keeps.
#[derive(Clone, Copy, Debug)]
pub struct UrlBounds {
    pub max_urls: usize,
    pub max_len: usize,
}

impl UrlScanner {
    /// Adds decoded text: one line of the message (with its line break)
    /// or what one line decoded to, as Suricata feeds its search. Text up
    /// to the last line break is searched now (a URL in a piece that ends
    /// with its break keeps the break); the rest waits for its end or for
    /// the line to grow past 8 KiB.
    pub fn feed(&mut self, cfg: &UrlConfig, b: UrlBounds, input: &[u8]) {
        if !cfg.extract || cfg.schemes.is_empty() {
            return;
        }
        let new_len = input.len();
        let joined;
        let buf: &[u8] = if self.pending.is_empty() {
            input
        } else {
            self.pending.extend_from_slice(input);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        if buf.is_empty() {
            return;
        }
        if buf.last() == Some(&b'\n') || buf.len() > MAX_LINE {
            self.extract(cfg, b, buf);
        } else if let Some(back) = buf[buf.len() - new_len..].iter().rposition(|&c| c == b'\n') {
            let x = buf.len() - new_len + back;
            self.extract(cfg, b, &buf[..x]);
            self.pending = buf[x..].to_vec();
        } else {
            // No line end yet: all of it waits (it is at most MAX_LINE).
            self.pending = buf.to_vec();
        }
    }

    /// The message or part ended: a line left without its end is searched.
    pub fn finish(&mut self, cfg: &UrlConfig, b: UrlBounds) {
        self.feed(cfg, b, b"\n");
    }

    /// A new MIME part starts: an unfinished line of the last is dropped
    /// (Suricata forgets it too).
    pub fn new_part(&mut self) {
        self.pending.clear();
    }

    /// Heap bytes held.
    pub fn heap_size(&self) -> usize {
        self.pending.capacity()
            + self.urls.capacity() * std::mem::size_of::<String>()
            + self.urls.iter().map(String::capacity).sum::<usize>()
    }

    fn extract(&mut self, cfg: &UrlConfig, b: UrlBounds, text: &[u8]) {
        for scheme in cfg.schemes.iter() {
            let mut rest = text;
            while let Some(at) = find_nocase(rest, scheme) {
                let from = &rest[at..];
                let len = from.iter().position(|&c| ends_url(c)).unwrap_or(from.len());
                let url = if cfg.log_scheme {
                    &from[..len]
                } else {
                    &from[scheme.len().min(len)..len]
                };
                if self.urls.len() < b.max_urls {
                    self.urls.push(cut(url, b.max_len));
                } else {
                    self.dropped = self.dropped.saturating_add(1);
                }
                rest = &from[len.max(1)..];
            }
        }
    }
}

/// The first case-insensitive occurrence of `needle` (lower case) in `hay`.
fn find_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let i = from + memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..])?;
        if hay.len() - i < needle.len() {
            return None;
        }
        if hay[i + 1..i + needle.len()].eq_ignore_ascii_case(tail) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

fn cut(b: &[u8], max: usize) -> String {
    let mut s = String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned();
    if s.len() > max {
        let mut c = max;
        while !s.is_char_boundary(c) {
            c -= 1;
        }
        s.truncate(c);
    }
    s
}

/// Base64 (RFC 2045) decoded across lines: characters outside the
/// alphabet are skipped, `=` ends a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Base64 {
    acc: u32,
    n: u8,
}

impl Base64 {
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &c in input {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    self.flush(out);
                    continue;
                }
                _ => continue,
            };
            self.acc = self.acc << 6 | u32::from(v);
            self.n += 1;
            if self.n == 4 {
                out.extend_from_slice(&self.acc.to_be_bytes()[1..]);
                *self = Base64::default();
            }
        }
    }

    /// A group cut short by padding: the whole bytes it holds.
    fn flush(&mut self, out: &mut Vec<u8>) {
        match self.n {
            2 => out.push((self.acc >> 4) as u8),
            3 => out.extend_from_slice(&((self.acc >> 2) as u16).to_be_bytes()),
            _ => {}
        }
        *self = Base64::default();
    }
}

/// One quoted-printable line decoded as Suricata's MIME decoder does for
/// URL search: `=XX` escapes undone (a bad one dropped), a soft break
/// (`=` ending a line that had its line break) joins the next line, and
/// any other line keeps its break (`eol`).
pub fn quoted_printable(line: &[u8], eol: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < line.len() {
        if line[i] != b'=' {
            out.push(line[i]);
            i += 1;
            continue;
        }
        if i + 1 == line.len() && !eol.is_empty() {
            // Soft line break.
            return;
        }
        if i + 2 >= line.len() {
            // A cut escape: dropped, and so is the rest of the line.
            break;
        }
        if let (Some(h), Some(l)) = (hex_upper(line[i + 1]), hex_upper(line[i + 2])) {
            out.push(h << 4 | l);
        }
        i += 3;
    }
    out.extend_from_slice(eol);
}

/// A quoted-printable hex digit (RFC 2045 allows upper case only).
fn hex_upper(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: UrlBounds = UrlBounds {
        max_urls: 8,
        max_len: 64,
    };

    fn scan(cfg: &UrlConfig, text: &[u8]) -> UrlScanner {
        let mut s = UrlScanner::default();
        s.feed(cfg, B, text);
        s.finish(cfg, B);
        s
    }

    const LINE: &[u8] = b"This is the body. http://google.com is a link. http://test-site.org/blah/123/ \
        is another one. https://facebook.com is also a link. ftp://172.42.48.124 is also a link.\r\n";

    #[test]
    fn default_is_http_without_the_scheme() {
        let s = scan(&UrlConfig::default(), LINE);
        assert_eq!(s.urls, ["google.com", "test-site.org/blah/123/"]);
    }

    #[test]
    fn schemes_in_configured_order_with_scheme() {
        let cfg = UrlConfig::new(true, &["http", "https", "ftp", "mailto"], true);
        let s = scan(&cfg, LINE);
        assert_eq!(
            s.urls,
            [
                "http://google.com",
                "http://test-site.org/blah/123/",
                "https://facebook.com",
                "ftp://172.42.48.124"
            ]
        );
        let off = UrlConfig::new(false, &["http"], true);
        assert!(scan(&off, LINE).urls.is_empty());
    }

    #[test]
    fn case_terminators_and_line_breaks() {
        let cfg = UrlConfig::new(true, &["http"], true);
        let s = scan(
            &cfg,
            b"<a href=\"HTTP://A.example/x\">[http://b.example]</a>\tend http://c.example\r\nnext\r\n",
        );
        assert_eq!(
            s.urls,
            [
                "HTTP://A.example/x",
                "http://b.example",
                "http://c.example\r\nnext\r\n"
            ]
        );
    }

    #[test]
    fn lines_are_joined_before_search() {
        let cfg = UrlConfig::new(true, &["http"], true);
        let mut s = UrlScanner::default();
        s.feed(&cfg, B, b"see htt");
        assert!(s.urls.is_empty());
        s.feed(&cfg, B, b"p://x.example/a b\n");
        assert_eq!(s.urls, ["http://x.example/a"]);
        // A new part forgets an unfinished line.
        s.feed(&cfg, B, b"http://lost");
        s.new_part();
        s.finish(&cfg, B);
        assert_eq!(s.urls.len(), 1);
    }

    #[test]
    fn bounded_and_counted() {
        let cfg = UrlConfig::default();
        let text = b"http://a http://b http://c http://d http://e http://f http://g http://h http://i http://j\n";
        let s = scan(&cfg, text);
        assert_eq!(s.urls.len(), 8);
        assert_eq!(s.dropped, 2);
        let long = [b"http://".as_slice(), &[b'x'; 200], b"\n"].concat();
        assert_eq!(scan(&cfg, &long).urls[0].len(), 64);
    }

    #[test]
    fn base64_across_lines() {
        let mut d = Base64::default();
        let mut out = Vec::new();
        for line in [
            b"IDxkaXY+PGRpdj5odHRwOi8vY29kYXNob3AtZnJlZTAxLmR1Y2tk".as_slice(),
            b"bnMub3JnLzwvZGl2Pg==",
        ] {
            d.decode(line, &mut out);
        }
        assert_eq!(out, b" <div><div>http://codashop-free01.duckdns.org/</div>");
        let mut out = Vec::new();
        Base64::default().decode(b"aGk=\r\n", &mut out);
        assert_eq!(out, b"hi");
    }

    #[test]
    fn quoted_printable_lines() {
        let mut out = Vec::new();
        quoted_printable(b"a=3Db http://x.exa=", b"\r\n", &mut out);
        quoted_printable(b"mple/ c", b"\r\n", &mut out);
        assert_eq!(out, b"a=b http://x.example/ c\r\n");
        let mut out = Vec::new();
        quoted_printable(b"bad =ZZ end=4", b"\r\n", &mut out);
        assert_eq!(out, b"bad  end\r\n");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            cut in 0usize..600,
        ) {
            let cfg = UrlConfig::new(true, &["http", "h", "/", "mailto"], true);
            let at = cut.min(b.len());
            let mut s = UrlScanner::default();
            s.feed(&cfg, B, &b[..at]);
            s.feed(&cfg, B, &b[at..]);
            s.finish(&cfg, B);
            let mut out = Vec::new();
            Base64::default().decode(&b, &mut out);
            quoted_printable(&b, b"\n", &mut out);
            proptest::prop_assert!(s.urls.len() <= B.max_urls);
        }
    }
}
