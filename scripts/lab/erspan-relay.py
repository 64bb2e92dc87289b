#!/usr/bin/env python3
"""ERSPAN type II encapsulation in user space, for kernels built without an erspan device.

The lab's remote-SPAN mode mirrors the bridge ports with `tc ... action mirred` into a
tunnel device. Where the kernel has no CONFIG_NET_IPGRE (no `ip link add ... type erspan`),
lab.sh mirrors into one end of a veth pair instead, and this relay reads the other end and
sends every frame on towards the collector exactly as a Linux erspan device (type II,
`seq`) would put it on the wire:

    Ethernet | IPv4 (proto 47, DF clear) | GRE (S bit, protocol 0x88BE, sequence)
             | ERSPAN II (version 1, VLAN 0, COS 0, En 0, T 0, session, index) | frame

It only ever sends on the interface it is given, to the collector address it is given,
and stops on SIGTERM/SIGINT or after --max-frames / --max-seconds (bounded by design: a
lab run is short).
"""

import argparse
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
GRE_ERSPAN_II = 0x88BE
PACKET_OUTGOING = 4


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def iface_mac(name: str) -> bytes:
    with open(f"/sys/class/net/{name}/address") as f:
        return mac(f.read().strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="src_if", required=True, help="veth end the mirror arrives on")
    ap.add_argument("--out", dest="dst_if", required=True, help="underlay interface towards the collector")
    ap.add_argument("--local", required=True, help="outer source IPv4 (the underlay's address)")
    ap.add_argument("--remote", required=True, help="outer destination IPv4 (the collector)")
    ap.add_argument("--remote-mac", required=True, help="collector's MAC on the underlay")
    ap.add_argument("--session", type=int, default=100, help="ERSPAN session id (10 bits)")
    ap.add_argument("--index", type=int, default=7, help="ERSPAN port index (20 bits)")
    ap.add_argument("--max-frames", type=int, default=1_000_000)
    ap.add_argument("--max-seconds", type=float, default=1800.0)
    ap.add_argument("--ready", help="file written once the sockets are bound")
    args = ap.parse_args()

    if not 0 <= args.session < 1 << 10 or not 0 <= args.index < 1 << 20:
        ap.error("session must fit 10 bits and index 20 bits")

    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.bind((args.src_if, 0))
    rx.settimeout(0.5)
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((args.dst_if, 0))

    eth = mac(args.remote_mac) + iface_mac(args.dst_if) + struct.pack("!H", ETH_P_IP)
    local = socket.inet_aton(args.local)
    remote = socket.inet_aton(args.remote)
    # Version 1 (type II), VLAN 0 | COS 0, En 0, T 0, session | reserved 0, index.
    erspan = struct.pack("!HHI", 1 << 12, args.session, args.index)

    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")

    seq = 0
    ip_id = 0
    sent = 0
    deadline = time.monotonic() + args.max_seconds
    while not stop and sent < args.max_frames and time.monotonic() < deadline:
        try:
            frame, addr = rx.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == PACKET_OUTGOING:
            continue
        gre = struct.pack("!HHI", 0x1000, GRE_ERSPAN_II, seq)
        seq = (seq + 1) & 0xFFFFFFFF
        payload = gre + erspan + frame
        total = 20 + len(payload)
        if total > 0xFFFF:
            continue
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0, 64, 47, 0, local, remote)
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        ip_id = (ip_id + 1) & 0xFFFF
        tx.send(eth + hdr + payload)
        sent += 1
    print(f"erspan-relay: {sent} frames encapsulated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
