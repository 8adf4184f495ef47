#!/usr/bin/env bash
# Benchmark the qcow2 container against raw and against qemu-img.
#
# Usage: bench/qcow2.sh [RXIMG]        (RXIMG defaults to ./rximg)
#
# Builds a RedoxFS image of BENCH_SIZE (default 1G) filled with BENCH_DATA
# (default 512) MiB of files (random and text, in a few hundred files), then
# measures, each with hyperfine (or a bash loop):
#   1. read throughput: `rximg extract -q` of the whole tree from the raw image
#      and from the same disk as a qcow2 made by qemu-img (64 KiB clusters);
#      target: qcow2 at least 80% of raw;
#   2. overlay creation: `rximg overlay` and `qemu-img create -b -F raw`;
#   3. conversion raw -> qcow2 and qcow2 -> raw: `rximg convert` into a new
#      DST (not flushed, like cp) against `qemu-img convert` as it runs by
#      default (cache mode "unsafe": never flushed), and `rximg convert --force`
#      over an existing DST (flushed before the rename) against `qemu-img
#      convert -t writeback` (flushed at the end); target: no slower.
# Every timed run writes a new output (removed by the untimed prepare step).
# Prints a markdown table on stdout; hyperfine's output goes to stderr.
#
# Environment knobs:
#   BENCH_SIZE=1G  BENCH_DATA=512 (MiB)  BENCH_RUNS=5  BENCH_WARMUP=1
#   BENCH_NO_HYPERFINE=1   TMPDIR (needs about 4x BENCH_DATA free)
set -euo pipefail

die() { printf 'qcow2.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

case ${1:-} in
-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
RXIMG=${1:-./rximg}
{ [ -f "$RXIMG" ] && [ -x "$RXIMG" ]; } || die "not an executable: $RXIMG (build rximg first or pass its path)"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
command -v qemu-img >/dev/null || die "qemu-img is required (Debian: qemu-utils)"

SIZE=${BENCH_SIZE:-1G}
DATA_MB=${BENCH_DATA:-512}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
USE_HYPERFINE=0
if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
	USE_HYPERFINE=1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-qbench.XXXXXX")
cleanup() { chmod -R u+rwx -- "$TMP" 2>/dev/null || true; rm -rf -- "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# time_cmd NAME PREPARE-CMD CMD...  ->  prints "median_s stddev_s"
time_cmd() {
	local name=$1 prep=$2; shift 2
	if [ "$USE_HYPERFINE" = 1 ]; then
		hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --prepare "$prep" \
			--command-name "$name" --export-csv "$TMP/$name.csv" "$(printf '%q ' "$@")" >&2
		awk -F, 'NR == 2 { print $(NF-4), $(NF-5) }' "$TMP/$name.csv"
	else
		local i t0 t1 times=()
		for ((i = 0; i < WARMUP + RUNS; i++)); do
			sh -c "$prep"
			t0=$(date +%s%N)
			"$@" >/dev/null
			t1=$(date +%s%N)
			[ "$i" -lt "$WARMUP" ] || times+=($((t1 - t0)))
		done
		printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 / 1e9; s += t[NR]; ss += t[NR] * t[NR] }
			END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			      v = ss / NR - (s / NR) ^ 2; if (v < 0) v = 0; printf "%.6f %.6f\n", m, sqrt(v) }'
	fi
}

log "== building a $SIZE RedoxFS with $DATA_MB MiB of files"
SRC=$TMP/src
mkdir -p "$SRC/rand" "$SRC/text"
n=$((DATA_MB / 4))
for ((i = 0; i < n; i++)); do
	head -c $((3 * 1048576 + i * 4099)) /dev/urandom >"$SRC/rand/f$i"
done
seq 1 $((DATA_MB * 1024 * 16)) | head -c $((DATA_MB * 1048576 / 4)) >"$SRC/text/seq"
"$RXIMG" mkfs -s "$SIZE" --from "$SRC" "$TMP/disk.img" >/dev/null
rm -rf "$SRC"
qemu-img convert -f raw -O qcow2 "$TMP/disk.img" "$TMP/disk.qcow2"
bytes=$("$RXIMG" manifest "$TMP/disk.img" | awk -F'\t' '$2 == "file" { s += $6 } END { printf "%d", s }')
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')

rows=()
row() {  # row WHAT A-NAME A-MED A-SD B-NAME B-MED B-SD TARGET-TEXT MET
	rows+=("$(printf '| %s | %s: %.0f ± %.0f ms | %s: %.0f ± %.0f ms | %s | %s |' "$1" "$2" \
		"$(awk -v x="$3" 'BEGIN{print x*1000}')" "$(awk -v x="$4" 'BEGIN{print x*1000}')" "$5" \
		"$(awk -v x="$6" 'BEGIN{print x*1000}')" "$(awk -v x="$7" 'BEGIN{print x*1000}')" "$8" "$9")")
}

log "== extract: raw vs qcow2"
read -r raw_m raw_s < <(time_cmd extract-raw "rm -rf $TMP/x" "$RXIMG" extract -q "$TMP/disk.img" "$TMP/x")
read -r q_m q_s < <(time_cmd extract-qcow2 "rm -rf $TMP/x" "$RXIMG" extract -q "$TMP/disk.qcow2" "$TMP/x")
rm -rf "$TMP/x"
ratio=$(awk -v a="$raw_m" -v b="$q_m" 'BEGIN { printf "%.0f%%", 100 * a / b }')
met=$(awk -v a="$raw_m" -v b="$q_m" 'BEGIN { print (a / b >= 0.8) ? "met" : "NOT met" }')
row "extract $mib MiB of files" "raw" "$raw_m" "$raw_s" "qcow2" "$q_m" "$q_s" \
	"qcow2 throughput ≥ 80% of raw" "$met: $ratio ($(awk -v b="$bytes" -v t="$q_m" 'BEGIN{printf "%.0f", b/1048576/t}') MiB/s)"

log "== cat a large file to /dev/null (reads only: no disk writes to add noise)"
big=$("$RXIMG" manifest "$TMP/disk.img" | awk -F'\t' '$2 == "file" && $6 > m { m = $6; p = $1 } END { print p }')
bigsz=$("$RXIMG" manifest "$TMP/disk.img" | awk -F'\t' -v p="$big" '$1 == p { print $6 }')
read -r craw_m craw_s < <(time_cmd cat-raw "true" sh -c "'$RXIMG' cat '$TMP/disk.img:$big' >/dev/null")
read -r cq_m cq_s < <(time_cmd cat-qcow2 "true" sh -c "'$RXIMG' cat '$TMP/disk.qcow2:$big' >/dev/null")
met=$(awk -v a="$craw_m" -v b="$cq_m" 'BEGIN { print (a / b >= 0.8) ? "met" : "NOT met" }')
row "cat $big ($(awk -v b="$bigsz" 'BEGIN{printf "%.0f", b/1048576}') MiB)" "raw" "$craw_m" "$craw_s" "qcow2" "$cq_m" "$cq_s" \
	"qcow2 throughput ≥ 80% of raw" "$met: $(awk -v a="$craw_m" -v b="$cq_m" 'BEGIN { printf "%.0f%%", 100 * a / b }')"

log "== overlay creation"
read -r ro_m ro_s < <(time_cmd overlay-rximg "rm -f $TMP/o.qcow2" "$RXIMG" overlay "$TMP/disk.img" "$TMP/o.qcow2")
read -r qo_m qo_s < <(time_cmd overlay-qemu "rm -f $TMP/o.qcow2" qemu-img create -q -f qcow2 -b "$TMP/disk.img" -F raw "$TMP/o.qcow2")
met=$(awk -v a="$ro_m" -v b="$qo_m" 'BEGIN { print (a <= b) ? "met" : "NOT met" }')
row "create an overlay" "rximg overlay" "$ro_m" "$ro_s" "qemu-img create" "$qo_m" "$qo_s" "no slower" "$met"

convert_rows() {  # convert_rows LABEL FMT SRC-FMT SRC DST
	local label=$1 fmt=$2 sfmt=$3 src=$4 dst=$5 r_m r_s f_m f_s q_m q_s w_m w_s
	log "== convert $label"
	read -r r_m r_s < <(time_cmd "conv-rximg-$fmt" "rm -f $dst" "$RXIMG" convert -q -O "$fmt" "$src" "$dst")
	qemu-img compare -q "$src" "$dst" || die "rximg convert ($label) produced a different disk"
	read -r f_m f_s < <(time_cmd "conv-rximg-force-$fmt" "rm -f $dst; touch $dst" \
		"$RXIMG" convert -q --force -O "$fmt" "$src" "$dst")
	qemu-img compare -q "$src" "$dst" || die "rximg convert --force ($label) produced a different disk"
	read -r q_m q_s < <(time_cmd "conv-qemu-$fmt" "rm -f $dst" qemu-img convert -f "$sfmt" -O "$fmt" "$src" "$dst")
	read -r w_m w_s < <(time_cmd "conv-qemu-wb-$fmt" "rm -f $dst" qemu-img convert -t writeback -f "$sfmt" -O "$fmt" "$src" "$dst")
	row "convert $label ($SIZE disk, $mib MiB of files)" "rximg convert, new DST (no flush)" "$r_m" "$r_s" \
		"qemu-img convert (default: no flush)" "$q_m" "$q_s" "no slower" \
		"$(awk -v a="$r_m" -v b="$q_m" 'BEGIN { print (a <= b) ? "met" : sprintf("NOT met (%.1fx)", a / b) }')"
	row "convert $label ($SIZE disk, $mib MiB of files)" "rximg convert --force over DST (flushed)" "$f_m" "$f_s" \
		"qemu-img convert -t writeback (flushed)" "$w_m" "$w_s" "no slower" \
		"$(awk -v a="$f_m" -v b="$w_m" 'BEGIN { print (a <= b) ? "met" : sprintf("NOT met (%.1fx)", a / b) }')"
}
convert_rows "raw → qcow2" qcow2 raw "$TMP/disk.img" "$TMP/c.qcow2"
convert_rows "qcow2 → raw" raw qcow2 "$TMP/disk.qcow2" "$TMP/c.img"

if [ "$USE_HYPERFINE" = 1 ]; then
	method="hyperfine $(hyperfine --version | awk '{print $2}'), $WARMUP warmup + $RUNS timed runs"
else
	method="bash loop, $WARMUP warmup + $RUNS timed runs"
fi
printf 'Method: %s; medians ± standard deviation; page cache warm; %s.\n\n' "$method" "$(qemu-img --version | head -n1)"
printf '| what | rximg (or raw) | peer (or qcow2) | target | result |\n|---|---|---|---|---|\n'
printf '%s\n' "${rows[@]}"
