#!/usr/bin/env python3
"""Checks Demi's layering: no upward include or call across tiers, no cycle between modules (doc/architecture.md).

Reads every file under src/ (and include/demi), resolves each `#include "..."` the way the compiler does (the
including file's folder, then src/, then include/), and finds which non-static function or object each file
uses from another .c file (a call through a shared header such as pipe.h is invisible to the include graph).
Each file belongs to a tier and a module (TIERS and module_of below). It reports:
  upward include   a file includes a header of a higher tier (or, in the inetstack, of a higher protocol);
  upward use       a file uses a function or object defined in a higher tier or protocol;
  cycle            modules of the same level that reach each other (edges already reported as upward are
                   left out, so each problem is reported once);
except the protocol input/output edges listed in INET_ALLOWED (input handing a packet up, answered through
output). Exit status: 0 when clean, 1 on a violation not in the --allow-known file, 2 on a usage error.

  scripts/check_includes.py [--root DIR] [--allow-known FILE] [--dot] [--list-keys]
"""
import argparse
import os
import re
import sys

# Tiers, lowest first: a file may include or use its own tier and lower ones. include/demi is public: anyone may
# include it, and it includes only itself.
TIERS = ["os", "runtime", "net", "inetstack", "queues", "libos", "api"]

# Inside the inetstack, levels lowest first. The packet/transmit tier (inet_tx: packet ownership, the transmit
# queue, checksums, the stack's private state) sits below the protocols; inet.c (create, poll, sockets, init of
# every protocol) sits on top. Wire formats (src/net/prot/) belong to the device tier below the whole stack.
INET_LEVELS = {"inet_tx": 1, "eth": 2, "arp": 3, "ipv4": 4, "icmp": 5, "udp": 5, "tcp": 5, "inet": 6}
INET_PROTOCOLS = ("eth", "arp", "ipv4", "icmp", "udp", "tcp")
# Files at the inetstack's top folder that belong to the inet_tx level (services the protocols share: packets and
# the transmit queue, checksums, ephemeral ports, the stack's private state); the others (inet.c, inet.h,
# inet_stats.c, ...) are the top.
INET_TX_FILE = re.compile(r"^(inet_tx|inet_pkt|inet_priv|inet_cksum|inet_port|netdev)")

# The natural upward edges of a protocol stack: input hands a packet to the protocol above it (demultiplexing),
# and a protocol answers an input through another's output (ICMP errors). Each is (from module, to module): why.
INET_ALLOWED = {
    ("inetstack/eth", "inetstack/arp"): "eth input hands ARP frames up",
    ("inetstack/eth", "inetstack/ipv4"): "eth input hands IPv4 packets up",
    ("inetstack/ipv4", "inetstack/icmp"): "IPv4 input hands ICMP up and answers errors through ICMP output",
    ("inetstack/ipv4", "inetstack/udp"): "IPv4 input hands UDP up",
    ("inetstack/ipv4", "inetstack/tcp"): "IPv4 input hands TCP up",
    ("inetstack/udp", "inetstack/icmp"): "UDP input answers a closed port through ICMP output (same level)",
}

# Composition, not a call: struct inet (inet_priv.h, at the inet_tx level so that every protocol can reach it)
# holds each protocol's per-stack state by value, so it includes each protocol's state header <p>/<p>.h, which
# declares that state and the protocol's stack-facing functions. Only those headers, and only from inet_priv.h.
INET_COMPOSITION = re.compile(r"^src/inetstack/(eth|arp|ipv4|icmp|udp|tcp)/\1\.h$")
INET_PRIV = "src/inetstack/inet_priv.h"

# The configuration schema's rows: each subsystem declares its keys in a table of its own, kept next to it
# (ownership), but a table is data of the configuration core (src/runtime/config.c lists the tables; struct
# demi_config holds every subsystem's fields): such a file is the runtime's config module wherever it lives, so it
# may include only the runtime and below (config_schema.h), which the tier rule then checks.
CONFIG_ROWS = re.compile(r"^(config_\w+|\w+_config)\.c$")

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
IDENT = re.compile(r"[A-Za-z_]\w*")
TAG_OR_MEMBER = re.compile(r"(\b(struct|union|enum)\s+|\.\s*|->\s*|\(\s*\*\s*)$")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case", "goto", "typeof",
            "__attribute__", "__typeof__", "_Static_assert", "static_assert", "defined"}


class File:
    def __init__(self, rel, text):
        self.rel = rel                      # path from the root, e.g. src/runtime/rt.c
        self.text = text
        self.code = strip(text)             # comments, strings and preprocessor lines blanked, lines kept
        self.tier, self.module, self.level = classify(rel)
        self.includes = []                  # (line, included path from the root or None, spelled name)
        self.defines, self.statics = definitions(self.code) if rel.endswith(".c") else (set(), set())
        # What the file uses: in a header, only inline bodies and macros (a prototype declares, it does not use).
        self.uses = self.code if rel.endswith(".c") else bodies_only(self.code)


def classify(rel):
    """(tier, module, level inside the tier) of a path from the root; level orders the inetstack's modules."""
    parts = rel.split("/")
    if parts[0] == "include":
        return "public", "include/demi", 0
    if parts[0] != "src" or len(parts) < 3:
        return None, rel, 0
    tier = parts[1]
    if tier not in TIERS:
        return None, rel, 0
    if parts[-1] == "config.c" or CONFIG_ROWS.match(parts[-1]):
        return "runtime", "runtime/config", 0
    if tier == "inetstack":
        if len(parts) >= 4:
            mod = parts[2] if parts[2] in INET_LEVELS else None
            if mod is None:
                return tier, "inetstack/" + parts[2], INET_LEVELS["inet"]
            return tier, "inetstack/" + mod, INET_LEVELS[mod]
        name = "inet_tx" if INET_TX_FILE.match(parts[2]) else "inet"
        return tier, "inetstack/" + name, INET_LEVELS[name]
    if tier == "libos" and len(parts) >= 4:
        return tier, "libos/" + parts[2], 0  # a libOS is one module: its folder
    # Elsewhere a module is one source file and its headers: rt.c, rt.h; afpacket_priv.h goes with afpacket.
    stem = re.sub(r"_priv$", "", os.path.splitext(parts[-1])[0])
    return tier, "/".join(parts[1:-1] + [stem]), 0


def strip(text):
    """Blanks comments, string and character literals and preprocessor lines other than #define bodies,
    keeping every newline so that offsets still give line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    # Preprocessor lines (with their continuations) other than #define: blank them (includes are read apart).
    def blank(m):
        return m.group(0) if re.match(r"\s*#\s*define\b", m.group(0)) else re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", blank, code, flags=re.M)


def bodies_only(code):
    """A header's code with everything outside braces and #define lines blanked."""
    out, depth = [], 0
    defines = [(m.start(), m.end()) for m in re.finditer(r"^[ \t]*#\s*define\b(?:[^\n]*\\\n)*[^\n]*", code, re.M)]
    d, i = 0, 0
    while i < len(code):
        if d < len(defines) and i == defines[d][0]:
            out.append(code[i:defines[d][1]])
            i = defines[d][1]
            d += 1
            continue
        c = code[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        out.append(c if depth > 0 or c in "\n}" else " ")
        i += 1
    return "".join(out)


def definitions(code):
    """Names of the functions and objects a .c file defines at file scope: (non-static, static)."""
    public, private = set(), set()
    depth, start = 0, 0
    body = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), code, flags=re.M)
    for i, c in enumerate(body):
        if c == "{":
            if depth == 0:
                head = body[start:i].strip()
                name = None
                if head.endswith(")") and "=" not in head:
                    name = declarator_before_params(head)
                elif head.endswith("="):
                    name = last_name(head[:-1])
                if name:
                    (private if re.search(r"\bstatic\b", head) else public).add(name)
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                start = i + 1
        elif c == ";" and depth == 0:
            head = body[start:i].strip()
            start = i + 1
            if not head or re.match(r"(typedef|extern)\b", head) or re.search(r"\bextern\b", head):
                continue
            if head.endswith(")") and "=" not in head:
                continue  # a prototype
            name = last_name(head.split("=")[0])
            if name and not re.fullmatch(r"(struct|union|enum)\s+\w+", head):
                (private if re.search(r"\bstatic\b", head) else public).add(name)
    return public, private


def declarator_before_params(head):
    depth = 0
    for i in range(len(head) - 1, -1, -1):
        if head[i] == ")":
            depth += 1
        elif head[i] == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r"(\w+)\s*$", head[:i])
                return m.group(1) if m and m.group(1) not in KEYWORDS else None
    return None


def last_name(decl):
    decl = re.sub(r"\[[^\]]*\]", "", decl).strip()
    m = re.search(r"(\w+)\s*$", decl)
    return m.group(1) if m and m.group(1) not in KEYWORDS else None


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def load(root):
    files = {}
    for top in ("src", "include/demi"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, root).replace(os.sep, "/")
                    with open(path, encoding="utf-8", errors="replace") as f:
                        files[rel] = File(rel, f.read())
    for f in files.values():
        for m in INCLUDE.finditer(f.text):
            spelled = m.group(1)
            target = None
            for base in (os.path.dirname(f.rel), "src", "include"):
                cand = os.path.normpath(os.path.join(base, spelled)).replace(os.sep, "/")
                if cand in files:
                    target = cand
                    break
            f.includes.append((line_of(f.text, m.start()), target, spelled))
    return files


def rank(f):
    return (TIERS.index(f.tier), f.level)


def why_upward(a, b):
    if a.tier != b.tier:
        return f"tier {a.tier} may not reach up to tier {b.tier}"
    return f"inetstack: {a.module.split('/')[1]} may not reach up to {b.module.split('/')[1]}"


def analyse(files):
    """Returns (violations, edges): violations as (key, text lines); edges as {(mod a, mod b): kind}."""
    violations = []
    edges = {}          # module graph for the cycle search and --dot: (a, b) -> set of kinds
    evidence = {}       # (a, b) -> first "file:line what" that made the edge
    definers = {}
    with_c = {f.module for f in files.values() if f.rel.endswith(".c")}
    for f in files.values():
        for name in f.defines:
            definers.setdefault(name, []).append(f)

    def edge(a, b, kind, where):
        edges.setdefault((a.module, b.module), set()).add(kind)
        evidence.setdefault((a.module, b.module), where)

    for f in sorted(files.values(), key=lambda f: f.rel):
        if f.tier is None:
            violations.append((f"unmapped {f.rel}", [f"{f.rel}: not in any tier (TIERS in scripts/check_includes.py)"]))
            continue
        for line, target, spelled in f.includes:
            if target is None:
                continue  # a system header spelled with quotes, or a generated one
            t = files[target]
            if t.tier == "public" or t.module == f.module or t.tier is None:
                continue
            if f.tier == "public":
                violations.append((f"public-include {f.rel} -> {t.rel}",
                                   [f"{f.rel}:{line}: includes \"{spelled}\": a public header includes only public ones"]))
                continue
            allowed = (f.module, t.module) in INET_ALLOWED or (f.rel == INET_PRIV and INET_COMPOSITION.match(t.rel))
            if rank(t) > rank(f) and not allowed:
                violations.append((f"upward-include {f.rel} -> {t.rel}",
                                   [f"{f.rel}:{line}: includes \"{spelled}\" ({f.module} -> {t.module}): {why_upward(f, t)}"]))
                continue
            # A header no .c file goes with (pipe.h, storage.h, netdev.h) is an interface: including it is no
            # dependency on any module for the cycle search; the calls through it are found as uses below.
            kind = "allowed" if allowed else "include" if t.module in with_c else "interface"
            edge(f, t, kind, f"{f.rel}:{line} includes \"{spelled}\"")
        # Uses of functions and objects that another .c file defines.
        if f.tier == "public":
            continue
        seen = {}
        for m in IDENT.finditer(f.uses):
            name = m.group(0)
            if name in seen or name in f.defines or name in f.statics or name not in definers:
                continue
            if TAG_OR_MEMBER.search(f.uses, max(0, m.start() - 16), m.start()):
                continue  # struct demi_netstats, s->poll, (*poll)(): a tag or a field that shares a function's name
            seen[name] = line_of(f.uses, m.start())
        upward = {}
        for name, line in sorted(seen.items(), key=lambda kv: kv[1]):
            for d in definers[name]:
                if d.module == f.module or d.tier is None:
                    continue
                allowed = (f.module, d.module) in INET_ALLOWED
                if rank(d) > rank(f) and not allowed:
                    upward.setdefault(d.rel, []).append((line, name))
                    continue
                edge(f, d, "allowed" if allowed else "use", f"{f.rel}:{line} uses {name} ({d.rel})")
        for drel, uses in sorted(upward.items()):
            d = files[drel]
            names = ", ".join(f"{n} (line {l})" for l, n in uses[:6]) + (", ..." if len(uses) > 6 else "")
            violations.append((f"upward-use {f.rel} -> {drel}",
                               [f"{f.rel}:{uses[0][0]}: uses {names} defined in {drel} ({f.module} -> {d.module}): "
                                f"{why_upward(f, d)}"]))
    # Cycles: strongly connected components of the module graph without allowed and upward edges.
    graph = {}
    for (a, b), kinds in edges.items():
        if kinds - {"allowed", "interface"}:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    for comp in sccs(graph):
        if len(comp) < 2:
            continue
        members = sorted(comp)
        lines = [f"cycle between {', '.join(members)}:"]
        for a in members:
            for b in sorted(graph[a]):
                if b in comp:
                    lines.append(f"    {a} -> {b}: {evidence[(a, b)]}")
        violations.append(("cycle " + " ".join(members), lines))
    return violations, edges


def sccs(graph):
    """Tarjan's strongly connected components, iterative."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop(); on.discard(w); comp.add(w)
                        if w == v:
                            break
                    out.append(comp)
    return out


def dot(files, edges):
    tiers = {}
    for f in files.values():
        if f.tier and f.tier != "public":
            tiers.setdefault(f.tier, set()).add(f.module)
    out = ["digraph demi {", "  rankdir=BT; node [shape=box, fontsize=10];"]
    for t in TIERS:
        if t not in tiers:
            continue
        out.append(f'  subgraph "cluster_{t}" {{ label="{t}";')
        for m in sorted(tiers[t]):
            out.append(f'    "{m}";')
        out.append("  }")
    for (a, b), kinds in sorted(edges.items()):
        style = ' [style=dashed, label="input"]' if kinds == {"allowed"} else ""
        out.append(f'  "{a}" -> "{b}"{style};')
    out.append("}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                    help="the tree to check (default: this script's repository)")
    ap.add_argument("--allow-known", metavar="FILE",
                    help="violations listed here (one key a line, '#' comments) are reported but do not fail")
    ap.add_argument("--dot", action="store_true", help="print the module graph in Graphviz form and exit")
    ap.add_argument("--list-keys", action="store_true", help="print only the violations' keys (for the known list)")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.root, "src")):
        print(f"check_includes: no src/ under {args.root}", file=sys.stderr)
        return 2
    files = load(args.root)
    violations, edges = analyse(files)
    if args.dot:
        print(dot(files, edges))
        return 0
    if args.list_keys:
        for key, _ in violations:
            print(key)
        return 0
    known = set()
    if args.allow_known:
        with open(args.allow_known) as f:
            known = {l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")}
    new = [(k, t) for k, t in violations if k not in known]
    old = [(k, t) for k, t in violations if k in known]
    for k, text in new:
        print("VIOLATION " + "\n".join(text))
    for k, text in old:
        print("known     " + "\n".join(text))
    stale = sorted(known - {k for k, _ in violations})
    for k in stale:
        print(f"fixed     {k} (remove it from {args.allow_known})")
    print(f"check_includes: {len(files)} files, {len(new)} violations, {len(old)} known, {len(stale)} fixed")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
