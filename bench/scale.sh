#!/usr/bin/env bash
# Scale: time and peak memory of rximg on big trees against the host's tools.
#
# Usage: bench/scale.sh [RXIMG]          (RXIMG defaults to ./rximg; run as root for cold runs)
#
# Trees, built deterministically (a fixed seed): BENCH_FILES (default "200000";
# e.g. "200000 1000000") trees of mixed sizes (most files a few KiB, some tens
# of KiB, a few 1 MiB; about 7 KiB on average, 100 files a directory), and, with
# BENCH_FLAT=N (or a list, "1000 1000000"), one directory of N empty files. For each tree:
#   rximg mkfs --from       vs  mke2fs -t ext4 -d   and  cp -a (the limit)
#   rximg check             vs  e2fsck -fn
#   rximg extract           vs  cp -a
# and, for one directory, what should cost O(log N) a name through the h-tree
# (100 runs each of rximg stat, put of a new file and rm; the seconds are for
# all 100, each run a whole process with its own commit) and `rximg ls`
# of the whole directory;
# each once with a warm page cache and once cold (sync; echo 3 >
# /proc/sys/vm/drop_caches before the run; skipped unless root). Peak RSS comes
# from /usr/bin/time. Prints a markdown table. Needs python3, e2fsprogs, GNU time.
# BENCH_BEFORE=/path/to/an/older/rximg adds its warm mkfs --from and check rows.
# Scratch space: TMPDIR (needs about 4x the tree's size). BENCH_PEER_LIMIT
# (default 900): seconds after which mke2fs -d is stopped and reported as such.
set -euo pipefail

die() { printf 'scale.sh: %s\n' "$*" >&2; exit 1; }
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
for t in python3 mke2fs e2fsck; do command -v $t >/dev/null || die "$t is required"; done
[ -x /usr/bin/time ] || die "/usr/bin/time is required (apt-get install time)"
FILES=${BENCH_FILES:-200000}
FLAT=${BENCH_FLAT:-0}
PEER_LIMIT=${BENCH_PEER_LIMIT:-900}
cold_ok=0
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && cold_ok=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-scale.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

make_tree() {  # make_tree DIR FILES FLAT(0/1)
	python3 - "$@" <<'EOF'
import os, random, sys
root, n, flat = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
rng = random.Random(13)
block = bytes(rng.getrandbits(8) for _ in range(1 << 20))
text = b"".join(b"line %d of a text file\n" % i for i in range(50000))
for i in range(n):
    d = root if flat else os.path.join(root, "g%03d" % (i // 10000), "d%03d" % ((i // 100) % 100))
    if not flat and i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    if flat:
        size = 0
    else:
        r = rng.random()
        size = rng.randrange(0, 4096) if r < 0.85 else rng.randrange(4096, 65536) if r < 0.995 else 1 << 20
    src = text if i % 2 else block
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        f.write(src[:size])
EOF
}

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# measure LABEL CACHE COMMAND... -> a table row (seconds, peak MiB); PREP runs first, untimed
measure() {
	local label=$1 cache=$2
	shift 2
	eval "${PREP:-true}"
	if [ "$cache" = cold ]; then
		[ $cold_ok = 1 ] || return 0
		drop
	fi
	local limit=()
	[ -n "${LIMIT:-}" ] && limit=(timeout "$LIMIT")
	STOPPED=0
	/usr/bin/time -f '%e %M' -o "$TMP/t" "${limit[@]}" "$@" >/dev/null 2>"$TMP/err" || {
		rc=$?
		if [ $rc = 124 ] && [ -n "${LIMIT:-}" ]; then
			printf '| %s | %s | %s | > %s (stopped) | |\n' "$TREE" "$label" "$cache" "$LIMIT"
			STOPPED=1
			return 0
		fi
		# e2fsck -n exits 4 when it would fix something; anything else is a failure
		[ "$1" = e2fsck ] && [ $rc -le 4 ] || { cat "$TMP/err" >&2; die "$label failed ($rc)"; }
	}
	read -r secs kb <"$TMP/t"
	printf '| %s | %s | %s | %.2f | %d |\n' "$TREE" "$label" "$cache" "$secs" $((kb / 1024))
}

echo "| tree | command | cache | seconds | peak RSS MiB |"
echo "|---|---|---|---:|---:|"
run_tree() {  # run_tree NAME FILES FLAT
	TREE=$1
	local src=$TMP/src
	rm -rf "$src" && mkdir -p "$src"
	make_tree "$src" "$2" "$3"
	local bytes size
	bytes=$(du -sb "$src" | cut -f1)
	size=$(((bytes * 2 + $2 * 8192) / 1048576 + 512))M
	if [ -n "${BENCH_BEFORE:-}" ]; then
		PREP="rm -f '$TMP/r.img'" measure "rximg (before) mkfs --from" warm "$BENCH_BEFORE" mkfs -q -s "$size" --from "$src" "$TMP/r.img"
		PREP= measure "rximg (before) check" warm "$BENCH_BEFORE" check -q "$TMP/r.img"
	fi
	for cache in warm cold; do
		PREP="rm -f '$TMP/r.img'" measure "rximg mkfs --from" $cache "$RXIMG" mkfs -q -s "$size" --from "$src" "$TMP/r.img"
		# mke2fs -d takes time quadratic in the entries of one directory (1.1 s for
		# 5,000): a peer that has not finished in PEER_LIMIT seconds is stopped
		PREP="rm -f '$TMP/e.img'" LIMIT=$PEER_LIMIT measure "mke2fs -t ext4 -d" $cache mke2fs -q -F -t ext4 -d "$src" "$TMP/e.img" "$size"
		local e2_made=$((1 - STOPPED))
		PREP="rm -rf '$TMP/cp'" measure "cp -a" $cache cp -a "$src" "$TMP/cp"
		PREP= measure "rximg check" $cache "$RXIMG" check -q "$TMP/r.img"
		[ $e2_made = 0 ] || PREP= measure "e2fsck -fn" $cache e2fsck -fn "$TMP/e.img"
		PREP="rm -rf '$TMP/x'" measure "rximg extract" $cache "$RXIMG" extract -q "$TMP/r.img" "$TMP/x"
	done
	[ "$3" = 1 ] && flat_ops "$2"
	rm -rf "$src" "$TMP/cp" "$TMP/x" "$TMP/r.img" "$TMP/e.img"
}

# flat_ops N: per-name operations on the image of one directory of N files
# (f0000000 ... ), 100 names spread evenly over it
flat_ops() {
	local names="" i
	for i in $(seq 0 99); do names="$names $(printf 'f%07d' $(($1 * i / 100)))"; done
	: >"$TMP/one"
	export RXIMG IMG="$TMP/r.img" ONE="$TMP/one" NAMES="$names"
	PREP= measure "rximg stat x100" warm sh -c 'for n in $NAMES; do "$RXIMG" stat "$IMG:/$n"; done'
	PREP= measure "rximg put x100 (new names)" warm sh -c 'for n in $NAMES; do "$RXIMG" put "$ONE" "$IMG:/$n.new"; done'
	PREP= measure "rximg rm x100" warm sh -c 'for n in $NAMES; do "$RXIMG" rm "$IMG:/$n"; done'
	PREP= measure "rximg ls (whole directory)" warm "$RXIMG" ls "$IMG:/"
	PREP= measure "rximg check" warm "$RXIMG" check -q "$IMG"
}

for n in $FILES; do
	run_tree "$n files" "$n" 0
done
for n in $FLAT; do
	[ "$n" -gt 0 ] && run_tree "$n entries in one directory" "$n" 1
done
exit 0
