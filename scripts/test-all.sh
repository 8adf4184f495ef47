#!/bin/sh
# The whole test suite: install dependencies, then build and run `make check`
# three times: normally, with AddressSanitizer + UBSan, and with every optional
# Linux feature forced off (the fallbacks other hosts use must work, not only
# compile); and compile everything for macOS (scripts/cross-macos.sh). Then:
# some scenario scripts again with every rximg under valgrind memcheck, every
# fuzz target for a short smoke run (tests/fuzz), and a release tarball built
# and tested on its own (make distcheck, with a few tests).
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
	stage_start=$(date +%s)
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
	echo "$dir: $p passed, $f failed ($(($(date +%s) - stage_start)) s)"
	if [ "$status" -ne 0 ]; then
		for log in "$dir"/tests/*.log "$dir"/tests/unit/*.log; do
			grep -q '^not ok' "$log" 2>/dev/null && { echo "== $log"; grep -B2 -A20 '^not ok' "$log" | head -80; }
		done
		return 1
	fi
}

overall=0
run_suite build-test || overall=1

# valgrind memcheck over the CLI: scripts chosen for the verbs they cover
# (verbs: every verb of the command line, writers and their commits included;
# diff reads and compares whole trees; parttable: GPT, MBR, partitions) within
# ~6 minutes (tests/hostile.sh would take over an hour under valgrind).
# Any error or leak in any rximg run is written to a log of its own.
VALGRIND_TESTS=${VALGRIND_TESTS:-tests/verbs.sh tests/diff.sh tests/parttable.sh}
vg_logs=$top/build-test/tests/work/valgrind
rm -rf "$vg_logs"
mkdir -p "$vg_logs"
vg_start=$(date +%s)
status=0
(cd build-test && make -s check TESTS="$VALGRIND_TESTS" RXIMG_WRAPPER="valgrind -q --error-exitcode=125 \
	--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--log-file=$vg_logs/%p.log") >/dev/null 2>&1 || status=$?
vg_runs=$(find "$vg_logs" -name '*.log' | wc -l)
vg_bad=$(find "$vg_logs" -name '*.log' -size +0 | wc -l)
echo "valgrind: $VALGRIND_TESTS: $vg_runs runs of rximg, $vg_bad with errors ($(($(date +%s) - vg_start)) s)"
if [ "$status" -ne 0 ] || [ "$vg_bad" -ne 0 ] || [ "$vg_runs" -eq 0 ]; then
	find "$vg_logs" -name '*.log' -size +0 | head -5 | xargs -r cat | head -100
	for t in $VALGRIND_TESTS; do grep -B2 -A20 '^not ok' "build-test/${t%.sh}.log" 2>/dev/null | head -40; done
	total_fail=$((total_fail + 1))
	overall=1
else
	total_pass=$((total_pass + 1))
fi
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite build-asan --enable-sanitizers || overall=1
# Each optional Linux feature off, through configure's cache variables: range
# copy, writeback hints, syncfs, pipe2, getentropy, mallopt, fdatasync, the
# BLKGETSIZE64 ioctl, /proc, OFD locks, libblkid, Linux's errno names.
run_suite build-fallback --without-blkid \
	ac_cv_func_copy_file_range=no ac_cv_func_sync_file_range=no ac_cv_func_syncfs=no \
	ac_cv_func_pipe2=no ac_cv_func_getentropy=no ac_cv_func_mallopt=no \
	ac_cv_have_decl_fdatasync=no ac_cv_have_decl_BLKGETSIZE64=no rx_cv_have_proc=no rx_cv_proc_locks=no \
	ac_cv_have_decl_F_OFD_SETLK=no ac_cv_have_decl_F_OFD_GETLK=no ac_cv_have_decl_F_SETLEASE=no ac_cv_have_decl_MADV_HUGEPAGE=no \
	ac_cv_have_decl_EUCLEAN=no ac_cv_have_decl_ENOKEY=no ac_cv_have_decl_EKEYREJECTED=no || overall=1
if grep -q '^#define \(HAVE_COPY_FILE_RANGE\|HAVE_SYNCFS\|HAVE_PIPE2\|HAVE_GETENTROPY\|HAVE_PROC_FS\|HOLDER_LOOKUP_PROC\|HAVE_DECL_F_OFD_SETLK\|HAVE_DECL_F_SETLEASE\|HAVE_DECL_MADV_HUGEPAGE\) 1' build-fallback/config.h; then
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

# Fuzzing smoke run: each libFuzzer target for FUZZ_SECONDS, one after the other.
fuzz_log=build-fuzz.log
rm -rf build-fuzz
mkdir -p build-fuzz
fuzz_start=$(date +%s)
if (cd build-fuzz && "$top/configure" -q --enable-werror --enable-fuzzing && make -j"$(nproc)" -s) >"$fuzz_log" 2>&1; then
	tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-25}" >>"$fuzz_log" 2>&1 || overall=1
else
	echo "fuzz: the build with --enable-fuzzing failed" >>"$fuzz_log"
	overall=1
fi
grep -E '^fuzz' "$fuzz_log" || tail -30 "$fuzz_log"
echo "fuzz: $(($(date +%s) - fuzz_start)) s"
p=$(grep -c '^fuzz_[a-z0-9]*: [0-9]*s,' "$fuzz_log" || true)
f=$(grep -c -E '^fuzz_[a-z0-9]*: FINDING|^fuzz: the build' "$fuzz_log" || true)
total_pass=$((total_pass + p - f))
total_fail=$((total_fail + f))

# The release tarball: make distcheck (dist, a read-only VPATH build, install and
# uninstall under a DESTDIR, a few tests from the tarball alone).
dist_start=$(date +%s)
if (cd build-test && make -s distcheck TESTS="${DISTCHECK_TESTS:-tests/unit/test_codec tests/golden.sh tests/manpages.sh tests/completion.sh}") \
	>build-distcheck.log 2>&1; then
	total_pass=$((total_pass + 1))
	echo "distcheck: passed ($(($(date +%s) - dist_start)) s)"
else
	tail -40 build-distcheck.log
	total_fail=$((total_fail + 1))
	overall=1
fi

echo "tests: $total_pass passed, $total_fail failed"
exit $overall
