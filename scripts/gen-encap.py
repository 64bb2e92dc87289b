#!/usr/bin/env python3
"""Wraps a capture's frames in a tunnel or encapsulation, as a remote mirror or a carrier
link would deliver them, for fumidai's encapsulation matrix (crates/sensor/tests/encap.rs).

  scripts/gen-encap.py ENCAP IN.pcap OUT.pcap
  scripts/gen-encap.py --list            the encapsulations, one a line

Encapsulations (the outer headers are built byte by byte from their specifications):

  erspan1      GRE 0x88be without sequence number, the frame right after it (ERSPAN type I)
  erspan2      GRE + ERSPAN type II (session 100, VLAN 10, reported as the flows' vlan)
  erspan3      GRE 0x22eb + ERSPAN type III with the platform-specific sub-header
  gre          GRE version 0 with key and sequence number around the IP packet
  gre-teb      GRE 0x6558 (transparent Ethernet bridging) around the frame
  vxlan        UDP 4789, VXLAN VNI 4242, the frame (AWS VPC Traffic Mirroring's shape)
  geneve       UDP 6081, Geneve VNI 4242 with one 8-byte option, the frame
  gre-vxlan    VXLAN inside GRE: two tunnels deep
  ipip         IPv4 around the IP packet (protocol 4, or 41 for IPv6: 6in4)
  ip6ip        IPv6 around the IP packet (next header 4 or 41)
  teredo       UDP 3544 with an origin indicator around IPv6 packets (IPv4 ones stay plain)
  mpls         two MPLS labels around the IP packet
  mpls-pw      an MPLS label and a pseudowire control word around the frame
  pppoe        a PPPoE session (id 0x2a) and PPP around the IP packet
  etag         an 802.1BR E-tag inside the frame
  vntag        a VN-tag inside the frame

Each direction of a conversation comes from its own outer source (172.31.0.1 for frames whose
inner source sorts first, 172.31.0.2 for the others) towards one collector (172.31.255.254 or
fd00:31::fe), as when two switches mirror the two directions: the sensor must still put the two
halves together. Frames an encapsulation cannot carry (ARP in an IP tunnel) are copied as they
are. Timestamps are kept; a frame the capture cut short stays cut by as much.
Needs only Python 3's standard library. Deterministic: same input, same output.
"""

import struct
import sys

ENCAPS = [
    "erspan1", "erspan2", "erspan3", "gre", "gre-teb", "vxlan", "geneve", "gre-vxlan",
    "ipip", "ip6ip", "teredo", "mpls", "mpls-pw", "pppoe", "etag", "vntag",
]

MAC_MIRROR, MAC_COLLECTOR = bytes.fromhex("020000000a01"), bytes.fromhex("020000000afe")
OUTER_SRC = [bytes([172, 31, 0, 1]), bytes([172, 31, 0, 2])]
COLLECTOR = bytes([172, 31, 255, 254])
OUTER_SRC6 = [bytes.fromhex("fd000031000000000000000000000001"),
              bytes.fromhex("fd000031000000000000000000000002")]
COLLECTOR6 = bytes.fromhex("fd0000310000000000000000000000fe")
ETH_IPV4, ETH_IPV6, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
VNI, ERSPAN_SESSION, PPPOE_SESSION = 4242, 100, 0x2A


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Wrapper:
    def __init__(self):
        self.ip_id = 0
        self.gre_seq = 0

    def ipv4(self, src, dst, proto, payload):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), self.ip_id, 0x4000, 64, proto, 0, src, dst)
        h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
        return h + payload

    @staticmethod
    def ipv6(src, dst, nh, payload):
        return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, src, dst) + payload

    @staticmethod
    def udp(sport, dport, payload):
        return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

    def gre(self, proto, payload, key=None, seq=False):
        flags = (0x2000 if key is not None else 0) | (0x1000 if seq else 0)
        h = struct.pack("!HH", flags, proto)
        if key is not None:
            h += struct.pack("!I", key)
        if seq:
            self.gre_seq += 1
            h += struct.pack("!I", self.gre_seq)
        return h + payload

    @staticmethod
    def eth(ether_type, payload, src=MAC_MIRROR, dst=MAC_COLLECTOR):
        return dst + src + struct.pack("!H", ether_type) + payload

    def outer4(self, side, proto, payload):
        return self.eth(ETH_IPV4, self.ipv4(OUTER_SRC[side], COLLECTOR, proto, payload))


def split_frame(frame):
    """(offset of the EtherType after any VLAN tags, EtherType, IP version or None)."""
    at = 12
    while len(frame) >= at + 2:
        t = struct.unpack("!H", frame[at:at + 2])[0]
        if t in (ETH_VLAN, ETH_QINQ, 0x9100):
            at += 4
            continue
        v = {ETH_IPV4: 4, ETH_IPV6: 6}.get(t)
        return at, t, v
    return None, None, None


def inner_addrs(ip, version):
    if version == 4 and len(ip) >= 20:
        return ip[12:16], ip[16:20]
    if version == 6 and len(ip) >= 40:
        return ip[8:24], ip[24:40]
    return b"", b""


def flow_port(src, dst):
    """A source port for UDP tunnels from the inner address pair, the same both ways, as
    VXLAN endpoints derive theirs from a hash of the inner flow."""
    a, b = sorted([src, dst])
    return 49152 + (sum(a) * 31 + sum(b) * 7) % 16384


def wrap(w, encap, frame):
    """The frame as `encap` delivers it; None to copy it unchanged."""
    at, ether_type, version = split_frame(frame)
    ip = frame[at + 2:] if version else None
    src, dst = inner_addrs(ip, version) if ip else (b"", b"")
    side = 0 if src <= dst else 1
    if encap == "erspan1":
        return w.outer4(side, 47, w.gre(0x88BE, frame))
    if encap == "erspan2":
        hdr = struct.pack("!HHI", 0x1000 | 10, ERSPAN_SESSION, 7)
        return w.outer4(side, 47, w.gre(0x88BE, hdr + frame, seq=True))
    if encap == "erspan3":
        # Version 2, session, timestamp, SGT, then P/FT(0: Ethernet)/HW id/D/Gra with O=1,
        # then the 8-byte platform sub-header.
        hdr = struct.pack("!HHIHH", 0x2000, ERSPAN_SESSION, 123456, 0, 0x0001) + bytes(8)
        return w.outer4(side, 47, w.gre(0x22EB, hdr + frame, seq=True))
    if encap == "gre-teb":
        return w.outer4(side, 47, w.gre(0x6558, frame, key=7))
    if encap in ("vxlan", "gre-vxlan"):
        vx = struct.pack("!II", 0x08000000, VNI << 8) + frame
        sport = flow_port(src, dst) if ip else 49152
        u = w.udp(sport, 4789, vx)
        if encap == "vxlan":
            return w.outer4(side, 17, u)
        mid = w.ipv4(bytes([10, 255, side, 1]), bytes([10, 255, 9, 9]), 17, u)
        return w.outer4(side, 47, w.gre(ETH_IPV4, mid))
    if encap == "geneve":
        opt = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\x01\x02\x03\x04"
        g = struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, VNI << 8) + opt + frame
        sport = flow_port(src, dst) if ip else 49152
        return w.outer4(side, 17, w.udp(sport, 6081, g))
    if encap == "mpls-pw":
        return w.eth(0x8847, struct.pack("!I", (1000 << 12) | 0x100 | 64) + bytes(4) + frame)
    if encap == "etag":
        return frame[:12] + struct.pack("!HHHH", 0x893F, 0x1000, 0x00D3, 0) + frame[12:]
    if encap == "vntag":
        return frame[:12] + struct.pack("!HI", 0x8926, 0x80010002) + frame[12:]
    # The rest carry the IP packet.
    if not ip:
        return None
    proto = 4 if version == 4 else 41
    if encap == "gre":
        return w.outer4(side, 47, w.gre(ether_type, ip, key=42, seq=True))
    if encap == "ipip":
        return w.outer4(side, proto, ip)
    if encap == "ip6ip":
        return w.eth(ETH_IPV6, w.ipv6(OUTER_SRC6[side], COLLECTOR6, proto, ip))
    if encap == "teredo":
        if version != 6:
            return None
        origin = struct.pack("!HH4s", 0, 0xFFFF ^ 3544, bytes(b ^ 0xFF for b in COLLECTOR))
        return w.outer4(side, 17, w.udp(3544, 40000 + side, origin + ip))
    if encap == "mpls":
        labels = struct.pack("!II", (2000 << 12) | 64, (3000 << 12) | 0x100 | 64)
        return frame[:at] + struct.pack("!H", 0x8847) + labels + ip
    if encap == "pppoe":
        ppp = struct.pack("!H", 0x0021 if version == 4 else 0x0057) + ip
        return frame[:at] + struct.pack("!HBBHH", 0x8864, 0x11, 0, PPPOE_SESSION, len(ppp)) + ppp
    raise SystemExit("unknown encapsulation %s (see --list)" % encap)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit("%s: link type %d, only Ethernet (1) is wrapped" % (path, linktype))
    at, out = 24, []
    while at + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[at:at + 16])
        at += 16
        out.append((sec, frac // 1000 if nano else frac, data[at:at + incl], orig))
        at += incl
    return out


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(ENCAPS))
        return
    if len(argv) != 4 or argv[1] not in ENCAPS:
        raise SystemExit(__doc__)
    encap, src, dst = argv[1:]
    w = Wrapper()
    records = []
    for sec, usec, frame, orig in read_pcap(src):
        wrapped = wrap(w, encap, frame)
        if wrapped is None:
            wrapped = frame
        orig = orig + len(wrapped) - len(frame)
        records.append(struct.pack("<IIII", sec, usec, len(wrapped), orig) + wrapped)
    with open(dst, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        f.writelines(records)


if __name__ == "__main__":
    main(sys.argv)
