#!/usr/bin/python3
"""Writes forged-source flood captures: what an attacker sends to exhaust a sensor.

Every packet comes from a different forged source (or goes to a different forged victim),
one packet per source, 1 microsecond apart (a 1 M packets/s flood), with valid IPv4, TCP
and UDP checksums so that a sensor that validates checksums must still process them.

  scripts/gen-floods.py KIND COUNT OUT.pcap [--embed ATTACK.pcap]

KIND:
  syn-proxy      COUNT SYNs to port 3128 of hosts in 10.0.0.0/8 (the proxy-sweep map)
  syn-other      the same to port 4444, which nothing watches (the control)
  udp-resp       COUNT forged responses from ports 53, 161 and 123 (in turn) to COUNT
                 victims: what a reflector's side shows when its requests were forged
                 (the amplification pair and victim maps)
  monlist-req    COUNT MON_GETLIST_1 requests from COUNT forged requesters to NTP servers
                 in 10.0.0.0/8 (the monlist requester map)
  syn-flood      COUNT SYNs from COUNT forged sources and source ports to random ports of
                 hosts in 10.0.0.0/8: COUNT half-open TCP flows (the flow table)
  udp-flood      COUNT one-packet UDP flows to random high ports (the flow table)
  mix            all of the above in turn (except the control): every table at once

--embed ATTACK.pcap  merges a capture of a real attack into the flood: its packets keep
                 their relative timing and are shifted to start 0.1 s into the flood, so
                 the attack happens while the tables are full of forged junk. Their IPv4,
                 TCP and UDP checksums are recomputed: a recording made on a host with
                 checksum offloading carries checksums the NIC never filled in, which the
                 wire would have had right.

Deterministic: the same arguments always write the same bytes (a fixed-seed generator).
Standard library only, so it runs anywhere python3 does, and fast enough for 10 M packets.
"""

import argparse
import random
import struct
import sys

T0 = 1704067200  # 2024-01-01T00:00:00Z
STEP_US = 1
MAC = bytes.fromhex("020000000002020000000001")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, l4):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return MAC + b"\x08\x00" + hdr + l4


def tcp_syn(src, dst, sport, dport, seq):
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(t))
    c = csum(pseudo + t)
    return ipv4(src, dst, 6, t[:16] + struct.pack("!H", c) + t[18:])


def udp(src, dst, sport, dport, payload):
    ln = 8 + len(payload)
    u = struct.pack("!HHHH", sport, dport, ln, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ln)
    c = csum(pseudo + u) or 0xFFFF
    return ipv4(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:])


def monlist_request():
    hdr = struct.pack("!BBBBHH", 0x17, 0, 3, 42, 0, 0)
    return hdr + bytes(192 - len(hdr))


def dns_answer(i):
    # A plausible 512-byte DNS answer: header with QR set, then filler records.
    return struct.pack("!HHHHHH", i & 0xFFFF, 0x8180, 1, 10, 0, 0) + bytes(500)


def snmp_answer():
    return b"\x30\x82\x01\xf0" + bytes(496)


def ntp_answer():
    return bytes([0x97, 0, 3, 42, 0, 6, 0, 72]) + bytes(432)


def forged(rng):
    """A public-looking address outside 10/8, 172.16/12 and 192.168/16."""
    while True:
        a = rng.getrandbits(32)
        b0 = a >> 24
        if b0 in (0, 10, 127, 172, 192) or b0 >= 224:
            continue
        return struct.pack("!I", a)


def home(rng):
    return bytes([10]) + rng.getrandbits(24).to_bytes(3, "big")


MIX = ["syn-proxy", "udp-resp", "monlist-req", "syn-flood", "udp-flood"]


def flood(kind, count, rng):
    answers = [(53, None), (161, snmp_answer()), (123, ntp_answer())]
    req = monlist_request()
    for i in range(count):
        k = MIX[i % len(MIX)] if kind == "mix" else kind
        if k == "syn-proxy":
            yield tcp_syn(forged(rng), home(rng), 1024 + rng.getrandbits(15), 3128, rng.getrandbits(32))
        elif k == "syn-other":
            yield tcp_syn(forged(rng), home(rng), 1024 + rng.getrandbits(15), 4444, rng.getrandbits(32))
        elif k == "syn-flood":
            yield tcp_syn(forged(rng), home(rng), 1024 + rng.getrandbits(15), 1 + rng.getrandbits(16) % 65535,
                          rng.getrandbits(32))
        elif k == "udp-flood":
            yield udp(forged(rng), home(rng), 1024 + rng.getrandbits(15), 1024 + rng.getrandbits(15), bytes(32))
        elif k == "udp-resp":
            port, body = answers[i % 3]
            yield udp(home(rng), forged(rng), port, 1024 + rng.getrandbits(15), body or dns_answer(i))
        elif k == "monlist-req":
            yield udp(forged(rng), home(rng), 1024 + rng.getrandbits(15), 123, req)
        else:
            raise SystemExit(f"unknown kind {kind}")


def fix_checksums(frame):
    """Recomputes the IPv4 header and TCP/UDP checksums of an Ethernet frame."""
    at = 12
    etype = struct.unpack("!H", frame[at:at + 2])[0]
    while etype in (0x8100, 0x88A8):
        at += 4
        etype = struct.unpack("!H", frame[at:at + 2])[0]
    at += 2
    if etype != 0x0800 or len(frame) < at + 20:
        return frame
    f = bytearray(frame)
    ihl = (f[at] & 0x0F) * 4
    total = struct.unpack("!H", f[at + 2:at + 4])[0]
    f[at + 10:at + 12] = b"\0\0"
    f[at + 10:at + 12] = struct.pack("!H", csum(bytes(f[at:at + ihl])))
    frag = struct.unpack("!H", f[at + 6:at + 8])[0]
    proto = f[at + 9]
    l4 = at + ihl
    end = at + total
    if frag & 0x3FFF or end > len(f):
        return bytes(f)  # fragments and cut frames: the IP header only
    pseudo = bytes(f[at + 12:at + 20]) + struct.pack("!BBH", 0, proto, end - l4)
    if proto == 6 and end - l4 >= 20:
        f[l4 + 16:l4 + 18] = b"\0\0"
        f[l4 + 16:l4 + 18] = struct.pack("!H", csum(pseudo + bytes(f[l4:end])))
    elif proto == 17 and end - l4 >= 8:
        f[l4 + 6:l4 + 8] = b"\0\0"
        f[l4 + 6:l4 + 8] = struct.pack("!H", csum(pseudo + bytes(f[l4:end])) or 0xFFFF)
    return bytes(f)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        e, nano = "<", False
    elif magic == 0xD4C3B2A1:
        e, nano = ">", False
    elif magic == 0xA1B23C4D:
        e, nano = "<", True
    elif magic == 0x4D3CB2A1:
        e, nano = ">", True
    else:
        raise SystemExit(f"{path}: not a pcap file (pcapng: convert with editcap -F pcap)")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, only Ethernet can be embedded")
    at, out = 24, []
    while at + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[at:at + 16])
        us = frac // 1000 if nano else frac
        out.append((sec * 1_000_000 + us, orig, fix_checksums(data[at + 16:at + 16 + incl])))
        at += 16 + incl
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind")
    ap.add_argument("count", type=int)
    ap.add_argument("out")
    ap.add_argument("--embed")
    a = ap.parse_args()
    rng = random.Random(f"{a.kind}/{a.count}")
    embed = read_pcap(a.embed) if a.embed else []
    if embed:
        shift = T0 * 1_000_000 + 100_000 - embed[0][0]
        embed = [(t + shift, o, b) for t, o, b in embed]
    w = open(a.out, "wb")
    w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    rec = struct.Struct("<IIII")
    k = 0
    t = T0 * 1_000_000
    for frame in flood(a.kind, a.count, rng):
        while k < len(embed) and embed[k][0] <= t:
            et, orig, b = embed[k]
            w.write(rec.pack(et // 1_000_000, et % 1_000_000, len(b), orig))
            w.write(b)
            k += 1
        w.write(rec.pack(t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
        w.write(frame)
        t += STEP_US
    for et, orig, b in embed[k:]:
        w.write(rec.pack(et // 1_000_000, et % 1_000_000, len(b), orig))
        w.write(b)
    w.close()


if __name__ == "__main__":
    sys.exit(main())
