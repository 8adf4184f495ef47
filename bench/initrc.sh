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
# Prints the median and minimum of each way, in milliseconds. Needs hyperfine.
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

# Each way is a script of its own, timed by hyperfine (no shell around the timed run,
# so the figure is the way's own, not a date(1) or shell start-up besides); a fresh
# copy of the disk is made and synced before each run, outside the timed region.
cat >"$W/way_rximg" <<EOF
#!/bin/sh
EDITOR='sed -i 1s/\$/#/' VISUAL= exec "$RXIMG" edit "$W/disk.img:/boot/initfs:/etc/init.rc"
EOF
cat >"$W/way_users" <<EOF
#!/bin/sh
set -e
rm -rf "$W/x" "$W/x.bootstrap" "$W/x.initfs-meta" "$W/new.initfs"
"$RXIMG" initfs extract "$W/disk.img:/boot/initfs" "$W/x" >/dev/null
sed -i '1s/\$/#/' "$W/x/etc/init.rc"
"$RXIMG" initfs repack "$W/x" -o "$W/new.initfs" >/dev/null 2>&1
"$RXIMG" put "$W/new.initfs" "$W/disk.img:/boot/initfs"
EOF
chmod +x "$W/way_rximg" "$W/way_users"

printf '| way | median ms | min ms |\n|---|---:|---:|\n'
for way in way_rximg way_users; do
	hyperfine -N -r "$RUNS" --prepare "sh -c 'cp --sparse=always $W/base.img $W/disk.img && sync'" \
		--export-json "$W/$way.json" "$W/$way" >&2
	"$RXIMG" check -q "$W/disk.img"
	python3 - "$W/$way.json" "${way#way_}" <<'PY'
import json, sys
t = sorted(json.load(open(sys.argv[1]))["results"][0]["times"])
n = len(t)
med = t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2
print("| %s | %.1f | %.1f |" % (sys.argv[2], med * 1000, t[0] * 1000))
PY
done
