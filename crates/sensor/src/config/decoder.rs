//! sensor.yaml's `decoder:` section: which tunnels and encapsulations are
//! decoded (crates/wire/src/tunnel).

use std::fmt;
use std::str::FromStr;

use fumidai_detect::config::from_str_scalar;
use fumidai_wire::tunnel::{DecoderConfig, Ports};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecoderConf {
    pub max_layers: MaxLayers,
    pub gre: Switch,
    pub erspan: ErspanConf,
    pub vxlan: VxlanConf,
    pub geneve: GeneveConf,
    pub teredo: TeredoConf,
    pub mpls: Switch,
    pub pppoe: Switch,
    pub ipip: Switch,
    pub etag: Switch,
    pub vntag: Switch,
}

impl Default for DecoderConf {
    fn default() -> Self {
        let d = DecoderConfig::default();
        DecoderConf {
            max_layers: MaxLayers(d.max_layers),
            gre: Switch { enabled: d.gre },
            erspan: ErspanConf {
                enabled: d.erspan,
                type1: d.erspan_type1,
            },
            vxlan: VxlanConf::default(),
            geneve: GeneveConf::default(),
            teredo: TeredoConf::default(),
            mpls: Switch { enabled: d.mpls },
            pppoe: Switch { enabled: d.pppoe },
            ipip: Switch { enabled: d.ipip },
            etag: Switch { enabled: d.etag },
            vntag: Switch { enabled: d.vntag },
        }
    }
}

impl DecoderConf {
    /// The decoders' view; `tunnel_keys` is `flow.tunnel_aware_keys`.
    pub fn engine(&self, tunnel_keys: bool) -> DecoderConfig {
        DecoderConfig {
            max_layers: self.max_layers.0,
            gre: self.gre.enabled,
            erspan: self.erspan.enabled,
            erspan_type1: self.erspan.type1,
            vxlan: self.vxlan.ports(),
            geneve: self.geneve.ports(),
            teredo: self.teredo.ports(),
            mpls: self.mpls.enabled,
            pppoe: self.pppoe.enabled,
            ipip: self.ipip.enabled,
            etag: self.etag.enabled,
            vntag: self.vntag.enabled,
            tunnel_keys,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Switch {
    pub enabled: bool,
}

impl Default for Switch {
    fn default() -> Self {
        Switch { enabled: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErspanConf {
    pub enabled: bool,
    pub type1: bool,
}

impl Default for ErspanConf {
    fn default() -> Self {
        ErspanConf {
            enabled: true,
            type1: true,
        }
    }
}

/// A decoder found by UDP port, on by default on its IANA port.
macro_rules! udp_decoder {
    ($name:ident, $port:literal) => {
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub ports: PortList,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: true,
                    ports: PortList(vec![$port]),
                }
            }
        }

        impl $name {
            fn ports(&self) -> Option<Ports> {
                if self.enabled {
                    Ports::new(&self.ports.0)
                } else {
                    None
                }
            }
        }
    };
}

udp_decoder!(VxlanConf, 4789);
udp_decoder!(GeneveConf, 6081);
udp_decoder!(TeredoConf, 3544);

/// One to [`Ports::MAX`] UDP ports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortList(pub Vec<u16>);

impl Serialize for PortList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PortList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<u16>::deserialize(d)?;
        if v.is_empty() || v.len() > Ports::MAX || v.contains(&0) {
            return Err(serde::de::Error::custom(format!(
                "expected 1 to {} UDP ports (1-65535); to turn a decoder off, set enabled: false",
                Ports::MAX
            )));
        }
        Ok(PortList(v))
    }
}

/// `decoder.max_layers`: at least 2 (a link header and an IP header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxLayers(pub u8);

impl FromStr for MaxLayers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().parse::<u8>() {
            Ok(n) if n >= 2 => Ok(MaxLayers(n)),
            _ => Err(format!(
                "`{s}`: expected a number of layers from 2 (link and IP) to 255"
            )),
        }
    }
}

impl fmt::Display for MaxLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for MaxLayers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for MaxLayers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "a number of layers from 2 to 255")
    }
}
