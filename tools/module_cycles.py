#!/usr/bin/env python3
"""Counts import cycles between the files of `src/`: which modules `use` (or name by a
`crate::`/`super::` path) which, and the strongly connected components of that graph
with more than one file. A component is a knot: every file in it reaches every other.

    python3 tools/module_cycles.py          # components and their files
    python3 tools/module_cycles.py --edges  # also each component's edges

A file's `#[cfg(test)] mod tests` is left out (tests may reach anywhere). Parent-to-child
`mod` declarations are not edges; a parent's own code naming a child is. Paths are
matched to the deepest module that exists, so `crate::db::ids::ContactId` is an edge to
`db::ids`. A rough reading of Rust (no macros expanded), good enough to count knots.
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text: str) -> str:
    cut = re.search(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    return [p for item in items if item for p in expand(prefix + item)]


def resolve(segments: list, here: tuple, modules: set):
    if not segments:
        return None
    head, rest = segments[0], segments[1:]
    if head == "crate":
        base = ()
    elif head == "super":
        base = here[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif head == "self":
        base = here
    elif here + (head,) in modules:
        base, rest = here + (head,), rest
    else:
        return None
    best = base
    for seg in rest:
        if best + (seg,) in modules:
            best = best + (seg,)
        else:
            break
    return best


def graph():
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_of(f) for f in files}
    edges = {m: set() for m in modules}
    for f in files:
        here = module_of(f)
        text = strip(f.read_text())
        paths = []
        for use in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand(re.sub(r"\bas\s+\w+", "", use.group(1)))
        text = re.sub(r"\buse\s+[^;]+;", "", text)
        paths += re.findall(r"\b(?:crate|super)(?:::\w+)+", text)
        # A parent naming its child in code (`routes::configure`); `crate::` and
        # `super::` paths were taken whole above.
        paths += [p for p in re.findall(r"(?<![:\w])\w+(?:::\w+)+", text)
                  if p.split("::")[0] not in ("crate", "super", "self")]
        for p in paths:
            target = resolve(p.split("::"), here, modules)
            if target is not None and target != here and target != ():
                edges[here].add(target)
    return edges


def components(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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
            out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def name(m):
    return "::".join(m) or "crate"


def main():
    edges = graph()
    knots = components(edges)
    outside = [c for c in knots if not all(m[:1] == ("actors",) for m in c)]
    print(f"{len(knots)} cycle(s) (strongly connected components), "
          f"{sum(len(c) for c in knots)} files in them; {len(outside)} reach outside src/actors/")
    for c in sorted(knots, key=len, reverse=True):
        members = set(c)
        print(f"- {len(c)} files: " + ", ".join(sorted(name(m) for m in c)))
        if "--edges" in sys.argv:
            for m in sorted(c):
                inside = sorted(name(t) for t in edges[m] if t in members)
                print(f"    {name(m)} -> {', '.join(inside)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
