#!/usr/bin/env python3
"""Linux-socket clients that misbehave on purpose, for apps/kv/tests/server.sh. Each mode exits 0 when the
server did what redis-server does, 1 with the reason otherwise.

  kvclient.py many HOST PORT N         N connections open at once, each PINGs, every one gets +PONG
  kvclient.py garbage HOST PORT BYTES  sends up to BYTES of random bytes: an -ERR Protocol error, then closed
  kvclient.py noread HOST PORT BYTES   pipelines PINGs with 16 KiB replies and never reads: closed before BYTES
  kvclient.py maxclients HOST PORT N   N connections served, the next one told it is one too many and closed
"""
import random
import select
import socket
import sys
import time


def fail(msg):
    print("kvclient: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def connect(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until(s, want, timeout=10):
    data = b""
    end = time.time() + timeout
    while want not in data:
        s.settimeout(max(0.01, end - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        data += b
    return data


def many(host, port, n):
    conns = []
    for i in range(n):
        conns.append(connect(host, port))
    for s in conns:
        s.sendall(b"PING\r\n")
    for i, s in enumerate(conns):
        got = read_until(s, b"\r\n")
        if got != b"+PONG\r\n":
            fail("connection %d of %d got %r, want +PONG" % (i, n, got))
    # all still open: one more round on every one of them
    for s in conns:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
    for i, s in enumerate(conns):
        got = read_until(s, b"\r\n")
        if got != b"+PONG\r\n":
            fail("second round, connection %d got %r" % (i, got))
    for s in conns:
        s.close()
    print("ok: %d connections open at once, each answered twice" % n)


def flood(host, port, limit, chunk_of, read):
    """Sends chunks until the server closes or limit bytes went; returns (bytes sent, bytes read, closed)."""
    s = connect(host, port)
    s.setblocking(False)
    sent, got, closed = 0, b"", False
    deadline = time.time() + 120
    buf = b""
    while sent < limit and time.time() < deadline:
        if not buf:
            buf = chunk_of(sent)
        r, w, _ = select.select([s] if read else [], [s], [], 1.0)
        try:
            if r:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                if len(got) < 1 << 20:
                    got += b
            if w:
                n = s.send(buf[: limit - sent])
                sent += n
                buf = buf[n:]
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    if closed and read:
        # what is still queued for us
        s.setblocking(True)
        s.settimeout(1)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except (OSError, socket.timeout):
            pass
    s.close()
    return sent, got, closed


def garbage(host, port, total):
    rnd = random.Random(13)
    blob = bytes(rnd.getrandbits(8) for _ in range(1 << 16))

    def chunk(sent):
        return blob

    sent, got, closed = flood(host, port, total, chunk, True)
    if not closed:
        fail("the server took %d bytes of garbage without closing the connection" % sent)
    if b"-ERR Protocol error" not in got:
        fail("closed after %d bytes without a protocol error; got %r" % (sent, got[:200]))
    print("ok: garbage: closed after %d bytes sent, with %r" % (sent, got[got.find(b"-ERR Protocol"):][:60]))


def noread(host, port, total):
    arg = b"x" * 16384
    req = b"*2\r\n$4\r\nPING\r\n$%d\r\n%s\r\n" % (len(arg), arg)
    batch = req * 16

    def chunk(sent):
        return batch

    sent, _, closed = flood(host, port, total, chunk, False)
    if not closed:
        fail("a client that never reads sent %d bytes of requests and was not disconnected" % sent)
    print("ok: a client that never reads was disconnected after %d bytes of requests" % sent)


def maxclients(host, port, n):
    conns = [connect(host, port) for _ in range(n)]
    for s in conns:
        s.sendall(b"PING\r\n")
        if read_until(s, b"\r\n") != b"+PONG\r\n":
            fail("one of the first %d connections was not served" % n)
    extra = connect(host, port)
    got = read_until(extra, b"\r\n")
    if got != b"-ERR max number of clients reached\r\n":
        fail("connection %d got %r" % (n + 1, got))
    extra.settimeout(5)
    try:
        rest = extra.recv(100)
    except ConnectionResetError:
        rest = b""
    if rest != b"":
        fail("connection %d stayed open (%r)" % (n + 1, rest))
    conns[0].close()
    time.sleep(0.3)
    again = connect(host, port)
    again.sendall(b"PING\r\n")
    if read_until(again, b"\r\n") != b"+PONG\r\n":
        fail("after one client left, a new one was not served")
    print("ok: maxclients %d: the next connection was told so and closed; room again once one left" % n)


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    {"many": many, "garbage": garbage, "noread": noread, "maxclients": maxclients}[mode](host, port, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
