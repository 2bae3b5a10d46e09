#!/usr/bin/env bash
# Fault soak of `devicelogin serve`, so that faults under load show up as errors, not crashes: for
# SOAK_SECONDS (default 600) the server runs with drop, 500, 503 and latency faults on, under three
# loads at once, all on 127.0.0.1:
#   - wrk flooding the token endpoint with polls of an unknown device code (1 thread, 16
#     connections; a flood of device authorizations would only fill the code table, which answers
#     503 by design and starves the real clients);
#   - real clients: `devicelogin login` (auto-approved), `token`, `refresh`, `logout` in a loop,
#     each under a deadline;
#   - clients that hang up mid-request: a request head cut short, a body cut short, and a request
#     trickled past the server's request deadline.
# Every second it samples the server's RSS, open descriptors and threads. It prints the RSS curve
# (and its growth over the second half), the descriptors before, during and after, what each load
# got, and a verdict: memory levels off (second-half growth under 10 %), descriptors return to
# their idle count, no real client hangs past its deadline, no wrk request waits past 5 s.
#   bench/server/soak.sh                    DEVICELOGIN_BIN=build/devicelogin by default
#   SOAK_SECONDS=60 bench/server/soak.sh    a short round
# Exit 0 when the verdict holds, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(readlink -f "${DEVICELOGIN_BIN:-$root/build/devicelogin}")
seconds=${SOAK_SECONDS:-600}
die() { echo "bench/soak: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ -x "$bin" ]] || die "$bin is not an executable devicelogin (set DEVICELOGIN_BIN)"
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds >= 20)) || die "SOAK_SECONDS must be a whole number >= 20"

work=$(mktemp -d "${TMPDIR:-/tmp}/devicelogin-soak.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" serve --port 0 --json --interval 1 --auto-approve=0 --access-token-ttl 120 \
  --fail-rate-500 0.03 --fail-rate-503 0.03 --drop-rate 0.03 --latency-ms 5 \
  >"$work/serve.out" 2>"$work/serve.err" &
server=$!
pids+=("$server")
for _ in $(seq 100); do [[ -s "$work/serve.out" ]] && break; sleep 0.1; done
[[ -s "$work/serve.out" ]] || die "the server did not start: $(cat "$work/serve.err")"
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/serve.out")
issuer="http://127.0.0.1:$port"

sample() { # rss_kib fds threads
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$server/status") $(ls "/proc/$server/fd" | wc -l) $(ls "/proc/$server/task" | wc -l)"
}
idle_fds=$(sample | cut -d' ' -f2)
end=$((SECONDS + seconds))

# Sampler: one line per second.
( while ((SECONDS < end)); do echo "$SECONDS $(sample)"; sleep 1; done ) >"$work/samples" &
pids+=($!)

# Load 1: wrk on the token endpoint.
BENCH_BODY="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=devicelogin-demo&device_code=soak" \
  BENCH_EXPECT_STATUS=400 \
  timeout $((seconds + 30)) wrk -t1 -c16 -d"${seconds}s" --timeout 5s -s "$here/post_form.lua" \
  "$issuer/token" >"$work/wrk.out" 2>&1 &
pids+=($!)

# Load 2: real clients, two loops, each command under a 90 s deadline (a hang is a failure).
client_loop() {
  local n=$1 round=0
  while ((SECONDS < end - 5)); do
    round=$((round + 1))
    local home=$work/client-$n-$round
    mkdir -p "$home"
    local env=(env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_STATE_HOME="$home/.local/state")
    local step status
    for step in login token refresh logout; do
      case $step in
        login) set -- login --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr ;;
        *) set -- "$step" ;;
      esac
      status=0
      timeout 90 "${env[@]}" "$bin" "$@" >/dev/null 2>"$home/$step.err" || status=$?
      echo "$step $status $(tail -n1 "$home/$step.err" | tr -d '\n' | cut -c1-120)"
      [[ $status == 0 ]] || break
    done
    rm -rf "$home"
  done
}
client_loop 1 >"$work/clients-1" &
pids+=($!)
client_loop 2 >"$work/clients-2" &
pids+=($!)

# Load 3: hang-ups. Each kind in turn, one connection at a time.
hangups() {
  local i=0
  while ((SECONDS < end - 12)); do
    i=$((i + 1))
    # Each in a subshell: a refused connection ends that attempt, not the loop.
    case $((i % 3)) in
      0) ( exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Le' >&3 ) || true ;;
      1) ( exec 3<>"/dev/tcp/127.0.0.1/$port"
           printf 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ngrant_type=refr' >&3 ) || true ;;
      2) ( exec 3<>"/dev/tcp/127.0.0.1/$port"
           printf 'POST /device_authorization HTTP/1.1\r\n' >&3
           for t in $(seq 12); do printf 'X-Slow: %d\r\n' "$t" >&3 || break; sleep 1; done ) || true ;;
    esac
    echo "hangup $((i % 3))"
    sleep 0.2
  done
}
hangups >"$work/hangups" 2>/dev/null &
pids+=($!)

echo "bench/soak: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), ${seconds}s, load average $(cut -d' ' -f1-3 /proc/loadavg); server $bin on $issuer with drop/500/503 at 3 % each and 5 ms latency" >&2
wait "${pids[2]}" || true  # wrk ends at the deadline
sleep 6
wait "${pids[3]}" "${pids[4]}" "${pids[5]}" 2>/dev/null || true
# Connections of the hang-up clients end within the server's request deadline (10 s).
sleep 12
after=$(sample)

# The curve: RSS at 10 %, 25 %, 50 %, 75 % and the end of the run.
mapfile -t samples <"$work/samples"
count=${#samples[@]}
((count >= 10)) || die "only $count samples"
rss_at() { local idx=$(( ($1 * (count - 1)) / 100 )); cut -d' ' -f2 <<<"${samples[$idx]}"; }
curve=""
for pct in 10 25 50 75 100; do curve+="$pct%: $(( $(rss_at "$pct") / 1024 )) MiB  "; done
mid=$(rss_at 50)
last=$(rss_at 100)
growth=$(awk -v a="$mid" -v b="$last" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
max_fds=$(cut -d' ' -f3 "$work/samples" | sort -n | tail -n1)
max_threads=$(cut -d' ' -f4 "$work/samples" | sort -n | tail -n1)
after_fds=$(cut -d' ' -f2 <<<"$after")

result=$(sed -n 's/^BENCH_RESULT //p' "$work/wrk.out")
wrk_max_us=$(sed -n 's/.*"max_us":\([0-9]*\).*/\1/p' <<<"$result")
logins=$(cat "$work"/clients-* | awk '$1 == "login"' | wc -l)
ok_rounds=$(cat "$work"/clients-* | awk '$1 == "logout" && $2 == 0' | wc -l)
hung=$(cat "$work"/clients-* | awk '$2 == 124' | wc -l)
failed_steps=$(cat "$work"/clients-* | awk '$2 != 0 && $2 != 124 {print $1 "=" $2}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
cat "$work"/clients-* | awk '$2 != 0' | cut -d' ' -f3- | sort | uniq -c | sort -rn | head -n 5 >"$work/failures"
hangup_count=$(wc -l <"$work/hangups")

echo "memory (RSS): $curve; second half: ${growth} %"
echo "descriptors: idle $idle_fds, peak $max_fds, after the load $after_fds; threads peak $max_threads"
echo "wrk: $result"
echo "real clients: $logins rounds, $ok_rounds complete (login, token, refresh, logout), $hung hung past 90 s; failed steps (exit code, faults expected): ${failed_steps:-none}"
sed 's/^/  /' "$work/failures"
echo "hang-up clients: $hangup_count connections cut mid-request"

verdict=0
awk -v g="$growth" 'BEGIN { exit !(g < 10) }' || { echo "FAIL: memory grew ${growth} % over the second half"; verdict=1; }
((after_fds <= idle_fds)) || { echo "FAIL: $after_fds descriptors after the load, $idle_fds idle"; verdict=1; }
((hung == 0)) || { echo "FAIL: $hung client commands hung past 90 s"; verdict=1; }
((ok_rounds > 0)) || { echo "FAIL: no client round completed"; verdict=1; }
[[ -n "$wrk_max_us" ]] && ((wrk_max_us <= 5500000)) || { echo "FAIL: a wrk request waited ${wrk_max_us:-?} us"; verdict=1; }
kill -0 "$server" 2>/dev/null || { echo "FAIL: the server died: $(tail -n 3 "$work/serve.err")"; verdict=1; }
((verdict == 0)) && echo "verdict: ok"
exit $verdict
