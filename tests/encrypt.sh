#!/bin/sh
# Encrypted filesystems: AES-128-XTS with an Argon2id key slot, end to end.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
if ! "$R" mkfs --help | grep -q -- --encrypt; then
	skip "encryption" "rximg was built without it"
	done_testing
	exit
fi
printf 'correct horse' >"$WORK/pw"
printf 'wrong horse' >"$WORK/bad"
export RXIMG_PASSWORD_FILE="$WORK/pw"
IMG=$WORK/enc.img

ok "mkfs --encrypt" "$R" mkfs --encrypt -s 32M "$IMG"
"$R" info --json "$IMG" >"$WORK/info.json"
ok "info says encrypted (without asking for the password)" grep -q '"encrypted":true' "$WORK/info.json"
seq 1 200000 >"$WORK/text"
head -c 400000 /dev/urandom >"$WORK/random"
mkdir -p "$WORK/tree/a/b" && echo "a secret phrase 7f3a" >"$WORK/tree/a/b/note" && ln -s b/note "$WORK/tree/a/link"
ok "put into the encrypted image" "$R" put "$WORK/text" "$WORK/random" "$IMG:/"
ok "sync a tree into it" "$R" sync "$WORK/tree" "$IMG:/tree"
ok "cat reads back what was put" sh -c "'$R' cat '$IMG:/text' | cmp - '$WORK/text'"
ok "check is clean" "$R" check -q "$IMG"
ok "extract reproduces the tree" sh -c "'$R' extract -q '$IMG:/tree' '$WORK/out' && diff -r '$WORK/tree' '$WORK/out'"
ok "no plaintext of a file is visible in the image" sh -c "! grep -q 'a secret phrase 7f3a' '$IMG'"
ok "no plaintext of a name is visible in the image" sh -c "! grep -q 'note' '$IMG'"

sum=$(sha256sum "$IMG" | cut -d' ' -f1)
ok "ls with a wrong password fails cleanly" fails_cleanly 'wrong password' \
	env RXIMG_PASSWORD_FILE="$WORK/bad" "$R" ls "$IMG"
ok "put with a wrong password fails cleanly" fails_cleanly 'wrong password' \
	env RXIMG_PASSWORD_FILE="$WORK/bad" "$R" put "$WORK/text" "$IMG:/other"
ok "without a password (and no terminal) it says what is needed" fails_cleanly 'password is needed' \
	env -u RXIMG_PASSWORD_FILE -u RXIMG_PASSWORD setsid "$R" ls "$IMG"
ok "refused commands left the image untouched" test "$(sha256sum "$IMG" | cut -d' ' -f1)" = "$sum"

ok "mkfs --encrypt --from builds a filled encrypted image" \
	"$R" mkfs --encrypt -s 32M --from "$WORK/tree" "$WORK/enc2.img"
ok "and it checks clean" "$R" check -q "$WORK/enc2.img"

# Crash safety holds for encrypted writes too.
export RXIMG_TX_BUFFER=0
"$R" manifest "$IMG" >"$WORK/before"
cp "$IMG" "$WORK/after.img" && "$R" put "$WORK/random" "$WORK/after.img:/again" && "$R" manifest "$WORK/after.img" >"$WORK/after"
k=1 n=0 bad=0
while :; do
	cp "$IMG" "$WORK/c.img"
	RXIMG_CRASH_AFTER=$k "$R" put "$WORK/random" "$WORK/c.img:/again" >/dev/null 2>&1
	[ $? -eq 99 ] || break
	n=$((n + 1))
	"$R" check -q "$WORK/c.img" >/dev/null 2>&1 || { bad=1; echo "# crash at write $k: check failed"; break; }
	"$R" manifest "$WORK/c.img" >"$WORK/c" 2>&1
	cmp -s "$WORK/c" "$WORK/before" || cmp -s "$WORK/c" "$WORK/after" || { bad=1; echo "# crash at $k: mixed state"; break; }
	k=$((k + 1))
done
ok "encrypted put cut off at each of its $n writes leaves the old or the new state" test $bad -eq 0 -a $n -gt 0
done_testing
