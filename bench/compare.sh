#!/usr/bin/env bash
# Side-by-side: `rnn bench` and the PyTorch reference at 1 and 2 threads, then
# peak memory of config L for both. Prints everything to stdout; run from the
# worktree root after `cargo build --release`:
#
#   bash bench/compare.sh 2>&1 | tee bench/compare.log
#
# TORCH_PY (default ~/.torchenv/bin/python) and TORCH_SCRIPT (default
# ../shared/bench/torch_rnn.py) can be overridden.
set -euo pipefail
RNN=${RNN:-./target/release/rnn}
TORCH_PY=${TORCH_PY:-$HOME/.torchenv/bin/python}
TORCH_SCRIPT=${TORCH_SCRIPT:-../shared/bench/torch_rnn.py}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(lscpu | grep 'Model name' | sed 's/  */ /g')  nproc=$(nproc)"
for threads in 1 2; do
    echo "# uptime: $(uptime)"
    "$TORCH_PY" "$TORCH_SCRIPT" "$threads"
    "$RNN" bench --config all --threads "$threads"
done
echo "# uptime: $(uptime)"
echo "# peak memory, config L, 1 thread"
for cmd in "$RNN bench --config L --threads 1" \
           "$TORCH_PY bench/torch_rnn_config.py L 1 $TORCH_SCRIPT"; do
    /usr/bin/time -v $cmd 2> /tmp/compare_time.txt
    echo "$cmd: $(grep 'Maximum resident set size' /tmp/compare_time.txt)"
done
echo "# uptime: $(uptime)"
