#!/bin/sh
# rximg uuid --gpt: new GUIDs for a disk's GPT.
#  1. raw disk: sgdisk -v is clean after; the disk GUID and every partition GUID changed
#     and are all distinct; types, ranges, names unchanged; nothing outside the two GPT
#     copies changed (the MBR, the ESP and the RedoxFS are untouched); output = table;
#  2. --gpt --new: the RedoxFS UUID too, in one command; the filesystem checks clean;
#  3. refusals, nothing written: no GPT, a partition named, --json;
#  4. qcow2: the golden qcow2 disk and an overlay (its backing file untouched);
#  5. one damaged copy (primary or backup): the table is rebuilt from the sound one;
#  6. fault injection at every write and flush (I/O errors and power cuts): the table
#     read afterwards is all old or all new; a second run brings both copies in line.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
HAVE_SGDISK=1
command -v sgdisk >/dev/null 2>&1 || HAVE_SGDISK=0

DISK=$(copy_image wholedisk-gpt.img) || { fail "wholedisk-gpt.img missing"; done_testing; exit; }
ORIG=$WORK/orig.img
cp --sparse=always "$DISK" "$ORIG"

# table IMAGE: the partition table as rximg reads it, one line per field, to compare.
table() { "$R" info --json "$1" | $PY -c '
import json, sys
t = json.load(sys.stdin)["partition_table"]
print("id", t["id"])
for p in t["partitions"]:
    print(p["number"], p["type"], p["start"], p["size"], p["name"], p["uuid"])'
}
# layout TABLE-FILE: the table without its GUIDs.
layout() { awk '$1 != "id" { $NF = ""; print }' "$1"; }
# guids TABLE-FILE: the disk GUID and the partition GUIDs, one a line.
guids() { awk '{ print $NF }' "$1"; }

# changed_table OLD NEW: all GUIDs differ from the old ones and from each other; the rest is the same.
changed_table() {
	table "$1" >"$WORK/t.a" && table "$2" >"$WORK/t.b" || return 1
	[ "$(layout "$WORK/t.a")" = "$(layout "$WORK/t.b")" ] || { echo "layout differs"; cat "$WORK/t.a" "$WORK/t.b"; return 1; }
	guids "$WORK/t.a" >"$WORK/g.old"
	guids "$WORK/t.b" >"$WORK/g.new"
	[ "$(sort -u "$WORK/g.new" | wc -l)" -eq "$(wc -l <"$WORK/g.new")" ] || { echo "GUIDs repeat"; return 1; }
	if [ -n "$(sort "$WORK/g.old" "$WORK/g.new" | uniq -d)" ]; then echo "a GUID kept"; paste "$WORK/g.old" "$WORK/g.new"; return 1; fi
}

# same_outside_gpt A B: the images differ only in LBA 1-33 and the last 33 sectors.
same_outside_gpt() {
	local n
	n=$(stat -c %s "$1")
	[ "$n" = "$(stat -c %s "$2")" ] || { echo "sizes differ"; return 1; }
	cmp -n 512 "$1" "$2" && cmp -i $((34 * 512)) -n $((n - 67 * 512)) "$1" "$2"
}

sgdisk_clean() {
	[ $HAVE_SGDISK = 1 ] || return 0
	sgdisk -v "$1" >"$WORK/sg.out" 2>&1 && grep -q 'No problems found' "$WORK/sg.out" || { cat "$WORK/sg.out"; return 1; }
}

# ---- 1. a raw disk --------------------------------------------------------------------
FSUUID=$("$R" uuid "$DISK")
ok "uuid --gpt on a raw disk" sh -c "'$R' uuid --gpt '$DISK' >'$WORK/out'"
if [ $HAVE_SGDISK = 1 ]; then
	ok "sgdisk -v finds no problems" sgdisk_clean "$DISK"
else
	skip "sgdisk -v finds no problems" "sgdisk is not installed (Debian package gdisk)"
fi
ok "every GUID is new and distinct; types, ranges and names are kept" changed_table "$ORIG" "$DISK"
ok "nothing outside the two GPT copies changed (MBR, ESP, RedoxFS)" same_outside_gpt "$ORIG" "$DISK"
ok "the RedoxFS UUID is unchanged" test "$("$R" uuid "$DISK")" = "$FSUUID"
ok "the output is the new table" sh -c "table() { '$R' info --json \"\$1\" | $PY -c '
import json, sys
t = json.load(sys.stdin)[\"partition_table\"]
print(\"disk\", t[\"id\"])
for p in t[\"partitions\"]: print(\"p%d\" % p[\"number\"], p[\"uuid\"])'; }; table '$DISK' | cmp - '$WORK/out'"
if [ $HAVE_SGDISK = 1 ]; then
	ok "sgdisk reads the same disk GUID" sh -c "sgdisk -p '$DISK' | grep -qi \"Disk identifier (GUID): \$(head -1 '$WORK/out' | cut -d' ' -f2)\""
fi
ok "the golden checks still pass: rximg check" "$R" check -q "$DISK"

# ---- 2. with --new: the RedoxFS UUID as well -------------------------------------------
cp --sparse=always "$DISK" "$WORK/before2.img"
ok "uuid --gpt --new" sh -c "'$R' uuid --gpt --new '$DISK' >'$WORK/out2'"
ok "--gpt --new: the table got new GUIDs" changed_table "$WORK/before2.img" "$DISK"
ok "--gpt --new: the RedoxFS UUID changed and is printed" sh -c \
	"u=\$('$R' uuid '$DISK'); [ \"\$u\" != '$FSUUID' ] && grep -qx \"redoxfs \$u\" '$WORK/out2'"
ok "--gpt --new: the filesystem checks clean" "$R" check -q "$DISK"
ok "--gpt --new: sgdisk -v finds no problems" sgdisk_clean "$DISK"
ok "--gpt with a UUID sets that UUID" sh -c "'$R' uuid --gpt '$DISK' 0123456789abcdef0123456789abcdef >/dev/null &&
	test \"\$('$R' uuid '$DISK')\" = 01234567-89ab-cdef-0123-456789abcdef"

# ---- 3. refusals -----------------------------------------------------------------------
FS=$(copy_image small-medium.img) || fail "small-medium.img missing"
before=$(sha256sum <"$FS")
ok "a disk without a GPT is refused" fails_cleanly "no GPT.*nothing written" "$R" uuid --gpt "$FS"
ok "with --new as well: refused before the filesystem changes" fails_cleanly "no GPT.*nothing written" \
	"$R" uuid --gpt --new "$FS"
ok "the refused image is unchanged" test "$(sha256sum <"$FS")" = "$before"
ok "a partition named with --gpt alone is a usage error" sh -c "'$R' uuid --gpt '$DISK:p3' 2>&1; test \$? -eq 2"
ok "--gpt --json is a usage error" sh -c "'$R' uuid --gpt --json '$DISK' 2>&1; test \$? -eq 2"

# ---- 4. qcow2 --------------------------------------------------------------------------
if QD=$(copy_image wholedisk-gpt.qcow2); then
	cp "$QD" "$WORK/qorig.qcow2"
	ok "uuid --gpt on a qcow2 disk" sh -c "'$R' uuid --gpt '$QD' >/dev/null"
	ok "qcow2: every GUID is new and distinct; the rest is kept" changed_table "$WORK/qorig.qcow2" "$QD"
	if command -v qemu-img >/dev/null 2>&1; then
		ok "qcow2: qemu-img check is clean" qemu-img check -q "$QD"
		qemu-img convert -O raw "$QD" "$WORK/q.raw" && qemu-img convert -O raw "$WORK/qorig.qcow2" "$WORK/qorig.raw"
		ok "qcow2: sgdisk -v of its contents finds no problems" sgdisk_clean "$WORK/q.raw"
		ok "qcow2: nothing outside the GPT copies changed" same_outside_gpt "$WORK/qorig.raw" "$WORK/q.raw"
	fi
else
	fail "wholedisk-gpt.qcow2 missing"
fi
cp --sparse=always "$ORIG" "$WORK/base.img"
"$R" overlay "$WORK/base.img" "$WORK/ov.qcow2" >/dev/null || fail "make an overlay"
ok "uuid --gpt on an overlay" sh -c "'$R' uuid --gpt '$WORK/ov.qcow2' >/dev/null"
ok "overlay: the table seen through it is new" changed_table "$WORK/base.img" "$WORK/ov.qcow2"
ok "overlay: its backing file is untouched" cmp "$ORIG" "$WORK/base.img"

# ---- 5. one damaged copy ---------------------------------------------------------------
SIZE=$(stat -c %s "$ORIG")
for which in backup primary; do
	cp --sparse=always "$ORIG" "$WORK/dmg.img"
	if [ $which = primary ]; then off=$((512 + 100)); else off=$((SIZE - 512 + 100)); fi
	printf 'X' | dd of="$WORK/dmg.img" bs=1 seek=$off conv=notrunc 2>/dev/null	# in the header's reserved bytes: its CRC fails
	ok "damaged $which copy: uuid --gpt rebuilds both" sh -c "'$R' uuid --gpt '$WORK/dmg.img' >/dev/null"
	ok "damaged $which copy: sgdisk -v is clean after" sgdisk_clean "$WORK/dmg.img"
	ok "damaged $which copy: every GUID is new; the rest is kept" changed_table "$ORIG" "$WORK/dmg.img"
done

# ---- 6. faults: the old table or the new one -------------------------------------------
# old_or_new IMAGE: the table rximg (and so any GPT reader: primary, else backup) reads is
# the old one exactly, or the old one with every GUID new; outside the GPT nothing changed.
table "$ORIG" >"$WORK/t.orig"
old_or_new() {
	same_outside_gpt "$ORIG" "$1" || return 1
	table "$1" >"$WORK/t.now"
	if cmp -s "$WORK/t.now" "$WORK/t.orig"; then echo old; return 0; fi
	changed_table "$ORIG" "$1" >/dev/null && echo new && return 0
	echo "a mix:"; cat "$WORK/t.now"; return 1
}

sweep() {  # sweep NAME IMAGE-FILE: every fault point of uuid --gpt on a copy of the original
	local name=$1 img=$2 counts writes flushes spec bad=0 n=0 olds=0 news=0 state
	cp --sparse=always "$ORIG" "$img"
	counts=$(RXIMG_FAULT=count "$R" uuid --gpt "$img" 2>&1 >/dev/null | tail -1)
	writes=$(echo "$counts" | sed -n 's/.*writes=\([0-9]*\).*/\1/p')
	flushes=$(echo "$counts" | sed -n 's/.*flushes=\([0-9]*\).*/\1/p')
	[ -n "$writes" ] && [ "$writes" -ge 4 ] || { fail "$name: counting the writes ($counts)"; return; }
	for spec in $(awk -v w="$writes" -v f="$flushes" 'BEGIN {
		for (k = 1; k <= w; k++) { print "write:" k ":eio"; print "write:" k ":short"; for (s = 1; s <= 3; s++) print "cut:" k ":seed=" s }
		for (k = 1; k <= f; k++) { print "flush:" k ":eio"; print "flush:" k ":fail" } }'); do
		n=$((n + 1))
		cp --sparse=always "$ORIG" "$img"
		if RXIMG_FAULT=$spec "$R" uuid --gpt "$img" >/dev/null 2>"$WORK/f.err"; then
			echo "# $name: $spec: no failure reported"; bad=1; continue
		fi
		[ "$(grep -c . "$WORK/f.err")" -eq 1 ] && grep -q '^rximg: ' "$WORK/f.err" ||
			{ echo "# $name: $spec: not one rximg: line"; sed 's/^/#   /' "$WORK/f.err"; bad=1; }
		if ! state=$(old_or_new "$img"); then
			echo "# $name: $spec: $state" | head -8; bad=1; continue
		fi
		case $state in old) olds=$((olds + 1)) ;; new) news=$((news + 1)) ;; esac
		# A second run repairs whatever copy the fault left stale or torn.
		if ! "$R" uuid --gpt "$img" >/dev/null 2>"$WORK/f.err" || ! sgdisk_clean "$img" >/dev/null ||
		   ! changed_table "$ORIG" "$img" >/dev/null; then
			echo "# $name: $spec: the second run did not leave a clean table"; sed 's/^/#   /' "$WORK/f.err"; bad=1
		fi
	done
	if [ $bad = 0 ]; then
		pass "$name: $n fault points ($counts): the old table $olds times, the new one $news times, never a mix"
	else
		fail "$name: fault injection"
	fi
}
sweep "faults on a raw disk" "$WORK/fault.img"

done_testing
