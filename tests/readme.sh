#!/bin/sh
# README.md's "A tour of everyday work", run as written, so that it cannot rot: every
# ```sh block of that section, in order, in one scratch folder holding the samples
# scripts/quickstart.sh makes (its own zstd and extract lines are run to make them).
# Stand-ins, and only these: LOADER names a synthetic EFI application (tests/tools/mkpe.py)
# instead of a Redox build's; $EDITOR appends a line; qemu-system-x86_64 is a script that
# checks the drive it is given is an overlay of disk.img. The mount block is skipped
# (visibly) where FUSE is not usable. After each block, what it should have done is checked.
. "$top_srcdir/tests/lib.sh"

PY=${PYTHON3:-python3}
TOUR=$WORK/tour
STUB=$WORK/stub
mkdir -p "$TOUR" "$STUB"

# The blocks: block.1, block.2, ...
awk -v dir="$WORK" '
	/^## / { in_tour = ($0 == "## A tour of everyday work") }
	in_tour && /^```sh$/ { n++; f = dir "/block." n; inblock = 1; next }
	inblock && /^```$/ { inblock = 0; close(f); next }
	inblock { print > f }
	END { print n > (dir "/blocks") }' "$top_srcdir/README.md"
read -r NBLOCKS <"$WORK/blocks"
if [ -z "$NBLOCKS" ] || [ "$NBLOCKS" -lt 6 ]; then
	fail "README.md has the tour's command blocks (found ${NBLOCKS:-none})"
	done_testing
	exit
fi
pass "README.md has the tour's $NBLOCKS command blocks"

# The samples, as scripts/quickstart.sh makes them (run from build/, next to ../tests/data).
grep -E '^(zstd |\./rximg extract )' "$top_srcdir/scripts/quickstart.sh" |
	sed -e "s|\.\./tests/data/|$top_srcdir/tests/data/|g" -e 's|^\./rximg |"$RXIMG" |' >"$WORK/samples.sh"
ok "the quickstart's samples are made" sh -ec "cd '$TOUR' && . '$WORK/samples.sh' && test -f sample.img &&
	test -f sample-initfs.img && test -d sample-tree"

# Stand-ins.
$PY "$top_srcdir/tests/tools/mkpe.py" "$WORK/loader.efi" --machine x86_64 --size 90000 || fail "make a PE file"
cat >"$WORK/editor" <<'EOF'
#!/bin/sh
echo 'echo "edited by the tour"' >>"$1"
EOF
cat >"$STUB/qemu-system-x86_64" <<'EOF'
#!/bin/sh
# Stand-in for QEMU: the drive must be a qcow2 overlay backed by disk.img.
for a; do case $a in file=*) f=${a#file=}; f=${f%%,*} ;; esac; done
rximg info "$f" | grep -q "backing file '.*disk.img' (raw)" && echo "$f" >qemu-ran
EOF
chmod +x "$WORK/editor" "$STUB/qemu-system-x86_64"
mkdir -p "$WORK/bin"
ln -sf "$RXIMG" "$WORK/bin/rximg"

FUSE=yes
if [ ! -w /dev/fuse ] || { [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; }; then
	FUSE=
fi

# run_block N: block N in the tour folder, as sh -e runs it; its output in $WORK/out.N.
run_block() {
	sed '/^LOADER=/d' "$WORK/block.$1" >"$WORK/run.$1"
	(cd "$TOUR" && PATH="$WORK/bin:$STUB:$PATH" LOADER="$WORK/loader.efi" EDITOR="$WORK/editor" VISUAL= \
		sh -e "$WORK/run.$1") >"$WORK/out.$1" 2>&1
}

R=$RXIMG
i=1
while [ $i -le "$NBLOCKS" ]; do
	first=$(grep -v '^LOADER=' "$WORK/block.$i" | head -1)
	if grep -q 'rximg mount' "$WORK/block.$i" && [ -z "$FUSE" ]; then
		skip "tour block $i ($first)" "FUSE is not usable here"
		i=$((i + 1))
		continue
	fi
	if run_block $i; then
		pass "tour block $i runs: $first"
	else
		fail "tour block $i runs: $first"
		sed 's/^/#   /' "$WORK/out.$i" | tail -20
	fi
	i=$((i + 1))
done

D=$TOUR/disk.img
ok "the disk was made and checks clean" "$R" check -q "$D"
ok "the initfs and the program are in it" sh -c "'$R' ls '$D:/boot/initfs' && '$R' cat '$D:/usr/bin/hello' | grep -q 'hello from the tour'"
ok "the edit of init.rc inside the initfs landed" sh -c "'$R' cat '$D:/boot/initfs:/etc/init.rc' | grep -qx 'echo \"edited by the tour\"'"
ok "the file written into the initfs is there" sh -c "'$R' cat '$D:/boot/initfs:/etc/hello.rc' | grep -q 'initfs reached'"
ok "the loader is installed as BOOTX64.EFI" sh -c "'$R' get '$D:esp:/EFI/BOOT/BOOTX64.EFI' '$WORK/got.efi' && cmp '$WORK/got.efi' '$WORK/loader.efi'"
ok "QEMU was given the overlay, which is gone after the run" sh -c "test -s '$TOUR/qemu-ran' && test ! -e '$TOUR/run.qcow2'"
if [ -n "$FUSE" ]; then
	ok "the mount block's write landed" sh -c "'$R' cat '$D:/usr/bin/hello2' | grep -q 'hello from the tour'"
	ok "nothing is left mounted" sh -c "! grep -q ' $TOUR/mnt ' /proc/mounts"
fi

done_testing
