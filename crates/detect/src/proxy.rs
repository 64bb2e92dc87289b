//! Open HTTP proxies and SOCKS servers: absolute-form requests, CONNECT
//! and SOCKS CONNECT to mail ports, and whether the tunnel was granted.

use std::net::IpAddr;

use crate::Detector;
use crate::catalog::*;

/// How an HTTP request names its target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `/path` — what a server normally receives.
    Origin,
    /// `http://host:port/path` — what a client sends to a proxy.
    Absolute,
    /// `host:port` — CONNECT.
    Authority,
    /// `*` — OPTIONS.
    Asterisk,
}

/// What the proxy detectors need from an HTTP request.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub form: Form,
    /// The port the request asks the proxy to reach (CONNECT or absolute form).
    pub target_port: Option<u16>,
    /// Sent through a tunnel (a CONNECT answered 2xx, a granted SOCKS
    /// request) that the connection opened before.
    pub in_tunnel: bool,
}

impl HttpRequest<'_> {
    pub fn is_connect(&self) -> bool {
        self.method.eq_ignore_ascii_case("CONNECT")
    }
}

/// SOCKS commands as the protocol numbers them.
pub const SOCKS_CONNECT: u8 = 1;

/// What the SOCKS detectors need from a request.
#[derive(Clone, Copy, Debug)]
pub struct SocksRequest {
    pub command: u8,
    pub port: u16,
    /// Sent through a tunnel the connection opened before.
    pub in_tunnel: bool,
}

impl Detector {
    fn smtp_port(&self, port: u16) -> bool {
        self.conf.proxy.smtp_ports.contains(&port)
    }

    /// Signatures an HTTP request raises on reaching `server`. A request
    /// to a proxy (absolute form, CONNECT) that travels inside a tunnel
    /// chains one proxy to another (9700005).
    pub fn http_request(&self, server: IpAddr, r: &HttpRequest<'_>) -> Vec<u32> {
        let mut sids = Vec::new();
        if r.in_tunnel && matches!(r.form, Form::Absolute | Form::Authority) {
            sids.push(PROXY_CHAIN);
        }
        let known = self.known_proxies.contains(server);
        if r.form == Form::Absolute && !known {
            sids.push(PROXY_ABSOLUTE_FORM);
        }
        if r.is_connect()
            && let Some(port) = r.target_port
        {
            if self.smtp_port(port) {
                sids.push(PROXY_CONNECT_SMTP);
            } else if !self.conf.proxy.allowed_connect_ports.contains(&port) {
                sids.push(PROXY_CONNECT_PORT);
            }
        }
        sids
    }

    /// Signatures the answer to request `r` raises.
    pub fn http_response(&self, r: &HttpRequest<'_>, status: u16) -> Vec<u32> {
        let granted = (200..300).contains(&status);
        match r.target_port {
            Some(port) if r.is_connect() && granted && self.smtp_port(port) => {
                vec![PROXY_CONNECT_SMTP_OPEN]
            }
            _ => Vec::new(),
        }
    }

    /// Signatures a SOCKS request from `client` to `server` raises; inside
    /// a tunnel, it chains proxies (9700005).
    pub fn socks_request(&self, client: IpAddr, server: IpAddr, r: &SocksRequest) -> Vec<u32> {
        let mut sids = Vec::new();
        if r.in_tunnel {
            sids.push(PROXY_CHAIN);
        }
        if r.command == SOCKS_CONNECT && self.smtp_port(r.port) {
            sids.push(SOCKS_CONNECT_SMTP);
        }
        if self.is_external(client) && self.is_home(server) {
            sids.push(SOCKS_INBOUND);
        }
        sids
    }

    /// Signatures the reply to SOCKS request `r` raises.
    pub fn socks_reply(&self, r: &SocksRequest, granted: bool) -> Vec<u32> {
        if granted && r.command == SOCKS_CONNECT && self.smtp_port(r.port) {
            vec![SOCKS_CONNECT_SMTP_OPEN]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectConf, NetSet};

    fn det(known: &[&str]) -> Detector {
        let mut conf = DetectConf::default();
        conf.proxy.known_proxies = known.iter().map(|s| s.parse().unwrap()).collect();
        Detector::new(
            conf,
            NetSet::new(["10.0.0.0/8".parse().unwrap()]),
            NetSet::default(),
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn req(method: &str, form: Form, port: Option<u16>) -> HttpRequest<'_> {
        HttpRequest {
            in_tunnel: false,
            method,
            form,
            target_port: port,
        }
    }

    #[test]
    fn absolute_form_to_a_server_is_a_probe_unless_it_is_our_proxy() {
        let d = det(&["10.0.0.3"]);
        let r = req("GET", Form::Absolute, Some(80));
        assert_eq!(d.http_request(ip("10.0.0.2"), &r), [PROXY_ABSOLUTE_FORM]);
        assert!(d.http_request(ip("10.0.0.3"), &r).is_empty());
        assert!(
            d.http_request(ip("10.0.0.2"), &req("GET", Form::Origin, None))
                .is_empty()
        );
    }

    #[test]
    fn connect_rules() {
        let d = det(&["10.0.0.3"]);
        let s = ip("10.0.0.2");
        assert_eq!(
            d.http_request(s, &req("CONNECT", Form::Authority, Some(25))),
            [PROXY_CONNECT_SMTP]
        );
        assert_eq!(
            d.http_request(s, &req("connect", Form::Authority, Some(587))),
            [PROXY_CONNECT_SMTP]
        );
        assert!(
            d.http_request(s, &req("CONNECT", Form::Authority, Some(443)))
                .is_empty()
        );
        assert_eq!(
            d.http_request(s, &req("CONNECT", Form::Authority, Some(22))),
            [PROXY_CONNECT_PORT]
        );
        // Our own proxy: only the port rules apply.
        let known = ip("10.0.0.3");
        assert_eq!(
            d.http_request(known, &req("CONNECT", Form::Authority, Some(25))),
            [PROXY_CONNECT_SMTP]
        );
        let c25 = req("CONNECT", Form::Authority, Some(25));
        assert_eq!(d.http_response(&c25, 200), [PROXY_CONNECT_SMTP_OPEN]);
        assert!(d.http_response(&c25, 400).is_empty());
        assert!(
            d.http_response(&req("CONNECT", Form::Authority, Some(443)), 200)
                .is_empty()
        );
    }

    #[test]
    fn socks_rules() {
        let d = det(&[]);
        let r = SocksRequest {
            in_tunnel: false,
            command: SOCKS_CONNECT,
            port: 25,
        };
        assert_eq!(
            d.socks_request(ip("8.8.8.8"), ip("10.0.0.1"), &r),
            [SOCKS_CONNECT_SMTP, SOCKS_INBOUND]
        );
        assert_eq!(
            d.socks_request(ip("10.0.0.9"), ip("10.0.0.1"), &r),
            [SOCKS_CONNECT_SMTP]
        );
        assert_eq!(d.socks_reply(&r, true), [SOCKS_CONNECT_SMTP_OPEN]);
        assert!(d.socks_reply(&r, false).is_empty());
        let web = SocksRequest {
            in_tunnel: false,
            command: SOCKS_CONNECT,
            port: 80,
        };
        assert!(
            d.socks_request(ip("10.0.0.9"), ip("8.8.8.8"), &web)
                .is_empty()
        );
    }
}
