#!/bin/sh
# rximg check --repair: what it reports and changes, what it refuses, its exit
# statuses, encrypted and locked images, and crash safety (every write of a
# repair cut off in turn leaves the damaged or the repaired filesystem).
# tests/hostile.sh runs it on every corruption the hostile suite crafts.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
craft() { ${PYTHON3:-python3} "$top_srcdir/tests/tools/rxcraft.py" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
gen() { "$R" info --json "$1" | sed -n 's/.*"generation":"\{0,1\}\([0-9]*\).*/\1/p'; }

if ! craft selftest >/dev/null 2>&1; then
	echo "1..0 # SKIP rxcraft.py does not run (${PYTHON3:-python3} missing?)"
	exit 0
fi

# status WANT COMMAND...: COMMAND exits WANT (output in $WORK/.st.out, .st.err).
status() {
	local want=$1 rc
	shift
	"$@" >"$WORK/.st.out" 2>"$WORK/.st.err"
	rc=$?
	if grep -q -E 'Sanitizer|runtime error' "$WORK/.st.err"; then cat "$WORK/.st.err"; return 1; fi
	[ $rc -eq "$want" ] && return 0
	echo "exit status $rc, expected $want"
	head -20 "$WORK/.st.out" "$WORK/.st.err"
	return 1
}

# ---- a clean image: nothing is written ------------------------------------------

img=$(copy_image misc-tree.img)
sum=$(sha "$img") g=$(gen "$img")
ok "clean image: check --repair exits 0" status 0 "$R" check --repair "$img"
ok "clean image: it says clean and reports no repair" \
	sh -c "grep -q ': clean: 0 errors' '$WORK/.st.out' && ! grep -q 'repaired:' '$WORK/.st.out'"
ok "clean image: not one byte changed (no new generation)" test "$(sha "$img")" = "$sum"
ok "clean image: -y is --repair, still exit 0" status 0 "$R" check -y -q "$img"
ok "clean image: -n only checks" status 0 "$R" check -n "$img"
ok "clean image: the generation is still $g" test "$(gen "$img")" = "$g"
ok "usage: --repair with two images is a usage error (16)" status 16 "$R" check --repair "$img" "$img"

# ---- a node with a bad checksum: its entry is dropped -----------------------------

img=$(copy_image misc-tree.img)
blk=$(craft where "$img" /hello.txt node)
nid=$(craft show "$img" /hello.txt | sed -n 's/^node \([0-9]*\) .*/\1/p')
craft flip "$img" "$blk" 100
ok "flipped node: check (without --repair) exits 4" status 4 "$R" check "$img"
ok "flipped node: check -n did not change the image" sh -c "'$R' check -n '$img'; test \$? -eq 4"
g=$(gen "$img")
ok "flipped node: check --repair exits 1" status 1 "$R" check --repair "$img"
ok "flipped node: the report line names the path, the node and the cause" \
	grep -q -x -F "$img: repaired: /hello.txt: entry dropped (node $nid: hash mismatch)" "$WORK/.st.out"
ok "flipped node: the summary says repaired and clean" grep -q 'REPAIRED, now clean: 0 errors' "$WORK/.st.out"
ok "flipped node: one new generation" test "$(gen "$img")" = "$((g + 1))"
ok "flipped node: check exits 0 afterwards" status 0 "$R" check "$img"
ok "flipped node: the independent reader accepts it" craft read "$img"
sum=$(sha "$img")
ok "flipped node: a second repair exits 0" status 0 "$R" check --repair "$img"
ok "flipped node: ... and changes nothing" test "$(sha "$img")" = "$sum"

# ---- a record with a bad checksum: zero-filled, the rest of the file kept ---------

src=$(test_image large-files.img)
F=/pattern_1MiB_plus_1.bin
img=$(copy_image large-files.img)
blk=$(craft where "$img" $F record:3)
craft flip "$img" "$blk" 12345
ok "flipped record: check --repair --json exits 1" status 1 "$R" check --repair --json "$img"
cp "$WORK/.st.out" "$WORK/record.json"
ok "flipped record: the JSON report names the record" \
	grep -q -F '{"where":"'$F'","repair":"record 3 zero-filled (hash mismatch)"}' "$WORK/record.json"
ok "flipped record: the JSON says repaired 1, exit_status 1" \
	sh -c "grep -q '\"repaired\":1,' '$WORK/record.json' && grep -q '\"exit_status\":1}' '$WORK/record.json'"
"$R" cat "$src:$F" >"$WORK/want"
dd if=/dev/zero of="$WORK/want" bs=131072 seek=3 count=1 conv=notrunc 2>/dev/null
ok "flipped record: the file reads as before with record 3 as zeros" \
	sh -c "'$R' cat '$img:$F' | cmp - '$WORK/want'"
craft read "$src" >"$WORK/before.list"
craft read "$img" >"$WORK/after.list"
ok "flipped record: every other file is byte-identical (independent reader)" \
	craft compare-intact "$WORK/before.list" "$WORK/after.list" "$WORK/record.json"
echo '{"repairs":[]}' >"$WORK/empty.json"
ok "compare-intact notices the changed file when the report does not name it" \
	sh -c "! ${PYTHON3:-python3} '$top_srcdir/tests/tools/rxcraft.py' compare-intact '$WORK/before.list' '$WORK/after.list' '$WORK/empty.json' >/dev/null"

# ---- leaked blocks only (a warning): reclaimed ---------------------------------------

img=$(copy_image large-files.img)
craft set-ptr --addr 0 --hash 0 "$img" /random_1040KiB.bin record:2
ok "leak: check exits 0 (a warning)" status 0 "$R" check "$img"
ok "leak: check warns about 32 leaked blocks" grep -q 'warning: allocation log: 32 allocated blocks' "$WORK/.st.out"
ok "leak: check --repair exits 1" status 1 "$R" check --repair "$img"
ok "leak: it reports the rebuilt log" \
	grep -q -x -F "$img: repaired: allocation log: rebuilt (32 leaked blocks reclaimed)" "$WORK/.st.out"
ok "leak: nothing leaked any more" grep -q ', 0 leaked$' "$WORK/.st.out"
ok "leak: a second repair exits 0" status 0 "$R" check --repair "$img"

# ---- an unreadable directory: its entries come back in /lost+found ----------------

img=$(copy_image misc-tree.img)
blk=$(craft where "$img" /names dirlist)
craft flip "$img" "$blk" 7
ok "lost directory list: check --repair --json exits 1" status 1 "$R" check --repair --json "$img"
cp "$WORK/.st.out" "$WORK/names.json"
ok "lost directory list: the directory is rebuilt, /lost+found created" \
	sh -c "grep -q '\"where\":\"/names\",\"repair\":\"directory rebuilt' '$WORK/names.json' &&
	       grep -q \"directory 'lost+found' created\" '$WORK/names.json'"
n=$("$R" ls "$img:/lost+found" | wc -l)
ok "lost directory list: its $n entries are in /lost+found as #ID" test "$n" -gt 5
craft read "$(test_image misc-tree.img)" >"$WORK/before.list"
craft read "$img" >"$WORK/after.list"
ok "lost directory list: every reconnected file is byte-identical" \
	craft compare-intact "$WORK/before.list" "$WORK/after.list" "$WORK/names.json"
ok "lost directory list: /lost+found is mode 0700" sh -c "'$R' stat '$img:/lost+found' | grep -q 0700"
ok "lost directory list: a second repair exits 0" status 0 "$R" check --repair "$img"

# ---- nothing to build on: refused, untouched ----------------------------------------

img=$(copy_image misc-tree.img)
craft flip "$img" "$(craft where "$img" tree)" 16
sum=$(sha "$img")
ok "unreadable node tree: check --repair exits 4" status 4 "$R" check --repair "$img"
ok "unreadable node tree: it says why and that nothing was changed" \
	grep -q "^$img: not repaired: the node tree cannot be read (hash mismatch); the image was left unchanged" \
	"$WORK/.st.out"
ok "unreadable node tree: the image is unchanged" test "$(sha "$img")" = "$sum"
craft zero-ring "$img"
sum=$(sha "$img")
ok "no valid header: check --repair exits 8" status 8 "$R" check --repair "$img"
ok "no valid header: the image is unchanged" test "$(sha "$img")" = "$sum"

# ---- a locked image is refused ----------------------------------------------------------

img=$(copy_image misc-tree.img)
craft flip "$img" "$(craft where "$img" /hello.txt node)" 100
sum=$(sha "$img")
if command -v flock >/dev/null; then
	flock "$img" sleep 30 &
	holder=$!
	sleep 1
	ok "locked image: check --repair exits 8" status 8 "$R" check --repair "$img"
	ok "locked image: it says the image is in use" grep -q -i 'use\|lock' "$WORK/.st.err"
	ok "locked image: unchanged" test "$(sha "$img")" = "$sum"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
else
	skip "locked image" "flock(1) missing"
fi
ok "read-only image file: check --repair exits 8" sh -c "chmod a-w '$img'; '$R' check --repair '$img' >/dev/null 2>&1; rc=\$?; chmod u+w '$img'; test \$rc -eq 8"

# ---- an encrypted image: repaired after the password -----------------------------------

if "$R" mkfs --help | grep -q -- --encrypt; then
	printf 'correct horse' >"$WORK/pw"
	export RXIMG_PASSWORD_FILE="$WORK/pw"
	img=$WORK/enc.img
	"$R" mkfs --encrypt -s 16M "$img" >/dev/null
	seq 1 100000 >"$WORK/text"
	"$R" put "$WORK/text" "$img:/text" >/dev/null
	cp "$img" "$WORK/enc-before.img"
	head -c 1048576 /dev/urandom >"$WORK/random"
	"$R" put "$WORK/random" "$img:/random" >/dev/null
	# The longest run of blocks the put changed is /random's data: flip a byte in it.
	blk=$(${PYTHON3:-python3} - "$WORK/enc-before.img" "$img" <<'EOF'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
best, run, start = (0, 0), 0, 0
for i in range(len(b) // 4096):
    if a[i * 4096:(i + 1) * 4096] != b[i * 4096:(i + 1) * 4096]:
        if run == 0:
            start = i
        run += 1
        best = max(best, (run, start))
    else:
        run = 0
print(best[1] + 40)
EOF
)
	craft flip "$img" "$blk" 100
	ok "encrypted: check finds the damage" status 4 "$R" check "$img"
	ok "encrypted: check --repair exits 1" status 1 "$R" check --repair "$img"
	ok "encrypted: a record of /random was zero-filled" grep -q ': repaired: /random: record [0-9]* zero-filled (hash mismatch)' "$WORK/.st.out"
	ok "encrypted: check exits 0 afterwards" status 0 "$R" check "$img"
	ok "encrypted: the other file is intact" sh -c "'$R' cat '$img:/text' | cmp - '$WORK/text'"
	ok "encrypted: without the password, nothing is repaired (exit 8)" \
		sh -c "env -u RXIMG_PASSWORD_FILE -u RXIMG_PASSWORD setsid '$R' check --repair '$img' </dev/null >/dev/null 2>&1; test \$? -eq 8"
	unset RXIMG_PASSWORD_FILE
else
	skip "encrypted image" "rximg was built without encryption"
fi

# ---- crash safety: kill -9 at every write of a repair ---------------------------------
# The base is misc-tree with /names unreadable: the repair rebuilds /names, creates
# /lost+found with ~30 entries and rewrites the allocation log.

base=$WORK/crash-base.img
cp --sparse=always "$(test_image misc-tree.img)" "$base"
craft flip "$base" "$(craft where "$base" /names dirlist)" 7
"$R" check "$base" >"$WORK/old.check" 2>&1
cp --sparse=always "$base" "$WORK/after.img"
"$R" check --repair -q "$WORK/after.img" >/dev/null 2>&1
"$R" manifest "$WORK/after.img" >"$WORK/after.man"
k=1 n=0 bad=0 old=0 new=0
while :; do
	cp --sparse=always "$base" "$WORK/c.img"
	RXIMG_CRASH_AFTER=$k "$R" check --repair "$WORK/c.img" >/dev/null 2>&1
	rc=$?
	if [ $rc -ne 99 ]; then
		[ $rc -eq 1 ] || { bad=1; echo "# k=$k: exited $rc"; }
		break
	fi
	n=$((n + 1))
	"$R" check "$WORK/c.img" >"$WORK/c.check" 2>&1
	crc=$?
	if [ $crc -eq 4 ] && sed "s#$WORK/c.img#$base#g" "$WORK/c.check" | cmp -s - "$WORK/old.check"; then
		old=$((old + 1))
	elif [ $crc -eq 0 ] && "$R" manifest "$WORK/c.img" | cmp -s - "$WORK/after.man"; then
		new=$((new + 1))
	else
		bad=1
		echo "# crash at write $k: neither the damaged nor the repaired state (check exit $crc)"
		head -5 "$WORK/c.check" | sed 's/^/#   /'
		break
	fi
	k=$((k + 1))
done
if [ $bad -eq 0 ] && [ $n -gt 0 ]; then
	pass "crash during --repair: $n crash points, each leaves the old ($old) or the repaired ($new) state"
else
	fail "crash during --repair ($n crash points tried)"
fi

done_testing
