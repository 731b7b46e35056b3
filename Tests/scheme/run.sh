#!/usr/bin/env bash
# The Chez Scheme binding's tests, against an installed libsagsocket and the
# Scheme libraries installed beside it, found the way the README tells a
# user to find them:
#   LD_LIBRARY_PATH=STAGE/lib scheme --libdirs "$(pkg-config --variable=chezlibdir sagsocket)" --program ...
#   Tests/scheme/run.sh STAGE
# 1. test-socket.sps: every procedure of (sagittarius socket) and (srfi :106),
#    with the constants compared against the C header's values;
# 2. echo_client_test.py: the seed's echo server answered by a CPython client.
# Exits non-zero when anything failed.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/stage.sh
. "$HERE/../../scripts/stage.sh"
use_stage chez-test "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
OUT=$ROOT/build/tests
mkdir -p "$OUT"
TAG=chez-test
# shellcheck source=Tests/c/lib.sh
. "$ROOT/Tests/c/lib.sh"   # fail, finish

if ! command -v scheme >/dev/null 2>&1; then
  echo "chez-test: Chez Scheme is not installed (apt-get install chezscheme)" >&2
  exit 1
fi
CHEZLIBDIR=$(pkg-config --variable=chezlibdir sagsocket)
if [ -z "$CHEZLIBDIR" ] || [ ! -f "$CHEZLIBDIR/sagittarius/socket.sls" ]; then
  echo "chez-test: pkg-config's chezlibdir ($CHEZLIBDIR) has no sagittarius/socket.sls" >&2
  exit 1
fi
echo "chez-test: $(scheme --version 2>&1), libraries from $CHEZLIBDIR"

echo "== constants of the C header"
if ! bash "$HERE/constants.sh" "$STAGE" "$OUT/constants.txt"; then
  fail "constants.sh"
fi

echo "== test-socket.sps"
# The name getnameinfo(3) gives 127.0.0.1 here, from CPython (an oracle
# independent of the library) for socket-info-hostname and socket-name.
SAG_TEST_LOOPBACK_NAME=$(python3 -c 'import socket; print(socket.getnameinfo(("127.0.0.1", 0), socket.NI_NUMERICSERV)[0])')
export SAG_TEST_LOOPBACK_NAME
start=$(date +%s)
timeout 300 scheme --libdirs "$CHEZLIBDIR" --program "$HERE/test-socket.sps" "$OUT/constants.txt" \
  >"$OUT/test-socket.log" 2>&1
rc=$?
grep -v '^ok ' "$OUT/test-socket.log"
echo "   ($(( $(date +%s) - start )) s)"
[ $rc -ne 0 ] && fail "test-socket.sps (exit $rc)"

echo "== echo_client_test.py (the seed's echo server, a CPython client)"
timeout 120 python3 "$HERE/echo_client_test.py" "$CHEZLIBDIR" "$ROOT/bindings/scheme/examples/echo.scm"
rc=$?
[ $rc -ne 0 ] && fail "echo_client_test.py (exit $rc)"
finish
