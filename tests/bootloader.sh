#!/bin/sh
# rximg bootloader info|extract|install, and the whole-disk warnings of rximg
# info and check, on disks laid out like the Redox installer's (sgdisk,
# mkfs.fat, mtools, rximg mkfs, synthetic PE files from tests/tools/mkpe.py)
# and on the golden whole disk when ../shared/golden is there: what the loader
# is, a byte-exact extract, installs read back by mtools and passed by
# fsck.fat -n, raw and qcow2, the BIOS stage placed without touching the GPT
# or the MBR records, refusals that leave the image unchanged, one warning
# per crafted defect, hostile GPT/FAT, and a kill at every write of an install.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
for t in sgdisk mkfs.fat fsck.fat mcopy mmd mdir mtype; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "1..0 # SKIP $t is not installed (Debian: gdisk, dosfstools, mtools)"
		exit 0
	fi
done
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8
MKPE="$top_srcdir/tests/tools/mkpe.py"
GOLDEN_SHA=f2b10f3df6a2137b7bc2f8d9a0e358c4aea876ff6781e2866962b7aab4040d33
MIB=1048576

# ---- ingredients ----
$PY "$MKPE" "$WORK/live.efi" --machine aarch64 --size 150000 --live --seed live
$PY "$MKPE" "$WORK/plain.efi" --machine aarch64 --size 200000 --seed plain
$PY "$MKPE" "$WORK/x64.efi" --machine x86_64 --size 120000 --seed x64
$PY "$MKPE" "$WORK/huge.efi" --machine aarch64 --size 900000 --seed huge
$PY "$MKPE" "$WORK/driver.efi" --machine aarch64 --size 50000 --subsystem 11 --seed drv
head -c 150000 /dev/urandom >"$WORK/random.bin"
sha() { sha256sum "$1" | cut -d' ' -f1; }

# A root tree the loader of early 2026 boots: /boot/kernel (ELF magic), /boot/initfs (with bootstrap).
mkroot() {  # mkroot DIR [usr|symlink|badelf|badinitfs|nobootstrap]
	d=$1
	mkdir -p "$d/etc"
	echo redox >"$d/etc/hostname"
	case ${2:-} in usr) b=$d/usr/lib/boot ;; *) b=$d/boot ;; esac
	mkdir -p "$b"
	{ printf '\177ELF'; head -c 30000 /dev/zero | tr '\0' 'k'; } >"$b/kernel"
	cp "$(test_image initfs-bootstrap.img)" "$b/initfs"
	case ${2:-} in
	symlink) mv "$b/kernel" "$b/kernel.real" && ln -s kernel.real "$b/kernel" ;;
	badelf) printf 'MZ' | dd of="$b/kernel" conv=notrunc status=none ;;
	badinitfs) printf 'NOTREDOX' | dd of="$b/initfs" conv=notrunc status=none ;;
	nobootstrap) cp "$(test_image initfs-nobootstrap.img)" "$b/initfs" ;;
	esac
}

# mkdisk NAME LOADER [ROOTKIND] [ESP_START REDOX_START]: a 16 MiB disk laid out like the installer's
# (sectors; defaults 2048 and 4096), the ESP a 1 MiB FAT12 with EFI/BOOT/BOOTAA64.EFI = LOADER.
mkdisk() {
	name=$1 loader=$2 kind=${3:-} esp=${4:-2048} rfs=${5:-4096}
	img=$WORK/$name.img
	rm -rf "$img" "$WORK/root-$name" "$WORK/esp-$name" "$WORK/fs-$name"
	if [ "$esp" -lt "$rfs" ]; then rfs_end=30719; else rfs_end=$((esp - 1)); fi
	# sgdisk flushes what it writes (slow on a busy machine): one table per layout.
	layout=$WORK/layout-$esp-$rfs.img
	if ! [ -f "$layout" ]; then
		truncate -s 16M "$layout"
		sgdisk -o -a 1 -n 1:34:2047 -t 1:EF02 -c 1:BIOS -n 2:$esp:$((esp + 2047)) -t 2:EF00 -c 2:EFI \
			-n 3:$rfs:$rfs_end -t 3:8300 -c 3:REDOX "$layout" >/dev/null || return 1
	fi
	cp "$layout" "$img"
	truncate -s 1M "$WORK/esp-$name"
	mkfs.fat -F 12 -n EFI "$WORK/esp-$name" >/dev/null
	mmd -i "$WORK/esp-$name" ::/EFI ::/EFI/BOOT
	mcopy -i "$WORK/esp-$name" "$loader" ::/EFI/BOOT/BOOTAA64.EFI
	dd if="$WORK/esp-$name" of="$img" bs=512 seek="$esp" conv=notrunc status=none
	mkroot "$WORK/root-$name" "$kind"
	"$R" mkfs -q -s $(((rfs_end - rfs + 1) * 512)) --seed "$name" --from "$WORK/root-$name" "$WORK/fs-$name" >/dev/null || return 1
	dd if="$WORK/fs-$name" of="$img" bs=512 seek="$rfs" conv=notrunc status=none
	rm -rf "$WORK/fs-$name" "$WORK/esp-$name" "$WORK/root-$name"
	echo "$img"
}

esp_of() {  # esp_of IMG [START_SECTOR]: the ESP as a file of its own
	dd if="$1" of="$WORK/esp.part" bs=512 skip="${2:-2048}" count=2048 status=none && echo "$WORK/esp.part"
}

fsck_clean() {
	fsck.fat -n "$1" >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	! grep -q -i -E 'differ|lost|reclaim|wrong|bad|invalid' "$WORK/fsck.out" || { cat "$WORK/fsck.out"; return 1; }
}

# unchanged_after IMG REGEX COMMAND...: fails cleanly (one "rximg: ..." line matching REGEX) and IMG is byte-identical.
unchanged_after() {
	img=$1 re=$2
	shift 2
	cp "$img" "$WORK/before.img"
	fails_cleanly "$re" "$@" || return 1
	[ "$(wc -l <"$WORK/.fc.err")" -eq 1 ] || { echo "more than one line:"; cat "$WORK/.fc.err"; return 1; }
	cmp "$WORK/before.img" "$img" || { echo "the image changed"; return 1; }
}

good=$(mkdisk good "$WORK/plain.efi") || { fail "build the fixture disk"; done_testing; exit 1; }
live=$(mkdisk live "$WORK/live.efi")

# ---- info and extract ----
ok "sgdisk -v passes the fixture" sgdisk -v "$good"
ok "info: path, size, SHA-256, architecture, not live" eval "'$R' bootloader info '$good' >'$WORK/i' &&
	grep -qx 'Loader:     /EFI/BOOT/BOOTAA64.EFI' '$WORK/i' && grep -qx '  Size:       200000 bytes' '$WORK/i' &&
	grep -qx '  SHA-256:    $(sha "$WORK/plain.efi")' '$WORK/i' && grep -q '^  Arch:       aarch64 (PE machine 0xaa64)' '$WORK/i' &&
	grep -qx '  Live:       no' '$WORK/i' && ! grep -q Warning '$WORK/i'"
ok "info: a live loader is named as one, with what it means" eval "'$R' bootloader info '$live' >'$WORK/i' &&
	grep -qx '  Live:       yes' '$WORK/i' &&
	grep -qx 'Warning:    /EFI/BOOT/BOOTAA64.EFI is a live loader: the VM runs from a RAM copy of RedoxFS; writes inside it are lost at shutdown' '$WORK/i'"
ok "info --json" eval "'$R' bootloader info --json '$live' | $PY -c '
import json, sys
d = json.load(sys.stdin)
l = d[\"loaders\"][0]
assert d[\"esp\"][\"partition\"] == 2 and d[\"esp\"][\"start\"] == \"$MIB\" and d[\"esp\"][\"fat\"] == 12, d
assert l[\"path\"] == \"/EFI/BOOT/BOOTAA64.EFI\" and l[\"size\"] == 150000 and l[\"arch\"] == \"aarch64\", l
assert l[\"sha256\"] == \"$(sha "$WORK/live.efi")\" and l[\"live\"] is True and \"lost at shutdown\" in l[\"warning\"], l
assert d[\"bios\"] is None
'"
ok "extract: the same bytes" eval "'$R' bootloader extract '$good' '$WORK/out.efi' && cmp '$WORK/out.efi' '$WORK/plain.efi'"
ok "extract: an existing FILE is kept without --force" eval "
	fails_cleanly 'already exists' '$R' bootloader extract '$good' '$WORK/out.efi'; ! [ -e '$WORK/out.efi.partial' ]"
echo other >"$WORK/out.efi"
ok "extract --force replaces it" eval "'$R' bootloader extract --force '$good' '$WORK/out.efi' && cmp '$WORK/out.efi' '$WORK/plain.efi'"
ok "a disk without an ESP: one clear line" fails_cleanly 'no EFI system partition' "$R" bootloader info "$(test_image empty-8M.img)"
ok "usage: unknown action" eval "'$R' bootloader frob x 2>&1 >/dev/null | grep -q 'unknown action'; [ \$? -eq 0 ]"

# ---- install ----
cp "$good" "$WORK/g1.img"
ok "install a live loader over a plain one" "$R" bootloader install "$WORK/g1.img" "$WORK/live.efi"
ok "mtools reads it back, fsck.fat -n is clean" eval "e=\$(esp_of '$WORK/g1.img') &&
	mtype -i \$e ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$WORK/live.efi' && fsck_clean \$e &&
	mdir -i \$e ::/EFI/BOOT | grep -q 'BOOTAA64 EFI'"
ok "install the original again: identical bytes of the ESP file" eval "'$R' bootloader install '$WORK/g1.img' '$WORK/plain.efi' &&
	e=\$(esp_of '$WORK/g1.img') && mcopy -i \$e ::/EFI/BOOT/BOOTAA64.EFI '$WORK/rt.efi' && cmp '$WORK/rt.efi' '$WORK/plain.efi' && fsck_clean \$e"
ok "only the ESP changed" eval "cmp -n $MIB '$good' '$WORK/g1.img' && cmp -i $((2 * MIB)) '$good' '$WORK/g1.img'"
ok "install x86_64 beside it: BOOTX64.EFI" eval "'$R' bootloader install '$WORK/g1.img' '$WORK/x64.efi' &&
	e=\$(esp_of '$WORK/g1.img') && mtype -i \$e ::/EFI/BOOT/BOOTX64.EFI | cmp - '$WORK/x64.efi' && fsck_clean \$e"
ok "two loaders: extract needs --arch" fails_cleanly 'several loaders .*--arch' "$R" bootloader extract "$WORK/g1.img" "$WORK/two.efi"
ok "extract --arch x86_64" eval "'$R' bootloader extract --arch x86_64 '$WORK/g1.img' '$WORK/two.efi' && cmp '$WORK/two.efi' '$WORK/x64.efi'"
ok "install creates EFI/BOOT when the ESP is empty" eval "
	cp '$good' '$WORK/g2.img' && e=\$(esp_of '$WORK/g2.img') && mdeltree -i \$e ::/EFI >/dev/null &&
	dd if=\$e of='$WORK/g2.img' bs=512 seek=2048 conv=notrunc status=none &&
	'$R' bootloader install '$WORK/g2.img' '$WORK/plain.efi' && e=\$(esp_of '$WORK/g2.img') &&
	mtype -i \$e ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$WORK/plain.efi' && fsck_clean \$e"

cp "$good" "$WORK/g3.img"
ok "install: growth beyond the free space is refused, nothing written" \
	unchanged_after "$WORK/g3.img" 'bytes free' "$R" bootloader install "$WORK/g3.img" "$WORK/huge.efi"
ok "install: a file that is no PE is refused" unchanged_after "$WORK/g3.img" 'not a PE' "$R" bootloader install "$WORK/g3.img" "$WORK/random.bin"
ok "install: a PE that is no EFI application is refused" unchanged_after "$WORK/g3.img" 'not an EFI application' \
	"$R" bootloader install "$WORK/g3.img" "$WORK/driver.efi"
ok "install: --arch must match the PE" unchanged_after "$WORK/g3.img" 'built for x86_64, not for aarch64' \
	"$R" bootloader install --arch aarch64 "$WORK/g3.img" "$WORK/x64.efi"
held_elsewhere() {
	flock -x "$WORK/g3.img" sleep 3 &
	sleep 0.5
	unchanged_after "$WORK/g3.img" 'rximg|use' "$R" bootloader install "$WORK/g3.img" "$WORK/live.efi"
	s=$?
	wait
	return $s
}
ok "install: refused while another rximg holds the image" held_elsewhere

# ---- qcow2 ----
if command -v qemu-img >/dev/null 2>&1; then
	qemu-img convert -f raw -O qcow2 "$good" "$WORK/q.qcow2"
	ok "qcow2: info and extract" eval "'$R' bootloader info '$WORK/q.qcow2' | grep -qx '  SHA-256:    $(sha "$WORK/plain.efi")' &&
		'$R' bootloader extract '$WORK/q.qcow2' '$WORK/q.efi' && cmp '$WORK/q.efi' '$WORK/plain.efi'"
	ok "qcow2: install, qemu-img check, the raw conversion reads back" eval "
		'$R' bootloader install '$WORK/q.qcow2' '$WORK/live.efi' && qemu-img check -q '$WORK/q.qcow2' &&
		qemu-img convert -O raw '$WORK/q.qcow2' '$WORK/q.raw' && e=\$(esp_of '$WORK/q.raw') &&
		mtype -i \$e ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$WORK/live.efi' && fsck_clean \$e"
	ok "qcow2: growth refused, the file unchanged" \
		unchanged_after "$WORK/q.qcow2" 'bytes free' "$R" bootloader install "$WORK/q.qcow2" "$WORK/huge.efi"
else
	skip "qcow2" "qemu-img not installed"
fi

# ---- the BIOS stage (spec section 3) ----
$PY - "$WORK/stage.bios" "$WORK/stage-gpt.bios" <<'EOF'
import random, sys
r = random.Random(7)
b = bytearray(r.getrandbits(8) for _ in range(0x60000))
b[446:510] = bytes(64)
b[510:512] = b'\x55\xaa'
b[0x200:0x4400] = bytes(0x4200)
b[0x5F000:] = bytes(0x1000)  # zero padding at the end, like the real file
open(sys.argv[1], 'wb').write(b)
b[0x1000] = 1                # data where the primary GPT lives
open(sys.argv[2], 'wb').write(b)
EOF
cp "$good" "$WORK/b1.img"
ok "install --bios: stage 1 in bytes 0-445, the rest from LBA 34" eval "
	'$R' bootloader install --bios '$WORK/stage.bios' '$WORK/b1.img' &&
	cmp -n 446 '$WORK/stage.bios' '$WORK/b1.img' &&
	cmp -i $((0x4400)) -n $((0x60000 - 0x4400)) '$WORK/stage.bios' '$WORK/b1.img'"
ok "install --bios: LBA 1-33 and the MBR records (bytes 446-511) unchanged" eval "
	cmp -i 446 -n 66 '$good' '$WORK/b1.img' && cmp -i 512 -n $((33 * 512)) '$good' '$WORK/b1.img' &&
	cmp -i $((0x60000)) '$good' '$WORK/b1.img' && sgdisk -v '$WORK/b1.img' >/dev/null"
ok "info shows the BIOS stage; extract --bios gives the file back" eval "
	'$R' bootloader info '$WORK/b1.img' | grep -qx 'BIOS stage: 393216 bytes, SHA-256 $(sha "$WORK/stage.bios")' &&
	'$R' bootloader extract --bios '$WORK/b1.img' '$WORK/x.bios' && cmp '$WORK/x.bios' '$WORK/stage.bios'"
ok "install --bios: a stage with data in the GPT area is refused" unchanged_after "$WORK/b1.img" 'primary GPT lives' \
	"$R" bootloader install --bios "$WORK/stage-gpt.bios" "$WORK/b1.img"
ok "install --bios with EFIFILE: both placed" eval "cp '$good' '$WORK/b2.img' &&
	'$R' bootloader install --bios '$WORK/stage.bios' '$WORK/b2.img' '$WORK/live.efi' &&
	cmp -n 446 '$WORK/stage.bios' '$WORK/b2.img' && e=\$(esp_of '$WORK/b2.img') && mtype -i \$e ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$WORK/live.efi'"

# ---- rximg info: one warning per problem a loader would meet ----
# warns IMG REGEX: info prints a Warning line matching REGEX, and --json carries it.
warns() {
	"$R" info "$1" >"$WORK/w.txt" 2>&1 || { cat "$WORK/w.txt"; return 1; }
	grep -E "^Warning: +.*($2)" "$WORK/w.txt" >/dev/null || { echo "no warning /$2/:"; cat "$WORK/w.txt"; return 1; }
	"$R" info --json "$1" | $PY -c "
import json, re, sys
w = json.load(sys.stdin)['warnings']
sys.exit(0 if any(re.search(sys.argv[1], x) for x in w) else 1)" "$2"
}
ok "info: a good disk has no warnings" eval "'$R' info '$good' >'$WORK/w.txt' && ! grep -q Warning '$WORK/w.txt' &&
	'$R' info --json '$good' | $PY -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"warnings\"] != [])'"
ok "info: a live loader" warns "$live" 'is a live loader: the VM runs from a RAM copy of RedoxFS; writes inside it are lost at shutdown'
ok "info: ESP not at 1 MiB" warns "$(mkdisk espoff "$WORK/plain.efi" '' 28672 4096)" 'EFI system partition p2 starts at byte 14680064, not at 1 MiB'
ok "info: RedoxFS not at 2 MiB" warns "$(mkdisk rfsoff "$WORK/plain.efi" '' 2048 6144)" 'RedoxFS \(p3\) starts at byte 3145728, not at 2 MiB'
cp "$good" "$WORK/nobackup.img"
dd if=/dev/zero of="$WORK/nobackup.img" bs=512 seek=$((32768 - 33)) count=33 conv=notrunc status=none
ok "info: backup GPT missing" warns "$WORK/nobackup.img" 'backup GPT missing'
cp "$good" "$WORK/badbackup.img"
printf 'X' | dd of="$WORK/badbackup.img" bs=1 seek=$(((32768 - 1) * 512 + 60)) conv=notrunc status=none
ok "info: backup GPT damaged" warns "$WORK/badbackup.img" 'backup GPT header CRC mismatch'
ok "info: kernel and initfs only under /usr/lib/boot" warns "$(mkdisk usr "$WORK/plain.efi" usr)" \
	'/boot is missing and kernel and initfs are only under /usr/lib/boot: the loader reads /boot only: Failed to find boot directory'
ok "info: /boot/kernel a symlink" warns "$(mkdisk symlink "$WORK/plain.efi" symlink)" '/boot/kernel is a symlink: the loader reads the link text'
ok "info: kernel without ELF magic" warns "$(mkdisk badelf "$WORK/plain.efi" badelf)" '/boot/kernel does not start with \\x7fELF'
ok "info: initfs without its magic" warns "$(mkdisk badinitfs "$WORK/plain.efi" badinitfs)" '/boot/initfs does not start with RedoxFtw'
ok "info: initfs without bootstrap" warns "$(mkdisk noboot "$WORK/plain.efi" nobootstrap)" 'no bootstrap \(entry 0xFFFFFFFFFFFFFFFF\)'
cp "$good" "$WORK/block0.img"
echo x >"$WORK/x.txt"
"$R" put "$WORK/x.txt" "$WORK/block0.img:/x.txt"	# a second header generation, in ring slot 1
dd if=/dev/zero of="$WORK/block0.img" bs=4096 seek=512 count=1 conv=notrunc status=none
ok "info: header at block 0 invalid, later slots valid" warns "$WORK/block0.img" \
	'block 0 of partition p3 is invalid although later ring slots are valid: the loader probes block 0 only: No RedoxFS partitions found'
ok "check: reports the block-0 case (a warning)" eval "'$R' check '$WORK/block0.img' >'$WORK/c.txt';
	grep -q 'warning: header slot 0: .*No RedoxFS partitions found' '$WORK/c.txt' && ! '$R' check '$good' | grep -q 'slot 0'"

# ---- hostile GPT and FAT: one clear line, non-zero exit, nothing written ----
# gptpatch IMG WHAT: change both GPT copies consistently (CRCs recomputed), or break one.
gptpatch() {
	$PY - "$1" "$2" <<'EOF'
import struct, sys, zlib
path, what = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
size = f.seek(0, 2)
def rd(off, n): f.seek(off); return bytearray(f.read(n))
def wr(off, b): f.seek(off); f.write(bytes(b))
for lba in (1, size // 512 - 1):
    h = rd(lba * 512, 92)
    at, n, esz = struct.unpack_from('<QII', h, 72)
    e = rd(at * 512, n * esz)
    if what == 'overlap':   # p3 starts inside p2
        struct.pack_into('<Q', e, 2 * esz + 32, 3000)
    struct.pack_into('<I', h, 88, zlib.crc32(e))
    struct.pack_into('<I', h, 16, 0)
    struct.pack_into('<I', h, 16, zlib.crc32(h))
    if what == 'crc' and lba == 1:
        h[16] ^= 0xff
    wr(at * 512, e)
    wr(lba * 512, h)
EOF
}
# fatpatch IMG WHAT: damage the ESP's FAT12 at 1 MiB (EFI is cluster 2, BOOT 3, the loader from 4 on).
fatpatch() {
	$PY - "$1" "$2" <<'EOF'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
base = 1 << 20
f = open(path, 'r+b')
f.seek(base); b = f.read(512)
bps, spc, res, nfats, rootent = struct.unpack_from('<HBHBH', b, 11)
fatsz = struct.unpack_from('<H', b, 22)[0]
data = base + (res + nfats * fatsz) * bps + rootent * 32
def fat12_set(c, v):
    for i in range(nfats):
        off = base + (res + i * fatsz) * bps + c + c // 2
        f.seek(off); w = struct.unpack('<H', f.read(2))[0]
        w = (w & 0x000F) | (v << 4) if c & 1 else (w & 0xF000) | v
        f.seek(off); f.write(struct.pack('<H', w))
boot_dir = data + (3 - 2) * spc * bps
f.seek(boot_dir + 64); assert f.read(11) == b'BOOTAA64EFI'
if what == 'loop': fat12_set(6, 4)
elif what == 'range': fat12_set(5, 0xF00)
elif what == 'slash': f.seek(boot_dir + 64); f.write(b'/')
elif what == 'dotdot': f.seek(boot_dir + 64); f.write(b'..         ')
EOF
}
hostile() {  # hostile NAME REGEX PATCHER WHAT
	cp "$good" "$WORK/h.img"
	$3 "$WORK/h.img" "$4" || return 1
	unchanged_after "$WORK/h.img" "$2" "$R" bootloader install "$WORK/h.img" "$WORK/live.efi" || return 1
	unchanged_after "$WORK/h.img" "$2" "$R" bootloader extract "$WORK/h.img" "$WORK/h.efi" || return 1
	! [ -e "$WORK/h.efi" ] || { echo "extract left a file"; return 1; }
	[ "$1" = crc ] || unchanged_after "$WORK/h.img" "$2" "$R" bootloader info "$WORK/h.img"
}
ok "hostile: overlapping partitions" hostile overlap 'partitions p2 and p3 overlap' gptpatch overlap
ok "hostile: FAT cluster loop" hostile loop 'loops|chain' fatpatch loop
ok "hostile: FAT cluster out of range" hostile range 'outside the volume' fatpatch range
ok "hostile: a name with /" hostile slash 'refused' fatpatch slash
ok "hostile: a name .." hostile dotdot 'refused' fatpatch dotdot
cp "$good" "$WORK/crc.img"
gptpatch "$WORK/crc.img" crc
ok "hostile: primary GPT CRC mismatch: install refuses" unchanged_after "$WORK/crc.img" 'primary GPT is damaged \(header CRC mismatch' \
	"$R" bootloader install "$WORK/crc.img" "$WORK/live.efi"
ok "hostile: primary GPT CRC mismatch: info reads the backup and says so" eval "
	'$R' bootloader info '$WORK/crc.img' 2>'$WORK/e' >/dev/null && grep -q 'primary GPT is damaged' '$WORK/e'"
dd if=/dev/zero of="$WORK/crc.img" bs=512 seek=$((32768 - 1)) count=1 conv=notrunc status=none
ok "hostile: no valid GPT copy: one line naming both" unchanged_after "$WORK/crc.img" \
	'no usable partition table: primary GPT: header CRC mismatch at LBA 1; backup GPT: missing' "$R" bootloader info "$WORK/crc.img"

# ---- a kill at every write of an install ----
# fsck.fat -n may report only what disk/fat/fat.h says a cut may leave: lost clusters, FATs that differ.
fsck_tolerable() {
	fsck.fat -n "$1" >"$WORK/fsck.out" 2>&1
	[ $? -le 1 ] || return 1
	! sed '1d' "$WORK/fsck.out" | grep -v -E "^$1: [0-9]+ files|FATs differ but appear to be intact|Using first FAT|Reclaimed [0-9]+ unused clusters?|Free cluster summary|Leaving filesystem unchanged|^ *$" | grep -q .
}
k=1 n=0 bad=0
while [ $k -lt 60 ]; do
	cp "$good" "$WORK/k.img"
	RXIMG_CRASH_AFTER=$k "$R" bootloader install "$WORK/k.img" "$WORK/live.efi" >"$WORK/k.out" 2>&1
	rc=$?
	if [ $rc -ne 99 ]; then
		[ $rc -eq 0 ] || { bad=1; echo "# k=$k exited $rc"; cat "$WORK/k.out"; }
		break
	fi
	n=$((n + 1))
	e=$(esp_of "$WORK/k.img")
	if ! fsck_tolerable "$e"; then
		bad=1; echo "# cut at write $k: fsck.fat reports more than lost clusters"; sed 's/^/#   /' "$WORK/fsck.out" | head -8; break
	fi
	mtype -i "$e" ::/EFI/BOOT/BOOTAA64.EFI >"$WORK/k.efi" 2>/dev/null
	if ! cmp -s "$WORK/k.efi" "$WORK/plain.efi" && ! cmp -s "$WORK/k.efi" "$WORK/live.efi"; then
		bad=1; echo "# cut at write $k: the loader is neither the old nor the new file"; break
	fi
	k=$((k + 1))
done
if [ $bad -eq 0 ] && [ $n -gt 2 ] && fsck_clean "$(esp_of "$WORK/k.img")"; then
	pass "kill at each of $n writes of an install: the old or the new loader, fsck.fat -n at worst lost clusters"
else
	fail "kill during install ($n cut points)"
fi

# ---- block devices: --force, and what will be written is said first ----
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null 2>&1 && cp "$good" "$WORK/dev.img" &&
	loop=$(losetup -f --show "$WORK/dev.img" 2>/dev/null); then
	ok "block device: refused without --force, nothing written" eval "
		fails_cleanly 'block device: writing to it needs --force' '$R' bootloader install '$loop' '$WORK/live.efi' && cmp '$good' '$WORK/dev.img'"
	ok "block device: --force says what it writes, then writes it" eval "
		'$R' bootloader install --force '$loop' '$WORK/live.efi' 2>'$WORK/e' &&
		grep -q 'block device: writing .*live.efi (150000 bytes, aarch64) as EFI/BOOT/BOOTAA64.EFI into partition p2' '$WORK/e' &&
		'$R' bootloader extract '$loop' '$WORK/dev.efi' && cmp '$WORK/dev.efi' '$WORK/live.efi'"
	losetup -d "$loop"
else
	skip "block device" "needs root and a loop device"
fi

# ---- the golden whole disk (made by the reference tools, with a real Redox loader) ----
if [ -f "$GOLDEN_DIR/wholedisk-gpt.img.zst" ]; then
	zstd -q -d "$GOLDEN_DIR/wholedisk-gpt.img.zst" -o "$WORK/gold.img"
	ok "golden: bootloader info: SHA-256 $GOLDEN_SHA, aarch64, live" eval "'$R' bootloader info '$WORK/gold.img' >'$WORK/i' &&
		grep -qx '  SHA-256:    $GOLDEN_SHA' '$WORK/i' && grep -q '^  Arch:       aarch64' '$WORK/i' &&
		grep -qx '  Live:       yes' '$WORK/i' && grep -qx '  Size:       167936 bytes' '$WORK/i'"
	ok "golden: extract gives that hash" eval "'$R' bootloader extract '$WORK/gold.img' '$WORK/gold.efi' &&
		[ \$(sha256sum <'$WORK/gold.efi' | cut -d' ' -f1) = $GOLDEN_SHA ]"
	ok "golden: rximg info warns about the live loader only" eval "'$R' info '$WORK/gold.img' | grep '^Warning' >'$WORK/w' &&
		[ \$(wc -l <'$WORK/w') -eq 1 ] && grep -q 'BOOTAA64.EFI is a live loader: the VM runs from a RAM copy' '$WORK/w'"
	cp "$WORK/gold.img" "$WORK/gold2.img"
	ok "golden: install another loader, then the original: the same ESP file, fsck.fat -n clean" eval "
		'$R' bootloader install '$WORK/gold2.img' '$WORK/plain.efi' && '$R' bootloader install '$WORK/gold2.img' '$WORK/gold.efi' &&
		e=\$(esp_of '$WORK/gold2.img') && mtype -i \$e ::/EFI/BOOT/BOOTAA64.EFI | sha256sum | grep -q $GOLDEN_SHA &&
		fsck_clean \$e && cmp -n $MIB '$WORK/gold.img' '$WORK/gold2.img' && cmp -i $((2 * MIB)) '$WORK/gold.img' '$WORK/gold2.img'"
	if [ -f "$GOLDEN_DIR/wholedisk-gpt.qcow2.zst" ] && command -v qemu-img >/dev/null 2>&1; then
		zstd -q -d "$GOLDEN_DIR/wholedisk-gpt.qcow2.zst" -o "$WORK/gold.qcow2"
		ok "golden qcow2: info, install and back, qemu-img check" eval "
			'$R' bootloader info '$WORK/gold.qcow2' | grep -qx '  SHA-256:    $GOLDEN_SHA' &&
			'$R' bootloader install '$WORK/gold.qcow2' '$WORK/plain.efi' &&
			'$R' bootloader info '$WORK/gold.qcow2' | grep -qx '  SHA-256:    $(sha "$WORK/plain.efi")' &&
			'$R' bootloader install '$WORK/gold.qcow2' '$WORK/gold.efi' && qemu-img check -q '$WORK/gold.qcow2' &&
			'$R' bootloader extract '$WORK/gold.qcow2' '$WORK/gq.efi' && cmp '$WORK/gq.efi' '$WORK/gold.efi'"
	else
		skip "golden qcow2" "wholedisk-gpt.qcow2.zst or qemu-img not available"
	fi
else
	skip "golden whole disk" "$GOLDEN_DIR/wholedisk-gpt.img.zst not available"
fi

done_testing
