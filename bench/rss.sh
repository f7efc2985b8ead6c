#!/usr/bin/env bash
# Issue 17: peak memory (maximum resident set size of `/usr/bin/time -v`) of
# the shared PyTorch script and of `rnn bench`, each process running all
# three configs (S, M, L; training and inference) of one cell at one thread
# count. Memory, not speed: the machine need not be idle. Run from the
# repository root after `cargo build --release`:
#
#   bash bench/rss.sh > bench/results/rss-N.log
#
# One line per run: `rss cell=C threads=N program=rnn|torch max_rss_kb=K`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
header
peak() { # the maximum resident set size in kB of the command "$@"
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
for cell in $CELLS; do
    tcell=$(torch_cell "$cell")
    for threads in $THREADS; do
        echo "rss cell=$cell threads=$threads program=torch max_rss_kb=$(peak "$TORCH_PY" "$TORCH_RNN" "$threads" "$tcell")"
        echo "rss cell=$cell threads=$threads program=rnn max_rss_kb=$(peak "$RNN" bench --cell "$cell" --config all --threads "$threads")"
    done
done
