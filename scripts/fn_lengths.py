#!/usr/bin/env python3
"""List Rust functions by length (lines from `fn` to its closing brace), longest first.

Usage: scripts/fn_lengths.py [--min N] [PATH ...]   (default: src, --min 0)

Why a script: issue 23 asks that no function in src/ be over ~80 lines; this
checks it without a compiler plugin. It tracks braces outside strings, chars
and comments, which is enough for rustfmt-formatted code.
"""
import argparse
import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip(line, in_block):
    """`line` without comments, string and char literal contents; tracks /* */."""
    out, i, n = [], 0, len(line)
    while i < n:
        if in_block:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out), True
            i, in_block = j + 2, False
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            in_block, i = True, i + 2
            continue
        if c == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            out.append('""')
            i = j + 1
            continue
        if c == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out), in_block


def functions(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    # Raw strings spanning lines are rare in src/; treat them as code.
    stack, in_block, depth = [], False, 0
    for no, line in enumerate(lines, 1):
        code, in_block = strip(line, in_block)
        m = FN.match(code)
        if m:
            stack.append([m.group(7), no, depth, False])
        for ch in code:
            if ch == "{":
                depth += 1
                if stack and not stack[-1][3]:
                    stack[-1][3] = True
            elif ch == "}":
                depth -= 1
                if stack and stack[-1][3] and depth == stack[-1][2]:
                    name, start, _, _ = stack.pop()
                    yield name, start, no - start + 1
            elif ch == ";" and stack and not stack[-1][3] and depth == stack[-1][2]:
                stack.pop()  # a declaration without a body (trait method)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", type=int, default=0)
    ap.add_argument("paths", nargs="*", default=["src"])
    args = ap.parse_args()
    found = []
    for root in args.paths:
        walk = [(root, [], [root])] if os.path.isfile(root) else os.walk(root)
        for d, _, files in walk:
            for name in files:
                p = name if os.path.isfile(root) else os.path.join(d, name)
                if p.endswith(".rs"):
                    found += [(n, p, s, length) for n, s, length in functions(p) if length >= args.min]
    for name, p, start, length in sorted(found, key=lambda x: -x[3]):
        print(f"{length:5d}  {p}:{start}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
