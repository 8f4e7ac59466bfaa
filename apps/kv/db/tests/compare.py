#!/usr/bin/env python3
"""Reply-for-reply check of demi-kv against Debian's redis-server: one command script, run by redis-cli against
both servers (each started here on a free loopback port and stopped after), the replies compared command by
command. A line of the script is one redis-cli command; a trailing '#! directive' relaxes the comparison where
the two servers may differ by design (see doc/apps/kv-commands.md):

  #! sort        the reply's lines are compared sorted (set and hash order)
  #! mask 3,7    reply lines 3 and 7 (0-based) are not compared (server version, client id)
  #! kind        only the kind of reply is compared: (integer), (error), (nil), string, array
  #! info        INFO: the same section headers, every field demi-kv gives exists in redis-server's, and the
                 db0: keyspace line is equal

Exit status: 0 when every reply matches, 1 on a difference (each one printed), 77 (skip) when redis-server or
redis-cli is not installed.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MARK = "<<kvdb-compare-%d>>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} is not listening on port {port} after {timeout} s")


def parse_script(path):
    cmds = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            directive = None
            if "#!" in line:
                line, directive = line.split("#!", 1)
                line, directive = line.rstrip(), directive.strip()
            cmds.append((n, line, directive))
    return cmds


def run_script(cli, port, cmds):
    """All commands on one connection (CLIENT SETNAME and GETNAME see each other), each followed by an ECHO of
    a marker, so that the output splits into one reply per command."""
    text = "".join(f"{c}\nECHO \"{MARK % i}\"\n" for i, (_, c, _) in enumerate(cmds))
    out = subprocess.run([cli, "--no-raw", "-h", "127.0.0.1", "-p", str(port)], input=text.encode(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60).stdout
    out = out.decode("utf-8", "replace")
    replies, cur = [], []
    for line in out.split("\n"):
        m = re.fullmatch(r'"<<kvdb-compare-(\d+)>>"', line.strip())
        if m:
            replies.append(cur)
            cur = []
        else:
            cur.append(line)
    if len(replies) == len(cmds) - 1 and cmds[-1][1].strip().upper().startswith("QUIT"):
        replies.append(cur)  # redis-cli stops after QUIT: what it printed last is QUIT's
    if len(replies) != len(cmds):
        sys.exit(f"port {port}: {len(replies)} replies for {len(cmds)} commands; the output ends with:\n"
                 + "\n".join(cur[-20:]))
    return replies


def kind(lines):
    if not lines:
        return "(none)"
    first = lines[0].strip()
    for k in ("(integer)", "(error)", "(nil)", "(empty array)"):
        if first.startswith(k):
            return k
    return "array" if re.match(r"^\s*1\) ", first) else "string"


def info_check(ours, theirs):
    def sections(lines):
        heads, fields, db0 = [], set(), []
        for l in lines:
            l = l.strip()
            if l.startswith("# "):
                heads.append(l)
            elif l.startswith("db0:"):
                db0.append(l)
            elif ":" in l:
                fields.add(l.split(":", 1)[0])
        return heads, fields, db0
    oh, of, od = sections(ours)
    th, tf, td = sections(theirs)
    problems = []
    if oh != th and not set(oh) <= set(th):
        problems.append(f"sections {oh} vs {th}")
    missing = sorted(of - tf)
    if missing:
        problems.append(f"fields redis-server does not have: {missing}")
    if od != td:
        problems.append(f"keyspace {od} vs {td}")
    return problems


def compare(cmds, ours, theirs):
    bad = 0
    for (n, cmd, directive), a, b in zip(cmds, ours, theirs):
        d = (directive or "").split()
        if d and d[0] == "info":
            problems = info_check(a, b)
            if problems:
                bad += 1
                print(f"line {n}: {cmd}\n  " + "\n  ".join(problems))
            continue
        x, y = list(a), list(b)
        if d and d[0] == "mask":
            for i in (int(v) for v in d[1].split(",")):
                for l in (x, y):
                    if i < len(l):
                        l[i] = "<masked>"
        if d and d[0] == "sort":
            strip = lambda l: sorted(re.sub(r"^\s*\d+\) ", "", v) for v in l)
            x, y = strip(x), strip(y)
        if d and d[0] == "kind":
            x, y = [kind(x)], [kind(y)]
        if x != y:
            bad += 1
            print(f"line {n}: {cmd}\n  demi-kv:      {a}\n  redis-server: {b}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demi-kv", required=True, help="the demi-kv binary")
    ap.add_argument("--script", required=True, help="the command script")
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--redis-cli", default="redis-cli")
    args = ap.parse_args()
    server, cli = shutil.which(args.redis_server), shutil.which(args.redis_cli)
    if server is None or cli is None:
        print("SKIP: redis-server or redis-cli is not installed (Debian: apt-get install redis-server "
              "redis-tools; scripts/setup.sh installs them)")
        return 77
    if not os.access(args.demi_kv, os.X_OK):
        print(f"demi-kv is not built at {args.demi_kv}")
        return 1
    cmds = parse_script(args.script)
    procs, dlog = [], None
    with tempfile.TemporaryDirectory(prefix="kvdb-compare-") as tmp:
        try:
            rport, dport = free_port(), free_port()
            # never as a service: a process of this test's own, no persistence, a directory of its own
            rs = subprocess.Popen([server, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(rs)
            env = dict(os.environ)
            env.setdefault("LIBOS", "catnap")
            dlog = open(os.path.join(tmp, "demi-kv.log"), "w+")
            dk = subprocess.Popen([args.demi_kv, "--bind", "127.0.0.1", "--port", str(dport), "--appendonly", "no"],
                                  stdout=dlog, stderr=subprocess.STDOUT, env=env, cwd=tmp)
            procs.append(dk)
            wait_port(rport, rs, "redis-server")
            wait_port(dport, dk, "demi-kv")
            theirs = run_script(cli, rport, cmds)
            ours = run_script(cli, dport, cmds)
        except SystemExit:
            if dlog is not None:
                dlog.seek(0)
                print("demi-kv's output:\n" + dlog.read()[-4000:])
            raise
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    bad = compare(cmds, ours, theirs)
    print(f"{len(cmds)} commands, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
