#!/usr/bin/env python3
"""Counts test cases over meson test logs: Criterion's own counts where a test is a
Criterion suite, one case per test program otherwise. Prints 'N passed, N failed'."""
import json
import re
import sys

SYNTHESIS = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f"test_summary: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        result = t.get("result")
        m = SYNTHESIS.search((t.get("stdout") or "") + (t.get("stderr") or ""))
        if result == "SKIP":
            skipped += 1
        elif m:
            tested, ok, bad, crashed = map(int, m.groups())
            passed += ok
            failed += bad + crashed
            if result != "OK" and bad + crashed == 0:
                failed += 1  # the program failed outside any test case
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
