#!/bin/bash
# bench-tls.sh [ROUNDS] [SECONDS]: what TLS plaintext capture costs a busy
# HTTPS server, beside a bpftrace peer on the same libssl functions.
#
# nginx (Debian nginx-light, 1 worker on CPU 0, HTTPS with a self-signed
# certificate, a 612-byte static file) and wrk over TLS (CPU 1, 32
# keep-alive connections) on loopback, SECONDS (10) per run, ROUNDS (5)
# rounds; each round runs, in rotating order: no probe, the probe
# host-wide with only the http signal (its libssl uprobes included) at its
# default sites (the common callee of SSL_read/SSL_read_ex and of
# SSL_write/SSL_write_ex when found) and at the exported wrappers'
# entries, bpftrace with a uprobe on SSL_write and a uprobe + uretprobe on
# SSL_read that only count (the least an sslsniff-style tool does; it
# copies no payload), the same script at the probe's callee sites, and the
# floor: empty programs at those sites. Prints every run, then one run
# each of the probe and the floor with bpf_stats (ns per program and per
# request), then medians with min-max, req/s and p99 ratios against no
# probe, and CPU per request. The machine may be shared: read the spread
# before the medians.
#
# PROBE_BUILD picks the build directory (default: build). Needs root,
# nginx, wrk, openssl, bpftrace and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-10}
probe=${PROBE_BUILD:-build}/probe
if [ ! -x "$probe" ]; then
	echo "bench-tls: $probe missing: run make (or set PROBE_BUILD)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-tls: needs root" >&2
	exit 77
fi
for t in nginx wrk taskset openssl bpftrace; do
	command -v "$t" >/dev/null || { echo "bench-tls: $t missing (scripts/setup.sh --test)" >&2; exit 1; }
done
exec /usr/bin/python3 scripts/bench_tls.py --probe "$probe" --rounds "$rounds" --seconds "$secs"
