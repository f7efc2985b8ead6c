#!/usr/bin/env python3
"""Summarises bench/compare.sh logs: medians over runs and per-run ratios.

Usage: python3 bench/table.py bench/results/compare-*.log
       python3 bench/table.py --cells bench/results/cells-*.log   (one table per cell)
       python3 bench/table.py --compact bench/results/issue17-*.log (one row per cell
           and thread count: the ratios rnn / torch, median and range, train and infer)
"""
import re,sys,statistics as st
args=sys.argv[1:]
compact=args[:1]==["--compact"]
if compact: args=args[1:]
cells=args[:1]==["--cells"]
if cells: args=args[1:]
cells=cells or compact
packed=args[:1]==["--packed"]
if packed: args=args[1:]

def parse(f,cell):
    d={}
    lines=open(f).read().split("# peak memory")[0].splitlines()
    for l in lines:
        # rnn: "rnn threads=1 M B=.. [cell=lstm] [lengths=packed] ... train_tok_s=.."
        # torch_rnn.py: "torch threads=1 cell=lstm[ packed] M B=.. train_tok_s=.."
        m=re.match(r"(torch|rnn)(?: cell=(\w+))? threads=(\d)(?: cell=(\w+))?( packed)? (\w) (.*?)train_tok_s=(\d+) infer_tok_s=(\d+)(?: train_gflops=([\d.]+))?",l)
        if m:
            p,c1,t,c3,pk,c,mid,tr,inf,gf=m.groups()
            c2=re.search(r"cell=(\w+)",mid)
            c2=c2.group(1) if c2 else None
            if (c1 or c2 or c3 or "elman").replace("rnn","elman")!=cell: continue
            if bool(pk or "lengths=packed" in mid)!=packed: continue
            d[(p,int(t),c)]=(int(tr),int(inf),float(gf) if gf else None)
    return d

if compact:
  print("| cell | threads | S train | S infer | M train | M infer | L train | L infer |")
  print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  rng=lambda v: f"{st.median(v):.2f}x ({min(v):.2f}–{max(v):.2f})"
  for cell in ["elman","lstm","gru"]:
    runs=[parse(f,cell) for f in args]
    for t in (1,2):
      row=[]
      for c in "SML":
        if not all(("torch",t,c) in r and ("rnn",t,c) in r for r in runs): row+=["",""]; continue
        for k in (0,1): row.append(rng([r[("rnn",t,c)][k]/r[("torch",t,c)][k] for r in runs]))
      if any(row): print(f"| {cell} | {t} | "+" | ".join(row)+" |")
  sys.exit(0)

for cell in (["elman","lstm","gru"] if cells else ["elman"]):
  runs=[parse(f,cell) for f in args]
  if cells: print(f"\n{cell}:\n")
  print("| threads | config | torch train tok/s | rnn train tok/s | train ratio | torch infer tok/s | rnn infer tok/s | infer ratio | rnn train GFLOP/s |")
  print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  for t in (1,2):
   for c in "SML":
    if not all(("torch",t,c) in r and ("rnn",t,c) in r for r in runs): continue
    tt=[r[("torch",t,c)][0] for r in runs]; rt=[r[("rnn",t,c)][0] for r in runs]
    ti=[r[("torch",t,c)][1] for r in runs]; ri=[r[("rnn",t,c)][1] for r in runs]
    gf=[r[("rnn",t,c)][2] for r in runs]
    rr=[a/b for a,b in zip(rt,tt)]; ri_=[a/b for a,b in zip(ri,ti)]
    f=lambda v: f"{st.median(v)/1000:.1f}k"
    rng=lambda v: f"{st.median(v):.2f}x ({min(v):.2f}–{max(v):.2f})"
    print(f"| {t} | {c} | {f(tt)} | {f(rt)} | {rng(rr)} | {f(ti)} | {f(ri)} | {rng(ri_)} | {st.median(gf):.1f} ({min(gf):.1f}–{max(gf):.1f}) |")
