#!/usr/bin/env python3
"""Checks that every code quote of doc/guide.md still matches the file it names.

A quote is a fenced block right after a line "From [PATH](../PATH):". Its lines
(leading and trailing blanks ignored) must appear in PATH as consecutive lines;
a line "..." in a quote separates pieces that must appear in that order.
Exit 0 when every quote matches, 1 with the quote and file otherwise.
"""
import re
import sys
from pathlib import Path


def pieces(block):
    out, cur = [], []
    for line in block:
        if line.strip() == "...":
            out.append(cur)
            cur = []
        else:
            cur.append(line.strip())
    out.append(cur)
    return [p for p in out if p]


def find(lines, piece, start):
    for i in range(start, len(lines) - len(piece) + 1):
        if lines[i:i + len(piece)] == piece:
            return i + len(piece)
    return -1


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    guide = (root / "doc" / "guide.md").read_text().splitlines()
    errors, quotes = [], 0
    i = 0
    while i < len(guide):
        m = re.match(r"From \[([^\]]+)\]\(\.\./([^)]+)\):\s*$", guide[i])
        if not m:
            i += 1
            continue
        path = m.group(2)
        if i + 1 >= len(guide) or not guide[i + 1].startswith("```"):
            errors.append(f"doc/guide.md:{i + 1}: 'From {path}:' is not followed by a code block")
            i += 1
            continue
        end = i + 2
        while end < len(guide) and not guide[end].startswith("```"):
            end += 1
        block = guide[i + 2:end]
        quotes += 1
        src = root / path
        if not src.is_file():
            errors.append(f"doc/guide.md:{i + 1}: {path} does not exist")
        else:
            lines = [l.strip() for l in src.read_text().splitlines()]
            pos = 0
            for piece in pieces(block):
                pos = find(lines, piece, pos)
                if pos < 0:
                    errors.append(f"doc/guide.md:{i + 3}: the quote no longer matches {path}:\n  "
                                  + "\n  ".join(piece))
                    break
        i = end + 1
    for e in errors:
        print(e)
    if quotes == 0:
        print("doc/guide.md: no quotes found")
        return 1
    print(f"doc/guide.md: {quotes} quotes checked, {len(errors)} out of date")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
