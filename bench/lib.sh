# The benches' shared set-up, sourced by bench/*.sh (from the repository root): Debian packages,
# a temporary HOME, `devicelogin serve`, and device logins approved at the test oidc-provider.

# Installs the Debian packages given (the caller names those that are missing); nothing without any.
bench_install() {
  (($# > 0)) || return 0
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "bench: installing $*" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# $work, a temporary directory holding HOME and the XDG directories, removed at exit after every
# process in bench_pids is stopped. No default profile from the caller's environment.
bench_pids=()
bench_home() {
  work=$(mktemp -d)
  trap 'for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
  export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
  mkdir -p "$HOME"
  unset DEVICELOGIN_PROFILE
}

# `BIN serve` on 127.0.0.1, approving every code at once, with tokens that outlive the run (no
# refresh is timed); sets $issuer.
bench_serve() {
  local bin=$1
  "$bin" serve --port 0 --auto-approve --interval 1 --access-token-ttl 86400 >"$work/serve.out" 2>"$work/serve.err" &
  bench_pids+=($!)
  for _ in $(seq 100); do [[ -s $work/serve.out ]] && break; sleep 0.1; done
  issuer=$(head -n1 "$work/serve.out")
  [[ $issuer == http://127.0.0.1:* ]] || { echo "bench: serve printed no issuer: $(tail -n1 "$work/serve.err")" >&2; exit 1; }
}

# The test oidc-provider (tests/integration/oidc_server.mjs ARGS...) under bench_pids; its JSON
# line in $work/provider.json.
bench_provider() {
  node tests/integration/oidc_server.mjs "$@" >"$work/provider.json" 2>"$work/provider.err" &
  bench_pids+=($!)
  for _ in $(seq 100); do [[ -s $work/provider.json ]] && break; sleep 0.1; done
}

# Approves at the test oidc-provider the device login whose prompt (verification URI and user
# code, as devicelogin --json or oidc-gen print them) appears in FILE.
bench_approve_from() {
  local file=$1 uri code
  for _ in $(seq 150); do
    uri=$(grep -a -o 'http://127\.0\.0\.1:[0-9]*/device[^ "]*' "$file" | head -n1 || true)
    code=$(grep -a -oE '(enter the code: |"user_code":")[A-Z]{4}-[A-Z]{4}' "$file" | grep -oE '[A-Z]{4}-[A-Z]{4}' | head -n1 || true)
    [[ -n $uri && -n $code ]] && break
    sleep 0.1
  done
  [[ -n $uri && -n $code ]] || { echo "bench: no device prompt in $file" >&2; return 1; }
  node tests/integration/approve.mjs "$uri" "$code" >/dev/null
}

# One `BIN login` per store (file, kernel-keyring) as profile bench-STORE at ISSUER for CLIENT_ID,
# each approved at the provider; sets `stores` to those that signed in (a store that cannot, as the
# kernel keyring in some containers, is skipped with a line); exits when none did.
bench_login_stores() {
  local bin=$1 issuer=$2 client_id=$3 store login_pid
  stores=()
  for store in file kernel-keyring; do
    timeout 120 "$bin" login --issuer "$issuer" --client-id "$client_id" --scope "openid offline_access" --store "$store" \
      --profile "bench-$store" --no-browser --no-qr --json </dev/null >"$work/login-$store.out" 2>"$work/login-$store.err" &
    login_pid=$!
    if bench_approve_from "$work/login-$store.out" && wait "$login_pid"; then
      stores+=("$store")
    else
      wait "$login_pid" 2>/dev/null || true
      echo "bench: store $store: login failed, skipped: $(tail -n1 "$work/login-$store.err")" >&2
    fi
  done
  ((${#stores[@]} > 0)) || exit 1
}
