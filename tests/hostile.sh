#!/bin/sh
# Hostile images: every read verb must refuse a corrupt or malicious RedoxFS
# cleanly (one "rximg: ..." line naming the problem, no crash, no sanitizer
# report, no hang), `rximg check` must exit 4 (8 when the image cannot be
# opened at all), extraction must never write outside DESTDIR or through a
# symlink, and reading must never modify the image.
#
# The images are crafted from the good test images by tests/tools/rxcraft.py,
# which re-seals the checksums after a structural edit so that the corruption
# gets past the hash checks and reaches the structure checks.
#
# Then `rximg check --repair` runs on a copy of every image: it must repair it
# (exit 1, then a clean check, the image readable by rxcraft.py's independent
# reader, every node it kept unchanged unless its report names it, a second run
# changing nothing), or refuse without touching the image where nothing can be
# repaired (exit 4: the node tree or root unreadable; exit 8: no filesystem).
. "$top_srcdir/tests/lib.sh"

LIMIT=${HOSTILE_TIMEOUT:-20}	# seconds any single rximg command may take

craft() { ${PYTHON3:-python3} "$top_srcdir/tests/tools/rxcraft.py" "$@"; }
rx() { timeout "$LIMIT" "$RXIMG" "$@"; }
rx_null() { timeout "$LIMIT" "$RXIMG" "$@" >/dev/null; }	# for possibly endless output
sha() { sha256sum "$1" | cut -d' ' -f1; }
short() { printf '%s' "$*" | sed "s#$WORK/##g"; }

if ! craft selftest >/dev/null 2>&1; then
	echo "1..0 # SKIP rxcraft.py does not run (${PYTHON3:-python3} missing?)"
	exit 0
fi
ok "rxcraft: SeaHash matches the spec's test vectors" craft selftest

# ---- case bookkeeping -------------------------------------------------------

# begin NAME SOURCE.img: $img becomes a private copy of SOURCE for case NAME.
begin() {
	local src
	cn=$1
	img=$WORK/$1.img
	out=$WORK/out-$1
	source_name=$2
	src=$(copy_image "$2") && mv "$src" "$img"
}

# step RXCRAFT-ARGS...: one edit of the case's image; failures are diagnosed.
step() {
	if craft "$@" >"$WORK/.craft" 2>&1; then
		return 0
	fi
	diag "$cn: rxcraft $(short "$*") failed:"
	sed 's/^/#   /' "$WORK/.craft"
	return 1
}

crafting_failed() { fail "$cn: crafting the image"; }

# The image as crafted: re-sealed edits must leave every checksum valid.
sealed() {
	ok "$cn: crafted image is re-sealed (every checkable hash matches)" craft verify "$img"
	sum0=$(sha "$img")
}
unsealed() { sum0=$(sha "$img"); }

same_sum() {
	[ "$(sha "$img")" = "$sum0" ] || { echo "the image changed while only being read"; return 1; }
}
unchanged() { ok "$cn: reading never modified the image" same_sum; }

# ---- assertions ---------------------------------------------------------------

# fails_with REGEX COMMAND...: fails_cleanly, and REGEX matches what follows
# "rximg: IMAGE: " (so that the image's own file name can never match).
fails_with() {
	local re=$1
	fails_cleanly "$@" || return 1
	if ! sed -n "s#^rximg: $img: ##p" "$WORK/.fc.err" | grep -q -E "$re"; then
		echo "no 'rximg: IMAGE: ...' line matching /$re/ after the image name:"
		cat "$WORK/.fc.err"
		return 1
	fi
}

# rejects REGEX VERB ARGS...: the verb fails cleanly with a message matching REGEX.
rejects() {
	local re=$1
	shift
	ok "$cn: $(short "$*") fails cleanly (/$re/)" fails_with "$re" rx "$@"
}

# rejects_quietly: the same, with standard output discarded (endless output).
rejects_quietly() {
	local re=$1
	shift
	ok "$cn: $(short "$*") fails cleanly (/$re/)" fails_with "$re" rx_null "$@"
}

runs_ok() {  # runs_ok COMMAND...: exit 0, nothing from a sanitizer
	local rc
	"$@" >"$WORK/.ro.out" 2>"$WORK/.ro.err"
	rc=$?
	if grep -q -E 'Sanitizer|runtime error' "$WORK/.ro.err"; then
		cat "$WORK/.ro.err"
		return 1
	fi
	if [ $rc -ne 0 ]; then
		echo "exit status $rc"
		cat "$WORK/.ro.err"
		return 1
	fi
}

no_crash() {  # no_crash COMMAND...: any exit below 124, nothing from a sanitizer
	local rc
	"$@" >"$WORK/.nc.out" 2>"$WORK/.nc.err"
	rc=$?
	if [ $rc -ge 124 ] || grep -q -E 'Sanitizer|runtime error' "$WORK/.nc.err"; then
		echo "exit status $rc"
		cat "$WORK/.nc.err"
		return 1
	fi
}

# check_status WANT REGEX: rximg check exits WANT; for 4 an error line matches REGEX,
# for 8 the "rximg: ..." line on stderr does.
check_status() {
	local want=$1 re=$2 rc
	rx check "$img" >"$WORK/.ck.out" 2>"$WORK/.ck.err"
	rc=$?
	if grep -q -E 'Sanitizer|runtime error' "$WORK/.ck.err"; then
		echo "sanitizer report (exit status $rc):"
		head -20 "$WORK/.ck.err"
		return 1
	fi
	if [ $rc -ne "$want" ]; then
		echo "exit status $rc, expected $want"
		head -20 "$WORK/.ck.out" "$WORK/.ck.err"
		return 1
	fi
	case $want in
	4)
		if ! sed -n "s#^$img: error: ##p" "$WORK/.ck.out" | grep -q -E "$re"; then
			echo "no error matching /$re/:"
			head -20 "$WORK/.ck.out"
			return 1
		fi ;;
	8)
		if ! sed -n "s#^rximg: $img: ##p" "$WORK/.ck.err" | grep -q -E "$re"; then
			echo "stderr does not match /$re/:"
			cat "$WORK/.ck.err"
			return 1
		fi ;;
	esac
}
check_finds() { ok "$cn: check exits 4 reporting /$1/" check_status 4 "$1"; }
check_cannot() { ok "$cn: check exits 8 (cannot check) saying /$1/" check_status 8 "$1"; }
check_clean() { ok "$cn: check exits 0 (legal, if unusual, content)" check_status 0 ''; }

# check_spares REGEX: no error line of the last check run matches REGEX (errors
# blamed on parts of the image the corruption did not touch are misleading).
spares() {
	if sed -n "s#^$img: error: ##p" "$WORK/.ck.out" | grep -E "$1"; then
		echo "^ errors blamed on untouched parts of the image"
		return 1
	fi
}
check_spares() { ok "$cn: check blames nothing untouched (no error matching /$1/)" spares "$1"; }

# Extraction area: $out/dest is DESTDIR, $out/sentinel sits next to it and must stay empty.
new_out() {
	mkdir -p "$out/sentinel"
	rm -rf "$out/dest"
}

outside_clean() {
	local extra
	extra=$(ls -A "$out" | grep -v -x -e dest -e sentinel)
	if [ -n "$extra" ]; then
		echo "created next to DESTDIR: $extra"
		return 1
	fi
	if [ -n "$(ls -A "$out/sentinel")" ]; then
		echo "written into the sentinel directory:"
		ls -lA "$out/sentinel"
		return 1
	fi
}

# extract_rejects REGEX [OPTIONS]: extract fails cleanly and writes nothing outside DESTDIR.
extract_rejects() {
	local re=$1
	shift
	new_out
	ok "$cn: extract${*:+ $*} fails cleanly (/$re/)" fails_with "$re" rx extract -q "$@" "$img" "$out/dest"
	ok "$cn: extract${*:+ $*} wrote nothing outside DESTDIR" outside_clean
}

# tty_fails_with REGEX COMMAND...: with stderr on a terminal (progress bars on),
# a non-zero exit below 124, no sanitizer report, and a line matching REGEX.
tty_fails_with() {
	local re=$1 rc
	shift
	${PYTHON3:-python3} "$top_srcdir/tests/tools/pty_stderr.py" "$WORK/.tty.out" "$WORK/.tty.err" "$@"
	rc=$?
	if [ $rc -eq 0 ] || [ $rc -ge 124 ] || grep -q -E 'Sanitizer|runtime error' "$WORK/.tty.err"; then
		echo "exit status $rc"
		tr '\r' '\n' <"$WORK/.tty.err" | head -20
		return 1
	fi
	grep -q -E "$re" "$WORK/.tty.err" || { echo "no line matching /$re/:"; head -20 "$WORK/.tty.err"; return 1; }
}

# The usual battery for a corruption every tree walk meets.
walkers_reject() {
	rejects "$1" ls -R "$img"
	rejects "$1" manifest "$img"
	rejects "$1" diff "$img" "$img"
	extract_rejects "$1"
}

is_symlink_to() {  # is_symlink_to PATH TARGET
	if [ ! -L "$1" ] || [ "$(readlink "$1")" != "$2" ]; then
		echo "$1 is not a symlink to $2:"
		ls -la "$1" 2>&1
		return 1
	fi
}

is_regular_file() {
	[ -f "$1" ] && [ ! -L "$1" ] || { echo "$1 is not a regular file:"; ls -la "$1" 2>&1; return 1; }
}

not_created() { [ ! -e "$1" ] && [ ! -L "$1" ] || { echo "$1 was created"; return 1; }; }

# cat of a symlink is resolved inside the image: it must fail and print no host data.
cat_stays_inside() {  # cat_stays_inside REGEX IMAGE:/path
	fails_with "$1" rx cat "$2" || return 1
	if [ -s "$WORK/.fc.out" ]; then
		echo "cat printed data (from the host?):"
		head -c 200 "$WORK/.fc.out"
		return 1
	fi
}

NOENT='[Nn]o such file|not found|does not exist'

# ---- repair --------------------------------------------------------------------

# The independent reader's listing of a pristine source image (made once).
pristine_list() {
	local list=$WORK/pristine-$1.list
	[ -s "$list" ] || craft read "$(test_image "$1")" >"$list" || return 1
	echo "$list"
}

# run_repair IMAGE: check --repair --json, status in $rrc; a sanitizer report fails.
run_repair() {
	rx check --repair --json "$1" >"$WORK/.rp.json" 2>"$WORK/.rp.err"
	rrc=$?
	if grep -q -E 'Sanitizer|runtime error' "$WORK/.rp.err"; then
		head -20 "$WORK/.rp.err"
		return 1
	fi
}

repair_fixes() {
	local rimg=$WORK/$cn.repaired.img list sum
	cp --sparse=always "$img" "$rimg"
	run_repair "$rimg" || return 1
	if [ $rrc -ne 1 ]; then
		echo "check --repair exited $rrc, expected 1:"
		head -c 2000 "$WORK/.rp.json"; cat "$WORK/.rp.err"
		return 1
	fi
	rx check "$rimg" >"$WORK/.rp.ck" 2>&1 || { echo "not clean after repair:"; head "$WORK/.rp.ck"; return 1; }
	craft read "$rimg" >"$WORK/.rp.list" 2>"$WORK/.rp.read" ||
		{ echo "the independent reader rejects the repaired image:"; head "$WORK/.rp.read"; return 1; }
	list=$(pristine_list "$source_name") || { echo "cannot list the pristine $source_name"; return 1; }
	craft compare-intact "$list" "$WORK/.rp.list" "$WORK/.rp.json" || return 1
	sum=$(sha "$rimg")
	run_repair "$rimg" || return 1
	[ $rrc -eq 0 ] || { echo "a second repair exited $rrc"; head -c 2000 "$WORK/.rp.json"; return 1; }
	[ "$(sha "$rimg")" = "$sum" ] || { echo "a second repair changed the image"; return 1; }
}

# repair_refuses STATUS: check --repair exits STATUS and leaves the image as it was.
repair_refuses_with() {
	local rimg=$WORK/$cn.repaired.img
	cp --sparse=always "$img" "$rimg"
	run_repair "$rimg" || return 1
	[ $rrc -eq "$1" ] || { echo "check --repair exited $rrc, expected $1"; head -c 2000 "$WORK/.rp.json"; return 1; }
	cmp -s "$img" "$rimg" || { echo "the image was changed"; return 1; }
}

repairs() { ok "$cn: check --repair repairs it (exit 1, then clean, independently readable, intact nodes unchanged, idempotent)" repair_fixes; }
repair_refuses() { ok "$cn: check --repair exits 4 and leaves the image unchanged" repair_refuses_with 4; }
repair_cannot() { ok "$cn: check --repair exits 8 and leaves the image unchanged" repair_refuses_with 8; }
repair_nothing() { ok "$cn: check --repair changes nothing (exit 0)" repair_refuses_with 0; }

# ---- baseline: the pristine sources ------------------------------------------

for src in misc-tree bigdir large-files; do
	cn=baseline-$src
	img=$(test_image $src.img) || { fail "$cn: test image missing"; continue; }
	ok "$cn: rxcraft verify accepts the pristine image" craft verify "$img"
	check_clean
done

# ---- unsealed damage: checksums must catch it and name the path ---------------

if begin flip-node misc-tree.img && blk=$(craft where "$img" /hello.txt node) &&
	step flip "$img" "$blk" 100; then
	unsealed
	re='/hello\.txt: .*checksum mismatch'
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" stat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin flip-dirlist misc-tree.img && blk=$(craft where "$img" /names dirlist) &&
	step flip "$img" "$blk" 7; then
	unsealed
	re='/names: .*checksum mismatch'
	rejects "$re" ls "$img:/names"
	rejects 'names.*checksum mismatch' cat "$img:/names/a"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin flip-tree misc-tree.img && blk=$(craft where "$img" tree) && step flip "$img" "$blk" 16; then
	unsealed
	re='checksum mismatch'
	rejects "$re" cat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repair_refuses
else crafting_failed; fi

if begin flip-symlink-record misc-tree.img &&
	blk=$(craft where "$img" /links/longer_target record:0) && step flip "$img" "$blk" 4000; then
	unsealed
	re='longer_target: .*checksum mismatch'
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin flip-file-record large-files.img &&
	blk=$(craft where "$img" /pattern_1MiB_plus_1.bin record:3) && step flip "$img" "$blk" 12345; then
	unsealed
	re='/pattern_1MiB_plus_1\.bin: .*checksum mismatch'
	rejects_quietly "$re" cat "$img:/pattern_1MiB_plus_1.bin"
	rejects "$re" get "$img:/pattern_1MiB_plus_1.bin" "$WORK/got-$cn"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- images that cannot be opened --------------------------------------------

if begin zero-ring misc-tree.img && step zero-ring "$img"; then
	unsealed
	re='no RedoxFS'
	ok "$cn: info does not crash" no_crash rx info "$img"
	ok "$cn: info says there is no RedoxFS" grep -q "$re" "$WORK/.nc.out" "$WORK/.nc.err"
	rejects "$re" ls -R "$img"
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

if begin truncate-half misc-tree.img && step truncate "$img" 4194304; then
	unsealed
	re='truncated'
	rejects "$re" ls -R "$img"
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

if begin truncate-in-ring misc-tree.img && step truncate "$img" 12388; then
	unsealed
	re='truncated'
	rejects "$re" ls -R "$img"
	rejects "$re" manifest "$img"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

if begin truncate-empty misc-tree.img && step truncate "$img" 0; then
	unsealed
	re='no RedoxFS'
	rejects "$re" ls "$img"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

if begin header-size-huge misc-tree.img && step set-header "$img" size=0x10000000000; then
	unsealed
	re='truncated'
	rejects "$re" ls -R "$img"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

if begin header-size-tiny misc-tree.img && step set-header "$img" size=40960; then
	unsealed
	re='minimum|too small'
	rejects "$re" ls -R "$img"
	check_cannot "$re"
	unchanged
	repair_cannot
else crafting_failed; fi

# Generation 6 written into slot 5: still readable, but the ring is inconsistent.
if begin header-wrong-slot misc-tree.img && step set-header "$img" generation=6; then
	unsealed
	ok "$cn: ls -R does not crash" no_crash rx ls -R "$img"
	check_finds 'slot'
	unchanged
	repairs
else crafting_failed; fi

if begin tree-out-of-range misc-tree.img && step set-ptr --index 0x100000 "$img" / tree; then
	sealed
	re='outside'
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" ls "$img"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repair_refuses
else crafting_failed; fi

if begin release-out-of-range misc-tree.img && step set-ptr --index 0x100000 "$img" / release; then
	sealed
	check_finds 'release.*outside|outside.*release'
	unchanged
	repairs
else crafting_failed; fi

# ---- hostile names (re-sealed) -----------------------------------------------
# /names is a directory of files at the top level: a naive extractor that trusts
# a name of ".." or "../escape" writes those files next to DESTDIR.

if begin name-slash misc-tree.img && step rename "$img" /names ../escape; then
	sealed
	re="'/'"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin name-dotdot misc-tree.img && step rename "$img" /names ..; then
	sealed
	re="'\.\.'"
	walkers_reject "$re"
	extract_rejects "$re" --force
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin name-dot misc-tree.img && step rename "$img" /names .; then
	sealed
	re="'\.'"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin name-empty misc-tree.img && step rename "$img" /hello.txt ''; then
	sealed
	re='empty'
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin name-nul misc-tree.img && step rename "$img" /hello.txt 'hello\x00.txt'; then
	sealed
	re='NUL'
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin name-too-long misc-tree.img &&
	step rename "$img" /hello.txt "$(printf '%0255d' 0)"; then
	sealed
	re='252|too long'
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- directory loops and bad node ids (re-sealed) ------------------------------

# The entry level01 inside /deep/level00 names /deep/level00 itself.
if begin loop-self misc-tree.img && step retarget "$img" /deep/level00/level01 /deep/level00; then
	sealed
	re='loop'
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# level02 inside /deep/level00/level01 names /deep/level00, the parent of its directory.
if begin loop-parent misc-tree.img &&
	step retarget "$img" /deep/level00/level01/level02 /deep/level00; then
	sealed
	re='loop'
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin loop-root misc-tree.img && step retarget "$img" /deep/level00/level01/level02 /; then
	sealed
	re='loop'
	walkers_reject "$re"
	rejects "$re" ls -R "$img:/deep"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin entry-id-invalid misc-tree.img && step set-entry-id "$img" /hello.txt 0xFEFEFEFE; then
	sealed
	re='invalid|4278124286'
	walkers_reject "$re"
	rejects "$re" cat "$img:/hello.txt"
	check_finds '4278124286'
	unchanged
	repairs
else crafting_failed; fi

if begin entry-id-zero misc-tree.img && step set-entry-id "$img" /hello.txt 0; then
	sealed
	re='node (id )?0[^0-9]|reserved'
	walkers_reject "$re"
	rejects "$re" cat "$img:/hello.txt"
	check_finds 'node (id )?0[^0-9]'
	# With stderr on a terminal, extract first adds up the tree for its bar.
	new_out
	ok "$cn: extract with a progress bar fails cleanly" \
		tty_fails_with "$re" timeout "$LIMIT" "$RXIMG" extract "$img" "$out/dest"
	unchanged
	repairs
	# A writer drops the name without following it (node 0 has no slot to remember).
	ok "$cn: rm of the entry naming node 0 drops the name" runs_ok rx rm "$img:/hello.txt"
	ok "$cn: the name is gone" sh -c "! '$RXIMG' ls '$img:/' | grep -qx hello.txt"
else crafting_failed; fi

# Found by fuzzing (fuzz_crypt): the node tree names the reserved id 0.
if begin tree-id-zero misc-tree.img && step tree-zero "$img" /hello.txt; then
	unsealed	# rxcraft's own reader refuses id 0 in the tree
	check_finds 'reserved node id 0 is used'
	ok "$cn: ls -R still works" no_crash rx ls -R "$img"
	ok "$cn: cat /hello.txt still works" runs_ok rx cat "$img:/hello.txt"
	unchanged
	repairs
else crafting_failed; fi

if begin entry-id-missing misc-tree.img && step set-entry-id "$img" /hello.txt 5000; then
	sealed
	re='5000.*(not|no such|missing)|(not|no such|missing).*5000'
	walkers_reject "$re"
	rejects "$re" cat "$img:/hello.txt"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- a duplicate name: symlink to the host first, then a directory -----------
# /names gets two entries "evil": a symlink to $out/sentinel (an absolute host
# path) listed first, then the directory /names/DDD... (renamed), which holds a
# file "inside". A naive extractor makes the symlink, then "merges" the directory
# into it and writes "inside" into the sentinel directory.

if begin dup-symlink-dir misc-tree.img && new_out &&
	step rename "$img" "/names/$(printf 'D%.0s' $(seq 252))" evil &&
	step set-symlink "$img" /links/abs_etc_passwd "$out/sentinel" &&
	step add-entry --first "$img" /names evil /links/abs_etc_passwd; then
	sealed
	re='twice|duplicate'
	walkers_reject "$re"
	extract_rejects "$re" --force
	rejects "$re" ls "$img:/names"
	new_out
	ok "$cn: get IMG:/names fails cleanly (/$re/)" \
		fails_with "$re" rx get -q "$img:/names" "$out/dest"
	ok "$cn: get wrote nothing outside DEST" outside_clean
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- pointers out of range (re-sealed; the hash is valid whenever the target is in the file)

if begin ptr-out-of-range misc-tree.img && step set-ptr --index 0x100000 "$img" /hello.txt node; then
	sealed
	re='outside'
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" stat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# index * 4096 overflows 64 bits: a reader must not wrap around into the image.
if begin ptr-index-overflow misc-tree.img &&
	step set-ptr --index 0xFFFFFFFFFFFFFF "$img" /hello.txt node; then
	sealed
	re='outside'
	rejects "$re" cat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# The node pointer names block 5, the current header slot (its hash cannot be
# made to match, the header depends on it), and a DirList pointer names block 3,
# an older header, with a matching hash.
if begin ptr-ring-node misc-tree.img && step set-ptr --index 5 "$img" /hello.txt node; then
	sealed
	re='outside'
	rejects "$re" cat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin ptr-ring-dirlist misc-tree.img && step set-ptr --index 3 "$img" /names dir; then
	sealed
	re='outside'
	rejects "$re" ls "$img:/names"
	rejects "$re" cat "$img:/names/a"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin ptr-meta-level misc-tree.img && step set-ptr --level 1 "$img" /hello.txt node; then
	sealed
	re='level'
	rejects "$re" cat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

F=/random_1040KiB.bin
INNOCENT='records_exact|text_1MiB|repetitive|zeros_2MiB|mixed_records|pattern_1MiB|allocation log'
if begin record-level9 large-files.img && step set-ptr --level 9 "$img" $F record:0; then
	sealed
	re='level|record size'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	check_spares "$INNOCENT"
	unchanged
	repairs
else crafting_failed; fi

if begin record-decomp9 large-files.img && step set-ptr --decomp 9 "$img" $F record:0; then
	sealed
	re='level|record size'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin record-out-of-range large-files.img && step set-ptr --index 0x100000 "$img" $F record:1; then
	sealed
	re='outside'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# A level-5 record at block 256 (aligned) starts in the never-used block 256; its
# hash matches, so only the range check can stop it.
if begin record-in-hole large-files.img && step set-ptr --index 256 "$img" $F record:2; then
	sealed
	re='outside'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" manifest "$img"
	check_finds "$re"
	check_spares "$INNOCENT"
	unchanged
	repairs
else crafting_failed; fi

if begin record-unaligned large-files.img && step set-ptr --index 449 "$img" $F record:0; then
	sealed
	re='align'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" manifest "$img"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- compressed records (re-sealed) -------------------------------------------

T=/text_1MiB.txt
if begin comp-len-zero large-files.img && step set-comp-len "$img" $T zero; then
	sealed
	re='length'
	rejects_quietly "$re" cat "$img:$T"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin comp-len-big large-files.img && step set-comp-len "$img" $T big; then
	sealed
	re='length'
	rejects_quietly "$re" cat "$img:$T"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin comp-garbage large-files.img && step scramble-record "$img" $T; then
	sealed
	re='decode|corrupt|LZ4'
	rejects_quietly "$re" cat "$img:$T"
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- hashed directories (bigdir.img, re-sealed) --------------------------------

if begin htree-depth15 bigdir.img && step set-marker "$img" /many 15; then
	sealed
	re='deep|depth'
	rejects "$re" ls "$img:/many"
	rejects "$re" cat "$img:/many/f00001"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin htree-null-child bigdir.img && step set-ptr --addr 0 --hash 0 "$img" /many htree:0; then
	sealed
	re='null'
	rejects "$re" ls "$img:/many"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin htree-out-of-range bigdir.img && step set-ptr --index 0x100000 "$img" /many htree:1; then
	sealed
	re='outside'
	rejects "$re" ls "$img:/many"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- DirList header words (re-sealed) ---------------------------------------------

if begin dirlist-used-big misc-tree.img && step dirlist-header --used 5000 "$img" /names; then
	sealed
	re='5000'
	rejects "$re" ls "$img:/names"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin dirlist-count-big misc-tree.img && step dirlist-header --count 60000 "$img" /names; then
	sealed
	re='runs past|count|60000|entries'
	rejects "$re" ls "$img:/names"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- node fields (re-sealed) ------------------------------------------------------

if begin node-unknown-type misc-tree.img && step set-node "$img" /hello.txt type=0x1000; then
	sealed
	re='type'
	rejects "$re" cat "$img:/hello.txt"
	rejects "$re" stat "$img:/hello.txt"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# 4096 << 40 bytes per record: a reader that trusts it allocates 4 PiB per record.
if begin node-record-level40 large-files.img && step set-node "$img" $F record_level=40; then
	sealed
	re='record level|record_level'
	rejects_quietly "$re" cat "$img:$F"
	rejects "$re" stat "$img:$F"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

if begin dir-inline misc-tree.img && step set-node "$img" /names flags=1; then
	sealed
	re='inline'
	rejects "$re" ls "$img:/names"
	walkers_reject "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# 2^63 bytes, all holes: beyond the largest possible file (about 4 PiB with
# 128 KiB records, spec 8.3). Streaming 8 EiB of zeros is not an answer.
if begin size-2p63 misc-tree.img &&
	step set-node --zero-data "$img" /hello.txt flags=0 size=9223372036854775808; then
	sealed
	re='maximum|largest|exceeds|beyond|impossible|invalid size|bad size'
	rejects_quietly "$re" cat "$img:/hello.txt"
	rejects_quietly "$re" get "$img:/hello.txt" -
	rejects "$re" manifest "$img"
	extract_rejects "$re"
	check_finds "$re"
	unchanged
	repairs
else crafting_failed; fi

# ---- allocation log (re-sealed) ----------------------------------------------------

if begin alloc-out-of-range misc-tree.img && step alloc-entry "$img" 0 0x100000 5; then
	sealed
	ok "$cn: info does not crash" no_crash rx info "$img"
	check_finds 'allocation log.*(outside|range)|(outside|range).*allocation log'
	unchanged
	repairs
else crafting_failed; fi

if begin alloc-wraps misc-tree.img && step alloc-entry "$img" 0 0xFFFFFFFFFFFFFFF0 0x20; then
	sealed
	ok "$cn: info does not crash" no_crash rx info "$img"
	check_finds 'allocation log.*(outside|range)|(outside|range).*allocation log'
	unchanged
	repairs
else crafting_failed; fi

if begin alloc-negative-past-end misc-tree.img && step alloc-entry "$img" 0 2040 -100; then
	sealed
	ok "$cn: info does not crash" no_crash rx info "$img"
	check_finds 'allocation log.*(outside|range)|(outside|range).*allocation log'
	unchanged
	repairs
else crafting_failed; fi

# ---- symlinks that point outside: legal content, never followed on the host ------

if begin symlink-dotdot misc-tree.img &&
	step set-symlink "$img" /links/rel_to_hello ../../../../etc/passwd; then
	sealed
	check_clean
	ok "$cn: cat resolves the link inside the image (not the host's /etc/passwd)" \
		cat_stays_inside "$NOENT" "$img:/links/rel_to_hello"
	new_out
	ok "$cn: get resolves the link inside the image" \
		fails_with "$NOENT" rx get -q "$img:/links/rel_to_hello" "$out/dest"
	ok "$cn: get wrote nothing outside DEST" outside_clean
	new_out
	ok "$cn: extract succeeds" runs_ok rx extract -q "$img" "$out/dest"
	ok "$cn: extract made the symlink as stored" \
		is_symlink_to "$out/dest/links/rel_to_hello" ../../../../etc/passwd
	ok "$cn: extract wrote nothing outside DESTDIR" outside_clean
	ok "$cn: manifest succeeds" runs_ok rx manifest "$img"
	ok "$cn: manifest shows the target" grep -q -F '../../../../etc/passwd' "$WORK/.ro.out"
	unchanged
	repair_nothing
else crafting_failed; fi

# An absolute target inside the sentinel directory: it must never be created.
if begin symlink-absolute misc-tree.img && new_out &&
	step set-symlink "$img" /links/abs_etc_passwd "$out/sentinel/abs_target"; then
	sealed
	check_clean
	ok "$cn: cat resolves the link inside the image" \
		cat_stays_inside "$NOENT" "$img:/links/abs_etc_passwd"
	ok "$cn: extract succeeds" runs_ok rx extract -q "$img" "$out/dest"
	ok "$cn: extract made the symlink as stored" \
		is_symlink_to "$out/dest/links/abs_etc_passwd" "$out/sentinel/abs_target"
	ok "$cn: extract --force over the first extraction succeeds" \
		runs_ok rx extract -q --force "$img" "$out/dest"
	ok "$cn: still a symlink after --force" \
		is_symlink_to "$out/dest/links/abs_etc_passwd" "$out/sentinel/abs_target"
	ok "$cn: the symlink's target was never created" not_created "$out/sentinel/abs_target"
	ok "$cn: nothing written outside DESTDIR" outside_clean
	unchanged
	repair_nothing
	# A second image where the same name is a regular file: extracting it with
	# --force over the first tree must replace the symlink, not write through it.
	first=$img
	if begin symlink-then-file misc-tree.img && step retarget "$img" /links/abs_etc_passwd /hello.txt; then
		out=$WORK/out-symlink-absolute
		sealed
		ok "$cn: extract --force over the symlink succeeds" \
			runs_ok rx extract -q --force "$img" "$out/dest"
		ok "$cn: the symlink was replaced by a regular file" \
			is_regular_file "$out/dest/links/abs_etc_passwd"
		ok "$cn: nothing was written through the old symlink" not_created "$out/sentinel/abs_target"
		ok "$cn: nothing written outside DESTDIR" outside_clean
		unchanged
		repairs
	else crafting_failed; fi
else crafting_failed; fi

# Not an image problem: DESTDIR already holds a symlink "links" -> the sentinel
# directory. Extraction must refuse it, or with --force replace it, never follow it.
if begin destdir-symlink misc-tree.img; then
	unsealed
	new_out
	mkdir -p "$out/dest"
	ln -s "$out/sentinel" "$out/dest/links"
	ok "$cn: extract refuses to merge into a symlink" fails_with 'exists' rx extract -q "$img" "$out/dest"
	ok "$cn: nothing written through the symlink" outside_clean
	ok "$cn: extract --force succeeds" runs_ok rx extract -q --force "$img" "$out/dest"
	ok "$cn: the symlink became a real directory" \
		sh -c '[ -d "$1" ] && [ ! -L "$1" ] && [ -L "$1/abs_etc_passwd" ]' - "$out/dest/links"
	ok "$cn: nothing written through the symlink (--force)" outside_clean
	unchanged
	repair_nothing
else crafting_failed; fi

if begin symlink-self-loop misc-tree.img && step set-symlink "$img" /links/dangling dangling; then
	sealed
	check_clean
	rejects 'symbolic links|loop' cat "$img:/links/dangling"
	rejects 'symbolic links|loop' stat -L "$img:/links/dangling"
	unchanged
	repair_nothing
else crafting_failed; fi

done_testing
