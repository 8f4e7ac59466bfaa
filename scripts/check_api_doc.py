#!/usr/bin/env python3
"""Checks the API reference (doc/api/) against the code.

Fails when
  (a) a public demi_* function (declared in include/demi/*.h, or exported by the
      built libdemi.so given with --lib) has no page doc/api/<function>.md, or
      the index doc/api/README.md does not link it;
  (b) a page lacks a required section (in order), its title is not its name,
      its Synopsis does not include a header declaring the function with its prototype,
      or its Errors table is malformed;
  (c) a `tested by` entry names a test that does not exist: a Criterion test
      in tests/ (Test(suite, name), ParameterizedTest(type, suite, name), or a
      macro that expands to one, such as LIBOS_TEST), or a meson test of that
      suite (read from <build>/meson-info/intro-tests.json when --build is
      given);
  (d) an errno that a header comment's "Errors:" text names for a function is
      missing from its page's Errors table.
Exit 0 when everything holds, 1 with one line per problem otherwise.
"""
import argparse
import errno as errno_mod
import json
import os
import re
import subprocess
import sys

SECTIONS = ["Synopsis", "Description", "Ownership", "Tokens", "Blocking and timeouts", "Limits", "Errors",
            "See also"]
TABLE_HEADER = re.compile(r"^\|\s*errno\s*\|\s*when\s*\|\s*tested by\s*\|\s*$")
TEST_REF = re.compile(r"^([A-Za-z_]\w*)::([A-Za-z_]\w*)$")
ERRNO_CELL = re.compile(r"^`?(E[A-Z0-9]+|none)`?$")
DECL = re.compile(r"\b(demi_\w+)\s*\(")


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


HEADERS = {}  # function -> the headers that declare it


def header_functions(root):
    """{function: set of errnos named after 'Errors:' in the comment before a declaration}."""
    funcs = {}
    inc = os.path.join(root, "include", "demi")
    for name in sorted(os.listdir(inc)):
        if not name.endswith(".h"):
            continue
        text = open(os.path.join(inc, name), encoding="utf-8").read()
        # Declarations: statements (comments removed) that end in ');' and name demi_x( at top level.
        pos = 0
        last_comment = ""
        for m in re.finditer(r"/\*.*?\*/|[^;/]*;|/", text, flags=re.S):
            chunk = m.group(0)
            if chunk.startswith("/*"):
                last_comment = chunk
                continue
            code = strip_comments(chunk)
            if code.strip().startswith("#") or "typedef" in code or "(*" in code:
                last_comment = ""
                continue
            d = DECL.search(code)
            if d and code.rstrip().endswith(");"):
                fn = d.group(1)
                HEADERS.setdefault(fn, set()).add(name)
                errs = funcs.setdefault(fn, set())
                k = last_comment.find("Errors")
                if k < 0 and "Returns 0;" in last_comment:
                    k = last_comment.find("Returns 0;")
                if k >= 0:
                    for e in re.findall(r"\bE[A-Z0-9]{2,}\b", last_comment[k:]):
                        if hasattr(errno_mod, e):
                            errs.add(e)
            last_comment = ""
            pos = m.end()
    return funcs


def library_functions(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "t", "W") and parts[2].startswith("demi_"):
            syms.add(parts[2].split("@")[0])
    return syms


def criterion_tests(root):
    """Every suite::name a Criterion test in tests/ registers, macros such as LIBOS_TEST expanded."""
    tests = set()
    macro_def = re.compile(r"#define\s+(\w+)\(([^)]*)\)((?:[^\n]*\\\n)*[^\n]*)")
    direct = re.compile(r"\bTest\(\s*(\w+)\s*,\s*(\w+)|\bParameterizedTest\(\s*[^,()]+,\s*(\w+)\s*,\s*(\w+)")
    sources = []
    for d, _, files in os.walk(os.path.join(root, "tests")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                sources.append((f, open(os.path.join(d, f), encoding="utf-8", errors="replace").read()))

    def macros_of(text):
        out = {}
        for m in macro_def.finditer(text):
            params = [p.strip() for p in m.group(2).split(",")]
            for t in direct.finditer(m.group(3)):
                suite, name = (t.group(1), t.group(2)) if t.group(1) else (t.group(3), t.group(4))
                out[m.group(1)] = (params, suite, name)
        return out

    # Macros of headers apply everywhere; a source file's own macros (BOTH, OP_TEST, ...) to it alone.
    shared = {}
    for f, text in sources:
        if f.endswith(".h"):
            shared.update(macros_of(text))
    for f, text in sources:
        macros = dict(shared)
        macros.update(macros_of(text))
        params_all = {p for params, _, _ in macros.values() for p in params}
        body = re.sub(r"#define[^\n]*(?:\\\n[^\n]*)*", "", text)
        for t in direct.finditer(body):
            suite, name = (t.group(1), t.group(2)) if t.group(1) else (t.group(3), t.group(4))
            if suite not in params_all and name not in params_all:
                tests.add((suite, name))
        for mname, (params, suite, name) in macros.items():
            for inv in re.finditer(r"^\s*" + mname + r"\(([^)]*)\)", body, flags=re.M):
                args = [a.strip() for a in inv.group(1).split(",")]
                bind = dict(zip(params, args))
                tests.add((bind.get(suite, suite), bind.get(name, name)))
    return tests


def meson_tests(build):
    path = os.path.join(build, "meson-info", "intro-tests.json")
    tests = set()
    if not os.path.exists(path):
        return tests
    for t in json.load(open(path, encoding="utf-8")):
        for s in t.get("suite", []):
            tests.add((s.split(":")[-1], t["name"]))
    return tests


def check_page(path, fn, tests, problems, header_errs):
    text = open(path, encoding="utf-8").read()
    lines = text.splitlines()
    rel = os.path.relpath(path)
    if not lines or lines[0].strip() != "# " + fn:
        problems.append(f"{rel}: first line must be '# {fn}'")
    found = [ln[3:].strip() for ln in lines if ln.startswith("## ")]
    if found[:len(SECTIONS)] != SECTIONS:
        missing = [s for s in SECTIONS if s not in found]
        what = f"missing section(s) {missing}" if missing else f"sections out of order: {found}"
        problems.append(f"{rel}: {what} (want {SECTIONS})")
    # The Synopsis: a C block with the #include of a header that declares fn, and fn's prototype.
    syn = re.search(r"^## Synopsis\n+```c\n(.*?)\n```", text, flags=re.S | re.M)
    if not syn:
        problems.append(f"{rel}: Synopsis must open with a ```c code block")
    else:
        incs = set(re.findall(r"#include <demi/([\w.]+)>", syn.group(1)))
        if HEADERS.get(fn) and not incs & HEADERS[fn]:
            problems.append(f"{rel}: Synopsis includes none of the headers declaring {fn}: {sorted(HEADERS[fn])}")
        if not re.search(r"\b" + fn + r"\s*\(", syn.group(1)):
            problems.append(f"{rel}: Synopsis lacks the prototype of {fn}")
    # The Errors table.
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "## Errors")
    except StopIteration:
        return
    table = []
    i = start + 1
    while i < len(lines) and not lines[i].startswith("## "):
        if lines[i].startswith("|"):
            table.append((i + 1, lines[i]))
        i += 1
    if len(table) < 3:
        problems.append(f"{rel}: Errors: a table with a header, a separator and at least one row is required")
        return
    if not TABLE_HEADER.match(table[0][1]):
        problems.append(f"{rel}:{table[0][0]}: Errors table header must be '| errno | when | tested by |'")
    if not re.match(r"^\|\s*:?-+:?\s*\|\s*:?-+:?\s*\|\s*:?-+:?\s*\|\s*$", table[1][1]):
        problems.append(f"{rel}:{table[1][0]}: Errors table separator malformed")
    listed = set()
    for lineno, row in table[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
        if len(cells) != 3:
            problems.append(f"{rel}:{lineno}: Errors row must have 3 cells, has {len(cells)}")
            continue
        e, when, by = cells
        m = ERRNO_CELL.match(e)
        if not m:
            problems.append(f"{rel}:{lineno}: errno cell '{e}' is not an errno name (or 'none')")
        elif m.group(1) != "none":
            if not hasattr(errno_mod, m.group(1)):
                problems.append(f"{rel}:{lineno}: '{m.group(1)}' is not an errno")
            listed.add(m.group(1))
        if not when:
            problems.append(f"{rel}:{lineno}: empty 'when'")
        by = by.strip("`").strip()
        if by.startswith("untestable:"):
            if len(by[len("untestable:"):].strip()) < 5:
                problems.append(f"{rel}:{lineno}: untestable needs a reason")
            continue
        for ref in [r.strip().strip("`") for r in by.split(",")]:
            t = TEST_REF.match(ref)
            if not t:
                problems.append(f"{rel}:{lineno}: tested by '{ref}' is neither suite::test nor 'untestable: why'")
            elif (t.group(1), t.group(2)) not in tests:
                problems.append(f"{rel}:{lineno}: tested by '{ref}': no such test in tests/")
    for e in sorted(header_errs - listed):
        problems.append(f"{rel}: the header names {e} for {fn} but the Errors table does not")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--lib", help="built libdemi.so: its exported demi_* functions need pages too")
    ap.add_argument("--build", help="build directory: meson tests may be cited as suite::name")
    ap.add_argument("--doc", help="page directory (default ROOT/doc/api)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    doc = args.doc or os.path.join(root, "doc", "api")

    funcs = header_functions(root)
    problems = []
    if args.lib:
        for fn in sorted(library_functions(args.lib) - set(funcs)):
            problems.append(f"{args.lib}: exports {fn}, which no header under include/demi declares")
            funcs[fn] = set()
    tests = criterion_tests(root)
    if args.build:
        tests |= meson_tests(args.build)

    index = os.path.join(doc, "README.md")
    index_text = open(index, encoding="utf-8").read() if os.path.exists(index) else ""
    if not index_text:
        problems.append(f"{index}: missing")
    for fn in sorted(funcs):
        page = os.path.join(doc, fn + ".md")
        if not os.path.exists(page):
            problems.append(f"{fn}: no page {os.path.relpath(page, root)}")
            continue
        if f"({fn}.md)" not in index_text:
            problems.append(f"{os.path.relpath(index, root)}: no link to {fn}.md")
        check_page(page, fn, tests, problems, funcs[fn])
    for name in sorted(os.listdir(doc)) if os.path.isdir(doc) else []:
        if name.endswith(".md") and name != "README.md" and name[:-3] not in funcs:
            problems.append(f"{name}: a page for {name[:-3]}, which no header declares")
    for p in problems:
        print(p)
    if problems:
        print(f"check_api_doc: {len(problems)} problem(s)")
        return 1
    print(f"check_api_doc: ok ({len(funcs)} functions, {len(tests)} tests known)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
