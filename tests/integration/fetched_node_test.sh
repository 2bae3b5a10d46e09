#!/usr/bin/env bash
# Proves the test command's "system node too old" path (Debian 12's node is too old):
# scripts/ensure-node.sh, forced to treat the system's node as too old, fetches Node 22 from the npm
# registry into the user's cache (or reuses it), a second call reuses it without fetching, the
# system's node is left as it was, and an integration suite (cli_flow against oidc-provider, which
# needs Node >= 20.12) passes on the fetched Node.
#   DEVICELOGIN_BIN=... tests/integration/fetched_node_test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fail() { echo "fetched_node_test: FAIL: $*" >&2; exit 1; }

system_node=$(command -v node 2>/dev/null || true)
system_sum=""
[[ -z "$system_node" ]] || system_sum=$(sha256sum "$(readlink -f "$system_node")")

node=$(DEVICELOGIN_FORCE_NODE_FETCH=1 "$root/scripts/ensure-node.sh") || fail "ensure-node.sh failed"
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/devicelogin
[[ "$node" == "$cache_root"/node-*/bin/node ]] || fail "the forced path gave '$node', not a node under $cache_root"
[[ "$node" != "$system_node" ]] || fail "the forced path returned the system's node"
version=$("$node" --version)
[[ "$version" == v22.* ]] || fail "the fetched node is $version, not Node 22"

# Idempotent: the second call asks no registry and prints the same path.
again_err=$(mktemp)
trap 'rm -f "$again_err"' EXIT
again=$(DEVICELOGIN_FORCE_NODE_FETCH=1 "$root/scripts/ensure-node.sh" 2>"$again_err")
[[ "$again" == "$node" ]] || fail "second call gave '$again', first '$node'"
! grep -q fetching "$again_err" || fail "second call fetched again: $(cat "$again_err")"

if [[ -n "$system_node" ]]; then
  [[ "$(command -v node)" == "$system_node" ]] || fail "the system's node moved on PATH"
  [[ "$(sha256sum "$(readlink -f "$system_node")")" == "$system_sum" ]] || fail "the system's node changed"
fi

echo "fetched_node_test: running cli_flow against oidc-provider on $node ($version)" >&2
# Through the suite runner, on the fetched node (it runs the suite with its own executable), so a
# failure or a skip here fails as it does for every other suite.
PATH="$(dirname "$node"):$PATH" DEVICELOGIN_SERVERS=oidc-provider \
  "$node" "$root/scripts/run-node-suite.mjs" --name integration_fetched_node_flow -- "$here/cli_flow.test.mjs"
