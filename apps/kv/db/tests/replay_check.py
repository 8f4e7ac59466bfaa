#!/usr/bin/env python3
"""The log rewrite end to end: demi-kv with appendonly yes takes a script of writes through redis-cli (relative
expiries, SPOP, pops, keys that expire and are written anew), is stopped, started again on the same log, and must
answer every read as before the restart (TTLs compared as none / set / gone, members sorted). Exit 0 when the
data set came back the same, 1 otherwise, 77 (skip) without redis-cli."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (free_port, wait_port, run_script)

WRITES_1 = """SET a 1
SET b 2 EX 100
SET c v PX 300
SET e v PX 300
SET f v PX 300
SADD s m1 m2 m3 m4 m5 m6 m7 m8
SPOP s 3
SPOP s
LPUSH l 1 2 3 4
RPOP l
LPOP l 1
HSET h f1 v1 f2 v2 f3 v3
HDEL h f2
ZADD z 1 a 2 b 3 c 1.5 d
ZPOPMIN z
ZADD z INCR 10 a
INCR n
INCRBY n 41
APPEND a xyz
EXPIRE a 1000
PEXPIRE b 50000
MSET m1 x m2 y
DEL m2
SET g v
EXPIRE g -1
SET k v EXAT 1
SET p v EX 100
PERSIST p
INCR q
EXPIRE q 1000
INCR q"""

# after c, e and f have expired: they are written anew (the log must drop the replay's old ones first)
WRITES_2 = """INCR c
SADD e x
SET f w NX
APPEND q z"""

KEYS = ["a", "b", "c", "e", "f", "g", "h", "k", "l", "m1", "m2", "n", "p", "q", "s", "z"]


def reads():
    out = []
    for k in KEYS:
        out += [f"TYPE {k}", f"TTL {k}", f"GET {k}", f"LRANGE {k} 0 -1", f"SMEMBERS {k}", f"HGETALL {k}",
                f"ZRANGE {k} 0 -1 WITHSCORES"]
    out.append("DBSIZE")
    return [(0, c, None) for c in out]


def normalize(cmds, replies):
    res = []
    for (_, c, _), r in zip(cmds, replies):
        if c.startswith("TTL"):
            v = int(re.sub(r"\(integer\) ", "", r[0]))
            r = ["ttl:" + ("none" if v == -1 else "gone" if v == -2 else "set")]
        elif c.startswith(("SMEMBERS", "HGETALL")):
            r = sorted(re.sub(r"^\s*\d+\) ", "", v) for v in r)
        res.append((c, r))
    return res


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: replay_check.py DEMI_KV")
    demi_kv = sys.argv[1]
    cli = shutil.which("redis-cli")
    if cli is None:
        print("SKIP: redis-cli is not installed (Debian: apt-get install redis-tools)")
        return 77
    if not os.access(demi_kv, os.X_OK):
        print(f"demi-kv is not built at {demi_kv}")
        return 1
    with tempfile.TemporaryDirectory(prefix="kvdb-replay-") as tmp:
        port = compare.free_port()
        args = [demi_kv, "--bind", "127.0.0.1", "--port", str(port), "--appendonly", "yes", "--appendfsync",
                "always", "--appendfilename", os.path.join(tmp, "log.aof")]
        env = dict(os.environ)
        env.setdefault("LIBOS", "catnap")

        def start():
            log = open(os.path.join(tmp, "demi-kv.log"), "a")
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
            compare.wait_port(port, p, "demi-kv")
            return p

        def stop(p):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                sys.exit("demi-kv did not stop on SIGTERM")

        p = start()
        try:
            compare.run_script(cli, port, [(0, c, None) for c in WRITES_1.split("\n")])
            time.sleep(0.5)  # c, e and f expire
            compare.run_script(cli, port, [(0, c, None) for c in WRITES_2.split("\n")])
            cmds = reads()
            before = normalize(cmds, compare.run_script(cli, port, cmds))
        finally:
            stop(p)
        p = start()
        try:
            after = normalize(cmds, compare.run_script(cli, port, cmds))
        finally:
            stop(p)
        bad = [(b, a) for b, a in zip(before, after) if b != a]
        for (c, b), (_, a) in bad:
            print(f"{c}\n  before the restart: {b}\n  after:              {a}")
        # the script must have left something to compare: the test is not vacuous
        dbsize = [r for c, r in before if c == "DBSIZE"][0]
        print(f"{len(cmds)} reads, {len(bad)} differences, {dbsize[0]} before the restart")
        if dbsize[0] in ("(integer) 0", "0"):
            print("the data set is empty: nothing was compared")
            return 1
        if bad:
            with open(os.path.join(tmp, "demi-kv.log")) as f:
                print("demi-kv's output:\n" + f.read()[-3000:])
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
