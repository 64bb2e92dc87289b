//! AF_PACKET capture (`capture.method: af-packet`), end to end: a capture
//! is replayed by tcpreplay from one network namespace into another over a
//! veth pair (`scripts/veth-lab.sh`, addresses rewritten into the lab's own
//! subnets), and fumidai listens on the far end. With two workers in one
//! fanout group, and with two processes sharing a group, the alerts must be
//! those `-r` gives for the same file, and every socket must have had its
//! share of the packets. Both ring layouts: TPACKET_V3 (blocks) and
//! TPACKET_V2 (frames), `capture.tpacket: 3 | 2`.
//!
//! Needs root (namespaces, capture); CI is root. Elsewhere the test says
//! why it does not run.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bin, lab_config, pcap, root, schema};
use serde_json::Value;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn lab(args: &[&str]) {
    let out = Command::new(root().join("scripts/veth-lab.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/veth-lab.sh");
    assert!(
        out.status.success(),
        "veth-lab.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces, taken down however the test ends.
struct Lab(String);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/veth-lab.sh"))
            .args(["down", &self.0])
            .stdin(Stdio::null())
            .status();
    }
}

/// (sid, src, sport, dest, dport) of every alert, counted.
fn alerts(eve: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(eve).unwrap_or_default().lines() {
        let v: Value = serde_json::from_str(l).expect("EVE line is JSON");
        if v["event_type"] == "alert" {
            let k = format!(
                "{} {}:{} -> {}:{}",
                v["alert"]["signature_id"],
                v["src_ip"],
                v["src_port"],
                v["dest_ip"],
                v["dest_port"]
            );
            *m.entry(k).or_default() += 1;
        }
    }
    m
}

/// A sensor listening in the lab's receiving namespace.
struct Sensor {
    child: Child,
    dir: PathBuf,
}

impl Sensor {
    /// Starts fumidai on `iface` in namespace `ns` and waits until its
    /// rings are open.
    fn start(ns: &str, iface: &str, dir: PathBuf, cfg: &Path, workers: &str) -> Sensor {
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(bin().get_program())
            .args(["-v", "-i", iface, "--workers", workers, "-c"])
            .arg(cfg)
            .arg("-l")
            .arg(&dir)
            .arg("--summary-json")
            .arg(dir.join("summary.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fumidai");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = dir.join("stderr.txt");
        std::thread::spawn(move || {
            let mut all = String::new();
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if l.contains("fanout group") {
                    let _ = tx.send(());
                }
                all.push_str(&l);
                all.push('\n');
                let _ = std::fs::write(&log, &all);
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "fumidai did not open its rings: {}",
                std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
            );
        }
        Sensor { child, dir }
    }

    /// SIGTERM, then the summary.
    fn stop(mut self) -> Value {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let err = std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default();
        assert!(status.success(), "fumidai failed: {err}");
        let s = std::fs::read_to_string(self.dir.join("summary.json")).expect("summary");
        serde_json::from_str(&s).unwrap()
    }
}

fn replay(ns_tx: &str, dev: &str, file: &Path) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns_tx,
            "timeout",
            "60",
            "tcpreplay",
            "-q",
            "-i",
            dev,
            "--pps",
            "4000",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run tcpreplay");
    assert!(
        out.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Let the last ring blocks time out and be processed.
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn af_packet_fanout_sees_what_a_replay_sees() {
    if !is_root() {
        println!(
            "SKIPPED: AF_PACKET capture in network namespaces needs root (CI runs as root); run `sudo cargo test --test fanout`"
        );
        return;
    }
    let name = format!("f16-{}", std::process::id() % 100_000);
    let _lab = Lab(name.clone());
    lab(&["down", &name]);
    lab(&["up", &name]);
    let (ns_tx, ns_rx) = (format!("{name}-tx"), format!("{name}-rx"));
    let (dev_tx, dev_rx) = (format!("{name}-t"), format!("{name}-r"));

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("lab.pcap");
    lab(&[
        "rewrite",
        pcap("lab/lab-attack.pcap").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let group = 1000 + (std::process::id() % 60_000) as u16;
    let reference = work.path().join("ref");
    let out = bin()
        .args(["-q", "-c"])
        .arg(config(work.path(), group, 3))
        .arg("-r")
        .arg(&file)
        .arg("-l")
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = alerts(&reference.join("eve.json"));
    assert!(want.values().sum::<usize>() >= 10, "{want:?}");
    let sent = Command::new("capinfos")
        .args(["-c", "-M", "-T", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let sent: u64 = String::from_utf8_lossy(&sent.stdout)
        .split('\t')
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .expect("capinfos count");

    for tpacket in [3, 2] {
        let dir = work.path().join(format!("v{tpacket}"));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = config(&dir, group, tpacket);
        let veth = Veth {
            ns_tx: &ns_tx,
            ns_rx: &ns_rx,
            dev_tx: &dev_tx,
            dev_rx: &dev_rx,
        };
        sees_what_a_replay_sees(&veth, tpacket, &dir, &cfg, &file, &want, sent);
    }

    // TPACKET_V2 frames are sized for an Ethernet frame on this veth (MTU
    // 65535): DNS answers of 1703 bytes arrive whole through the socket's
    // queue, nothing cut, the same alerts as -r.
    let big = work.path().join("big.pcap");
    lab(&[
        "rewrite",
        pcap("scenarios/amp-dns-any.pcap").to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    let dir = work.path().join("big");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = config(&dir, group, 2);
    let out = bin()
        .args(["-q", "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(&big)
        .arg("-l")
        .arg(dir.join("ref"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let want = alerts(&dir.join("ref/eve.json"));
    assert!(!want.is_empty());
    let one = Sensor::start(&ns_rx, &dev_rx, dir.join("live"), &cfg, "1");
    replay(&ns_tx, &dev_tx, &big);
    let s = one.stop();
    nothing_truncated(&s);
    assert_eq!(alerts(&dir.join("live/eve.json")), want);
    // Its stats event too (capture.truncated) is valid EVE.
    let v = schema::validator();
    let eve = std::fs::read_to_string(dir.join("live/eve.json")).unwrap();
    let mut stats = 0;
    for l in eve.lines() {
        let e: Value = serde_json::from_str(l).unwrap();
        stats += usize::from(e["event_type"] == "stats");
        let errs = schema::errors(&v, &e);
        assert!(errs.is_empty(), "{errs:?}\n{e}");
    }
    assert!(stats > 0, "{eve}");
    let log = std::fs::read_to_string(dir.join("live/stderr.txt")).unwrap_or_default();
    assert!(log.contains("frames of 1632 bytes"), "{log}");
}

/// The namespaces and devices of the lab.
struct Veth<'a> {
    ns_tx: &'a str,
    ns_rx: &'a str,
    dev_tx: &'a str,
    dev_rx: &'a str,
}

/// The lab's configuration with af-packet, the fanout `group` and the ring
/// layout `tpacket`, in `dir`.
fn config(dir: &Path, group: u16, tpacket: u8) -> PathBuf {
    let cfg = dir.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "{}\ncapture:\n  method: af-packet\n  tpacket: {tpacket}\n  fanout_group: {group}\n  flush_ms: 10\n",
            lab_config()
        ),
    )
    .unwrap();
    cfg
}

/// No frame was cut short (the rings' frames or blocks hold every frame
/// of the lab's capture).
fn nothing_truncated(s: &Value) {
    assert_eq!(
        s["counters"]["capture"]["truncated"].as_u64(),
        Some(0),
        "{s}"
    );
}

/// One process with two workers, then two processes sharing the group:
/// the alerts of `-r` (`want`), and every ring had its share.
fn sees_what_a_replay_sees(
    veth: &Veth,
    tpacket: u8,
    dir: &Path,
    cfg: &Path,
    file: &Path,
    want: &BTreeMap<String, usize>,
    sent: u64,
) {
    let (ns_tx, ns_rx, dev_tx, dev_rx) = (veth.ns_tx, veth.ns_rx, veth.dev_tx, veth.dev_rx);
    // Two workers, one process: one ring each in one fanout group.
    let one = Sensor::start(ns_rx, dev_rx, dir.join("one"), cfg, "2");
    replay(ns_tx, dev_tx, file);
    let s = one.stop();
    assert_eq!(
        &alerts(&dir.join("one/eve.json")),
        want,
        "{}",
        dir.display()
    );
    nothing_truncated(&s);
    // The rings were the ones asked for.
    let log = std::fs::read_to_string(dir.join("one/stderr.txt")).unwrap_or_default();
    assert!(log.contains(&format!("TPACKET_V{tpacket} rings")), "{log}");
    assert_eq!(s["loss"]["capture_dropped"], 0, "{s}");
    assert!(
        s["input"]["kernel_received"].as_u64().unwrap() >= sent,
        "{s}"
    );
    // Both rings had packets: each worker processed blocks.
    let per_worker = &s["latency"]["worker"];
    for w in ["0", "1"] {
        assert!(
            per_worker[w]["batch_us"]["count"].as_u64().unwrap_or(0) > 0,
            "worker {w} saw no block: {s}"
        );
    }

    // Two processes of one worker each, sharing the group: between them,
    // every alert, and each had its share.
    let a = Sensor::start(ns_rx, dev_rx, dir.join("a"), cfg, "1");
    let b = Sensor::start(ns_rx, dev_rx, dir.join("b"), cfg, "1");
    replay(ns_tx, dev_tx, file);
    let (sa, sb) = (a.stop(), b.stop());
    nothing_truncated(&sa);
    nothing_truncated(&sb);
    let mut both = alerts(&dir.join("a/eve.json"));
    for (k, n) in alerts(&dir.join("b/eve.json")) {
        *both.entry(k).or_default() += n;
    }
    assert_eq!(&both, want, "{}", dir.display());
    let (pa, pb) = (
        sa["packets"].as_u64().unwrap(),
        sb["packets"].as_u64().unwrap(),
    );
    assert!(pa > 0 && pb > 0, "{pa} {pb}");
    assert!(pa + pb >= sent, "{pa} + {pb} < {sent}");
}
