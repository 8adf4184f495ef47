#!/usr/bin/env bash
# Benchmarks of the write path (issue: put and mkfs --from).
#
# Usage: bench/write.sh [RXIMG]          (RXIMG defaults to ./rximg)
#
#  1. `rximg put` of a 30 MiB file into a 2 GiB image, warm (the image and the
#     file in the page cache), random and compressible content; e2cp into an
#     ext4 image of the same size is the peer (target: under 0.1 s).
#  2. `rximg mkfs --from` a tree of ~5,000 files / ~300 MiB (half compressible
#     text, half random) compared with `cp -a` of the same tree (the limit) and
#     `mke2fs -t ext4 -d` (the peer; target: no slower than mke2fs -d).
# Prints a markdown table. Needs hyperfine, e2tools (e2cp), e2fsprogs.
#
# Environment: BENCH_RUNS (default 10), BENCH_FILES (5000), BENCH_MB (300), TMPDIR.
set -euo pipefail

die() { printf 'write.sh: %s\n' "$*" >&2; exit 1; }
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
for t in hyperfine e2cp mke2fs python3; do command -v $t >/dev/null || die "$t is required"; done
RUNS=${BENCH_RUNS:-10}
FILES=${BENCH_FILES:-5000}
MB=${BENCH_MB:-300}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-write.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
cd "$TMP"

median() {  # median of hyperfine's JSON results, in seconds
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.4f" % r["median"])' "$1"
}

run() {  # run NAME PREPARE COMMAND -> prints the median (a failing prepare step is fine)
	hyperfine -w 2 -r "$RUNS" ${2:+--prepare "$2 >/dev/null 2>&1 || true"} \
		--export-json "$TMP/h.json" "$3" >/dev/null 2>"$TMP/h.err" || { cat "$TMP/h.err" >&2; exit 1; }
	median "$TMP/h.json"
}

echo "| benchmark | rximg | peer | limit | ratio rximg/peer |"
echo "|---|---|---|---|---|"

# 1. put of 30 MiB into 2 GiB
head -c 30M /dev/urandom >random30
python3 - <<'PY'
import random
random.seed(1)
words = ["redox", "kernel", "initfs", "scheme", "bootloader", "relibc", "ion", "orbital", "0x", "\n"]
with open("text30", "w") as f:
    n = 0
    while n < 30 * 1024 * 1024:
        w = random.choice(words) + " "
        f.write(w)
        n += len(w)
PY
truncate -s 30M text30
"$RXIMG" mkfs -s 2G img.rfs >/dev/null
truncate -s 2G img.ext4 && mke2fs -q -t ext4 -F img.ext4
for kind in random30 text30; do
	cat "$kind" img.rfs img.ext4 >/dev/null	# warm
	# Each timed put writes the file afresh (the prepare step removes the last copy).
	t_rx=$(run rx "$RXIMG rm -f img.rfs:/$kind" "$RXIMG put $kind img.rfs:/$kind")
	t_e2=$(run e2 "e2rm img.ext4:/$kind" "e2cp $kind img.ext4:/$kind")
	echo "| put 30 MiB ($kind) into a 2 GiB image | ${t_rx} s | e2cp ${t_e2} s | - | $(python3 -c "print('%.2f' % ($t_rx / $t_e2))") |"
done

# 2. mkfs --from a ~5000-file tree
python3 - "$FILES" "$MB" <<'PY'
import os, random, sys
files, mb = int(sys.argv[1]), int(sys.argv[2])
random.seed(2)
total = mb * 1024 * 1024
words = [b"redox ", b"kernel ", b"initfs ", b"scheme ", b"0123 ", b"\n"]
for i in range(files):
    d = "tree/d%02d/s%02d" % (i % 37, i % 11)
    os.makedirs(d, exist_ok=True)
    size = max(1, int(random.expovariate(files / total)))
    path = "%s/f%05d" % (d, i)
    if i % 2:
        data = os.urandom(size)
    else:
        chunk = b"".join(random.choice(words) for _ in range(4096))
        data = (chunk * (size // len(chunk) + 1))[:size]
    with open(path, "wb") as f:
        f.write(data)
PY
size_mb=$(du -sm tree | cut -f1)
t_rx=$(run rx "rm -f new.rfs" "$RXIMG mkfs -s $((size_mb * 2 + 64))M --from tree new.rfs")
t_cp=$(run cp "rm -rf tree.copy" "cp -a tree tree.copy")
t_e2=$(run e2 "rm -f new.ext4" "mke2fs -q -t ext4 -d tree new.ext4 $((size_mb * 2 + 64))M")
echo "| mkfs --from $FILES files, $size_mb MiB | ${t_rx} s | mke2fs -d ${t_e2} s | cp -a ${t_cp} s | $(python3 -c "print('%.2f' % ($t_rx / $t_e2))") |"
