#!/bin/bash
# One path syntax: IMAGE[:pN][:/path][:/member]. Reads and writes of files inside
# an initfs archive inside a RedoxFS, through raw, qcow2-overlay and GPT
# containers; what the syntax refuses; crash safety of a member write.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
ARC=$(test_image initfs-bootstrap.img) || { echo "1..0 # SKIP no initfs test image"; exit 0; }

# The archive's bytes outside its tree: the header fields a rewrite keeps, and the bootstrap.
boot_of() {  # boot_of ARCHIVE-ARG OUT
	"$R" initfs extract "$1" "$WORK/bx" --force >/dev/null 2>&1 && cp "$WORK/bx.bootstrap" "$2" && rm -rf "$WORK/bx" "$WORK/bx.bootstrap" "$WORK/bx.initfs-meta"
}
layout_of() {
	"$R" initfs info "$1" | sed -n 's/^layout *\([^:]*\):.*/\1/p'
}

# A raw disk: RedoxFS with /boot/initfs and a plain file.
RAW=$WORK/raw.img
truncate -s 64M "$RAW"
"$R" mkfs -q "$RAW" >/dev/null
"$R" mkdir "$RAW:/boot" "$RAW:/usr"
"$R" put "$ARC" "$RAW:/boot/initfs"
echo plain >"$WORK/plain"
"$R" put "$WORK/plain" "$RAW:/usr/plain"
boot_of "$ARC" "$WORK/boot.orig"
orig_layout=$(layout_of "$ARC")

ok "cat of a member inside the initfs inside the disk" \
	sh -c '"$1" cat "$2:/boot/initfs:/etc/init.rc" | grep -q "^export PATH"' sh "$R" "$RAW"
ok "cat of a member of a host archive" sh -c '"$1" cat "$2:/etc/init.rc" | grep -q "^export PATH"' sh "$R" "$ARC"
ok "the same bytes both ways" bash -c 'cmp <("$1" cat "$2:/boot/initfs:/etc/init.rc") <("$1" cat "$3:/etc/init.rc")' sh "$R" "$RAW" "$ARC"
ok "ARCHIVE: alone names the archive's root (ls)" sh -c '"$1" ls "$2:/boot/initfs:" | grep -qx etc' sh "$R" "$RAW"

# What the syntax refuses, by name.
ok "a path past a plain file: not a container" fails_cleanly "/usr/plain: is a regular file, not a container" \
	"$R" cat "$RAW:/usr/plain:/x"
ok "a path past a directory: not a container" fails_cleanly "/usr: is a directory, not a container" \
	"$R" cat "$RAW:/usr:/x"
ok "a missing archive is named" fails_cleanly "/boot/nothing: no such file" "$R" cat "$RAW:/boot/nothing:/x"
ok "a member path must start with /" fails_cleanly "expected IMAGE" "$R" cat "$RAW:/boot/initfs:etc"
ok "a missing member is named with its archive" fails_cleanly "raw.img:/boot/initfs: /etc/none: no such file" \
	"$R" cat "$RAW:/boot/initfs:/etc/none"
cp "$RAW" "$WORK/raw.before"
ok "touch of an existing member: times are not stored in an initfs" \
	fails_cleanly "not possible in an initfs" "$R" touch "$RAW:/boot/initfs:/etc/init.rc"
ok "chown of a member: owners are not stored in an initfs" \
	fails_cleanly "not possible in an initfs" "$R" chown 5:5 "$RAW:/boot/initfs:/etc/init.rc"
ok "hard links are refused in an initfs" \
	fails_cleanly "not possible in an initfs" "$R" ln "$RAW:/boot/initfs:/etc/init.rc" "$RAW:/boot/initfs:/etc/h"
ok "paths in two archives in one command are refused" \
	fails_cleanly "same filesystem" "$R" mv "$RAW:/boot/initfs:/etc/init.rc" "$RAW:/usr/x"
ok "the refusals wrote nothing" cmp "$RAW" "$WORK/raw.before"

# Every write verb on members; each is one commit of the disk, the archive keeps layout and bootstrap.
gen() { "$R" info --json "$1" | sed -n 's/.*"generation": *"\{0,1\}\([0-9]*\).*/\1/p' | head -1; }
g0=$(gen "$RAW")
ok "write a member" sh -c 'printf "echo hello\n" | "$1" write "$2:/boot/initfs:/etc/init.rc"' sh "$R" "$RAW"
g1=$(gen "$RAW")
if [ -n "$g0" ] && [ "$g1" = $((g0 + 1)) ]; then pass "the member write is one commit of the disk"; else fail "one commit (generation $g0 -> $g1)"; fi
ok "the new content reads back" sh -c '[ "$("$1" cat "$2:/boot/initfs:/etc/init.rc")" = "echo hello" ]' sh "$R" "$RAW"
ok "mkdir -p of members" "$R" mkdir -p "$RAW:/boot/initfs:/usr/share/doc"
ok "ln -s of a member" "$R" ln -s ../etc/init.rc "$RAW:/boot/initfs:/usr/rc"
ok "the link reads through" sh -c '[ "$("$1" cat "$2:/boot/initfs:/usr/rc")" = "echo hello" ]' sh "$R" "$RAW"
ok "mv of a member" "$R" mv "$RAW:/boot/initfs:/etc/init_drivers.rc" "$RAW:/boot/initfs:/usr/share/doc/"
ok "chmod of a member" "$R" chmod 0700 "$RAW:/boot/initfs:/usr/share/doc/init_drivers.rc"
ok "truncate of a member" "$R" truncate -s 5 "$RAW:/boot/initfs:/usr/share/doc/init_drivers.rc"
ok "touch creates a missing member" "$R" touch "$RAW:/boot/initfs:/etc/new"
ok "rm -r of members" "$R" rm -r "$RAW:/boot/initfs:/etc/pcid.d"
cat >"$WORK/ed.sh" <<'EOF'
#!/bin/sh
printf 'edited\n' >>"$1"
EOF
chmod +x "$WORK/ed.sh"
ok "edit of a member" env EDITOR="$WORK/ed.sh" VISUAL= "$R" edit "$RAW:/boot/initfs:/etc/init.rc"
ok "the edit landed" sh -c '"$1" cat "$2:/boot/initfs:/etc/init.rc" | tail -1 | grep -qx edited' sh "$R" "$RAW"
ok "the disk checks clean" "$R" check -q "$RAW"
ok "the archive reads back whole" "$R" initfs ls -R "$RAW:/boot/initfs"
ok "the layout is kept" test "$(layout_of "$RAW:/boot/initfs")" = "$orig_layout"
boot_of "$RAW:/boot/initfs" "$WORK/boot.now"
ok "the bootstrap is kept byte for byte" cmp "$WORK/boot.orig" "$WORK/boot.now"
ok "the archive holds every change (copied out with cp -r)" sh -c '
	"$1" cp -r "$2:/boot/initfs:/" "$3" && cd "$3" &&
	test -f usr/share/doc/init_drivers.rc && test -f etc/new && test ! -e etc/pcid.d &&
	test ! -e etc/init_drivers.rc && test "$(cat usr/share/doc/init_drivers.rc)" = pcid- &&
	test -L usr/rc && test "$(readlink usr/rc)" = ../etc/init.rc' sh "$R" "$RAW" "$WORK/out"
ok "modes inside the archive: chmod kept" sh -c '"$1" initfs ls -l "$2:/boot/initfs:/usr/share/doc" | grep -q "^-rwx------"' sh "$R" "$RAW"

echo put-in >"$WORK/putme"
ok "put into a member directory" "$R" put "$WORK/putme" "$RAW:/boot/initfs:/etc/"
ok "get of a member" sh -c '"$1" get "$2:/boot/initfs:/etc/putme" "$3" && [ "$(cat "$3")" = put-in ]' \
	sh "$R" "$RAW" "$WORK/got"
ok "get of a member to standard output" sh -c '[ "$("$1" get "$2:/boot/initfs:/etc/putme" -)" = put-in ]' \
	sh "$R" "$RAW"
ok "put -m into an archive is refused by name" fails_cleanly "not available inside an archive" \
	"$R" put -m 0600 "$WORK/putme" "$RAW:/boot/initfs:/etc/"

# A host archive edited in place: renamed over, nothing else changes.
cp "$ARC" "$WORK/host.ifs"
chmod 0640 "$WORK/host.ifs"
ok "write a member of a host archive" sh -c 'echo x | "$1" write "$2:/etc/x"' sh "$R" "$WORK/host.ifs"
ok "the host archive keeps its mode" test "$(stat -c %a "$WORK/host.ifs")" = 640
ok "and reads back" sh -c '[ "$("$1" cat "$2:/etc/x")" = x ]' sh "$R" "$WORK/host.ifs"
ok "no partial file is left" test ! -e "$WORK/host.ifs.partial"

# A qcow2 overlay: the write goes into the overlay, the base is untouched.
BASE=$WORK/base.img
cp --sparse=always "$RAW" "$BASE"
"$R" overlay "$BASE" "$WORK/ov.qcow2" >/dev/null
cp "$BASE" "$WORK/base.before"
ok "write a member through a qcow2 overlay" sh -c 'echo overlay | "$1" write "$2:/boot/initfs:/etc/init.rc"' sh "$R" "$WORK/ov.qcow2"
ok "the overlay reads the new member" sh -c '[ "$("$1" cat "$2:/boot/initfs:/etc/init.rc")" = overlay ]' sh "$R" "$WORK/ov.qcow2"
ok "the base is untouched" cmp "$BASE" "$WORK/base.before"
ok "the overlay checks clean" "$R" check -q "$WORK/ov.qcow2"
if command -v qemu-img >/dev/null; then
	ok "qemu-img check of the overlay" qemu-img check -q "$WORK/ov.qcow2"
else
	skip "qemu-img check of the overlay" "no qemu-img"
fi

# A GPT disk: RedoxFS in partition 2, found by the bootloader's rule or named as :p2.
if command -v sgdisk >/dev/null; then
	GPT=$WORK/gpt.img
	truncate -s 80M "$GPT"
	sgdisk -o -n 1:2048:4095 -t 1:ef00 -n 2:4096:0 -t 2:8300 "$GPT" >/dev/null 2>&1
	"$R" mkfs -q "$GPT:p2" >/dev/null
	"$R" mkdir "$GPT:p2:/boot"
	"$R" put "$ARC" "$GPT:p2:/boot/initfs"
	ok "write a member in a GPT partition (:p2)" sh -c 'echo gpt | "$1" write "$2:p2:/boot/initfs:/etc/init.rc"' sh "$R" "$GPT"
	ok "read it without naming the partition" sh -c '[ "$("$1" cat "$2:/boot/initfs:/etc/init.rc")" = gpt ]' sh "$R" "$GPT"
	ok "the partition checks clean" "$R" check -q "$GPT:p2"
	ok "the partition table is intact" sgdisk -v "$GPT"
else
	skip "GPT containers" "no sgdisk"
fi

# kill -9 at every write of a member write inside a disk: old or new, clean.
BEFORE=$WORK/crash.base
cp --sparse=always "$RAW" "$BEFORE"
"$R" manifest "$BEFORE" >"$WORK/before.man"
cp --sparse=always "$BEFORE" "$WORK/after.img"
head -c 20000 /dev/urandom | base64 >"$WORK/payload"
"$R" write "$WORK/after.img:/boot/initfs:/etc/init.rc" <"$WORK/payload"
"$R" manifest "$WORK/after.img" >"$WORK/after.man"
export RXIMG_TX_BUFFER=0
k=1 n=0 bad=0
while [ $k -lt 400 ]; do
	cp --sparse=always "$BEFORE" "$WORK/c.img"
	RXIMG_CRASH_AFTER=$k "$R" write "$WORK/c.img:/boot/initfs:/etc/init.rc" <"$WORK/payload" >"$WORK/c.out" 2>&1
	rc=$?
	if [ $rc -ne 99 ]; then
		[ $rc -eq 0 ] || { bad=1; diag "k=$k exited $rc"; }
		break
	fi
	n=$((n + 1))
	if ! "$R" check -q "$WORK/c.img" >"$WORK/c.chk" 2>&1; then
		bad=1; diag "crash at write $k: check failed"; sed 's/^/#   /' "$WORK/c.chk" | head -3; break
	fi
	"$R" manifest "$WORK/c.img" >"$WORK/c.man" 2>&1
	if ! cmp -s "$WORK/c.man" "$WORK/before.man" && ! cmp -s "$WORK/c.man" "$WORK/after.man"; then
		bad=1; diag "crash at write $k: neither old nor new"; break
	fi
	k=$((k + 1))
done
unset RXIMG_TX_BUFFER
if [ $bad -eq 0 ] && [ $n -gt 2 ]; then
	pass "member write: $n crash points, each leaves the old or the new disk, clean"
else
	fail "member write crash safety ($n points)"
fi

done_testing
