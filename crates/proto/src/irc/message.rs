//! One IRC line: `[@tags] [:prefix] COMMAND [params] [:trailing]`, and the
//! CTCP DCC offers PRIVMSG texts carry.

use std::net::{IpAddr, Ipv4Addr};

use nom::bytes::complete::{tag, take_till1, take_while_m_n, take_while1};
use nom::character::complete::space1;
use nom::combinator::opt;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use super::IrcConfig;

/// A parsed line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The prefix without its `:` (a server name or `nick!user@host`).
    pub prefix: Option<String>,
    /// Upper-cased command, or the three digits of a numeric reply.
    pub command: String,
    /// Middle parameters, then the trailing one (without its `:`).
    pub params: Vec<String>,
}

/// RFC 2812's bound on parameters (14 middle + trailing); more are joined
/// into the last one.
const MAX_PARAMS: usize = 15;

fn is_space(c: u8) -> bool {
    c == b' '
}

fn tags(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(tag(&b"@"[..]), take_till1(is_space), space1).parse(i)
}

fn prefix(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(tag(&b":"[..]), take_till1(is_space), space1).parse(i)
}

fn command(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let numeric = take_while_m_n(3, 3, |c: u8| c.is_ascii_digit());
    let word = take_while1(|c: u8| c.is_ascii_alphabetic());
    let (rest, cmd) = nom::branch::alt((numeric, word)).parse(i)?;
    // The command ends at a space or the end of the line.
    match rest.first() {
        None | Some(b' ') => Ok((rest, cmd)),
        Some(_) => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// A line's prefix (if any) and command.
pub type Head<'a> = (Option<&'a [u8]>, &'a [u8]);

fn head(i: &[u8]) -> IResult<&[u8], Head<'_>> {
    (
        preceded(opt(tags), opt(prefix)),
        preceded(nom::character::complete::space0, command),
    )
        .parse(i)
}

/// A line's prefix (if any) and command, read as [`parse_message`] reads
/// them but without building the message: detection sees the first line
/// of every stream, nearly all of them another protocol's, and turns those
/// down by their command alone.
pub fn prefix_and_command(line: &[u8]) -> Option<Head<'_>> {
    head(line).ok().map(|(_, h)| h)
}

/// Parses one line (without its line end). `None` when it has no command.
pub fn parse_message(line: &[u8], cfg: &IrcConfig) -> Option<Message> {
    let (mut rest, (prefix, cmd)) = head(line).ok()?;
    let text = |b: &[u8]| -> String {
        let b = &b[..b.len().min(cfg.max_text)];
        let s = String::from_utf8_lossy(b).into_owned();
        if s.len() <= cfg.max_text {
            return s;
        }
        let mut cut = cfg.max_text;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s[..cut].to_owned()
    };
    let mut params = Vec::new();
    loop {
        // Servers and clients are lax about runs of spaces.
        let start = rest.iter().position(|&c| c != b' ').unwrap_or(rest.len());
        rest = &rest[start..];
        if rest.is_empty() {
            break;
        }
        if rest[0] == b':' || params.len() + 1 == MAX_PARAMS {
            let t = rest.strip_prefix(b":").unwrap_or(rest);
            params.push(text(t));
            break;
        }
        let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        params.push(text(&rest[..end]));
        rest = &rest[end..];
    }
    Some(Message {
        prefix: prefix.map(text),
        command: String::from_utf8_lossy(cmd).to_ascii_uppercase(),
        params,
    })
}

/// A CTCP DCC offer (`\x01DCC SEND file 3232235777 5000 1024\x01`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dcc {
    /// `SEND`, `CHAT`, `RESUME`, ...
    pub kind: String,
    /// The file name (SEND) or protocol (CHAT).
    pub argument: String,
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    pub size: Option<u64>,
    /// The address or port did not parse.
    pub malformed: bool,
}

/// The DCC offer in a CTCP text, if it is one.
pub fn parse_dcc(text: &str) -> Option<Dcc> {
    let inner = text.strip_prefix('\u{1}')?;
    let inner = inner.strip_suffix('\u{1}').unwrap_or(inner);
    let rest = inner.strip_prefix("DCC ")?;
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let kind = words.next()?.to_ascii_uppercase();
    let mut tail: Vec<&str> = words.collect();
    // A quoted file name may hold spaces: address, port and size are the
    // last numbers.
    let argument;
    if let Some(first) = tail.first()
        && first.starts_with('"')
    {
        let close = tail.iter().position(|w| w.len() > 1 && w.ends_with('"'));
        let upto = close.unwrap_or(0) + 1;
        argument = tail[..upto].join(" ").trim_matches('"').to_owned();
        tail.drain(..upto);
    } else if tail.is_empty() {
        argument = String::new();
    } else {
        argument = tail.remove(0).to_owned();
    }
    let address = tail.first().map(|a| parse_dcc_address(a));
    let port = tail.get(1).map(|p| p.parse::<u16>().ok());
    let size = tail.get(2).and_then(|s| s.parse::<u64>().ok());
    let malformed = matches!(address, Some(None) | None) || matches!(port, Some(None) | None);
    Some(Dcc {
        kind,
        argument,
        address: address.flatten(),
        port: port.flatten(),
        size,
        malformed,
    })
}

/// DCC addresses are an IPv4 address as one decimal number, or (newer
/// clients) an address in the usual notation.
fn parse_dcc_address(a: &str) -> Option<IpAddr> {
    if let Ok(n) = a.parse::<u32>() {
        return Some(IpAddr::V4(Ipv4Addr::from(n)));
    }
    a.parse::<IpAddr>().ok()
}
