#!/usr/bin/env python3
"""One README row per set from run.sh's output directory (eval-NAME-S.json,
train-NAME-S.err): test accuracy per seed, mean and sd, the baselines, the
margin over the better 1-NN and the wall/CPU time of each training.
usage: table.py OUTDIR NAME..."""
import json, re, statistics, sys

out = sys.argv[1]
for name in sys.argv[2:]:
    acc, walls, users, base = [], [], [], None
    for s in range(1, 6):
        d = json.load(open(f"{out}/eval-{name}-{s}.json"))
        acc.append(100 * d["accuracy"])
        base = (d["nn_dtw_accuracy"], d["nn_euclidean_accuracy"], d["majority_accuracy"])
        t = open(f"{out}/train-{name}-{s}.err").read()
        m = re.search(r"([0-9.]+) s wall, ([0-9.]+) s user", t)
        walls.append(float(m.group(1)))
        users.append(float(m.group(2)))
    dtw, ed, maj = (None if b is None else 100 * b for b in base)
    best = max(b for b in (dtw, ed) if b is not None)
    mean = statistics.mean(acc)
    sd = statistics.pstdev(acc)
    fmt = lambda v: "-" if v is None else f"{v:.2f} %"
    print(f"| {name} | {', '.join(f'{a:.2f}' for a in acc)} | **{mean:.2f} %** (sd {sd:.2f}) "
          f"| {fmt(maj)} | {fmt(ed)} | {fmt(dtw)} | {mean - best:+.2f} "
          f"| {min(walls):.0f}-{max(walls):.0f} s ({min(users):.0f}-{max(users):.0f} s) |")
