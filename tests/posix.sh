#!/bin/sh
# POSIX behaviour of rximg mount: tests/tools/posixcheck runs its cases (every errno the
# standard gives per system call, the results and the times a call must update) on a
# fresh image mounted with -o allow_other,default_permissions: once with root making the
# calls, once with an unprivileged user (65534) making them through the kernel's
# permission checks, and once more as that user without the writeback cache. After each
# mount the image must check clean; a read-only mount shows what the runs stored, and a
# remount shows that the times are stored, not only cached by the kernel.
#
# Root is needed (the fixtures belong to several users); as root, allow_other needs no
# user_allow_other in /etc/fuse.conf, so no system file is changed. Skipped as a whole,
# with the reason, where FUSE cannot be used or we are not root.
. "$top_srcdir/tests/lib.sh"

umask 022
R=$RXIMG
CHECKER="$top_builddir/tests/tools/posixcheck"
. "$top_srcdir/tests/mountlib.sh"

cleanup() {
	unmount_all
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# posixcheck's TAP, renumbered into ours; its "# ..." lines (the counts) pass through.
include_tap() {  # include_tap FILE PREFIX
	local line desc plan=
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP "*)
			desc=${line#ok * - }
			skip "$2${desc%% \# SKIP *}" "${desc#* \# SKIP }" ;;
		"ok "*) pass "$2${line#ok * - }" ;;
		"not ok "*) fail "$2${line#not ok * - }" ;;
		1..*) plan=${line#1..} ;;
		*) echo "$line" ;;
		esac
	done <"$1"
	[ -n "$plan" ]
}

reason=
if [ "$(id -u)" != 0 ]; then
	reason="needs root (the fixtures belong to several users)"
elif [ ! -e /dev/fuse ]; then
	reason="no /dev/fuse"
elif [ ! -x "$CHECKER" ]; then
	reason="tests/tools/posixcheck is not built"
fi
IMG="$WORK/posix.img"
MP="$WORK/mnt"
mkdir -p "$MP"
if [ -z "$reason" ]; then
	"$R" mkfs -s 64M "$IMG" >"$WORK/mkfs.err" 2>&1 || { cat "$WORK/mkfs.err"; fail "mkfs"; done_testing; exit; }
	if ! mount_img "$MP" -o allow_other,default_permissions "$IMG" 2>"$WORK/mount.err"; then
		if grep -q "cannot mount on" "$WORK/mount.err"; then
			reason="FUSE is not usable here: $(head -n1 "$WORK/mount.err")"
		else
			fail "mount -o allow_other,default_permissions of a fresh image"
			sed 's/^/#   /' "$WORK/mount.err"
			done_testing
			exit
		fi
	fi
fi
if [ -n "$reason" ]; then
	skip "POSIX conformance of rximg mount" "$reason"
	done_testing
	exit
fi
pass "mount -o allow_other,default_permissions of a fresh image"
chmod 0755 "$MP"

# posixcheck's cases as root (DIR) or as the unprivileged user 65534 (-a 65534:65534 DIR).
run_checker() {  # run_checker NAME [-a UID:GID] DIR
	local name=$1 rc
	shift
	"$CHECKER" "$@" >"$WORK/$name.tap" 2>"$WORK/$name.err"
	rc=$?
	diag "== posixcheck: $name"
	if include_tap "$WORK/$name.tap" "$name: "; then
		pass "posixcheck, $name: ran to its end"
	else
		fail "posixcheck, $name: ran to its end (no plan line: it stopped early)"
	fi
	ok "posixcheck, $name: exit status 0 (every case passed; it was $rc)" test $rc = 0
	[ -s "$WORK/$name.err" ] && sed 's/^/#   stderr: /' "$WORK/$name.err"
}

mkdir -m 0755 "$MP/root" "$MP/user"
run_checker root "$MP/root"
run_checker user -a 65534:65534 "$MP/user"
ok "rximg umount" "$R" umount "$MP"
ok "the image checks clean after both runs" "$R" check -q "$IMG"

# Without the writeback cache every write and time reaches the server as it happens.
if ok "mount -o no_writeback_cache,allow_other,default_permissions" \
	mount_img "$MP" -o no_writeback_cache,allow_other,default_permissions "$IMG"; then
	mkdir -m 0755 "$MP/user-nwc"
	run_checker "user, no_writeback_cache" -a 65534:65534 "$MP/user-nwc"
	ok "rximg umount" "$R" umount "$MP"
	ok "the image checks clean after the third run" "$R" check -q "$IMG"
fi

# What the runs left is stored: a second mount shows the same owners, modes and sizes.
ok "a read-only mount" mount_img "$MP" -o ro "$IMG"
ok "the unprivileged run's files still belong to it" \
	sh -c "test \"\$(stat -c %u:%g '$MP/user/chmod/n1')\" = 65534:65534 && test \"\$(stat -c %a '$MP/user/chmod/n1')\" = 4755"
ok "a 252-byte name made by the run is there" \
	sh -c "ls '$MP/root/mkdir' | awk 'length(\$0) == 252 { found = 1 } END { exit !found }'"
ok "rximg umount of the read-only mount" "$R" umount "$MP"

# The times are the server's, not only the kernel's cache: changes a second after the
# files were made, then a fresh mount must show them.
PI="$WORK/persist.img"
"$R" mkfs -s 16M "$PI" >/dev/null
if mount_img "$MP" "$PI"; then
	(cd "$MP" && mkdir d d2 && touch d/chmod d/link d/gone1 d/moved d/old d/written d/cut &&
		echo data >d/cut && ln d/gone1 d/gone2 && sleep 1.1 && chmod 600 d/chmod && ln d/link d/link2 &&
		rm d/gone1 && mv d/moved d2/moved && echo more >>d/written && truncate -s 1 d/cut)
	"$R" umount "$MP"
	mount_img "$MP" -o ro "$PI"
	later() {  # later A FMT_A B FMT_B: stat's number for A is greater than for B
		local a b
		a=$(stat -c "$2" "$MP/$1") && b=$(stat -c "$4" "$MP/$3") || return 1
		[ "$a" -gt "$b" ] || { echo "$1 $2 = $a, $3 $4 = $b"; return 1; }
	}
	ok "after a remount: chmod moved the ctime" later d/chmod %Z d/chmod %Y
	ok "after a remount: link moved the ctime" later d/link %Z d/link %Y
	ok "after a remount: unlink of one of two names moved the other's ctime" later d/gone2 %Z d/gone2 %Y
	ok "after a remount: rename moved the ctime of the moved file" later d2/moved %Z d2/moved %Y
	ok "after a remount: the entry changes moved the directory's mtime" later d %Y d/old %Y
	ok "after a remount: ... and its ctime" later d %Z d/old %Z
	ok "after a remount: rename into a directory moved its mtime" later d2 %Y d/old %Y
	ok "after a remount: a write moved the mtime" later d/written %Y d/old %Y
	ok "after a remount: ... and the ctime" later d/written %Z d/old %Z
	ok "after a remount: truncate moved the mtime" later d/cut %Y d/old %Y
	ok "after a remount: ... and the ctime" later d/cut %Z d/old %Z
	ok "rximg umount of the remount" "$R" umount "$MP"
	ok "the image checks clean" "$R" check -q "$PI"
else
	fail "mount of a fresh image for the persistence checks"
fi
ok "no sanitizer report from any mount server" no_sanitizer_reports
done_testing
