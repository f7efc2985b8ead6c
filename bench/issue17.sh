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
RNN=${RNN:-./target/release/rnn}
TORCH_PY=${TORCH_PY:-$HOME/.torchenv/bin/python}
TORCH_RNN=${TORCH_RNN:-../shared/bench/torch_rnn.py}
CELLS=${CELLS:-elman lstm gru}
THREADS=${THREADS:-1 2}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(lscpu | grep 'Model name' | sed 's/  */ /g')  $(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ') nproc=$(nproc)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for cell in $CELLS; do
    tcell=$cell; [ "$cell" = elman ] && tcell=rnn   # torch_rnn.py's name for it
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
