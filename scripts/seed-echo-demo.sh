# scripts/seed-echo-demo.sh: the seed's echo server, in any host, answered by
# the scripted C client of bindings/c (two sessions); prints both sides'
# transcripts and checks them byte for byte. Sourced by the demos of
# bindings/ after scripts/stage.sh's use_stage; then
#   seed_echo_demo LABEL WAIT COMMAND...
# runs COMMAND with the port appended as its last argument (the seed's
# servers take their service from the command line), waits up to WAIT tenths
# of a second for it to listen, and exits with 0 only when every line matches.
# shellcheck shell=bash

seed_echo_demo() {
  local label=$1 wait=$2
  shift 2
  local out=$ROOT/build/samples
  mkdir -p "$out"
  stage_pkg
  "${CC:-cc}" -std=c99 -O2 -Wall -Wextra -Werror -o "$out/echo-client" \
    "$ROOT/bindings/c/echo-client.c" "${PKG[@]}"
  demo_workdir "sagsocket-demo-${label// /-}"

  # A free port on loopback, asked of the OS first.
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$@" "$PORT" >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  # Wait until the port is listening (a probe connection would be a client
  # that the seed's server greets and then fails on).
  listening() { awk -v p="$(printf '%04X' "$PORT")" '$4 == "0A" && $2 ~ (":" p "$") {f=1} END {exit !f}' /proc/net/tcp; }
  for _ in $(seq 1 "$wait"); do
    listening && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo ($label): the seed's echo server listening on port $PORT"

  printf 'hello\nSagittarius ソケット\nbye\n' >"$WORK/client1.in"
  printf 'second client\r\n\r\nこんにちは、世界\r\nno newline at the end' >"$WORK/client2.in"
  local status=0 i
  for i in 1 2; do
    timeout 20 "$out/echo-client" 127.0.0.1 "$PORT" <"$WORK/client$i.in" \
      >"$WORK/client$i.out" 2>"$WORK/client$i.err" || { echo "demo ($label): FAIL: client $i exited $?" >&2; status=1; }
  done
  # The seed's server serves forever: stop it.
  stop_server

  for i in 1 2; do
    echo "---- client $i: stdout (CRs shown as \\r) -------------------------"
    sed 's/\r/\\r/g' "$WORK/client$i.out"
  done
  echo "---- server: stdout ------------------------------------------------"
  sed 's/\r/\\r/g' "$WORK/server.out"
  echo "---- server: stderr ------------------------------------------------"
  cat "$WORK/server.err"
  echo "--------------------------------------------------------------------"

  # Every host reads with end-of-line style none (the native transcoder;
  # Python's newline=""): a CR that precedes the LF stays in the line, so
  # the CRLF client's lines come back with it.
  printf 'received: %s\n' 'hello' 'Sagittarius ソケット' 'bye' $'second client\r' $'\r' \
    $'こんにちは、世界\r' 'no newline at the end' >"$WORK/server.expected"
  expect_client() {
    printf 'please type something\n\r> '
    local line
    for line in "$@"; do printf '%s\n%s\r\n> ' "$line" "$line"; done
    printf '\n'
  }
  expect_client 'hello' 'Sagittarius ソケット' 'bye' >"$WORK/client1.expected"
  expect_client $'second client\r' $'\r' $'こんにちは、世界\r' 'no newline at the end' >"$WORK/client2.expected"
  check() {
    if cmp -s "$2" "$3"; then echo "demo ($label): ok: $1"
    else echo "demo ($label): FAIL: $1 differs (expected, then got):" >&2
         diff <(od -c "$2") <(od -c "$3") >&2 || true; status=1; fi
  }
  check "server received lines" "$WORK/server.expected" "$WORK/server.out"
  check "client 1 transcript" "$WORK/client1.expected" "$WORK/client1.out"
  check "client 2 transcript" "$WORK/client2.expected" "$WORK/client2.out"
  if [ "$status" -eq 0 ]; then echo "demo ($label): PASS (2 clients, 7 lines echoed)"; else echo "demo ($label): FAIL" >&2; fi
  return "$status"
}
