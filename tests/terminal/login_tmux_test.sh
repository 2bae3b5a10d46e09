#!/usr/bin/env bash
# An interactive `devicelogin login` in a real terminal (tmux), as a person sees it: the code, the
# verification URI, the host where the user approves and the warning are shown, the QR code on
# screen decodes (zbarimg) to the complete verification URI, the countdown runs down, and Ctrl-C
# mid-wait exits 130 with nothing stored.
#   tests/terminal/login_tmux_test.sh DEVICELOGIN_BIN
set -euo pipefail
bin=$(readlink -f "${1:?usage: login_tmux_test.sh DEVICELOGIN_BIN}")
here=$(cd "$(dirname "$0")" && pwd)
for tool in tmux zbarimg python3; do
  command -v "$tool" >/dev/null || { echo "login_tmux_test: FAIL: $tool is missing (scripts/setup-deps.sh --tests installs it)"; exit 1; }
done

work=$(mktemp -d)
socket="devicelogin-test-$$"
server_pid=""
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "login_tmux_test: FAIL: $*"
  echo "--- screen:"; cat "$work/screen.txt" 2>/dev/null || true
  exit 1
}

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
unset DISPLAY WAYLAND_DISPLAY

# The dev server, never approving: the login can only end by Ctrl-C (or the code's expiry).
"$bin" serve --port 0 --interval 1 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
while [[ ! -s "$work/serve.out" ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done  # until it printed or died (no count of tries: a loaded machine may be slow; ctest's timeout bounds it)
issuer=$(head -n1 "$work/serve.out")
[[ "$issuer" == http://127.0.0.1:* ]] || fail "the dev server did not start: $(cat "$work/serve.err")"

# A wide, tall terminal so the QR code fits; the command's exit status goes to a file.
tmux -L "$socket" -f /dev/null new-session -d -x 160 -y 80 \
  "env HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' '$bin' login --issuer '$issuer' --client-id devicelogin-demo --store file --no-browser; echo \$? > '$work/exit'; sleep 60"

capture() { tmux -L "$socket" capture-pane -p -J -S - >"$work/screen.txt"; }
countdown() { { grep -o 'code expires in [0-9]*:[0-9][0-9]' "$work/screen.txt" || true; } | tail -n1 | sed 's/.* //'; }

first=""
for _ in $(seq 100); do
  capture
  first=$(countdown)
  [[ -n "$first" ]] && break
  sleep 0.1
done
[[ -n "$first" ]] || fail "no countdown within 10 s"

user_code=$({ grep -oE '^ +[A-Z]{4}-[A-Z]{4} *$' "$work/screen.txt" || true; } | tr -d ' ' | head -n1)
[[ -n "$user_code" ]] || fail "no user code (XXXX-XXXX) on its own line"
grep -q "open $issuer/device in a browser" "$work/screen.txt" || fail "the verification URI is not shown"
complete="$issuer/device?user_code=$user_code"
grep -qF "Or open $complete" "$work/screen.txt" || fail "the complete verification URI is not shown"
# Where the approval happens (bold on a terminal; the capture drops the attribute) and the warning.
grep -qxF "You will approve at: 127.0.0.1" "$work/screen.txt" || fail "the host line is not shown"
grep -qF "Only continue if you started this sign-in. If a website, an e-mail or another person gave you this code, stop." \
  "$work/screen.txt" || fail "the warning is not shown"

# The QR code: half-block characters back into modules, modules into a PBM image, zbarimg reads it.
python3 "$here/qr_from_screen.py" "$work/screen.txt" "$work/qr.pbm" || fail "no QR code on screen"
decoded=$(zbarimg --quiet --raw "$work/qr.pbm" 2>/dev/null || true)
[[ "$decoded" == "$complete" ]] || fail "the QR code decodes to '$decoded', not '$complete'"

# The countdown runs: two seconds later it shows less time left.
sleep 2.5
capture
second=$(countdown)
to_seconds() { local m=${1%%:*} s=${1##*:}; echo $((10#$m * 60 + 10#$s)); }
(( $(to_seconds "$second") < $(to_seconds "$first") )) || fail "the countdown did not move ($first, then $second)"

# Ctrl-C mid-wait: exit 130, nothing stored.
tmux -L "$socket" send-keys C-c
for _ in $(seq 100); do [[ -s "$work/exit" ]] && break; sleep 0.1; done
[[ -s "$work/exit" ]] || fail "login did not end within 10 s of Ctrl-C"
status=$(cat "$work/exit")
[[ "$status" == 130 ]] || fail "login exited $status after Ctrl-C, not 130"
stored=$(find "$HOME" -type f \( -path '*/tokens/*' -o -path '*/profiles/*' \) ! -name '*.lock' | wc -l)
[[ "$stored" == 0 ]] || fail "Ctrl-C left $stored token or profile files: $(find "$HOME" -type f)"

echo "login_tmux_test: code $user_code, QR -> $complete, countdown $first -> $second, Ctrl-C -> 130, nothing stored"
echo "1 passed, 0 failed"
