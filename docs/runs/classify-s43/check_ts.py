"""Independent parse check of a .ts file written here: python3 check_ts.py FILE...

Prints series count, dimensions, min/median/max length, class counts; fails on
any inconsistency (label not declared, dims differ, lengths differ within a
series, non-finite or unparsable values, header flags that do not match the data).
"""
import math, sys, collections, statistics


def read_ts(path):
    hdr, X, y = {}, [], []
    in_data = False
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if not in_data:
            assert line.startswith('@'), f"{path}:{n}: expected header"
            key, _, rest = line[1:].partition(' ')
            key = key.lower()
            if key == 'data':
                in_data = True
            else:
                hdr[key] = rest
            continue
        parts = line.split(':')
        lab = parts[-1]
        dims = [[float(v) for v in p.split(',')] for p in parts[:-1]]
        for d in dims:
            for v in d:
                assert math.isfinite(v), f"{path}:{n}: non-finite value"
        assert len({len(d) for d in dims}) == 1, f"{path}:{n}: dims differ in length"
        X.append(dims); y.append(lab)
    return hdr, X, y


def check(path):
    hdr, X, y = read_ts(path)
    classes = hdr['classlabel'].split()
    assert classes[0] == 'true'
    classes = classes[1:]
    assert set(y) <= set(classes), f"undeclared labels {set(y) - set(classes)}"
    ndims = {len(s) for s in X}
    assert len(ndims) == 1, f"dims vary: {ndims}"
    ndim = ndims.pop()
    lens = [len(s[0]) for s in X]
    assert (hdr['univariate'] == 'true') == (ndim == 1)
    assert (hdr['equallength'] == 'true') == (len(set(lens)) == 1)
    cnt = collections.Counter(y)
    print(f"{path}: {len(X)} series, {ndim} dims, length min/median/max "
          f"{min(lens)}/{statistics.median(lens)}/{max(lens)}, "
          f"{len(classes)} declared classes, counts {dict(sorted(cnt.items()))}")
    return hdr, X, y


if __name__ == '__main__':
    for p in sys.argv[1:]:
        check(p)
