# Shared helpers for the scenario tests: TAP output and test images.
# Each test script sources this file; the harness sets RXIMG, top_srcdir, top_builddir.

: "${RXIMG:=$(pwd)/rximg}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$(pwd)}"
DATA="$top_srcdir/tests/data"
GOLDEN_DIR="${GOLDEN_DIR:-$top_srcdir/../shared/golden}"
CACHE="$top_builddir/tests/work/cache"
mkdir -p "$CACHE"
WORK=$(mktemp -d "$top_builddir/tests/work/$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# RXIMG_WRAPPER="valgrind ..." runs every rximg a test starts under that command
# (scripts/test-all.sh runs some scripts under valgrind memcheck this way). The
# wrapper is a script of its own, so that "$RXIMG" stays one word everywhere.
if [ -n "${RXIMG_WRAPPER:-}" ] && [ -z "${RXIMG_UNWRAPPED:-}" ]; then
	RXIMG_UNWRAPPED=$RXIMG
	RXIMG=$WORK/.wrapped/rximg
	mkdir -p "$WORK/.wrapped"
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$RXIMG_WRAPPER" "$RXIMG_UNWRAPPED" >"$RXIMG"
	chmod +x "$RXIMG"
	export RXIMG RXIMG_UNWRAPPED
fi

_tap_n=0
_tap_failed=0

ok() {  # ok DESCRIPTION COMMAND...
	_tap_n=$((_tap_n + 1))
	local desc=$1
	shift
	if "$@" >"$WORK/.out" 2>&1; then
		echo "ok $_tap_n - $desc"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $desc"
		sed 's/^/#   /' "$WORK/.out" | head -40
	fi
}

pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $1"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
diag() { echo "# $*"; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

# Decompress a test image once per build tree; prints its path.
# Looks in tests/data first, then in the shared golden corpus.
test_image() {
	local name=$1 src
	if [ -f "$DATA/$name.zst" ]; then
		src="$DATA/$name.zst"
	elif [ -f "$GOLDEN_DIR/$name.zst" ]; then
		src="$GOLDEN_DIR/$name.zst"
	else
		return 1
	fi
	if [ ! -f "$CACHE/$name" ] || [ "$src" -nt "$CACHE/$name" ]; then
		zstd -q -d -f "$src" -o "$CACHE/$name.tmp.$$" && mv "$CACHE/$name.tmp.$$" "$CACHE/$name"
	fi
	echo "$CACHE/$name"
}

# skip_unless CMD...: skip the whole script, saying what it needs, when a command is missing.
skip_unless() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { echo "1..0 # SKIP needs $*"; exit 0; }
	done
}

# initfs_disk DISK ARCHIVE: make DISK (in the current folder), a 64 MiB whole disk in the
# installer's layout (BIOS p1, ESP p2, RedoxFS p3) with a stand-in EFI loader, whose
# RedoxFS holds ARCHIVE as /boot/initfs and an /etc/hostname.
initfs_disk() {
	rm -rf .initfs-disk && mkdir -p .initfs-disk/boot .initfs-disk/etc &&
		printf 'redox\n' >.initfs-disk/etc/hostname && cp "$2" .initfs-disk/boot/initfs &&
		"${PYTHON3:-python3}" "$top_srcdir/tests/tools/mkpe.py" .initfs-disk.efi --size 120000 &&
		"$RXIMG" create -q -s 64M -b .initfs-disk.efi --from .initfs-disk "$1"
}

# A private, writable copy of a test image (for tests that corrupt or modify it).
copy_image() {
	local src dst=$WORK/$1
	src=$(test_image "$1") || return 1
	cp --sparse=always "$src" "$dst" && chmod u+w "$dst" && echo "$dst"
}

# Expect a command to fail cleanly: non-zero exit, no signal, a one-line
# "rximg: ..." error on stderr that mentions $2 (a regex), nothing from a sanitizer.
fails_cleanly() {  # fails_cleanly REGEX COMMAND...
	local re=$1 rc
	shift
	"$@" >"$WORK/.fc.out" 2>"$WORK/.fc.err"
	rc=$?
	if [ $rc -eq 0 ]; then echo "unexpected success"; return 1; fi
	if [ $rc -ge 124 ]; then echo "exit status $rc (crash, signal or timeout)"; cat "$WORK/.fc.err"; return 1; fi
	if grep -q -E 'Sanitizer|runtime error' "$WORK/.fc.err"; then cat "$WORK/.fc.err"; return 1; fi
	if ! grep -q -E "^rximg: .*($re)" "$WORK/.fc.err"; then
		echo "stderr does not match /$re/:"; cat "$WORK/.fc.err"; return 1
	fi
	return 0
}

# How often COMMAND flushed FILE (fsync/fdatasync on a descriptor of FILE, as strace -y
# names it); prints the count, or "failed" with COMMAND's output on stderr. Needs strace
# (tests check `command -v strace` first). LeakSanitizer cannot run under a tracer, so a
# sanitizer build skips its leak check for this one run.
flushes_of() {  # flushes_of FILE COMMAND...
	local file=$1
	shift
	if ! ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -y -qq -e trace=fsync,fdatasync -o "$WORK/.strace" "$@" >"$WORK/.strace.out" 2>&1; then
		cat "$WORK/.strace.out" >&2
		echo failed
		return 1
	fi
	grep -c -F "<$file>" "$WORK/.strace" || true
}
