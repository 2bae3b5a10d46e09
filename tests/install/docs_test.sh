#!/usr/bin/env bash
# The man page and the bash, zsh and fish completions generated at
# build time (devicelogin __doc, cli/docgen.cpp) cover every command `devicelogin --help` lists,
# the man page renders without groff warnings, each script parses in its shell, and bash's
# completion completes commands, flags and saved profile names.
#   docs_test.sh BUILD_DIR
set -euo pipefail
build=$1
share=$build/share
fail() { echo "docs_test: $*" >&2; exit 1; }
man=$share/man/man1/devicelogin.1
bash_script=$share/bash-completion/completions/devicelogin
zsh_script=$share/zsh/vendor-completions/_devicelogin
fish_script=$share/fish/vendor_completions.d/devicelogin.fish
for f in "$man" "$bash_script" "$zsh_script" "$fish_script"; do [[ -s $f ]] || fail "not generated: $f"; done

# Every command of --help has a man section and completions; hidden ones have none.
commands=$("$build/devicelogin" --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }')
[[ -n $commands ]] || fail "--help lists no commands"
for c in $commands; do
  grep -q "^\.SS \"devicelogin $c\"" "$man" || fail "the man page has no section for $c"
  grep -q "^    $c) opts=" "$bash_script" || fail "bash completion lacks $c"
  grep -q "^    '$c:" "$zsh_script" || fail "zsh completion lacks $c"
  grep -q "__fish_use_subcommand -a $c " "$fish_script" || fail "fish completion lacks $c"
done
! grep -Eq '"devicelogin __doc"|__doc\) opts=|^    .__doc:|-a __doc ' "$man" "$bash_script" "$zsh_script" "$fish_script" ||
  fail "the hidden __doc command leaked"

warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1) || fail "groff failed: $warnings"
[[ -z $warnings ]] || fail "groff warns: $warnings"
bash -n "$bash_script" || fail "bash cannot parse its completion"
zsh -n "$zsh_script" || fail "zsh cannot parse its completion"
fish --no-execute "$fish_script" || fail "fish cannot parse its completion"

# bash: complete as a user would, against a home with two saved profiles.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/.config/devicelogin/profiles"
touch "$work/.config/devicelogin/profiles/work.json" "$work/.config/devicelogin/profiles/home.json"
complete_line() {  # complete_line WORD...: the completions bash offers for the last word
  HOME=$work XDG_CONFIG_HOME=$work/.config bash -c '
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    _devicelogin
    printf "%s\n" "${COMPREPLY[@]}"' "$bash_script" "$@"
}
[[ $(complete_line devicelogin log) == $'login\nlogout' ]] || fail "bash: 'log' completes to: $(complete_line devicelogin log)"
complete_line devicelogin token --pro | grep -qx -- '--profile' || fail "bash: token --pro does not complete --profile"
[[ $(complete_line devicelogin token --profile w) == work ]] || fail "bash: --profile w does not complete the saved profile"
[[ $(complete_line devicelogin use h) == home ]] || fail "bash: use h does not complete the saved profile"
echo "docs_test: man page (groff clean) and bash/zsh/fish completions cover $(wc -w <<<"$commands") commands"
