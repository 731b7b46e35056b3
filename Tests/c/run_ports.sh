#!/usr/bin/env bash
# The C test of the socket ports of an installed libsagsocket.
#   Tests/c/run_ports.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. builds Tests/c/test_ports.c against the installed header through
#    pkg-config into build/tests/test_ports;
# 2. runs it (LD_LIBRARY_PATH=STAGE/lib);
# 3. runs it again under valgrind (memcheck) and fails on valgrind errors or
#    definitely lost bytes (exit 99).
# The test checks by itself that no socket descriptor is left open at its
# end. Each run is bounded by the test's alarm(120) and by `timeout`.
# Exits non-zero when anything failed, after saying what.
set -u
TAG=ports-test
NAME=test_ports
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/lib.sh"
test_setup "$@"
WATCHDOG="SIGALRM=14 is the 120 s watchdog, SIGPIPE=13"

# ---- build ------------------------------------------------------------------
build_test

# ---- plain run ----------------------------------------------------------------
echo "== run"
LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 130 "$BIN"
rc=$?
[ $rc -ne 0 ] && explain_rc test_ports $rc "$WATCHDOG"

# ---- valgrind run -------------------------------------------------------------
echo "== valgrind"
if have_valgrind; then
  vg_run timeout -s KILL 130 --
  vg_verdict test_ports "$WATCHDOG"
fi

finish
