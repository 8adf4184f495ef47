#!/bin/sh
# Every golden image made by the reference tools reads back exactly as its manifest says.
. "$top_srcdir/tests/lib.sh"

PY=${PYTHON3:-python3}
WALK="$top_srcdir/tests/tools/manifest_walk.py"
owner_opt=--no-owner
[ "$(id -u)" = 0 ] && owner_opt=

info_field() {  # info_field INFO.txt KEY
	tr '\t' '\n' <"$1" | sed -n "s/^$2=//p" | head -n1
}

check_image() {  # check_image NAME IMAGE MANIFEST INFO
	name=$1 img=$2 man=$3 info=$4
	sum_before=$(sha256sum "$img" | cut -d' ' -f1)

	"$RXIMG" manifest "$img" >"$WORK/$name.manifest" 2>"$WORK/$name.err"
	ok "$name: manifest is byte-identical to the reference" cmp "$WORK/$name.manifest" "$man"

	ok "$name: extract succeeds" "$RXIMG" extract -q "$img" "$WORK/$name.x"
	ok "$name: extracted tree matches the manifest" \
		$PY "$WALK" extract "$man" "$WORK/$name.x" $owner_opt

	"$RXIMG" ls -lR --json "$img" >"$WORK/$name.ls.json" &&
		"$RXIMG" stat --json "$img:/" >"$WORK/$name.stat.json"
	ok "$name: ls -lR --json and stat --json agree with every manifest column" \
		$PY "$WALK" json "$man" "$WORK/$name.ls.json" "$WORK/$name.stat.json"

	ok "$name: check is clean" "$RXIMG" check -q "$img"

	if [ -n "$info" ]; then
		"$RXIMG" info --json "$img" >"$WORK/$name.info.json"
		ok "$name: info reports the reference generation, free blocks and uuid" $PY - \
			"$WORK/$name.info.json" "$(info_field "$info" generation)" \
			"$(info_field "$info" free_blocks)" "$(info_field "$info" uuid)" <<'PYEOF'
import json, sys
info = json.load(open(sys.argv[1]))["redoxfs"]
gen, free, uuid = sys.argv[2], sys.argv[3], sys.argv[4]
want_uuid = "".join(b.strip() for b in uuid.strip("[]").split(","))
got_uuid = info["uuid"].replace("-", "")
assert str(info["generation"]) == gen, (info["generation"], gen)
assert str(info["free_blocks"]) == free, (info["free_blocks"], free)
assert got_uuid == want_uuid, (got_uuid, want_uuid)
PYEOF
	fi
	sum_after=$(sha256sum "$img" | cut -d' ' -f1)
	ok "$name: reading never changed the image" test "$sum_before" = "$sum_after"
}

for name in empty-8M small-medium large-files misc-tree bigdir fuse-sparse reserved-bootloader clone-of-misc; do
	img=$(test_image "$name.img") || { fail "$name: test image missing"; continue; }
	check_image "$name" "$img" "$DATA/$name.manifest.tsv" "$DATA/$name.info.txt"
done

# Holes stay holes: the all-hole 8 MiB file of fuse-sparse takes no space when extracted.
if [ -d "$WORK/fuse-sparse.x" ]; then
	hole=$(find "$WORK/fuse-sparse.x" -type f -size 8M | head -n1)
	used=$(du -k "$hole" 2>/dev/null | cut -f1)
	ok "fuse-sparse: an all-hole file is extracted sparse ($hole, ${used:-?} KiB)" \
		test -n "$used" -a "${used:-1}" -le 4
fi

# cat and get agree with the manifest.
img=$(test_image large-files.img)
line=$(grep -v '^#' "$DATA/large-files.manifest.tsv" | awk -F'\t' '$2 == "file"' | head -n1)
path=$(echo "$line" | cut -f1)
sum=$(echo "$line" | cut -f11)
ok "cat $path matches its SHA-256" sh -c "'$RXIMG' cat '$img:$path' | sha256sum | grep -q $sum"
ok "get $path to a file matches its SHA-256" sh -c \
	"'$RXIMG' get -q '$img:$path' '$WORK/got' && sha256sum '$WORK/got' | grep -q $sum"

# The whole-disk image of the shared corpus is read through its GPT (not copied into the repo).
if disk=$(test_image wholedisk-gpt.img 2>/dev/null) && [ -f "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv" ]; then
	check_image wholedisk-gpt "$disk" "$GOLDEN_DIR/wholedisk-gpt.manifest.tsv" \
		"$GOLDEN_DIR/wholedisk-gpt.info.txt"
	"$RXIMG" info --json "$disk" >"$WORK/disk.json"
	ok "wholedisk-gpt: RedoxFS found in GPT partition 3" $PY -c "
import json; d = json.load(open('$WORK/disk.json'))
assert d['partition_table']['type'] == 'gpt', d
assert len(d['partition_table']['partitions']) == 3
assert d['redoxfs']['partition'] == 3 and d['redoxfs']['offset'] == '2097152', d['redoxfs']"
	ok "wholedisk-gpt: IMAGE:p3:/path addresses the partition" \
		sh -c "'$RXIMG' cat '$disk:p3:/etc/hostname' | cmp - '$WORK/wholedisk-gpt.x/etc/hostname'"
	ok "wholedisk-gpt: IMAGE:p2 (the FAT ESP) opens as FAT, the same tree as IMAGE:esp" \
		sh -c "'$RXIMG' ls -R '$disk:p2:/' >'$WORK/p2.ls' && '$RXIMG' ls -R '$disk:esp:/' | cmp - '$WORK/p2.ls' && grep -qx EFI '$WORK/p2.ls'"
	ok "wholedisk-gpt: IMAGE:p1 (neither RedoxFS nor FAT) is refused with a clear message" \
		fails_cleanly 'p1: no RedoxFS header and no FAT file system \(a BIOS boot partition' "$RXIMG" ls "$disk:p1:/"
	ok "wholedisk-gpt: IMAGE:p9 does not exist" fails_cleanly 'no partition 9' "$RXIMG" ls "$disk:p9:/"
else
	skip "wholedisk-gpt" "the shared golden corpus is not beside this checkout ($GOLDEN_DIR)"
fi

done_testing
