#!/bin/bash
# Fuzz the socket capture's parsers, route normalization and the DNS answer parser (libFuzzer with
# ASan and UBSan; targets in tests/fuzz/, built by `make fuzz`).
#
#   scripts/fuzz.sh                 20,000 runs per target (what test.sh runs)
#   scripts/fuzz.sh -runs=1000000   longer; any libFuzzer option is passed on
#   scripts/fuzz.sh -max_total_time=600 http   ten minutes on one target
#
# Seeds come from tests/fuzz/seeds.py (the exchanges the integration tests
# drive); what a run finds new goes to build/fuzz/corpus/<target>, crashes
# to build/fuzz/crash-<target>-*. A crash found becomes a unit test in
# tests/unit/test_sockets.c, test_route.c or test_dns.c. Prints "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

opts=()
targets=()
for a in "$@"; do
	case "$a" in
	-*) opts+=("$a") ;;
	*) targets+=("$a") ;;
	esac
done
[ ${#opts[@]} -eq 0 ] && opts=(-runs=20000)
[ ${#targets[@]} -eq 0 ] && targets=(http pgsql redis mysql classify route dns)

make -j"$(nproc)" fuzz >/dev/null || { echo "fuzz: build failed"; exit 1; }
/usr/bin/python3 tests/fuzz/seeds.py build/fuzz/seeds || exit 1

pass=0
fail=0
for t in "${targets[@]}"; do
	mkdir -p "build/fuzz/corpus/$t"
	log="build/fuzz/$t.log"
	if build/fuzz/fuzz_"$t" "${opts[@]}" -artifact_prefix="build/fuzz/crash-$t-" \
		"build/fuzz/corpus/$t" "build/fuzz/seeds/$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "fuzz $t: ok, $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
	else
		fail=$((fail + 1))
		echo "fuzz $t: FAILED (see $log)"
		grep -m5 -E 'ERROR|runtime error|shim:|route:|dns:' "$log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
