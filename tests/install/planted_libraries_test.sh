#!/usr/bin/env bash
# No library is ever loaded from the current directory, where anyone may have put one. Checks that
# no ELF file of the build tree or of a `cmake --install` copy has an empty or relative
# RUNPATH/RPATH entry (the loader reads an empty one as the current directory), then plants
# PLANTED_LIBRARY under the name of every library the executable and its command module load (except
# libc, libm, libstdc++, libgcc_s and the loader, whose stand-ins crash before any constructor runs)
# in a directory, runs `token`, `status`, `refresh` and a refreshing `token` from there with both
# copies, and asserts that each command worked and that nothing planted ran.
#   planted_libraries_test.sh BUILD_DIR PLANTED_LIBRARY
set -euo pipefail
build=$(cd "$1" && pwd) planted=$(realpath "$2")
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "planted_libraries_test: $*" >&2; exit 1; }

# Every RUNPATH/RPATH entry must be absolute or start with $ORIGIN.
check_search_paths() {
  local file tag value
  while IFS= read -r -d '' file; do
    head -c 4 "$file" | grep -q $'^\x7fELF' || continue
    while read -r tag value; do
      awk -v value="$value" -v file="$file" -v tag="$tag" 'BEGIN {
        n = split(value, parts, ":");
        if (n == 0) { print file ": empty " tag; exit 1 }
        for (i = 1; i <= n; i++) {
          if (parts[i] == "" || (parts[i] !~ /^\// && parts[i] !~ /^\$(ORIGIN|\{ORIGIN\})(\/|$)/)) {
            print file ": " tag " [" value "] has an empty or relative entry"; exit 1
          }
        }
      }' >&2 || exit 1
    done < <(readelf -d "$file" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]$/\1 \2/p')
  done < <(find "$@" -type f -print0)
}
# The installed targets' build-tree copies (bin/, lib/: the install layout) and everything installed.
check_search_paths "$build/bin" "$build/lib"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
check_search_paths "$work/prefix"

build_bin=$build/devicelogin
installed_bin=$work/prefix/bin/devicelogin
installed_module=$(find "$work/prefix" -name devicelogin-cli.so -print -quit)
build_module=$(find "$build" -path '*/devicelogin/devicelogin-cli.so' -print -quit)
[[ -x $installed_bin && -n $installed_module && -n $build_module ]] || fail "executable or module missing"

# The names the loader resolves for the executables and modules (their whole dependency closure).
plant=$work/plant
mkdir -p "$plant"
names=$(cd / && ldd "$build_bin" "$build_module" "$installed_bin" "$installed_module" |
  awk '$2 == "=>" { print $1 }' | sort -u |
  grep -Ev '^(libc\.so|libm\.so|libstdc\+\+\.so|libgcc_s\.so|ld-linux|linux-vdso)')
[[ $(wc -l <<<"$names") -ge 5 ]] || fail "too few library names found: $names"
grep -qx 'libkeyutils.so.1' <<<"$names" || fail "libkeyutils.so.1 is not among the names: the test looks at the wrong files"
grep -qx 'libcurl.so.4' <<<"$names" || fail "libcurl.so.4 is not among the names"
for name in $names; do cp "$planted" "$plant/$name"; done

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
(cd / && exec "$build_bin" serve --port 0 --auto-approve --interval 1) > "$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done  # until it printed or died (no count of tries: a loaded machine may be slow; ctest's timeout bounds it)
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || fail "serve printed no issuer: $(cat "$work/serve.err")"
(cd / && timeout 60 "$build_bin" login --issuer "$issuer" --client-id devicelogin-demo --store file \
  --profile planted --no-browser --no-qr) >/dev/null 2>"$work/login.err" || fail "login failed: $(tail -n1 "$work/login.err")"

for bin in "$build_bin" "$installed_bin"; do
  for command in "token" "status" "refresh" "token --min-ttl 999999999"; do
    # shellcheck disable=SC2086  # command holds the subcommand and its flags
    if ! (cd "$plant" && timeout 60 "$bin" $command --profile planted) >"$work/out" 2>"$work/err"; then
      fail "$bin $command from the planted directory failed: $(tail -n1 "$work/err")"
    fi
    [[ $command != token* || -s $work/out ]] || fail "$bin $command printed no token"
    [[ ! -e $plant/PLANTED-LIBRARY-RAN ]] || fail "$bin $command loaded a library from the current directory"
  done
done
echo "planted_libraries_test: $(wc -l <<<"$names") library names planted; token, status and refresh ran from there (build tree and installed copy), nothing planted was loaded"
