//! An email message as it crosses SMTP's DATA or BDAT: RFC 5322 headers,
//! RFC 2047 encoded words, MIME parts (for attachment names) and the first
//! lines of the text body. Fed in arbitrary pieces; keeps only what it
//! reports, within bounds.

use base64::Engine;

use super::url::{self, UrlBounds, UrlConfig, UrlScanner};

/// What is kept of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Email {
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Option<String>,
    /// RFC 2047 encoded words decoded.
    pub subject: Option<String>,
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// X-Mailer, or else User-Agent.
    pub x_mailer: Option<String>,
    pub received: Vec<String>,
    pub x_originating_ip: Option<String>,
    /// File names of attachments (Content-Disposition filename or Content-Type name).
    pub attachments: Vec<String>,
    /// Attachment names beyond the bound.
    pub attachments_dropped: u32,
    /// URLs in the text, in the order found (see [`super::url`]).
    pub urls: Vec<String>,
    /// URLs beyond the bound.
    pub urls_dropped: u32,
    /// MD5 of the body (everything after the message's own headers, as
    /// sent), in hex, when `Limits::body_md5`.
    pub body_md5: Option<String>,
    /// MD5 of the Subject header's value as sent, when `Limits::subject_md5`.
    pub subject_md5: Option<String>,
    /// The first lines of the text body, decoded (quoted-printable, base64).
    pub body_lines: Vec<String>,
    /// Message bytes seen (after dot-unstuffing).
    pub size: u64,
    /// The header section ended (an empty line was seen).
    pub headers_done: bool,
    /// The first Shellshock probe in a header (of the message or of a MIME part).
    pub shellshock: Option<Box<crate::shellshock::Hit>>,
}

crate::heap_size_of_fields!(Email: from, to, cc, reply_to, subject, date, message_id, in_reply_to,
    x_mailer, received, x_originating_ip, attachments, urls, body_lines, shellshock, body_md5,
    subject_md5);

impl crate::heap::HeapSize for Part {
    fn heap_size(&self) -> usize {
        crate::heap::HeapSize::heap_size(&self.boundary)
    }
}

crate::heap_size_of_fields!(MessageParser: email, header, partial, stack, current, part_ctype,
    part_cdisp, part_cte, top_ctype, top_cte, url_scan, body_md5);

/// A hash state owns no heap beyond itself (the `Box` counts its size).
impl crate::heap::HeapSize for md5::Md5 {
    fn heap_size(&self) -> usize {
        0
    }
}

impl crate::heap::HeapSize for UrlScanner {
    fn heap_size(&self) -> usize {
        UrlScanner::heap_size(self)
    }
}

/// Limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_value: usize,
    pub max_list: usize,
    pub body_lines: usize,
    /// Bytes of one header (with its folded lines) before it is cut.
    pub max_header: usize,
    /// URL extraction (`email.url`); at most `max_list` URLs of at most
    /// `max_value` bytes are kept.
    pub urls: UrlConfig,
    /// Compute `body_md5` and `subject_md5`.
    pub body_md5: bool,
    pub subject_md5: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Plain,
    QuotedPrintable,
    Base64,
}

/// One MIME part being read.
#[derive(Clone, Debug)]
struct Part {
    /// Boundary of this part's children, if it is multipart.
    boundary: Option<Vec<u8>>,
    encoding: Encoding,
    text: bool,
    /// Searched for URLs (Suricata's choice of parts, see [`super::url`]).
    urls: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    /// Top-level headers.
    Headers,
    /// Headers of a MIME part.
    PartHeaders,
    Body,
}

/// Parses a message line by line.
#[derive(Debug)]
pub struct MessageParser {
    limits: Limits,
    pub email: Email,
    at: Where,
    /// The header being assembled (with its continuation lines).
    header: Vec<u8>,
    /// A line not complete yet.
    partial: Vec<u8>,
    /// Enclosing multiparts, innermost last (bounded depth).
    stack: Vec<Part>,
    /// The part whose headers or body is being read.
    current: Part,
    /// Part headers collected for the current part.
    part_ctype: Option<String>,
    part_cdisp: Option<String>,
    part_cte: Option<String>,
    top_ctype: Option<String>,
    top_cte: Option<String>,
    url_scan: UrlScanner,
    base64: url::Base64,
    /// The body's MD5 so far, once the message's headers ended.
    body_md5: Option<Box<md5::Md5>>,
    /// The line being fed was dot-stuffed (its first `.` removed).
    stuffed: bool,
    /// A To (Cc) header was seen: later ones are not logged.
    seen_to: bool,
    seen_cc: bool,
}

const MAX_DEPTH: usize = 4;
/// Longest line kept; longer lines are cut (body lines are not kept anyway).
const MAX_LINE: usize = 4096;

impl MessageParser {
    pub fn new(limits: Limits) -> Self {
        MessageParser {
            limits,
            email: Email::default(),
            at: Where::Headers,
            header: Vec::new(),
            partial: Vec::new(),
            stack: Vec::new(),
            current: Part {
                boundary: None,
                encoding: Encoding::Plain,
                text: true,
                urls: false,
            },
            part_ctype: None,
            part_cdisp: None,
            part_cte: None,
            top_ctype: None,
            top_cte: None,
            url_scan: UrlScanner::default(),
            base64: url::Base64::default(),
            body_md5: None,
            stuffed: false,
            seen_to: false,
            seen_cc: false,
        }
    }

    /// The next line fed starts after a transparency dot that was removed
    /// (RFC 5321 4.5.2): the body's MD5 covers it, as Suricata's does.
    pub fn stuffed_dot(&mut self) {
        self.stuffed = true;
    }

    fn url_bounds(&self) -> UrlBounds {
        UrlBounds {
            max_urls: self.limits.max_list,
            max_len: self.limits.max_value,
        }
    }

    /// Adds message bytes (already dot-unstuffed).
    pub fn feed(&mut self, mut data: &[u8]) {
        self.email.size += data.len() as u64;
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    if self.partial.is_empty() && i < MAX_LINE {
                        self.line(&data[..=i]);
                    } else {
                        // A long line is cut, keeping its line break.
                        let room = MAX_LINE.saturating_sub(self.partial.len());
                        self.partial.extend_from_slice(&data[..i.min(room)]);
                        self.partial.push(b'\n');
                        let line = std::mem::take(&mut self.partial);
                        self.line(&line);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    let room = MAX_LINE.saturating_sub(self.partial.len());
                    self.partial
                        .extend_from_slice(&data[..data.len().min(room)]);
                    data = &[];
                }
            }
        }
    }

    /// The message ended: whatever is pending is taken as complete.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.flush_header();
        if let Some(h) = self.body_md5.take() {
            self.email.body_md5 = Some(hex_digest(&md5::Digest::finalize(*h)));
        }
        let b = self.url_bounds();
        self.url_scan.finish(&self.limits.urls, b);
        self.email.urls = std::mem::take(&mut self.url_scan.urls);
        self.email.urls_dropped = self.url_scan.dropped;
    }

    /// One line: `full` with its line break, if it had one.
    fn line(&mut self, full: &[u8]) {
        if let Some(h) = self.body_md5.as_mut() {
            if self.stuffed {
                md5::Digest::update(h.as_mut(), b".");
            }
            md5::Digest::update(h.as_mut(), full);
        }
        self.stuffed = false;
        let line = full.strip_suffix(b"\n").unwrap_or(full);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match self.at {
            Where::Headers | Where::PartHeaders => {
                if line.is_empty() {
                    self.flush_header();
                    self.end_of_headers();
                } else if line[0] == b' ' || line[0] == b'\t' {
                    // Folded: Suricata joins continuation lines without the
                    // line break and leading white space; so do we.
                    let cont = line.trim_ascii_start();
                    let room = self.limits.max_header.saturating_sub(self.header.len());
                    self.header.extend_from_slice(&cont[..cont.len().min(room)]);
                } else {
                    self.flush_header();
                    let room = self.limits.max_header;
                    self.header.extend_from_slice(&line[..line.len().min(room)]);
                }
            }
            Where::Body => self.body_line(line, full),
        }
    }

    fn flush_header(&mut self) {
        if self.header.is_empty() {
            return;
        }
        let h = std::mem::take(&mut self.header);
        let Some(colon) = memchr::memchr(b':', &h) else {
            return;
        };
        let name = String::from_utf8_lossy(h[..colon].trim_ascii()).to_ascii_lowercase();
        let value = h[colon + 1..].trim_ascii();
        if self.email.shellshock.is_none()
            && let Some(f) = crate::shellshock::scan(value, crate::shellshock::Encoding::Raw)
        {
            self.email.shellshock = Some(Box::new(crate::shellshock::Hit::new(
                "header",
                Some(h[..colon].trim_ascii()),
                f,
            )));
        }
        match self.at {
            Where::Headers => self.top_header(&name, value),
            Where::PartHeaders => {
                let v = Some(lossy(value));
                match name.as_str() {
                    "content-type" => self.part_ctype = v,
                    "content-disposition" => self.part_cdisp = v,
                    "content-transfer-encoding" => self.part_cte = v,
                    _ => {}
                }
            }
            Where::Body => {}
        }
    }

    fn top_header(&mut self, name: &str, value: &[u8]) {
        let max = self.limits.max_value;
        let text = || cut(lossy(value), max);
        let e = &mut self.email;
        match name {
            // As Suricata logs them: the first header of each name.
            "from" if e.from.is_none() => e.from = Some(text()),
            "to" if !self.seen_to => {
                self.seen_to = true;
                push_list(&mut e.to, value, self.limits.max_list, max);
            }
            "cc" if !self.seen_cc => {
                self.seen_cc = true;
                push_list(&mut e.cc, value, self.limits.max_list, max);
            }
            "reply-to" => e.reply_to = Some(text()),
            "subject" => {
                e.subject = Some(cut(decode_words(value), max));
                if self.limits.subject_md5 {
                    e.subject_md5 = Some(hex_digest(&<md5::Md5 as md5::Digest>::digest(value)));
                }
            }
            "date" => e.date = Some(text()),
            "message-id" => e.message_id = Some(text()),
            "in-reply-to" => e.in_reply_to = Some(text()),
            "x-mailer" => e.x_mailer = Some(text()),
            "user-agent" if e.x_mailer.is_none() => e.x_mailer = Some(text()),
            "received" if e.received.len() < self.limits.max_list => e.received.push(text()),
            "x-originating-ip" => e.x_originating_ip = Some(text()),
            "content-type" => self.top_ctype = Some(lossy(value)),
            "content-transfer-encoding" => self.top_cte = Some(lossy(value)),
            _ => {}
        }
    }

    fn end_of_headers(&mut self) {
        let (ctype, cte, cdisp) = match self.at {
            Where::Headers => {
                self.email.headers_done = true;
                if self.limits.body_md5 {
                    self.body_md5 = Some(Box::new(<md5::Md5 as md5::Digest>::new()));
                }
                (self.top_ctype.take(), self.top_cte.take(), None)
            }
            _ => (
                self.part_ctype.take(),
                self.part_cte.take(),
                self.part_cdisp.take(),
            ),
        };
        let ctype_l = ctype
            .as_deref()
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        let name = cdisp
            .as_deref()
            .and_then(|d| param(d, "filename"))
            .or_else(|| ctype.as_deref().and_then(|c| param(c, "name")));
        let attachment = name.is_some();
        if let Some(name) = name {
            if self.email.attachments.len() < self.limits.max_list {
                self.email
                    .attachments
                    .push(cut(decode_words(name.as_bytes()), self.limits.max_value));
            } else {
                self.email.attachments_dropped = self.email.attachments_dropped.saturating_add(1);
            }
        }
        // Suricata's media type: the value up to `;`, compared exactly.
        let media = ctype.as_deref().map(|c| c.split(';').next().unwrap_or(c));
        if media.is_some_and(|m| m.starts_with("message/")) {
            // An enclosed message: its own headers follow.
            self.at = Where::PartHeaders;
            self.url_scan.new_part();
            return;
        }
        let urls = attachment || matches!(media, None | Some("text/plain" | "text/html"));
        let boundary = if ctype_l.starts_with("multipart/") {
            ctype
                .as_deref()
                .and_then(|c| param(c, "boundary"))
                .map(String::into_bytes)
        } else {
            None
        };
        let encoding = match cte.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
            Some(e) if e == "quoted-printable" => Encoding::QuotedPrintable,
            Some(e) if e == "base64" => Encoding::Base64,
            _ => Encoding::Plain,
        };
        self.current = Part {
            boundary: boundary.clone(),
            encoding,
            text: ctype_l.starts_with("text/"),
            urls: urls && boundary.is_none(),
        };
        self.base64 = url::Base64::default();
        if boundary.is_some() && self.stack.len() < MAX_DEPTH {
            self.stack.push(self.current.clone());
        }
        self.at = Where::Body;
    }

    /// A body line: `line` without its line break, `full` with it.
    fn body_line(&mut self, line: &[u8], full: &[u8]) {
        // A boundary line of an enclosing multipart starts or ends a part.
        if line.starts_with(b"--") {
            for depth in (0..self.stack.len()).rev() {
                let Some(b) = self.stack[depth].boundary.as_deref() else {
                    continue;
                };
                let rest = &line[2..];
                if let Some(tail) = rest.strip_prefix(b) {
                    self.url_scan.new_part();
                    self.stack.truncate(depth + 1);
                    if tail.starts_with(b"--") {
                        // The multipart ended: its trailing text is not a part.
                        self.stack.pop();
                        self.current = Part {
                            boundary: None,
                            encoding: Encoding::Plain,
                            text: false,
                            urls: false,
                        };
                    } else {
                        self.at = Where::PartHeaders;
                    }
                    return;
                }
            }
        }
        if self.current.urls && self.limits.urls.extract {
            self.search_urls(line, full);
        }
        // Only the text of the message is searched for proxy-check markers.
        if !self.current.text || self.current.boundary.is_some() {
            return;
        }
        if self.email.body_lines.len() >= self.limits.body_lines {
            return;
        }
        let decoded = match self.current.encoding {
            Encoding::Plain => lossy(line),
            Encoding::QuotedPrintable => decode_qp(line),
            Encoding::Base64 => {
                match base64::engine::general_purpose::STANDARD.decode(line.trim_ascii()) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(_) => lossy(line),
                }
            }
        };
        for l in decoded.split('\n') {
            let l = l.trim_end_matches('\r');
            if !l.trim().is_empty() && self.email.body_lines.len() < self.limits.body_lines {
                self.email
                    .body_lines
                    .push(cut(l.to_owned(), self.limits.max_value));
            }
        }
    }
}

impl MessageParser {
    /// A body line through the part's transfer decoding into the URL search
    /// (`line` without its line break, `full` with it).
    fn search_urls(&mut self, line: &[u8], full: &[u8]) {
        let b = self.url_bounds();
        let cfg = &self.limits.urls;
        match self.current.encoding {
            // The line as it came, with its break.
            Encoding::Plain => self.url_scan.feed(cfg, b, full),
            Encoding::QuotedPrintable => {
                let eol = &full[line.len().min(full.len())..];
                let mut out = Vec::with_capacity(full.len());
                url::quoted_printable(line, eol, &mut out);
                self.url_scan.feed(cfg, b, &out);
            }
            Encoding::Base64 => {
                let mut out = Vec::with_capacity(line.len());
                self.base64.decode(line, &mut out);
                self.url_scan.feed(cfg, b, &out);
            }
        }
    }
}

fn hex_digest(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut c = max;
        while !s.is_char_boundary(c) {
            c -= 1;
        }
        s.truncate(c);
    }
    s
}

/// Splits an address list as Suricata's `email.to`/`email.cc` do: at
/// commas outside double quotes, leading spaces and tabs dropped, nothing
/// else trimmed, empty pieces left out.
fn push_list(out: &mut Vec<String>, value: &[u8], max_list: usize, max: usize) {
    #[derive(PartialEq)]
    enum At {
        Start,
        Field,
        Quoted,
    }
    let mut emit = |piece: &[u8]| {
        if out.len() < max_list {
            out.push(cut(lossy(piece), max));
        }
    };
    let mut at = At::Start;
    let mut start = 0;
    for (i, &c) in value.iter().enumerate() {
        match at {
            At::Start if c == b' ' || c == b'\t' => start += 1,
            At::Start | At::Field if c == b'"' => at = At::Quoted,
            At::Start => at = At::Field,
            At::Field if c == b',' => {
                if i > start {
                    emit(&value[start..i]);
                }
                start = i + 1;
                at = At::Start;
            }
            At::Field => {}
            At::Quoted if c == b'"' => at = At::Field,
            At::Quoted => {}
        }
    }
    if value.len() > start {
        emit(&value[start..]);
    }
}

/// A MIME parameter (`boundary=...`, `filename="..."`), case-insensitive name.
fn param(header: &str, name: &str) -> Option<String> {
    for piece in header.split(';').skip(1) {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        // RFC 2231 continuations/charsets (`filename*=`) are taken as plain.
        if k == name || k == format!("{name}*") || k == format!("{name}*0") {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            let v = match v.split_once("''") {
                Some((_, rest)) if k.ends_with('*') => rest,
                _ => v,
            };
            return Some(v.to_owned());
        }
    }
    None
}

/// Decodes RFC 2047 encoded words (`=?charset?Q|B?text?=`); white space
/// between adjacent encoded words is dropped, as the RFC says.
pub fn decode_words(value: &[u8]) -> String {
    let s = lossy(value);
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        match decode_one_word(from) {
            Some((decoded, used)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &from[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `=?charset?enc?text?=` at the start of `s`: the decoded text and the
/// bytes it used.
fn decode_one_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let q1 = inner.find('?')?;
    let charset = inner[..q1].split('*').next()?.to_ascii_lowercase();
    let after = &inner[q1 + 1..];
    let q2 = after.find('?')?;
    let enc = after[..q2].to_ascii_lowercase();
    let text_and_more = &after[q2 + 1..];
    let end = text_and_more.find("?=")?;
    let text = &text_and_more[..end];
    if text.contains(' ') {
        return None;
    }
    let bytes = match enc.as_str() {
        "b" => base64::engine::general_purpose::STANDARD
            .decode(text.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
            })
            .ok()?,
        "q" => decode_q(text.as_bytes()),
        _ => return None,
    };
    let used = 2 + q1 + 1 + q2 + 1 + end + 2;
    Some((to_utf8(&charset, &bytes), used))
}

/// RFC 2047 "Q": quoted-printable where `_` is a space.
fn decode_q(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'='),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Quoted-printable body text (soft line breaks end the line here).
fn decode_qp(line: &[u8]) -> String {
    let line = line.strip_suffix(b"=").unwrap_or(line);
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'='
            && let (Some(h), Some(l)) = (
                line.get(i + 1).copied().and_then(hex),
                line.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(line[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Bytes in `charset` as UTF-8: UTF-8 and ASCII as they are, Latin-1 (and
/// its Windows superset's common range) byte by byte; others lossily.
fn to_utf8(charset: &str, b: &[u8]) -> String {
    match charset {
        "iso-8859-1" | "latin1" | "iso-8859-15" | "windows-1252" | "cp1252" => {
            b.iter().map(|&c| c as char).collect()
        }
        _ => String::from_utf8_lossy(b).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_value: 1024,
            max_list: 32,
            body_lines: 10,
            max_header: 8192,
            urls: UrlConfig::new(true, &["http", "https", "ftp", "mailto"], true),
            body_md5: true,
            subject_md5: true,
        }
    }

    fn parse(msg: &[u8]) -> Email {
        let mut p = MessageParser::new(limits());
        p.feed(msg);
        p.finish();
        p.email
    }

    #[test]
    fn headers_and_folding() {
        let e = parse(
            b"Received: from a (helo=x)\r\n\tby b with esmtp\r\nFrom: \"Gurpartap Singh\" <g@p.in>\r\n\
              To: a@x, \"B, C\" <b@x>, <c@x>\r\nCc: d@x\r\nSubject: hello\r\nX-Mailer: M 1\r\n\r\nbody line\r\n",
        );
        assert_eq!(e.received, ["from a (helo=x)by b with esmtp"]);
        assert_eq!(e.from.as_deref(), Some("\"Gurpartap Singh\" <g@p.in>"));
        assert_eq!(e.to, ["a@x", "\"B, C\" <b@x>", "<c@x>"]);
        assert_eq!(e.cc, ["d@x"]);
        assert_eq!(e.subject.as_deref(), Some("hello"));
        assert_eq!(e.x_mailer.as_deref(), Some("M 1"));
        assert_eq!(e.body_lines, ["body line"]);
        assert!(e.headers_done);
    }

    #[test]
    fn address_lists_split_as_suricata_splits_them() {
        let e = parse(
            b"To: \t a@x ,b@y, \"jam,abrakadabra.ch\" <m@a.ch>,, (Smith, John) <s@x>\r\n\
              To: later@x\r\nCc:\r\nCc: c@x\r\nFrom: first@x\r\nFrom: second@x\r\n\r\n",
        );
        assert_eq!(
            e.to,
            [
                "a@x ",
                "b@y",
                "\"jam,abrakadabra.ch\" <m@a.ch>",
                ", (Smith",
                "John) <s@x>"
            ]
        );
        assert!(e.cc.is_empty());
        assert_eq!(e.from.as_deref(), Some("first@x"));
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words(b"=?UTF-8?B?MTkyLjAuMi4xOjgwODA=?="),
            "192.0.2.1:8080"
        );
        assert_eq!(
            decode_words(b"=?iso-8859-1?Q?Gr=FC=DFe_aus?= Tokyo"),
            "Grüße aus Tokyo"
        );
        assert_eq!(decode_words(b"=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        assert_eq!(decode_words(b"plain =?bad"), "plain =?bad");
        assert_eq!(decode_words(b"=?x?Z?abc?="), "=?x?Z?abc?=");
    }

    #[test]
    fn attachments_and_text_parts() {
        let e = parse(
            b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n\
              Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nproxy 10.0.0.1:3128 =\r\nok\r\n\
              --XX\r\nContent-Type: application/octet-stream; name=\"NEWS.txt\"\r\nContent-Disposition: attachment; filename=\"NEWS.txt\"\r\n\
              Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--XX--\r\nepilogue\r\n",
        );
        assert_eq!(e.attachments, ["NEWS.txt"]);
        assert_eq!(e.body_lines, ["proxy 10.0.0.1:3128 ", "ok"]);
    }

    #[test]
    fn base64_text_body() {
        let e = parse(b"Content-Transfer-Encoding: base64\r\n\r\nMjAzLjAuMTEzLjk6ODA4MA==\r\n");
        assert_eq!(e.body_lines, ["203.0.113.9:8080"]);
    }

    #[test]
    fn urls_in_the_parts_suricata_searches() {
        let e = parse(
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\npreamble http://pre.example\r\n\
              --XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
              <a href=3D\"https://qp.exa=\r\nmple/x\">\r\n\
              --XX\r\nContent-Type: text/csv\r\n\r\nhttp://csv.example\r\n\
              --XX\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
              Z28gaHR0cDovL2I2\r\nNC5leGFtcGxlLyBub3cK\r\n\
              --XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner http://hdr.example\r\n\r\n\
              inner http://inner.example.\r\n--XX--\r\nepilogue http://epi.example\r\n",
        );
        assert_eq!(
            e.urls,
            [
                "https://qp.example/x",
                "http://b64.example/",
                "http://inner.example.\r\n"
            ]
        );
        assert_eq!(e.attachments, ["a.pdf"]);
        let plain = parse(b"To: a@b\r\n\r\nsee http://x.example/a and http://y.example\r\n");
        assert_eq!(plain.urls, ["http://x.example/a", "http://y.example\r\n"]);
    }

    #[test]
    fn md5_of_body_and_subject() {
        let e = parse(b"Subject: Hi there\r\nTo: a@b\r\n\r\nhello\r\n--x\r\n");
        assert_eq!(
            e.body_md5.as_deref(),
            Some("aa58f47f5ad9a7b3988c6f857cbce20d")
        );
        assert_eq!(
            e.subject_md5.as_deref(),
            Some("d9385462d3deff78c352ebb3f941ce12")
        );
        let mut off = limits();
        off.body_md5 = false;
        off.subject_md5 = false;
        let mut p = MessageParser::new(off);
        p.feed(b"Subject: Hi\r\n\r\nbody\r\n");
        p.finish();
        assert_eq!((p.email.body_md5, p.email.subject_md5), (None, None));
    }

    #[test]
    fn pieces_make_no_difference() {
        let msg =
            b"Subject: =?utf-8?B?w6k=?=\r\nTo: a@b\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            aHR0cDovL2E=\r\nLmV4YW1wbGUvIGFuZCBmdHA6Ly9i\r\n";
        let whole = parse(msg);
        for step in 1..msg.len() {
            let mut p = MessageParser::new(limits());
            for piece in msg.chunks(step) {
                p.feed(piece);
            }
            p.finish();
            assert_eq!(p.email, whole, "step {step}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_messages_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..800)) {
            let _ = parse(&b);
            let _ = decode_words(&b);
        }

        #[test]
        fn header_like_messages_never_panic(s in "([A-Za-z-]{1,12}: [ -~]{0,30}\r\n( [ -~]{0,10}\r\n)?){0,6}\r\n[ -~=?]{0,60}") {
            let _ = parse(s.as_bytes());
        }
    }
}
