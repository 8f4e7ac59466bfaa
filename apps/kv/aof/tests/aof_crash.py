#!/usr/bin/env python3
"""Crash test of the log with the real server: demi-kv --appendonly yes --appendfsync always is SIGKILLed
mid-stream several times while writers SET sequential keys over several connections, each with SETs in flight.
Every SET the writer saw acknowledged (+OK, including replies read after the kill) must be there after each
restart; the log must hold only whole, valid records, plus at most a torn tail (checked here with an independent
parser of the format: u32 length, u32 CRC32C of the length bytes and the payload, little endian), and after the
restart (replay cut any torn tail) it must parse whole. Deterministic: the kill comes after a fixed number of
acknowledgements in each round, and every key is checked.
usage: aof_crash.py DEMI_KV [ROUNDS]"""
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

CONNS = 4
DEPTH = 8
ROUND_S = 20.0 / 5  # a bound per round, well above what it needs


ERRPATH = None


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    if ERRPATH and os.path.exists(ERRPATH):
        print("--- demi-kv's stderr (last lines):\n" + "".join(open(ERRPATH, errors="replace").readlines()[-10:]),
              file=sys.stderr)
    sys.exit(1)


_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _T[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def check_log(path, allow_torn):
    """Whole records up to the end, or (allow_torn) a tail that holds no whole valid record. Returns (records,
    size of the good part, torn bytes)."""
    data = open(path, "rb").read() if os.path.exists(path) else b""

    def valid_at(p):
        if p + 8 > len(data):
            return None
        n, crc = struct.unpack_from("<II", data, p)
        if p + 8 + n > len(data) or crc32c(data[p + 8:p + 8 + n], crc32c(data[p:p + 4])) != crc:
            return None
        return 8 + n

    p = records = 0
    while p < len(data):
        n = valid_at(p)
        if n is None:
            break
        records += 1
        p += n
    torn = len(data) - p
    if torn:
        if not allow_torn:
            fail("%s: %d bytes after the last whole record at %d after a clean replay" % (path, torn, p))
        for q in range(p + 1, len(data)):
            if valid_at(q) is not None:
                fail("%s: a bad record at %d with a valid one at %d after it: not a torn tail" % (path, p, q))
    return records, p, torn


def start(kv, port, log, errf):
    env = dict(os.environ, LIBOS="catnap")
    proc = subprocess.Popen([kv, "--port", str(port), "--appendonly", "yes", "--appendfsync", "always",
                             "--appendfilename", log], stdout=subprocess.PIPE, stderr=errf, env=env)
    deadline = time.time() + 20
    line = b""
    while time.time() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if b"ready to accept connections" in line:
                return proc
            if not line:
                break
        if proc.poll() is not None:
            break
    proc.kill()
    fail("demi-kv did not start (%r): see its stderr" % line)


def connect(port):
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            time.sleep(0.05)
    fail("cannot connect to demi-kv on port %d" % port)


def write_round(proc, port, rnd, kill_after, acked):
    """Writers SET r{rnd}c{conn}:{i} = i with DEPTH in flight each; SIGKILL after kill_after acknowledgements."""
    socks = [connect(port) for _ in range(CONNS)]
    sent = [0] * CONNS
    got = [0] * CONNS
    bufs = [b""] * CONNS
    total = 0
    killed = False
    deadline = time.time() + ROUND_S

    def key(c, i):
        return b"r%dc%d:%d" % (rnd, c, i)

    def read(c, data):
        nonlocal total
        bufs[c] += data
        n = bufs[c].count(b"\r\n")
        if n:
            if bufs[c].count(b"+OK\r\n") != n:
                fail("a SET was answered %r" % bufs[c][:80])
            bufs[c] = bufs[c][bufs[c].rfind(b"\r\n") + 2:]
            for _ in range(n):
                acked.append(key(c, got[c]))
                got[c] += 1
            total += n

    while not killed:
        if time.time() > deadline:
            fail("round %d: only %d SETs acknowledged in %.0f s" % (rnd, total, ROUND_S))
        for c, s in enumerate(socks):
            while sent[c] - got[c] < DEPTH:
                i = sent[c]
                s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n" % (len(key(c, i)), key(c, i), len(str(i)), i))
                sent[c] += 1
        r, _, _ = select.select(socks, [], [], 1.0)
        for s in r:
            c = socks.index(s)
            data = s.recv(65536)
            if not data:
                fail("round %d: demi-kv closed a connection before the kill" % rnd)
            read(c, data)
        if total >= kill_after:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed = True
    # replies the server sent before it died are acknowledgements too
    for c, s in enumerate(socks):
        s.settimeout(2)
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                break
            if not data:
                break
            read(c, data)
        s.close()
    return total, sum(sent)


def verify(port, acked):
    s = connect(port)
    for lo in range(0, len(acked), 500):
        keys = acked[lo:lo + 500]
        s.sendall(b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys))
        want = b"*%d\r\n" % len(keys) + b"".join(
            b"$%d\r\n%s\r\n" % (len(k.split(b":")[1]), k.split(b":")[1]) for k in keys)
        got = b""
        s.settimeout(10)
        while len(got) < len(want):
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            got += d
        if got != want:
            fail("acknowledged SETs lost after the restart (keys %r..%r; got %r...)" % (keys[0], keys[-1], got[:120]))
    s.close()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    kv = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if not os.access(kv, os.X_OK):
        fail("%s is not built" % kv)
    tmp = tempfile.mkdtemp(prefix="demi-aof-crash.", dir="/var/tmp")
    log = os.path.join(tmp, "appendonly.aof")
    errpath = os.path.join(tmp, "server.err")
    global ERRPATH
    ERRPATH = errpath
    acked = []
    proc = None
    t0 = time.time()
    try:
        with open(errpath, "wb") as errf:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            for rnd in range(1, rounds + 1):
                proc = start(kv, port, log, errf)
                recs, good, _ = check_log(log, allow_torn=False)  # replay cut any torn tail, durably
                verify(port, acked)
                n, sent = write_round(proc, port, rnd, 150 + 97 * rnd, acked)
                proc = None
                recs, good, torn = check_log(log, allow_torn=True)
                print("round %d: %d SETs sent, %d acknowledged before and around the SIGKILL; log: %d records, "
                      "%d bytes, torn tail %d bytes" % (rnd, sent, n, recs, good, torn))
            proc = start(kv, port, log, errf)
            check_log(log, allow_torn=False)
            verify(port, acked)
            proc.send_signal(signal.SIGTERM)
            if proc.wait(timeout=20) != 0:
                fail("demi-kv exited %d on SIGTERM" % proc.returncode)
            proc = None
        err = open(errpath, "rb").read().decode(errors="replace")
        if "not a torn tail" in err or "refusing" in err:
            fail("replay refused the log:\n" + err)
        print("%d rounds, %d acknowledged SETs all present after each restart (%.1f s)" %
              (rounds, len(acked), time.time() - t0))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


main()
