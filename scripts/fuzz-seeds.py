#!/usr/bin/python3
"""Writes seed inputs for the fuzz targets from the repository's captures.

  scripts/fuzz-seeds.py [OUTDIR]   (default: fuzz/corpus)

pipeline/  each capture in pcaps/ (classic pcap, at most MAX_BYTES of it) in the
           pipeline target's format: a link-type byte, then per packet a 2-byte
           little-endian length, a 1-byte time step (10 ms units) and the frame.

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


if __name__ == "__main__":
    main()
