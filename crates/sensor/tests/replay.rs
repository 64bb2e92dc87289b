//! The foundation's promises, checked on the real captures in `pcaps/`:
//! every packet is read, flows match tshark's conversations, the answer does
//! not depend on the number of workers, every line is valid EVE, a truncated
//! capture is read as far as it goes, and a bad configuration is named.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::{at, pcap, replay, root, run, schema};
use serde_json::Value;

/// Expected packet counts, recorded once with capinfos by
/// scripts/truth/packet-counts.sh.
fn expected_packet_counts() -> Vec<(String, u64)> {
    let text = include_str!("data/packet-counts.txt");
    text.lines()
        .filter_map(|l| {
            let (f, n) = l.split_once(' ')?;
            Some((f.to_owned(), n.parse().ok()?))
        })
        .collect()
}

#[test]
fn every_packet_of_every_capture_is_read() {
    let expected = expected_packet_counts();
    assert_eq!(expected.len(), 54, "one line per capture in pcaps/");
    for (file, n) in &expected {
        let r = replay(&[pcap(file)], &["--workers", "2"]);
        let stats = r.final_stats();
        assert_eq!(stats["decoder"]["pkts"].as_u64(), Some(*n), "{file}");
        assert!(
            r.stdout().contains(&format!(": {n} packets,")),
            "{file}: {}",
            r.stdout()
        );
    }
}

/// One conversation as tshark sees it.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Conv {
    a: (String, u64),
    b: (String, u64),
    ab: (u64, u64),
    ba: (u64, u64),
}

fn expected_conversations() -> BTreeMap<String, Vec<(String, Conv)>> {
    let mut out: BTreeMap<String, Vec<(String, Conv)>> = BTreeMap::new();
    let mut file = String::new();
    for line in include_str!("data/conversations.txt").lines() {
        if let Some(f) = line.strip_prefix("# ") {
            file = f.to_owned();
            continue;
        }
        let f: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| f[i].parse::<u64>().expect("number");
        out.entry(file.clone()).or_default().push((
            f[0].to_owned(),
            Conv {
                a: (canon(f[1]), n(2)),
                b: (canon(f[3]), n(4)),
                ab: (n(5), n(6)),
                ba: (n(7), n(8)),
            },
        ));
    }
    out
}

/// An address in one spelling (Rust's, RFC 5952), whatever the printer's.
fn canon(a: &str) -> String {
    a.parse::<std::net::IpAddr>()
        .map_or_else(|_| a.to_owned(), |ip| ip.to_string())
}

#[test]
fn flows_match_tsharks_conversations() {
    let expected = expected_conversations();
    assert!(expected.len() >= 3);
    for (file, convs) in &expected {
        let r = replay(&[pcap(file)], &[]);
        let flows = r.of_type("flow");
        for (proto, c) in convs {
            // fumidai names the client src; tshark names the first sender A.
            let found = flows.iter().find_map(|f| {
                // EVE prints IPv6 expanded, tshark compressed: compare addresses.
                let src = (canon(f["src_ip"].as_str()?), f["src_port"].as_u64()?);
                let dst = (canon(f["dest_ip"].as_str()?), f["dest_port"].as_u64()?);
                if f["proto"].as_str()? != proto.to_uppercase() {
                    return None;
                }
                let fl = &f["flow"];
                let ts = (
                    fl["pkts_toserver"].as_u64()?,
                    fl["bytes_toserver"].as_u64()?,
                );
                let tc = (
                    fl["pkts_toclient"].as_u64()?,
                    fl["bytes_toclient"].as_u64()?,
                );
                if (src.clone(), dst.clone()) == (c.a.clone(), c.b.clone()) {
                    Some((ts, tc))
                } else if (src, dst) == (c.b.clone(), c.a.clone()) {
                    Some((tc, ts))
                } else {
                    None
                }
            });
            assert_eq!(found, Some((c.ab, c.ba)), "{file}: {proto} {c:?}");
        }
        let n_tcp_udp = flows
            .iter()
            .filter(|f| matches!(f["proto"].as_str(), Some("TCP" | "UDP")))
            .count();
        assert_eq!(n_tcp_udp, convs.len(), "{file}: one flow per conversation");
    }
}

/// Lines other than stats (whose uptime differs between runs), sorted.
///
/// The reflection-DDoS alert (9700033) counts reflectors across workers:
/// its victim, service and count are fixed, but which reflector's flow it
/// is attached to, and so the verdict time it carries (by a window bucket),
/// is whichever worker reported the deciding one first. It is compared by
/// victim, service, count and window only (docs/alerts.md says so).
fn comparable(lines: &[String]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains("\"event_type\":\"stats\""))
        .map(|l| {
            if !l.contains("\"signature_id\":9700033") {
                return l.clone();
            }
            let e: Value = serde_json::from_str(l).expect("json");
            let a = &e["amplification"];
            format!(
                "9700033 {} {} {} {}",
                a["victim"], a["service"], a["reflectors"], a["window_s"]
            )
        })
        .collect();
    v.sort();
    v
}

/// The memory-mapped reader (the default), libpcap, and the same captures
/// compressed with gzip and zstd give the same events.
#[test]
fn every_reader_writes_the_same_events() {
    let all = root().join("pcaps");
    let mapped = replay(std::slice::from_ref(&all), &["--workers", "2"]);
    let libpcap = replay(
        std::slice::from_ref(&all),
        &["--workers", "2", "--pcap-reader", "libpcap"],
    );
    let (a, b) = (comparable(&mapped.lines), comparable(&libpcap.lines));
    assert!(a.len() > 500, "{}", a.len());
    assert!(a == b, "the memory map and libpcap differ");

    let dir = tempfile::tempdir().unwrap();
    let names = [
        "zeek__smtp.pcap",
        "ndpi__http-proxy.pcapng",
        "esnet__ntp-monlist.pcap",
    ];
    let mut plain = Vec::new();
    let mut packed = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let bytes = std::fs::read(pcap(n)).unwrap();
        plain.push(pcap(n));
        // Named so that the name order is the same as the originals'.
        let p = if i % 2 == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            let p = dir.path().join(format!("{i}-{n}.gz"));
            std::fs::write(&p, gz.finish().unwrap()).unwrap();
            p
        } else {
            let p = dir.path().join(format!("{i}-{n}.zst"));
            // The zstd tool (scripts/deps.sh test installs it), as users make them.
            let ok = std::process::Command::new("zstd")
                .args(["-q", "-o"])
                .arg(&p)
                .arg(pcap(n))
                .status()
                .expect("run zstd");
            assert!(ok.success());
            p
        };
        packed.push(p);
    }
    assert_eq!(packed.len(), plain.len());
    let want = replay(&plain, &[]);
    // A directory of compressed captures is taken whole, in name order.
    let got = replay(&[dir.path().to_path_buf()], &[]);
    let (a, b) = (comparable(&want.lines), comparable(&got.lines));
    assert!(a.len() > 10, "{}", a.len());
    assert!(a == b, "compressed captures read differently");
}

#[test]
fn one_worker_and_four_workers_write_the_same_events() {
    let all = root().join("pcaps");
    let one = replay(std::slice::from_ref(&all), &["--workers", "1"]);
    let four = replay(&[all], &["--workers", "4"]);
    let (a, b) = (comparable(&one.lines), comparable(&four.lines));
    assert!(a.len() > 500, "{}", a.len());
    if a != b {
        let only_a: Vec<_> = a.iter().filter(|l| !b.contains(l)).take(3).collect();
        let only_b: Vec<_> = b.iter().filter(|l| !a.contains(l)).take(3).collect();
        panic!("1 worker only: {only_a:#?}\n4 workers only: {only_b:#?}");
    }
    // The final totals agree too.
    for key in [
        "decoder.pkts",
        "decoder.bytes",
        "flow.total",
        "tcp.reassembly_gap",
        "defrag.ipv4.reassembled",
    ] {
        assert_eq!(
            at(one.final_stats(), key),
            at(four.final_stats(), key),
            "{key}"
        );
    }
}

/// A little-endian classic pcap cut in two after `n` packets, each part
/// with the file's header, as `tcpdump -C` leaves it when it rotates: the
/// second part's packets are moved in time to follow the first's within a
/// second, so that no pause in packet time lies between the two.
fn rotate_pcap(whole: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
    use fumidai_pcapfile::{Reader, Step};
    assert_eq!(&whole[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let (mut reader, header) = Reader::open(whole).unwrap();
    // Where each packet record starts, and its time in seconds.
    let mut records = Vec::new();
    let mut at = header;
    while let Step::Packet { record, len } = reader.next(&whole[at..]) {
        records.push((at, record.ts_micros / 1_000_000));
        at += len;
    }
    let cut = records[n].0;
    let mut second = whole[..header].to_vec();
    second.extend_from_slice(&whole[cut..]);
    let shift = records[n].1 - records[n - 1].1 - 1;
    for &(start, secs) in &records[n..] {
        let at = start - cut + header;
        let moved = u32::try_from(secs - shift).unwrap();
        second[at..at + 4].copy_from_slice(&moved.to_le_bytes());
    }
    (whole[..cut].to_vec(), second)
}

#[test]
fn scenes_of_a_capture_are_judged_in_order_with_any_number_of_workers() {
    // An open relay is confirmed, then an IRC session comes from it
    // (9700051). Another worker may take that session: it must see the
    // confirmation all the same, so the workers finish what came before
    // together at the end of a file (the capture rotated in two, the
    // session a second after the relay) and where packet time pauses (the
    // one file, the session five minutes later).
    let path = root().join("pcaps/bots/irc-stepping-stone.pcap");
    let whole = std::fs::read(&path).unwrap();
    let (first, second) = rotate_pcap(&whole, 19);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pcap"), first).unwrap();
    std::fs::write(dir.path().join("b.pcap"), second).unwrap();
    let suspects = |r: &common::Run| {
        r.of_type("alert")
            .iter()
            .filter(|e| e["alert"]["signature_id"] == 9700051)
            .count()
    };
    let want = suspects(&replay(std::slice::from_ref(&path), &["--workers", "1"]));
    assert_eq!(want, 1);
    // Without the rendezvous a third of the runs missed it.
    for _ in 0..12 {
        let r = replay(&[dir.path().to_path_buf()], &["--workers", "2"]);
        assert!(r.stdout().contains("replayed 2 files"), "{}", r.stdout());
        assert_eq!(suspects(&r), want);
    }
    // In one file, the five minutes between the two are a meeting point
    // too: the whole capture fits in one batch per worker, so without it the
    // IRC session's worker could get to it first.
    for _ in 0..12 {
        let r = replay(std::slice::from_ref(&path), &["--workers", "2"]);
        assert_eq!(suspects(&r), want);
    }
}

#[test]
fn every_line_of_every_capture_is_valid_eve() {
    let v = schema::validator();
    // All of pcaps/: real captures, the lab's recordings, the evasion matrix
    // and the generated scenarios; with what is off by default logged too
    // (IRC message texts, dns events), so that every kind of line is checked.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("everything.yaml");
    std::fs::write(&cfg, "irc: {log_messages: true}\ndns: {log: true}\n").unwrap();
    let cfg = cfg.display().to_string();
    let r = replay(&[root().join("pcaps")], &["--recursive", "-c", &cfg]);
    let mut types = BTreeMap::new();
    for e in &r.events {
        *types
            .entry(e["event_type"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
        let errs = schema::errors(&v, e);
        assert!(errs.is_empty(), "{errs:?}\n{e}");
    }
    for t in [
        "flow", "stats", "anomaly", "alert", "http", "smtp", "ntp", "socks", "irc", "dns",
    ] {
        assert!(types.contains_key(t), "no {t} events: {types:?}");
    }
    // IRC message texts, and both DNS queries and answers, were among them.
    let has = |t: &str, f: &dyn Fn(&Value) -> bool| r.of_type(t).into_iter().any(f);
    assert!(
        has("irc", &|e| e["irc"]["text"].is_string()),
        "no irc texts"
    );
    assert!(
        has("dns", &|e| e["dns"]["type"] == "request"),
        "no dns queries"
    );
    assert!(
        has("dns", &|e| e["dns"]["type"] == "response"),
        "no dns responses"
    );
    // The new detectors' maps are in stats.memcap.
    let stats = r.final_stats();
    for m in [
        "irc_hosts",
        "irc_channels",
        "dns_hosts",
        "wp_pingbacks",
        "wp_victims",
    ] {
        assert!(
            stats["memcap"][m]["memcap"].is_u64(),
            "stats.memcap.{m}: {stats}"
        );
    }
}

#[test]
fn the_overlay_only_adds() {
    let base = schema::suricata();
    let merged = schema::merge(&base, &schema::overlay()).expect("merges");
    // Every property Suricata defines is unchanged in the merged schema,
    // except that objects may have gained new properties.
    fn same_or_extended(base: &Value, merged: &Value, path: &str) {
        match (base, merged) {
            (Value::Object(b), Value::Object(m)) => {
                for (k, bv) in b {
                    let mv = m.get(k).unwrap_or_else(|| panic!("{path}.{k} lost"));
                    same_or_extended(bv, mv, &format!("{path}.{k}"));
                }
                for k in m.keys() {
                    assert!(
                        b.contains_key(k) || path.ends_with("properties"),
                        "{path}.{k}: the overlay added a keyword, not a property"
                    );
                }
            }
            _ => assert_eq!(base, merged, "{path} changed"),
        }
    }
    same_or_extended(&base, &merged, "");
    // And an overlay that redefines something is refused.
    let bad: Value = serde_json::json!({"properties": {"flow": {"type": "string"}}});
    assert!(schema::merge(&base, &bad).is_err());
    let bad: Value = serde_json::json!({"properties": {"timestamp": {"properties": {"x": {}}}}});
    let merged = schema::merge(&base, &bad).expect("adds a property");
    assert_ne!(merged, base);
}

#[test]
fn flow_records_look_like_suricatas() {
    let r = replay(&[pcap("zeek__socks-auth.pcap")], &[]);
    let flows = r.of_type("flow");
    assert_eq!(flows.len(), 2);
    let f = flows
        .iter()
        .find(|f| f["dest_port"] == 1080)
        .expect("the SOCKS connection");
    assert_eq!(f["src_ip"], "192.168.0.2");
    assert_eq!(f["proto"], "TCP");
    let ts = f["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("+0000") && ts.len() == 31, "{ts}");
    let id = f["flow_id"].as_u64().unwrap();
    assert!(id < 1 << 51, "flow_id masked to 51 bits");
    assert!(f["community_id"].as_str().unwrap().starts_with("1:"));
    // The capture ends without FIN or RST: the flow is still established
    // when the input ends.
    let fl = &f["flow"];
    assert_eq!(fl["state"], "established");
    assert_eq!(fl["reason"], "shutdown");
    assert_eq!(
        (fl["pkts_toserver"].as_u64(), fl["pkts_toclient"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(f["tcp"]["state"], "established");
    assert_eq!(f["tcp"]["tcp_flags_ts"], "1a");
    assert_eq!(f["tcp"]["syn"], true);
    assert!(f["tcp"].get("fin").is_none());
}

#[test]
fn truncated_capture_is_read_as_far_as_it_goes() {
    let src = std::fs::read(pcap("zeek__smtp.pcap")).unwrap();
    // Cut inside the 61st record: 60 complete packets remain.
    let mut off = 24usize;
    for _ in 0..60 {
        let caplen = u32::from_le_bytes(src[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    let cut = off + 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&src[..cut])
        .unwrap();
    let r = replay(std::slice::from_ref(&path), &[]);
    let err = r.stderr();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains(&format!(
            "stopped after 60 packets at byte offset {off} of {cut}"
        )),
        "{err}"
    );
    assert_eq!(r.final_stats()["decoder"]["pkts"], 60);
    assert!(
        !r.of_type("flow").is_empty(),
        "flows of what was read are logged"
    );
}

#[test]
fn bad_configuration_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sensor.yaml");
    std::fs::write(
        &cfg,
        "workers: 2\nstream:\n  depth: 1mb\n  overlap_polcy: first\n",
    )
    .unwrap();
    let r = run(&[
        "-c",
        cfg.to_str().unwrap(),
        "-r",
        pcap("zeek__smtp.pcap").to_str().unwrap(),
    ]);
    assert!(!r.out.status.success());
    let err = r.stderr();
    assert!(err.contains(&format!("{}:4:", cfg.display())), "{err}");
    assert!(
        err.contains("stream") && err.contains("overlap_polcy"),
        "{err}"
    );
    assert!(
        r.events.is_empty(),
        "nothing is processed with a bad config"
    );

    std::fs::write(&cfg, "flow:\n  timeouts:\n    udp:\n      new: soon\n").unwrap();
    let r = run(&["-c", cfg.to_str().unwrap(), "--check-config"]);
    let err = r.stderr();
    assert!(
        err.contains(":4:") && err.contains("flow.timeouts.udp.new"),
        "{err}"
    );
}

#[test]
fn check_config_prints_the_effective_configuration() {
    let shipped = root().join("sensor.yaml");
    let r = run(&["-c", shipped.to_str().unwrap(), "--check-config"]);
    assert!(r.out.status.success(), "{}", r.stderr());
    let out = r.stdout();
    assert!(out.contains("overlap_policy: first"), "{out}");
    assert!(out.contains("established: 600"), "{out}");
}

#[test]
fn a_directory_replays_every_capture_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["zeek__socks-auth.pcap", "zeek__NTP_sync.pcap"] {
        std::fs::copy(pcap(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("README.md"), "not a capture").unwrap();
    let r = replay(&[dir.path().to_path_buf()], &[]);
    assert!(r.stdout().contains("replayed 2 files"), "{}", r.stdout());
    assert_eq!(r.final_stats()["decoder"]["pkts"], 15 + 32);
}

#[test]
fn drops_root_after_opening_and_hands_over_the_logs() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching users needs root (CI runs as root)");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // The pidfile sits in the log directory, which is handed over, so the
    // unprivileged process can still remove it at exit.
    let pid = logs.join("fumidai.pid");
    std::fs::create_dir(&logs).unwrap();
    let out = common::bin()
        .args([
            "-r",
            pcap("zeek__smtp.pcap").to_str().unwrap(),
            "-l",
            logs.to_str().unwrap(),
        ])
        .args(["--user", "nobody", "--pidfile", pid.to_str().unwrap(), "-v"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("running as uid 65534"), "{err}");
    let meta = std::fs::metadata(logs.join("eve.json")).unwrap();
    assert_eq!(
        (meta.uid(), std::fs::metadata(&logs).unwrap().uid()),
        (65534, 65534)
    );
    let eve = std::fs::read_to_string(logs.join("eve.json")).unwrap();
    assert!(eve.contains("\"event_type\":\"flow\""));
    assert!(!pid.exists(), "pidfile removed at exit");
}

/// An alert raised on a transaction carries that transaction's `tx_id` and
/// app-layer object, and the transaction's own event has the same
/// `flow_id`, `tx_id`, `community_id` and `tunnel_chain`: a SIEM can join
/// them. (Inside a tunnel, transaction ids start again from 0, as
/// Suricata's do, so the event type and the chain tell the layers apart.)
#[test]
fn alerts_join_their_transactions() {
    let r = replay(&[root().join("pcaps")], &["--recursive"]);
    let apps = ["http", "smtp", "socks", "ntp", "irc", "dns"];
    // DNS queries are counted whatever is logged; `dns` events are written
    // only with `dns.log: true` (off by default), so a DNS alert's
    // transaction has no event to join here (truth_irc_dns.rs logs them).
    let dns_logged = r.events.iter().any(|e| e["event_type"] == "dns");
    let mut joined = 0;
    for a in r.of_type("alert") {
        assert!(a["alert"]["gid"] == 1 && a["alert"]["rev"].is_u64(), "{a}");
        for k in ["action", "signature", "category"] {
            assert!(a["alert"][k].is_string(), "{k}: {a}");
        }
        assert!(a["alert"]["severity"].is_u64(), "{a}");
        // Verdicts over many flows (a reflection flood at its victim, an
        // alert-storm summary) have no flow: no Community ID, no transaction.
        if a.get("flow_id").is_none() {
            let over_many = a.get("amplification").is_some() || a["fumidai"].get("storm").is_some();
            assert!(over_many, "no flow: {a}");
            continue;
        }
        assert!(a["community_id"].is_string(), "{a}");
        let Some(tx) = a["tx_id"].as_u64() else {
            // Verdicts over many packets (amplification) name no transaction.
            assert!(a.get("amplification").is_some(), "no tx_id: {a}");
            continue;
        };
        if a["app_proto"] == "dns" && !dns_logged {
            assert!(a.get("dns").is_some(), "alert lacks its dns object: {a}");
            continue;
        }
        let event = r.events.iter().find(|e| {
            let kind = e["event_type"].as_str().unwrap_or("");
            apps.contains(&kind)
                && a.get(kind).is_some()
                && e["flow_id"] == a["flow_id"]
                && e["tx_id"] == tx
                && e.get("tunnel_chain") == a.get("tunnel_chain")
        });
        let Some(event) = event else {
            panic!("no transaction event for alert {a}");
        };
        let kind = event["event_type"].as_str().unwrap();
        assert_eq!(event["community_id"], a["community_id"], "{a}");
        assert!(a.get(kind).is_some(), "alert lacks its {kind} object: {a}");
        joined += 1;
    }
    assert!(joined > 50, "{joined}");
}
