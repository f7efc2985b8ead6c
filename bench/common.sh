# Shared by bench/issue17.sh and bench/rss.sh (sourced): the programs, the
# cells and thread counts to run (each overridable from the environment),
# and `header`, the first line of a log (date, CPU model, instruction sets,
# cores, commit).
RNN=${RNN:-./target/release/rnn}
TORCH_PY=${TORCH_PY:-$HOME/.torchenv/bin/python}
TORCH_RNN=${TORCH_RNN:-../shared/bench/torch_rnn.py}
CELLS=${CELLS:-elman lstm gru}
THREADS=${THREADS:-1 2}
header() {
    echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(lscpu | grep 'Model name' | sed 's/  */ /g')  $(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ') nproc=$(nproc)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    # instruction-set caps, when set: ours (RNN_SIMD=avx2: the AVX2 builds
    # on an AVX-512 CPU) and PyTorch's (its kernels, oneDNN's, and MKL's,
    # whose GEMM runs nn.RNN and nn.GRU and ignores the other two caps)
    local caps=""
    for v in RNN_SIMD ATEN_CPU_CAPABILITY ONEDNN_MAX_CPU_ISA MKL_ENABLE_INSTRUCTIONS; do
        if [ -n "${!v:-}" ]; then caps="$caps $v=${!v}"; fi
    done
    if [ -n "$caps" ]; then echo "# instruction sets capped:$caps"; fi
}
# torch_rnn.py's name for a cell: rnn for elman
torch_cell() {
    if [ "$1" = elman ]; then echo rnn; else echo "$1"; fi
}
