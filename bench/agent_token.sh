#!/usr/bin/env bash
# Times a remote `devicelogin token` served by the token agent over ssh's socket forwarding on
# loopback, against a same-run baseline: the local `devicelogin token` (fast path, fresh token).
# One hyperfine run for both; prints each command's median and p99 and the ratio of medians.
#
# Self-contained: `devicelogin serve` on 127.0.0.1, a file-store login, `devicelogin agent`, and
# Debian's sshd on a free loopback port with its own config and keys (this user logs in to
# itself); one `ssh -N -R remote.sock:agent.sock` connection carries the socket, and the remote
# side is a process with DEVICELOGIN_AGENT=remote.sock, as a shell on the remote host would be.
# Everything lives under a temporary HOME.
#   bench/agent_token.sh [BUILD_DIR]    (default: build; RUNS=N overrides the 300 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-300}
bin=$(realpath "$build/bin/devicelogin")
[[ -x $bin ]] || { echo "bench: build first: cmake --build $build" >&2; exit 2; }
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if ((${#need[@]} > 0)); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "bench: installing ${need[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
export XDG_RUNTIME_DIR=$work/run
mkdir -p "$HOME" && mkdir -m 700 "$XDG_RUNTIME_DIR" "$work/remote"

"$bin" serve --port 0 --auto-approve --interval 1 --access-token-ttl 86400 >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/serve.out ]] && break; sleep 0.1; done
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || { echo "bench: serve printed no issuer" >&2; exit 1; }
"$bin" login --profile bench --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr \
  </dev/null >/dev/null 2>"$work/login.err" || { echo "bench: login failed: $(tail -n1 "$work/login.err")" >&2; exit 1; }

"$bin" agent --forward bench 2>"$work/agent.err" &
pids+=($!)
agent_socket=$XDG_RUNTIME_DIR/devicelogin/agent.sock
for _ in $(seq 100); do [[ -S $agent_socket ]] && break; sleep 0.1; done

ssh-keygen -q -t ed25519 -N '' -f "$work/host"
ssh-keygen -q -t ed25519 -N '' -f "$work/client"
cp "$work/client.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $work/host
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
LogLevel ERROR
CONFIG
[[ $(id -u) -ne 0 ]] || mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.err" &
pids+=($!)
remote_socket=$work/remote/agent.sock
for _ in $(seq 50); do
  ssh -F /dev/null -i "$work/client" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ExitOnForwardFailure=yes -p "$port" \
    -N -R "$remote_socket:$agent_socket" 127.0.0.1 2>"$work/ssh.err" &
  ssh_pid=$!
  for _ in $(seq 20); do [[ -S $remote_socket ]] && break; kill -0 "$ssh_pid" 2>/dev/null || break; sleep 0.1; done
  [[ -S $remote_socket ]] && break
  kill "$ssh_pid" 2>/dev/null || true
  sleep 0.2
done
[[ -S $remote_socket ]] || { echo "bench: ssh forwarded no socket: $(tail -n1 "$work/ssh.err")" >&2; exit 1; }
pids+=("$ssh_pid")

DEVICELOGIN_AGENT=$remote_socket "$bin" token --profile bench >/dev/null ||
  { echo "bench: the remote token failed" >&2; exit 1; }
"$bin" token --profile bench >/dev/null

hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/times.json" \
  -n "local token (fast path)" "$bin token --profile bench" \
  -n "remote token via forwarded agent" "env DEVICELOGIN_AGENT=$remote_socket $bin token --profile bench" \
  ${BENCH_DIRECT:+-n "token via the agent socket, no ssh" "env DEVICELOGIN_AGENT=$agent_socket $bin token --profile bench"} >/dev/null
python3 - "$work/times.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
medians = {}
for r in results:
    times = sorted(t * 1000 for t in r["times"])
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    medians[r["command"]] = statistics.median(times)
    print(f'{r["command"]:36s} median {statistics.median(times):7.3f} ms   p99 {p99:7.3f} ms   ({len(times)} runs)')
local, remote = list(medians.values())[:2]
print(f'remote / local median: {remote / local:.1f}x')
PY
