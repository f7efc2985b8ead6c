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
RNN=${RNN:-./target/release/rnn}
TORCH_PY=${TORCH_PY:-$HOME/.torchenv/bin/python}
TORCH_RNN=${TORCH_RNN:-../shared/bench/torch_rnn.py}
CELLS=${CELLS:-elman lstm gru}
THREADS=${THREADS:-1 2}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(lscpu | grep 'Model name' | sed 's/  */ /g')  $(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ') nproc=$(nproc)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
peak() { # the maximum resident set size in kB of the command "$@"
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
for cell in $CELLS; do
    tcell=$cell; [ "$cell" = elman ] && tcell=rnn   # torch_rnn.py's name for it
    for threads in $THREADS; do
        echo "rss cell=$cell threads=$threads program=torch max_rss_kb=$(peak "$TORCH_PY" "$TORCH_RNN" "$threads" "$tcell")"
        echo "rss cell=$cell threads=$threads program=rnn max_rss_kb=$(peak "$RNN" bench --cell "$cell" --config all --threads "$threads")"
    done
done
