#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/TARGET_fuzzer.cpp, built as build-fuzz/fuzz_TARGET) for MINUTES
# each, with ASan+UBSan, and prints one line per target: executions, coverage (edges and features),
# corpus size, crashes. A crash, leak or timeout is saved under build-fuzz/artifacts/TARGET/; copy
# it to fuzz/regressions/TARGET/ so that ctest replays it in the normal build (fuzz_replay_TARGET).
#   bench/fuzz.sh MINUTES [TARGET...]     e.g. bench/fuzz.sh 10, bench/fuzz.sh 0.5 jwks
# Installs clang-19 and its libFuzzer runtime from Debian when missing. Exit 0 when no target
# crashed, 1 otherwise, 2 on usage errors.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-}
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "usage: bench/fuzz.sh MINUTES [TARGET...]" >&2; exit 2; }
shift
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); print (s < 1 ? 1 : s) }')

missing=()
for package in clang-19 libclang-rt-19-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "fuzz: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/setup-deps.sh >/dev/null
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz >/dev/null

targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in build-fuzz/fuzz_*; do
    [[ -f "$binary" && -x "$binary" ]] && targets+=("${binary#build-fuzz/fuzz_}")
  done
fi
mkdir -p build-fuzz/logs

failed=0
for target in "${targets[@]}"; do
  binary=build-fuzz/fuzz_$target
  [[ -x "$binary" ]] || { echo "fuzz: no target $target" >&2; exit 2; }
  corpus=build-fuzz/corpus/$target
  artifacts=build-fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  log=build-fuzz/logs/$target.log
  # The work corpus grows across runs; the checked-in seeds are read, never written.
  status=0
  started=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$binary" "$corpus" "fuzz/corpus/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  ran=$(($(date +%s) - started))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  crashes=$(find "$artifacts" -type f | wc -l)
  verdict=ok
  if ((status != 0 || crashes > 0)); then verdict="FAILED (exit $status; see $log and $artifacts)"; failed=1; fi
  # The time it ran: a crash stops a target before its time is up.
  printf 'fuzz %-22s %ss of %ss: %s execs, cov %s, ft %s, corpus %s, crashes %s: %s\n' "$target" "$ran" "$seconds" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$verdict"
done
exit $failed
