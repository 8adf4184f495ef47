#!/bin/sh
# Every verb of the command line once or twice on small images, each run checked for its
# exit status and its effect. Short on purpose: scripts/test-all.sh runs it with every
# rximg under valgrind memcheck (errors and leaks), so that each verb's code paths, the
# writers' commits included, are seen by it in CI; the other scripts go deeper per verb.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000
ARC=$(test_image initfs-bootstrap.img) || { echo "1..0 # SKIP no initfs test image"; exit 0; }
cd "$WORK" || exit 1

mkdir -p src/etc src/bin
printf 'hello\n' >src/etc/hostname
head -c 300000 /dev/urandom >src/bin/prog
ln -s hostname src/etc/link

# RedoxFS: make, fill, read, change.
ok "mkfs --from" "$R" mkfs -q -s 16M --from src fs.img
ok "info" sh -c "'$R' info fs.img | grep -q '^RedoxFS:'"
ok "ls -l" sh -c "'$R' ls -l fs.img:/etc | grep -q hostname"
ok "stat --json" sh -c "'$R' stat --json fs.img:/etc/hostname | grep -q '\"size\":6'"
ok "cat" sh -c "'$R' cat fs.img:/etc/hostname | grep -qx hello"
ok "get" sh -c "'$R' get -q fs.img:/bin/prog got && cmp got src/bin/prog"
ok "put" "$R" put src/etc/hostname fs.img:/etc/hostname2
ok "mkdir -p" "$R" mkdir -p fs.img:/a/b/c
ok "mv" "$R" mv fs.img:/etc/hostname2 fs.img:/a/moved
ok "ln -s" "$R" ln -s /a/moved fs.img:/a/sym
ok "chmod" "$R" chmod 600 fs.img:/a/moved
ok "chown" "$R" chown 5:6 fs.img:/a/moved
ok "touch" "$R" touch fs.img:/a/new
ok "truncate" "$R" truncate -s 100000 fs.img:/a/new
ok "write" sh -c "echo written | '$R' write fs.img:/a/w"
ok "edit" env EDITOR="sed -i s/written/edited/" VISUAL= "$R" edit fs.img:/a/w
ok "... the edit landed" sh -c "'$R' cat fs.img:/a/w | grep -qx edited"
ok "rm -r" "$R" rm -r fs.img:/a/b
ok "inject SRC:/dest" "$R" inject fs.img src/etc/hostname:/etc/injected
ok "sync --delete" "$R" sync -q --delete src fs.img:/synced
ok "sync of the same tree again" "$R" sync -q src fs.img:/synced
ok "cp between two places of one image" "$R" cp fs.img:/bin/prog fs.img:/a/prog-copy
ok "check" "$R" check -q fs.img
ok "check --repair on a clean image changes nothing" "$R" check --repair -q fs.img
ok "manifest" sh -c "'$R' manifest fs.img >m.tsv && grep -q '^/bin/prog	file' m.tsv"
ok "manifest --json" sh -c "'$R' manifest --json fs.img | grep -q '\"path\":\"/bin/prog\"'"
ok "extract" sh -c "'$R' extract -q fs.img:/synced x && diff -r src x"
cp fs.img fs2.img
"$R" rm fs2.img:/a/w
ok "diff (exit 1: one difference)" sh -c "'$R' diff fs.img fs2.img >d.out; [ \$? -eq 1 ] && grep -q '/a/w' d.out"
ok "uuid --new" "$R" uuid --new fs2.img
ok "shell batch (one commit)" sh -c "printf 'mkdir /sh\ncd /sh\nput src/etc/hostname h\nstatus\n' | '$R' shell fs.img >sh.out && '$R' cat fs.img:/sh/h | grep -qx hello"

# An encrypted RedoxFS.
ok "mkfs --encrypt" env RXIMG_PASSWORD=pw "$R" mkfs -q -s 16M --encrypt --from src enc.img
ok "cat from the encrypted image" sh -c "RXIMG_PASSWORD=pw '$R' cat enc.img:/etc/hostname | grep -qx hello"
ok "put into the encrypted image" env RXIMG_PASSWORD=pw "$R" put src/bin/prog enc.img:/prog
ok "a wrong password is refused" fails_cleanly "password" env RXIMG_PASSWORD=wrong "$R" ls enc.img:/

# initfs archives: host file and inside the image.
cp "$ARC" arc.img
ok "initfs info" "$R" initfs info arc.img
ok "initfs ls -l" "$R" initfs ls -l arc.img:/etc
ok "initfs extract" "$R" initfs extract arc.img ax
ok "initfs repack (byte for byte)" sh -c "'$R' initfs repack ax -o arc2.img >/dev/null 2>&1 && cmp arc.img arc2.img"
ok "initfs put" "$R" initfs put arc.img src/etc/hostname:/etc/hostname
ok "initfs write" sh -c "echo w | '$R' initfs write arc.img:/etc/w"
ok "initfs rm" "$R" initfs rm arc.img /etc/w
ok "put the archive into the image" "$R" put arc.img fs.img:/boot/initfs -P
ok "write a member inside the image" sh -c "echo member | '$R' write fs.img:/boot/initfs:/etc/m"
ok "sync into the archive inside the image" "$R" sync -q src/etc fs.img:/boot/initfs:/etc
ok "cat a member inside the image" sh -c "'$R' cat fs.img:/boot/initfs:/etc/m | grep -qx member"

# qcow2: overlay, convert, commit, rebase.
ok "overlay" "$R" overlay fs.img ov.qcow2
ok "put into the overlay" "$R" put src/etc/hostname ov.qcow2:/in-overlay
ok "convert to qcow2" "$R" convert -q fs.img conv.qcow2
ok "convert back to raw" sh -c "'$R' convert -q conv.qcow2 back.img && cmp fs.img back.img"
cp fs.img base2.img
ok "rebase -u onto a copy of the base" "$R" rebase -u -b base2.img ov.qcow2
ok "commit the overlay into its base" "$R" commit ov.qcow2
ok "... the base has the file" sh -c "'$R' cat base2.img:/in-overlay | grep -qx hello"

# Whole disks: create, bootloader, the ESP.
$PY "$top_srcdir/tests/tools/mkpe.py" l1.efi --size 65536 --seed v1
$PY "$top_srcdir/tests/tools/mkpe.py" l2.efi --size 70000 --seed v2
ok "create" "$R" create -q disk.img --size 16M --bootloader l1.efi --from src
ok "create -O qcow2" "$R" create -q disk.qcow2 --size 16M --bootloader l1.efi --from src -O qcow2
ok "create --like" "$R" create -q --like disk.img like.img
ok "bootloader info --json" sh -c "'$R' bootloader info --json disk.img | grep -q 'BOOTAA64.EFI'"
ok "bootloader install" "$R" bootloader install disk.img l2.efi
ok "bootloader extract" sh -c "'$R' bootloader extract disk.img got.efi && cmp got.efi l2.efi"
ok "ls of the ESP" sh -c "'$R' ls disk.img:esp:/EFI/BOOT | grep -q BOOTAA64.EFI"
ok "put onto the ESP" "$R" put src/etc/hostname disk.img:esp:/hostname
ok "sync onto the ESP" "$R" sync -q src/bin disk.img:esp:/bin
ok "rm on the ESP" "$R" rm disk.img:esp:/hostname
ok "uuid --gpt" "$R" uuid --gpt disk.img
ok "info of the whole disk" sh -c "'$R' info disk.img | grep -q '^Partitions: gpt'"
ok "diff of two whole disks" sh -c "'$R' diff disk.img like.img >dd.out; [ \$? -le 1 ]"
ok "check of the whole disk" "$R" check -q disk.img

# manifest --json on bad input: a clear error and no JSON, or valid JSON of what is intact.
head -c 1000000 fs.img >trunc.img
ok "manifest --json of a truncated image fails cleanly" fails_cleanly "trunc.img" "$R" manifest --json trunc.img
ok "... and prints nothing on standard output" test ! -s "$WORK/.fc.out"
cp fs.img dmg.img
blk=$("$R" stat --json dmg.img:/etc/hostname | sed -n 's/.*"node_block":\([0-9]*\).*/\1/p')
off=$("$R" info --json dmg.img | sed -n 's/.*"redoxfs":{[^}]*"offset":"\{0,1\}\([0-9]*\).*/\1/p')
dd if=/dev/zero of=dmg.img bs=4096 seek=$(( ${off:-0} / 4096 + ${blk:-0} )) count=1 conv=notrunc status=none
"$R" manifest --json dmg.img >mj.out 2>mj.err
rc=$?
ok "manifest --json with a damaged file node: exit 1, the error names the file" \
	sh -c "[ $rc -eq 1 ] && grep -q '/etc/hostname' mj.err"
ok "... and what is intact is still valid JSON" $PY -c "
import json, sys
d = json.load(open('mj.out'))
paths = {e['path'] for e in d}
sys.exit(0 if '/bin/prog' in paths and '/etc' in paths else 1)"

done_testing
