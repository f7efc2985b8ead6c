"""Issue 18, thirty-third session: series of the vega_datasets 0.9.0 wheel
(`pip download --no-deps vega_datasets`; BSD-3; the data from NOAA, the
BLS, Yahoo Finance and others, as its dataset_info.json says), written as
CSV files a user would make of them: the CSV files copied as they are, one
file per stock symbol (the rows of that symbol, `date,price`), the JSON
files as CSV. usage: python export.py WHEEL OUTDIR"""
import csv
import io
import json
import os
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
z = zipfile.ZipFile(wheel)
data = lambda name: z.read(f"vega_datasets/_data/{name}").decode()
for name in ["us-employment.csv", "seattle-weather.csv"]:
    open(os.path.join(out, name), "w").write(data(name))
rows = list(csv.DictReader(io.StringIO(data("stocks.csv"))))
for sym in sorted({r["symbol"] for r in rows}):
    with open(os.path.join(out, f"stocks-{sym}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "price"])
        w.writerows([r["date"], r["price"]] for r in rows if r["symbol"] == sym)
for name, cols in [("driving", ["year", "miles", "gas"]), ("wheat", ["year", "wheat"]),
                   ("ohlc", ["date", "close"])]:
    recs = json.loads(data(f"{name}.json"))
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows([r[c] for c in cols] for r in recs)
