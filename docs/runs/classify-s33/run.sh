#!/bin/bash
# Defaults, seeds 1-5: train on TRAIN, evaluate on TEST, print one line per
# seed. usage: bash run.sh TRAIN TEST NAME OUTDIR [RNN]
# (thirty-third session: NAME MinimalChinatown and Watch)
set -e
train=$1 test=$2 name=$3 out=$4 rnn=${5:-rnn}
mkdir -p "$out"
for s in 1 2 3 4 5; do
  /usr/bin/time -f "train $name seed $s: %e s wall, %U s user" "$rnn" train classify --train "$train" \
    --out "$out/$name-$s" --seed "$s" --force > /dev/null 2> "$out/train-$name-$s.err"
  tail -1 "$out/train-$name-$s.err"
  "$rnn" eval --model "$out/$name-$s" --data "$test" --json > "$out/eval-$name-$s.json" 2>/dev/null
  python3 -c "import json; d=json.load(open('$out/eval-$name-$s.json')); print('seed $s', d['accuracy'], 'dtw', d['nn_dtw_accuracy'], 'ed', d['nn_euclidean_accuracy'], 'majority', d['majority_accuracy'])"
done
