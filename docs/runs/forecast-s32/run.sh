#!/bin/bash
# Issue 18, thirty-second session: nine series of other R packages never run
# before, defaults only, seeds 1-5, one-step forecasts of a test block fixed
# before any run (the last 12, 60, 8, 6, 24, 24, 52, 6 and 8 rows; the
# season given to the ARIMA search: 12 for the monthly series, else 1).
# usage: bash run.sh DIR RNN [TAG]   (DIR holds the CSV files of export.py; RNN
# the binary; TAG names the run's files, default none; NOARIMA=1 skips the
# ARIMA searches; LIST=FILE runs the series of FILE, default series.txt:
# NAME COLUMN TEST SEASON per line)
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"; B=$2; T=${3:+$3-}
while read name col test season; do
  for s in 1 2 3 4 5; do
    $B train forecast --data $name.csv --target $col --test $test --seed $s --out runs/$T$col-$s --force > /dev/null 2> train-$T$col-$s.err
    $B eval --model runs/$T$col-$s --data $name.csv --json > eval-$T$col-$s.json
  done
  [ -n "$NOARIMA" ] || ~/.torchenv/bin/python "$here/../forecast-s29/arima.py" $name $col $test $season . >> arima.out
done < "${LIST:-$here/series.txt}"
