#!/bin/bash
# Install what is missing, build, and run the whole test suite:
#   1. unit tests (cmocka)
#   2. the same unit tests under AddressSanitizer + UBSan
#   3. the parsers' fuzzers, 20,000 runs per target (scripts/fuzz.sh)
#   4. integration tests as root against real processes and servers (pytest)
#   5. the kernel matrix (tests/kernels/run.sh: Debian's kernels in QEMU, and this one)
# Each runner prints its own summary; the last line totals the steps.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit $?

failed=0
step() {
	echo "=== $1"
	shift
	if "$@"; then return 0; fi
	echo "=== FAILED: $*"
	failed=$((failed + 1))
}

step "build" make -j"$(nproc)" probe fixtures
step "unit tests" make -j"$(nproc)" test-unit
step "unit tests under ASan/UBSan" make -j"$(nproc)" SAN=1 test-unit
step "fuzzers" scripts/fuzz.sh -runs=20000
# Debian's pytest lives with Debian's python3, not a python3 earlier on PATH.
step "integration tests" /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration
# Debian 12's 6.1 and 6.12 kernels in QEMU, then the running one; whoever runs
# test.sh holds the integration lock if the machine is shared.
step "kernel matrix" env PROBE_LOCK= tests/kernels/run.sh

passed=$((6 - failed))
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
