"""Shared writer for the convert_*.py scripts: UEA/UCR .ts, one series a line.

A series is a list of dimensions; a dimension is a list of value strings
(already formatted). The label is written last, after a ':'.
"""
import os


def write_ts(path, name, series, labels, class_labels):
    """series[i][d] = list of str values of dimension d of series i."""
    ndim = {len(s) for s in series}
    assert len(ndim) == 1, "all series need the same number of dimensions"
    ndim = ndim.pop()
    lens = {len(d) for s in series for d in s}
    for s in series:
        assert len({len(d) for d in s}) == 1, "dimensions of one series differ in length"
    for lab in labels:
        assert lab in class_labels and ' ' not in lab and ':' not in lab
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f"@problemName {name}\n")
        f.write("@timeStamps false\n")
        f.write(f"@univariate {'true' if ndim == 1 else 'false'}\n")
        f.write(f"@equalLength {'true' if len(lens) == 1 else 'false'}\n")
        f.write("@classLabel true " + " ".join(class_labels) + "\n")
        f.write("@data\n")
        for s, lab in zip(series, labels):
            f.write(":".join(",".join(d) for d in s) + ":" + lab + "\n")
