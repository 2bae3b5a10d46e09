#!/usr/bin/env bash
# The `devicelogin` executable carries its own static C++ runtime (for the `token` fast
# path), while the command module it dlopen()s uses the shared one. Checks that the executable
# loads no libstdc++/libgcc_s/libm, exports no symbol a module could bind to, and that every
# command served by the module still works through it, exceptions included (a usage error is a
# CLI11 exception thrown and caught inside the module): --version, --help, a usage error, serve,
# login, demo, status, token (both paths), refresh, logout.
#   module_commands_test.sh BUILD_DIR [static-runtime|shared-runtime]
# (shared-runtime: a sanitizer build, whose executable keeps the shared C++ runtime.)
set -euo pipefail
build=$1 runtime=${2:-static-runtime}
bin=$build/devicelogin
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "module_commands_test: $*" >&2; exit 1; }
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"

needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [[ $runtime == static-runtime ]] && grep -Eq 'libstdc\+\+|libgcc_s|libm\.so' <<<"$needed"; then
  fail "the executable still loads: $(tr '\n' ' ' <<<"$needed")"
fi
exported=$(nm -D --defined-only "$bin" | awk '$2 ~ /[TtWVDdBbRr]/ && $3 !~ /@GLIBC_/ && $3 !~ /^(_init|_fini|_edata|_end|__bss_start|_IO_stdin_used|__data_start|data_start)$/ { print $3 }')
[[ $runtime != static-runtime || -z $exported ]] || fail "the executable exports symbols a module could bind to: $(head -n5 <<<"$exported" | tr '\n' ' ')"

expect() {  # expect CODE ARGS...: runs the command, checks its exit code
  local want=$1 got=0
  shift
  timeout 60 "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null || got=$?
  [[ $got == "$want" ]] || fail "devicelogin $* exited $got, expected $want: $(tail -n2 "$work/err")"
}
expect 0 --version
grep -q '^devicelogin ' "$work/out" || fail "--version printed: $(cat "$work/out")"
expect 0 --help
grep -q 'login' "$work/out" || fail "--help lists no login"
expect 2 no-such-command
expect 2 token --min-ttl not-a-number
grep -q '^devicelogin: ' "$work/err" || fail "usage error printed: $(cat "$work/err")"

"$bin" serve --port 0 --auto-approve --interval 1 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done  # until it printed or died (no count of tries: a loaded machine may be slow; ctest's timeout bounds it)
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || fail "serve printed no issuer: $(cat "$work/serve.err")"
expect 0 login --issuer "$issuer" --client-id devicelogin-demo --store file --no-browser --no-qr --json
grep -q '"event":"authorized"' "$work/out" || fail "login --json printed no authorized event"
expect 0 status --json
grep -q '"logged_in":true' "$work/out" || fail "status --json: $(cat "$work/out")"
expect 0 token
[[ -s $work/out ]] || fail "token printed nothing"
expect 0 token --min-ttl 999999999   # refreshes in the module
expect 0 refresh --json
grep -q '"refreshed":true' "$work/out" || fail "refresh --json: $(cat "$work/out")"
expect 0 logout --json
grep -q '"revoked":true' "$work/out" || fail "logout --json: $(cat "$work/out")"
expect 5 status
kill "$server_pid"
wait "$server_pid" || fail "serve did not stop cleanly on SIGTERM"
server_pid=
expect 0 demo --auto-approve --exit --no-qr --no-browser --store file --profile demo
expect 0 token --profile demo
echo "module_commands_test: every command works through the module ($runtime)"
