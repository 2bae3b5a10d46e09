#!/usr/bin/env bash
# Runs a GoogleTest binary that holds several tests in one ctest (or a command that runs one,
# e.g. scripts/with-keyring.sh BIN --gtest_filter=...) and turns its result into an exit code that
# cannot hide a failure behind a skip (ctest's SKIP_REGULAR_EXPRESSION would win over the exit
# code):
#   1   the command failed, or no test ran, or (under CI: env CI set, not "false"/"0") a test was
#       skipped or the command exited 77 (with-keyring.sh could not start the keyring);
#   77  nothing failed but a test was skipped, or the command exited 77 (not under CI): ctest's
#       SKIP_RETURN_CODE shows it as Skipped;
#   0   every test ran and passed.
# The last line printed is one summary line: "gtest-group: RESULT (...)".
#   scripts/run-gtest.sh CMD [ARG...]
set -uo pipefail

if (($# == 0)); then
  echo "usage: run-gtest.sh CMD [ARG...]" >&2
  exit 2
fi
ci=false
case "${CI:-}" in "" | false | 0) ;; *) ci=true ;; esac

out=$(mktemp "${TMPDIR:-/tmp}/run-gtest.XXXXXX")
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$out" | tail -n1)
skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$out" | tail -n1)
skipped=${skipped:-0}
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$out" | tail -n1)
counts="ran ${ran:-?}, passed ${passed:-?}, skipped $skipped, exit $status$([[ $ci == true ]] && echo ', CI')"

verdict() {
  echo "gtest-group: $1 ($counts)"
  exit "$2"
}
if ((status == 77)); then
  [[ $ci == true ]] && verdict "FAILED (the environment could not be provided; under CI this must work)" 1
  verdict "SKIPPED (the environment could not be provided)" 77
fi
((status != 0)) && verdict "FAILED" 1
[[ -z "$ran" || "$ran" == 0 ]] && verdict "FAILED (no test ran)" 1
if ((skipped > 0)); then
  [[ $ci == true ]] && verdict "FAILED (skipped under CI)" 1
  verdict "SKIPPED" 77
fi
verdict "PASSED" 0
