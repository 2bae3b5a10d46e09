"""The wheel (python/pyproject.toml, python/setup.py) as pip installs it: its name and contents,
its version, what its native parts export and where they look for libraries, a fresh venv with
nothing else (no LD_LIBRARY_PATH, a planted libdevicelogin.so in the current directory),
`pip install ./python` from the checkout, and `mypy --strict` on the examples. Run by
`run.sh --wheel` (ctest python_package), from the venv the wheel is installed in."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import devicelogin
from conftest import INSTALLED, PACKAGE_DIR, SOURCE

pytestmark = pytest.mark.skipif(not INSTALLED, reason="the installed wheel's checks (run.sh --wheel)")

BUILD = Path(os.environ.get("DEVICELOGIN_BUILD_DIR", "."))
WHEEL = Path(os.environ.get("DEVICELOGIN_WHEEL", "."))
PACKAGE = PACKAGE_DIR / "devicelogin"


def project_version() -> str:
    found = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", (BUILD / "CMakeCache.txt").read_text(), re.MULTILINE)
    assert found, "no project version in the build's CMakeCache.txt"
    return found.group(1)


def has_hot_path() -> bool:
    return any((BUILD / "lib/python/devicelogin/_fast.abi3.so").parent.glob("_fast.abi3.so"))


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("DEVICELOGIN_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME")}


def test_wheel_name_contents_and_version():
    assert WHEEL.name == f"devicelogin-{project_version()}-cp311-abi3-linux_{platform.machine()}.whl"
    names = set(zipfile.ZipFile(WHEEL).namelist())
    expected = {"devicelogin/__init__.py", "devicelogin/_native.py", "devicelogin/py.typed",
                "devicelogin/_version.py", "devicelogin/libdevicelogin.so.0"}
    if has_hot_path():
        expected.add("devicelogin/_fast.abi3.so")
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith("tests/") or "/tests/" in name for name in names)
    assert devicelogin.__version__ == project_version() == devicelogin.version()
    shown = subprocess.run([sys.executable, "-m", "pip", "show", "devicelogin"], capture_output=True, text=True,
                           check=True).stdout
    assert f"Version: {project_version()}" in shown.splitlines()


def dynamic_section(path: Path) -> str:
    return subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout


def exported(path: Path) -> list[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()]


def test_native_parts_export_the_c_abi_only_and_look_only_next_to_themselves():
    library = PACKAGE / "libdevicelogin.so.0"
    names = exported(library)
    assert "dl_session_login" in names
    others = [name for name in names if not name.startswith(("dl_", "DEVICELOGIN_0"))]  # (the version nodes)
    assert not others, f"the wheel's library exports more than the C ABI: {others[:10]}"
    parts = [library]
    if has_hot_path():
        parts.append(PACKAGE / "_fast.abi3.so")
        assert exported(parts[-1]) == ["PyInit__fast"]
    for part in parts:
        dynamic = dynamic_section(part)
        assert "(RPATH)" not in dynamic, part.name
        assert re.findall(r"\(RUNPATH\)\s+Library runpath: \[(.*)\]", dynamic) == ["$ORIGIN"], part.name


LOADED = textwrap.dedent("""
    import importlib.util, devicelogin
    devicelogin.Session("wheel", issuer="https://id.example.com", client_id="c")  # loads the library
    fast = devicelogin._hot_path()
    print(devicelogin.__version__, importlib.util.find_spec("wheel") is not None, fast is not None)
    for line in open("/proc/self/maps"):
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            print(fields[5].strip())
    """)


def loaded(python: Path, cwd: Path) -> tuple[list[str], set[Path]]:
    """The version, whether `wheel` is importable and whether the hot path was found, and every
    file mapped into the process, once `python` has loaded the package's native parts in `cwd`."""
    result = subprocess.run([str(python), "-c", LOADED], cwd=cwd, env=clean_environment(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-600:]
    lines = result.stdout.splitlines()
    return lines[0].split(), {Path(line).resolve() for line in lines[1:]}


def ours(paths: set[Path]) -> set[Path]:
    return {path for path in paths if path.name.startswith(("libdevicelogin", "_fast"))}


def plant(directory: Path) -> None:
    """Copies, into `directory`, the package's native parts and the libraries its library needs,
    under the names a loader looking in the current directory would take."""
    directory.mkdir()
    for name in ("libdevicelogin.so.0", "libdevicelogin.so"):
        shutil.copyfile(PACKAGE / "libdevicelogin.so.0", directory / name)
    if has_hot_path():
        shutil.copyfile(PACKAGE / "_fast.abi3.so", directory / "_fast.abi3.so")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dynamic_section(PACKAGE / "libdevicelogin.so.0"))
    ldd = subprocess.run(["ldd", str(PACKAGE / "libdevicelogin.so.0")], capture_output=True, text=True).stdout
    for name, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.MULTILINE):
        if name in needed and not name.startswith(("libc.so", "ld-linux")):
            shutil.copyfile(path, directory / name)


def test_fresh_venv_loads_the_wheels_copies_not_the_current_directorys_then_pip_install_of_the_checkout(tmp_path):
    # scripts/python-venv.sh: the wheel of this build tree, pip-installed into a plain venv.
    venv = tmp_path / "venv"
    made = subprocess.run([str(SOURCE / "scripts/python-venv.sh"), str(venv), str(BUILD)], env=clean_environment(),
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-1000:]
    assert made.stdout.startswith(f"devicelogin {project_version()} in {venv}"), made.stdout
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-index"]
    planted = tmp_path / "cwd"
    plant(planted)
    fields, paths = loaded(venv / "bin/python", planted)
    assert fields == [project_version(), "False", str(has_hot_path())], fields
    site = venv.resolve()
    assert ours(paths) and all(path.is_relative_to(site) for path in ours(paths)), sorted(ours(paths))
    from_cwd = sorted(str(path) for path in paths if path.parent == planted.resolve())
    assert not from_cwd, f"loaded from the current directory: {from_cwd}"

    # pip install ./python: pip builds the wheel itself (its build environment from Debian's
    # bundled setuptools and wheel, no network), from this build tree (DEVICELOGIN_BUILD_DIR).
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "devicelogin"], check=True)
    built = subprocess.run([*pip, "--find-links", "/usr/share/python-wheels", str(SOURCE / "python")],
                           env=clean_environment(), capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-1000:]
    fields, paths = loaded(venv / "bin/python", tmp_path)
    assert fields[0] == project_version() and ours(paths)
    assert all(path.is_relative_to(site) for path in ours(paths)), sorted(ours(paths))


@pytest.mark.skipif(os.environ.get("DEVICELOGIN_PYTHON_SANITIZED") == "1", reason="no native code: the normal build's")
def test_mypy_strict_on_the_package_and_the_examples(tmp_path):
    examples = sorted(str(path) for path in (SOURCE / "examples/python").glob("*.py"))
    assert examples
    # The installed package itself too (-p; errors in an installed package are otherwise silent).
    for targets in (["-p", "devicelogin"], examples):
        result = subprocess.run(["mypy", "--strict", "--no-error-summary", "--python-executable", sys.executable,
                                 "--cache-dir", str(tmp_path / "mypy"), *targets],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-500:]
