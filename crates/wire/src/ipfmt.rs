//! How addresses are printed in EVE. Suricata writes IPv6 addresses fully
//! expanded (`fe80:0000:0000:0000:020c:29ff:fef3:cf38`), and SIEM parsers,
//! lookups and correlation rules written against its output match that text;
//! so fumidai does the same unless the operator asks for RFC 5952's
//! compressed form (`eve.ipv6: compressed`).
//!
//! The choice is one per process, made once from the configuration before
//! any record is written, hence a process-wide flag rather than a parameter
//! threaded through every serialiser.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serializer;

static COMPRESSED: AtomicBool = AtomicBool::new(false);

/// Print IPv6 addresses compressed (`true`) or, Suricata's form and the
/// default, expanded (`false`).
pub fn set_ipv6_compressed(on: bool) {
    COMPRESSED.store(on, Ordering::Relaxed);
}

/// Whether IPv6 addresses are printed compressed.
pub fn ipv6_compressed() -> bool {
    COMPRESSED.load(Ordering::Relaxed)
}

/// An address as EVE prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown(pub IpAddr);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => a.fmt(f),
            IpAddr::V6(a) if ipv6_compressed() => a.fmt(f),
            IpAddr::V6(a) => expanded(&a, f),
        }
    }
}

fn expanded(a: &Ipv6Addr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = a.segments();
    write!(
        f,
        "{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}",
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    )
}

/// An address's EVE text, built on the stack: every record carries two
/// or more, and going through `fmt` (and serde's `collect_str`, which
/// escapes each piece `fmt` hands it) showed in profiles of the flow
/// records.
#[derive(Clone, Copy)]
pub struct Text {
    buf: [u8; 45],
    len: u8,
}

impl Text {
    pub fn of(a: IpAddr) -> Text {
        Text::with(a, ipv6_compressed())
    }

    /// `compressed`: RFC 5952's IPv6 form instead of Suricata's.
    pub fn with(a: IpAddr, compressed: bool) -> Text {
        let mut t = Text {
            buf: [0; 45],
            len: 0,
        };
        match a {
            IpAddr::V4(a) => {
                for (i, o) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b'.');
                    }
                    if o >= 100 {
                        t.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        t.push(b'0' + o / 10 % 10);
                    }
                    t.push(b'0' + o % 10);
                }
            }
            IpAddr::V6(a) if compressed => {
                // Rare (an operator's choice) and intricate: the standard
                // library's RFC 5952 form, written into the same buffer.
                use std::io::Write;
                let mut w = &mut t.buf[..];
                let _ = write!(w, "{a}");
                let left = w.len();
                t.len = (45 - left) as u8;
            }
            IpAddr::V6(a) => {
                for (i, pair) in a.octets().chunks_exact(2).enumerate() {
                    if i > 0 {
                        t.push(b':');
                    }
                    for &b in pair {
                        let [hi, lo] = hex_byte(b);
                        t.push(hi);
                        t.push(lo);
                    }
                }
            }
        }
        t
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[usize::from(self.len)] = b;
        self.len += 1;
    }

    /// The text's bytes: ASCII digits, dots, hex digits and colons only,
    /// so they need no JSON escaping.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written to the buffer.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// A byte as two lower-case hex digits, as EVE writes IPv6 groups, TCP
/// flags and NTP reference ids.
#[inline]
pub fn hex_byte(b: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]
}

/// `#[serde(serialize_with = "fumidai_wire::ipfmt::ser")]`
pub fn ser<S: Serializer>(a: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(Text::of(*a).as_str())
}

/// The same for an optional address (with `skip_serializing_if`).
pub fn ser_opt<S: Serializer>(a: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.serialize_str(Text::of(*a).as_str()),
        None => s.serialize_none(),
    }
}

/// The same for a list of addresses.
pub fn ser_vec<S: Serializer>(a: &[IpAddr], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(a.iter().map(|a| Shown(*a).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_expanded_like_suricata_and_ipv4_untouched() {
        let v6: IpAddr = "fe80::20c:29ff:fef3:cf38".parse().unwrap();
        assert_eq!(
            Shown(v6).to_string(),
            "fe80:0000:0000:0000:020c:29ff:fef3:cf38"
        );
        assert_eq!(
            Shown("::1".parse().unwrap()).to_string(),
            "0000:0000:0000:0000:0000:0000:0000:0001"
        );
        // A v4-mapped address is an IPv6 address to Suricata too.
        assert_eq!(
            Shown("::ffff:10.0.0.1".parse().unwrap()).to_string(),
            "0000:0000:0000:0000:0000:ffff:0a00:0001"
        );
        assert_eq!(Shown("10.0.0.1".parse().unwrap()).to_string(), "10.0.0.1");
        // What is printed reads back as the same address.
        assert_eq!(Shown(v6).to_string().parse::<IpAddr>().unwrap(), v6);
    }

    proptest::proptest! {
        /// The stack-built text is exactly what `Display` prints, in both
        /// IPv6 forms.
        #[test]
        fn text_equals_display(v4 in proptest::prelude::any::<[u8; 4]>(),
                               v6 in proptest::prelude::any::<[u16; 8]>(),
                               zeros in 0usize..8) {
            let mut seg = v6;
            for s in seg.iter_mut().skip(zeros).take(3) {
                *s = 0;
            }
            for a in [IpAddr::from(v4), IpAddr::from(seg), IpAddr::from(v6)] {
                let (plain, short) = (Text::with(a, false), Text::with(a, true));
                proptest::prop_assert_eq!(plain.as_str(), Shown(a).to_string());
                let rfc = match a {
                    IpAddr::V6(a) => a.to_string(),
                    IpAddr::V4(a) => a.to_string(),
                };
                proptest::prop_assert_eq!(short.as_str(), rfc);
            }
        }
    }

    #[test]
    fn compressed_text_is_rfc_5952() {
        let a: IpAddr = "2001:db8:0:0:1:0:0:1".parse().unwrap();
        assert_eq!(Text::with(a, true).as_str(), "2001:db8::1:0:0:1");
        // The longest compressed form there is fits the buffer.
        let widest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap();
        assert_eq!(Text::with(widest, true).as_str(), widest.to_string());
        let v4 = "10.1.2.3".parse().unwrap();
        assert_eq!(Text::with(v4, true).as_str(), "10.1.2.3");
    }
}
