# Seed 1 against the best ARIMA: RMSE of our one-step forecasts (NAME.ours
# from ours.sh, in the current folder), the ARIMA's (arima.py's order
# refitted the same way) and their average. usage: python average.py DIR
import json, os, sys, warnings
import numpy as np, pandas as pd
from statsmodels.tsa.statespace.sarimax import SARIMAX
warnings.filterwarnings("ignore")
d = sys.argv[1]
ar = {json.loads(l)["series"]: json.loads(l) for l in open(f"{d}/arima.out")}
for line in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "series.txt")):
    name, col, test, season = line.split(); test = int(test)
    if col.isdigit():  # a file without a header line
        y = pd.read_csv(f"{d}/{name}.csv", header=None)[int(col) - 1].to_numpy(float)
    else:
        y = pd.read_csv(f"{d}/{name}.csv")[col].to_numpy(float)
    n = len(y); a = ar[name]; s = a["season"] if a["season"] > 1 else 0
    m = SARIMAX(y[:n-test], order=a["order"], seasonal_order=(*a["seasonal"], s), trend=a["trend"]).fit(disp=False, maxiter=200)
    res = SARIMAX(y, order=a["order"], seasonal_order=(*a["seasonal"], s), trend=a["trend"]).filter(m.params)
    pa = res.get_prediction(start=n-test).predicted_mean
    po = np.loadtxt(f"{name}.ours")
    t = y[n-test:]
    r = lambda p: float(np.sqrt(np.mean((p - t) ** 2)))
    print(f"{name:8s} ours {r(po):10.4g} arima {r(pa):10.4g} avg {r(0.5*(po+pa)):10.4g}  naive {r(y[n-test-1:n-1]):10.4g}")
