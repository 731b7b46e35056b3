#!/usr/bin/env bash
# The C test of an installed libsagsocket.
#   Tests/c/run.sh STAGE      (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. builds Tests/c/test_abi.c (and, at the end, test_messages.c) against the installed header through pkg-config
#    into build/tests/test_abi;
# 2. runs it (LD_LIBRARY_PATH=STAGE/lib);
# 3. runs it again under valgrind (memcheck, --track-fds=yes) and fails on
#    valgrind errors, definitely lost bytes, or file descriptors open at exit
#    other than 0, 1, 2 and eventfds (the library keeps one per thread).
# Both runs start with no descriptor open beyond 0, 1, 2.
# Exits non-zero when anything failed, after saying what.
set -u
TAG=c-test
NAME=test_abi
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/lib.sh"
test_setup "$@"

# ---- build ------------------------------------------------------------------
build_test

# ---- plain run ----------------------------------------------------------------
echo "== run"
LD_LIBRARY_PATH="$STAGE/lib" run_clean "$BIN"
rc=$?
[ $rc -ne 0 ] && explain_rc test_abi $rc "SIGALRM=14 is the 60 s watchdog, SIGPIPE=13"

# ---- handles from many threads, plain and under ASan/UBSan ---------------------
# stress_handles: look-ups against frees; stress_port_locks: the ports' fast
# path against frees, reuse, blocked calls and mode switches;
# stress_handle_alloc: the table's allocation (retirement, the freed ring's
# growth and its failure, bursts from many threads).
for prog in stress_handles stress_port_locks stress_handle_alloc; do
  echo "== $prog"
  for variant in plain asan; do
    flags="-O2"
    [ $variant = asan ] && flags="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined"
    # shellcheck disable=SC2086
    if cc -std=c11 -Wall -Wextra $flags -I"$HERE" -o "$OUT/${prog}_$variant" "$HERE/$prog.c" $PCFLAGS -lpthread; then
      # The Swift runtime's own allocations are not ours to judge here.
      ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH="$STAGE/lib" timeout 150 "$OUT/${prog}_$variant" 2>&1 | grep -v "^-- "
      [ "${PIPESTATUS[0]}" -eq 0 ] || fail "$prog ($variant) failed"
    else
      fail "$prog ($variant): build failed"
    fi
  done
done

# ---- valgrind run -------------------------------------------------------------
echo "== valgrind"
if have_valgrind; then
  SAG_TEST_NO_TIMING=1 vg_run -- --track-fds=yes
  if [ $vrc -eq 99 ]; then
    fail "valgrind reported errors (exit 99)"
  elif [ $vrc -ne 0 ]; then
    explain_rc "test_abi under valgrind" $vrc
  fi
  if [ ! -s "$VGLOG" ]; then
    fail "no valgrind log"
  else
    summary=$(vg_last 'ERROR SUMMARY:')
    echo "  ${summary#==*== }"
    nerr=$(echo "$summary" | sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' | tr -d ,)
    if [ -n "$nerr" ] && [ "$nerr" != "0" ]; then
      fail "valgrind: $nerr errors"
      vg_error_lines
    fi
    dl=$(vg_last 'definitely lost:')
    if [ -n "$dl" ]; then
      echo "  ${dl#==*== }"
      bytes=$(echo "$dl" | sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' | tr -d ,)
      if [ -n "$bytes" ] && [ "$bytes" != "0" ]; then
        fail "valgrind: $bytes bytes definitely lost"
      fi
    fi
    # FILE DESCRIPTORS section: "Open file descriptor N: what" or
    # "Open AF_INET socket N: ..."; anything but 0-2 and eventfds is a leak.
    if ! grep -q 'FILE DESCRIPTORS:' "$VGLOG"; then
      fail "valgrind: no FILE DESCRIPTORS section"
    else
      fdline=$(vg_last 'FILE DESCRIPTORS:')
      echo "  ${fdline#==*== }"
      # One record per descriptor: the "Open ..." line, then indented lines
      # (the name-less eventfd's creation stack, "<inherited from parent>").
      leaked=$(awk -v vglog="$VGLOG" '
        function flush(   fd, s) {
          if (head == "") return
          s = head
          if (match(s, /(descriptor|socket) [0-9]+/)) {
            s = substr(s, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); fd = s + 0
          } else fd = -1
          if (fd >= 0 && fd <= 2) { head = ""; return }
          if (head ~ /anon_inode:\[eventfd\]/) { head = ""; return }
          if (first ~ /^at 0x[0-9A-Fa-f]+: eventfd2? /) { head = ""; return }
          if (index(head, ": " vglog) && body ~ /inherited from parent/) { head = ""; return }
          print head (first != "" ? "  [" first "]" : "")
          head = ""
        }
        /^==[0-9]+== Open / {
          flush(); head = $0; sub(/^==[0-9]+== /, "", head)
          first = ""; body = ""; inrec = 1; next
        }
        inrec && /^==[0-9]+==  +[^ ]/ {
          l = $0; sub(/^==[0-9]+== +/, "", l)
          if (first == "") first = l
          body = body "\n" l; next
        }
        inrec { flush(); inrec = 0 }
        END { flush() }
      ' "$VGLOG")
      if [ -n "$leaked" ]; then
        fail "valgrind: file descriptors open at exit besides 0-2 and eventfds"
        echo "$leaked" | sed 's/^/     /'
      fi
    fi
  fi
  # The test's own verdict line under valgrind is in its stdout above.
fi

# ---- descriptors and messages (test_messages.c), plain and under valgrind -----
echo "== test_messages"
BIN="$OUT/test_messages"
VGLOG="$OUT/test_messages.valgrind.log"
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -O1 -g -I"$HERE" -o "$BIN" "$HERE/test_messages.c" $PCFLAGS -lpthread; then
  LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout 120 "$BIN" | tail -n 12
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && explain_rc test_messages "$rc" "SIGALRM=14 is its 120 s watchdog"
  if have_valgrind; then
    vg_run timeout 300 -- --track-fds=no
    vg_verdict test_messages "SIGALRM=14 is its 120 s watchdog"
  fi
else
  fail "test_messages: build failed"
fi

finish
