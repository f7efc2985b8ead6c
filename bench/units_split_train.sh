#!/bin/bash
# bench/units_split_train.sh: alternate: training split by sequences (max=0) vs by units (max=1000), two threads
for spec in "lstm 512" "gru 1024" "elman 1024" "lstm 1024"; do
 set -- $spec
 for B in 8 16 32 64; do
  for rep in 1 2; do
   for v in 0 1000; do
    r=$(RNN_UNITS_SPLIT_TRAIN_MAX_BATCH=$v target/release/rnn bench --cell $1 --batch $B --hidden $2 --steps 50 --threads 2 2>/dev/null | grep -o "train_tok_s=[0-9]*")
    echo "cell=$1 H=$2 B=$B max=$v $r"
   done
  done
 done
done
