#!/usr/bin/env bash
# CPython's own test_socket and test_selectors against an installed
# libsagsocket and the sagsocket package of this tree.
#   Tests/python/run_cpython.sh STAGE      (STAGE holds lib/, include/)
# The tests are the installed Python's `test` package (scripts/setup.sh
# installs it where it lacks); Tests/python/cpython_suite.py says what is
# substituted and how each test is counted; cpython-expected-failures.txt
# lists what fails and why. It runs twice: the source tree's package in
# cffi's ABI mode, then the package as pip installs it (scripts/stage.sh's
# python_site), in API mode where the extension builds. Each run's last line
# is
#   cpython-suite: N passed, N failed, N listed
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage cpython-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sagsocket-cpython.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
python_site "$WORK/site"
cd "$WORK"                    # the tests make files in the working folder
echo "== ABI mode, the source tree"
SAGSOCKET_ABI_MODE=1 PYTHONPATH="$ROOT/bindings/python" timeout 1200 python3 "$ROOT/Tests/python/cpython_suite.py"
echo "== $(PYTHONPATH="$WORK/site" python3 -c 'import sagsocket; print(sagsocket.MODE)') mode, the pip-installed copy"
PYTHONPATH="$WORK/site" timeout 1200 python3 "$ROOT/Tests/python/cpython_suite.py"
