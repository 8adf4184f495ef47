#!/usr/bin/env bash
# Benchmark `rximg extract -q IMAGE DESTDIR` against `cp -a` of the same tree.
#
# Usage: bench/extract.sh [RXIMG]        (RXIMG defaults to ./rximg)
#
# For each test image the script decompresses the image into a private temp
# dir, extracts it once to a reference dir, then times
#   rximg extract -q IMAGE DEST      and      cp -a REFDIR DEST
# with DEST removed before every run (outside the timed region).  `cp -a` of
# the tree already on disk is the physical limit for producing that tree.
# Prints a markdown table on stdout; progress goes to stderr.
#
# Environment knobs:
#   BENCH_IMAGES="large-files bigdir"  images from tests/data to use (NAME.img.zst)
#   BENCH_RUNS=10        timed runs (hyperfine: minimum runs)
#   BENCH_WARMUP=2       untimed warmup runs
#   BENCH_NO_HYPERFINE=1 use the bash fallback even if hyperfine is installed
#   TMPDIR               where images and trees go (default /tmp)
set -euo pipefail

die() { printf 'extract.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

case ${1:-} in
-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
[ $# -le 1 ] || die "usage: bench/extract.sh [RXIMG]"

RXIMG=${1:-./rximg}
{ [ -f "$RXIMG" ] && [ -x "$RXIMG" ]; } || die "not an executable: $RXIMG (build rximg first or pass its path)"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$TOP/tests/data
read -r -a IMAGES <<<"${BENCH_IMAGES:-large-files bigdir}"
RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

command -v zstd >/dev/null || die "zstd is required"
USE_HYPERFINE=0
if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
	USE_HYPERFINE=1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench.XXXXXX")
# Extracted trees may contain read-only directories: make them writable first.
zap() { [ ! -e "$1" ] || { chmod -R u+rwx -- "$1" 2>/dev/null || true; rm -rf -- "$1"; }; }
cleanup() { zap "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# time_cmd NAME PREP_DIR CMD...  ->  prints "median_s mean_s stddev_s min_s"
# DEST (PREP_DIR) is removed before every run, warmups included.
time_cmd() {
	local name=$1 dest=$2; shift 2
	if [ "$USE_HYPERFINE" = 1 ]; then
		local cmd q
		cmd=$(printf '%q ' "$@")
		q=$(printf '%q' "$dest")
		hyperfine --style basic --warmup "$WARMUP" --min-runs "$RUNS" \
			--prepare "if [ -e $q ]; then chmod -R u+rwx -- $q 2>/dev/null; rm -rf -- $q; fi" --command-name "$name" \
			--export-csv "$TMP/$name.csv" "$cmd" >&2
		# columns: command,mean,stddev,median,user,system,min,max
		awk -F, 'NR == 2 { print $(NF-4), $(NF-6), $(NF-5), $(NF-1) }' "$TMP/$name.csv"
	else
		local i t0 t1 times=()
		for ((i = 0; i < WARMUP + RUNS; i++)); do
			zap "$dest"
			t0=$(date +%s%N)
			"$@" >/dev/null
			t1=$(date +%s%N)
			[ "$i" -lt "$WARMUP" ] || times+=($((t1 - t0)))
		done
		printf '%s\n' "${times[@]}" | sort -n | awk '
			{ t[NR] = $1 / 1e9; s += t[NR]; ss += t[NR] * t[NR] }
			END {
				m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
				mean = s / NR; var = ss / NR - mean * mean; if (var < 0) var = 0
				printf "%.6f %.6f %.6f %.6f\n", m, mean, sqrt(var), t[1]
			}'
	fi
}

if [ "$USE_HYPERFINE" = 1 ]; then
	method="hyperfine $(hyperfine --version | awk '{print $2}'), $WARMUP warmup, >= $RUNS runs, median"
else
	method="bash loop (date +%s%N), $WARMUP warmup, $RUNS runs, median"
fi

rows=()
for img in "${IMAGES[@]}"; do
	src=$DATA/$img.img.zst
	[ -f "$src" ] || die "no such image: $src"
	log "== $img"
	zstd -dqf -o "$TMP/$img.img" -- "$src"
	ref=$TMP/ref-$img
	out=$TMP/out-$img
	"$RXIMG" extract -q "$TMP/$img.img" "$ref" || die "$img: reference extract failed"

	entries=$(find "$ref" -mindepth 1 | wc -l)
	bytes=$(find "$ref" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }')
	imgsize=$(stat -c %s "$TMP/$img.img")

	read -r rx_med _ rx_sd _ < <(time_cmd rximg "$out" "$RXIMG" extract -q "$TMP/$img.img" "$out")
	# Sanity: the timed extraction produced the same tree as the reference.
	[ "$(find "$out" -mindepth 1 | wc -l)" = "$entries" ] || die "$img: timed extract produced a different tree"
	read -r cp_med _ cp_sd _ < <(time_cmd cp "$out" cp -a "$ref" "$out")
	zap "$out"

	rows+=("$(awk -v img="$img" -v isz="$imgsize" -v n="$entries" -v b="$bytes" \
		-v rm="$rx_med" -v rs="$rx_sd" -v cm="$cp_med" -v cs="$cp_sd" 'BEGIN {
		r = rm / cm
		printf "| %s | %.0f MiB | %d | %.2f MiB | %.1f ± %.1f | %.1f ± %.1f | %.2fx | %.1f MiB/s, %.0f entries/s | %.1f MiB/s, %.0f entries/s | %s |\n",
			img, isz / 1048576, n, b / 1048576, rm * 1000, rs * 1000, cm * 1000, cs * 1000, r,
			b / 1048576 / rm, n / rm, b / 1048576 / cm, n / cm, (r <= 2 ? "met" : "NOT met")
	}')")
	zap "$ref"; rm -f -- "$TMP/$img.img"
done

printf 'Method: %s; destination removed before every run (untimed).\n\n' "$method"
printf '| image | image size | entries | file data | rximg extract (ms, median ± σ) | cp -a (ms, median ± σ) | rximg/cp | rximg throughput | cp -a throughput | target ≤ 2x |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
printf '%s\n' "${rows[@]}"
