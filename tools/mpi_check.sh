#!/usr/bin/env bash
# The MPI tests (crates/rnn-cli/tests/mpi.rs): `rnn` built with the `mpi`
# feature, run under `mpirun -np 2 --oversubscribe --allow-run-as-root` on
# this machine alone (shared memory and loopback; no other interface).
# Needs Open MPI and libclang (Debian: libopenmpi-dev openmpi-bin
# libclang-dev; .ci/run installs them when missing).
#
#   bash tools/mpi_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mpirun > /dev/null || { echo "mpi_check: mpirun is not installed" >&2; exit 1; }
# loopback only, and no cross-memory attach (refused in many containers)
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# one MPI job at a time: two of them on a small machine only slow each other
cargo test --release -p rnn-cli --features mpi --test mpi -- --test-threads=1
