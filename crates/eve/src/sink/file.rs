//! A regular file, appended to (`O_APPEND`, so several writers and
//! logrotate's rename-then-signal rotation never interleave or lose lines).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::{Line, Sink};

/// Rotation by the sensor itself (besides SIGHUP from logrotate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate when the file reaches this size (0: never).
    pub max_bytes: u64,
    /// Rotate after this long (zero: never).
    pub interval: Duration,
}

pub struct FileSink {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    rotation: Rotation,
    size: u64,
    opened: Instant,
}

impl FileSink {
    /// Opens `path` now, so a bad path is reported at start-up.
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let mut s = FileSink {
            path: path.to_owned(),
            out: None,
            rotation,
            size: 0,
            opened: Instant::now(),
        };
        s.connect()?;
        Ok(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut o) = self.out.take() {
            o.flush()?;
        }
        let stamp = time::OffsetDateTime::from(SystemTime::now());
        let base = format!(
            "{}.{:04}{:02}{:02}{:02}{:02}{:02}",
            self.path.display(),
            stamp.year(),
            u8::from(stamp.month()),
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second()
        );
        // Never overwrite an earlier rotation of the same second.
        let mut target = PathBuf::from(&base);
        let mut n = 1;
        while target.exists() {
            target = PathBuf::from(format!("{base}.{n}"));
            n += 1;
        }
        std::fs::rename(&self.path, &target)?;
        self.connect()
    }
}

impl Sink for FileSink {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn connect(&mut self) -> io::Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = f.metadata()?.len();
        self.opened = Instant::now();
        self.out = Some(BufWriter::with_capacity(256 << 10, f));
        Ok(())
    }

    /// Writes the batch through to the file before saying it is written:
    /// a failure (a full disk) must leave the batch to be retried or
    /// spooled, not counted as written and then lost in a buffer. What a
    /// failed write left of the batch is cut off again, so a retry neither
    /// duplicates lines nor leaves a torn one.
    fn send(&mut self, lines: &[Line<'_>]) -> io::Result<u64> {
        let Some(out) = self.out.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not open"));
        };
        let before = self.size;
        let written = lines
            .iter()
            .try_for_each(|l| out.write_all(l.bytes))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            // Drop what is still buffered (into_parts does not flush it),
            // and cut off what reached the file.
            let stale = std::mem::replace(
                out,
                BufWriter::with_capacity(256 << 10, out.get_ref().try_clone()?),
            );
            let (file, _unwritten) = stale.into_parts();
            let _ = file.set_len(before);
            return Err(e);
        }
        self.size += lines.iter().map(|l| l.bytes.len() as u64).sum::<u64>();
        if self.rotation.max_bytes > 0 && self.size >= self.rotation.max_bytes {
            self.rotate()?;
        }
        Ok(0)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        if let Some(mut o) = self.out.take() {
            o.flush()?;
        }
        self.connect()
    }

    fn tick(&mut self) -> io::Result<()> {
        if !self.rotation.interval.is_zero() && self.opened.elapsed() >= self.rotation.interval {
            self.rotate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;

    fn line(b: &[u8]) -> Line<'_> {
        Line {
            seq: 0,
            event_type: EventType::Alert,
            bytes: b,
        }
    }

    #[test]
    fn reopen_follows_a_rename_and_rotation_by_size_keeps_every_line() {
        let dir = std::env::temp_dir().join(format!("fumidai-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("eve.json");
        let mut s = FileSink::open(
            &p,
            Rotation {
                max_bytes: 40,
                interval: Duration::ZERO,
            },
        )
        .unwrap();
        s.send(&[line(b"{\"a\":1}\n")]).unwrap();
        s.flush().unwrap();
        // logrotate: rename, then SIGHUP.
        std::fs::rename(&p, dir.join("eve.json.1")).unwrap();
        s.send(&[line(b"{\"a\":2}\n")]).unwrap();
        s.reopen().unwrap();
        s.send(&[line(b"{\"a\":3}\n")]).unwrap();
        for _ in 0..10 {
            s.send(&[line(b"{\"b\":12345}\n")]).unwrap();
        }
        s.flush().unwrap();
        let mut all = String::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        assert_eq!(all.lines().count(), 13, "{all}");
        let rotated = std::fs::read_dir(&dir).unwrap().count();
        assert!(rotated >= 4, "{rotated} files");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
