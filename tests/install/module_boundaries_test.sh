#!/usr/bin/env bash
# Each module compiles against the public headers and, of src/, only its own headers and those of
# the modules it may use (core <- http, store <- oauth <- session; devserver uses core; the table
# is in docs/architecture.md), so that an upward or sideways dependency does not compile.
# For every module's include root (BUILD_DIR/module-include/<target>, made by src/CMakeLists.txt),
# preprocesses an #include of one header of every src/ module and checks that exactly the allowed
# ones are found.
#   module_boundaries_test.sh SOURCE_DIR BUILD_DIR CXX
set -euo pipefail
src=$1 build=$2 cxx=$3
fail() { echo "module_boundaries_test: $*" >&2; exit 1; }
declare -A allowed=(
  [dl_core]="core"
  [dl_http]="core http"
  [dl_store]="core store"
  [dl_store_secret]="core store"
  [dl_oauth]="core oauth"
  [dl_session]="core http oauth store session"
  [dl_devserver]="core"
  [dl_capi]=""
)
modules="core http oauth store session"
checked=0
for target in "${!allowed[@]}"; do
  root=$build/module-include/$target
  [[ -d $root ]] || fail "no include root for $target ($root)"
  for module in $modules; do
    header=$(cd "$src/src" && ls "$module"/*.hpp | head -n1)
    if printf '#include "%s"\n' "$header" |
        "$cxx" -std=c++23 -E -I"$src/include" -I"$src/devserver/include" -I"$root" -x c++ - \
          >/dev/null 2>"$build/module_boundaries.err"; then
      found=yes
    elif grep -q "$header: No such file" "$build/module_boundaries.err"; then
      found=no
    else
      fail "$target: preprocessing $header failed otherwise: $(head -n3 "$build/module_boundaries.err")"
    fi
    want=no
    [[ " ${allowed[$target]} " != *" $module "* ]] || want=yes
    [[ $found == "$want" ]] || fail "$target: #include \"$header\" found=$found, allowed=$want"
    checked=$((checked + 1))
  done
done
echo "module_boundaries_test: $checked (module, include) pairs: each module sees exactly the modules it may use"
