"""Write seglearn's smartwatch exercise set (seglearn 1.2.5 wheel, BSD-3,
`seglearn/data/watch_dataset.npy`) as .ts files, split by subject: subjects
1-6 train, 7-10 test (fixed before any run). Usage: python watch_ts.py NPY OUTDIR"""
import os
import sys

import numpy as np

npy, out = sys.argv[1], sys.argv[2]
d = np.load(npy, allow_pickle=True).item()
names = d["y_labels"]
os.makedirs(out, exist_ok=True)
for part, keep in (("TRAIN", lambda s: s <= 6), ("TEST", lambda s: s >= 7)):
    with open(os.path.join(out, f"Watch_{part}.ts"), "w") as f:
        f.write("# seglearn load_watch: 6-axis smartwatch IMU at 50 Hz, 7 shoulder exercises\n")
        f.write("@problemName Watch\n@univariate false\n@dimensions 6\n@equalLength false\n")
        f.write("@classLabel true " + " ".join(names) + "\n@data\n")
        for x, y, s in zip(d["X"], d["y"], d["subject"]):
            if keep(int(s)):
                dims = [",".join(repr(float(v)) for v in x[:, j]) for j in range(x.shape[1])]
                f.write(":".join(dims) + ":" + names[int(y)] + "\n")
