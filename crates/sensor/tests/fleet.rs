//! A fleet of sensors and `fumidai aggregate`, as real processes.
//!
//! pcaps/fleet/ (scripts/gen-fleet.sh) holds the lab attack plus a monlist
//! reflection flood from six reflectors onto one victim, split over three
//! links: each link's sensor sees two reflectors, 22,000 bytes, under its
//! threshold of 30,000 (the split-flood scenario of an ISP with several
//! uplinks); the fleet sees 66,000 bytes from six reflectors.
//!
//! The stream tests start a redis-server that speaks only TLS and only to an
//! ACL user, with a certificate made for it here: sensors XADD into one
//! stream, aggregators read it in their consumer group and are killed -9,
//! Redis is killed -9 under them, and every alert comes out once. They need
//! redis-server, redis-cli and openssl (`scripts/deps.sh test`; CI has them).

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, lab_config, root};
use serde_json::Value;

/// The sensor's signatures that name a stepping stone as their dest_ip.
const STONE_SIDS: &[u64] = &[
    9_700_001, 9_700_002, 9_700_005, 9_700_003, 9_700_004, 9_700_010, 9_700_011, 9_700_012,
    9_700_020, 9_700_021, 9_700_023,
];

const PASSWORD: &str = "fleet-test-s3cret";

/// Sensors whose NTP threshold is above what one link carries.
fn sensor_config(dir: &Path, outputs: &str) -> PathBuf {
    let mut sensor_yaml = root().join("sensor.yaml");
    let shipped = std::fs::read_to_string(&sensor_yaml).expect("sensor.yaml");
    let ntp = shipped
        .lines()
        .find(|l| l.contains("{name: ntp, port: 123,") && l.contains("min_bytes: 10000"))
        .expect("sensor.yaml's ntp service, min_bytes 10000");
    let amp = shipped
        .lines()
        .skip_while(|l| !l.starts_with("amplification:"))
        .take_while(|l| !l.starts_with("sweep:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(ntp, &ntp.replace("min_bytes: 10000", "min_bytes: 30000"));
    sensor_yaml = dir.join("sensor.yaml");
    std::fs::write(
        &sensor_yaml,
        format!(
            "{}\n{amp}\neve:\n  flush_timeout: 10\n  spool:\n    dir: {}\n  outputs:\n    - filetype: regular\n      filename: eve.json\n{outputs}",
            lab_config(),
            dir.join("spool").display()
        ),
    )
    .expect("write sensor.yaml");
    sensor_yaml
}

/// The aggregator's thresholds: the sensors' services, NTP at 30,000 too.
const AGG_AMP: &str = "amplification:\n  services:\n    - {name: ntp, port: 123, min_ratio: 20.0, min_bytes: 30000}\n";

fn fleet_pcap(name: &str) -> PathBuf {
    root().join("pcaps/fleet").join(name)
}

fn read_eve(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn sids(events: &[Value]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "alert") {
        *m.entry(e["alert"]["signature_id"].as_u64().unwrap_or(0))
            .or_insert(0) += 1;
    }
    m
}

fn assert_valid(events: &[Value], what: &str) {
    let v = common::schema::validator();
    for e in events {
        let errs = common::schema::errors(&v, e);
        assert!(errs.is_empty(), "{what}: invalid EVE {errs:?}: {e}");
    }
}

/// A sensor's replay of `pcaps` as `name`, into `dir`/`logs`.
fn sensor(config: &Path, dir: &Path, logs: &str, name: &str, pcaps: &[PathBuf]) -> Command {
    let log = dir.join(logs);
    std::fs::create_dir_all(&log).expect("log dir");
    let mut c = bin();
    c.arg("-c").arg(config).args(["--sensor-name", name, "-q"]);
    for p in pcaps {
        c.arg("-r").arg(p);
    }
    c.arg("-l").arg(log);
    c
}

fn run_ok(mut c: Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{what} failed: {text}");
    text
}

/// Checks the fleet's one amplification alert: three sensors, 22,000 bytes
/// and two reflectors each, 66,000 and six in all.
fn check_amp_alert(alerts: &[&Value]) {
    let amp: Vec<_> = alerts
        .iter()
        .filter(|e| e["alert"]["signature_id"] == 9_700_100)
        .collect();
    assert_eq!(amp.len(), 1, "one fleet amplification alert: {amp:?}");
    let f = &amp[0]["fleet"];
    assert_eq!(amp[0]["src_ip"], "192.0.2.77");
    assert_eq!(f["sensor_count"], 3);
    assert_eq!(f["amplification"]["response_bytes"], 66_000);
    assert_eq!(f["amplification"]["reflectors"], 6);
    let hosts: Vec<_> = f["sensors"]
        .as_array()
        .expect("sensors")
        .iter()
        .map(|s| {
            assert_eq!(s["response_bytes"], 22_000, "{s}");
            assert_eq!(s["alerted"], false, "{s}");
            s["host"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(hosts, ["link-a", "link-b", "link-c"]);
}

#[test]
fn a_flood_split_over_three_links_is_one_fleet_alert_that_no_sensor_raised() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    let config = sensor_config(d, "");
    let later = fleet_pcap("fleet-later.pcap");
    let mut per_sensor = Vec::new();
    let mut files = Vec::new();
    for l in ["a", "b", "c"] {
        let name = format!("link-{l}");
        let slice = fleet_pcap(&format!("fleet-link-{l}.pcap"));
        run_ok(
            sensor(&config, d, &name, &name, &[slice, later.clone()]),
            &name,
        );
        let eve = d.join(&name).join("eve.json");
        let events = read_eve(&eve);
        assert!(
            events.iter().all(|e| e["host"] == name.as_str()),
            "{name}: every record, stats included, carries host"
        );
        let own = sids(&events);
        for sid in [9_700_032, 9_700_033, 9_700_034, 9_700_035] {
            assert_eq!(own.get(&sid), None, "{name} alone raised {sid}: {own:?}");
        }
        per_sensor.push(format!("{name}: {} records, alerts {own:?}", events.len()));
        files.push(eve);
    }

    // The same flow seen by two sensors: different flow ids, one community id.
    let ids = |host: &str| -> BTreeMap<String, u64> {
        read_eve(&d.join(host).join("eve.json"))
            .iter()
            .filter(|e| e["event_type"] == "flow")
            .map(|e| {
                (
                    e["community_id"].as_str().unwrap_or("").to_owned(),
                    e["flow_id"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let (a, b) = (ids("link-a"), ids("link-b"));
    let shared: Vec<_> = a.keys().filter(|k| b.contains_key(*k)).collect();
    assert!(!shared.is_empty(), "fleet-later.pcap is on both links");
    for k in shared {
        assert_ne!(a[k], b[k], "flow {k} has one flow_id on two sensors");
    }

    std::fs::write(d.join("aggregate.yaml"), AGG_AMP).expect("aggregate.yaml");
    let mut agg = bin();
    agg.arg("aggregate")
        .arg("-c")
        .arg(d.join("aggregate.yaml"))
        .args(["--name", "agg", "-l"])
        .arg(d);
    for f in &files {
        agg.arg("-r").arg(f);
    }
    let summary = run_ok(agg, "fumidai aggregate");
    let out = read_eve(&d.join("fleet.json"));
    assert_valid(&out, "fleet.json");
    let alerts: Vec<&Value> = out.iter().filter(|e| e["event_type"] == "alert").collect();
    check_amp_alert(&alerts);
    // The lab's one server (squid, dante, postfix) is a stepping stone every
    // link alerted on; 10.77.1.10 probed it through links b and c.
    assert_eq!(
        sids(&out),
        BTreeMap::from([(9_700_100, 1), (9_700_101, 1), (9_700_102, 1)])
    );
    let stone = alerts
        .iter()
        .find(|e| e["alert"]["signature_id"] == 9_700_101)
        .expect("9700101");
    assert_eq!(stone["dest_ip"], "10.77.0.2");
    assert_eq!(stone["fleet"]["sensor_count"], 3);
    let mut union = 0;
    for part in stone["fleet"]["sensors"].as_array().expect("sensors") {
        let host = part["host"].as_str().unwrap_or("");
        let own = read_eve(&d.join(host).join("eve.json"))
            .iter()
            .filter(|e| {
                e["event_type"] == "alert"
                    && e["dest_ip"] == "10.77.0.2"
                    && STONE_SIDS.contains(&e["alert"]["signature_id"].as_u64().unwrap_or(0))
            })
            .count();
        assert_eq!(part["alerts"], own, "{host}'s part of the stepping stone");
        union += own;
    }
    assert_eq!(stone["fleet"]["alerts"], union, "the union of the evidence");
    let stats = out.last().expect("a stats record");
    assert_eq!(stats["event_type"], "stats");
    assert_eq!(stats["stats"]["aggregate"]["too_late"], 0);
    assert_eq!(stats["stats"]["aggregate"]["sensors"], 3);
    println!("{}\n{summary}", per_sensor.join("\n"));
}

// --- over Redis Streams --------------------------------------------------

/// A process this test started; killed (by its PID) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// A CA and a certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new(need("openssl"))
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=fumidai fleet test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
}

/// redis-server on TLS only, with an ACL user (the default user has a
/// password no one here uses); what it acknowledged survives kill -9
/// (appendfsync always). Not `user default off`: Redis 7.0 replays its
/// append-only file as the default user, and refuses the scripts' MULTI/EXEC
/// blocks then (NOPERM), so the stream would be gone after a restart.
fn start_tls_redis(dir: &Path, port: u16) -> Proc {
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "port 0\ntls-port {port}\nbind 127.0.0.1\ntls-cert-file {d}/server.crt\n\
             tls-key-file {d}/server.key\ntls-ca-cert-file {d}/ca.crt\ntls-auth-clients no\n\
             user default on >{PASSWORD}-default ~* &* +@all\nuser fleet on >{PASSWORD} ~* &* +@all\nsave \"\"\n\
             appendonly yes\nappendfsync always\ndir {d}\nlogfile {d}/redis.log\n",
            d = dir.display()
        ),
    )
    .expect("redis.conf");
    redis_server(&conf, "redis-server to answer on TLS", || {
        cli(dir, port, &["PING"])
    })
}

/// One redis-cli command over TLS as the ACL user.
fn cli(dir: &Path, port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new(need("redis-cli"))
        .args(["--tls", "--cacert"])
        .arg(dir.join("ca.crt"))
        .args([
            "-p",
            &port.to_string(),
            "--user",
            "fleet",
            "--no-auth-warning",
            "--raw",
        ])
        .env("REDISCLI_AUTH", PASSWORD)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// A field of `XINFO GROUPS fleet` for `group` (redis-cli --raw prints
/// names and values on lines of their own).
fn group_field(dir: &Path, port: u16, group: &str, field: &str) -> Option<u64> {
    let text = cli(dir, port, &["XINFO", "GROUPS", "fleet"])?;
    let lines: Vec<&str> = text.lines().collect();
    let mut it = lines.chunks(2).skip_while(|kv| kv != &["name", group]);
    it.next()?;
    it.take_while(|kv| kv[0] != "name")
        .find(|kv| kv[0] == field)
        .and_then(|kv| kv.get(1)?.parse().ok())
}

fn xlen(dir: &Path, port: u16) -> u64 {
    cli(dir, port, &["XLEN", "fleet"])
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn three_sensors_over_a_tls_redis_stream_with_acl_and_kills_of_the_aggregator_and_redis() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    make_certificates(d);
    let port = free_port();
    let redis = start_tls_redis(d, port);
    let url = format!("rediss://127.0.0.1:{port}");
    let ca = d.join("ca.crt").display().to_string();
    // Sensors: the password from the environment; the aggregator: a file.
    let config = sensor_config(
        d,
        &format!(
            "    - filetype: redis\n      url: {url}\n      tls_ca_file: {ca}\n      username: fleet\n      \
             password_env: FLEET_REDIS_PASSWORD\n      mode: stream\n      key: fleet\n"
        ),
    );
    let pw_file = d.join("redis-password");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).expect("password file");
    // The first aggregator never reaches a checkpoint (every 60 s): at its
    // kill -9 every entry it read is pending, and the second must count
    // each once. The second checkpoints every 100 ms.
    let agg_yaml = |name: &str, checkpoint_ms: u32| {
        let p = d.join(name);
        std::fs::write(
            &p,
            format!(
                "input:\n  url: {url}\n  tls_ca_file: {ca}\n  username: fleet\n  password_file: {}\n  \
                 key: fleet\n  block_ms: 100\n  checkpoint_ms: {checkpoint_ms}\n{AGG_AMP}outputs:\n  - filetype: regular\n    filename: fleet.json\n",
                pw_file.display()
            ),
        )
        .expect("aggregate.yaml");
        p
    };
    let (slow, fast) = (agg_yaml("slow.yaml", 60_000), agg_yaml("fast.yaml", 100));
    let aggregator = |config: &Path| {
        let mut c = bin();
        c.arg("aggregate")
            .arg("-c")
            .arg(config)
            .args(["--name", "agg", "-q", "-l"])
            .arg(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Proc(c.spawn().expect("start fumidai aggregate"))
    };
    // A SIEM shipper's group, made before anything is written.
    cli(
        d,
        port,
        &["XGROUP", "CREATE", "fleet", "siem", "0", "MKSTREAM"],
    )
    .expect("XGROUP");

    let mut first = aggregator(&slow);
    wait_for("the aggregator's consumer group", 20, || {
        group_field(d, port, "fumidai-aggregate", "pending").is_some()
    });
    // Three sensors at once, each its slice of the attack.
    let mut sensors: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|l| {
            let name = format!("link-{l}");
            let slice = fleet_pcap(&format!("fleet-link-{l}.pcap"));
            let mut c = sensor(&config, d, &name, &name, &[slice]);
            c.env("FLEET_REDIS_PASSWORD", PASSWORD)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start a sensor")
        })
        .collect();
    for s in &mut sensors {
        assert!(s.wait().expect("sensor").success(), "a sensor failed");
    }
    let attack_entries = xlen(d, port);
    wait_for("the aggregator to read the attack", 60, || {
        group_field(d, port, "fumidai-aggregate", "entries-read") == Some(attack_entries)
    });
    // kill -9 with the attack's windows open: their state is in the
    // checkpoint, or the entries are still pending.
    let _ = first.0.kill();
    let _ = first.0.wait();
    let fleet_json = d.join("fleet.json");
    let before = sids(&read_eve(&fleet_json));
    assert!(
        !before.keys().any(|s| (9_700_100..9_700_103).contains(s)),
        "no window should have closed yet: {before:?}"
    );
    let second = aggregator(&fast);
    wait_for("the second aggregator to read the backlog", 60, || {
        group_field(d, port, "fumidai-aggregate", "pending") == Some(0)
    });
    // kill -9 of Redis under the running aggregator, and Redis back.
    drop(redis);
    std::thread::sleep(Duration::from_millis(500));
    let _redis = start_tls_redis(d, port);
    assert_eq!(
        xlen(d, port),
        attack_entries,
        "the stream after Redis's restart; its log:\n{}",
        std::fs::read_to_string(d.join("redis.log")).unwrap_or_default()
    );
    // The fleet's time moves on: 15 minutes later, one link's ordinary traffic.
    run_ok(
        {
            let later = fleet_pcap("fleet-later.pcap");
            let mut c = sensor(&config, d, "link-a-later", "link-a", &[later]);
            c.env("FLEET_REDIS_PASSWORD", PASSWORD);
            c
        },
        "link-a later",
    );
    let total = xlen(d, port);
    wait_for("three fleet alerts", 60, || {
        sids(&read_eve(&fleet_json)).values().sum::<usize>() >= 3
    });
    wait_for("the aggregator to acknowledge everything", 30, || {
        group_field(d, port, "fumidai-aggregate", "entries-read") == Some(total)
            && group_field(d, port, "fumidai-aggregate", "pending") == Some(0)
    });
    // SIGTERM: the final stats record.
    let _ = Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status();
    let mut second = second;
    let status = second.0.wait().expect("aggregator");
    assert!(status.success(), "aggregator exit: {status}");

    let out = read_eve(&fleet_json);
    assert_valid(&out, "fleet.json");
    assert_eq!(
        sids(&out),
        BTreeMap::from([(9_700_100, 1), (9_700_101, 1), (9_700_102, 1)]),
        "each fleet alert exactly once across the kill -9"
    );
    let alerts: Vec<&Value> = out.iter().filter(|e| e["event_type"] == "alert").collect();
    check_amp_alert(&alerts);
    let stats = out.last().expect("the final stats");
    assert_eq!(
        stats["stats"]["aggregate"]["redelivered"], attack_entries,
        "what the killed aggregator read is read again, once"
    );
    assert_eq!(stats["stats"]["aggregate"]["records"], total, "{stats}");

    // Exactly once per sensor: the stream holds each sensor's records once.
    let stream = cli(d, port, &["XRANGE", "fleet", "-", "+"]).expect("XRANGE");
    let mut by_host: BTreeMap<String, usize> = BTreeMap::new();
    for l in stream.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(l).expect("JSON in the stream");
        *by_host
            .entry(v["host"].as_str().unwrap_or("").to_owned())
            .or_insert(0) += 1;
    }
    let mut expect: BTreeMap<String, usize> = BTreeMap::new();
    for (dir, host) in [
        ("link-a", "link-a"),
        ("link-b", "link-b"),
        ("link-c", "link-c"),
        ("link-a-later", "link-a"),
    ] {
        *expect.entry(host.to_owned()).or_insert(0) +=
            read_eve(&d.join(dir).join("eve.json")).len();
    }
    assert_eq!(
        by_host, expect,
        "stream entries per sensor = lines in its eve.json"
    );
    assert_eq!(total as usize, expect.values().sum::<usize>());

    // The SIEM's group reads the same entries, untouched by the aggregator's.
    let siem = cli(
        d,
        port,
        &[
            "XREADGROUP",
            "GROUP",
            "siem",
            "shipper",
            "COUNT",
            "100000",
            "STREAMS",
            "fleet",
            ">",
        ],
    )
    .expect("XREADGROUP");
    let siem_n = siem.lines().filter(|l| l.starts_with('{')).count();
    assert_eq!(siem_n as u64, total, "the SIEM group reads every entry");
    println!(
        "stream: {total} entries {by_host:?}; aggregator killed -9 after {attack_entries}; fleet alerts {:?}",
        sids(&out)
    );
}

#[test]
fn two_aggregators_share_the_fleet_by_key_and_raise_each_alert_once() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    make_certificates(d);
    let port = free_port();
    let _redis = start_tls_redis(d, port);
    let url = format!("rediss://127.0.0.1:{port}");
    let ca = d.join("ca.crt").display().to_string();
    let config = sensor_config(
        d,
        &format!(
            "    - filetype: redis\n      url: {url}\n      tls_ca_file: {ca}\n      username: fleet\n      \
             password_env: FLEET_REDIS_PASSWORD\n      mode: stream\n      key: fleet\n"
        ),
    );
    let agg_yaml = d.join("aggregate.yaml");
    std::fs::write(
        &agg_yaml,
        format!(
            "input:\n  url: {url}\n  tls_ca_file: {ca}\n  username: fleet\n  password_env: FLEET_REDIS_PASSWORD\n  \
             key: fleet\n  shards: 2\n  block_ms: 100\n  checkpoint_ms: 100\n{AGG_AMP}outputs:\n  - filetype: regular\n    filename: fleet.json\n"
        ),
    )
    .expect("aggregate.yaml");
    let shard = |n: u32| {
        let out = d.join(format!("shard{n}"));
        std::fs::create_dir_all(&out).expect("shard dir");
        let child = bin()
            .arg("aggregate")
            .arg("-c")
            .arg(&agg_yaml)
            .args(["--name", "agg", "--shard", &n.to_string(), "-q", "-l"])
            .arg(&out)
            .env("FLEET_REDIS_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fumidai aggregate");
        (Proc(child), out.join("fleet.json"))
    };
    let shards = [shard(0), shard(1)];
    let mut jobs: Vec<(String, PathBuf)> = ["a", "b", "c"]
        .iter()
        .map(|l| {
            (
                format!("link-{l}"),
                fleet_pcap(&format!("fleet-link-{l}.pcap")),
            )
        })
        .collect();
    jobs.push(("link-a".into(), fleet_pcap("fleet-later.pcap")));
    for (i, (name, pcap)) in jobs.into_iter().enumerate() {
        let mut c = sensor(&config, d, &format!("run{i}"), &name, &[pcap]);
        c.env("FLEET_REDIS_PASSWORD", PASSWORD);
        run_ok(c, &name);
    }
    let all = || -> Vec<Vec<Value>> { shards.iter().map(|(_, f)| read_eve(f)).collect() };
    wait_for("three fleet alerts across the shards", 60, || {
        all()
            .iter()
            .map(|o| sids(o).values().sum::<usize>())
            .sum::<usize>()
            >= 3
    });
    let total = xlen(d, port);
    wait_for("the routers to acknowledge everything", 30, || {
        group_field(d, port, "fumidai-aggregate", "entries-read") == Some(total)
            && group_field(d, port, "fumidai-aggregate", "pending") == Some(0)
    });
    for (p, _) in &shards {
        let _ = Command::new("kill")
            .args(["-TERM", &p.0.id().to_string()])
            .status();
    }
    let mut union: BTreeMap<u64, usize> = BTreeMap::new();
    let mut alerts = Vec::new();
    let outs = all();
    for ((mut p, _), out) in shards.into_iter().zip(outs) {
        let status = p.0.wait().expect("aggregator");
        assert!(status.success(), "aggregator exit: {status}");
        assert_valid(&out, "a shard's fleet.json");
        for (k, v) in sids(&out) {
            *union.entry(k).or_insert(0) += v;
        }
        alerts.extend(out.into_iter().filter(|e| e["event_type"] == "alert"));
    }
    assert_eq!(
        union,
        BTreeMap::from([(9_700_100, 1), (9_700_101, 1), (9_700_102, 1)]),
        "each fleet alert once across the two shards"
    );
    check_amp_alert(&alerts.iter().collect::<Vec<_>>());
    println!("two shards: {union:?} from {total} entries");
}

// Plain-TCP Redis with a password (`requirepass`, the default user's):
// AUTH without TLS, from the environment and from a file.

/// The event types of the plain-Redis tests: all but ntp, whose one record
/// per exchange would make the stream large without testing more.
const STREAM_TYPES: &str = "[alert, anomaly, flow, http, smtp, socks, stats]";

/// A sensor's configuration in `dir` (spool there too): `sensor_yaml` is
/// its `sensor:` section, `types` its event types (spooled too, so an
/// outage drops none), `outputs` extra eve.outputs entries.
fn identity_config(
    dir: &Path,
    sensor_yaml: &str,
    types: &str,
    outputs: &str,
    flush_timeout: u32,
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("sensor dir");
    let p = dir.join("sensor.yaml");
    std::fs::write(
        &p,
        format!(
            "{}\nsensor:\n{sensor_yaml}\neve:\n  flush_timeout: {flush_timeout}\n  types: {types}\n  spool:\n    dir: {}\n    types: {types}\n  \
             outputs:\n    - filetype: regular\n      filename: eve.json\n{outputs}",
            lab_config(),
            dir.join("spool").display()
        ),
    )
    .expect("write sensor.yaml");
    p
}

/// redis-server on plain TCP whose default user needs [`PASSWORD`]; what
/// it acknowledged survives kill -9 (appendfsync always).
fn start_auth_redis(dir: &Path, port: u16) -> Proc {
    std::fs::create_dir_all(dir).expect("redis dir");
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\nrequirepass {PASSWORD}\nsave \"\"\nappendonly yes\n\
             appendfsync always\ndir {d}\nlogfile {d}/redis.log\n",
            d = dir.display()
        ),
    )
    .expect("redis.conf");
    redis_server(&conf, "redis-server to answer", || acli(port, &["PING"]))
}

/// Starts redis-server on `conf` and waits until `ping` gets PONG.
fn redis_server(conf: &Path, what: &str, mut ping: impl FnMut() -> Option<String>) -> Proc {
    let child = Command::new(need("redis-server"))
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let p = Proc(child);
    wait_for(what, 10, || ping().is_some_and(|r| r.trim() == "PONG"));
    p
}

/// One redis-cli command over plain TCP, logged in with [`PASSWORD`].
fn acli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new(need("redis-cli"))
        .args(["-p", &port.to_string(), "--no-auth-warning", "--raw"])
        .env("REDISCLI_AUTH", PASSWORD)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// The stream's entries (the `event` field), parsed, in stream order.
fn stream_entries(port: u16, key: &str) -> Vec<Value> {
    acli(port, &["XRANGE", key, "-", "+"])
        .expect("XRANGE")
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Multiset of records (as their canonical JSON text).
fn bag<'a>(records: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r.to_string()).or_insert(0) += 1;
    }
    m
}

/// The redis output's entry of a sensor's --summary-json.
fn redis_summary(path: &Path) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("summary.json"))
        .expect("summary.json is JSON");
    v["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| {
            o["destination"]
                .as_str()
                .is_some_and(|d| d.starts_with("redis://"))
        })
        .unwrap_or_else(|| panic!("no redis output in {v}"))
        .clone()
}

#[test]
fn killing_plain_redis_under_three_writing_sensors_loses_and_duplicates_nothing() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    let port = free_port();
    let redis_dir = d.join("redis");
    let mut redis = Some(start_auth_redis(&redis_dir, port));
    let pw_file = d.join("redis-password");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).expect("password file");
    // Each sensor replays its link's slice this many times: long enough to
    // be writing when Redis is killed (each run checks that it was).
    const REPEAT: usize = 300;
    let links = ["a", "b", "c"];
    let mut sensors = Vec::new();
    for l in links {
        let name = format!("link-{l}");
        let sd = d.join(&name);
        // link-a's password comes from the environment, the others' from a file.
        let auth = if l == "a" {
            "password_env: FLEET_REDIS_PASSWORD".to_owned()
        } else {
            format!("password_file: {}", pw_file.display())
        };
        let config = identity_config(
            &sd,
            &format!("  tags: {{link: {name}, site: lab}}"),
            STREAM_TYPES,
            &format!(
                "    - filetype: redis\n      port: {port}\n      {auth}\n      mode: stream\n      key: fleet\n      batch_size: 64\n"
            ),
            30,
        );
        let mut c = bin();
        c.arg("-c")
            .arg(&config)
            .args(["--sensor-name", &name, "-q", "--summary-json"])
            .arg(sd.join("summary.json"))
            .arg("-l")
            .arg(sd.join("log"));
        for _ in 0..REPEAT {
            c.arg("-r").arg(fleet_pcap(&format!("fleet-link-{l}.pcap")));
        }
        if l == "a" {
            c.env("FLEET_REDIS_PASSWORD", PASSWORD);
        } else {
            c.env_remove("FLEET_REDIS_PASSWORD");
        }
        let err = std::fs::File::create(sd.join("stderr")).expect("stderr file");
        let child = c
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start a sensor");
        sensors.push((name, sd, Proc(child)));
    }
    // Every sensor has written (its exactly-once mark exists): kill -9.
    wait_for("every sensor's first batch in the stream", 30, || {
        sensors.iter().all(|(name, _, _)| {
            acli(port, &["EXISTS", &format!("fleet:fumidai-seq:{name}")])
                .is_some_and(|r| r.trim() == "1")
        })
    });
    let at_kill = xlen_plain(port);
    for (name, _, p) in &mut sensors {
        assert!(
            p.0.try_wait().expect("status").is_none(),
            "{name} ended before Redis was killed: raise REPEAT"
        );
    }
    drop(redis.take());
    std::thread::sleep(Duration::from_millis(1000));
    let _redis = start_auth_redis(&redis_dir, port);
    let after_restart = xlen_plain(port);
    assert!(
        after_restart >= at_kill,
        "Redis lost acknowledged entries: {at_kill} before kill -9, {after_restart} after"
    );

    for (name, sd, p) in &mut sensors {
        let status = p.0.wait().expect("sensor");
        let stderr = std::fs::read_to_string(sd.join("stderr")).unwrap_or_default();
        assert!(status.success(), "{name}: {status}\n{stderr}");
    }
    let stream = stream_entries(port, "fleet");
    let mut figures = Vec::new();
    for (name, sd, _) in sensors {
        let stderr = std::fs::read_to_string(sd.join("stderr")).unwrap_or_default();
        let own = read_eve(&sd.join("log/eve.json"));
        let mine: Vec<&Value> = stream.iter().filter(|e| e["host"] == *name).collect();
        let tags = serde_json::json!({"link": name, "site": "lab"});
        assert!(
            mine.iter().all(|e| e["sensor"]["tags"] == tags),
            "{name}: an entry without its sensor.tags"
        );
        let s = redis_summary(&sd.join("summary.json"));
        // The outage reached this sensor: it failed to write, and said so once.
        assert!(s["errors"].as_u64().unwrap_or(0) > 0, "{name}: {s}");
        assert!(stderr.contains("and retrying"), "{name}: {stderr}");
        assert!(!stderr.contains(PASSWORD), "{name} logged the password");
        assert_eq!(
            (s["dropped"].as_u64(), s["undelivered"].as_u64()),
            (Some(0), Some(0)),
            "{name}: {s}"
        );
        assert_eq!(
            s["written"].as_u64(),
            Some(own.len() as u64),
            "{name}: the redis output's delivery counter against eve.json: {s}"
        );
        assert_eq!(
            mine.len(),
            own.len(),
            "{name}: stream entries against eve.json lines"
        );
        let (want, got) = (bag(&own), bag(mine.iter().copied()));
        assert!(
            want == got,
            "{name}: the stream holds other records than eve.json (lost or duplicated)"
        );
        figures.push(format!(
            "{name}: {} records, {} spooled, {} errors",
            own.len(),
            s["spooled"],
            s["errors"]
        ));
    }
    assert_eq!(
        stream.len(),
        stream
            .iter()
            .filter(|e| e["host"].as_str().is_some_and(|h| h.starts_with("link-")))
            .count(),
        "only the three sensors wrote"
    );
    println!(
        "redis killed -9 at {at_kill} entries ({after_restart} after restart); stream {}: {}",
        stream.len(),
        figures.join("; ")
    );
}

fn xlen_plain(port: u16) -> u64 {
    acli(port, &["XLEN", "fleet"])
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_wrong_redis_password_is_said_counted_and_its_records_kept_for_the_next_run() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    let port = free_port();
    let _redis = start_auth_redis(&d.join("redis"), port);
    let sd = d.join("sensor");
    let out = format!(
        "    - filetype: redis\n      port: {port}\n      password_env: FLEET_REDIS_PASSWORD\n      mode: stream\n      key: fleet\n"
    );
    let config = identity_config(&sd, "  name: link-a", STREAM_TYPES, &out, 1);
    let run = |pcap: &str, password: Option<&str>, summary: &str| {
        let mut c = bin();
        c.arg("-c")
            .arg(&config)
            .args(["-q", "-r"])
            .arg(fleet_pcap(pcap))
            .arg("--summary-json")
            .arg(sd.join(summary))
            .arg("-l")
            .arg(sd.join("log"));
        match password {
            Some(p) => c.env("FLEET_REDIS_PASSWORD", p),
            None => c.env_remove("FLEET_REDIS_PASSWORD"),
        };
        let o = c.output().expect("run fumidai");
        (
            o.status,
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout),
        )
    };

    // An unset variable: refused at start, naming the key and the variable.
    let (status, text) = run("fleet-link-a.pcap", None, "unset.json");
    assert!(!status.success(), "an unset password_env must fail: {text}");
    assert!(
        text.contains("password_env") && text.contains("FLEET_REDIS_PASSWORD"),
        "{text}"
    );

    // A wrong password: Redis's refusal is said, the records are counted
    // as not delivered and stay in the spool; nothing reaches the stream.
    const WRONG: &str = "not-the-password";
    let (status, text) = run("fleet-link-a.pcap", Some(WRONG), "wrong.json");
    let first = read_eve(&sd.join("log/eve.json"));
    assert!(!first.is_empty());
    assert!(status.success(), "{status}: {text}");
    assert!(
        text.to_lowercase().contains("authentication failed"),
        "Redis's refusal should be in the error: {text}"
    );
    assert!(
        text.contains(&format!("{} events not delivered, kept in", first.len())),
        "the loss should be said with its count: {text}"
    );
    assert!(!text.contains(WRONG), "the password was logged: {text}");
    let s = redis_summary(&sd.join("wrong.json"));
    assert_eq!(s["written"], 0, "{s}");
    assert_eq!(s["undelivered"].as_u64(), Some(first.len() as u64), "{s}");
    assert!(s["errors"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(xlen_plain(port), 0, "nothing may reach Redis without AUTH");

    // The right password, from a file this time: the kept records go first,
    // then the new run's, each once.
    let pw_file = sd.join("redis-password");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).expect("password file");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        "password_env: FLEET_REDIS_PASSWORD",
        &format!("password_file: {}", pw_file.display()),
    );
    std::fs::write(&config, text).expect("config");
    let (status, text) = run("fleet-later.pcap", None, "right.json");
    assert!(status.success(), "{status}: {text}");
    let both = read_eve(&sd.join("log/eve.json"));
    let s = redis_summary(&sd.join("right.json"));
    assert_eq!(s["undelivered"], 0, "{s}");
    let stream = stream_entries(port, "fleet");
    // Kept records first (the spool is sent before anything newer); within
    // a run, the workers' batches may reach the file and Redis in another
    // order, so each run's records are compared as a multiset.
    let n = first.len().min(stream.len());
    assert!(
        stream.len() == both.len()
            && bag(&stream[..n]) == bag(&first)
            && bag(&stream[n..]) == bag(&both[first.len()..]),
        "the stream ({} entries) should be eve.json ({} lines: {} kept, then {} new), each once",
        stream.len(),
        both.len(),
        first.len(),
        both.len() - first.len()
    );
    println!(
        "wrong password: {} records kept in the spool, 0 in Redis; right password: {} in Redis ({} kept + {} new)",
        first.len(),
        stream.len(),
        first.len(),
        both.len() - first.len()
    );
}

#[test]
fn every_record_carries_the_sensor_name_and_its_tags() {
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    // The name from sensor.yaml (no --sensor-name), all event types.
    let config = identity_config(
        d,
        "  name: edge-fra1\n  tags: {site: fra1, link: transit-a, role: edge}",
        "[alert, anomaly, dns, flow, http, irc, ntp, smtp, socks, stats]",
        "",
        5,
    );
    let mut c = bin();
    c.arg("-c")
        .arg(&config)
        .args(["-q", "-r"])
        .arg(fleet_pcap("fleet-link-a.pcap"))
        .arg("-r")
        .arg(root().join("pcaps/lab/lab-attack.pcap"))
        .arg("-l")
        .arg(d.join("log"));
    run_ok(c, "fumidai with sensor.name and sensor.tags");
    let out = read_eve(&d.join("log/eve.json"));
    assert_valid(&out, "eve.json with sensor tags");
    let tags = serde_json::json!({"site": "fra1", "link": "transit-a", "role": "edge"});
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for e in &out {
        assert_eq!(e["host"], "edge-fra1", "{e}");
        assert_eq!(e["sensor"]["tags"], tags, "{e}");
        *types
            .entry(e["event_type"].as_str().unwrap_or("").to_owned())
            .or_insert(0) += 1;
    }
    for t in ["alert", "flow", "stats", "http", "smtp", "ntp"] {
        assert!(types.contains_key(t), "no {t} record to check: {types:?}");
    }
    println!(
        "host and sensor.tags on all {} records: {types:?}",
        out.len()
    );
}
