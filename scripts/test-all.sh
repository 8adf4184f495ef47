#!/bin/sh
# The whole test suite: install dependencies, then build and run `make check`
# twice, once normally and once with AddressSanitizer + UBSan.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
[ "${SKIP_DEPS:-}" = 1 ] || scripts/install-deps.sh
./bootstrap >/dev/null

total_pass=0
total_fail=0
run_suite() {  # run_suite DIR CONFIGURE-ARGS...
	dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-werror "$@" && make -j"$(nproc)" -s)
	status=0
	(cd "$dir" && make -j"$(nproc)" -s check) || status=$?
	# Count TAP results from the harness's per-test logs.
	p=$(cat "$dir"/tests/*.trs "$dir"/tests/unit/*.trs 2>/dev/null | grep -c '^:test-result: \(PASS\|SKIP\|XFAIL\)' || true)
	f=$(cat "$dir"/tests/*.trs "$dir"/tests/unit/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' || true)
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$status" -ne 0 ]; then
		for log in "$dir"/tests/*.log "$dir"/tests/unit/*.log; do
			grep -q '^not ok' "$log" 2>/dev/null && { echo "== $log"; grep -B2 -A20 '^not ok' "$log" | head -80; }
		done
		return 1
	fi
}

overall=0
run_suite build-test || overall=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite build-asan --enable-sanitizers || overall=1
echo "tests: $total_pass passed, $total_fail failed"
exit $overall
