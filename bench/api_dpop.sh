#!/usr/bin/env bash
# What DPoP adds to `api`: `devicelogin api <userinfo>` for a DPoP profile and for a Bearer profile
# of the same `devicelogin serve` on 127.0.0.1, timed in ONE hyperfine run (alternating rounds),
# then the ratio of the medians. Target: DPoP / Bearer <= 1.10. Both ask the server's userinfo
# endpoint, which checks the DPoP proof (signature, htm, htu, ath, jti) for the DPoP profile, so
# the ratio includes the server's side of DPoP too. Under a temporary HOME.
# It also counts the instructions (valgrind's callgrind) each `api` executes, the static
# executable and the full CLI it hands over to: the client's side only, and the same on a loaded
# machine, where the wall and CPU times are not (the median of COUNTS=N runs each, default 3).
# Self-contained: installs hyperfine and valgrind from Debian when missing.
#   bench/api_dpop.sh [BUILD_DIR]    (default build; RUNS=N, default 300; ROUNDS=N, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build=${1:-build}
bin=$build/devicelogin
runs=${RUNS:-300}
rounds=${ROUNDS:-3}
counts=${COUNTS:-3}
[[ -x $bin ]] || { echo "bench: $bin is missing" >&2; exit 2; }
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v valgrind >/dev/null || need+=(valgrind)
bench_install "${need[@]}"

bench_home
bench_serve "$bin"

commands=()
for kind in bearer dpop; do
  flags=(--no-dpop)
  [[ $kind == dpop ]] && flags=(--dpop)
  "$bin" login --profile "bench-$kind" --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr \
    "${flags[@]}" </dev/null >/dev/null 2>"$work/login.err" || { echo "bench: login ($kind) failed: $(tail -n1 "$work/login.err")" >&2; exit 1; }
  "$bin" api --profile "bench-$kind" "$issuer/userinfo" >/dev/null 2>"$work/api.err" ||
    { echo "bench: api ($kind) failed: $(tail -n1 "$work/api.err")" >&2; exit 1; }
  commands+=(-n "api $kind" "$bin api --profile bench-$kind $issuer/userinfo")
done
shown=$("$bin" status --profile bench-dpop 2>&1)
[[ $shown =~ Type:\ +DPoP ]] || { echo "bench: the dpop profile is not DPoP" >&2; exit 1; }

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=("${commands[@]}"); else order=("${commands[@]:3:3}" "${commands[@]:0:3}"); fi
  hyperfine -N --warmup 10 --runs $(((runs + rounds - 1) / rounds)) --export-json "$work/result-$round.json" "${order[@]}" >&2
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Instructions of one `api` run: every process of it (the static executable execs the full CLI),
# summed.
instructions() {
  local log=$work/callgrind.log
  if ! valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null "$@" >/dev/null 2>"$log"; then
    echo "bench: $* failed under valgrind: $(grep -v '^==' "$log" | tail -n1)" >&2
    return 1
  fi
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | awk '{ total += $1 } END { print total + 0 }'
}
: >"$work/instructions.tsv"
for kind in bearer dpop; do
  for ((i = 0; i < counts; i++)); do
    count=$(instructions "$bin" api --profile "bench-$kind" "$issuer/userinfo") || exit 1
    printf 'api %s\t%s\n' "$kind" "$count" >>"$work/instructions.tsv"
  done
done

python3 - "$work/instructions.tsv" "$work"/result-*.json <<'PY'
import json, statistics, sys
times, cpu = {}, {}
for path in sys.argv[2:]:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
        # hyperfine keeps each run's user and system time when it can; its means otherwise.
        runs = len(r["times"])
        user = r.get("user") or 0.0
        system = r.get("system") or 0.0
        cpu.setdefault(r["command"], []).extend([user + system] * runs)
bearer, dpop = statistics.median(times["api bearer"]), statistics.median(times["api dpop"])
cpu_bearer, cpu_dpop = statistics.mean(cpu["api bearer"]), statistics.mean(cpu["api dpop"])
print(f"api bearer: median {bearer*1000:.3f} ms wall, {cpu_bearer*1000:.3f} ms CPU (user+system)")
print(f"api dpop:   median {dpop*1000:.3f} ms wall, {cpu_dpop*1000:.3f} ms CPU (user+system)")
print(f"dpop / bearer: {dpop/bearer:.3f} wall, {cpu_dpop/cpu_bearer:.3f} CPU")
# Wall time on a shared machine swings with other work; CPU time is what the client spends.
print("target (dpop <= 1.10x bearer, CPU):", "met" if cpu_dpop <= 1.10 * cpu_bearer else "NOT MET")
print("target (dpop <= 1.10x bearer, wall median):", "met" if dpop <= 1.10 * bearer else "NOT MET (see the load average)")
counts = {}
for line in open(sys.argv[1]):
    name, count = line.rstrip("\n").split("\t")
    counts.setdefault(name, []).append(int(count))
if all(c > 0 for values in counts.values() for c in values):
    ins_bearer, ins_dpop = statistics.median(counts["api bearer"]), statistics.median(counts["api dpop"])
    print(f"api bearer: {ins_bearer:,.0f} instructions (callgrind, median of {len(counts['api bearer'])})")
    print(f"api dpop:   {ins_dpop:,.0f} instructions, {ins_dpop - ins_bearer:+,.0f}")
    print(f"dpop / bearer: {ins_dpop/ins_bearer:.3f} instructions")
    print("target (dpop <= 1.10x bearer, instructions):", "met" if ins_dpop <= 1.10 * ins_bearer else "NOT MET")
else:
    print("(valgrind counted nothing: no instruction counts)")
PY
