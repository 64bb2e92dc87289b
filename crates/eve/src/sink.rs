//! Where EVE lines go.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::EventType;

/// Which event types a sink takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeFilter {
    allowed: [bool; EventType::ALL.len()],
}

impl TypeFilter {
    /// Every event type.
    pub fn all() -> Self {
        TypeFilter {
            allowed: [true; EventType::ALL.len()],
        }
    }

    /// Only the listed types.
    pub fn only(types: &[EventType]) -> Self {
        let mut allowed = [false; EventType::ALL.len()];
        for t in types {
            allowed[t.index()] = true;
        }
        TypeFilter { allowed }
    }

    pub fn accepts(&self, t: EventType) -> bool {
        self.allowed[t.index()]
    }
}

/// Per-sink delivery counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub written: u64,
    pub dropped: u64,
    pub errors: u64,
    pub reopens: u64,
}

/// An output for EVE lines.
pub trait Sink: Send {
    /// A short name for logs and stats (`file:/var/log/fumidai/eve.json`).
    fn name(&self) -> &str;
    fn filter(&self) -> &TypeFilter;
    /// Writes one line (newline included).
    fn write_line(&mut self, line: &[u8]) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Re-opens the destination (log rotation).
    fn reopen(&mut self) -> io::Result<()>;
}

/// A regular file, opened for appending.
pub struct FileSink {
    name: String,
    path: PathBuf,
    out: BufWriter<File>,
    filter: TypeFilter,
}

impl FileSink {
    pub fn open(path: &Path, filter: TypeFilter) -> io::Result<Self> {
        let out = BufWriter::with_capacity(256 << 10, open_append(path)?);
        Ok(FileSink {
            name: format!("file:{}", path.display()),
            path: path.to_owned(),
            out,
            filter,
        })
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn filter(&self) -> &TypeFilter {
        &self.filter
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let file = open_append(&self.path)?;
        self.out = BufWriter::with_capacity(256 << 10, file);
        Ok(())
    }
}
