#!/bin/bash
# rximg sync into places only the resolver reaches: a directory inside an initfs
# archive inside a disk (raw, qcow2 overlay, GPT partition named by number), a
# host archive, and the ESP. Checked against the host tree: what is new or
# changed is written, an unchanged tree writes nothing, --delete removes,
# a changed type is replaced, the archive keeps its bootstrap and layout, and
# a sync that fails leaves the image as it was.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000
ARC=$(test_image initfs-bootstrap.img) || { echo "1..0 # SKIP no initfs test image"; exit 0; }
skip_unless mcopy qemu-img sgdisk
cd "$WORK" || exit 1

initfs_disk raw.img "$ARC" || { fail "rximg create"; done_testing; exit 1; }
"$R" initfs extract "$ARC" ref >/dev/null || fail "rximg initfs extract"
bootstrap_sha() { "$R" initfs info "$1" | grep -i bootstrap; }
"$R" cp "raw.img:/boot/initfs" arc0.img
BOOT0=$(bootstrap_sha arc0.img)

# The tree to sync: a new directory, a new file, a symlink, a changed file of the same
# size, a file whose mode changes.
mksrc() {
	rm -rf src && mkdir -p src/new/deeper
	printf 'fresh\n' >src/new/deeper/f
	printf 'top\n' >src/top.txt
	ln -s top.txt src/link
	cp ref/etc/init.rc src/init.rc
	# Same size, other bytes: only a comparison of contents can see it.
	sed 's/./X/' ref/etc/init.rc >src/init.rc
	chmod 0600 src/top.txt
}
mksrc

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# Each container on a disk of its own (an overlay's backing file must not change under it).
cp raw.img direct.img && cp raw.img base.img && cp raw.img gpt.img
qemu-img create -q -f qcow2 -b base.img -F raw ov.qcow2
for D in direct.img ov.qcow2 gpt.img:p3; do
	file=${D%%:*}
	ok "$D: sync into a directory inside the archive inside the disk" \
		"$R" sync "src" "$D:/boot/initfs:/etc"
	rm -rf x && "$R" extract -q "$D:/boot/initfs:/etc" x
	ok "$D: ... every new entry is there with its contents" sh -c \
		"cmp x/new/deeper/f src/new/deeper/f && cmp x/top.txt src/top.txt && [ \"\$(readlink x/link)\" = top.txt ]"
	ok "$D: ... the same-size file with other bytes was rewritten" cmp x/init.rc src/init.rc
	ok "$D: ... modes follow the source" test "$(stat -c %a x/top.txt)" = 600
	ok "$D: ... what the source does not have stays (no --delete)" cmp x/init_drivers.rc ref/etc/init_drivers.rc
	"$R" cp "$D:/boot/initfs" arc1.img
	ok "$D: ... the archive keeps its bootstrap" test "$(bootstrap_sha arc1.img)" = "$BOOT0"
	ok "$D: ... the disk checks clean" "$R" check -q "$file"
	before=$(sha "$file")
	"$R" sync -v src "$D:/boot/initfs:/etc" 2>sync.err
	ok "$D: an unchanged tree: nothing changes" grep -q ': 0 entries changed' sync.err
	ok "$D: ... and nothing is written" test "$(sha "$file")" = "$before"
	ok "$D: sync --delete removes what the source lacks" "$R" sync --delete src "$D:/boot/initfs:/etc"
	rm -rf x && "$R" extract -q "$D:/boot/initfs:/etc" x
	ok "$D: ... leaving exactly the source's tree" diff -r --no-dereference src x
	# A file that became a directory, and a directory that became a file.
	rm src/top.txt && mkdir src/top.txt && printf 'in\n' >src/top.txt/in
	rm -rf src/new && printf 'now a file\n' >src/new
	ok "$D: changed types are replaced" "$R" sync src "$D:/boot/initfs:/etc"
	rm -rf x && "$R" extract -q "$D:/boot/initfs:/etc" x
	ok "$D: ... leaving the source's tree" diff -r --no-dereference src x
	ok "$D: ... the disk checks clean" "$R" check -q "$file"
	mksrc
done

# A host archive, named with and without a path inside it.
cp "$ARC" host.img
ok "a host archive: sync into its root (ARCHIVE without :/)" "$R" sync src host.img
rm -rf x && "$R" initfs extract host.img x >/dev/null
ok "... the files are in it" sh -c "cmp x/new/deeper/f src/new/deeper/f && cmp x/init.rc src/init.rc"
ok "... its bootstrap is kept" test "$(bootstrap_sha host.img)" = "$BOOT0"
ok "a host archive: sync into a new directory in it" "$R" sync src host.img:/etc/from-host
rm -rf x && "$R" extract -q host.img:/etc/from-host x
ok "... equals the source" diff -r --no-dereference src x

# The ESP: FAT stores no symbolic links (skipped, with a warning) and no modes.
ok "the ESP: sync into a new directory" "$R" sync src raw.img:esp:/EFI/sync
ok "... the symlink was skipped with a warning" sh -c "'$R' sync src raw.img:esp:/EFI/sync 2>&1 | grep -q 'link: skipped (FAT stores no symbolic links)'"
rm -rf m && mkdir m && mcopy -s -n -i raw.img@@1M ::/EFI/sync m/ >/dev/null 2>&1
rm -f src/link
ok "... mtools sees the source's files" diff -r src m/sync
ok "... fsck.fat finds nothing wrong" sh -c "dd if=raw.img of=esp.img bs=1M skip=1 count=$(( $(sgdisk -i 2 raw.img | sed -n 's/^Partition size: \([0-9]*\) sectors.*/\1/p') / 2048 )) status=none && fsck.fat -n esp.img"
mksrc
before=$(sha raw.img)
"$R" sync -v src raw.img:esp:/EFI/sync 2>sync.err
ok "the ESP: an unchanged tree: nothing changes" grep -q ': 0 entries changed' sync.err
ok "... and nothing is written" test "$(sha raw.img)" = "$before"

# Refusals: the image is untouched.
before=$(sha raw.img)
ok "--owner inside an archive is a usage error" \
	fails_cleanly "--owner is not available" "$R" sync --owner 1:1 src raw.img:/boot/initfs:/etc
ok "a missing source directory fails cleanly" fails_cleanly "no-such-dir" "$R" sync no-such-dir raw.img:/boot/initfs:/etc
ok "a destination that is a file in the archive: not a directory" \
	fails_cleanly "not a directory" "$R" sync src raw.img:/boot/initfs:/etc/init.rc
# Too big for the disk: the rewritten archive does not fit, and nothing lands.
mkdir -p big && head -c 80M /dev/zero >big/huge
ok "an archive that would not fit the disk: refused" fails_cleanly "." "$R" sync big raw.img:/boot/initfs:/big
ok "... every refusal left the image unchanged" test "$(sha raw.img)" = "$before"

done_testing
