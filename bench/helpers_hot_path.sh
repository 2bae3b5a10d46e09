#!/usr/bin/env bash
# Times the credential helpers' `get` and kubectl's exec plugin with a fresh cached token against `devicelogin token` in
# ONE hyperfine run, and prints the median ratios. Target: each helper <= 1.1x
# `token`, which they meet only by being served by the executable itself (no command module, no
# libcurl). Every command, `token` included, is started through bench_stdin_exec (hyperfine 1.15
# has no --input), which gives it its stdin; the same launcher running an empty C program is
# timed too and shown, so that the ratios can also be read without it ("net").
# Self-contained: `devicelogin serve` on 127.0.0.1 and a file-store login, under a temporary HOME.
#   bench/helpers_hot_path.sh [BUILD_DIR]    (default: build; RUNS=N overrides the 1000 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
build=${1:-build}
runs=${RUNS:-1000}
bin=$(realpath "$build/bin/devicelogin")
launch=$build/bench_stdin_exec
empty_c=$(realpath "$build/bench_empty_c")
[[ -x $bin && -x $launch && -x $empty_c ]] || { echo "bench: build first: cmake --build $build" >&2; exit 2; }
command -v hyperfine >/dev/null || bench_install hyperfine

bench_home
bench_serve "$bin"
"$bin" login --profile bench --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr \
  </dev/null >/dev/null 2>"$work/login.err" || { echo "bench: login failed: $(tail -n1 "$work/login.err")" >&2; exit 1; }

: >"$work/empty-in"
printf 'protocol=https\nhost=git.example.com\n\n' >"$work/git-in"
# Each helper must answer from the fast path before it is timed: a copy without its module can.
mkdir -p "$work/lonely/bin" && cp "$bin" "$work/lonely/bin/devicelogin"
"$launch" "$work/git-in" "$work/lonely/bin/devicelogin" git-credential --profile bench --host git.example.com get |
  grep -q '^password=' || { echo "bench: git-credential get is not served by the fast path" >&2; exit 1; }

export DOCKER_CONFIG=$work/docker
"$bin" setup-docker --registry registry.example.com --profile bench </dev/null >/dev/null 2>"$work/err" ||
  { echo "bench: setup-docker failed: $(tail -n1 "$work/err")" >&2; exit 1; }
printf 'https://registry.example.com' >"$work/docker-in"
ln -s devicelogin "$work/lonely/bin/docker-credential-devicelogin"
ln -s "$bin" "$work/docker-credential-devicelogin"
"$launch" "$work/docker-in" "$work/lonely/bin/docker-credential-devicelogin" get | grep -q '"Secret"' ||
  { echo "bench: docker-credential get is not served by the fast path" >&2; exit 1; }

# kubectl runs its exec plugin with KUBERNETES_EXEC_INFO set (and stdin of its own, here empty),
# whose spec.cluster (provideClusterInfo) carries the server and its CA (a certificate's worth of
# base64), checked against what setup-kubectl recorded in the plugin's arguments.
kube_ca=$(head -c 1100 /dev/urandom | base64 -w0)
export KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"'"$kube_ca"'"}}}'
kube_args="--server https://127.0.0.1:6443 --certificate-authority-data $kube_ca"
"$launch" "$work/empty-in" "$work/lonely/bin/devicelogin" kubectl-credential --profile bench $kube_args | grep -q '"ExecCredential"' ||
  { echo "bench: kubectl-credential is not served by the fast path" >&2; exit 1; }

commands=(
  -n "launcher + empty C program" "$launch $work/empty-in $empty_c"
  -n "token" "$launch $work/empty-in $bin token --profile bench"
  -n "git-credential get" "$launch $work/git-in $bin git-credential --profile bench --host git.example.com get"
  -n "docker-credential-devicelogin get" "$launch $work/docker-in $work/docker-credential-devicelogin get"
  -n "kubectl-credential" "$launch $work/empty-in $bin kubectl-credential --profile bench $kube_args"
)
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/result.json" "${commands[@]}" >&2
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$work/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results.pop("launcher + empty C program")["median"]
token = results["token"]["median"]
print("| command | median ms | x token | x token, net of the launcher |")
print("|---|---|---|---|")
print(f"| launcher + empty C program | {base*1000:.3f} | | |")
ok = True
for name, r in results.items():
    ratio, net = r["median"] / token, (r["median"] - base) / max(token - base, 1e-9)
    print(f"| {name} | {r['median']*1000:.3f} | {ratio:.2f} | {net:.2f} |")
    ok = ok and ratio <= 1.1
print("target (each helper <= 1.1x token):", "met" if ok else "NOT met")
sys.exit(0 if ok else 1)
PY
