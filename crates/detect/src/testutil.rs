//! What the detectors' unit tests share: a detector whose home_net is
//! 10.0.0.0/8, with every other setting at its default.

use std::net::IpAddr;

use crate::{DetectConf, Detector, NetSet};

pub fn det() -> Detector {
    Detector::new(
        DetectConf::default(),
        NetSet::new(["10.0.0.0/8".parse().unwrap()]),
        NetSet::default(),
    )
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
