#!/bin/sh
# rximg initfs: the reference archiver's golden archives are listed and extracted
# as their manifests say and repacked byte for byte; extract then repack gives the
# same bytes in every layout written, with no options; repack refuses to write an
# unbootable archive unless told; info --check gates on bootability; 64-bit JSON
# values are strings; edits (write and edit included) keep the bootstrap and its
# entry; an initfs inside a RedoxFS image changes in one commit that checks clean;
# hostile archives fail cleanly and extraction never writes outside DIR.
. "$top_srcdir/tests/lib.sh"

PY=${PYTHON3:-python3}
CHK="$top_srcdir/tests/tools/initfs_check.py"
LIMIT=${HOSTILE_TIMEOUT:-20}	# seconds any single rximg command may take
BOOT_SHA=3e4204782188ab4abadf9c40c07fb22b29828246cb869dceefa07d5f4d4c194d

rx() { timeout "$LIMIT" "$RXIMG" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
field() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
mansum() { awk -F'\t' -v p="$2" '$1 == p { print $8 }' "$1"; }	# manifest sha256 of a path

if ! $PY "$CHK" craft list >/dev/null 2>&1; then
	echo "1..0 # SKIP tests/tools/initfs_check.py does not run (${PYTHON3:-python3} missing?)"
	exit 0
fi

# cat ARCHIVE:PATH has SHA-256 SUM
cat_is() { rx initfs cat "$1" | sha256sum | grep -q "^$2 "; }

# The same bytes, or both files absent.
same_or_absent() { if [ -e "$1" ] || [ -e "$2" ]; then cmp "$1" "$2"; fi; }

# ---- the golden archives -----------------------------------------------------

for name in initfs-bootstrap initfs-nobootstrap; do
	img=$(test_image "$name.img") || { fail "$name: test image missing"; continue; }
	man=$DATA/$name.manifest.tsv
	w=$WORK/$name
	mkdir -p "$w"
	sum0=$(sha "$img")

	rx initfs info --json "$img" >"$w/info.json"
	ok "$name: info --json: layout v4 and the manifest's header fields" $PY "$CHK" header "$man" "$w/info.json"
	rx initfs ls -lR --json "$img" >"$w/ls.json" && rx initfs ls -d --json "$img" >"$w/root.json"
	ok "$name: ls -lR --json agrees with every manifest column (inode numbers included)" \
		$PY "$CHK" listing "$man" "$w/ls.json" "$w/root.json"
	ok "$name: extract succeeds" rx initfs extract "$img" "$w/x"
	ok "$name: the extracted tree is the manifest's; host links name the stored targets" \
		$PY "$CHK" extract "$man" "$w/x"
	if [ "$name" = initfs-bootstrap ]; then
		ok "$name: the bootstrap ELF is extracted to DIR.bootstrap exactly (8632 bytes)" \
			test "$(sha "$w/x.bootstrap" 2>/dev/null)" = $BOOT_SHA
		bopt="-b $w/x.bootstrap"
	else
		ok "$name: no bootstrap, no bootstrap file" test ! -e "$w/x.bootstrap"
		bopt=--no-bootstrap
	fi

	ok "$name: cat ARCHIVE:/etc/init.rc" cat_is "$img:/etc/init.rc" "$(mansum "$man" /etc/init.rc)"
	ok "$name: cat follows /bin/sh (stored as bin/prog1)" cat_is "$img:/bin/sh" "$(mansum "$man" /bin/prog1)"
	ok "$name: cat follows /lib/rel_link (stored as lib/../etc/init.rc)" \
		cat_is "$img:/lib/rel_link" "$(mansum "$man" /etc/init.rc)"
	ok "$name: get a file" sh -c "'$RXIMG' initfs get '$img:/lib/data.txt' '$w/data.txt' &&
		sha256sum '$w/data.txt' | grep -q '^$(mansum "$man" /lib/data.txt) '"
	ok "$name: get a directory" sh -c "'$RXIMG' initfs get '$img:/etc' '$w/etc' && diff -r '$w/etc' '$w/x/etc'"
	ok "$name: cat of a directory fails cleanly" fails_cleanly 'is a directory' rx initfs cat "$img:/etc"
	ok "$name: a missing path fails cleanly" fails_cleanly 'no such file' rx initfs cat "$img:/etc/nope"

	# Byte for byte: the extracted tree, its bootstrap, the source's order and creation time.
	t=$(field "$w/info.json" creation_time)
	ok "$name: repack of the extracted tree (--like, --time) is byte-identical to the reference's" \
		sh -c "'$RXIMG' initfs repack '$w/x' $bopt --like '$img' --time $t -o '$w/re.img' 2>/dev/null &&
			cmp '$w/re.img' '$img'"
	cp "$img" "$w/over.img" && chmod u+w "$w/over.img"
	ok "$name: repacking over the archive itself keeps its order, bootstrap and bytes" \
		sh -c "'$RXIMG' initfs repack '$w/x' --time $t -o '$w/over.img' 2>/dev/null && cmp '$w/over.img' '$img'"
	# extract, then repack with no options at all: the same bytes.
	ok "$name: repack DIR of an extracted tree, no options, is byte-identical" \
		sh -c "'$RXIMG' initfs repack '$w/x' -o '$w/plain.img' 2>/dev/null && cmp '$w/plain.img' '$img'"
	mkdir -p "$w/cwd"
	ok "$name: extract ARCHIVE . writes only the archive's tree inside . (no ./..bootstrap)" sh -c "
		cd '$w/cwd' && '$RXIMG' initfs extract '$img' . && [ ! -e ./..bootstrap ] && [ ! -e ./.bootstrap ] &&
		[ ! -e ./..initfs-meta ] && [ -f ../cwd.initfs-meta ] && diff -r . '$w/x'"
	if [ "$name" = initfs-bootstrap ]; then
		ok "$name: extract ARCHIVE .: the bootstrap goes beside ., as cwd.bootstrap" cmp "$w/cwd.bootstrap" "$w/x.bootstrap"
	else
		ok "$name: extract ARCHIVE .: no bootstrap file anywhere" sh -c "[ ! -e '$w/cwd.bootstrap' ] && [ ! -e '$w/cwd/..bootstrap' ]"
	fi
	ok "$name: then repack . -o NEW (no options) is byte-identical" \
		sh -c "cd '$w/cwd' && '$RXIMG' initfs repack . -o '$w/cwd.img' 2>/dev/null && cmp '$w/cwd.img' '$img'"
	ok "$name: the record is not archived" sh -c "! '$RXIMG' initfs ls -R '$w/cwd.img' | grep -q -e bootstrap -e initfs-meta"
	rx initfs repack --no-meta "$w/x" $bopt -o "$w/sorted.img" 2>/dev/null
	rx initfs ls -lR --json "$w/sorted.img" >"$w/sorted.json"
	ok "$name: repack in name order: every file, mode and link as the original" \
		$PY "$CHK" same "$w/ls.json" "$w/sorted.json"
	rx initfs extract -B "$w/sorted.boot" "$w/sorted.img" "$w/sx" 2>/dev/null
	ok "$name: repack in name order: the same bootstrap bytes, layout v4" sh -c "
		[ \"\$('$RXIMG' initfs info --json '$w/sorted.img' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"layout\"])')\" = v4 ] &&
		{ [ ! -e '$w/x.bootstrap' ] || cmp '$w/sorted.boot' '$w/x.bootstrap'; }"
	ok "$name: reading never changed the archive" test "$(sha "$img")" = "$sum0"
done

# ---- the disk flush: only an archive that replaces one is flushed before its rename ----

g=$(test_image initfs-bootstrap.img)
gx=$WORK/initfs-bootstrap/x
if [ -n "$g" ] && [ -d "$gx" ] && command -v strace >/dev/null; then
	n=$(flushes_of "$WORK/fl.img.partial" "$RXIMG" initfs repack "$gx" -b "$gx.bootstrap" -o "$WORK/fl.img")
	ok "repack into a new archive: not flushed, like cp (flushes: $n)" test "$n" = 0
	n=$(flushes_of "$WORK/fl.img.partial" "$RXIMG" initfs repack "$gx" -b "$gx.bootstrap" -o "$WORK/fl.img")
	ok "repack over an existing archive: flushed before the rename (flushes: $n)" test "$n" -ge 1
	n=$(flushes_of "$WORK/fl.img.partial" "$RXIMG" initfs rm "$WORK/fl.img" /lib/data.txt)
	ok "an in-place edit: flushed before the rename (flushes: $n)" test "$n" -ge 1
	ok "after the edit the archive reads back without the file" \
		sh -c "! '$RXIMG' initfs cat '$WORK/fl.img:/lib/data.txt' 2>/dev/null && '$RXIMG' initfs cat '$WORK/fl.img:/etc/init.rc' >/dev/null"
else
	skip "initfs: which outputs are flushed" "strace or the extracted golden archive is missing"
fi

# ---- layouts: conversion, detection override, reproducibility -----------------

g=$(test_image initfs-bootstrap.img)
gx=$WORK/initfs-bootstrap/x
if [ -n "$g" ] && [ -d "$gx" ]; then
	rx initfs repack "$gx" -b "$gx.bootstrap" --layout v6 -o "$WORK/v6.img" 2>/dev/null
	ok "v6: repack writes layout v6" sh -c "'$RXIMG' initfs info '$WORK/v6.img' | grep -q '^layout  *v6:'"
	ok "v6: links are stored relative to their directory" \
		sh -c "'$RXIMG' initfs ls -l '$WORK/v6.img:/bin' | grep -q ' sh -> prog1\$' &&
			'$RXIMG' initfs ls -l '$WORK/v6.img:/lib' | grep -q 'rel_link -> ../etc/init.rc\$'"
	ok "v6: the contents read back (extract, diff -r)" \
		sh -c "'$RXIMG' initfs extract '$WORK/v6.img' '$WORK/v6x' && diff -r '$gx' '$WORK/v6x' && cmp '$gx.bootstrap' '$WORK/v6x.bootstrap'"
	ok "v6: modes are what 12-byte inodes give (0555 executable, 0444 other files)" \
		sh -c "[ \$(stat -c %a '$WORK/v6x/bin/prog1') = 555 ] && [ \$(stat -c %a '$WORK/v6x/etc/init.rc') = 444 ]"
	ok "v6 needs a bootstrap" fails_cleanly 'requires a bootstrap' rx initfs repack "$gx" --no-bootstrap --layout v6 -o "$WORK/v6b.img"
	for l in v1 v3 v5b; do
		src=$gx
		[ $l = v1 ] && { cp -a "$gx" "$WORK/nolinks"; rm "$WORK/nolinks/bin/sh" "$WORK/nolinks/lib/rel_link"; src=$WORK/nolinks; }
		rx initfs repack "$src" --no-bootstrap --layout $l -o "$WORK/$l.img" 2>/dev/null
		ok "$l: written, detected and read back" sh -c "'$RXIMG' initfs info '$WORK/$l.img' | grep -q '^layout  *$l:' &&
			'$RXIMG' initfs extract '$WORK/$l.img' '$WORK/$l.x' && diff -r '$src' '$WORK/$l.x'"
	done
	ok "v1 has no symbolic links" fails_cleanly 'cannot be stored' rx initfs repack "$gx" --layout v1 --no-bootstrap -o "$WORK/v1b.img"
	ok "--layout v4 reads the archive as told" sh -c "'$RXIMG' initfs info --layout v4 '$g' | grep -q '^layout  *v4 (as told)'"
	ok "--layout v6 on a v4 archive fails cleanly" fails_cleanly 'not a valid layout v6' rx initfs info --layout v6 "$g"
	ok "--layout v9 is a usage error" sh -c "'$RXIMG' initfs info --layout v9 '$g' 2>/dev/null; [ \$? = 2 ]"
	SOURCE_DATE_EPOCH=1700000000 rx initfs repack --no-meta "$gx" -b "$gx.bootstrap" -o "$WORK/r1.img" 2>/dev/null
	SOURCE_DATE_EPOCH=1700000000 rx initfs repack --no-meta "$gx" -b "$gx.bootstrap" -o "$WORK/r2.img" 2>/dev/null
	ok "SOURCE_DATE_EPOCH: two repacks are byte-identical" cmp "$WORK/r1.img" "$WORK/r2.img"
	ok "SOURCE_DATE_EPOCH is the creation time" sh -c "'$RXIMG' initfs info --json '$WORK/r1.img' | grep -q '\"creation_time\":\"1700000000.000000000\"'"
	ok "--max-size: too small fails, names what is missing, leaves nothing behind" sh -c "
		! '$RXIMG' initfs repack '$gx' --no-bootstrap --max-size 100K -o '$WORK/small.img' 2>'$WORK/small.err' &&
		grep -q 'needs 524288 bytes, 421888 bytes more than the maximum size of 102400' '$WORK/small.err' &&
		[ ! -e '$WORK/small.img' ] && [ ! -e '$WORK/small.img.partial' ]"
	ok "an existing file that is not an initfs is not overwritten" sh -c "
		echo precious >'$WORK/precious' && ! '$RXIMG' initfs repack '$gx' -o '$WORK/precious' 2>/dev/null &&
		grep -q precious '$WORK/precious'"
	mkdir -p "$WORK/abstree" && ln -sf /bin/init "$WORK/abstree/sh"
	ok "an absolute host link is refused" fails_cleanly 'absolute symlink target' rx initfs repack "$WORK/abstree" -o "$WORK/abs.img"
fi

# ---- edits in place -----------------------------------------------------------

if [ -n "$g" ] && [ -d "$gx" ]; then
	man=$DATA/initfs-bootstrap.manifest.tsv
	ed=$WORK/ed.img
	cp "$g" "$ed" && chmod u+w "$ed"
	entry0=$(rx initfs info --json "$g" | $PY -c 'import json,sys; print(json.load(sys.stdin)["bootstrap_entry"])')
	rx initfs ls -RU --json "$ed" >"$WORK/ed0.json"
	printf 'echo new init\n' >"$WORK/init.rc"
	printf 'key = 1\n' >"$WORK/new.conf" && chmod 0600 "$WORK/new.conf"
	mkdir -p "$WORK/opt/sub" && echo tool >"$WORK/opt/sub/tool" && chmod 0755 "$WORK/opt/sub/tool"
	ok "put: replace /etc/init.rc" rx initfs put "$ed" "$WORK/init.rc:/etc/init.rc"
	ok "put: the new init.rc reads back, its mode kept" sh -c "'$RXIMG' initfs cat '$ed:/etc/init.rc' | grep -q 'echo new init' &&
		'$RXIMG' initfs ls -l '$ed:/etc' | grep -q '^-rw-r--r-- .* init.rc\$'"
	ok "put: add a file (mode of its source) and a tree (-r -P)" rx initfs put -r -P "$ed" \
		"$WORK/new.conf:/etc/new.conf" "$WORK/opt:/usr/"
	ok "put: they read back" sh -c "'$RXIMG' initfs cat '$ed:/etc/new.conf' | grep -q 'key = 1' &&
		'$RXIMG' initfs cat '$ed:/usr/opt/sub/tool' | grep -q tool &&
		'$RXIMG' initfs ls -l '$ed:/etc' | grep -q '^-rw------- .* new.conf\$'"
	ok "rm: a file" rx initfs rm "$ed" /lib/data.txt
	ok "rm: it is gone" fails_cleanly 'no such file' rx initfs cat "$ed:/lib/data.txt"
	ok "rm: a directory needs -r" fails_cleanly 'use -r' rx initfs rm "$ed" /etc/pcid.d
	ok "mkdir -p, ln (absolute and relative targets), chmod" sh -c "
		'$RXIMG' initfs mkdir -p '$ed' /a/b && '$RXIMG' initfs ln '$ed' /bin/prog2 /a/b/abs &&
		'$RXIMG' initfs ln '$ed' ../../bin/prog2 /a/b/rel && '$RXIMG' initfs chmod '$ed' 0700 /bin/prog3"
	ok "ln: both links are stored root-relative (v4) and lead to /bin/prog2" sh -c "
		'$RXIMG' initfs ls -l '$ed:/a/b' | grep -q 'abs -> bin/prog2\$' &&
		'$RXIMG' initfs ls -l '$ed:/a/b' | grep -q 'rel -> a/b/../../bin/prog2\$' &&
		'$RXIMG' initfs cat '$ed:/a/b/abs' | sha256sum | grep -q '^$(mansum "$man" /bin/prog2) ' &&
		'$RXIMG' initfs cat '$ed:/a/b/rel' | sha256sum | grep -q '^$(mansum "$man" /bin/prog2) '"
	ok "chmod: the mode is stored" sh -c "'$RXIMG' initfs ls -l '$ed:/bin' | grep -q '^-rwx------ .* prog3\$'"
	rx initfs extract -B "$WORK/ed.boot" "$ed" "$WORK/edx"
	ok "edits keep the bootstrap bytes" cmp "$WORK/ed.boot" "$gx.bootstrap"
	ok "edits keep bootstrap_entry and the layout" sh -c "
		'$RXIMG' initfs info --json '$ed' | $PY -c 'import json,sys; i = json.load(sys.stdin); assert i[\"bootstrap_entry\"] == \"$entry0\" and i[\"layout\"] == \"v4\", i'"
	ok "edits keep the other files" sh -c "cmp '$WORK/edx/bin/prog6' '$gx/bin/prog6' && diff -r '$WORK/edx/etc/pcid.d' '$gx/etc/pcid.d'"
	rx initfs ls -RU --json "$ed" >"$WORK/ed1.json"
	ok "edits keep the stored entry order" $PY "$CHK" order "$WORK/ed0.json" "$WORK/ed1.json"
	ok "new entries go last in their directory" sh -c "'$RXIMG' initfs ls -U '$ed:/etc' | tail -n1 | grep -qx new.conf"
	cp "$g" "$WORK/e1.img" && cp "$g" "$WORK/e2.img" && chmod u+w "$WORK/e1.img" "$WORK/e2.img"
	SOURCE_DATE_EPOCH=1700000000 rx initfs put "$WORK/e1.img" "$WORK/init.rc:/etc/init.rc"
	SOURCE_DATE_EPOCH=1700000000 rx initfs put "$WORK/e2.img" "$WORK/init.rc:/etc/init.rc"
	ok "edits are reproducible with SOURCE_DATE_EPOCH" cmp "$WORK/e1.img" "$WORK/e2.img"
	s=$(sha "$ed")
	ok "a failing edit (over --max-size) fails cleanly" fails_cleanly 'bytes more than the maximum size' \
		rx initfs put --max-size 64K "$ed" "$WORK/init.rc:/etc/x"
	ok "a command with one bad path changes nothing" fails_cleanly 'no such file' \
		rx initfs rm "$ed" /etc/init_drivers.rc /nope
	ok "failed edits leave the archive and no .partial behind" sh -c "[ '$(sha "$ed")' = '$s' ] && [ ! -e '$ed.partial' ]"
	ok "editing a hostile archive fails cleanly" sh -c "$PY '$CHK' craft loop '$g' '$WORK/loop.img' &&
		! '$RXIMG' initfs put '$WORK/loop.img' '$WORK/init.rc:/x' 2>/dev/null"
fi

# ---- an initfs inside a RedoxFS image ------------------------------------------

disk=$WORK/disk.img
if [ -n "$g" ] && rx mkfs -s 16M "$disk" >/dev/null && rx mkdir "$disk:/boot" && rx put "$g" "$disk:/boot/initfs"; then
	pass "image: mkfs, and the golden initfs put at /boot/initfs"
	ok "image: info and ls through IMAGE:/boot/initfs" sh -c "'$RXIMG' initfs info '$disk:/boot/initfs' | grep -q '^layout  *v4:' &&
		'$RXIMG' initfs ls '$disk:/boot/initfs:/bin' | grep -qx prog6"
	ok "image: put replaces /etc/init.rc inside the image's initfs" rx initfs put "$disk:/boot/initfs" "$WORK/init.rc:/etc/init.rc"
	ok "image: check is clean" rx check -q "$disk"
	ok "image: cat IMAGE:/boot/initfs:/etc/init.rc" sh -c "'$RXIMG' initfs cat '$disk:/boot/initfs:/etc/init.rc' | grep -q 'echo new init'"
	ok "image: rm, mkdir, ln, chmod" sh -c "'$RXIMG' initfs rm '$disk:/boot/initfs' /lib/data.txt &&
		'$RXIMG' initfs mkdir '$disk:/boot/initfs' /new && '$RXIMG' initfs ln '$disk:/boot/initfs' prog1 /bin/init &&
		'$RXIMG' initfs chmod '$disk:/boot/initfs' 0750 /bin/prog1"
	ok "image: check is clean after every edit" rx check -q "$disk"
	rx get "$disk:/boot/initfs" "$WORK/from-disk.img"
	ok "image: the edited archive keeps the bootstrap bytes and entry" sh -c "
		'$RXIMG' initfs extract -B '$WORK/fd.boot' '$WORK/from-disk.img' '$WORK/fdx' && cmp '$WORK/fd.boot' '$gx.bootstrap' &&
		'$RXIMG' initfs info '$WORK/from-disk.img' | grep -q '^bootstrap_entry  *0x401000\$'"
	ok "image: /bin/init now leads to prog1" cat_is "$disk:/boot/initfs:/bin/init" "$(mansum "$DATA/initfs-bootstrap.manifest.tsv" /bin/prog1)"
	s=$(sha "$disk")
	ok "image: a failing edit fails cleanly" fails_cleanly 'bytes more than the maximum size' \
		rx initfs put --max-size 64K "$disk:/boot/initfs" "$WORK/init.rc:/etc/y"
	ok "image: and leaves the image byte-for-byte untouched" test "$(sha "$disk")" = "$s"
	t=$(field "$WORK/initfs-bootstrap/info.json" creation_time)
	ok "image: repack -o IMAGE:/boot/initfs replaces it in one commit (same bytes as the reference)" sh -c "
		'$RXIMG' initfs repack '$gx' --time $t -o '$disk:/boot/initfs' 2>/dev/null && '$RXIMG' check -q '$disk' &&
		'$RXIMG' get '$disk:/boot/initfs' '$WORK/back.img' && cmp '$WORK/back.img' '$g'"
	ok "image: repack -o IMAGE:/boot/new creates the file" sh -c "
		'$RXIMG' initfs repack '$gx' -b '$gx.bootstrap' -o '$disk:/boot/new' 2>/dev/null && '$RXIMG' check -q '$disk' &&
		'$RXIMG' initfs cat '$disk:/boot/new:/etc/init.rc' >/dev/null"
	ok "image: a RedoxFS path that is not an initfs fails cleanly" fails_cleanly 'is a directory' \
		rx initfs ls "$disk:/boot"
	ok "image: IMAGE without a path fails cleanly" fails_cleanly 'named IMAGE:/path' rx initfs info "$disk"
else
	fail "image: mkfs, and the golden initfs put at /boot/initfs"
fi

# ---- hostile archives -----------------------------------------------------------

# Only DIR (and DIR.bootstrap, DIR.initfs-meta) may appear next to the archive.
nothing_outside() {  # nothing_outside CASEDIR
	extra=$(ls -A "$1" | grep -v -x -e case.img -e out -e out.bootstrap -e out.initfs-meta -e err)
	[ -z "$extra" ] || { echo "written outside DIR: $extra"; return 1; }
	[ -z "$(find "$1/out" -mindepth 1 ! -type l ! -type d 2>/dev/null | head -n1)" ] || [ "$2" = any ]
}

extract_fails() {  # extract_fails REGEX CASEDIR
	fails_cleanly "$1" rx initfs extract "$2/case.img" "$2/out" && nothing_outside "$2"
}

if [ -n "$g" ]; then
	$PY "$CHK" craft list >"$WORK/cases"
	while IFS="$(printf '\t')" read -r case re; do
		d=$WORK/hostile/$case
		mkdir -p "$d"
		if ! $PY "$CHK" craft "$case" "$g" "$d/case.img"; then
			fail "hostile $case: crafting"
			continue
		fi
		if [ "$case" = deep ]; then
			ok "hostile deep (3000 nested directories): info reads it" rx initfs info "$d/case.img"
			ok "hostile deep: ls -R refuses cleanly" fails_cleanly 'nest' rx initfs ls -R "$d/case.img"
			ok "hostile deep: extract refuses cleanly" fails_cleanly 'nest too deep' rx initfs extract "$d/case.img" "$d/out"
			continue
		fi
		ok "hostile $case: info fails cleanly" fails_cleanly "$re" rx initfs info "$d/case.img"
		ok "hostile $case: ls -R fails cleanly" fails_cleanly "$re" rx initfs ls -R "$d/case.img"
		ok "hostile $case: extract fails cleanly and writes nothing outside DIR" extract_fails "$re" "$d"
	done <"$WORK/cases"

	# A link that leads out of DIR is made as a link; nothing is written through it.
	d=$WORK/hostile/escape
	mkdir -p "$d" "$WORK/outside"
	cp "$g" "$d/case.img" && chmod u+w "$d/case.img"
	rx initfs ln -f "$d/case.img" ../../../../../../../../outside/pwned /bin/sh
	ok "escape: a link out of the archive is extracted as a dangling link" sh -c "
		'$RXIMG' initfs extract '$d/case.img' '$d/out' && [ -L '$d/out/bin/sh' ] && [ -z \"\$(ls -A '$WORK/outside')\" ]"
	mkdir -p "$d/out2" && ln -s "$WORK/outside" "$d/out2/etc"
	ok "escape: a host symlink in DIR is never followed (refused without -f)" fails_cleanly 'already exists' \
		rx initfs extract "$d/case.img" "$d/out2"
	ok "escape: with -f it is replaced by a directory; nothing lands outside" sh -c "
		'$RXIMG' initfs extract -f '$d/case.img' '$d/out2' && [ -d '$d/out2/etc' ] && [ ! -L '$d/out2/etc' ] &&
		[ -z \"\$(ls -A '$WORK/outside')\" ]"

	# Found by fuzzing (fuzz_initfs): files that end inside the 44-byte header.
	for b64 in UmVkb3hGdHf///////////0CCzfW+amxpyFviJ11HVlaj3BCQpnQm3Rj \
		UmVkb3hGdHcAEAAeAACyKhN2AAAB/QILN9f5qbGnIW+PL3BCQpnQm3Rj; do
		d=$WORK/hostile/short-$(printf %s "$b64" | cksum | cut -d' ' -f1)
		mkdir -p "$d"
		printf %s "$b64" | base64 -d >"$d/case.img"
		ok "hostile $(wc -c <"$d/case.img")-byte header: info fails cleanly" \
			fails_cleanly 'layout|header|too short|smaller' rx initfs info "$d/case.img"
		ok "hostile $(wc -c <"$d/case.img")-byte header: extract fails cleanly" \
			extract_fails 'layout|header|too short|smaller' "$d"
	done

	# Random damage to header, inode table, directory tables and names.
	fz=$WORK/fuzz
	mkdir -p "$fz"
	$PY "$CHK" fuzz "$g" "$fz" "${INITFS_FUZZ:-80}" 7
	bad=0
	n=0
	for f in "$fz"/fuzz-*.img; do
		n=$((n + 1))
		d=$fz/case-$n
		mkdir -p "$d" && mv "$f" "$d/case.img"
		for cmd in "extract $d/case.img $d/out" "ls -lR $d/case.img"; do
			rx initfs $cmd >/dev/null 2>"$d/err"
			rc=$?
			if [ $rc -gt 1 ] || grep -q -E 'Sanitizer|runtime error' "$d/err" ||
				{ [ $rc = 1 ] && ! grep -q '^rximg: ' "$d/err"; }; then
				diag "fuzz case $n: rximg initfs $cmd: exit $rc"
				sed 's/^/#   /' "$d/err" | head -5
				bad=$((bad + 1))
			fi
		done
		nothing_outside "$d" any >/dev/null || { diag "fuzz case $n wrote outside DIR"; bad=$((bad + 1)); }
	done
	ok "fuzz: $n damaged archives: no crash, a clean error or success, nothing outside DIR" test $bad = 0
fi

# ---- extract then repack: the same bytes in every layout rximg writes -------------

g=$(test_image initfs-bootstrap.img)
gx=$WORK/initfs-bootstrap/x
rt=$WORK/rt
mkdir -p "$rt"
$PY "$CHK" bootelf "$rt/boot.elf"
if [ -n "$g" ] && [ -d "$gx" ]; then
	# A tree with more than the golden one: empty file and folder, setuid, sticky, deep links.
	cp -a "$gx" "$rt/src"
	chmod u+w -R "$rt/src"
	: >"$rt/src/etc/empty.conf"
	mkdir -p "$rt/src/usr/share/deep" "$rt/src/var/empty"
	echo data >"$rt/src/usr/share/deep/file" && chmod 4755 "$rt/src/usr/share/deep/file"
	chmod 1777 "$rt/src/var/empty"
	ln -s ../../../etc/init.rc "$rt/src/usr/share/deep/up"
	ln -s . "$rt/src/usr/self"
	cp -a "$rt/src" "$rt/nolinks"
	find "$rt/nolinks" -type l -exec rm {} +
	for l in v1 v3 v4 v5b v6; do
		src=$rt/src bopt="-b $rt/boot.elf"
		[ $l = v1 ] && src=$rt/nolinks bopt=--no-bootstrap
		[ $l = v3 ] && bopt=--no-bootstrap
		a=$rt/$l.img
		rx initfs repack --no-meta "$src" $bopt --layout $l -o "$a" 2>/dev/null
		ok "round trip $l: extract then repack (no options) is byte-identical" sh -c "
			'$RXIMG' initfs extract '$a' '$rt/$l.x' && '$RXIMG' initfs repack '$rt/$l.x' -o '$rt/$l.again' 2>/dev/null &&
			cmp '$a' '$rt/$l.again'"
		ok "round trip $l: through . as well" sh -c "mkdir -p '$rt/$l.cwd' && cd '$rt/$l.cwd' &&
			'$RXIMG' initfs extract '$a' . && '$RXIMG' initfs repack . -o '$rt/$l.again2' 2>/dev/null &&
			cmp '$a' '$rt/$l.again2'"
	done

	# An edited v4 archive: links stored as 'ln' stores them (root-relative, not what a
	# host link converts back to), and a file owned by someone (only the record holds that).
	e=$rt/edited.img
	cp "$rt/v4.img" "$e"
	rx initfs mkdir -p "$e" /a/b && rx initfs ln "$e" /bin/prog1 /a/b/abs && rx initfs ln "$e" ../../etc /a/b/rel
	$PY "$CHK" setowner "$e" "$rt/owned.img" /etc/init.rc 1000 100
	for a in "$e" "$rt/owned.img"; do
		b=$(basename "$a" .img)
		ok "round trip $b: extract then repack is byte-identical" sh -c "
			'$RXIMG' initfs extract '$a' '$rt/$b.x' && '$RXIMG' initfs repack '$rt/$b.x' -o '$rt/$b.again' 2>/dev/null &&
			cmp '$a' '$rt/$b.again'"
	done
	ok "round trip: an archive's root mode survives extraction into an existing folder" sh -c "
		mkdir -m 0700 '$rt/existing' && '$RXIMG' initfs extract '$rt/v4.img' '$rt/existing' &&
		'$RXIMG' initfs repack '$rt/existing' -o '$rt/existing.img' 2>/dev/null && cmp '$rt/v4.img' '$rt/existing.img'"

	# bootstrap_entry different from e_entry: kept while the bootstrap is the one extracted.
	$PY "$CHK" setentry "$g" "$rt/oddentry.img" 0x402000
	ok "round trip: a bootstrap_entry other than e_entry is reproduced" sh -c "
		'$RXIMG' initfs extract '$rt/oddentry.img' '$rt/odd' 2>/dev/null &&
		'$RXIMG' initfs repack '$rt/odd' -o '$rt/odd.img' 2>/dev/null && cmp '$rt/oddentry.img' '$rt/odd.img'"
	printf '\0' >>"$rt/odd.bootstrap"
	ok "round trip: a changed bootstrap file gets its own e_entry" sh -c "
		'$RXIMG' initfs repack '$rt/odd' -o '$rt/odd2.img' 2>/dev/null &&
		'$RXIMG' initfs info '$rt/odd2.img' | grep -q '^bootstrap_entry  *0x401000\$'"

	# What the record does not decide: options, an edited tree.
	ok "repack: an edited tree keeps the record's order; new names sorted at the end" sh -c "
		cp -a '$rt/v4.x' '$rt/ed.x' && cp '$rt/v4.x.initfs-meta' '$rt/ed.x.initfs-meta' &&
		cp '$rt/v4.x.bootstrap' '$rt/ed.x.bootstrap' && echo z >'$rt/ed.x/etc/zz' && echo a >'$rt/ed.x/etc/aa' &&
		sed -i 's/^bootstrap\tv4.x.bootstrap/bootstrap\ted.x.bootstrap/' '$rt/ed.x.initfs-meta' &&
		'$RXIMG' initfs repack '$rt/ed.x' -o '$rt/ed.img' 2>/dev/null &&
		'$RXIMG' initfs ls -U '$rt/ed.img:/etc' | tail -n2 | tr '\n' ' ' | grep -qx 'aa zz ' &&
		'$RXIMG' initfs ls -U '$rt/v4.img:/etc' >'$rt/o1' && '$RXIMG' initfs ls -U '$rt/ed.img:/etc' | grep -v -x -e aa -e zz | cmp - '$rt/o1'"
	ok "repack --time and --layout win over the record" sh -c "
		'$RXIMG' initfs repack '$rt/v4.x' --time 1234 --layout v5b -b '$rt/boot.elf' -o '$rt/t.img' 2>/dev/null &&
		'$RXIMG' initfs info --json '$rt/t.img' | $PY -c 'import json,sys; i = json.load(sys.stdin); assert i[\"layout\"] == \"v5b\" and i[\"creation_time\"] == \"1234.000000000\", i'" 
	ok "repack --meta FILE reads the record from elsewhere" sh -c "
		mv '$rt/v4.x.initfs-meta' '$rt/v4.meta' && ! [ -e '$rt/v4.x.initfs-meta' ] &&
		'$RXIMG' initfs repack '$rt/v4.x' --meta '$rt/v4.meta' -o '$rt/m.img' 2>/dev/null && cmp '$rt/v4.img' '$rt/m.img'"
	ok "repack --meta: a missing record fails cleanly" fails_cleanly 'No such file' \
		rx initfs repack "$rt/v4.x" --meta "$rt/nope" -o "$rt/m2.img"
	printf 'rximg-initfs-meta\t1\nlayout\tv4\nbootstrap\tnone\nentry\t/a/b\n' >"$rt/bad.meta"
	ok "repack --meta: a damaged record names its line" fails_cleanly 'bad.meta: line 4: listed before its folder' \
		rx initfs repack "$rt/v4.x" --meta "$rt/bad.meta" -o "$rt/m3.img"
	ok "extract -B FILE --meta-out FILE: repack finds the bootstrap through the record" sh -c "
		'$RXIMG' initfs extract -B '$rt/elsewhere.elf' --meta-out '$rt/elsewhere.meta' '$rt/v4.img' '$rt/v4e' &&
		[ ! -e '$rt/v4e.bootstrap' ] && [ ! -e '$rt/v4e.initfs-meta' ] &&
		'$RXIMG' initfs repack '$rt/v4e' --meta '$rt/elsewhere.meta' -o '$rt/v4e.img' 2>/dev/null && cmp '$rt/v4.img' '$rt/v4e.img'"
fi

# ---- repack without a bootstrap: only on purpose -----------------------------------

if [ -n "$g" ] && [ -d "$gx" ]; then
	cp -a "$gx" "$WORK/nb"	# a host tree with no record
	ok "repack without a bootstrap fails cleanly, writes nothing" sh -c "
		! '$RXIMG' initfs repack '$WORK/nb' -o '$WORK/nb.img' 2>'$WORK/nb.err' &&
		grep -q '^rximg: .*no bootstrap: the archive would not boot.*--no-bootstrap' '$WORK/nb.err' &&
		[ ! -e '$WORK/nb.img' ] && [ ! -e '$WORK/nb.img.partial' ]"
	ok "repack --no-bootstrap writes it (and warns)" sh -c "
		'$RXIMG' initfs repack --no-bootstrap '$WORK/nb' -o '$WORK/nb.img' 2>'$WORK/nb.err' &&
		grep -q 'will not boot' '$WORK/nb.err'"
	ok "repack of a tree whose record says 'no bootstrap' over an archive with one fails cleanly" \
		fails_cleanly 'has a bootstrap, the archive .* was extracted from had none' \
		rx initfs repack "$WORK/initfs-nobootstrap/x" -o "$WORK/initfs-bootstrap/over.img"
	ok "repack over an archive with a bootstrap keeps it without -b" sh -c "
		'$RXIMG' initfs repack '$WORK/nb' -o '$WORK/initfs-bootstrap/over.img' 2>/dev/null &&
		'$RXIMG' initfs info '$WORK/initfs-bootstrap/over.img' | grep -q '^bootstrap_entry  *0x401000\$'"
	ok "repack v1 (no bootstrap possible) needs no --no-bootstrap" \
		rx initfs repack --layout v1 "$rt/nolinks" --no-meta -o "$WORK/nb-v1.img"
fi

# ---- info: --check and JSON ---------------------------------------------------------

nb=$(test_image initfs-nobootstrap.img)
if [ -n "$g" ] && [ -n "$nb" ]; then
	mkdir -p "$WORK/bt/bin" && echo init >"$WORK/bt/bin/init" && chmod 0755 "$WORK/bt/bin/init"
	rx initfs repack "$WORK/bt" -b "$rt/boot.elf" -o "$WORK/bt.img" 2>/dev/null
	status_is() { want=$1; shift; "$@" >/dev/null 2>&1; got=$?; [ "$got" = "$want" ] || { echo "exit $got, want $want"; return 1; }; }
	ok "info --check: a bootable archive exits 0" status_is 0 rx initfs info --check "$WORK/bt.img"
	ok "info --check: no bootstrap (will not boot) exits 3" status_is 3 rx initfs info --check "$nb"
	ok "info --check: a bootstrap not linked for the initfs exits 3" status_is 3 rx initfs info --check "$g"
	ok "info without --check still exits 0 on an unbootable archive" status_is 0 rx initfs info "$nb"
	ok "info --check: an unreadable archive exits 1" status_is 1 rx initfs info --check "$WORK/loop.img"
	ok "info: the boot check line says why" sh -c "'$RXIMG' initfs info '$nb' | grep -q '^boot check  *fails: 2 of the warnings' &&
		'$RXIMG' initfs info '$WORK/bt.img' | grep -q '^boot check  *passes'"
	jcheck() {  # jcheck ARCHIVE PYTHON-ASSERTION
		"$RXIMG" initfs info --json "$1" | $PY -c "import json, sys; i = json.load(sys.stdin); assert $2, i"
	}
	ok "info --json: bootstrap_entry 0xffffffffffffffff is the exact string" \
		jcheck "$nb" 'i["bootstrap_entry"] == "0xffffffffffffffff" and i["bootable"] is False and len(i["boot_problems"]) == 2'
	ok "info --json: bootstrap_entry and e_entry are hex strings" \
		jcheck "$g" 'i["bootstrap_entry"] == "0x401000" and i["bootstrap"]["e_entry"] == "0x401000"'
	ok "info --json: a bootable archive" jcheck "$WORK/bt.img" 'i["bootable"] is True and i["boot_problems"] == [] and i["bootstrap_entry"] == "0x2080"'
	ok "ls --json: every number is exact in a double (below 2^53)" sh -c "
		'$RXIMG' initfs ls -lR --json '$nb' | $PY -c 'import json, sys
for e in json.load(sys.stdin):
    for k, v in e.items():
        assert not isinstance(v, int) or v < 2**53, (k, v)'"
fi

# ---- write and edit: one file from standard input or $EDITOR --------------------------

if [ -n "$g" ]; then
	we=$WORK/we.img
	cp "$g" "$we" && chmod u+w "$we"
	rx initfs extract -B "$WORK/we0.boot" --meta-out - "$we" "$WORK/we0" 2>/dev/null
	ok "write: standard input replaces /etc/init.rc" sh -c "
		echo 'echo from stdin' | '$RXIMG' initfs write '$we:/etc/init.rc' &&
		'$RXIMG' initfs cat '$we:/etc/init.rc' | grep -qx 'echo from stdin' &&
		'$RXIMG' initfs ls -l '$we:/etc' | grep -q '^-rw-r--r-- .* init.rc\$'"
	ok "write: a new file, with -m" sh -c "
		printf 'k=v\n' | '$RXIMG' initfs write -m 0600 '$we:/etc/new.conf' &&
		'$RXIMG' initfs ls -l '$we:/etc' | grep -q '^-rw------- .* new.conf\$'"
	ok "write: through a link to its file" sh -c "
		echo linked | '$RXIMG' initfs write '$we:/lib/rel_link' && '$RXIMG' initfs cat '$we:/etc/init.rc' | grep -qx linked &&
		'$RXIMG' initfs ls -l '$we:/lib' | grep -q 'rel_link -> lib/../etc/init.rc\$'"
	ok "write and edit keep the bootstrap bytes, bootstrap_entry, layout and order" sh -c "
		'$RXIMG' initfs extract -B '$WORK/we1.boot' --meta-out - '$we' '$WORK/we1' 2>/dev/null && cmp '$WORK/we0.boot' '$WORK/we1.boot' &&
		'$RXIMG' initfs info '$we' | grep -q '^bootstrap_entry  *0x401000\$' &&
		'$RXIMG' initfs info '$we' | grep -q '^layout  *v4:' &&
		'$RXIMG' initfs ls -U '$we:/etc' | head -n1 | grep -qx init.rc"
	s=$(sha "$we")
	ok "write: a directory fails cleanly" fails_cleanly 'is a directory' sh -c "echo x | '$RXIMG' initfs write '$we:/etc'"
	ok "write: no path inside the archive is a clean error" fails_cleanly 'name a file inside the archive' \
		sh -c "echo x | '$RXIMG' initfs write '$we'"
	ok "write: a missing folder fails cleanly" fails_cleanly 'no such' sh -c "echo x | '$RXIMG' initfs write '$we:/nope/x'"
	ok "write: failures left the archive as it was" test "$(sha "$we")" = "$s"

	# Editors as scripts: the copy is private, and only a change is written back.
	printf '#!/bin/sh\nstat -c %%a "$1" >"%s/perm"\nsed -i s/linked/edited/ "$1"\n' "$WORK" >"$WORK/ed-sed"
	printf '#!/bin/sh\necho visual >"$1"\n' >"$WORK/ed-visual"
	printf '#!/bin/sh\necho more >>"$1"\n' >"$WORK/ed-append"
	chmod +x "$WORK/ed-sed" "$WORK/ed-visual" "$WORK/ed-append"
	ok "edit: \$EDITOR changes the file" sh -c "
		VISUAL= EDITOR='$WORK/ed-sed' '$RXIMG' initfs edit '$we:/etc/init.rc' &&
		'$RXIMG' initfs cat '$we:/etc/init.rc' | grep -qx edited"
	ok "edit: the editor's copy was private (mode 600)" grep -qx 600 "$WORK/perm"
	ok "edit: \$VISUAL comes before \$EDITOR" sh -c "
		VISUAL='$WORK/ed-visual' EDITOR='$WORK/ed-sed' '$RXIMG' initfs edit '$we:/etc/init.rc' &&
		'$RXIMG' initfs cat '$we:/etc/init.rc' | grep -qx visual"
	s=$(sha "$we")
	ok "edit: an unchanged file is not written back" sh -c "
		EDITOR=true VISUAL= '$RXIMG' initfs edit '$we:/etc/init.rc' 2>'$WORK/ed.err' && grep -q unchanged '$WORK/ed.err'"
	ok "edit: unchanged means byte-identical" test "$(sha "$we")" = "$s"
	ok "edit: a failing editor changes nothing" fails_cleanly 'editor failed' \
		env EDITOR=false VISUAL= "$RXIMG" initfs edit "$we:/etc/init.rc"
	ok "edit: after a failing editor the archive is as it was" test "$(sha "$we")" = "$s"
	ok "edit: an edit that cannot be written back keeps the copy and says where" sh -c "
		! VISUAL= EDITOR='$WORK/ed-append' '$RXIMG' initfs edit --max-size 64K '$we:/etc/init.rc' 2>'$WORK/ed.err' &&
		grep -q 'bytes more than the maximum size' '$WORK/ed.err' &&
		copy=\$(sed -n 's/.*nothing was changed; your copy is in //p' '$WORK/ed.err') && [ -f \"\$copy\" ] &&
		rm \"\$copy\""
	ok "edit: and the archive is as it was" test "$(sha "$we")" = "$s"
	rm -f "${TMPDIR:-/tmp}"/rximg-edit-*-init.rc 2>/dev/null
	ok "edit: a new file" sh -c "
		VISUAL='$WORK/ed-visual' '$RXIMG' initfs edit '$we:/etc/fresh' && '$RXIMG' initfs cat '$we:/etc/fresh' | grep -qx visual"

	# Inside a disk image: one commit each, the image checks clean.
	wd=$WORK/wdisk.img
	if rx mkfs -s 16M "$wd" >/dev/null && rx mkdir "$wd:/boot" && rx put "$g" "$wd:/boot/initfs"; then
		ok "image: echo x | initfs write IMAGE:/boot/initfs:/etc/init.rc" sh -c "
			echo 'in image' | '$RXIMG' initfs write '$wd:/boot/initfs:/etc/init.rc' && '$RXIMG' check -q '$wd' &&
			'$RXIMG' initfs cat '$wd:/boot/initfs:/etc/init.rc' | grep -qx 'in image'"
		ok "image: initfs edit IMAGE:/boot/initfs:/etc/init.rc" sh -c "
			VISUAL='$WORK/ed-visual' '$RXIMG' initfs edit '$wd:/boot/initfs:/etc/init.rc' && '$RXIMG' check -q '$wd' &&
			'$RXIMG' initfs cat '$wd:/boot/initfs:/etc/init.rc' | grep -qx visual &&
			'$RXIMG' initfs info '$wd:/boot/initfs' | grep -q '^bootstrap_entry  *0x401000\$'"
	else
		fail "image: mkfs for write and edit"
	fi

	# A v6 archive stays v6.
	if [ -f "$rt/v6.img" ]; then
		cp "$rt/v6.img" "$WORK/w6.img"
		ok "write: a v6 archive stays v6 with its bootstrap" sh -c "
			echo six | '$RXIMG' initfs write '$WORK/w6.img:/etc/init.rc' &&
			'$RXIMG' initfs info '$WORK/w6.img' | grep -q '^layout  *v6:' &&
			'$RXIMG' initfs info '$WORK/w6.img' | grep -q '^bootstrap_entry  *0x2080\$' &&
			'$RXIMG' initfs cat '$WORK/w6.img:/etc/init.rc' | grep -qx six"
	fi
fi

# ---- usage and the man page ------------------------------------------------------

ok "an unknown subverb is a usage error" sh -c "'$RXIMG' initfs frob 2>/dev/null; [ \$? = 2 ]"
ok "rximg --help lists initfs" sh -c "'$RXIMG' --help | grep -q '^  initfs '"

# Every option of every subverb's --help has an item in the OPTIONS section of the page.
page=$top_srcdir/man/rximg-initfs.1
option_tags() {
	sed -e 's/\\f\[[^]]*\]//g' -e 's/\\f[A-Za-z0-9]//g' -e 's/\\[%&]//g' -e 's/\\//g' "$page" |
		awk '/^\.SH / { on = ($0 ~ /^\.SH OPTIONS/); next } on && tag { print; tag = 0; next } on && /^\.TP/ { tag = 1 }'
}
documented() {
	missing=
	for opt in $("$RXIMG" initfs "$1" --help | grep -oE -- '(^|[^-[:alnum:]])--?[[:alnum:]][-[:alnum:]]*' | sed 's/^[^-]*//' | sort -u); do
		option_tags | grep -qE -- "(^|[^-[:alnum:]])$opt([^-[:alnum:]]|\$)" || missing="$missing $opt"
	done
	[ -z "$missing" ] || { echo "undocumented:$missing"; return 1; }
}
for sub in $("$RXIMG" initfs --help | sed -n '/^Subverbs:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
	ok "rximg-initfs.1 documents every option of 'rximg initfs $sub --help'" documented "$sub"
done

done_testing
