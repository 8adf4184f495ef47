#!/usr/bin/env bash
# Benchmark: replacing the EFI application of a whole disk.
#
# Usage: bench/bootloader.sh [RXIMG]     (RXIMG defaults to ./rximg)
#
# Builds a 512 MiB disk laid out like the Redox installer's (sgdisk: BIOS boot
# 34-2047, EFI 2048-4095 formatted FAT12 by mkfs.fat, REDOX from 4096) with a
# 164 KiB EFI/BOOT/BOOTAA64.EFI, and times replacing it with another 164 KiB
# loader (a synthetic PE from tests/tools/mkpe.py; the two alternate, so every
# run really rewrites the file):
#   rximg bootloader install DISK NEW.EFI       (validates the PE, the GPT and
#       the FAT, locks the image, writes crash-safely: each step flushed)
#   mcopy -o -i DISK@@1M NEW.EFI ::/EFI/BOOT/BOOTAA64.EFI   (the peer; no
#       checks, no lock, no flush)
# and, for the cost of durability alone, mcopy followed by `sync -f DISK`.
# Target: rximg no slower than mcopy -o, and under 20 ms.
# Prints a markdown table; hyperfine's own report goes to stderr.
#
# Environment: BENCH_RUNS (default 30), TMPDIR (the disk is made there).
set -euo pipefail

die() { printf 'bootloader.sh: %s\n' "$*" >&2; exit 1; }
case ${1:-} in
-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac
RXIMG=${1:-./rximg}
[ -x "$RXIMG" ] || die "not an executable: $RXIMG (build rximg first or pass its path)"
RXIMG=$(cd "$(dirname "$RXIMG")" && pwd)/$(basename "$RXIMG")
for t in hyperfine sgdisk mkfs.fat mcopy mmd python3; do command -v $t >/dev/null || die "$t is required"; done
MKPE=$(cd "$(dirname "$0")/.." && pwd)/tests/tools/mkpe.py
[ -f "$MKPE" ] || die "tests/tools/mkpe.py not found next to this script"
RUNS=${BENCH_RUNS:-30}
export MTOOLS_SKIP_CHECK=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-bench-boot.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
cd "$TMP"

python3 "$MKPE" a.efi --size 167936 --live --seed a
python3 "$MKPE" b.efi --size 167936 --live --seed b
truncate -s 512M disk.img
sgdisk -o -a 1 -n 1:34:2047 -t 1:EF02 -c 1:BIOS -n 2:2048:4095 -t 2:EF00 -c 2:EFI \
	-n 3:4096:1046527 -t 3:8300 -c 3:REDOX disk.img >/dev/null
truncate -s 1M esp.img
mkfs.fat -F 12 -n EFI esp.img >/dev/null
mmd -i esp.img ::/EFI ::/EFI/BOOT
mcopy -i esp.img a.efi ::/EFI/BOOT/BOOTAA64.EFI
dd if=esp.img of=disk.img bs=512 seek=2048 conv=notrunc status=none

# Every run installs the file the last one did not: a (even runs) or b (odd).
cat >swap.sh <<'EOF'
#!/bin/sh
# swap.sh TOOL: install the other loader with TOOL.
if [ -f next-is-b ]; then f=b.efi; rm next-is-b; else f=a.efi; : >next-is-b; fi
case $1 in
rximg) exec "$RXIMG" bootloader install disk.img $f ;;
mcopy) exec mcopy -o -i disk.img@@1M $f ::/EFI/BOOT/BOOTAA64.EFI ;;
mcopy-sync) mcopy -o -i disk.img@@1M $f ::/EFI/BOOT/BOOTAA64.EFI && exec sync -f disk.img ;;
esac
EOF
chmod +x swap.sh
export RXIMG

median_ms() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (r["median"] * 1000))' "$1"
}
run() {  # run TOOL -> median in ms
	hyperfine -N -w 3 -r "$RUNS" --export-json "$TMP/h.json" "./swap.sh $1" >&2 || exit 1
	median_ms "$TMP/h.json"
}
t_rx=$(run rximg)
t_mc=$(run mcopy)
t_ms=$(run mcopy-sync)
fsck.fat -n esp.img >/dev/null 2>&1 || true
echo "| replace a 164 KiB BOOTAA64.EFI in a 1 MiB FAT12 ESP | rximg ${t_rx} ms | mcopy -o ${t_mc} ms | mcopy -o + sync -f ${t_ms} ms | $(python3 -c "print('%.2f' % ($t_rx / $t_mc))") |"
