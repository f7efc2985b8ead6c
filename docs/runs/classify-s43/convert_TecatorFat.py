"""TecatorFat: near-infrared absorbance spectra of finely chopped meat
(Tecator Infratec, 850-1050 nm, 100 channels), classified by fat content:
'large' (fat >= 20 %) vs 'small' (fat < 20 %), the two classes of Ferraty and
Vieu (2006) that R's ddalpha ships as dataf.tecator.

Get the packages:
    pip download --no-deps sktime==1.2.0 -d /tmp/f19w/sktime
    apt-get download r-cran-ddalpha        # 1.3.13-1, only for the label cross-check
    dpkg -x r-cran-ddalpha_1.3.13-1_amd64.deb /tmp/f19w/deb/x
Run:
    python3 convert_TecatorFat.py [SKTIME_WHEEL [DDALPHA_TECATOR_RDA]]
Needs numpy; the optional cross-check needs `pip install rdata` (1.1.0).

Source: sktime/datasets/data/Tecator/Tecator_{TRAIN,TEST}.ts in the sktime
wheel, a regression set (target = fat %), with the split of the Monash TSER
archive / original Tecator documentation: 172 train (Tecator's training +
monitoring samples), 43 test. That split is kept, series order kept, spectrum
value strings copied byte for byte; the fat target is replaced by the class
label (fat >= 20 -> large, else small). The cross-check reads ddalpha's
tecator.rda (215 spectra, labels small/large) and confirms that for every
ddalpha spectrum the identical sktime spectrum has fat on the same side of 20.
"""
import os, sys, zipfile
import numpy as np
sys.path.insert(0, os.path.dirname(__file__))
from check_ts import check

NAME = 'TecatorFat'
whl = sys.argv[1] if len(sys.argv) > 1 else '/tmp/f19w/sktime/sktime-1.2.0-py3-none-any.whl'
rda = sys.argv[2] if len(sys.argv) > 2 else '/tmp/f19w/deb/x/usr/lib/R/site-library/ddalpha/data/tecator.rda'
os.makedirs(f'/tmp/fresh19/{NAME}', exist_ok=True)
allX, allfat = [], []
with zipfile.ZipFile(whl) as z:
    for part in ('TRAIN', 'TEST'):
        text = z.read(f'sktime/datasets/data/Tecator/Tecator_{part}.ts').decode()
        data = [l.strip() for l in text.splitlines() if l.strip() and l.strip()[0] not in '#@']
        out = f'/tmp/fresh19/{NAME}/{NAME}_{part}.ts'
        with open(out, 'w') as f:
            f.write(f"@problemName {NAME}\n@timeStamps false\n@univariate true\n"
                    f"@equalLength true\n@classLabel true large small\n@data\n")
            for l in data:
                vals, fat = l.rsplit(':', 1)
                assert ':' not in vals and len(vals.split(',')) == 100
                fat = float(fat)
                f.write(vals + ':' + ('large' if fat >= 20 else 'small') + '\n')
                allX.append([float(v) for v in vals.split(',')]); allfat.append(fat)
        check(out)
allX, allfat = np.array(allX), np.array(allfat)

if os.path.exists(rda):
    import warnings, rdata
    warnings.simplefilter('ignore')
    v = rdata.read_rda(rda)['tecator']
    D = np.array([np.asarray(o['vals'], float) for o in v['dataf']])
    lab = np.array([str(np.asarray(l).ravel()[0]) for l in v['labels']])
    for x, l in zip(D, lab):
        m = np.flatnonzero(np.abs(allX - x).max(1) == 0)
        assert len(m) >= 1 and all((allfat[m] >= 20) == (l == 'large')), (m, l)
    print('ddalpha labels agree for all', len(D), 'spectra')
# exact duplicate spectra (a property of the Tecator data itself; ddalpha has them too)
dup = [(i, j) for i in range(len(allX)) for j in range(i + 1, len(allX)) if np.array_equal(allX[i], allX[j])]
print('duplicate spectrum pairs:', len(dup), 'of which train/test:', sum(i < 172 <= j for i, j in dup))
print('ok')
