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

/// `#[serde(serialize_with = "fumidai_wire::ipfmt::ser")]`
pub fn ser<S: Serializer>(a: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Shown(*a))
}

/// The same for an optional address (with `skip_serializing_if`).
pub fn ser_opt<S: Serializer>(a: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.collect_str(&Shown(*a)),
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
}
