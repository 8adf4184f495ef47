#!/bin/sh
# POSIX behaviour of rximg mount: tests/tools/posixcheck runs its cases (every errno the
# standard gives per system call, the results and the times a call must update) on a
# fresh image mounted with -o allow_other,default_permissions: once with root making the
# calls, once with an unprivileged user (65534) making them through the kernel's
# permission checks. Then the image is unmounted and must check clean, and mounted once
# more to show that what was changed was stored.
#
# Root is needed (the fixtures belong to several users); as root, allow_other needs no
# user_allow_other in /etc/fuse.conf, so no system file is changed. Skipped as a whole,
# with the reason, where FUSE cannot be used or we are not root.
. "$top_srcdir/tests/lib.sh"

umask 022
R=$RXIMG
CHECKER="$top_builddir/tests/tools/posixcheck"
MPS=""

is_mounted() {  # is_mounted DIR (also true for a mount whose server died)
	awk -v mp="$1" '$5 == mp { found = 1 } END { exit !found }' /proc/self/mountinfo 2>/dev/null ||
		mount | grep -q " on $1 "
}

# A sanitizer build's mount server runs detached, its stderr on /dev/null: reports go to files.
SAN="$WORK/sanitizer"
mkdir -p "$SAN"
rxmount() {  # rxmount ARGS... MOUNTPOINT: rximg mount, remembered for cleanup
	eval "MPS=\"\$MPS \${$#}\""
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN/mount" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN/mount:print_stacktrace=1" \
		"$R" mount "$@"
}

no_sanitizer_reports() {
	local f found=0
	for f in "$SAN"/mount.*; do
		[ -e "$f" ] || continue
		found=1
		echo "== $f"
		head -n 30 "$f"
	done
	[ $found = 0 ]
}

cleanup() {
	for mp in $MPS; do
		if is_mounted "$mp"; then
			timeout 60 "$R" umount "$mp" >/dev/null 2>&1 ||
				fusermount3 -u -z "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null
		fi
	done
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
	if ! rxmount -o allow_other,default_permissions "$IMG" "$MP" 2>"$WORK/mount.err"; then
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
mkdir -m 0755 "$MP/root" "$MP/user"

for who in root user; do
	if [ $who = root ]; then
		"$CHECKER" "$MP/root" >"$WORK/$who.tap" 2>"$WORK/$who.err"
	else
		"$CHECKER" -a 65534:65534 "$MP/user" >"$WORK/$who.tap" 2>"$WORK/$who.err"
	fi
	rc=$?
	diag "== the calls made by $who"
	if include_tap "$WORK/$who.tap" "$who: "; then
		pass "posixcheck as $who ran to its end"
	else
		fail "posixcheck as $who ran to its end (no plan line: it stopped early)"
	fi
	ok "posixcheck as $who: exit status 0 (every case passed; it was $rc)" test $rc = 0
	[ -s "$WORK/$who.err" ] && sed 's/^/#   stderr: /' "$WORK/$who.err"
done

ok "rximg umount" "$R" umount "$MP"
ok "the image checks clean after both runs" "$R" check -q "$IMG"
# What the runs left is stored: a second mount shows the same owners, modes and sizes.
ok "a second mount (read-only)" rxmount -o ro "$IMG" "$MP"
ok "the unprivileged run's files still belong to it" \
	sh -c "test \"\$(stat -c %u:%g '$MP/user/chmod/n1')\" = 65534:65534 && test \"\$(stat -c %a '$MP/user/chmod/n1')\" = 4755"
ok "a 252-byte name made by the run is there" \
	sh -c "ls '$MP/root/mkdir' | awk 'length(\$0) == 252 { found = 1 } END { exit !found }'"
ok "rximg umount of the second mount" "$R" umount "$MP"
ok "no sanitizer report from any mount server" no_sanitizer_reports
done_testing
