#!/usr/bin/python3
"""IRC clients for the fumidai lab: a herder, a bot that obeys it, a person who chats.

  ircbot.py herder SERVER PORT NICK CHANNEL KEY COMMAND BOTNICK
      joins CHANNEL first (so it is the operator), sets KEY, waits for BOTNICK to join,
      says COMMAND in the channel and waits for the bot's report
  ircbot.py bot SERVER PORT NICK CHANNEL KEY [--bind ADDR] [--http-proxy H:P | --socks5 H:P]
               [--obey] [--smtp HOST:PORT:N]
      logs in (through the proxy if asked), joins CHANNEL with KEY; with --obey waits for
      a command ('.' or '!' and a word) from the channel, reports on it in the channel and,
      with --smtp, opens N connections to HOST:PORT (its spam run)
  ircbot.py chat SERVER PORT NICK CHANNEL TEXT [--bind ADDR]
      logs in, joins CHANNEL, says TEXT, quits

Every line sent and received goes to stdout (the lab's transcript). Stdlib only; every
wait is bounded (20 s).
"""

import argparse
import socket
import sys
import time

from labconn import TIMEOUT, Buffered



def log(*a):
    print(*a, flush=True)


class Irc(Buffered):
    def __init__(self, server, port, bind=None, http_proxy=None, socks5=None):
        target = (server, port)
        hop = target
        if http_proxy:
            hop = parse_hostport(http_proxy)
        elif socks5:
            hop = parse_hostport(socks5)
        super().__init__(hop, bind)
        if http_proxy:
            self.sock.sendall(("CONNECT %s:%d HTTP/1.0\r\n\r\n" % target).encode())
            head = self.until(b"\r\n\r\n")
            log("<proxy", head.split(b"\r\n")[0].decode(errors="replace"))
            if b" 200 " not in head.split(b"\r\n")[0] + b" ":
                sys.exit("proxy refused")
        elif socks5:
            self.sock.sendall(b"\x05\x01\x00")
            if self.exact(2) != b"\x05\x00":
                sys.exit("socks5: no method")
            addr = socket.inet_aton(server)
            self.sock.sendall(b"\x05\x01\x00\x01" + addr + port.to_bytes(2, "big"))
            reply = self.exact(10)
            log("<socks5 reply", reply[1])
            if reply[1] != 0:
                sys.exit("socks5 refused")

    def send(self, line):
        log(">", line)
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self):
        raw = self.until(b"\n").rstrip(b"\r\n").decode(errors="replace")
        log("<", raw)
        if raw.startswith("PING "):
            self.send("PONG " + raw[5:])
        return raw

    def wait(self, pred, what):
        end = time.time() + TIMEOUT
        while time.time() < end:
            raw = self.line()
            if pred(raw):
                return raw
        sys.exit("timed out waiting for " + what)

    def login(self, nick):
        self.send("NICK " + nick)
        user = "".join(ch for ch in nick.lower() if ch.isalnum())[:9] or "u"
        self.send("USER %s 0 * :%s" % (user, nick))
        self.wait(lambda l: " 001 " in l, "the welcome")

    def quit(self):
        self.send("QUIT :bye")
        try:
            while True:
                self.line()
        except (EOFError, OSError):
            pass
        self.sock.close()


def parse_hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def words(raw):
    """(prefix nick, command, target, text) of a line."""
    prefix = ""
    if raw.startswith(":"):
        prefix, _, raw = raw[1:].partition(" ")
    head, _, text = raw.partition(" :")
    parts = head.split()
    return prefix.split("!")[0], parts[0] if parts else "", parts[1] if len(parts) > 1 else "", text


def herder(a):
    c = Irc(a.server, a.port)
    c.login(a.nick)
    c.send("JOIN " + a.channel)
    c.wait(lambda l: words(l)[1] == "JOIN" and words(l)[0] == a.nick, "our join")
    c.send("MODE %s +k %s" % (a.channel, a.key))
    c.wait(lambda l: words(l)[1] == "JOIN" and words(l)[0] == a.botnick, "the bot")
    time.sleep(0.5)
    c.send("PRIVMSG %s :%s" % (a.channel, a.command))
    c.wait(lambda l: words(l)[1] == "PRIVMSG" and words(l)[0] == a.botnick, "the bot's report")
    c.quit()


def bot(a):
    c = Irc(a.server, a.port, a.bind, a.http_proxy, a.socks5)
    c.login(a.nick)
    c.send("JOIN %s %s" % (a.channel, a.key) if a.key != "-" else "JOIN " + a.channel)
    c.wait(lambda l: words(l)[1] in ("366", "JOIN") and a.channel.lower() in l.lower(), "the join")
    if a.obey:
        raw = c.wait(lambda l: words(l)[1] in ("PRIVMSG", "332", "TOPIC") and words(l)[3][:1] in ".!"
                     and words(l)[3][1:2].isalpha(), "a command")
        text = words(raw)[3]
        verb, _, arg = text[1:].partition(" ")
        log("GOT COMMAND", text)
        c.send("PRIVMSG %s :[%s]: started (%s)" % (a.channel, verb.upper(), arg))
        if a.smtp:
            host, port, n = a.smtp.rsplit(":", 2)
            for _ in range(int(n)):
                try:
                    s = socket.create_connection((host, int(port)), timeout=2)
                    s.close()
                except OSError as e:
                    log("smtp connection:", e)
            log("SMTP RUN", n)
        time.sleep(1.0)
    c.quit()
    log("BOT DONE")


def chat(a):
    c = Irc(a.server, a.port, a.bind)
    c.login(a.nick)
    c.send("JOIN " + a.channel)
    c.wait(lambda l: words(l)[1] in ("366", "JOIN") and a.channel.lower() in l.lower(), "the join")
    c.send("PRIVMSG %s :%s" % (a.channel, a.text))
    time.sleep(0.5)
    c.quit()
    log("CHAT DONE")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    for role in ("herder", "bot", "chat"):
        s = sub.add_parser(role)
        s.add_argument("server")
        s.add_argument("port", type=int)
        s.add_argument("nick")
        s.add_argument("channel")
        if role in ("herder", "bot"):
            s.add_argument("key")
        if role == "herder":
            s.add_argument("command")
            s.add_argument("botnick")
        if role == "chat":
            s.add_argument("text")
        if role in ("bot", "chat"):
            s.add_argument("--bind")
        if role == "bot":
            s.add_argument("--http-proxy")
            s.add_argument("--socks5")
            s.add_argument("--obey", action="store_true")
            s.add_argument("--smtp")
    a = p.parse_args()
    {"herder": herder, "bot": bot, "chat": chat}[a.role](a)


if __name__ == "__main__":
    main()
