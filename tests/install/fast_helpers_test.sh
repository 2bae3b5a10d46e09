#!/usr/bin/env bash
# A credential helper costs about what `token` costs: with a fresh token, the credential helpers'
# `get` (and kubectl's exec plugin) is answered by the `devicelogin` executable itself, which loads
# neither libcurl nor the command module. Checked with a copy of the executable that has no module
# beside it (only the fast path can answer there), byte for byte against the module's answer; and
# every case the fast path does not serve (an expiring token, malformed input) still reaches the
# module with its input intact.
#   fast_helpers_test.sh BUILD_DIR
set -euo pipefail
build=$1
bin=$build/devicelogin
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "fast_helpers_test: $*" >&2; exit 1; }
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
unset DEVICELOGIN_PROFILE
lonely=$work/lonely/bin/devicelogin
mkdir -p "$work/lonely/bin"
cp "$build/bin/devicelogin" "$lonely"
# helper WANT_CODE INPUT_FILE EXECUTABLE ARGS...: stdout in $work/out, stderr in $work/err.
helper() {
  local want=$1 input=$2 exe=$3 got=0
  shift 3
  timeout 60 "$exe" "$@" <"$input" >"$work/out" 2>"$work/err" || got=$?
  [[ $got == "$want" ]] || fail "$exe $* exited $got, expected $want: $(tail -n1 "$work/err")"
}

"$bin" serve --port 0 --auto-approve --interval 1 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
# Until the server has printed its issuer or died (no count of tries: a loaded machine may be slow
# to start it; ctest's timeout bounds a server that does neither).
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || fail "serve printed no issuer: $(cat "$work/serve.err")"
for store in file kernel-keyring; do
  timeout 60 "$bin" login --profile "p-$store" --issuer "$issuer" --client-id devicelogin-demo --store "$store" \
    --no-browser --no-qr </dev/null >/dev/null 2>"$work/err" || fail "login ($store): $(tail -n1 "$work/err")"
done
token=$("$bin" token --profile p-file)
expiry=$("$bin" status --profile p-file --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])')

# token (bare and --header): the one command that prints the token, the same bytes both ways.
for store in file kernel-keyring; do
  for header in "" --header; do
    helper 0 /dev/null "$lonely" token --profile "p-$store" $header
    cp "$work/out" "$work/token-fast"
    [[ -s $work/token-fast ]] || fail "token $header ($store): the fast path printed nothing"
    helper 0 /dev/null "$bin" token --profile "p-$store" $header --verbose
    cmp -s "$work/token-fast" "$work/out" || fail "token $header ($store): the fast path's answer differs from the module's"
  done
done
helper 0 /dev/null "$lonely" token --profile p-file --header
[[ $(cat "$work/out") == "Authorization: Bearer $token" ]] || fail "token --header: not the Bearer header line of p-file's token"

# git: gitcredentials(7) input, the answer git reads.
printf 'protocol=https\nhost=git.example.com\nusername=alice\n\n' >"$work/git-in"
for store in file kernel-keyring; do
  helper 0 "$work/git-in" "$lonely" git-credential --profile "p-$store" --host git.example.com get
  cp "$work/out" "$work/git-fast"
  grep -q '^username=alice$' "$work/git-fast" || fail "git fast path ($store): no username line"
  # --verbose is no fast-path flag: the module answers, and must answer the same bytes.
  helper 0 "$work/git-in" "$bin" git-credential --profile "p-$store" --host git.example.com --verbose get
  cmp -s "$work/git-fast" "$work/out" || fail "git ($store): the fast path's answer differs from the module's"
done
helper 0 "$work/git-in" "$lonely" git-credential --profile p-file --host git.example.com get
[[ $(cat "$work/out") == "username=alice"$'\n'"password=$token"$'\n'"password_expiry_utc=$expiry" ]] ||
  fail "git answer: not the token of p-file with its expiry"
helper 0 "$work/git-in" "$lonely" git-credential --profile p-file --host other.example.com get
[[ ! -s $work/out ]] || fail "git: answered for a host it is not configured for"
# An expiring token: the copy without module cannot answer (the fast path fell through) ...
helper 1 "$work/git-in" "$lonely" git-credential --profile p-file --host git.example.com --min-ttl 999999999 get
grep -q 'cannot load its command module' "$work/err" || fail "git: the fast path answered an expiring token"
# ... and the module, given the input the fast path read, refreshes and answers.
helper 0 "$work/git-in" "$bin" git-credential --profile p-file --host git.example.com --min-ttl 999999999 get
grep -q '^username=alice$' "$work/out" || fail "git: the module lost the input the fast path had read"
refreshed=$("$bin" token --profile p-file)
[[ $refreshed != "$token" ]] || fail "git: the expiring token was not refreshed"
grep -qx "password=$refreshed" "$work/out" || fail "git: the module did not answer the refreshed token"
# A flag given twice: the module refuses it (exit 2), so the fast path must not answer it (issue
# 25.6: it took the last value). The copy without module shows that the fast path fell through.
helper 1 "$work/git-in" "$lonely" git-credential --profile p-file --host other.example.com --host git.example.com get
grep -q 'cannot load its command module' "$work/err" || fail "git: the fast path answered a repeated --host"
helper 2 "$work/git-in" "$bin" git-credential --profile p-file --host other.example.com --host git.example.com get
[[ ! -s $work/out ]] || fail "git: a repeated --host was answered"
helper 1 /dev/null "$lonely" token --profile p-kernel-keyring --profile p-file
grep -q 'cannot load its command module' "$work/err" || fail "token: the fast path answered a repeated --profile"
helper 2 /dev/null "$bin" token --profile=p-kernel-keyring --profile p-file
[[ ! -s $work/out ]] || fail "token: a repeated --profile printed a token"
printf 'protocol=https\nhost\n\n' >"$work/git-bad"
helper 2 "$work/git-bad" "$bin" git-credential --profile p-file --host git.example.com get
[[ $(wc -l <"$work/err") == 1 ]] && grep -q 'malformed input line' "$work/err" || fail "git: malformed input: $(cat "$work/err")"

# docker (docker-credential-helpers protocol): the server URL on stdin, a JSON answer.
export DOCKER_CONFIG=$work/docker
timeout 60 "$bin" setup-docker --registry registry.example.com --profile p-file </dev/null >/dev/null 2>"$work/err" ||
  fail "setup-docker: $(tail -n1 "$work/err")"
timeout 60 "$bin" setup-docker --registry keyring.example.com --profile p-kernel-keyring </dev/null >/dev/null 2>"$work/err" ||
  fail "setup-docker (kernel keyring): $(tail -n1 "$work/err")"
ln -s devicelogin "$work/lonely/bin/docker-credential-devicelogin"
for registry in keyring.example.com registry.example.com; do
  printf 'https://%s' "$registry" >"$work/docker-in"
  helper 0 "$work/docker-in" "$work/lonely/bin/docker-credential-devicelogin" get
  cp "$work/out" "$work/docker-fast"
  helper 0 "$work/docker-in" "$bin" docker-credential --verbose get
  cmp -s "$work/docker-fast" "$work/out" || fail "docker ($registry): the fast path's answer differs from the module's"
done
# list and version need no token: the same bytes both ways too.
for op in list version; do
  helper 0 /dev/null "$work/lonely/bin/docker-credential-devicelogin" "$op"
  cp "$work/out" "$work/docker-op-fast"
  helper 0 /dev/null "$bin" docker-credential --verbose "$op"
  cmp -s "$work/docker-op-fast" "$work/out" || fail "docker $op: the fast path's answer differs from the module's"
done
token=$("$bin" token --profile p-file)
[[ $(cat "$work/docker-fast") == '{"ServerURL":"https://registry.example.com","Username":"oauth2accesstoken","Secret":"'"$token"'"}' ]] ||
  fail "docker answer: not the token of p-file"
# An unknown registry is the module's not-found answer; an expiring token its refresh.
printf 'other.example.com' >"$work/docker-other"
helper 1 "$work/docker-other" "$work/lonely/bin/docker-credential-devicelogin" get
helper 1 "$work/docker-other" "$bin" docker-credential get
[[ $(cat "$work/out") == "credentials not found in native keychain" ]] || fail "docker: unknown registry: $(cat "$work/out")"
helper 0 "$work/docker-in" "$bin" docker-credential --min-ttl 999999999 get
grep -q '"Username":"oauth2accesstoken"' "$work/out" || fail "docker: the module lost the input the fast path had read"
[[ $("$bin" token --profile p-file) != "$token" ]] || fail "docker: the expiring token was not refreshed"

# kubectl (client-go exec plugin): KUBERNETES_EXEC_INFO in, an ExecCredential out, both apiVersions,
# for the cluster the exec entry records (--server; spec.cluster says where kubectl connects).
v1=client.authentication.k8s.io/v1 v1beta1=client.authentication.k8s.io/v1beta1
kube=(--server https://127.0.0.1:6443 --certificate-authority-data LS0t)
kube_info() { echo '{"kind":"ExecCredential","apiVersion":"'"$1"'","spec":{"interactive":false,"cluster":{"server":"'"$2"'","certificate-authority-data":"LS0t"}}}'; }
for store in file kernel-keyring; do
  for api in "$v1" "$v1beta1"; do
    export KUBERNETES_EXEC_INFO=$(kube_info "$api" HTTPS://127.0.0.1:6443/)
    helper 0 /dev/null "$lonely" kubectl-credential --profile "p-$store" "${kube[@]}"
    cp "$work/out" "$work/kube-fast"
    helper 0 /dev/null "$bin" kubectl-credential --profile "p-$store" "${kube[@]}" --verbose
    cmp -s "$work/kube-fast" "$work/out" || fail "kubectl ($store, $api): the fast path's answer differs from the module's"
  done
done
token=$("$bin" token --profile p-file)
expiry=$("$bin" status --profile p-file --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])')
stamp=$(date -u -d "@$expiry" +%Y-%m-%dT%H:%M:%SZ)
helper 0 /dev/null "$lonely" kubectl-credential --profile p-file "${kube[@]}"
[[ $(cat "$work/out") == '{"apiVersion":"'"$v1beta1"'","kind":"ExecCredential","status":{"expirationTimestamp":"'"$stamp"'","token":"'"$token"'"}}' ]] ||
  fail "kubectl answer: not the token of p-file with its expiry"
# A destination other than the recorded one (another port, another CA, no spec.cluster, nothing
# recorded): the fast path never answers (exit 1: it fell through to a module that is not there),
# and the module refuses with one line, exit 2.
refused_kube() {
  helper 1 /dev/null "$lonely" kubectl-credential --profile p-file "$@"
  grep -q 'cannot load its command module' "$work/err" || fail "kubectl: the fast path answered a refused destination ($*)"
  helper 2 /dev/null "$bin" kubectl-credential --profile p-file "$@"
  [[ $(wc -l <"$work/err") == 1 && ! -s $work/out ]] || fail "kubectl: refused destination: $(cat "$work/err")"
}
KUBERNETES_EXEC_INFO=$(kube_info "$v1" https://127.0.0.1:6444) refused_kube "${kube[@]}"
KUBERNETES_EXEC_INFO=$(kube_info "$v1" https://127.0.0.1:6443) refused_kube --server https://127.0.0.1:6443 --certificate-authority-data T1RIRVI=
KUBERNETES_EXEC_INFO=$(kube_info "$v1" https://127.0.0.1:6443) refused_kube --min-ttl 60
KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1"}' refused_kube "${kube[@]}"
KUBERNETES_EXEC_INFO=$(kube_info "$v1" https://127.0.0.1:6444) refused_kube "${kube[@]}" --server https://127.0.0.1:6444
unset KUBERNETES_EXEC_INFO
refused_kube "${kube[@]}"
export KUBERNETES_EXEC_INFO=$(kube_info "$v1" https://127.0.0.1:6443)
# An expiring token and a broken KUBERNETES_EXEC_INFO are the module's (refresh; one-line error).
helper 1 /dev/null "$lonely" kubectl-credential --profile p-file "${kube[@]}" --min-ttl 999999999
grep -q 'cannot load its command module' "$work/err" || fail "kubectl: the fast path answered an expiring token"
helper 0 /dev/null "$bin" kubectl-credential --profile p-file "${kube[@]}" --min-ttl 999999999
[[ $("$bin" token --profile p-file) != "$token" ]] || fail "kubectl: the expiring token was not refreshed"
KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v2"}' helper 1 /dev/null "$lonely" kubectl-credential --profile p-file "${kube[@]}"
KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v2"}' helper 2 /dev/null "$bin" kubectl-credential --profile p-file "${kube[@]}"
[[ $(wc -l <"$work/err") == 1 && ! -s $work/out ]] || fail "kubectl: broken KUBERNETES_EXEC_INFO: $(cat "$work/err")"
unset KUBERNETES_EXEC_INFO

"$bin" logout --all >/dev/null 2>&1
echo "fast_helpers_test: token (bare, --header), docker-credential get/list/version, git-credential get and kubectl-credential served by the executable alone (file, kernel keyring), same bytes as the module; expiring, malformed and refused-destination cases reach the module with their input"
