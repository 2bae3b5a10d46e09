#!/usr/bin/env bash
# Makes a virtual environment with the devicelogin Python package, offline, from Debian packages
# only (python3-venv, python3-build, python3-setuptools, python3-wheel; no PyPI): builds the wheel
# from a CMake build tree (python/setup.py) and installs it with pip. The wheel carries the
# library (libdevicelogin.so.0, the C ABI only) and the token hot path (_fast.abi3.so), so
# `import devicelogin` works in VENV with no LD_LIBRARY_PATH.
#   scripts/python-venv.sh VENV [BUILD_DIR]      (BUILD_DIR: default build/)
# Uses Debian's /usr/bin/python3 (a pyenv python3 earlier on PATH is not used).
set -euo pipefail
venv=$1
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${2:-$src/build}" && pwd)
[[ -f $build/CMakeCache.txt ]] || { echo "python-venv: no CMake build at $build (build it first)" >&2; exit 2; }
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
DEVICELOGIN_BUILD_DIR=$build /usr/bin/python3 -m build --no-isolation --wheel --outdir "$dist" "$src/python" \
  >"$dist/log" 2>&1 || { cat "$dist/log" >&2; exit 1; }
/usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-index --force-reinstall "$dist"/devicelogin-*.whl
"$venv/bin/python" -c 'import devicelogin; print("devicelogin", devicelogin.__version__, "in", devicelogin.__file__)'
