//! Finding the captures to test and the expectation file of each.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The suffix of an expectation file.
pub const SUFFIX: &str = ".expect.yaml";

/// Extensions a capture's name ends in; `X.pcap` is expected by `X.expect.yaml`.
const EXTENSIONS: &[&str] = &["pcap", "pcapng", "cap"];

/// One capture and where its expectations are (or would be).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    pub capture: PathBuf,
    pub expect: PathBuf,
}

/// What to test: the captures, and expectation files that have no capture
/// (a renamed or deleted capture must not leave its checks silently unrun).
#[derive(Debug, Default)]
pub struct Found {
    pub cases: Vec<Case>,
    pub orphans: Vec<PathBuf>,
}

/// `X.expect.yaml` beside `X.pcap`, `X.pcapng`, `X.cap`, or `X`.
pub fn expect_path(capture: &Path) -> PathBuf {
    let name = capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = EXTENSIONS
        .iter()
        .find_map(|e| name.strip_suffix(&format!(".{e}")))
        .unwrap_or(&name);
    capture.with_file_name(format!("{stem}{SUFFIX}"))
}

/// True for a file that starts like a pcap or pcapng file.
fn has_capture_magic(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok();
    ok && matches!(
        u32::from_le_bytes(magic),
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
    )
}

/// A capture: a regular file named like one (even if broken: its replay
/// then fails, loudly) or starting like one.
fn is_capture(path: &Path) -> bool {
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    named || has_capture_magic(path)
}

/// Walks files and directories (recursively, without following links to
/// directories): the captures in path order.
pub fn find(paths: &[PathBuf]) -> anyhow::Result<Found> {
    let mut found = Found::default();
    let mut expects = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let before = found.cases.len();
            walk(p, &mut found.cases, &mut expects)?;
            if found.cases.len() == before && !expects.iter().any(|e: &PathBuf| e.starts_with(p)) {
                bail!("{}: no captures in this directory", p.display());
            }
        } else if p.to_string_lossy().ends_with(SUFFIX) {
            // An expectation file given by name: test its capture.
            let capture = capture_of(p).with_context(|| {
                format!(
                    "{}: no capture beside it (X.pcap, X.pcapng, X.cap or X)",
                    p.display()
                )
            })?;
            found.cases.push(Case {
                expect: p.clone(),
                capture,
            });
        } else if meta.is_file() {
            found.cases.push(Case {
                expect: expect_path(p),
                capture: p.clone(),
            });
        } else {
            bail!("{}: not a capture file or a directory", p.display());
        }
    }
    found.cases.sort();
    found.cases.dedup();
    for e in expects {
        if !found.cases.iter().any(|c| c.expect == e) {
            found.orphans.push(e);
        }
    }
    found.orphans.sort();
    found.orphans.dedup();
    Ok(found)
}

fn capture_of(expect: &Path) -> Option<PathBuf> {
    let name = expect.file_name()?.to_str()?;
    let stem = name.strip_suffix(SUFFIX)?;
    EXTENSIONS
        .iter()
        .map(|e| expect.with_file_name(format!("{stem}.{e}")))
        .chain(std::iter::once(expect.with_file_name(stem)))
        .find(|c| c.is_file())
}

fn walk(dir: &Path, cases: &mut Vec<Case>, expects: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let ft = entry
            .file_type()
            .with_context(|| format!("{}", path.display()))?;
        if ft.is_dir() {
            walk(&path, cases, expects)?;
            continue;
        }
        // A link to a file counts as the file; FIFOs and devices never do.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if path.to_string_lossy().ends_with(SUFFIX) {
            expects.push(path);
        } else if is_capture(&path) {
            cases.push(Case {
                expect: expect_path(&path),
                capture: path,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectation_files_sit_beside_their_captures() {
        assert_eq!(
            expect_path(Path::new("a/b/x.pcap")),
            Path::new("a/b/x.expect.yaml")
        );
        assert_eq!(
            expect_path(Path::new("x.pcapng")),
            Path::new("x.expect.yaml")
        );
        assert_eq!(
            expect_path(Path::new("x.dump")),
            Path::new("x.dump.expect.yaml")
        );
    }

    #[test]
    fn walks_directories_and_finds_orphans() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("sub")).unwrap();
        std::fs::write(p.join("b.pcap"), [0xd4, 0xc3, 0xb2, 0xa1]).unwrap();
        std::fs::write(p.join("sub/a.pcapng"), b"broken but named like one").unwrap();
        std::fs::write(p.join("sub/raw"), [0x0a, 0x0d, 0x0d, 0x0a]).unwrap();
        std::fs::write(p.join("README.md"), "not a capture").unwrap();
        std::fs::write(p.join("b.expect.yaml"), "").unwrap();
        std::fs::write(p.join("gone.expect.yaml"), "").unwrap();
        let f = find(&[p.to_path_buf()]).unwrap();
        let names: Vec<String> = f
            .cases
            .iter()
            .map(|c| c.capture.strip_prefix(p).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["b.pcap", "sub/a.pcapng", "sub/raw"]);
        assert_eq!(f.orphans, vec![p.join("gone.expect.yaml")]);
        // Given by name, an expectation file tests its capture.
        let f = find(&[p.join("b.expect.yaml")]).unwrap();
        assert_eq!(f.cases[0].capture, p.join("b.pcap"));
        assert!(find(&[p.join("gone.expect.yaml")]).is_err());
        assert!(find(&[p.join("missing")]).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(find(&[empty.path().to_path_buf()]).is_err());
    }
}
