//! Redis: `RPUSH` to a list, `XADD` to a stream, or `PUBLISH` to a channel,
//! pipelined, through the `redis` crate (which brings AUTH, TLS for
//! `rediss://` and RESP parsing).
//!
//! Exactly once for lists and streams, per producer. A batch whose replies
//! were lost with the connection may or may not have been applied, and is
//! sent again. So lists and streams are written by a small Lua script that
//! also keeps the highest sequence number applied by this producer
//! (`<key>:fumidai-seq:<producer>`, the producer being the sensor's name);
//! Redis runs a script atomically, so a line at or below that mark was
//! applied and is skipped. Sequence numbers grow across restarts (they start
//! at the start-up time in microseconds), and one producer sends its lines
//! in order, so its mark only grows. Several sensors share one stream
//! without sharing a mark: each needs a name of its own.
//!
//! Streams may be trimmed as they are written (`XADD ... MAXLEN ~ n` or
//! `MINID ~ <now - age>`): what a consumer group has not read by then is
//! gone for it (README, "Many sensors").
//!
//! `PUBLISH` has no memory to protect (a subscriber that is not listening
//! misses it anyway) and is sent as is.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

use super::{Line, Sink};

/// How long a connection attempt, a write or a reply may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// `RPUSH key line`
    List,
    /// `XADD key * event line`
    Stream,
    /// `PUBLISH key line`
    Channel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTarget {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// TLS settings (`rediss://`): the CA to trust (else the system's), and a
/// client certificate for servers that ask for one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// A password, kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where a Redis server is and how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConn {
    pub target: RedisTarget,
    /// Over TCP only.
    pub tls: Option<TlsFiles>,
    /// ACL user (Redis 6+); without it, `AUTH password` logs in as `default`.
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub db: i64,
}

impl RedisConn {
    pub fn tcp(host: &str, port: u16) -> Self {
        RedisConn {
            target: RedisTarget::Tcp(host.to_owned(), port),
            tls: None,
            username: None,
            password: None,
            db: 0,
        }
    }

    /// `redis://host:port`, `rediss://host:port` or `redis+unix:///path`,
    /// for logs (never with credentials).
    pub fn describe(&self) -> String {
        match &self.target {
            RedisTarget::Tcp(h, p) => {
                let scheme = if self.tls.is_some() {
                    "rediss"
                } else {
                    "redis"
                };
                let h = if h.contains(':') {
                    format!("[{h}]")
                } else {
                    h.clone()
                };
                format!("{scheme}://{h}:{p}")
            }
            RedisTarget::Unix(p) => format!("redis+unix://{}", p.display()),
        }
    }

    /// A client for this server; reads the TLS files.
    pub fn client(&self) -> io::Result<redis::Client> {
        let addr = match (&self.target, &self.tls) {
            (RedisTarget::Tcp(h, p), None) => ConnectionAddr::Tcp(h.clone(), *p),
            (RedisTarget::Tcp(h, p), Some(_)) => ConnectionAddr::TcpTls {
                host: h.clone(),
                port: *p,
                insecure: false,
                tls_params: None,
            },
            (RedisTarget::Unix(p), _) => ConnectionAddr::Unix(p.clone()),
        };
        let mut settings = RedisConnectionInfo::default().set_db(self.db);
        if let Some(u) = &self.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &self.password {
            settings = settings.set_password(&p.0);
        }
        let info: ConnectionInfo = addr
            .into_connection_info()
            .map_err(to_io)?
            .set_redis_settings(settings);
        match &self.tls {
            Some(tls) if matches!(self.target, RedisTarget::Tcp(..)) => {
                let read = |p: &PathBuf| {
                    std::fs::read(p)
                        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
                };
                let client_tls = match (&tls.cert_file, &tls.key_file) {
                    (Some(c), Some(k)) => Some(redis::ClientTlsConfig {
                        client_cert: read(c)?,
                        client_key: read(k)?,
                    }),
                    (None, None) => None,
                    _ => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "a TLS client certificate needs both its cert and key files",
                        ));
                    }
                };
                let root_cert = tls.ca_file.as_ref().map(read).transpose()?;
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls,
                        root_cert,
                    },
                )
                .map_err(to_io)
            }
            _ => redis::Client::open(info).map_err(to_io),
        }
    }

    /// A connection with [`IO_TIMEOUT`] on every operation.
    pub fn connect(&self) -> io::Result<redis::Connection> {
        let c = self
            .client()?
            .get_connection_with_timeout(IO_TIMEOUT)
            .map_err(to_io)?;
        c.set_read_timeout(Some(IO_TIMEOUT)).map_err(to_io)?;
        c.set_write_timeout(Some(IO_TIMEOUT)).map_err(to_io)?;
        Ok(c)
    }
}

/// A Redis error as an I/O error, keeping its text.
pub fn to_io(e: redis::RedisError) -> io::Error {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        io::Error::new(io::ErrorKind::ConnectionAborted, format!("redis: {e}"))
    } else {
        io::Error::other(format!("redis: {e}"))
    }
}

/// How a stream is trimmed as it is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Trim {
    #[default]
    None,
    /// `MAXLEN ~ n`: about the last `n` entries are kept.
    MaxLen(u64),
    /// `MINID ~ <now - age>`: entries older than `age` go.
    MaxAge(Duration),
}

const SCRIPT_LIST: &str = "local mark = tonumber(redis.call('GET', KEYS[2]) or '0') \
local top = mark \
for i = 3, #ARGV, 2 do \
  local s = tonumber(ARGV[i]) \
  if s > mark then redis.call('RPUSH', KEYS[1], ARGV[i + 1]) if s > top then top = s end end \
end \
redis.call('SET', KEYS[2], string.format('%.0f', top)) \
return 0";

/// ARGV[1] is the trim strategy (`MAXLEN`, `MINID` or empty), ARGV[2] its
/// threshold; then (sequence, line) pairs.
const SCRIPT_STREAM: &str = "local mark = tonumber(redis.call('GET', KEYS[2]) or '0') \
local top = mark \
for i = 3, #ARGV, 2 do \
  local s = tonumber(ARGV[i]) \
  if s > mark then \
    if ARGV[1] == '' then redis.call('XADD', KEYS[1], '*', 'event', ARGV[i + 1]) \
    else redis.call('XADD', KEYS[1], ARGV[1], '~', ARGV[2], '*', 'event', ARGV[i + 1]) end \
    if s > top then top = s end \
  end \
end \
redis.call('SET', KEYS[2], string.format('%.0f', top)) \
return 0";

pub struct RedisSink {
    conn_spec: RedisConn,
    mode: RedisMode,
    key: String,
    mark_key: String,
    trim: Trim,
    /// Lines per command (script call or pipelined PUBLISHes per round trip).
    batch: usize,
    conn: Option<redis::Connection>,
    sha: String,
    pipe: redis::Pipeline,
}

impl RedisSink {
    /// `producer` names the writer in the exactly-once mark: the sensor's
    /// name, unique in the fleet.
    pub fn new(conn: RedisConn, mode: RedisMode, key: &str, producer: &str, batch: usize) -> Self {
        RedisSink {
            conn_spec: conn,
            mode,
            key: key.to_owned(),
            mark_key: format!("{key}:fumidai-seq:{producer}"),
            trim: Trim::None,
            batch: batch.max(1),
            conn: None,
            sha: String::new(),
            pipe: redis::pipe(),
        }
    }

    /// Trims the stream as it is written (stream mode only).
    pub fn with_trim(mut self, trim: Trim) -> Self {
        self.trim = trim;
        self
    }

    /// The key holding this producer's exactly-once mark.
    pub fn mark_key(&self) -> &str {
        &self.mark_key
    }

    fn script(&self) -> &'static str {
        match self.mode {
            RedisMode::Stream => SCRIPT_STREAM,
            _ => SCRIPT_LIST,
        }
    }

    fn send_inner(&mut self, lines: &[Line<'_>]) -> io::Result<()> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        let (strategy, threshold) = match self.mode {
            RedisMode::Stream => match self.trim {
                Trim::None => ("", String::new()),
                Trim::MaxLen(n) => ("MAXLEN", n.to_string()),
                Trim::MaxAge(age) => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default();
                    (
                        "MINID",
                        format!("{}-0", now.saturating_sub(age).as_millis()),
                    )
                }
            },
            _ => ("", String::new()),
        };
        let pipe = &mut self.pipe;
        pipe.clear();
        for chunk in lines.chunks(self.batch) {
            match self.mode {
                RedisMode::Channel => {
                    for l in chunk {
                        pipe.cmd("PUBLISH").arg(&self.key).arg(l.json()).ignore();
                    }
                }
                RedisMode::List | RedisMode::Stream => {
                    let c = pipe
                        .cmd("EVALSHA")
                        .arg(&self.sha)
                        .arg(2)
                        .arg(&self.key)
                        .arg(&self.mark_key)
                        .arg(strategy)
                        .arg(&threshold);
                    for l in chunk {
                        c.arg(l.seq).arg(l.json());
                    }
                    c.ignore();
                }
            }
        }
        // Any error reply (NOSCRIPT after a restart without persistence,
        // LOADING while it reads its data, OOM...) fails the whole batch:
        // it is treated as down and sent again, which the mark makes safe.
        pipe.query::<()>(conn).map_err(to_io)
    }
}

impl Sink for RedisSink {
    fn describe(&self) -> String {
        let mode = match self.mode {
            RedisMode::List => "list",
            RedisMode::Stream => "stream",
            RedisMode::Channel => "channel",
        };
        format!("{} {mode} {}", self.conn_spec.describe(), self.key)
    }

    fn connect(&mut self) -> io::Result<()> {
        self.conn = None;
        let mut c = self.conn_spec.connect()?;
        if self.mode != RedisMode::Channel {
            self.sha = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(self.script())
                .query::<String>(&mut c)
                .map_err(to_io)?;
        }
        self.conn = Some(c);
        Ok(())
    }

    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        match self.send_inner(lines) {
            Ok(()) => Ok(0),
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_credentials() {
        let mut c = RedisConn::tcp("redis.example.net", 6380);
        c.password = Some(Secret("hunter2".into()));
        c.username = Some("fumidai".into());
        c.tls = Some(TlsFiles::default());
        assert_eq!(c.describe(), "rediss://redis.example.net:6380");
        assert!(!format!("{c:?}").contains("hunter2"));
        let s = RedisSink::new(c, RedisMode::Stream, "eve", "sensor-a", 16);
        assert_eq!(s.mark_key(), "eve:fumidai-seq:sensor-a");
        assert_eq!(s.describe(), "rediss://redis.example.net:6380 stream eve");
    }

    #[test]
    fn a_client_certificate_needs_both_files() {
        let mut c = RedisConn::tcp("127.0.0.1", 6380);
        c.tls = Some(TlsFiles {
            cert_file: Some("/nonexistent/cert.pem".into()),
            ..TlsFiles::default()
        });
        let e = c.client().unwrap_err().to_string();
        assert!(e.contains("both"), "{e}");
        c.tls = Some(TlsFiles {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        });
        let e = c.client().unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
