#!/bin/bash
# Redis and PostgreSQL client throughput, and a bare connect loop, with and
# without the conn signal: see scripts/bench_conn.py. ROUNDS (default 7),
# SECS (pgbench seconds, default 8), REQS / REQS_K0 (redis-benchmark
# requests), CHURN (connects), ONLY (comma-separated workload names) tune
# the run; PROBE_BUILD picks the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
make -s OUT="${PROBE_BUILD:-build}" "${PROBE_BUILD:-build}/probe" fixtures
exec /usr/bin/python3 scripts/bench_conn.py
