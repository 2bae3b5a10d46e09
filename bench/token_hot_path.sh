#!/usr/bin/env bash
# Times `devicelogin token` with a fresh cached token against its peer written in C, oidc-agent's
# `oidc-token`, and against an empty C program, all in ONE hyperfine run, and prints the median
# ratios and each command's peak RSS. Targets: devicelogin token <= 1.0x the empty (dynamically
# linked) C program and <= 0.6x oidc-token, peak RSS <= 2.0 MB, for the file and kernel-keyring
# stores, with the build-tree and an installed (`cmake --install`) binary. With valgrind installed
# it also prints the instruction counts (callgrind) of each against the empty C program: the same
# on a loaded machine, where the wall-clock medians are not. The same empty program linked
# statically (`bench_empty_c_static`) is timed beside them for reference: what exec, page faults
# and exit cost a static executable that does nothing, the floor `devicelogin token` stands on.
#
# Self-contained: installs hyperfine and oidc-agent-cli from Debian when missing, runs the test
# oidc-provider (tests/integration/oidc_server.mjs), an isolated oidc-agent whose account is made
# with `oidc-gen --flow=device` and approved by tests/integration/approve.mjs (no person), and
# devicelogin logins against the same provider. Everything lives under a temporary HOME.
#   bench/token_hot_path.sh [BUILD_DIR]    (default: build; RUNS=N overrides the 1000 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build=${1:-build}
runs=${RUNS:-1000}
bin=$build/devicelogin
empty_c=$build/bench_empty_c
[[ -x $bin && -x $empty_c ]] || { echo "bench: build first: cmake --build $build" >&2; exit 2; }

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v oidc-token >/dev/null || need+=(oidc-agent-cli)
[[ -x /usr/bin/time ]] || need+=(time)
bench_install "${need[@]}"
command -v node >/dev/null || { echo "bench: node is missing (scripts/setup-deps.sh --tests)" >&2; exit 2; }
node scripts/npm-ensure.mjs tests/integration >/dev/null

bench_home
cmake --install "$build" --prefix "$work/prefix" >/dev/null
installed=$work/prefix/bin/devicelogin

# The provider: the integration tests' oidc-provider, with a confidential client for oidc-gen.
bench_provider --auto-consent --bench-client
read -r issuer client_id bench_client bench_secret < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["issuer"], d["client_id"], d["bench_client_id"], d["bench_client_secret"])' "$work/provider.json")

# The baseline: an isolated oidc-agent (its own socket, config under $HOME) with one account.
# (Through a pipe: written straight to a file, its JSON is lost when it forks.)
oidc-agent --no-autoload --json </dev/null 2>/dev/null | cat >"$work/agent.json"
read -r agent_socket agent_pid < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); print(d["socket"], d["dpid"])' "$work/agent.json")
bench_pids+=("$agent_pid")
export OIDC_SOCK=$agent_socket
printf 'bench-only-password\n' >"$work/pw"
timeout 120 oidc-gen --flow=device --issuer="$issuer" --client-id="$bench_client" --client-secret="$bench_secret" \
  --scope="openid offline_access" --pw-file="$work/pw" --no-url-call --prompt=none --confirm-default \
  bench </dev/null >"$work/gen.out" 2>&1 &
gen_pid=$!
bench_approve_from "$work/gen.out"
wait "$gen_pid" || { echo "bench: oidc-gen failed: $(grep -av $'\e' "$work/gen.out" | tail -n2)" >&2; exit 1; }
oidc-token bench >/dev/null || { echo "bench: oidc-token does not answer" >&2; exit 1; }

# devicelogin: one login per store against the same provider; both binaries share HOME.
bench_login_stores "$bin" "$issuer" "$client_id"

commands=(-n "empty C program" "$empty_c")
# The floor for a static executable (exec, page faults, exit with nothing done), shown for reference.
[[ -x $build/bench_empty_c_static ]] && commands+=(-n "empty static C program" "$build/bench_empty_c_static")
commands+=(-n "oidc-token (oidc-agent $(oidc-token --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1))" "oidc-token bench")
for store in "${stores[@]}"; do
  "$bin" token --profile "bench-$store" >/dev/null
  "$installed" token --profile "bench-$store" >/dev/null
  commands+=(-n "devicelogin token ($store, build tree)" "$bin token --profile bench-$store")
  commands+=(-n "devicelogin token ($store, installed)" "$installed token --profile bench-$store")
done

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/result.json" "${commands[@]}" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Peak RSS of each command: the largest of 20 runs, as GNU time reports it (ru_maxrss of the child).
: >"$work/rss.tsv"
for ((i = 1; i < ${#commands[@]}; i += 3)); do
  read -ra argv <<<"${commands[i + 1]}"
  peak=0
  for _ in $(seq 20); do
    kib=$(/usr/bin/time -f %M "${argv[@]}" 2>&1 >/dev/null | tail -n1)
    if ((kib > peak)); then peak=$kib; fi
  done
  printf '%s\t%s\n' "${commands[i]}" "$peak" >>"$work/rss.tsv"
done

# Instructions (callgrind), which a loaded machine does not change: each devicelogin token against
# the empty C program, when valgrind is installed. Valgrind sets LD_PRELOAD (its own preload
# libraries) in the program's environment, on which the static executable hands every command to the
# full CLI (cli/fast_main.cpp): it runs a copy of the executable whose check reads another variable
# name (the same length, so nothing else moves).
: >"$work/instructions.tsv"
if command -v valgrind >/dev/null; then
  instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  counted=$work/devicelogin-for-callgrind
  sed 's/LD_PRELOAD/LD_PRELOAX/g' "$(readlink -f "$bin")" >"$counted"
  chmod +x "$counted"
  printf 'empty C program\t%s\n' "$(instructions "$empty_c")" >>"$work/instructions.tsv"
  if [[ -x $build/bench_empty_c_static ]]; then
    printf 'empty static C program\t%s\n' "$(instructions "$build/bench_empty_c_static")" >>"$work/instructions.tsv"
  fi
  for store in "${stores[@]}"; do
    # Counted only when the copy answers itself (it has no full CLI beside it to hand over to).
    if "$counted" token --profile "bench-$store" >/dev/null 2>&1; then
      printf 'devicelogin token (%s)\t%s\n' "$store" "$(instructions "$counted" token --profile "bench-$store")" >>"$work/instructions.tsv"
    fi
  done
fi

python3 - "$work/result.json" "$work/rss.tsv" "$work/instructions.tsv" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rss = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[2]))
by_name = {r["command"]: r for r in results}
empty = by_name["empty C program"]["median"]
agent = next(r for r in results if r["command"].startswith("oidc-token"))["median"]
static = by_name.get("empty static C program", {}).get("median")
print(f'| command | median ms | mean ms | x empty C | x oidc-token | x empty static C | peak RSS MB |')
print(f'|---|---|---|---|---|---|---|')
ok = True
for r in results:
    name, median = r["command"], r["median"]
    kib = int(rss[name])
    floor = f'{median/static:.2f}' if static else '-'
    print(f'| {name} | {median*1000:.3f} | {r["mean"]*1000:.3f} | {median/empty:.2f} | {median/agent:.2f} | {floor} | {kib/1024:.2f} |')
    if name.startswith("devicelogin token"):
        ok = ok and median <= 0.6 * agent and median <= empty and kib <= 2.0 * 1024
print("targets (devicelogin token <= 1.0x empty C, <= 0.6x oidc-token, peak RSS <= 2.0 MB):",
      "met" if ok else "NOT MET")
counts = [line.rstrip("\n").split("\t") for line in open(sys.argv[3]) if line.strip()]
if counts:
    empty_count = int(counts[0][1])
    print()
    print("| command | instructions (callgrind) | x empty C |")
    print("|---|---|---|")
    for name, count in counts:
        print(f"| {name} | {int(count):,} | {int(count)/empty_count:.2f} |")
else:
    print("(valgrind not installed: no instruction counts)")
PY
for store in "${stores[@]}"; do "$bin" logout --profile "bench-$store" >/dev/null 2>&1 || true; done
