"""ctypes declarations of the C ABI (include/devicelogin/devicelogin.h), loaded on first use.

Importing the package does not load the native library (and so not libcurl and OpenSSL): this
module is imported by the first Session.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

SONAME = "libdevicelogin.so.0"


def candidates() -> list[str]:
    """Where the library is looked for, in order (docs/library.md, "Python")."""
    found: list[str] = []
    explicit = os.environ.get("DEVICELOGIN_LIBRARY")
    if explicit:
        found.append(explicit)
    here = Path(__file__).resolve().parent
    found.append(str(here / SONAME))  # travels with the package (the wheel: python/setup.py)
    checkout = here.parent.parent  # python/devicelogin -> the source tree
    for build in ("build", "build-asan"):
        found.append(str(checkout / build / "lib" / SONAME))
    found.append(SONAME)  # the dynamic loader: an installed prefix known to ld.so (/usr/local/lib)
    return found


def _load() -> ctypes.CDLL:
    problems = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as error:
            problems.append(f"{path}: {error}")
    raise OSError(f"{SONAME} not found (set DEVICELOGIN_LIBRARY to its path): " + "; ".join(problems or ["no candidate exists"]))


c_char_pp = ctypes.POINTER(ctypes.c_char_p)
CODE_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.c_longlong)
WAIT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_longlong)
BROWSER_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_longlong)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    vp, pp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
    sigs = {
        "dl_version": (ctypes.c_char_p, []),
        "dl_error_status": (ctypes.c_int, [vp]),
        "dl_error_kind": (ctypes.c_char_p, [vp]),
        "dl_error_message": (ctypes.c_char_p, [vp]),
        "dl_error_oauth_error": (ctypes.c_char_p, [vp]),
        "dl_error_http_status": (ctypes.c_int, [vp]),
        "dl_error_remedy": (ctypes.c_char_p, [vp]),
        "dl_error_profile": (ctypes.c_char_p, [vp]),
        "dl_error_setting": (ctypes.c_char_p, [vp]),
        "dl_error_free": (None, [vp]),
        "dl_secret_free": (None, [vp]),
        "dl_session_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, pp, pp]),
        "dl_session_close": (None, [vp]),
        "dl_session_set": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_char_p, pp]),
        "dl_session_login": (ctypes.c_int, [vp, CODE_CALLBACK, WAIT_CALLBACK, vp, pp]),
        "dl_session_cancel": (None, [vp]),
        "dl_session_set_browser_callback": (ctypes.c_int, [vp, BROWSER_CALLBACK, vp, pp]),
        "dl_session_token": (ctypes.c_int, [vp, ctypes.c_longlong, pp, ctypes.POINTER(ctypes.c_size_t), pp]),
        "dl_session_refresh": (ctypes.c_int, [vp, pp]),
        "dl_session_logout": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_int), pp]),
        "dl_session_forget": (ctypes.c_int, [vp, pp]),
        "dl_session_request": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_char_p, c_char_pp, ctypes.c_char_p,
                                              ctypes.c_size_t, ctypes.c_longlong, pp, pp]),
        "dl_session_check_url": (ctypes.c_int, [vp, ctypes.c_char_p, pp]),
        "dl_session_authorization": (ctypes.c_int, [vp, ctypes.c_longlong, pp, ctypes.POINTER(ctypes.c_size_t), pp]),
        "dl_response_status": (ctypes.c_int, [vp]),
        "dl_response_header": (ctypes.c_char_p, [vp, ctypes.c_char_p]),
        "dl_response_body": (vp, [vp, ctypes.POINTER(ctypes.c_size_t)]),
        "dl_response_free": (None, [vp]),
        "dl_session_status": (ctypes.c_int, [vp, pp, pp]),
        "dl_status_logged_in": (ctypes.c_int, [vp]),
        "dl_status_get": (ctypes.c_char_p, [vp, ctypes.c_char_p]),
        "dl_status_free": (None, [vp]),
    }
    # DEVICELOGIN_0.3: absent from an older library, whose other calls still work (the calls that
    # need them say so).
    later = {
        "dl_session_request_credentials": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_longlong,
                                                          pp, pp, pp]),
        "dl_session_learn_from_response": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_int, c_char_pp,
                                                          ctypes.POINTER(ctypes.c_int), pp]),
        "dl_session_code_info": (ctypes.c_char_p, [vp, ctypes.c_char_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    for name, (restype, argtypes) in later.items():
        function = getattr(lib, name, None)
        if function is not None:
            function.restype = restype
            function.argtypes = argtypes
    return lib


def has(name: str) -> bool:
    """Whether the loaded library has the C function `name` (one added in a later version node)."""
    return getattr(lib, name, None) is not None


lib = _declare(_load())
