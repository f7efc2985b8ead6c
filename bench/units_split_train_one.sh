#!/bin/bash
# Training of one sequence at two threads, split by hidden units or not:
# alternates RNN_UNITS_SPLIT_TRAIN_MAX_BATCH=0 (never split) with the
# default rule, train tok/s, for each cell, H and T. From the repository
# root after `cargo build --release`:
#   bash bench/units_split_train_one.sh > bench/results/units-split-train-one.txt
for cell in lstm gru elman; do
  for h in 128 192 256 384; do
    for t in 25 100; do
      for rep in 1 2; do
        for v in 0 default; do
          if [ "$v" = 0 ]; then env=RNN_UNITS_SPLIT_TRAIN_MAX_BATCH=0; else env=RNN_UNUSED=1; fi
          r=$(env $env target/release/rnn bench --cell $cell --batch 1 --hidden $h --steps $t --threads 2 2>/dev/null | grep -o "train_tok_s=[0-9]*")
          echo "cell=$cell H=$h T=$t split=$v $r"
        done
      done
    done
  done
done
