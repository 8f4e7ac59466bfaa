#!/usr/bin/env python3
"""A legitimate client beside a SYN flood: connects to a tcp_xfer server (tests/tools/tcp_xfer.c's framing)
again and again, one short exchange each, and reports how many connects succeeded and how long they took.

  syn_client.py ADDR PORT [--seconds S | --count N] [--interval S] [--connect-timeout S] [--echo]

Each attempt: connect (timed), send a DXF1 header asking for nothing (send 0, recv 0), read the 32-byte
SHA-256 of nothing that the server answers, check it, close. With --echo (an echo server: examples/tcp_echo):
send 32 bytes and read them back instead. Prints one line:
  syn_client: attempts A ok K failed F connect_ms p50 X p99 Y max Z
and exits 0 (the caller judges the numbers).
"""
import argparse
import hashlib
import socket
import struct
import sys
import time


def attempt(addr, port, timeout, echo):
    s = socket.socket()
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((addr, port))
        dt = time.monotonic() - t0
        want = hashlib.sha256(b"").digest()
        if echo:
            want = bytes(range(32))
            s.sendall(want)
        else:
            s.sendall(b"DXF1" + struct.pack(">IQQ", 1, 0, 0))
        got = b""
        while len(got) < 32:
            b = s.recv(32 - len(got))
            if not b:
                return None
            got += b
        if got != want:
            return None
        return dt
    except OSError:
        return None
    finally:
        s.close()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--connect-timeout", type=float, default=3.0)
    ap.add_argument("--echo", action="store_true")
    a = ap.parse_args()
    end = time.monotonic() + a.seconds
    times, failed, n = [], 0, 0
    while (a.count and n < a.count) or (not a.count and time.monotonic() < end):
        n += 1
        dt = attempt(a.addr, a.port, a.connect_timeout, a.echo)
        if dt is None:
            failed += 1
        else:
            times.append(dt * 1000)
        time.sleep(a.interval)
    print("syn_client: attempts %d ok %d failed %d connect_ms p50 %.2f p99 %.2f max %.2f"
          % (n, len(times), failed, pct(times, 50), pct(times, 99), max(times) if times else float("nan")),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
