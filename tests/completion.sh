#!/bin/sh
# Shell completion (contrib/completion/): bash and zsh complete verbs, each
# verb's options and paths inside an image, asking rximg itself
# (rximg __complete); zsh is driven for real in a pseudo-terminal.
. "$top_srcdir/tests/lib.sh"

R=$RXIMG
comp=$top_srcdir/contrib/completion
img=$(test_image misc-tree.img) || { fail "misc-tree.img test image"; done_testing; exit; }
# The completions run `rximg`: the one just built.
bindir=$WORK/bin
mkdir -p "$bindir"
ln -s "$R" "$bindir/rximg"

# __complete itself.
ok "__complete verbs lists every verb with its summary" sh -c \
	"'$R' __complete verbs | grep -q '^extract	extract a whole tree' && \
	 test \$('$R' __complete verbs | wc -l) -eq \$('$R' --help | sed -n '/^Verbs:/,/^\$/p' | grep -c '^  [a-z]')"
ok "__complete options ls lists --recursive and -l" sh -c \
	"'$R' __complete options ls | grep -qx -- --recursive && '$R' __complete options ls | grep -qx -- -l"
ok "__complete path lists a directory's entries, directories with a slash" sh -c \
	"'$R' __complete path '$img:/d' | grep -qx '$img:/deep/'"
ok "__complete path completes the root after IMAGE:" sh -c \
	"'$R' __complete path '$img:' | grep -qx '$img:/hello.txt'"
ok "__complete path on a missing image or directory prints nothing and succeeds" sh -c \
	"test -z \"\$('$R' __complete path '$WORK/none.img:/x' 2>&1)\" && test -z \"\$('$R' __complete path '$img:/nope/x' 2>&1)\""
ok "__complete is not listed among the verbs" sh -c "! '$R' --help | grep -q __complete"

# bash: COMP_* set as bash sets them (words split at COMP_WORDBREAKS' ':' too).
if command -v bash >/dev/null 2>&1; then
	bash_complete() {  # bash_complete LINE: the completions, one a line
		PATH="$bindir:$PATH" bash --norc --noprofile -c '
			. "$1/rximg"
			line=$2
			COMP_LINE=$line COMP_POINT=${#line}
			split=$(printf "%s" "$line" | sed "s/:/ : /g")
			read -ra COMP_WORDS <<<"$split"
			case $line in *" ") COMP_WORDS+=("") ;; esac
			case $line in *:) COMP_WORDS+=("") ;; esac
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
			_rximg
			printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" "$1"
	}
	out=$(bash_complete 'rximg extr')
	if [ "$out" = extract ]; then pass "bash: completes a verb"; else fail "bash: completes a verb (got '$out')"; fi
	out=$(bash_complete 'rximg ls --recu')
	if [ "$out" = --recursive ]; then pass "bash: completes a verb's option"; else fail "bash: completes a verb's option (got '$out')"; fi
	out=$(bash_complete "rximg ls $img:/de")
	if [ "$out" = /deep/ ]; then pass "bash: completes a path inside an image (after the last ':')"; else fail "bash: path inside an image (got '$out')"; fi
	out=$(bash_complete "rximg cat $img:/deep/")
	case $out in /deep/level*) pass "bash: lists a directory inside an image" ;; *) fail "bash: lists a directory inside an image (got '$out')" ;; esac
else
	skip "bash completion" "bash is not installed"
fi

# zsh: the real completion system, typing LINE and TAB in a pseudo-terminal.
if command -v zsh >/dev/null 2>&1; then
	zsh_complete() {  # zsh_complete LINE: the command line after one TAB
		rm -f "$WORK/zsh.out"
		(cd "$WORK" && timeout 60 zsh -f "$top_srcdir/tests/tools/zsh_complete.zsh" "$comp" "$bindir" \
			"$WORK/zsh.out" "$1") >/dev/null 2>&1
		cat "$WORK/zsh.out" 2>/dev/null
	}
	out=$(zsh_complete 'rximg manif')
	if [ "$out" = 'rximg manifest ' ]; then pass "zsh: completes a verb"; else fail "zsh: completes a verb (got '$out')"; fi
	out=$(zsh_complete 'rximg ls --recu')
	if [ "$out" = 'rximg ls --recursive ' ]; then pass "zsh: completes a verb's option"; else fail "zsh: completes a verb's option (got '$out')"; fi
	out=$(zsh_complete "rximg ls $img:/dee")
	if [ "$out" = "rximg ls $img:/deep/" ]; then pass "zsh: completes a directory inside an image"; else fail "zsh: completes a directory inside an image (got '$out')"; fi
	out=$(zsh_complete "rximg cat $img:/hel")
	if [ "$out" = "rximg cat $img:/hello.txt" ]; then pass "zsh: completes a file inside an image"; else fail "zsh: completes a file inside an image (got '$out')"; fi
else
	skip "zsh completion" "zsh is not installed (Debian: zsh)"
fi

done_testing
