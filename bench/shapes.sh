#!/usr/bin/env bash
# Shapes beyond S, M and L, side by side with PyTorch: for each shape
# (B H T, V = 65), cell and thread count, bench/torch_shape.py (the shared
# script's workload at that shape) then `rnn bench --batch B --hidden H
# --steps T`. Run from the repository root after `cargo build --release`, on
# an idle machine:
#
#   bash bench/shapes.sh > bench/results/shapes-1.log
#   python3 bench/shapes_table.py bench/results/shapes-*.log
#
# SHAPES overrides the list ("B:H:T ..."), CELLS and THREADS as in common.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SHAPES=${SHAPES:-"1:256:100 4:512:50 8:512:50 16:128:100 16:768:50 32:512:100 128:256:50 8:2048:20 256:64:50"}
header
for shape in $SHAPES; do
    IFS=: read -r b h t <<< "$shape"
    for cell in $CELLS; do
        tcell=$(torch_cell "$cell")
        for threads in $THREADS; do
            "$TORCH_PY" "$(dirname "$0")/torch_shape.py" "$threads" "$tcell" "$b" 65 "$h" "$t"
            "$RNN" bench --cell "$cell" --threads "$threads" --batch "$b" --vocab 65 --hidden "$h" --steps "$t"
        done
    done
done
echo "# uptime: $(uptime)"
