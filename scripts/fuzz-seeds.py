#!/usr/bin/python3
"""Writes seed inputs for the fuzz targets from the repository's captures.

  scripts/fuzz-seeds.py [OUTDIR]   (default: fuzz/corpus)

pipeline/  each capture in pcaps/ (classic pcap, at most MAX_BYTES of it) in the
           pipeline target's format: a link-type byte, then per packet a 2-byte
           little-endian length, a 1-byte time step (10 ms units) and the frame.
http/ smtp/ socks/ irc/
           each TCP conversation on the protocol's ports, both directions in
           capture order, in the stream targets' format (fuzz_targets/common.rs:
           a control byte per piece: direction bit, length << 1).
ntp/       each UDP payload to or from port 123.
dns/       each UDP payload to or from port 53.
xmlrpc/    the client bytes of each conversation that posts to xmlrpc.php, after
           their first request head, behind a step byte (fuzz_targets/xmlrpc.rs).
decap/     each frame of pcaps/encap/ with every decoder switched on.
pcapfile/  the first MAX_BYTES of each pcap and pcapng capture in pcaps/, after a byte
           that sets the target's read size.
report/    the EVE lines fumidai writes for pcaps/lab and pcaps/scenarios, when a
           built binary is given as FUMIDAI=path.

Standard library only. Deterministic: the same captures give the same seeds.
"""

import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MAX_BYTES = 64 << 10
# The pipeline target's link types, by index (fuzz/fuzz_targets/pipeline.rs).
LINKS = {1: 0, 101: 1, 12: 1, 228: 1, 113: 2, 276: 3, 0: 4, 108: 5}


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None, []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        return None, []
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(e + "I", data[20:24])[0]
    at, out = 24, []
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[at:at + 16])
        out.append((sec * 1_000_000 + (frac // 1000 if nano else frac), data[at + 16:at + 16 + incl]))
        at += 16 + incl
    return link, out


STREAM_PORTS = {
    "http": {80, 8080, 3128, 8000, 8081},
    "smtp": {25, 465, 587},
    "socks": {1080},
    "irc": {6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 6697, 7000, 5558},
}


def l3(link, frame):
    """(ip bytes) of a frame, or None: Ethernet (with VLANs), raw IP, Linux SLL."""
    if link == 1:
        at = 12
        et = struct.unpack("!H", frame[at:at + 2])[0] if len(frame) >= 14 else 0
        while et in (0x8100, 0x88A8) and len(frame) >= at + 6:
            at += 4
            et = struct.unpack("!H", frame[at:at + 2])[0]
        return frame[at + 2:] if et in (0x0800, 0x86DD) else None
    if link in (101, 12, 228, 229):
        return frame
    if link == 113 and len(frame) >= 16:
        return frame[16:]
    return None


def transport(ip):
    """(proto, src, dst, sport, dport, payload) of an unfragmented IPv4/IPv6 packet."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
            return None
        proto, src, dst, l4 = ip[9], ip[12:16], ip[16:20], ip[ihl:]
    elif v == 6 and len(ip) >= 40:
        proto, src, dst, l4 = ip[6], ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        off = (l4[12] >> 4) * 4
        return 6, src, dst, *struct.unpack("!HH", l4[:4]), l4[off:]
    if proto == 17 and len(l4) >= 8:
        return 17, src, dst, *struct.unpack("!HH", l4[:4]), l4[8:]
    return None


def stream_seed(pieces):
    """The stream targets' format: per piece a control byte (bit 0 the direction,
    bits 1-6 the length) and the bytes, in 63-byte steps."""
    out = bytearray()
    for to_client, data in pieces:
        for i in range(0, len(data), 63):
            part = data[i:i + 63]
            out.append((len(part) << 1) | (1 if to_client else 0))
            out += part
            if len(out) > MAX_BYTES:
                return bytes(out)
    return bytes(out)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")
    pipe = os.path.join(outdir, "pipeline")
    os.makedirs(pipe, exist_ok=True)
    n = 0
    for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, "pcaps"))):
        for name in sorted(files):
            if not name.endswith(".pcap"):
                continue
            link, pkts = packets(os.path.join(dirpath, name))
            if link not in LINKS or not pkts:
                continue
            seed = bytearray([LINKS[link] | 0x80])
            last = pkts[0][0]
            for t, frame in pkts:
                step = min(255, max(0, (t - last) // 10_000))
                last = t
                frame = frame[:65535]
                if len(seed) + 3 + len(frame) > MAX_BYTES:
                    break
                seed += struct.pack("<HB", len(frame), step) + frame
            rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(ROOT, "pcaps"))
            with open(os.path.join(pipe, rel.replace("/", "__")), "wb") as f:
                f.write(seed)
            n += 1
    print(f"{n} pipeline seeds in {pipe}")
    counts = {}
    for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, "pcaps"))):
        for name in sorted(files):
            if not name.endswith(".pcap"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.join(ROOT, "pcaps")).replace("/", "__")
            link, pkts = packets(path)
            if link is None:
                continue
            convs = {}
            ntp = []
            dns = []
            for _, frame in pkts:
                t = transport(l3(link, frame))
                if not t:
                    continue
                proto, src, dst, sp, dp, payload = t
                if proto == 17 and 123 in (sp, dp) and payload:
                    ntp.append(payload)
                if proto == 17 and 53 in (sp, dp) and payload:
                    dns.append(payload)
                if proto != 6 or not payload:
                    continue
                for target, ports in STREAM_PORTS.items():
                    if dp in ports or sp in ports:
                        server_side = dp in ports
                        key = (target, (src, sp, dst, dp) if server_side else (dst, dp, src, sp))
                        convs.setdefault(key, []).append((not server_side, payload))
            for i, ((target, _), pieces) in enumerate(sorted(convs.items(), key=lambda kv: kv[0][0])):
                write(os.path.join(outdir, target), f"{rel}-{i}", stream_seed(pieces))
                counts[target] = counts.get(target, 0) + 1
            for i, d in enumerate(ntp[:64]):
                write(os.path.join(outdir, "ntp"), f"{rel}-{i}", d)
                counts["ntp"] = counts.get("ntp", 0) + 1
            for i, d in enumerate(dns[:64]):
                write(os.path.join(outdir, "dns"), f"{rel}-{i}", d)
                counts["dns"] = counts.get("dns", 0) + 1
            for i, ((target, _), pieces) in enumerate(sorted(convs.items(), key=lambda kv: kv[0][0])):
                client = b"".join(d for to_client, d in pieces if not to_client)
                head = client.find(b"\r\n\r\n")
                if target == "http" and b"xmlrpc.php" in client[:head] and head > 0:
                    write(os.path.join(outdir, "xmlrpc"), f"{rel}-{i}", bytes([61]) + client[head + 4:][:MAX_BYTES])
                    counts["xmlrpc"] = counts.get("xmlrpc", 0) + 1
            if dirpath.endswith("encap") or "/encap/" in dirpath + "/":
                idx = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 228: 3, 0: 4, 108: 5, 104: 6}.get(link)
                if idx is not None:
                    for i, (_, frame) in enumerate(pkts[:32]):
                        write(os.path.join(outdir, "decap"), f"{rel}-{i}", bytes([idx | 16, 0xFF]) + frame)
                        counts["decap"] = counts.get("decap", 0) + 1
    for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, "pcaps"))):
        for name in sorted(files):
            if not name.endswith((".pcap", ".pcapng")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES)
            rel = os.path.relpath(path, os.path.join(ROOT, "pcaps")).replace("/", "__")
            write(os.path.join(outdir, "pcapfile"), rel, bytes([len(data) % 16]) + data)
            counts["pcapfile"] = counts.get("pcapfile", 0) + 1
    fumidai = os.environ.get("FUMIDAI")
    if fumidai:
        import subprocess
        import tempfile
        for sub in ("lab", "scenarios"):
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([fumidai, "-q", "-r", os.path.join(ROOT, "pcaps", sub), "-l", tmp], check=True)
                with open(os.path.join(tmp, "eve.json"), "rb") as f:
                    lines = f.read().splitlines(keepends=True)
                for i in range(0, len(lines), 50):
                    write(os.path.join(outdir, "report"), f"{sub}-{i // 50}", b"".join(lines[i:i + 50]))
                    counts["report"] = counts.get("report", 0) + 1
    for k in sorted(counts):
        print(f"{counts[k]} {k} seeds")


if __name__ == "__main__":
    main()
