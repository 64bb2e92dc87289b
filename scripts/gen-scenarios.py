#!/usr/bin/python3
"""Writes the amplification and spam-volume scenario captures.

Each file is one situation the sensor must judge, with real packet formats:

  amp-ntp-monlist-600.pcap     a forged MON_GETLIST_1 (192 bytes, "from" the victim) and the
                               reflector's answer: 600 entries, 6 items of 72 bytes in each of
                               100 datagrams (44,000 bytes of UDP payload), ratio about 229
  amp-ntp-50-reflectors.pcap   the victim's side of a reflection DDoS: 50 reflectors send
                               monlist answers, no request is visible
  amp-dns-any.pcap             DNS ANY queries and their large answers
  amp-ssdp.pcap                SSDP M-SEARCH ssdp:all and the devices' answers
  amp-memcached.pcap           memcached "stats" over UDP and its answer
  ntp-1000-clients.pcap        ordinary time sync: 1,000 clients, one request and one answer
                               each (must raise nothing)
  ntp-monlist-scan.pcap        one source sends MON_GETLIST_1 to 10,000 addresses over 100 s
                               (no answers): a scan, to be reported once per window
  ntp-monlist-refused.pcap     one source asks six servers for their monitor list and each
                               refuses the way ntpd does: error codes INFO_ERR_NODATA
                               (monitoring off, the 4.2.7+ default), _IMPL, _REQ, _AUTH, an
                               answer with no items, and a 4-byte stub; none is an amplifier
  smtp-600-mails.pcap          one host sends 600 mails within an hour, each to the recipient
                               domain's own server (spam-bot volume, no relay)

Usage: scripts/gen-scenarios.py OUTDIR   (Debian: apt install python3-scapy; runs /usr/bin/python3)
Deterministic: fixed addresses, ports, ids and times (2024-01-01T00:00:00Z onwards).
"""

import os
import struct
import sys

from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, Ether, Raw, wrpcap  # noqa: E402

T0 = 1704067200.0  # 2024-01-01T00:00:00Z
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def udp(src, sport, dst, dport, payload, t):
    p = Ether(src=MAC_A, dst=MAC_B) / IP(src=src, dst=dst, id=0) / UDP(sport=sport, dport=dport) / Raw(payload)
    p.time = t
    return p


# --- NTP mode 7 (ntpd's ntp_request.h) ---------------------------------------

IMPL_XNTPD = 3
MON_GETLIST_1 = 42


def mode7_request(seq=0):
    """A 192-byte MON_GETLIST_1 request as ntpdc sends it: header, then zeroes."""
    hdr = struct.pack("!BBBBHH", 0x17, seq & 0x7F, IMPL_XNTPD, MON_GETLIST_1, 0, 0)
    return hdr + bytes(192 - len(hdr))


def monitor_item(i):
    """One info_monitor_1 entry (72 bytes): avg_int, last_int, restr, count, addr,
    daddr, flags, port, mode, version, v6_flag, unused, addr6, daddr6."""
    addr = struct.unpack("!I", bytes([100, 64, (i >> 8) & 0xFF, i & 0xFF]))[0]
    return struct.pack(
        "!IIIIIIIHBBII16s16s", 64, i % 1024, 0, 1 + i % 97, addr, 0, 0, 123 + i % 2, 3, 4, 0, 0, bytes(16), bytes(16)
    )


def mode7_response(seq, more, items):
    b0 = 0x80 | (0x40 if more else 0) | (2 << 3) | 7
    hdr = struct.pack("!BBBBHH", b0, seq & 0x7F, IMPL_XNTPD, MON_GETLIST_1, len(items), 72)
    return hdr + b"".join(items)


def monlist_answer(reflector, victim, vport, t, entries=600, per=6):
    pkts = []
    n = entries // per
    for k in range(n):
        items = [monitor_item(k * per + j) for j in range(per)]
        pkts.append(udp(reflector, 123, victim, vport, mode7_response(k, k < n - 1, items), t + 0.001 * (k + 1)))
    return pkts


def ntp_mode(mode, stratum=0, t=0.0):
    """A 48-byte NTPv4 header."""
    li_vn_mode = (4 << 3) | mode
    ref = b"GPS\0" if stratum == 1 else bytes(4)
    ts = int(t + 2208988800) << 32
    return struct.pack("!BBbbII4sQQQQ", li_vn_mode, stratum, 6, -20, 0, 0, ref, ts, ts, ts, ts)


# --- scenarios -----------------------------------------------------------------


def ntp_monlist_600():
    victim, reflector = "203.0.113.50", "198.51.100.123"
    pkts = [udp(victim, 40000, reflector, 123, mode7_request(), T0)]
    pkts += monlist_answer(reflector, victim, 40000, T0)
    return pkts


def ntp_50_reflectors():
    victim = "203.0.113.60"
    pkts = []
    for r in range(50):
        reflector = "198.51.100.%d" % (r + 1)
        # Each reflector's answer to one forged query: 180 entries, 30 datagrams.
        pkts += monlist_answer(reflector, victim, 80, T0 + 0.1 * r, entries=180)
    pkts.sort(key=lambda p: p.time)
    return pkts


def dns_any():
    victim, resolver = "203.0.113.70", "198.51.100.53"
    pkts = []
    for q in range(25):
        t = T0 + 0.2 * q
        query = DNS(id=0x1000 + q, rd=1, qd=DNSQR(qname="example.com", qtype="ANY"))
        answers = None
        for k in range(12):
            rr = DNSRR(rrname="example.com", type="TXT", ttl=3600, rdata="v=fumidai-scenario %02d " % k + "x" * 90)
            answers = rr if answers is None else answers / rr
        resp = DNS(id=0x1000 + q, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname="example.com", qtype="ANY"), an=answers)
        pkts.append(udp(victim, 53000 + q, resolver, 53, bytes(query), t))
        pkts.append(udp(resolver, 53, victim, 53000 + q, bytes(resp), t + 0.002))
    return pkts


def ssdp():
    victim = "203.0.113.80"
    search = (
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
    )
    pkts = []
    device = "198.51.100.19"
    for q in range(5):
        t = T0 + q
        pkts.append(udp(victim, 41000, device, 1900, search, t))
        for k in range(10):
            answer = (
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
                "LOCATION: http://198.51.100.19:49152/description%d.xml\r\n"
                "SERVER: Linux/3.14 UPnP/1.0 fumidai-scenario/1.0\r\n"
                "ST: urn:schemas-upnp-org:service:Service%02d:1\r\n"
                "USN: uuid:00000000-0000-0000-0000-%012d::urn:schemas-upnp-org:service:Service%02d:1\r\n\r\n"
                % (k, k, k, k)
            ).encode()
            pkts.append(udp(device, 1900, victim, 41000, answer, t + 0.01 * (k + 1)))
    return pkts


def memcached():
    victim, server = "203.0.113.90", "198.51.100.211"
    # memcached UDP: 8-byte frame header (request id, sequence, datagrams, reserved).
    req = struct.pack("!HHHH", 1, 0, 1, 0) + b"stats\r\n"
    pkts = [udp(victim, 42000, server, 11211, req, T0)]
    n = 100
    for k in range(n):
        body = ("STAT fumidai_scenario_%03d " % k).encode() + b"9" * 1360 + b"\r\n"
        pkts.append(udp(server, 11211, victim, 42000, struct.pack("!HHHH", 1, k, n, 0) + body, T0 + 0.001 * (k + 1)))
    return pkts


def ntp_1000_clients():
    server = "192.0.2.123"
    pkts = []
    for c in range(1000):
        client = "10.1.%d.%d" % (c // 250, c % 250 + 1)
        t = T0 + 0.05 * c
        pkts.append(udp(client, 123, server, 123, ntp_mode(3, 0, t), t))
        pkts.append(udp(server, 123, client, 123, ntp_mode(4, 2, t), t + 0.0005))
    return pkts


def ntp_monlist_scan():
    scanner = "203.0.113.99"
    pkts = []
    for i in range(10000):
        target = "10.200.%d.%d" % (i // 250, i % 250 + 1)
        pkts.append(udp(scanner, 50000, target, 123, mode7_request(), T0 + 0.01 * i))
    return pkts


def ntp_monlist_refused():
    scanner = "203.0.113.77"
    # (error code, items, itemsize, truncate to): what each server answers.
    answers = [
        (4, 0, 0, None),  # INFO_ERR_NODATA: ntpd with monitoring disabled
        (1, 0, 0, None),  # INFO_ERR_IMPL
        (2, 0, 0, None),  # INFO_ERR_REQ
        (7, 0, 0, None),  # INFO_ERR_AUTH
        (0, 0, 72, None),  # no error, no items: an empty monitor list
        (0, 0, 72, 4),  # a 4-byte stub: R/M/VN/mode, seq, implementation, request code
    ]
    pkts = []
    for i, (err, n, size, cut) in enumerate(answers):
        server = "198.51.100.%d" % (30 + i)
        t = T0 + 0.5 * i
        pkts.append(udp(scanner, 51000 + i, server, 123, mode7_request(), t))
        b0 = 0x80 | (2 << 3) | 7
        resp = struct.pack("!BBBBHH", b0, 0, IMPL_XNTPD, MON_GETLIST_1, (err << 12) | n, size)
        pkts.append(udp(server, 123, scanner, 51000 + i, resp[:cut] if cut else resp, t + 0.001))
    return pkts


def tcp_session(client, cport, server, t, exchanges):
    """A TCP connection: handshake, the (direction, bytes) exchanges, FIN both ways."""
    cseq, sseq = 1000, 5000
    pkts = []

    def seg(src, dst, sport, dport, flags, seq, ack, data, when):
        p = Ether(src=MAC_A, dst=MAC_B) / IP(src=src, dst=dst, id=0) / TCP(
            sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535
        )
        if data:
            p = p / Raw(data)
        p.time = when
        return p

    pkts.append(seg(client, server, cport, 25, "S", cseq, 0, b"", t))
    pkts.append(seg(server, client, 25, cport, "SA", sseq, cseq + 1, b"", t + 0.001))
    cseq += 1
    sseq += 1
    pkts.append(seg(client, server, cport, 25, "A", cseq, sseq, b"", t + 0.002))
    when = t + 0.003
    for to_server, data in exchanges:
        if to_server:
            pkts.append(seg(client, server, cport, 25, "PA", cseq, sseq, data, when))
            cseq += len(data)
        else:
            pkts.append(seg(server, client, 25, cport, "PA", sseq, cseq, data, when))
            sseq += len(data)
        when += 0.001
    pkts.append(seg(client, server, cport, 25, "FA", cseq, sseq, b"", when))
    pkts.append(seg(server, client, 25, cport, "FA", sseq, cseq + 1, b"", when + 0.001))
    pkts.append(seg(client, server, cport, 25, "A", cseq + 1, sseq + 1, b"", when + 0.002))
    return pkts


def smtp_600_mails():
    bot = "10.9.9.9"
    pkts = []
    for m in range(600):
        domain = "example-%d.net" % (m % 40)
        server = "198.18.%d.%d" % (m % 40, 25)
        t = T0 + 5.0 * m  # 600 mails in 50 minutes
        ex = [
            (False, ("220 mx.%s ESMTP\r\n" % domain).encode()),
            (True, b"HELO bot.example\r\n"),
            (False, ("250 mx.%s\r\n" % domain).encode()),
            (True, b"MAIL FROM:<offer@bulk.example>\r\n"),
            (False, b"250 2.1.0 Ok\r\n"),
            (True, ("RCPT TO:<user%d@%s>\r\n" % (m, domain)).encode()),
            (False, b"250 2.1.5 Ok\r\n"),
            (True, b"DATA\r\n"),
            (False, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            (True, ("From: offer@bulk.example\r\nTo: user%d@%s\r\nSubject: offer %d\r\n\r\nbuy now\r\n.\r\n" % (m, domain, m)).encode()),
            (False, b"250 2.0.0 Ok: queued\r\n"),
            (True, b"QUIT\r\n"),
            (False, b"221 2.0.0 Bye\r\n"),
        ]
        pkts += tcp_session(bot, 20000 + m, server, t, ex)
    return pkts


SCENARIOS = {
    "amp-ntp-monlist-600.pcap": ntp_monlist_600,
    "amp-ntp-50-reflectors.pcap": ntp_50_reflectors,
    "amp-dns-any.pcap": dns_any,
    "amp-ssdp.pcap": ssdp,
    "amp-memcached.pcap": memcached,
    "ntp-1000-clients.pcap": ntp_1000_clients,
    "ntp-monlist-scan.pcap": ntp_monlist_scan,
    "ntp-monlist-refused.pcap": ntp_monlist_refused,
    "smtp-600-mails.pcap": smtp_600_mails,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, make in SCENARIOS.items():
        pkts = make()
        wrpcap(os.path.join(out, name), pkts)
        print("%s: %d packets" % (name, len(pkts)))


if __name__ == "__main__":
    main()
