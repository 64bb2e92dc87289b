//! Syslog, RFC 5424 messages over UDP (RFC 5426), TCP with octet-counting
//! framing (RFC 6587 §3.4.1) or the local datagram socket (`/dev/log`).
//!
//! The MSG part is the EVE line; MSGID is the event type, so a syslog
//! server can route alerts without parsing JSON.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::{Line, Sink, datagram_refused};

const IO_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTransport {
    Udp(String, u16),
    Tcp(String, u16),
    Unix(PathBuf),
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixDatagram),
}

pub struct SyslogSink {
    transport: SyslogTransport,
    conn: Option<Conn>,
    /// `<PRI>1 ` precomputed.
    pri: String,
    host: String,
    app: String,
    pid: u32,
    msg: Vec<u8>,
    frame: Vec<u8>,
}

/// RFC 5424 facility codes by name.
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    let n = name.to_ascii_lowercase();
    NAMES.iter().position(|&f| f == n).map(|i| i as u8)
}

/// RFC 5424 severity codes by name (the names syslog(3) and Suricata use).
pub fn severity_code(name: &str) -> Option<u8> {
    Some(match name.to_ascii_lowercase().as_str() {
        "emerg" | "emergency" => 0,
        "alert" => 1,
        "crit" | "critical" => 2,
        "err" | "error" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "info" | "informational" => 6,
        "debug" => 7,
        _ => return None,
    })
}

impl SyslogSink {
    pub fn new(transport: SyslogTransport, facility: u8, severity: u8, identity: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".into());
        SyslogSink {
            transport,
            conn: None,
            pri: format!("<{}>1 ", u32::from(facility) * 8 + u32::from(severity)),
            host: printable(&host, 255),
            app: printable(identity, 48),
            pid: std::process::id(),
            msg: Vec::new(),
            frame: Vec::new(),
        }
    }

    /// One RFC 5424 message in `self.msg`.
    fn format(&mut self, l: &Line<'_>) {
        let now = time::OffsetDateTime::from(SystemTime::now());
        self.msg.clear();
        let _ = write!(
            self.msg,
            "{}{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {} {} {} {} - ",
            self.pri,
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.microsecond(),
            self.host,
            self.app,
            self.pid,
            l.event_type.as_str(),
        );
        self.msg.extend_from_slice(l.json());
    }
}

/// RFC 5424 header fields are PRINTUSASCII without spaces, bounded.
fn printable(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".into() } else { v }
}

fn resolve(host: &str, port: u16) -> io::Result<std::net::SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address")))
}

impl Sink for SyslogSink {
    fn describe(&self) -> String {
        match &self.transport {
            SyslogTransport::Udp(h, p) => format!("syslog:udp://{h}:{p}"),
            SyslogTransport::Tcp(h, p) => format!("syslog:tcp://{h}:{p}"),
            SyslogTransport::Unix(p) => format!("syslog:{}", p.display()),
        }
    }

    fn connect(&mut self) -> io::Result<()> {
        self.conn = None;
        self.conn = Some(match &self.transport {
            SyslogTransport::Udp(h, p) => {
                let addr = resolve(h, *p)?;
                let bind = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(bind)?;
                s.connect(addr)?;
                Conn::Udp(s)
            }
            SyslogTransport::Tcp(h, p) => {
                let s = TcpStream::connect_timeout(&resolve(h, *p)?, IO_TIMEOUT)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
            SyslogTransport::Unix(p) => {
                let s = UnixDatagram::unbound()?;
                s.connect(p)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Conn::Unix(s)
            }
        });
        Ok(())
    }

    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        if self.conn.is_none() {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        }
        let mut refused = 0;
        self.frame.clear();
        for l in lines {
            self.format(l);
            let r = match self.conn.as_mut() {
                Some(Conn::Udp(s)) => s.send(&self.msg).map(drop),
                Some(Conn::Unix(s)) => s.send(&self.msg).map(drop),
                Some(Conn::Tcp(_)) => {
                    // Octet counting: "LEN SP MSG", batched into one write.
                    let _ = write!(self.frame, "{} ", self.msg.len());
                    self.frame.extend_from_slice(&self.msg);
                    Ok(())
                }
                None => Ok(()),
            };
            match r {
                Ok(()) => {}
                Err(e) if datagram_refused(&e) => refused += 1,
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        if let Some(Conn::Tcp(s)) = self.conn.as_mut()
            && let Err(e) = s.write_all(&self.frame)
        {
            self.conn = None;
            return Err(e);
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;

    #[test]
    fn rfc5424_header_then_the_json() {
        let mut s = SyslogSink::new(
            SyslogTransport::Unix("/nonexistent".into()),
            21,
            6,
            "fumi dai",
        );
        s.format(&Line {
            seq: 1,
            event_type: EventType::Alert,
            bytes: b"{\"x\":1}\n",
        });
        let m = String::from_utf8(s.msg.clone()).unwrap();
        assert!(m.starts_with("<174>1 2"), "{m}");
        let parts: Vec<&str> = m.splitn(8, ' ').collect();
        assert_eq!(parts[3], "fumidai");
        assert_eq!(parts[5], "alert");
        assert_eq!(parts[6], "-");
        assert_eq!(parts[7], "{\"x\":1}");
        assert!(
            parts[1].ends_with('Z') && parts[1].len() == 27,
            "{}",
            parts[1]
        );
        assert_eq!(facility_code("LOCAL5"), Some(21));
        assert_eq!(severity_code("Info"), Some(6));
        assert_eq!(facility_code("nope"), None);
    }
}
