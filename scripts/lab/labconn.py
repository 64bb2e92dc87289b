"""The lab clients' connection: a socket with a read buffer, read by exact
length, up to a separator, or to the far end's close. chain.py and ircbot.py
build their proxy hops and protocols on it."""

import socket

TIMEOUT = 20.0


class Buffered:
    def __init__(self, hop, bind=None):
        self.sock = socket.create_connection(
            hop, timeout=TIMEOUT, source_address=(bind, 0) if bind else None
        )
        self.buf = b""

    def fill(self):
        data = self.sock.recv(4096)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def rest(self):
        """Everything until the far end closes."""
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out
