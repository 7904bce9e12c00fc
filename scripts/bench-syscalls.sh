#!/bin/bash
# Cost of the syscall signal per syscall: see scripts/bench_syscalls.py.
# ROUNDS (default 7), ITERS (default 3000000) and SAMPLED_RUN (default 20s,
# the length of the sampled-latency runs) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s probe bench
exec /usr/bin/python3 scripts/bench_syscalls.py
