# The choice between the defaults and the ARMA probe's pick by their backtests
# (probe-all.txt from probe_all.py, ours_bt.txt from ours_bt.py, both run in
# /tmp/s34/all, the 70 series' CSV files and lists): per margin, how many
# test blocks the choice wins against the best ARIMA and naive (the mean over
# seeds 1-5 for the defaults). usage: python3 pick_by_backtest.py
import re, math, os
here = os.path.dirname(os.path.abspath(__file__))
P = {}
for l in open(os.path.join(here, "probe-all.txt")):
    if " pick " not in l: continue
    x = l.split(); k, name = x[0], (x[1], x[2])
    num = lambda key: float(x[x.index(key) + 1])
    i = x.index("bt"); P[(k, name)] = dict(pick=float(x[i - 1]), bt=num("bt"), ours=num("ours"), arima=num("arima"), naive=num("naive"))
O = {}
for l in open(os.path.join(here, "ours_bt.txt")):
    x = l.split(); O[(x[0], (x[1][:12], x[2][:8]))] = float(x[-1])
rows = [(key, v, O[key]) for key, v in P.items() if key in O and O[key] == O[key]]
print("series", len(rows))
for m in [None, 1.0, 0.98, 0.95, 0.9, 0.8, 0.0]:
    ba = bn = better = 0; gl = 0.0; chose = 0
    for key, v, obt in rows:
        use_arma = m is not None and v["bt"] < m * obt
        chose += use_arma
        f = v["pick"] if use_arma else v["ours"]
        ba += f < v["arima"]; bn += f < v["naive"]; gl += math.log(f / v["ours"])
    label = "defaults" if m is None else ("ARMA always" if m == 0.0 and False else f"ARMA if bt < {m} x ours")
    print(f"{label:26s} chose ARMA {chose:2d}  beats ARIMA {ba:2d}  beats naive {bn:2d}  geo mean vs defaults {math.exp(gl/len(rows)):.4f}")
ba = sum(v["pick"] < v["arima"] for _, v, _ in rows); print("ARMA always: beats ARIMA", ba, "geo", round(math.exp(sum(math.log(v["pick"]/v["ours"]) for _, v, _ in rows)/len(rows)),4))
