#!/usr/bin/env python3
"""Find import cycles between the modules of a crate's src/ tree.

Usage: scripts/module_cycles.py [SRC]   (default: src); exits 1 if any cycle.

Why: issue 23 asks that no module import another in a circle. A module is a
file (`a/b.rs` or `a/b/mod.rs` is `a::b`); it depends on a module it names in
code (`use`, or a path `crate::a::b::..` / `super::b::..`), comments excluded.
A module's own children (`a::b::tests`) count as part of it, and a parent
naming a child (re-exports in mod.rs) is the usual layering, not a cycle, so
only edges between modules that are not ancestor and descendant count.
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)")


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def code_of(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    mods = {}
    for d, _, files in os.walk(src):
        for f in files:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                mods[module_of(src, p)] = p
    # Inline `mod tests {}` and unit-test files are part of their parent.
    known = set(mods)

    def resolve(cur, is_mod_file, kind, segs):
        if kind == "crate":
            base = []
        elif kind == "self":
            base = list(cur)
        else:
            base = list(cur[:-1])
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
        full = base + segs
        while full and tuple(full) not in known:
            full = full[:-1]
        return tuple(full)

    edges = {m: set() for m in mods}
    for m, p in mods.items():
        with open(p, encoding="utf-8") as f:
            code = code_of(f.read())
        is_mod = os.path.basename(p) in ("mod.rs", "lib.rs", "main.rs")
        for kind, rest in PATH.findall(code):
            segs = [s for s in rest.split("::") if s]
            cur = m + ("_",) if (is_mod and kind == "super") else m
            if is_mod and kind == "self":
                cur = m
            t = resolve(cur, is_mod, kind, segs)
            if not t or t == m:
                continue
            if t[: len(m)] == m or m[: len(t)] == t:
                continue  # ancestor/descendant
            if m and m[-1] in ("tests",) or "tests" in m:
                continue  # test modules may reach anywhere
            edges[m].add(t)
    # Collapse onto sibling pairs: a cycle among files in one directory.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in list(edges):
        if v not in index:
            strong(v)
    for comp in out:
        names = sorted("::".join(c) for c in comp)
        print("cycle:", ", ".join(names))
        for c in sorted(comp):
            for t in sorted(edges[c] & set(comp)):
                print(f"    {'::'.join(c)} -> {'::'.join(t)}")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
