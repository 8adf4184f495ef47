#!/bin/sh
# The real Redox loader is the judge: disks made by rximg create (raw and qcow2, and
# --like the golden disk) boot under QEMU to the loader's hand-off to the kernel, with
# the exact kernel size and the RedoxFS UUID rximg wrote, in live and non-live mode.
# The loader comes from the golden disk at test time (tests/qemuboot.inc).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/qemuboot.inc"

PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000
cd "$WORK" || exit 1

if ! why=$(qemuboot_ready); then
	for t in "raw, live" "raw, live mode off" "qcow2, live" "qcow2, live mode off" "--like the golden disk" \
		"after bootloader install" "after a write inside the initfs"; do
		skip "boots to the hand-off: $t" "$why"
	done
	done_testing
	exit $?
fi

# The parts: the golden loader, a synthetic AArch64 kernel, an initfs with a bootstrap.
KERNEL_SIZE=20000
qemuboot_loader loader.efi || { fail "the loader is extracted from the golden disk"; done_testing; exit 1; }
mkdir -p root/boot root/etc itree/etc
$PY "$top_srcdir/tests/tools/mkkernel.py" root/boot/kernel $KERNEL_SIZE
$PY "$top_srcdir/tests/tools/mkkernel.py" bootstrap.elf 6000 0x2000
printf '# init.rc of the boot test\n' >itree/etc/init.rc
"$RXIMG" initfs repack -o root/boot/initfs -b bootstrap.elf --time 1700000000 itree 2>/dev/null
printf 'boot-test\n' >root/etc/hostname
INITFS_SIZE=$(wc -c <root/boot/initfs)

# The loader hands the initfs over in whole pages, one page beyond its size at most.
bootstrap_ok() {
	[ -n "$BOOT_BOOTSTRAP_SIZE" ] && [ "$BOOT_BOOTSTRAP_SIZE" -ge "$INITFS_SIZE" ] &&
		[ "$BOOT_BOOTSTRAP_SIZE" -le $((INITFS_SIZE + 8192)) ] && [ $((BOOT_BOOTSTRAP_SIZE % 4096)) -eq 0 ]
}

judge() {  # judge DESCRIPTION DISK FORMAT MODE UUID MIB
	local want_live=1
	[ "$4" = nolive ] && want_live=0
	if qemuboot "$2" "$3" "$4" && [ "$BOOT_KERNEL_SIZE" = "$KERNEL_SIZE" ] && [ "$BOOT_UUID" = "$5" ] &&
		[ "$BOOT_MIB" = "$6" ] && bootstrap_ok && [ "$BOOT_LIVE" = $want_live ]; then
		pass "$1 (kernel_size $BOOT_KERNEL_SIZE, bootstrap_size $BOOT_BOOTSTRAP_SIZE, RedoxFS $BOOT_UUID: $BOOT_MIB MiB)"
	else
		fail "$1"
		diag "kernel_size '$BOOT_KERNEL_SIZE' (want $KERNEL_SIZE), uuid '$BOOT_UUID' (want $5)," \
			"MiB '$BOOT_MIB' (want $6), bootstrap_size '$BOOT_BOOTSTRAP_SIZE' (initfs $INITFS_SIZE), live '$BOOT_LIVE'"
	fi
}

"$RXIMG" create -s 64M -b loader.efi --from root disk.img || fail "create the raw disk"
UUID=$("$RXIMG" uuid disk.img)
judge "raw disk boots to the hand-off, live (RedoxFS copied to RAM)" disk.img raw live "$UUID" 61
judge "raw disk boots to the hand-off with live mode turned off" disk.img raw nolive "$UUID" 61

"$RXIMG" create -s 64M -b loader.efi --from root -O qcow2 disk.qcow2 || fail "create the qcow2 disk"
QUUID=$("$RXIMG" uuid disk.qcow2)
judge "qcow2 disk boots to the hand-off, live" disk.qcow2 qcow2 live "$QUUID" 61
judge "qcow2 disk boots to the hand-off with live mode turned off" disk.qcow2 qcow2 nolive "$QUUID" 61

# --like the golden disk: its loader and layout, its RedoxFS copied, with our kernel and
# initfs put in so the hand-off can be checked exactly.
# bootloader install: another loader in, then the real one back; the disk still boots.
cp --sparse=always disk.img installed.img
$PY "$top_srcdir/tests/tools/mkpe.py" other.efi --size 120000
if "$RXIMG" bootloader install installed.img other.efi && "$RXIMG" bootloader install installed.img loader.efi; then
	judge "a disk after bootloader install boots to the hand-off" installed.img raw live "$UUID" 61
else
	fail "a disk after bootloader install boots to the hand-off"
fi

# A file inside the initfs inside the disk rewritten in place: the loader verifies
# every block hash of the new archive it reads.
cp --sparse=always disk.img member.img
printf '# init.rc rewritten inside the disk\n' | "$RXIMG" write member.img:/boot/initfs:/etc/init.rc
INITFS_SIZE=$("$RXIMG" stat --json member.img:/boot/initfs | sed -n 's/.*"size": *\([0-9]*\).*/\1/p')
judge "a disk after a write inside its initfs boots to the hand-off" member.img raw nolive "$UUID" 61

golden=$(test_image wholedisk-gpt.img)
GUUID=$("$RXIMG" uuid "$golden")
if "$RXIMG" create --like "$golden" like.img && "$RXIMG" put root/boot/kernel like.img:/boot/kernel &&
	"$RXIMG" put root/boot/initfs like.img:/boot/initfs; then
	LUUID=$("$RXIMG" uuid like.img)
	if [ "$LUUID" = "$GUUID" ]; then
		fail "--like gives the copy a new RedoxFS UUID"
	else
		judge "a disk made --like the golden one boots to the hand-off under its new UUID" like.img raw live "$LUUID" 61
	fi
else
	fail "create --like the golden disk"
fi

done_testing
