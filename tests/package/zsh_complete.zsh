#!/usr/bin/env zsh
# Completes LINE in an interactive zsh (on a pseudo-terminal) that loads
# darasa's completion from FPATH_DIR, and prints the matches zsh would
# offer, one a line. The matches are caught in compadd (as
# zsh-capture-completion does), so the result does not depend on how the
# terminal shows them; a function run after the completion ends the output.
#   zsh -f zsh_complete.zsh FPATH_DIR LINE
emulate -L zsh
zmodload zsh/zpty || exit 2
local fdir=$1 line=$2 out="" chunk
local tmp=$(mktemp -d)
local result=$tmp/matches
cat >$tmp/setup.zsh <<SETUP
PS1='%% '
fpath=(${(q)fdir} \$fpath)
autoload -U compinit && compinit -u -D
unsetopt beep
compadd() {
  # Callers that only ask for matches (-O, -A, -D) are passed through.
  if (( \${@[(I)-[OAD]]} )); then builtin compadd "\$@"; return; fi
  local -a found
  builtin compadd -A found "\$@"
  (( \$#found )) && print -rl -- "\${found[@]}" >>${(q)result}
  builtin compadd "\$@"
}
_capture_done() { print -r -- MARK""END >>${(q)result} }
zstyle ':completion:*' completer _capture_hook
_capture_hook() { comppostfuncs=(_capture_done); _complete }
print READY""SETUP
SETUP
zpty z zsh -f -i
zpty -w z "source ${(q)tmp}/setup.zsh"
local deadline=$(( SECONDS + 60 ))
while (( SECONDS < deadline )); do
  zpty -r -t z chunk && { out+=$chunk; [[ $out == *READYSETUP* ]] && break; } || sleep 0.05
done
zpty -w -n z "$line"$'\t'
while (( SECONDS < deadline )); do
  [[ -f $result ]] && grep -q MARKEND $result && break
  zpty -r -t z chunk || sleep 0.05
done
zpty -d z
local rc=1
[[ -f $result ]] && grep -q MARKEND $result && rc=0
[[ -f $result ]] && grep -v MARKEND $result | sort -u
rm -rf $tmp
return $rc
