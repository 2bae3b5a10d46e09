#!/usr/bin/env bash
# Runs the Python package's tests (pytest from Debian's python3-pytest) with Debian's interpreter,
# /usr/bin/python3 (a pyenv python3 may come first on PATH; a fresh Debian has only this one).
#   run.sh SOURCE_DIR LIBRARY DEVICELOGIN_EXE [pytest args...]
#     the source tree's package (python/devicelogin), with LIBRARY as its native library;
#   run.sh --wheel SOURCE_DIR BUILD_DIR LIBRARY DEVICELOGIN_EXE [pytest args...]
#     builds the wheel from BUILD_DIR (python/setup.py), offline, installs it with pip into a fresh
#     venv and runs the tests from there: the installed package, with its own library and hot path
#     (and python/tests/test_wheel.py, which checks the wheel itself, as well). LIBRARY, the build's
#     libdevicelogin.so, is what the source tree's package uses in the tests that start one.
set -euo pipefail
wheel=0 build=
if [[ $1 == --wheel ]]; then
  wheel=1 build=$(cd "$3" && pwd)
  set -- "$2" "${@:4}"
fi
src=$1 library=$2 exe=$3
shift 3
export DEVICELOGIN_SOURCE=$src DEVICELOGIN_EXE=$exe
# --assert=plain: no assertion introspection, which would print the compared values (tokens) in a
# failure's output; failures show the assert's source line and its message only.
pytest_args=(-q -p no:cacheprovider --assert=plain "$src/python/tests")
if ((!wheel)); then
  export DEVICELOGIN_LIBRARY=$library
  exec /usr/bin/python3 -m pytest "${pytest_args[@]}" --ignore="$src/python/tests/test_wheel.py" "$@"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset DEVICELOGIN_LIBRARY LD_LIBRARY_PATH PYTHONPATH
DEVICELOGIN_BUILD_DIR=$build /usr/bin/python3 -m build --no-isolation --wheel --outdir "$work/dist" \
  "$src/python" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
# The venv sees Debian's packages (pytest, requests, httpx) behind its own site-packages, where pip
# installs the wheel; python/tests/test_wheel.py installs it again into a venv that sees nothing.
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-index --no-deps "$work/dist"/devicelogin-*.whl
export DEVICELOGIN_PYTHON_INSTALLED=1 DEVICELOGIN_BUILD_DIR=$build
export DEVICELOGIN_WHEEL=$(echo "$work/dist"/devicelogin-*.whl)
export DEVICELOGIN_BUILD_LIBRARY=$library
# From the work directory: nothing of the source tree is on sys.path (pytest puts python/tests,
# the conftest's, there; conftest.py checks that the package comes from the venv).
cd "$work"
"$work/venv/bin/python" -m pytest "${pytest_args[@]}" "$@"
