# Issue 18, thirty-fourth session: ten series of Debian's R packages
# (r-cran-forecast, r-cran-tseries, r-cran-aer, r-cran-modeldata), none run
# by an earlier session, written to CSV the ways R users write them:
# write.csv of a data frame of time(x) and x (decimal years), write.csv of a
# ts (row numbers), zoo's write.zoo (its index as "Jan 1950" or "1955 Q1";
# a univariate series without a header line) and write.csv of a data frame
# with a Date column. usage: Rscript export.R DIR
# (apt-get install r-base-core r-cran-forecast r-cran-tseries r-cran-aer r-cran-modeldata)
suppressMessages({ library(zoo); library(forecast) })
dir <- commandArgs(TRUE)[1]
f <- function(n) file.path(dir, paste0(n, ".csv"))
write.csv(data.frame(time = time(gas), gas = gas), f("gas"), row.names = FALSE)
data(ice.river, package = "tseries"); write.csv(ice.river, f("ice"))
data(nino, package = "tseries"); write.zoo(as.zoo(nino), f("nino"), sep = ",")
data(tcm, package = "tseries"); write.zoo(as.zoo(tcm), f("tcm"), sep = ",")
data(bev, package = "tseries"); write.csv(data.frame(time = time(bev), bev = bev), f("bev"), row.names = FALSE)
data(UKNonDurables, package = "AER"); write.zoo(as.zoo(UKNonDurables), f("ukn"), sep = ",")
data(PepperPrice, package = "AER"); write.zoo(as.zoo(PepperPrice), f("pepper"), sep = ",")
data(ArgentinaCPI, package = "AER"); write.csv(data.frame(time = time(ArgentinaCPI), cpi = ArgentinaCPI), f("argcpi"), row.names = FALSE)
data(USProdIndex, package = "AER"); write.zoo(as.zoo(USProdIndex), f("usprod"), sep = ",")
data(Chicago, package = "modeldata"); write.csv(Chicago, f("chicago"), row.names = FALSE)
