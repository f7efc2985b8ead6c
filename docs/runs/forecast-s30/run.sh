#!/bin/bash
# Issue 18, thirtieth session: ten series never run before (R's datasets),
# defaults only, seeds 1-5, one-step forecasts of a test block fixed before
# any run (the last 24, 8, 12, 10, 8, 10, 15, 6, 6 and 10 rows).
# usage: bash run.sh DIR RNN   (DIR holds the CSV files of export.py; RNN the binary)
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"; B=$2
while read name test season; do
  for s in 1 2 3 4 5; do
    $B train forecast --data $name.csv --target $name --test $test --seed $s --out runs/$name-$s --force > /dev/null 2> train-$name-$s.err
    $B eval --model runs/$name-$s --data $name.csv --json > eval-$name-$s.json
  done
  ~/.torchenv/bin/python "$here/../forecast-s29/arima.py" $name $name $test $season . >> arima.out   # statsmodels 0.15, unchanged
done <<LIST
nottem 24 12
UKgas 8 4
USAccDeaths 12 12
LakeHuron 10 1
JohnsonJohnson 8 4
WWWusage 10 1
BJsales 15 1
nhtemp 6 1
lh 6 1
discoveries 10 1
LIST
