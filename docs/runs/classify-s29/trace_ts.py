# Writes the UCR Trace set bundled in the tslearn 0.10.0 wheel as .ts files:
#   pip download tslearn==0.10.0 --no-deps -d tsl
#   unzip -q tsl/*.whl 'tslearn/.cached_datasets/*'
#   python trace_ts.py tslearn/.cached_datasets/Trace.npz OUTDIR   (numpy needed)
import sys
import numpy as np

z = np.load(sys.argv[1])
labels = " ".join(str(c) for c in sorted(set(z["y_train"].tolist())))
for part, X, y in [("TRAIN", z["X_train"], z["y_train"]), ("TEST", z["X_test"], z["y_test"])]:
    with open(f"{sys.argv[2]}/Trace_{part}.ts", "w") as f:
        f.write("@problemName Trace\n@timeStamps false\n@univariate true\n@equalLength true\n"
                f"@seriesLength {X.shape[1]}\n@classLabel true {labels}\n@data\n")
        for x, c in zip(X, y):
            f.write(",".join(repr(float(v)) for v in x[:, 0]) + f":{c}\n")
