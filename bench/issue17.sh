#!/usr/bin/env bash
# Issue 17 side by side: for each cell (elman, lstm, gru) and 1 and 2
# threads, the shared PyTorch script (../shared/bench/torch_rnn.py THREADS CELL)
# then `rnn bench --cell CELL --config all --threads N`, on the wall clock, as
# the script times itself. Optional PACKED=1 adds the variable-length mode
# (torch_rnn.py ... packed against rnn bench --lengths packed). Run from the
# repository root after `cargo build --release`, on an idle machine:
#
#   bash bench/issue17.sh > bench/results/issue17-1.log      # and -2, -3 back to back
#   python3 bench/table.py --cells bench/results/issue17-*.log
set -euo pipefail
source "$(dirname "$0")/common.sh"
header
for cell in $CELLS; do
    tcell=$(torch_cell "$cell")
    for threads in $THREADS; do
        echo "# uptime: $(uptime)"
        "$TORCH_PY" "$TORCH_RNN" "$threads" "$tcell"
        "$RNN" bench --cell "$cell" --config all --threads "$threads"
        if [ "${PACKED:-0}" = 1 ]; then
            "$TORCH_PY" "$TORCH_RNN" "$threads" "$tcell" packed
            "$RNN" bench --cell "$cell" --config all --threads "$threads" --lengths packed
        fi
    done
done
echo "# uptime: $(uptime)"
