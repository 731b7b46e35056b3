#!/usr/bin/env bash
# Tests/scheme/racket/door.sh STAGE: (require sagsocket), the #lang racket
# door (bindings/racket/sagsocket/main.rkt); run by Tests/scheme/run.sh
# --racket after the R6RS tests.
# 1. test-door.rkt under raco test, with the collections of pkg-config's
#    racketdir (PLTCOLLECTS="RACKETDIR:");
# 2. make install PREFIX=<temporary>: a #lang racket program run with
#    racket -S "$(pkg-config --variable=racketdir sagsocket)", the seed's echo
#    server in #lang racket (bindings/racket/examples/echo.rkt) answered by
#    the CPython client from that installed copy, and make uninstall.
# Exits non-zero when anything failed.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/stage.sh
. "$HERE/../../../scripts/stage.sh"
use_stage racket-door "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
OUT=$ROOT/build/tests/racket
mkdir -p "$OUT"
TAG=racket-door
# shellcheck source=Tests/c/lib.sh
. "$ROOT/Tests/c/lib.sh"   # fail, finish

LIBDIR=$(pkg-config --variable=racketdir sagsocket)
echo "== racket/test-door.rkt ((require sagsocket): exn structs, keywords, ports, threads, custodians)"
PLTCOLLECTS="$LIBDIR:" timeout -s KILL 120 raco test "$HERE/test-door.rkt" >"$OUT/test-door.log" 2>&1
rc=$?
cat "$OUT/test-door.log"
[ $rc -ne 0 ] && fail "test-door.rkt (exit $rc)"

echo "== make install PREFIX=<temporary>: #lang racket programs with racket -S \"\$(pkg-config --variable=racketdir sagsocket)\""
PREFIX_DIR=$OUT/door-prefix
rm -rf "$PREFIX_DIR"
if make -C "$ROOT" --no-print-directory -s install PREFIX="$PREFIX_DIR" DESTDIR= >"$OUT/door-install.log" 2>&1; then
  export PKG_CONFIG_PATH=$PREFIX_DIR/lib/pkgconfig LD_LIBRARY_PATH=$PREFIX_DIR/lib
  DIR=$(pkg-config --variable=racketdir sagsocket)
  prog=$OUT/door-installed.rkt
  printf '%s\n' '#lang racket' '(require sagsocket)' \
    '(define-values (a b) (socket-pair AF_UNIX SOCK_STREAM 0))' \
    '(void (write-string "round trip\n" (socket-port a)))' \
    '(display (read-line (socket-port b)))' >"$prog"
  out=$(timeout -s KILL 60 racket -S "$DIR" "$prog" 2>&1)
  if [ "$out" = "round trip" ]; then
    echo "ok: racket -S $DIR runs (require sagsocket)"
  else
    fail "the installed #lang racket program printed '$out'"
  fi
  if [ -f "$DIR/sagsocket/compiled/main_rkt.zo" ]; then
    echo "ok: make install compiled the door (sagsocket/compiled/main_rkt.zo)"
  else
    fail "make install left sagsocket/main.rkt uncompiled"
  fi
  echo "== echo_client_test.py: bindings/racket/examples/echo.rkt, installed copy"
  timeout 120 python3 "$ROOT/Tests/scheme/echo_client_test.py" racket-lang "$DIR" \
    "$ROOT/bindings/racket/examples/echo.rkt"
  rc=$?
  [ $rc -ne 0 ] && fail "echo_client_test.py racket-lang (exit $rc)"
  make -C "$ROOT" --no-print-directory -s uninstall PREFIX="$PREFIX_DIR" DESTDIR= >/dev/null 2>&1
  if [ -n "$(find "$PREFIX_DIR/share/racket" -type f 2>/dev/null)" ]; then
    fail "make uninstall left files under share/racket: $(find "$PREFIX_DIR/share/racket" -type f | head -3)"
  else
    echo "ok: make uninstall removes the door and its compiled files"
  fi
else
  fail "make install"; cat "$OUT/door-install.log"
fi
finish
