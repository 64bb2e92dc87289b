//! EVE outputs against real peers: rsyslog and redis-server started by the
//! tests on loopback, unix sockets served by the test, and the promises a
//! SIEM relies on: a dead collector neither stops capture nor loses or
//! duplicates alerts, and SIGTERM/SIGHUP lose nothing.
//!
//! The peers come from Debian packages that `scripts/deps.sh test` installs;
//! when one is missing the test says so and fails, as CI has them.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, root};
use serde_json::Value;

/// A daemon this test started; killed (by its PID) when dropped.
struct Daemon {
    child: Child,
    name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.name;
    }
}

fn need(program: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is not installed: run scripts/deps.sh test (CI does)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits (bounded) until `ok` holds.
fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

fn start_redis(dir: &Path, port: u16, persist: bool) -> Daemon {
    let mut cmd = Command::new(need("redis-server"));
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--unixsocket")
        .arg(dir.join("redis.sock"))
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--daemonize", "no", "--protected-mode", "no"]);
    if persist {
        // Acknowledged writes survive kill -9.
        cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        cmd.args(["--appendonly", "no"]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let d = Daemon {
        child,
        name: "redis-server",
    };
    wait_for("redis-server to listen", 10, || {
        redis(port, &["PING"]).is_some_and(|r| r.trim() == "PONG")
    });
    d
}

/// One redis-cli command's raw output, or None when redis is not answering.
fn redis(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new(need("redis-cli"))
        .args(["-p", &port.to_string(), "--raw"])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

fn write_config(dir: &Path, outputs: &str) -> PathBuf {
    let p = dir.join("sensor.yaml");
    std::fs::write(
        &p,
        format!(
            "eve:\n  flush_timeout: 10\n  spool:\n    dir: {}\n  outputs:\n    - filetype: regular\n      filename: eve.json\n{outputs}",
            dir.join("spool").display()
        ),
    )
    .expect("write config");
    p
}

/// `-r pcaps` repeated: a replay long enough to act on while it runs.
fn long_input(times: usize) -> Vec<String> {
    let pcaps = root().join("pcaps").display().to_string();
    (0..times)
        .flat_map(|_| ["-r".to_owned(), pcaps.clone()])
        .collect()
}

fn spawn(config: &Path, logdir: &Path, input: &[String]) -> Child {
    bin()
        .arg("-c")
        .arg(config)
        .arg("-l")
        .arg(logdir)
        .args(input)
        .stdout(Stdio::piped())
        // Not read while the replay runs: `-r pcaps` names every file it
        // skips (the X.expect.yaml beside each capture), and hundreds of
        // repetitions would fill the pipe and stall the sensor.
        .stderr(Stdio::null())
        .spawn()
        .expect("start fumidai")
}

fn finish(child: Child) -> (String, String) {
    let out = child.wait_with_output().expect("fumidai ran");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "fumidai failed:\n{so}\n{se}");
    (so, se)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn alerts_in(path: &Path) -> Vec<String> {
    lines(path)
        .into_iter()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .collect()
}

/// Multiset of JSON texts, compared as parsed values (whitespace and key
/// order cannot matter).
fn bag(items: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        let v: Value = serde_json::from_str(i.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {i}"));
        *m.entry(v.to_string()).or_insert(0) += 1;
    }
    m
}

fn assert_same(what: &str, expected: &BTreeMap<String, usize>, got: &BTreeMap<String, usize>) {
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, n)| got.get(*k).copied().unwrap_or(0) < **n)
        .take(3)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(k, n)| expected.get(*k).copied().unwrap_or(0) < **n)
        .take(3)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} expected, {} got\nmissing or short: {missing:#?}\nextra or duplicated: {extra:#?}",
        expected.values().sum::<usize>(),
        got.values().sum::<usize>()
    );
}

#[test]
fn syslog_reaches_a_real_rsyslog_over_udp_tcp_and_unix() {
    let rsyslogd = need("rsyslogd");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (udp, tcp) = (free_port(), free_port());
    let sock = d.join("log.sock");
    std::fs::write(
        d.join("rsyslog.conf"),
        format!(
            r#"global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
template(name="eve" type="string" string="%app-name% %msgid% %pri-text% %msg%\n")
ruleset(name="udp") {{ action(type="omfile" file="{dir}/udp.log" template="eve") }}
ruleset(name="tcp") {{ action(type="omfile" file="{dir}/tcp.log" template="eve") }}
ruleset(name="unix") {{ action(type="omfile" file="{dir}/unix.log" template="eve") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imuxsock" socket="{sock}" ruleset="unix" useSpecialParser="off" parseHostname="on")
"#,
            dir = d.display(),
            sock = sock.display()
        ),
    )
    .unwrap();
    let _rsyslog = Daemon {
        child: Command::new(rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd"),
        name: "rsyslogd",
    };
    wait_for("rsyslogd to listen", 10, || {
        TcpStream::connect(("127.0.0.1", tcp)).is_ok() && sock.exists()
    });
    let cfg = write_config(
        d,
        &format!(
            "    - filetype: syslog\n      transport: udp\n      port: {udp}\n      types: [alert]\n      facility: local5\n      level: notice\n\
             \x20   - filetype: syslog\n      transport: tcp\n      port: {tcp}\n      types: [alert]\n\
             \x20   - filetype: syslog\n      transport: unix\n      filename: {}\n      types: [alert]\n",
            sock.display()
        ),
    );
    let logdir = d.join("log");
    let (stdout, _) = finish(spawn(&cfg, &logdir, &long_input(1)));
    let expected = bag(alerts_in(&logdir.join("eve.json")));
    let n: usize = expected.values().sum();
    assert!(n >= 20, "the bundled captures raise alerts: {n}\n{stdout}");
    for t in ["udp", "tcp", "unix"] {
        let file = d.join(format!("{t}.log"));
        wait_for(&format!("{n} alerts in rsyslog's {t}.log"), 15, || {
            lines(&file).len() >= n
        });
        let got = lines(&file);
        for l in &got {
            let mut f = l.splitn(4, ' ');
            assert_eq!(f.next(), Some("fumidai"), "APP-NAME: {l}");
            assert_eq!(f.next(), Some("alert"), "MSGID: {l}");
            let pri = f.next().unwrap_or_default();
            if t == "udp" {
                assert!(pri.starts_with("local5.notice"), "PRI: {pri}");
            } else {
                assert!(pri.starts_with("local5.info"), "PRI: {pri}");
            }
        }
        let msgs = got
            .iter()
            .map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_owned());
        assert_same(&format!("rsyslog over {t}"), &expected, &bag(msgs));
    }
}

#[test]
fn redis_list_stream_and_channel_get_every_alert() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let _redis = start_redis(d, port, false);
    // A subscriber for the channel, listening before the run starts.
    let mut sub = Daemon {
        child: Command::new(need("redis-cli"))
            .args(["-p", &port.to_string(), "--raw", "SUBSCRIBE", "eve-channel"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-cli SUBSCRIBE"),
        name: "redis-cli",
    };
    wait_for("the subscriber", 10, || {
        redis(port, &["PUBSUB", "NUMSUB", "eve-channel"])
            .is_some_and(|r| r.lines().nth(1) == Some("1"))
    });
    let cfg = write_config(
        d,
        &format!(
            "    - filetype: redis\n      port: {port}\n      mode: list\n      key: eve-list\n      types: [alert]\n      batch_size: 7\n\
             \x20   - filetype: redis\n      filename: {}\n      mode: xadd\n      key: eve-stream\n      types: [alert]\n\
             \x20   - filetype: redis\n      port: {port}\n      mode: channel\n      key: eve-channel\n      types: [alert]\n",
            d.join("redis.sock").display()
        ),
    );
    let logdir = d.join("log");
    finish(spawn(&cfg, &logdir, &long_input(2)));
    let expected = bag(alerts_in(&logdir.join("eve.json")));
    let list = redis(port, &["LRANGE", "eve-list", "0", "-1"]).expect("LRANGE");
    assert_same(
        "RPUSH list",
        &expected,
        &bag(list.lines().map(str::to_owned)),
    );
    let stream = redis(port, &["XRANGE", "eve-stream", "-", "+"]).expect("XRANGE");
    // --raw prints id, field, value per entry.
    let values = stream
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_owned);
    assert_same("XADD stream", &expected, &bag(values));
    let n: usize = expected.values().sum();
    let mut published = Vec::new();
    let mut reader = BufReader::new(sub.child.stdout.take().expect("stdout"));
    let end = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    while published.len() < n && Instant::now() < end {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with('{') {
            published.push(line.trim().to_owned());
        }
    }
    assert_same("PUBLISH channel", &expected, &bag(published));
}

#[test]
fn killing_redis_mid_replay_loses_nothing_duplicates_nothing_and_capture_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let redis_dir = d.join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let mut server = Some(start_redis(&redis_dir, port, true));
    let cfg = write_config(
        d,
        &format!(
            "    - filetype: redis\n      port: {port}\n      mode: list\n      key: eve\n      types: [alert]\n      batch_size: 16\n"
        ),
    );
    let logdir = d.join("log");
    let eve = logdir.join("eve.json");
    let mut child = spawn(&cfg, &logdir, &long_input(400));
    wait_for("alerts in redis", 60, || {
        redis(port, &["LLEN", "eve"]).is_some_and(|n| n.trim().parse::<u64>().unwrap_or(0) >= 50)
    });
    assert!(
        child.try_wait().expect("status").is_none(),
        "the replay ended before redis could be killed: make long_input longer"
    );
    drop(server.take()); // kill -9, by PID
    let size_at_kill = std::fs::metadata(&eve).map(|m| m.len()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let size_after = std::fs::metadata(&eve).map(|m| m.len()).unwrap_or(0);
    let still_running = child.try_wait().expect("status").is_none();
    let _server = start_redis(&redis_dir, port, true);
    let (stdout, _) = finish(child);
    assert!(
        size_after > size_at_kill || !still_running,
        "capture stalled while redis was down: eve.json stayed at {size_at_kill} bytes"
    );
    let expected = bag(alerts_in(&eve));
    let n: usize = expected.values().sum();
    let list = redis(port, &["LRANGE", "eve", "0", "-1"]).expect("LRANGE");
    assert_same(
        "alerts in redis after kill -9 and restart",
        &expected,
        &bag(list.lines().map(str::to_owned)),
    );
    let out_line = stdout
        .lines()
        .find(|l| l.contains("redis://"))
        .unwrap_or_default()
        .to_owned();
    assert!(out_line.contains("spooled"), "{stdout}");
    assert!(!out_line.contains("NOT"), "{stdout}");
    println!("{n} alerts, all in redis exactly once; {out_line}");
}

#[test]
fn sigterm_mid_replay_leaves_every_raised_alert_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, "");
    let logdir = d.join("log");
    let eve = logdir.join("eve.json");
    let child = spawn(&cfg, &logdir, &long_input(400));
    wait_for("alerts in eve.json", 60, || alerts_in(&eve).len() >= 20);
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let (stdout, _) = finish(child);
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    let all = lines(&eve);
    for l in &all {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn line ({e}): {l}"));
    }
    let last_stats: Value = all
        .iter()
        .rev()
        .find(|l| l.contains("\"event_type\":\"stats\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("the end-of-run stats event");
    let raised = last_stats["stats"]["detect"]["alert"].as_u64().unwrap_or(0);
    let written = alerts_in(&eve).len() as u64;
    assert_eq!(written, raised, "alerts raised vs alerts in eve.json");
    assert!(
        stdout.contains(&format!("alerts:  {raised}")),
        "summary disagrees: {stdout}"
    );
    println!("SIGTERM: {raised} alerts raised, {written} in eve.json");
}

#[test]
fn sighup_reopens_the_file_after_rotation_without_losing_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, "");
    let logdir = d.join("log");
    let eve = logdir.join("eve.json");
    let rotated = logdir.join("eve.json.1");
    let child = spawn(&cfg, &logdir, &long_input(200));
    wait_for("events in eve.json", 60, || lines(&eve).len() >= 100);
    // logrotate without copytruncate: rename, then signal.
    std::fs::rename(&eve, &rotated).unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (stdout, _) = finish(child);
    let (a, b) = (lines(&rotated), lines(&eve));
    assert!(!b.is_empty(), "nothing written to the reopened eve.json");
    for l in a.iter().chain(&b) {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn line ({e}): {l}"));
    }
    let total = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("events:"))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("events in the summary");
    assert_eq!(a.len() + b.len(), total, "lines before + after rotation");
    println!(
        "SIGHUP: {} lines before, {} after, {total} events",
        a.len(),
        b.len()
    );
}

#[test]
fn unix_socket_collectors_get_every_alert_even_when_late() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stream_path = d.join("eve-stream.sock");
    let dgram_path = d.join("eve-dgram.sock");
    let dgram = UnixDatagram::bind(&dgram_path).unwrap();
    dgram
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let cfg = write_config(
        d,
        &format!(
            "    - filetype: unix_stream\n      filename: {}\n      types: [alert]\n\
             \x20   - filetype: unix_dgram\n      filename: {}\n      types: [alert]\n",
            stream_path.display(),
            dgram_path.display()
        ),
    );
    let logdir = d.join("log");
    let child = spawn(&cfg, &logdir, &long_input(60));
    let datagrams = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        let mut quiet = 0;
        // Until 3 s pass without a datagram (the run has ended by then).
        while quiet < 15 {
            match dgram.recv(&mut buf) {
                Ok(n) => {
                    quiet = 0;
                    got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
                Err(_) => quiet += 1,
            }
        }
        got
    });
    // The stream collector starts late: until then fumidai spools.
    std::thread::sleep(Duration::from_millis(300));
    let listener = UnixListener::bind(&stream_path).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("fumidai connects");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    });
    let (stdout, _) = finish(child);
    let expected = bag(alerts_in(&logdir.join("eve.json")));
    let streamed = reader.join().unwrap();
    assert_same(
        "unix_stream (collector started late)",
        &expected,
        &bag(streamed.lines().map(str::to_owned)),
    );
    assert_same("unix_dgram", &expected, &bag(datagrams.join().unwrap()));
    assert!(stdout.contains("unix_stream:"), "{stdout}");
}

/// A full disk (here /dev/full, where every write fails with ENOSPC) is an
/// outage like any other: said once when it starts, counted, the alerts
/// spooled, and capture goes on — not an error line per batch.
#[test]
fn a_full_disk_is_said_once_and_the_alerts_are_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(
        d,
        "    - filetype: regular\n      name: full\n      filename: /dev/full\n",
    );
    let out = bin()
        .arg("-q")
        .arg("-c")
        .arg(&cfg)
        .arg("-l")
        .arg(d.join("log"))
        .args(long_input(3))
        .output()
        .expect("run fumidai");
    let err = String::from_utf8_lossy(&out.stderr);
    let said = err
        .lines()
        .filter(|l| l.contains("/dev/full") && l.contains("spooling and retrying"))
        .count();
    assert_eq!(said, 1, "{err}");
    // Every alert the healthy output got is in the full one's spool.
    let alerts = lines(&d.join("log/eve.json"))
        .iter()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .count();
    let spooled = std::fs::read(d.join("spool/full.spool")).unwrap_or_default();
    assert!(alerts > 0);
    assert!(
        err.contains(&format!("{alerts} events not delivered")),
        "{err}"
    );
    assert!(!spooled.is_empty());
}
