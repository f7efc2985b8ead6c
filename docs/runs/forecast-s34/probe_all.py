# One line per series: the ARMA probe's pick by its backtest (test RMSE, backtest RMSE)
# beside the defaults' mean (eval-base JSON of all.sh), the best ARIMA and naive.
# Run in /tmp/s34/all (the CSV files and NAME.list files of the 70 series).
import json, subprocess, statistics as st, re, math
exec(open("/tmp/s34/all/compare.py").read().split("tags = sys.argv")[0])
def arima_full(k, name, col):
    for f in arfiles[k]:
        for l in open(f):
            if not l.startswith("{"): continue
            j = json.loads(l)
            if j["series"] == name and j.get("column", col) == col: return j
tot = dict(pick_beats_arima=0, ours_beats_arima=0, pick_beats_ours=0, n=0, pick_beats_naive=0, ours_every_naive=0)
for k in "u n s v f r".split():
    for line in open(f"{k}.list"):
        name, col, test = line.split()[:3]; test = int(test)
        a = arima_full(k, name, col)
        if not a: continue
        season = a["season"]
        r = [json.load(open(f"{k}/eval-base-{name}-{col}-{s}.json")) for s in range(1, 6)]
        ours = st.mean(x["rmse"] for x in r); naive = r[0]["naive_rmse"]
        out = subprocess.run(["/work/main/target/release/examples/arma_probe", f"{k}/{name}.csv", col, str(test), str(season)], capture_output=True, text=True, timeout=600).stdout
        v = []
        for l in out.splitlines():
            m = re.search(r"backtest\s+(\S+) test (\S+)", l)
            if m and m.group(1) != "NaN": v.append((float(m.group(1)), float(m.group(2)), " ".join(l.split()[:2])))
        if not v: print(k, name, "no pick"); continue
        b = min(v)
        tot["n"] += 1
        tot["pick_beats_arima"] += b[1] < a["arima_rmse"]; tot["ours_beats_arima"] += ours < a["arima_rmse"]
        tot["pick_beats_ours"] += b[1] < ours; tot["pick_beats_naive"] += b[1] < naive
        tot["ours_every_naive"] += all(x["rmse"] < naive for x in r)
        print(f"{k} {name[:12]:12s} {col[:8]:8s} pick {b[2]:14s} {b[1]:.10g} bt {b[0]:.10g} ours {ours:.10g} arima {a['arima_rmse']:.10g} naive {naive:.10g}  pick/ours {b[1]/ours:.3f}", flush=True)
print(tot)
