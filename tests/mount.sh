#!/bin/sh
# rximg mount / rximg umount through the kernel's FUSE, checked with ordinary tools:
#  1. every reference image mounted read-only reproduces its manifest exactly (a walker
#     using only lstat/readlink/read, every column incl. dir sizes, nlink and ctime) and
#     is not changed by the mount;
#  2. coreutils, tar, find, df, sha256sum on a read-write mount of a fresh image, the
#     errno of every error, then umount, check and extract = what was written;
#  3. open-unlinked files; 4. concurrent writers and a reader; 5. fsx-style random
#     operations against a model; 6. durability: fsync, the commit interval, kill -9 in the
#     middle of heavy writes, SIGTERM, mount -- COMMAND; 7. locking against other writers.
# Skipped as a whole, with the reason, where FUSE cannot be used.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/mountlib.sh"

umask 022
R=$RXIMG
PY=${PYTHON3:-python3}
TOOLS="$top_srcdir/tests/tools"
H="$TOOLS/mount_helpers.py"
PIDFILES=""	# pid files of servers started with --pid-file
HELPERS=""	# background helper processes still running
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

# ---------------------------------------------------------------------------------------
# Mounts and their cleanup (tests/mountlib.sh: mount_img, is_mounted, unmount_all, ...).

new_mp() {  # new_mp NAME: make a mountpoint, print its physical path
	mkdir -p "$WORK/mnt/$1" && (cd "$WORK/mnt/$1" && pwd -P)
}

server_pid() { cat "$1" 2>/dev/null; }

alive() {  # alive PID: the process runs (a zombie nobody reaps counts as gone)
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

ours() {  # ours PID WORD: alive, and its command line has WORD (a pid is never reused on us)
	alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

pid_gone() {  # pid_gone PID SECONDS: wait until the process has exited
	local i=0
	while alive "$1"; do
		i=$((i + 1))
		[ $i -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

T0=$(date +%s)
section_name=
section() {  # section NAME: the previous section ends with a look for sanitizer reports
	[ -n "$section_name" ] &&
		ok "$section_name: no sanitizer report from any mount server" no_sanitizer_reports
	section_name=$1
	diag "== $* (at $(($(date +%s) - T0)) s)"
}

cleanup() {
	unmount_all
	for pf in $PIDFILES; do
		p=$(server_pid "$pf")
		[ -n "$p" ] && ours "$p" "rximg mount" && kill -9 "$p" 2>/dev/null
	done
	for p in $HELPERS; do
		ours "$p" "$TOOLS" && kill -9 "$p" 2>/dev/null
	done
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Whether FUSE can be used here at all: a real mount of a small image.
reason=
if [ ! -e /dev/fuse ]; then
	reason="no /dev/fuse"
elif [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
	reason="/dev/fuse is not readable and writable by $(id -un)"
elif [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
	reason="fusermount3 is missing and we are not root"
elif ! "$R" mkfs -s 8M "$WORK/probe.img" >"$WORK/probe.err" 2>&1; then
	fail "mkfs of a probe image"
	sed 's/^/#   /' "$WORK/probe.err"
	done_testing
	exit
else
	mp=$(new_mp probe)
	if ! mount_img "$mp" "$WORK/probe.img" 2>"$WORK/probe.err"; then
		if grep -q "cannot mount on" "$WORK/probe.err"; then
			reason="FUSE is not usable here: $(head -n1 "$WORK/probe.err")"
		else
			fail "probe mount of a fresh image"
			sed 's/^/#   /' "$WORK/probe.err"
			done_testing
			exit
		fi
	elif ! is_mounted "$mp"; then
		fail "probe mount: rximg mount returned but nothing is mounted on $mp"
		done_testing
		exit
	else
		"$R" umount "$mp"
	fi
fi
if [ -n "$reason" ]; then
	skip "FUSE mount tests" "$reason"
	done_testing
	exit
fi

# ---------------------------------------------------------------------------------------
# 1. Reference images, read-only: the mount shows exactly the manifest.
section "1. reference images through read-only mounts"

same_file() {  # same_file WANT GOT: cmp, showing the first differences
	cmp -s "$1" "$2" && return 0
	echo "--- $1 (expected) +++ $2 (got)"
	diff "$1" "$2" | head -20
	return 1
}

ro_manifest() {  # ro_manifest NAME SPEC IMAGE MANIFEST
	local name=$1 spec=$2 img=$3 man=$4 mp sum_before sum_after
	sum_before=$(sha256sum <"$img")
	mp=$(new_mp "ro-$name")
	if ! mount_img "$mp" -o ro "$spec" 2>"$WORK/ro.err"; then
		fail "$name: mount -o ro"
		sed 's/^/#   /' "$WORK/ro.err"
		return
	fi
	$PY "$TOOLS/tree_manifest.py" "$mp" >"$WORK/$name.ro.tsv" 2>&1
	ok "$name: the read-only mount reproduces the manifest exactly (every column)" \
		same_file "$man" "$WORK/$name.ro.tsv"
	ok "$name: rximg umount" "$R" umount "$mp"
	ok "$name: nothing is mounted any more" not_mounted "$mp"
	sum_after=$(sha256sum <"$img")
	ok "$name: the image is unchanged by the read-only mount" test "$sum_before" = "$sum_after"
}

for man in "$DATA"/*.manifest.tsv; do
	name=$(basename "$man" .manifest.tsv)
	if ! head -n1 "$man" | grep -q '^# path	type	mode	uid	gid	size	mtime	ctime	nlink'; then
		skip "$name: read-only mount" "an initfs archive, not a RedoxFS (nothing to mount)"
		continue
	fi
	img=$(copy_image "$name.img") || { fail "$name: test image missing"; continue; }
	ro_manifest "$name" "$img" "$img" "$man"
done

# Writes are refused on a read-only mount.
img=$(copy_image misc-tree.img)
mp=$(new_mp ro-refuse)
if mount_img "$mp" -o ro "$img"; then
	ok "a read-only mount refuses every change with EROFS" $PY - "$mp" <<'PYEOF'
import errno, os, sys
d = sys.argv[1]
f = next(os.path.join(p, n) for p, _, names in sorted(os.walk(d)) for n in sorted(names)
         if os.path.isfile(os.path.join(p, n)) and not os.path.islink(os.path.join(p, n)))
bad = []
for what, fn, args in [("create", os.open, (os.path.join(d, "new"), os.O_CREAT | os.O_WRONLY, 0o644)),
                       ("open for writing", os.open, (f, os.O_WRONLY)),
                       ("mkdir", os.mkdir, (os.path.join(d, "newdir"),)),
                       ("unlink", os.unlink, (f,)), ("chmod", os.chmod, (f, 0o600)),
                       ("truncate", os.truncate, (f, 0)), ("rename", os.rename, (f, f + ".x")),
                       ("symlink", os.symlink, ("t", os.path.join(d, "sl")))]:
    try:
        fn(*args)
        bad.append("%s succeeded" % what)
    except OSError as e:
        if e.errno != errno.EROFS:
            bad.append("%s: %s" % (what, e))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF
	"$R" umount "$mp"
	ok "misc-tree: still checks clean after the refused writes" "$R" check -q "$img"
else
	fail "misc-tree: mount -o ro"
fi

# The whole-disk image of the shared corpus, through its GPT (found, and named with :p3).
if disk=$(copy_image wholedisk-gpt.img 2>/dev/null) && [ -f "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv" ]; then
	ro_manifest wholedisk-gpt "$disk" "$disk" "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv"
	ro_manifest wholedisk-gpt-p3 "$disk:p3" "$disk" "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv"
	mp=$(new_mp ro-p2)
	ok "wholedisk-gpt: mounting IMAGE:p2 (the FAT ESP) is refused cleanly" \
		fails_cleanly 'no RedoxFS' mount_img "$mp" -o ro "$disk:p2"
else
	skip "wholedisk-gpt: read-only mount through the GPT" \
		"the shared golden corpus is not beside this checkout ($GOLDEN_DIR)"
fi

# ---------------------------------------------------------------------------------------
# 2. Ordinary tools on a read-write mount of a fresh image.
section "2. ordinary tools on a read-write mount"

SRC="$WORK/src"
mkdir -p "$SRC"
# A real tree: part of /usr/share/doc (about 10 MB) and this source tree.
if [ -d /usr/share/doc ]; then
	mkdir -p "$SRC/doc"
	total=0
	for d in /usr/share/doc/*; do
		[ -e "$d" ] || continue
		k=$(du -sk "$d" 2>/dev/null | cut -f1)
		[ $((total + ${k:-0})) -gt 10000 ] && continue
		cp -a "$d" "$SRC/doc/" 2>/dev/null && total=$((total + ${k:-0}))
	done
fi
mkdir -p "$SRC/rximg"
for d in cli common disk fuse redoxfs man tests/tools; do
	[ -d "$top_srcdir/$d" ] && mkdir -p "$SRC/rximg/$d" && cp -a "$top_srcdir/$d/." "$SRC/rximg/$d/" 2>/dev/null
done
find "$SRC/rximg" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null
# Synthetic files for what a real tree may lack: sizes around the inline and record
# limits, holes, odd modes, owners and times, odd and long names, hard links, long symlinks.
$PY - "$SRC/synthetic" <<'PYEOF'
import os, random, sys
d = sys.argv[1]
rnd = random.Random(20250101)
os.makedirs(d)
def put(name, data, mode=0o644):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
    return p
for n in (0, 1, 3967, 3968, 4095, 4096, 4097, 131071, 131072, 131073, 262145, 1048577):
    put("size_%07d" % n, rnd.randbytes(n))
put("text", b"".join(b"line %d of some compressible text\n" % i for i in range(30000)))
put("zeros_300k", bytes(300000))
with open(os.path.join(d, "sparse"), "wb") as f:
    f.truncate(3 << 20)
    for off in (0, 131072 * 3 + 5, (3 << 20) - 7):
        f.seek(off)
        f.write(rnd.randbytes(7))
put("mode_4755", b"#!/bin/sh\n", 0o4755)
put("mode_2711", b"x", 0o2711)
if os.getuid() == 0:	 # (only root can read it back)
    put("mode_0000", b"x", 0o000)
os.makedirs(os.path.join(d, "sticky"))
os.chmod(os.path.join(d, "sticky"), 0o1777)
if os.getuid() == 0:
    os.chown(put("owned", b"owned"), 1234, 5678)
    os.chown(put("owned_big", b"big ids"), 4294967293, 2147483648)
put("times_old", b"old")
os.utime(os.path.join(d, "times_old"), ns=(1000000000_000000001, 1000000000_123456789))
put("times_future", b"future")
os.utime(os.path.join(d, "times_future"), ns=(4102444800_999999999, 4102444800_987654321))
put("name with spaces and 'quotes'", b"q")
put("tab\there", b"t")
put("newline\nhere", b"n")
put("back\\slash", b"b")
put("ünïcödé 日本語 🎉", b"u")
put("x" * 252, b"longest name")
put("日" * 84, b"longest utf-8 name")
put("hard1", b"hard linked content")
os.link(os.path.join(d, "hard1"), os.path.join(d, "hard2"))
os.symlink("size_0000001", os.path.join(d, "link_rel"))
os.symlink("/etc/hostname", os.path.join(d, "link_abs"))
os.symlink("does/not/exist", os.path.join(d, "link_dangling"))
os.symlink("t" * 3000, os.path.join(d, "link_3000"))
os.symlink("/" + "u" * 4000, os.path.join(d, "link_4001"))
os.symlink("sticky", os.path.join(d, "link_dir"))
os.makedirs(os.path.join(d, "empty_dir"))
os.makedirs(os.path.join(d, "a", "b", "c"))
put(os.path.join("a", "b", "c", "deep"), b"deep")
os.utime(os.path.join(d, "a", "b"), ns=(1500000000_000000000, 1500000000_000000007))
os.utime(os.path.join(d, "link_rel"), ns=(1600000000_000000000, 1600000000_000000011), follow_symlinks=False)
PYEOF
nsrc=$(find "$SRC" | wc -l)
diag "source tree: $nsrc entries, $(du -sh "$SRC" | cut -f1)"

RW="$WORK/rw.img"
"$R" mkfs -s 256M "$RW"
MP=$(new_mp rw)
if ! mount_img "$MP" "$RW" 2>"$WORK/rw.err"; then
	fail "mount a fresh 256 MiB image read-write"
	sed 's/^/#   /' "$WORK/rw.err"
fi
# The sizes df reports, in 4 KiB blocks: total and available.
df_avail() { df -P -B4096 "$1" | awk 'NR == 2 { print $4 }'; }
df_size() { df -P -B4096 "$1" | awk 'NR == 2 { print $2 }'; }
ok "df reports the size of the filesystem (256 MiB)" test "$(df_size "$MP")" -ge 65000 -a "$(df_size "$MP")" -le 65536
wait_avail_above() {  # wait_avail_above DIR BLOCKS: freed blocks may wait for the next commit (1 s)
	local i=0
	while [ "$(df_avail "$1")" -lt "$2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	df_avail "$1"
}
free0=$(df_avail "$MP")
head -c 8388608 /dev/urandom >"$WORK/rnd8m"
cp "$WORK/rnd8m" "$MP/rnd8m"
free1=$(df_avail "$MP")
ok "df: 8 MiB of random data take at least 2048 blocks ($free0 -> $free1 available)" \
	test "$free1" -le $((free0 - 2048))
rm "$MP/rnd8m"
free2=$(wait_avail_above "$MP" $((free0 - 16)))
ok "df: removing it gives them back ($free1 -> $free2 available, $free0 at first)" \
	test "$free2" -ge $((free0 - 16))

same_tree() {  # same_tree A B: contents (diff -r, links not followed) and metadata
	diff -rq --no-dereference "$1" "$2" >"$WORK/st.diff" 2>&1 || { head -20 "$WORK/st.diff"; return 1; }
	$PY "$H" meta "$1" $3 >"$WORK/st.a" && $PY "$H" meta "$2" $3 >"$WORK/st.b" &&
		same_file "$WORK/st.a" "$WORK/st.b"
}

ok "cp -a of a real tree into the mount ($nsrc entries)" cp -a "$SRC" "$MP/tree"
ok "diff -r: the copy in the mount equals the source" diff -rq --no-dereference "$SRC" "$MP/tree"
(cd "$SRC" && find . | LC_ALL=C sort) >"$WORK/find.src"
(cd "$MP/tree" && find . | LC_ALL=C sort) >"$WORK/find.mnt"
ok "find lists the same $(wc -l <"$WORK/find.src") entries (find | wc: $(wc -l <"$WORK/find.mnt"))" \
	same_file "$WORK/find.src" "$WORK/find.mnt"
$PY "$H" meta "$SRC" >"$WORK/meta.src"
$PY "$H" meta "$MP/tree" >"$WORK/meta.mnt"
ok "cp -a kept every type, mode, owner, size, mtime (ns), link count and symlink target" \
	same_file "$WORK/meta.src" "$WORK/meta.mnt"
ok "stat: setuid file 4755, sticky dir 1777, owners (when root) and ns times preserved" sh -c "
	test \"\$(stat -c %a:%u:%g '$MP/tree/synthetic/mode_4755')\" = 4755:$(id -u):$(id -g) &&
	test \"\$(stat -c %a '$MP/tree/synthetic/sticky')\" = 1777 &&
	{ test $ROOT = 0 || test \"\$(stat -c %u:%g '$MP/tree/synthetic/owned')\" = 1234:5678; } &&
	test \"\$(stat -c %Y.%y '$MP/tree/synthetic/times_future')\" = \"\$(stat -c %Y.%y '$SRC/synthetic/times_future')\""
ok "hard links copied by cp -a share one node with nlink 2" sh -c "
	test \"\$(stat -c %h '$MP/tree/synthetic/hard1')\" = 2 &&
	test \"\$(stat -c %i '$MP/tree/synthetic/hard1')\" = \"\$(stat -c %i '$MP/tree/synthetic/hard2')\""
(cd "$SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
ok "sha256sum -c of every file through the mount" sh -c "cd '$MP/tree' && sha256sum -c --quiet '$WORK/sums'"
ok "cp -a out of the mount" cp -a "$MP/tree" "$WORK/out"
ok "diff -r and metadata: the copy out equals the source" same_tree "$SRC" "$WORK/out"
mkdir "$MP/tarx" "$WORK/tarout"
free_a=$(df_avail "$MP")
ok "tar c | tar x into the mount (pax format, ns times)" sh -c \
	"tar -C '$SRC' --format=posix -cf - . | tar -C '$MP/tarx' -xpf -"
ok "diff -r and metadata: the tar copy in the mount equals the source" same_tree "$SRC" "$MP/tarx"
ok "tar c from the mount | tar x to the host" sh -c \
	"tar -C '$MP/tree' --format=posix -cf - . | tar -C '$WORK/tarout' -xpf -"
ok "diff -r and metadata: the tar copy out equals the source" same_tree "$SRC" "$WORK/tarout"
free_b=$(df_avail "$MP")
ok "df: the tar copy took space ($free_a -> $free_b available)" test "$free_b" -lt $((free_a - 500))
ok "rm -r of the tar copy" rm -r "$MP/tarx"
ok "the removed tree is gone" test ! -e "$MP/tarx"
free_c=$(wait_avail_above "$MP" $((free_a - 16)))
ok "df: rm -r gave its space back ($free_b -> $free_c available, $free_a before it)" \
	test "$free_c" -ge $((free_a - 16))

# The same changes with coreutils on the mount and on a host model, then compared.
head -c 300000 /dev/urandom >"$WORK/rnd300k"
printf 'small' >"$WORK/small"
cat >"$WORK/mutate.sh" <<'SHEOF'
# sh -e mutate.sh DIR WORK ROOT: one sequence of ordinary commands (run in the mount and on the host)
cd "$1"
WORK=$2
mkdir ops
cd ops
printf 'first\n' >app
printf 'second\n' >>app
seq 1 20000 >>app
cp "$WORK/rnd300k" shrink && truncate -s 100000 shrink
cp "$WORK/rnd300k" regrow && truncate -s 50000 regrow && truncate -s 400000 regrow
printf 'small' >inline_grow && truncate -s 10000 inline_grow
truncate -s 5000000 big_hole && printf 'end' >>big_hole
head -c 200000 "$WORK/rnd300k" >zero_tail && head -c 1000 /dev/zero >>zero_tail
head -c 5000 "$WORK/rnd300k" >zero_tail_small && head -c 1000 /dev/zero >>zero_tail_small
echo one >f1 && echo two >f2 && mv f1 f2
mkdir d1 d2 && echo in >d1/file && mv d1 d2/
mkdir d3 && echo x >d3/x && mv d3 d3_renamed
mkdir -p mt/src mt/dst && echo moved >mt/src/f && mv -T mt/src mt/dst
mkdir -p full/a && echo keep >full/a/k && mkdir notempty && echo y >notempty/y
if mv -T full notempty 2>/dev/null; then echo "mv -T over a non-empty directory succeeded"; exit 1; fi
echo data >h1 && ln h1 h2 && echo more >>h2
echo data >h3 && ln h3 h4 && rm h3
ln -s h1 sym && ln -s /no/such/target dangling && ln -s "$(printf 'p%.0s' $(seq 1 300))" longsym
echo perm >perm
[ "$3" = 1 ] && chown 4321:8765 perm
chmod 4750 perm
touch -d '2001-02-03 04:05:06.123456789 UTC' perm
touch -h -d '1999-12-31 23:59:59.5 UTC' sym
mkdir stamped && touch -d '2030-01-01 00:00:00.000000007 UTC' stamped
mkdir -p "deep/$(seq -s / 1 60)" && echo bottom >"deep/$(seq -s / 1 60)/file"
echo 'colon in data: a:b' >colon_data
mkdir -p r/x/y && echo z >r/x/y/z && rm -r r/x
mkdir times
for i in 1 2 3 4 5 6; do
	echo x >times/s$i && echo y >>times/s$i
	truncate -s 5000000 times/h$i && printf 'end' >>times/h$i
done
SHEOF
mkdir -p "$WORK/model"
sh -e "$WORK/mutate.sh" "$WORK/model" "$WORK" $ROOT >"$WORK/model.out" 2>&1 ||
	{ fail "the coreutils changes on the host model"; sed 's/^/#   /' "$WORK/model.out"; }
ok "coreutils in the mount: append, truncate, mv (files, dirs, replacing, -T), ln, ln -s, chmod, chown, touch -d, mkdir -p, rm -r" \
	sh -e "$WORK/mutate.sh" "$MP" "$WORK" $ROOT
ok "diff -r: the changed files equal the host model" diff -rq --no-dereference "$WORK/model/ops" "$MP/ops"
$PY "$H" meta "$WORK/model/ops" --no-mtime >"$WORK/ops.model.meta"
$PY "$H" meta "$MP/ops" --no-mtime >"$WORK/ops.mnt.meta"
ok "types, modes, owners, sizes, link counts and targets equal the host model" \
	same_file "$WORK/ops.model.meta" "$WORK/ops.mnt.meta"
ok "append: >> adds to the end (20002 lines)" test "$(wc -l <"$MP/ops/app")" = 20002
ok "truncate down keeps the head" cmp -n 100000 "$MP/ops/shrink" "$WORK/rnd300k"
ok "truncate down then up: the head is kept, the regrown part reads zeros" \
	$PY "$H" zeros "$MP/ops/regrow" "$WORK/rnd300k" 50000
ok "truncate up of an inline file reads zeros" $PY "$H" zeros "$MP/ops/inline_grow" "$WORK/small" 5
ok "mv replaced f2 with f1" test "$(cat "$MP/ops/f2")" = one -a ! -e "$MP/ops/f1"
ok "mv -T over an empty directory replaced it" test "$(cat "$MP/ops/mt/dst/f")" = moved -a ! -e "$MP/ops/mt/src"
ok "hard link: nlink 2, one node, writes through either name" sh -c "
	test \"\$(stat -c %h '$MP/ops/h1')\" = 2 &&
	test \"\$(stat -c %i '$MP/ops/h1')\" = \"\$(stat -c %i '$MP/ops/h2')\" &&
	test \"\$(cat '$MP/ops/h1')\" = \"\$(printf 'data\nmore')\" &&
	test \"\$(stat -c %h '$MP/ops/h4')\" = 1"
ok "ln -s and readlink" sh -c "test \"\$(readlink '$MP/ops/sym')\" = h1 &&
	test \"\$(readlink '$MP/ops/dangling')\" = /no/such/target && test \"\$(cat '$MP/ops/sym')\" = \"\$(cat '$MP/ops/h1')\""
if [ $ROOT = 1 ]; then
	ok "chmod 4750, chown 4321:8765, touch -d with nanoseconds" test \
		"$(TZ=UTC stat -c '%a %u %g %y' "$MP/ops/perm")" = "4750 4321 8765 2001-02-03 04:05:06.123456789 +0000"
else
	ok "chmod 4750, touch -d with nanoseconds" test \
		"$(TZ=UTC stat -c '%a %y' "$MP/ops/perm")" = "4750 2001-02-03 04:05:06.123456789 +0000"
fi
ok "touch -h -d sets a symlink's own time" test "$(TZ=UTC stat -c %y "$MP/ops/sym")" = "1999-12-31 23:59:59.500000000 +0000"
ok "touch -d on a directory" test "$(TZ=UTC stat -c %y "$MP/ops/stamped")" = "2030-01-01 00:00:00.000000007 +0000"
ok "mkdir -p of a 60-level tree" test "$(find "$MP/ops/deep" -type d | wc -l)" = 61 \
	-a "$(cat "$MP/ops/deep/$(seq -s / 1 60)/file")" = bottom
ok "rm -r removed a subtree" test -d "$MP/ops/r" -a ! -e "$MP/ops/r/x"
mkdir "$MP/errno"
ok "errno of every failing call (ENOENT, EEXIST, ENOTEMPTY, ENAMETOOLONG, ENOTDIR, EISDIR, EINVAL for ':')" \
	$PY "$H" errnos "$MP/errno"
mkdir "$MP/rename2"
ok "renameat2: RENAME_NOREPLACE refuses an existing name, RENAME_EXCHANGE trades two (file and directory)" \
	$PY "$H" renameflags "$MP/rename2"
mkdir "$MP/reuse"
ok "a directory made while a removed one is still open (or cached) is usable" $PY "$H" dirreuse "$MP/reuse"

# What the mount shows just before unmounting, to compare with the image afterwards.
rm -rf "$MP/reuse"	# (its leftovers are whatever the bug above left behind)
$PY "$H" meta "$MP" --no-nlink --no-root >"$WORK/final.mnt.meta"
ok "rximg umount" "$R" umount "$MP"
ok "nothing is mounted any more" not_mounted "$MP"
ok "rximg check is clean after the session" "$R" check -q "$RW"
rm -rf "$WORK/x"
ok "rximg extract of the image" "$R" extract -q "$RW" "$WORK/x"
ok "extract: the copied tree equals the source" diff -rq --no-dereference "$SRC" "$WORK/x/tree"
ok "extract: the coreutils changes equal the host model" diff -rq --no-dereference "$WORK/model/ops" "$WORK/x/ops"
$PY "$H" meta "$WORK/x" --no-nlink --no-root >"$WORK/final.x.meta"
ok "extract: every type, mode, owner, size, mtime and target is what the mount showed" \
	same_file "$WORK/final.mnt.meta" "$WORK/final.x.meta"
ok "appending zeros inside a partly written record keeps the new size on disk (201000)" \
	test "$(stat -c %s "$WORK/x/ops/zero_tail" 2>/dev/null)" = 201000
ok "appending zeros to an inline file keeps the new size on disk (6000)" \
	test "$(stat -c %s "$WORK/x/ops/zero_tail_small" 2>/dev/null)" = 6000

# A full filesystem: ENOSPC, at write or (through the writeback cache) at fsync, and the
# image stays clean and usable.
for cache in writeback_cache no_writeback_cache; do
	SI="$WORK/small.$cache.img"
	"$R" mkfs -s 16M "$SI"
	SMP=$(new_mp "small.$cache")
	mount_img "$SMP" -o "$cache" "$SI"
	dd if=/dev/urandom of="$SMP/big" bs=1M count=64 conv=fsync 2>"$WORK/dd.err"
	rc=$?
	ok "$cache: writing 64 MiB into 16 MiB fails with ENOSPC (dd status $rc)" \
		sh -c "test $rc != 0 && grep -q 'No space left on device' '$WORK/dd.err'"
	ok "$cache: after removing the file, a new one can be written and read" \
		sh -c "rm '$SMP/big' && echo after >'$SMP/after' && test \"\$(cat '$SMP/after')\" = after"
	ok "$cache: rximg umount" "$R" umount "$SMP"
	ok "$cache: check is clean after ENOSPC" "$R" check -q "$SI"
	ok "$cache: the file written after it is in the image" sh -c "test \"\$('$R' cat '$SI:/after')\" = after"
done

# -o default_permissions (with allow_other): the kernel checks modes and owners for other
# users; without it, the server would let them read anything. Needs root to act as nobody.
if [ $ROOT = 1 ] && command -v setpriv >/dev/null; then
	PI="$WORK/perm.img"
	"$R" mkfs -s 16M "$PI"
	# The test's own folders are private (0700): nobody needs a mountpoint it can reach.
	PMP=$(mktemp -d "${TMPDIR:-/tmp}/rximg-perm.XXXXXX")
	chmod 0755 "$PMP"
	mount_img "$PMP" -o allow_other,default_permissions "$PI"
	chmod 0755 "$PMP"
	echo secret >"$PMP/secret" && chmod 0600 "$PMP/secret"
	echo public >"$PMP/public" && chmod 0644 "$PMP/public"
	ok "default_permissions: nobody reads a 0644 file" sh -c "test \"\$(setpriv --reuid=65534 --regid=65534 --clear-groups cat '$PMP/public')\" = public"
	ok "default_permissions: nobody may not read root's 0600 file" \
		sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$PMP/secret' 2>'$WORK/perm.err' && grep -q 'Permission denied' '$WORK/perm.err'"
	ok "default_permissions: nobody may not create in root's 0755 directory" \
		sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >\"\$1\"' sh '$PMP/new' 2>/dev/null && test ! -e '$PMP/new'"
	ok "default_permissions: nobody may not chmod root's file" \
		sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups chmod 0666 '$PMP/public' 2>/dev/null && test \$(stat -c %a '$PMP/public') = 644"
	ok "default_permissions: rximg umount" "$R" umount "$PMP"
	ok "default_permissions: check is clean" "$R" check -q "$PI"
	not_mounted "$PMP" && rmdir "$PMP"
else
	skip "-o default_permissions" "needs root (to act as another user) and setpriv"
fi

# ---------------------------------------------------------------------------------------
# 3. Open-unlinked files.
section "3. open-unlinked files"

UI="$WORK/unlinked.img"
"$R" mkfs -s 64M "$UI"
free_before=$("$R" info --json "$UI" | $PY -c 'import json,sys; print(json.load(sys.stdin)["redoxfs"]["free_blocks"])')
MP=$(new_mp unlinked)
mount_img "$MP" "$UI"
ok "an open-unlinked file keeps its data, takes writes, truncates and reads; its space returns at close" \
	$PY "$H" unlinked "$MP"
sed -n 's/^# /# unlinked: /p' "$WORK/.out"
ok "rximg umount" "$R" umount "$MP"
ok "check is clean" "$R" check -q "$UI"
free_after=$("$R" info --json "$UI" | $PY -c 'import json,sys; print(json.load(sys.stdin)["redoxfs"]["free_blocks"])')
ok "the image's free blocks are back ($free_before before, $free_after after)" \
	test "$free_after" -ge $((free_before - 8))

# Killed while a nameless file is open: the next mount releases it.
PF="$WORK/unlinked.pid"
PIDFILES="$PIDFILES $PF"
mount_img "$MP" --pid-file "$PF" "$UI"
rm -f "$WORK/ready"
$PY "$H" unlinked-hold "$MP" "$WORK/ready" &
holder=$!
HELPERS="$HELPERS $holder"
i=0
while [ ! -f "$WORK/ready" ] && [ $i -lt 300 ] && kill -0 $holder 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if [ -f "$WORK/ready" ]; then
	spid=$(server_pid "$PF")
	kill -9 "$spid"
	pid_gone "$spid" 10
	lazy_unmount "$MP"
	kill -9 $holder 2>/dev/null
	wait $holder 2>/dev/null
	ok "killed with an open-unlinked file: check exit 0" "$R" check -q "$UI"
	ok "the nameless file has no name in the image" sh -c "! '$R' ls '$UI:/' | grep -q held"
	held_free=$("$R" info --json "$UI" | $PY -c 'import json,sys; print(json.load(sys.stdin)["redoxfs"]["free_blocks"])')
	mount_img "$MP" "$UI" && "$R" umount "$MP"
	ok "the next mount releases it: check exit 0" "$R" check -q "$UI"
	free_after=$("$R" info --json "$UI" | $PY -c 'import json,sys; print(json.load(sys.stdin)["redoxfs"]["free_blocks"])')
	ok "and its 2 MiB come back ($held_free free while held, $free_after after, $free_before at first)" \
		test "$free_after" -ge $((free_before - 8)) -a "$held_free" -lt $((free_before - 400))
else
	kill -9 $holder 2>/dev/null
	fail "make an open-unlinked file and fsync it"
fi

# ---------------------------------------------------------------------------------------
# 4. Concurrency: four writers and a reader at once.
section "4. concurrency"

CI="$WORK/conc.img"
"$R" mkfs -s 256M "$CI"
MP=$(new_mp conc)
mount_img "$MP" "$CI"
$PY "$H" populate "$MP/pre" 24 99 "$WORK/pre.json"
rm -f "$WORK/stop"
pids=
for w in 1 2 3 4; do
	timeout -k 5 180 $PY "$H" writer "$MP/w$w" $((w * 1000)) "$WORK/w$w.json" >"$WORK/w$w.out" 2>&1 &
	pids="$pids $!"
done
timeout -k 5 240 $PY "$H" reader "$MP/pre" "$WORK/pre.json" "$WORK/stop" "$MP/w1" "$MP/w2" "$MP/w3" "$MP/w4" \
	>"$WORK/reader.out" 2>&1 &
reader=$!
HELPERS="$HELPERS $pids $reader"
wfail=0
for p in $pids; do
	wait $p || wfail=1
done
touch "$WORK/stop"
wait $reader
rstat=$?
ok "four writers at once (chunks, out of order, rename, rewrite, unlink) all succeed" sh -c "
	[ $wfail = 0 ] || { cat '$WORK'/w?.out; exit 1; }"
ok "a concurrent reader always saw the unchanged files intact" sh -c "
	sed 's/^/# /' '$WORK/reader.out'; [ $rstat = 0 ]"
for w in 1 2 3 4; do
	if [ -f "$WORK/w$w.json" ]; then
		ok "writer $w: every file holds what it wrote (cold reads through the mount)" \
			$PY "$H" verify "$MP/w$w" "$WORK/w$w.json"
	else
		fail "writer $w: every file holds what it wrote (the writer failed: $(tail -n1 "$WORK/w$w.out"))"
	fi
done
ok "rximg umount" "$R" umount "$MP"
ok "check is clean" "$R" check -q "$CI"
rm -rf "$WORK/cx"
"$R" extract -q "$CI" "$WORK/cx"
ok "extract: the reader's files are intact" $PY "$H" verify "$WORK/cx/pre" "$WORK/pre.json"
for w in 1 2 3 4; do
	if [ -f "$WORK/w$w.json" ]; then
		ok "extract: writer $w's files are all there and intact" $PY "$H" verify "$WORK/cx/w$w" "$WORK/w$w.json"
	else
		fail "extract: writer $w's files are all there and intact (the writer failed)"
	fi
done

# ---------------------------------------------------------------------------------------
# 5. fsx: seeded random operations against a model (MOUNT_FSX_SEEDS overrides the seeds).
section "5. fsx"

# Once through the kernel's writeback cache (the default), once with every write sent at once.
seeds=${MOUNT_FSX_SEEDS:-"1 2 $(od -An -N2 -tu2 /dev/urandom | tr -d ' ')"}
for cache in writeback_cache no_writeback_cache; do
	FI="$WORK/fsx.$cache.img"
	"$R" mkfs -s 256M "$FI"
	MP=$(new_mp "fsx.$cache")
	mount_img "$MP" -o "$cache" "$FI"
	for s in $seeds; do
		mkdir "$MP/fsx$s"
		ok "fsx ($cache) seed $s: 3000 random operations agree with the model at every step" \
			timeout -k 10 300 $PY "$TOOLS/fsx.py" "$MP/fsx$s" --seed "$s" --ops 3000 \
			--dump "$WORK/fsxmodel.$cache/fsx$s"
		grep '^fsx: seed' "$WORK/.out" | sed 's/^/# /'
	done
	ok "fsx ($cache): rximg umount" "$R" umount "$MP"
	ok "fsx ($cache): check is clean after the fsx runs" "$R" check -q "$FI"
	rm -rf "$WORK/fx"
	"$R" extract -q "$FI" "$WORK/fx"
	for s in $seeds; do
		if [ -d "$WORK/fsxmodel.$cache/fsx$s" ]; then
			ok "fsx ($cache) seed $s: the image holds the model's final tree" \
				diff -rq "$WORK/fsxmodel.$cache/fsx$s" "$WORK/fx/fsx$s"
		else
			skip "fsx ($cache) seed $s: the image holds the model's final tree" "the run failed"
		fi
	done
done

# ---------------------------------------------------------------------------------------
# 6. Durability.
section "6. durability"

DI="$WORK/dur.img"
"$R" mkfs -s 64M "$DI"
MP=$(new_mp dur)
PF="$WORK/dur.pid"
PIDFILES="$PIDFILES $PF"
head -c 300000 /dev/urandom >"$WORK/fsynced"
head -c 70000 /dev/urandom >"$WORK/closed"
# a) fsync is durable: no timed commit for an hour, then kill -9.
mount_img "$MP" -o commit=3600000 --pid-file "$PF" "$DI"
spid=$(server_pid "$PF")
ok "the pid file names the server" alive "$spid"
cp "$WORK/closed" "$MP/closed"
$PY - "$MP" "$WORK/fsynced" <<'PYEOF'
import os, sys
data = open(sys.argv[2], "rb").read()
fd = os.open(os.path.join(sys.argv[1], "fsynced"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, data)
os.fsync(fd)
os.close(fd)
with open(os.path.join(sys.argv[1], "after_fsync"), "w") as f:
    f.write("never fsynced\n")
PYEOF
kill -9 "$spid"
ok "kill -9: the server is gone" pid_gone "$spid" 10
lazy_unmount "$MP"
ok "kill -9 after fsync: check exit 0" "$R" check -q "$DI"
ok "the fsynced file is there with its content" sh -c "'$R' cat '$DI:/fsynced' | cmp - '$WORK/fsynced'"
ok "a file closed before the fsync is there too (fsync commits everything pending)" \
	sh -c "'$R' cat '$DI:/closed' | cmp - '$WORK/closed'"
if "$R" ls "$DI:/after_fsync" >/dev/null 2>&1; then
	diag "the file written after the fsync was committed too (allowed)"
else
	diag "the file written after the fsync was lost, as the commit interval allows"
fi
# The commit interval: without fsync, changes are on disk commit=MS after they were made.
mount_img "$MP" -o commit=300 --pid-file "$PF" "$DI"
spid=$(server_pid "$PF")
cp "$WORK/rnd300k" "$MP/timed"
sleep 2
kill -9 "$spid"
pid_gone "$spid" 10
lazy_unmount "$MP"
ok "commit=300: check exit 0 after kill -9" "$R" check -q "$DI"
ok "commit=300: a file written 2 s before kill -9 (no fsync) was committed" \
	sh -c "'$R' cat '$DI:/timed' | cmp - '$WORK/rnd300k'"

# b) kill -9 at random moments of heavy writing (two writers, commit every 250 ms): every
# file is one whole version, none newer than started, none older than what was finished
# BOUND s before the kill (commit=250 plus room for a slow commit).
BOUND=2.0
same_rounds() {  # same_rounds OLD NEW: every round directory of OLD is unchanged in NEW
	for d in "$1"/r*; do
		[ -e "$d" ] || continue	# no round had committed anything yet: nothing to compare
		diff -rq "$d" "$2/${d##*/}" || return 1
	done
}
KI="$WORK/kill.img"
"$R" mkfs -s 256M "$KI"
MP=$(new_mp kill)
PF="$WORK/kill.pid"
PIDFILES="$PIDFILES $PF"
prev=
for round in 1 2 3 4 5; do
	if ! mount_img "$MP" -o commit=250 --pid-file "$PF" "$KI" 2>"$WORK/k.err"; then
		fail "round $round: mount"
		sed 's/^/#   /' "$WORK/k.err"
		break
	fi
	spid=$(server_pid "$PF")
	cpids=
	for w in 1 2; do
		$PY "$H" churn "$MP/r${round}w$w" "$WORK/progress.$round.$w" $((round * 10 + w)) &
		cpids="$cpids $!"
	done
	HELPERS="$HELPERS $cpids"
	delay=$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%.2f", 0.3 + $1 / 255 * 4 }')
	sleep "$delay"
	kill_time=$(date +%s.%N)
	kill -9 "$spid"
	pid_gone "$spid" 10
	lazy_unmount "$MP"
	for p in $cpids; do
		pid_gone $p 20 || kill -9 $p 2>/dev/null
		wait $p 2>/dev/null
	done
	ok "round $round: kill -9 after $delay s of heavy writes: check exit 0" "$R" check -q "$KI"
	rm -rf "$WORK/kx$round"
	if ! "$R" extract -q "$KI" "$WORK/kx$round" 2>"$WORK/k.err"; then
		fail "round $round: extract after the crash"
		sed 's/^/#   /' "$WORK/k.err"
		continue
	fi
	for w in 1 2; do
		ok "round $round, writer $w: every file is one whole version, not newer than written, not older than $BOUND s before the kill" \
			$PY "$H" churn-verify "$WORK/kx$round/r${round}w$w" "$WORK/progress.$round.$w" "$kill_time" $BOUND
		grep '^# ' "$WORK/.out"
	done
	if [ -n "$prev" ]; then
		ok "round $round: the earlier rounds' files did not change" same_rounds "$WORK/kx$prev" "$WORK/kx$round"
	fi
	prev=$round
done
mount_img "$MP" "$KI" && "$R" umount "$MP"
ok "after the crashes, a clean mount and unmount: check exit 0" "$R" check -q "$KI"

# c) SIGTERM: the server commits and unmounts by itself.
mount_img "$MP" -o commit=3600000 --pid-file "$PF" "$KI"
spid=$(server_pid "$PF")
cp "$WORK/rnd300k" "$MP/term"
kill -TERM "$spid"
ok "SIGTERM: the server exits" pid_gone "$spid" 30
ok "SIGTERM: the mount is gone" not_mounted "$MP"
is_mounted "$MP" && lazy_unmount "$MP"
ok "SIGTERM: check exit 0" "$R" check -q "$KI"
ok "SIGTERM: the data written before it is committed" sh -c "'$R' cat '$KI:/term' | cmp - '$WORK/rnd300k'"
ok "SIGTERM: the pid file is removed" test ! -e "$PF"

# SIGTERM while a program still holds a file open: what it wrote may be in the kernel's
# writeback cache only, and must reach the image before the server goes.
mount_img "$MP" -o commit=3600000 --pid-file "$PF" "$KI"
spid=$(server_pid "$PF")
$PY - "$MP/held" "$WORK/rnd300k" "$WORK/held.ready" "$WORK/held.mtime" <<'PYEOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, open(sys.argv[2], "rb").read())
open(sys.argv[4], "w").write("%d\n" % os.fstat(fd).st_mtime_ns)
open(sys.argv[3], "w").close()
time.sleep(5)	# still open when the server is told to stop
PYEOF
holder=$!
HELPERS="$HELPERS $holder"
wait_for_file() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_for_file "$WORK/held.ready"
kill -TERM "$spid"
ok "SIGTERM with a file held open: the server exits" pid_gone "$spid" 30
is_mounted "$MP" && lazy_unmount "$MP"
wait "$holder" 2>/dev/null
ok "SIGTERM with a file held open: check exit 0" "$R" check -q "$KI"
ok "SIGTERM with a file held open: what was written into it is committed" \
	sh -c "'$R' cat '$KI:/held' | cmp - '$WORK/rnd300k'"
held_mtime() { $PY -c 'import json,sys; s,ns=json.load(sys.stdin)[0]["mtime"].split("."); print(int(s)*10**9+int(ns))'; }
stored=$("$R" stat --json "$KI:/held" | held_mtime)
ok "SIGTERM with a file held open: the stored mtime is the one the writer saw ($(cat "$WORK/held.mtime"))" \
	test "$stored" = "$(cat "$WORK/held.mtime")"

# -f: the server stays in the foreground (this shell's child) until SIGINT, which commits.
"$R" mount -f -o commit=3600000 "$KI" "$MP" 2>"$WORK/fg.err" &
fg=$!
HELPERS="$HELPERS $fg"
MPS="$MPS $MP"
i=0
while ! is_mounted "$MP" && alive $fg && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ok "mount -f: mounted, and the server is the process started in the foreground" \
	sh -c "awk -v mp='$MP' '\$5 == mp' /proc/self/mountinfo | grep -q fuse.rximg && kill -0 $fg"
cp "$WORK/rnd300k" "$MP/fg"
kill -INT $fg
wait $fg
rc=$?
ok "mount -f: SIGINT ends the server with status 0 ($rc)" test $rc = 0
ok "mount -f: unmounted after SIGINT" not_mounted "$MP"
is_mounted "$MP" && lazy_unmount "$MP"
ok "mount -f: the data written before SIGINT is committed, check clean" \
	sh -c "'$R' check -q '$KI' && '$R' cat '$KI:/fg' | cmp - '$WORK/rnd300k'"

# d) rximg mount IMG MP -- COMMAND
rxmount -o commit=3600000 "$KI" "$MP" -- sh -c 'cp "$1" "$0/cmd" && exit 7' "$MP" "$WORK/rnd300k"
rc=$?
ok "mount -- COMMAND exits with the command's status (7)" test $rc = 7
ok "mount -- COMMAND: unmounted afterwards" not_mounted "$MP"
ok "mount -- COMMAND: the data is committed" sh -c "'$R' cat '$KI:/cmd' | cmp - '$WORK/rnd300k'"
ok "mount -- true exits 0" rxmount "$KI" "$MP" -- true
missing_command() { rxmount "$KI" "$MP" -- /no/such/command 2>/dev/null; test $? = 127; }
ok "mount -- a missing command exits 127" missing_command
ok "check exit 0 after the mount -- COMMAND runs" "$R" check -q "$KI"
# rximg umount returns only when the final commit is on disk.
mount_img "$MP" -o commit=3600000 --pid-file "$PF" "$KI"
spid=$(server_pid "$PF")
head -c 8000000 /dev/urandom >"$WORK/big"
cp "$WORK/big" "$MP/big"
"$R" umount "$MP"
ok "the server exits once rximg umount has returned" pid_gone "$spid" 5
ok "rximg umount: the final commit is on disk when it returns" sh -c "'$R' cat '$KI:/big' | cmp - '$WORK/big'"

# ---------------------------------------------------------------------------------------
# 7. Locking: a mounted image is nobody else's to write.
section "7. locking"

LI="$WORK/lock.img"
"$R" mkfs -s 32M "$LI"
MP=$(new_mp lock1)
MP2=$(new_mp lock2)
echo hello >"$WORK/hello"
mount_img "$MP" "$LI"
echo data >"$MP/file"
# The error names the mount's process where the build can look processes up
# (HOLDER_LOOKUP_*); a build without it can only say that another rximg may hold it.
if grep -q '^#define HOLDER_LOOKUP' "$top_builddir/config.h"; then
	HELD_BY='rximg mount|process [0-9]+'
else
	# rximg's writers hold QEMU's bytes besides the flock (QEMU takes no flock): that names rximg.
	HELD_BY='in use by another rximg, a running command or mount'
fi
ok "a mounted image cannot be mounted again read-write (the error names the mount)" \
	fails_cleanly "$HELD_BY" mount_img "$MP2" "$LI"
ok "nor read-only while mounted read-write" fails_cleanly 'rximg|mount|process [0-9]+' mount_img "$MP2" -o ro "$LI"
ok "rximg put is refused while mounted (the error names the mount)" \
	fails_cleanly "$HELD_BY" "$R" put "$WORK/hello" "$LI:/hello"
ok "rximg mkdir is refused while mounted" fails_cleanly "$HELD_BY" "$R" mkdir "$LI:/newdir"
ok "the refused mount left nothing mounted on the second mountpoint" not_mounted "$MP2"
ok "the first mount still works" test "$(cat "$MP/file")" = data
ok "rximg umount" "$R" umount "$MP"
ok "the refused writers changed nothing" sh -c "! '$R' ls '$LI:/hello' 2>/dev/null && ! '$R' ls '$LI:/newdir' 2>/dev/null &&
	test \"\$('$R' cat '$LI:/file')\" = data"
ok "after unmounting, rximg put works again" "$R" put "$WORK/hello" "$LI:/hello"
# Read-only mounts share the image with each other, but not with a writer.
if mount_img "$MP" -o ro "$LI" && mount_img "$MP2" -o ro "$LI"; then
	pass "two read-only mounts of one image at once"
	ok "both show the same file" sh -c "cmp '$MP/hello' '$MP2/hello'"
	MP3=$(new_mp lock3)
	ok "a read-write mount is refused while read-only mounts exist" \
		fails_cleanly 'rximg|mount|process [0-9]+' mount_img "$MP3" "$LI"
	ok "rximg put is refused while mounted read-only" \
		fails_cleanly "$HELD_BY|read-only" "$R" put "$WORK/hello" "$LI:/hello2"
	ok "rximg umount of one of two read-only mounts returns at once, status 0" timeout 8 "$R" umount "$MP2"
	is_mounted "$MP2" && lazy_unmount "$MP2"
	ok "rximg umount of the other one" "$R" umount "$MP"
else
	fail "two read-only mounts of one image at once"
fi
for bad in bogus commit=abc commit=3600001 rw,no_such_option; do
	ok "mount -o $bad is refused as a usage error, nothing mounted" sh -c \
		"'$R' mount -o '$bad' '$LI' '$MP' 2>'$WORK/bad.err'; test \$? = 2 && grep -q 'bad option list' '$WORK/bad.err' && ! grep -q ' $MP ' /proc/self/mountinfo"
done
ok "mount on a missing mountpoint fails cleanly" fails_cleanly 'not a directory' "$R" mount "$LI" "$WORK/nowhere"
ok "mount of a missing image fails cleanly" fails_cleanly 'No such file|not found|cannot open' \
	mount_img "$MP" "$WORK/missing.img"
ok "umount of something not mounted fails cleanly" fails_cleanly 'not an rximg mount' "$R" umount "$MP"
ok "check is clean at the end" "$R" check -q "$LI"

section "done"
done_testing
