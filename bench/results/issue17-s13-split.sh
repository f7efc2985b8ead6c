#!/usr/bin/env bash
# S LSTM at 2 threads: the shared PyTorch script, then main's rnn (split) and the base binary (f923b76, no split)
cd /work/main
source bench/common.sh
header
for i in 1 2 3; do
  echo "# round $i uptime: $(uptime)"
  "$TORCH_PY" "$TORCH_RNN" 2 lstm
  for b in ./target/release/rnn /tmp/rnn-base; do
    echo "# $b"
    $b bench --cell lstm --config S --threads 2 | grep -v '^#'
  done
done
