#!/bin/sh
# Crash safety: every command is cut off at every one of its writes (the k-th
# write lands torn, then the process dies as under kill -9). Afterwards the image
# must check clean and hold exactly the state before or after the command.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
points=0

# crash_each NAME BASE_IMAGE COMMAND... (the command gets the image as $IMG)
crash_each() {
	name=$1 base=$2
	shift 2
	cp --sparse=always "$base" "$WORK/after.img"
	IMG="$WORK/after.img" sh -c "$*" >"$WORK/run.out" 2>&1 || { fail "$name: runs cleanly"; cat "$WORK/run.out"; return; }
	"$R" manifest "$base" >"$WORK/before.man"
	"$R" manifest "$WORK/after.img" >"$WORK/after.man"
	if cmp -s "$WORK/before.man" "$WORK/after.man"; then
		fail "$name: the command changes something"
		return
	fi
	k=1 bad=0 n=0
	while :; do
		cp --sparse=always "$base" "$WORK/c.img"
		RXIMG_CRASH_AFTER=$k IMG="$WORK/c.img" sh -c "$*" >"$WORK/c.out" 2>&1
		rc=$?
		if [ $rc -ne 99 ]; then
			[ $rc -eq 0 ] || { bad=1; echo "# $name: k=$k exited $rc"; cat "$WORK/c.out"; }
			break
		fi
		n=$((n + 1))
		if ! "$R" check -q "$WORK/c.img" >"$WORK/c.check" 2>&1; then
			bad=1
			echo "# $name: crash at write $k: check failed"
			sed 's/^/#   /' "$WORK/c.check" | head -5
			break
		fi
		"$R" manifest "$WORK/c.img" >"$WORK/c.man" 2>&1
		if ! cmp -s "$WORK/c.man" "$WORK/before.man" && ! cmp -s "$WORK/c.man" "$WORK/after.man"; then
			bad=1
			echo "# $name: crash at write $k: neither the old nor the new content"
			diff "$WORK/before.man" "$WORK/c.man" | head -5 | sed 's/^/#   /'
			break
		fi
		k=$((k + 1))
	done
	points=$((points + n))
	if [ $bad -eq 0 ] && [ $n -gt 0 ]; then
		pass "$name: $n crash points, each leaves the old or the new state, clean"
	else
		fail "$name: crash safety ($n crash points tried)"
	fi
}

# Records normally wait in memory for the commit; written at once, each is its own
# crash point, so most cases run that way (RXIMG_TX_BUFFER=0), one both ways.
export RXIMG_TX_BUFFER=0

# Source trees: small files (inline), medium ones (records, compressible and not), a symlink.
SRC="$WORK/src"
mkdir -p "$SRC/etc" "$SRC/bin" "$SRC/deep/a/b"
i=0
while [ $i -lt 40 ]; do
	echo "line $i of a small config file" >"$SRC/etc/conf$i"
	i=$((i + 1))
done
head -c 300000 /dev/urandom >"$SRC/bin/random"
# Many multi-record files: every record is a write, so every one is a crash point.
mkdir -p "$SRC/data"
i=0
while [ $i -lt 90 ]; do
	head -c $((131072 + i * 977)) /dev/urandom >"$SRC/data/blob$i"
	i=$((i + 1))
done
seq 1 60000 >"$SRC/bin/text"
head -c 200000 /dev/zero >"$SRC/deep/a/b/zeros"
ln -s ../bin/text "$SRC/deep/link"

img=$(test_image large-files.img)
crash_each "put -r into a reference image" "$img" '"$RXIMG" put -r "'"$SRC"'" "$IMG:/"'
crash_each "rm -r in a reference image" "$(test_image misc-tree.img)" '"$RXIMG" rm -r "$IMG:/deep" "$IMG:/names"'
"$R" mkfs -s 64M "$WORK/base.img" >/dev/null
"$R" put -r "$SRC" "$WORK/base.img:/" >/dev/null
head -c 3000000 /dev/urandom >"$WORK/x"
mkdir -p "$WORK/src2" && cp -a "$SRC" "$WORK/src2/src"
for f in "$WORK"/src2/src/data/blob*; do head -c 150000 /dev/urandom >"$f"; done
crash_each "replace file contents" "$WORK/base.img" '"$RXIMG" put "'"$WORK"'/x" "$IMG:/src/bin/random"'
crash_each "replace file contents, records held until commit" "$WORK/base.img" \
	'RXIMG_TX_BUFFER=268435456 "$RXIMG" put "'"$WORK"'/x" "$IMG:/src/bin/random"'
crash_each "put -r over an existing tree (same names, new data)" "$WORK/base.img" \
	'"$RXIMG" put -r "'"$WORK"'/src2/src" "$IMG:/"'
crash_each "mkdir -p" "$WORK/base.img" '"$RXIMG" mkdir -p "$IMG:/new/dir/here" "$IMG:/src/etc/x"'
crash_each "rm -r of a tree with many records" "$WORK/base.img" '"$RXIMG" rm -r "$IMG:/src/data" "$IMG:/src/etc"'
big=$(test_image bigdir.img)
crash_each "rm -r a hashed directory" "$big" '"$RXIMG" rm -r "$IMG:/longnames"'

# mkfs --from writes a new image as IMAGE.partial and renames it: a crash leaves no IMAGE.
k=1 n=0 bad=0
while :; do
	rm -f "$WORK/new.img" "$WORK/new.img.partial"
	RXIMG_CRASH_AFTER=$k "$R" mkfs -s 64M --from "$SRC" "$WORK/new.img" >/dev/null 2>&1
	rc=$?
	[ $rc -eq 99 ] || break
	n=$((n + 1))
	if [ -e "$WORK/new.img" ]; then bad=1; echo "# mkfs crash at write $k left new.img"; break; fi
	k=$((k + 1))
done
points=$((points + n))
if [ $bad -eq 0 ] && [ $rc -eq 0 ] && "$R" check -q "$WORK/new.img" >/dev/null; then
	pass "mkfs --from: $n crash points leave no image; the finished one checks clean"
else
	fail "mkfs --from crash safety (rc $rc, $n points)"
fi

diag "crash points in total: $points"
ok "at least 500 crash points were exercised ($points)" test "$points" -ge 500
done_testing
