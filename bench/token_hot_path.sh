#!/usr/bin/env bash
# Times `devicelogin token` with a fresh cached token against an empty C++ program, side by side
# in one hyperfine run, and prints the ratio (target: <= 2x). Also times a command that loads the
# full CLI module, to show what the fast path saves.
#   bench/token_hot_path.sh [BUILD_DIR]    (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/devicelogin
baseline=$build/bench_empty_cpp
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
[[ -x $bin && -x $baseline ]] || { echo "bench: build first: cmake --build $build" >&2; exit 2; }

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_STATE_HOME=$home/.local/state
for store in file kernel-keyring; do
  # A real login against the embedded server; the cached token stays valid for an hour.
  if ! "$bin" demo --auto-approve --exit --no-qr --store "$store" --profile "bench-$store" >/dev/null 2>"$home/login.err"; then
    echo "== store: $store: login failed, skipped: $(tail -n1 "$home/login.err")" >&2
    continue
  fi
  "$bin" token --profile "bench-$store" >/dev/null
  echo "== store: $store" >&2
  hyperfine -N --warmup 50 --runs 1000 --export-json "$home/result.json" \
    -n "empty C++ program" "$baseline" \
    -n "devicelogin token ($store)" "$bin token --profile bench-$store" \
    -n "devicelogin status (full CLI module)" "$bin status --profile bench-$store" >&2
  python3 - "$home/result.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
for r in results:
    print(f'{r["command"]:<40} mean {r["mean"]*1000:7.3f} ms  median {r["median"]*1000:7.3f} ms  ratio {r["mean"]/base:5.2f}x')
ratio = results[1]["mean"] / base
print(f'token hot path / empty C++ program = {ratio:.2f}x (target <= 2x): {"OK" if ratio <= 2 else "OVER TARGET"}')
PY
done
