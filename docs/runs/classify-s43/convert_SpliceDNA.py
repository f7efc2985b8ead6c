"""SpliceDNA: primate splice-junction DNA sequences (StatLog 'dna' version of
the UCI Molecular Biology splice-junction data), as shipped in Debian's
r-cran-mlbench (data set DNA, file data/DNA.rda).

Get the package:
    apt-get download r-cran-mlbench        # 2.1-3-1
    dpkg -x r-cran-mlbench_2.1-3-1_amd64.deb /tmp/f19w/deb/x
Run:
    python3 convert_SpliceDNA.py [/tmp/f19w/deb/x/usr/lib/R/site-library/mlbench/data/DNA.rda]
Needs numpy and `pip install rdata` (1.1.0) to read the .rda file.

DNA.rda: 3186 rows, 180 binary factors V1..V180 and Class (ei, ie, n). Each
of the 60 nucleotide positions is 3 indicator bits (A=100, C=010, G=001,
T=000; mlbench's help), positions in order, so V(3p+1..3p+3) is position p+1.
Written as 60 frames of 3 values (0/1), dimension k = bit k.

Split: the StatLog split, by row order: rows 1-2000 = TRAIN (StatLog dna.tra),
rows 2001-3186 = TEST (StatLog dna.tst). mlbench's help does not state the
split; the row order is taken as StatLog's because the class counts match
(train ei/ie/n = 464/485/1051, test 303/280/603; totals 767/765/1654 of the
UCI data less its 4 ambiguous sequences). Row order kept within each file.
"""
import os, sys, warnings
import numpy as np
sys.path.insert(0, os.path.dirname(__file__))
from tswrite import write_ts
from check_ts import check
import rdata

NAME = 'SpliceDNA'
rda = sys.argv[1] if len(sys.argv) > 1 else '/tmp/f19w/deb/x/usr/lib/R/site-library/mlbench/data/DNA.rda'
warnings.simplefilter('ignore')
df = rdata.read_rda(rda)['DNA']
assert df.shape == (3186, 181) and list(df.columns[:3]) == ['V1', 'V2', 'V3']
B = np.array([[int(str(df[f'V{j}'].iloc[i])) for j in range(1, 181)] for i in range(len(df))])
assert set(np.unique(B)) <= {0, 1}
B = B.reshape(len(df), 60, 3)                       # series x position x bit
assert B.sum(2).max() <= 1                          # at most one bit set per nucleotide
y = [str(c) for c in df['Class']]
classes = ['ei', 'ie', 'n']
for part, rows in (('TRAIN', range(0, 2000)), ('TEST', range(2000, 3186))):
    path = f'/tmp/fresh19/{NAME}/{NAME}_{part}.ts'
    write_ts(path, NAME, [[[str(v) for v in B[i, :, k]] for k in range(3)] for i in rows],
             [y[i] for i in rows], classes)
    _, R, lab = check(path)
    assert all(np.array_equal(np.array(s).T, B[i]) and l == y[i] for i, s, l in zip(rows, R, lab))
seqs = [''.join('ACGT'[[0, 1, 2].index(r.argmax()) if r.any() else 3] for r in b) for b in B]
tr, te = set(seqs[:2000]), seqs[2000:]
print('distinct sequences train/test:', len(tr), len(set(te)), '; test sequences also in train:', sum(s in tr for s in te))
print('ok')
