#!/usr/bin/env bash
# Internals live in a namespace of their own module (devicelogin::core, ::http, ::store,
# ::oauth, ::session), so that namespace devicelogin holds the public API and nothing else.
# - Every header under src/<module>/ declares its contents in namespace devicelogin::<module>
#   (anonymous and nested namespaces inside it are fine). Session's engine is
#   devicelogin::session::Engine (src/session/engine.hpp), like any other.
# - Every symbol that the internal archive (all of src/, compiled once) defines directly in
#   namespace devicelogin belongs to a name a public header declares (a class, struct, enum or
#   function of include/devicelogin/*.hpp or include/devicelogin/advanced/*.hpp).
#   internal_namespaces_test.sh SOURCE_DIR INTERNAL_ARCHIVE
set -euo pipefail
src=$1 archive=$2
fail() { echo "internal_namespaces_test: $*" >&2; exit 1; }

headers=0
for header in "$src"/src/*/*.hpp; do
  module=$(basename "$(dirname "$header")")
  relative=${header#"$src"/}
  # Outside the module's namespace (between its opening line and the comment that closes it) a
  # header may open no namespace; inside it, only nested ones of its own.
  verdict=$(awk -v want="devicelogin::$module" '
    /^namespace [A-Za-z_:]+ *[{]/ {
      name = $2
      if (inside) { if (name ~ /^devicelogin/) { print "opens " name " inside " want; failed = 1; exit } }
      else if (name == want) { inside = 1; seen = 1 }
      else { print "declares into namespace " name ", not " want; failed = 1; exit }
    }
    $0 == "}  // namespace " want { inside = 0 }
    END { if (!failed && !seen) print "opens no namespace " want }' "$header")
  [[ -z $verdict ]] || fail "$relative $verdict"
  headers=$((headers + 1))
done
((headers >= 15)) || fail "only $headers internal headers found under $src/src"

# Names declared at namespace scope (not indented: members of a public class are not names of
# their own here, so an internal devicelogin::load() cannot pass for ProfileStore::load).
public_names=$(cat "$src"/include/devicelogin/*.hpp "$src"/include/devicelogin/advanced/*.hpp |
  sed -E -n 's/^(template <[^>]*> )?(class|struct|enum class|enum|using) (DEVICELOGIN_API )?([A-Za-z_][A-Za-z0-9_]*).*/\4/p;
             s/^([^ /#][^/#]*[^A-Za-z0-9_(:~])?([a-z_][a-z0-9_]*)\(.*/\2/p' | sort -u)
[[ $(wc -l <<<"$public_names") -ge 30 ]] || fail "too few public names found: $public_names"

defined=$(nm -C --defined-only "$archive" 2>/dev/null | awk '$2 ~ /^[TtWwDdBbRrVv]$/' | cut -d' ' -f3- |
  sed -E 's/^(vtable for |typeinfo for |typeinfo name for |guard variable for )//' | grep '^devicelogin::' | sort -u)
[[ $(wc -l <<<"$defined") -ge 100 ]] || fail "too few devicelogin symbols in $archive: is it the internal archive?"
top=$(grep -Ev '^devicelogin::(core|http|store|oauth|session|\(anonymous namespace\))::' <<<"$defined" || true)
stray=""
while read -r symbol; do
  [[ -n $symbol ]] || continue
  name=$(sed -E 's/^devicelogin::([A-Za-z_][A-Za-z0-9_]*).*/\1/' <<<"$symbol")
  grep -qx "$name" <<<"$public_names" || stray+="$symbol"$'\n'
done <<<"$top"
if [[ -n $stray ]]; then
  printf '%s' "$stray" | sed -n 1,20p >&2
  fail "$(printf '%s' "$stray" | wc -l) symbols in namespace devicelogin that no public header declares (first 20 above)"
fi
echo "internal_namespaces_test: $headers internal headers each in devicelogin::<module>;" \
  "$(wc -l <<<"$top") top-level devicelogin symbols in the archive, all of public names"
