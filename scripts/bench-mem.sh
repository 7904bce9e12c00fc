#!/bin/bash
# Cost of the memgrowth signal (tiers 1 and 2) on allocation-heavy work:
# see scripts/bench_mem.py. ROUNDS (default 9), PAIRS, PY_ITERS tune the run;
# --delay also measures the leak-detection delay (HORIZON_S sets the horizon).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
OUT="${PROBE_BUILD:-build}"
make -s OUT="$OUT" "$OUT/probe" fixtures
exec /usr/bin/python3 scripts/bench_mem.py "$@"
