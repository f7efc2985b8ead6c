# Writes five series bundled in the pmdarima 2.1.1 wheel (from R's
# forecast/fma/datasets packages) as CSV files for `rnn train forecast`:
#   pip download pmdarima==2.1.1 --no-deps --only-binary=:all: -d pm
#   mkdir pmx && cd pmx && unzip -q ../pm/*.whl 'pmdarima/datasets/*'
#   python export.py OUTDIR     (numpy needed; pmdarima itself is not imported)
import sys, types, importlib.util
import numpy as np

out = sys.argv[1]
# the dataset modules import only DTYPE from pmdarima.compat
for name in ["pmdarima", "pmdarima.datasets", "pmdarima.compat", "pmdarima.compat.numpy"]:
    m = types.ModuleType(name)
    m.__path__ = [name.replace(".", "/")]
    m.DTYPE = np.float64
    sys.modules[name] = m


def load(name):
    spec = importlib.util.spec_from_file_location(
        f"pmdarima.datasets.{name}", f"pmdarima/datasets/{name}.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return np.asarray(getattr(m, "load_" + name)(), dtype=float)


def quarters(y, q, n):
    for _ in range(n):
        yield f"{y}Q{q}"
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)


def months(y, mo, n):
    for _ in range(n):
        yield f"{y}-{mo:02d}"
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)


series = {
    "ausbeer": ("quarter", lambda n: quarters(1956, 1, n), "beer"),
    "austres": ("quarter", lambda n: quarters(1971, 1, n), "residents"),
    "wineind": ("month", lambda n: months(1980, 1, n), "sales"),
    "woolyrnq": ("quarter", lambda n: quarters(1965, 1, n), "tonnes"),
    "heartrate": (None, None, "bpm"),
}
for name, (tcol, labels, col) in series.items():
    x = load(name)
    x = x[~np.isnan(x)]  # ausbeer ends in one missing quarter (2008Q4)
    with open(f"{out}/{name}.csv", "w") as f:
        if tcol:
            f.write(f"{tcol},{col}\n")
            f.writelines(f"{t},{v:g}\n" for t, v in zip(labels(len(x)), x))
        else:
            f.write(f"{col}\n")
            f.writelines(f"{v:g}\n" for v in x)
    print(name, len(x))
