#!/usr/bin/env bash
# Times the Python example's `token` (a cached token through the package and the C ABI)
# against the seed-style oauthlib CLI's `token` (/work/shared/peers/seed_style_cli.py, or $SEED),
# and a bare interpreter, in ONE hyperfine run; then Session.token() per call in a loop. Both use
# Debian's /usr/bin/python3. The seed's `token` only reads its JSON file (its login needs
# python3-requests-oauthlib): the bench writes that file with a fresh token; ours signs in against
# `devicelogin serve --auto-approve` on 127.0.0.1. Everything under a temporary HOME.
#   bench/python_token.sh [BUILD_DIR]      (RUNS=N, default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD build=${1:-build} runs=${RUNS:-200}
seed=${SEED:-/work/shared/peers/seed_style_cli.py}
[[ -x $build/devicelogin && -e $build/lib/libdevicelogin.so.0 ]] || { echo "bench: build first" >&2; exit 2; }
[[ -e $seed ]] || { echo "bench: no seed-style CLI at $seed" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (scripts/setup-deps.sh --tests)" >&2; exit 2; }
work=$(mktemp -d) server=
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
"$build/devicelogin" serve --port 0 --auto-approve=0 --interval 1 > "$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 100); do [[ -s $work/serve.out ]] && break; sleep 0.1; done
issuer=$(head -n1 "$work/serve.out")
export PYTHONPATH=$root/python DEVICELOGIN_LIBRARY=$root/$build/lib/libdevicelogin.so.0
example="/usr/bin/python3 $root/examples/python/todo_cli.py"
$example login "$issuer" 2>/dev/null
# Bytecode cached for both, as an installed program would have it.
env -u PYTHONDONTWRITEBYTECODE /usr/bin/python3 -c 'import devicelogin' && $example token >/dev/null
export DEVLOGIN_TOKEN_FILE=$work/seed-token.json
/usr/bin/python3 -c 'import json,sys,time; json.dump({"access_token":"x"*600,"token_type":"Bearer","expires_at":time.time()+3600}, open(sys.argv[1],"w"))' "$DEVLOGIN_TOKEN_FILE"
unset PYTHONDONTWRITEBYTECODE
hyperfine -N -w 10 -r "$runs" --export-json "$work/h.json" \
  -n ours "$example token" -n seed "/usr/bin/python3 $seed token" -n bare "/usr/bin/python3 -c pass" \
  -n import "/usr/bin/python3 -c 'import devicelogin'" >/dev/null
/usr/bin/python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
m = {k: v["median"] * 1000 for k, v in r.items()}
print(f"median ms: ours {m['ours']:.1f}  seed {m['seed']:.1f}  bare python {m['bare']:.1f}  import devicelogin {m['import']:.1f}")
print(f"ours/seed {m['ours']/m['seed']:.2f} (target <= 0.8); import adds {m['import']-m['bare']:.1f} ms (target <= 5)")
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
print(f"mean CPU ms (user+sys; less sensitive to a loaded machine): ours {cpu['ours']:.1f}  seed {cpu['seed']:.1f}  "
      f"bare {cpu['bare']:.1f}  import {cpu['import']:.1f}")
PY
/usr/bin/python3 - <<'PY'
import time, devicelogin
s = devicelogin.Session("todo")
s.token()
n = 2000
t = time.perf_counter()
for _ in range(n):
    s.token()
print(f"Session.token() on a cached token: {(time.perf_counter() - t) / n * 1e6:.0f} us per call (target <= 50)")
PY
