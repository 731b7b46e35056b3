#!/usr/bin/env bash
# The Python test of an installed libsagsocket.
#   Tests/python/run.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. installs the package with `pip install ./bindings/python` into a
#    throwaway target folder (scripts/stage.sh's python_site), which compiles
#    its extension (cffi's API mode) against STAGE's header;
# 2. runs the pytest suite of bindings/python in both modes: the source tree
#    in ABI mode (SAGSOCKET_ABI_MODE=1: it reads STAGE's sagsocket_decls.h),
#    then the pip-installed copy in API mode;
# 3. runs a round trip with the installed copy in each mode, as a user who
#    installed it would (the library found through pkg-config or the
#    extension's run path, without LD_LIBRARY_PATH);
# 4. installs it again where the header cannot be found: the install
#    succeeds without the extension and the package runs in ABI mode.
# Exits non-zero when anything failed.
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage python-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-pip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "== pip install ./bindings/python (into a throwaway folder)"
python_site "$WORK/site"
# API mode where it can be built: a compiler and this Python's Python.h
# (scripts/setup.sh installs them); without them, ABI mode in every run.
if command -v cc >/dev/null && python3 -c 'import os, sysconfig, sys
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  API=api
  ls "$WORK"/site/sagsocket/_native*.so >/dev/null
else
  API=abi
  echo "python-test: no compiler or no Python.h: the installed copy runs in ABI mode too"
fi

echo "== pytest (bindings/python/tests), ABI mode, the source tree"
( cd "$ROOT/bindings/python" &&
  SAGSOCKET_ABI_MODE=1 PYTHONPATH="$ROOT/bindings/python" timeout 600 python3 -m pytest -q -p no:cacheprovider tests )

echo "== pytest (bindings/python/tests), $API mode, the pip-installed copy"
# Run from WORK, so that the source tree's package is not on the path.
( cd "$WORK" &&
  SAGSOCKET_EXPECT_MODE=$API PYTHONPATH="$WORK/site" timeout 600 python3 -m pytest -q -p no:cacheprovider \
    "$ROOT/bindings/python/tests" )

# installed MODE SITE: a round trip with the copy in SITE, in MODE.
installed() {
(cd "$WORK" && env -u LD_LIBRARY_PATH PYTHONPATH="$2" timeout 60 python3 - "$2" "$STAGE" "$1" <<'PY'
import sys
import sagsocket
assert sagsocket.MODE == sys.argv[3], sagsocket.MODE
assert sagsocket.__file__.startswith(sys.argv[1]), sagsocket.__file__
assert sagsocket.LIBRARY_PATH.startswith(sys.argv[2]), sagsocket.LIBRARY_PATH
assert sagsocket.DECLS_PATH == sys.argv[2] + "/include/sagsocket_decls.h", sagsocket.DECLS_PATH
import importlib.resources
assert importlib.resources.files("sagsocket").joinpath("py.typed").is_file()
with sagsocket.create_server(("127.0.0.1", 0)) as srv:
    with sagsocket.create_connection(srv.getsockname(), timeout=5) as c:
        a, _ = srv.accept()
        with a, a.makefile("r", encoding="utf-8") as f:
            c.sendall("installed ✓\n".encode())
            assert f.readline() == "installed ✓\n"
# The package's version (pyproject.toml, __version__) follows the library's.
assert sagsocket.__version__ == sagsocket.library_version(), (sagsocket.__version__, sagsocket.library_version())
from importlib.metadata import version
assert version("sagsocket") == sagsocket.library_version(), version("sagsocket")
print("pip-installed sagsocket", sagsocket.library_version(), sagsocket.MODE, "mode ok")
PY
)
}
installed "$API" "$WORK/site"
SAGSOCKET_ABI_MODE=1 installed abi "$WORK/site"

echo "== pip install without the header: ABI mode"
mkdir "$WORK/empty"
SAGSOCKET_INCLUDE_DIR=$WORK/empty python_site "$WORK/site-abi"
if ls "$WORK"/site-abi/sagsocket/_native* >/dev/null 2>&1; then
  echo "python-test: an extension was built without the header" >&2
  exit 1
fi
installed abi "$WORK/site-abi"
echo "python-test: all passed"
