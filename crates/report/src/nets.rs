//! home_net: which hosts are "ours". From `--home-net`, else from the
//! sensor's configuration file (`home_net` only: the rest of sensor.yaml is
//! the sensor's business and is not read), else the sensor's default.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use ipnet::IpNet;
use serde::Deserialize;

use crate::cli::ReportArgs;

/// The sensor's built-in home_net (sensor.yaml's shipped value; a test of
/// the binary holds the two together).
pub const DEFAULT_HOME_NET: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// A set of networks and where it came from.
#[derive(Clone, Debug)]
pub struct HomeNet {
    nets: Vec<IpNet>,
    /// `--home-net`, the config file's name, or "built-in default".
    pub source: String,
}

impl HomeNet {
    pub fn new(nets: Vec<IpNet>, source: impl Into<String>) -> Self {
        HomeNet {
            nets,
            source: source.into(),
        }
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        // IPv4-mapped IPv6 addresses belong to their IPv4 networks, as in the sensor.
        let a = match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&a))
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// A network in CIDR notation or a bare address (one host), as the sensor reads them.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not an address or CIDR network"))
}

/// home_net for this run.
pub fn home_net(args: &ReportArgs) -> anyhow::Result<HomeNet> {
    if !args.home_net.is_empty() {
        let nets = args
            .home_net
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_net(s).map_err(|e| anyhow::anyhow!("--home-net: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(HomeNet::new(nets, "--home-net"));
    }
    if let Some(path) = &args.config {
        let nets = from_config(path)?;
        return Ok(HomeNet::new(nets, path.display().to_string()));
    }
    let nets = DEFAULT_HOME_NET
        .iter()
        .filter_map(|s| parse_net(s).ok())
        .collect();
    Ok(HomeNet::new(nets, "built-in default"))
}

#[derive(Deserialize)]
struct HomeOnly {
    #[serde(default)]
    home_net: Option<Vec<String>>,
}

/// `home_net` of a sensor.yaml; errors name the file, the line and the key.
pub fn from_config(path: &Path) -> anyhow::Result<Vec<IpNet>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    parse_config(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn parse_config(text: &str) -> Result<Vec<IpNet>, String> {
    let de = serde_norway::Deserializer::from_str(text);
    let doc: HomeOnly = serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let at = inner
            .location()
            .map(|l| format!("{}:{}: ", l.line(), l.column()))
            .unwrap_or_default();
        format!("{at}{}: {inner}", e.path())
    })?;
    let Some(list) = doc.home_net else {
        return Ok(DEFAULT_HOME_NET
            .iter()
            .filter_map(|s| parse_net(s).ok())
            .collect());
    };
    // Where each entry sits, for an error that names the line.
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            parse_net(s).map_err(|e| {
                let line = text
                    .lines()
                    .position(|l| l.contains(s.as_str()))
                    .map(|n| format!("{}: ", n + 1))
                    .unwrap_or_default();
                format!("{line}home_net[{i}]: {e}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_home_net_and_ignores_the_rest() {
        let nets = parse_config(
            "workers: 2\nhome_net:\n  - 10.77.0.0/24\n  - 192.0.2.7\nsmtp:\n  local_domains: [x]\n",
        )
        .unwrap();
        assert_eq!(nets.len(), 2);
        let h = HomeNet::new(nets, "t");
        assert!(h.contains("10.77.0.9".parse().unwrap()));
        assert!(h.contains("192.0.2.7".parse().unwrap()));
        assert!(h.contains("::ffff:10.77.0.9".parse().unwrap()));
        assert!(!h.contains("10.77.1.9".parse().unwrap()));
    }

    #[test]
    fn missing_home_net_is_the_default() {
        assert_eq!(parse_config("workers: 2\n").unwrap().len(), 3);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e = parse_config("home_net:\n  - 10.0.0.0/8\n  - not-a-net\n").unwrap_err();
        assert!(e.contains("3: home_net[1]"), "{e}");
        let e = parse_config("home_net: 7\n").unwrap_err();
        assert!(e.contains("home_net"), "{e}");
    }
}
