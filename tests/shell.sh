#!/bin/bash
# rximg shell: batch scripts (one commit, or nothing when a command fails, with
# its line named), and the interactive shell through a pseudo-terminal
# (completion, history, the pending changes, commit on exit).
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
PY=${PYTHON3:-python3}
gen() { "$R" info --json "$1" | sed -n 's/.*"generation": *"\{0,1\}\([0-9]*\).*/\1/p' | head -1; }

IMG=$WORK/s.img
truncate -s 64M "$IMG"
"$R" mkfs -q "$IMG" >/dev/null
"$R" mkdir "$IMG:/etc" "$IMG:/boot"
ARC=$(test_image initfs-bootstrap.img)
[ -n "$ARC" ] && "$R" put "$ARC" "$IMG:/boot/initfs"
echo "host file" >"$WORK/hostfile"

# A script that works: everything lands in one commit.
cat >"$WORK/ok.rx" <<EOF
# comments and blank lines are skipped

mkdir /etc/rc.d
cd /etc
put "$WORK/hostfile" rc.d/
cp rc.d/hostfile "two words"
chmod 0600 "two words"
ln -s hostfile rc.d/link
ls -l rc.d
EOF
g0=$(gen "$IMG")
ok "a batch script runs" "$R" shell "$IMG" -f "$WORK/ok.rx"
g1=$(gen "$IMG")
if [ "$g1" = $((g0 + 1)) ]; then pass "the whole script is one commit"; else fail "one commit ($g0 -> $g1)"; fi
ok "its changes are there" sh -c '
	[ "$("$1" cat "$2:/etc/two words")" = "host file" ] &&
	"$1" stat "$2:/etc/two words" | grep -q "Mode: 0600" &&
	"$1" stat "$2:/etc/rc.d/link" | grep -q -- "-> hostfile"' sh "$R" "$IMG"
ok "the image checks clean" "$R" check -q "$IMG"

# A script whose third command fails: it stops there, names the line, writes nothing.
printf 'mkdir /a\nmkdir /b\nrm /does/not/exist\nmkdir /c\n' >"$WORK/bad.rx"
cp "$IMG" "$WORK/before.img"
"$R" shell "$IMG" -f "$WORK/bad.rx" >"$WORK/bad.out" 2>&1
rc=$?
ok "a failing script exits non-zero" test $rc -ne 0
ok "it names the failing line" grep -q "bad.rx:3: failed" "$WORK/bad.out"
ok "the failing command's own error is shown" grep -q "/does/not/exist" "$WORK/bad.out"
ok "nothing was written" cmp "$IMG" "$WORK/before.img"
ok "-k runs the rest and still writes nothing" sh -c '
	"$1" shell -k "$2" -f "$3" >"$4" 2>&1; [ $? -ne 0 ] && cmp "$2" "$5" && ! grep -q stopping "$4"' \
	sh "$R" "$IMG" "$WORK/bad.rx" "$WORK/k.out" "$WORK/before.img"
ok "commands on standard input (not a terminal)" sh -c 'printf "mkdir /stdin\n" | "$1" shell "$2"' sh "$R" "$IMG"
ok "they landed" "$R" stat "$IMG:/stdin"
ok "status --json lists the pending commands" sh -c '
	printf "mkdir /x1\ntouch /x1/f\nstatus --json\nrollback\nstatus --json\n" | "$1" shell "$2" >"$3" &&
	head -1 "$3" | grep -q "\"commands\":\[\"mkdir /x1\",\"touch /x1/f\"\]" &&
	tail -1 "$3" | grep -q "\"pending\":false"' sh "$R" "$IMG" "$WORK/status.out"
ok "rollback dropped them" sh -c '! "$1" stat "$2:/x1" 2>/dev/null' sh "$R" "$IMG"
if [ -n "$ARC" ]; then
	ok "a member of the initfs in the script" sh -c '
		printf "cd /boot\nmkdir initfs:/etc/new\nls initfs:/etc\n" | "$1" shell "$2" | grep -qx new' sh "$R" "$IMG"
	ok "the archive is still whole" "$R" initfs info --json "$IMG:/boot/initfs"
	# cd into the archive: relative paths work inside it, ".." at its root leaves it.
	printf '%s\n' 'cd /boot/initfs' pwd 'cd etc' pwd 'mkdir inner' \
		"put $WORK/hostfile inner" 'mv inner/hostfile ../moved' 'cd ..' pwd 'cd ..' pwd \
		'cd initfs:/etc/inner' pwd 'cd /' pwd >"$WORK/cd.rx"
	ok "cd enters the archive and leaves it again" sh -c '
		"$1" shell "$2" -f "$3" >"$4" &&
		[ "$(tr "\n" " " <"$4")" = "/boot/initfs:/ /boot/initfs:/etc /boot/initfs:/ /boot /boot/initfs:/etc/inner / " ]' \
		sh "$R" "$IMG" "$WORK/cd.rx" "$WORK/cd.out"
	ok "what was done inside the archive landed there" sh -c '
		[ "$("$1" cat "$2:/boot/initfs:/moved")" = "host file" ] && "$1" stat "$2:/boot/initfs:/etc/inner" >/dev/null' \
		sh "$R" "$IMG"
	ok "the image checks clean after the session inside the archive" "$R" check -q "$IMG"
	cp "$IMG" "$WORK/before-cd.img"
	ok "cd into a file that is no archive is refused" fails_cleanly "not a directory or an initfs archive" \
		"$R" shell "$IMG" -f /dev/stdin <<<"cd /boot/initfs:/etc/init.rc"
	ok "and past a regular file too" fails_cleanly "not a directory" \
		"$R" shell "$IMG" -f /dev/stdin <<<"cd /boot/initfs/x"
	ok "a failed cd wrote nothing" cmp "$IMG" "$WORK/before-cd.img"
fi
# The image is locked while a shell holds it.
mkfifo "$WORK/fifo"
"$R" shell "$IMG" <"$WORK/fifo" >/dev/null 2>&1 &
sh_pid=$!
exec 7>"$WORK/fifo"
echo "mkdir /held" >&7
sleep 1
ok "another writer is refused while the shell holds the image" fails_cleanly "lock|in use|open for writing" \
	"$R" mkdir "$IMG:/other"
exec 7>&-
wait $sh_pid
ok "the shell's change landed when its input ended" "$R" stat "$IMG:/held"

# Interactive, through a pseudo-terminal.
if ! "$PY" -c 'import pty' 2>/dev/null; then
	skip "interactive shell" "no python3 pty"
	done_testing
	exit
fi
echo "echo from the test" | "$R" write "$IMG:/boot/initfs:/etc/init.rc"
cat >"$WORK/drive.txt" <<'EOF'
expect s.img:/> 
send mkd\t
send /tt\n
expect \*> 
send cd /bo\t
send \n
expect boot \*> 
send ca\t
send ini\t
send \x08:/etc/init.rc\n
expect echo from the test
send cd initfs:/et\t
send \n
expect initfs:/etc \*> 
send cat init.\t
send \n
expect echo from the test
send status\n
expect mkdir /tt
send exit\n
expect Commit\? \[y/N\]
send y\n
EOF
mkdir -p "$WORK/state"
ok "an interactive session (completion, cd into the initfs and completion there, cat of a member, status, commit on exit)" \
	env XDG_STATE_HOME="$WORK/state" TERM=dumb "$PY" "$top_srcdir/tests/tools/pty_drive.py" "$WORK/drive.txt" -- \
	"$R" shell "$IMG"
ok "the completed command ran and was committed" "$R" stat "$IMG:/tt"
# libedit's history file encodes spaces and newlines as octal escapes (mkdir\040/tt\012).
ok "history is kept in XDG_STATE_HOME" grep -q '^mkdir\\040/tt' "$WORK/state/rximg/history"
cat >"$WORK/drive2.txt" <<'EOF'
expect s.img:/> 
send mkdir /dropped\n
expect \*> 
send exit\n
expect Commit\? \[y/N\]
send n\n
expect dropped
EOF
ok "an interactive session whose changes are declined" \
	env XDG_STATE_HOME="$WORK/state" TERM=dumb "$PY" "$top_srcdir/tests/tools/pty_drive.py" "$WORK/drive2.txt" -- \
	"$R" shell "$IMG"
ok "nothing landed" sh -c '! "$1" stat "$2:/dropped" 2>/dev/null' sh "$R" "$IMG"
ok "the image checks clean" "$R" check -q "$IMG"

done_testing
