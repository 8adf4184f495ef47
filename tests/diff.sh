#!/bin/sh
# rximg diff: images, manifest files and host directories compared path by path.
#  - every reference image equals its own manifest and its extracted tree (exit 0);
#  - known changes (added, removed, content, mode, owner, times, link target, type)
#    are reported exactly, in path order, as text and JSON, with --ignore and -q;
#  - subtrees line up below their tops; bad input is trouble (exit 2, one line).
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}

expect_status() {  # expect_status N COMMAND...: COMMAND exits with N
	local want=$1
	shift
	"$@"
	local rc=$?
	[ $rc = "$want" ] || { echo "exit status $rc, expected $want"; return 1; }
}

# ---- reference images: image = its manifest = its extracted tree ----
for name in misc-tree bigdir large-files fuse-sparse small-medium clone-of-misc reserved-bootloader; do
	img=$(test_image "$name.img") || { skip "$name" "image not available"; continue; }
	man=$DATA/$name.manifest.tsv
	[ -f "$man" ] || man=$GOLDEN_DIR/$name.manifest.tsv
	ok "$name: the image equals its reference manifest (exit 0, no output)" \
		sh -c "'$R' diff '$img' '$man' >'$WORK/out' && test ! -s '$WORK/out'"
	ok "$name: and the other way round" expect_status 0 "$R" diff -q "$man" "$img"
	rm -rf "$WORK/x"
	"$R" extract -q "$img" "$WORK/x"
	ok "$name: the image equals its extracted host tree" \
		sh -c "'$R' diff '$img' '$WORK/x' >'$WORK/out' && test ! -s '$WORK/out'"
done

# ---- known changes ----
misc=$(test_image misc-tree.img)
B=$(copy_image misc-tree.img)
"$R" rm -r "$B:/deep"
printf 'changed\n' | "$R" write "$B:/hello.txt"
"$R" chmod 0600 "$B:/empty_file"
"$R" chown 1234:5678 "$B:/modes"
"$R" touch -d @981158400 "$B:/empty_dir"
"$R" mkdir "$B:/newdir"
"$R" ln -s nowhere "$B:/newdir/link"
first_link=$("$R" manifest "$misc:/links" | awk -F'\t' '$2 == "symlink" { print $1; exit }')
"$R" rm "$B:$first_link"
"$R" ln -s elsewhere "$B:$first_link"
"$R" rm "$B:/links/dangling"
"$R" mkdir "$B:/links/dangling"	# a symlink became a directory: only "type" is named

"$R" diff --ignore ctime "$misc" "$B" >"$WORK/d.txt"
rc=$?
ok "changes: exit status 1" test $rc = 1
{
	"$R" manifest "$misc:/deep" | awk -F'\t' 'NR > 1 { print "- " $1 }'
	printf '~ /empty_dir\tmtime\n'
	printf '~ /empty_file\tmode\n'
	printf '~ /hello.txt\tsize,mtime,content\n'
	printf '~ %s\tsize,mtime,target,content\n' "$first_link"
	printf '~ /links/dangling\ttype\n'
	printf '~ /modes\tuid,gid\n'
	printf '+ /newdir\n'
	printf '+ /newdir/link\n'
} >"$WORK/expect.unsorted"
# In path order, as rximg prints them: sort on the path alone (bytes).
LC_ALL=C awk '{ p = $0; sub(/^[-+~] /, "", p); sub(/\t.*/, "", p); print p "\t" $0 }' "$WORK/expect.unsorted" |
	LC_ALL=C sort -t '	' -k1,1 | cut -f2- >"$WORK/expect"
# The root's own mtime changes with the edits (and the edited directories'): drop those.
grep -v -x -e '~ /	mtime' -e '~ /links	mtime' -e '~ /	mtime,nlink' "$WORK/d.txt" >"$WORK/got"
ok "changes: exactly the expected lines, in path order" diff -u "$WORK/expect" "$WORK/got"
ok "changes: -q prints nothing, exit 1" sh -c "'$R' diff -q '$misc' '$B' >'$WORK/q'; test \$? = 1 && test ! -s '$WORK/q'"
ok "changes: --ignore of every other field leaves only added and removed paths and the type change" \
	sh -c "! '$R' diff -i times,mode,uid,gid,target,content,size,nlink '$misc' '$B' | grep -v -e '^[-+] ' -e '^~ /links/dangling	type\$'"
"$R" diff --json --ignore ctime "$misc" "$B" >"$WORK/d.json"
ok "changes: --json is a JSON array with the same entries as the text" $PY - "$WORK/d.json" "$WORK/d.txt" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read().splitlines()
sign = {"added": "+", "removed": "-", "changed": "~"}
lines = []
for e in j:
    l = sign[e["change"]] + " " + e["path"]
    if e["change"] == "changed":
        l += "\t" + ",".join(e["fields"])
    lines.append(l)
if lines != text:
    print("json:", lines[:5], "text:", text[:5])
    sys.exit(1)
PYEOF
ok "the same image compared with itself: exit 0" expect_status 0 "$R" diff "$B" "$B"
ok "the changed image compared with its own manifest: exit 0" \
	sh -c "'$R' manifest '$B' >'$WORK/b.tsv' && '$R' diff '$WORK/b.tsv' '$B'"

# ---- subtrees line up below their tops ----
rm -rf "$WORK/links"
"$R" extract -q "$misc:/links" "$WORK/links"
ok "subtree: IMAGE:/links equals the host tree extracted from it" expect_status 0 "$R" diff "$misc:/links" "$WORK/links"
"$R" manifest "$misc:/links" >"$WORK/links.tsv"
ok "subtree: IMAGE:/links/ (a trailing slash) is the same tree" expect_status 0 "$R" diff "$misc:/links/" "$WORK/links"
ok "subtree: a manifest of IMAGE:/links equals the host tree" expect_status 0 "$R" diff "$WORK/links.tsv" "$WORK/links"
echo extra >"$WORK/links/extra"
ok "subtree: a file added on the host shows as '+ /extra'" \
	sh -c "'$R' diff '$misc:/links' '$WORK/links' | grep -qx '+ /extra'"
ln -s "$WORK/../../../../etc" "$WORK/links/outward"
ok "host symlinks are compared as links, not followed" \
	sh -c "'$R' diff '$misc:/links' '$WORK/links' >'$WORK/out'; grep -qx '+ /outward' '$WORK/out' && ! grep -q '/outward/' '$WORK/out'"

# ---- bad input: trouble, exit 2, one line naming what is wrong ----
trouble() {  # trouble REGEX COMMAND...: exit 2 and the one-line error
	local re=$1
	shift
	"$@" >/dev/null 2>"$WORK/err"
	local rc=$?
	[ $rc = 2 ] || { echo "exit status $rc, expected 2"; cat "$WORK/err"; return 1; }
	[ "$(wc -l <"$WORK/err")" = 1 ] && grep -qE "^rximg: .*($re)" "$WORK/err" || { cat "$WORK/err"; return 1; }
}
head -1 "$DATA/misc-tree.manifest.tsv" >"$WORK/hdr.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad1.tsv"; printf '/\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\n' >>"$WORK/bad1.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad2.tsv"; printf '/\tdir\t0755\t0\t0\t4096\t1.5\t1.000000000\t1\t-\t-\n' >>"$WORK/bad2.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad3.tsv"; printf '/\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n/a\tfile\t0644\t0\t0\t1\t1.000000000\t1.000000000\t1\t-\tzz\n' >>"$WORK/bad3.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad4.tsv"; printf '/x\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n/y\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n' >>"$WORK/bad4.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad5.tsv"; printf '/\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n/a\\q\tfile\t0644\t0\t0\t1\t1.000000000\t1.000000000\t1\t-\t-\n' >>"$WORK/bad5.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad6.tsv"; printf '/\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n/\tdir\t0755\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n' >>"$WORK/bad6.tsv"
cp "$WORK/hdr.tsv" "$WORK/bad7.tsv"; printf '/\tdir\t17777\t0\t0\t4096\t1.000000000\t1.000000000\t1\t-\t-\n' >>"$WORK/bad7.tsv"
ok "a missing side" trouble 'No such file' "$R" diff "$WORK/missing" "$misc"
ok "a manifest line with 10 columns" trouble 'bad1.tsv: line 2: bad columns' "$R" diff "$WORK/bad1.tsv" "$misc"
ok "a manifest time without nine digits of nanoseconds" trouble 'line 2: bad mtime' "$R" diff "$WORK/bad2.tsv" "$misc"
ok "a manifest SHA-256 that is not hex" trouble 'line 3: bad sha256' "$R" diff "$misc" "$WORK/bad3.tsv"
ok "a manifest path outside its top" trouble 'not below the top' "$R" diff "$WORK/bad4.tsv" "$misc"
ok "a manifest path with a bad escape" trouble 'line 3: bad path' "$R" diff "$WORK/bad5.tsv" "$misc"
ok "a manifest path listed twice" trouble 'listed twice' "$R" diff "$WORK/bad6.tsv" "$misc"
ok "a manifest mode past 07777" trouble 'line 2: bad mode' "$R" diff "$WORK/bad7.tsv" "$misc"
ok "a manifest with only its header" trouble 'empty manifest' "$R" diff "$WORK/hdr.tsv" "$misc"
head -c 70000 /dev/urandom >"$WORK/junk"
ok "a file that is neither an image nor a manifest" trouble 'no RedoxFS' "$R" diff "$WORK/junk" "$misc"
ok "a path missing inside the image" trouble 'no such file|not found' "$R" diff "$misc:/nope" "$misc"
ok "an unknown --ignore field is a usage error" trouble 'unknown field' "$R" diff -i colour "$misc" "$misc"
ok "one side only is a usage error" trouble 'expected A B' "$R" diff "$misc"
if [ "$(id -u)" != 0 ]; then
	mkdir -p "$WORK/locked/inner" && chmod 000 "$WORK/locked/inner"
	ok "an unreadable host directory" trouble 'Permission denied' "$R" diff "$WORK/locked" "$misc"
	chmod 700 "$WORK/locked/inner"
fi
ok "the images were not changed by any of this" sh -c "'$R' check -q '$misc' && '$R' diff '$misc' '$DATA/misc-tree.manifest.tsv'"

done_testing
