#!/usr/bin/env python3
"""Writes the reflection-flood captures seen at their victim, and their benign twins.

A real reflection flood comes from thousands of reflectors, each sending the victim one or
two responses within a fraction of a second; the requests were forged elsewhere and never
cross the victim's link. No (reflector, victim) pair is large, so only a view per victim
(fumidai's 9700035) sees the flood. The benign twins are many-peer traffic where every
answer was asked for, which must raise nothing.

  refl-snmp.pcap       4,000 reflectors, 1-2 SNMP GetResponses of about 200 bytes from
                       port 161 each, within 0.4 s (the case that motivated 9700035)
  refl-dns.pcap        2,500 resolvers, 1-2 DNS answers of about 500 bytes from port 53
  refl-ntp.pcap        2,500 ntpds, 1-2 monlist (mode 7) datagrams of 440 bytes from 123
  refl-cldap.pcap      2,500 domain controllers, 1-2 CLDAP searchResEntry of ~900 bytes
  refl-ssdp.pcap       2,500 UPnP devices, 1-2 M-SEARCH answers of ~300 bytes from 1900
  refl-memcached.pcap  2,500 memcached servers, 1-2 UDP "VALUE" frames of 1,400 bytes
  benign-resolver.pcap a busy resolver: 3,000 clients ask it and are answered, and it asks
                       2,500 authoritative servers, which answer (1-2 queries each)
  benign-cdn-edge.pcap an anycast DNS edge of a CDN answering 3,000 resolvers' queries,
                       and 2,000 NTP clients syncing with its time server

Captured as by a sensor with a 128-byte snaplen: headers and the start of each payload are
in the file, the UDP header says how much travelled (which is what fumidai counts), and
the six floods stay under a megabyte each. Every checksum is computed over the whole
datagram. Deterministic: fixed addresses, ports and times (2024-02-01T00:00:00Z onwards).

Usage: scripts/gen-reflection.py OUTDIR   (plain Python 3, no other module)
"""

import os
import struct
import sys

T0 = 1706745600.0  # 2024-02-01T00:00:00Z
SNAPLEN = 128
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
VICTIM = "10.20.0.7"


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src, sport, dst, dport, payload, ip_id):
    """An Ethernet/IPv4/UDP frame with correct checksums."""
    ulen = 8 + len(payload)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    uc = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", uc) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ip_id & 0xFFFF, 0, 57, 17, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return MAC_B + MAC_A + b"\x08\x00" + hdr + udp


def write_pcap(path, pkts):
    pkts = sorted(pkts, key=lambda p: p[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))
        for t, data in pkts:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            if usec == 1000000:
                sec, usec = sec + 1, 0
            cut = data[:SNAPLEN]
            f.write(struct.pack("<IIII", sec, usec, len(cut), len(data)))
            f.write(cut)


def public(i):
    """The i-th reflector: spread over documentation-like and real-looking public space."""
    a = 45 + (i * 7919) % 150
    if a in (100, 127, 169, 172, 192):
        a += 1
    return "%d.%d.%d.%d" % (a, (i * 131) % 256, (i * 17) % 256, 1 + i % 254)


def spread(n, seconds, i):
    return T0 + seconds * i / n


# --- payloads (what each service answers) --------------------------------------------


def ber(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def snmp_response(i, size=200):
    """SNMPv2c GetResponse with varbinds padded to about `size` bytes."""
    value = ber(0x04, b"Linux router%d 5.10.0 #1 SMP x86_64 " % i + b"x" * max(0, size - 90))
    varbind = ber(0x30, ber(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 1, 0])) + value)
    pdu = ber(0xA2, ber(0x02, struct.pack("!I", 0x1000 + i)) + ber(0x02, b"\0") + ber(0x02, b"\0") + ber(0x30, varbind))
    return ber(0x30, ber(0x02, b"\x01") + ber(0x04, b"public") + pdu)


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_answer(qid, name, size=500, rd=True):
    q = dns_name(name) + struct.pack("!HH", 255, 1)
    flags = 0x8180 if rd else 0x8400
    hdr = struct.pack("!HHHHHH", qid, flags, 1, 3, 0, 1)
    rrs = b""
    for k in range(3):
        txt = (b"v=spf1 ip4:192.0.2.%d include:_spf.example.net ~all " % k) + b"x" * max(0, size // 3 - 70)
        rrs += b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 3600, len(txt) + 1) + bytes([len(txt) % 256]) + txt
    opt = b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    return hdr + q + rrs + opt


def dns_query(qid, name, rd=True):
    return struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 1) + dns_name(name) + struct.pack("!HH", 1, 1) + b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)


def ntp_monlist(seq, more, items=6):
    b0 = 0x80 | (0x40 if more else 0) | (2 << 3) | 7
    body = b""
    for k in range(items):
        addr = struct.unpack("!I", bytes([100, 64, seq, k]))[0]
        body += struct.pack("!IIIIIIIHBBII16s16s", 64, k, 0, 3, addr, 0, 0, 123, 3, 4, 0, 0, bytes(16), bytes(16))
    return struct.pack("!BBBBHH", b0, seq & 0x7F, 3, 42, items, 72) + body


def ntp_packet(mode, t):
    ts = int(t + 2208988800) << 32
    return struct.pack("!BBbbII4sQQQQ", (4 << 3) | mode, 2 if mode == 4 else 0, 6, -20, 0, 0, b"GPS\0" if mode == 4 else bytes(4), ts, ts, ts, ts)


def cldap_entry(i, size=900):
    attrs = b"".join(
        ber(0x30, ber(0x04, name) + ber(0x31, ber(0x04, value)))
        for name, value in [
            (b"dnsHostName", b"dc%d.corp%d.example" % (i, i)),
            (b"domainFunctionality", b"7"),
            (b"supportedCapabilities", b"1.2.840.113556.1.4.800 " + b"y" * max(0, size - 160)),
        ]
    )
    entry = ber(0x64, ber(0x04, b"") + ber(0x30, attrs))
    return ber(0x30, ber(0x02, struct.pack("!I", 0x10 + i)) + entry)


def ssdp_answer(i):
    return (
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
        b"LOCATION: http://192.168.1.%d:49152/description.xml\r\nSERVER: Linux/3.14 UPnP/1.0 IpBridge/1.48\r\n"
        b"ST: upnp:rootdevice\r\nUSN: uuid:2f402f80-da50-11e1-9b23-%012x::upnp:rootdevice\r\n\r\n" % (1 + i % 250, i)
    )


def memcached_value(i, size=1400):
    head = struct.pack("!HHHH", 0x1000 + i % 0xEFFF, 0, 1, 0)
    data = b"x" * (size - 60)
    return head + b"VALUE a 0 %d\r\n" % len(data) + data + b"\r\nEND\r\n"


# --- floods ------------------------------------------------------------------------


def flood(n, service_port, answer, seconds=0.4):
    """n reflectors, one or two answers each, to the victim's random ports."""
    pkts = []
    for i in range(n):
        src = public(i)
        for k in range(1 + i % 2):
            t = spread(n, seconds, i) + 0.00003 * k
            dport = 1024 + (i * 37 + k * 11) % 60000
            pkts.append((t, frame(src, service_port, VICTIM, dport, answer(i, k), i * 2 + k)))
    return pkts


def refl_snmp():
    return flood(4000, 161, lambda i, k: snmp_response(i))


def refl_dns():
    return flood(2500, 53, lambda i, k: dns_answer(0x2000 + i, "example.com", 500))


def refl_ntp():
    return flood(2500, 123, lambda i, k: ntp_monlist(k, k == 0 and i % 2 == 1))


def refl_cldap():
    return flood(2500, 389, lambda i, k: cldap_entry(i))


def refl_ssdp():
    return flood(2500, 1900, lambda i, k: ssdp_answer(i))


def refl_memcached():
    return flood(2500, 11211, lambda i, k: memcached_value(i))


# --- benign twins --------------------------------------------------------------------


def benign_resolver():
    """A busy resolver: its clients ask it, it asks the authoritative servers."""
    resolver = "10.20.0.53"
    pkts = []
    for i in range(3000):
        client = "10.%d.%d.%d" % (30 + i // 60000, (i // 250) % 250, 1 + i % 250)
        t = spread(3000, 2.0, i)
        sport = 20000 + i % 40000
        name = "host%d.example.org" % (i % 700)
        pkts.append((t, frame(client, sport, resolver, 53, dns_query(i, name), i)))
        pkts.append((t + 0.004, frame(resolver, 53, client, sport, dns_answer(i, name, 480), 50000 + i)))
    for j in range(2500):
        auth = public(j)
        t = spread(2500, 2.0, j)
        for k in range(1 + j % 2):
            sport = 30000 + (j * 3 + k) % 30000
            name = "www%d.zone%d.example" % (k, j)
            tk = t + 0.001 * k
            pkts.append((tk, frame(resolver, sport, auth, 53, dns_query(j * 2 + k, name, rd=False), 60000 + j * 2 + k)))
            pkts.append((tk + 0.02, frame(auth, 53, resolver, sport, dns_answer(j * 2 + k, name, 520, rd=False), j * 2 + k)))
    return pkts


def benign_cdn_edge():
    """A CDN edge answering resolvers' DNS queries and clients' time requests."""
    edge_dns, edge_ntp = "10.20.0.80", "10.20.0.123"
    pkts = []
    for i in range(3000):
        resolver = public(i)
        t = spread(3000, 1.5, i)
        sport = 10000 + (i * 7) % 50000
        name = "img%d.cdn.example.net" % (i % 50)
        pkts.append((t, frame(resolver, sport, edge_dns, 53, dns_query(i, name, rd=False), i)))
        pkts.append((t + 0.0005, frame(edge_dns, 53, resolver, sport, dns_answer(i, name, 900, rd=False), 40000 + i)))
    for j in range(2000):
        client = public(5000 + j)
        t = spread(2000, 1.5, j)
        pkts.append((t, frame(client, 123, edge_ntp, 123, ntp_packet(3, t), 20000 + j)))
        pkts.append((t + 0.0003, frame(edge_ntp, 123, client, 123, ntp_packet(4, t), 30000 + j)))
    return pkts


CAPTURES = {
    "refl-snmp.pcap": refl_snmp,
    "refl-dns.pcap": refl_dns,
    "refl-ntp.pcap": refl_ntp,
    "refl-cldap.pcap": refl_cldap,
    "refl-ssdp.pcap": refl_ssdp,
    "refl-memcached.pcap": refl_memcached,
    "benign-resolver.pcap": benign_resolver,
    "benign-cdn-edge.pcap": benign_cdn_edge,
}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, make in CAPTURES.items():
        pkts = make()
        write_pcap(os.path.join(out, name), pkts)
        print("%s %d packets" % (name, len(pkts)))


if __name__ == "__main__":
    main()
