#!/bin/sh
# Scale: writers keep their memory bounded whatever the number of files (peak RSS
# for 40,000 files may exceed that for 10,000 by a fixed allowance only), a huge
# sparse image costs what its data costs (mkfs, put, check, info of an empty 15 TiB
# filesystem in little memory), and a crash between the batches a big import writes
# out leaves the old or the new state.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
ALLOW_KB=16384		# what 30,000 more files may add to the peak
HUGE_KB=65536		# the bound for each command on the empty 15 TiB image

# Sanitizers change the memory figures: the comparisons are skipped (visibly), the rest runs.
asan=0
if [ -n "${RXIMG_SANITIZED:-}" ] || grep -q __asan_init "$R" 2>/dev/null; then
	asan=1
fi

if ! [ -x /usr/bin/time ]; then
	skip "peak memory measurements" "/usr/bin/time is missing (scripts/install-deps.sh installs it)"
	done_testing
	exit
fi

# peak_kb OUTFILE COMMAND...: run, record the peak RSS in KiB (exit status kept).
peak_kb() {
	out=$1
	shift
	/usr/bin/time -f %M -o "$out" "$@"
}

# A deterministic tree: N files, 100 per directory, 50 directories per group;
# mostly small (stored inline), every 50th with a few records.
make_tree() {
	"${PYTHON3:-python3}" - "$1" "$2" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // 5000), "d%03d" % ((i // 100) % 50))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    size = 9000 + i % 7000 if i % 50 == 0 else i % 300
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write((b"%d " % i) * (size // 8 + 1))
EOF
}

make_tree "$WORK/t10k" 10000
make_tree "$WORK/t40k" 40000

for n in 10k 40k; do
	ok "mkfs --from of $n files" peak_kb "$WORK/mkfs$n.kb" "$R" mkfs -q -s 1G --from "$WORK/t$n" "$WORK/m$n.img"
	ok "mkfs --from of $n files: checks clean" "$R" check -q "$WORK/m$n.img"
	ok "mkfs --from of $n files: the image holds the tree" "$R" diff "$WORK/t$n" "$WORK/m$n.img:/"
	"$R" mkfs -q -s 1G "$WORK/p$n.img"
	"$R" mkdir "$WORK/p$n.img:/old"
	ok "put -r of $n files into an existing image" peak_kb "$WORK/put$n.kb" "$R" put -r "$WORK/t$n" "$WORK/p$n.img:/"
	ok "put -r of $n files: checks clean" "$R" check -q "$WORK/p$n.img"
	ok "put -r of $n files: the image holds the tree" "$R" diff "$WORK/t$n" "$WORK/p$n.img:/t$n"
done

# Whole-tree readers hint their reads ahead in sorted, bounded batches: what they
# report is the same through a qcow2 copy (hints mapped cluster by cluster) and
# an overlay on it (hints passed to the backing file), and their memory does not
# grow with the read-ahead (a batch is bounded, whatever the number of files).
ok "40k files: convert to qcow2" "$R" convert -q "$WORK/m40k.img" "$WORK/m40k.qcow2"
ok "40k files: an overlay on the qcow2" "$R" overlay "$WORK/m40k.qcow2" "$WORK/m40k-top.qcow2"
for n in 10k 40k; do
	peak_kb "$WORK/check$n.kb" "$R" check "$WORK/m$n.img" >"$WORK/check$n.out" 2>&1
	ok "check of $n files: clean" test $? -eq 0
	peak_kb "$WORK/manifest$n.kb" "$R" manifest "$WORK/m$n.img" >"$WORK/manifest$n.out" 2>&1
	ok "manifest of $n files" test $? -eq 0
done
for img in m40k.qcow2 m40k-top.qcow2; do
	"$R" check "$WORK/$img" 2>&1 | sed "s|$WORK/$img|$WORK/m40k.img|" >"$WORK/check.q.out"
	ok "check through $img: the same report" cmp "$WORK/check40k.out" "$WORK/check.q.out"
	"$R" manifest "$WORK/$img" >"$WORK/manifest.q.out" 2>&1
	ok "manifest through $img: the same manifest" cmp "$WORK/manifest40k.out" "$WORK/manifest.q.out"
done

for what in mkfs put check manifest; do
	a=$(cat "$WORK/${what}10k.kb" 2>/dev/null) b=$(cat "$WORK/${what}40k.kb" 2>/dev/null)
	diag "$what: peak RSS ${a:-?} KiB for 10,000 files, ${b:-?} KiB for 40,000"
	if [ $asan -eq 1 ]; then
		skip "$what: peak memory does not grow with the number of files" "sanitizer build: RSS figures differ"
	else
		ok "$what: peak memory does not grow with the number of files (+$ALLOW_KB KiB allowed)" \
			test "${b:-999999999}" -le $((${a:-0} + ALLOW_KB))
	fi
done

# An empty 15 TiB filesystem: every step costs what the data costs.
echo abc >"$WORK/small"
if truncate -s 15T "$WORK/huge.probe" 2>/dev/null; then
	rm -f "$WORK/huge.probe"
	H=$WORK/huge.img
	ok "15 TiB: mkfs" peak_kb "$WORK/h.mkfs.kb" "$R" mkfs -q -s 15T "$H"
	ok "15 TiB: put of a small file" peak_kb "$WORK/h.put.kb" "$R" put "$WORK/small" "$H:/small"
	ok "15 TiB: check" peak_kb "$WORK/h.check.kb" "$R" check -q "$H"
	ok "15 TiB: info" peak_kb "$WORK/h.info.kb" "$R" info "$H"
	ok "15 TiB: the file reads back" sh -c '"$1" cat "$2:/small" | cmp - "$3"' sh "$R" "$H" "$WORK/small"
	for step in mkfs put check info; do
		kb=$(cat "$WORK/h.$step.kb" 2>/dev/null)
		diag "15 TiB: $step peak RSS ${kb:-?} KiB"
		if [ $asan -eq 1 ]; then
			skip "15 TiB: $step stays under $HUGE_KB KiB" "sanitizer build: RSS figures differ"
		else
			ok "15 TiB: $step stays under $HUGE_KB KiB" test "${kb:-999999999}" -le $HUGE_KB
		fi
	done
else
	skip "15 TiB sparse image" "this filesystem cannot hold a 15 TiB sparse file"
fi

# Crashes across the batches: tiny batches make many of them; a spread of crash
# points (RXIMG_CRASH_AFTER cuts the k-th write, then dies as under kill -9).
export RXIMG_TX_META_BLOCKS=32 RXIMG_TX_BUFFER=0
S=$WORK/t10k/g000
"$R" mkfs -q -s 256M "$WORK/base.img"
"$R" put -r "$WORK/t10k/g001/d000" "$WORK/base.img:/keep"
"$R" manifest "$WORK/base.img" >"$WORK/before.man"
cp --sparse=always "$WORK/base.img" "$WORK/after.img"
"$R" put -r "$S" "$WORK/after.img:/" >/dev/null 2>&1
"$R" manifest "$WORK/after.img" >"$WORK/after.man"
# About the number of writes the command makes: a k that no longer crashes it.
writes=1
while cp --sparse=always "$WORK/base.img" "$WORK/c.img" &&
      RXIMG_CRASH_AFTER=$writes "$R" put -r "$S" "$WORK/c.img:/" >/dev/null 2>&1; [ $? -eq 99 ]; do
	writes=$((writes * 2))
done
diag "put -r of 5,000 files in batches of 32 blocks: fewer than $writes writes"
bad=0 n=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	k=$((writes * i / 20))
	cp --sparse=always "$WORK/base.img" "$WORK/c.img"
	RXIMG_CRASH_AFTER=$k "$R" put -r "$S" "$WORK/c.img:/" >/dev/null 2>&1
	rc=$?
	[ $rc -eq 99 ] || [ $rc -eq 0 ] || { bad=1; diag "crash at write $k: exit $rc"; break; }
	n=$((n + 1))
	if ! "$R" check -q "$WORK/c.img" >"$WORK/c.check" 2>&1; then
		bad=1
		diag "crash at write $k: check failed: $(head -3 "$WORK/c.check")"
		break
	fi
	"$R" manifest "$WORK/c.img" >"$WORK/c.man"
	if ! cmp -s "$WORK/c.man" "$WORK/before.man" && ! cmp -s "$WORK/c.man" "$WORK/after.man"; then
		bad=1
		diag "crash at write $k: neither the old nor the new state"
		break
	fi
done
if [ $bad -eq 0 ] && ! cmp -s "$WORK/before.man" "$WORK/after.man"; then
	pass "put -r in small batches: $n crash points leave the old or the new state, clean"
else
	fail "put -r in small batches: crash safety ($n crash points tried)"
fi

# mkfs --from writes IMAGE.partial and renames it: a crash leaves no image.
writes=1
while RXIMG_CRASH_AFTER=$writes "$R" mkfs -q -s 256M --from "$S" "$WORK/n.img" >/dev/null 2>&1; [ $? -eq 99 ]; do
	rm -f "$WORK/n.img" "$WORK/n.img.partial"
	writes=$((writes * 2))
done
rm -f "$WORK/n.img"
bad=0 n=0
for i in 1 3 5 7 9 11 13 15 17 19; do
	k=$((writes * i / 20))
	rm -f "$WORK/n.img" "$WORK/n.img.partial"
	RXIMG_CRASH_AFTER=$k "$R" mkfs -q -s 256M --from "$S" "$WORK/n.img" >/dev/null 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		"$R" check -q "$WORK/n.img" >/dev/null 2>&1 || { bad=1; diag "mkfs finished at k=$k but does not check clean"; }
		continue
	fi
	n=$((n + 1))
	[ $rc -eq 99 ] && [ ! -e "$WORK/n.img" ] || { bad=1; diag "mkfs crash at write $k: exit $rc, image left"; }
done
if [ $bad -eq 0 ] && [ $n -gt 0 ]; then
	pass "mkfs --from in small batches: $n crash points leave no image"
else
	fail "mkfs --from in small batches: crash safety ($n crash points tried)"
fi
unset RXIMG_TX_META_BLOCKS RXIMG_TX_BUFFER
ok "mkfs --from in small batches: the same tree as in one batch" \
	sh -c 'RXIMG_TX_META_BLOCKS=32 "$1" mkfs -q -s 256M --from "$2" "$3" && "$1" check -q "$3" && "$1" diff "$2" "$3:/"' \
	sh "$R" "$S" "$WORK/small-batches.img"

done_testing
