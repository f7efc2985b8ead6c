#!/bin/bash
# Issue 18, thirty-fourth session: ten series of Debian's R packages never
# run before (export.R), defaults only, seeds 1-5, one-step forecasts of a
# test block fixed before any run (series.txt: NAME COLUMN TEST SEASON per
# line; SEASON is given to the ARIMA search only; ukn.csv has no header, its
# value column is "2").
# usage: bash run.sh DIR RNN   (DIR holds the CSV files of export.R; RNN the
# binary; NOARIMA=1 skips the ARIMA searches; LIST=FILE another list)
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"; B=$2
while read name col test season; do
  for s in 1 2 3 4 5; do
    /usr/bin/time -f "$name $s %e s" -a -o times.txt $B train forecast --data $name.csv --target $col --test $test --seed $s --out runs/$name-$col-$s --force > /dev/null 2> train-$name-$col-$s.err
    $B eval --model runs/$name-$col-$s --data $name.csv --json > eval-$name-$col-$s.json
  done
  [ -n "$NOARIMA" ] || ~/.torchenv/bin/python "$here/../forecast-s29/arima.py" $name $col $test $season . >> arima.out
done < "${LIST:-$here/series.txt}"
