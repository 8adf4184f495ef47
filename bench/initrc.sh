#!/usr/bin/env bash
# Benchmark editing one line of /etc/init.rc inside the initfs inside a 512 MiB
# disk image, end to end:
#   rximg:     EDITOR='sed -i ...' rximg edit disk.img:/boot/initfs:/etc/init.rc
#   the users' current way: rximg initfs extract, sed, rximg initfs repack,
#              rximg put (what they did with redox-initfs-ar and a mount)
# Each run starts from the same disk (copied outside the timed region).
#
# Usage: bench/initrc.sh [RXIMG] [INITFS]
#   RXIMG defaults to ./rximg; INITFS to the golden initfs-bootstrap.img
#   (decompressed from ../shared/golden), or give any initfs archive.
# Environment: BENCH_RUNS=20, TMPDIR (where the disk goes; default /tmp).
# Prints the median and minimum of each way, in milliseconds.
set -euo pipefail

RXIMG=${1:-./rximg}
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${BENCH_RUNS:-20}
W=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-initrc.XXXXXX")
trap 'rm -rf "$W"' EXIT

ARC=${2:-}
if [ -z "$ARC" ]; then
	zstd -q -d "$HERE/../../shared/golden/initfs-bootstrap.img.zst" -o "$W/initfs.img" 2>/dev/null ||
		zstd -q -d "$HERE/../tests/data/initfs-bootstrap.img.zst" -o "$W/initfs.img"
	ARC=$W/initfs.img
fi

truncate -s 512M "$W/base.img"
"$RXIMG" mkfs -q "$W/base.img" >/dev/null
"$RXIMG" mkdir "$W/base.img:/boot" "$W/base.img:/etc"
"$RXIMG" put "$ARC" "$W/base.img:/boot/initfs"
# Some bulk beside it, as a real root has.
head -c 200M /dev/urandom >"$W/bulk"
"$RXIMG" put "$W/bulk" "$W/base.img:/etc/bulk"
rm -f "$W/bulk"
"$RXIMG" cat "$W/base.img:/boot/initfs:/etc/init.rc" | grep -q . ||
	{ echo "initrc.sh: the archive has no /etc/init.rc" >&2; exit 1; }

now_ns() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

way_rximg() {
	EDITOR="sed -i 1s/\$/#/" VISUAL= "$RXIMG" edit "$W/disk.img:/boot/initfs:/etc/init.rc" 2>/dev/null
}
way_users() {
	rm -rf "$W/x" "$W/x.bootstrap" "$W/x.initfs-meta" "$W/new.initfs"
	"$RXIMG" initfs extract "$W/disk.img:/boot/initfs" "$W/x" >/dev/null
	sed -i '1s/$/#/' "$W/x/etc/init.rc"
	"$RXIMG" initfs repack "$W/x" -o "$W/new.initfs" >/dev/null 2>&1
	"$RXIMG" put "$W/new.initfs" "$W/disk.img:/boot/initfs"
}

for way in way_rximg way_users; do
	: >"$W/$way.t"
	for i in $(seq "$RUNS"); do
		cp --sparse=always "$W/base.img" "$W/disk.img"
		sync
		t0=$(now_ns)
		$way
		t1=$(now_ns)
		echo $(( (t1 - t0) / 1000 )) >>"$W/$way.t"
	done
	"$RXIMG" check -q "$W/disk.img"
done
printf '| way | median ms | min ms |\n|---|---:|---:|\n'
for way in way_rximg way_users; do
	med=$(median <"$W/$way.t")
	min=$(sort -n "$W/$way.t" | head -1)
	printf '| %s | %.1f | %.1f |\n' "${way#way_}" "$(echo "$med / 1000" | bc -l)" "$(echo "$min / 1000" | bc -l)"
done
