"""The builder of ``sagsocket._native``: the package's declarations compiled
with cffi's API (out-of-line) mode against the installed libsagsocket, so
that each library call is a direct C call rather than one through libffi.

setup.py asks :func:`extension` for the extension to build (an optional
one: pip installs the pure-Python package, which then uses cffi's ABI mode,
when there is no compiler or no Python.h); :func:`extension` answers None
when the installed header cannot be found.

Where the library is: ``SAGSOCKET_INCLUDE_DIR`` and ``SAGSOCKET_LIB_DIR``
when set (the include folder alone decides: nothing else is looked at for
it), otherwise pkg-config's ``includedir`` and ``libdir`` of ``sagsocket``,
otherwise ``/usr/local/include`` and ``/usr/local/lib``. The library folder
is written into the extension as its run path, so that the extension finds
the library it was built against without ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys

HEADER, DECLS = "sagsocket.h", "sagsocket_decls.h"


def _pkg_config(variable: str) -> str:
    try:
        return subprocess.run(["pkg-config", "--variable=" + variable, "sagsocket"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def locate() -> tuple[str, str] | None:
    """(include folder, library folder) of the installed libsagsocket, or
    None when no include folder holding its headers is found."""
    inc = os.environ.get("SAGSOCKET_INCLUDE_DIR")
    incs = [inc] if inc else [_pkg_config("includedir"), "/usr/local/include"]
    libdir = os.environ.get("SAGSOCKET_LIB_DIR") or _pkg_config("libdir") or "/usr/local/lib"
    for d in incs:
        if d and all(os.path.isfile(os.path.join(d, h)) for h in (HEADER, DECLS)):
            return d, libdir
    return None


def builder(inc: str, libdir: str):
    """The cffi builder of sagsocket._native over the headers in inc."""
    import cffi
    b = cffi.FFI()
    with open(os.path.join(inc, DECLS), encoding="utf-8") as f:
        b.cdef(f.read())
    b.set_source("sagsocket._native", "#include <sagsocket.h>", include_dirs=[inc],
                 library_dirs=[libdir], runtime_library_dirs=[libdir], libraries=["sagsocket"])
    return b


def extension(tmpdir: str = "build"):
    """The optional setuptools extension of sagsocket._native (its C source
    written under tmpdir), or None when cffi or the installed header is
    missing; a failing compile then leaves the package in ABI mode."""
    where = locate()
    if where is None:
        print("sagsocket: the installed sagsocket.h was not found: cffi ABI mode only",
              file=sys.stderr)
        return None
    try:
        ext = builder(*where).distutils_extension(tmpdir=tmpdir, verbose=False)
    except ImportError:
        print("sagsocket: cffi is not importable at build time: cffi ABI mode only",
              file=sys.stderr)
        return None
    ext.optional = True  # no compiler or no Python.h: the build goes on without it
    return ext

