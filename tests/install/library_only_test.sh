#!/usr/bin/env bash
# The library builds alone (for programs that want it without our CLI), needing only libcurl,
# OpenSSL and nlohmann-json (and libsodium's header: libsodium is loaded at run time). Configures SOURCE_DIR with the CLI, the devserver, the tests and the
# keyring stores (libsecret, libkeyutils) OFF into WORK_DIR (emptied first; a fixed path so that
# ccache serves repeated runs), builds it, and checks that only the library was built and that none
# of the CLI's, the devserver's or the tests' dependencies (CLI11, libqrencode, cpp-httplib,
# GoogleTest) was even looked for.
#   library_only_test.sh SOURCE_DIR WORK_DIR [CXX_COMPILER_LAUNCHER]
set -euo pipefail
src=$1 work=$2 launcher=${3:-}
fail() { echo "library_only_test: $*" >&2; exit 1; }
rm -rf "$work"
args=(-S "$src" -B "$work" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEVICELOGIN_BUILD_CLI=OFF
  -DDEVICELOGIN_BUILD_DEVSERVER=OFF -DDEVICELOGIN_BUILD_TESTS=OFF -DDEVICELOGIN_SECRET_SERVICE=OFF
  -DDEVICELOGIN_KERNEL_KEYRING=OFF)
[[ -z $launcher ]] || args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
cmake "${args[@]}" >"$work.configure.log" 2>&1 || { tail -n 20 "$work.configure.log" >&2; fail "configure failed"; }
for package in CLI11 QRENCODE HTTPLIB GTest LIBSECRET KEYUTILS; do
  ! grep -Eq "^${package}_(DIR|FOUND|INCLUDEDIR|LIBRARIES)[:=]" "$work/CMakeCache.txt" ||
    fail "the library-only configuration looked for $package"
done
nice -n 10 cmake --build "$work" -j2 >"$work.build.log" 2>&1 || { tail -n 20 "$work.build.log" >&2; fail "build failed"; }
library=$(find "$work" -name 'libdevicelogin.so.*.*' -type f -print -quit)
[[ -n $library ]] || fail "no libdevicelogin.so was built"
others=$(find "$work" -type f \( -name 'devicelogin' -o -name 'devicelogin-cli' -o -name '*_tests' -o -name 'fuzz_*' \) -perm -u+x)
[[ -z $others ]] || fail "built more than the library: $others"
# What it loads: libcurl, OpenSSL's libcrypto and the C/C++ runtime; no libsecret, GLib or libkeyutils.
needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for unwanted in libsecret libglib libgio libkeyutils; do
  [[ $needed != *"$unwanted"* ]] || fail "the library-only build needs $unwanted: $needed"
done
[[ $needed == *libcurl* && $needed == *libcrypto* ]] || fail "unexpected dependencies: $needed"
echo "library_only_test: built $(basename "$library") alone (needs: $needed), without CLI11, libqrencode, cpp-httplib, GoogleTest, libsecret or libkeyutils"
