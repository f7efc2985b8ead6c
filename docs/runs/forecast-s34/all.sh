#!/bin/bash
# usage: all.sh BIN TAG [SETS] — every unseen series, defaults, seeds 1-5
B=$1; T=$2; cd /tmp/s34/all
for k in ${3:-u n s v f r}; do
  while read name col test extra; do
    for s in 1 2 3 4 5; do
      o=$k/runs-$T/$name-$col-$s
      $B train forecast --data $k/$name.csv --target $col --test $test --seed $s --out $o --force $extra > /dev/null 2> $k/train-$T-$name-$col-$s.err
      $B eval --model $o --data $k/$name.csv --json > $k/eval-$T-$name-$col-$s.json
    done
  done < $k.list
done
