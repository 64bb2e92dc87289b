#!/usr/bin/python3
"""Proxy chains for the fumidai lab: one TCP connection from the client, relayed through
two real proxies in turn, as a sender hiding behind stepping stones does.

  chain.py smtp HTTP_PROXY SOCKS5_PROXY SMTP_SERVER --helo NAME --from ADDR --to ADDR
      CONNECTs through the HTTP proxy to the SOCKS5 proxy, asks it (inside that tunnel) for
      the SMTP server, and tries to relay one mail through it (EHLO, MAIL FROM, RCPT TO, and
      DATA only if the recipient was accepted), then QUIT
  chain.py http SOCKS5_PROXY HTTP_PROXY URL
      asks the SOCKS5 proxy for the HTTP proxy, and sends it (inside that tunnel) an
      absolute-form GET of URL; the HTTP proxy fetches it

Every address is HOST:PORT with HOST an IPv4 address (the SOCKS5 request carries the address,
so the lab needs no resolver). Every hop's answer goes to stdout (the lab's transcript),
`CHAIN DONE` last when the chain carried the dialogue to its end. Stdlib only; every wait is
bounded (20 s).
"""

import argparse
import socket
import sys

from labconn import Buffered


def log(*a):
    print(*a, flush=True)


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


class Conn(Buffered):
    def send(self, data):
        self.sock.sendall(data)

    # ---- the hops

    def http_connect(self, target):
        """An HTTP CONNECT to host:port; the tunnel is open on a 2xx."""
        host, port = target
        self.send(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
        head = self.until(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode(errors="replace")
        log("<http-proxy", status)
        parts = status.split()
        if len(parts) < 2 or not parts[1].startswith("2"):
            sys.exit("http proxy refused the CONNECT")

    def socks5_connect(self, target):
        """SOCKS5, no authentication, CONNECT to an IPv4 address."""
        host, port = target
        self.send(b"\x05\x01\x00")
        method = self.exact(2)
        log("<socks5 method", method.hex())
        if method != b"\x05\x00":
            sys.exit("socks5: no acceptable method")
        self.send(b"\x05\x01\x00\x01" + socket.inet_aton(host) + port.to_bytes(2, "big"))
        reply = self.exact(4)
        # The bound address: IPv4 (1), a name (3) or IPv6 (4), then the port.
        kind = reply[3]
        if kind == 1:
            self.exact(6)
        elif kind == 4:
            self.exact(18)
        elif kind == 3:
            self.exact(self.exact(1)[0] + 2)
        log("<socks5 reply", reply[1])
        if reply[1] != 0:
            sys.exit("socks5 proxy refused the CONNECT")

    # ---- SMTP at the end of the chain

    def smtp_reply(self):
        """One (possibly multi-line) reply; returns its code."""
        while True:
            line = self.until(b"\r\n").decode(errors="replace").rstrip("\r\n")
            log("<-", line)
            if len(line) < 4 or line[3] != "-":
                return line[:3]

    def smtp(self, line):
        log("->", line)
        self.send(line.encode() + b"\r\n")
        return self.smtp_reply()


def smtp_chain(a):
    c = Conn(parse_hostport(a.http_proxy))
    c.http_connect(parse_hostport(a.socks5_proxy))
    c.socks5_connect(parse_hostport(a.smtp_server))
    if not c.smtp_reply().startswith("2"):
        sys.exit("no SMTP greeting")
    c.smtp("EHLO " + a.helo)
    c.smtp("MAIL FROM:<%s>" % a.mail_from)
    if c.smtp("RCPT TO:<%s>" % a.rcpt_to).startswith("2"):
        if c.smtp("DATA").startswith("3"):
            body = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n." % (
                a.mail_from,
                a.rcpt_to,
                a.subject,
                "fumidai lab: a mail relayed through a proxy chain",
            )
            log("-> (message)")
            c.send(body.encode() + b"\r\n")
            c.smtp_reply()
    c.smtp("QUIT")
    log("CHAIN DONE")


def http_chain(a):
    c = Conn(parse_hostport(a.socks5_proxy))
    c.socks5_connect(parse_hostport(a.http_proxy))
    host = a.url.split("/")[2]
    req = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fumidai-lab-chain\r\nConnection: close\r\n\r\n" % (a.url, host)
    log("-> GET", a.url)
    c.send(req.encode())
    head = c.until(b"\r\n\r\n")
    for line in head.decode(errors="replace").split("\r\n"):
        if line:
            log("<-", line)
    body = c.rest()
    log("<- (%d bytes of body)" % len(body))
    log("CHAIN DONE")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("smtp")
    s.add_argument("http_proxy")
    s.add_argument("socks5_proxy")
    s.add_argument("smtp_server")
    s.add_argument("--helo", required=True)
    s.add_argument("--from", dest="mail_from", required=True)
    s.add_argument("--to", dest="rcpt_to", required=True)
    s.add_argument("--subject", default="fumidai lab chain")
    s.set_defaults(run=smtp_chain)
    h = sub.add_parser("http")
    h.add_argument("socks5_proxy")
    h.add_argument("http_proxy")
    h.add_argument("url")
    h.set_defaults(run=http_chain)
    a = p.parse_args()
    try:
        a.run(a)
    except (OSError, EOFError) as e:
        sys.exit("chain: %s" % e)


if __name__ == "__main__":
    main()
