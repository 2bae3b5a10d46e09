#!/usr/bin/env bash
# libdevicelogin.so exports its public API and nothing else (adopters depend on what it exports).
# Every dynamic symbol it defines must be (the vtable or type information of) a name that a public
# header under include/devicelogin/ (the facade) or include/devicelogin/advanced/ (the advanced
# layer) marks DEVICELOGIN_API, or a member of one; nothing of std, nlohmann, OpenSSL, libcurl, or
# of the internal modules (devicelogin::oauth::, core/store/http helpers, the session engine
# devicelogin::session::Engine behind Session). The macro itself may be used in the public headers only.
# The C ABI's functions (DL_API in include/devicelogin/devicelogin.h) are exported too,
# all of them and no other dl_ name, and every exported symbol carries the version node
# DEVICELOGIN_0 (src/devicelogin.map), or, for a C function added since, the node that added it
# (DEVICELOGIN_0.1, DEVICELOGIN_0.2, DEVICELOGIN_0.3).
#   exported_symbols_test.sh SOURCE_DIR LIBRARY
set -euo pipefail
src=$1 library=$2
fail() { echo "exported_symbols_test: $*" >&2; exit 1; }

# The names the public headers export: `class DEVICELOGIN_API Name`, `DEVICELOGIN_API T name(`.
allowed=$(grep -h 'DEVICELOGIN_API' "$src"/include/devicelogin/*.hpp "$src"/include/devicelogin/advanced/*.hpp | grep -v '#define' |
  sed -E -n 's/.*(class|struct) DEVICELOGIN_API ([A-Za-z_][A-Za-z0-9_]*).*/\2/p;
    s/.*DEVICELOGIN_API [^(]*[^A-Za-z0-9_(]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/p' | sort -u)
[[ $(wc -l <<<"$allowed") -ge 20 ]] || fail "too few DEVICELOGIN_API names found in the headers: $allowed"
grep -qx Session <<<"$allowed" || fail "Session is not among the exported names: $allowed"

misplaced=$(grep -rl --include="*.[ch]pp" --include="*.h" 'DEVICELOGIN_API' "$src/src" "$src/cli" "$src/devserver" || true)
[[ -z $misplaced ]] || fail "DEVICELOGIN_API outside include/devicelogin/: $misplaced"

c_functions=$(grep -h '^DL_API' "$src/include/devicelogin/devicelogin.h" |
  sed -E -n 's/.*[^A-Za-z0-9_](dl_[a-z0-9_]+)\(.*/\1/p' | sort -u)
[[ $(wc -l <<<"$c_functions") -ge 20 ]] || fail "too few DL_API functions found in devicelogin.h: $c_functions"

# Every defined dynamic symbol is versioned DEVICELOGIN_0 (the node's own name is an ABS symbol).
versioned=$(nm -D --defined-only --with-symbol-versions "$library" | awk '$2 != "A" {print $3}')
unversioned=$(grep -Ev '@@DEVICELOGIN_0$|^dl_[a-z0-9_]+@@DEVICELOGIN_0[.][123]$' <<<"$versioned" || true)
[[ -z $unversioned ]] || fail "exported symbols without the version DEVICELOGIN_0: $(sed -n 1,5p <<<"$unversioned")"
grep -qx 'dl_session_check_url@@DEVICELOGIN_0.1' <<<"$versioned" || fail "dl_session_check_url is not in DEVICELOGIN_0.1"
grep -qx 'dl_session_authorization@@DEVICELOGIN_0.2' <<<"$versioned" ||
  fail "dl_session_authorization is not in DEVICELOGIN_0.2"
for added in dl_session_request_credentials dl_session_learn_from_response dl_session_code_info \
  dl_session_set_browser_callback; do
  grep -qx "$added@@DEVICELOGIN_0.3" <<<"$versioned" || fail "$added is not in DEVICELOGIN_0.3"
done
exported_c=$(sed -E -n 's/^(dl_[a-z0-9_]+)@@DEVICELOGIN_0([.][123])?$/\1/p' <<<"$versioned" | sort -u)
[[ $exported_c == "$c_functions" ]] ||
  fail "the exported dl_ functions differ from devicelogin.h's: $(diff <(echo "$c_functions") <(echo "$exported_c") | grep '^[<>]' | head -5)"

symbols=$(nm -DC --defined-only "$library" | awk '$2 != "A"' | cut -d' ' -f3- | sed -E 's/@@?DEVICELOGIN_0([.][123])?$//' |
  grep -v '^dl_')
[[ $(wc -l <<<"$symbols") -ge 20 ]] || fail "too few exported symbols: is $library the library?"
grep -q '^devicelogin::Session::login(' <<<"$symbols" || fail "Session::login is not exported"

pattern="^devicelogin::($(paste -sd'|' <<<"$allowed"))(::|\(|\[|$)"
unexpected=$(sed -E 's/^(vtable for |typeinfo for |typeinfo name for )//' <<<"$symbols" |
  { grep -Ev "$pattern" || true; })
internal=$(grep -E '^devicelogin::session::' <<<"$symbols" || true)
extra=$(printf '%s\n' "$unexpected" "$internal" | sed '/^$/d')
if [[ -n $extra ]]; then
  sed -n 1,20p <<<"$extra" >&2
  fail "$(wc -l <<<"$extra") symbols exported beyond the public API (first 20 above)"
fi
echo "exported_symbols_test: $(wc -l <<<"$symbols") C++ symbols exported, all from $(wc -l <<<"$allowed") public names;" \
  "$(wc -l <<<"$exported_c") C functions, exactly devicelogin.h's; all versioned DEVICELOGIN_0"
