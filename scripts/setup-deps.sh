#!/usr/bin/env bash
# Installs what building and testing devicelogin needs on Debian 12, idempotently: Debian
# packages only when one is missing (apt-get update runs only then), and the test-only npm
# packages from tests/integration/package-lock.json.
#   scripts/setup-deps.sh            build dependencies
#   scripts/setup-deps.sh --tests    plus test dependencies (GoogleTest, Node.js, npm packages)
# A test-only runtime that a fresh Debian 12 lacks or has too old is fetched here too, from Debian
# or npm, into a cache outside the system (Node.js: scripts/ensure-node.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# libsystemd-dev: the audit trail's systemd journal copy (optional: without it, the file only).
# python3-dev: the headers of the Python package's native token hot path (python/CMakeLists.txt;
# without them that module is not built and the package always goes through the C ABI).
build_packages=(g++ cmake ninja-build pkg-config libcurl4-openssl-dev libssl-dev libsodium-dev nlohmann-json3-dev
  libcli11-dev libqrencode-dev libcpp-httplib-dev libsecret-1-dev libkeyutils-dev python3-dev libsystemd-dev)
# Tests: GoogleTest (and Google Benchmark for bench/dpop_proof.cpp); a real Secret Service (dbus + gnome-keyring, see scripts/with-keyring.sh);
# Debian's Chromium for the browser test; hyperfine, wrk, GNU time and oidc-agent-cli (the
# baseline of bench/token_hot_path.sh) for bench/; tmux, zbar-tools and python3 for the terminal
# test (tests/terminal); openssl and ca-certificates for the --ca-file tests; faketime for the
# clock-skew tests; groff-base, zsh and fish for the generated man page and completions
# (tests/install/docs_test.sh); python3-pytest and python3-venv for the Python package
# (python/tests); python3-build, python3-setuptools, python3-wheel and python3-wheel-whl to build
# its wheel offline and pip-install ./python in a venv (python/wheel_test.sh), python3-requests
# and python3-httpx for its auth adapters, mypy for `mypy --strict` on the examples; git (with git-http-backend) for the git credential helper test; dpkg-dev
# (dpkg-shlibdeps) for the .deb test; skopeo, the real client of the docker credential helper test;
# strace, which records the argv of every program the git, api and kubectl suites start; passwd
# (useradd) and util-linux + mount (unshare, mount --bind) for the policy suite's user and namespace;
# openssh-server and openssh-client for the token agent suite (a real sshd on a loopback port, ssh -R forwarding);
# systemd for its socket activation (systemd-socket-activate starts the agent as a socket unit would,
# systemd-analyze verify reads the units `agent --enable` writes); python3-dbus and python3-gi for the
# agent's desktop confirmation test (a notification server on a private dbus-daemon).
test_packages=(libgtest-dev libbenchmark-dev dbus gnome-keyring chromium hyperfine wrk keyutils time oidc-agent-cli tmux zbar-tools
  python3 python3-pytest python3-venv python3-build python3-setuptools python3-wheel python3-wheel-whl
  python3-requests python3-httpx mypy openssl ca-certificates faketime groff-base zsh fish git dpkg-dev skopeo strace
  passwd util-linux mount openssh-server openssh-client systemd python3-dbus python3-gi)
packages=("${build_packages[@]}")
with_tests=0
if [[ "${1:-}" == "--tests" ]]; then
  with_tests=1
  packages+=("${test_packages[@]}")
  # Debian's node and npm only when there are none: they run npm, which fetches a Node new enough
  # for the tests when the system's is too old (scripts/ensure-node.sh); a newer node is kept.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  # kubectl for the kubectl plugin test: the one that exists (this image's google-cloud-cli ships
  # 1.32); Debian's kubernetes-client (1.20) only when there is none, since the two conflict.
  command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ((with_tests)); then
  node=$(scripts/ensure-node.sh)
  [[ "$node" == "$(command -v node)" ]] || export PATH="$(dirname "$node"):$PATH"
  "$node" scripts/npm-ensure.mjs tests/integration
  "$node" scripts/npm-ensure.mjs tests/browser
fi
