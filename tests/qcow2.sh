#!/bin/sh
# qcow2 containers: the golden qcow2 reads like its raw twin; images and chains
# made by qemu-img are read and written correctly; what rximg writes passes
# `qemu-img check` and `qemu-img compare`; hostile headers fail cleanly; a
# writer killed at any write leaves at worst leaked clusters.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
export SOURCE_DATE_EPOCH=1700000000	# same times on both sides of a comparison

if ! command -v qemu-img >/dev/null 2>&1; then
	echo "1..0 # SKIP qemu-img is not installed (Debian: qemu-utils)"
	exit 0
fi

qcheck() {  # qcheck IMG: qemu-img check finds no errors and no leaks
	qemu-img check -q "$1" || { qemu-img check "$1" | head -20; return 1; }
}
same_disk() {  # same_disk RAW QCOW2
	qemu-img compare -q -f raw -F qcow2 "$1" "$2" || { qemu-img compare -f raw -F qcow2 "$1" "$2"; return 1; }
}
same_file() { cmp -s "$1" "$2" || { echo "$1 and $2 differ"; diff "$1" "$2" | head; return 1; }; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

misc=$(test_image misc-tree.img) || { fail "misc-tree.img test image"; done_testing; exit; }
"$R" manifest "$misc" >"$WORK/misc.man"

# Host files put into the images.
SRC=$WORK/src
mkdir -p "$SRC/etc" "$SRC/bin"
head -c 300000 /dev/urandom >"$SRC/bin/random"
seq 1 30000 >"$SRC/bin/text"
for i in 1 2 3 4 5; do echo "config $i" >"$SRC/etc/conf$i"; done

# The same changes on any image: put (new records), rm (frees), mkdir, chmod.
change() {  # change IMG
	"$R" put -r "$SRC" "$1:/" && "$R" rm -r "$1:/deep" && "$R" mkdir -p "$1:/new/dir" &&
		"$R" put "$SRC/bin/text" "$1:/new/dir/text" && "$R" chmod 0700 "$1:/new"
}
cp --sparse=always "$misc" "$WORK/changed.img"
change "$WORK/changed.img" >/dev/null
"$R" manifest "$WORK/changed.img" >"$WORK/changed.man"

# ---- the golden qcow2 of the shared corpus (not in the repo) ----
if gq=$(test_image wholedisk-gpt.qcow2 2>/dev/null) && [ -f "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv" ]; then
	s0=$(sha "$gq")
	"$R" manifest "$gq" >"$WORK/gq.man" 2>"$WORK/gq.err"
	ok "golden wholedisk-gpt.qcow2: manifest equals the reference" same_file "$WORK/gq.man" "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv"
	"$R" info --json "$gq" >"$WORK/gq.json"
	ok "golden wholedisk-gpt.qcow2: info shows a qcow2 v3 with RedoxFS in GPT partition 3" $PY -c "
import json; d = json.load(open('$WORK/gq.json'))
c = d['container']; assert c['format'] == 'qcow2' and c['chain'][0]['version'] == 3, c
assert c['chain'][0]['cluster_size'] == 65536, c
assert d['partition_table']['type'] == 'gpt', d
assert d['redoxfs']['partition'] == 3, d['redoxfs']"
	ok "golden wholedisk-gpt.qcow2: check is clean" "$R" check -q "$gq"
	if rawtwin=$(test_image wholedisk-gpt.img 2>/dev/null); then
		ok "golden wholedisk-gpt.qcow2: converted to raw equals wholedisk-gpt.img" \
			sh -c "'$R' convert -q '$gq' '$WORK/gq.raw' && cmp '$WORK/gq.raw' '$rawtwin'"
	else
		skip "golden wholedisk-gpt.qcow2: raw twin" "wholedisk-gpt.img.zst not in $GOLDEN_DIR"
	fi
	ok "golden wholedisk-gpt.qcow2: reading never changed it" test "$(sha "$gq")" = "$s0"
else
	skip "golden wholedisk-gpt.qcow2" "not found in $GOLDEN_DIR (the shared corpus is not in the repo)"
fi

# ---- images made by qemu-img, every layout ----
for spec in "v2:compat=0.10" "v3:compat=1.1" "c512:cluster_size=512" "c64k:cluster_size=65536" \
	"c2m:cluster_size=2M" "v2-c512:compat=0.10,cluster_size=512" "rc1:refcount_bits=1" \
	"rc64:refcount_bits=64,cluster_size=4096" "compressed:cluster_size=4096:-c" "compressed64k::-c"; do
	name=${spec%%:*}
	rest=${spec#*:}
	opts=${rest%%:*}
	extra=
	case $rest in *:*) extra=${rest#*:} ;; esac
	img=$WORK/$name.qcow2
	qemu-img convert -f raw -O qcow2 $extra ${opts:+-o $opts} "$misc" "$img" || { fail "$name: qemu-img convert"; continue; }
	"$R" manifest "$img" >"$WORK/$name.man" 2>&1
	ok "$name: qemu-img-made image reads like the raw one" same_file "$WORK/$name.man" "$WORK/misc.man"
	ok "$name: put, rm, mkdir, chmod succeed" change "$img"
	ok "$name: qemu-img check is clean (no errors, no leaks)" qcheck "$img"
	ok "$name: qemu-img compare equals the same changes made on raw" same_disk "$WORK/changed.img" "$img"
	ok "$name: rximg check is clean" "$R" check -q "$img"
done

# Extended L2 entries (subclusters) are read; writing them is refused.
img=$WORK/extl2.qcow2
if qemu-img convert -f raw -O qcow2 -o extended_l2=on,cluster_size=65536 "$misc" "$img" 2>/dev/null; then
	qemu-img create -q -f qcow2 -o extended_l2=on -b "$img" -F qcow2 "$WORK/extl2-top.qcow2"
	qemu-io -f qcow2 -c 'write -P 0x5a 1M 6k' -c 'write -z 2M 2k' "$WORK/extl2-top.qcow2" >/dev/null
	qemu-img convert -O raw "$WORK/extl2-top.qcow2" "$WORK/extl2.raw"
	ok "extended L2: subclusters (data, zero, backing) read as qemu-img reads them" \
		sh -c "'$R' convert -q -O raw '$WORK/extl2-top.qcow2' '$WORK/extl2.rx' && cmp '$WORK/extl2.raw' '$WORK/extl2.rx'"
	ok "extended L2: manifest as raw" sh -c "'$R' manifest '$img' | cmp - '$WORK/misc.man'"
	ok "extended L2: writing is refused" fails_cleanly "extended L2" "$R" mkdir "$img:/x"
else
	skip "extended L2" "qemu-img cannot make extended L2 images"
fi

# Zero clusters (v3) hide the backing file: qemu-io writes them, rximg reads zeros.
cp --sparse=always "$misc" "$WORK/zbase.img"
qemu-img create -q -f qcow2 -b "$WORK/zbase.img" -F raw "$WORK/zero.qcow2"
qemu-io -f qcow2 -c 'write -z 1M 128k' -c 'write -P 0x33 3M 4k' "$WORK/zero.qcow2" >/dev/null
qemu-img convert -O raw "$WORK/zero.qcow2" "$WORK/zero.raw"
ok "zero clusters and a partial cluster over a raw backing file read as qemu-img reads them" \
	sh -c "'$R' convert -q -O raw '$WORK/zero.qcow2' '$WORK/zero.rx' && cmp '$WORK/zero.raw' '$WORK/zero.rx'"

# ---- backing chains of depth 3 made by qemu-img, relative names in other folders ----
mkdir -p "$WORK/chain/a/b"
cp --sparse=always "$misc" "$WORK/chain/base.img"
qemu-img create -q -f qcow2 -b ../base.img -F raw "$WORK/chain/a/l1.qcow2"
qemu-io -f qcow2 -c 'write -P 0x11 7M 64k' "$WORK/chain/a/l1.qcow2" >/dev/null	# past the fs end: harmless
qemu-img create -q -f qcow2 -o compat=0.10 -b ../l1.qcow2 -F qcow2 "$WORK/chain/a/b/l2.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=4096 -b "$WORK/chain/a/b/l2.qcow2" -F qcow2 "$WORK/chain/top.qcow2"
sums_before=$(sha256sum "$WORK/chain/base.img" "$WORK/chain/a/l1.qcow2" "$WORK/chain/a/b/l2.qcow2")
qemu-img convert -O raw "$WORK/chain/top.qcow2" "$WORK/chain/expect.raw"
(cd / && "$R" manifest "$WORK/chain/top.qcow2") >"$WORK/chain.man" 2>&1
ok "chain of depth 3 (relative names resolved against each overlay's folder) reads as raw" \
	same_file "$WORK/chain.man" "$WORK/misc.man"
"$R" info --json "$WORK/chain/top.qcow2" >"$WORK/chain.json"
ok "info lists the four files of the chain with formats and cluster sizes" $PY -c "
import json; c = json.load(open('$WORK/chain.json'))['container']['chain']
assert [x['format'] for x in c] == ['qcow2', 'qcow2', 'qcow2', 'raw'], c
assert [x.get('cluster_size') for x in c[:3]] == [4096, 65536, 65536], c
assert c[1]['version'] == 2 and c[1]['backing_name'] == '../l1.qcow2', c[1]"
ok "chain: put, rm, mkdir, chmod into the top image" change "$WORK/chain/top.qcow2"
ok "chain: the backing files are untouched" test "$(sha256sum "$WORK/chain/base.img" "$WORK/chain/a/l1.qcow2" "$WORK/chain/a/b/l2.qcow2")" = "$sums_before"
ok "chain: qemu-img check of the top image is clean" qcheck "$WORK/chain/top.qcow2"
cp --sparse=always "$WORK/chain/expect.raw" "$WORK/chain/expect-changed.raw"
change "$WORK/chain/expect-changed.raw" >/dev/null
ok "chain: qemu-img compare equals the same changes on the flattened raw" same_disk "$WORK/chain/expect-changed.raw" "$WORK/chain/top.qcow2"
chmod a-w "$WORK/chain/base.img" "$WORK/chain/a/l1.qcow2"
ok "chain: read-only backing files are fine (they are opened read-only)" "$R" mkdir "$WORK/chain/top.qcow2:/ro-ok"
chmod u+w "$WORK/chain/base.img" "$WORK/chain/a/l1.qcow2"

# A backing file without a recorded format is probed, with a warning (as QEMU does):
# the format extension of a qemu-img overlay is turned into an unknown (ignored) one.
qemu-img create -q -f qcow2 -b "$misc" -F raw "$WORK/nofmt.qcow2"
$PY - "$WORK/nofmt.qcow2" <<'EOF'
import sys
p = sys.argv[1]; f = bytearray(open(p, 'rb').read())
i = f.find(b'\xe2\x79\x2a\xca'); f[i:i+4] = b'\x12\x34\x56\x78'
open(p, 'wb').write(f)
EOF
ok "no backing format: the backing file is probed, with a warning" sh -c \
	"'$R' manifest '$WORK/nofmt.qcow2' 2>'$WORK/nofmt.err' | cmp - '$WORK/misc.man' && grep -q 'no recorded format; probed as raw' '$WORK/nofmt.err'"
ok "no backing format: info says the format was probed" sh -c "'$R' info '$WORK/nofmt.qcow2' | grep -q 'raw, probed'"

# ---- rximg overlay ----
mkdir -p "$WORK/ov/sub"
cp --sparse=always "$misc" "$WORK/ov/base.img"
b0=$(sha "$WORK/ov/base.img")
ok "overlay: create with an absolute backing path" "$R" overlay "$WORK/ov/base.img" "$WORK/ov/abs.qcow2"
ok "overlay: qemu-img sees an absolute backing file of format raw" sh -c \
	"qemu-img info --output=json '$WORK/ov/abs.qcow2' | $PY -c \"import json,sys; d=json.load(sys.stdin); assert d['backing-filename']=='$WORK/ov/base.img' and d['backing-filename-format']=='raw', d\""
ok "overlay: fresh overlay passes qemu-img check" qcheck "$WORK/ov/abs.qcow2"
ok "overlay: an existing NEW is refused" fails_cleanly "exists" "$R" overlay "$WORK/ov/base.img" "$WORK/ov/abs.qcow2"
ok "overlay: --relative stores the path from NEW's folder" sh -c \
	"cd '$WORK/ov/sub' && '$R' overlay --relative ../abs.qcow2 rel.qcow2 && qemu-img info --output=json rel.qcow2 | grep -q '\"backing-filename\": \"../abs.qcow2\"'"
ok "overlay: writes into a two-level rximg chain" change "$WORK/ov/sub/rel.qcow2"
ok "overlay: qemu-img check clean" qcheck "$WORK/ov/sub/rel.qcow2"
ok "overlay: compare equals the raw with the same changes" same_disk "$WORK/changed.img" "$WORK/ov/sub/rel.qcow2"
ok "overlay: base and middle untouched" sh -c "test '$(sha "$WORK/ov/base.img")' = '$b0' && qemu-img compare -q '$WORK/ov/base.img' '$WORK/ov/abs.qcow2'"
"$R" overlay --relative "$WORK/ov/base.img" "$WORK/ov/sub/relonly.qcow2"
mv "$WORK/ov" "$WORK/ov-moved"
ok "overlay: an all-relative chain still opens after its folder moved" \
	sh -c "'$R' manifest '$WORK/ov-moved/sub/relonly.qcow2' | cmp - '$WORK/misc.man'"
ok "overlay: an absolute link in a moved folder fails cleanly, naming the backing file" \
	fails_cleanly "backing file.*base.img" "$R" ls "$WORK/ov-moved/sub/rel.qcow2:/"
mv "$WORK/ov-moved" "$WORK/ov"
ok "overlay: 512-byte clusters" sh -c "'$R' overlay -c 512 '$WORK/ov/base.img' '$WORK/ov/c512.qcow2' && qemu-img info '$WORK/ov/c512.qcow2' | grep -q 'cluster_size: 512'"
ok "overlay: writes with 512-byte clusters (refcount table grows)" change "$WORK/ov/c512.qcow2"
ok "overlay: 512-byte clusters: qemu-img check clean" qcheck "$WORK/ov/c512.qcow2"
ok "overlay: 512-byte clusters: compare equals raw" same_disk "$WORK/changed.img" "$WORK/ov/c512.qcow2"

# ---- inject --overlay ----
b0=$(sha "$WORK/ov/base.img")
ok "inject --overlay: creates NEW with the change" "$R" inject --overlay "$WORK/ov/inj.qcow2" "$WORK/ov/base.img" "$SRC/bin/text:/text"
ok "inject --overlay: BASE untouched" test "$(sha "$WORK/ov/base.img")" = "$b0"
ok "inject --overlay: the file is in NEW" sh -c "'$R' cat '$WORK/ov/inj.qcow2:/text' | cmp - '$SRC/bin/text'"
ok "inject --overlay: NEW passes qemu-img check" qcheck "$WORK/ov/inj.qcow2"
ok "inject --overlay: an existing NEW is refused" fails_cleanly "exists" "$R" inject --overlay "$WORK/ov/inj.qcow2" "$WORK/ov/base.img" "$SRC/bin/text:/t2"
ok "inject --overlay: a failed inject leaves no NEW" sh -c "! '$R' inject --overlay '$WORK/ov/bad.qcow2' '$WORK/ov/base.img' '$WORK/nonexistent:/x' 2>/dev/null && test ! -e '$WORK/ov/bad.qcow2' && test ! -e '$WORK/ov/bad.qcow2.partial'"

# ---- FUSE mount of an overlay (read-write, and read-only with its shared lock) ----
if "$R" mount --help >/dev/null 2>&1 && [ -w /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
	"$R" overlay "$WORK/ov/base.img" "$WORK/ov/mnt.qcow2"
	mkdir -p "$WORK/mnt"
	ok "mount: a qcow2 overlay mounts read-write; a file written through it lands in the overlay" sh -c \
		"'$R' mount '$WORK/ov/mnt.qcow2' '$WORK/mnt' -- sh -c 'cp \"$SRC/bin/text\" \"$WORK/mnt/t\"' &&
		 '$R' cat '$WORK/ov/mnt.qcow2:/t' | cmp - '$SRC/bin/text'"
	ok "mount: the overlay passes qemu-img check afterwards" qcheck "$WORK/ov/mnt.qcow2"
	ok "mount: read-only mount of a qcow2 reads the file" sh -c \
		"'$R' mount -o ro '$WORK/ov/mnt.qcow2' '$WORK/mnt' -- cmp '$WORK/mnt/t' '$SRC/bin/text'"
else
	skip "mount of a qcow2 overlay" "no FUSE here (rximg built without it, or /dev/fuse not usable)"
fi

# ---- convert ----
ok "convert: raw -> qcow2" "$R" convert -q "$WORK/changed.img" "$WORK/conv.qcow2"
ok "convert: the qcow2 passes qemu-img check and compares equal" sh -c "qemu-img check -q '$WORK/conv.qcow2' && qemu-img compare -q '$WORK/changed.img' '$WORK/conv.qcow2'"
ok "convert: zero clusters are left unallocated" sh -c \
	"qemu-img map --output=json '$WORK/conv.qcow2' | $PY -c \"import json,sys; m=json.load(sys.stdin); assert any(not e['data'] for e in m), m\""
ok "convert: qcow2 chain -> raw (flattened)" sh -c "'$R' convert -q -O raw '$WORK/chain/top.qcow2' '$WORK/flat.img' && qemu-img compare -q -f raw '$WORK/flat.img' '$WORK/chain/top.qcow2'"
ok "convert: the raw output is sparse" sh -c "test \$(du -k '$WORK/flat.img' | cut -f1) -lt 8192"
ok "convert: qcow2 chain -> qcow2 with 2 MiB clusters, no backing file" sh -c \
	"'$R' convert -q -c 2M '$WORK/chain/top.qcow2' '$WORK/flat2m.qcow2' && qemu-img check -q '$WORK/flat2m.qcow2' && qemu-img compare -q '$WORK/flat2m.qcow2' '$WORK/chain/top.qcow2' && ! qemu-img info '$WORK/flat2m.qcow2' | grep -q backing"
ok "convert --force onto a device node is refused, the node stays" sh -c \
	"! '$R' convert -q --force '$WORK/changed.img' /dev/null 2>'$WORK/dev.err' && grep -q 'not a regular file' '$WORK/dev.err' && test -c /dev/null && test ! -e /dev/null.partial"
ok "convert --force onto a folder is refused" fails_cleanly 'not a regular file' "$R" convert -q --force "$WORK/changed.img" "$WORK"
ok "convert: an existing DST is refused" fails_cleanly "exists" "$R" convert "$WORK/changed.img" "$WORK/conv.qcow2"
ok "convert: --force replaces it, no DST.partial left" sh -c "'$R' convert -q --force -O qcow2 '$misc' '$WORK/conv.qcow2' && test ! -e '$WORK/conv.qcow2.partial' && qemu-img compare -q '$misc' '$WORK/conv.qcow2'"
# The disk flush: a new DST is left to the kernel's writeback (as cp and qemu-img do); one
# that replaces an existing file is flushed before the rename, so a power loss keeps one.
if command -v strace >/dev/null; then
	for fmt in raw qcow2; do
		rm -f "$WORK/flush.$fmt"
		n=$(flushes_of "$WORK/flush.$fmt.partial" "$R" convert -q -O $fmt "$misc" "$WORK/flush.$fmt")
		ok "convert -O $fmt: a new DST is not flushed (flushes: $n)" test "$n" = 0
		n=$(flushes_of "$WORK/flush.$fmt.partial" "$R" convert -q --force -O $fmt "$misc" "$WORK/flush.$fmt")
		ok "convert -O $fmt --force: the replacing DST is flushed before the rename (flushes: $n)" test "$n" -ge 1
		ok "convert -O $fmt: both results equal the source" qemu-img compare -q -f raw "$misc" "$WORK/flush.$fmt"
	done
else
	skip "convert: which outputs are flushed" "strace is not installed"
fi

# ---- qemu-img's spellings: -f FMT (the image's format), -O FMT, -b BACKING, -F BACKING_FMT ----
qemu-img convert -O qcow2 "$misc" "$WORK/sp.qcow2"
ok "convert -f raw -O qcow2: qemu-img's spelling" sh -c \
	"'$R' convert -q -f raw -O qcow2 '$misc' '$WORK/sp-out.qcow2' && qemu-img compare -q '$misc' '$WORK/sp-out.qcow2'"
ok "convert -f qcow2 -O raw" sh -c "'$R' convert -q -f qcow2 -O raw '$WORK/sp.qcow2' '$WORK/sp-out.raw' && cmp '$misc' '$WORK/sp-out.raw'"
ok "convert --source-format and --output-format (and --format, the older name of -O)" sh -c \
	"'$R' convert -q --source-format=qcow2 --output-format=raw '$WORK/sp.qcow2' '$WORK/sp-l1.raw' &&
	 '$R' convert -q --format qcow2 '$misc' '$WORK/sp-l2' && qemu-img info '$WORK/sp-l2' | grep -q 'file format: qcow2'"
ok "convert -f raw on a qcow2 SRC is a clear error" fails_cleanly "sp.qcow2: is a qcow2 image, not raw" \
	"$R" convert -q -f raw "$WORK/sp.qcow2" "$WORK/sp-bad1"
ok "convert -f qcow2 on a raw SRC is a clear error" fails_cleanly "misc-tree.img: is a raw image.*not qcow2" \
	"$R" convert -q -f qcow2 "$misc" "$WORK/sp-bad2"
ok "convert: a refused -f leaves no DST" test ! -e "$WORK/sp-bad1" -a ! -e "$WORK/sp-bad1.partial" -a ! -e "$WORK/sp-bad2"
ok "convert -f vmdk: unknown format, usage error" sh -c "'$R' convert -f vmdk '$misc' '$WORK/sp-bad3' 2>&1; test \$? = 2"
s0=$(sha "$WORK/sp-out.qcow2")
ok "convert -f is no longer --force: 'convert -f SRC DST' is a usage error and DST stays" sh -c \
	"'$R' convert -q -f '$misc' '$WORK/sp-out.qcow2' 2>'$WORK/sp.err'; test \$? = 2 && grep -q \"unknown format\" '$WORK/sp.err' && test \"\$(sha256sum <'$WORK/sp-out.qcow2' | cut -d' ' -f1)\" = '$s0'"
mkdir -p "$WORK/spo/sub"
cp --sparse=always "$misc" "$WORK/spo/base.img"
ok "overlay -f qcow2 -b BACKING -F raw NEW: qemu-img create's spelling" sh -c \
	"'$R' overlay -f qcow2 -b '$WORK/spo/base.img' -F raw '$WORK/spo/b.qcow2' && qemu-img compare -q '$WORK/spo/base.img' '$WORK/spo/b.qcow2' && qemu-img check -q '$WORK/spo/b.qcow2'"
ok "overlay -b NAME stores NAME as given; relative to NEW's folder, as qemu-img create -b" sh -c \
	"cd '$WORK' && '$R' overlay -b ../base.img -F raw spo/sub/rel.qcow2 &&
	 qemu-img info --output=json spo/sub/rel.qcow2 | grep -q '\"backing-filename\": \"../base.img\"' &&
	 '$R' manifest spo/sub/rel.qcow2 | cmp - '$WORK/misc.man'"
ok "overlay -F qcow2 on a raw BASE is a clear error, no NEW" sh -c \
	"! '$R' overlay -F qcow2 '$WORK/spo/base.img' '$WORK/spo/c.qcow2' 2>'$WORK/spo.err' && grep -q 'is a raw image' '$WORK/spo.err' && test ! -e '$WORK/spo/c.qcow2'"
ok "overlay -f raw: overlays are qcow2 (usage error)" sh -c "'$R' overlay -f raw '$WORK/spo/base.img' '$WORK/spo/d.qcow2' 2>/dev/null; test \$? = 2 && test ! -e '$WORK/spo/d.qcow2'"
ok "overlay -b with a missing backing file fails cleanly, no NEW" sh -c \
	"! '$R' overlay -b nothere.img -F raw '$WORK/spo/e.qcow2' 2>/dev/null && test ! -e '$WORK/spo/e.qcow2'"
ok "rebase -f raw on a qcow2 is a clear error" fails_cleanly "is a qcow2 image, not raw" "$R" rebase -f raw -u -b x -F raw "$WORK/spo/b.qcow2"
ok "commit -f raw on a qcow2 is a clear error" fails_cleanly "is a qcow2 image, not raw" "$R" commit -f raw "$WORK/spo/b.qcow2"
ok "commit of a raw image: it has no backing file" fails_cleanly "raw image" "$R" commit "$WORK/spo/base.img"

# ---- rebase ----
# An old chain base <- mid <- top (with the usual changes), and new backing files that
# differ from the old chain in places: the guest view of top must not change.
RB=$WORK/rb
mkdir -p "$RB/sub"
cp --sparse=always "$misc" "$RB/base.img"
qemu-img create -q -f qcow2 -b base.img -F raw "$RB/mid.qcow2"
qemu-io -f qcow2 -c 'write -P 0x11 6M 200k' -c 'write -P 0x12 7M 4k' "$RB/mid.qcow2" >/dev/null
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 "$RB/top.qcow2"
change "$RB/top.qcow2" >/dev/null
qemu-io -f qcow2 -c 'write -z 6M 64k' "$RB/top.qcow2" >/dev/null
qemu-img convert -O raw "$RB/top.qcow2" "$RB/expect.raw"
cp --sparse=always "$misc" "$RB/new.img"
qemu-io -f raw -c 'write -P 0x44 0 64k' -c 'write -P 0x45 2M 300k' -c 'write -P 0x46 7M 64k' "$RB/new.img" >/dev/null
qemu-img convert -O qcow2 "$RB/new.img" "$RB/new.qcow2"
cp "$RB/top.qcow2" "$RB/top.pristine"
rb_fresh() { cp "$RB/top.pristine" "$RB/top.qcow2"; }

ok "rebase (safe) onto a raw file that differs from the old chain" "$R" rebase -q -b new.img -F raw "$RB/top.qcow2"
ok "rebase: qemu-img compare: top reads as before" qemu-img compare -q "$RB/expect.raw" "$RB/top.qcow2"
ok "rebase: qemu-img check is clean" qcheck "$RB/top.qcow2"
ok "rebase: the header names new.img (raw), as given" sh -c \
	"qemu-img info --output=json '$RB/top.qcow2' | $PY -c \"import json,sys; d=json.load(sys.stdin); assert d['backing-filename']=='new.img' and d['backing-filename-format']=='raw', d\""
ok "rebase: rximg check is clean and the manifest is the changed one" sh -c "'$R' check -q '$RB/top.qcow2' && '$R' manifest '$RB/top.qcow2' | cmp - '$WORK/changed.man'"
cp "$RB/top.pristine" "$RB/topq.qcow2"
qemu-img rebase -f qcow2 -b new.img -F raw "$RB/topq.qcow2"
ok "rebase: the same content as qemu-img rebase gives" qemu-img compare -q "$RB/topq.qcow2" "$RB/top.qcow2"
ok "rebase: only what differs was copied (the top file stays smaller than a flattened copy)" sh -c \
	"test \$(stat -c %s '$RB/top.qcow2') -lt \$(( \$(stat -c %s '$RB/top.pristine') + 1048576 ))"
rb_fresh
ok "rebase -F qcow2 onto a qcow2 backing file" sh -c \
	"'$R' rebase -q -b new.qcow2 -F qcow2 '$RB/top.qcow2' && qemu-img compare -q '$RB/expect.raw' '$RB/top.qcow2' && qemu-img check -q '$RB/top.qcow2'"
rb_fresh
ok "rebase without -F records the probed format" sh -c \
	"'$R' rebase -q -b new.qcow2 '$RB/top.qcow2' && qemu-img info '$RB/top.qcow2' | grep -q 'backing file format: qcow2'"
rb_fresh
ok "rebase -F raw onto a qcow2 file is a clear error, top unchanged" sh -c \
	"! '$R' rebase -q -b new.qcow2 -F raw '$RB/top.qcow2' 2>'$WORK/rb.err' && grep -q 'is a qcow2 image, not raw' '$WORK/rb.err' && cmp -s '$RB/top.qcow2' '$RB/top.pristine'"
ok "rebase onto a missing file names where it was looked for" fails_cleanly \
	"new backing file $RB/nothere.img \\(\"nothere.img\", relative to the overlay's folder\\) does not exist" \
	"$R" rebase -b nothere.img "$RB/top.qcow2"
ok "rebase onto itself is refused (a loop)" fails_cleanly "loop" "$R" rebase -b top.qcow2 "$RB/top.qcow2"
ok "rebase -b \"\" flattens: no backing file, same content" sh -c \
	"'$R' rebase -q -b '' '$RB/top.qcow2' && qemu-img compare -q '$RB/expect.raw' '$RB/top.qcow2' && qemu-img check -q '$RB/top.qcow2' &&
	 ! qemu-img info '$RB/top.qcow2' | grep -q backing"
rb_fresh
ok "rebase needs -b (usage error)" sh -c "'$R' rebase '$RB/top.qcow2' 2>/dev/null; test \$? = 2"
# Unsafe mode: a renamed backing file; then the old name no longer exists.
cp --sparse=always "$RB/base.img" "$RB/sub/base-moved.img"
qemu-img create -q -f qcow2 -b base.img -F raw "$RB/u.qcow2"
qemu-io -f qcow2 -c 'write -P 0x55 1M 64k' "$RB/u.qcow2" >/dev/null
qemu-img convert -O raw "$RB/u.qcow2" "$RB/u.raw"
mv "$RB/base.img" "$RB/base.gone"
ok "rebase (safe) needs the old backing file: clear error naming it" fails_cleanly \
	"backing file $RB/base.img \\(named \"base.img\" in the header, relative to the overlay's folder\\) does not exist" \
	"$R" rebase -b sub/base-moved.img "$RB/u.qcow2"
s0=$(stat -c %s "$RB/u.qcow2")
ok "rebase -u: rewrites the name though the old backing file is gone" "$R" rebase -u -b sub/base-moved.img -F raw "$RB/u.qcow2"
ok "rebase -u: content as before, check clean, nothing copied" sh -c \
	"qemu-img compare -q '$RB/u.raw' '$RB/u.qcow2' && qemu-img check -q '$RB/u.qcow2' && test \$(stat -c %s '$RB/u.qcow2') = $s0 &&
	 qemu-img info '$RB/u.qcow2' | grep -q 'backing file: sub/base-moved.img'"
mv "$RB/base.gone" "$RB/base.img"
ok "rebase -u without -F needs the new file to probe it" fails_cleanly "does not exist" "$R" rebase -u -b later.img "$RB/u.qcow2"
ok "rebase -u -F raw may name a file that is not there yet" sh -c \
	"'$R' rebase -u -b later.img -F raw '$RB/u.qcow2' && qemu-img info '$RB/u.qcow2' | grep -q 'backing file: later.img'"
ok "rebase -u: back to the real file, then twenty renames: the header stays valid" sh -c '
	for i in $(seq 1 20); do "$0" rebase -u -b "sub/../sub/base-moved.img" -F raw "$1" || exit 1; done
	qemu-img compare -q "$2" "$1" && qemu-img check -q "$1"' "$R" "$RB/u.qcow2" "$RB/u.raw"
# Small clusters: the whole header, extensions and name, lives in 512 bytes.
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.img -F raw "$RB/c512.qcow2"
qemu-io -f qcow2 -c 'write -P 0x66 5M 7k' "$RB/c512.qcow2" >/dev/null
qemu-img convert -O raw "$RB/c512.qcow2" "$RB/c512.raw"
ok "rebase: 512-byte clusters (the header cluster is one sector), qcow2 <-> raw names" sh -c \
	"'$R' rebase -q -b new.qcow2 '$RB/c512.qcow2' && '$R' rebase -q -b sub/base-moved.img -F raw '$RB/c512.qcow2' &&
	 qemu-img compare -q '$RB/c512.raw' '$RB/c512.qcow2' && qemu-img check -q '$RB/c512.qcow2'"
ok "rebase: a v2 (compat=0.10) image" sh -c \
	"qemu-img create -q -f qcow2 -o compat=0.10 -b base.img -F raw '$RB/v2.qcow2' && qemu-io -f qcow2 -c 'write -P 0x67 3M 64k' '$RB/v2.qcow2' >/dev/null &&
	 qemu-img convert -O raw '$RB/v2.qcow2' '$RB/v2.raw' && '$R' rebase -q -b new.img -F raw '$RB/v2.qcow2' &&
	 qemu-img compare -q '$RB/v2.raw' '$RB/v2.qcow2' && qemu-img check -q '$RB/v2.qcow2'"
ok "rebase: an image without a backing file gets one (zeros it relied on are kept)" sh -c \
	"qemu-img create -q -f qcow2 '$RB/nob.qcow2' 8M && qemu-io -f qcow2 -c 'write -P 0x68 0 64k' '$RB/nob.qcow2' >/dev/null &&
	 qemu-img convert -O raw '$RB/nob.qcow2' '$RB/nob.raw' && '$R' rebase -q -b new.img '$RB/nob.qcow2' &&
	 qemu-img compare -q '$RB/nob.raw' '$RB/nob.qcow2' && qemu-img check -q '$RB/nob.qcow2'"
ok "rebase of a raw image is refused" fails_cleanly "raw image" "$R" rebase -b new.img "$RB/new.img"

# ---- commit ----
CM=$WORK/cm
mkdir -p "$CM"
cm_setup() {  # cm_setup raw|qcow2: base.FMT, an overlay ov.qcow2 with the usual changes, expect.raw
	rm -f "$CM"/*
	if [ "$1" = raw ]; then cp --sparse=always "$misc" "$CM/base.raw"; else qemu-img convert -O qcow2 "$misc" "$CM/base.qcow2"; fi
	"$R" overlay --relative "$CM/base.$1" "$CM/ov.qcow2" &&
	change "$CM/ov.qcow2" >/dev/null &&
	qemu-io -f qcow2 -c 'write -z 7M 64k' -c 'write -P 0x71 7800k 100k' "$CM/ov.qcow2" >/dev/null &&
	qemu-img convert -O raw "$CM/ov.qcow2" "$CM/expect.raw"
}
emptied_same() {  # emptied_same IMG RAW: IMG holds nothing (reads all from its backing file), reads as RAW, checks clean
	qemu-img map --output=json "$1" | $PY -c "import json,sys; m=json.load(sys.stdin); assert all(e['depth'] >= 1 for e in m), [e for e in m if e['depth'] == 0][:3]" &&
		qemu-img compare -q "$2" "$1" && qcheck "$1"
}
for fmt in raw qcow2; do
	cm_setup $fmt
	cp "$CM/base.$fmt" "$CM/qbase.$fmt"
	cp "$CM/ov.qcow2" "$CM/ov.orig"
	ok "commit into a $fmt backing file" "$R" commit -q "$CM/ov.qcow2"
	ok "commit ($fmt): the backing file now holds the new content (qemu-img compare)" qemu-img compare -q -f raw "$CM/expect.raw" "$CM/base.$fmt"
	[ $fmt = qcow2 ] && ok "commit ($fmt): qemu-img check of the backing file is clean" qcheck "$CM/base.$fmt"
	ok "commit ($fmt): the overlay is emptied (as qemu-img commit does) and still reads the new content" \
		emptied_same "$CM/ov.qcow2" "$CM/expect.raw"
	ok "commit ($fmt): the emptied overlay gave its space back" test "$(stat -c %s "$CM/ov.qcow2")" -lt "$(stat -c %s "$CM/ov.orig")"
	cp "$CM/ov.orig" "$CM/qov.qcow2"
	qemu-img rebase -u -b "qbase.$fmt" -F $fmt "$CM/qov.qcow2"
	qemu-img commit -q "$CM/qov.qcow2"
	ok "commit ($fmt): the backing file has the same content as after qemu-img commit" qemu-img compare -q "$CM/qbase.$fmt" "$CM/base.$fmt"
	ok "commit ($fmt): rximg check of the backing file is clean" "$R" check -q "$CM/base.$fmt"
done
cm_setup raw
s0=$(sha "$CM/ov.qcow2")
ok "commit -d: the backing file is written, the overlay left as it was" sh -c \
	"'$R' commit -q -d '$CM/ov.qcow2' && qemu-img compare -q -f raw '$CM/expect.raw' '$CM/base.raw' && test \"\$(sha256sum <'$CM/ov.qcow2' | cut -d' ' -f1)\" = '$s0'"
cm_setup raw
ok "commit -b with another file is refused, nothing written" sh -c \
	"! '$R' commit -b '$misc' '$CM/ov.qcow2' 2>'$WORK/cm.err' && grep -q 'is not the backing file' '$WORK/cm.err' && cmp -s '$misc' '$CM/base.raw'"
ok "commit -b BASE (the one it names) implies -d, as in qemu-img" sh -c \
	"'$R' commit -q -b '$CM/base.raw' '$CM/ov.qcow2' && qemu-img compare -q -f raw '$CM/expect.raw' '$CM/base.raw' && test \"\$(sha256sum <'$CM/ov.qcow2' | cut -d' ' -f1)\" = '$s0'"
cm_setup raw
truncate -s 4M "$CM/base.raw"
qemu-img convert -O raw "$CM/ov.qcow2" "$CM/expect.raw"
ok "commit into a smaller raw backing file grows it to the overlay's size" sh -c \
	"'$R' commit -q '$CM/ov.qcow2' && test \$(stat -c %s '$CM/base.raw') = \$(stat -c %s '$CM/expect.raw') && cmp '$CM/expect.raw' '$CM/base.raw'"
ok "commit of a qcow2 without a backing file fails cleanly" fails_cleanly "no backing file" "$R" commit "$WORK/sp.qcow2"
# The backing file must not be in use: an rximg mount (or any flock holder), QEMU.
cm_setup raw
s0=$(sha "$CM/base.raw")
s1=$(sha "$CM/ov.qcow2")
# The holder is the process itself (flock(1) with a command would leave its child holding the lock).
sh -c 'exec 9<"$1" && flock -x 9 && exec sleep 30' sh "$CM/base.raw" &
fpid=$!
sleep 0.5
ok "commit into a backing file locked by another process is refused" fails_cleanly "backing file.*base.raw: in use" "$R" commit "$CM/ov.qcow2"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
qemu-io -f raw -c 'sleep 30000' "$CM/base.raw" >/dev/null 2>&1 &
qpid=$!
sleep 1
ok "commit into a backing file held by QEMU is refused" fails_cleanly "backing file.*(QEMU|in use)" "$R" commit "$CM/ov.qcow2"
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
if "$R" mount --help >/dev/null 2>&1 && [ -w /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
	mkdir -p "$WORK/cm-mnt"
	ok "commit into a backing file that is mounted with rximg mount is refused" sh -c \
		"'$R' mount '$CM/base.raw' '$WORK/cm-mnt' -- sh -c \"'$R' commit '$CM/ov.qcow2' 2>'$WORK/cm-mnt.err'; test \\\$? = 1\" &&
		 grep -q 'in use' '$WORK/cm-mnt.err'"
else
	skip "commit into a mounted backing file" "no FUSE here"
fi
ok "commit: refused commits changed neither file" test "$(sha "$CM/base.raw") $(sha "$CM/ov.qcow2")" = "$s0 $s1"
# The missing backing file is named with its resolved path.
mkdir -p "$WORK/miss/sub"
qemu-img create -q -f qcow2 -u -b disk.img -F raw "$WORK/miss/sub/try.qcow2" 8M
ok "a missing backing file is named with its resolved path (ls)" sh -c \
	"cd '$WORK/miss' && ! '$R' ls sub/try.qcow2:/ 2>'$WORK/miss.err' &&
	 grep -qx 'rximg: sub/try.qcow2: backing file $WORK/miss/sub/disk.img (named \"disk.img\" in the header, relative to the overlay.s folder) does not exist' '$WORK/miss.err'"
ok "a missing backing file is named with its resolved path (commit)" fails_cleanly \
	"try.qcow2: backing file $WORK/miss/sub/disk.img \\(named \"disk.img\" in the header" "$R" commit "$WORK/miss/sub/try.qcow2"
qemu-img create -q -f qcow2 -u -b /nonexistent/disk.img -F raw "$WORK/miss/abs.qcow2" 8M
ok "a missing absolute backing file is named as stored" fails_cleanly "abs.qcow2: backing file /nonexistent/disk.img does not exist" "$R" info "$WORK/miss/abs.qcow2"

# ---- refusals ----
setbits() {  # setbits IMG OFFSET HEX: overwrite bytes of the header
	$PY -c "
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); f.write(bytes.fromhex(sys.argv[3]))" "$@"
}
qemu-img convert -O qcow2 "$misc" "$WORK/dirty.qcow2"
setbits "$WORK/dirty.qcow2" 72 0000000000000001
ok "dirty bit: reading works" sh -c "'$R' manifest '$WORK/dirty.qcow2' | cmp - '$WORK/misc.man'"
ok "dirty bit: writing is refused" fails_cleanly "dirty" "$R" mkdir "$WORK/dirty.qcow2:/x"
setbits "$WORK/dirty.qcow2" 72 0000000000000002
ok "corrupt bit: writing is refused" fails_cleanly "corrupt" "$R" mkdir "$WORK/dirty.qcow2:/x"
setbits "$WORK/dirty.qcow2" 72 0000000000000020
ok "unknown incompatible bit: refused even for reading" fails_cleanly "unknown incompatible" "$R" ls "$WORK/dirty.qcow2:/"
qemu-img convert -O qcow2 "$misc" "$WORK/snap.qcow2"
qemu-img snapshot -c s1 "$WORK/snap.qcow2"
ok "internal snapshots: the active disk reads" sh -c "'$R' manifest '$WORK/snap.qcow2' | cmp - '$WORK/misc.man'"
ok "internal snapshots: writing is refused" fails_cleanly "snapshots" "$R" mkdir "$WORK/snap.qcow2:/x"
qemu-img convert -O qcow2 "$misc" "$WORK/ac.qcow2"
setbits "$WORK/ac.qcow2" 88 0000000000000001
"$R" mkdir "$WORK/ac.qcow2:/x" >/dev/null 2>&1
ok "autoclear bits are cleared by the first write" sh -c "test \"\$(od -An -tx1 -j88 -N8 '$WORK/ac.qcow2' | tr -d ' ')\" = 0000000000000000 && qemu-img check -q '$WORK/ac.qcow2'"

# Locks: a running QEMU (qemu-io holds its OFD locks while it sleeps) makes writes refuse.
qemu-img convert -O qcow2 "$misc" "$WORK/locked.qcow2"
qemu-io -f qcow2 -c 'sleep 4000' "$WORK/locked.qcow2" >/dev/null 2>&1 &
qpid=$!
sleep 1
ok "a qcow2 held by QEMU is not written" fails_cleanly "QEMU|in use|open for writing" "$R" mkdir "$WORK/locked.qcow2:/x"
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null

# ---- hostile images: a clear error, never a crash ----
qemu-img create -q -f qcow2 -b "$WORK/ov/base.img" -F raw "$WORK/h-src.qcow2"
qemu-io -f qcow2 -c 'write -P 0x77 0 128k' "$WORK/h-src.qcow2" >/dev/null
hostile() {  # hostile NAME REGEX PYTHON-EDIT (gets the header as bytearray h, file as f)
	local img=$WORK/h-$1.qcow2
	cp "$WORK/h-src.qcow2" "$img"
	$PY - "$img" <<EOF || { fail "hostile $1: crafting"; return; }
import struct, sys
path = sys.argv[1]
f = bytearray(open(path, 'rb').read())
def be64(o, v): f[o:o+8] = struct.pack('>Q', v)
def be32(o, v): f[o:o+4] = struct.pack('>I', v)
$3
open(path, 'wb').write(f)
EOF
	ok "hostile $1: info fails cleanly" fails_cleanly "$2" timeout 20 "$R" info "$img"
	ok "hostile $1: convert fails cleanly" fails_cleanly "$2" timeout 20 "$R" convert -q -O raw "$img" "$WORK/h-out-$1"
}
hostile l1-past-eof "L1 table" "be64(40, 1 << 40)"
hostile l1-unaligned "L1 table" "be64(40, 0x30008)"
hostile refcount-table-on-header "refcount table.*header" "be64(48, 0)"
hostile cluster-bits-8 "cluster_bits" "be32(20, 8)"
hostile cluster-bits-22 "cluster_bits" "be32(20, 22)"
hostile version-4 "version" "be32(4, 4)"
hostile l1-too-small "L1 table" "be32(36, 0)"
hostile header-length "header length" "be32(100, 1001)"
hostile encrypted "encrypted" "be32(32, 1)"
hostile backing-protocol "protocol" "n = b'nbd://x/y'; o = struct.unpack('>Q', f[8:16])[0]; f[o:o+len(n)] = n; be32(16, len(n))"
hostile backing-missing "backing file" "n = b'/nonexistent/base.img'; o = struct.unpack('>Q', f[8:16])[0]; f[o:o+len(n)] = n; be32(16, len(n))"
hostile backing-name-long "backing file name" "be32(16, 5000)"
hostile l2-past-eof "L2 table" "o = struct.unpack('>Q', f[40:48])[0]; be64(o, (1 << 40) | (1 << 63))"
hostile data-past-eof "past the end" "o = struct.unpack('>Q', f[40:48])[0]; l2 = struct.unpack('>Q', f[o:o+8])[0] & 0x00fffffffffffe00; be64(l2, (1 << 45) | (1 << 63))"
hostile compressed-garbage "compressed" "o = struct.unpack('>Q', f[40:48])[0]; l2 = struct.unpack('>Q', f[o:o+8])[0] & 0x00fffffffffffe00; be64(l2, (1 << 62) | 0x10000)"
# A data cluster that points at the image's own L1 table must not be written in place.
cp "$WORK/h-src.qcow2" "$WORK/h-overlap.qcow2"
$PY - "$WORK/h-overlap.qcow2" <<'EOF'
import struct, sys
p = sys.argv[1]; f = bytearray(open(p, 'rb').read())
l1 = struct.unpack('>Q', f[40:48])[0]
l2 = struct.unpack('>Q', f[l1:l1+8])[0] & 0x00fffffffffffe00
f[l2:l2+8] = struct.pack('>Q', l1 | (1 << 63))
open(p, 'wb').write(f)
EOF
s0=$(sha "$WORK/h-overlap.qcow2")
ok "hostile data cluster on the L1 table: a write is refused cleanly" fails_cleanly "overlaps" "$R" mkfs -f "$WORK/h-overlap.qcow2"
ok "hostile data cluster on the L1 table: the image is unchanged" test "$(sha "$WORK/h-overlap.qcow2")" = "$s0"

# A loop: the overlay names itself; and two overlays naming each other.
cp "$WORK/h-src.qcow2" "$WORK/h-self.qcow2"
$PY - "$WORK/h-self.qcow2" <<'EOF'
import struct, sys
p = sys.argv[1]; f = bytearray(open(p, 'rb').read())
o = struct.unpack('>Q', f[8:16])[0]; n = b'h-self.qcow2'
f[o:o+len(n)] = n; f[16:20] = struct.pack('>I', len(n))
# the format extension says raw: make it qcow2 (same length class: 5 bytes, padded)
i = f.find(b'\xe2\x79\x2a\xca'); f[i+4:i+8] = struct.pack('>I', 5); f[i+8:i+16] = b'qcow2\0\0\0'
open(p, 'wb').write(f)
EOF
ok "hostile backing chain loop (an image backed by itself) fails cleanly" fails_cleanly "loop" timeout 20 "$R" ls "$WORK/h-self.qcow2:/"
qemu-img create -q -f qcow2 -b "$misc" -F raw "$WORK/h-a.qcow2"
qemu-img create -q -f qcow2 -b "$WORK/h-a.qcow2" -F qcow2 "$WORK/h-b.qcow2"
$PY - "$WORK/h-a.qcow2" "$WORK/h-b.qcow2" <<'EOF'
import struct, sys
p = sys.argv[1]; f = bytearray(open(p, 'rb').read())
o = struct.unpack('>Q', f[8:16])[0]; n = sys.argv[2].encode()
f[o:o+len(n)] = n; f[16:20] = struct.pack('>I', len(n))
i = f.find(b'\xe2\x79\x2a\xca'); f[i+4:i+8] = struct.pack('>I', 5); f[i+8:i+16] = b'qcow2\0\0\0'
open(p, 'wb').write(f)
EOF
ok "hostile backing chain loop (A -> B -> A) fails cleanly" fails_cleanly "loop" timeout 20 "$R" info "$WORK/h-b.qcow2"

# ---- crash safety: cut off at every write ----
# After each cut: qemu-img check reports clean or leaks only (exit 0 or 3), the
# RedoxFS checks clean and holds the old or the new content.
crash_each() {  # crash_each NAME BASE COMMAND (the command gets the image as $IMG)
	local name=$1 base=$2 cmd=$3 k=1 n=0 bad=0 rc qrc leaks=0
	cp --sparse=always "$base" "$WORK/cr-after.qcow2"
	IMG="$WORK/cr-after.qcow2" sh -c "$cmd" >"$WORK/cr.out" 2>&1 || { fail "$name: runs"; cat "$WORK/cr.out"; return; }
	"$R" manifest "$base" >"$WORK/cr-before.man"
	"$R" manifest "$WORK/cr-after.qcow2" >"$WORK/cr-after.man"
	qcheck "$WORK/cr-after.qcow2" >/dev/null || { fail "$name: the uninterrupted run leaves a clean image"; return; }
	while :; do
		cp --sparse=always "$base" "$WORK/cr.qcow2"
		RXIMG_CRASH_AFTER=$k IMG="$WORK/cr.qcow2" sh -c "$cmd" >"$WORK/cr.out" 2>&1
		rc=$?
		[ $rc -eq 99 ] || { [ $rc -eq 0 ] || { bad=1; echo "# $name: k=$k exited $rc"; sed 's/^/#   /' "$WORK/cr.out"; }; break; }
		n=$((n + 1))
		qemu-img check "$WORK/cr.qcow2" >"$WORK/cr.check" 2>&1
		qrc=$?
		if [ $qrc -eq 3 ]; then
			leaks=$((leaks + 1))
		elif [ $qrc -ne 0 ]; then
			bad=1; echo "# $name: crash at write $k: qemu-img check exit $qrc"; sed 's/^/#   /' "$WORK/cr.check" | head -8; break
		fi
		if ! "$R" check -q "$WORK/cr.qcow2" >"$WORK/cr.rcheck" 2>&1; then
			bad=1; echo "# $name: crash at write $k: rximg check failed"; sed 's/^/#   /' "$WORK/cr.rcheck" | head -5; break
		fi
		"$R" manifest "$WORK/cr.qcow2" >"$WORK/cr.man" 2>&1
		if ! cmp -s "$WORK/cr.man" "$WORK/cr-before.man" && ! cmp -s "$WORK/cr.man" "$WORK/cr-after.man"; then
			bad=1; echo "# $name: crash at write $k: neither the old nor the new content"; break
		fi
		k=$((k + 1))
	done
	if [ $bad -eq 0 ] && [ $n -gt 0 ]; then
		pass "$name: $n crash points, each clean or leaks only ($leaks with leaks), old or new content"
	else
		fail "$name: crash safety ($n crash points tried)"
	fi
}
qemu-img convert -O qcow2 -o cluster_size=4096 "$misc" "$WORK/cr-v3.qcow2"
crash_each "crash: put -r into a qemu-img qcow2 (4 KiB clusters)" "$WORK/cr-v3.qcow2" \
	'RXIMG_TX_BUFFER=0 "$RXIMG" put -r "'"$SRC"'" "$IMG:/"'
qemu-img create -q -f qcow2 -o cluster_size=512 -b "$misc" -F raw "$WORK/cr-ovl.qcow2"
crash_each "crash: put -r into an overlay with 512-byte clusters (new refcount blocks)" "$WORK/cr-ovl.qcow2" \
	'RXIMG_TX_BUFFER=0 "$RXIMG" put -r "'"$SRC"'" "$IMG:/"'
# 512-byte clusters with 64-bit refcounts: the first refcount table covers 2 MiB of
# file, so a 2.5 MiB file outgrows it and the table is moved.
head -c 2621440 /dev/urandom >"$WORK/big"
"$R" mkfs -s 16M "$WORK/g16.img" >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b "$WORK/g16.img" -F raw "$WORK/cr-grow.qcow2"
crash_each "crash: put 2.5 MiB into a 512-byte-cluster overlay (the refcount table is moved)" "$WORK/cr-grow.qcow2" \
	'"$RXIMG" put "'"$WORK"'/big" "$IMG:/big"'
ok "crash: ... and the uninterrupted run did move the refcount table" $PY -c "
import struct; h = open('$WORK/cr-after.qcow2', 'rb').read(64)
assert struct.unpack('>Q', h[48:56])[0] != 512 and struct.unpack('>I', h[56:60])[0] > 1, h[48:60].hex()"
qemu-img convert -o compat=0.10 -O qcow2 "$misc" "$WORK/cr-v2.qcow2"
crash_each "crash: rm -r in a v2 image" "$WORK/cr-v2.qcow2" '"$RXIMG" rm -r "$IMG:/deep" "$IMG:/names"'
qemu-img convert -c -O qcow2 "$misc" "$WORK/cr-z.qcow2"
crash_each "crash: rm -r in a compressed qcow2 (compressed clusters rewritten)" "$WORK/cr-z.qcow2" \
	'"$RXIMG" rm -r "$IMG:/deep"'

# ---- crash safety of rebase and commit: cut off at every write ----
# After each cut the top image still reads as before (qemu-img compare with EXPECT),
# and qemu-img check finds no errors in it or in the other qcow2 files named (leaked
# clusters at most); the uninterrupted run is checked by CHECK.
sweep() {  # sweep NAME SETUP COMMAND TOP EXPECT CHECK [QCOW2...]
	local name=$1 setup=$2 cmd=$3 top=$4 expect=$5 check=$6 k=1 n=0 bad=0 rc qrc f leaks=0
	shift 6
	while :; do
		$setup
		RXIMG_CRASH_AFTER=$k sh -c "$cmd" >"$WORK/sw.out" 2>&1
		rc=$?
		if [ $rc -ne 99 ]; then
			[ $rc -eq 0 ] || { bad=1; echo "# $name: k=$k exited $rc"; sed 's/^/#   /' "$WORK/sw.out"; }
			break
		fi
		n=$((n + 1))
		for f in "$top" "$@"; do
			qemu-img check "$f" >"$WORK/sw.check" 2>&1
			qrc=$?
			[ $qrc -eq 3 ] && leaks=$((leaks + 1))
			if [ $qrc -ne 0 ] && [ $qrc -ne 3 ]; then
				bad=1; echo "# $name: crash at write $k: qemu-img check $f: exit $qrc"; sed 's/^/#   /' "$WORK/sw.check" | head -8
			fi
		done
		[ $bad -eq 0 ] || break
		if ! qemu-img compare -q "$expect" "$top" >"$WORK/sw.cmp" 2>&1; then
			bad=1; echo "# $name: crash at write $k: the top image reads differently"; sed 's/^/#   /' "$WORK/sw.cmp" | head -4; break
		fi
		k=$((k + 1))
	done
	if [ $bad -eq 0 ] && [ $n -gt 0 ] && $check; then
		pass "$name: $n crash points, each reads as before with no errors ($leaks checks with leaks only)"
	else
		fail "$name: crash safety ($n crash points tried)"
	fi
}
rb_done() { qcheck "$RB/top.qcow2" && qemu-img info "$RB/top.qcow2" | grep -q 'backing file: new.img'; }
sweep "crash: rebase (safe) onto a raw file that differs" rb_fresh \
	"'$R' rebase -q -b new.img -F raw '$RB/top.qcow2'" "$RB/top.qcow2" "$RB/expect.raw" rb_done
rb_flat() { qcheck "$RB/top.qcow2" && ! qemu-img info "$RB/top.qcow2" | grep -q backing; }
sweep "crash: rebase -b '' (flatten)" rb_fresh \
	"'$R' rebase -q -b '' '$RB/top.qcow2'" "$RB/top.qcow2" "$RB/expect.raw" rb_flat
# 512-byte clusters: the name and the header share one sector.
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.img -F raw "$RB/s512.pristine"
qemu-io -f qcow2 -c 'write -P 0x66 5M 7k' -c 'write -P 0x67 0 3k' "$RB/s512.pristine" >/dev/null
qemu-img convert -O raw "$RB/s512.pristine" "$RB/s512.raw"
s512_fresh() { cp "$RB/s512.pristine" "$RB/s512.qcow2"; }
s512_done() { qcheck "$RB/s512.qcow2" && qemu-img info "$RB/s512.qcow2" | grep -q 'backing file: new.qcow2'; }
sweep "crash: rebase (safe) of a 512-byte-cluster image onto a qcow2" s512_fresh \
	"'$R' rebase -q -b new.qcow2 -F qcow2 '$RB/s512.qcow2'" "$RB/s512.qcow2" "$RB/s512.raw" s512_done
for fmt in raw qcow2; do
	cm_setup $fmt
	cp "$CM/base.$fmt" "$CM/base.pristine"
	cp "$CM/ov.qcow2" "$CM/ov.pristine"
	cm_fresh() { cp "$CM/base.pristine" "$CM/base.$fmt"; cp "$CM/ov.pristine" "$CM/ov.qcow2"; }
	cm_done() { emptied_same "$CM/ov.qcow2" "$CM/expect.raw" && qemu-img compare -q "$CM/expect.raw" "$CM/base.$fmt"; }
	if [ $fmt = qcow2 ]; then others="$CM/base.qcow2"; else others=; fi
	sweep "crash: commit into a $fmt backing file (then emptying the overlay)" cm_fresh \
		"'$R' commit -q '$CM/ov.qcow2'" "$CM/ov.qcow2" "$CM/expect.raw" cm_done $others
done

done_testing
