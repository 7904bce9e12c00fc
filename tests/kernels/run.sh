#!/bin/bash
# usage: tests/kernels/run.sh [KERNEL...]     (default: 6.1 6.12 host)
# The kernel matrix: for each kernel, one boot (tests/kernels/vm.sh, QEMU under TCG) runs
# tests/kernels/test_guest.py: `probe --check --json`, then one host-wide probe run over a
# known syscall mix, HTTP requests, refused connects, a Redis exchange and a leaking
# fixture, with exact assertions. "host" runs the same on the running kernel, under the
# shared lock $PROBE_LOCK (default /tmp/probe-integration.lock; empty: none, for a caller
# that holds it already): its servers share loopback with other tests, a VM's do not.
# Needs `make probe fixtures` first. Prints the time each kernel took and ends
# with "kernels: N passed, N failed, N skipped"; exit 0 only when none failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 6.12 host)
per_kernel_s=${PROBE_KERNEL_TIMEOUT_S:-900}
test_cmd=(/usr/bin/python3 -m pytest -v -p no:cacheprovider tests/kernels/test_guest.py)

if ! [ -x build/probe ] || ! [ -x build/fixtures/syscall_mix ]; then
	echo "kernels: build/probe or the fixtures are missing: run make probe fixtures" >&2
	exit 2
fi

passed=0 failed=0 skipped=0
results=()
for k in "${kernels[@]}"; do
	echo "=== kernel $k"
	start=$(date +%s)
	if [ "$k" = host ]; then
		lock=${PROBE_LOCK-/tmp/probe-integration.lock}
		if [ -n "$lock" ]; then
			flock "$lock" timeout "$per_kernel_s" "${test_cmd[@]}"
		else
			timeout "$per_kernel_s" "${test_cmd[@]}"
		fi
		rc=$?
	else
		tests/kernels/vm.sh -t "$per_kernel_s" "$k" -- "${test_cmd[@]}"
		rc=$?
	fi
	took=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); r=passed
	elif [ "$rc" -eq 250 ]; then
		skipped=$((skipped + 1)); r=skipped
	else
		failed=$((failed + 1)); r="failed (exit $rc)"
	fi
	results+=("$k: $r in ${took} s")
done
printf '  %s\n' "${results[@]}"
echo "kernels: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
