#!/bin/bash
# rximg cp: host <-> image, image <-> image across containers, members of
# archives, attributes with -a, and refusals that leave the destination as it was.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
mkimg() {  # mkimg PATH SIZE
	truncate -s "$2" "$1" && "$R" mkfs -q "$1" >/dev/null
}

A=$WORK/a.img
mkimg "$A" 64M
SRC=$WORK/src
mkdir -p "$SRC/lib/deep" "$SRC/bin"
echo "loader" >"$SRC/lib/ld.so.1"
head -c 300000 /dev/urandom >"$SRC/lib/big"
truncate -s 1M "$SRC/lib/sparse"
echo tail >>"$SRC/lib/sparse"
echo deep >"$SRC/lib/deep/f"
ln -s ld.so.1 "$SRC/lib/link"
printf '#!/bin/sh\n' >"$SRC/bin/tool"
chmod 0751 "$SRC/bin/tool"
chmod 0700 "$SRC/lib/deep"
touch -d @1000000000 "$SRC/lib/ld.so.1"

ok "host file into an image directory" "$R" cp "$SRC/lib/ld.so.1" "$A:/"
ok "it reads back" sh -c '[ "$("$1" cat "$2:/ld.so.1")" = loader ]' sh "$R" "$A"
ok "-a of a host tree into an image" "$R" cp -a "$SRC" "$A:/tree"
ok "the tree is byte-identical (cp -r back out)" sh -c '"$1" cp -r "$2:/tree" "$3" && diff -r "$4" "$3"' \
	sh "$R" "$A" "$WORK/out1" "$SRC"
ok "-a kept the mode" sh -c '"$1" stat --json "$2:/tree/bin/tool" | grep -q "\"mode\": *\"0751\""' sh "$R" "$A"
ok "-a kept the mtime" sh -c '"$1" stat --json "$2:/tree/lib/ld.so.1" | grep -q "\"mtime\": *\"\{0,1\}1000000000"' sh "$R" "$A"
ok "-a kept the symlink as a link" sh -c '"$1" stat "$2:/tree/lib/link" | grep -q -- "-> ld.so.1"' sh "$R" "$A"
ok "-a out to the host keeps modes and times" sh -c '
	"$1" cp -a "$2:/tree" "$3" && [ "$(stat -c %a "$3/bin/tool")" = 751 ] &&
	[ "$(stat -c %Y "$3/lib/ld.so.1")" = 1000000000 ] && [ -L "$3/lib/link" ]' sh "$R" "$A" "$WORK/out2"
ok "a directory without -r is refused" fails_cleanly "is a directory \(use -r\)" "$R" cp "$A:/tree" "$WORK/out3"
ok "nothing was written for it" test ! -e "$WORK/out3"

# Image to image, different containers: raw -> qcow2 overlay, qcow2 -> raw.
B=$WORK/b.img
mkimg "$B" 64M
"$R" overlay "$B" "$WORK/b.qcow2" >/dev/null
ok "story 14: one file from one image into another's directory" "$R" cp "$A:/tree/lib/ld.so.1" "$WORK/b.qcow2:/"
ok "it arrived in the qcow2 overlay" sh -c '[ "$("$1" cat "$2:/ld.so.1")" = loader ]' sh "$R" "$WORK/b.qcow2"
ok "a whole tree raw -> qcow2" "$R" cp -r "$A:/tree" "$WORK/b.qcow2:/t2"
ok "and back qcow2 -> raw under another name" "$R" cp -r "$WORK/b.qcow2:/t2" "$A:/t3"
ok "the round trip is identical" sh -c '"$1" cp -r "$2:/t3" "$3" && diff -r "$4" "$3"' sh "$R" "$A" "$WORK/out4" "$SRC"
ok "both images check clean" sh -c '"$1" check -q "$2" && "$1" check -q "$3"' sh "$R" "$A" "$WORK/b.qcow2"
if command -v qemu-img >/dev/null; then
	ok "qemu-img check of the overlay" qemu-img check -q "$WORK/b.qcow2"
fi
ok "inside one image" "$R" cp "$A:/ld.so.1" "$A:/copy"
ok "the copy reads back" sh -c '[ "$("$1" cat "$2:/copy")" = loader ]' sh "$R" "$A"

# Members of an archive, either side.
ARC=$(test_image initfs-bootstrap.img)
if [ -n "$ARC" ]; then
	"$R" mkdir "$A:/boot"
	"$R" put "$ARC" "$A:/boot/initfs"
	ok "a member out to the host" bash -c '"$1" cp "$2:/boot/initfs:/etc/init.rc" "$3" && cmp "$3" <("$1" cat "$4:/etc/init.rc")' \
		sh "$R" "$A" "$WORK/init.rc" "$ARC"
	echo "# edited" >>"$WORK/init.rc"
	ok "a host file into a member" "$R" cp "$WORK/init.rc" "$A:/boot/initfs:/etc/init.rc"
	ok "it reads back" bash -c 'cmp "$3" <("$1" cat "$2:/boot/initfs:/etc/init.rc")' sh "$R" "$A" "$WORK/init.rc"
	ok "a member into another image" "$R" cp "$A:/boot/initfs:/etc/init.rc" "$B:/"
	ok "a RedoxFS tree into the archive of the same image" "$R" cp -r "$A:/tree/lib/deep" "$A:/boot/initfs:/etc/"
	ok "it is there" sh -c '[ "$("$1" cat "$2:/boot/initfs:/etc/deep/f")" = deep ]' sh "$R" "$A"
	ok "the image checks clean" "$R" check -q "$A"
else
	skip "archive members" "no initfs test image"
fi

# Refusals leave the destination untouched.
cp "$A" "$WORK/a.before"
ok "-n leaves an existing file alone" sh -c '"$1" cp -n "$2/lib/big" "$3:/ld.so.1" && [ "$("$1" cat "$3:/ld.so.1")" = loader ]' \
	sh "$R" "$SRC" "$A"
ok "a missing source: nothing lands, the name is given" fails_cleanly "nothere" \
	"$R" cp "$SRC/lib/ld.so.1" "$SRC/nothere" "$A:/tree"
mkdir -p "$WORK/x"
echo file >"$WORK/x/deep"
ok "a file is never put over a directory" fails_cleanly "directory is in the way" \
	"$R" cp "$WORK/x/deep" "$A:/tree/lib/"
ok "a symlink in the way needs -f" fails_cleanly "symbolic link is in the way" \
	"$R" cp "$SRC/lib/big" "$A:/tree/lib/link"
ok "several sources need a directory" fails_cleanly "not a directory" \
	"$R" cp "$SRC/lib/ld.so.1" "$SRC/lib/big" "$A:/ld.so.1"
ok "host to host is a usage error" sh -c '"$1" cp "$2/lib/ld.so.1" "$3/x"; [ $? -eq 2 ]' sh "$R" "$SRC" "$WORK"
ok "the image is unchanged by all of that" cmp "$A" "$WORK/a.before"
ok "-f replaces the symlink" "$R" cp -f "$SRC/lib/big" "$A:/tree/lib/link"

# A destination held by another writer is refused and left as it was.
cat >"$WORK/hold.sh" <<EOF
#!/bin/sh
touch "$WORK/held"
while [ ! -e "$WORK/release" ]; do sleep 0.1; done
EOF
chmod +x "$WORK/hold.sh"
EDITOR="$WORK/hold.sh" VISUAL= "$R" edit "$B:/held.txt" >/dev/null 2>&1 &
holder=$!
i=0
while [ ! -e "$WORK/held" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cp "$B" "$WORK/b.before"
ok "a locked destination is refused" fails_cleanly "in use|lock|open for writing|holds" \
	"$R" cp "$SRC/lib/ld.so.1" "$B:/"
ok "and untouched" cmp "$B" "$WORK/b.before"
touch "$WORK/release"
wait $holder

done_testing
