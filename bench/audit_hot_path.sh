#!/usr/bin/env bash
# The audit trail's cost on `devicelogin token`'s hot path: the same `token` with a fresh cached
# token, by this build (which appends one audit line per hand-out) and by a BASELINE executable
# without the audit trail, for the file and kernel-keyring stores, in ONE hyperfine run. Prints the
# median ratio per store (the target is at most 1.05, 5 %) and, with valgrind installed, the ratio
# of instructions (callgrind), which a loaded machine does not change. Both executables read the
# same profile and token under a temporary HOME, and the audit file grows as it would in use
# (rotated at 960 KiB). The default baseline is the build's `bench_token_without_audit` target
# (cli/CMakeLists.txt: the same executable whose fast path records nothing), built here.
#   bench/audit_hot_path.sh [BASELINE_EXECUTABLE [BUILD_DIR]]   (RUNS=N overrides the 1000 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build=${2:-build}
runs=${RUNS:-1000}
bin=$build/devicelogin
if [[ -n ${1:-} ]]; then
  baseline=$1
else
  cmake --build "$build" --target bench_token_without_audit >/dev/null
  baseline=$build/bin/bench_token_without_audit
fi
[[ -x $bin && -x $baseline ]] || { echo "bench: build first: cmake --build $build (and the baseline)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (scripts/setup-deps.sh --tests)" >&2; exit 2; }
node scripts/npm-ensure.mjs tests/integration >/dev/null

bench_home

bench_provider --auto-consent
read -r issuer client_id < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); print(d["issuer"], d["client_id"])' "$work/provider.json")

bench_login_stores "$bin" "$issuer" "$client_id"

commands=()
for store in "${stores[@]}"; do
  "$bin" token --profile "bench-$store" >/dev/null
  "$baseline" token --profile "bench-$store" >/dev/null
  commands+=(-n "with audit ($store)" "$bin token --profile bench-$store")
  commands+=(-n "without audit ($store)" "$baseline token --profile bench-$store")
done
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/result.json" "${commands[@]}" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== audit file: $(wc -l <"$XDG_STATE_HOME/devicelogin/audit.jsonl") lines" >&2

# Instructions (callgrind) of each, when valgrind is installed. Valgrind sets LD_PRELOAD, on which
# the executable hands every command to the full CLI: counted copies read another variable name
# (of the same length), as bench/token_hot_path.sh does.
: >"$work/instructions.tsv"
if command -v valgrind >/dev/null; then
  for which in bin baseline; do
    sed 's/LD_PRELOAD/LD_PRELOAX/g' "$(readlink -f "${!which}")" >"$work/counted-$which"
    chmod +x "$work/counted-$which"
  done
  for store in "${stores[@]}"; do
    for which in bin baseline; do
      # Counted only when the copy answers itself (it has no full CLI beside it to hand over to).
      "$work/counted-$which" token --profile "bench-$store" >/dev/null 2>&1 || continue
      count=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/counted-$which" token --profile "bench-$store" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
      printf '%s\t%s\t%s\n' "$store" "$which" "$count" >>"$work/instructions.tsv"
    done
  done
fi

python3 - "$work/result.json" "$work/instructions.tsv" "${stores[@]}" <<'PY'
import json, sys
by_name = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
print("| store | with audit, median ms | without, median ms | ratio |")
print("|---|---|---|---|")
ok = True
for store in sys.argv[3:]:
    on, off = by_name[f"with audit ({store})"]["median"], by_name[f"without audit ({store})"]["median"]
    print(f"| {store} | {on*1000:.3f} | {off*1000:.3f} | {on/off:.3f} |")
    ok = ok and on <= 1.05 * off
print("target (with audit <= 1.05x without):", "met" if ok else "NOT MET")
counts = {}
for line in open(sys.argv[2]):
    if line.strip():
        store, which, count = line.rstrip("\n").split("\t")
        counts[(store, which)] = int(count)
if counts:
    print()
    print("| store | with audit, instructions | without | ratio |")
    print("|---|---|---|---|")
    for store in sys.argv[3:]:
        on, off = counts.get((store, "bin")), counts.get((store, "baseline"))
        if on and off:
            print(f"| {store} | {on:,} | {off:,} | {on/off:.3f} |")
PY
for store in "${stores[@]}"; do "$bin" logout --profile "bench-$store" >/dev/null 2>&1 || true; done
