#!/bin/sh
# Drives `serve` as a process: first stdout line, JSON line, SIGTERM -> exit 0, usage errors -> 2.
set -u
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

wait_line() {  # file pid -> waits until the file has a first line or the server has exited
  # (no count of tries: on a loaded machine the server may take long to start; ctest's timeout
  # bounds a server that neither writes nor exits)
  while [ ! -s "$1" ] && kill -0 "$2" 2>/dev/null; do sleep 0.05; done
}

"$bin" serve --port 0 >"$dir/out" 2>"$dir/err" &
pid=$!
wait_line "$dir/out" $pid
while ! grep -q 'listening on' "$dir/err" && kill -0 $pid 2>/dev/null; do sleep 0.05; done
issuer=$(head -n 1 "$dir/out")
case "$issuer" in http://127.0.0.1:[0-9]*) ;; *) kill $pid; fail "first line is not the issuer: $issuer" ;; esac
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "SIGTERM exit code $rc"

"$bin" serve --json --interval 1 >"$dir/out2" 2>"$dir/err2" &
pid=$!
wait_line "$dir/out2" $pid
line=$(head -n 1 "$dir/out2")
echo "$line" | grep -Eq '^\{"issuer":"http://127\.0\.0\.1:[0-9]+","port":[0-9]+\}$' || { kill $pid; fail "json line: $line"; }
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "SIGINT exit code $rc"

"$bin" serve --host 0.0.0.0 >/dev/null 2>"$dir/err3"
rc=$?
[ $rc -eq 2 ] || fail "non-loopback exit code $rc"
grep -q '^devicelogin serve: refusing to listen on non-loopback host 0.0.0.0' "$dir/err3" || fail "non-loopback message: $(cat "$dir/err3")"

# A configuration's users replace alice and bob: the announcement names them (it once
# read the moved-from options and announced alice/alice and bob/bob).
echo '{"users": [{"username": "carol", "password": "pw-carol"}]}' >"$dir/users.json"
"$bin" serve --config "$dir/users.json" >"$dir/out7" 2>"$dir/err7" &
pid=$!
wait_line "$dir/out7" $pid
while ! grep -q 'listening on' "$dir/err7" && kill -0 $pid 2>/dev/null; do sleep 0.05; done
kill -TERM $pid
wait $pid
grep -q 'listening on .*, users carol)' "$dir/err7" || fail "config users: $(cat "$dir/err7")"
grep -q 'alice' "$dir/err7" && fail "config users: alice announced: $(cat "$dir/err7")"
grep -q 'pw-carol' "$dir/err7" && fail "config users: a password announced"
grep -q 'listening on .*, users alice/alice and bob/bob)' "$dir/err" || fail "demo users: $(cat "$dir/err")"

echo '{"clients": 3}' >"$dir/bad.json"
"$bin" serve --config "$dir/bad.json" >/dev/null 2>"$dir/err4"
rc=$?
[ $rc -eq 2 ] || fail "bad config exit code $rc"
[ "$(wc -l <"$dir/err4")" -eq 1 ] || fail "bad config: more than one stderr line"

"$bin" serve --auto-approve=abc >/dev/null 2>"$dir/err5"
rc=$?
[ $rc -eq 2 ] || fail "bad auto-approve exit code $rc"

# port in use: take the port of a running server
"$bin" serve >"$dir/out6" 2>/dev/null &
pid=$!
wait_line "$dir/out6" $pid
port=$(head -n 1 "$dir/out6" | sed 's/.*://')
"$bin" serve --port "$port" >/dev/null 2>"$dir/err6"
rc=$?
kill -TERM $pid
wait $pid
[ $rc -eq 6 ] || fail "port in use exit code $rc (a network error, as for every command)"
grep -q '^devicelogin serve: cannot listen' "$dir/err6" || fail "port in use message: $(cat "$dir/err6")"

"$bin" serve --help >"$dir/help" 2>&1
for flag in --interval --code-ttl --access-token-ttl --auto-approve --slow-down-every \
  --fail-rate-500 --fail-rate-503 --latency-ms --drop-rate --host --port --allow-non-loopback \
  --config --json; do
  grep -q -- "$flag" "$dir/help" || fail "--help lacks $flag"
done
echo "serve CLI: ok"
