# Best ARIMA by AIC on the training rows (statsmodels SARIMAX; p, q in 0-2,
# d in 0-1; with a season above 1, P, D, Q in 0-1; a constant only without
# differencing), then one-step forecasts of the test block with the
# parameters fixed (the model filtered over the whole series).
# usage: python arima.py NAME COLUMN TEST SEASON [DIR]
import sys, warnings, itertools, json
import numpy as np, pandas as pd
from statsmodels.tsa.statespace.sarimax import SARIMAX
warnings.filterwarnings("ignore")
name, col, test, season = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
folder = sys.argv[5] if len(sys.argv) > 5 else "."
frame = pd.read_csv(f"{folder}/{name}.csv")
if col not in frame.columns and col.isdigit():  # a file without a header: the column's position
    frame = pd.read_csv(f"{folder}/{name}.csv", header=None).rename(columns=lambda j: str(j + 1))
y = frame[col].to_numpy(float)
n = len(y); train = y[: n - test]
best = None
seas = list(itertools.product([0, 1], repeat=3)) if season > 1 else [(0, 0, 0)]
for p, d, q in itertools.product(range(3), range(2), range(3)):
    for P, D, Q in seas:
        trend = "c" if d == 0 and D == 0 else "n"
        try:
            m = SARIMAX(train, order=(p, d, q), seasonal_order=(P, D, Q, season if season > 1 else 0),
                        trend=trend).fit(disp=False, maxiter=200)
        except Exception:
            continue
        # a failed fit (not converged, residuals far beyond the series'
        # spread, a likelihood its residuals do not give) can report a tiny
        # AIC: not a candidate
        r = m.resid[max(d + D * season, 1):]
        if (not np.isfinite(m.aic) or not m.mle_retvals.get("converged", False)
                or not np.isfinite(r).all() or np.sqrt(np.mean(r ** 2)) > 10 * np.std(train)
                # a log-likelihood far above what its own residuals give a
                # Gaussian (forecast's gas, session 34: llf 0, sigma2 1.2e11)
                or m.llf > -len(r) / 2 * (np.log(2 * np.pi * np.mean(r ** 2)) + 1) + 0.1 * len(r)):
            continue
        if best is None or m.aic < best[0]:
            best = (m.aic, (p, d, q), (P, D, Q), trend, m.params)
aic, order, sorder, trend, params = best
full = SARIMAX(y, order=order, seasonal_order=(*sorder, season if season > 1 else 0), trend=trend)
res = full.filter(params)
pred = res.get_prediction(start=n - test).predicted_mean
rmse = float(np.sqrt(np.mean((pred - y[n - test:]) ** 2)))
naive = float(np.sqrt(np.mean((y[n - test:] - y[n - test - 1:n - 1]) ** 2)))
snaive = float(np.sqrt(np.mean((y[n - test:] - y[n - test - season:n - season]) ** 2))) if season > 1 else None
print(json.dumps({"series": name, "column": col, "order": order, "seasonal": sorder, "season": season, "trend": trend,
                  "aic": aic, "arima_rmse": rmse, "naive_rmse": naive, "snaive_rmse": snaive}))
