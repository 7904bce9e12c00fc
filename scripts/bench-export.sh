#!/bin/bash
# bench-export.sh [SCRAPES]: what /metrics costs with 10,000 series.
#
# nginx on loopback answers a crawler's 10,000 distinct paths (404s) on one
# connection; the probe follows nginx with the route and series caps raised
# so every path is its own series of http_server_request_duration_seconds
# (10,000 histograms, plus their recent-window summaries). Then SCRAPES (10)
# scrapes each of: plain, gzip, and plain again within a second (the cached
# snapshot and text). Prints, side by side: scrape latency (median, max),
# bytes on the wire, the snapshot's build time on the event loop (from
# probe_export_snapshot_duration_seconds), and the probe's CPU per scrape
# and while idle (from /proc/PID/stat). Medians: the machine may be shared.
#
# PROBE_BUILD picks the build directory (default: build). Needs root and
# nginx. The nginx config lives in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scrapes=${1:-10}
probe=${PROBE_BUILD:-build}/probe
if [ ! -x "$probe" ]; then
	echo "bench-export: $probe missing: run make (or set PROBE_BUILD)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-export: needs root" >&2
	exit 77
fi
command -v nginx >/dev/null || { echo "bench-export: nginx missing (scripts/setup.sh --test)" >&2; exit 1; }
exec /usr/bin/python3 -u scripts/bench_export.py --probe "$probe" --scrapes "$scrapes"
