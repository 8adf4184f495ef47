#!/bin/sh
# rximg create: whole disks in the installer's layout, judged by sgdisk, fsck.fat,
# mtools, qemu-img and rximg itself; reproducible bytes; --like; refusals that write
# nothing. The boot itself is judged in tests/boot.sh.
. "$top_srcdir/tests/lib.sh"

PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000
cd "$WORK" || exit 1

# A stand-in EFI application: a PE header for AArch64 (or MACHINE) and patterned bytes.
fake_efi() {  # fake_efi OUT SIZE [MACHINE]
	$PY - "$1" "$2" "${3:-0xaa64}" <<'EOF'
import struct, sys
out, size, machine = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)
b = bytearray((i * 13 + 5) & 0xff for i in range(size))
b[0:2] = b"MZ"
b[0x3c:0x40] = struct.pack("<I", 0x80)
b[0x80:0x86] = b"PE\0\0" + struct.pack("<H", machine)
open(out, "wb").write(b)
EOF
}
fake_efi loader.efi 150000
fake_efi x64.efi 50000 0x8664
mkdir -p tree/boot tree/etc tree/usr/bin
printf 'redox\n' >tree/etc/hostname
head -c 300000 /dev/urandom >tree/usr/bin/big
printf '\177ELF kernel stand-in' >tree/boot/kernel
ln -s big tree/usr/bin/link

esp_of() {  # esp_of DISK OUT: the EFI system partition (1 MiB at 1 MiB)
	dd if="$1" of="$2" bs=1M skip=1 count=1 2>/dev/null
}

ok "create: a 64 MiB disk from a tree" "$RXIMG" create -s 64M -b loader.efi --from tree a.img
ok "no DISK.partial is left" test ! -e a.img.partial
ok "sgdisk -v finds no problem" sh -c "sgdisk -v a.img | grep -q 'No problems found'"
ok "the installer's layout: BIOS 34-2047, EFI 2048-4095, REDOX 4096-129023 with its types and names" sh -c "
	sgdisk -p a.img >p.txt &&
	grep -E '^ +1 +34 +2047 .* EF02 +BIOS\$' p.txt && grep -E '^ +2 +2048 +4095 .* EF00 +EFI\$' p.txt &&
	grep -E '^ +3 +4096 +129023 .* 8300 +REDOX\$' p.txt"
ok "the same partition numbers as the golden disk's (sgdisk -i 3)" sh -c "
	sgdisk -i 3 a.img | grep -q 'First sector: 4096' && sgdisk -i 3 a.img | grep -q 'Last sector: 129023'"
ok "protective MBR: one 0xEE record from LBA 1 over the disk, boot code zero" sh -c "
	od -An -tx1 -j446 -N16 a.img | tr -d ' \n' | grep -qx '00000200eeffffff01000000ffff0100' &&
	cmp -s -n 446 a.img /dev/zero"
esp_of a.img esp.img
ok "fsck.fat -n: the ESP is clean" fsck.fat -n esp.img
ok "the ESP is labelled EFI" sh -c "mdir -i a.img@@1M ::/ | grep -q 'is EFI'"
ok "mcopy reads EFI/BOOT/BOOTAA64.EFI back byte-identical" sh -c "
	mcopy -n -i a.img@@1M ::/EFI/BOOT/BOOTAA64.EFI back.efi && cmp back.efi loader.efi"
ok "rximg check: clean" "$RXIMG" check a.img
ok "rximg info shows the partitions and finds RedoxFS in p3" sh -c "
	'$RXIMG' info a.img >info.txt && grep -q 'p2  EFI' info.txt && grep -q 'p3  REDOX' info.txt &&
	grep -q 'RedoxFS:    partition p3' info.txt"
ok "the tree is inside, a symlink as a symlink" sh -c "
	'$RXIMG' cat a.img:/etc/hostname | grep -qx redox && '$RXIMG' get a.img:/usr/bin/big big.out &&
	cmp big.out tree/usr/bin/big && '$RXIMG' ls -l a.img:/usr/bin | grep -q 'link -> big'"
ok "the RedoxFS header is at the partition's first block (where the loader probes)" sh -c "
	dd if=a.img bs=4096 skip=512 count=1 2>/dev/null | head -c 8 | grep -q 'RedoxFS'"
ok "the RedoxFS spans its partition (61 MiB)" sh -c "'$RXIMG' info a.img | grep -q 'Size: *63963136 bytes'"

ok "create again: identical bytes for the same inputs and SOURCE_DATE_EPOCH" sh -c "
	'$RXIMG' create -s 64M -b loader.efi --from tree a2.img && cmp a.img a2.img"
ok "another SOURCE_DATE_EPOCH gives other GUIDs and another UUID" sh -c "
	SOURCE_DATE_EPOCH=1700000001 '$RXIMG' create -s 64M -b loader.efi --from tree a3.img &&
	[ \"\$(sgdisk -p a.img | grep GUID)\" != \"\$(sgdisk -p a3.img | grep GUID)\" ] &&
	[ \"\$('$RXIMG' uuid a.img)\" != \"\$('$RXIMG' uuid a3.img)\" ]"
ok "without SOURCE_DATE_EPOCH the GUIDs are random" sh -c "
	env -u SOURCE_DATE_EPOCH '$RXIMG' create -s 8M -b loader.efi r1.img &&
	env -u SOURCE_DATE_EPOCH '$RXIMG' create -s 8M -b loader.efi r2.img &&
	[ \"\$(sgdisk -p r1.img | grep GUID)\" != \"\$(sgdisk -p r2.img | grep GUID)\" ]"

ok "-O qcow2: written natively" "$RXIMG" create -s 64M -b loader.efi --from tree -O qcow2 q.qcow2
ok "qemu-img check: no errors, no leaks" qemu-img check q.qcow2
ok "the qcow2 holds the same disk as the raw one" sh -c "qemu-img convert -O raw q.qcow2 q.raw && cmp q.raw a.img"
ok "qcow2 twice: identical bytes" sh -c "
	'$RXIMG' create -s 64M -b loader.efi --from tree -O qcow2 q2.qcow2 && cmp q.qcow2 q2.qcow2"
ok "a .qcow2 name chooses qcow2" sh -c "
	'$RXIMG' create -s 64M -b loader.efi q3.qcow2 && qemu-img info q3.qcow2 | grep -q 'file format: qcow2'"
ok "rximg check reads the qcow2 disk" "$RXIMG" check q.qcow2

ok "--arch x86_64: the loader is EFI/BOOT/BOOTX64.EFI" sh -c "
	'$RXIMG' create -s 8M -b x64.efi x.img && mdir -i x.img@@1M ::/EFI/BOOT | grep -q 'BOOTX64 *EFI'"
ok "a loader for another machine than --arch is refused" \
	fails_cleanly "x86_64, not aarch64" "$RXIMG" create -s 8M -b x64.efi --arch aarch64 xa.img
ok "and nothing is written" test ! -e xa.img -a ! -e xa.img.partial

# --bios: a stand-in BIOS stage with code in LBA 0, zeros for the GPT, stage 2 at LBA 34.
$PY - bios.bin <<'EOF'
import sys
b = bytearray(393216)
for i in range(446): b[i] = 0x90
b[510:512] = b"\x55\xaa"
for i in range(0x4400, len(b)): b[i] = (i * 3 + 1) & 0xff
open(sys.argv[1], "wb").write(b)
EOF
ok "--bios: the stage's code in LBA 0 and from LBA 34 on, the GPT intact" sh -c "
	'$RXIMG' create -s 64M -b loader.efi --bios bios.bin --arch aarch64 b.img &&
	cmp -n 446 b.img bios.bin && cmp -i 17408 -n 375808 b.img bios.bin &&
	sgdisk -v b.img | grep -q 'No problems found' &&
	od -An -tx1 -j446 -N16 b.img | tr -d ' \n' | grep -qx '00000200eeffffff01000000ffff0100'"
head -c 600 bios.bin >badbios.bin
printf 'X' >>badbios.bin
ok "a BIOS stage with bytes where the GPT lives is refused" \
	fails_cleanly "GPT lives" "$RXIMG" create -s 64M -b loader.efi --bios badbios.bin bb.img

# --redoxfs: a filesystem image copied into the partition, UUID kept.
ok "--redoxfs: a filesystem image goes into the RedoxFS partition" sh -c "
	'$RXIMG' mkfs -s 16M --from tree fs.img && '$RXIMG' create -s 64M -b loader.efi --redoxfs fs.img rf.img &&
	[ \"\$('$RXIMG' uuid rf.img)\" = \"\$('$RXIMG' uuid fs.img)\" ] && '$RXIMG' check rf.img &&
	'$RXIMG' cat rf.img:/etc/hostname | grep -qx redox"

# --encrypt: reuses mkfs's encryption; checked with rximg (this loader skips encrypted partitions).
ok "--encrypt: an encrypted RedoxFS in the partition" sh -c "
	RXIMG_PASSWORD=secret '$RXIMG' create -s 64M -b loader.efi --from tree --encrypt e.img &&
	'$RXIMG' info e.img | grep -q 'Encrypted: *yes' &&
	RXIMG_PASSWORD=secret '$RXIMG' cat e.img:/etc/hostname | grep -qx redox"

# --like: the layout and loader of OLD, new identity.
# Under the same SOURCE_DATE_EPOCH as a.img: the identity must still be new.
ok "--like: a new disk like a.img" "$RXIMG" create --like a.img l.img
ok "same layout and partition names" sh -c "
	sgdisk -p a.img | sed -n '/^Number/,\$p' >pa && sgdisk -p l.img | sed -n '/^Number/,\$p' >pl && cmp pa pl"
ok "the same loader in EFI/BOOT" sh -c "mcopy -n -i l.img@@1M ::/EFI/BOOT/BOOTAA64.EFI l.efi && cmp l.efi loader.efi"
ok "other disk and partition GUIDs" sh -c "
	for i in 1 2 3; do
		a=\$(sgdisk -i \$i a.img | grep 'unique GUID'); l=\$(sgdisk -i \$i l.img | grep 'unique GUID')
		[ \"\$a\" != \"\$l\" ] || exit 1
	done
	[ \"\$(sgdisk -p a.img | grep 'Disk identifier')\" != \"\$(sgdisk -p l.img | grep 'Disk identifier')\" ]"
ok "another RedoxFS UUID, the same contents (copied block by block)" sh -c "
	[ \"\$('$RXIMG' uuid a.img)\" != \"\$('$RXIMG' uuid l.img)\" ] && '$RXIMG' check l.img &&
	'$RXIMG' manifest a.img >ma && '$RXIMG' manifest l.img >ml && cmp ma ml"
ok "--like: the header in the partition's first block (all the loader probes) has the new UUID" sh -c "
	u=\$(dd if=l.img bs=4096 skip=512 count=1 2>/dev/null | od -An -tx1 -j16 -N16 | tr -d ' \n') &&
	[ \"\$u\" = \"\$('$RXIMG' uuid l.img | tr -d -)\" ]"
ok "--like --from: new contents, the same layout" sh -c "
	mkdir -p t2 && echo other >t2/x && '$RXIMG' create --like a.img --from t2 l2.img &&
	'$RXIMG' cat l2.img:/x | grep -qx other && sgdisk -v l2.img | grep -q 'No problems found'"
ok "--like --size: the RedoxFS partition ends where the installer ends it" sh -c "
	'$RXIMG' create --like a.img -s 80M l3.img && sgdisk -i 3 l3.img | grep -q 'Last sector: 161791' &&
	sgdisk -v l3.img | grep -q 'No problems found' && '$RXIMG' check l3.img"
ok "--like of a disk without a GPT is refused" \
	fails_cleanly "no GPT" "$RXIMG" create --like fs.img ln.img

# Refusals: a clear line, nothing written.
: >exists.img
ok "an existing DISK is refused without --force" \
	fails_cleanly "already exists" "$RXIMG" create -s 64M -b loader.efi exists.img
ok "and left as it was" sh -c "[ ! -s exists.img ] && [ ! -e exists.img.partial ]"
ok "--force replaces it" sh -c "'$RXIMG' create -f -s 8M -b loader.efi exists.img && sgdisk -v exists.img | grep -q 'No problems'"
ok "a missing bootloader is refused" fails_cleanly "nope.efi" "$RXIMG" create -s 64M -b nope.efi n1.img
ok "a bootloader that is not a PE file is refused" \
	fails_cleanly "not an EFI application" "$RXIMG" create -s 64M -b tree/etc/hostname n2.img
ok "a disk too small for the layout is refused" fails_cleanly "too small" "$RXIMG" create -s 3M -b loader.efi n3.img
mkdir -p bigtree && head -c 3000000 /dev/urandom >bigtree/x
ok "a tree that does not fit is refused" fails_cleanly "space|too small|ENOSPC" \
	"$RXIMG" create -s 5M -b loader.efi --from bigtree n4.img
ok "a missing --from directory is refused" fails_cleanly "nodir" "$RXIMG" create -s 64M -b loader.efi --from nodir n5.img
ok "a loader larger than the ESP is refused" sh -c "
	fake_big=\$(mktemp big.XXXXXX) && head -c 2000000 /dev/zero >\"\$fake_big\" &&
	printf MZ | dd of=\"\$fake_big\" conv=notrunc 2>/dev/null && ! '$RXIMG' create -s 64M -b \"\$fake_big\" n6.img 2>err &&
	grep -q 'too large' err"
ok "no refused DISK (nor its .partial) exists" sh -c "! ls n[0-9].img* 2>/dev/null | grep -q ."
ok "usage: --bootloader is needed" sh -c "'$RXIMG' create -s 8M u.img 2>err; [ \$? -eq 2 ] && grep -q 'bootloader' err"
ok "usage: --size is needed for a new file" sh -c "'$RXIMG' create -b loader.efi u.img 2>err; [ \$? -eq 2 ] && grep -q 'size' err"

done_testing
