//! Unix-domain sockets: a collector (Logstash, Vector, a SIEM agent)
//! listening on a path. Stream sockets get newline-delimited lines,
//! datagram sockets one line per datagram.

use std::io::{self, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use super::{Line, Sink, datagram_refused};

/// A stuck reader turns into an error (and spooling) instead of a writer
/// blocked for ever.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

pub struct UnixStreamSink {
    path: PathBuf,
    sock: Option<UnixStream>,
    buf: Vec<u8>,
}

impl UnixStreamSink {
    pub fn new(path: PathBuf) -> Self {
        UnixStreamSink {
            path,
            sock: None,
            buf: Vec::new(),
        }
    }
}

impl Sink for UnixStreamSink {
    fn describe(&self) -> String {
        format!("unix_stream:{}", self.path.display())
    }

    fn connect(&mut self) -> io::Result<()> {
        self.sock = None;
        let s = UnixStream::connect(&self.path)?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        self.sock = Some(s);
        Ok(())
    }

    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        let Some(sock) = self.sock.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        self.buf.clear();
        for l in lines {
            self.buf.extend_from_slice(l.bytes);
        }
        if let Err(e) = sock.write_all(&self.buf) {
            self.sock = None;
            return Err(e);
        }
        Ok(0)
    }
}

pub struct UnixDgramSink {
    path: PathBuf,
    sock: Option<UnixDatagram>,
}

impl UnixDgramSink {
    pub fn new(path: PathBuf) -> Self {
        UnixDgramSink { path, sock: None }
    }
}

impl Sink for UnixDgramSink {
    fn describe(&self) -> String {
        format!("unix_dgram:{}", self.path.display())
    }

    fn connect(&mut self) -> io::Result<()> {
        self.sock = None;
        let s = UnixDatagram::unbound()?;
        s.connect(&self.path)?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        self.sock = Some(s);
        Ok(())
    }

    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        let Some(sock) = self.sock.as_ref() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        let mut refused = 0;
        for l in lines {
            match sock.send(l.json()) {
                Ok(_) => {}
                Err(e) if datagram_refused(&e) => refused += 1,
                Err(e) => {
                    self.sock = None;
                    return Err(e);
                }
            }
        }
        Ok(refused)
    }
}
