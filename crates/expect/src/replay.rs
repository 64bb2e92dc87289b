//! Replaying one capture with the fumidai binary itself, as a user would:
//! a child process, its own log directory, the merged configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_norway::{Mapping, Value as Yaml};

use crate::spec::{self, Spec};

/// How captures are replayed.
pub struct Sensor {
    /// The fumidai binary.
    pub exe: PathBuf,
    /// The base configuration (`-c`), or empty for the built-in defaults.
    pub base: Mapping,
    /// A replay that takes longer is stopped and reported.
    pub timeout: Duration,
}

/// What a replay produced.
pub struct Replayed {
    pub events: Vec<Value>,
    /// The sensor's `--summary-json`.
    pub summary: Value,
    /// Wall time of the replay.
    pub time: Duration,
}

/// `over` merged into `base`: mappings key by key, anything else replaced.
pub fn merge(base: &mut Mapping, over: &Mapping) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Yaml::Mapping(b)), Yaml::Mapping(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn set(map: &mut Mapping, path: &[&str], v: Yaml) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut m = map;
    for p in parents {
        let key = Yaml::from(*p);
        if !matches!(m.get(&key), Some(Yaml::Mapping(_))) {
            m.insert(key.clone(), Yaml::Mapping(Mapping::new()));
        }
        let Some(Yaml::Mapping(next)) = m.get_mut(&key) else {
            return;
        };
        m = next;
    }
    m.insert(Yaml::from(*last), v);
}

/// Runs `cmd` to its end or `timeout`, whichever is first; stdout and
/// stderr go to files (a pipe nobody reads could stall the child).
fn run(mut cmd: Command, dir: &Path, timeout: Duration) -> Result<(ExitStatus, String), String> {
    let err_path = dir.join("fumidai.stderr");
    let out = std::fs::File::create(dir.join("fumidai.stdout")).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let started = Instant::now();
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "replay stopped after {} s (--timeout)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(25));
            }
            Err(e) => return Err(format!("waiting for fumidai: {e}")),
        }
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    Ok((status, stderr))
}

fn exit_text(s: ExitStatus) -> String {
    match s.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".into(),
    }
}

/// Stderr without the program's name in front of each line.
fn messages(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| l.strip_prefix("fumidai: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Sensor {
    /// Validates a configuration file with `--check-config`: its errors,
    /// as the sensor words them.
    pub fn check_config(&self, file: &Path, dir: &Path) -> Result<(), String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--check-config").arg("-c").arg(file);
        let (status, stderr) = run(cmd, dir, self.timeout)?;
        if status.success() {
            Ok(())
        } else {
            Err(messages(&stderr))
        }
    }

    /// Checks the `config:` of an expectation file alone, so that its
    /// errors name the expectation file's own lines.
    pub fn check_overlay(
        &self,
        spec: &Spec,
        text: &str,
        expect: &Path,
        dir: &Path,
    ) -> Result<(), String> {
        let Some(config) = &spec.config else {
            return Ok(());
        };
        let laid_out = spec::config_text(text)
            .filter(|t| serde_norway::from_str::<Mapping>(t).is_ok_and(|m| m == *config));
        let keeps_lines = laid_out.is_some();
        let text = match laid_out {
            Some(t) => t,
            None => serde_norway::to_string(config).map_err(|e| e.to_string())?,
        };
        let file = dir.join("expect-config.yaml");
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        self.check_config(&file, dir).map_err(|msg| {
            let tmp = file.display().to_string();
            let shown = expect.display().to_string();
            msg.lines()
                .map(|l| match l.strip_prefix(&tmp) {
                    // ":line:col: rest", or ": rest"
                    Some(rest) => {
                        let (loc, rest) = split_location(rest);
                        let loc = if keeps_lines { loc } else { "" };
                        format!("{shown}{loc}: in config: {rest}")
                    }
                    None => l.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// Replays `capture` with the base configuration and `overlay` merged
    /// over it, into `dir`.
    pub fn replay(
        &self,
        capture: &Path,
        overlay: Option<&Mapping>,
        dir: &Path,
    ) -> Result<Replayed, String> {
        let mut cfg = self.base.clone();
        if let Some(o) = overlay {
            merge(&mut cfg, o);
        }
        // Whatever outputs the configuration names, the test reads one file.
        let mut out = Mapping::new();
        out.insert("filetype".into(), "regular".into());
        out.insert("filename".into(), "eve.json".into());
        set(
            &mut cfg,
            &["eve", "outputs"],
            Yaml::Sequence(vec![Yaml::Mapping(out)]),
        );
        set(&mut cfg, &["eve", "spool", "dir"], Yaml::from(""));
        let cfg_path = dir.join("sensor.yaml");
        let text = serde_norway::to_string(&cfg).map_err(|e| e.to_string())?;
        std::fs::write(&cfg_path, text).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
        let summary_path = dir.join("summary.json");
        let mut cmd = Command::new(&self.exe);
        cmd.arg("-r")
            .arg(capture)
            .arg("-c")
            .arg(&cfg_path)
            .arg("-l")
            .arg(dir)
            .args(["-q", "--workers", "1", "--summary-json"])
            .arg(&summary_path);
        let started = Instant::now();
        let (status, stderr) = run(cmd, dir, self.timeout)?;
        let time = started.elapsed();
        if !status.success() {
            return Err(format!(
                "replay failed ({}): {}",
                exit_text(status),
                messages(&stderr)
            ));
        }
        let summary: Value = std::fs::read_to_string(&summary_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", summary_path.display()))?;
        // A capture read only in part gives partial answers: not a pass.
        let files = summary["input"]["files"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(f) = files.iter().find(|f| f["complete"] == false) {
            return Err(format!(
                "not read to the end: {}",
                f["error"].as_str().unwrap_or("reading stopped early")
            ));
        }
        let eve_path = dir.join("eve.json");
        let eve = std::fs::read_to_string(&eve_path)
            .map_err(|e| format!("{}: {e}", eve_path.display()))?;
        let mut events = Vec::new();
        for (i, line) in eve.lines().enumerate() {
            let v = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: not JSON: {e}", eve_path.display(), i + 1))?;
            events.push(v);
        }
        Ok(Replayed {
            events,
            summary,
            time,
        })
    }
}

/// `":3:5: rest"` → (`":3:5"`, `"rest"`); `": rest"` → (`""`, `"rest"`).
fn split_location(s: &str) -> (&str, &str) {
    let mut end = 0;
    let mut numbers = 0;
    let b = s.as_bytes();
    while numbers < 2 && end < b.len() && b[end] == b':' {
        let digits = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            break;
        }
        end += 1 + digits;
        numbers += 1;
    }
    let loc = &s[..end];
    let rest = s[end..].trim_start_matches(':').trim_start();
    (loc, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_replaces_all_but_mappings() {
        let mut base: Mapping =
            serde_norway::from_str("home_net: [10.0.0.0/8]\nsmtp:\n  local_domains: [a]\n  relay_networks: [b]\nworkers: 2\n")
                .unwrap();
        let over: Mapping =
            serde_norway::from_str("home_net: [192.0.2.0/24]\nsmtp:\n  local_domains: [c]\n")
                .unwrap();
        merge(&mut base, &over);
        let want: Mapping = serde_norway::from_str(
            "home_net: [192.0.2.0/24]\nsmtp:\n  local_domains: [c]\n  relay_networks: [b]\nworkers: 2\n",
        )
        .unwrap();
        assert_eq!(base, want);
    }

    #[test]
    fn locations_are_split_off() {
        assert_eq!(split_location(":3:5: stream: bad"), (":3:5", "stream: bad"));
        assert_eq!(split_location(": bad"), ("", "bad"));
        assert_eq!(split_location(":12: bad"), (":12", "bad"));
    }
}
