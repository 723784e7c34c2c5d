#!/usr/bin/env python3
"""benches/flamegraph.py - flame graphs from `perf script`, without a dependency.

    perf script -F comm,tid,period,ip,sym,dso -i perf.data | flamegraph.py fold > stacks.folded
    flamegraph.py svg stacks.folded --title "urpd, REGISTER 8,000/s" > flame.svg
    flamegraph.py top stacks.folded [N]      # the N widest frames, inclusive and self

`benches/profile.sh SCEN RATE SECS flame` runs all three for one server under one load
(SERVER=kamailio for Kamailio under the same load): the two servers' graphs side by side show
where each spends its CPU, with the kernel's frames told apart from the server's own.

Why not inferno or Brendan Gregg's scripts: neither is a Debian package, and this is all the
bench needs. Folding follows stackcollapse-perf: one line per distinct stack, root first,
frames joined by ';', then the sample weight (perf's period, so that samples of different
rates add up). Rust symbols lose their `::h<hash>` suffix; an unknown frame keeps its object's
name (`[unknown] (libc.so.6)`), which says more than a bare `[unknown]`.

The SVG is static (a `<title>` on every frame is its tooltip: name, share, samples), frames
narrower than --min-width pixels are left out (with their subtrees) to keep the file small,
and colours tell the kernel (orange, `_[k]`), urpd's own code (green), the C library and the
allocator (blue) and the rest (yellow: Kamailio's code, tokio, std) apart.
"""
import argparse
import collections
import html
import re
import sys

# perf script's sample header: "comm tid period:" or "comm tid period event:"; the comm may
# hold spaces (thread names), so the numbers are found from the right.
HEADER = re.compile(r"^(?P<comm>\S.*?)\s+(?P<tid>\d+)\s+(?P<period>\d+):?(?:\s+\S+:?)?\s*$")
# a frame: "\t    7f3a2b1c sym (dso)"; the symbol may hold spaces and parentheses (Rust's
# `<T as Trait>::f`, C++), the object is the last parenthesised part
FRAME = re.compile(r"^\s+(?P<ip>[0-9a-fA-F]+)\s+(?P<sym>.*?)\s+\((?P<dso>[^()]*)\)\s*$")
RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
OFFSET = re.compile(r"\+0x[0-9a-f]+$")


def clean(sym, dso):
    """The frame's name as the graph shows it."""
    sym = OFFSET.sub("", sym.strip())
    sym = RUST_HASH.sub("", sym)
    if not sym or sym == "[unknown]":
        base = dso.rsplit("/", 1)[-1] if dso else "?"
        return f"[unknown] ({base})"
    # ';' separates frames in the folded format; `_[k]` marks the kernel's, as
    # stackcollapse-perf's --kernel does
    kernel = dso.startswith("[kernel") or "kallsyms" in dso or dso.endswith(".ko")
    return sym.replace(";", ":") + ("_[k]" if kernel else "")


def fold(lines):
    """perf script text -> {stack (root first, ';'-joined): weight}."""
    stacks = collections.Counter()
    comm, period, frames = None, 0, []

    def flush():
        if comm is not None:
            stacks[";".join([comm] + frames[::-1])] += period or 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, period, frames = None, 0, []
            continue
        if not line[0].isspace():
            flush()
            m = HEADER.match(line)
            comm, period, frames = (m.group("comm").replace(";", ":"), int(m.group("period")), []) if m else (None, 0, [])
            continue
        m = FRAME.match(line)
        if m and comm is not None:
            frames.append(clean(m.group("sym"), m.group("dso")))
    flush()
    return stacks


def read_folded(lines):
    stacks = collections.Counter()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        try:
            stacks[stack] += int(n)
        except ValueError:
            continue
    return stacks


class Node:
    __slots__ = ("name", "total", "children")

    def __init__(self, name):
        self.name, self.total, self.children = name, 0, {}


def tree(stacks):
    root = Node("all")
    for stack, n in stacks.items():
        root.total += n
        node = root
        for f in stack.split(";"):
            node = node.children.setdefault(f, Node(f))
            node.total += n
    return root


def colour(name):
    """Orange for the kernel, green for urpd's code, blue for libc and the allocator."""
    h = sum(name.encode()) % 40
    if name.endswith("_[k]"):
        return f"rgb({220 + h % 30},{110 + h},40)"
    if "urpd::" in name:
        return f"rgb({60 + h},{170 + h},70)"
    if name.startswith(("_mi", "mi_", "__mem", "__libc", "malloc", "free", "_int_", "[unknown] (libc")):
        return f"rgb({80 + h},{130 + h},210)"
    return f"rgb({220 + h % 30},{200 + h % 40},70)"


def svg(stacks, title, width=1200, frame_h=16, min_width=0.1):
    root = tree(stacks)
    if root.total == 0:
        raise ValueError("no samples")
    rows = []  # (depth, x, w, name, total)

    def walk(node, depth, x):
        for child in sorted(node.children.values(), key=lambda c: c.name):
            w = child.total / root.total * (width - 20)
            if w >= min_width:
                rows.append((depth, x, w, child.name, child.total))
                walk(child, depth + 1, x)
            x += w

    rows.append((0, 10.0, width - 20.0, "all", root.total))
    walk(root, 1, 10.0)
    depth = max(r[0] for r in rows) + 1
    height = depth * frame_h + 60
    out = [
        f'<?xml version="1.0" standalone="no"?>\n<svg version="1.1" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="Verdana, sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f0"/>',
        f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="15">{html.escape(title)}</text>',
        f'<text x="10" y="{height - 10}" font-size="10">{root.total:,} weight in all; frames under {min_width} px left out; '
        "orange kernel, green urpd, blue libc and allocator</text>",
    ]
    for d, x, w, name, total in rows:
        y = height - 30 - (d + 1) * frame_h
        pct = 100.0 * total / root.total
        label = html.escape(f"{name} ({pct:.2f}%, {total:,})")
        out.append(f'<g><title>{label}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{frame_h - 1}" '
                   f'fill="{colour(name) if d else "rgb(200,200,200)"}" rx="2"/>')
        chars = int(w / 7)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            out.append(f'<text x="{x + 3:.1f}" y="{y + frame_h - 4}">{html.escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def top(stacks, n=25):
    """The n frames with the most inclusive weight (each counted once per stack), with self."""
    incl, self_ = collections.Counter(), collections.Counter()
    total = sum(stacks.values())
    for stack, w in stacks.items():
        frames = stack.split(";")[1:]  # without the comm
        for f in dict.fromkeys(frames):  # once per stack, in stack order (ties sort stably)
            incl[f] += w
        if frames:
            self_[frames[-1]] += w
    lines = [f"{'inclusive':>9} {'self':>7}  frame"]
    for f, w in incl.most_common(n):
        lines.append(f"{100 * w / total:8.2f}% {100 * self_[f] / total:6.2f}%  {f}")
    return "\n".join(lines) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fold", help="perf script text on stdin -> folded stacks on stdout")
    s = sub.add_parser("svg", help="folded stacks -> SVG on stdout")
    s.add_argument("folded")
    s.add_argument("--title", default="flame graph")
    s.add_argument("--width", type=int, default=1200)
    s.add_argument("--min-width", type=float, default=0.1)
    t = sub.add_parser("top", help="the widest frames of folded stacks")
    t.add_argument("folded")
    t.add_argument("n", nargs="?", type=int, default=25)
    a = ap.parse_args(argv)
    if a.cmd == "fold":
        for stack, n in sorted(fold(sys.stdin).items()):
            sys.stdout.write(f"{stack} {n}\n")
        return 0
    with open(a.folded) as f:
        stacks = read_folded(f)
    if not stacks:
        print(f"{a.folded}: no stacks", file=sys.stderr)
        return 1
    if a.cmd == "svg":
        sys.stdout.write(svg(stacks, a.title, a.width, min_width=a.min_width))
    else:
        sys.stdout.write(top(stacks, a.n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
