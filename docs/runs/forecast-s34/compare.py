"""usage: compare.py TAG [TAG2]: per series the mean RMSE over seeds 1-5, the
verdicts (every seed < naive, mean < best ARIMA), and totals; with TAG2 the
change from TAG to TAG2."""
import json, sys, statistics as st, os
D = "/work/main/docs/runs"
arfiles = {"u": [f"{D}/forecast-s29/arima.out", f"{D}/forecast-s30/arima.out", f"{D}/forecast-s31/arima.out"],
           "n": [f"{D}/forecast-s32/arima.out"], "s": [f"{D}/forecast-s32/short/arima.out"],
           "v": [f"{D}/forecast-s33/arima.out"], "f": [f"{D}/forecast-s33/fresh/arima.out"],
           "r": ["/tmp/s34/r/arima.out"]}
def arima(k, name, col):
    for f in arfiles[k]:
        if not os.path.exists(f): continue
        for l in open(f):
            if not l.startswith("{"): continue
            j = json.loads(l)
            if j["series"] == name and j.get("column", col) == col:
                return j["arima_rmse"]
    return float("nan")
tags = sys.argv[1:]
tot = {t: [0, 0, 0] for t in tags}
for k in "u n s v f r".split():
    for line in open(f"/tmp/s34/all/{k}.list"):
        name, col, test = line.split()[:3]
        a = arima(k, name, col)
        row = f"{k} {name[:14]:14s} {col[:10]:10s} ar {a:10.4g}"
        ms = []
        for t in tags:
            try:
                r = [json.load(open(f"/tmp/s34/all/{k}/eval-{t}-{name}-{col}-{s}.json")) for s in range(1, 6)]
            except Exception:
                row += f" | {t}: -"; continue
            naive = r[0]["naive_rmse"]; m = st.mean(x["rmse"] for x in r)
            every = all(x["rmse"] < naive for x in r); beats = m < a
            tot[t][0] += every; tot[t][1] += beats; tot[t][2] += 1
            ms.append(m)
            row += f" | {m:10.4g} {'N' if every else 'n'}{'A' if beats else 'a'} ({m/naive:.3f} of naive)"
        if len(ms) == 2:
            row += f"  {100*(ms[1]/ms[0]-1):+.2f} %"
        print(row)
for t in tags:
    print(t, "every seed beats naive:", tot[t][0], " mean beats ARIMA:", tot[t][1], " of", tot[t][2])
