#!/bin/bash
B=/work/main/target/release/rnn
cp $B /tmp/s29/rnn-bin
B=/tmp/s29/rnn-bin
for s in 1 2 3 4 5; do
  /usr/bin/time -f "train Trace seed $s: %e s wall, %U s user" $B train classify --train /tmp/s29/Trace_TRAIN.ts --out /tmp/s29/runs/Trace-$s --seed $s --force > /dev/null 2> /tmp/s29/train-Trace-$s.err
  tail -1 /tmp/s29/train-Trace-$s.err
  $B eval --model /tmp/s29/runs/Trace-$s --data /tmp/s29/Trace_TEST.ts --json > /tmp/s29/eval-Trace-$s.json 2>/dev/null
  python3 -c "import json; d=json.load(open('/tmp/s29/eval-Trace-$s.json')); print('seed $s', d['accuracy'], 'dtw', d['nn_dtw_accuracy'], 'ed', d['nn_euclidean_accuracy'], d.get('weights'))"
done
