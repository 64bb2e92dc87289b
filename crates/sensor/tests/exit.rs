//! Exit status tells the truth: unusable input, a dead worker or a bad
//! configuration is non-zero and says why; `-r DIR` names what it skips and
//! never blocks on a FIFO; the final stats equal what the files hold.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, pcap, run};

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A classic pcap header for link type `dlt`.
fn header(dlt: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&dlt.to_le_bytes());
    h
}

#[test]
fn an_input_that_cannot_be_read_at_all_fails_the_run_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("empty.pcap", Vec::new()),
        (
            "bad-magic.pcap",
            b"this is not a capture file at all".to_vec(),
        ),
        ("short-header.pcap", header(1)[..10].to_vec()),
        ("unknown-link.pcap", header(147)),
    ];
    for (name, bytes) in cases {
        let p = write(dir.path(), name, &bytes);
        let r = run(&["-q", "-r", p.to_str().unwrap()]);
        assert_eq!(r.out.status.code(), Some(1), "{name}: {}", r.stderr());
        assert!(r.stderr().contains(name), "{name}: {}", r.stderr());
        // Next to a good capture: the good one is still processed.
        let good = pcap("zeek__socks.pcap");
        let r = run(&[
            "-q",
            "-r",
            good.to_str().unwrap(),
            "-r",
            p.to_str().unwrap(),
        ]);
        assert_eq!(r.out.status.code(), Some(1), "{name}");
        assert!(
            !r.of_type("flow").is_empty(),
            "{name}: the good file was read"
        );
    }
}

#[test]
fn a_directory_names_what_it_skips_and_never_opens_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(pcap("zeek__socks.pcap"), dir.path().join("a.pcap")).unwrap();
    write(dir.path(), "notes.txt", b"not a capture\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let fifo = dir.path().join("pipe.pcap");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let started = Instant::now();
    let mut child = bin()
        .args(["-q", "-r"])
        .arg(dir.path())
        .arg("-l")
        .arg(dir.path().join("log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A replay that opened the FIFO would wait for a writer forever.
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the replay blocked on the FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("pipe.pcap: skipped: not a regular file (a FIFO)"),
        "{err}"
    );
    assert!(
        err.contains("skipped 1 file that is not pcap or pcapng: notes.txt"),
        "{err}"
    );
    assert!(
        err.contains("sub: skipped: a directory (use --recursive)"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "FUMIDAI_FAULT exists in debug builds only"
)]
fn a_dead_worker_fails_the_run_with_its_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    let r = bin()
        .env("FUMIDAI_FAULT", "worker-panic")
        .args(["-q", "-r"])
        .arg(pcap("zeek__socks.pcap"))
        .arg("-l")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_ne!(r.status.code(), Some(0), "{err}");
    assert!(
        err.contains("fault injected by FUMIDAI_FAULT=worker-panic"),
        "{err}"
    );
}

#[test]
fn check_config_refuses_what_would_not_run() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("workers: 100000\n", "workers"),
        (
            "eve:\n  flush_timeout: 18446744073709551615\n",
            "eve.flush_timeout",
        ),
        (
            "amplification:\n  window: 18446744073709551615\n",
            "amplification.window",
        ),
    ] {
        let p = write(dir.path(), "s.yaml", text.as_bytes());
        let out = bin()
            .args(["--check-config", "-c"])
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains("s.yaml:") && err.contains(key), "{err}");
    }
}

/// The final stats count every line written before them, and every gap
/// counted is an anomaly logged, including those found as flows end.
#[test]
fn final_stats_equal_what_the_files_hold() {
    let r = run(&["-q", "-r", pcap("").to_str().unwrap(), "--recursive"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", r.stderr());
    let last_stats = r
        .lines
        .iter()
        .rposition(|l| l.contains("\"event_type\":\"stats\""))
        .expect("final stats");
    assert_eq!(last_stats, r.lines.len() - 1, "the final stats come last");
    let s = r.final_stats();
    assert_eq!(
        s["output"]["eve_json"]["written"].as_u64(),
        Some(last_stats as u64),
        "written = lines before the final stats"
    );
    let gaps = r
        .of_type("anomaly")
        .iter()
        .filter(|a| a["anomaly"]["event"] == "stream.reassembly_seq_gap")
        .count() as u64;
    assert!(gaps > 0, "the captures have gaps");
    assert_eq!(s["tcp"]["reassembly_gap"].as_u64(), Some(gaps));
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "FUMIDAI_FAULT exists in debug builds only"
)]
fn a_dead_worker_fails_a_live_capture_too() {
    // Capturing needs root (CI is root); on loopback, so nothing leaves the host.
    if effective_uid() != 0 {
        eprintln!("skipped: live capture on lo needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .env("FUMIDAI_FAULT", "worker-panic")
        .args(["-q", "-i", "lo", "-l"])
        .arg(dir.path())
        .arg("udp port 47999")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the capture went on without its worker");
        }
        // A bounded trickle to loopback until the worker has had a batch.
        let _ = sock.send_to(b"x", "127.0.0.1:47999");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("fault injected by FUMIDAI_FAULT=worker-panic"),
        "{err}"
    );
}

fn effective_uid() -> u32 {
    // Without libc: the effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
