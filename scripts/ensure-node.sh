#!/usr/bin/env bash
# Prints the path of a Node.js new enough for the tests and benches, on stdout, and nothing else.
# The system's `node` is used when it is at least $min_version (oidc-provider 9 calls
# crypto.hash(), which Node 20.12 introduced; Debian 12's own nodejs is 18.19). Otherwise the
# official Node binary of version $node_version is fetched from the npm registry (the package
# node-linux-<arch>, which carries the upstream release's bin/node) with whatever `npm` exists
# (Debian's npm runs on Debian's Node 18), into
#   ${XDG_CACHE_HOME:-~/.cache}/devicelogin/node-$node_version/bin/node
# The system's node is never replaced or modified. Idempotent: a cached binary of the right
# version is reused without asking the registry. Remove the directory to remove the fetched Node.
#   scripts/ensure-node.sh
#   DEVICELOGIN_FORCE_NODE_FETCH=1 scripts/ensure-node.sh   treat the system node as too old
# Exit: 0 with the path printed; 1 when no suitable node can be had (the reason on stderr).
set -euo pipefail

min_version=20.12.0
node_version=22.23.5
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/devicelogin
target=$cache_root/node-$node_version

say() { echo "ensure-node: $*" >&2; }

# True when version $1 >= version $2 (dotted numbers).
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

node_version_of() {
  "$1" -p 'process.versions.node' 2>/dev/null
}

if [[ "${DEVICELOGIN_FORCE_NODE_FETCH:-0}" != 1 ]] && system_node=$(command -v node 2>/dev/null); then
  if found=$(node_version_of "$system_node") && version_at_least "$found" "$min_version"; then
    echo "$system_node"
    exit 0
  fi
  say "the system's node ($system_node, ${found:-unknown version}) is older than $min_version; using Node $node_version"
fi

if [[ -x "$target/bin/node" && "$(node_version_of "$target/bin/node")" == "$node_version" ]]; then
  echo "$target/bin/node"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
  *) say "no Node $node_version package for this machine's architecture ($(uname -m)); install Node >= $min_version"; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node $node_version (Debian: apt-get install npm)"; exit 1; }

say "fetching Node $node_version (npm package node-linux-$arch) into $target"
mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity hash; its own cache stays in $work.
if ! (cd "$work" && npm pack --silent --cache "$work/npm-cache" "node-linux-$arch@$node_version" >/dev/null); then
  say "npm could not fetch node-linux-$arch@$node_version from the npm registry"
  exit 1
fi
tar -xzf "$work/node-linux-$arch-$node_version.tgz" -C "$work" package/bin/node package/LICENSE
got=$(node_version_of "$work/package/bin/node" || true)
if [[ "$got" != "$node_version" ]]; then
  say "the fetched node reports version '${got}', not $node_version; nothing installed"
  exit 1
fi
rm -rf "$target"
mv "$work/package" "$target"
echo "$target/bin/node"
