#!/usr/bin/env python3
"""Self-test of scripts/check_api_doc.py: it passes on the tree's doc/api and fails on each kind of fault."""
import os
import shutil
import subprocess
import sys
import tempfile

root = os.path.abspath(sys.argv[1])
build = sys.argv[2] if len(sys.argv) > 2 else None
script = os.path.join(root, "scripts", "check_api_doc.py")


def run(doc):
    args = [sys.executable, script, "--root", root, "--doc", doc]
    if build:
        args += ["--build", build]
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout


def mutate(name, edit, want):
    with tempfile.TemporaryDirectory() as t:
        doc = os.path.join(t, "api")
        shutil.copytree(os.path.join(root, "doc", "api"), doc)
        edit(doc)
        rc, out = run(doc)
        if rc == 0 or want not in out:
            print(f"FAIL {name}: rc {rc}, want '{want}' in:\n{out}")
            return False
        print(f"ok {name}")
        return True


def sub(page, old, new):
    def edit(doc):
        p = os.path.join(doc, page)
        s = open(p, encoding="utf-8").read()
        assert old in s, (page, old)
        open(p, "w", encoding="utf-8").write(s.replace(old, new, 1))
    return edit


rc, out = run(os.path.join(root, "doc", "api"))
ok = rc == 0
print(("ok" if ok else "FAIL") + " the tree's pages pass\n" + out)
ok &= mutate("missing page", lambda d: os.remove(os.path.join(d, "demi_pop.md")), "demi_pop: no page")
ok &= mutate("bogus test", sub("demi_push.md", "push::bad_qd_ebadf", "push::no_such_test"),
             "'push::no_such_test': no such test")
ok &= mutate("missing section", sub("demi_wait.md", "## Limits\n", "## Limitz\n"), "missing section(s) ['Limits']")
ok &= mutate("bad table header", sub("demi_close.md", "| errno | when | tested by |", "| errno | when |"),
             "Errors table header")
ok &= mutate("header errno missing", sub("demi_close.md", "| EBADF |", "| EPERM |"),
             "the header names EBADF for demi_close")
ok &= mutate("untestable without reason", sub("demi_queue.md",
             "untestable: needs the allocator to fail; no fault injection in the public build |", "untestable: |"),
             "untestable needs a reason")
ok &= mutate("unindexed page", sub("README.md", "(demi_wait_any.md)", "(nowhere.md)"), "no link to demi_wait_any.md")
ok &= mutate("synopsis without the header", sub("demi_netstats.md", "#include <demi/netstats.h>", "#include <demi/libos.h>"),
             "Synopsis includes none of the headers")
sys.exit(0 if ok else 1)
