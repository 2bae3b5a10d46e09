#!/usr/bin/env bash
# Compiles tests/install/capi_test.c as C99 with -Wall -Wextra -Werror against
# include/devicelogin/devicelogin.h and the built libdevicelogin.so, then runs it against
# `devicelogin serve` on 127.0.0.1: the whole flow (auto-approved), an expired code, a cancelled
# login and a denied one (Deny pressed on the approval page by tests/integration/approve_devserver.mjs),
# and a DPoP-bound login against `serve --dpop-nonce` (proofs, nonces, status jkt).
#   capi_test.sh SOURCE_DIR LIBRARY DEVICELOGIN_EXE
set -euo pipefail
src=$1 library=$2 exe=$3
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "capi_test: $*" >&2; exit 1; }

gcc -std=c99 -Wall -Wextra -Werror -pthread -I"$src/include" "$src/tests/install/capi_test.c" \
  -o "$work/capi_test" -L"$(dirname "$library")" -ldevicelogin -Wl,-rpath,"$(dirname "$library")"

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
# serve NAME ARGS...: starts a dev server, sets $issuer.
serve() {
  local name=$1; shift
  "$exe" serve --port 0 "$@" > "$work/$name.out" 2>/dev/null &
  pids+=($!)
  while [[ ! -s $work/$name.out ]] && kill -0 "${pids[-1]}" 2>/dev/null; do sleep 0.1; done  # until it printed or died (no count of tries: a loaded machine may be slow; ctest's timeout bounds it)
  issuer=$(head -n1 "$work/$name.out")
  [[ $issuer == http://127.0.0.1:* ]] || fail "serve ($name) printed no issuer"
}

serve approve --auto-approve=1 --interval 1
timeout 60 "$work/capi_test" flow "$issuer"
serve expire --code-ttl 3 --interval 1
timeout 60 "$work/capi_test" expired "$issuer"
serve pending --interval 1
timeout 60 "$work/capi_test" cancel "$issuer"
cat > "$work/deny.sh" <<DENY
#!/bin/sh
exec node "$src/tests/integration/approve_devserver.mjs" "\$1" "\$2" --deny
DENY
chmod +x "$work/deny.sh"
timeout 60 "$work/capi_test" denied "$issuer" "$work/deny.sh"
serve dpop --auto-approve=1 --interval 1 --dpop-nonce
timeout 60 "$work/capi_test" dpop "$issuer"
echo "capi_test: C99 program signed in, refreshed, called userinfo, logged out; expired 4, cancelled 130, denied 3, not logged in 5; DPoP-bound login with proofs and nonces"
