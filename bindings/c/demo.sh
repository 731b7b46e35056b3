#!/usr/bin/env bash
# demo.sh STAGE: builds the C samples against an installed libsagsocket
# (STAGE is its prefix: STAGE/lib/pkgconfig/sagsocket.pc), runs the echo
# server on 127.0.0.1 and two scripted client sessions, prints the transcript
# of both sides and checks it. Exits 0 only when every line matches.
#   make demo          (STAGE = build/stage)
set -euo pipefail

# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage demo "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
SRC=$ROOT/bindings/c
OUT=$ROOT/build/samples
CC=${CC:-cc}

# ---- build -----------------------------------------------------------------
mkdir -p "$OUT"
stage_pkg
for prog in echo-server echo-client; do
  "$CC" -std=c99 -O2 -Wall -Wextra -Werror -o "$OUT/$prog" "$SRC/$prog.c" "${PKG[@]}"
done
echo "demo: built $OUT/echo-server and $OUT/echo-client"

# ---- run -------------------------------------------------------------------
demo_workdir sagsocket-demo

# Port "0": the OS picks a free port and the server reports it on stderr
# ("echo-server: listening on 127.0.0.1:PORT"), so there is no race for a
# port. --host keeps it on loopback; 2 = serve two clients, then exit.
timeout 60 "$OUT/echo-server" --host 127.0.0.1 0 2 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^echo-server: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$WORK/server.err")
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "demo: FAIL: the server did not start" >&2
  cat "$WORK/server.err" >&2
  exit 1
fi
echo "demo: echo-server listening on 127.0.0.1:$PORT"

# Session 1: LF line ends, one line in UTF-8.
printf 'hello\nSagittarius ソケット\nbye\n' >"$WORK/client1.in"
# Session 2: CRLF line ends (the server drops the CR), an empty line, and a
# last line with no line end at all (the client adds one).
printf 'second client\r\n\r\nこんにちは、世界\r\nno newline at the end' >"$WORK/client2.in"

status=0
for i in 1 2; do
  timeout 20 "$OUT/echo-client" 127.0.0.1 "$PORT" <"$WORK/client$i.in" \
    >"$WORK/client$i.out" 2>"$WORK/client$i.err" || {
    echo "demo: FAIL: client $i exited with status $?" >&2; status=1; }
done
# The server exits by itself after two clients.
server_status=0
wait "$SERVER_PID" || server_status=$?
SERVER_PID=
if [ "$server_status" -ne 0 ]; then
  echo "demo: FAIL: the server exited with status $server_status" >&2
  status=1
fi

# ---- transcript ------------------------------------------------------------
nocr() { tr -d '\r' <"$1"; }
for i in 1 2; do
  echo
  echo "---- client $i: stdin -------------------------------------------------"
  nocr "$WORK/client$i.in" | sed -e '$a\'   # ends with a newline
  echo "---- client $i: stdout (CRs removed) ----------------------------------"
  nocr "$WORK/client$i.out"
  echo "---- client $i: stderr ------------------------------------------------"
  cat "$WORK/client$i.err"
done
echo
echo "---- server: stdout ---------------------------------------------------"
cat "$WORK/server.out"
echo "---- server: stderr ---------------------------------------------------"
cat "$WORK/server.err"
echo "-----------------------------------------------------------------------"

# ---- check -----------------------------------------------------------------
# What the server must print (the seed's `print "received: " r`), in order.
cat >"$WORK/server.expected" <<'EOF'
received: hello
received: Sagittarius ソケット
received: bye
received: second client
received: 
received: こんにちは、世界
received: no newline at the end
EOF
# What each client must show, byte for byte: the server's prompt
# "please type something\n\r> ", each typed line, the echo "LINE\r\n> ",
# and the newline the client prints at the end of input.
expect_client() {
  printf 'please type something\n\r> '
  local line
  for line in "$@"; do
    printf '%s\n%s\r\n> ' "$line" "${line%$'\r'}"
  done
  printf '\n'
}
expect_client 'hello' 'Sagittarius ソケット' 'bye' >"$WORK/client1.expected"
expect_client $'second client\r' $'\r' 'こんにちは、世界'$'\r' 'no newline at the end' \
  >"$WORK/client2.expected"

check() { # check NAME EXPECTED ACTUAL
  if cmp -s "$2" "$3"; then
    echo "demo: ok: $1"
  else
    echo "demo: FAIL: $1 differs (expected, then got):" >&2
    diff <(od -c "$2") <(od -c "$3") >&2 || true
    status=1
  fi
}
check "server received lines" "$WORK/server.expected" "$WORK/server.out"
check "client 1 transcript" "$WORK/client1.expected" "$WORK/client1.out"
check "client 2 transcript" "$WORK/client2.expected" "$WORK/client2.out"
if [ "$(grep -c '^echo-server: connection from 127\.0\.0\.1:' "$WORK/server.err")" != 2 ]; then
  echo "demo: FAIL: the server did not log two connections from 127.0.0.1" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "demo: PASS (2 clients, 7 lines echoed)"
else
  echo "demo: FAIL" >&2
fi
exit "$status"
