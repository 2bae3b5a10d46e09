#!/usr/bin/env bash
# Load benchmark of `devicelogin serve` against oidc-provider (v9, device flow), same machine, one
# run, loopback only, ephemeral ports. Measures with wrk (-t2 -c32 -d10s by default):
#   (a) device authorization requests  POST client_id=...&scope=openid   (expect 200 + device_code)
#   (b) pending polls                  POST grant_type=device_code&...    (expect 400 authorization_pending)
# prints requests/s and p99 latency for each server and case, the ratios devicelogin/oidc-provider
# against the dev server's targets in docs/performance.md (>= 5x throughput, p99 < 5 ms), and a
# calibration row (a bare node:http server, the ceiling for any Node.js server on this machine at
# that moment), then floods devicelogin serve twice (default limits, then a turnover configuration)
# with device authorization requests for 60 s while printing its RSS every 5 s. About 5½ minutes in
# all.
#
#   bench/server/run.sh                       uses build/devicelogin
#   DEVICELOGIN_BIN=path/to/devicelogin bench/server/run.sh
#
# Environment: BENCH_THREADS (2), BENCH_CONNECTIONS (32), BENCH_DURATION (10 s per case and round),
# BENCH_ROUNDS (3, interleaved; the table shows medians),
# BENCH_WARMUP (2 s, discarded, before each case), BENCH_FLOOD_SECONDS (60), BENCH_SAMPLE_SECONDS (5),
# BENCH_CHECK_BODIES (0; 1 checks every answer's status and body in wrk, at some cost to wrk, see
# post_form.lua; by default statuses are counted and one answer is checked before and after a run).
# Needs wrk, node >= 20, npm (bench/server/package-lock.json is installed with npm ci when needed).
#
# devicelogin serve configurations (see docs/devserver.md), each server its own process:
#   pending polls:        --interval 0 (any poll rate is accepted: no slow_down), default limits
#   device authorization: --code-ttl 1 --max-codes 50000 (the code table turns over every second;
#                         with the default 10000-code cap a flood is answered 503 after ~1 s)
#   floods:               default limits, then the turnover configuration above
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${DEVICELOGIN_BIN:-$root/build/devicelogin}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
flood_seconds=${BENCH_FLOOD_SECONDS:-60}
sample_seconds=${BENCH_SAMPLE_SECONDS:-5}
check_bodies=${BENCH_CHECK_BODIES:-0}
rounds=${BENCH_ROUNDS:-3}
# Every server is started under `timeout` so nothing outlives the run even if this script is killed.
server_lifetime=$((5 * rounds * (warmup + duration + 5) + 2 * flood_seconds + 300))

die() { echo "bench/server: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
# A Node.js new enough for oidc-provider: the system's, or one fetched into ~/.cache/devicelogin.
node_path=$("$here/../../scripts/ensure-node.sh") || die "no Node.js >= 20.12 (see scripts/ensure-node.sh)"
[[ "$node_path" == "$(command -v node 2>/dev/null)" ]] || export PATH="$(dirname "$node_path"):$PATH"
[[ -x "$bin" ]] || die "$bin is not an executable devicelogin (set DEVICELOGIN_BIN)"

# npm ci only when node_modules does not hold what package-lock.json pins.
node "$here/../../scripts/npm-ensure.mjs" "$here" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/devicelogin-bench.XXXXXX")
timeout_pids=()
cleanup() {
  local pid
  for pid in "${timeout_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${timeout_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The CLI never touches the user's own configuration.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"

# start_server NAME COMMAND...: runs COMMAND under timeout, waits for its first stdout line (a JSON
# object with "issuer"), and sets server_pid (the server itself, for /proc), server_issuer.
server_count=0
start_server() {
  server_count=$((server_count + 1))
  local name=$1-$server_count
  shift
  timeout --signal=TERM --kill-after=5 "$server_lifetime" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null &
  local tpid=$!
  timeout_pids+=("$tpid")
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s "$work/$name.out" ]] && break
    kill -0 "$tpid" 2>/dev/null || { cat "$work/$name.err" >&2; die "$name exited before printing its issuer"; }
    sleep 0.05
  done
  [[ -s "$work/$name.out" ]] || die "$name printed nothing within 10 s"
  server_issuer=$(head -n1 "$work/$name.out" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).issuer')
  server_pid=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null | awk '{print $1}')
  [[ -n "$server_pid" ]] || die "cannot find the pid of $name"
  server_timeout_pid=$tpid
}

stop_server() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# wrk_case SECONDS URL BODY STATUS TEXT: one wrk run; prints its BENCH_RESULT json.
wrk_case() {
  local seconds=$1 url=$2 body=$3 status=$4 text=$5
  local out
  out=$(BENCH_BODY=$body BENCH_EXPECT_STATUS=$status BENCH_EXPECT_TEXT=$text BENCH_CHECK_BODIES=$check_bodies \
    timeout $((seconds + 30)) wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 5s \
      -s "$here/post_form.lua" "$url") || die "wrk failed: $out"
  sed -n 's/^BENCH_RESULT //p' <<<"$out"
}

# check_answer URL BODY STATUS TEXT: one request with curl must get STATUS and a body containing TEXT.
check_answer() {
  local answer
  answer=$(curl -sS --max-time 10 -w '\n%{http_code}' -d "$2" "$1") || die "curl $1 failed"
  [[ "${answer##*$'\n'}" == "$3" && "$answer" == *"$4"* ]] ||
    die "$1 answered ${answer##*$'\n'} without \"$4\" (expected $3)"
}

# measure CASE SERVER URL BODY STATUS TEXT: warm-up, then the measured run into the results file;
# one curl before and after checks the answer is the expected one (see post_form.lua).
results=$work/results.tsv
measure() {
  local kase=$1 server=$2 url=$3 body=$4 status=$5 text=$6
  check_answer "$url" "$body" "$status" "$text"
  if ((warmup > 0)); then wrk_case "$warmup" "$url" "$body" "$status" "$text" >/dev/null; fi
  local json
  json=$(wrk_case "$duration" "$url" "$body" "$status" "$text")
  [[ -n "$json" ]] || die "no result from wrk for $kase/$server"
  check_answer "$url" "$body" "$status" "$text"
  printf '%s\t%s\t%s\t%s\n' "$kase" "$server" "$status" "$json" >>"$results"
  echo "  $kase $server: $json" >&2
}

# device_code URL BODY: one device authorization, prints its device_code.
device_code() {
  curl -sS --max-time 5 -d "$2" "$1" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).device_code'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

device_grant=urn:ietf:params:oauth:grant-type:device_code
echo "bench/server: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "bench/server: answers checked: $( ((check_bodies)) && echo "every status and body (BENCH_CHECK_BODIES=1)" || echo "statuses, and one body before and after each run")" >&2
echo "bench/server: devicelogin $bin; oidc-provider $(node -p "require('$here/node_modules/oidc-provider/package.json').version"), node $(node --version); wrk -t$threads -c$connections -d${duration}s (+${warmup}s warm-up)" >&2

# ---- servers: one per case, so that a device-authorization flood cannot evict or expire a polled code
# (oidc-provider's development memory adapter is an LRU of 1000 entries per model).
start_server devicelogin-poll "$bin" serve --port 0 --json --interval 0
dl_poll=$server_issuer
start_server devicelogin-auth "$bin" serve --port 0 --json --interval 0 --code-ttl 1 --max-codes 50000
dl_auth=$server_issuer
start_server oidc-provider-poll env NODE_ENV=production node "$here/oidc_bench_server.mjs"
op_poll=$server_issuer
start_server oidc-provider-auth env NODE_ENV=production node "$here/oidc_bench_server.mjs"
op_auth=$server_issuer
start_server node-hello node "$here/node_hello_server.mjs"
hello=$server_issuer

dl_code=$(device_code "$dl_poll/device_authorization" "client_id=devicelogin-demo&scope=openid")
op_code=$(device_code "$op_poll/device/auth" "client_id=bench&scope=openid")

cases=(
  "poll|devicelogin|$dl_poll/token|grant_type=$device_grant&device_code=$dl_code&client_id=devicelogin-demo|400|authorization_pending"
  "poll|oidc-provider|$op_poll/token|grant_type=$device_grant&device_code=$op_code&client_id=bench|400|authorization_pending"
  "auth|devicelogin|$dl_auth/device_authorization|client_id=devicelogin-demo&scope=openid|200|device_code"
  "auth|oidc-provider|$op_auth/device/auth|client_id=bench&scope=openid|200|device_code"
  "calibration|node:http hello|$hello/|x=1|200|ok"
)
# Rounds interleave the servers (in reverse order every other round), so a burst of other work on
# the machine does not land on one server only; the report shows the median of the rounds.
for ((round = 1; round <= rounds; round++)); do
  echo "bench/server: round $round of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  order=("${cases[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#cases[@]} - 1; i >= 0; i--)); do order+=("${cases[i]}"); done
  fi
  for entry in "${order[@]}"; do
    IFS='|' read -r kase server url body status text <<<"$entry"
    measure "$kase" "$server" "$url" "$body" "$status" "$text"
  done
done
for pid in "${timeout_pids[@]}"; do stop_server "$pid"; done
timeout_pids=()

echo >&2
echo "wrk -t$threads -c$connections -d${duration}s, median of $rounds interleaved rounds, 127.0.0.1, $(date -u '+%Y-%m-%d %H:%M UTC'), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
node "$here/report.mjs" "$results"

# ---- floods --------------------------------------------------------------------------------------
# flood LABEL SERVE-ARGS...: device authorization requests for flood_seconds, RSS every sample_seconds.
flood() {
  local label=$1
  shift
  start_server devicelogin-flood "$bin" serve --port 0 --json "$@"
  local pid=$server_pid tpid=$server_timeout_pid url=$server_issuer/device_authorization
  echo
  echo "flood, ${flood_seconds} s of device authorization requests ($label: devicelogin serve --port 0 --json $*):"
  BENCH_BODY="client_id=devicelogin-demo&scope=openid" BENCH_EXPECT_STATUS=200 BENCH_EXPECT_TEXT=device_code \
    BENCH_CHECK_BODIES=0 timeout $((flood_seconds + 30)) wrk -t"$threads" -c"$connections" -d"${flood_seconds}s" --timeout 5s \
      -s "$here/post_form.lua" "$url" >"$work/flood.out" 2>&1 &
  local wrk_pid=$! t
  echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '  t=%3ss  VmRSS %6d KiB\n' 0 "$(rss_kib "$pid")"
  for ((t = sample_seconds; t <= flood_seconds; t += sample_seconds)); do
    sleep "$sample_seconds"
    printf '  t=%3ss  VmRSS %6d KiB\n' "$t" "$(rss_kib "$pid")"
  done
  wait "$wrk_pid" || die "wrk failed during the flood: $(cat "$work/flood.out")"
  printf '  after wrk: VmRSS %6d KiB\n' "$(rss_kib "$pid")"
  node -e '
    const r = JSON.parse(process.argv[1]);
    const s = r.duration_us / 1e6;
    console.log(`  ${r.requests} requests in ${s.toFixed(1)} s (${(r.requests / s).toFixed(0)}/s), `
      + `${r.requests - r.non_2xx} answered 2xx (a device code), ${r.non_2xx} otherwise (503 when the code table is full), `
      + `${r.socket_errors} socket errors; p99 ${(r.p99_us / 1000).toFixed(2)} ms`);' \
    "$(sed -n 's/^BENCH_RESULT //p' "$work/flood.out")"
  kill -0 "$pid" 2>/dev/null || die "devicelogin serve died during the flood"
  stop_server "$tpid"
}

if ((flood_seconds > 0)); then
  flood "default limits, 10000 outstanding codes"
  flood "turnover" --code-ttl 1 --max-codes 50000
fi
