#!/bin/bash
# Cost of the syscall signal per syscall: see scripts/bench_syscalls.py.
# ROUNDS (default 7) and ITERS (default 3000000) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s probe bench
exec /usr/bin/python3 scripts/bench_syscalls.py
