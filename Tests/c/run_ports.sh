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
if [ $# -ne 1 ]; then
  echo "usage: $0 STAGE" >&2
  exit 2
fi
STAGE=$(cd "$1" && pwd) || { echo "ports-test: no such directory: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$ROOT/build/tests"
BIN="$OUT/test_ports"
VGLOG="$OUT/test_ports.valgrind.log"
mkdir -p "$OUT" || exit 1

failures=()
fail() { echo "FAIL $*"; failures+=("$*"); }

# Runs "$@" with every descriptor above 2 closed, so that the test's count
# of open sockets starts from a clean slate.
run_clean() {
  (
    for f in /proc/$BASHPID/fd/*; do
      n=${f##*/}
      case $n in ''|*[!0-9]*) continue ;; esac
      [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
    done
    exec "$@"
  )
}

explain_rc() { # name rc
  if [ "$2" -gt 128 ]; then
    fail "$1 killed by signal $(($2 - 128)) (SIGALRM=14 is the 120 s watchdog, SIGPIPE=13)"
  else
    fail "$1 exited $2"
  fi
}

# ---- build ------------------------------------------------------------------
echo "== build"
if [ ! -e "$STAGE/lib/pkgconfig/sagsocket.pc" ]; then
  echo "ports-test: $STAGE/lib/pkgconfig/sagsocket.pc does not exist" >&2
  exit 1
fi
if ! PCFLAGS=$(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig" pkg-config --cflags --libs sagsocket); then
  echo "ports-test: pkg-config sagsocket failed" >&2
  exit 1
fi
# shellcheck disable=SC2086
if ! cc -std=c11 -Wall -Wextra -O1 -g -o "$BIN" "$HERE/test_ports.c" $PCFLAGS -lpthread; then
  echo "ports-test: build failed" >&2
  exit 1
fi
echo "built $BIN"

# ---- plain run ----------------------------------------------------------------
echo "== run"
LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 130 "$BIN"
rc=$?
[ $rc -ne 0 ] && explain_rc test_ports $rc

# ---- valgrind run -------------------------------------------------------------
echo "== valgrind"
if ! command -v valgrind >/dev/null 2>&1; then
  fail "valgrind is not installed"
else
  rm -f "$VGLOG"
  LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 130 \
    valgrind --leak-check=full --errors-for-leak-kinds=definite \
      --error-exitcode=99 --log-file="$VGLOG" "$BIN"
  vrc=$?
  echo "valgrind log: $VGLOG"
  if [ $vrc -eq 99 ]; then
    fail "valgrind reported errors or definitely lost bytes (exit 99)"
  elif [ $vrc -ne 0 ]; then
    explain_rc "test_ports under valgrind" $vrc
  fi
  if [ -s "$VGLOG" ]; then
    summary=$(grep -E 'ERROR SUMMARY:' "$VGLOG" | tail -n 1)
    [ -n "$summary" ] && echo "  ${summary#==*== }"
    dl=$(grep -E 'definitely lost:' "$VGLOG" | tail -n 1)
    [ -n "$dl" ] && echo "  ${dl#==*== }"
    if [ $vrc -eq 99 ]; then
      grep -E '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' \
        "$VGLOG" | head -n 20 | sed 's/^/     /'
    fi
  else
    fail "no valgrind log"
  fi
fi

echo
if [ ${#failures[@]} -eq 0 ]; then
  echo "ports-test: all passed"
  exit 0
fi
echo "ports-test: ${#failures[@]} failure(s):"
for f in "${failures[@]}"; do echo "  - $f"; done
exit 1
