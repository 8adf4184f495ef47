#!/bin/bash
# The tree verbs (extract, manifest, diff) on every place the resolver reaches:
# a directory inside an initfs archive inside a disk, a host archive, the ESP
# (as :esp and as :pN), through raw, qcow2-overlay and GPT containers; archives
# compared member by member; whole-disk diff (partition table, RedoxFS header,
# ESP, tree, archives); extraction never writes outside DESTDIR.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000
ARC=$(test_image initfs-bootstrap.img) || { echo "1..0 # SKIP no initfs test image"; exit 0; }
skip_unless mcopy qemu-img sgdisk
cd "$WORK" || exit 1

# A whole disk in the installer's layout (BIOS p1, ESP p2, RedoxFS p3) with /boot/initfs.
initfs_disk raw.img "$ARC" || { fail "rximg create"; done_testing; exit 1; }
"$R" mkdir -p raw.img:esp:/EFI/redox/deep
printf 'timeout 3\n' >startup.nsh
"$R" put startup.nsh raw.img:esp:/EFI/redox/deep/
# The same disk seen through a qcow2 overlay (made by qemu-img) and as a GPT partition named by number.
qemu-img create -q -f qcow2 -b raw.img -F raw ov.qcow2
"$R" initfs extract "$ARC" ref >/dev/null || fail "rximg initfs extract"

# Not following the list: nothing but what the test expects.
same_tree() {  # same_tree A B: the same files, links and contents
	diff -r --no-dereference "$1" "$2"
}

for D in raw.img ov.qcow2; do
	rm -rf x
	ok "$D: extract of a directory inside the archive inside the disk" \
		"$R" extract -q "$D:/boot/initfs:/etc" x
	ok "$D: ... equals what 'rximg initfs extract' gives" same_tree ref/etc x
	ok "$D: ... keeps the archive's modes" test "$(stat -c %a x/init.rc)" = "$(stat -c %a ref/etc/init.rc)"
	rm -rf x
	ok "$D: extract of the archive's root (ARCHIVE:)" "$R" extract -q "$D:/boot/initfs:" x
	ok "$D: ... equals the whole archive" same_tree ref x
	rm -rf x
	ok "$D: extract of the ESP (:esp)" "$R" extract -q "$D:esp:/EFI" x
	rm -rf m && mkdir m && qemu-img convert -O raw "$D" m/disk.raw
	mcopy -s -n -i m/disk.raw@@1M ::/EFI m/ >/dev/null 2>&1
	ok "$D: ... equals what mcopy -s copies" same_tree m/EFI x
	rm -rf x
	ok "$D: extract of the ESP named as :p2 (FAT by number)" "$R" extract -q "$D:p2:/EFI" x
	ok "$D: ... the same tree" same_tree m/EFI x
	"$R" manifest "$D:/boot/initfs:/etc" >man.tsv
	ok "$D: manifest of a member directory lists every member" sh -c "
		[ \$(tail -n +2 man.tsv | wc -l) = \$(find ref/etc | wc -l) ] && grep -q '^/etc/init.rc	file	0644	-	-	' man.tsv"
	ok "$D: ... and equals the extracted host tree (diff exit 0)" "$R" diff man.tsv ref/etc
	ok "$D: manifest of the ESP" sh -c "'$R' manifest '$D:esp:/' | grep -q '^/EFI/redox/deep/startup.nsh	file	'"
done
ok "a host archive: manifest equals its extracted tree" sh -c "'$R' manifest '$ARC' >h.tsv && '$R' diff h.tsv ref"
rm -rf x
ok "a host archive: extract initfs.img: equals 'rximg initfs extract'" sh -c "'$R' extract -q '$ARC:' x && diff -r --no-dereference ref x"

# A GPT disk made by sgdisk: RedoxFS in p2, FAT in p1 (not marked as an ESP).
truncate -s 80M gpt.img
sgdisk -o -n 1:2048:6143 -t 1:0700 -n 2:6144:0 -t 2:8300 gpt.img >/dev/null 2>&1
dd if=/dev/zero of=fat.part bs=512 count=4096 2>/dev/null
mkfs.fat -n DATA fat.part >/dev/null
mmd -i fat.part ::/docs
mcopy -i fat.part startup.nsh ::/docs/
dd if=fat.part of=gpt.img bs=512 seek=2048 conv=notrunc 2>/dev/null
"$R" mkfs -q gpt.img:p2 >/dev/null
"$R" mkdir gpt.img:p2:/boot
"$R" put "$ARC" gpt.img:p2:/boot/initfs
rm -rf x
ok "GPT: extract of an archive directory in p2" sh -c "'$R' extract -q gpt.img:p2:/boot/initfs:/etc x && diff -r ref/etc x"
ok "GPT: a FAT data partition opens by number (:p1)" sh -c "'$R' cat gpt.img:p1:/docs/startup.nsh | grep -qx 'timeout 3'"
rm -rf x
ok "GPT: extract of it" sh -c "'$R' extract -q gpt.img:p1:/ x && cmp x/docs/startup.nsh startup.nsh"
ok "GPT: put into the FAT partition by number, fsck.fat finds it clean" sh -c "
	'$R' put startup.nsh gpt.img:p1:/docs/new.nsh && '$R' cat gpt.img:p1:/docs/new.nsh | cmp - startup.nsh &&
	dd if=gpt.img of=p1.part bs=512 skip=2048 count=4096 2>/dev/null && fsck.fat -n p1.part"
truncate -s 90M other.img
sgdisk -o -n 1:2048:4095 -t 1:8300 other.img >/dev/null 2>&1
ok "a partition with neither RedoxFS nor FAT is named with what it is" \
	fails_cleanly 'other.img:p1: no RedoxFS header and no FAT file system \(a Linux filesystem partition' \
	"$R" ls other.img:p1:/

# ---- diff: archives member by member ----
cp --sparse=always raw.img b.img
printf 'echo changed\n' | "$R" write b.img:/boot/initfs:/etc/init.rc
"$R" rm b.img:/boot/initfs:/etc/init_drivers.rc
"$R" diff raw.img:/boot/initfs b.img:/boot/initfs >d.txt
rc=$?
ok "diff of two archives: exit 1" test $rc = 1
printf '~ /etc/init.rc\tsize,content\n- /etc/init_drivers.rc\n' >want
ok "diff of two archives: their members, one line each" diff -u want d.txt
ok "diff of an archive with itself: exit 0, nothing printed" sh -c "'$R' diff raw.img:/boot/initfs '$ARC' >o && test ! -s o"
ok "diff of an archive in a disk with a host archive" sh -c "'$R' diff '$ARC' b.img:/boot/initfs | cmp - d.txt"
ok "diff through a qcow2 overlay" sh -c "'$R' diff ov.qcow2:/boot/initfs b.img:/boot/initfs | cmp - want"

# ---- whole-disk diff ----
ok "whole disk: a disk and its qcow2 overlay are the same (exit 0)" sh -c "'$R' diff raw.img ov.qcow2 >o && test ! -s o"
"$R" diff raw.img b.img >w.txt
rc=$?
ok "whole disk: the archive's members after a member write" sh -c "test $rc = 1 &&
	grep -q '^~ /boot/initfs	.*content' w.txt && grep -qx '~ /boot/initfs:/etc/init.rc	size,content' w.txt &&
	grep -qx -- '- /boot/initfs:/etc/init_drivers.rc' w.txt"
cp --sparse=always raw.img c.img
"$R" uuid --new c.img >/dev/null
printf 'timeout 9\n' >startup.nsh
"$R" put startup.nsh c.img:esp:/EFI/redox/deep/
"$R" diff raw.img c.img >w.txt
rc=$?
printf '~ redoxfs\tuuid\n~ esp:/EFI/redox/deep/startup.nsh\tcontent\n' >want
ok "whole disk: after uuid --new and a file change in the ESP, exactly those" sh -c "test $rc = 1 && diff -u want w.txt"
cp --sparse=always raw.img g.img
sgdisk -G g.img >/dev/null 2>&1
sgdisk -c 3:OTHER g.img >/dev/null 2>&1
"$R" diff raw.img g.img >w.txt
printf '~ table\tguid\n~ p1\tguid\n~ p2\tguid\n~ p3\tguid,name\n' >want
ok "whole disk: new GPT GUIDs and a partition name" diff -u want w.txt
"$R" diff --json raw.img c.img >w.json
ok "whole disk: --json names the same differences" $PY - w.json <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
got = [(e["path"], e["change"], e.get("fields")) for e in j]
want = [("redoxfs", "changed", ["uuid"]), ("esp:/EFI/redox/deep/startup.nsh", "changed", ["content"])]
if got != want:
    print(got)
    sys.exit(1)
PYEOF
ok "whole disk: --ignore uuid,guid,name leaves only the ESP file" sh -c "
	'$R' diff -i uuid raw.img c.img | grep -vx '~ esp:/EFI/redox/deep/startup.nsh	content' | grep -q . && exit 1;
	'$R' diff -q -i guid,name raw.img g.img"

# ---- extraction never writes outside DESTDIR ----
mkdir -p outside
cp --sparse=always raw.img e.img
"$R" ln -s ../../../../../../../../outside/pwned e.img:/boot/initfs:/etc/escape
"$R" ln -s "$WORK/outside" e.img:/boot/initfs:/etc/abs
rm -rf x
ok "escape: links out of the archive are extracted as links" sh -c "
	'$R' extract -q e.img:/boot/initfs:/etc x && [ -L x/escape ] && [ -L x/abs ] && [ -z \"\$(ls -A outside)\" ]"
rm -rf x && mkdir -p x && ln -s "$WORK/outside" x/pcid.d
ok "escape: a host symlink in DESTDIR is never followed (refused without -f)" \
	fails_cleanly 'already exists' "$R" extract -q e.img:/boot/initfs:/etc x
ok "escape: with -f it is replaced by a directory; nothing lands outside" sh -c "
	'$R' extract -q -f e.img:/boot/initfs:/etc x && [ -d x/pcid.d ] && [ ! -L x/pcid.d ] && [ -z \"\$(ls -A outside)\" ]"
rm -rf x
ok "escape: '..' in the image path stays inside the image" sh -c "
	'$R' extract -q 'e.img:/boot/initfs:/etc/../..' x && [ -d x/etc ] && [ -z \"\$(ls -A outside)\" ] && [ ! -e etc ]"
rm -rf x && mkdir x
ok "escape: a file named through a link is written under its own name, inside" sh -c "
	'$R' extract -q e.img:/boot/initfs:/lib/rel_link x && [ -f x/rel_link ] && [ ! -L x/rel_link ] &&
	cmp x/rel_link ref/etc/init.rc && [ -z \"\$(ls -A outside)\" ] && [ ! -e init.rc ]"
ok "escape: '..' in an ESP path is refused by name" fails_cleanly "not allowed in FAT paths" \
	"$R" extract -q 'raw.img:esp:/EFI/../..' x2

# ---- damage: reported per path, the rest goes on, exit non-zero ----
cp --sparse=always raw.img dmg.img
"$R" put "$WORK/.initfs-disk.efi" dmg.img:/boot/initfs2
printf 'RedoxFtw' | dd of=dmg.part bs=1 2>/dev/null
head -c 200 /dev/urandom >>dmg.part
"$R" put dmg.part dmg.img:/boot/bad.initfs
cp --sparse=always dmg.img dmg2.img
printf 'x' | "$R" write dmg2.img:/boot/bad.initfs
"$R" diff dmg.img raw.img >/dev/null 2>err
ok "diff: a file that is no archive is compared as a file" sh -c "test \$? != 2 || { cat err; exit 1; }"
"$R" diff raw.img:/boot/bad.initfs dmg.img:/boot/bad.initfs >/dev/null 2>err
rc=$?
ok "diff: a broken archive named as a side is trouble (exit 2, named)" sh -c "test $rc = 2 && grep -q 'bad.initfs' err"

done_testing
