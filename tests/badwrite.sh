#!/bin/sh
# Bad input for every write verb: each attempt must fail with exit status != 0, a single
# "rximg: ..." line on stderr that says what is wrong, no sanitizer report, and leave the
# image byte-for-byte unchanged (a new image is not created, no IMAGE.partial is left).
. "$top_srcdir/tests/lib.sh"

umask 022
R=$RXIMG
PY=${PYTHON3:-python3}
SRC="$WORK/src"
mkdir -p "$SRC/dir/sub" "$SRC/colon" "$SRC/long" "$SRC/stage" "$WORK/tmp"
printf 'a small host file\n' >"$SRC/hf"
printf 'inside a directory\n' >"$SRC/dir/sub/f"
printf 'x\n' >"$SRC/colon/x:y"
N253=$($PY -c 'print("n" * 253)')
printf 'x\n' >"$SRC/long/$N253"
# sh -c "$EDITOR \"$1\"": an editor that appends a line, and one that fails
EDIT_OK="sh -c 'echo edited >>\"\$1\"' sh"
export TMPDIR="$WORK/tmp"

sha() {  # the image's SHA-256, or "absent"
	if [ -e "$1" ]; then sha256sum <"$1" | cut -d' ' -f1; else echo absent; fi
}

# refused DESCRIPTION REGEX COMMAND...: COMMAND fails cleanly (lib.sh), the error is one
# line, and the image $T is unchanged (or still absent, with no $T.partial).
refused() {
	_desc=$1 _re=$2
	shift 2
	ok "$_desc" _refused "$_re" "$(sha "$T")" "$@"
}
_refused() {
	_re=$1 _before=$2
	shift 2
	fails_cleanly "$_re" "$@" || return 1
	_n=$(wc -l <"$WORK/.fc.err")
	if [ "$_n" -ne 1 ]; then
		echo "stderr has $_n lines, not one:"
		cat "$WORK/.fc.err"
		return 1
	fi
	if [ "$(sha "$T")" != "$_before" ]; then
		echo "the image changed"
		return 1
	fi
	if [ -e "$T.partial" ]; then
		echo "$T.partial was left behind"
		return 1
	fi
}
with_stdin() {  # with_stdin FILE COMMAND...
	_in=$1
	shift
	"$@" <"$_in"
}
with_editor() {  # with_editor EDITOR COMMAND...
	(
		EDITOR=$1
		export EDITOR
		unset VISUAL
		shift
		"$@"
	)
}
AS=
rxv() { $AS "$R" "$@"; }  # rximg, as another user when $AS says so

IMG=$(copy_image misc-tree.img) || { fail "misc-tree.img missing"; done_testing; exit; }
T=$IMG
I=$IMG

# ---------------------------------------------------------------------------------------
# A missing source, a directory without -r
refused "put: missing source file" "missing: No such file" \
	"$R" put "$WORK/missing" "$I:/new"
refused "put: one of several sources missing (nothing is put)" "missing: No such file" \
	"$R" put "$SRC/hf" "$WORK/missing" "$I:/"
refused "inject: missing source of SRC:/dest" "missing: No such file" \
	"$R" inject -i "$I" "$WORK/missing:/new"
refused "inject: missing source under --from" "No such file" \
	"$R" inject -i "$I" --from "$SRC/stage" /etc/missing
refused "sync: missing source directory" "missing: No such file" \
	"$R" sync "$WORK/missing" "$I:/new"
T="$WORK/new.img"
refused "mkfs --from: missing source directory (no image is made)" "missing: No such file" \
	"$R" mkfs -s 8M --from "$WORK/missing" "$T"
T=$IMG
refused "put: a directory without -r" "is a directory" "$R" put "$SRC/dir" "$I:/new"
refused "inject: a directory without -r" "is a directory" "$R" inject -i "$I" "$SRC/dir:/new"

# ---------------------------------------------------------------------------------------
# The destination's parent is missing
nf='no such file or directory'
refused "put: destination parent missing" "$nf" "$R" put "$SRC/hf" "$I:/nope/x"
refused "inject: destination parent missing" "$nf" "$R" inject -i "$I" "$SRC/hf:/nope/x"
refused "mkdir: parent missing (no -p)" "$nf" "$R" mkdir "$I:/nope/x"
refused "write: parent missing" "$nf" with_stdin "$SRC/hf" "$R" write "$I:/nope/x"
refused "touch: parent missing" "$nf" "$R" touch "$I:/nope/x"
refused "ln -s: parent missing" "$nf" "$R" ln -s target "$I:/nope/x"
refused "ln: parent missing" "$nf" "$R" ln "$I:/hello.txt" "$I:/nope/x"
refused "mv: destination parent missing" "$nf" "$R" mv "$I:/hello.txt" "$I:/nope/x"
refused "mv: source parent missing" "$nf" "$R" mv "$I:/nope/x" "$I:/y"
refused "truncate: parent missing" "$nf" "$R" truncate -s 0 "$I:/nope/x"
refused "chmod: missing path" "$nf" "$R" chmod 0600 "$I:/nope"
refused "chown: missing path" "$nf" "$R" chown 5:5 "$I:/nope"
refused "chown -R: missing path" "$nf" "$R" chown -R 5:5 "$I:/nope"
refused "rm: missing path (no -f)" "$nf" "$R" rm "$I:/nope"
refused "edit: parent missing" "$nf" with_editor "$EDIT_OK" "$R" edit "$I:/nope/x"

# ---------------------------------------------------------------------------------------
# A path through a file
nd='not a directory'
refused "put: path through a file" "$nd" "$R" put "$SRC/hf" "$I:/hello.txt/x"
refused "inject: path through a file" "$nd" "$R" inject -i "$I" "$SRC/hf:/hello.txt/x"
refused "mkdir: path through a file" "$nd" "$R" mkdir "$I:/hello.txt/x"
refused "mkdir -p: path through a file" "$nd" "$R" mkdir -p "$I:/hello.txt/x/y"
refused "write: path through a file" "$nd" with_stdin "$SRC/hf" "$R" write "$I:/hello.txt/x"
refused "touch: path through a file" "$nd" "$R" touch "$I:/hello.txt/x"
refused "ln -s: path through a file" "$nd" "$R" ln -s target "$I:/hello.txt/x"
refused "mv: path through a file" "$nd" "$R" mv "$I:/empty_file" "$I:/hello.txt/x"
refused "rm: path through a file" "$nd" "$R" rm "$I:/hello.txt/x"
refused "chmod: path through a file" "$nd" "$R" chmod 0600 "$I:/hello.txt/x"
refused "truncate: path through a file" "$nd" "$R" truncate -s 0 "$I:/hello.txt/x"
refused "sync: destination is a file" "$nd" "$R" sync "$SRC/dir" "$I:/hello.txt"
refused "sync: destination through a file" "$nd" "$R" sync "$SRC/dir" "$I:/hello.txt/x"
refused "edit: path through a file" "$nd" with_editor "$EDIT_OK" "$R" edit "$I:/hello.txt/x"

# ---------------------------------------------------------------------------------------
# Names RedoxFS cannot store: ':' and more than 252 bytes
co="contains ':'"
refused "put: name with ':'" "a:b.*$co" "$R" put "$SRC/hf" "$I:/a:b"
refused "inject: name with ':'" "a:b.*$co" "$R" inject -i "$I" "$SRC/hf:/a:b"
refused "mkdir: name with ':'" "a:b.*$co" "$R" mkdir "$I:/a:b"
refused "write: name with ':'" "a:b.*$co" with_stdin "$SRC/hf" "$R" write "$I:/a:b"
refused "touch: name with ':'" "a:b.*$co" "$R" touch "$I:/a:b"
refused "ln -s: name with ':'" "a:b.*$co" "$R" ln -s target "$I:/a:b"
refused "ln: name with ':'" "a:b.*$co" "$R" ln "$I:/hello.txt" "$I:/a:b"
refused "mv: new name with ':' (the message names it)" "a:b.*$co" "$R" mv "$I:/empty_file" "$I:/a:b"
refused "put -r: a host name with ':'" "x:y.*$co" "$R" put -r "$SRC/colon" "$I:/"
refused "sync: a host name with ':'" "x:y.*$co" "$R" sync "$SRC/colon" "$I:/new"
T="$WORK/new.img"
refused "mkfs --from: a host name with ':' (no image is made)" "x:y.*$co" \
	"$R" mkfs -s 8M --from "$SRC/colon" "$T"
T=$IMG
lo="$N253.*(longer than 252|too long)"
refused "put: a 253-byte name" "$lo" "$R" put "$SRC/hf" "$I:/$N253"
refused "inject: a 253-byte name" "$lo" "$R" inject -i "$I" "$SRC/hf:/$N253"
refused "mkdir: a 253-byte name" "$lo" "$R" mkdir "$I:/$N253"
refused "mkdir -p: a 253-byte name below new directories" "$lo" "$R" mkdir -p "$I:/new/$N253"
refused "write: a 253-byte name" "$lo" with_stdin "$SRC/hf" "$R" write "$I:/$N253"
refused "touch: a 253-byte name" "$lo" "$R" touch "$I:/$N253"
refused "ln -s: a 253-byte name" "$lo" "$R" ln -s target "$I:/$N253"
refused "ln: a 253-byte name" "$lo" "$R" ln "$I:/hello.txt" "$I:/$N253"
refused "mv: a 253-byte new name (the message names it)" "$lo" "$R" mv "$I:/empty_file" "$I:/$N253"
refused "put -r: a 253-byte host name" "$lo" "$R" put -r "$SRC/long" "$I:/"
refused "sync: a 253-byte host name" "$lo" "$R" sync "$SRC/long" "$I:/new"
T="$WORK/new.img"
refused "mkfs --from: a 253-byte host name (no image is made)" "$lo" \
	"$R" mkfs -s 8M --from "$SRC/long" "$T"
T=$IMG

# ---------------------------------------------------------------------------------------
# rm, mv, mkdir, ln refusals
refused "rm: a non-empty directory without -r" "/deep: .*directory" "$R" rm "$I:/deep"
refused "rm -d: a non-empty directory" "not empty" "$R" rm -d "$I:/deep"
refused "rm: a directory without -r or -d, even an empty one" "/empty_dir: .*directory" \
	"$R" rm "$I:/empty_dir"
for opt in -r -rf -d -f; do
	refused "rm $opt /" "/: .*(root|below /)" "$R" rm $opt "$I:/"
done
refused "rm: several paths, the last missing (nothing is removed)" "$nf" \
	"$R" rm "$I:/hello.txt" "$I:/nope"
refused "mv: a directory into itself" "into itself" "$R" mv "$I:/deep" "$I:/deep/level00/x"
refused "mv: a directory into its own subdirectory (DIR/ form)" "into itself" \
	"$R" mv "$I:/deep" "$I:/deep/level00/"
refused "mv: a directory onto itself" "into itself" "$R" mv "$I:/deep" "$I:/deep"
refused "mv: the root directory" "/( -> /x)?: .*(root|below /)" "$R" mv "$I:/" "$I:/x"
refused "mv -n: an existing target" "already exists" "$R" mv -n "$I:/hello.txt" "$I:/empty_file"
refused "mv --exchange: a missing second path" "$nf" "$R" mv --exchange "$I:/hello.txt" "$I:/nope"
refused "mv: a directory over a file" "not a directory" "$R" mv "$I:/empty_dir" "$I:/hello.txt"
refused "mkdir: an existing directory without -p" "already exists" "$R" mkdir "$I:/deep"
refused "mkdir: an existing file" "already exists" "$R" mkdir "$I:/hello.txt"
refused "mkdir -p: an existing file" "not a directory|already exists" "$R" mkdir -p "$I:/hello.txt"
refused "mkdir: a new and an existing directory (nothing is made)" "already exists" \
	"$R" mkdir "$I:/new1" "$I:/deep"
refused "ln -s: an existing name without -f" "already exists" "$R" ln -s x "$I:/hello.txt"
refused "ln: an existing name" "already exists" "$R" ln "$I:/hello.txt" "$I:/empty_file"
refused "ln: a hard link to a directory" "directories" "$R" ln "$I:/deep" "$I:/deeplink"
refused "write: onto a directory" "not a regular file|is a directory" \
	with_stdin "$SRC/hf" "$R" write "$I:/deep"
refused "truncate: a directory" "not a regular file|is a directory" "$R" truncate -s 0 "$I:/deep"
refused "edit: a directory" "not a regular file|is a directory" \
	with_editor "$EDIT_OK" "$R" edit "$I:/deep"
refused "edit: the editor fails (the image is unchanged)" "editor failed" \
	with_editor false "$R" edit "$I:/hello.txt"
refused "put -r: a directory over an existing file" "not a directory" \
	"$R" put -r "$SRC/dir" "$I:/hello.txt"
refused "chmod: several paths, the last missing (nothing changes)" "$nf" \
	"$R" chmod 0600 "$I:/hello.txt" "$I:/nope"
refused "touch: a new file and a bad path (nothing is made)" "$nd" \
	"$R" touch "$I:/new" "$I:/hello.txt/x"
refused "inject: a staged path without --from" "from" "$R" inject -i "$I" /etc/x

# ---------------------------------------------------------------------------------------
# Bad modes, owners, sizes, times
for m in 999 u+x 17777 '' 0o755; do
	refused "chmod: bad mode '$m'" "mode" "$R" chmod "$m" "$I:/hello.txt"
done
refused "put -m: bad mode" "mode" "$R" put -m 8 "$SRC/hf" "$I:/new"
refused "mkdir -m: bad mode" "mode" "$R" mkdir -m 9 "$I:/new"
refused "write -m: bad mode" "mode" with_stdin "$SRC/hf" "$R" write -m 99999 "$I:/new"
for o in abc -1 1:x 4294967296 1:4294967296; do
	refused "chown: bad owner '$o'" "owner" "$R" chown -- "$o" "$I:/hello.txt"
done
# (each on a fresh copy: a size accepted by mistake must not spoil the next case)
T="$WORK/trunc.img"
fresh() { cp "$IMG" "$T"; }
for s in abc -5 1Q 99999999999999999999 16777216T; do
	fresh
	refused "truncate: bad size '$s'" "size" "$R" truncate -s "$s" "$T:/hello.txt"
done
# the largest file RedoxFS can hold has 34 630 287 488 records of 128 KiB (spec 8.3)
MAXF=4539061041627136
fresh
refused "truncate: one byte beyond the largest possible file ($((MAXF + 1)))" \
	"too large|too big|largest" "$R" truncate -s $((MAXF + 1)) "$T:/hello.txt"
fresh
refused "truncate: 16777215T, far beyond the largest possible file" \
	"too large|too big|largest" "$R" truncate -s 16777215T "$T:/hello.txt"
ok "the image checks clean after that" "$R" check -q "$T"
fresh
ok "truncate to exactly the largest possible file works and checks clean" sh -c \
	"'$R' truncate -s $MAXF '$T:/hello.txt' && '$R' check -q '$T'"
T=$IMG
refused "touch -d: bad time" "time" "$R" touch -d yesterday "$I:/hello.txt"

# ---------------------------------------------------------------------------------------
# A full filesystem: nothing of a put that does not fit is kept
SMALL="$WORK/small.img"
"$R" mkfs -s 2M "$SMALL" >/dev/null 2>&1
"$R" put "$SRC/hf" "$SMALL:/" >/dev/null 2>&1
T=$SMALL
head -c 2500000 /dev/urandom >"$WORK/big"
mkdir -p "$WORK/bigdir" "$WORK/parts"
cp "$WORK/big" "$WORK/bigdir/"
for p in 1 2 3; do head -c 450000 /dev/urandom >"$WORK/parts/p$p"; done
diag "small image: $("$R" info --json "$SMALL" | grep -o '"free_blocks":[0-9]*')"
refused "put: a file larger than the free space" "no space" "$R" put "$WORK/big" "$SMALL:/big"
refused "put: three files, the last one does not fit (none is kept)" "no space" \
	"$R" put "$WORK/parts/p1" "$WORK/parts/p2" "$WORK/parts/p3" "$SMALL:/"
refused "write: more than the free space" "no space" \
	with_stdin "$WORK/big" "$R" write "$SMALL:/big"
refused "write: replacing a file with more than the free space" "no space" \
	with_stdin "$WORK/big" "$R" write "$SMALL:/hf"
refused "put -r: a tree larger than the free space" "no space" "$R" put -r "$WORK/bigdir" "$SMALL:/"
refused "sync: a tree larger than the free space" "no space" "$R" sync "$WORK/bigdir" "$SMALL:/s"
refused "inject: a file larger than the free space" "no space" \
	"$R" inject -i "$SMALL" "$WORK/big:/big"
ok "the full image still checks clean" "$R" check -q "$SMALL"
T="$WORK/new.img"
refused "mkfs --from: more than fits (no image is made)" "no space" \
	"$R" mkfs -s 2M --from "$WORK/bigdir" "$T"

# ---------------------------------------------------------------------------------------
# An image another process holds. Each verb gets a command that would succeed otherwise.
T=$IMG
I=$IMG
every_verb() {  # every_verb WHY REGEX (through rxv)
	refused "$1: mkfs --force" "$2" rxv mkfs --force "$I"
	refused "$1: put" "$2" rxv put "$SRC/hf" "$I:/new"
	refused "$1: inject" "$2" rxv inject -i "$I" "$SRC/hf:/new"
	refused "$1: sync" "$2" rxv sync "$SRC/dir" "$I:/new"
	refused "$1: mkdir" "$2" rxv mkdir "$I:/new"
	refused "$1: rm" "$2" rxv rm "$I:/hello.txt"
	refused "$1: mv" "$2" rxv mv "$I:/hello.txt" "$I:/new"
	refused "$1: ln -s" "$2" rxv ln -s target "$I:/new"
	refused "$1: ln" "$2" rxv ln "$I:/hello.txt" "$I:/new"
	refused "$1: chmod" "$2" rxv chmod 0600 "$I:/hello.txt"
	refused "$1: chown" "$2" rxv chown 5:5 "$I:/hello.txt"
	refused "$1: touch" "$2" rxv touch "$I:/hello.txt"
	refused "$1: truncate" "$2" rxv truncate -s 0 "$I:/hello.txt"
	refused "$1: write" "$2" with_stdin "$SRC/hf" rxv write "$I:/hello.txt"
	refused "$1: edit" "$2" with_editor "$EDIT_OK" rxv edit "$I:/hello.txt"
}
# hold HOLDER...: run a holder in the background until $WORK/release exists; it
# creates $WORK/ready once it holds the image.
hold() {
	rm -f "$WORK/ready" "$WORK/release"
	"$@" &
	holder=$!
	i=0
	while [ ! -e "$WORK/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
unhold() {
	touch "$WORK/release"
	wait $holder
}
waiter='touch "$1/ready"; while [ ! -e "$1/release" ]; do sleep 0.1; done'
hold flock "$IMG" sh -c "$waiter" sh "$WORK"
if [ -e "$WORK/ready" ]; then
	every_verb "locked with flock by another process" "in use"
else
	fail "flock(1) could not take the lock on the image"
fi
unhold
hold sh -c "exec 3<>\"\$2\"; $waiter" sh "$WORK" "$IMG"
# Seeing other processes' open files needs /proc (or libproc); a build without it cannot.
if grep -q '^#define HOLDER_LOOKUP' "$top_builddir/config.h"; then
	every_verb "open for writing by another process" "open for writing"
else
	skip "open for writing by another process" "this build does not look at other processes (no /proc, no libproc, or --disable-proc-lookup)"
fi
unhold
# Open only for reading, without a lock (a viewer, a checksum): writing goes ahead.
hold sh -c "exec 3<\"\$2\"; $waiter" sh "$WORK" "$IMG"
ok "open for reading by another process (no lock): put still writes" "$R" put "$SRC/hf" "$I:/while-read"
unhold
hold $PY -c '
import fcntl, os, sys, time
f = open(sys.argv[2], "rb")
fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 100)    # like QEMU: a byte-range lock
open(os.path.join(sys.argv[1], "ready"), "w").close()
while not os.path.exists(os.path.join(sys.argv[1], "release")):
    time.sleep(0.1)
' "$WORK" "$IMG"
refused "a QEMU-style byte-range lock: put" "QEMU|holding a lock" "$R" put "$SRC/hf" "$I:/new"
refused "a QEMU-style byte-range lock: mkfs --force" "QEMU|holding a lock" "$R" mkfs --force "$I"
unhold
ok "after the holders are gone, the image can be written" "$R" mkdir "$I:/free-again"

# ---------------------------------------------------------------------------------------
# A read-only image file (0444). Root may write anyway, so as root the verbs run as
# nobody (setpriv), when that user can reach the image and the program.
RO_DIR="$WORK/ro"
mkdir -p "$RO_DIR"
RO="$RO_DIR/ro.img"
cp "$IMG" "$RO"
chmod 0444 "$RO"
chmod 0755 "$RO_DIR" "$WORK"
why=
if [ "$(id -u)" = 0 ]; then
	if ! command -v setpriv >/dev/null 2>&1; then
		why="running as root and setpriv(1) is missing"
	elif ! setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "test -r '$RO' && test ! -w '$RO' && '$R' --version" >/dev/null 2>&1; then
		why="running as root and user nobody cannot reach $RO or $R"
	else
		AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	fi
fi
if [ -n "$why" ]; then
	skip "writing to a read-only image file" "$why"
else
	T=$RO
	I=$RO
	every_verb "read-only image file${AS:+ (as nobody)}" "Permission denied|read-only"
	AS=
fi
chmod 0700 "$WORK"

# ---------------------------------------------------------------------------------------
# mkfs: too small, an existing filesystem or partition table, bad sizes
T="$WORK/tiny.img"
truncate -s $((264 * 4096)) "$T"
refused "mkfs: an image of 264 blocks is too small (the error names the minimum)" \
	"265 blocks" "$R" mkfs "$T"
refused "mkfs: reserved space leaves too little (the error names the minimum)" \
	"265 blocks" "$R" mkfs -r 4096 "$T"
T="$WORK/tiny-new.img"
refused "mkfs -s 1M: too small, no image is made" "265 blocks" "$R" mkfs -s 1M "$T"
refused "mkfs -s of 264 blocks: too small, no image is made" "265 blocks" \
	"$R" mkfs -s $((264 * 4096)) "$T"
ok "mkfs -s of exactly 265 blocks works and checks clean" sh -c \
	"'$R' mkfs -s $((265 * 4096)) '$WORK/min.img' && '$R' check -q '$WORK/min.img'"
T=$IMG
refused "mkfs: over an existing RedoxFS without --force" "force" "$R" mkfs "$T"
refused "mkfs -s: over an existing RedoxFS without --force" "force" "$R" mkfs -s 8M "$T"
refused "mkfs --from: over an existing RedoxFS without --force" "force" \
	"$R" mkfs --from "$SRC/dir" "$T"
T=$(copy_image bigdir.img)
refused "mkfs: over a larger existing RedoxFS without --force" "force" "$R" mkfs "$T"
if command -v sgdisk >/dev/null 2>&1; then
	T="$WORK/gpt.img"
	truncate -s 4M "$T"
	sgdisk -o "$T" >/dev/null 2>&1
	refused "mkfs: over a GPT partition table without --force" "partition" "$R" mkfs "$T"
else
	skip "mkfs: over a GPT partition table" "sgdisk is not installed"
fi
T="$WORK/bad-size.img"
for s in abc 0 -5M 10X 99999999999T ''; do
	refused "mkfs: bad size '$s' (no image is made)" "size" "$R" mkfs -s "$s" "$T"
done
refused "mkfs: a missing reserved file (no image is made)" "missing" \
	"$R" mkfs -s 8M -r "$WORK/missing" "$T"
refused "mkfs: a directory as the image" "directory" "$R" mkfs "$WORK/tmp"

# ---------------------------------------------------------------------------------------
ok "after all this, the image checks clean" "$R" check -q "$IMG"
leftovers=$(ls "$WORK/tmp")
ok "no editor copies are left except the failed edit's" test "$(echo "$leftovers" | grep -c .)" -le 1

done_testing
