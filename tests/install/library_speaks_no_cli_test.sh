#!/usr/bin/env bash
# No library message names the devicelogin command or one of its flags; the library gives
# a remedy and the CLI renders it (cli/output.cpp render_error). Scans the string literals of src/
# (comments excluded) for "devicelogin <command>" and for "--flag".
#   library_speaks_no_cli_test.sh SOURCE_DIR
set -euo pipefail
src=$1
hits=$(grep -rnE '"[^"]*(devicelogin (login|token|logout|status|refresh|serve|demo|exec|api)\b|(^|[ (])--[a-z][a-z-]+)[^"]*"' \
  "$src/src" | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
if [[ -n $hits ]]; then
  echo "library_speaks_no_cli: library messages name the CLI:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "library_speaks_no_cli: no string in src/ names a devicelogin command or flag"
