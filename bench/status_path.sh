#!/usr/bin/env bash
# Times the slow path, the commands the `devicelogin` executable hands to the full CLI, for two
# builds side by side in ONE hyperfine run: `status` (file store and kernel keyring) and
# `--version` (the hand-off alone: no store, no network). Made to show that running the full CLI
# by exec (a static `devicelogin` that execve()s libexec/devicelogin/devicelogin-cli) is no slower
# than the layout before it (a dynamic `devicelogin` that dlopen()ed lib/devicelogin/devicelogin-cli.so):
# target, each command of NEW_BUILD <= 1.05x the same command of OLD_BUILD (medians).
# Both builds read the same profiles and tokens (one login per store, made with NEW_BUILD against
# `devicelogin serve` on 127.0.0.1), under a temporary HOME.
#   bench/status_path.sh OLD_BUILD_DIR [NEW_BUILD_DIR]    (default new: build; RUNS=N, default 1000;
#   ROUNDS=N, default 5)
# OLD_BUILD_DIR needs only devicelogin (a symlink or bin/devicelogin) and what it loads, laid out
# as built (bin/, lib/devicelogin/), e.g. a copy of a build of the earlier commit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[[ $# -ge 1 ]] || { echo "usage: bench/status_path.sh OLD_BUILD_DIR [NEW_BUILD_DIR]" >&2; exit 2; }
old=$1
new=${2:-build}
runs=${RUNS:-1000}
old_bin=$old/devicelogin
new_bin=$new/devicelogin
[[ -x $old_bin && -x $new_bin ]] || { echo "bench: $old_bin or $new_bin is missing" >&2; exit 2; }
command -v hyperfine >/dev/null || bench_install hyperfine

bench_home
bench_serve "$new_bin"

commands=()
for store in file kernel-keyring; do
  "$new_bin" login --profile "bench-$store" --issuer "$issuer" --client-id devicelogin-demo --store "$store" --no-browser \
    --no-qr </dev/null >/dev/null 2>"$work/login.err" || { echo "bench: login ($store) failed: $(tail -n1 "$work/login.err")" >&2; exit 1; }
  for side in old new; do
    bin_var=${side}_bin
    "${!bin_var}" status --profile "bench-$store" >/dev/null 2>&1 ||
      { echo "bench: $side status ($store) failed" >&2; exit 1; }
    commands+=(-n "status ($store), $side" "${!bin_var} status --profile bench-$store")
  done
done
commands+=(-n "version, old" "$old_bin --version" -n "version, new" "$new_bin --version")

# Load from other work drifts over a run, and hyperfine times its commands one after the other;
# so the runs are split into ROUNDS rounds (default 5) in alternating order, and each command's
# median is taken over all its runs.
rounds=${ROUNDS:-5}
reversed=()
for ((i = ${#commands[@]} - 3; i >= 0; i -= 3)); do reversed+=("${commands[@]:i:3}"); done
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=("${commands[@]}"); else order=("${reversed[@]}"); fi
  hyperfine -N --warmup 20 --runs $(((runs + rounds - 1) / rounds)) --export-json "$work/result-$round.json" "${order[@]}" >&2
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$work"/result-*.json <<'PY'
import json, statistics, sys
times = {}
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
median = {name: statistics.median(t) for name, t in times.items()}
print("| command | old median ms | new median ms | new / old |")
print("|---|---|---|---|")
ok = True
for name in [n[: -len(", old")] for n in median if n.endswith(", old")]:
    old, new = median[name + ", old"], median[name + ", new"]
    ok = ok and new <= 1.05 * old
    print(f"| {name} | {old*1000:.3f} | {new*1000:.3f} | {new/old:.2f} |")
print(f"runs per command: {len(next(iter(times.values())))}, in alternating rounds")
print("target (new <= 1.05x old, each command):", "met" if ok else "NOT MET")
PY
