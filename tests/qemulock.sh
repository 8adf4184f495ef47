#!/bin/sh
# Locking between rximg and a real QEMU, both ways:
#  1. while rximg writes (a read-write mount, an edit in progress), QEMU refuses the image
#     with its own "Failed to get ... lock" error, opened read-write, readonly=on or
#     snapshot=on, raw or as a qcow2 overlay; once rximg lets go, QEMU starts;
#  2. while QEMU runs (raw, qcow2 overlay and its backing file, snapshot=on, readonly=on),
#     every writing verb refuses with one line naming QEMU and leaves the image as it was;
#     reading verbs work, with one warning when QEMU may be writing; info says who holds it;
#     a read-only mount is refused while QEMU writes, made alongside readonly=on;
#     a qcow2 overlay is not written while QEMU writes its backing file;
#  3. while rximg only reads (a read-only mount) or writes an overlay (its backing file),
#     QEMU may open the file readonly=on or snapshot=on, but not read-write.
# QEMU runs without a guest (-S): it holds the image open until it is killed.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
QEMU=qemu-system-aarch64
if ! command -v $QEMU >/dev/null 2>&1; then
	skip "locking against QEMU" "$QEMU is not installed (Debian package qemu-system-arm)"
	done_testing
	exit
fi

QPIDS=""
cleanup() {
	for p in $QPIDS; do kill "$p" 2>/dev/null; done
	[ -n "$MP" ] && { fusermount3 -u -z "$MP" 2>/dev/null || umount -l "$MP" 2>/dev/null; }
	[ -n "$EDITING" ] && touch "$WORK/release"
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# QEMU on one virtio disk (drive options $1), no guest, no devices; time-bound. Run it
# directly (not in a shell function) when in the background, so that $! is timeout's pid,
# which passes a kill on to QEMU.
QARGS="-M virt -S -display none -nic none -monitor none -serial none -nodefaults"

# qemu_refuses DRIVE-OPTIONS: QEMU must exit at once with its lock error.
qemu_refuses() {
	local rc
	timeout 10 $QEMU $QARGS -drive "if=none,id=d0,$1" -device virtio-blk-device,drive=d0 \
		>"$WORK/q.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then echo "QEMU exit status $rc"; cat "$WORK/q.out"; return 1; fi
	grep -q 'Failed to get' "$WORK/q.out" || { cat "$WORK/q.out"; return 1; }
}

# qemu_start FILE DRIVE-OPTIONS: QEMU in the background until qemu_stop, once it holds FILE
# (the timeout only bounds a test that never stops it: slow builds need minutes in between).
qemu_start() {
	local file=$1 i=0
	timeout 180 $QEMU $QARGS -drive "if=none,id=d0,$2" -device virtio-blk-device,drive=d0 \
		>"$WORK/qbg.out" 2>&1 &
	QPID=$!
	QPIDS="$QPIDS $QPID"
	while [ $i -lt 100 ]; do
		kill -0 "$QPID" 2>/dev/null || break
		"$R" info "$file" 2>/dev/null | grep -q '^In use:' && return 0
		sleep 0.1
		i=$((i + 1))
	done
	cat "$WORK/qbg.out"
	qemu_stop
	return 1
}

# qemu_accepts DRIVE-OPTIONS: QEMU opens the drive and keeps running (until the timeout ends it).
qemu_accepts() {
	local rc
	timeout 3 $QEMU $QARGS -drive "if=none,id=d0,$1" -device virtio-blk-device,drive=d0 \
		>"$WORK/q.out" 2>&1
	rc=$?
	[ $rc -eq 124 ] && ! grep -q 'Failed to get' "$WORK/q.out" || { echo "QEMU exit status $rc"; cat "$WORK/q.out"; return 1; }
}

FUSE=yes
if [ ! -w /dev/fuse ] || { [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; }; then
	FUSE=
fi

qemu_stop() {
	kill "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
}

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# refused DESC FILE COMMAND...: fails cleanly naming QEMU; FILE is unchanged.
refused() {
	local desc=$1 file=$2 before
	shift 2
	before=$(sha "$file")
	ok "$desc: refused, naming QEMU" fails_cleanly "in use by QEMU" "$@"
	if [ "$(wc -l <"$WORK/.fc.err")" -ne 1 ]; then
		fail "$desc: one line of error"; sed 's/^/#   /' "$WORK/.fc.err"
	fi
	if [ "$(sha "$file")" = "$before" ]; then pass "$desc: image unchanged"; else fail "$desc: image unchanged"; fi
}

# reads DESC WARN COMMAND...: succeeds; with WARN=yes, one warning naming QEMU on stderr.
reads() {
	local desc=$1 warn=$2
	shift 2
	if ! "$@" >"$WORK/r.out" 2>"$WORK/r.err"; then
		fail "$desc"; sed 's/^/#   /' "$WORK/r.err"; return
	fi
	if [ "$warn" = yes ]; then
		if [ "$(wc -l <"$WORK/r.err")" -eq 1 ] &&
		   grep -Eq '^rximg: warning: .*QEMU.* has (this image|its backing file .*) open for writing' "$WORK/r.err"; then
			pass "$desc, with one warning"
		else
			fail "$desc, with one warning"; sed 's/^/#   /' "$WORK/r.err"
		fi
	elif [ -s "$WORK/r.err" ]; then
		fail "$desc, without a warning"; sed 's/^/#   /' "$WORK/r.err"
	else
		pass "$desc, without a warning"
	fi
}

IMG=$(copy_image small-medium.img) || { fail "small-medium.img missing"; done_testing; exit; }
echo hello >"$WORK/hf"
"$R" mkdir "$IMG:/locktest" && "$R" put "$WORK/hf" "$IMG:/locktest/hf" || fail "prepare the image"
"$R" overlay "$IMG" "$WORK/ov.qcow2" >/dev/null || fail "make an overlay"
"$R" mkdir "$WORK/ov.qcow2:/in-overlay" || fail "write to the overlay"

# ---------------------------------------------------------------------------------------
# 2. QEMU holds the image: rximg refuses to write, warns when it reads.

if qemu_start "$IMG" "file=$IMG,format=raw"; then
	refused "QEMU read-write: put" "$IMG" "$R" put "$WORK/hf" "$IMG:/new"
	refused "QEMU read-write: rm" "$IMG" "$R" rm "$IMG:/locktest/hf"
	refused "QEMU read-write: mkdir" "$IMG" "$R" mkdir "$IMG:/newdir"
	refused "QEMU read-write: mkfs --force" "$IMG" "$R" mkfs --force "$IMG"
	if [ -w /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
		mkdir -p "$WORK/mnt"
		refused "QEMU read-write: mount read-write" "$IMG" "$R" mount "$IMG" "$WORK/mnt"
		refused "QEMU read-write: mount read-only" "$IMG" "$R" mount -o ro "$IMG" "$WORK/mnt"
		refused "QEMU read-write on the backing file: mount the overlay read-only" "$WORK/ov.qcow2" \
			"$R" mount -o ro "$WORK/ov.qcow2" "$WORK/mnt"
		if grep -q " $WORK/mnt " /proc/mounts; then
			fail "QEMU read-write: the refused mounts left nothing mounted"
			fusermount3 -u -z "$WORK/mnt" 2>/dev/null || umount -l "$WORK/mnt"
		else
			pass "QEMU read-write: the refused mounts left nothing mounted"
		fi
	fi
	refused "QEMU read-write on the backing file: mkdir in an overlay" "$WORK/ov.qcow2" \
		"$R" mkdir "$WORK/ov.qcow2:/x"
	refused "QEMU read-write on the backing file: put in an overlay" "$WORK/ov.qcow2" \
		"$R" put "$WORK/hf" "$WORK/ov.qcow2:/x"
	ok "QEMU read-write on the backing file: the error names the backing file" \
		grep -q "ov.qcow2: backing file .*$(basename "$IMG"): in use by QEMU" "$WORK/.fc.err"
	reads "QEMU read-write on the backing file: ls of the overlay reads" yes "$R" ls "$WORK/ov.qcow2:/"
	reads "QEMU read-write: ls reads" yes "$R" ls "$IMG:/locktest"
	reads "QEMU read-write: cat reads" yes "$R" cat "$IMG:/locktest/hf"
	ok "QEMU read-write: cat reads the file" grep -qx hello "$WORK/r.out"
	reads "QEMU read-write: check reads" yes "$R" check -q "$IMG"
	ok "QEMU read-write: info names QEMU" sh -c "'$R' info '$IMG' | grep -E '^In use: +by QEMU.*for writing'"
	ok "QEMU read-write: info --json says who" sh -c "'$R' info --json '$IMG' | grep -q '\"in_use\":{\"by\":\"QEMU'"
	qemu_stop
else
	fail "QEMU holds a raw image (see its output above)"
fi
ok "QEMU gone: writing works again" "$R" mkdir "$IMG:/after-qemu"
ok "QEMU gone: info says nothing of it" sh -c "! '$R' info '$IMG' | grep -q '^In use:'"
ok "QEMU gone: info --json in_use is null" sh -c "'$R' info --json '$IMG' | grep -q '\"in_use\":null'"

for mode in snapshot=on readonly=on; do
	if qemu_start "$IMG" "file=$IMG,format=raw,$mode"; then
		refused "QEMU $mode: put" "$IMG" "$R" put "$WORK/hf" "$IMG:/new"
		refused "QEMU $mode: mkdir" "$IMG" "$R" mkdir "$IMG:/newdir"
		reads "QEMU $mode: ls reads" no "$R" ls "$IMG:/locktest"
		ok "QEMU $mode on the backing file: an overlay is written" "$R" mkdir "$WORK/ov.qcow2:/qemu-$mode"
		if [ -n "$FUSE" ] && "$R" mount -o ro "$IMG" "$WORK/mnt"; then
			MP="$WORK/mnt"
			pass "QEMU $mode: a read-only mount is made alongside"
			ok "QEMU $mode: the read-only mount reads" test -f "$MP/locktest/hf"
			ok "QEMU $mode: umount of the read-only mount" "$R" umount "$MP"
			MP=
		elif [ -n "$FUSE" ]; then
			fail "QEMU $mode: a read-only mount is made alongside"
		fi
		qemu_stop
	else
		fail "QEMU holds a raw image with $mode"
	fi
done

# qcow2: QEMU writes the top file; it opens the backing file read-only but lets no one write it.
if qemu_start "$WORK/ov.qcow2" "file=$WORK/ov.qcow2,format=qcow2"; then
	refused "QEMU on an overlay: mkdir in the overlay" "$WORK/ov.qcow2" "$R" mkdir "$WORK/ov.qcow2:/x"
	refused "QEMU on an overlay: put in the overlay" "$WORK/ov.qcow2" "$R" put "$WORK/hf" "$WORK/ov.qcow2:/x"
	refused "QEMU on an overlay: mkdir in its backing file" "$IMG" "$R" mkdir "$IMG:/x"
	reads "QEMU on an overlay: ls of the overlay reads" yes "$R" ls "$WORK/ov.qcow2:/"
	reads "QEMU on an overlay: ls of the backing file reads" no "$R" ls "$IMG:/"
	qemu_stop
else
	fail "QEMU holds a qcow2 overlay"
fi

# An initfs archive in a host file, used by QEMU as a disk: initfs edits refuse it too.
ARC=$(copy_image initfs-bootstrap.img) || fail "initfs-bootstrap.img missing"
if [ -n "$ARC" ] && qemu_start "$ARC" "file=$ARC,format=raw"; then
	refused "QEMU on an initfs archive: initfs mkdir" "$ARC" "$R" initfs mkdir "$ARC" /newdir
	qemu_stop
fi

# ---------------------------------------------------------------------------------------
# 1. rximg writes: QEMU refuses the image, in every mode.

# An edit in progress holds the image until the editor exits.
cat >"$WORK/editor" <<EOF
#!/bin/sh
touch "$WORK/editing"
while [ ! -e "$WORK/release" ]; do sleep 0.1; done
echo edited >>"\$1"
EOF
chmod +x "$WORK/editor"
hold_edit() {  # hold_edit IMAGE:/path: an rximg edit in the background, waiting for release
	rm -f "$WORK/editing" "$WORK/release"
	EDITOR="$WORK/editor" VISUAL= "$R" edit "$1" >"$WORK/edit.out" 2>&1 &
	EDITING=$!
	i=0
	while [ ! -e "$WORK/editing" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$WORK/editing" ] || { cat "$WORK/edit.out"; return 1; }
}
end_edit() {
	touch "$WORK/release"
	wait "$EDITING"
	local rc=$?
	EDITING=
	return $rc
}

if hold_edit "$IMG:/locktest/hf"; then
	ok "rximg edit holds: QEMU read-write refuses" qemu_refuses "file=$IMG,format=raw"
	ok "rximg edit holds: QEMU readonly=on refuses" qemu_refuses "file=$IMG,format=raw,readonly=on"
	ok "rximg edit holds: QEMU snapshot=on refuses" qemu_refuses "file=$IMG,format=raw,snapshot=on"
	ok "rximg edit holds: info names the other rximg" sh -c "'$R' info '$IMG' | grep -E '^In use: +by another rximg.*for writing'"
	ok "the edit completes" end_edit
	ok "the edit was saved" sh -c "'$R' cat '$IMG:/locktest/hf' | grep -qx edited"
else
	fail "rximg edit holds the image"
fi
if hold_edit "$WORK/ov.qcow2:/in-overlay/f"; then
	ok "rximg edit of an overlay: QEMU on the overlay refuses" qemu_refuses "file=$WORK/ov.qcow2,format=qcow2"
	ok "rximg edit of an overlay: QEMU read-write on its backing file refuses" qemu_refuses "file=$IMG,format=raw"
	ok "rximg edit of an overlay: QEMU readonly=on on its backing file starts" \
		qemu_accepts "file=$IMG,format=raw,readonly=on"
	ok "rximg edit of an overlay: an rximg writer of the backing file refuses" \
		fails_cleanly "in use by another rximg" "$R" mkdir "$IMG:/under-overlay"
	ok "the overlay edit completes" end_edit
else
	fail "rximg edit holds an overlay"
fi
if qemu_start "$IMG" "file=$IMG,format=raw"; then
	pass "after the edit, QEMU starts"
	qemu_stop
else
	fail "after the edit, QEMU starts"
fi

# A read-write mount holds the locks for its whole life.
MP=
if [ -z "$FUSE" ]; then
	skip "QEMU against an rximg mount" "FUSE is not usable here"
else
	MP="$WORK/mnt"
	mkdir -p "$MP"
	if "$R" mount "$IMG" "$MP"; then
		ok "rximg mount holds: QEMU read-write refuses" qemu_refuses "file=$IMG,format=raw"
		ok "rximg mount holds: QEMU readonly=on refuses" qemu_refuses "file=$IMG,format=raw,readonly=on"
		ok "rximg mount holds: QEMU snapshot=on refuses" qemu_refuses "file=$IMG,format=raw,snapshot=on"
		echo via-mount >"$MP/locktest/m"
		ok "rximg mount holds: still after a write through it" qemu_refuses "file=$IMG,format=raw"
		ok "rximg umount" "$R" umount "$MP"
		MP=
		if qemu_start "$IMG" "file=$IMG,format=raw"; then
			pass "after the unmount, QEMU starts"
			qemu_stop
		else
			fail "after the unmount, QEMU starts"
		fi
	else
		fail "rximg mount of the image"
	fi
	MP="$WORK/mnt"
	if "$R" mount "$WORK/ov.qcow2" "$MP"; then
		ok "rximg mount of an overlay: QEMU on the overlay refuses" qemu_refuses "file=$WORK/ov.qcow2,format=qcow2"
		ok "rximg umount of the overlay" "$R" umount "$MP"
	else
		fail "rximg mount of an overlay"
	fi
	MP=
	if "$R" mount -o ro "$IMG" "$WORK/mnt"; then
		MP="$WORK/mnt"
		ok "a read-only mount reads" grep -qx via-mount "$MP/locktest/m"
		ok "rximg read-only mount holds: QEMU read-write refuses" qemu_refuses "file=$IMG,format=raw"
		ok "rximg read-only mount holds: QEMU readonly=on starts" qemu_accepts "file=$IMG,format=raw,readonly=on"
		ok "rximg read-only mount holds: QEMU snapshot=on starts" qemu_accepts "file=$IMG,format=raw,snapshot=on"
		ok "rximg umount of the read-only mount" "$R" umount "$MP"
		MP=
		if qemu_accepts "file=$IMG,format=raw"; then
			pass "after the read-only unmount, QEMU read-write starts"
		else
			fail "after the read-only unmount, QEMU read-write starts"
		fi
	else
		fail "read-only rximg mount"
	fi
	for how in "-o ro" ""; do
		if "$R" mount $how "$WORK/ov.qcow2" "$WORK/mnt"; then
			MP="$WORK/mnt"
			ok "rximg mount ${how:+$how }of an overlay: QEMU read-write on its backing file refuses" \
				qemu_refuses "file=$IMG,format=raw"
			ok "rximg mount ${how:+$how }of an overlay: QEMU readonly=on on its backing file starts" \
				qemu_accepts "file=$IMG,format=raw,readonly=on"
			ok "rximg umount of the overlay (${how:-read-write})" "$R" umount "$MP"
			MP=
		else
			fail "rximg mount ${how:+$how }of an overlay"
		fi
	done
fi
ok "the image is still sound" "$R" check -q "$IMG"

done_testing
