#!/usr/bin/env bash
# Runs the Python package's tests (pytest from Debian's python3-pytest) with Debian's interpreter,
# /usr/bin/python3 (a pyenv python3 may come first on PATH; a fresh Debian has only this one).
#   run.sh SOURCE_DIR LIBRARY DEVICELOGIN_EXE [pytest args...]
set -euo pipefail
src=$1 library=$2 exe=$3
shift 3
export DEVICELOGIN_SOURCE=$src DEVICELOGIN_LIBRARY=$library DEVICELOGIN_EXE=$exe
# --assert=plain: no assertion introspection, which would print the compared values (tokens) in a
# failure's output; failures show the assert's source line and its message only.
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider --assert=plain "$src/python/tests" "$@"
