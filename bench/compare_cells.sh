#!/usr/bin/env bash
# Side-by-side for the LSTM and GRU cells: `rnn bench --cell C` and
# bench/torch_cells.py (torch.nn.LSTM / torch.nn.GRU on the same work) at 1 and
# 2 threads. Run from the repository root after `cargo build --release`:
#
#   bash bench/compare_cells.sh > bench/results/cells-1.log
#   python3 bench/table.py --cells bench/results/cells-*.log
set -euo pipefail
RNN=${RNN:-./target/release/rnn}
TORCH_PY=${TORCH_PY:-$HOME/.torchenv/bin/python}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(lscpu | grep 'Model name' | sed 's/  */ /g')  nproc=$(nproc)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for cell in lstm gru; do
    for threads in 1 2; do
        echo "# uptime: $(uptime)"
        "$TORCH_PY" bench/torch_cells.py "$cell" "$threads"
        "$RNN" bench --cell "$cell" --config all --threads "$threads"
    done
done
echo "# uptime: $(uptime)"
