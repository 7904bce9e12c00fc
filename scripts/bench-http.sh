#!/bin/bash
# bench-http.sh [ROUNDS] [SECONDS]: what HTTP tracing costs a busy server.
#
# nginx (Debian nginx-light, 1 worker on CPU 0, a 612-byte static file) and
# wrk (CPU 1, 32 keep-alive connections) on loopback, for SECONDS (10) per
# run, ROUNDS (5) rounds; each round runs, in rotating order: no probe, the
# floor (empty programs on the probe's tracepoints), the least an HTTP
# timer there does (a lookup, a 16-byte copy, two clock reads and a small
# record per request, no parsing), the probe host-wide
# with only the http signal, the probe host-wide on its
# embedded defaults, and bpftrace's HTTP latency script on the same
# tracepoints (scripts/bt/http-latency.bt; skipped without bpftrace), each
# measured once ready. Prints every run, then medians with min-max, req/s
# and p99 ratios against no probe and the CPU added per request in ns, then
# a bpf_stats breakdown per BPF program. The machine may be shared: read
# the min-max spread before the medians, and use more rounds when it is wide.
#
# PROBE_BUILD picks the build directory (default: build). Needs root, nginx,
# wrk and taskset. The nginx config lives in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-10}
probe=${PROBE_BUILD:-build}/probe
if [ ! -x "$probe" ]; then
	echo "bench-http: $probe missing: run make (or set PROBE_BUILD)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-http: needs root" >&2
	exit 77
fi
for t in nginx wrk taskset; do
	command -v "$t" >/dev/null || { echo "bench-http: $t missing (scripts/setup.sh --test)" >&2; exit 1; }
done
# the floor row: empty programs on the same tracepoints (tests/bench/http_floor.bpf.c)
floor=${PROBE_BUILD:-build}/bench/http_floor
make -s OUT="${PROBE_BUILD:-build}" "$floor" >&2 || echo "bench-http: no floor row ($floor did not build)" >&2
# the least row: the least an HTTP timer there does (tests/bench/http_least.bpf.c)
least=${PROBE_BUILD:-build}/bench/http_least
make -s OUT="${PROBE_BUILD:-build}" "$least" >&2 || echo "bench-http: no least row ($least did not build)" >&2
exec /usr/bin/python3 scripts/bench_http.py --probe "$probe" --floor "$floor" --least "$least" \
	--rounds "$rounds" --seconds "$secs"
