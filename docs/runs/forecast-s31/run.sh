#!/bin/bash
# Issue 18, thirty-first session: six more series of R's datasets never run
# before, defaults only (presidents has six NA quarters: --fill linear, which
# the first run's error asked for), seeds 1-5, one-step forecasts of a test
# block fixed before any run (the last 24, 4, 8, 100, 3 and 120 rows).
# The ARIMA searches took 2-249 s each (sunspot.month, season 12, the longest).
# usage: bash run.sh DIR RNN   (DIR holds the CSV files of export.py; RNN the binary)
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"; B=$2
while read name test season extra; do
  for s in 1 2 3 4 5; do
    /usr/bin/time -f "%e" -o time-$name-$s.txt $B train forecast --data $name.csv --target $name --test $test --seed $s --out runs/$name-$s --force $extra > /dev/null 2> train-$name-$s.err
    $B eval --model runs/$name-$s --data $name.csv --json > eval-$name-$s.json
  done
  # best ARIMA (statsmodels 0.15, arima.py unchanged); presidents' NA
  # quarters filled linearly first, as --fill linear fills them for rnn
  file=$name
  if [ -n "$extra" ]; then
    ~/.torchenv/bin/python -c "import pandas as pd; d = pd.read_csv('$name.csv'); d['$name'] = d['$name'].interpolate(limit_direction='both'); d.to_csv('$name-filled.csv', index=False)"
    file=$name-filled
  fi
  ~/.torchenv/bin/python "$here/../forecast-s29/arima.py" $file $name $test $season . >> arima.out
done <<LIST
UKDriverDeaths 24 12
airmiles 4 1
presidents 8 4 --fill linear
treering 100 1
uspop 3 1
sunspot.month 120 12
LIST
