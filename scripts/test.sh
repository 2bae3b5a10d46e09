#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs the unit and integration tests under
# ASan+UBSan, then the whole suite (unit + integration against oidc-provider and devicelogin serve)
# on the normal build. The last line printed is ctest's summary.
#   scripts/test.sh              everything
#   SKIP_ASAN=1 scripts/test.sh  skip the sanitizer stage (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --tests
# A Node.js new enough for the tests: the system's, or one fetched into ~/.cache/devicelogin.
node=$(scripts/ensure-node.sh)
[[ "$node" == "$(command -v node 2>/dev/null)" ]] || export PATH="$(dirname "$node"):$PATH"
echo "== node: $node ($("$node" --version))" >&2

if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  echo "== stage 1: unit tests with AddressSanitizer + UndefinedBehaviorSanitizer" >&2
  cmake --preset asan -DDEVICELOGIN_NODE="$node" >/dev/null
  cmake --build --preset asan
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset asan-unit
  # The integration suites against the sanitized binaries too (every CLI process they start runs
  # under ASan+UBSan with leak detection). Not the install example (an uninstrumented program
  # linking the instrumented library) nor the fetched-Node check (it tests Node, not our code).
  # The clock suites preload libfaketime, so ASan cannot be first in the library list: it is told
  # not to insist (faketime only interposes time functions).
  echo "== stage 1b: integration tests against the ASan+UBSan binaries" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --preset asan-integration
fi

echo "== stage 2: every test on the release build" >&2
cmake --preset default -DDEVICELOGIN_NODE="$node" >/dev/null
cmake --build --preset default
ctest --preset default
