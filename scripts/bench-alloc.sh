#!/bin/bash
# Cost of the alloc signal (tier 3: allocator uprobes) on allocation-heavy
# work, and its leak-detection delay: see scripts/bench_alloc.py.
# ROUNDS (default 5), PAIRS, PY_ITERS, DELAY_ROUNDS, SECTIONS tune the run;
# PROBE_BUILD picks the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
OUT="${PROBE_BUILD:-build}"
make -s OUT="$OUT" "$OUT/probe" fixtures
exec /usr/bin/python3 scripts/bench_alloc.py "$@"
