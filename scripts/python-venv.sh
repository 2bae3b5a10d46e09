#!/usr/bin/env bash
# Makes a virtual environment with the devicelogin Python package, offline, from Debian packages
# only (python3-venv; no PyPI). The package is pure Python, copied into the environment's
# site-packages: Debian 12 bundles no `wheel`, so pip cannot build it offline. Its one native
# module, devicelogin._fast (the token hot path), is built by CMake and copied in with the library.
#   scripts/python-venv.sh VENV [LIBRARY]
# LIBRARY is the libdevicelogin.so.0 to ship inside the package (default: build/lib's); it is
# copied next to the package, so `import devicelogin` works in VENV with no LD_LIBRARY_PATH.
# Uses Debian's /usr/bin/python3 (a pyenv python3 earlier on PATH is not used).
set -euo pipefail
venv=$1
src=$(cd "$(dirname "$0")/.." && pwd)
library=${2:-$src/build/lib/libdevicelogin.so.0}
[[ -e $library ]] || { echo "python-venv: no library at $library (build it first)" >&2; exit 2; }
/usr/bin/python3 -m venv "$venv"
package=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/devicelogin
rm -rf "$package"
cp -r "$src/python/devicelogin" "$package"
rm -rf "$package/__pycache__"
cp -L "$library" "$package/libdevicelogin.so.0"
# The token hot path (python/fast_module.cpp), built next to the library when python3-dev is there.
hot_path=$(dirname "$library")/python/devicelogin/_fast.abi3.so
[[ -e $hot_path ]] && cp -L "$hot_path" "$package/_fast.abi3.so"
"$venv/bin/python" -c 'import devicelogin; print("devicelogin", devicelogin.version(), "in", devicelogin.__file__)'
