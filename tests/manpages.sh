#!/bin/sh
# Every verb of `rximg --help` has a man page, each page documents every option its
# --help prints, every page renders without warnings, and rximg(1) names every verb.
. "$top_srcdir/tests/lib.sh"

MANDIR="$top_srcdir/man"

# The text of a page with the escapes that print nothing removed (font changes,
# \% and \&), then every remaining backslash: "\fB\-\-long\fR" becomes "--long".
normalize() {  # normalize PAGE
	sed -e 's/\\f\[[^]]*\]//g' -e 's/\\f([A-Za-z0-9][A-Za-z0-9]//g' -e 's/\\f[A-Za-z0-9]//g' \
		-e 's/\\[%&]//g' -e 's/\\//g' "$1"
}

# The normalized text of one .SH section of a page.
section() {  # section PAGE NAME
	normalize "$1" | awk -v want="$2" '
		/^\.SH / { s = substr($0, 5); gsub(/"/, "", s); on = (s == want); next }
		on'
}

# Every option a --help text prints: -x and --xxx words that stand alone
# (not the dash inside "non-directories" or a lone "-").
help_options() {  # help_options ARGS... (the rximg arguments before --help)
	"$RXIMG" "$@" --help | grep -oE -- '(^|[^-[:alnum:]])--?[[:alnum:]][-[:alnum:]]*' |
		sed 's/^[^-]*//' | sort -u
}

# The tags of a section: the line after each .TP, and .IP tags.
section_tags() {  # section_tags PAGE SECTION
	section "$1" "$2" | awk '
		tag { print; tag = 0; next }
		/^\.TP/ { tag = 1; next }
		/^\.IP / { print substr($0, 5) }'
}
option_tags() { section_tags "$1" OPTIONS; }

# The VERBS section of PAGE has an item for VERB.
lists_verb() {  # lists_verb PAGE VERB
	if section_tags "$1" VERBS | sed 's/^\.[A-Z]* *//' | grep -qE -- "^$2([^-[:alnum:]]|\$)"; then
		return 0
	fi
	echo "no item (.TP tag) for $2 in the VERBS section of $(basename "$1")"
	return 1
}

# The VERBS section of PAGE refers to rximg-VERB(1).
points_to_page() {  # points_to_page PAGE VERB
	section "$1" VERBS | grep -qE -- "rximg-$2 *[(]1[)]" && return 0
	echo "the VERBS section of $(basename "$1") does not refer to rximg-$2(1)"
	return 1
}

# OPT has an item of its own in the OPTIONS section of PAGE (a mention in the
# text of another option is not enough).
documents_option() {  # documents_option PAGE OPT
	if option_tags "$1" | grep -qE -- "(^|[^-[:alnum:]])$2([^-[:alnum:]]|\$)"; then
		return 0
	fi
	echo "$2 has no item (.TP tag) in the OPTIONS section of $(basename "$1"); the tags are:"
	option_tags "$1" | sed 's/^/  /'
	return 1
}

has_sections() {  # has_sections PAGE
	local missing= s
	normalize "$1" | sed -n 's/^\.SH *//p' | tr -d '"' >"$WORK/.sections"
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "$s" "$WORK/.sections" || missing="$missing [$s]"
	done
	[ -z "$missing" ] || { echo "missing sections:$missing"; return 1; }
}

title_matches() {  # title_matches PAGE: .TH NAME 1 agrees with the file name
	local want got
	want=$(basename "$1" .1 | tr '[:lower:]' '[:upper:]')
	got=$(normalize "$1" | sed -n 's/^\.TH  *\([^ ]*\)  *\([^ ]*\).*/\1 \2/p' | head -n1)
	[ "$got" = "$want 1" ] || { echo ".TH says '$got', expected '$want 1'"; return 1; }
}

# groff with every warning on; its stderr must stay empty.
renders_groff() {  # renders_groff PAGE
	local out
	out=$(groff -man -Tutf8 -ww -z "$1" 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}

# man -l, as a reader would run it: output, no complaints on stderr.
renders_man() {  # renders_man PAGE
	LC_ALL=C MANWIDTH=80 MAN_KEEP_STDERR=1 man -l "$1" >"$WORK/.man.out" 2>"$WORK/.man.err" </dev/null ||
		{ cat "$WORK/.man.err"; return 1; }
	[ ! -s "$WORK/.man.err" ] || { cat "$WORK/.man.err"; return 1; }
	grep -q '^NAME' "$WORK/.man.out" || { echo "no NAME heading in the output"; return 1; }
}

lints_mandoc() {  # lints_mandoc PAGE
	mandoc -Tlint -W warning "$1"
}

check_rendering() {  # check_rendering PAGE
	local name
	name=$(basename "$1")
	if command -v groff >/dev/null 2>&1; then
		ok "$name renders without groff warnings (groff -man -ww)" renders_groff "$1"
	fi
	if command -v man >/dev/null 2>&1; then
		ok "$name renders with man -l" renders_man "$1"
	fi
	if ! command -v groff >/dev/null 2>&1 && ! command -v man >/dev/null 2>&1; then
		skip "$name renders" "neither groff nor man is installed"
	fi
	if command -v mandoc >/dev/null 2>&1; then
		ok "$name passes mandoc -Tlint" lints_mandoc "$1"
	fi
}

verbs=$("$RXIMG" --help | sed -n '/^Verbs:/,/^$/s/^  \([a-z][-a-z0-9]*\)  .*/\1/p')
if [ -z "$verbs" ]; then
	fail "rximg --help lists verbs"
	done_testing
	exit
fi
diag "verbs: $(echo $verbs)"

# The overview page: every verb, its page, and the options of rximg --help itself.
top="$MANDIR/rximg.1"
if [ -f "$top" ]; then
	pass "rximg.1 exists"
	ok "rximg.1 has the standard sections" has_sections "$top"
	ok "rximg.1 .TH names the page" title_matches "$top"
	for verb in $verbs; do
		ok "rximg.1 lists the verb $verb" lists_verb "$top" "$verb"
		ok "rximg.1 points to rximg-$verb(1)" points_to_page "$top" "$verb"
	done
	for opt in $(help_options); do
		ok "rximg.1 documents $opt of rximg --help" documents_option "$top" "$opt"
	done
	check_rendering "$top"
else
	fail "rximg.1 exists"
fi

# One page per verb, with every option of the verb's --help.
for verb in $verbs; do
	page="$MANDIR/rximg-$verb.1"
	if [ ! -f "$page" ]; then
		fail "rximg-$verb.1 exists"
		continue
	fi
	pass "rximg-$verb.1 exists"
	if ! "$RXIMG" "$verb" --help >"$WORK/.help" 2>&1; then
		fail "rximg $verb --help succeeds"
		continue
	fi
	ok "rximg-$verb.1 has the standard sections" has_sections "$page"
	ok "rximg-$verb.1 .TH names the page" title_matches "$page"
	opts=$(help_options "$verb")
	[ -n "$opts" ] || fail "rximg $verb --help prints options"
	for opt in $opts; do
		ok "rximg-$verb.1 documents $opt" documents_option "$page" "$opt"
	done
	check_rendering "$page"
done

# No page for a verb that no longer exists.
for page in "$MANDIR"/rximg-*.1; do
	[ -f "$page" ] || continue
	verb=$(basename "$page" .1)
	verb=${verb#rximg-}
	case " $(echo $verbs) " in
	*" $verb "*) ;;
	*) fail "$(basename "$page") belongs to a verb of rximg --help" ;;
	esac
done

done_testing
