#!/bin/bash
# Install what is missing, build, and run probe on its embedded defaults.
# Arguments are passed to probe (e.g. scripts/run.sh --pid 1234).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -j"$(nproc)"
exec ./probe "$@"
