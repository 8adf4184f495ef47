#!/usr/bin/env bash
# Benchmark `rximg initfs repack TREE -o OUT` against `cp -a TREE DEST` of the
# same tree (about 50 MiB, shaped like a real initfs: drivers of 100 KiB to
# 3 MiB, configuration files, a few directories and symlinks).
#
# Usage: bench/initfs.sh [RXIMG]        (RXIMG defaults to ./rximg)
#
# The reference archiver (redox-initfs-ar) is not available here, so the
# comparison is with cp -a, the cost of writing the same bytes as files.
# Before every run (outside the timed region) the previous output is deleted
# (BENCH_CLEAN=rm, the default) or moved into a trash dir (BENCH_CLEAN=mv; see
# bench/extract.sh for why that can matter on ext4 without a journal; it makes
# the page cache grow by the output's size every run, which slows runs too).
# Prints a markdown table on stdout; hyperfine's output goes to stderr.
#
# Environment knobs:
#   BENCH_RUNS=10        timed runs per command
#   BENCH_WARMUP=2       untimed warmup runs per command
#   BENCH_MIB=50         size of the tree
#   BENCH_LAYOUT=v4      layout written (v4: page-aligned, the users' layout)
#   BENCH_NO_HYPERFINE=1 use the bash fallback even if hyperfine is installed
#   TMPDIR               where the trees go (default /tmp)
set -euo pipefail

die() { printf 'initfs.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

case ${1:-} in
-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
[ $# -le 1 ] || die "usage: bench/initfs.sh [RXIMG]"

RXIMG=${1:-./rximg}
{ [ -f "$RXIMG" ] && [ -x "$RXIMG" ]; } || die "not an executable: $RXIMG (build rximg first or pass its path)"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
MIB=${BENCH_MIB:-50}
LAYOUT=${BENCH_LAYOUT:-v4}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"
[[ $MIB =~ ^[1-9][0-9]*$ ]] || die "BENCH_MIB must be a positive integer"
[[ ${BENCH_CLEAN:-rm} =~ ^(rm|mv)$ ]] || die "BENCH_CLEAN must be rm or mv"
USE_HYPERFINE=0
if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
	USE_HYPERFINE=1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-initfs.XXXXXX")
TRASH=$TMP/trash
mkdir "$TRASH"
cleanup() { chmod -R u+rwx -- "$TMP" 2>/dev/null || true; rm -rf -- "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The tree: 3/4 of the bytes in drivers (incompressible), the rest in many small files.
TREE=$TMP/tree
mkdir -p "$TREE"/{bin,lib,etc/pcid.d,etc/init.d,usr/share}
total=$((MIB << 20))
made=0 i=0
while [ $made -lt $((total * 3 / 4)) ]; do
	size=$(( (100 + (i * 7919) % 2900) << 10 ))
	head -c "$size" /dev/urandom >"$TREE/bin/driver$i"
	chmod 0755 "$TREE/bin/driver$i"
	made=$((made + size))
	i=$((i + 1))
done
j=0
while [ $made -lt $total ]; do
	size=$(( (1 + (j * 104729) % 48) << 10 ))
	case $((j % 4)) in
	0) d=etc/pcid.d ;; 1) d=etc/init.d ;; 2) d=lib ;; *) d=usr/share ;;
	esac
	head -c "$size" /dev/urandom | base64 >"$TREE/$d/file$j"
	made=$((made + size * 4 / 3))
	j=$((j + 1))
done
ln -s driver0 "$TREE/bin/init"
ln -s ../bin/driver1 "$TREE/lib/link"
files=$(find "$TREE" | wc -l)
bytes=$(du -sb "$TREE" | cut -f1)
log "tree: $files entries, $bytes bytes ($i drivers, $j small files)"

cat >"$TMP/prepare.sh" <<'EOF'
#!/bin/sh
# prepare.sh DEST TRASH: delete the previous output, or move it out of the way (a rename).
[ -e "$1" ] || exit 0
[ "${BENCH_CLEAN:-rm}" = mv ] && exec mv -- "$1" "$(mktemp -d -p "$2")/"
exec rm -rf -- "$1"
EOF
chmod +x "$TMP/prepare.sh"

# time_cmd DEST CMD...  ->  prints "median_s mean_s stddev_s min_s"
time_cmd() {
	local dest=$1; shift
	if [ "$USE_HYPERFINE" = 1 ]; then
		local cmd prep
		cmd=$(printf '%q ' "$@")
		prep=$(printf '%q ' "$TMP/prepare.sh" "$dest" "$TRASH")
		hyperfine --style basic --shell=none --warmup "$WARMUP" --runs "$RUNS" \
			--prepare "$prep" --export-json "$TMP/hf.json" "$cmd" >&2
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["mean"], r["stddev"] or 0, r["min"])' "$TMP/hf.json"
	else
		local t0 t1 k times=()
		for ((k = 0; k < WARMUP + RUNS; k++)); do
			"$TMP/prepare.sh" "$dest" "$TRASH"
			t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
			[ $k -ge "$WARMUP" ] && times+=("$(( t1 - t0 ))")
		done
		printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 / 1e9; s += a[NR]; q += a[NR] ^ 2 }
			END { m = s / NR; printf "%f %f %f %f\n", a[int((NR + 1) / 2)], m, sqrt(q / NR - m * m), a[1] }'
	fi
}

OUT=$TMP/initfs.img
read -r rmed rmean rsd rmin < <(time_cmd "$OUT" "$RXIMG" initfs repack "$TREE" --no-bootstrap \
	--layout "$LAYOUT" --max-size 1G -o "$OUT")
# Over the archive left by the last run: a replacement, flushed to the disk before the rename.
read -r fmed fmean fsd fmin < <(time_cmd "$TMP/nothing-to-clean" "$RXIMG" initfs repack "$TREE" --no-bootstrap \
	--layout "$LAYOUT" --max-size 1G -o "$OUT")
read -r cmed cmean csd cmin < <(time_cmd "$TMP/copy" cp -a "$TREE" "$TMP/copy")
size=$(stat -c %s "$OUT")

ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
echo "| command | median ms | mean ms | stddev ms | min ms |"
echo "|---|---|---|---|---|"
echo "| rximg initfs repack ($LAYOUT, $((bytes >> 20)) MiB, $files entries -> $((size >> 20)) MiB archive) | $(ms "$rmed") | $(ms "$rmean") | $(ms "$rsd") | $(ms "$rmin") |"
echo "| the same, replacing the previous archive (flushed before the rename) | $(ms "$fmed") | $(ms "$fmean") | $(ms "$fsd") | $(ms "$fmin") |"
echo "| cp -a of the same tree | $(ms "$cmed") | $(ms "$cmean") | $(ms "$csd") | $(ms "$cmin") |"
