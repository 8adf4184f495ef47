#!/usr/bin/env bash
# Benchmark of `rximg create` (a whole bootable disk) from a ~300 MiB tree.
#
# Usage: bench/create.sh [RXIMG]          (RXIMG defaults to ./rximg)
#
# `rximg create -s SIZE -b LOADER --from tree` (GPT, FAT ESP with the loader, RedoxFS
# filled in the same pass) against the peer `mke2fs -t ext4 -d tree` into a file of the
# same size (target: no slower), and `cp -a` of the tree (the limit). The loader is a
# stand-in PE file of 164 KiB. Prints a markdown table. Needs hyperfine, e2fsprogs, python3.
#
# Environment: BENCH_RUNS (default 10), BENCH_FILES (5000), BENCH_MB (300), TMPDIR.
set -euo pipefail

die() { printf 'create.sh: %s\n' "$*" >&2; exit 1; }
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
for t in hyperfine mke2fs python3; do command -v $t >/dev/null || die "$t is required"; done
RUNS=${BENCH_RUNS:-10}
FILES=${BENCH_FILES:-5000}
MB=${BENCH_MB:-300}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-create.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
cd "$TMP"

median() {  # median of hyperfine's JSON results, in seconds
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.4f" % r["median"])' "$1"
}

run() {  # run PREPARE COMMAND -> prints the median
	hyperfine -w 2 -r "$RUNS" --prepare "$1 >/dev/null 2>&1 || true" \
		--export-json "$TMP/h.json" "$2" >/dev/null 2>"$TMP/h.err" || { cat "$TMP/h.err" >&2; exit 1; }
	median "$TMP/h.json"
}

# The same kind of tree as bench/write.sh: half compressible text, half random.
python3 - "$FILES" "$MB" <<'PY'
import os, random, struct, sys
files, mb = int(sys.argv[1]), int(sys.argv[2])
random.seed(2)
total = mb * 1024 * 1024
words = [b"redox ", b"kernel ", b"initfs ", b"scheme ", b"0123 ", b"\n"]
for i in range(files):
    d = "tree/d%02d/s%02d" % (i % 37, i % 11)
    os.makedirs(d, exist_ok=True)
    size = max(1, int(random.expovariate(files / total)))
    if i % 2:
        data = os.urandom(size)
    else:
        chunk = b"".join(random.choice(words) for _ in range(4096))
        data = (chunk * (size // len(chunk) + 1))[:size]
    with open("%s/f%05d" % (d, i), "wb") as f:
        f.write(data)
efi = bytearray(os.urandom(167936))
efi[0:2] = b"MZ"
efi[0x3c:0x40] = struct.pack("<I", 0x80)
efi[0x80:0x86] = b"PE\0\0" + struct.pack("<H", 0xaa64)
open("loader.efi", "wb").write(efi)
PY
size_mb=$(du -sm tree | cut -f1)
disk_mb=$((size_mb * 2 + 64))
t_rx=$(run "rm -f new.img" "$RXIMG create -q -s ${disk_mb}M -b loader.efi --from tree new.img")
t_e2=$(run "rm -f new.ext4" "mke2fs -q -t ext4 -d tree new.ext4 ${disk_mb}M")
t_cp=$(run "rm -rf tree.copy" "cp -a tree tree.copy")
echo "| benchmark | rximg | peer | limit | ratio rximg/peer |"
echo "|---|---|---|---|---|"
echo "| create a ${disk_mb} MiB disk from $FILES files, $size_mb MiB | ${t_rx} s | mke2fs -t ext4 -d ${t_e2} s | cp -a ${t_cp} s | $(python3 -c "print('%.2f' % ($t_rx / $t_e2))") |"
