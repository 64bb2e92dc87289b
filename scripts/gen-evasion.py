#!/usr/bin/python3
"""Writes the TCP/IP evasion matrix: one conversation delivered in many ways.

The conversation is the open-proxy spam relay fumidai exists to see:

    client -> proxy:8080   CONNECT mail.example.net:25 HTTP/1.1 (+ Host header)
    proxy  -> client       HTTP/1.0 200 Connection established
    proxy  -> client       220 mail.example.net ESMTP        (the tunnelled MTA)
    client -> proxy        HELO evader.example
    proxy  -> client       250 mail.example.net
    client -> proxy        QUIT
    proxy  -> client       221 bye

and each case changes only how the bytes travel (Ptacek & Newsham, 1998): tiny
segments, reordering, duplicates, overlaps (same or conflicting bytes), no
handshake, IP fragments, data in the handshake's ACK, a sequence-number wrap;
and insertions the proxy itself would reject: a decoy with a bad checksum,
beyond its receive window, with a TTL that dies on the way, on a SYN it does
not acknowledge, an urgent byte it reads out of band, a RST at a sequence
number it ignores. Every case must decode to the same request line and HELO
(for conflicting overlaps: the configured policy's reading), and raise the
same alerts once.

Usage: scripts/gen-evasion.py OUTDIR   (Debian: apt install python3-scapy; runs /usr/bin/python3)
The output is deterministic: fixed addresses, ports, ISNs, IP ids and times.
"""

import os
import sys

from scapy.all import IP, IPv6, TCP, Ether, IPv6ExtHdrFragment, fragment, wrpcap  # noqa: E402

CLIENT4, PROXY4 = "192.0.2.10", "198.51.100.20"
CLIENT6, PROXY6 = "2001:db8::10", "2001:db8:1::20"
CPORT, SPORT = 40000, 8080
CISN, SISN = 1_000_000, 2_000_000
MAC_C, MAC_S = "02:00:00:00:00:01", "02:00:00:00:00:02"

REQUEST = b"CONNECT mail.example.net:25 HTTP/1.1\r\nHost: mail.example.net:25\r\n\r\n"
# Same length, different host: what a conflicting overlap substitutes.
DECOY = b"CONNECT mx99.example.org:25 HTTP/1.1\r\nHost: mail.example.net:25\r\n\r\n"
assert len(REQUEST) == len(DECOY)
RESPONSE = b"HTTP/1.0 200 Connection established\r\n\r\n"
BANNER = b"220 mail.example.net ESMTP\r\n"
HELO = b"HELO evader.example\r\n"
HELO_OK = b"250 mail.example.net\r\n"
QUIT = b"QUIT\r\n"
BYE = b"221 bye\r\n"


class Conv:
    """Builds the packets of one connection, tracking both sides' sequence numbers."""

    def __init__(self, v6=False, cisn=CISN, sisn=SISN, server_ttl=64):
        self.v6 = v6
        self.cseq, self.sseq = cisn, sisn
        self.pkts = []
        self.ipid = 1
        # TTL of the proxy's packets as the sensor sees them (64: next to it).
        self.server_ttl = server_ttl

    def ip(self, from_client, ttl=None):
        src, dst = (CLIENT6, PROXY6) if self.v6 else (CLIENT4, PROXY4)
        if not from_client:
            src, dst = dst, src
        if ttl is None:
            ttl = 64 if from_client else self.server_ttl
        if self.v6:
            return IPv6(src=src, dst=dst, hlim=ttl)
        self.ipid += 1
        return IP(src=src, dst=dst, ttl=ttl, id=self.ipid, flags=0)

    def raw(self, from_client, flags, seq, ack, payload=b"", window=65535, urgptr=0, ttl=None):
        sport, dport = (CPORT, SPORT) if from_client else (SPORT, CPORT)
        tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq % 2**32, ack=ack % 2**32,
                  window=window, urgptr=urgptr)
        p = self.ip(from_client, ttl) / tcp
        if payload:
            p = p / payload
        return p

    def handshake(self):
        self.pkts.append(self.raw(True, "S", self.cseq, 0))
        self.pkts.append(self.raw(False, "SA", self.sseq, self.cseq + 1))
        self.cseq += 1
        self.sseq += 1
        self.pkts.append(self.raw(True, "A", self.cseq, self.sseq))

    def send(self, from_client, data, segments=None):
        """Sends `data` as the given (offset, length) segments (default: one), then an ACK back."""
        base = self.cseq if from_client else self.sseq
        ack = self.sseq if from_client else self.cseq
        for off, n in segments or [(0, len(data))]:
            self.pkts.append(self.raw(from_client, "PA", base + off, ack, data[off:off + n]))
        if from_client:
            self.cseq += len(data)
            self.pkts.append(self.raw(False, "A", self.sseq, self.cseq))
        else:
            self.sseq += len(data)
            self.pkts.append(self.raw(True, "A", self.cseq, self.sseq))

    def close(self):
        self.pkts.append(self.raw(True, "FA", self.cseq, self.sseq))
        self.pkts.append(self.raw(False, "FA", self.sseq, self.cseq + 1))
        self.pkts.append(self.raw(True, "A", self.cseq + 1, self.sseq + 1))

    def rest_of_dialogue(self, request_segments=None):
        self.send(True, REQUEST, request_segments)
        self.rest_after_request()

    def rest_after_request(self):
        self.send(False, RESPONSE)
        self.send(False, BANNER)
        self.send(True, HELO)
        self.send(False, HELO_OK)
        self.send(True, QUIT)
        self.send(False, BYE)
        self.close()


def chunks(n, size):
    return [(o, min(size, n - o)) for o in range(0, n, size)]


def case_plain():
    c = Conv()
    c.handshake()
    c.rest_of_dialogue()
    return c.pkts


def case_one_byte_segments():
    c = Conv()
    c.handshake()
    one = lambda d: chunks(len(d), 1)  # noqa: E731
    c.send(True, REQUEST, one(REQUEST))
    c.send(False, RESPONSE, one(RESPONSE))
    c.send(False, BANNER, one(BANNER))
    c.send(True, HELO, one(HELO))
    c.send(False, HELO_OK)
    c.send(True, QUIT)
    c.send(False, BYE)
    c.close()
    return c.pkts


def case_reverse_order():
    c = Conv()
    c.handshake()
    c.send(True, REQUEST, list(reversed(chunks(len(REQUEST), 8))))
    c.send(False, RESPONSE, list(reversed(chunks(len(RESPONSE), 8))))
    c.send(False, BANNER)
    c.send(True, HELO, list(reversed(chunks(len(HELO), 4))))
    c.send(False, HELO_OK)
    c.send(True, QUIT)
    c.send(False, BYE)
    c.close()
    return c.pkts


def case_duplicates():
    c = Conv()
    c.handshake()
    dup = lambda d: [s for s in chunks(len(d), 10) for _ in (0, 1)]  # noqa: E731
    c.send(True, REQUEST, dup(REQUEST))
    c.send(False, RESPONSE, dup(RESPONSE))
    c.send(False, BANNER, dup(BANNER))
    c.send(True, HELO, dup(HELO))
    c.send(False, HELO_OK)
    c.send(True, QUIT)
    c.send(False, BYE)
    c.close()
    return c.pkts


def case_overlap_same():
    """Segments of 12 bytes every 8 bytes, sent out of order: every byte is sent twice, identically."""
    c = Conv()
    c.handshake()
    segs = [(o, min(12, len(REQUEST) - o)) for o in range(0, len(REQUEST), 8)]
    order = segs[1::2] + segs[0::2]
    c.send(True, REQUEST, order)
    c.rest_after_request()
    return c.pkts


def case_overlap_conflict():
    """The host name's bytes arrive twice before the hole in front of them fills:
    first as the real name, then as a decoy. A 'first' policy reads the real
    request, a 'last' policy the decoy; either way the overlap is an anomaly."""
    c = Conv()
    c.handshake()
    base, ack = c.cseq, c.sseq
    c.pkts.append(c.raw(True, "PA", base + 8, ack, REQUEST[8:]))
    c.pkts.append(c.raw(True, "PA", base + 8, ack, DECOY[8:24]))
    c.pkts.append(c.raw(True, "PA", base, ack, REQUEST[:8]))
    c.cseq += len(REQUEST)
    c.pkts.append(c.raw(False, "A", c.sseq, c.cseq))
    c.rest_after_request()
    return c.pkts


def case_midstream():
    """The capture starts after the handshake: no SYN, no SYN-ACK."""
    c = Conv()
    c.handshake()
    c.pkts = []
    c.rest_of_dialogue()
    return c.pkts


def case_request_in_handshake_ack():
    c = Conv()
    c.pkts.append(c.raw(True, "S", c.cseq, 0))
    c.pkts.append(c.raw(False, "SA", c.sseq, c.cseq + 1))
    c.cseq += 1
    c.sseq += 1
    c.pkts.append(c.raw(True, "A", c.cseq, c.sseq, REQUEST))
    c.cseq += len(REQUEST)
    c.pkts.append(c.raw(False, "A", c.sseq, c.cseq))
    c.rest_after_request()
    return c.pkts


def case_seq_wrap():
    """Both initial sequence numbers sit just below 2^32, so both streams wrap mid-message."""
    c = Conv(cisn=2**32 - 20, sisn=2**32 - 30)
    c.handshake()
    c.rest_of_dialogue()
    return c.pkts


def case_ipv4_fragments():
    """Every data packet cut into 8-byte IP fragments, sent in reverse order."""
    out = []
    for p in case_plain():
        if len(p[TCP].payload) == 0:
            out.append(p)
            continue
        frags = fragment(p, fragsize=8)
        out.extend(reversed(frags))
    return out


def case_ipv6_fragments():
    """The same over IPv6: fragment headers, 8-byte fragments, reverse order."""
    c = Conv(v6=True)
    c.handshake()
    c.rest_of_dialogue()
    out = []
    ident = 0x1000
    for p in c.pkts:
        if len(p[TCP].payload) == 0:
            out.append(p)
            continue
        ident += 1
        # Build the whole segment once so scapy computes its checksum.
        whole = IPv6(src=p[IPv6].src, dst=p[IPv6].dst, hlim=64) / p[TCP]
        tcp_bytes = bytes(whole)[40:]
        frags = []
        for off in range(0, len(tcp_bytes), 8):
            more = 1 if off + 8 < len(tcp_bytes) else 0
            fh = IPv6ExtHdrFragment(nh=6, offset=off // 8, m=more, id=ident)
            frags.append(IPv6(src=p[IPv6].src, dst=p[IPv6].dst, hlim=64, nh=44) / fh / tcp_bytes[off:off + 8])
        out.extend(reversed(frags))
    return out

def case_bad_checksum():
    """A decoy with the request's sequence numbers but a bad TCP checksum arrives first:
    the proxy drops it; the real request follows."""
    c = Conv()
    c.handshake()
    decoy = c.raw(True, "PA", c.cseq, c.sseq, DECOY)
    decoy[TCP].chksum = 0xDEAD
    c.pkts.append(decoy)
    c.rest_of_dialogue()
    return c.pkts


def case_out_of_window():
    """The proxy offers a 16-byte window. Bytes 16 onwards of a decoy arrive while that
    window is still [0, 16): beyond it, so the proxy drops them. The proxy then takes the
    first 16 bytes and opens its window, and the real rest of the request comes."""
    c = Conv()
    c.handshake()
    base, ack = c.cseq, c.sseq
    c.pkts.append(c.raw(False, "A", ack, base, window=16))
    c.pkts.append(c.raw(True, "PA", base, ack, REQUEST[:16]))
    c.pkts.append(c.raw(True, "PA", base + 16, ack, DECOY[16:]))
    c.pkts.append(c.raw(False, "A", ack, base + 16, window=65535))
    c.pkts.append(c.raw(True, "PA", base + 16, ack, REQUEST[16:]))
    c.cseq += len(REQUEST)
    c.pkts.append(c.raw(False, "A", c.sseq, c.cseq))
    c.rest_after_request()
    return c.pkts


def case_ttl_too_short():
    """The proxy sits two hops beyond the sensor (its packets arrive with TTL 62). A decoy
    with the request's sequence numbers and TTL 2 expires before it reaches the proxy;
    the real request follows."""
    c = Conv(server_ttl=62)
    c.handshake()
    c.pkts.append(c.raw(True, "PA", c.cseq, c.sseq, DECOY, ttl=2))
    c.rest_of_dialogue()
    return c.pkts


def case_urgent_data():
    """The request carries one extra byte sent as TCP urgent data: the proxy's socket reads
    it out of band, so it is never part of the request the proxy parses."""
    c = Conv()
    c.handshake()
    at = 12
    sent = REQUEST[:at] + b"X" + REQUEST[at:]
    # BSD-style urgent pointer: one past the urgent byte.
    c.pkts.append(c.raw(True, "PAU", c.cseq, c.sseq, sent, urgptr=at + 1))
    c.cseq += len(sent)
    c.pkts.append(c.raw(False, "A", c.sseq, c.cseq))
    c.rest_after_request()
    return c.pkts


def case_syn_with_data():
    """The SYN carries a decoy request. The proxy (no TCP Fast Open) acknowledges only the
    SYN, and the client sends the real request at the same sequence numbers."""
    c = Conv()
    c.pkts.append(c.raw(True, "S", c.cseq, 0, DECOY))
    c.pkts.append(c.raw(False, "SA", c.sseq, c.cseq + 1))
    c.cseq += 1
    c.sseq += 1
    c.pkts.append(c.raw(True, "A", c.cseq, c.sseq))
    c.rest_of_dialogue()
    return c.pkts


def case_rst_wrong_seq():
    """After the request, a RST 'from the proxy' at a sequence number the client does not
    expect: the client ignores it, and the conversation goes on."""
    c = Conv()
    c.handshake()
    c.send(True, REQUEST)
    c.pkts.append(c.raw(False, "R", c.sseq + 5000, 0))
    c.rest_after_request()
    return c.pkts


def case_pipeline_padding():
    """Not the CONNECT dialogue: an absolute-form proxy request followed, in the same
    segment, by 100 tiny pipelined GETs and never answered. A parser that drops the
    transactions it evicts at its pipelining limit would lose the one that matters."""
    c = Conv()
    c.handshake()
    probe = b"GET http://mail.example.net/ HTTP/1.1\r\nHost: mail.example.net\r\n\r\n"
    c.send(True, probe + b"GET / HTTP/1.1\r\n\r\n" * 100)
    c.close()
    return c.pkts


# Cases that carry another conversation than the CONNECT one (tested on their own).
OTHERS = {
    "pipeline-padding": case_pipeline_padding,
}

CASES = {
    "plain": case_plain,
    "one-byte-segments": case_one_byte_segments,
    "reverse-order": case_reverse_order,
    "duplicates": case_duplicates,
    "overlap-same": case_overlap_same,
    "overlap-conflict": case_overlap_conflict,
    "midstream": case_midstream,
    "request-in-handshake-ack": case_request_in_handshake_ack,
    "seq-wrap": case_seq_wrap,
    "ipv4-fragments": case_ipv4_fragments,
    "ipv6-fragments": case_ipv6_fragments,
    "bad-checksum": case_bad_checksum,
    "out-of-window": case_out_of_window,
    "ttl-too-short": case_ttl_too_short,
    "urgent-data": case_urgent_data,
    "syn-with-data": case_syn_with_data,
    "rst-wrong-seq": case_rst_wrong_seq,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, build in {**CASES, **OTHERS}.items():
        pkts = []
        for i, p in enumerate(build()):
            mac = (MAC_C, MAC_S)
            frame = Ether(src=mac[0], dst=mac[1]) / p
            frame.time = 1_700_000_000 + i / 1000
            pkts.append(frame)
        wrpcap(os.path.join(outdir, f"{name}.pcap"), pkts)
        print(f"{name}.pcap: {len(pkts)} packets")


if __name__ == "__main__":
    main()
