#!/bin/bash
# Seed 1's one-step forecasts of a test block, one `rnn forecast --horizon 1`
# per point on the rows before it, into NAME.ours (for average.py).
# usage: bash ours.sh DIR RNN NAME COLUMN TEST   (DIR: run.sh's folder)
dir=$1; B=$2; name=$3; col=$4; test=$5; f=$dir/$name.csv
hdr=1; head -1 $f | grep -q '^"[0-9]' && hdr=0   # ukn.csv has no header line
rows=$(( $(wc -l < $f) - hdr ))
: > $name.ours
for k in $(seq 0 $((test - 1))); do
  head -n $((hdr + rows - test + k)) $f > $name-cut.csv
  $B forecast --model $dir/runs/$name-$col-1 --data $name-cut.csv --horizon 1 2>/dev/null | tail -1 | cut -d, -f2 >> $name.ours
done
rm -f $name-cut.csv
