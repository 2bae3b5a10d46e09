#!/usr/bin/env bash
# The main job: builds devicelogin (installing what it needs) and runs the whole device login
# against the embedded development server. Extra arguments go to `devicelogin demo`
# (e.g. --auto-approve for an unattended run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default >/dev/null
exec build/devicelogin demo "$@"
