#!/usr/bin/env python3
"""Summarises bench/shapes.sh logs: per shape, cell and thread count, the
ratios rnn / torch of training and inference tokens/s, median and range over
the logs given.

Usage: python3 bench/shapes_table.py bench/results/shapes-*.log
"""
import re, statistics as st, sys

def parse(f):
    d = {}
    for l in open(f):
        m = re.match(r"(torch|rnn) threads=(\d+)(?: cell=(\w+))? custom B=(\d+) V=(\d+) H=(\d+) T=(\d+)(.*?) train_tok_s=(\d+) infer_tok_s=(\d+)", l)
        if not m:
            continue
        p, t, c1, b, v, h, steps, mid, tr, inf = m.groups()
        c2 = re.search(r"cell=(\w+)", mid)
        cell = (c1 or (c2.group(1) if c2 else None) or "elman").replace("rnn", "elman")
        d[(p, cell, int(t), int(b), int(h), int(steps))] = (int(tr), int(inf))
    return d

runs = [parse(f) for f in sys.argv[1:]]
keys = sorted({k[1:] for r in runs for k in r if k[0] == "rnn"}, key=lambda k: (k[2], k[3], k[4], k[0], k[1]))
fmt = lambda v: f"{st.median(v):.2f}x" + (f" ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else "")
print("| B | H | T | cell | threads | train | infer | rnn train tok/s | rnn infer tok/s |")
print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for cell, t, b, h, steps in keys:
    tr, inf, ours = [], [], []
    for r in runs:
        a, p = r.get(("rnn", cell, t, b, h, steps)), r.get(("torch", cell, t, b, h, steps))
        if a and p:
            tr.append(a[0] / p[0]); inf.append(a[1] / p[1]); ours.append(a)
    if tr:
        print(f"| {b} | {h} | {steps} | {cell} | {t} | {fmt(tr)} | {fmt(inf)} | "
              f"{st.median(x[0] for x in ours):.0f} | {st.median(x[1] for x in ours):.0f} |")
