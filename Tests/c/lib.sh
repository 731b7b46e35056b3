# Tests/c/lib.sh: the plumbing the C test scripts (Tests/c, Tests/faults,
# Tests/exhaustion, Tests/tsan) share; sourced by them, not run. Before sourcing, set
#   TAG   the prefix of the script's own messages (c-test, ports-test)
#   NAME  the test program: Tests/c/NAME.c, built into build/tests/NAME
# shellcheck shell=bash

failures=()
fail() { echo "FAIL $*"; failures+=("$*"); }

# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"

# test_setup "$@": the preamble of scripts/stage.sh (STAGE, ROOT,
# PKG_CONFIG_PATH, LD_LIBRARY_PATH), then HERE (the calling script's folder,
# where NAME.c is), OUT (build/tests, made), BIN and VGLOG.
test_setup() {
  use_stage "$TAG" "$@"
  HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
  OUT="$ROOT/build/tests"
  BIN="$OUT/$NAME"
  VGLOG="$OUT/$NAME.valgrind.log"
  mkdir -p "$OUT" || exit 1
}

# Runs "$@" with every descriptor above 2 closed (fds a caller leaks to us
# would otherwise show up as leaks, or in the test's count of open sockets).
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

# build_test: builds Tests/c/NAME.c into BIN against the installed header
# through pkg-config; sets PCFLAGS. Exits 1 when that fails.
build_test() {
  echo "== build"
  if [ ! -e "$STAGE/lib/pkgconfig/sagsocket.pc" ]; then
    echo "$TAG: $STAGE/lib/pkgconfig/sagsocket.pc does not exist" >&2
    exit 1
  fi
  if ! PCFLAGS=$(PKG_CONFIG_PATH="$STAGE/lib/pkgconfig" pkg-config --cflags --libs sagsocket); then
    echo "$TAG: pkg-config sagsocket failed" >&2
    exit 1
  fi
  # Tables the tests take from the header: the status tree its comment
  # draws, and every constant of its enums.
  if ! python3 "$ROOT/scripts/sagheader.py" status-tree "$ROOT/include/sagsocket_decls.h" \
       > "$OUT/status_tree.inc"; then
    echo "$TAG: the header's status tree comment does not match enum sag_status" >&2
    exit 1
  fi
  python3 "$ROOT/scripts/sagheader.py" constants "$ROOT/include/sagsocket_decls.h" \
    > "$OUT/constants.inc" || exit 1
  # shellcheck disable=SC2086
  if ! cc -std=c11 -Wall -Wextra -O1 -g -I"$OUT" -I"$SAG_ROOT/Tests/c" -o "$BIN" "$HERE/$NAME.c" $PCFLAGS -lpthread; then
    echo "$TAG: 0 passed, 1 failed (build failed)"
    exit 1
  fi
  echo "built $BIN"
}

# explain_rc WHAT RC [NOTE]: a failure for a non-zero exit status RC, by
# signal (with NOTE in parentheses) or by exit code.
explain_rc() {
  if [ "$2" -gt 128 ]; then
    fail "$1 killed by signal $(($2 - 128))${3:+ ($3)}"
  else
    fail "$1 exited $2"
  fi
}

# run_summarized HINT COMMAND...: runs COMMAND (a test program whose last
# line is "N passed, M failed") with descriptors above 2 closed, its output
# also in OUT/TAG.log; prints "TAG: N passed, M failed" (a crash or a
# missing summary counts as a failure; HINT says what a signal would mean)
# and returns non-zero when anything failed.
run_summarized() {
  local hint=$1 log="$OUT/$TAG.log" rc counts np nf
  shift
  echo "== run"
  run_clean "$@" | tee "$log"
  rc=${PIPESTATUS[0]}
  counts=$(tail -n 1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
  if [ -z "$counts" ]; then
    explain_rc "$TAG" "$rc" "$hint"
    echo "$TAG: 0 passed, 1 failed (no summary)"
    return 1
  fi
  read -r np nf <<<"$counts"
  [ "$rc" -ne 0 ] && [ "$nf" = 0 ] && nf=1
  echo "$TAG: $np passed, $nf failed"
  [ "$nf" = 0 ]
}

# have_valgrind: true when valgrind is installed, else a failure.
have_valgrind() {
  command -v valgrind >/dev/null 2>&1 && return 0
  fail "valgrind is not installed"
  return 1
}

# vg_run [WRAPPER...] -- [VALGRIND-OPTION...]: runs BIN under valgrind
# memcheck (full leak check, definitely lost blocks count as errors, exit 99
# on errors) into VGLOG, through run_clean and WRAPPER (e.g. timeout), with
# LD_LIBRARY_PATH=STAGE/lib; sets vrc to its exit status.
vg_run() {
  local pre=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  rm -f "$VGLOG"
  LD_LIBRARY_PATH="$STAGE/lib" run_clean ${pre[@]+"${pre[@]}"} \
    valgrind --leak-check=full --errors-for-leak-kinds=definite \
      --error-exitcode=99 "$@" --log-file="$VGLOG" "$BIN"
  vrc=$?
  echo "valgrind log: $VGLOG"
}

# vg_last REGEX: the last line of VGLOG that matches (with its ==PID==).
vg_last() { grep -E "$1" "$VGLOG" | tail -n 1; }

# vg_error_lines [ALTERNATIVE]: the first 20 error lines of VGLOG, indented;
# ALTERNATIVE is one more regex of line starts that count.
vg_error_lines() {
  grep -E "^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument${1:+|$1})" \
    "$VGLOG" | head -n 20 | sed 's/^/     /'
}

# vg_verdict WHAT NOTE: after vg_run, a failure for valgrind errors or
# definitely lost bytes (exit 99) or another non-zero exit (explained with
# NOTE), and the log's summary lines.
vg_verdict() {
  if [ "$vrc" -eq 99 ]; then
    fail "valgrind reported errors or definitely lost bytes (exit 99)"
  elif [ "$vrc" -ne 0 ]; then
    explain_rc "$1 under valgrind" "$vrc" "$2"
  fi
  if [ -s "$VGLOG" ]; then
    summary=$(vg_last 'ERROR SUMMARY:')
    [ -n "$summary" ] && echo "  ${summary#==*== }"
    dl=$(vg_last 'definitely lost:')
    [ -n "$dl" ] && echo "  ${dl#==*== }"
    [ "$vrc" -eq 99 ] && vg_error_lines '[0-9,]+ bytes in [0-9,]+ blocks are definitely'
  else
    fail "no valgrind log"
  fi
}

# finish: the verdict; exits 0 when nothing failed, else 1 after the list.
finish() {
  echo
  if [ ${#failures[@]} -eq 0 ]; then
    echo "$TAG: all passed"
    exit 0
  fi
  echo "$TAG: ${#failures[@]} failure(s):"
  for f in "${failures[@]}"; do echo "  - $f"; done
  exit 1
}
