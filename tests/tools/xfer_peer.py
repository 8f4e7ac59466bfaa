#!/usr/bin/env python3
"""Linux peer of tests/tools/tcp_xfer.c: its framing and pattern over the kernel's TCP (asyncio).

  xfer_peer.py server IP PORT [--conns N] [--timeout S]
  xfer_peer.py client IP PORT --send BYTES [--recv [BYTES]] [--conns N] [--seed S] [--timeout S] [--verbose]
  xfer_peer.py pattern SEED BYTES    SHA-256 of pattern(SEED), as `tcp_xfer pattern` prints it
  xfer_peer.py compare TCP_XFER      both generators agree on several seeds and lengths (meson test tcp-xfer-pattern)

The framing and the pattern are described at the top of tcp_xfer.c; this is a second, independent
implementation of both (a change to one side's generator makes every transfer against the other fail).
Output lines and exit status are tcp_xfer's: 0 only when every connection was intact.
"""
import asyncio
import hashlib
import resource
import struct
import subprocess
import sys
import time

M64 = (1 << 64) - 1
LANES = 256
ROUND = LANES * 8
HDR = struct.Struct(">4sIQQ")  # "DXF1", seed, bytes client -> server, bytes server -> client
REPLY_SEED_BIT = 1 << 32
CHUNK = 256 * 1024


def lanes_of(word):
    """A big integer holding `word` in each of the LANES 64-bit lanes."""
    return int.from_bytes(word.to_bytes(8, "little") * LANES, "little")


# xorshift64's three steps applied to every lane at once: a shift moves bits across lane borders,
# the masks clear what crossed.
SHL13 = lanes_of((M64 << 13) & M64)
SHR7 = lanes_of(M64 >> 7)
SHL17 = lanes_of((M64 << 17) & M64)


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Pattern:
    """pattern(seed): 256 xorshift64 lanes; each round emits every lane's new state, little-endian, lane 0 first."""

    def __init__(self, seed):
        lanes = [splitmix64((seed * LANES + i) & M64) or 1 for i in range(LANES)]
        self.s = int.from_bytes(b"".join(v.to_bytes(8, "little") for v in lanes), "little")
        self.buf = b""
        self.pos = 0

    def take(self, n):
        out = []
        while n:
            if self.pos == len(self.buf):
                s = self.s
                s ^= (s << 13) & SHL13
                s ^= (s >> 7) & SHR7
                s ^= (s << 17) & SHL17
                self.s = s
                self.buf = s.to_bytes(ROUND, "little")
                self.pos = 0
            k = min(n, len(self.buf) - self.pos)
            out.append(self.buf[self.pos:self.pos + k])
            self.pos += k
            n -= k
        return b"".join(out)


def parse_bytes(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:].upper(), 1)
    return int(s[:-1] if mult > 1 else s) * mult


def first_diff(a, b):
    return next(i for i in range(min(len(a), len(b))) if a[i] != b[i])


def mbps(nbytes, seconds):
    return nbytes / seconds / 1e6 if seconds > 0 else 0.0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Receiver:
    """Checks received pattern bytes: SHA-256 of what came, of what should have, and the first difference."""

    def __init__(self, seed):
        self.pat = Pattern(seed)
        self.got_sha = hashlib.sha256()
        self.exp_sha = hashlib.sha256()
        self.got = 0
        self.mismatch = None

    def feed(self, data):
        exp = self.pat.take(len(data))
        self.got_sha.update(data)
        self.exp_sha.update(exp)
        if self.mismatch is None and data != exp:
            self.mismatch = self.got + first_diff(data, exp)
        self.got += len(data)


async def send_pattern(writer, seed, nbytes, sha=None):
    pat = Pattern(seed)
    while nbytes:
        data = pat.take(min(CHUNK, nbytes))
        if sha:
            sha.update(data)
        writer.write(data)
        await writer.drain()
        nbytes -= len(data)


# ---- server ----

async def server(ip, port, want, timeout):
    results = []  # True per intact connection
    all_done = asyncio.Event()
    t0 = []

    async def handle(reader, writer):
        idx = len(results)
        results.append(False)
        if not t0:
            t0.append(time.monotonic())
        try:
            magic, seed, send, recv = HDR.unpack(await reader.readexactly(HDR.size))
            if magic != b"DXF1":
                raise ValueError("bad header magic")
            rx = Receiver(seed)
            while rx.got < send:
                data = await reader.read(min(CHUNK, send - rx.got))
                if not data:
                    raise ValueError(f"end of stream after {rx.got} of {send} bytes")
                rx.feed(data)
            digest = rx.got_sha.digest()
            if rx.mismatch is None:
                print(f"conn {idx} bytes {rx.got} sha256 {digest.hex()} pattern ok, replying {recv} B", flush=True)
            else:
                print(f"conn {idx} bytes {rx.got} sha256 {digest.hex()} pattern MISMATCH at byte {rx.mismatch}",
                      flush=True)
            writer.write(digest)
            await send_pattern(writer, seed + REPLY_SEED_BIT, recv)
            rest = await reader.read(1)  # the client closes first
            if rest:
                raise ValueError("bytes after the body")
            results[idx] = rx.mismatch is None
        except (ValueError, OSError, asyncio.IncompleteReadError) as e:
            print(f"conn {idx} FAILED: {e}", flush=True)
        finally:
            writer.close()
            finished[0] += 1
            if finished[0] == want:
                all_done.set()

    finished = [0]
    srv = await asyncio.start_server(handle, ip, port, backlog=4096, reuse_address=True)
    print(f"xfer_peer: listening on {ip}:{port} for {want} connections", flush=True)
    try:
        await asyncio.wait_for(all_done.wait(), timeout)
    except asyncio.TimeoutError:
        print(f"xfer_peer: server: timed out with {finished[0]} of {want} connections done", file=sys.stderr)
        return 1
    srv.close()
    ok = sum(results)
    print(f"xfer_peer: server: {len(results)} connections, {ok} intact in {time.monotonic() - t0[0]:.3f} s",
          flush=True)
    return 0 if ok == want else 1


# ---- client ----

async def client_conn(i, ip, port, send, recv, seed, verbose):
    r = {"ok": False}
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError as e:
        print(f"conn {i} FAILED: connect: {e}")
        return r
    try:
        r["t_conn"] = time.monotonic()
        writer.write(HDR.pack(b"DXF1", seed, send, recv))
        up = hashlib.sha256()
        await send_pattern(writer, seed, send, up)
        digest = await reader.readexactly(32)
        r["t_digest"] = time.monotonic()
        rx = Receiver(seed + REPLY_SEED_BIT)
        while rx.got < recv:
            data = await reader.read(min(CHUNK, recv - rx.got))
            if not data:
                raise ValueError(f"end of stream after {rx.got} of {recv} reply bytes")
            rx.feed(data)
        r["t_end"] = time.monotonic()
    except (ValueError, OSError, asyncio.IncompleteReadError) as e:
        print(f"conn {i} FAILED: {e}")
        writer.close()
        return r
    writer.close()  # we have everything: close first, as the protocol says
    up_ok = up.digest() == digest
    down_ok = rx.mismatch is None and rx.got_sha.digest() == rx.exp_sha.digest()
    if verbose or not up_ok or not down_ok:
        print(f"conn {i} up bytes {send} sha256 expected {up.hexdigest()} server {digest.hex()} "
              f"{'ok' if up_ok else 'MISMATCH'}")
        where = "" if rx.mismatch is None else f" at byte {rx.mismatch}"
        print(f"conn {i} down bytes {rx.got} sha256 expected {rx.exp_sha.hexdigest()} received "
              f"{rx.got_sha.hexdigest()} {'ok' if down_ok else 'MISMATCH' + where}")
    r.update(ok=up_ok and down_ok, send=send, recv=recv)
    return r


async def client(ip, port, send, recv, nconns, seed, timeout, verbose):
    print(f"xfer_peer: client: {nconns} connections to {ip}:{port}, {send} B up and {recv} B down each", flush=True)
    t0 = time.monotonic()
    verbose = verbose or nconns <= 8
    try:
        rs = await asyncio.wait_for(asyncio.gather(
            *(client_conn(i, ip, port, send, recv, (seed + i) & 0xFFFFFFFF, verbose) for i in range(nconns))), timeout)
    except asyncio.TimeoutError:
        print(f"xfer_peer: client: timed out after {timeout} s", file=sys.stderr)
        return 1
    good = [r for r in rs if r["ok"]]
    if good:
        up_s = max(r["t_digest"] for r in good) - min(r["t_conn"] for r in good)
        dn_s = max(r["t_end"] for r in good) - min(r["t_digest"] for r in good)
        upb = sum(r["send"] for r in good)
        dnb = sum(r["recv"] for r in good)
        print(f"goodput up {mbps(upb, up_s):.1f} MB/s down {mbps(dnb, dn_s):.1f} MB/s "
              f"({upb} B in {up_s:.3f} s, {dnb} B in {dn_s:.3f} s)")
    verdict = "PASS" if len(good) == nconns else "FAIL"
    print(f"xfer_peer: {verdict}: {len(good)} of {nconns} connections intact in {time.monotonic() - t0:.3f} s",
          flush=True)
    return 0 if len(good) == nconns else 1


# ---- no network ----

def pattern_digest(seed, nbytes):
    pat, sha = Pattern(seed), hashlib.sha256()
    while nbytes:
        n = min(CHUNK, nbytes)
        sha.update(pat.take(n))
        nbytes -= n
    return sha.hexdigest()


def compare(tool):
    bad = 0
    for seed, n in [(0, 0), (1, 1), (7, 2047), (7, 2048), (7, 2049), (12345, 100003), (REPLY_SEED_BIT + 5, 1 << 20),
                    (0xFFFFFFFF, 3 << 20)]:
        mine = pattern_digest(seed, n)
        theirs = subprocess.run([tool, "pattern", str(seed), str(n)], check=True, capture_output=True,
                                text=True).stdout.strip()
        ok = mine == theirs
        bad += not ok
        print(f"pattern({seed}) {n} B: python {mine} C {theirs} {'ok' if ok else 'DIFFERENT'}")
    return 1 if bad else 0


def usage():
    print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) == 3 and argv[0] == "pattern":
        print(pattern_digest(int(argv[1], 0), parse_bytes(argv[2])))
        return 0
    if len(argv) == 2 and argv[0] == "compare":
        return compare(argv[1])
    if len(argv) < 3 or argv[0] not in ("server", "client"):
        usage()
    mode, ip, port = argv[0], argv[1], int(argv[2])
    conns, send, recv, seed, timeout, verbose = 1, None, 0, 1, 300.0, False
    i = 3
    while i < len(argv):
        a = argv[i]
        v = argv[i + 1] if i + 1 < len(argv) else None
        if a == "--verbose":
            verbose = True
        elif a == "--recv":
            recv = -1  # as much as --send
            if v and v[0].isdigit():
                recv = parse_bytes(v)
                i += 1
        elif v is None:
            usage()
        elif a == "--conns":
            conns, i = int(v), i + 1
        elif a == "--send":
            send, i = parse_bytes(v), i + 1
        elif a == "--seed":
            seed, i = int(v, 0), i + 1
        elif a == "--timeout":
            timeout, i = float(v), i + 1
        else:
            usage()
        i += 1
    raise_nofile()
    if mode == "server":
        return asyncio.run(server(ip, port, conns, timeout))
    if send is None or conns < 1:
        usage()
    return asyncio.run(client(ip, port, send, send if recv == -1 else recv, conns, seed, timeout, verbose))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
