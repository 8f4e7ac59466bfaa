#!/usr/bin/env python3
"""Tests scripts/check_includes.py on tiny synthetic trees: what it must report, and what it must let pass."""
import os
import subprocess
import sys
import tempfile
import unittest

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "check_includes.py")

# A tree that fits the tiers: runtime below the inetstack, protocols in order, input handing packets up.
CLEAN = {
    "include/demi/types.h": "typedef int demi_x;\n",
    "src/runtime/rt.h": '#include "../../include/demi/types.h"\nint rt_init(void);\n',
    "src/runtime/rt.c": '#include "rt.h"\nint rt_init(void) { return 0; }\n',
    "src/runtime/log.h": "void log_msg(const char *m);\n",
    "src/runtime/log.c": '#include "log.h"\n#include "rt.h"\nvoid log_msg(const char *m) { (void)m; rt_init(); }\n',
    "src/inetstack/inet_priv.h": '#include "../runtime/rt.h"\nint inet_tx_enqueue(int p);\n',
    "src/inetstack/inet_tx.c": '#include "inet_priv.h"\nint inet_tx_enqueue(int p) { return p; }\n',
    "src/inetstack/ipv4/ipv4.h": "int ipv4_input(int p);\nint ipv4_output(int p);\n",
    "src/inetstack/ipv4/ipv4_in.c": '#include "ipv4.h"\n#include "../tcp/tcp.h"\n'
                                    "int ipv4_input(int p) { return tcp_input(p); }\n",
    "src/inetstack/ipv4/ipv4_out.c": '#include "ipv4.h"\n#include "../inet_priv.h"\n'
                                     "int ipv4_output(int p) { return inet_tx_enqueue(p); }\n",
    "src/inetstack/tcp/tcp.h": "int tcp_input(int p);\n",
    "src/inetstack/tcp/tcp_in.c": '#include "tcp.h"\n#include "../ipv4/ipv4.h"\n'
                                  "/* tcp_input answers through ipv4_output: the allowed reply edge */\n"
                                  'int tcp_input(int p) { const char *s = "ipv4_input"; (void)s; return ipv4_output(p); }\n',
    "src/inetstack/inet.c": '#include "ipv4/ipv4.h"\nint inet_poll(void) { return ipv4_input(0); }\n',
}


def run(files, *args):
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        extra = []
        for a in args:
            if isinstance(a, dict):  # a file to write: {"name": text}, passed by its path
                (name, text), = a.items()
                path = os.path.join(root, name)
                with open(path, "w") as f:
                    f.write(text)
                extra.append(path)
            else:
                extra.append(a)
        p = subprocess.run([sys.executable, CHECKER, "--root", root] + extra, capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr


class CheckIncludes(unittest.TestCase):
    def test_clean_tree_passes(self):
        rc, out = run(CLEAN)
        self.assertEqual(rc, 0, out)
        self.assertIn("0 violations", out)

    def test_upward_include_across_tiers(self):
        tree = dict(CLEAN)
        tree["src/libos/libos.h"] = "int libos_poll(void);\n"
        tree["src/runtime/rt.c"] = '#include "rt.h"\n#include "../libos/libos.h"\nint rt_init(void) { return 0; }\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/runtime/rt.c:2: includes "../libos/libos.h"', out)
        self.assertIn("tier runtime may not reach up to tier libos", out)

    def test_upward_use_without_include(self):
        # A call into a higher tier through a local declaration is as upward as an include.
        tree = dict(CLEAN)
        tree["src/api/api.c"] = "int demi_x_api(void) { return 0; }\n"
        tree["src/runtime/rt.c"] = '#include "rt.h"\nint demi_x_api(void);\nint rt_init(void) { return demi_x_api(); }\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/runtime/rt.c:2: uses demi_x_api", out)
        self.assertIn("tier runtime may not reach up to tier api", out)

    def test_upward_include_inside_inetstack(self):
        tree = dict(CLEAN)
        tree["src/inetstack/inet_tx.c"] = '#include "inet_priv.h"\n#include "tcp/tcp.h"\nint inet_tx_enqueue(int p) { return p; }\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("inet_tx may not reach up to tcp", out)

    def test_struct_inet_composes_state_headers_only(self):
        # inet_priv.h may include a protocol's state header <p>/<p>.h (struct inet holds it by value)...
        tree = dict(CLEAN)
        tree["src/inetstack/inet_priv.h"] = '#include "../runtime/rt.h"\n#include "tcp/tcp.h"\nint inet_tx_enqueue(int p);\n'
        rc, out = run(tree)
        self.assertEqual(rc, 0, out)
        # ...but not its private header.
        tree["src/inetstack/tcp/tcp_priv.h"] = "int tcp_private(int p);\n"
        tree["src/inetstack/inet_priv.h"] = '#include "../runtime/rt.h"\n#include "tcp/tcp_priv.h"\nint inet_tx_enqueue(int p);\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("inet_tx may not reach up to tcp", out)

    def test_config_rows_are_the_config_module(self):
        # A subsystem's key table is listed by the runtime's config core: no upward use...
        tree = dict(CLEAN)
        tree["src/runtime/config_schema.h"] = "struct cfg_table { int n; };\n"
        tree["src/runtime/config.c"] = ('#include "config_schema.h"\nextern const struct cfg_table cfg_tcp_table;\n'
                                        "const struct cfg_table *const cfg_tables[] = { &cfg_tcp_table };\n")
        tree["src/inetstack/tcp/tcp_config.c"] = ('#include "../../runtime/config_schema.h"\n'
                                                  "const struct cfg_table cfg_tcp_table = { 1 };\n")
        rc, out = run(tree)
        self.assertEqual(rc, 0, out)
        # ...and the table, being the runtime's, may not include its subsystem's headers.
        tree["src/inetstack/tcp/tcp_config.c"] = ('#include "../../runtime/config_schema.h"\n#include "tcp.h"\n'
                                                  "const struct cfg_table cfg_tcp_table = { 1 };\n")
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("tier runtime may not reach up to tier inetstack", out)

    def test_cycle_between_modules(self):
        # Two files of one tier calling each other through a shared header: no include shows it, the uses do.
        tree = dict(CLEAN)
        tree["src/runtime/pair.h"] = "void a_fn(void);\nvoid b_fn(void);\n"
        tree["src/runtime/a.c"] = '#include "pair.h"\nvoid a_fn(void) { b_fn(); }\n'
        tree["src/runtime/b.c"] = '#include "pair.h"\nvoid b_fn(void) {\n  a_fn();\n}\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("cycle between runtime/a, runtime/b", out)
        self.assertIn("src/runtime/a.c:2 uses b_fn", out)
        self.assertIn("src/runtime/b.c:3 uses a_fn", out)

    def test_protocol_cycle_not_allowlisted(self):
        # tcp -> ipv4 -> tcp is allowed only because ipv4 -> tcp is listed; tcp <-> udp (same level) is not.
        tree = dict(CLEAN)
        tree["src/inetstack/udp/udp.h"] = "int udp_input(int p);\n"
        tree["src/inetstack/udp/udp_in.c"] = '#include "udp.h"\n#include "../tcp/tcp.h"\nint udp_input(int p) { return tcp_input(p); }\n'
        tree["src/inetstack/tcp/tcp_out.c"] = '#include "../udp/udp.h"\nint tcp_out(int p) { return udp_input(p); }\n'
        rc, out = run(tree)
        self.assertEqual(rc, 1, out)
        self.assertIn("cycle between inetstack/tcp, inetstack/udp", out)
        self.assertNotIn("inetstack/ipv4, inetstack/tcp", out)

    def test_tags_and_fields_are_not_uses(self):
        # A struct tag or a field named like a function of a higher tier is no call into it.
        tree = dict(CLEAN)
        tree["src/api/stats.c"] = "struct demi_stats { int n; };\nint demi_stats(struct demi_stats *s) { return s->n; }\n"
        tree["src/runtime/rt.c"] = ('#include "rt.h"\nstruct demi_stats;\nstruct ops { int (*demi_stats)(void); };\n'
                                    "int rt_init(void) { struct ops o = { 0 }; struct demi_stats *p = 0; (void)p;"
                                    " return o.demi_stats ? 1 : 0; }\n")
        rc, out = run(tree)
        self.assertEqual(rc, 0, out)

    def test_known_violations_do_not_fail(self):
        tree = dict(CLEAN)
        tree["src/runtime/a.c"] = "void a_fn(void);\nvoid b_fn(void) {}\nvoid c_fn(void) { a_fn(); }\n"
        tree["src/runtime/b.c"] = "void b_fn(void);\nvoid a_fn(void) { b_fn(); }\n"
        rc, keys = run(tree, "--list-keys")
        self.assertEqual(keys.strip(), "cycle runtime/a runtime/b")
        rc, out = run(tree, "--allow-known", {"known.txt": "# today's\n" + keys + "upward-include gone.c -> x.h\n"})
        self.assertEqual(rc, 0, out)
        self.assertIn("known     cycle between runtime/a, runtime/b", out)
        self.assertIn("fixed     upward-include gone.c -> x.h", out)

    def test_dot(self):
        rc, out = run(CLEAN, "--dot")
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.startswith("digraph demi {"), out)
        self.assertIn('"inetstack/ipv4" -> "inetstack/tcp" [style=dashed, label="input"];', out)
        self.assertIn('subgraph "cluster_runtime"', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
