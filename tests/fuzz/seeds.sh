#!/bin/sh
# Seed corpora for the fuzz targets, from the test images in tests/data and
# from small images made the way the tests make them:
#   tests/fuzz/seeds.sh RXIMG OUTDIR      (OUTDIR/redoxfs, OUTDIR/qcow2, ...)
# Big images are cut to their first MiB of non-zero data (sparse.py), so that
# mutations stay cheap. Tools that are missing (qemu-img, sgdisk, sfdisk,
# mkfs.fat, mtools) only mean fewer seeds.
set -e
RXIMG=$1
OUT=$2
[ -x "$RXIMG" ] && [ -n "$OUT" ] || { echo "usage: $0 RXIMG OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON3:-python3}
sparse() { $PY "$src/tests/fuzz/sparse.py" "$@"; }
have() { command -v "$1" >/dev/null 2>&1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rximg-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for t in redoxfs crypt initfs qcow2 part fat path shell; do mkdir -p "$OUT/$t"; done

# A small tree with what the formats can hold: nested directories, an empty
# file, a file spanning several records, a sparse file, symlinks.
tree=$tmp/tree
mkdir -p "$tree/etc/deep/er" "$tree/bin" "$tree/empty"
echo 'echo hello' >"$tree/etc/init.rc"
: >"$tree/etc/empty.txt"
head -c 9000 /dev/urandom >"$tree/bin/prog"
chmod 755 "$tree/bin/prog"
dd if=/dev/zero of="$tree/sparse" bs=1 count=1 seek=300000 2>/dev/null
echo deep >"$tree/etc/deep/er/file"
ln -s ../etc/init.rc "$tree/bin/rel_link"
ln -s /etc/init.rc "$tree/abs_link"	# RedoxFS only: an initfs stores relative targets

# ---- RedoxFS (and encrypted) --------------------------------------------------
for name in empty-8M misc-tree clone-of-misc bigdir small-medium reserved-bootloader fuse-sparse; do
	[ -f "$src/tests/data/$name.img.zst" ] || continue
	zstd -q -d -f "$src/tests/data/$name.img.zst" -o "$tmp/$name.img"
	sparse "$tmp/$name.img" "$OUT/redoxfs/$name" --max-bytes 1048576
	rm -f "$tmp/$name.img"
done
"$RXIMG" mkfs -q -s 8M --from "$tree" "$tmp/made.img" 2>/dev/null || "$RXIMG" mkfs -s 8M --from "$tree" "$tmp/made.img"
sparse "$tmp/made.img" "$OUT/redoxfs/made-from-tree"
RXIMG_PASSWORD=password "$RXIMG" mkfs --encrypt -s 8M --from "$tree" "$tmp/enc.img" >/dev/null 2>&1 &&
	sparse "$tmp/enc.img" "$OUT/crypt/encrypted-tree"
RXIMG_PASSWORD=password "$RXIMG" mkfs --encrypt -s 8M "$tmp/enc0.img" >/dev/null 2>&1 &&
	sparse "$tmp/enc0.img" "$OUT/crypt/encrypted-empty"

# ---- initfs: the test archives and every layout rximg writes -------------------
# (the smaller of the two test archives: a whole archive cannot be cut)
zstd -q -d -f "$src/tests/data/initfs-bootstrap.img.zst" -o "$OUT/initfs/initfs-bootstrap"
cp -a "$tree" "$tmp/rel"
rm "$tmp/rel/abs_link" "$tmp/rel/sparse"
cp -a "$tmp/rel" "$tmp/nolinks"
rm "$tmp/nolinks/bin/rel_link"
for l in v1 v3 v4 v5b; do
	from=$tmp/rel
	[ $l = v1 ] && from=$tmp/nolinks
	"$RXIMG" initfs repack "$from" --no-bootstrap --layout $l -o "$OUT/initfs/layout-$l" >/dev/null 2>&1 || true
done

# ---- qcow2: small clusters keep the files small -------------------------------
if have qemu-img; then
	q() { qemu-img "$@" >/dev/null 2>&1 || echo "seeds.sh: qemu-img $1 failed" >&2; }
	head -c 65536 /dev/urandom >"$tmp/data"
	q create -f raw "$tmp/base.raw" 1M
	q create -f qcow2 -o cluster_size=512 "$OUT/qcow2/empty-v3" 1M
	q create -f qcow2 -o cluster_size=512,compat=0.10 "$OUT/qcow2/empty-v2" 1M
	q create -f qcow2 -o cluster_size=512 -b "$tmp/base.raw" -F raw "$OUT/qcow2/backing-raw" 1M
	q create -f qcow2 -o cluster_size=1024 -u -b base.qcow2 -F qcow2 "$OUT/qcow2/backing-relative" 1M
	if have qemu-io; then
		q create -f qcow2 -o cluster_size=512 "$tmp/w.qcow2" 1M
		qemu-io -f qcow2 -c 'write -P 0x41 0 4k' -c 'write -z 8k 4k' -c 'write -P 0x42 600k 1k' "$tmp/w.qcow2" >/dev/null 2>&1 &&
			cp "$tmp/w.qcow2" "$OUT/qcow2/written"
		q create -f qcow2 -o cluster_size=16384,extended_l2=on "$tmp/x.qcow2" 1M &&
			qemu-io -f qcow2 -c 'write -P 0x43 1k 2k' "$tmp/x.qcow2" >/dev/null 2>&1 &&
			cp "$tmp/x.qcow2" "$OUT/qcow2/extended-l2"
	fi
	cat "$src/tests/fuzz/seeds.sh" "$src/tests/fuzz/seeds.sh" >"$tmp/text"
	q convert -c -O qcow2 -o cluster_size=4096 "$tmp/text" "$OUT/qcow2/compressed"
else
	echo "seeds.sh: no qemu-img, qcow2 seeds from rximg only" >&2
fi
"$RXIMG" mkfs -s 2M "$tmp/rfs.raw" >/dev/null 2>&1 &&
	"$RXIMG" overlay "$tmp/rfs.raw" "$tmp/ov.qcow2" >/dev/null 2>&1 && cp "$tmp/ov.qcow2" "$OUT/qcow2/rximg-overlay" || true

# ---- partition tables ------------------------------------------------------------
if have sgdisk; then
	truncate -s 2M "$tmp/gpt.img"
	sgdisk -n 1:2048:+512K -t 1:ef00 -c 1:EFI -n 2:0:0 -t 2:8300 -c 2:redox "$tmp/gpt.img" >/dev/null 2>&1 &&
		sparse "$tmp/gpt.img" "$OUT/part/gpt"
fi
if have sfdisk; then
	truncate -s 4M "$tmp/mbr.img"
	printf 'label: dos\n,1M,83\n,1M,5\n,512K,83\n,,83\n' | sfdisk -q "$tmp/mbr.img" >/dev/null 2>&1 &&
		sparse "$tmp/mbr.img" "$OUT/part/mbr-extended"
fi
[ -f "$src/../shared/golden/wholedisk-gpt.img.zst" ] && {
	zstd -q -d -f "$src/../shared/golden/wholedisk-gpt.img.zst" -o "$tmp/wd.img"
	sparse "$tmp/wd.img" "$OUT/part/wholedisk-gpt" --max-bytes 65536
	sparse "$tmp/wd.img" "$OUT/redoxfs/wholedisk-gpt" --max-bytes 1048576
	rm -f "$tmp/wd.img"
}

# ---- FAT ---------------------------------------------------------------------------
if have mkfs.fat && have mcopy; then
	for spec in "12 1M" "16 16M" "32 33M"; do
		set -- $spec
		truncate -s "$2" "$tmp/fat$1.img"
		mkfs.fat -F "$1" -n RXFUZZ "$tmp/fat$1.img" >/dev/null 2>&1 || continue
		MTOOLS_SKIP_CHECK=1 mcopy -s -i "$tmp/fat$1.img" "$tmp/nolinks/etc" "$tmp/nolinks/bin" ::/ 2>/dev/null || true
		echo 'a long name' | MTOOLS_SKIP_CHECK=1 mcopy -i "$tmp/fat$1.img" - "::/A file with a Long Name.txt" 2>/dev/null || true
		sparse "$tmp/fat$1.img" "$OUT/fat/fat$1"
	done
fi

# ---- the path syntax -----------------------------------------------------------------
for s in img img:/ img:/etc/init.rc img:p1 img:p2:/a/b img:redoxfs:/x dir/disk.img:p3:/boot/initfs \
	"img:/a b/c" img::/x "img:p0" "img:p1000:/" "nothere:/x" "dir/disk.img:/../../etc/passwd"; do
	printf '%s' "$s" >"$OUT/path/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done

# ---- the shell's command lines ---------------------------------------------------------
n=0
while IFS= read -r s; do
	n=$((n + 1))
	printf '%s' "$s" >"$OUT/shell/line$n"
done <<'LINES'
cd /boot/initfs
ls -l ../etc "two words" 'single quoted' a\ b
put host.txt initfs:/etc/ # a comment
cd ../../..:/x
mv "a\"b" '..' ./../c:/d/./e
cat "unclosed
LINES

for t in redoxfs crypt initfs qcow2 part fat path shell; do
	echo "$t: $(ls "$OUT/$t" | wc -l) seeds, $(cat "$OUT/$t"/* 2>/dev/null | wc -c) bytes"
done
