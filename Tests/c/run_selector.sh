#!/usr/bin/env bash
# The C test of the socket selector of an installed libsagsocket.
#   Tests/c/run_selector.sh STAGE   (STAGE holds lib/, include/, lib/pkgconfig/)
# 1. builds Tests/c/test_selector.c against the installed header through
#    pkg-config into build/tests/test_selector, and again with
#    -fsanitize=address,undefined;
# 2. runs it (full load: 2,000 connections x 100 messages), then the ASan
#    build (a smaller load);
# 3. runs it under valgrind (memcheck: errors or definitely lost bytes fail)
#    with every scenario but a small load (valgrind is slow);
# 4. builds bindings/c/selector-echo-server.c (docs/guide.md's example, which
#    must equal docs/guide.md's copy), runs it on 127.0.0.1 and checks three
#    concurrent clients' echoes.
# The test checks by itself that no descriptor is left open at its end.
# Each run is bounded by the test's alarm(300) and by `timeout`.
# Exits non-zero when anything failed, after saying what.
set -u
TAG=selector-test
NAME=test_selector
# shellcheck source=Tests/c/lib.sh
. "$(dirname "$0")/lib.sh"
test_setup "$@"
WATCHDOG="SIGALRM=14 is the 300 s watchdog, SIGPIPE=13"

# ---- build ------------------------------------------------------------------
build_test
# shellcheck disable=SC2086
if ! cc -std=c11 -Wall -Wextra -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
     -o "${BIN}_asan" "$HERE/$NAME.c" $PCFLAGS -lpthread; then
  fail "ASan build failed"
fi

# ---- plain run ----------------------------------------------------------------
echo "== run"
LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 310 "$BIN"
rc=$?
[ $rc -ne 0 ] && explain_rc test_selector $rc "$WATCHDOG"

# ---- ASan/UBSan run (the Swift runtime's own allocations are not ours) --------
if [ -x "${BIN}_asan" ]; then
  echo "== ASan/UBSan"
  SELECTOR_LOAD_CONNECTIONS=500 SELECTOR_LOAD_MESSAGES=20 ASAN_OPTIONS=detect_leaks=0 \
    LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 310 "${BIN}_asan" | tail -n 3
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && explain_rc "test_selector (ASan)" "$rc" "$WATCHDOG"
fi

# ---- valgrind run: every scenario, a small load ----------------------------------
echo "== valgrind"
if have_valgrind; then
  SELECTOR_LOAD_CONNECTIONS=100 SELECTOR_LOAD_MESSAGES=10 SAG_TEST_NO_TIMING=1 \
    vg_run timeout -s KILL 310 --
  vg_verdict test_selector "$WATCHDOG"
fi

# ---- docs/guide.md's example ---------------------------------------------------------
echo "== bindings/c/selector-echo-server.c"
EXAMPLE="$ROOT/bindings/c/selector-echo-server.c"
if ! python3 - "$ROOT/docs/guide.md" "$EXAMPLE" <<'EOF'
import sys
readme, example = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
marker = "<!-- bindings/c/selector-echo-server.c -->"
at = readme.find(marker)
start = readme.find("```c\n", at) + len("```c\n") if at >= 0 else -1
end = readme.find("```\n", start) if start >= len("```c\n") else -1
if at < 0 or end < 0 or readme[start:end] != example:
    sys.exit("docs/guide.md's selector example differs from bindings/c/selector-echo-server.c")
EOF
then
  fail "docs/guide.md example and bindings/c/selector-echo-server.c differ"
fi
# shellcheck disable=SC2086
if cc -std=c99 -O2 -Wall -Wextra -Werror -o "$OUT/selector-echo-server" "$EXAMPLE" $PCFLAGS; then
  SERR="$OUT/selector-echo-server.err"
  LD_LIBRARY_PATH="$STAGE/lib" run_clean timeout -s KILL 60 "$OUT/selector-echo-server" 0 3 2>"$SERR" &
  spid=$!
  port=
  for _ in $(seq 1 300); do  # a bound (30 s), generous for a loaded machine
    port=$(sed -n 's/^selector-echo-server: listening on port \([0-9][0-9]*\)$/\1/p' "$SERR")
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    fail "selector-echo-server did not start: $(cat "$SERR")"
    kill "$spid" 2>/dev/null
  elif ! timeout 60 python3 - "$port" <<'EOF'
import socket, sys
port = int(sys.argv[1])
clients = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(3)]
for round in range(50):
    for i, c in enumerate(clients):
        c.sendall(b"client %d line %d\n" % (i, round))
    for i, c in enumerate(clients):
        want = b"client %d line %d\n" % (i, round)
        got = b""
        while len(got) < len(want):
            chunk = c.recv(len(want) - len(got))
            if not chunk:
                sys.exit("connection %d closed early" % i)
            got += chunk
        if got != want:
            sys.exit("client %d: got %r, expected %r" % (i, got, want))
for c in clients:
    c.close()
print("selector-echo-server: 3 concurrent clients x 50 lines echoed")
EOF
  then
    fail "selector-echo-server did not echo"
    kill "$spid" 2>/dev/null
  fi
  wait "$spid"
  src=$?
  [ "$src" -ne 0 ] && fail "selector-echo-server exited $src"
else
  fail "selector-echo-server: build failed"
fi

finish
