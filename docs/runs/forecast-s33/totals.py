# Totals of docs/forecasting.md (thirty-third session) over the eval JSON of
# the runs, kept in /tmp/s32 and /tmp/s33 during the session (paths below);
# "base" is main before the 2 % rule, "m98" the same with it.
import json, glob, statistics as st, os
ar = {}
for f in ["/work/main/docs/runs/forecast-s29/arima.out","/work/main/docs/runs/forecast-s30/arima.out","/work/main/docs/runs/forecast-s31/arima.out","/work/main/docs/runs/forecast-s32/arima.out","/work/main/docs/runs/forecast-s32/short/arima.out","/work/main/docs/runs/forecast-s33/arima.out"]:
    for l in open(f):
        if l.startswith("{"):
            d = json.loads(l); ar.setdefault(d["series"].replace("-filled",""), d); ar.setdefault(d["series"]+"/"+d.get("column",""), d)
sets = []
for n in ["sunspots","airline","co2"]:
    sets.append((n, [f"/tmp/s32/eval-base-{n}-{s}.json" for s in range(1,6)], [f"/tmp/s32/eval-m98-{n}-{s}.json" for s in range(1,6)], None))
for f in sorted(glob.glob("/tmp/s32/u/eval-head-*-1.json")):
    n = os.path.basename(f)[len("eval-head-"):-len("-1.json")]
    sets.append((n, [f"/tmp/s32/u/eval-head-{n}-{s}.json" for s in range(1,6)], [f"/tmp/s32/u/eval-m98-{n}-{s}.json" for s in range(1,6)], ar.get(n)))
for d in ["n","s"]:
    for f in sorted(glob.glob(f"/tmp/s32/{d}/eval-head-*-1.json")):
        n = os.path.basename(f)[len("eval-head-"):-len("-1.json")]
        a = next((v for k,v in ar.items() if "/" in k and k.endswith("/"+n)), None)
        sets.append((n, [f"/tmp/s32/{d}/eval-head-{n}-{s}.json" for s in range(1,6)], [f"/tmp/s32/{d}/eval-m98-{n}-{s}.json" for s in range(1,6)], a))
for f in sorted(glob.glob("/tmp/s33/vd/eval-*-1.json")):
    n = os.path.basename(f)[len("eval-"):-len("-1.json")]
    name, col = n.rsplit("-",1) if not n.endswith("temp_max") else ("seattle-weather","temp_max")
    a = next((v for k,v in ar.items() if k == name+"/"+col or (k.startswith(name+"/") and n.endswith(k.split("/")[1]))), None)
    sets.append((n, [f"/tmp/s33/vd/eval-{n}-{s}.json" for s in range(1,6)], [f"/tmp/s33/vdf/eval-{n}-{s}.json" for s in range(1,6)], a))
tot = {"b_naive":0,"m_naive":0,"b_ar":0,"m_ar":0,"changed":0,"better":0,"worse":0}
for n, bf, mf, a in sets:
    b = [json.load(open(x)) for x in bf]; m = [json.load(open(x)) for x in mf]
    naive = b[0]["naive_rmse"]; mb = st.mean(x["rmse"] for x in b); mm = st.mean(x["rmse"] for x in m)
    arm = a["arima_rmse"] if a else float("nan")
    eb = all(x["rmse"] < naive for x in b); em = all(x["rmse"] < naive for x in m)
    tot["b_naive"]+=eb; tot["m_naive"]+=em; tot["b_ar"]+= mb<arm; tot["m_ar"] += mm<arm
    if abs(mm/mb-1) > 1e-9:
        tot["changed"]+=1; tot["better" if mm<mb else "worse"]+=1
        print(f"{n:32s} base {mb:10.4g} m98 {mm:10.4g} ({(mm/mb-1)*100:+6.2f}%) naive {naive:10.4g} arima {arm:10.4g}  naive-all {eb}->{em}  beats-arima {mb<arm}->{mm<arm}")
print(len(sets), "series", tot)
