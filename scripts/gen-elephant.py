#!/usr/bin/env python3
"""One elephant flow: a single TCP connection between one pair of hosts that
downloads GB gigabytes over HTTP, as a pcap (Ethernet, valid checksums,
1514-byte frames, an ACK every second segment), its packets spread evenly
from START over SECONDS so it can be merged with another capture by time
(scripts/make-elephant.sh does that with the shared benchmark mix).

    gen-elephant.py OUT.pcap [--gb 2] [--start EPOCH] [--seconds 3700]
"""
import argparse
import struct

MSS = 1460
CLIENT, SERVER = bytes([10, 250, 0, 1]), bytes([10, 250, 0, 2])
CMAC, SMAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
CPORT, SPORT = 40000, 80


def csum_add(total, data):
    if len(data) % 2:
        data += b"\0"
    total += sum(struct.unpack(f"!{len(data) // 2}H", data))
    return total


def fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def packet(src, dst, smac, dmac, sport, dport, seq, ack, flags, payload, payload_sum=None):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    length = 20 + len(payload)
    total = csum_add(0, src + dst + struct.pack("!BBH", 0, 6, length) + tcp)
    total += payload_sum if payload_sum is not None else csum_add(0, payload)
    tcp = tcp[:16] + struct.pack("!H", ~fold(total) & 0xFFFF) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ~fold(csum_add(0, ip)) & 0xFFFF) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--start", type=float, default=1_300_000_000.0)
    ap.add_argument("--seconds", type=float, default=3700.0)
    a = ap.parse_args()
    body = int(a.gb * (1 << 30))
    segments = (body + MSS - 1) // MSS
    chunk = bytes((i * 7 + 3) & 0xFF for i in range(MSS))
    chunk_sum = csum_add(0, chunk)
    request = b"GET /big.iso HTTP/1.1\r\nHost: mirror.example\r\n\r\n"
    header = (f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Length: {body}\r\n\r\n").encode()
    c_isn, s_isn = 1000, 5000000
    total_pkts = 3 + 2 + 1 + segments + segments // 2 + 4
    step = a.seconds / total_pkts
    t = a.start
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

        def write(frame):
            nonlocal t
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
            t += step

        cs = (CLIENT, SERVER, CMAC, SMAC, CPORT, SPORT)
        sc = (SERVER, CLIENT, SMAC, CMAC, SPORT, CPORT)
        write(packet(*cs, c_isn, 0, 0x02, b""))
        write(packet(*sc, s_isn, c_isn + 1, 0x12, b""))
        write(packet(*cs, c_isn + 1, s_isn + 1, 0x10, b""))
        write(packet(*cs, c_isn + 1, s_isn + 1, 0x18, request))
        cseq = c_isn + 1 + len(request)
        write(packet(*sc, s_isn + 1, cseq, 0x18, header))
        sseq = s_isn + 1 + len(header)
        left = body
        n = 0
        while left > 0:
            size = min(MSS, left)
            payload = chunk if size == MSS else chunk[:size]
            write(packet(*sc, sseq, cseq, 0x10, payload, chunk_sum if size == MSS else None))
            sseq += size
            left -= size
            n += 1
            if n % 2 == 0 or left == 0:
                write(packet(*cs, cseq, sseq, 0x10, b""))
        write(packet(*sc, sseq, cseq, 0x11, b""))
        write(packet(*cs, cseq, sseq + 1, 0x11, b""))
        write(packet(*sc, sseq + 1, cseq + 1, 0x10, b""))


if __name__ == "__main__":
    main()
