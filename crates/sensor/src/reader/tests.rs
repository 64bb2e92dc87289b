use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every capture in the repository's pcaps/ (recursively).
fn captures() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if is_capture(&p).unwrap_or(false) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("pcaps"), &mut out);
    out.sort();
    out
}

type Packets = Vec<(u64, i32, u32, Vec<u8>)>;

/// Every packet of `path` read with `how`, and how reading ended.
fn read_all(path: &Path, how: PcapReader) -> (Packets, Option<Stop>) {
    let mut src = match Source::open(path, how) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match src.next() {
            Ok(Some(f)) => {
                if let Some(w) = f.window {
                    // The view lies inside its window.
                    let start = w.as_ptr() as usize;
                    let at = f.data.as_ptr() as usize;
                    assert!(at >= start && at + f.data.len() <= start + w.len());
                }
                let link = fumidai_wire::LinkType::from_dlt(f.link).map_or(f.link, |l| l.dlt());
                out.push((f.ts.0, link, f.wire_len, f.data.to_vec()));
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn the_memory_map_reads_what_libpcap_reads_in_every_capture() {
    let all = captures();
    assert!(all.len() > 40, "{} captures", all.len());
    for p in all {
        let (lib, lib_err) = read_all(&p, PcapReader::Libpcap);
        let (map, map_err) = read_all(&p, PcapReader::Mmap);
        assert_eq!(lib_err, None, "{}", p.display());
        assert_eq!(map_err, None, "{}", p.display());
        assert_eq!(lib.len(), map.len(), "{}", p.display());
        assert!(lib == map, "{}: packets differ", p.display());
    }
}

/// A classic pcap of `n` Ethernet-sized packets, each different.
fn synthetic(n: u32, size: usize) -> Vec<u8> {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.truncate(20);
    f.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..n {
        let len = size - (i as usize % 7);
        for v in [1_000 + i, i % 1_000_000, len as u32, len as u32 + 4] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend((0..len).map(|j| (i as usize + j) as u8));
    }
    f
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn records_across_window_boundaries_are_read_whole() {
    // 3 windows' worth: records straddle every boundary.
    let n = (3 * mapped::WINDOW / 1500) as u32;
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "big.pcap", &synthetic(n, 1500));
    let (lib, _) = read_all(&p, PcapReader::Libpcap);
    let (map, err) = read_all(&p, PcapReader::Mmap);
    assert_eq!(err, None);
    assert_eq!(map.len(), n as usize);
    assert!(lib == map);
}

#[test]
fn records_larger_than_a_windows_tail_are_read_whole() {
    // 190 KB records: larger than the bytes mapped past a window's end, so
    // the one that straddles each window's end gets a window of its own.
    let size = 190_000;
    let n = (3 * mapped::WINDOW / size) as u32 + 2;
    let mut f = synthetic(n, size);
    f[16..20].copy_from_slice(&262_144u32.to_le_bytes()); // snaplen
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "jumbo.pcap", &f);
    let (lib, lib_err) = read_all(&p, PcapReader::Libpcap);
    let (map, err) = read_all(&p, PcapReader::Mmap);
    assert_eq!((lib_err, err), (None, None));
    assert_eq!(map.len(), n as usize);
    assert!(lib == map);
}

#[test]
fn compressed_captures_stream_through_their_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synthetic(3000, 900);
    let plain = write(dir.path(), "c.pcap", &raw);
    let (want, _) = read_all(&plain, PcapReader::Mmap);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = write(dir.path(), "c.pcap.gz", &gz.finish().unwrap());
    let zst = write(
        dir.path(),
        "c.pcap.zst",
        &zstd::stream::encode_all(&raw[..], 1).unwrap(),
    );
    for p in [&gz, &zst] {
        assert!(is_capture(p).unwrap());
        for how in [PcapReader::Mmap, PcapReader::Libpcap] {
            let (got, err) = read_all(p, how);
            assert_eq!(err, None, "{}", p.display());
            assert!(got == want, "{}", p.display());
        }
    }
    // A real pcapng, compressed, reads as the original.
    let ng = repo().join("pcaps/ndpi__http-proxy.pcapng");
    let bytes = std::fs::read(&ng).unwrap();
    let zng = write(
        dir.path(),
        "x.pcapng.zst",
        &zstd::stream::encode_all(&bytes[..], 3).unwrap(),
    );
    assert_eq!(
        read_all(&zng, PcapReader::Mmap),
        read_all(&ng, PcapReader::Mmap)
    );
}

#[test]
fn a_truncated_file_stops_where_libpcap_stops() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synthetic(50, 200);
    // Inside the 31st record's data, and inside the 31st record's header.
    let at30 = 24 + (0..30).map(|i| 16 + 200 - (i % 7)).sum::<usize>();
    for cut in [at30 + 20, at30 + 5] {
        let p = write(dir.path(), "cut.pcap", &raw[..cut]);
        let (lib, lib_err) = read_all(&p, PcapReader::Libpcap);
        let (map, map_err) = read_all(&p, PcapReader::Mmap);
        assert_eq!(lib.len(), 30);
        assert!(lib == map);
        assert_eq!(lib_err.unwrap().offset, Some(at30 as u64));
        let e = map_err.unwrap();
        assert_eq!(e.offset, Some(at30 as u64));
        assert!(e.message.contains("ends inside a record"), "{}", e.message);
        // Compressed, the same cut is found at the same offset of the stream.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw[..cut]).unwrap();
        let g = write(dir.path(), "cut.pcap.gz", &gz.finish().unwrap());
        let (got, err) = read_all(&g, PcapReader::Mmap);
        assert!(got == map);
        assert_eq!(err.unwrap().offset, Some(at30 as u64));
    }
}

#[test]
fn what_is_not_a_capture_is_named_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(dir.path(), "notes.txt", b"hello, not a capture");
    assert!(!is_capture(&text).unwrap());
    let e = Source::open(&text, PcapReader::Mmap).err().unwrap();
    assert_eq!(e.offset, None);
    // libpcap's words, as before the memory map: scripts may look for them.
    assert!(e.message.contains("unknown file format"), "{}", e.message);
    assert!(e.message.contains("not a pcap or pcapng"), "{}", e.message);
    let empty = write(dir.path(), "empty.pcap", b"");
    assert!(Source::open(&empty, PcapReader::Mmap).is_err());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"just text, compressed").unwrap();
    let gz = write(dir.path(), "t.gz", &gz.finish().unwrap());
    assert!(!is_capture(&gz).unwrap());
}

#[test]
fn pcapng_walk_finds_block_ends() {
    // A section header block (28 bytes) then two 32-byte enhanced packet blocks.
    let mut f = Vec::new();
    let mut block = |t: u32, len: u32| {
        f.extend_from_slice(&t.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        if t == 0x0a0d_0d0a {
            f.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a]);
            f.extend(std::iter::repeat_n(0u8, len as usize - 16));
        } else {
            f.extend(std::iter::repeat_n(0u8, len as usize - 12));
        }
        f.extend_from_slice(&len.to_le_bytes());
    };
    block(0x0a0d_0d0a, 28);
    block(6, 32);
    block(6, 32);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.pcapng", &f);
    assert_eq!(pcapng_offset_after(&p, 1), Some(60));
    assert_eq!(pcapng_offset_after(&p, 2), Some(92));
    assert_eq!(pcapng_offset_after(&p, 3), Some(92));
}
