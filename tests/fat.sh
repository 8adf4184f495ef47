#!/bin/sh
# The FAT library (disk/fat) against its peers, through tests/tools/fattool:
# volumes made by mkfs.fat and filled by mtools are read back byte for byte;
# what we write is read back by mtools and checked by fsck.fat -n; our mkfs is
# accepted by both; hostile volumes give one clear error and are never
# written; a write cut off at each of its writes leaves the old or the new
# file and nothing fsck.fat calls worse than lost clusters.
. "$top_srcdir/tests/lib.sh"

FT="$top_builddir/tests/tools/fattool"
for t in mkfs.fat fsck.fat mcopy mmd mdir mtype; do
	if ! command -v $t >/dev/null 2>&1; then
		skip "FAT interop" "$t not installed (dosfstools, mtools)"
		done_testing
		exit
	fi
done
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 FATTOOL_TIME=1700000000
PY=${PYTHON3:-python3}

# ---- a source tree with what an ESP and its neighbours hold ----
SRC="$WORK/src"
mkdir -p "$SRC/EFI/BOOT" "$SRC/deep/a/b/c" "$SRC/many"
head -c 174080 /dev/urandom >"$SRC/EFI/BOOT/BOOTAA64.EFI"	# 170 KiB
: >"$SRC/empty.txt"
echo "timeout 3" >"$SRC/startup.nsh"
head -c 5000 /dev/urandom >"$SRC/A Long File Name With Spaces.efi"
echo "unicode" >"$SRC/Grüße €.txt"
head -c 70000 /dev/urandom >"$SRC/deep/a/b/c/nested.bin"
i=0
while [ $i -lt 150 ]; do	# 150 long names: many clusters of directory
	echo "file $i" >"$SRC/many/a file with a long name $i.txt"
	i=$((i + 1))
done

# The tree as fattool prints it ("d /path", "f SIZE /path"), from the host side.
expected_tree() {
	(cd "$1" && find . -mindepth 1 | sed 's|^\.||' | while IFS= read -r p; do
		if [ -d "$1$p" ]; then echo "d $p"; else echo "f $(wc -c <"$1$p") $p"; fi
	done) | sort
}

# every_file_matches IMAGE HOSTDIR [fattool options]: cat each file through us, compare
every_file_matches() {
	img=$1 dir=$2
	shift 2
	(cd "$dir" && find . -type f | sed 's|^\.||') | while IFS= read -r p; do
		"$FT" "$@" "$img" cat "$p" >"$WORK/got" || { echo "cat $p failed"; return 1; }
		cmp "$WORK/got" "$dir$p" || return 1
	done
}

fsck_clean() {
	fsck.fat -n "$1" >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	! grep -q -i -E 'differ|lost|reclaim|wrong|bad|invalid' "$WORK/fsck.out" || { cat "$WORK/fsck.out"; return 1; }
}

tree_is() {  # tree_is IMAGE EXPECTED_FILE
	"$FT" "$1" tree | sort >"$WORK/tree" && diff "$2" "$WORK/tree"
}

expected_tree "$SRC" >"$WORK/src.tree"

for spec in "12 8M" "16 32M" "32 64M" "16 64M -S 4096"; do
	set -- $spec
	type=$1 size=$2
	shift 2
	name="FAT$type${1:+ $1 $2}"
	img="$WORK/m$type.img"
	rm -f "$img"
	truncate -s "$size" "$img"
	mkfs.fat -F "$type" "$@" "$img" >/dev/null
	mcopy -s -i "$img" "$SRC"/* ::/ || fail "$name: mcopy fills the image"
	ok "$name (mkfs.fat + mtools): our tree listing matches the source" tree_is "$img" "$WORK/src.tree"
	ok "$name: every file reads back byte for byte" every_file_matches "$img" "$SRC"
	ok "$name: info names the type" sh -c "'$FT' '$img' info | grep -qx 'type FAT$type'"

	# Our writes, read by mtools and checked by fsck.fat.
	head -c 100000 /dev/urandom >"$WORK/new.bin"
	ok "$name: replace the 170 KiB file" "$FT" "$img" put "$WORK/new.bin" /EFI/BOOT/BOOTAA64.EFI
	ok "$name: new long-named file" "$FT" "$img" put "$SRC/EFI/BOOT/BOOTAA64.EFI" "/EFI/BOOT/Another Loader.efi"
	ok "$name: empty file" "$FT" "$img" put "$SRC/empty.txt" /EFI/empty2
	ok "$name: mkdir" "$FT" "$img" mkdir /EFI/Redox
	ok "$name: move a file into it" "$FT" "$img" mv /startup.nsh /EFI/Redox/startup.nsh
	ok "$name: move a directory" "$FT" "$img" mv /deep/a /EFI/Redox/a
	ok "$name: rename in place" "$FT" "$img" mv "/EFI/BOOT/Another Loader.efi" /EFI/BOOT/loader2.efi
	ok "$name: rm a file" "$FT" "$img" rm "/many/a file with a long name 7.txt"
	ok "$name: rm an empty directory" sh -c "'$FT' '$img' rm /deep/a/b/c/nested.bin 2>&1 | grep -q 'no such' &&
		'$FT' '$img' rm /EFI/Redox/a/b/c/nested.bin && '$FT' '$img' rm /EFI/Redox/a/b/c"
	ok "$name: 60 more files into a directory" sh -c "i=0; while [ \$i -lt 60 ]; do
		'$FT' '$img' put '$SRC/startup.nsh' \"/many/another long file name \$i.cfg\" || exit 1; i=\$((i+1)); done"
	ok "$name: fsck.fat -n finds nothing" fsck_clean "$img"
	ok "$name: mtools reads the replaced file" sh -c "mtype -i '$img' ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$WORK/new.bin'"
	ok "$name: mtools reads the renamed file" sh -c "mtype -i '$img' ::/EFI/BOOT/loader2.efi | cmp - '$SRC/EFI/BOOT/BOOTAA64.EFI'"
	ok "$name: mtools reads the moved file" sh -c "mtype -i '$img' ::/EFI/Redox/startup.nsh | cmp - '$SRC/startup.nsh'"
	ok "$name: mtools lists long names" sh -c "mdir -i '$img' ::/many | grep -q 'another long file name 59.cfg' &&
		! mdir -i '$img' ::/many | grep -q 'long name 7.txt' && mdir -i '$img' ::/EFI/Redox/a | grep -q '^b '"
	ok "$name: mtools sees an empty directory where we removed its content" sh -c "mdir -i '$img' ::/EFI/Redox/a/b | grep -q '2 files'"
done

# ---- our mkfs ----
for spec in "1M 12 2003 6" "3M 12" "16M 16" "200M 16" "600M 32"; do
	set -- $spec
	img="$WORK/ours.img"
	rm -f "$img"
	truncate -s "$1" "$img"
	ok "mkfs $1: fsck.fat -n clean" sh -c "'$FT' '$img' mkfs && fsck.fat -n '$img' >/dev/null"
	ok "mkfs $1: FAT$2${3:+, $3 clusters, $4 sectors per FAT}" sh -c "'$FT' '$img' info >'$WORK/info' &&
		grep -qx 'type FAT$2' '$WORK/info' && { [ -z '$3' ] || grep -qx 'clusters $3' '$WORK/info'; } &&
		{ [ -z '$4' ] || grep -qx 'sectors_per_fat $4' '$WORK/info'; }"
	ok "mkfs $1: mtools writes into it, we read it back" sh -c "mmd -i '$img' ::/EFI && mcopy -i '$img' '$SRC/EFI/BOOT/BOOTAA64.EFI' ::/EFI/x.efi &&
		'$FT' '$img' cat /EFI/x.efi | cmp - '$SRC/EFI/BOOT/BOOTAA64.EFI'"
done
rm -f "$WORK/r1.img" "$WORK/r2.img"
truncate -s 1M "$WORK/r1.img"
truncate -s 1M "$WORK/r2.img"
ok "mkfs is reproducible (same volume id, label and time: same bytes)" sh -c "
	'$FT' '$WORK/r1.img' mkfs -n REDOX -i 1234ABCD -t 1700000000 && '$FT' '$WORK/r2.img' mkfs -n REDOX -i 1234ABCD -t 1700000000 &&
	cmp '$WORK/r1.img' '$WORK/r2.img' && mdir -i '$WORK/r1.img' ::/ | grep -q 'Volume in drive : is REDOX' &&
	mdir -i '$WORK/r1.img' ::/ | grep -q '1234-ABCD'"
ok "mkfs refuses a volume too small for any FAT" sh -c "truncate -s 4K '$WORK/tiny.img' && ! '$FT' '$WORK/tiny.img' mkfs 2>'$WORK/err' && grep -q 'no FAT' '$WORK/err'"

# ---- hostile volumes: a clear error, no write ----
HB="$WORK/hostile-base.img"
truncate -s 1M "$HB"
mkfs.fat -F 12 -s 1 "$HB" >/dev/null
mcopy -i "$HB" "$SRC/EFI/BOOT/BOOTAA64.EFI" ::/BIG.EFI	# 8.3: a short entry only, first in the root, from cluster 2
mcopy -i "$HB" "$SRC/startup.nsh" ::/Mixed-Case-Name.txt	# a long-name entry in front

# patch IMAGE WHAT: damage a copy of the base volume in one way
patch() {
	"$PY" - "$1" "$2" <<'EOF'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
b = bytearray(f.read(512))
bps, spc, res, nfats, rootent = struct.unpack_from('<HBHBH', b, 11)
fatsz = struct.unpack_from('<H', b, 22)[0]
root = (res + nfats * fatsz) * bps
def fat12_set(c, v):
    for i in range(nfats):
        off = (res + i * fatsz) * bps + c + c // 2
        f.seek(off); w = struct.unpack('<H', f.read(2))[0]
        w = (w & 0x000F) | (v << 4) if c & 1 else (w & 0xF000) | v
        f.seek(off); f.write(struct.pack('<H', w))
def entry(slot, data, at=0):
    f.seek(root + 32 * slot + at); f.write(data)
if what == 'spc0': b[13] = 0
elif what == 'bps500': struct.pack_into('<H', b, 11, 500)
elif what == 'nosig': b[510] = 0
elif what == 'rootent0': struct.pack_into('<H', b, 17, 0)
elif what == 'fatsz0': struct.pack_into('<H', b, 22, 0)
elif what == 'loop': fat12_set(3, 2)
elif what == 'range': fat12_set(2, 0xF00)
elif what == 'free': fat12_set(3, 0)
elif what == 'slash': entry(0, b'/')
elif what == 'dotdot': entry(0, b'..         ')
elif what == 'dot': entry(0, b'.          ')
elif what == 'lfnslash':
    f.seek(root); d = f.read(32 * 16)
    for s in range(16):
        if d[32 * s + 11] == 0x0F and d[32 * s] & 0x40:
            entry(s, b'/\x00', 1)
            break
if what in ('spc0', 'bps500', 'nosig', 'rootent0', 'fatsz0'):
    f.seek(0); f.write(b)
EOF
}

hostile() {  # hostile CASE REGEX [PATH]: every command fails cleanly and the image is unchanged
	case_=$1 re=$2 path=${3:-/BIG.EFI}
	img="$WORK/h-$case_.img"
	cp "$HB" "$img"
	if [ "$case_" = truncated ]; then truncate -s 600K "$img"; else patch "$img" "$case_"; fi
	sum=$(sha256sum <"$img")
	bad=0
	# A listing may work around damage in one file; nothing may be written to a damaged volume.
	for cmd in "tree" "cat $path" "put $SRC/startup.nsh $path" "rm $path" "mkdir /NEW" "mv $path /moved"; do
		# shellcheck disable=SC2086
		"$FT" "$img" $cmd >/dev/null 2>"$WORK/err"
		rc=$?
		if [ $rc -eq 0 ] && [ "${cmd%% *}" != tree ]; then
			echo "$cmd: unexpected success"; bad=1
		fi
		if [ $rc -ge 124 ] || grep -q -E 'Sanitizer|runtime error' "$WORK/err"; then
			echo "$cmd: crashed ($rc)"; cat "$WORK/err"; bad=1
		fi
		if [ $rc -ne 0 ] && ! grep -q -E "^fattool: .*($re)" "$WORK/err"; then
			echo "$cmd: error does not match /$re/:"; cat "$WORK/err"; bad=1
		fi
	done
	[ "$(sha256sum <"$img")" = "$sum" ] || { echo "the image changed"; bad=1; }
	return $bad
}

# Layout damage: nothing at all opens, not even a listing.
hostile_all() {
	hostile "$@" || return 1
	! "$FT" "$WORK/h-$1.img" tree >/dev/null 2>&1
}
ok "hostile: sectors per cluster 0" hostile_all spc0 'sectors per cluster 0'
ok "hostile: 500 bytes per sector" hostile_all bps500 'bytes per sector 500'
ok "hostile: no boot signature" hostile_all nosig 'not a FAT file system'
ok "hostile: FAT12 without root entries" hostile_all rootent0 'FAT32 layout|root'
ok "hostile: truncated image" hostile_all truncated 'truncated'
ok "hostile: cluster chain loop" hostile loop 'loops|chain'
ok "hostile: cluster number out of range" hostile range 'outside the volume'
ok "hostile: chain into a free cluster" hostile free 'free cluster'
ok "hostile: short name with /" hostile_all slash 'refused'
ok "hostile: short name .." hostile_all dotdot 'refused'
ok "hostile: short name . outside its place" hostile_all dot 'refused'
ok "hostile: long name with /" hostile_all lfnslash 'refused' /Mixed-Case-Name.txt
rm -f "$WORK/f32small.img"
truncate -s 1M "$WORK/f32small.img"
mkfs.fat -F 32 "$WORK/f32small.img" >/dev/null 2>&1
ok "hostile: mkfs.fat -F 32 on 1 MiB (too few clusters for FAT32) is refused" sh -c "
	! '$FT' '$WORK/f32small.img' tree 2>'$WORK/err' && grep -q 'FAT32 layout but .* clusters make it FAT12' '$WORK/err'"

# ---- the real ESP of the golden whole-disk image (read where it lies) ----
if gimg=$(test_image wholedisk-gpt.img); then
	ESP="-o 1048576 -l 1048576"
	# shellcheck disable=SC2086
	ok "golden ESP: FAT12 with EFI/BOOT/BOOTAA64.EFI of 167936 bytes" sh -c "'$FT' $ESP '$gimg' info | grep -qx 'type FAT12' &&
		'$FT' $ESP '$gimg' tree | grep -qx 'f 167936 /EFI/BOOT/BOOTAA64.EFI'"
	# shellcheck disable=SC2086
	sum=$("$FT" $ESP "$gimg" cat /EFI/BOOT/BOOTAA64.EFI | sha256sum | cut -d' ' -f1)
	case $sum in
	f2b10f3d*0d33) pass "golden ESP: BOOTAA64.EFI has the expected SHA-256" ;;
	*) fail "golden ESP: BOOTAA64.EFI has the expected SHA-256 (got $sum)" ;;
	esac
	cp --sparse=always "$gimg" "$WORK/gold.img"
	# shellcheck disable=SC2086
	ok "golden ESP: replace the loader in place, fsck.fat -n on the partition is clean" sh -c "
		'$FT' $ESP '$WORK/gold.img' put '$SRC/EFI/BOOT/BOOTAA64.EFI' /EFI/BOOT/BOOTAA64.EFI &&
		dd if='$WORK/gold.img' of='$WORK/esp.img' bs=1M skip=1 count=1 status=none &&
		fsck.fat -n '$WORK/esp.img' >/dev/null && mtype -i '$WORK/esp.img' ::/EFI/BOOT/BOOTAA64.EFI | cmp - '$SRC/EFI/BOOT/BOOTAA64.EFI' &&
		cmp -n 1048576 '$gimg' '$WORK/gold.img' && cmp -i 2097152 '$gimg' '$WORK/gold.img'"
else
	skip "golden ESP" "wholedisk-gpt.img not available"
fi

# ---- crash safety: cut each write off in turn ----
# fsck.fat -n may report only lost clusters, that the FATs differ, and an unset free count.
fsck_tolerable() {
	fsck.fat -n "$1" >"$WORK/fsck.out" 2>&1
	rc=$?
	[ $rc -le 1 ] || return 1
	! sed '1d' "$WORK/fsck.out" | grep -v -E "^$1: [0-9]+ files|FATs differ but appear to be intact|Using first FAT|Reclaimed [0-9]+ unused clusters?|Free cluster summary|Leaving filesystem unchanged|^ *$" | grep -q .
}

# sweep NAME BASE CHECK COMMAND...: run COMMAND against a copy of BASE cut off at write k = 1, 2, ...;
# every result must pass fsck_tolerable and CHECK (a shell snippet given $IMG).
sweep() {
	name=$1 base=$2 check=$3
	shift 3
	k=1 n=0 bad=0
	while [ $k -lt 500 ]; do
		cp "$base" "$WORK/c.img"
		FATTOOL_FAULT_AFTER=$k "$FT" "$WORK/c.img" "$@" >"$WORK/c.out" 2>&1
		rc=$?
		if [ $rc -ne 99 ]; then
			[ $rc -eq 0 ] || { bad=1; echo "# $name: k=$k exited $rc"; cat "$WORK/c.out"; }
			break
		fi
		n=$((n + 1))
		if ! fsck_tolerable "$WORK/c.img"; then
			bad=1
			echo "# $name: cut at write $k: fsck.fat reports more than lost clusters"
			sed 's/^/#   /' "$WORK/fsck.out" | head -8
			break
		fi
		if ! IMG="$WORK/c.img" sh -c "$check" >"$WORK/check.out" 2>&1; then
			bad=1
			echo "# $name: cut at write $k: neither the old nor the new state"
			sed 's/^/#   /' "$WORK/check.out" | head -5
			break
		fi
		k=$((k + 1))
	done
	if [ $bad -eq 0 ] && [ $n -gt 0 ] && fsck_clean "$WORK/c.img" && IMG="$WORK/c.img" sh -c "$check"; then
		pass "crash: $name: $n cut points, each leaves the old or the new state"
	else
		fail "crash: $name ($n cut points)"
	fi
}

export FT SRC WORK
OLD="$SRC/EFI/BOOT/BOOTAA64.EFI"
head -c 100000 /dev/urandom >"$WORK/new.bin"
is_old_or_new='"$FT" "$IMG" cat /EFI/BOOT/BOOTAA64.EFI >"$WORK/v" && { cmp -s "$WORK/v" "'"$OLD"'" || cmp -s "$WORK/v" "$WORK/new.bin"; }'
for spec in "12 8M" "32 40M -s 1"; do
	set -- $spec
	base="$WORK/crash$1.img"
	rm -f "$base"
	truncate -s "$2" "$base"
	mkfs.fat -F "$1" ${3:+$3 $4} "$base" >/dev/null
	mmd -i "$base" ::/EFI ::/EFI/BOOT
	mcopy -i "$base" "$OLD" ::/EFI/BOOT/BOOTAA64.EFI
	mcopy -i "$base" "$SRC/startup.nsh" "::/EFI/BOOT/a long config name.cfg"
	sweep "FAT$1 replace a 170 KiB file" "$base" "$is_old_or_new" put "$WORK/new.bin" /EFI/BOOT/BOOTAA64.EFI
	FATTOOL_FAULT_TORN=1 sweep "FAT$1 replace, the cut write half done" "$base" "$is_old_or_new" \
		put "$WORK/new.bin" /EFI/BOOT/BOOTAA64.EFI
	sweep "FAT$1 create a long-named file" "$base" \
		'! "$FT" "$IMG" cat "/EFI/BOOT/A new loader.efi" >"$WORK/v" 2>/dev/null || cmp -s "$WORK/v" "$WORK/new.bin"' \
		put "$WORK/new.bin" "/EFI/BOOT/A new loader.efi"
	sweep "FAT$1 remove the 170 KiB file" "$base" \
		'! "$FT" "$IMG" cat /EFI/BOOT/BOOTAA64.EFI >"$WORK/v" 2>/dev/null || cmp -s "$WORK/v" "'"$OLD"'"' \
		rm /EFI/BOOT/BOOTAA64.EFI
	sweep "FAT$1 mkdir" "$base" '"$FT" "$IMG" tree >/dev/null' mkdir /EFI/Redox
	sweep "FAT$1 rename in the same directory" "$base" \
		'a=0; b=0; "$FT" "$IMG" cat /EFI/BOOT/BOOTAA64.EFI >"$WORK/v" 2>/dev/null && cmp -s "$WORK/v" "'"$OLD"'" && a=1
		 "$FT" "$IMG" cat /EFI/BOOT/old-loader.efi >"$WORK/v" 2>/dev/null && cmp -s "$WORK/v" "'"$OLD"'" && b=1
		 [ $((a + b)) -eq 1 ]' \
		mv /EFI/BOOT/BOOTAA64.EFI /EFI/BOOT/old-loader.efi
done

done_testing
