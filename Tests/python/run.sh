#!/usr/bin/env bash
# The Python test of an installed libsagsocket.
#   Tests/python/run.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. runs the pytest suite of bindings/python against the library in STAGE
#    (the package from the source tree; it reads STAGE's sagsocket_decls.h);
# 2. installs the package with `pip install ./bindings/python` into a
#    throwaway target folder and runs a round trip with that copy, as a user
#    who installed it would (the library found through pkg-config, without
#    LD_LIBRARY_PATH).
# Exits non-zero when anything failed.
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage python-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH

echo "== pytest (bindings/python/tests)"
( cd "$ROOT/bindings/python" &&
  PYTHONPATH="$ROOT/bindings/python" timeout 600 python3 -m pytest -q -p no:cacheprovider tests )

echo "== pip install ./bindings/python (into a throwaway folder)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-pip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# As a user's pip does it, but without reaching the package index (a test
# contacts nothing but loopback): no build isolation, so the build uses the
# setuptools that scripts/setup.sh made sure of; --no-index, --no-deps.
# The build happens in a copy, so the source tree gets no build/ or egg-info.
cp -r "$ROOT/bindings/python" "$WORK/src"
rm -rf "$WORK/src/tests"
python3 -m pip install -q --no-index --no-deps --no-build-isolation --root-user-action=ignore \
  --target "$WORK/site" "$WORK/src"
# Without LD_LIBRARY_PATH: the package finds the library through pkg-config's
# libdir (PKG_CONFIG_PATH points at STAGE), as after a `make install` that
# ldconfig has not seen.
(cd "$WORK" && env -u LD_LIBRARY_PATH PYTHONPATH="$WORK/site" timeout 60 python3 - "$WORK/site" "$STAGE" <<'PY'
import sys
import sagsocket
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
print("pip-installed sagsocket", sagsocket.library_version(), "ok")
PY
)
echo "python-test: all passed"
