# zsh -f drive.zsh FPATH_DIR PATH_DIR OUT LINE: real zsh completion in a
# pseudo-terminal; the edit buffer after one TAB is written to OUT.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; PATH=$2:\$PATH"
zpty -w z "dump() { print -r -- \"\$BUFFER\" >$3.tmp && mv $3.tmp $3; }; zle -N dump; bindkey '^T' dump"
zpty -w z 'print -r -- R""EADY'
zpty -r z out '*READY*'
zpty -w -n z "$4"$'\t\x14'
for i in {1..100}; do [[ -e $3 ]] && break; sleep 0.2; done
zpty -d z
