"""Loads libsagsocket and its declarations with cffi.

Two modes, :data:`MODE` says which: ``"api"`` when the extension
``sagsocket._native`` (cffi's API mode, compiled by ``pip install`` against
the installed header where a compiler and Python.h were there, see
native_build.py) imports, each call then a direct C call; ``"abi"``
otherwise, or when the environment sets ``SAGSOCKET_ABI_MODE=1``: the
library opened with dlopen and the header read with cdef, as follows.

The library: ``SAGSOCKET_LIBRARY`` (a path) if set, otherwise the dynamic
loader's ``libsagsocket.so.1`` (``LD_LIBRARY_PATH``, ``ldconfig``'s cache),
otherwise ``libsagsocket.so.1`` in pkg-config's ``libdir`` of ``sagsocket``
or in ``/usr/local/lib`` (a ``make install`` that ``ldconfig`` has not seen).

The declarations: ``sagsocket_decls.h`` itself, read at import, never a copy:
``SAGSOCKET_DECLS`` (a path) if set, otherwise the ``include`` folder beside
the ``lib`` folder of the library that was loaded (found in
``/proc/self/maps``), otherwise pkg-config's ``includedir`` of ``sagsocket``,
otherwise ``/usr/local/include`` and ``/usr/include``. The file holds only
typedefs, enums and prototypes, which cffi's ``cdef`` reads unchanged.
"""

from __future__ import annotations

import os
import subprocess

import cffi

SONAME = "libsagsocket.so.1"
DECLS = "sagsocket_decls.h"

ffi = cffi.FFI()  # ABI mode's (replaced by the extension's in API mode)


def _loaded_library_path() -> str | None:
    """The file the process mapped for libsagsocket, if any."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "libsagsocket.so" in parts[5]:
                    return parts[5].strip()
    except OSError:
        pass
    return None


def _pkg_config(variable: str) -> str:
    try:
        return subprocess.run(["pkg-config", "--variable=" + variable, "sagsocket"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _decls_candidates(lib_path: str | None):
    """Where sagsocket_decls.h may be, best first (pkg-config runs only when
    the places before it had no file)."""
    env = os.environ.get("SAGSOCKET_DECLS")
    if env:
        yield env
        return
    if lib_path:
        libdir = os.path.dirname(os.path.realpath(lib_path))
        yield os.path.join(os.path.dirname(libdir), "include", DECLS)
    inc = _pkg_config("includedir")
    if inc:
        yield os.path.join(inc, DECLS)
    yield "/usr/local/include/" + DECLS
    yield "/usr/include/" + DECLS


def _library_candidates(env: str | None):
    """Where libsagsocket may be, best first: SAGSOCKET_LIBRARY alone when
    set; otherwise the soname through the dynamic loader, and only when that
    fails (the generator is lazy) pkg-config's libdir and /usr/local/lib."""
    if env:
        yield env
        return
    yield SONAME
    libdir = _pkg_config("libdir")
    for d in (libdir, "/usr/local/lib"):
        if d:
            path = os.path.join(d, SONAME)
            if os.path.exists(path):
                yield path


def _load():
    env = os.environ.get("SAGSOCKET_LIBRARY")
    # Functions are resolved lazily by cffi, so the library can be opened
    # before the declarations are read.
    lib_handle = None
    errors = []
    path = SONAME
    for path in _library_candidates(env):
        try:
            lib_handle = ffi.dlopen(path)
            break
        except OSError as e:
            errors.append(f"{path}: {e}")
    if lib_handle is None:
        raise ImportError(
            "sagsocket: cannot load libsagsocket (" + "; ".join(errors) + "); install it "
            "(make install) or set SAGSOCKET_LIBRARY to the library's path")
    lib_path = path if os.sep in path else _loaded_library_path()
    tried = []
    for cand in _decls_candidates(lib_path):
        tried.append(cand)
        if os.path.isfile(cand):
            with open(cand, encoding="utf-8") as f:
                ffi.cdef(f.read())
            return lib_handle, cand, lib_path
    raise ImportError("sagsocket: cannot find " + DECLS + " (tried " + ", ".join(tried)
                      + "); set SAGSOCKET_DECLS to its path")


def _compiled():
    """(ffi, lib) of the compiled extension, or None (not built, not
    loadable, or ABI mode asked for)."""
    if os.environ.get("SAGSOCKET_ABI_MODE", "") not in ("", "0"):
        return None
    try:
        from . import _native as native
    except ImportError:
        return None
    return native.ffi, native.lib


_api = _compiled()
if _api is not None:
    MODE = "api"
    ffi, lib = _api
    # The library the loader gave the extension (LD_LIBRARY_PATH, else its
    # run path: the folder it was built against) and the header installed
    # beside it. SAGSOCKET_LIBRARY and SAGSOCKET_DECLS are ABI mode's.
    LIBRARY_PATH = _loaded_library_path()
    DECLS_PATH = next((c for c in _decls_candidates(LIBRARY_PATH) if os.path.isfile(c)), None)
else:
    MODE = "abi"
    lib, DECLS_PATH, LIBRARY_PATH = _load()
del _api
# Every name looked up now, once: cffi looks a name up under a lock of its
# own the first time it is used, and a finalizer (Socket.__del__) that the
# garbage collector runs during such a first look-up, and itself uses a name
# not looked up yet, would wait for that lock forever.
for _name in dir(lib):
    getattr(lib, _name)
del _name
NULL = ffi.NULL
