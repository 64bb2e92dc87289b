//! Sets of networks (home_net, relay_networks, known proxies, ...).

use std::net::IpAddr;

use ipnet::IpNet;

/// A set of CIDR networks. Small (tens of entries), so a linear scan is
/// fastest; it is only consulted per transaction, never per packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetSet(Vec<IpNet>);

impl NetSet {
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        NetSet(nets.into_iter().collect())
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        // IPv4-mapped IPv6 addresses belong to their IPv4 networks.
        let a = match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&a))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let s = NetSet::new([
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]);
        assert!(s.contains("10.1.2.3".parse().unwrap()));
        assert!(s.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(s.contains("2001:db8::1".parse().unwrap()));
        assert!(!s.contains("11.0.0.1".parse().unwrap()));
    }
}
