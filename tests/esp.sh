#!/bin/bash
# The EFI system partition through the path syntax (IMAGE:esp:/path): reads and
# writes of its FAT by the ordinary verbs, checked by fsck.fat and mtools.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
if ! command -v sgdisk >/dev/null || ! command -v mkfs.fat >/dev/null || ! command -v mcopy >/dev/null; then
	echo "1..0 # SKIP needs sgdisk, mkfs.fat and mtools"
	exit 0
fi
# A whole disk of our own: ESP (FAT) at 1 MiB, RedoxFS at 2 MiB.
D=$WORK/disk.img
truncate -s 40M "$D"
sgdisk -o -n 1:2048:4095 -t 1:ef00 -n 2:4096:0 -t 2:8300 "$D" >/dev/null 2>&1
dd if=/dev/zero of="$WORK/esp.part" bs=512 count=2048 2>/dev/null
mkfs.fat -n EFI "$WORK/esp.part" >/dev/null
mmd -i "$WORK/esp.part" ::/EFI ::/EFI/BOOT
head -c 150000 /dev/urandom >"$WORK/loader.efi"
mcopy -i "$WORK/esp.part" "$WORK/loader.efi" ::/EFI/BOOT/BOOTAA64.EFI
dd if="$WORK/esp.part" of="$D" bs=512 seek=2048 conv=notrunc 2>/dev/null
"$R" mkfs -q "$D:p2" >/dev/null

esp_fsck() {  # the ESP of $1 passes fsck.fat -n
	dd if="$1" of="$WORK/check.part" bs=512 skip=2048 count=2048 2>/dev/null && fsck.fat -n "$WORK/check.part"
}

ok "ls of the ESP" sh -c '"$1" ls "$2:esp:/EFI/BOOT" | grep -qx BOOTAA64.EFI' sh "$R" "$D"
ok "cat of a file in the ESP" sh -c '"$1" cat "$2:esp:/EFI/BOOT/BOOTAA64.EFI" | cmp - "$3"' sh "$R" "$D" "$WORK/loader.efi"
ok "names match case-insensitively, as FAT does" sh -c '"$1" cat "$2:esp:/efi/boot/bootaa64.efi" | cmp - "$3"' \
	sh "$R" "$D" "$WORK/loader.efi"
ok "stat says where it is" sh -c '"$1" stat "$2:esp:/EFI/BOOT/BOOTAA64.EFI" | grep -q "Storage: in FAT"' sh "$R" "$D"
ok "get out of the ESP" sh -c '"$1" get "$2:esp:/EFI/BOOT/BOOTAA64.EFI" "$3" && cmp "$3" "$4"' \
	sh "$R" "$D" "$WORK/got.efi" "$WORK/loader.efi"
printf 'timeout 3\n' >"$WORK/startup.nsh"
ok "put into the ESP" "$R" put "$WORK/startup.nsh" "$D:esp:/"
ok "mkdir -p in the ESP" "$R" mkdir -p "$D:esp:/EFI/redox/extra"
ok "cp -r a host tree into the ESP" "$R" cp -r "$top_srcdir/man" "$D:esp:/EFI/redox/extra/"
ok "mv inside the ESP" "$R" mv "$D:esp:/startup.nsh" "$D:esp:/EFI/redox/startup.nsh"
ok "rm -r inside the ESP" "$R" rm -r "$D:esp:/EFI/redox/extra"
ok "the ESP passes fsck.fat -n" esp_fsck "$D"
ok "mtools reads what rximg wrote" sh -c 'dd if="$1" of="$2" bs=512 skip=2048 count=2048 2>/dev/null &&
	mtype -i "$2" ::/EFI/redox/startup.nsh | grep -q "timeout 3" && ! mdir -i "$2" ::/EFI/redox/extra >/dev/null 2>&1' \
	sh "$D" "$WORK/m.part"
ok "the RedoxFS next to it is untouched" "$R" check -q "$D:p2"
cp "$D" "$WORK/before.img"
ok "chmod in the ESP is refused by name" fails_cleanly "not possible in FAT" "$R" chmod 0600 "$D:esp:/EFI"
ok "a symlink in the ESP is refused by name" fails_cleanly "not possible in FAT" "$R" ln -s x "$D:esp:/l"
ok "a missing path is named" fails_cleanly "esp: /nothing" "$R" cat "$D:esp:/nothing"
ok "the refusals wrote nothing" cmp "$D" "$WORK/before.img"
ok "no ESP on a disk without a partition table" fails_cleanly "no EFI system partition" \
	"$R" ls "$(copy_image empty-8M.img):esp:/"
golden=$(test_image wholedisk-gpt.img) || golden=
if [ -n "$golden" ]; then
	ok "the golden loader through :esp has its SHA-256" sh -c '
		"$1" cat "$2:esp:/EFI/BOOT/BOOTAA64.EFI" | sha256sum | grep -q ^f2b10f3df6a2137b7bc2f8d9a0e358c4aea876ff6781e2866962b7aab4040d33' \
		sh "$R" "$golden"
else
	skip "the golden loader through :esp" "no golden wholedisk-gpt.img"
fi

done_testing
