#!/bin/sh
# Fault injection (qcow/faultdev.c): every writer is run once counting its reads,
# writes and flushes, then again with a fault at each point k (an even, fixed
# sample when there are too many): EIO, ENOSPC, a short transfer, a device that
# is gone, or a power cut that keeps a seeded choice of the unflushed writes.
# After each run: a fault that fired gives a non-zero exit and one "rximg: ..."
# line; the image checks clean (qemu-img check: no errors, leaks allowed), and
# holds exactly the old or the new content; a new file is complete or absent.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
LOG=$WORK/fault.log
# Reproducible output: an uninterrupted run gives the same bytes every time.
export SOURCE_DATE_EPOCH=1700000000
unset RXIMG_FAULT RXIMG_FAULT_LOG RXIMG_CRASH_AFTER
HAVE_QEMU=1
command -v qemu-img >/dev/null 2>&1 || HAVE_QEMU=0
JOBS=${FAULT_JOBS:-2}
ONLY=${FAULT_ONLY:-*}	# a shell pattern: run only the sweeps it matches
SCALE=${FAULT_SCALE:-100}	# percent of each sweep's budget of points (a quicker run: less)

total=0
wpoints=0	# points of the current writer
# sum FILE: sets s to FILE's checksum and size (a fast CRC: states are only told apart), or "absent".
sum() {
	if [ -e "$1" ]; then cksum <"$1" >"$WORK/sum" && read -r s z <"$WORK/sum" && s=$s.$z; else s=absent; fi
}

# The RedoxFS in $1 checks clean and its manifest is $2 or $3; a qcow2 file also
# passes qemu-img check (leaked clusters allowed: a failed write may leak them).
verify_fs() {
	if ! "$R" check -q "$1" >"$WORK/v.out" 2>&1; then
		echo "# rximg check fails:"; sed 's/^/#   /' "$WORK/v.out" | head -6; return 1
	fi
	"$R" manifest "$1" >"$WORK/v.man" 2>&1
	if ! cmp -s "$WORK/v.man" "$2" && ! cmp -s "$WORK/v.man" "$3"; then
		echo "# neither the old nor the new content:"; diff "$2" "$WORK/v.man" | head -6 | sed 's/^/#   /'; return 1
	fi
	case $1 in *.qcow2)
		qemu-img check "$1" >"$WORK/v.out" 2>&1
		q=$?
		if [ $q -ne 0 ] && [ $q -ne 3 ]; then
			echo "# qemu-img check exits $q:"; sed 's/^/#   /' "$WORK/v.out" | head -6; return 1
		fi
	esac
	return 0
}

# The ESP of the whole disk $1 (partition 2, bytes 1 MiB..2 MiB, as create lays out an 8 MiB
# disk) is consistent for fsck.fat -n, its loader is one of the files $2 and $3, and the
# RedoxFS beside it checks clean and is unchanged ($ESP_FS_MAN): a fault in the ESP never
# reaches it. FAT has no transactions: a cut between writing the new chain and pointing the
# entry at it leaves that chain allocated and unused (fsck.fat "reclaims" it; the two FAT
# copies then differ in those entries only), as leaked clusters are allowed in qcow2 above.
# Anything else fsck.fat says is damage.
verify_esp() {
	dd if="$1" of="$WORK/v.esp" bs=1M skip=1 count=1 status=none
	fsck.fat -n "$WORK/v.esp" >"$WORK/v.out" 2>&1
	if grep -v -E '^(fsck\.fat [0-9.]+ \(.*\)|FATs differ but appear to be intact\.|  Using first FAT\.|Reclaimed [0-9]+ unused clusters? \([0-9]+ bytes\)\.|Leaving filesystem unchanged\.|/.*: [0-9]+ files?, [0-9]+/[0-9]+ clusters?|)$' \
		"$WORK/v.out" >"$WORK/v.bad"; then
		echo "# fsck.fat -n finds damage:"; sed 's/^/#   /' "$WORK/v.out" | head -8; return 1
	fi
	# Old state "none": the ESP had no loader; then none at all is the old state.
	if [ "$2" = none ] && ! mdir -i "$WORK/v.esp" ::/EFI/BOOT/BOOTAA64.EFI >/dev/null 2>&1; then
		:
	elif ! mtype -i "$WORK/v.esp" ::/EFI/BOOT/BOOTAA64.EFI >"$WORK/v.efi" 2>"$WORK/v.out" ||
		{ ! cmp -s "$WORK/v.efi" "$2" && ! cmp -s "$WORK/v.efi" "$3"; }; then
		echo "# the loader is neither the old nor the new one"; sed 's/^/#   /' "$WORK/v.out" | head -3; return 1
	fi
	"$R" manifest "$1" >"$WORK/v.man" 2>&1
	if ! "$R" check -q "$1" >"$WORK/v.out" 2>&1 || ! cmp -s "$WORK/v.man" "$ESP_FS_MAN"; then
		echo "# the RedoxFS beside the ESP changed or is damaged"; return 1
	fi
	return 0
}

# plan R W F SEEDS MAX: the fault specs, one a line; an even sample of at most MAX.
plan() {
	awk -v r="$1" -v w="$2" -v f="$3" -v seeds="$4" 'BEGIN {
		for (k = 1; k <= r; k++) { print "read:" k ":eio"; print "read:" k ":short"; print "read:" k ":fail" }
		for (k = 1; k <= w; k++) {
			print "write:" k ":eio"; print "write:" k ":enospc"; print "write:" k ":short"; print "write:" k ":fail"
			for (s = 1; s <= seeds; s++) print "cut:" k ":seed=" s
		}
		for (k = 1; k <= f; k++) { print "flush:" k ":eio"; print "flush:" k ":enospc"; print "flush:" k ":fail" }
	}' >"$WORK/plan.all"
	n=$(wc -l <"$WORK/plan.all")
	echo "$n" >"$WORK/plan.size"
	awk -v n="$n" -v m="$5" 'n <= m || int(NR * m / n) != int((NR - 1) * m / n)' "$WORK/plan.all"
}

# sweep NAME MODE TARGET BASE MAX SEEDS COMMAND
#   MODE fs: TARGET is an image holding a RedoxFS, restored from BASE before each run.
#   MODE new: TARGET is a file the command creates (it must not exist before).
#   MODE replace: TARGET (restored from BASE) is replaced whole by the command.
#   MODE esp: TARGET is a whole disk (restored from BASE) whose ESP the command
#   changes: see verify_esp ($ESP_OLD and $ESP_NEW are the loader before and after).
# COMMAND is evaluated by sh with $T naming the target. The points are shared
# among $FAULT_JOBS lanes (default 2), each with its own copy of the target.
sweep() {
	name=$1 mode=$2 T=$3 base=$4 max=$5 seeds=$6 cmd=$7
	case $name in $ONLY) ;; *) return ;; esac
	restore
	[ "$mode" = fs ] && "$R" manifest "$T" >"$WORK/old.man"
	sum "$T"
	old=$s
	: >"$LOG"
	(RXIMG_FAULT=count RXIMG_FAULT_LOG=$LOG; export RXIMG_FAULT RXIMG_FAULT_LOG T; eval "$cmd") </dev/null >"$WORK/p.out" 2>&1 ||
		{ fail "$name: runs cleanly"; sed 's/^/#   /' "$WORK/p.out"; return; }
	read -r counts <"$LOG"
	sum "$T"
	new=$s
	if [ "$mode" = fs ]; then
		"$R" manifest "$T" >"$WORK/new.man"
		verify_fs "$T" "$WORK/new.man" "$WORK/new.man" || { fail "$name: the uninterrupted run leaves a clean image"; return; }
	elif [ "$mode" = esp ]; then
		verify_esp "$T" "$ESP_NEW" "$ESP_NEW" || { fail "$name: the uninterrupted run leaves the new loader"; return; }
	fi
	[ "$old" != "$new" ] || { fail "$name: the command changes something"; return; }
	set -- $(echo "$counts" | sed 's/[a-z]*=//g')
	plan "$1" "$2" "$3" "$seeds" $(((max * SCALE + 99) / 100)) >"$WORK/plan"
	j=0
	while [ $j -lt "$JOBS" ]; do
		mkdir -p "$WORK/lane$j"
		awk -v j=$j -v m="$JOBS" 'NR % m == j' "$WORK/plan" >"$WORK/lane$j/plan"
		lane "$WORK/lane$j" "$WORK/lane$j/$(basename "$T")" >"$WORK/lane$j/out" &
		j=$((j + 1))
	done
	wait
	n=0 fired=0 checked=0 bad=0 j=0
	while [ $j -lt "$JOBS" ]; do
		sed -n '/^#/p' "$WORK/lane$j/out"
		read -r a b c d <"$WORK/lane$j/result" || d=1
		n=$((n + a)) fired=$((fired + b)) checked=$((checked + c)) bad=$((bad + d))
		j=$((j + 1))
	done
	wpoints=$((wpoints + n))
	total=$((total + n))
	if [ $bad -eq 0 ]; then
		read -r all <"$WORK/plan.size"
		pass "$name: $n of $all points ($fired fired; $checked other states checked clean; counted $counts)"
	else
		fail "$name: fault injection ($n points tried; counted $counts)"
	fi
}

restore() { if [ "$mode" = new ]; then rm -f "$T" "$T.partial"; else cp --sparse=always "$base" "$T"; fi; }

# lane DIR TARGET: run the points of DIR/plan on a private target; the counts go
# to DIR/result ("points fired checked bad"), failures to stdout.
lane() {
	dir=$1 T=$2 LOG=$1/fault.log WORK=$1
	known=" $old $new "
	n=0 fired=0 checked=0 bad=0
	restore
	while read -r spec; do
		n=$((n + 1))
		: >"$LOG"
		(RXIMG_FAULT=$spec RXIMG_FAULT_LOG=$LOG; export RXIMG_FAULT RXIMG_FAULT_LOG T; eval "$cmd") </dev/null >"$dir/p.out" 2>"$dir/p.err"
		rc=$?
		line=
		read -r line <"$LOG"
		case $line in
		*" fired=1 "*) fired=$((fired + 1)) f=1 ;;
		*" fired=0 "*) f=0 ;;
		*) echo "# $name: $spec: exit $rc and no report (crashed?)"; sed 's/^/#   /' "$dir/p.err" | head -5; bad=1; break ;;
		esac
		landed=${line##*landed=}
		# The outcome, as the user sees it.
		lines=0 first=
		while IFS= read -r l; do lines=$((lines + 1)); [ -n "$first" ] || first=$l; done <"$dir/p.err"
		if [ $f = 1 ]; then
			if [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ $lines -ne 1 ] || [ "${first#rximg: }" = "$first" ]; then
				echo "# $name: $spec: exit $rc with $lines lines on stderr (wanted one rximg: line)"
				sed 's/^/#   /' "$dir/p.err" | head -8; bad=1; break
			fi
		elif [ $rc -ne 0 ]; then
			echo "# $name: $spec: not reached, yet exit $rc"; sed 's/^/#   /' "$dir/p.err" | head -5; bad=1; break
		fi
		# The target: untouched when nothing landed; else old or new.
		[ "$landed" = 0 ] && [ $f = 1 ] && [ "$mode" != new ] && continue
		if [ "$mode" != fs ] && [ -e "$T.partial" ]; then
			echo "# $name: $spec: $T.partial left behind"; bad=1; break
		fi
		sum "$T"
		if [ "$mode" = new ] && [ $f = 1 ] && [ "$s" != absent ]; then
			echo "# $name: $spec: the failed command left $T"; bad=1; break
		fi
		case $known in
		*" $s "*) ;;
		*)
			if [ "$mode" != fs ] && [ "$mode" != esp ]; then
				echo "# $name: $spec: $T is neither the old nor the new file"; bad=1; break
			fi
			checked=$((checked + 1))
			if [ "$mode" = esp ]; then
				verify_esp "$T" "$ESP_OLD" "$ESP_NEW"
			else
				verify_fs "$T" "$WORK/../old.man" "$WORK/../new.man"
			fi
			if [ $? -ne 0 ]; then
				echo "# $name: $spec: the image is damaged (see above)"; bad=1
				cp "$T" "$WORK/../../faults-failed-$(basename "$T")" 2>/dev/null
				break
			fi
			known="$known$s "
			;;
		esac
		[ "$s" = "$old" ] || restore
	done <"$dir/plan"
	echo "$n $fired $checked $bad" >"$dir/result"
}

writer_done() {  # writer_done NAME: the points of one writer, as a diagnostic
	[ $wpoints -eq 0 ] || diag "$1: $wpoints injection points"
	wpoints=0
}

# ---- the spec is read and checked ------------------------------------------------
"$R" mkfs -q -s 4M "$WORK/e.img" >/dev/null 2>&1 || "$R" mkfs -s 4M "$WORK/e.img" >/dev/null
ok "a bad RXIMG_FAULT is refused in one line" fails_cleanly 'RXIMG_FAULT=write:0:eio' \
	env RXIMG_FAULT=write:0:eio "$R" ls "$WORK/e.img:/"
ok "count reports the calls on stderr without RXIMG_FAULT_LOG" sh -c \
	"RXIMG_FAULT=count '$R' ls '$WORK/e.img:/' 2>&1 >/dev/null | grep -q '^reads=[1-9][0-9]* writes=0 flushes=0 fired=0 landed=0$'"
ok "read:1:eio fails the first read" fails_cleanly 'read at byte 0: Input/output error \(fault injected\)' \
	env RXIMG_FAULT=read:1:eio "$R" ls "$WORK/e.img:/"

# ---- source trees ----------------------------------------------------------------
SRC=$WORK/src
mkdir -p "$SRC/etc" "$SRC/bin" "$SRC/data"
i=0
while [ $i -lt 24 ]; do
	echo "line $i of a small config file" >"$SRC/etc/conf$i"
	i=$((i + 1))
done
# Fixed pseudo-random contents (compressible and not), so that runs are repeatable.
$PY - "$SRC" <<'EOF'
import random, sys
r = random.Random(7)
for i in range(10):
    open(f"{sys.argv[1]}/data/blob{i}", "wb").write(bytes(r.getrandbits(8) for _ in range(9000 + 1500 * i)))
open(f"{sys.argv[1]}/bin/text", "w").write("".join(f"{n}\n" for n in range(6000)))
EOF
# A directory of a few hundred long names: more than one block, so it is hashed.
mkdir "$SRC/many"
i=0
while [ $i -lt 300 ]; do
	: >"$SRC/many/file-$i-with-a-name-long-enough-to-fill-blocks"
	i=$((i + 1))
done
ln -s ../bin/text "$SRC/etc/link"
SRC2=$WORK/src2
cp -a "$SRC" "$SRC2"
rm -r "$SRC2/etc/conf1"* "$SRC2/data/blob3"
echo changed >"$SRC2/etc/conf2"
touch -d @1600000000 "$SRC2/etc/conf2"
head -c 30000 "$SRC/bin/text" >"$SRC2/data/blob5"
mkdir "$SRC2/new" && echo fresh >"$SRC2/new/file"

"$R" mkfs -s 4M "$WORK/empty.img" >/dev/null
cp "$WORK/empty.img" "$WORK/tree.img"
"$R" put -r "$SRC" "$WORK/tree.img:/" >/dev/null
misc=$(test_image misc-tree.img)
g=$(test_image initfs-bootstrap.img)

# ---- put ------------------------------------------------------------------------
# Each sweep: NAME, the kind of target, the target, its pristine copy, at most how many
# points, power-cut seeds per write, the command. Writes are few (they are batched),
# so most cases try several seeds of the power cut at each one.
head -c 200000 /dev/urandom >"$WORK/rand"
sweep "put -r into an empty image, records written at once" fs "$WORK/t.img" "$WORK/empty.img" 200 4 \
	'RXIMG_TX_BUFFER=0 "$RXIMG" put -r "'"$SRC"'" "$T:/"'
sweep "put replacing a file's contents" fs "$WORK/t.img" "$WORK/tree.img" 150 10 \
	'"$RXIMG" put "'"$SRC"'/bin/text" "$T:/src/data/blob7"'
sweep "put -r into a reference image" fs "$WORK/t.img" "$misc" 150 10 \
	'"$RXIMG" put -r "'"$SRC"'/etc" "$T:/deep"'
sweep "put of 200 KB, records written at once" fs "$WORK/t.img" "$WORK/tree.img" 150 10 \
	'RXIMG_TX_BUFFER=0 "$RXIMG" put "'"$WORK"'/rand" "$T:/rand"'
writer_done put

# ---- rm -r -----------------------------------------------------------------------
sweep "rm -r in a reference image" fs "$WORK/t.img" "$misc" 200 3 '"$RXIMG" rm -r "$T:/deep" "$T:/names"'
sweep "rm -r a hashed directory" fs "$WORK/t.img" "$WORK/tree.img" 150 3 '"$RXIMG" rm -r "$T:/src/many"'
sweep "rm -r of many records" fs "$WORK/t.img" "$WORK/tree.img" 200 3 '"$RXIMG" rm -r "$T:/src/data" "$T:/src/etc"'
writer_done "rm -r"

# ---- mv --------------------------------------------------------------------------
sweep "mv a directory into another" fs "$WORK/t.img" "$misc" 150 12 '"$RXIMG" mv "$T:/names" "$T:/deep/"'
sweep "mv replacing a file" fs "$WORK/t.img" "$WORK/tree.img" 150 10 '"$RXIMG" mv "$T:/src/etc/conf3" "$T:/src/data/blob1"'
mvmany=
for i in 0 7 50 99 123 200 201 250 298 299; do mvmany="$mvmany \"\$T:/src/many/file-$i-with-a-name-long-enough-to-fill-blocks\""; done
sweep "mv ten names out of a hashed directory" fs "$WORK/t.img" "$WORK/tree.img" 200 12 \
	'"$RXIMG" mv '"$mvmany"' "$T:/src/etc/"'
sweep "mv --exchange of two directories" fs "$WORK/t.img" "$misc" 150 12 '"$RXIMG" mv --exchange "$T:/deep" "$T:/names"'
writer_done mv

# ---- mkfs --from -----------------------------------------------------------------
sweep "mkfs --from" new "$WORK/new.img" "" 300 9 '"$RXIMG" mkfs -q -s 4M --from "'"$SRC"'" "$T"'
sweep "mkfs --from with a reserved area" new "$WORK/new.img" "" 220 8 \
	'"$RXIMG" mkfs -q -s 4M -r "'"$WORK"'/rand" --from "'"$SRC"'" "$T"'
writer_done "mkfs --from"

# ---- sync ------------------------------------------------------------------------
sweep "sync --delete" fs "$WORK/t.img" "$WORK/tree.img" 320 2 '"$RXIMG" sync -q --delete "'"$SRC2"'" "$T:/src"'
sweep "sync -c into a reference image" fs "$WORK/t.img" "$misc" 150 10 '"$RXIMG" sync -q -c "'"$SRC2"'" "$T:/deep"'
sweep "sync into an empty image, records written at once" fs "$WORK/t.img" "$WORK/empty.img" 150 4 \
	'RXIMG_TX_BUFFER=0 "$RXIMG" sync -q "'"$SRC"'" "$T:/"'
writer_done sync

# ---- initfs edit inside an image -------------------------------------------------
cp "$WORK/empty.img" "$WORK/boot.img"
"$R" mkdir "$WORK/boot.img:/boot" && "$R" put "$g" "$WORK/boot.img:/boot/initfs"
sweep "initfs write IMG:/boot/initfs:/etc/init.rc" fs "$WORK/t.img" "$WORK/boot.img" 200 12 \
	'echo "new init" | "$RXIMG" initfs write "$T:/boot/initfs:/etc/init.rc"'
sweep "initfs rm inside an image" fs "$WORK/t.img" "$WORK/boot.img" 200 12 \
	'"$RXIMG" initfs rm "$T:/boot/initfs" /etc/init.rc'
sweep "initfs put of a larger file inside an image" fs "$WORK/t.img" "$WORK/boot.img" 200 12 \
	'"$RXIMG" initfs put "$T:/boot/initfs" "'"$SRC"'/bin/text:/bin/text"'
writer_done "initfs edit"

# ---- qcow2 -----------------------------------------------------------------------
if [ $HAVE_QEMU = 1 ]; then
	qemu-img convert -O qcow2 -o cluster_size=4096 "$WORK/tree.img" "$WORK/q4k.qcow2"
	sweep "qcow2: put -r into a qcow2 image" fs "$WORK/t.qcow2" "$WORK/q4k.qcow2" 200 2 \
		'"$RXIMG" put -r "'"$SRC"'/etc" "$T:/more"'
	qemu-img create -q -f qcow2 -o cluster_size=512 -b "$misc" -F raw "$WORK/ov.qcow2"
	sweep "qcow2: put -r into an overlay (512-byte clusters)" fs "$WORK/t.qcow2" "$WORK/ov.qcow2" 200 2 \
		'"$RXIMG" put -r "'"$SRC"'/data" "$T:/"'
	# 512-byte clusters with 64-bit refcounts: the first refcount table covers 2 MiB
	# of file; 2.5 MiB of data outgrow it and the table is moved.
	head -c 2621440 /dev/urandom >"$WORK/big"
	"$R" mkfs -s 8M "$WORK/g8.img" >/dev/null
	qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b "$WORK/g8.img" -F raw "$WORK/grow.qcow2"
	sweep "qcow2: put 2.5 MiB into an overlay (the refcount table grows)" fs "$WORK/t.qcow2" "$WORK/grow.qcow2" 200 2 \
		'"$RXIMG" put "'"$WORK"'/big" "$T:/big"'
	writer_done qcow2
else
	skip "qcow2 writes" "no qemu-img"
fi

# ---- convert ---------------------------------------------------------------------
# A source of many separate runs: every other 4 KiB block holds data.
$PY - "$WORK/runs.img" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.truncate(2 << 20)
    for i in range(0, 2 << 20, 8192):
        f.seek(i); f.write(bytes([(i >> 13) & 255 | 1]) * 4096)
EOF
sweep "convert to a new qcow2 (4 KiB clusters)" new "$WORK/c.qcow2" "" 200 2 \
	'"$RXIMG" convert -q -c 4K "'"$WORK"'/runs.img" "$T"'
sweep "convert to a new raw file" new "$WORK/c.raw" "" 150 2 \
	'"$RXIMG" convert -q -O raw "'"$WORK"'/runs.img" "$T"'
if [ $HAVE_QEMU = 1 ]; then
	qemu-img convert -O qcow2 -o cluster_size=512 "$WORK/runs.img" "$WORK/runs.qcow2"
	cp "$WORK/tree.img" "$WORK/old.raw"
	sweep "convert a qcow2 over an existing file (--force)" replace "$WORK/c2.raw" "$WORK/old.raw" 200 2 \
		'"$RXIMG" convert -q --force -O raw "'"$WORK"'/runs.qcow2" "$T"'
fi
writer_done convert

# ---- whole disks ------------------------------------------------------------------
$PY "$top_srcdir/tests/tools/mkpe.py" --size 65536 --seed fa "$WORK/loader.efi"
sweep "create a whole disk with a loader and a tree" new "$WORK/disk.img" "" 520 14 \
	'"$RXIMG" create -q "$T" --size 8M --bootloader "'"$WORK"'/loader.efi" --from "'"$SRC"'/etc"'
writer_done create

# Replacing the EFI application in the ESP of a whole disk: the ESP stays consistent (FAT has
# no transactions, so the new file's chain is written and flushed before the entry points to
# it, and the old chain is freed last) and the loader is the old or the new one.
if command -v fsck.fat >/dev/null && command -v mtype >/dev/null && command -v mdir >/dev/null; then
	$PY "$top_srcdir/tests/tools/mkpe.py" --size 70000 --seed fb "$WORK/loader2.efi"
	"$R" create -q "$WORK/esp-base.img" --size 8M --bootloader "$WORK/loader.efi" --from "$SRC/etc"
	ESP_OLD=$WORK/loader.efi ESP_NEW=$WORK/loader2.efi ESP_FS_MAN=$WORK/esp-fs.man
	"$R" manifest "$WORK/esp-base.img" >"$ESP_FS_MAN"
	sweep "bootloader install replacing the EFI application" esp "$WORK/disk.img" "$WORK/esp-base.img" 300 14 \
		'"$RXIMG" bootloader install "$T" "'"$WORK"'/loader2.efi"'
	# Into an ESP without one: /EFI and /EFI/BOOT are made first.
	cp "$WORK/esp-base.img" "$WORK/esp-empty.img"
	"$R" rm -r "$WORK/esp-empty.img:esp:/EFI"
	ESP_OLD=none
	sweep "bootloader install into an ESP without a loader" esp "$WORK/disk.img" "$WORK/esp-empty.img" 330 16 \
		'"$RXIMG" bootloader install "$T" "'"$WORK"'/loader2.efi"'
	writer_done "bootloader install"
else
	skip "bootloader install replacing the EFI application" "needs fsck.fat and mtools"
	skip "bootloader install into an ESP without a loader" "needs fsck.fat and mtools"
fi

diag "injection points in total: $total"
done_testing
