#!/usr/bin/env bash
# CPython's own test_socket and test_selectors against an installed
# libsagsocket and the sagsocket package of this tree.
#   Tests/python/run_cpython.sh STAGE      (STAGE holds lib/, include/)
# The tests are the installed Python's `test` package (scripts/setup.sh
# installs it where it lacks); Tests/python/cpython_suite.py says what is
# substituted and how each test is counted; cpython-expected-failures.txt
# lists what fails and why. The last line is
#   cpython-suite: N passed, N failed, N listed
set -euo pipefail
# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage cpython-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
cd "${TMPDIR:-/tmp}"          # the tests make files in the working folder
PYTHONPATH="$ROOT/bindings/python" timeout 1200 python3 "$ROOT/Tests/python/cpython_suite.py"
