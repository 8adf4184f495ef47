#!/bin/sh
# The whole test suite: install dependencies, then build and run `make check`
# three times: normally, with AddressSanitizer + UBSan, and with every optional
# Linux feature forced off (the fallbacks other hosts use must work, not only
# compile); and compile everything for macOS (scripts/cross-macos.sh).
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
# Each optional Linux feature off, through configure's cache variables: range
# copy, writeback hints, syncfs, pipe2, getentropy, mallopt, fdatasync, the
# BLKGETSIZE64 ioctl, /proc, OFD locks, libblkid, Linux's errno names.
run_suite build-fallback --without-blkid \
	ac_cv_func_copy_file_range=no ac_cv_func_sync_file_range=no ac_cv_func_syncfs=no \
	ac_cv_func_pipe2=no ac_cv_func_getentropy=no ac_cv_func_mallopt=no \
	ac_cv_have_decl_fdatasync=no ac_cv_have_decl_BLKGETSIZE64=no rx_cv_have_proc=no rx_cv_proc_locks=no \
	ac_cv_have_decl_F_OFD_SETLK=no ac_cv_have_decl_F_OFD_GETLK=no \
	ac_cv_have_decl_EUCLEAN=no ac_cv_have_decl_ENOKEY=no ac_cv_have_decl_EKEYREJECTED=no || overall=1
if grep -q '^#define \(HAVE_COPY_FILE_RANGE\|HAVE_SYNCFS\|HAVE_PIPE2\|HAVE_GETENTROPY\|HAVE_PROC_FS\|HOLDER_LOOKUP_PROC\|HAVE_DECL_F_OFD_SETLK\) 1' build-fallback/config.h; then
	echo "build-fallback: a forced-off feature is still on"
	total_fail=$((total_fail + 1))
	overall=1
fi

# macOS: every C file compiles for aarch64 and x86_64 (zig cc, -Werror).
cross_log=build-macos.log
if scripts/cross-macos.sh "$top/build-macos" >"$cross_log" 2>&1; then :; else overall=1; fi
cat "$cross_log"
p=$(sed -n 's/^macOS cross-build: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$cross_log")
f=$(sed -n 's/^macOS cross-build: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$cross_log")
[ -n "$f" ] || { f=1; overall=1; }
total_pass=$((total_pass + ${p:-0}))
total_fail=$((total_fail + f))

echo "tests: $total_pass passed, $total_fail failed"
exit $overall
