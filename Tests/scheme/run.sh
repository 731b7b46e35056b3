#!/usr/bin/env bash
# The Scheme bindings' tests, against an installed libsagsocket and the
# Scheme libraries installed beside it, found the way the README tells a
# user to find them:
#   Tests/scheme/run.sh STAGE            Chez Scheme:
#     LD_LIBRARY_PATH=STAGE/lib scheme --libdirs "$(pkg-config --variable=chezlibdir sagsocket)" --program ...
#   Tests/scheme/run.sh --guile STAGE    Guile 3.0:
#     LD_LIBRARY_PATH=STAGE/lib guile -L "$(pkg-config --variable=guilelibdir sagsocket)" ...
#   Tests/scheme/run.sh --racket STAGE   Racket CS (plt-r6rs):
#     LD_LIBRARY_PATH=STAGE/lib plt-r6rs ++path "$(pkg-config --variable=racketdir sagsocket)" ...
# 1. test-socket.sps, the one suite of every host: every procedure of
#    (sagittarius socket) and (srfi :106), with the constants compared
#    against the C header's values; what it needs beyond R6RS comes from
#    (sagsocket-test host) in chez/, guile/ or racket/;
# 2. echo_client_test.py: the seed's echo server answered by a CPython client.
# Exits non-zero when anything failed.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST=chez
case "${1:-}" in
  --guile) HOST=guile; shift ;;
  --racket) HOST=racket; shift ;;
esac
# shellcheck source=scripts/stage.sh
. "$HERE/../../scripts/stage.sh"
use_stage "$HOST-test" "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
OUT=$ROOT/build/tests/$HOST
mkdir -p "$OUT"
TAG=$HOST-test
# shellcheck source=Tests/c/lib.sh
. "$ROOT/Tests/c/lib.sh"   # fail, finish

# need PROGRAM NAME PACKAGE: exits 1, saying so, when PROGRAM is not installed.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "$TAG: $2 is not installed (apt-get install $3)" >&2
  exit 1
}

if [ "$HOST" = chez ]; then
  need scheme "Chez Scheme" chezscheme
  LIBDIR=$(pkg-config --variable=chezlibdir sagsocket)
  LIBFILE=sagittarius/socket.sls
  echo "$TAG: $(scheme --version 2>&1), libraries from $LIBDIR"
  SUITE=(scheme --libdirs "$LIBDIR:$HERE/chez" --program "$HERE/test-socket.sps")
elif [ "$HOST" = racket ]; then
  need plt-r6rs Racket racket
  LIBDIR=$(pkg-config --variable=racketdir sagsocket)
  LIBFILE=sagittarius/socket.sls
  echo "$TAG: $(racket --version), libraries from $LIBDIR"
  SUITE=(plt-r6rs ++path "$LIBDIR" ++path "$HERE/racket" "$HERE/test-socket.sps")
else
  need guile Guile guile-3.0
  LIBDIR=$(pkg-config --variable=guilelibdir sagsocket)
  LIBFILE=sagittarius/socket.scm
  echo "$TAG: $(guile --version | head -n 1), libraries from $LIBDIR"
  # Guile compiles the libraries into its cache on first use and does not
  # notice when a macro they expanded changes: a fresh cache every run.
  export XDG_CACHE_HOME=$OUT/cache
  rm -rf "$XDG_CACHE_HOME"
  SUITE=(guile -L "$LIBDIR" -L "$HERE/guile" "$HERE/test-socket.sps")
fi
if [ -z "$LIBDIR" ] || [ ! -f "$LIBDIR/$LIBFILE" ]; then
  echo "$TAG: pkg-config's ${HOST}libdir ($LIBDIR) has no $LIBFILE" >&2
  exit 1
fi

echo "== the host contract"
# Every host layer exports exactly the procedures the portable layer uses.
if ! python3 "$HERE/check_host_contract.py" "$ROOT/bindings/scheme/host-contract.md" \
     "$ROOT"/bindings/scheme/sagittarius/socket/host.*.sls; then
  fail "a host layer differs from bindings/scheme/host-contract.md"
fi

echo "== constants of the C header"
if ! bash "$HERE/constants.sh" "$STAGE" "$OUT/constants.txt"; then
  fail "constants.sh"
fi

# The name getnameinfo(3) gives 127.0.0.1 here, from CPython (an oracle
# independent of the library) for socket-info-hostname and socket-name.
SAG_TEST_LOOPBACK_NAME=$(python3 -c 'import socket; print(socket.getnameinfo(("127.0.0.1", 0), socket.NI_NUMERICSERV)[0])')
export SAG_TEST_LOOPBACK_NAME
# suite LOG: test-socket.sps, its output in LOG.
suite() {
  local start rc
  start=$(date +%s)
  timeout 300 "${SUITE[@]}" "$OUT/constants.txt" >"$1" 2>&1
  rc=$?
  grep -v '^ok \|^;;; \|^WARNING: (guile-user): imported module (rnrs) overrides core binding' "$1"
  echo "   ($(( $(date +%s) - start )) s)"
  [ $rc -ne 0 ] && fail "test-socket.sps (exit $rc)"
}

# Guile has two paths: the compiled one (libguile-sagsocket.so, which
# make install builds where Guile's headers are) and libffi's
# (SAGSOCKET_GUILE_FFI=1, and wherever the extension is missing). The
# suite and the echo server run on both; the compiled one must be in use
# when the stage has the extension.
GUILE_PATHS=(default)
if [ "$HOST" = guile ]; then
  # path: what (sagittarius socket host) says it uses.
  path() {
    guile -L "$LIBDIR" -c '(use-modules ((sagittarius socket host) #:select (guile-binding-path)))
                           (display guile-binding-path)' 2>/dev/null
  }
  want=ffi
  [ -f "$(pkg-config --variable=guileextdir sagsocket)/libguile-sagsocket.so" ] && want=compiled
  got=$(path)
  if [ "$got" = "$want" ]; then echo "ok: the Guile binding's path is $got"; else fail "the path is '$got', not $want"; fi
  got=$(SAGSOCKET_GUILE_FFI=1 path)
  if [ "$got" = ffi ]; then echo "ok: SAGSOCKET_GUILE_FFI=1 forces the libffi path"; else fail "SAGSOCKET_GUILE_FFI=1: the path is '$got'"; fi
  [ "$want" = compiled ] && GUILE_PATHS=(default ffi)
fi
for p in "${GUILE_PATHS[@]}"; do
  if [ "$p" = ffi ]; then
    echo "== test-socket.sps (SAGSOCKET_GUILE_FFI=1: the libffi path)"
    SAGSOCKET_GUILE_FFI=1 suite "$OUT/test-socket-ffi.log"
  else
    echo "== test-socket.sps${want:+ (the $want path)}"
    suite "$OUT/test-socket.log"
  fi
done

if [ "$HOST" = guile ]; then
  for p in "${GUILE_PATHS[@]}"; do
    ffi=
    [ "$p" = ffi ] && ffi=1
    echo "== guile/test-guile.scm (Guile modules, transcoded-port, codecs, eol styles)${ffi:+, the libffi path}"
    SAGSOCKET_GUILE_FFI=$ffi timeout 120 guile -L "$LIBDIR" "$HERE/guile/test-guile.scm" >"$OUT/test-guile$p.log" 2>&1
    rc=$?
    grep -v '^;;; \|^WARNING: (guile-user): imported module (rnrs) overrides core binding' "$OUT/test-guile$p.log"
    [ $rc -ne 0 ] && fail "test-guile.scm${ffi:+ (libffi path)} (exit $rc)"
  done

  echo "== a program importing (rnrs) and (sagittarius socket): no warning of the library's"
  prog=$OUT/imports.scm
  printf '%s\n' '(import (rnrs) (sagittarius socket) (srfi :106))' \
    '(display (list (socket? 1) (procedure? transcoded-port)))' >"$prog"
  guile -L "$LIBDIR" "$prog" >/dev/null 2>&1            # compiles it
  out=$(guile -L "$LIBDIR" "$prog" 2>"$OUT/imports.err")
  if [ "$out" != "(#f #t)" ]; then fail "the program printed '$out'"; fi
  if grep -i 'sagittarius\|srfi\|transcoded-port\|socket' "$OUT/imports.err"; then
    fail "warnings that name the library (above)"
  else
    echo "ok: stderr holds only Guile's own notes on (rnrs) ($(wc -l <"$OUT/imports.err") lines)"
  fi

  echo "== SAGSOCKET_LIBRARY names the library file"
  out=$(env -u LD_LIBRARY_PATH SAGSOCKET_LIBRARY="$STAGE/lib/libsagsocket.so.1" \
          guile -L "$LIBDIR" "$prog" 2>/dev/null)
  if [ "$out" = "(#f #t)" ]; then echo "ok: loaded from \$SAGSOCKET_LIBRARY"; else fail "SAGSOCKET_LIBRARY=... printed '$out'"; fi
  if env SAGSOCKET_LIBRARY=/nonexistent/libsagsocket.so.1 guile -L "$LIBDIR" "$prog" >/dev/null 2>"$OUT/missing.err"; then
    fail "a missing SAGSOCKET_LIBRARY did not fail"
  elif grep -q 'cannot load /nonexistent/libsagsocket.so.1' "$OUT/missing.err"; then
    echo "ok: a missing file fails with: cannot load /nonexistent/libsagsocket.so.1 ..."
  else
    fail "a missing SAGSOCKET_LIBRARY: no 'cannot load' message"; cat "$OUT/missing.err"
  fi
fi

if [ "$HOST" = racket ]; then
  echo "== racket/test-racket.sps (green threads go on while others wait; breaks; custodians)"
  timeout -s KILL 120 plt-r6rs ++path "$LIBDIR" ++path "$HERE/racket" "$HERE/racket/test-racket.sps" \
    >"$OUT/test-racket.log" 2>&1
  rc=$?
  cat "$OUT/test-racket.log"
  [ $rc -ne 0 ] && fail "test-racket.sps (exit $rc)"

  echo "== a resolution that takes 2 s (SAGSOCKET_RACKET_RESOLVER_DELAY_US) while a thread ticks"
  SAGSOCKET_RACKET_RESOLVER_DELAY_US=2000000 timeout -s KILL 60 plt-r6rs ++path "$LIBDIR" \
    ++path "$HERE/racket" "$HERE/racket/test-racket.sps" resolver >"$OUT/test-resolver.log" 2>&1
  rc=$?
  cat "$OUT/test-resolver.log"
  [ $rc -ne 0 ] && fail "test-racket.sps resolver (exit $rc)"

  echo "== make install PREFIX=<temporary>, a program run with pkg-config's racketdir"
  PREFIX_DIR=$OUT/prefix
  rm -rf "$PREFIX_DIR"
  if make -C "$ROOT" --no-print-directory -s install PREFIX="$PREFIX_DIR" DESTDIR= >"$OUT/install.log" 2>&1; then
    prog=$OUT/installed.sps
    printf '%s\n' '(import (rnrs) (sagittarius socket) (srfi :106))' \
      '(let-values ([(a b) (socket-pair AF_UNIX SOCK_STREAM 0)])' \
      '  (socket-send a (string->utf8 "round trip"))' \
      '  (display (utf8->string (socket-recv b 20))))' >"$prog"
    out=$(PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig" LD_LIBRARY_PATH="$PREFIX_DIR/lib" \
          bash -c 'timeout -s KILL 60 plt-r6rs ++path "$(pkg-config --variable=racketdir sagsocket)" "$1"' _ "$prog" 2>&1)
    if [ "$out" = "round trip" ]; then
      echo "ok: plt-r6rs ++path $(PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig" pkg-config --variable=racketdir sagsocket)"
    else
      fail "the installed program printed '$out'"
    fi
    out=$(LD_LIBRARY_PATH="$PREFIX_DIR/lib" timeout -s KILL 60 racket -S "$PREFIX_DIR/share/racket/collects" \
          -l racket/base -l sagsocket/private/host -e '(display %library-version)' 2>&1)
    if [ -n "$out" ] && [ "$out" = "$(python3 "$ROOT/scripts/sagheader.py" version "$ROOT/include/sagsocket.h")" ]; then
      echo "ok: racket -S finds the host module (version $out)"
    else
      fail "racket -S: '$out'"
    fi
    make -C "$ROOT" --no-print-directory -s uninstall PREFIX="$PREFIX_DIR" DESTDIR= >/dev/null 2>&1
    if [ -n "$(find "$PREFIX_DIR/share/racket" -type f 2>/dev/null)" ]; then
      fail "make uninstall left files under share/racket"
    else
      echo "ok: make uninstall removes the Racket files"
    fi
  else
    fail "make install"; cat "$OUT/install.log"
  fi
fi

if [ "$HOST" = racket ]; then
  # (require sagsocket) for #lang racket: its tests, an installed program
  bash "$HERE/racket/door.sh" "$STAGE" || fail "racket/door.sh"
fi

for p in "${GUILE_PATHS[@]}"; do
  if [ "$p" = ffi ]; then
    echo "== echo_client_test.py (the seed's echo server on the libffi path, a CPython client)"
    SAGSOCKET_GUILE_FFI=1 timeout 120 python3 "$HERE/echo_client_test.py" "$HOST" "$LIBDIR" \
      "$ROOT/bindings/scheme/examples/echo.scm"
  else
    echo "== echo_client_test.py (the seed's echo server, a CPython client)"
    timeout 120 python3 "$HERE/echo_client_test.py" "$HOST" "$LIBDIR" "$ROOT/bindings/scheme/examples/echo.scm"
  fi
  rc=$?
  [ $rc -ne 0 ] && fail "echo_client_test.py (exit $rc)"
done
finish
