# Mounts in the scenario tests (sourced after tests/lib.sh by the scripts that mount):
# making them, finding them, sanitizer reports of their servers, and unmounting them all
# at the end. Every mount made with mount_img is remembered in $MPS.

MPS=""

is_mounted() {  # is_mounted DIR (also true for a mount whose server died)
	awk -v mp="$1" '$5 == mp { found = 1 } END { exit !found }' /proc/self/mountinfo 2>/dev/null ||
		mount | grep -q " on $1 "
}

not_mounted() { ! is_mounted "$1"; }

lazy_unmount() {
	fusermount3 -u -z "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
}

# A sanitizer build's mount server runs detached, its stderr on /dev/null: its reports go
# to files instead, and the scripts check that there are none.
SAN="$WORK/sanitizer"
mkdir -p "$SAN/seen"
rxmount() {  # rxmount ARGS...: rximg mount ARGS...
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN/mount" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN/mount:print_stacktrace=1" \
		"$RXIMG" mount "$@"
}

mount_img() {  # mount_img MOUNTPOINT ARGS...: rximg mount ARGS... MOUNTPOINT, remembered for cleanup
	local mp=$1
	shift
	MPS="$MPS $mp"
	rxmount "$@" "$mp"
}

no_sanitizer_reports() {  # each report is shown once, then moved aside
	local f found=0
	for f in "$SAN"/mount.*; do
		[ -e "$f" ] || continue
		found=1
		echo "== $f"
		head -n 30 "$f"
		mv "$f" "$SAN/seen/"
	done
	[ $found = 0 ]
}

unmount_all() {  # every mount made with mount_img that is still there
	local mp
	for mp in $MPS; do
		if is_mounted "$mp"; then
			timeout 60 "$RXIMG" umount "$mp" >/dev/null 2>&1 || lazy_unmount "$mp"
		fi
	done
}
