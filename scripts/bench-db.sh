#!/bin/bash
# Redis and PostgreSQL client throughput with and without probe (query
# capture): see scripts/bench_db.py. ROUNDS (default 5), SECS (pgbench
# seconds, default 6), REQS (redis-benchmark requests), ONLY (comma-separated
# workload names), MODE (default:
# probe's default config host-wide; sockets: the socket capture alone)
# tune the run; PROBE_BUILD picks the build directory (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
make -s OUT="${PROBE_BUILD:-build}" "${PROBE_BUILD:-build}/probe"
exec /usr/bin/python3 scripts/bench_db.py
