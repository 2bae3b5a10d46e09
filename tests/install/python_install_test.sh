#!/usr/bin/env bash
# `cmake --install` installs the Python package for Debian's python3 (python/install_package.cmake):
# with prefix /usr (the .deb's, here under DESTDIR) into lib/python3/dist-packages, with another
# prefix into lib/python3.X/dist-packages, both directories that python3's site module names for
# that prefix. From each, /usr/bin/python3 -I (no PYTHONPATH, no user site, no current directory)
# imports the installed copy with its version, loads its own native library (RUNPATH $ORIGIN; a
# planted one in the current directory is ignored), signs in against `devicelogin serve` and gets
# a token and the Authorization header for it.
#   python_install_test.sh SOURCE_DIR BUILD_DIR DEVICELOGIN_EXE PLANTED_LIBRARY
set -euo pipefail
src=$1 build=$2 exe=$3 planted=$4
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "python_install_test: $*" >&2; exit 1; }
python=/usr/bin/python3
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[[ -n $version ]] || fail "no project version in $build/CMakeCache.txt"

DESTDIR=$work/root cmake --install "$build" --prefix /usr >"$work/install-usr.log" ||
  { tail -n 5 "$work/install-usr.log" >&2; fail "cmake --install --prefix /usr (DESTDIR) failed"; }
cmake --install "$build" --prefix "$work/opt" >"$work/install-opt.log" ||
  { tail -n 5 "$work/install-opt.log" >&2; fail "cmake --install --prefix $work/opt failed"; }
minor=$($python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
usr_site=$work/root/usr/lib/python3/dist-packages
opt_site=$work/opt/lib/python$minor/dist-packages
# The directories are those Debian's python3 imports from for the prefix.
$python -c 'import site, sys; sys.exit(0 if "/usr/lib/python3/dist-packages" in site.getsitepackages() else 1)' ||
  fail "/usr/lib/python3/dist-packages is not among Debian's python3 site directories"
$python -c 'import site, sys; sys.exit(0 if sys.argv[2] in site.getsitepackages([sys.argv[1]]) else 1)' \
  "$work/opt" "$opt_site" || fail "$opt_site is not a site directory of prefix $work/opt for $python"

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME" "$work/cwd"
unset DEVICELOGIN_LIBRARY LD_LIBRARY_PATH PYTHONPATH
# A stand-in for each native part in the current directory: loading one would be the bug.
cp "$planted" "$work/cwd/libdevicelogin.so.0"
cp "$planted" "$work/cwd/_fast.abi3.so"
"$exe" serve --port 0 --auto-approve=0 --interval 1 >"$work/serve.out" 2>/dev/null &
server_pid=$!
while [[ ! -s $work/serve.out ]] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done  # until it printed or died (ctest's timeout bounds it)
issuer=$(head -n1 "$work/serve.out")
[[ $issuer == http://127.0.0.1:* ]] || fail "serve printed no issuer"

n=0
for site in "$usr_site" "$opt_site"; do
  package=$site/devicelogin n=$((n + 1))
  for f in __init__.py _native.py _requests_auth.py _httpx_auth.py py.typed _version.py libdevicelogin.so.0; do
    [[ -f $package/$f ]] || fail "$package lacks $f"
  done
  natives=("$package/libdevicelogin.so.0")
  [[ ! -e $build/lib/python/devicelogin/_fast.abi3.so ]] || natives+=("$package/_fast.abi3.so")
  for native in "${natives[@]}"; do
    runpath=$(readelf -d "$native" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
    [[ $runpath == '$ORIGIN' ]] || fail "$native has RUNPATH '$runpath', not \$ORIGIN"
  done
  profile=py-installed-$n
  # Imported from the installed bytecode (a user cannot write it there), not compiled again.
  (cd "$work/cwd" && $python -I -v -c 'import sys; sys.path.insert(0, sys.argv[1]); import devicelogin' "$site" \
    >"$work/import.log" 2>&1) || fail "import devicelogin from $site failed"
  grep -qF "code object from '$package/__pycache__/__init__.cpython-${minor/./}.pyc'" "$work/import.log" ||
    fail "$package/__init__.py is not imported from its installed bytecode"
  (cd "$work/cwd" && timeout 120 $python -I - "$site" "$issuer" "$profile" "$version" "${#natives[@]}") <<'PY' ||
import sys
site, issuer, profile, version, natives = sys.argv[1:6]
sys.path.insert(0, site)
import devicelogin
assert devicelogin.__file__ == f"{site}/devicelogin/__init__.py", devicelogin.__file__
assert devicelogin.__version__ == version, devicelogin.__version__
session = devicelogin.Session(profile, issuer=issuer, client_id="devicelogin-demo",
                              scope="openid profile offline_access", store="file")
session.login()
token = session.token().reveal()
assert len(token) > 20, "no token"
assert session.authorization().reveal() == "Bearer " + token, "the Authorization header is not Bearer + the token"
assert session.status().subject == "alice"
assert devicelogin.version() == version
# Every native part came from the installed package, none from the current directory.
maps = open("/proc/self/maps").read()
loaded = {line.split()[-1] for line in maps.splitlines() if "libdevicelogin" in line or "_fast.abi3" in line}
expected = {f"{site}/devicelogin/libdevicelogin.so.0"} | ({f"{site}/devicelogin/_fast.abi3.so"} if natives == "2" else set())
assert loaded == expected, sorted(loaded)
PY
    fail "the package installed in $site does not work (above)"
done
[[ ! -e $work/cwd/PLANTED-LIBRARY-RAN ]] || fail "a library planted in the current directory was loaded"
echo "python_install_test: installed for python$minor in $usr_site (prefix /usr) and $opt_site; signed in from each"
