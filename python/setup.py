"""Builds the devicelogin wheel (pyproject.toml) from a CMake build tree: the package's Python
files from here, and its native parts from the build's LIBDIR/python/devicelogin/, made by the
devicelogin_python_library and devicelogin_python_fast targets (python/CMakeLists.txt):
libdevicelogin.so.0 (the C ABI only, RUNPATH $ORIGIN) and _fast.abi3.so (the token hot path,
CPython's stable ABI; left out when the build had no python3-dev). The wheel is tagged
cp311-abi3-linux_<arch>; its version is the build's project version (CMakeCache.txt).

The build tree is DEVICELOGIN_BUILD_DIR, else the checkout's build/. setuptools' scratch files
(build/, *.egg-info) go to a temporary directory, not into the source tree."""
from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("DEVICELOGIN_BUILD_DIR") or HERE.parent / "build").resolve()


def cache_value(name: str) -> str:
    """A value of the build's CMakeCache.txt (a SystemExit naming what is missing)."""
    cache = BUILD / "CMakeCache.txt"
    if not cache.is_file():
        raise SystemExit(f"devicelogin: no CMake build at {BUILD} (build the library first, or set DEVICELOGIN_BUILD_DIR)")
    found = re.search(rf"^{name}:[A-Z]+=(.*)$", cache.read_text(), re.MULTILINE)
    if not found:
        raise SystemExit(f"devicelogin: {cache} has no {name}")
    return found.group(1).strip()


NATIVE = BUILD / cache_value("CMAKE_INSTALL_LIBDIR") / "python" / "devicelogin"
VERSION = cache_value("CMAKE_PROJECT_VERSION")


class BuildPy(build_py):
    """Adds the native parts, _version.py, and the project's LICENSE when it has one."""

    def run(self) -> None:
        super().run()
        package = Path(self.build_lib) / "devicelogin"
        library = NATIVE / "libdevicelogin.so.0"
        if not library.is_file():
            raise SystemExit(f"devicelogin: no {library} (build the devicelogin_python_library target)")
        parts = [library]
        fast = NATIVE / "_fast.abi3.so"
        if fast.is_file():
            parts.append(fast)
        else:
            print(f"devicelogin: no {fast} (no python3-dev at build time): the wheel has no token hot path")
        for part in parts:
            copy = package / part.name
            shutil.copyfile(part, copy)
            os.chmod(copy, 0o755)
            # Without the debug information (RelWithDebInfo builds carry it): a third of the size.
            if shutil.which("strip"):
                subprocess.run(["strip", "--strip-debug", str(copy)], check=True)
        (package / "_version.py").write_text(f'version = "{VERSION}"\n')
        license_file = HERE.parent / "LICENSE"
        if license_file.is_file():
            shutil.copyfile(license_file, package / "LICENSE")


class NativeDistribution(Distribution):
    """Not a pure-Python distribution: the wheel is platform-specific and goes to platlib."""

    def has_ext_modules(self) -> bool:
        return True


scratch = tempfile.mkdtemp(prefix="devicelogin-setup-")
atexit.register(shutil.rmtree, scratch, True)

setup(
    version=VERSION,
    cmdclass={"build_py": BuildPy},
    distclass=NativeDistribution,
    options={
        "bdist_wheel": {"py_limited_api": "cp311"},
        "build": {"build_base": os.path.join(scratch, "build")},
        "egg_info": {"egg_base": scratch},
    },
)
