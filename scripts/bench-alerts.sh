#!/bin/bash
# What one evaluation of the default alert rules costs the event loop, for
# 100, 1000 and 5000 HTTP routes (two status classes each) plus as many
# database query series, each with a full 5 min window. Prints the median
# and slowest of ROUNDS evaluations. No probe or root needed.
#   scripts/bench-alerts.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/alert_eval
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine disturbs the figures)"
build/bench/alert_eval "${1:-21}"
