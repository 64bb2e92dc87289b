//! The output part of a configuration file (`eve.outputs` in sensor.yaml,
//! `outputs` in aggregate.yaml): what each output is, and opening it.
//! Shared by every fumidai tool that writes EVE, so that an output is
//! configured alike wherever it is.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use fumidai_budget::ByteSize;
use fumidai_budget::size::from_str_scalar;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sink::syslog::{facility_code, severity_code};
use crate::sink::{
    FileSink, RedisConn, RedisMode, RedisSink, RedisTarget, Rotation, Secret, Sink, SyslogSink,
    SyslogTransport, TlsFiles, Trim, TypeFilter, UnixDgramSink, UnixStreamSink,
};

/// suricata.yaml's `eve-log` `filetype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Regular,
    UnixStream,
    UnixDgram,
    Syslog,
    Redis,
}

/// How syslog messages travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransportName {
    Udp,
    Tcp,
    Unix,
}

/// What a redis output does with each line (Suricata's names and the commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisModeName {
    #[serde(alias = "rpush")]
    List,
    #[serde(alias = "xadd")]
    Stream,
    #[serde(alias = "publish")]
    Channel,
}

/// One output, as an entry of suricata.yaml's `outputs: - eve-log:`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConf {
    pub filetype: FileType,
    /// regular: the file, relative to the log directory unless absolute;
    /// unix_stream / unix_dgram: the socket; syslog over `unix`: the socket
    /// (default /dev/log); redis: a unix socket to use instead of TCP.
    pub filename: String,
    /// Event types this output takes (empty: all produced).
    pub types: Vec<EventTypeName>,
    /// Key of its counters in stats (`stats.output.<name>`); derived from
    /// the file name or the filetype when empty.
    pub name: String,
    /// regular: rotate at this size (0: never).
    pub rotate_size: ByteSize,
    /// regular: rotate after this many seconds (0: never).
    pub rotate_interval: u64,
    /// syslog: udp, tcp (octet-counted) or unix.
    pub transport: SyslogTransportName,
    /// syslog / redis: host name or address.
    pub server: String,
    /// syslog / redis: port (0: 514 for syslog, 6379 for redis).
    pub port: u16,
    pub facility: SyslogFacility,
    pub level: SyslogLevel,
    /// syslog APP-NAME.
    pub identity: String,
    /// redis: list (RPUSH), stream (XADD) or channel (PUBLISH).
    pub mode: RedisModeName,
    /// redis: the list, stream or channel.
    pub key: String,
    /// redis: lines per command.
    pub batch_size: usize,
    /// redis: `redis://host:port/db`, `rediss://host:port/db` (TLS) or
    /// `redis+unix:///path`, instead of server/port/filename/tls/db; never
    /// with a password in it.
    pub url: String,
    /// redis: TLS (`rediss://`).
    pub tls: bool,
    /// redis over TLS: the CA certificate (PEM) to trust instead of the
    /// system's, and a client certificate and key (PEM) for servers that
    /// ask for one (`tls-auth-clients`).
    pub tls_ca_file: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    /// redis: ACL user name (empty: `default`).
    pub username: String,
    /// redis: a file holding the password (its first line), or an
    /// environment variable holding it. Never on the command line nor in
    /// this file.
    pub password_file: String,
    pub password_env: String,
    /// redis: database number.
    pub db: i64,
    /// redis streams: trim as they are written, to about this many entries
    /// (`XADD MAXLEN ~`; 0: never).
    pub stream_maxlen: u64,
    /// redis streams: trim entries older than this many seconds
    /// (`XADD MINID ~`; 0: never).
    pub stream_max_age: u64,
    /// Batches held in memory for this output before it spools.
    pub queue: usize,
}

impl Default for OutputConf {
    fn default() -> Self {
        OutputConf {
            filetype: FileType::Regular,
            filename: "eve.json".into(),
            types: Vec::new(),
            name: String::new(),
            rotate_size: ByteSize(0),
            rotate_interval: 0,
            transport: SyslogTransportName::Udp,
            server: "127.0.0.1".into(),
            port: 0,
            facility: SyslogFacility("local5".into()),
            level: SyslogLevel("info".into()),
            identity: "fumidai".into(),
            mode: RedisModeName::List,
            key: "fumidai".into(),
            batch_size: 256,
            url: String::new(),
            tls: false,
            tls_ca_file: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            username: String::new(),
            password_file: String::new(),
            password_env: String::new(),
            db: 0,
            stream_maxlen: 0,
            stream_max_age: 0,
            queue: 256,
        }
    }
}

/// A syslog facility name (`local5`, `daemon`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SyslogFacility(pub String);

impl FromStr for SyslogFacility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        facility_code(s)
            .map(|_| SyslogFacility(s.to_ascii_lowercase()))
            .ok_or_else(|| format!("unknown syslog facility `{s}`, expected kern, user, mail, daemon, auth, ..., local0 ... local7"))
    }
}

impl<'de> Deserialize<'de> for SyslogFacility {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "a syslog facility")
    }
}

/// A syslog severity name (`info`, `notice`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SyslogLevel(pub String);

impl FromStr for SyslogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        severity_code(s)
            .map(|_| SyslogLevel(s.to_ascii_lowercase()))
            .ok_or_else(|| format!("unknown syslog level `{s}`, expected emerg, alert, crit, err, warning, notice, info or debug"))
    }
}

impl<'de> Deserialize<'de> for SyslogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "a syslog level")
    }
}

/// An EVE event type named in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTypeName(pub crate::EventType);

impl Serialize for EventTypeName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl FromStr for EventTypeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::EventType::from_name(s)
            .map(EventTypeName)
            .ok_or_else(|| {
                let known: Vec<_> = crate::EventType::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown event type `{s}`, expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl<'de> Deserialize<'de> for EventTypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_scalar(d, "an EVE event type")
    }
}

/// The event types a list names (empty: all).
pub fn type_filter(types: &[EventTypeName]) -> TypeFilter {
    if types.is_empty() {
        TypeFilter::all()
    } else {
        TypeFilter::only(&types.iter().map(|t| t.0).collect::<Vec<_>>())
    }
}

/// The stats key of each output: its `name`, else derived from its file
/// name or type; dots would nest in stats, so they become `_`.
pub fn output_names(outputs: &[OutputConf]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for o in outputs {
        let base = if !o.name.is_empty() {
            o.name.clone()
        } else if o.filetype == FileType::Regular {
            Path::new(&o.filename)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "regular".into())
        } else {
            serde_json::to_value(o.filetype)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let base: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The settings of a Redis connection, wherever a configuration names one
/// (an output, the aggregator's input): one way to read them everywhere.
#[derive(Clone, Copy, Debug)]
pub struct RedisSettings<'a> {
    pub url: &'a str,
    pub server: &'a str,
    /// 0: 6379.
    pub port: u16,
    /// A unix socket instead of TCP (empty: none).
    pub socket: &'a str,
    pub tls: bool,
    pub tls_ca_file: &'a str,
    pub tls_cert_file: &'a str,
    pub tls_key_file: &'a str,
    pub username: &'a str,
    pub password_file: &'a str,
    pub password_env: &'a str,
    pub db: i64,
}

impl RedisSettings<'_> {
    /// Resolves the settings: reads the password from its file or
    /// environment variable now (before privileges are dropped).
    pub fn resolve(&self) -> io::Result<RedisConn> {
        let opt = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        let mut tls = self.tls.then(|| TlsFiles {
            ca_file: opt(self.tls_ca_file),
            cert_file: opt(self.tls_cert_file),
            key_file: opt(self.tls_key_file),
        });
        let mut conn = if self.url.is_empty() {
            let target = if self.socket.is_empty() {
                RedisTarget::Tcp(
                    self.server.to_owned(),
                    if self.port == 0 { 6379 } else { self.port },
                )
            } else {
                RedisTarget::Unix(PathBuf::from(self.socket))
            };
            RedisConn {
                target,
                tls: None,
                username: None,
                password: None,
                db: self.db,
            }
        } else {
            let (conn, url_tls) = parse_url(self.url)?;
            if url_tls && tls.is_none() {
                tls = Some(TlsFiles {
                    ca_file: opt(self.tls_ca_file),
                    cert_file: opt(self.tls_cert_file),
                    key_file: opt(self.tls_key_file),
                });
            }
            conn
        };
        if tls.is_some() && matches!(conn.target, RedisTarget::Unix(_)) {
            return Err(invalid(
                "TLS is for TCP connections, not unix sockets".into(),
            ));
        }
        conn.tls = tls;
        if !self.username.is_empty() {
            conn.username = Some(self.username.to_owned());
        }
        conn.password = match (self.password_file.is_empty(), self.password_env.is_empty()) {
            (true, true) => None,
            (false, false) => {
                return Err(invalid(
                    "password_file and password_env: give one of them".into(),
                ));
            }
            (false, true) => {
                let text = std::fs::read_to_string(self.password_file).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("password_file {}: {e}", self.password_file),
                    )
                })?;
                let first = text.lines().next().unwrap_or("").to_owned();
                if first.is_empty() {
                    return Err(invalid(format!(
                        "password_file {}: the first line is empty",
                        self.password_file
                    )));
                }
                Some(Secret(first))
            }
            (true, false) => match std::env::var(self.password_env) {
                Ok(p) if !p.is_empty() => Some(Secret(p)),
                _ => {
                    return Err(invalid(format!(
                        "password_env: the environment variable {} is not set",
                        self.password_env
                    )));
                }
            },
        };
        Ok(conn)
    }
}

/// `redis://[user@]host[:port][/db]`, `rediss://...` or
/// `redis+unix:///path[?db=N]`; a password in the URL is refused (it would
/// show in `ps`, in logs and in `--check-config`).
fn parse_url(url: &str) -> io::Result<(RedisConn, bool)> {
    let bad = |why: &str| invalid(format!("url `{url}`: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected redis://, rediss:// or redis+unix://"))?;
    match scheme {
        "redis+unix" | "unix" => {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err(bad("no socket path"));
            }
            let mut conn = RedisConn {
                target: RedisTarget::Unix(PathBuf::from(path)),
                tls: None,
                username: None,
                password: None,
                db: 0,
            };
            for kv in query.split('&').filter(|s| !s.is_empty()) {
                match kv.split_once('=') {
                    Some(("db", n)) => {
                        conn.db = n.parse().map_err(|_| bad("db is not a number"))?
                    }
                    _ => return Err(bad("only ?db=N may follow a socket path")),
                }
            }
            Ok((conn, false))
        }
        "redis" | "rediss" => {
            let (auth_host, db) = match rest.split_once('/') {
                Some((a, d)) if !d.is_empty() => (
                    a,
                    d.parse().map_err(|_| bad("the database is not a number"))?,
                ),
                Some((a, _)) => (a, 0),
                None => (rest, 0),
            };
            let (user, hostport) = match auth_host.rsplit_once('@') {
                Some((u, h)) => {
                    if u.contains(':') {
                        return Err(bad(
                            "has a password: give it with password_file or password_env",
                        ));
                    }
                    (Some(u.to_owned()).filter(|u| !u.is_empty()), h)
                }
                None => (None, auth_host),
            };
            let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
                let (h, p) = h.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                (h, p.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (hostport, None),
                }
            };
            if host.is_empty() {
                return Err(bad("no host"));
            }
            let port = match port {
                Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
                None => 6379,
            };
            let conn = RedisConn {
                target: RedisTarget::Tcp(host.to_owned(), port),
                tls: None,
                username: user,
                password: None,
                db,
            };
            Ok((conn, scheme == "rediss"))
        }
        _ => Err(bad("expected redis://, rediss:// or redis+unix://")),
    }
}

impl OutputConf {
    /// Its Redis connection settings.
    pub fn redis_settings(&self) -> RedisSettings<'_> {
        RedisSettings {
            url: &self.url,
            server: &self.server,
            port: self.port,
            socket: if self.filename == OutputConf::default().filename {
                ""
            } else {
                &self.filename
            },
            tls: self.tls,
            tls_ca_file: &self.tls_ca_file,
            tls_cert_file: &self.tls_cert_file,
            tls_key_file: &self.tls_key_file,
            username: &self.username,
            password_file: &self.password_file,
            password_env: &self.password_env,
            db: self.db,
        }
    }

    /// Opens the output. Files open now (a bad path is a start-up error)
    /// and are returned, so their owner can be changed; sockets may be down
    /// and are reached by the output's writer. `producer` names the writer
    /// in a redis output's exactly-once mark.
    pub fn open_sink(
        &self,
        log_dir: &Path,
        producer: &str,
    ) -> io::Result<(Box<dyn Sink>, Option<PathBuf>)> {
        Ok(match self.filetype {
            FileType::Regular => {
                let path = log_dir.join(&self.filename);
                let rotation = Rotation {
                    max_bytes: self.rotate_size.0,
                    interval: Duration::from_secs(self.rotate_interval),
                };
                let s = FileSink::open(&path, rotation).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("{}: cannot open for writing: {e}", path.display()),
                    )
                })?;
                (Box::new(s), Some(path))
            }
            FileType::UnixStream => (
                Box::new(UnixStreamSink::new(PathBuf::from(&self.filename))),
                None,
            ),
            FileType::UnixDgram => (
                Box::new(UnixDgramSink::new(PathBuf::from(&self.filename))),
                None,
            ),
            FileType::Syslog => {
                let port = if self.port == 0 { 514 } else { self.port };
                let transport = match self.transport {
                    SyslogTransportName::Udp => SyslogTransport::Udp(self.server.clone(), port),
                    SyslogTransportName::Tcp => SyslogTransport::Tcp(self.server.clone(), port),
                    SyslogTransportName::Unix => SyslogTransport::Unix(PathBuf::from(
                        if self.filename == OutputConf::default().filename {
                            "/dev/log"
                        } else {
                            &self.filename
                        },
                    )),
                };
                let facility = facility_code(&self.facility.0)
                    .ok_or_else(|| invalid(format!("facility `{}`", self.facility.0)))?;
                let level = severity_code(&self.level.0)
                    .ok_or_else(|| invalid(format!("level `{}`", self.level.0)))?;
                (
                    Box::new(SyslogSink::new(transport, facility, level, &self.identity)),
                    None,
                )
            }
            FileType::Redis => {
                let conn = self.redis_settings().resolve()?;
                let mode = match self.mode {
                    RedisModeName::List => RedisMode::List,
                    RedisModeName::Stream => RedisMode::Stream,
                    RedisModeName::Channel => RedisMode::Channel,
                };
                let trim = match (self.stream_maxlen, self.stream_max_age) {
                    (0, 0) => Trim::None,
                    (n, 0) => Trim::MaxLen(n),
                    (0, s) => Trim::MaxAge(Duration::from_secs(s)),
                    _ => {
                        return Err(invalid(
                            "stream_maxlen and stream_max_age: give one of them".into(),
                        ));
                    }
                };
                if trim != Trim::None && mode != RedisMode::Stream {
                    return Err(invalid(
                        "stream_maxlen and stream_max_age apply to mode: stream".into(),
                    ));
                }
                let sink = RedisSink::new(conn, mode, &self.key, producer, self.batch_size)
                    .with_trim(trim);
                (Box::new(sink), None)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> RedisSettings<'_> {
        RedisSettings {
            url,
            server: "127.0.0.1",
            port: 0,
            socket: "",
            tls: false,
            tls_ca_file: "",
            tls_cert_file: "",
            tls_key_file: "",
            username: "",
            password_file: "",
            password_env: "",
            db: 0,
        }
    }

    #[test]
    fn urls_and_fields_name_the_same_server() {
        let c = settings("").resolve().unwrap();
        assert_eq!(c.describe(), "redis://127.0.0.1:6379");
        let c = settings("rediss://fumidai@redis.example.net:6380/2")
            .resolve()
            .unwrap();
        assert_eq!(c.describe(), "rediss://redis.example.net:6380");
        assert_eq!((c.username.as_deref(), c.db), (Some("fumidai"), 2));
        let c = settings("redis://[::1]").resolve().unwrap();
        assert_eq!(c.describe(), "redis://[::1]:6379");
        let c = settings("redis+unix:///run/redis.sock?db=3")
            .resolve()
            .unwrap();
        assert_eq!(
            (c.describe().as_str(), c.db),
            ("redis+unix:///run/redis.sock", 3)
        );
    }

    #[test]
    fn a_password_never_comes_from_the_url_and_comes_from_a_file_or_the_environment() {
        let e = settings("redis://u:hunter2@h:1").resolve().unwrap_err();
        assert!(e.to_string().contains("password_file"), "{e}");
        assert!(!e.to_string().contains("hunter2") || e.to_string().contains("url"));
        let dir = std::env::temp_dir().join(format!("fumidai-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pass");
        std::fs::write(&f, "s3cret\n").unwrap();
        let path = f.display().to_string();
        let mut s = settings("");
        s.password_file = &path;
        assert_eq!(s.resolve().unwrap().password, Some(Secret("s3cret".into())));
        s.password_env = "FUMIDAI_TEST_NO_SUCH_VARIABLE";
        assert!(s.resolve().unwrap_err().to_string().contains("one of them"));
        s.password_file = "";
        assert!(s.resolve().unwrap_err().to_string().contains("not set"));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = settings("");
        s.socket = "/run/redis.sock";
        s.tls = true;
        assert!(s.resolve().unwrap_err().to_string().contains("TLS"));
    }
}
