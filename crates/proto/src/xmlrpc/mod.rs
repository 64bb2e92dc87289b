//! XML-RPC requests (`POST /xmlrpc.php` and the like), read as they stream
//! past: enough of the XML to know the method called, its first string
//! parameters, and for `system.multicall` how many calls the batch carries
//! and what they are.
//!
//! WordPress answers `pingback.ping(source, target)` by fetching `source`:
//! a flood of pingbacks naming one victim turns every WordPress server into
//! an HTTP reflector. `system.multicall` runs hundreds of calls per request,
//! which attackers use to try hundreds of passwords (`wp.getUsersBlogs`) or
//! send hundreds of pingbacks at once.
//!
//! The scanner is a small XML tokenizer (tags, text, entities, comments,
//! CDATA, processing instructions) driving a stack of the XML-RPC elements
//! it cares about. Nothing is buffered beyond one bounded text per open
//! element; the number of calls is counted however many there are, and the
//! first [`Limits::max_calls`] are kept.

#[cfg(test)]
mod tests;

/// Bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a method name, parameter or other text kept.
    pub max_text: usize,
    /// Top-level parameters kept.
    pub max_params: usize,
    /// Calls of a `system.multicall` kept (all are counted).
    pub max_calls: usize,
    /// Parameters kept per multicall call.
    pub max_call_params: usize,
    /// Elements deep; deeper structure is skipped.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text: 512,
            max_params: 4,
            max_calls: 16,
            max_call_params: 2,
            max_depth: 32,
        }
    }
}

/// One call inside a `system.multicall`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubCall {
    pub method: Option<String>,
    /// Its first scalar parameters, as text.
    pub params: Vec<String>,
}

/// What a request called.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// `<methodName>`.
    pub method: Option<String>,
    /// The first top-level parameters: scalars as text, structures as `None`.
    pub params: Vec<Option<String>>,
    /// For `system.multicall`: calls in the batch.
    pub calls: u64,
    /// Of those, `pingback.ping` calls.
    pub pingbacks: u64,
    /// The first calls of the batch.
    pub subcalls: Vec<SubCall>,
    /// The body ended before the `</methodCall>`, or held something that is
    /// not XML-RPC where XML-RPC was expected.
    pub incomplete: bool,
    /// Structure deeper than [`Limits::max_depth`] was skipped.
    pub too_deep: bool,
}

impl Call {
    /// True for `system.multicall`.
    pub fn is_multicall(&self) -> bool {
        self.method.as_deref() == Some("system.multicall")
    }

    /// The (source, target) pairs of the pingbacks this request asks for:
    /// the call itself, or the calls of a multicall that were kept.
    pub fn pingbacks(&self) -> Vec<(&str, Option<&str>)> {
        if self.method.as_deref() == Some("pingback.ping") {
            return self
                .params
                .first()
                .and_then(|p| p.as_deref())
                .map(|s| (s, self.params.get(1).and_then(|p| p.as_deref())))
                .into_iter()
                .collect();
        }
        self.subcalls
            .iter()
            .filter(|c| c.method.as_deref() == Some("pingback.ping"))
            .filter_map(|c| {
                let src = c.params.first()?;
                Some((src.as_str(), c.params.get(1).map(String::as_str)))
            })
            .collect()
    }
}

crate::heap_size_of_fields!(SubCall: method, params);
crate::heap_size_of_fields!(Call: method, params, subcalls);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    MethodCall,
    MethodName,
    Params,
    Param,
    Value,
    Struct,
    Member,
    Name,
    Array,
    Data,
    /// `<string>`, `<int>`, `<boolean>` ...: text inside a value.
    Scalar,
    Other,
}

fn tag_of(name: &[u8]) -> Tag {
    match name {
        b"methodCall" => Tag::MethodCall,
        b"methodName" => Tag::MethodName,
        b"params" => Tag::Params,
        b"param" => Tag::Param,
        b"value" => Tag::Value,
        b"struct" => Tag::Struct,
        b"member" => Tag::Member,
        b"name" => Tag::Name,
        b"array" => Tag::Array,
        b"data" => Tag::Data,
        b"string" | b"int" | b"i4" | b"i8" | b"boolean" | b"double" | b"base64"
        | b"dateTime.iso8601" | b"nil" => Tag::Scalar,
        _ => Tag::Other,
    }
}

/// An open element and what it collects.
#[derive(Clone, Debug)]
struct Frame {
    tag: Tag,
    /// Raw text (entities still encoded), bounded.
    text: Vec<u8>,
    /// A `<value>` holding a struct or array rather than text.
    complex: bool,
    /// A `<member>`'s name, a multicall `<struct>`'s method.
    name: Option<String>,
    /// A multicall `<struct>`'s parameters.
    params: Vec<String>,
    /// A `<member>`'s scalar value.
    scalar: Option<String>,
}

impl Frame {
    fn new(tag: Tag) -> Self {
        Frame {
            tag,
            text: Vec::new(),
            complex: false,
            name: None,
            params: Vec::new(),
            scalar: None,
        }
    }
}

crate::heap_size_of_fields!(Frame: text, name, params, scalar);

/// Where the tokenizer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    Text,
    /// After `<`.
    Open,
    /// Reading a start tag's name.
    StartName,
    /// Reading an end tag's name.
    EndName,
    /// Inside a start tag after its name (attributes); `slash` when the last
    /// byte was `/`, `quote` inside an attribute value.
    Attrs {
        slash: bool,
        quote: Option<u8>,
    },
    /// After `</name`, until `>`.
    EndRest,
    /// `<!` and `seen` bytes of `[CDATA[` seen.
    Bang {
        seen: u8,
    },
    /// `<!-` seen.
    BangDash,
    /// In a comment: `dashes` trailing `-` seen.
    Comment {
        dashes: u8,
    },
    /// In CDATA: `brackets` trailing `]` seen.
    Cdata {
        brackets: u8,
    },
    /// In `<?...?>`; `q` when the last byte was `?`.
    Pi {
        q: bool,
    },
    /// In `<!DOCTYPE ...>` or another declaration.
    Decl,
}

/// Streaming XML-RPC request reader.
#[derive(Clone, Debug)]
pub struct Scanner {
    limits: Limits,
    lex: Lex,
    name: Vec<u8>,
    stack: Vec<Frame>,
    /// Open elements beyond `max_depth` (not on the stack).
    overflow: usize,
    call: Call,
    /// Saw `<methodCall>`.
    started: bool,
    /// Saw `</methodCall>`.
    ended: bool,
}

impl crate::heap::HeapSize for Scanner {
    fn heap_size(&self) -> usize {
        self.name.capacity() + self.stack.heap_size() + self.call.heap_size()
    }
}

const MAX_NAME: usize = 32;
const CDATA: &[u8] = b"[CDATA[";

impl Scanner {
    pub fn new(limits: Limits) -> Self {
        Scanner {
            limits,
            lex: Lex::Text,
            name: Vec::new(),
            stack: Vec::new(),
            overflow: 0,
            call: Call::default(),
            started: false,
            ended: false,
        }
    }

    /// Reads more of the body.
    pub fn feed(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            if self.lex == Lex::Text {
                // Text runs are taken whole up to the next `<`.
                let end = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                self.text(&rest[..end]);
                rest = &rest[end..];
                if let Some((_, tail)) = rest.split_first() {
                    self.lex = Lex::Open;
                    rest = tail;
                }
                continue;
            }
            let (&b, tail) = match rest.split_first() {
                Some(x) => x,
                None => break,
            };
            rest = tail;
            self.byte(b);
        }
    }

    /// The body ended: what was read.
    pub fn finish(mut self) -> Call {
        if !(self.started && self.ended) {
            self.call.incomplete = true;
        }
        self.call.too_deep |= self.overflow > 0;
        self.call
    }

    /// The call as read so far.
    pub fn call(&self) -> &Call {
        &self.call
    }

    fn text(&mut self, t: &[u8]) {
        if t.is_empty() || self.overflow > 0 {
            return;
        }
        let max = self.limits.max_text;
        if let Some(f) = self.stack.last_mut() {
            let room = max.saturating_sub(f.text.len());
            f.text.extend_from_slice(&t[..t.len().min(room)]);
        }
    }

    fn byte(&mut self, b: u8) {
        self.lex = match self.lex {
            Lex::Text => Lex::Text,
            Lex::Open => match b {
                b'/' => {
                    self.name.clear();
                    Lex::EndName
                }
                b'?' => Lex::Pi { q: false },
                b'!' => Lex::Bang { seen: 0 },
                _ => {
                    self.name.clear();
                    self.name.push(b);
                    Lex::StartName
                }
            },
            Lex::StartName => match b {
                b'>' => {
                    self.start_tag();
                    Lex::Text
                }
                b'/' => Lex::Attrs {
                    slash: true,
                    quote: None,
                },
                c if c.is_ascii_whitespace() => Lex::Attrs {
                    slash: false,
                    quote: None,
                },
                c => {
                    if self.name.len() < MAX_NAME {
                        self.name.push(c);
                    }
                    Lex::StartName
                }
            },
            Lex::Attrs { slash, quote } => match (quote, b) {
                (Some(q), c) if c == q => Lex::Attrs {
                    slash: false,
                    quote: None,
                },
                (Some(q), _) => Lex::Attrs {
                    slash: false,
                    quote: Some(q),
                },
                (None, b'"' | b'\'') => Lex::Attrs {
                    slash: false,
                    quote: Some(b),
                },
                (None, b'>') => {
                    self.start_tag();
                    if slash {
                        self.end_tag();
                    }
                    Lex::Text
                }
                (None, b'/') => Lex::Attrs {
                    slash: true,
                    quote: None,
                },
                (None, _) => Lex::Attrs {
                    slash: false,
                    quote: None,
                },
            },
            Lex::EndName => match b {
                b'>' => {
                    self.end_tag();
                    Lex::Text
                }
                c if c.is_ascii_whitespace() => Lex::EndRest,
                c => {
                    if self.name.len() < MAX_NAME {
                        self.name.push(c);
                    }
                    Lex::EndName
                }
            },
            Lex::EndRest => {
                if b == b'>' {
                    self.end_tag();
                    Lex::Text
                } else {
                    Lex::EndRest
                }
            }
            Lex::Bang { seen } => {
                let n = usize::from(seen);
                if n == 0 && b == b'-' {
                    Lex::BangDash
                } else if n < CDATA.len() && b == CDATA[n] {
                    if n + 1 == CDATA.len() {
                        Lex::Cdata { brackets: 0 }
                    } else {
                        Lex::Bang { seen: seen + 1 }
                    }
                } else if b == b'>' {
                    Lex::Text
                } else {
                    Lex::Decl
                }
            }
            Lex::BangDash => match b {
                b'-' => Lex::Comment { dashes: 0 },
                b'>' => Lex::Text,
                _ => Lex::Decl,
            },
            Lex::Comment { dashes } => match b {
                b'-' => Lex::Comment {
                    dashes: dashes.saturating_add(1).min(2),
                },
                b'>' if dashes >= 2 => Lex::Text,
                _ => Lex::Comment { dashes: 0 },
            },
            Lex::Cdata { brackets } => match b {
                b']' => {
                    if brackets >= 2 {
                        // `]]]`: the first one is text.
                        self.text(b"]");
                    }
                    Lex::Cdata {
                        brackets: brackets.saturating_add(1).min(2),
                    }
                }
                b'>' if brackets >= 2 => Lex::Text,
                c => {
                    let pending = usize::from(brackets);
                    self.text(&b"]]"[..pending]);
                    // CDATA text is literal: escape what the entity decoder
                    // would otherwise read.
                    if c == b'&' {
                        self.text(b"&amp;");
                    } else {
                        self.text(&[c]);
                    }
                    Lex::Cdata { brackets: 0 }
                }
            },
            Lex::Pi { q } => match b {
                b'>' if q => Lex::Text,
                b'?' => Lex::Pi { q: true },
                _ => Lex::Pi { q: false },
            },
            Lex::Decl => {
                if b == b'>' {
                    Lex::Text
                } else {
                    Lex::Decl
                }
            }
        };
    }

    fn path(&self) -> impl Iterator<Item = Tag> + '_ {
        self.stack.iter().map(|f| f.tag)
    }

    fn path_is(&self, want: &[Tag]) -> bool {
        self.stack.len() == want.len() && self.path().zip(want).all(|(a, b)| a == *b)
    }

    fn start_tag(&mut self) {
        if self.ended {
            return;
        }
        let tag = tag_of(&self.name);
        if self.overflow > 0 || self.stack.len() >= self.limits.max_depth {
            self.overflow += 1;
            return;
        }
        if tag == Tag::MethodCall {
            if self.stack.is_empty() && !self.started {
                self.started = true;
            } else {
                self.call.incomplete = true;
            }
        } else if self.stack.is_empty() {
            // Anything but <methodCall> at the top is not a request.
            self.call.incomplete = true;
        }
        if matches!(tag, Tag::Struct | Tag::Array)
            && let Some(v) = self.stack.last_mut()
            && v.tag == Tag::Value
        {
            v.complex = true;
        }
        self.stack.push(Frame::new(tag));
    }

    fn end_tag(&mut self) {
        if self.ended {
            return;
        }
        if self.overflow > 0 {
            self.overflow -= 1;
            self.call.too_deep = true;
            return;
        }
        let tag = tag_of(&self.name);
        // Mismatched end tags close up to the matching one, as browsers do.
        let Some(i) = self.stack.iter().rposition(|f| f.tag == tag) else {
            self.call.incomplete = true;
            return;
        };
        if i + 1 != self.stack.len() {
            self.call.incomplete = true;
        }
        while self.stack.len() > i {
            self.close();
        }
    }

    /// Pops the innermost element and hands what it collected to its parent.
    fn close(&mut self) {
        use Tag::*;
        let max = self.limits.max_text;
        let Some(f) = self.stack.pop() else { return };
        let text = || decode(&f.text, max);
        match f.tag {
            MethodCall if self.stack.is_empty() => self.ended = true,
            MethodName if self.path_is(&[MethodCall]) => self.call.method = Some(text()),
            Scalar => {
                // The scalar's text is its value's.
                if let Some(v) = self.stack.last_mut()
                    && v.tag == Value
                {
                    v.text = f.text;
                }
            }
            Name => {
                if let Some(m) = self.stack.last_mut()
                    && m.tag == Member
                {
                    m.name = Some(text());
                }
            }
            Value => {
                let scalar = (!f.complex).then(|| text().trim().to_owned());
                self.value_closed(scalar);
            }
            Member => {
                // A multicall call's `methodName` member names it.
                if f.name.as_deref() == Some("methodName")
                    && let Some(s) = self.stack.last_mut()
                    && s.tag == Struct
                {
                    s.name = f.scalar;
                }
            }
            Struct if self.in_multicall_array() => {
                self.call.calls += 1;
                if f.name.as_deref() == Some("pingback.ping") {
                    self.call.pingbacks += 1;
                }
                if self.call.subcalls.len() < self.limits.max_calls {
                    self.call.subcalls.push(SubCall {
                        method: f.name,
                        params: f.params,
                    });
                }
            }
            _ => {}
        }
    }

    /// The stack is methodCall/params/param/value/array/data/value: a
    /// struct closing here is one call of a multicall.
    fn in_multicall_array(&self) -> bool {
        use Tag::*;
        self.call.is_multicall()
            && self.path_is(&[MethodCall, Params, Param, Value, Array, Data, Value])
    }

    fn value_closed(&mut self, scalar: Option<String>) {
        use Tag::*;
        if self.path_is(&[MethodCall, Params, Param]) {
            if self.call.params.len() < self.limits.max_params {
                self.call.params.push(scalar);
            }
            return;
        }
        match self.stack.last().map(|f| f.tag) {
            Some(Member) => {
                if let Some(m) = self.stack.last_mut() {
                    m.scalar = scalar;
                }
            }
            Some(Data) => {
                // An element of a multicall call's `params` array:
                // .../struct/member(params)/value/array/data.
                let n = self.stack.len();
                if n >= 5
                    && self.stack[n - 2].tag == Array
                    && self.stack[n - 3].tag == Value
                    && self.stack[n - 4].tag == Member
                    && self.stack[n - 4].name.as_deref() == Some("params")
                    && self.stack[n - 5].tag == Struct
                    && let Some(s) = scalar
                {
                    let max = self.limits.max_call_params;
                    let st = &mut self.stack[n - 5];
                    if st.params.len() < max {
                        st.params.push(s);
                    }
                }
            }
            _ => {}
        }
    }
}

/// XML text with the predefined and numeric entities decoded, lossily, at
/// most `max` bytes.
fn decode(raw: &[u8], max: usize) -> String {
    let mut out = Vec::with_capacity(raw.len().min(max));
    let mut i = 0;
    while i < raw.len() && out.len() < max {
        if raw[i] == b'&'
            && let Some(len) = raw[i + 1..].iter().take(12).position(|&c| c == b';')
        {
            let ent = &raw[i + 1..i + 1 + len];
            let ch: Option<char> = match ent {
                b"lt" => Some('<'),
                b"gt" => Some('>'),
                b"amp" => Some('&'),
                b"quot" => Some('"'),
                b"apos" => Some('\''),
                _ => ent.strip_prefix(b"#").and_then(|num| {
                    let s = std::str::from_utf8(num).ok()?;
                    let v = match s.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => s.parse::<u32>().ok()?,
                    };
                    char::from_u32(v)
                }),
            };
            if let Some(c) = ch {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += len + 2;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out.truncate(max);
    let mut s = String::from_utf8_lossy(&out).into_owned();
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// The host a URL names (lower case, without port or user info), for the
/// victims of pingback reflection.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.trim();
    let rest = match rest.find("://") {
        Some(i) => &rest[i + 3..],
        None => rest.strip_prefix("//")?,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}
