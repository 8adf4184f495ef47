#!/usr/bin/env bash
# Cold reads: how fast rximg's whole-tree readers go when the image is not in
# the page cache, against reading the image itself with dd (the limit) and
# e2fsck -fn on an ext4 image of the same tree (the peer).
#
# Usage: bench/coldread.sh [RXIMG]        (RXIMG defaults to ./rximg)
#
# The tree is deterministic (a fixed seed): BENCH_FILES files (default 100000),
# 100 to a directory, 85% 0-4 KiB, 14.8% 4-32 KiB, 0.2% 1 MiB, half random
# bytes and half text. It is put into a RedoxFS image with `rximg mkfs --from`
# (SOURCE_DATE_EPOCH set: the same image every time) and into an ext4 image with
# `mke2fs -d`. Then, warm and cold, BENCH_RUNS times each (default 3; medians):
#   dd if=IMAGE of=/dev/null bs=1M     (the image is sparse: dd reads its used blocks)
#   rximg check -q, rximg manifest, rximg extract -q
#   e2fsck -fn on the ext4 image
# "Cold" evicts the image's pages from the page cache before each run: fsync,
# then posix_fadvise(POSIX_FADV_DONTNEED) on the whole file (python3's
# os.posix_fadvise), so that it works without root and touches no other file's
# cache. BENCH_BEFORE=/path/to/an/older/rximg adds its rows, for before/after.
# BENCH_DIR=DIR keeps the tree and images in DIR between runs (made when absent).
# BENCH_CMDS picks the rximg commands (default "check manifest extract").
# BENCH_LOOP_RA=KB (root): read the image through a read-only loop device with
# direct I/O whose read-ahead is KB (0: none), as on a disk where the kernel's
# read-ahead does not help (this machine's virtio disk reads ahead 8 MiB, which
# hides most of the difference); the device's own cache is evicted the same way.
# Peak RSS from /usr/bin/time. Prints `uptime` before and after: the machine is shared.
set -euo pipefail

die() { printf 'coldread.sh: %s\n' "$*" >&2; exit 1; }
case ${1:-} in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;; esac
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
for t in python3 mke2fs e2fsck dd; do command -v $t >/dev/null || die "$t is required"; done
[ -x /usr/bin/time ] || die "/usr/bin/time is required (apt-get install time)"
FILES=${BENCH_FILES:-100000}
RUNS=${BENCH_RUNS:-3}
CMDS=${BENCH_CMDS:-check manifest extract}
LOOP=

if [ -n "${BENCH_DIR:-}" ]; then
	W=$BENCH_DIR
	mkdir -p "$W"
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-coldread.XXXXXX")
fi
cleanup() {
	[ -z "$LOOP" ] || losetup -d "$LOOP"
	[ -n "${BENCH_DIR:-}" ] || rm -rf -- "$W"
}
trap cleanup EXIT
S=$W/scratch
mkdir -p "$S"

make_tree() {  # make_tree DIR FILES
	python3 - "$@" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(13)
block = bytes(rng.getrandbits(8) for _ in range(1 << 20))
text = b"".join(b"line %d of a text file\n" % i for i in range(50000))
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // 10000), "d%03d" % ((i // 100) % 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    r = rng.random()
    size = rng.randrange(0, 4096) if r < 0.85 else rng.randrange(4096, 32768) if r < 0.998 else 1 << 20
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        f.write((text if i % 2 else block)[:size])
EOF
}

# Drop FILE's pages from the page cache (clean pages only, hence the fsync).
evict() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}

if [ ! -f "$W/done" ]; then
	rm -rf "$W/src" "$W/r.img" "$W/e.img"
	mkdir -p "$W/src"
	make_tree "$W/src" "$FILES"
	bytes=$(du -sb "$W/src" | cut -f1)
	size=$(((bytes * 2 + FILES * 8192) / 1048576 + 512))M
	SOURCE_DATE_EPOCH=1700000000 "$RXIMG" mkfs -q -s "$size" --seed coldread --from "$W/src" "$W/r.img"
	mke2fs -q -F -t ext4 -d "$W/src" "$W/e.img" "$size"
	touch "$W/done"
fi

IMG=$W/r.img
if [ -n "${BENCH_LOOP_RA:-}" ]; then
	LOOP=$(losetup -f --show -r --direct-io=on "$W/r.img") || die "cannot attach a loop device (root needed)"
	echo "$BENCH_LOOP_RA" >"/sys/block/${LOOP#/dev/}/queue/read_ahead_kb"
	IMG=$LOOP
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure LABEL CACHE IMAGE COMMAND...: RUNS timed runs; prints a row of medians.
# PREP (a shell snippet) runs untimed before each run.
measure() {
	local label=$1 cache=$2 image=$3
	shift 3
	local secs=() kbs=()
	[ "$cache" = warm ] && { eval "${PREP:-true}"; "$@" >/dev/null 2>&1 || true; }
	for ((i = 0; i < RUNS; i++)); do
		eval "${PREP:-true}"
		[ "$cache" = cold ] && evict "$image"
		/usr/bin/time -f '%e %M' -o "$S/t" "$@" >/dev/null 2>"$S/err" || {
			rc=$?
			# e2fsck -n exits 4 when it would fix something; anything else is a failure
			[ "$1" = e2fsck ] && [ $rc -le 4 ] || { cat "$S/err" >&2; die "$label failed ($rc)"; }
		}
		read -r s kb <"$S/t"
		secs+=("$s")
		kbs+=("$kb")
	done
	printf '| %s | %s | %s | %s | %d |\n' "$label" "$cache" \
		"$(printf '%s\n' "${secs[@]}" | median)" "$(printf '%s\n' "${secs[@]}" | tr '\n' ' ')" \
		$(($(printf '%s\n' "${kbs[@]}" | median) / 1024))
}

echo "tree: $FILES files, $(du -sh --apparent-size "$W/src" | cut -f1) of data;" \
	"r.img uses $(du -h "$W/r.img" | cut -f1), e.img $(du -h "$W/e.img" | cut -f1)"
[ -z "$LOOP" ] || echo "rximg reads $LOOP (read-ahead ${BENCH_LOOP_RA} KiB, direct I/O)"
echo "load before: $(uptime)"
echo
echo "| command | cache | median s | runs s | peak RSS MiB |"
echo "|---|---|---:|---|---:|"
for cache in warm cold; do
	# dd of the sparse image file reads its used blocks (a loop device would read the holes too)
	PREP= measure "dd bs=1M (rximg image)" $cache "$W/r.img" dd if="$W/r.img" of=/dev/null bs=1M
	PREP= measure "dd bs=1M (ext4 image)" $cache "$W/e.img" dd if="$W/e.img" of=/dev/null bs=1M
	for bin in ${BENCH_BEFORE:-} "$RXIMG"; do
		tag=rximg
		[ "$bin" = "${BENCH_BEFORE:-}" ] && tag="rximg (before)"
		for c in $CMDS; do
			case $c in
			check) PREP= measure "$tag check" $cache "$IMG" "$bin" check -q "$IMG";;
			manifest) PREP= measure "$tag manifest" $cache "$IMG" "$bin" manifest "$IMG";;
			extract) PREP="rm -rf '$S/x'" measure "$tag extract" $cache "$IMG" "$bin" extract -q "$IMG" "$S/x";;
			*) die "unknown command in BENCH_CMDS: $c";;
			esac
		done
	done
	PREP= measure "e2fsck -fn" $cache "$W/e.img" e2fsck -fn "$W/e.img"
done
rm -rf "$S/x"
echo
echo "load after: $(uptime)"
