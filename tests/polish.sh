#!/bin/sh
# Footguns a new user met, each reproduced and pinned down:
#  1. progress bars: drawn only on a terminal, named after the verb, binary units,
#     100% only when the work is done; put, sync, mkfs --from, check, manifest too;
#  2. JSON: no integer a JSON reader would round (above 2^53) is ever a number;
#  3. messages name the right object: a partition without RedoxFS, a missing put
#     source, a truncated disk (info shows what it can), ls of several directories;
#  4. mount -- COMMAND runs in the caller's folder with RXIMG_MOUNTPOINT;
#  5. rximg uuid: show, --new, a given UUID, one commit each.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
TOOLS="$top_srcdir/tests/tools"
CRAFT="$TOOLS/rxcraft.py"

expect_status() {  # expect_status N COMMAND...: COMMAND exits with N
	local want=$1
	shift
	"$@"
	local rc=$?
	[ $rc = "$want" ] || { echo "exit status $rc, expected $want"; return 1; }
}

# ---------------------------------------------------------------------------------------
# 1. Progress bars.

# on_tty NAME COMMAND...: run COMMAND with stderr on a pseudo-terminal; the terminal's
# text lands in $WORK/NAME.tty, stdout in $WORK/NAME.out.
on_tty() {
	local name=$1
	shift
	$PY "$TOOLS/pty_stderr.py" "$WORK/$name.out" "$WORK/$name.tty" "$@"
}

# bar_ok NAME LABEL TOTAL: the terminal text of NAME shows bars labelled LABEL, in binary
# units; only the last one says 100%, and it says "TOTAL / TOTAL" (TOTAL empty: any).
bar_ok() {
	$PY - "$WORK/$1.tty" "$2" "$3" <<'PYEOF'
import re, sys
text = open(sys.argv[1], "rb").read().decode()
label, total = sys.argv[2], sys.argv[3]
draws = [d for d in re.split(r"[\r\n]+", text.replace("\x1b[K", "")) if "[" in d and "%" in d]
assert draws, "no bar drawn: %r" % text
pat = re.compile(r"^(\S+) \[[# ]{30}\] +(\d+)% (\d+(?:\.\d)? (?:B|KiB|MiB|GiB)) / (\d+(?:\.\d)? (?:B|KiB|MiB|GiB))$")
for d in draws:
    m = pat.match(d)
    assert m, "not a bar in binary units: %r" % d
    assert m.group(1) == label, "labelled %r, not %r" % (m.group(1), label)
final = pat.match(draws[-1])
assert final.group(2) == "100", "the last bar is not 100%%: %r" % draws[-1]
assert final.group(3) == final.group(4), draws[-1]
if total:
    assert final.group(4) == total, "total %r, expected %r" % (final.group(4), total)
early = [d for d in draws[:-1] if pat.match(d).group(2) == "100"]
assert not early, "100%% before the end: %r" % early
PYEOF
}

# no_bar FILE: nothing of a bar in FILE (stderr of a run that was not on a terminal).
no_bar() {
	if grep -q -e '%' -e "$(printf '\r')" "$1"; then
		echo "a bar in $1:"
		cat -v "$1"
		return 1
	fi
}

# A tree with one 100 MiB file (104857600 bytes: "100.0 MiB", not "104 MiB") and
# compressible files (stored smaller than they are: the bar counts bytes written).
SRC="$WORK/src"
mkdir -p "$SRC/text" "$SRC/more"
head -c 8388608 /dev/urandom >"$SRC/big"	# then a hole: cheap, and holes count as written
truncate -s 104857600 "$SRC/big"
$PY - "$SRC/text" <<'PYEOF'
import sys
line = b"".join(b"line %08d of a file that compresses well\n" % i for i in range(200000))
for i in range(4):
    open("%s/t%d.txt" % (sys.argv[1], i), "wb").write(line)
PYEOF
head -c 3000000 /dev/urandom >"$SRC/more/r"
IMG="$WORK/p.img"

ok "mkfs --from on a terminal: a bar named mkfs" on_tty mkfs "$R" mkfs -s 200M --from "$SRC" "$IMG"
ok "mkfs --from: the bar counts every byte, 100% at the end" bar_ok mkfs mkfs ""
ok "get: a bar named get (not extract), 100.0 MiB for 104857600 bytes" \
	on_tty get "$R" get "$IMG:/big" "$WORK/big.out"
ok "get: 100.0 MiB / 100.0 MiB, 100% only at the end" bar_ok get get "100.0 MiB"
ok "extract: a bar named extract" on_tty extract "$R" extract "$IMG" "$WORK/x1"
ok "extract: compressed files do not make the bar finish early" bar_ok extract extract ""
ok "extract: the tree is complete" cmp "$SRC/text/t3.txt" "$WORK/x1/text/t3.txt"
ok "check: a bar named check" on_tty check "$R" check "$IMG"
ok "check: blocks shown in binary units, 100% at the end" bar_ok check check ""
ok "check: the summary still goes to stdout" grep -q clean "$WORK/check.out"
ok "manifest: a bar named manifest" on_tty manifest "$R" manifest "$IMG"
ok "manifest: 100% at the end" bar_ok manifest manifest ""
ok "diff: a bar named diff" on_tty diff "$R" diff "$IMG" "$WORK/manifest.out"
ok "diff: 100% at the end" bar_ok diff diff ""
echo more >"$WORK/small"
ok "put: a bar named put" on_tty put "$R" put "$SRC/more/r" "$WORK/small" "$IMG:/more"
ok "put: 100% at the end" bar_ok put put ""
ok "sync: a bar named sync" on_tty sync "$R" sync "$SRC" "$IMG:/synced"
ok "sync: 100% at the end" bar_ok sync sync ""
ok "convert: a bar named convert" on_tty convert "$R" convert "$IMG" "$WORK/p.qcow2"
ok "convert: 100% at the end" bar_ok convert convert ""

ok "get -q on a terminal draws nothing" sh -c \
	"'$PY' '$TOOLS/pty_stderr.py' '$WORK/q.out' '$WORK/q.tty' '$R' get -q '$IMG:/big' '$WORK/big.q' && test ! -s '$WORK/q.tty'"
ok "put -q, sync -q, check -q on a terminal draw nothing" sh -c \
	"'$PY' '$TOOLS/pty_stderr.py' '$WORK/q.out' '$WORK/q1.tty' '$R' put -q '$WORK/small' '$IMG:/q' &&
	 '$PY' '$TOOLS/pty_stderr.py' '$WORK/q.out' '$WORK/q2.tty' '$R' sync -q '$SRC' '$IMG:/synced' &&
	 '$PY' '$TOOLS/pty_stderr.py' '$WORK/q.out' '$WORK/q3.tty' '$R' check -q '$IMG' &&
	 test ! -s '$WORK/q1.tty' -a ! -s '$WORK/q2.tty' -a ! -s '$WORK/q3.tty'"

# Not a terminal: no bar anywhere (scripts, pipes, logs).
rm -rf "$WORK/x2" "$WORK/big.out2"
"$R" mkfs -s 200M --from "$SRC" "$WORK/n.img" 2>"$WORK/n1.err"
"$R" get "$WORK/n.img:/big" "$WORK/big.out2" 2>"$WORK/n2.err"
"$R" extract "$WORK/n.img" "$WORK/x2" 2>"$WORK/n3.err"
"$R" check "$WORK/n.img" >/dev/null 2>"$WORK/n4.err"
"$R" manifest "$WORK/n.img" >/dev/null 2>"$WORK/n5.err"
"$R" put "$WORK/small" "$WORK/n.img:/small" 2>"$WORK/n6.err"
"$R" sync "$SRC" "$WORK/n.img:/s" 2>"$WORK/n7.err"
for i in 1 2 3 4 5 6 7; do
	ok "not a terminal: no bar (run $i)" no_bar "$WORK/n$i.err"
done

# An error on a terminal takes the bar's line; the bar does not claim 100%.
mkdir -p "$WORK/ro"
"$R" put -r "$SRC/text" "$IMG:/t2" >/dev/null 2>&1
chmod 0500 "$WORK/ro"
if [ "$(id -u)" = 0 ]; then
	skip "an error during get ends the bar without 100%" "root can write into a read-only folder"
else
	on_tty fail "$R" get "$IMG:/t2" "$WORK/ro/t2"
	ok "an error during get ends the bar without 100%" sh -c "! grep -q '100%' '$WORK/fail.tty' && grep -q 'rximg: ' '$WORK/fail.tty'"
fi
chmod 0700 "$WORK/ro"

# ---------------------------------------------------------------------------------------
# 2. JSON: numbers only below 2^53; above, strings (hex for addresses and masks).

# json_safe FILE...: each file is JSON with no integer above 2^53 - 1 as a number.
json_safe() {
	$PY - "$@" <<'PYEOF'
import json, sys
bad = []
def num(s, where):
    v = int(s)
    if abs(v) > 2**53 - 1:
        bad.append((where, s))
    return v
for f in sys.argv[1:]:
    json.load(open(f), parse_int=lambda s, f=f: num(s, f))
assert not bad, "integers a JSON reader would round: %r" % bad
print("%d documents" % len(sys.argv[1:]))
PYEOF
}

H="$WORK/huge.img"
"$R" mkfs -s 16M "$H" >/dev/null
echo hi >"$WORK/hi"
"$R" put "$WORK/hi" "$H:/f" >/dev/null
$PY "$CRAFT" set-node "$H" /f blocks=0x4000000000000001 >/dev/null
$PY "$CRAFT" set-header "$H" generation=0x100000000000000a >/dev/null
J="$WORK/json"
mkdir -p "$J"
n=0
jout() {  # jout COMMAND...: save the command's stdout as the next JSON document
	n=$((n + 1))
	"$@" >"$J/$n.json" 2>/dev/null
}
jout "$R" info --json "$H"
jout "$R" ls -lR --json "$H"
jout "$R" stat --json "$H:/f"
jout "$R" check --json "$H"
jout "$R" uuid --json "$H"
ok "a header generation above 2^53 is a string, exact" $PY -c "
import json; d = json.load(open('$J/1.json'))['redoxfs']
assert d['generation'] == str(0x100000000000000a), d"
ok "a node's blocks counter above 2^53 is a string, exact" $PY -c "
import json; d = json.load(open('$J/3.json'))[0]
assert d['blocks'] == str(0x4000000000000001) and d['size'] == 3, d"
test_image wholedisk-gpt.img >/dev/null 2>&1 ||
	skip "JSON of wholedisk-gpt.img and .qcow2" "the shared golden corpus is not beside this checkout ($GOLDEN_DIR)"
for img in "$IMG" $(test_image misc-tree.img) $(test_image reserved-bootloader.img) \
	$(test_image wholedisk-gpt.img) $(test_image wholedisk-gpt.qcow2) "$WORK/p.qcow2"; do
	jout "$R" info --json "$img"
	jout "$R" ls -lR --json "$img"
	jout "$R" stat --json "$img:/"
	jout "$R" check --json "$img"
	jout "$R" uuid --json "$img"
done
jout "$R" diff --json "$IMG" "$WORK/n.img"
ok "every --json document parses and has no integer above 2^53 as a number ($n documents)" \
	json_safe "$J"/*.json
if f=$(test_image initfs-bootstrap.img); then
	ok "initfs info --json: e_entry is a hex string, data_bytes and max_size decimal strings" $PY -c "
import json, subprocess; d = json.loads(subprocess.check_output(['$R', 'initfs', 'info', '--json', '$f']))
assert d['bootstrap']['e_entry'].startswith('0x') and int(d['bootstrap']['e_entry'], 0) > 0, d
assert int(d['data_bytes']) > 0 and int(d['max_size']) > 0 and isinstance(d['needed'], int), d"
else
	skip "initfs info --json strings" "initfs-bootstrap.img is not available"
fi
ok "a sizeable image's sizes and offsets are decimal strings" $PY -c "
import json; d = json.load(open('$J/6.json'))
assert d['container']['size'] == str(209715200) and d['redoxfs']['offset'] == '0', d
assert isinstance(d['redoxfs']['blocks'], int) and isinstance(d['redoxfs']['free_blocks'], int), d"

# Every verb's text and JSON come from one record: the same facts, the >2^53 ones as
# exact strings. agree NAME PYTHON: PYTHON sees text (stdout of the text form, in $WORK/NAME.txt)
# and j (the JSON form, in $WORK/NAME.json) and asserts.
agree() {
	$PY - "$WORK/$1.txt" "$WORK/$1.json" "$2" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read()
raw = open(sys.argv[2]).read()
j = json.loads(raw)
exec(sys.argv[3])
PYEOF
}
"$R" stat "$H:/f" >"$WORK/st.txt" && "$R" stat --json "$H:/f" >"$WORK/st.json"
ok "stat: text and JSON agree; blocks above 2^53 is the exact string" agree st '
e = j[0]
assert e["blocks"] == str(0x4000000000000001) and "Blocks: %s " % e["blocks"] in text, e
assert "Node: %d  Node block: %d" % (e["node"], e["node_block"]) in text, e
assert "Mode: %s (-rw" % e["mode"] in text and "Size: %d " % e["size"] in text, e'
"$R" ls -l "$H:/" >"$WORK/ls.txt" && "$R" ls --json "$H:/" >"$WORK/ls.json"
ok "ls: -l and --json list the same names, sizes and link counts" agree ls '
rows = [l.split() for l in text.splitlines()]
assert [(r[-1], int(r[4]), int(r[1])) for r in rows] == [(e["name"], e["size"], e["nlink"]) for e in j], (rows, j)'
"$R" info "$H" >"$WORK/in.txt" && "$R" info --json "$H" >"$WORK/in.json"
ok "info: text and JSON agree; a generation above 2^53 is the exact string" agree in '
f = j["redoxfs"]
assert f["generation"] == str(0x100000000000000a) and "Generation: %s\n" % f["generation"] in text, f
assert "UUID:       %s\n" % f["uuid"] in text and "%s blocks\n" % f["blocks"] in text, f
assert "Free:       %d blocks" % f["free_blocks"] in text and j["container"]["size"] in text, j'
"$R" check "$H" >"$WORK/ck.txt"; "$R" check --json "$H" >"$WORK/ck.json"
ok "check: text and JSON carry the same problems and counts" agree ck '
for p in j["problems"]:
    assert "%s: %s: %s" % (p["severity"], p["where"], p["problem"]) in text, p
assert "%d nodes (%d directories, %d files" % (j["nodes"], j["directories"], j["files"]) in text, j
assert "%d blocks used, %d free, %d leaked" % (j["used_blocks"], j["free_blocks"], j["leaked_blocks"]) in text, j
assert "%d error" % j["errors"] in text and j["exit_status"] == (4 if j["errors"] else 0), j'
mkdir -p "$WORK/itree/d" && echo x >"$WORK/itree/d/f" && ln -s d/f "$WORK/itree/l"
"$R" initfs repack --no-bootstrap "$WORK/itree" -o "$WORK/nb.initfs" 2>/dev/null
"$R" initfs info "$WORK/nb.initfs" >"$WORK/ii.txt" && "$R" initfs info --json "$WORK/nb.initfs" >"$WORK/ii.json"
ok "initfs info: text and JSON agree; bootstrap_entry 0xffffffffffffffff is the exact string" agree ii '
assert j["bootstrap_entry"] == "0xffffffffffffffff" and "bootstrap_entry  0xffffffffffffffff\n" in text, j
assert "offset 0x%x, %d inodes of %d bytes, root inode %d" % (j["inode_table_offset"], j["inode_count"], j["inode_size"], j["root_inode"]) in text, j
assert "%d files (%s bytes), %d symlinks, %d directories" % (j["files"], j["data_bytes"], j["symlinks"], j["directories"]) in text, j
assert all("warning          %s\n" % w in text for w in j["warnings"]) and j["bootable"] is False, j'
"$R" initfs ls -lR "$WORK/nb.initfs" >"$WORK/il.txt" && "$R" initfs ls -R --json "$WORK/nb.initfs" >"$WORK/il.json"
ok "initfs ls: -l and --json list the same names, sizes, inodes and targets" agree il '
rows = [l.split() for l in text.splitlines() if l and not l.endswith(":")]
want = [(e["name"] + (" -> " + e["target"] if "target" in e else ""), e["size"], e["inode"]) for e in j]
assert [(" ".join(r[5:]), int(r[3]), int(r[4])) for r in rows] == want, (rows, want)'
"$R" manifest "$H" >"$WORK/mf.txt"; "$R" manifest --json "$H" >"$WORK/mf.json"
ok "manifest: text and JSON carry the same fields, line by line" agree mf '
rows = [l.split("\t") for l in text.splitlines()[1:]]
keys = ["path", "type", "mode", "uid", "gid", "size", "mtime", "ctime", "nlink", "symlink_target", "sha256"]
assert len(rows) == len(j) and len(rows) > 1, (rows, j)
for r, e in zip(rows, j):
    assert r == [str(e[k]) if k in e else "-" for k in keys], (r, e)'
if ARCH=$(test_image initfs-bootstrap.img); then
	"$R" manifest "$ARCH:/" >"$WORK/mi.txt"; "$R" manifest --json "$ARCH:/" >"$WORK/mi.json"
	ok "manifest of an archive: what it does not store is '-' in the text and absent from the JSON" agree mi '
rows = [l.split("\t") for l in text.splitlines()[1:]]
assert all(r[3] == "-" and r[6] == "-" for r in rows), rows
assert all("uid" not in e and "mtime" not in e and "mode" in e for e in j), j
assert [r[0] for r in rows] == [e["path"] for e in j], (rows, j)'
fi
cp "$H" "$WORK/h2.img" && "$R" rm "$WORK/h2.img:/f" && "$R" mkdir "$WORK/h2.img:/g"
"$R" diff "$H" "$WORK/h2.img" >"$WORK/df.txt"; "$R" diff --json "$H" "$WORK/h2.img" >"$WORK/df.json"
ok "diff: text and JSON list the same changes" agree df '
signs = {"added": "+", "removed": "-", "changed": "~"}
want = ["%s %s%s" % (signs[e["change"]], e["path"], "\t" + ",".join(e["fields"]) if e.get("fields") else "") for e in j]
assert text.splitlines() == want and len(want) >= 2, (text, want)'
printf "mkdir /agree\nstatus\nstatus --json\nrollback\n" | "$R" shell "$H" >"$WORK/sh.out"
grep -v "^{" "$WORK/sh.out" >"$WORK/sh.txt"; grep "^{" "$WORK/sh.out" >"$WORK/sh.json"
ok "shell status: text and JSON list the same pending commands" agree sh '
e = j
assert e["pending"] is True and e["commands"] == ["mkdir /agree"], e
assert text == "pending for %s (lands with commit):\n  mkdir /agree\n" % e["image"], text'

# ---------------------------------------------------------------------------------------
# 3. Messages that name the right object.

if disk=$(copy_image wholedisk-gpt.img 2>/dev/null); then
	cd "$WORK" || exit 1
	mv "$disk" "$WORK/disk.img"
	ok "ls disk.img:p2:/ (the FAT ESP) lists the FAT, as :esp does" \
		sh -c "'$R' ls disk.img:p2:/ | grep -qx EFI"
	ok "ls disk.img:p1:/ says p1 holds neither RedoxFS nor FAT and is a BIOS boot partition" \
		fails_cleanly 'disk\.img:p1: no RedoxFS header and no FAT file system \(a BIOS boot partition\)$' \
		"$R" ls disk.img:p1:/
	ok "uuid of disk.img:p2 names the partition" fails_cleanly 'disk\.img:p2: no RedoxFS \(partition p2' \
		"$R" uuid disk.img:p2
	ok "put into disk.img:p2 lands in the ESP's FAT" \
		sh -c "'$R' put '$WORK/hi' disk.img:p2:/hi && '$R' cat disk.img:esp:/hi | cmp - '$WORK/hi'"
	cp --sparse=always disk.img trunc.img
	truncate -s 3M trunc.img
	"$R" info trunc.img >"$WORK/trunc.out" 2>"$WORK/trunc.err"
	rc=$?
	ok "info of a truncated disk exits 1" test $rc = 1
	ok "info of a truncated disk still lists its three partitions" sh -c \
		"grep -q '^Partitions: gpt' '$WORK/trunc.out' && grep -q '^  p3  REDOX' '$WORK/trunc.out'"
	ok "info of a truncated disk says what is truncated" \
		grep -q '^rximg: trunc.img: truncated: .* but trunc.img:p3 has only 1048576' "$WORK/trunc.err"
	ok "ls of the truncated disk fails cleanly" fails_cleanly 'truncated' "$R" ls trunc.img
	if q=$(copy_image wholedisk-gpt.qcow2 2>/dev/null); then
		truncate -s 1000000 "$q"
		"$R" info "$q" >"$WORK/tq.out" 2>"$WORK/tq.err"
		rc=$?
		ok "info of a truncated qcow2 exits 1 and shows the container and partitions ($rc)" sh -c \
			"test $rc = 1 && grep -q '^Container:  qcow2' '$WORK/tq.out' && grep -q '^  p3  REDOX' '$WORK/tq.out'"
		ok "info of a truncated qcow2: unreadable boot files are errors, not 'missing'" sh -c \
			"grep -q '/boot/kernel *unreadable' '$WORK/tq.out' && grep -q '^rximg: .*/boot/kernel: .*past the end' '$WORK/tq.err'"
	else
		skip "info of a truncated qcow2" "wholedisk-gpt.qcow2 is not available"
	fi
	cd "$top_builddir" || exit 1
else
	skip "messages about the partitions of a whole disk" "wholedisk-gpt.img is not in $GOLDEN_DIR"
fi

cd "$WORK" || exit 1
"$R" mkfs -s 8M a.img >/dev/null && "$R" mkfs -s 8M b.img >/dev/null
b_sum=$(sha256sum b.img | cut -d' ' -f1)
ok "put a.img:/x b.img:/ names a.img:/x as what does not exist" \
	fails_cleanly 'a\.img:/x: No such file or directory on the host \(put copies host files' \
	"$R" put a.img:/x b.img:/
ok "put a.img:/x b.img:/ does not blame b.img" sh -c "! grep -q 'b\.img' '$WORK/.fc.err'"
ok "put of a missing host file names it" fails_cleanly 'nosuch: No such file or directory$' \
	"$R" put nosuch b.img:/
ok "the failed puts left b.img unchanged" test "$(sha256sum b.img | cut -d' ' -f1)" = "$b_sum"
cd "$top_builddir" || exit 1

"$R" mkdir "$WORK/a.img:/d1" "$WORK/a.img:/d2" >/dev/null
"$R" put "$WORK/hi" "$WORK/a.img:/d1/one" >/dev/null
"$R" put "$WORK/hi" "$WORK/a.img:/d2/two" >/dev/null
"$R" put "$WORK/hi" "$WORK/a.img:/file" >/dev/null
"$R" ls "$WORK/a.img:/d1" "$WORK/a.img:/d2" "$WORK/a.img:/file" >"$WORK/ls2.out"
printf '%s\n' "$WORK/a.img:/d1:" one "" "$WORK/a.img:/d2:" two "" file >"$WORK/ls2.want"
ok "ls DIR1 DIR2 FILE: each listing under its name, as ls(1) does" cmp "$WORK/ls2.out" "$WORK/ls2.want"
"$R" ls "$WORK/a.img:/d1" >"$WORK/ls1.out"
ok "ls of one directory has no header" sh -c "test \"\$(cat '$WORK/ls1.out')\" = one"

# ---------------------------------------------------------------------------------------
# 4. mount -- COMMAND: runs in the caller's folder; RXIMG_MOUNTPOINT names the mount.

fuse_reason=
if ! "$R" --help | grep -q '^  mount '; then
	fuse_reason="built without FUSE"
elif [ ! -e /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
	fuse_reason="/dev/fuse is not usable"
elif [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
	fuse_reason="fusermount3 is missing and we are not root"
fi
M="$WORK/m.img"
"$R" mkfs -s 16M "$M" >/dev/null
mkdir -p "$WORK/caller" "$WORK/caller/mnt"
if [ -z "$fuse_reason" ] && ! (cd "$WORK/caller" && "$R" mount "$M" mnt -- true) 2>"$WORK/probe.err"; then
	if grep -q "cannot mount on\|fuse" "$WORK/probe.err"; then
		fuse_reason="FUSE is not usable here: $(head -n1 "$WORK/probe.err")"
	else
		fail "mount -- true"
		sed 's/^/#   /' "$WORK/probe.err"
		fuse_reason="mount failed"
	fi
fi
if [ -n "$fuse_reason" ]; then
	skip "mount -- COMMAND and RXIMG_MOUNTPOINT" "$fuse_reason"
else
	caller=$(cd "$WORK/caller" && pwd -P)
	(cd "$WORK/caller" && "$R" mount "$M" mnt -- sh -c \
		'pwd -P >"$0/cwd"; printf "%s\n" "$RXIMG_MOUNTPOINT" >"$0/mp"; cp "$0/cwd" "$RXIMG_MOUNTPOINT/written"' "$WORK")
	rc=$?
	ok "mount -- COMMAND with a relative mount point exits 0" test $rc = 0
	ok "the command runs in the caller's folder, not in the mount" test "$(cat "$WORK/cwd")" = "$caller"
	ok "RXIMG_MOUNTPOINT is the mount point's absolute path" test "$(cat "$WORK/mp")" = "$caller/mnt"
	ok "what the command wrote through RXIMG_MOUNTPOINT is in the image" sh -c \
		"'$R' cat '$M:/written' | cmp - '$WORK/cwd'"
	ok "mount --help no longer says the command runs in the mount" sh -c \
		"! '$R' mount --help | grep -q 'runs it in the mount' && '$R' mount --help | grep -q RXIMG_MOUNTPOINT"
fi

# ---------------------------------------------------------------------------------------
# 5. rximg uuid.

U="$WORK/u.img"
"$R" mkfs -s 16M "$U" >/dev/null
gen() { "$R" info --json "$1" | $PY -c 'import json, sys; print(json.load(sys.stdin)["redoxfs"]["generation"])'; }
info_uuid() { "$R" info --json "$1" | $PY -c 'import json, sys; print(json.load(sys.stdin)["redoxfs"]["uuid"])'; }
u0=$("$R" uuid "$U")
ok "uuid shows the UUID info shows" test "$u0" = "$(info_uuid "$U")"
ok "uuid --json: {image, uuid}" $PY -c "
import json, subprocess; d = json.loads(subprocess.check_output(['$R', 'uuid', '--json', '$U']))
assert d == {'image': '$U', 'uuid': '$u0'}, d"
g0=$(gen "$U")
u1=$("$R" uuid --new "$U")
ok "uuid --new prints a new version-4 UUID" sh -c \
	"echo '$u1' | grep -qE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$' && test '$u1' != '$u0'"
ok "uuid --new: info shows it" test "$(info_uuid "$U")" = "$u1"
ok "uuid --new is one commit (generation $g0 -> $((g0 + 1)))" test "$(gen "$U")" = $((g0 + 1))
ok "after uuid --new, check is clean without warnings (no old headers left)" sh -c \
	"'$R' check '$U' | grep -q 'clean: 0 errors, 0 warnings'"
ok "after uuid --new, block 0 still holds a valid header, under the new UUID (the bootloader reads only block 0)" sh -c \
	"dd if='$U' bs=4096 count=1 2>/dev/null | head -c 8 | grep -q RedoxFS &&
	 test \"\$(od -An -tx1 -j16 -N16 '$U' | tr -d ' \n')\" = \"\$(echo '$u1' | tr -d -)\""
u2=$(SOURCE_DATE_EPOCH=1700000000 "$R" uuid --new "$U")
u3=$(SOURCE_DATE_EPOCH=1700000000 "$R" uuid --new "$U")
ok "uuid --new is random even with SOURCE_DATE_EPOCH" test "$u2" != "$u3"
ok "uuid IMAGE UUID sets that UUID (hyphens optional)" sh -c \
	"'$R' uuid '$U' 0123456789ABCDEF0123456789abcdef >/dev/null && test \"\$('$R' uuid '$U')\" = 01234567-89ab-cdef-0123-456789abcdef"
g1=$(gen "$U")
"$R" uuid "$U" 01234567-89ab-cdef-0123-456789abcdef >/dev/null
ok "setting the UUID it already has makes no new generation" test "$(gen "$U")" = "$g1"
ok "the data is untouched by UUID changes" sh -c "'$R' check -q '$U'"
sum=$(sha256sum "$U" | cut -d' ' -f1)
ok "uuid with a bad UUID is a usage error" expect_status 2 "$R" uuid "$U" 0123-zz
ok "uuid --new with a UUID is a usage error" expect_status 2 "$R" uuid --new "$U" 01234567-89ab-cdef-0123-456789abcdef
ok "uuid IMAGE:/path is a usage error" expect_status 2 "$R" uuid --new "$U:/etc"
ok "usage errors left the image unchanged" test "$(sha256sum "$U" | cut -d' ' -f1)" = "$sum"
E="$WORK/e.img"
if RXIMG_PASSWORD=secret "$R" mkfs -s 16M --encrypt "$E" >/dev/null 2>&1; then
	ue=$("$R" uuid "$E")
	ok "uuid of an encrypted image is shown without a password" test -n "$ue"
	ok "uuid --new of an encrypted image (with its password)" sh -c \
		"RXIMG_PASSWORD=secret '$R' uuid --new '$E' >/dev/null && test \"\$('$R' uuid '$E')\" != '$ue'"
	ok "the encrypted image still unlocks and checks clean" sh -c \
		"RXIMG_PASSWORD=secret '$R' ls '$E' >/dev/null && RXIMG_PASSWORD=secret '$R' check -q '$E'"
else
	skip "uuid of an encrypted image" "mkfs --encrypt is not available in this build"
fi

done_testing
