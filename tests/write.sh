#!/bin/sh
# Write-path round trips. Every reference image is extracted to a host "model" tree; then
# the same changes are made to the image (rximg verbs) and to the model (coreutils). After
# each phase the image must check clean and extract to exactly the model: contents
# (diff -r) and metadata (type, mode, owner when root, size, mtime, symlink target).
# Times that a verb sets to "now" are pinned on both sides with touch -d, except for
# symlinks made by ln -s, whose time must lie within the command's run and is then copied.
# Also: a directory grown into a 2-level h-tree and shrunk back, no-op syncs, and
# reproducible mkfs --from.
. "$top_srcdir/tests/lib.sh"

umask 022
R=$RXIMG
PY=${PYTHON3:-python3}
TOOLS="$top_srcdir/tests/tools"
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
S="$WORK/src"
mkdir -p "$S"
# Host trees (models, extractions) are made on a tmpfs when there is one: creating
# thousands of files there is many times faster than on a disk file system.
FAST=$WORK
if [ -d /dev/shm ] && [ -w /dev/shm ] && F=$(mktemp -d /dev/shm/rximg-write.XXXXXX 2>/dev/null); then
	FAST=$F
	trap 'rm -rf "$WORK" "$FAST"' EXIT
fi

# ---------------------------------------------------------------------------------------
# Source files, made from a fixed seed so that a failure can be reproduced.
$PY - "$S" <<'PYEOF'
import os, random, sys
d = sys.argv[1]
rnd = random.Random(20240611)
def put(name, data, mode=0o644):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
# sizes around the inline limit (3967 inline, 3968 not), blocks and 128 KiB records
for n in (0, 1, 100, 3967, 3968, 3969, 4095, 4096, 4097, 131071, 131072, 131073,
          262143, 262144, 262145):
    put("f%06d" % n, rnd.randbytes(n))
put("rnd400000", rnd.randbytes(400000))                       # random, 4 records
put("txt500000", b"".join(b"line %08d of a very compressible text file\n" % i
                           for i in range(12000))[:500000])   # compressible
put("inl3000", rnd.randbytes(3000))
put("big200k", rnd.randbytes(200000))
put("small50", rnd.randbytes(50))
put("w5000", rnd.randbytes(5000))
put("exec755", b"#!/bin/sh\necho hello\n" + rnd.randbytes(2000), 0o755)
put("pfile", rnd.randbytes(7000), 0o640)
os.utime(os.path.join(d, "pfile"), ns=(1500000000_111111111, 1500000000_222222222))
# sparse: islands of data in a 1 MiB file, and a file that is all hole
with open(os.path.join(d, "sparse1M"), "wb") as f:
    f.truncate(1 << 20)
    for off in (0, 300000, 131072 * 5 + 17, (1 << 20) - 10):
        f.seek(off)
        f.write(rnd.randbytes(10))
with open(os.path.join(d, "hole256K"), "wb") as f:
    f.truncate(262144)
PYEOF

# Two host trees: treep (put -r -p: everything from the source, symlinks included)
# and treenp (put -r without -p: new nodes take the parent's owner).
mkdir -p "$S/treep/a/b/c" "$S/treep/empty" "$S/treenp/x/y"
cp "$S/f000100" "$S/treep/a/b/c/file"
cp "$S/f131073" "$S/treep/a/big"
cp "$S/inl3000" "$S/treenp/x/y/inl"
cp "$S/f004097" "$S/treenp/x/blk"
chmod 0700 "$S/treep/a/b"
chmod 0600 "$S/treep/a/big"
ln -s b/c/file "$S/treep/a/link"
ln -s /nonexistent/target "$S/treep/dangling"
touch -h -d @1400000000.5 "$S/treep/a/link"
touch -d @1400000001.25 "$S/treep/a/b/c/file" "$S/treep/a/b/c" "$S/treep/a/b" "$S/treep/empty"
touch -d @1400000002 "$S/treep/a" "$S/treep"
[ $ROOT = 1 ] && chown -R -h 1234:5678 "$S/treep"

# The editor used for rximg edit: appends a line.
printf '#!/bin/sh\nprintf "appended by the editor\\n" >>"$1"\n' >"$WORK/editor.sh"
EDITOR="sh $WORK/editor.sh"
VISUAL=
unset VISUAL
export EDITOR

# Long symlink targets: inline-sized and block-stored.
LT3000=$($PY -c 'print("/".join(["abcdefghi"] * 300)[:3000])')
LT4000=$($PY -c 'print("/".join(["long-target-component"] * 200)[:4000])')
DEEP=$($PY -c 'print("/".join("d%02d" % i for i in range(60)))')

# ---------------------------------------------------------------------------------------
# Compare an extracted tree with the model (reuses manifest_walk.py).
cat >"$WORK/cmp.py" <<'PYEOF'
import os, stat, sys
sys.path.insert(0, sys.argv[1])
import manifest_walk as mw
model, ext, nowlist, owners, tmp = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1", sys.argv[6]
prefix = sys.argv[7] if len(sys.argv) > 7 else ""   # the trees are the image's PREFIX
problems = []
# Paths whose time a verb set to "now" (symlinks from ln -s): it must lie in the run.
if os.path.exists(nowlist):
    for line in open(nowlist):
        p, lo, hi = line.split()
        if not p.startswith(prefix + "/"):
            continue
        p = p[len(prefix):]
        xp, mp = ext + p, model + p
        if not (os.path.lexists(xp) and os.path.lexists(mp)):
            continue
        t = os.lstat(xp).st_mtime_ns
        if not (int(lo) - 1) * 10**9 <= t <= (int(hi) + 1) * 10**9:
            problems.append("%s: mtime %s is not the time of the command (%s..%s)" % (p, mw.ns_time(t), lo, hi))
        os.utime(mp, ns=(os.lstat(mp).st_atime_ns, t), follow_symlinks=False)
def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
with open(tmp, "w", encoding="utf-8", newline="\n") as out:
    for ipath, hpath in mw.walk(model):
        st = os.lstat(hpath)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "file"
        size, target, digest = "-", "-", "-"
        if kind == "file":
            size, digest = str(st.st_size), mw.sha256_file(hpath)
        elif kind == "symlink":
            t = os.readlink(hpath)
            size, target = str(len(t.encode())), esc(t)
            digest = __import__("hashlib").sha256(t.encode()).hexdigest()
        out.write("\t".join([esc(ipath), kind, "%04o" % stat.S_IMODE(st.st_mode), str(st.st_uid),
                             str(st.st_gid), size, mw.ns_time(st.st_mtime_ns), "-", "-", target,
                             digest]) + "\n")
problems += mw.compare_extract(tmp, ext, owners)
for p in problems[:40]:
    print(p)
if len(problems) > 40:
    print("... and %d more" % (len(problems) - 40))
sys.exit(1 if problems else 0)
PYEOF

# ---------------------------------------------------------------------------------------
# Helpers. Per image: I (the image as rximg names it), M (the model), X (the extraction).

# rx VERB ARGS...: run rximg, record any failure (or sanitizer report) for the phase.
rx() {
	ncmd=$((ncmd + 1))
	"$R" "$@" >"$WORK/rx.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || grep -q -E 'Sanitizer|runtime error' "$WORK/rx.out"; then
		echo "rximg $* -> exit $rc" | cut -c1-300 >>"$ERRS"
		head -5 "$WORK/rx.out" | sed 's/^/    /' >>"$ERRS"
	fi
}

mchown() { [ $ROOT = 0 ] || chown -h "$@"; }
# chown like a new node in the image: the parent directory's owner
inherit() { [ $ROOT = 0 ] || chown -h --reference="$(dirname "$1")" "$1"; }

# mark PATH...: the verb sets these times to "now"; pin them (and the parents' times,
# which rximg and the host may treat differently) at the end of the phase.
mark() {
	for p; do
		MARKS="$MARKS $p $(dirname "$p")"
	done
}
# ln -s: symlink times cannot be set by rximg; check them against the run time instead.
now_link() {  # now_link START PATH
	echo "$2 $1 $(date +%s)" >>"$NOWLIST"
}

no_errors() {
	[ ! -s "$ERRS" ] && return 0
	cat "$ERRS"
	return 1
}

# phase_end DESCRIPTION [SCOPE]: pin the marked times, then check the image and compare
# the extracted SCOPE (default the whole image) with the model.
phase_end() {
	desc=$1 scope=${2:-}
	phase=$((phase + 1))
	t="$((1600000000 + phase * 100003)).$((123456789 + phase))"
	set --
	for p in $(printf '%s\n' $MARKS | sort -u); do
		[ -L "$M$p" ] && continue
		[ -e "$M$p" ] || continue
		touch -c -d "@$t" "$M$p"
		set -- "$@" "$I:$p"
	done
	[ $# -gt 0 ] && rx touch -c -d "@$t" "$@"
	MARKS=
	ok "$NAME: $desc: all $ncmd rximg commands succeed" no_errors
	ok "$NAME: $desc: check is clean" "$R" check -q "$I"
	rm -rf "$X"
	if "$R" extract -q "$I${scope:+:$scope}" "$X" >"$WORK/x.err" 2>&1; then
		ok "$NAME: $desc: extracted ${scope:-image} has the model's contents (diff -r)" \
			diff -r --no-dereference "$M$scope" "$X"
		ok "$NAME: $desc: extracted ${scope:-image} has the model's metadata" \
			$PY "$WORK/cmp.py" "$TOOLS" "$M$scope" "$X" "$NOWLIST" $ROOT "$WORK/model.tsv" "$scope"
	else
		fail "$NAME: $desc: extract"
		sed 's/^/#   /' "$WORK/x.err" | head -5
		fail "$NAME: $desc: metadata (not extracted)"
	fi
	: >"$ERRS"
	ncmd=0
}

# The existing content of an image that is safe to name in a shell word list.
safe_list() {  # safe_list TYPE (f, d, l): paths below / (not /wt), sorted
	(cd "$M" && find . -mindepth 1 -type "$1" | sed 's|^\.||' | grep -E '^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$' |
		grep -v '^/wt' | LC_ALL=C sort)
}

# ---------------------------------------------------------------------------------------
# The sequence of changes, phase by phase.

phase_add() {
	rx mkdir "$I:/wt"
	mkdir "$M/wt" && inherit "$M/wt"
	rx mkdir "$I:/wt/sub" "$I:/wt/sub2" "$I:/wt/emptydir"
	for d in sub sub2 emptydir; do mkdir "$M/wt/$d" && inherit "$M/wt/$d"; done
	mark /wt /wt/sub /wt/sub2 /wt/emptydir
	# every size class in one put, each file under its own name
	set --
	for f in "$S"/f[0-9]*; do set -- "$@" "$f"; done
	rx put "$@" "$I:/wt/"
	for f in "$S"/f[0-9]*; do
		b=$(basename "$f")
		cp "$f" "$M/wt/$b" && inherit "$M/wt/$b"
		mark "/wt/$b"
	done
	# random, compressible, sparse, all-hole
	rx put "$S/rnd400000" "$S/txt500000" "$S/sparse1M" "$S/hole256K" "$S/inl3000" "$I:/wt"
	for b in rnd400000 txt500000 sparse1M hole256K inl3000; do
		cp "$S/$b" "$M/wt/$b" && inherit "$M/wt/$b"
		mark "/wt/$b"
	done
	# the source's mode; -p: mode, owner and times of the source; -m and --owner
	rx put "$S/exec755" "$I:/wt/sub/prog"
	cp "$S/exec755" "$M/wt/sub/prog" && inherit "$M/wt/sub/prog"
	mark /wt/sub/prog
	rx put -p "$S/pfile" "$I:/wt/sub/pfile"
	cp -p "$S/pfile" "$M/wt/sub/pfile"
	mark /wt/sub
	rx put -m 0600 --owner 1000:100 "$S/f000100" "$I:/wt/sub/owned"
	cp "$S/f000100" "$M/wt/sub/owned" && chmod 0600 "$M/wt/sub/owned" && mchown 1000:100 "$M/wt/sub/owned"
	mark /wt/sub/owned
	# -P: missing parents
	rx put -P "$S/f000001" "$I:/wt/pp/qq/one"
	mkdir -p "$M/wt/pp/qq" && inherit "$M/wt/pp" && inherit "$M/wt/pp/qq"
	cp "$S/f000001" "$M/wt/pp/qq/one" && inherit "$M/wt/pp/qq/one"
	mark /wt/pp /wt/pp/qq /wt/pp/qq/one
	# trees: with -p everything comes from the source; without, new nodes take the
	# parent's owner (times are pinned afterwards)
	rx put -r -p "$S/treep" "$I:/wt/"
	cp -a "$S/treep" "$M/wt/treep"
	rx put -r "$S/treenp" "$I:/wt/"
	cp -r "$S/treenp" "$M/wt/treenp"
	for p in /wt/treenp /wt/treenp/x /wt/treenp/x/y /wt/treenp/x/y/inl /wt/treenp/x/blk; do
		inherit "$M$p"
		mark "$p"
	done
	# write (stdin) and touch create files; inject puts SRC:/dest pairs and staged paths
	rx write "$I:/wt/sub/fromstdin" <"$S/w5000"
	cp "$S/w5000" "$M/wt/sub/fromstdin" && inherit "$M/wt/sub/fromstdin"
	rx touch "$I:/wt/sub/touched"
	: >"$M/wt/sub/touched" && inherit "$M/wt/sub/touched"
	mark /wt/sub/fromstdin /wt/sub/touched
	mkdir -p "$WORK/stage/wt/sub2"
	cp "$S/f004096" "$WORK/stage/wt/sub2/staged"
	rx inject -i "$I" --from "$WORK/stage" /wt/sub2/staged "$S/f003969:/wt/sub2/paired"
	cp "$S/f004096" "$M/wt/sub2/staged" && inherit "$M/wt/sub2/staged"
	cp "$S/f003969" "$M/wt/sub2/paired" && inherit "$M/wt/sub2/paired"
	mark /wt/sub2/staged /wt/sub2/paired
	# sync into a new directory: everything from the source (the directory itself is new)
	rx sync "$S/treep" "$I:/wt/synced"
	mkdir "$M/wt/synced" && inherit "$M/wt/synced" && (cd "$S/treep" && cp -a -- * "$M/wt/synced/")
	mark /wt/synced
	phase_end "add files" /wt
}

phase_modify() {
	# overwrite: inline -> records (longer), records -> inline (shorter)
	rx put "$S/big200k" "$I:/wt/f003967"
	cat "$S/big200k" >"$M/wt/f003967"
	rx put "$S/small50" "$I:/wt/f262145"
	cat "$S/small50" >"$M/wt/f262145"
	# a replaced file keeps its mode and owner
	rx put "$S/w5000" "$I:/wt/sub/owned"
	cat "$S/w5000" >"$M/wt/sub/owned"
	mark /wt/f003967 /wt/f262145 /wt/sub/owned
	# write from stdin: one byte shorter across a record boundary, longer, empty, new with -m
	rx write "$I:/wt/f131073" <"$S/f131072"
	cat "$S/f131072" >"$M/wt/f131073"
	rx write "$I:/wt/f000100" <"$S/w5000"
	cat "$S/w5000" >"$M/wt/f000100"
	rx write "$I:/wt/f004096" </dev/null
	: >"$M/wt/f004096"
	rx write -m 0640 "$I:/wt/sub/neww" <"$S/small50"
	cp "$S/small50" "$M/wt/sub/neww" && chmod 0640 "$M/wt/sub/neww" && inherit "$M/wt/sub/neww"
	mark /wt/f131073 /wt/f000100 /wt/f004096 /wt/sub/neww
	# edit: an existing file and a new one
	rx edit "$I:/wt/sub/fromstdin"
	printf 'appended by the editor\n' >>"$M/wt/sub/fromstdin"
	rx edit "$I:/wt/sub/edited_new"
	printf 'appended by the editor\n' >"$M/wt/sub/edited_new" && inherit "$M/wt/sub/edited_new"
	mark /wt/sub/fromstdin /wt/sub/edited_new
	# truncate down, then up: the regrown part reads as zeros: inline, block-stored,
	# across records, within one record (140000 -> 200000), from 0, sparse growth,
	# inline to blocks, the same size
	for step in "10 inl3000 f004097 rnd400000 f131072" \
		"3500 inl3000 f004097" \
		"140000 f262143" \
		"200000 f262143 rnd400000 f131072" \
		"9000 inl3000" \
		"1M txt500000" \
		"2K f000001 sub/prog f000000" \
		"4095 f004095"; do
		set -- $step
		size=$1
		shift
		files=$*
		set --
		for f in $files; do
			truncate -s "$size" "$M/wt/$f"
			mark "/wt/$f"
			set -- "$@" "$I:/wt/$f"
		done
		rx truncate -s "$size" "$@"
	done
	# replace a file with a sparse one and a record file with the all-hole one
	rx put "$S/sparse1M" "$I:/wt/f262144"
	cat "$S/sparse1M" >"$M/wt/f262144"
	rx put "$S/hole256K" "$I:/wt/rnd400000"
	cat "$S/hole256K" >"$M/wt/rnd400000"
	mark /wt/f262144 /wt/rnd400000
	# sync again after the source changed: new, changed, same; then --delete
	cp "$S/f000100" "$S/treep/a/new_in_source"
	printf 'changed\n' >"$S/treep/a/b/c/file"
	touch -d @1400000009 "$S/treep/a/b/c/file" "$S/treep/a/new_in_source" "$S/treep/a/b/c" "$S/treep/a"
	rx sync "$S/treep" "$I:/wt/synced"
	rm -rf "$M/wt/synced/a" && cp -a "$S/treep/a" "$M/wt/synced/a"
	rm "$S/treep/a/new_in_source"
	rm -r "$S/treep/empty"
	touch -d @1400000010 "$S/treep/a" "$S/treep"
	rx sync --delete "$S/treep" "$I:/wt/synced"
	rm -rf "$M/wt/synced/a" "$M/wt/synced/empty" && cp -a "$S/treep/a" "$M/wt/synced/a"
	mark /wt/synced
	phase_end "overwrite and truncate" /wt
}

phase_rename() {
	# delete: a file, several, an empty dir, a tree, a missing path with -f
	rx rm "$I:/wt/f000001"
	rm "$M/wt/f000001"
	rx rm "$I:/wt/f004095" "$I:/wt/f131071" "$I:/wt/sub2/paired"
	rm "$M/wt/f004095" "$M/wt/f131071" "$M/wt/sub2/paired"
	rx rm -d "$I:/wt/emptydir"
	rmdir "$M/wt/emptydir"
	rx rm -r "$I:/wt/treenp/x/y"
	rm -r "$M/wt/treenp/x/y"
	rx rm -f "$I:/wt/not-there"
	mark /wt/f000001 /wt/sub2/x /wt/treenp/x/y
	# rename within a directory, across directories, over an existing file, into a
	# directory (one and several sources), a directory across directories
	rx mv "$I:/wt/f004096" "$I:/wt/f004096.renamed"
	mv "$M/wt/f004096" "$M/wt/f004096.renamed"
	rx mv "$I:/wt/f004097" "$I:/wt/sub/f004097"
	mv "$M/wt/f004097" "$M/wt/sub/f004097"
	rx mv "$I:/wt/f003968" "$I:/wt/f003969"
	mv -f "$M/wt/f003968" "$M/wt/f003969"
	rx mv "$I:/wt/sub/f004097" "$I:/wt/sub2/"
	mv "$M/wt/sub/f004097" "$M/wt/sub2/"
	rx mv "$I:/wt/f000100" "$I:/wt/f000000" "$I:/wt/sub2/"
	mv "$M/wt/f000100" "$M/wt/f000000" "$M/wt/sub2/"
	rx mv "$I:/wt/sub2" "$I:/wt/treep/sub2moved"
	mv "$M/wt/sub2" "$M/wt/treep/sub2moved"
	# replace a big file by a small one and the other way round
	rx mv "$I:/wt/txt500000" "$I:/wt/sub/neww"
	mv -f "$M/wt/txt500000" "$M/wt/sub/neww"
	rx mv "$I:/wt/inl3000" "$I:/wt/f262143"
	mv -f "$M/wt/inl3000" "$M/wt/f262143"
	# swap
	rx mv --exchange "$I:/wt/f131072" "$I:/wt/sub/prog"
	mv "$M/wt/f131072" "$M/wt/swap.tmp" && mv "$M/wt/sub/prog" "$M/wt/f131072" &&
		mv "$M/wt/swap.tmp" "$M/wt/sub/prog"
	mark /wt/x /wt/sub/x /wt/treep/x /wt/treep/sub2moved/x
	phase_end "delete and rename" /wt
}

phase_links_attrs() {
	# a 60-level tree with a file and a symlink at the bottom; another one removed again
	rx mkdir -p "$I:/wt/deep/$DEEP"
	mkdir -p "$M/wt/deep/$DEEP"
	p=/wt/deep
	mark $p
	for c in $(echo "$DEEP" | tr / ' '); do
		p="$p/$c"
		mark "$p"
	done
	[ $ROOT = 1 ] && chown -R --reference="$M/wt" "$M/wt/deep"
	rx put "$S/f003969" "$I:/wt/deep/$DEEP/leaf"
	cp "$S/f003969" "$M/wt/deep/$DEEP/leaf" && inherit "$M/wt/deep/$DEEP/leaf"
	mark "/wt/deep/$DEEP/leaf"
	t0=$(date +%s)
	rx ln -s ../../../leaf "$I:/wt/deep/$DEEP/up"
	ln -s ../../../leaf "$M/wt/deep/$DEEP/up" && inherit "$M/wt/deep/$DEEP/up"
	now_link "$t0" "/wt/deep/$DEEP/up"
	rx mkdir -p "$I:/wt/deep2/$DEEP"
	rx put "$S/f000100" "$I:/wt/deep2/$DEEP/leaf"
	rx rm -r "$I:/wt/deep2"
	# symlinks: relative, absolute, dangling, to a directory, '.', long (inline and
	# block-stored), UTF-8; one replaced with -f, one moved, one removed; an owner
	t0=$(date +%s)
	for pair in "rel:f003969" "abs:/etc/passwd" "dangling:nowhere/at/all" "todir:sub" \
		"dot:." "utf8:Ωμέγα/日本語/😀"; do
		n=${pair%%:*}
		tg=${pair#*:}
		rx ln -s "$tg" "$I:/wt/l_$n"
		ln -s "$tg" "$M/wt/l_$n" && inherit "$M/wt/l_$n"
	done
	rx ln -s "$LT3000" "$I:/wt/l_long3000"
	ln -s "$LT3000" "$M/wt/l_long3000" && inherit "$M/wt/l_long3000"
	rx ln -s "$LT4000" "$I:/wt/sub/l_long4000"
	ln -s "$LT4000" "$M/wt/sub/l_long4000" && inherit "$M/wt/sub/l_long4000"
	rx ln -s --owner 4242:4343 victim "$I:/wt/l_owned"
	ln -s victim "$M/wt/l_owned" && mchown 4242:4343 "$M/wt/l_owned"
	rx ln -s gone "$I:/wt/l_removed"
	rx ln -sf f131072 "$I:/wt/l_rel"
	ln -sfn f131072 "$M/wt/l_rel"
	rx mv "$I:/wt/l_dangling" "$I:/wt/sub/l_dangling_moved"
	mv "$M/wt/l_dangling" "$M/wt/sub/l_dangling_moved"
	rx rm "$I:/wt/l_removed"
	for n in rel abs todir dot utf8 long3000 owned; do now_link "$t0" "/wt/l_$n"; done
	now_link "$t0" /wt/sub/l_long4000
	now_link "$t0" /wt/sub/l_dangling_moved
	mark /wt/x /wt/sub/x
	# chown (before chmod: the host clears setuid on chown): uid:gid, the largest ids, -R through a tree with symlinks
	rx chown 1000:100 "$I:/wt/f131073"
	mchown 1000:100 "$M/wt/f131073"
	rx chown 12345:54321 "$I:/wt/sub"
	mchown 12345:54321 "$M/wt/sub"
	rx chown 4294967294:4294967294 "$I:/wt/pp/qq/one"
	mchown 4294967294:4294967294 "$M/wt/pp/qq/one"
	rx chown -R 2000:3000 "$I:/wt/treep"
	[ $ROOT = 1 ] && chown -R -h 2000:3000 "$M/wt/treep"
	# chmod: setuid/setgid/sticky, 0000, several paths, -R (symlinks inside are not followed)
	rx chmod 4755 "$I:/wt/sub/prog"
	chmod 4755 "$M/wt/sub/prog"
	rx chmod 2775 "$I:/wt/treep/a"
	chmod 2775 "$M/wt/treep/a"
	rx chmod 1777 "$I:/wt/pp"
	chmod 1777 "$M/wt/pp"
	# (0000 only as root: otherwise nobody could read the file to compare it)
	m0=0000
	[ $ROOT = 1 ] || m0=0400
	rx chmod $m0 "$I:/wt/f003969"
	chmod $m0 "$M/wt/f003969"
	rx chmod 0604 "$I:/wt/f131073" "$I:/wt/f262145"
	chmod 0604 "$M/wt/f131073" "$M/wt/f262145"
	rx chmod 7777 "$I:/wt/pp/qq/one"
	chmod 7777 "$M/wt/pp/qq/one"
	rx chmod -R 0750 "$I:/wt/treenp"
	chmod -R 0750 "$M/wt/treenp"
	# a new node in a directory owned by someone else takes that owner
	rx mkdir "$I:/wt/sub/inherits"
	mkdir "$M/wt/sub/inherits" && inherit "$M/wt/sub/inherits"
	rx put "$S/f000100" "$I:/wt/sub/inherits/file"
	cp "$S/f000100" "$M/wt/sub/inherits/file" && inherit "$M/wt/sub/inherits/file"
	mark /wt/sub/inherits/file

	# touch: explicit times on a file, a directory, beyond 2038, epoch 0; -a keeps the
	# mtime; -c does not create; a new file with -d; several paths
	rx touch -d @1234567890.123456789 "$I:/wt/f003969"
	touch -d @1234567890.123456789 "$M/wt/f003969"
	rx touch -d @0 "$I:/wt/treep/sub2moved"
	touch -d @0 "$M/wt/treep/sub2moved"
	rx touch -d @4102444800.5 "$I:/wt/pp" "$I:/wt/pp/qq/one"
	touch -d @4102444800.5 "$M/wt/pp" "$M/wt/pp/qq/one"
	rx touch -m -d @2000000000.000000001 "$I:/wt/f131073"
	touch -m -d @2000000000.000000001 "$M/wt/f131073"
	rx touch -a -d @1000000000 "$I:/wt/f131073"
	rx touch -d @1700000000.999999999 "$I:/wt/sub/inherits/new"
	touch -d @1700000000.999999999 "$M/wt/sub/inherits/new" && inherit "$M/wt/sub/inherits/new"
	mark /wt/sub/inherits
	phase_end "deep tree, symlinks, chmod, chown, touch" /wt
}

phase_existing() {
	# six files spread over the sorted list
	files=$(safe_list f | awk '{ f[NR] = $0 } END { for (i = 0; i < 6 && i < NR; i++) print f[int(i * NR / 6) + 1] }')
	dirs=$(cd "$M" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\.||' |
		grep -E '^/[A-Za-z0-9_.-]+$' | grep -v '^/wt$' | LC_ALL=C sort)
	link=$(safe_list l | head -n1)
	if [ -z "$files$dirs$link" ]; then
		phase_end "the whole image (it holds no reference content to change)"
		return
	fi
	set -- $files
	diag "$NAME: reference content changed: $(echo $1 $2 $3 $4 $5 $6 $link $(echo $dirs | cut -d' ' -f1) $(echo $dirs | awk 'NF > 1 {print $NF}') | cut -c1-400)"
	if [ $# -ge 1 ]; then  # overwrite
		rx put "$S/f131073" "$I:$1"
		cat "$S/f131073" >"$M$1"
		mark "$1"
	fi
	if [ $# -ge 2 ]; then  # truncate down and up again
		size=$(stat -c %s "$M$2")
		rx truncate -s $((size / 2)) "$I:$2"
		rx truncate -s $((size + 5000)) "$I:$2"
		truncate -s $((size / 2)) "$M$2"
		truncate -s $((size + 5000)) "$M$2"
		mark "$2"
	fi
	if [ $# -ge 3 ]; then  # write from stdin
		printf 'replaced\n' | rx write "$I:$3"
		printf 'replaced\n' >"$M$3"
		mark "$3"
	fi
	if [ $# -ge 4 ]; then  # remove
		rx rm "$I:$4"
		rm "$M$4"
		mark "$4"
	fi
	if [ $# -ge 5 ]; then  # move out of its directory
		rx mv "$I:$5" "$I:/wt/renamed_existing"
		mv "$M$5" "$M/wt/renamed_existing"
		mark "$5" /wt/x
	fi
	if [ $# -ge 6 ]; then  # attributes
		rx chown 777:888 "$I:$6"
		mchown 777:888 "$M$6"
		rx chmod 0640 "$I:$6"
		chmod 0640 "$M$6"
		rx touch -d @1111111111.111111111 "$I:$6"
		touch -d @1111111111.111111111 "$M$6"
	fi
	if [ -n "$link" ]; then  # rename a symlink within its directory
		rx mv "$I:$link" "$I:$link.moved"
		mv "$M$link" "$M$link.moved"
		mark "$link"
	fi
	set -- $dirs
	if [ $# -ge 1 ]; then  # a whole reference tree moves across directories
		rx mv "$I:$1" "$I:/wt/moved_dir"
		mv "$M$1" "$M/wt/moved_dir"
		MARKS=$(printf '%s\n' $MARKS | sed -e "s|^$1/|/wt/moved_dir/|" -e "s|^$1\$|/wt/moved_dir|")
		mark "$1" /wt/x
	fi
	if [ $# -ge 2 ]; then  # and another one is removed
		eval "last=\${$#}"
		rx rm -r "$I:$last"
		rm -r "$M$last"
		mark "$last"
	fi
	phase_end "change, move and remove reference content"
}

round_trip() {  # round_trip NAME IMAGEFILE IMAGESPEC
	NAME=$1 I=$3
	M="$FAST/$NAME.model" X="$FAST/$NAME.x" ERRS="$WORK/$NAME.errs" NOWLIST="$WORK/$NAME.now"
	MARKS= ncmd=0 phase=0
	: >"$ERRS"
	: >"$NOWLIST"
	rm -rf "$S/treep"
	cp -a "$WORK/treep.orig" "$S/treep"
	if ! "$R" extract -q "$I" "$M" >"$WORK/x.err" 2>&1; then
		fail "$NAME: extract the reference image to a model tree"
		sed 's/^/#   /' "$WORK/x.err" | head -5
		return
	fi
	phase_add
	phase_modify
	phase_rename
	phase_links_attrs
	phase_existing
	rm -rf "$M" "$X"
}

cp -a "$S/treep" "$WORK/treep.orig"

one_image() {  # one_image NAME
	if [ "$1" = wholedisk-gpt ]; then
		if ! img=$(copy_image wholedisk-gpt.img 2>/dev/null); then
			skip "wholedisk-gpt: round trip through its GPT" \
				"the shared golden corpus is not beside this checkout ($GOLDEN_DIR)"
			return
		fi
		head -c 2097152 "$img" | sha256sum >"$WORK/gpt.head"
		tail -c +66060289 "$img" | sha256sum >"$WORK/gpt.tail"
		round_trip wholedisk-gpt "$img" "$img:p3"
		ok "wholedisk-gpt: the bytes before partition 3 (GPT, BIOS, ESP) are unchanged" \
			sh -c "head -c 2097152 '$img' | sha256sum | cmp -s - '$WORK/gpt.head'"
		ok "wholedisk-gpt: the bytes after partition 3 (backup GPT) are unchanged" \
			sh -c "tail -c +66060289 '$img' | sha256sum | cmp -s - '$WORK/gpt.tail'"
	else
		img=$(copy_image "$1.img") || { fail "$1: test image missing"; return; }
		round_trip "$1" "$img" "$img"
	fi
	rm -f "$img"
}

# The round trips run in two lanes at once, each in a subshell with its own work
# directory; their TAP lines are replayed here in order.
lane() {  # lane N IMAGE...
	d="$WORK/lane$1"
	shift
	mkdir -p "$d" "$FAST/${d##*/}"
	cp -a "$S" "$d/src"
	cp -a "$WORK/treep.orig" "$WORK/cmp.py" "$d/"
	(
		WORK=$d S=$d/src FAST=$FAST/${d##*/} _tap_n=0 _tap_failed=0
		for name; do one_image "$name"; done
	) >"$d/tap" 2>&1
}
replay() {
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok * - }" ;;
		"not ok "*) fail "${line#not ok * - }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done <"$1"
}
lane 1 bigdir small-medium large-files fuse-sparse &
lane1=$!
lane 2 empty-8M misc-tree reserved-bootloader clone-of-misc wholedisk-gpt
wait $lane1
replay "$WORK/lane1/tap"
replay "$WORK/lane2/tap"

# ---------------------------------------------------------------------------------------
# Verb details that coreutils define.
V="$WORK/verbs.img"
"$R" mkfs -s 8M "$V" >/dev/null 2>&1
"$R" put --owner 1000:7 "$S/f000100" "$V:/probe" >/dev/null 2>&1
ok "chown UID without :GID changes the owner and keeps the group, as chown(1)" sh -c \
	"'$R' chown 4242 '$V:/probe' && '$R' stat '$V:/probe' | grep 'Uid:' | tee /dev/stderr | grep -q 'Uid: 4242  Gid: 7\$'"
ok "touch -c of a missing path succeeds and creates nothing (POSIX: no diagnostic)" sh -c \
	"'$R' touch -c '$V:/never-created' && ! '$R' stat '$V:/never-created' 2>/dev/null"
ok "touch -c of a missing path next to an existing one sets the existing one's time" sh -c \
	"'$R' touch -c -d @1234 '$V:/never-created' '$V:/probe'; '$R' stat --json '$V:/probe' | grep -q '\"mtime\":\"1234.000000000\"'"
ok "the image checks clean" "$R" check -q "$V"

# ---------------------------------------------------------------------------------------
# A directory grows into a 2-level h-tree (4100 entries with 252-byte names) and shrinks
# back to nothing; every block comes back.
info_field() {  # info_field IMAGE FIELD
	"$R" info --json "$1" | $PY -c "import json, sys; print(json.load(sys.stdin)['redoxfs']['$2'])"
}
stat_field() {  # stat_field IMAGE:/path FIELD
	"$R" stat --json "$1" | $PY -c "import json, sys; print(json.load(sys.stdin)[0].get('$2'))"
}
H="$WORK/htree.img"
"$R" mkfs -s 64M "$H" >/dev/null 2>&1
"$R" mkdir "$H:/h" >/dev/null 2>&1
free0=$(info_field "$H" free_blocks)
NAMES="$FAST/names"
mkdir -p "$NAMES"
$PY - "$NAMES" <<'PYEOF'
import os, sys
for i in range(4100):
    name = ("%05d-" % i) + ("n%d" % (i % 7)) * 200
    open(os.path.join(sys.argv[1], name[:252]), "w").close()
PYEOF
ok "h-tree: 4100 files with 252-byte names go into one directory" "$R" sync "$NAMES" "$H:/h"
ok "h-tree: the image checks clean" "$R" check -q "$H"
ok "h-tree: stat says the directory is hashed with 2 index levels" sh -c \
	"'$R' stat '$H:/h' | grep 'Storage:' | tee /dev/stderr | grep -q 'Storage: hashed directory, 2 index levels\$'"
ok "h-tree: ls lists all 4100 names" test "$("$R" ls "$H:/h" | wc -l)" -eq 4100
(cd "$NAMES" && LC_ALL=C ls) >"$WORK/names.lst"
ok "h-tree: ls lists exactly the source's names" sh -c "'$R' ls '$H:/h' | cmp - '$WORK/names.lst'"
# remove everything in four transactions (every 4th name, so that every index block
# shrinks each time), checking in between
bad=
for part in 0 1 2 3; do
	awk -v p=$part 'NR % 4 == p' "$WORK/names.lst" | sed "s|^|$H:/h/|" >"$WORK/rm.lst"
	g0=$(info_field "$H" generation)
	xargs -s 1900000 -d '\n' "$R" rm <"$WORK/rm.lst" >"$WORK/rm.out" 2>&1 ||
		{ bad="rm part $part failed: $(head -3 "$WORK/rm.out")"; break; }
	g1=$(info_field "$H" generation)
	[ "$g1" = $((g0 + 1)) ] || { bad="rm part $part: generation $g0 -> $g1, not one commit"; break; }
	"$R" check -q "$H" >"$WORK/rm.out" 2>&1 || { bad="check after part $part: $(head -3 "$WORK/rm.out")"; break; }
done
ok "h-tree: removing the entries in four batches keeps the image clean${bad:+ ($bad)}" test -z "$bad"
ok "h-tree: the image checks clean when the directory is empty" "$R" check -q "$H"
ok "h-tree: the directory is empty" test -z "$("$R" ls "$H:/h" 2>&1)"
ok "h-tree: the empty directory has size 0" test "$(stat_field "$H:/h" size)" = 0
free1=$(info_field "$H" free_blocks)
ok "h-tree: free blocks are back to $free0 (now $free1)" test "$free0" = "$free1"

# The reference-made 2-level h-tree /maxnames of bigdir, emptied.
img=$(copy_image bigdir.img)
"$R" ls "$img:/maxnames" 2>/dev/null | sed "s|^|$img:/maxnames/|" >"$WORK/max.lst"
n=$(wc -l <"$WORK/max.lst")
g0=$(info_field "$img" generation)
ok "bigdir: rm of all $n entries of /maxnames (a 2-level h-tree)" \
	xargs -s 1900000 -d '\n' "$R" rm <"$WORK/max.lst"
ok "bigdir: ... in one commit" test "$(info_field "$img" generation)" = $((g0 + 1))
ok "bigdir: the image checks clean afterwards" "$R" check -q "$img"
ok "bigdir: /maxnames is empty with size 0" \
	test -z "$("$R" ls "$img:/maxnames" 2>&1)" -a "$(stat_field "$img:/maxnames" size)" = 0
ok "bigdir: the other directories are untouched" sh -c \
	"'$R' manifest '$img' | grep -v '^/maxnames' | grep -v '^/	' | grep -v '^#' >'$WORK/a.man' &&
	 grep -v '^/maxnames' '$DATA/bigdir.manifest.tsv' | grep -v '^/	' | grep -v '^#' >'$WORK/b.man' &&
	 cmp '$WORK/a.man' '$WORK/b.man'"
rm -f "$img"

# ---------------------------------------------------------------------------------------
# A no-op makes no new generation and writes nothing.
img=$(copy_image misc-tree.img)
rm -rf "$S/treep" && cp -a "$WORK/treep.orig" "$S/treep"
"$R" sync "$S/treep" "$img:/synced" >/dev/null 2>&1
g1=$(info_field "$img" generation)
sum1=$(sha256sum <"$img")
ok "sync of the same directory again succeeds" "$R" sync "$S/treep" "$img:/synced"
g2=$(info_field "$img" generation)
ok "sync of an unchanged directory makes no new generation ($g1 -> $g2)" test "$g1" = "$g2"
ok "sync of an unchanged directory writes nothing" test "$sum1" = "$(sha256sum <"$img")"
"$R" sync -c "$S/treep" "$img:/synced" >/dev/null 2>&1
g3=$(info_field "$img" generation)
ok "sync -c of an unchanged directory makes no new generation ($g1 -> $g3)" test "$g1" = "$g3"
"$R" sync "$S/treep" "$img" >/dev/null 2>&1
g4=$(info_field "$img" generation)
"$R" sync "$S/treep" "$img" >/dev/null 2>&1
ok "sync into / twice: the second makes no new generation" test "$g4" = "$(info_field "$img" generation)"
rm -f "$img"

# ---------------------------------------------------------------------------------------
# Reproducible images: the same input and SOURCE_DATE_EPOCH give the same bytes.
rm -rf "$WORK/repro" && mkdir -p "$WORK/repro"
cp -a "$WORK/treep.orig" "$WORK/repro/tree"
cp "$S/f131073" "$S/txt500000" "$S/sparse1M" "$S/f003967" "$WORK/repro/"
ln -s tree/a "$WORK/repro/link"
mk() {
	rm -f "$1"
	SOURCE_DATE_EPOCH=1700000000 "$R" mkfs -s 32M --from "$WORK/repro" --owner 0:0 "$1"
}
ok "mkfs --from with SOURCE_DATE_EPOCH" mk "$WORK/r1.img"
sleep 1
touch "$WORK/repro/f131073"  # a newer mtime is clamped to the epoch anyway
ok "mkfs --from again into another file" mk "$WORK/r2.img"
ok "the two images are byte-identical" cmp "$WORK/r1.img" "$WORK/r2.img"
ok "the reproducible image checks clean" "$R" check -q "$WORK/r1.img"
printf 'x' | dd of="$WORK/repro/f131073" bs=1 seek=70000 conv=notrunc 2>/dev/null
mk "$WORK/r3.img" >/dev/null 2>&1
ok "a changed byte in one file gives a different image" sh -c "! cmp -s '$WORK/r1.img' '$WORK/r3.img'"

done_testing
