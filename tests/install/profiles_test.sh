#!/usr/bin/env bash
# Profiles: `devicelogin profiles [--json]` lists the saved profiles, `devicelogin use P`
# makes one the default, DEVICELOGIN_PROFILE overrides it, and every command without --profile
# uses the default, the `token` fast path included (checked with a copy of the executable that
# has no command module next to it, so only the fast path can answer).
#   profiles_test.sh BUILD_DIR
set -euo pipefail
build=$1
bin=$build/devicelogin
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "profiles_test: $*" >&2; exit 1; }
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
unset DEVICELOGIN_PROFILE
run() {  # run CODE ARGS...: runs the command, checks its exit code; stdout in $work/out
  local want=$1 got=0
  shift
  timeout 60 "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null || got=$?
  [[ $got == "$want" ]] || fail "devicelogin $* exited $got, expected $want: $(tail -n2 "$work/err")"
}
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$work/out')); print($1)"; }

"$bin" serve --port 0 --auto-approve --interval 1 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
# Until the server has printed its issuer or died (no count of tries: a loaded machine may be slow).
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || fail "serve printed no issuer: $(cat "$work/serve.err")"

run 0 profiles --json
[[ $(json 'd["default"], len(d["profiles"])') == "default 0" ]] || fail "empty listing: $(cat "$work/out")"
for p in work home; do
  run 0 login --profile "$p" --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr
done
run 0 token --profile work; work_token=$(cat "$work/out")
run 0 token --profile home; home_token=$(cat "$work/out")
[[ -n $work_token && $work_token != "$home_token" ]] || fail "two logins gave no distinct tokens"

# Without --profile and without a default chosen: the profile named "default", which does not exist.
run 5 token
# ... and the message names the saved ones and how to choose one (a newcomer after
# scripts/demo.sh read only 'no profile "default"').
run 5 status
[[ $(wc -l <"$work/err") == 1 ]] || fail "status of a missing default: not one line: $(cat "$work/err")"
grep -q 'no profile "default"; saved profiles: home, work; make one the default with: devicelogin use home' "$work/err" ||
  fail "status of a missing default does not name the saved profiles: $(cat "$work/err")"
run 5 use nosuch
run 0 use work
run 0 profiles --json
[[ $(json 'd["default"], [(p["name"], p["default"], p["logged_in"], p["store"]) for p in d["profiles"]]') == \
   "work [('home', False, True, 'file'), ('work', True, True, 'file')]" ]] || fail "listing: $(cat "$work/out")"
run 0 profiles
grep -q '^\* work ' "$work/err" || fail "the human listing does not star the default: $(cat "$work/err")"
run 0 status --json
[[ $(json 'd["profile"]') == work ]] || fail "status without --profile: $(cat "$work/out")"
run 0 token
[[ $(cat "$work/out") == "$work_token" ]] || fail "token without --profile is not the default profile's"
DEVICELOGIN_PROFILE=home run 0 token
[[ $(cat "$work/out") == "$home_token" ]] || fail "DEVICELOGIN_PROFILE does not override the default"
DEVICELOGIN_PROFILE=../etc run 2 token --min-ttl 999999999
grep -q 'DEVICELOGIN_PROFILE names an invalid profile' "$work/err" || fail "bad DEVICELOGIN_PROFILE: $(cat "$work/err")"

# The fast path alone: a copy of the executable with no module beside it.
mkdir -p "$work/lonely/bin"
cp "$build/bin/devicelogin" "$work/lonely/bin/devicelogin"
got=$("$work/lonely/bin/devicelogin" token 2>/dev/null) || fail "the fast path did not serve the default profile"
[[ $got == "$work_token" ]] || fail "the fast path served another profile's token"
got=$(DEVICELOGIN_PROFILE=home "$work/lonely/bin/devicelogin" token 2>/dev/null) ||
  fail "the fast path did not serve DEVICELOGIN_PROFILE"
[[ $got == "$home_token" ]] || fail "the fast path ignored DEVICELOGIN_PROFILE"

run 0 logout --all
echo "profiles_test: profiles, use, DEVICELOGIN_PROFILE and the default in the module and the fast path"
