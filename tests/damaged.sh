#!/bin/sh
# Damaged files stay visible, fail loudly, and can be replaced.
#  1. the read verbs (ls -l/-lR/--json, manifest, diff, extract, get) report every damaged
#     path on stderr, carry on with the rest, and exit non-zero (diff: 2);
#  2. a FUSE mount lists a damaged name and fails its lookup/read with EIO: ls -l, cp -a
#     and tar fail instead of dropping the file;
#  3. rm, put, write and mv over a damaged entry work in one commit without reading or
#     freeing what the damaged node points to: check then finds only leaked blocks.
# Three kinds of damage, made by tests/tools/rxcraft.py in small-medium.img:
#   a node block whose checksum does not match (random_100000.bin),
#   a node with an invalid structure, re-sealed (text_020000.txt),
#   a file whose data record does not match its checksum (pattern_200000.bin).
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
craft() { ${PYTHON3:-python3} "$top_srcdir/tests/tools/rxcraft.py" "$@"; }
if ! craft selftest >/dev/null 2>&1; then
	echo "1..0 # SKIP rxcraft.py does not run (${PYTHON3:-python3} missing?)"
	exit 0
fi

D=/medium
NODE=$D/random_100000.bin	# node block checksum mismatch
BAD=$D/text_020000.txt		# node structure invalid (re-sealed)
DATA=$D/pattern_200000.bin	# a data record's checksum mismatch
NODE_RE='random_100000\.bin: .*checksum mismatch'
BAD_RE='text_020000\.txt: .*unknown type'
DATA_RE='pattern_200000\.bin: .*checksum mismatch'

PRISTINE=$(copy_image small-medium.img) || { fail "small-medium.img missing"; done_testing; exit; }
DMG=$WORK/damaged.img
cp --sparse=always "$PRISTINE" "$DMG"
if ! { blk=$(craft where "$DMG" $NODE node) && craft flip "$DMG" "$blk" 100 >/dev/null &&
	craft set-node "$DMG" $BAD type=0x1000 >/dev/null &&
	blk=$(craft where "$DMG" $DATA record:1) && craft flip "$DMG" "$blk" 5 >/dev/null; }; then
	fail "crafting the damaged image"
	done_testing
	exit
fi
DMG_SUM=$(sha256sum <"$DMG")

# run COMMAND...: stdout in $WORK/out, stderr in $WORK/err, the exit status in $rc.
run() { "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; }
no_sanitizer() { ! grep -q -E 'Sanitizer|runtime error' "$WORK/err" || { cat "$WORK/err"; return 1; }; }
status_is() { [ "$rc" = "$1" ] || { echo "exit status $rc, expected $1"; cat "$WORK/err"; return 1; }; }
# reports_once IMAGE REGEX: exactly one "rximg: IMAGE: PATH: ..." line on stderr matches
reports_once() {
	local n
	n=$(grep -c -E "^rximg: $1: $2" "$WORK/err")
	[ "$n" = 1 ] || { echo "$n lines match /$2/ on stderr:"; cat "$WORK/err"; return 1; }
}
all_reported() {  # every kind of damage named once, on its own line
	reports_once "$1" "$D/$NODE_RE" && reports_once "$1" "$D/$BAD_RE" && reports_once "$1" "$D/$DATA_RE"
}
out_has() { grep -q -E "$1" "$WORK/out" || { echo "stdout lacks /$1/:"; head -50 "$WORK/out"; return 1; }; }
out_lacks() { ! grep -q -E "$1" "$WORK/out" || { echo "stdout has /$1/"; return 1; }; }
valid_json() { ${PYTHON3:-python3} -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out"; }

# ---- 1. read verbs ---------------------------------------------------------------------
diag "== read verbs go on past damage"

run "$R" ls -l "$DMG:$D"
ok "ls -l: exits 1" status_is 1
ok "ls -l: each damaged entry reported once on stderr" reports_once "$DMG" "$D/$NODE_RE"
ok "ls -l: the invalid node reported too" reports_once "$DMG" "$D/$BAD_RE"
ok "ls -l: the damaged names are still listed" out_has '^\?+ .* random_100000\.bin$'
ok "ls -l: ... the invalid node's name too" out_has '^\?+ .* text_020000\.txt$'
ok "ls -l: the file with a damaged record lists normally (its node is intact)" \
	out_has '^-rw-r--r-- .* 200000 .* pattern_200000\.bin$'
ok "ls -l: the entries after the damage are listed" out_has ' text_131073\.txt$'
ok "ls -l: no sanitizer report" no_sanitizer

run "$R" ls -lR "$DMG"
ok "ls -lR: exits 1" status_is 1
ok "ls -lR: the damaged entries reported" reports_once "$DMG" "$D/$NODE_RE"
ok "ls -lR: the whole tree is listed" out_has '^/small:'

run "$R" ls --json -R "$DMG"
ok "ls --json: exits 1" status_is 1
ok "ls --json: the output is valid JSON" valid_json
ok "ls --json: a damaged entry has its path and an error" \
	out_has '"path": ?"/medium/random_100000\.bin", ?"name": ?"random_100000\.bin", ?"error": ?"node [0-9]+: checksum mismatch'
ok "ls --json: the error is on stderr too" reports_once "$DMG" "$D/$NODE_RE"

run "$R" manifest "$DMG"
ok "manifest: exits 1" status_is 1
ok "manifest: every damaged path reported once" all_reported "$DMG"
ok "manifest: damaged paths are left out" out_lacks '^/medium/(random_100000\.bin|text_020000\.txt|pattern_200000\.bin)	'
"$R" manifest "$PRISTINE" | grep -v -E '^/medium/(random_100000\.bin|text_020000\.txt|pattern_200000\.bin)	' \
	>"$WORK/want.tsv"
ok "manifest: every other path is exactly as in the pristine image" cmp "$WORK/want.tsv" "$WORK/out"

run "$R" diff "$PRISTINE" "$DMG"
ok "diff: exits 2 (trouble), as diff(1)" status_is 2
ok "diff: every damaged path reported once" all_reported "$DMG"
ok "diff: damage is not shown as a difference" test ! -s "$WORK/out"
echo changed >"$WORK/c.txt"
CHG=$WORK/changed.img
cp --sparse=always "$DMG" "$CHG"
"$R" put "$WORK/c.txt" "$CHG:/small/" >/dev/null 2>&1
run "$R" diff "$DMG" "$CHG"
ok "diff: the real differences are still found" out_has '^\+ /small/c\.txt$'
ok "diff: exit 2 with differences and damage" status_is 2
run "$R" diff --json "$DMG" "$CHG"
ok "diff --json: valid JSON, the damage on stderr" valid_json
ok "diff --json: the difference is in it" out_has '"/small/c\.txt"'
ok "diff --json: every damaged path reported once" all_reported "$DMG"

run "$R" extract -q "$DMG" "$WORK/x"
ok "extract: exits 1" status_is 1
ok "extract: every damaged path reported once" all_reported "$DMG"
ok "extract: no half-written file for the damaged record" test ! -e "$WORK/x$DATA"
ok "extract: nothing for the damaged nodes" test ! -e "$WORK/x$NODE" -a ! -e "$WORK/x$BAD"
n_ext=$(find "$WORK/x" -type f | wc -l)
n_all=$("$R" manifest "$PRISTINE" | grep -c '	file	')
ok "extract: every intact file is there ($n_ext of $n_all)" test "$n_ext" = $((n_all - 3))
"$R" extract -q "$PRISTINE" "$WORK/p" 2>/dev/null
ok "extract: intact files are extracted whole" cmp "$WORK/p/medium/random_131073.bin" \
	"$WORK/x/medium/random_131073.bin"

run "$R" get -q "$DMG:$D" "$WORK/g"
ok "get of a directory: exits 1" status_is 1
ok "get of a directory: every damaged path reported once" all_reported "$DMG"
ok "get of a directory: the rest is copied" cmp "$WORK/p/medium/pattern_131072.bin" \
	"$WORK/g/pattern_131072.bin"
run "$R" get -q "$DMG:$DATA" "$WORK/one"
ok "get of the damaged file: fails, names it" reports_once "$DMG" "$D/$DATA_RE"
ok "get of the damaged file: exits 1, leaves no file" test "$rc" = 1 -a ! -e "$WORK/one"
run "$R" cat "$DMG:$DATA" "$DMG:/small/size_00016.bin"
ok "cat: the damaged file fails, the next one is printed" status_is 1
ok "cat: named on stderr" reports_once "$DMG" "$D/$DATA_RE"
ok "cat: the next file is printed after the failure" sh -c \
	"tail -c 16 '$WORK/out' | cmp - '$WORK/p/small/size_00016.bin'"

# ---- 2. a FUSE mount -------------------------------------------------------------------
diag "== through a FUSE mount"
fuse_reason=
if [ ! -e /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
	fuse_reason="/dev/fuse is not usable"
elif [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
	fuse_reason="fusermount3 is missing and we are not root"
fi
MP=$WORK/mnt
mkdir -p "$MP"
MP=$(cd "$MP" && pwd -P)
mounted() { awk -v mp="$MP" '$5 == mp { f = 1 } END { exit !f }' /proc/self/mountinfo 2>/dev/null; }
cleanup_mount() {
	if mounted; then
		timeout 60 "$R" umount "$MP" >/dev/null 2>&1 || fusermount3 -u -z "$MP" 2>/dev/null ||
			umount -l "$MP" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup_mount EXIT
if [ -z "$fuse_reason" ] && ! "$R" mount -o ro "$DMG" "$MP" 2>"$WORK/merr"; then
	if grep -q "cannot mount on" "$WORK/merr"; then
		fuse_reason="FUSE is not usable here: $(head -n1 "$WORK/merr")"
	else
		fail "mount -o ro of the damaged image"
		sed 's/^/#   /' "$WORK/merr"
		fuse_reason=failed
	fi
fi
if [ -n "$fuse_reason" ]; then
	[ "$fuse_reason" = failed ] || skip "FUSE mount of a damaged image" "$fuse_reason"
else
	names=$(ls "$MP$D")
	ok "mount: readdir lists the damaged names" sh -c "echo '$names' | grep -q -x random_100000.bin &&
		echo '$names' | grep -q -x text_020000.txt && echo '$names' | grep -q -x pattern_200000.bin"
	ok "mount: readdir lists every name" test "$(echo "$names" | wc -l)" = \
		"$("$R" ls "$PRISTINE:$D" | wc -l)"
	run ls -l "$MP$D"
	ok "mount: ls -l fails" test "$rc" != 0
	ok "mount: ls -l says EIO for the damaged node" \
		grep -q "random_100000.bin.*Input/output error" "$WORK/err"
	ok "mount: ... and for the invalid node" grep -q "text_020000.txt.*Input/output error" "$WORK/err"
	run stat "$MP$NODE"
	ok "mount: stat of a damaged node fails with EIO" grep -q "Input/output error" "$WORK/err"
	run cat "$MP$DATA"
	ok "mount: reading the damaged record fails with EIO" grep -q "Input/output error" "$WORK/err"
	ok "mount: ... and cat exits non-zero" test "$rc" != 0
	ok "mount: an intact file reads whole" cmp "$MP/medium/random_131073.bin" \
		"$WORK/p/medium/random_131073.bin"
	run cp -a "$MP$D" "$WORK/cp"
	ok "mount: cp -a exits non-zero" test "$rc" != 0
	ok "mount: cp -a names every damaged file" sh -c "grep -q random_100000 '$WORK/err' &&
		grep -q text_020000 '$WORK/err' && grep -q pattern_200000 '$WORK/err'"
	ok "mount: cp -a copied the rest" cmp "$WORK/cp/text_131073.txt" "$WORK/p/medium/text_131073.txt"
	run tar -C "$MP" -cf "$WORK/t.tar" medium
	ok "mount: tar exits non-zero" test "$rc" != 0
	ok "mount: tar names the damaged nodes" sh -c "grep -q random_100000 '$WORK/err' &&
		grep -q text_020000 '$WORK/err'"
	ok "mount: umount" "$R" umount "$MP"
fi
ok "reading (and mounting read-only) never changed the damaged image" \
	test "$(sha256sum <"$DMG")" = "$DMG_SUM"

# ---- 3. writes over damage -------------------------------------------------------------
diag "== rm, put, write, mv over damage"

# check_leaks_only IMAGE: check exits 0; any warning is about leaked blocks
check_leaks_only() {
	"$R" check "$1" >"$WORK/ck" 2>&1
	local c=$?
	if [ $c != 0 ] || grep ': warning: ' "$WORK/ck" | grep -v -q 'leaked'; then
		echo "check exit $c:"
		cat "$WORK/ck"
		return 1
	fi
}
leaks() { grep -q 'leaked' "$WORK/ck" || { echo "no leaked blocks reported:"; cat "$WORK/ck"; return 1; }; }
# same_except IMAGE PATH...: the manifest equals the pristine one, but for PATHs (and directory times)
same_except() {
	local img=$1 pat
	shift
	pat=$(printf '%s\n' "$@" | sed 's/[.]/\\./g' | paste -s -d'|')
	"$R" manifest "$PRISTINE" | grep -v -E "^($pat)	" | awk -F'\t' '$2 != "dir"' >"$WORK/m1"
	"$R" manifest "$img" | grep -v -E "^($pat)	" | awk -F'\t' '$2 != "dir"' >"$WORK/m2"
	cmp "$WORK/m1" "$WORK/m2" || { diff "$WORK/m1" "$WORK/m2" | head; return 1; }
}
gen() { sed -n 's/^.*generation \([0-9]*\).*$/\1/p' "$WORK/info" | head -n1; }

I=$WORK/rm.img
cp --sparse=always "$DMG" "$I"
run "$R" rm "$I:$NODE" "$I:$BAD" "$I:$DATA"
ok "rm of the three damaged files: exits 0" status_is 0
ok "rm: warns for each damaged node it removed unread" sh -c \
	"grep -c 'warning: .*damaged.*check --repair' '$WORK/err' | grep -q -x 2"
ok "rm: check finds no error, only leaked blocks" check_leaks_only "$I"
ok "rm: ... and there are leaked blocks (nothing was freed)" leaks
ok "rm: the names are gone" sh -c "! '$R' ls '$I:$D' | grep -E 'random_100000|text_020000|pattern_200000'"
ok "rm: the rest of the tree is intact" same_except "$I" $NODE $BAD $DATA
run "$R" ls -lR "$I"
ok "rm: ls -lR is clean afterwards" status_is 0

I=$WORK/put.img
cp --sparse=always "$DMG" "$I"
head -c 200000 /dev/urandom >"$WORK/n200"
head -c 150000 /dev/urandom >"$WORK/n150"
run "$R" put "$WORK/n200" "$I:$NODE"
ok "put over a damaged node: exits 0" status_is 0
run "$R" put "$WORK/n200" "$I:$DATA"
ok "put over a file with a damaged record (same size): exits 0" status_is 0
run "$R" put "$WORK/n150" "$I:/medium/pattern_262144.bin"
ok "put over an intact file still works" status_is 0
run sh -c "'$R' write '$I:$BAD' <'$WORK/n150'"
ok "write over an invalid node: exits 0" status_is 0
ok "put/write: the new contents read back" sh -c "'$R' cat '$I:$NODE' | cmp - '$WORK/n200' &&
	'$R' cat '$I:$DATA' | cmp - '$WORK/n200' && '$R' cat '$I:$BAD' | cmp - '$WORK/n150'"
ok "put/write: check finds no error, only leaked blocks" check_leaks_only "$I"
ok "put/write: the rest of the tree is intact" same_except "$I" $NODE $BAD $DATA /medium/pattern_262144.bin

# a damaged record that is not the last: the new content is shorter than the old
I=$WORK/put2.img
cp --sparse=always "$PRISTINE" "$I"
blk=$(craft where "$I" /medium/random_262144.bin record:0) && craft flip "$I" "$blk" 9 >/dev/null
run "$R" put "$WORK/n200" "$I:/medium/random_262144.bin"
ok "put over a file whose first record is damaged: exits 0" status_is 0
ok "put: reads back" sh -c "'$R' cat '$I:/medium/random_262144.bin' | cmp - '$WORK/n200'"
ok "put: check clean (the damaged record was overwritten, so freed)" check_leaks_only "$I"

# rm -r of a directory holding damage: removed without descending into it
I=$WORK/rmr.img
cp --sparse=always "$DMG" "$I"
run "$R" rm -r "$I:$D"
ok "rm -r of a directory with damaged entries: exits 0" status_is 0
ok "rm -r: the damaged entries are named in warnings" sh -c \
	"grep -q 'random_100000.*damaged' '$WORK/err' && grep -q 'text_020000.*damaged' '$WORK/err'"
ok "rm -r: check finds no error, only leaked blocks" check_leaks_only "$I"
rest_same() { [ "$("$R" manifest "$1" | grep -v -e '^/medium' -e '^/	')" = \
	"$("$R" manifest "$PRISTINE" | grep -v -e '^/medium' -e '^/	')" ]; }
ok "rm -r: the rest of the tree is intact" rest_same "$I"

# a directory whose listing is damaged: rm -r drops it whole, unread
I=$WORK/rmdir.img
cp --sparse=always "$PRISTINE" "$I"
blk=$(craft where "$I" /small dirlist) && craft flip "$I" "$blk" 3 >/dev/null
run "$R" rm -r "$I:/small"
ok "rm -r of a directory that cannot be listed: exits 0" status_is 0
ok "rm -r: says what it held is left for repair" grep -q 'small.*left without a name.*check --repair' "$WORK/err"
ok "rm -r: the name is gone" sh -c "! '$R' ls '$I:/' | grep -q -x small"

# mv: a damaged entry cannot be moved (its type is unknown); a damaged target is replaced
I=$WORK/mv.img
cp --sparse=always "$DMG" "$I"
before=$(sha256sum <"$I")
run "$R" mv "$I:$NODE" "$I:/small/moved"
ok "mv of a damaged entry: refused (exit 1)" status_is 1
ok "mv of a damaged entry: says why" grep -q "cannot move a damaged entry" "$WORK/err"
ok "mv of a damaged entry: the image is unchanged" test "$(sha256sum <"$I")" = "$before"
run "$R" mv "$I:/small/size_00016.bin" "$I:$BAD"
ok "mv over a damaged target: exits 0" status_is 0
ok "mv over a damaged target: the target is the moved file" sh -c \
	"'$R' cat '$I:$BAD' | cmp - '$WORK/p/small/size_00016.bin'"
"$R" rm "$I:$NODE" "$I:$DATA" 2>/dev/null
ok "mv, then rm of the rest: check finds no error, only leaked blocks" check_leaks_only "$I"

# a damaged file with a second name elsewhere: the node stays for the other name
I=$WORK/link.img
cp --sparse=always "$PRISTINE" "$I"
"$R" ln "$I:/small/size_00016.bin" "$I:/medium/second" 2>/dev/null
blk=$(craft where "$I" /small/size_00016.bin node) && craft flip "$I" "$blk" 70 >/dev/null
run "$R" rm "$I:/small/size_00016.bin"
ok "rm of one name of a damaged hard-linked file: exits 0" status_is 0
run "$R" check "$I"
ok "rm of one name: the other name still finds the node (no dangling name)" sh -c \
	"! grep -q 'not in the node tree' '$WORK/out'"

# a commit is atomic: killed while writing over damage, the image is old or new
I=$WORK/kill.img
cp --sparse=always "$DMG" "$I"
head -c 8000000 /dev/urandom >"$WORK/big"
"$R" put "$WORK/big" "$I:$NODE" 2>/dev/null &
pid=$!
sleep 0.05
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
run "$R" ls "$I:/small"
ok "kill -9 during put over damage: the image still opens" status_is 0
"$R" check "$I" >"$WORK/ck" 2>&1
ok "kill -9: check reports only the old damage or a clean replacement" sh -c \
	"! grep ': error: ' '$WORK/ck' | grep -v -E 'random_100000|text_020000|pattern_200000'"

done_testing
