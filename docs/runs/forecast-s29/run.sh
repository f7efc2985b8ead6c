#!/bin/bash
# Issue 18, twenty-ninth session: five series never seen before, defaults only.
# usage: bash run.sh DIR RNN   (DIR holds the CSV files of export.py; RNN the binary)
# Test blocks fixed before any run: the last 16, 8, 24, 12 and 15 rows, one-step.
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"; B=$2
while read name col test season; do
  for s in 1 2 3 4 5; do
    $B train forecast --data $name.csv --target $col --test $test --seed $s --out runs/$name-$s --force > /dev/null 2> train-$name-$s.err
    $B eval --model runs/$name-$s --data $name.csv --json > eval-$name-$s.json
  done
  python "$here/arima.py" $name $col $test $season . >> arima.out   # statsmodels 0.15
done <<LIST
ausbeer beer 16 4
austres residents 8 4
wineind sales 24 12
woolyrnq tonnes 12 4
heartrate bpm 15 1
LIST
