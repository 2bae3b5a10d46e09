#!/usr/bin/env bash
# Checks too slow for every CI run (scripts/test.sh): run them before resolving a hardening change
# and before a release. Each prints one summary line; the exit status is 1 when any failed.
#   scripts/deep-checks.sh                 fuzzing (30 s per target) and ThreadSanitizer
#   FUZZ_MINUTES=10 scripts/deep-checks.sh a longer fuzzing round
# - fuzz: every libFuzzer target under ASan+UBSan (bench/fuzz.sh; details in build-fuzz/logs/).
# - tsan: the tsan preset (ThreadSanitizer) runs the lock and race tests: the store's lock tests,
#   the dev server's tests (its worker threads), the in-process session race, and the integration
#   races (32 `devicelogin token` processes) against the TSan-built binaries, for the file and
#   kernel-keyring stores. The Secret Service races are left out: uninstrumented GLib (futex-based
#   GMutex) makes TSan report ~90 races inside libgio per login, and the node harness does not pass
#   TSAN_OPTIONS (tests/tsan.supp) on to the CLI processes yet.
# - clang-tidy: clang-tidy-19 with the checked-in .clang-tidy over every translation unit of src/,
#   cli/ and devserver/ (the default preset's compile_commands.json); zero warnings expected
#   (details in build/clang-tidy.log). Installs clang-tidy-19 from Debian when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --tests >/dev/null || { echo "deep-checks: setup failed"; exit 1; }
node=$(scripts/ensure-node.sh) || { echo "deep-checks: no suitable node"; exit 1; }
[[ "$node" == "$(command -v node 2>/dev/null)" ]] || export PATH="$(dirname "$node"):$PATH"

failed=0
summary=()

fuzz_log=$(mktemp)
if bench/fuzz.sh "${FUZZ_MINUTES:-0.5}" >"$fuzz_log" 2>&1; then
  summary+=("fuzz: ok: $(grep -c '^fuzz ' "$fuzz_log") targets, $(awk '/^fuzz /{gsub(",","",$6); s+=$6} END {print s}' "$fuzz_log") executions, no crash")
else
  failed=1
  summary+=("fuzz: FAILED: $(grep -c 'FAILED' "$fuzz_log") targets crashed (build-fuzz/logs/)")
fi
cat "$fuzz_log"
rm -f "$fuzz_log"

tsan_log=build-tsan/ctest-races.log
mkdir -p build-tsan
if cmake --preset tsan -DDEVICELOGIN_NODE="$node" >/dev/null && cmake --build --preset tsan >/dev/null &&
   TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" ctest --preset tsan-races >"$tsan_log" 2>&1; then
  summary+=("tsan: ok: $(grep -E 'tests passed' "$tsan_log")")
else
  failed=1
  summary+=("tsan: FAILED: $(grep -E 'tests passed|tests failed' "$tsan_log" || echo 'build failed') (see $tsan_log)")
fi
tail -n 5 "$tsan_log" 2>/dev/null

tidy_log=build/clang-tidy.log
if ! command -v clang-tidy-19 >/dev/null || ! command -v run-clang-tidy-19 >/dev/null; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "clang-tidy: installing clang-tidy-19" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-tidy-19 >/dev/null
fi
# Configuring is enough: no file is generated at build time, so compile_commands.json is complete.
if cmake --preset default -DDEVICELOGIN_NODE="$node" >/dev/null; then
  tidy_files=$(python3 -c 'import json, re, sys
root = sys.argv[1] + "/"
print(len({e["file"] for e in json.load(open("build/compile_commands.json"))
           if re.match(re.escape(root) + "(src|cli|devserver)/", e["file"])}))' "$PWD")
  run-clang-tidy-19 -p build -j "$(nproc)" -quiet "^$PWD/(src|cli|devserver)/" >"$tidy_log" 2>&1
  tidy_status=$?
  # A header's warning is reported once per file including it: count distinct places.
  tidy_warnings=$(grep -E '^/[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$tidy_log" | sort -u | wc -l)
  if ((tidy_status == 0 && tidy_warnings == 0)); then
    summary+=("clang-tidy: ok: $tidy_files files, 0 warnings")
  else
    failed=1
    summary+=("clang-tidy: FAILED: $tidy_warnings warnings in $tidy_files files (see $tidy_log)")
    grep -E '^/[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$tidy_log" | sort -u | head -n 20
  fi
else
  failed=1
  summary+=("clang-tidy: FAILED: cmake --preset default failed")
fi

echo "== deep checks"
printf '%s\n' "${summary[@]}"
exit $failed
