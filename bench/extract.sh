#!/usr/bin/env bash
# Benchmark `rximg extract -q IMAGE DESTDIR` against `cp -a` of the same tree.
#
# Usage: bench/extract.sh [RXIMG]        (RXIMG defaults to ./rximg)
#
# For each test image the script decompresses the image into a private temp
# dir, extracts it once to a reference dir, then times
#   rximg extract -q IMAGE DEST      and      cp -a REFDIR DEST
# `cp -a` of the tree already on disk is the physical limit for producing it.
# Before every run (warmups included, outside the timed region) DEST is
# renamed into a trash dir rather than deleted; the trash is deleted once, on
# exit.  Deleting thousands of inodes between runs would skew the results on
# ext4 without a journal, which refuses to reuse recently deleted inodes for
# 60-300 s and makes every create scan past them (see bench/README.md).
# Prints a markdown table on stdout; hyperfine's output goes to stderr.
#
# Environment knobs:
#   BENCH_IMAGES="large-files bigdir"  images from tests/data (NAME.img.zst)
#   BENCH_RUNS=10        timed runs per command
#   BENCH_WARMUP=2       untimed warmup runs per command
#   BENCH_NO_HYPERFINE=1 use the bash fallback even if hyperfine is installed
#   TMPDIR               where images and trees go (default /tmp); needs about
#                        (BENCH_RUNS + BENCH_WARMUP) * 2 copies of each tree
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
[ "${#IMAGES[@]}" -gt 0 ] || die "BENCH_IMAGES is empty"

command -v zstd >/dev/null || die "zstd is required"
USE_HYPERFINE=0
if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
	USE_HYPERFINE=1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench.XXXXXX")
TRASH=$TMP/trash
mkdir "$TRASH"
cleanup() {
	# Extracted trees may contain read-only directories: make them writable first.
	chmod -R u+rwx -- "$TMP" 2>/dev/null || true
	rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Untimed step before each run: move DEST out of the way (a rename, O(1)).
cat >"$TMP/prepare.sh" <<'EOF'
#!/bin/sh
# prepare.sh DEST TRASH
[ ! -e "$1" ] || exec mv -- "$1" "$(mktemp -d -p "$2")/"
EOF
chmod +x "$TMP/prepare.sh"

# time_cmd NAME DEST CMD...  ->  prints "median_s mean_s stddev_s min_s"
time_cmd() {
	local name=$1 dest=$2; shift 2
	if [ "$USE_HYPERFINE" = 1 ]; then
		local cmd prep
		cmd=$(printf '%q ' "$@")
		prep=$(printf '%q ' "$TMP/prepare.sh" "$dest" "$TRASH")
		hyperfine --style basic --shell=none --warmup "$WARMUP" --runs "$RUNS" \
			--prepare "$prep" --command-name "$name" \
			--export-csv "$TMP/$name.csv" "$cmd" >&2
		# columns: command,mean,stddev,median,user,system,min,max
		awk -F, 'NR == 2 { print $(NF-4), $(NF-6), $(NF-5), $(NF-1) }' "$TMP/$name.csv"
	else
		local i t0 t1 times=()
		for ((i = 0; i < WARMUP + RUNS; i++)); do
			"$TMP/prepare.sh" "$dest" "$TRASH"
			t0=$(date +%s%N)
			"$@" >/dev/null
			t1=$(date +%s%N)
			[ "$i" -lt "$WARMUP" ] || times+=($((t1 - t0)))
		done
		printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" '
			{ t[NR] = $1 / 1e9; s += t[NR]; ss += t[NR] * t[NR] }
			END {
				m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
				mean = s / NR; var = ss / NR - mean * mean; if (var < 0) var = 0
				printf "  %s: median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n",
					name, m * 1e3, t[1] * 1e3, t[NR] * 1e3, NR > "/dev/stderr"
				printf "%.6f %.6f %.6f %.6f\n", m, mean, sqrt(var), t[1]
			}'
	fi
}

if [ "$USE_HYPERFINE" = 1 ]; then
	method="hyperfine $(hyperfine --version | awk '{print $2}') --shell=none, $WARMUP warmup + $RUNS timed runs per command"
else
	method="bash loop (date +%s%N), $WARMUP warmup + $RUNS timed runs per command"
fi

# Create probe: how fast can this filesystem create empty files right now?
# On ext4 without a journal this rises from ~10-20 us to several hundred us
# per file for a few minutes after any process deletes many files there.
probe=$TMP/probe
mkdir "$probe"
t0=$(date +%s%N)
(cd "$probe" && seq 1 2000 | xargs touch)
t1=$(date +%s%N)
probe_us=$(( (t1 - t0) / 2000 / 1000 ))
"$TMP/prepare.sh" "$probe" "$TRASH"
fs=$(findmnt -n -o FSTYPE -T "$TMP" 2>/dev/null | tail -n1 || stat -f -c %T "$TMP")
log "create probe on $TMP ($fs): $probe_us us per empty file"

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
	# Sanity: the last timed extraction produced the same tree as the reference.
	[ "$(find "$out" -mindepth 1 | wc -l)" = "$entries" ] || die "$img: timed extract produced a different tree"
	read -r cp_med _ cp_sd _ < <(time_cmd cp "$out" cp -a "$ref" "$out")

	rows+=("$(awk -v img="$img" -v isz="$imgsize" -v n="$entries" -v b="$bytes" \
		-v rm="$rx_med" -v rs="$rx_sd" -v cm="$cp_med" -v cs="$cp_sd" 'BEGIN {
		r = rm / cm
		printf "| %s | %.0f MiB | %d | %.2f MiB | %.1f ± %.1f | %.1f ± %.1f | %.2fx | %.1f MiB/s, %.0f entries/s | %.1f MiB/s, %.0f entries/s | %s |\n",
			img, isz / 1048576, n, b / 1048576, rm * 1000, rs * 1000, cm * 1000, cs * 1000, r,
			b / 1048576 / rm, n / rm, b / 1048576 / cm, n / cm, (r <= 2 ? "met" : "NOT met")
	}')")
	"$TMP/prepare.sh" "$out" "$TRASH"
	"$TMP/prepare.sh" "$ref" "$TRASH"
	rm -f -- "$TMP/$img.img"
done

printf 'Method: %s; times are medians (± standard deviation) in ms.\n' "$method"
printf 'Scratch dir: %s (%s); create probe before the runs: %s µs per empty file.\n\n' "${TMPDIR:-/tmp}" "$fs" "$probe_us"
printf '| image | image size | entries | file data | rximg extract (ms) | cp -a (ms) | rximg/cp | rximg throughput | cp -a throughput | target ≤ 2x |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
printf '%s\n' "${rows[@]}"
log "removing scratch trees in $TMP"
