#!/bin/sh
# Run the fuzz targets of a build configured with --enable-fuzzing, one after
# the other, each for SECONDS, on a corpus kept in the build tree:
#   tests/fuzz/run.sh BUILDDIR SECONDS [TARGET...]     (TARGET: redoxfs, qcow2, ...)
# The corpus starts from tests/fuzz/seeds.sh's seeds. Prints one line per target
# (executions, edges covered, corpus size); exits 1 when a target found a crash,
# a leak or a hang (the input is kept in BUILDDIR/tests/fuzz/findings/).
set -e
build=$(cd "$1" && pwd)
secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
targets=${*:-redoxfs crypt initfs qcow2 part fat path shell}
fz=$build/tests/fuzz
mkdir -p "$fz/findings"
missing=
for t in $targets; do [ -d "$fz/seeds/$t" ] || missing=1; done
if [ -n "$missing" ]; then	# first run, or a target newer than the seeds
	rm -rf "$fz/seeds.tmp"
	"$src/tests/fuzz/seeds.sh" "$build/rximg" "$fz/seeds.tmp" >/dev/null
	rm -rf "$fz/seeds"
	mv "$fz/seeds.tmp" "$fz/seeds"
fi
status=0
for t in $targets; do
	dict=$src/tests/fuzz/$t.dict
	[ "$t" = crypt ] && dict=$src/tests/fuzz/redoxfs.dict
	mkdir -p "$fz/corpus/$t"
	log=$fz/$t.log
	rc=0
	nice -n 19 "$fz/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
		-max_len=1200000 -dict="$dict" -artifact_prefix="$fz/findings/$t-" -print_final_stats=1 \
		"$fz/corpus/$t" "$fz/seeds/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/\([^ ]*\).*/\1 edges, \2 features, corpus \3 inputs (\4)/p')
	echo "fuzz_$t: ${secs}s, ${execs:-?} executions, ${stats:-no stats}"
	if [ $rc -ne 0 ]; then
		status=1
		echo "fuzz_$t: FINDING (exit $rc), log $log:"
		# Prefixed so that summaries filtering on the target's name keep them.
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==|^ +#[0-4] ' "$log" | head -24 |
			sed "s/^/fuzz_$t:   /"
		# A small input is printed whole, so a CI log alone reproduces the finding.
		for f in "$fz/findings/$t-"*; do
			[ -f "$f" ] && [ "$(wc -c <"$f")" -le 4096 ] &&
				echo "fuzz_$t:   input $(basename "$f") base64: $(base64 -w0 <"$f")"
		done
	fi
done
exit $status
