#!/usr/bin/env bash
# Packaging: CPack builds a .deb whose Depends come from dpkg-shlibdeps; extracted into a
# temporary root (dpkg-deb -x), its devicelogin runs the whole demo from there (it finds its command
# module relative to itself), and the man page and completions are in it.
#   deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || { tail -n 20 "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(find "$work/pkg" -maxdepth 1 -name 'devicelogin_*.deb' -print -quit)
[[ -n $deb ]] || fail "no .deb was made: $(ls "$work/pkg")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libcurl4 libssl3 libsecret-1-0 libkeyutils1 libqrencode4; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
dpkg-deb -x "$deb" "$work/root"
for f in usr/bin/devicelogin usr/share/man/man1/devicelogin.1 usr/share/bash-completion/completions/devicelogin \
         usr/share/zsh/vendor-completions/_devicelogin usr/share/fish/vendor_completions.d/devicelogin.fish \
         usr/include/devicelogin/session.hpp; do
  [[ -e $work/root/$f ]] || fail "the package lacks /$f"
done
# docker's credential helper name: a symlink to devicelogin next to it, which answers by that name.
[[ $(readlink "$work/root/usr/bin/docker-credential-devicelogin") == devicelogin ]] ||
  fail "the package lacks the symlink /usr/bin/docker-credential-devicelogin -> devicelogin"
[[ $(HOME=$work "$work/root/usr/bin/docker-credential-devicelogin" version) == "docker-credential-devicelogin (devicelogin) "* ]] ||
  fail "docker-credential-devicelogin version does not answer from the extracted root"
find "$work/root" -name 'libdevicelogin.so.0*' | grep -q . || fail "the package lacks libdevicelogin.so.0"
find "$work/root" -name 'devicelogin-cli.so' | grep -q . || fail "the package lacks the command module"
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
timeout 120 "$work/root/usr/bin/devicelogin" demo --auto-approve --exit --store file --no-browser --no-qr \
  >"$work/demo.out" 2>"$work/demo.err" || fail "the packaged demo failed: $(tail -n 3 "$work/demo.err")"
grep -q 'you are' "$work/demo.err" || fail "the packaged demo made no API call: $(tail -n 3 "$work/demo.err")"
# The Python package, for Debian's python3: imported from the extracted root with its own library.
python_site=$work/root/usr/lib/python3/dist-packages
for f in __init__.py py.typed _version.py libdevicelogin.so.0; do
  [[ -f $python_site/devicelogin/$f ]] || fail "the package lacks /usr/lib/python3/dist-packages/devicelogin/$f"
done
/usr/bin/python3 -I -c 'import sys; sys.path.insert(0, sys.argv[1]); import devicelogin; print(devicelogin.version())' \
  "$python_site" >/dev/null || fail "the packaged Python package does not load its library"
echo "deb_test: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB; Depends: $depends) runs the demo from an extracted root"
