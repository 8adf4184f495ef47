#!/usr/bin/env bash
# Benchmark of `rximg mount` (issue: a fast, safe read-write FUSE mount).
#
# Usage: bench/mount.sh [RXIMG]          (RXIMG defaults to ./rximg)
#
# Measures, through an rximg mount of a fresh 1 GiB image (preallocated, so the
# host filesystem's block allocation is not what is timed):
#   - sequential write of a 256 MiB random file (dd bs=1M, then fsync),
#   - 64 MiB of it written in 4 KiB writes (dd bs=4k, then fsync): where the
#     kernel's writeback cache matters,
#   - sequential read of it after a remount (cold FUSE cache, warm page cache),
#   - find + stat of 10,000 files on a fresh mount,
#   - creating 10,000 empty files (xargs touch) in one directory,
# the same through libfuse's own passthrough_ll example serving a directory of
# the host filesystem (compiled from the libfuse3-dev examples if present): the
# reference point for "what FUSE itself costs here"; through bench/fusenull.c,
# which answers from memory and does no filesystem work at all (the floor under
# any FUSE filesystem on the machine); and the same straight on the host
# filesystem (no FUSE). Neither of the last two has a remount that empties
# caches: their walks start after the kernel's dentries and inodes are dropped
# (echo 2 > /proc/sys/vm/drop_caches, as root).
# Prints a markdown table. Needs root (or fusermount3), /dev/fuse, gcc, libfuse3-dev.
#
# Environment: BENCH_RUNS (default 3, the median is shown), TMPDIR.
set -euo pipefail

die() { printf 'mount.sh: %s\n' "$*" >&2; exit 1; }
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
BENCH_SRC=$(cd "$(dirname "$0")" && pwd)
[ -c /dev/fuse ] || die "no /dev/fuse"
RUNS=${BENCH_RUNS:-3}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-mount.XXXXXX")
MP=$TMP/mnt
mkdir -p "$MP"
cleanup() {
	fusermount3 -u -z "$MP" 2>/dev/null || true
	rm -rf -- "$TMP"
}
trap cleanup EXIT
cd "$TMP"

# date, not python: a Python start-up (~40 ms) inside the timed span would distort short runs.
now() { date +%s.%N; }
secs() { local end; end=$(date +%s.%N); awk -v a="$1" -v b="$end" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

head -c 256M /dev/urandom >random256
mkdir -p walk
python3 - <<'PY'
import os
for d in range(100):
    os.makedirs("walk/d%02d" % d, exist_ok=True)
    for f in range(100):
        with open("walk/d%02d/f%03d" % (d, f), "w") as fh:
            fh.write("%d %d\n" % (d, f))
PY

# mount_cmd / umount_cmd for each subject
RX_OPTS=rw
rx_mount() { "$RXIMG" mount -o "$RX_OPTS" img.rfs "$MP"; }
rx_umount() { "$RXIMG" umount "$MP"; }
PT=""
EX=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
if [ -f "$EX" ] && gcc -O2 -Wall -o passthrough_ll "$EX" $(pkg-config --cflags --libs fuse3) 2>/dev/null; then
	PT=$TMP/passthrough_ll
fi
# The floor under any FUSE filesystem here: bench/fusenull.c answers every request
# from memory and does no filesystem work.
NULLFS=""
if gcc -O2 -Wall -o fusenull "$BENCH_SRC/fusenull.c" $(pkg-config --cflags --libs fuse3) 2>/dev/null; then
	NULLFS=$TMP/fusenull
fi
# It keeps nothing across mounts, so its "remount" drops the kernel's caches instead
# (root only): later reads and lookups go through FUSE again.
null_mount() {
	if mountpoint -q "$MP"; then
		sync
		[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	else
		"$NULLFS" "$MP" >/dev/null 2>&1 &
		sleep 0.5
	fi
}
null_umount() { :; }
null_stop() { fusermount3 -u "$MP"; wait 2>/dev/null || true; }
pt_mount() { (ulimit -n "$(ulimit -Hn)"; exec "$PT" -o source="$TMP/host" "$MP") & sleep 0.5; }
pt_umount() { fusermount3 -u "$MP"; wait 2>/dev/null || true; }
host_mount() { mkdir -p "$MP" && cp -a host/. "$MP/" 2>/dev/null || true; }
host_umount() { :; }

mbps() { python3 -c "print('%.0f' % ($1 / $2 * 1.048576))"; }  # mbps MIB SECONDS

measure() {  # measure NAME: prints write small-write read walk create medians (MB/s MB/s MB/s s s)
	local who=$1 w=() s=() r=() k=() c=()
	for _ in $(seq "$RUNS"); do
		if [ "$who" = rx ]; then
			rm -f img.rfs && "$RXIMG" mkfs -s 1G img.rfs >/dev/null && fallocate -l 1G img.rfs
			"$RXIMG" sync walk img.rfs:/walk >/dev/null
		elif [ "$who" = null ]; then
			:	# it keeps nothing across mounts: the walk tree is copied in below
		else
			rm -rf host && mkdir host && cp -a walk host/
		fi
		${who}_mount
		t=$(now); dd if=random256 of="$MP/big" bs=1M conv=fsync status=none; w+=("$(mbps 256 "$(secs "$t")")")
		t=$(now); dd if=random256 of="$MP/small" bs=4k count=16384 conv=fsync status=none
		s+=("$(mbps 64 "$(secs "$t")")")
		${who}_umount; sync; ${who}_mount
		t=$(now); dd if="$MP/big" of=/dev/null bs=1M status=none; r+=("$(mbps 256 "$(secs "$t")")")
		${who}_umount; ${who}_mount
		# The host has nothing to remount: its walk starts with the kernel's dentries and
		# inodes dropped instead (root only). fusenull is given the tree first, then the same.
		if [ "$who" = null ]; then
			cp -a walk "$MP/"
			null_mount
		elif [ "$who" = host ]; then
			sync
			[ -w /proc/sys/vm/drop_caches ] && echo 2 >/proc/sys/vm/drop_caches
		fi
		t=$(now); find "$MP/walk" -type f -exec stat -c %s {} + >/dev/null; k+=("$(secs "$t")")
		# On a fresh mount: passthrough_ll holds a descriptor per inode it was asked about.
		${who}_umount; ${who}_mount
		mkdir "$MP/many"
		t=$(now); (cd "$MP/many" && printf 'f%05d\n' $(seq 10000) | xargs touch); c+=("$(secs "$t")")
		${who}_umount
		[ "$who" = host ] && rm -rf "$MP"
		[ "$who" = null ] && null_stop
	done
	printf '%s %s %s %s %s\n' "$(printf '%s\n' "${w[@]}" | median)" "$(printf '%s\n' "${s[@]}" | median)" \
		"$(printf '%s\n' "${r[@]}" | median)" "$(printf '%s\n' "${k[@]}" | median)" \
		"$(printf '%s\n' "${c[@]}" | median)"
}

echo "| through | seq. write 256 MiB (MB/s) | 4 KiB writes, 64 MiB (MB/s) | seq. read (MB/s) | find+stat 10,000 files (s) | create 10,000 empty files (s) |"
echo "|---|---|---|---|---|---|"
read -r rw rs rr rk rc < <(measure rx)
echo "| rximg mount (writeback cache, the default) | $rw | $rs | $rr | $rk | $rc |"
RX_OPTS=no_writeback_cache
read -r rw rs rr rk rc < <(measure rx)
echo "| rximg mount -o no_writeback_cache | $rw | $rs | $rr | $rk | $rc |"
if [ -n "$PT" ]; then
	read -r pw ps pr pk pc < <(measure pt)
	echo "| libfuse passthrough_ll (host fs) | $pw | $ps | $pr | $pk | $pc |"
fi
if [ -n "$NULLFS" ]; then
	read -r nw ns nr nk nc < <(measure null)
	echo "| FUSE doing no filesystem work (bench/fusenull.c) | $nw | $ns | $nr | $nk | $nc |"
fi
MP=$TMP/hostdir
read -r hw hs hr hk hc < <(measure host)
echo "| the host filesystem itself (no FUSE) | $hw | $hs | $hr | $hk | $hc |"
echo "| reference redoxfs driver (from the issue) | ~340 | | ~840 | ~0.9 |"
