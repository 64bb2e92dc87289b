//! Dropping root once the capture is open (tcpdump's -Z, Suricata's
//! --user/--group), and the pidfile.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The account to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// Resolves `--user` and `--group` (names or numbers). With only a user,
/// the user's primary group is used.
pub fn resolve(user: Option<&str>, group: Option<&str>) -> anyhow::Result<Option<Target>> {
    let Some(user) = user else {
        if group.is_some() {
            bail!("--group needs --user");
        }
        return Ok(None);
    };
    let (uid, primary) = lookup_user(user)?;
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => primary,
    };
    Ok(Some(Target { uid, gid }))
}

fn lookup_user(name: &str) -> anyhow::Result<(libc::uid_t, libc::gid_t)> {
    let c = CString::new(name).context("--user: NUL in name")?;
    // SAFETY: getpwnam is given a valid NUL-terminated string; the result is
    // read immediately, before any other call can reuse its static buffer.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if !pw.is_null() {
        // SAFETY: non-null pointer returned by getpwnam points at a passwd record.
        let pw = unsafe { &*pw };
        return Ok((pw.pw_uid, pw.pw_gid));
    }
    match name.parse::<libc::uid_t>() {
        Ok(uid) => Ok((uid, uid)),
        Err(_) => bail!("--user {name}: no such user"),
    }
}

fn lookup_group(name: &str) -> anyhow::Result<libc::gid_t> {
    let c = CString::new(name).context("--group: NUL in name")?;
    // SAFETY: as for getpwnam above.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if !gr.is_null() {
        // SAFETY: non-null pointer returned by getgrnam points at a group record.
        return Ok(unsafe { (*gr).gr_gid });
    }
    name.parse()
        .map_err(|_| anyhow::anyhow!("--group {name}: no such group"))
}

/// Hands `paths` (the log directory and the files opened in it) to the
/// target account, so SIGHUP can re-open them after the switch, then
/// drops supplementary groups, the group and the user, in that order.
pub fn drop_to(t: Target, paths: &[PathBuf]) -> anyhow::Result<()> {
    for p in paths {
        chown(p, t)?;
    }
    // SAFETY: plain syscalls with valid arguments; their results are checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            bail!("setgroups: {}", std::io::Error::last_os_error());
        }
        if libc::setgid(t.gid) != 0 {
            bail!("setgid({}): {}", t.gid, std::io::Error::last_os_error());
        }
        if libc::setuid(t.uid) != 0 {
            bail!("setuid({}): {}", t.uid, std::io::Error::last_os_error());
        }
        // Make sure root cannot be regained.
        if t.uid != 0 && libc::setuid(0) == 0 {
            bail!("dropped to uid {} but could regain root", t.uid);
        }
    }
    tracing::info!("running as uid {} gid {}", t.uid, t.gid);
    Ok(())
}

fn chown(p: &Path, t: Target) -> anyhow::Result<()> {
    if !p.exists() {
        return Ok(());
    }
    std::os::unix::fs::chown(p, Some(t.uid), Some(t.gid))
        .with_context(|| format!("chown {}", p.display()))
}

/// A pidfile, removed when dropped (if it still can be).
pub struct PidFile(PathBuf);

impl PidFile {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("{}: cannot write pidfile", path.display()))?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // After --user, removing needs write access to the pidfile's
        // directory (a root-owned /run is not): say so rather than leave a
        // stale file unexplained.
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "fumidai: cannot remove pidfile {}: {e} (put it in a directory the --user account can write, e.g. /run/fumidai/)",
                self.0.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(resolve(None, None).unwrap(), None);
        assert!(resolve(None, Some("root")).is_err());
        let t = resolve(Some("root"), None).unwrap().unwrap();
        assert_eq!((t.uid, t.gid), (0, 0));
        let t = resolve(Some("4242"), Some("4343")).unwrap().unwrap();
        assert_eq!((t.uid, t.gid), (4242, 4343));
        assert!(resolve(Some("no-such-user-fumidai"), None).is_err());
    }
}
