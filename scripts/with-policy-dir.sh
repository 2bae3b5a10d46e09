#!/usr/bin/env bash
# Runs a command in a private mount namespace where /etc/devicelogin (the directory of the machine
# policy, whose path is fixed at build time) is a fresh root-owned directory of its own, so that a
# test can write and change the policy without touching the machine's, and without disturbing
# other tests running at the same time. Exits with the command's exit code.
#   scripts/with-policy-dir.sh CMD [ARG...]
# Inside, WITH_POLICY_DIR names that directory (writable by root through either path).
# Needs root (unshare --mount, mount --bind; util-linux). When it cannot set this up it prints the
# reason and exits 77, which ctest counts as skipped (and CI as failed).
# /etc/devicelogin is created (empty, root's, 0755) as the mount point when missing: an empty
# directory there is no policy.
set -euo pipefail

readonly skip_code=77

if (($# == 0)); then
  echo "usage: with-policy-dir.sh CMD [ARG...]" >&2
  exit 2
fi

if [[ "$1" == "--inside-namespace" ]]; then
  shift
  mount --bind "$WITH_POLICY_DIR" /etc/devicelogin
  exec "$@"
fi

if [[ "$(id -u)" != 0 ]]; then
  echo "with-policy-dir: skipped: needs root for a private mount namespace" >&2
  exit "$skip_code"
fi
if ! command -v unshare >/dev/null || ! command -v mount >/dev/null; then
  echo "with-policy-dir: skipped: needs unshare and mount (util-linux)" >&2
  exit "$skip_code"
fi

dir=$(mktemp -d /tmp/devicelogin-policy.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
mkdir -p /etc/devicelogin
status=0
WITH_POLICY_DIR="$dir" unshare --mount --propagation private "$0" --inside-namespace "$@" || status=$?
exit "$status"
