"""The markdown table of docs/forecasting.md from run.sh's output: per series
naive, seasonal naive, AR(p), the network per seed and its mean, interval
coverage, the best ARIMA, and the two verdicts. usage: python table.py DIR
[LIST] (run from anywhere; reads DIR/arima.out and DIR/eval-NAME-COLUMN-S.json
for the series of LIST, default series.txt)"""
import json
import os
import statistics as st
import sys

d = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
ar = {(j["series"], j["column"]): j for j in map(json.loads, open(os.path.join(d, "arima.out")))}
g = lambda v: f"{v:.4g}"
beat_arima = beat_naive = n = 0
for line in open(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "series.txt")):
    name, col, test, _ = line.split()
    r = [json.load(open(os.path.join(d, f"eval-{name}-{col}-{s}.json"))) for s in range(1, 6)]
    a = ar[(name, col)]
    naive, m, arm = r[0]["naive_rmse"], st.mean(x["rmse"] for x in r), a["arima_rmse"]
    order = f"({','.join(map(str, a['order']))})"
    if a["season"] > 1:
        order += f"({','.join(map(str, a['seasonal']))},{a['season']})"
    cov = sorted({round(100 * x["coverage"]) for x in r})
    covs = f"{cov[0]} %" if len(cov) == 1 else f"{cov[0]}-{cov[-1]} %"
    sn = g(r[0]["seasonal_naive_rmse"]) if r[0]["season"] > 1 else "-"
    every, beats = all(x["rmse"] < naive for x in r), m < arm
    beat_arima += beats
    beat_naive += every
    n += 1
    bt = "**yes**" if beats else "no (by %.1f %%)" % (100 * (m / arm - 1))
    ev = "yes" if every else "**no**"
    print(f"| {name} {col} ({test}) | {g(naive)} | {sn} | {g(r[0]['ar_rmse'])} | "
          f"{', '.join(g(x['rmse']) for x in r)} | **{g(m)}** | {covs} | {order} {g(arm)} | {ev} | {bt} |")
print(f"mean beats the ARIMA on {beat_arima} of {n}; every seed beats naive on {beat_naive} of {n}")
