#!/usr/bin/env bash
# Checks too slow for every CI run (scripts/test.sh): run them before resolving a hardening change
# and before a release. Each prints one summary line; the exit status is 1 when any failed.
#   scripts/deep-checks.sh                 fuzzing (30 s per target) and ThreadSanitizer
#   FUZZ_MINUTES=10 scripts/deep-checks.sh a longer fuzzing round
# - fuzz: every libFuzzer target under ASan+UBSan (bench/fuzz.sh; details in build-fuzz/logs/).
# - tsan: the tsan preset (ThreadSanitizer) runs the lock and race tests: the store's lock tests,
#   the dev server's tests (its worker threads), the in-process session race, and the integration
#   races (32 `devicelogin token` processes) against the TSan-built binaries.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --tests >/dev/null || { echo "deep-checks: setup failed"; exit 1; }
node=$(scripts/ensure-node.sh) || { echo "deep-checks: no suitable node"; exit 1; }
[[ "$node" == "$(command -v node 2>/dev/null)" ]] || export PATH="$(dirname "$node"):$PATH"

failed=0
summary=()

fuzz_log=$(mktemp)
if bench/fuzz.sh "${FUZZ_MINUTES:-0.5}" >"$fuzz_log" 2>&1; then
  summary+=("fuzz: ok: $(grep -c '^fuzz ' "$fuzz_log") targets, $(awk '/^fuzz /{gsub(",","",$4); s+=$4} END {print s}' "$fuzz_log") executions, no crash")
else
  failed=1
  summary+=("fuzz: FAILED: $(grep -c 'FAILED' "$fuzz_log") targets crashed (build-fuzz/logs/)")
fi
cat "$fuzz_log"
rm -f "$fuzz_log"

tsan_log=build-tsan/ctest-races.log
mkdir -p build-tsan
if cmake --preset tsan -DDEVICELOGIN_NODE="$node" >/dev/null && cmake --build --preset tsan >/dev/null &&
   TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan-races >"$tsan_log" 2>&1; then
  summary+=("tsan: ok: $(grep -E 'tests passed' "$tsan_log")")
else
  failed=1
  summary+=("tsan: FAILED: $(grep -E 'tests passed|tests failed' "$tsan_log" || echo 'build failed') (see $tsan_log)")
fi
tail -n 5 "$tsan_log" 2>/dev/null

echo "== deep checks"
printf '%s\n' "${summary[@]}"
exit $failed
