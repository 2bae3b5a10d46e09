#!/usr/bin/env bash
# Installs devicelogin into a temporary prefix, builds examples/ against it with
# find_package(devicelogin), and runs the example's login and API call against `devicelogin serve`.
#   example_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/example" >/dev/null
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
"$work/prefix/bin/devicelogin" serve --port 0 --auto-approve=1 --interval 1 > "$work/serve.out" 2>/dev/null &
server_pid=$!
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done  # until it printed or died (no count of tries: a loaded machine may be slow; ctest's timeout bounds it)
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || { echo "example_test: serve printed no issuer" >&2; exit 1; }
timeout 60 "$work/example/todo_cli" login "$issuer"
out=$(timeout 30 "$work/example/todo_cli" whoami)
echo "$out" | grep -q '"sub":"alice"' || { echo "example_test: whoami did not return alice's userinfo" >&2; exit 1; }
# The installed CLI sees the same session as the example that created it.
"$work/prefix/bin/devicelogin" status --profile todo >/dev/null
# Nothing of the login was lost: the profile was saved with the JWKS that verified the ID token.
/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); sys.exit(0 if p.get("jwks_cache") else 1)' \
  "$XDG_CONFIG_HOME/devicelogin/profiles/todo.json" \
  || { echo "example_test: the saved profile has no JWKS cache" >&2; exit 1; }
timeout 30 "$work/example/todo_cli" logout
status=0
"$work/prefix/bin/devicelogin" status --profile todo >/dev/null 2>&1 || status=$?
[[ $status == 5 ]] || { echo "example_test: after logout, status exited $status, not 5" >&2; exit 1; }
status=0
timeout 30 "$work/example/todo_cli" whoami >/dev/null 2>&1 || status=$?
[[ $status == 5 ]] || { echo "example_test: whoami after logout exited $status, not 5" >&2; exit 1; }
echo "example_test: installed package, built the example (-Wall -Wextra -Werror), signed in, called userinfo, logged out"
