#!/usr/bin/env bash
# demo.sh [--guile] STAGE: the seed's echo server
# (bindings/scheme/examples/echo.scm) on Chez Scheme, or with --guile on
# Guile 3.0 (run the way the README tells a user to), answered by the
# scripted C client of bindings/c (two sessions); prints both sides'
# transcripts and checks them byte for byte.
# STAGE is the prefix libsagsocket is installed in.   make demo
set -euo pipefail
HOST=Chez
if [ "${1:-}" = "--guile" ]; then HOST=Guile; shift; fi

# shellcheck source=scripts/stage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/stage.sh"
use_stage demo "$@"   # STAGE, ROOT, PKG_CONFIG_PATH, LD_LIBRARY_PATH
OUT=$ROOT/build/samples

mkdir -p "$OUT"
stage_pkg
"${CC:-cc}" -std=c99 -O2 -Wall -Wextra -Werror -o "$OUT/echo-client" \
  "$ROOT/bindings/c/echo-client.c" "${PKG[@]}"

demo_workdir "sagsocket-$HOST-demo"

# echo.scm takes its service from the command line; ask the OS for a free
# port on loopback first.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$HOST" = Chez ]; then
  timeout 60 scheme --libdirs "$ROOT/bindings/scheme" --program "$ROOT/bindings/scheme/examples/echo.scm" "$PORT" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
else
  # Guile compiles the libraries on first use (into its cache: here a
  # fresh one, so the demo shows a first run).
  XDG_CACHE_HOME=$WORK/cache timeout 120 \
    guile -L "$(pkg-config --variable=guilelibdir sagsocket)" "$ROOT/bindings/scheme/examples/echo.scm" "$PORT" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
fi
SERVER_PID=$!
# Wait until the port is listening (a probe connection would be a client
# that the seed's server greets and then fails on).
listening() { awk -v p="$(printf '%04X' "$PORT")" '$4 == "0A" && $2 ~ (":" p "$") {f=1} END {exit !f}' /proc/net/tcp; }
for _ in $(seq 1 600); do
  listening && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
echo "demo ($HOST): echo.scm listening on port $PORT"

printf 'hello\nSagittarius ソケット\nbye\n' >"$WORK/client1.in"
printf 'second client\r\n\r\nこんにちは、世界\r\nno newline at the end' >"$WORK/client2.in"
status=0
for i in 1 2; do
  timeout 20 "$OUT/echo-client" 127.0.0.1 "$PORT" <"$WORK/client$i.in" \
    >"$WORK/client$i.out" 2>"$WORK/client$i.err" || { echo "demo ($HOST): FAIL: client $i exited $?" >&2; status=1; }
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

# The native transcoder (Chez's and Guile's) has end-of-line style none: get-line keeps a CR
# that precedes the LF, so the CRLF client's lines come back with it.
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
  if cmp -s "$2" "$3"; then echo "demo ($HOST): ok: $1"
  else echo "demo ($HOST): FAIL: $1 differs (expected, then got):" >&2
       diff <(od -c "$2") <(od -c "$3") >&2 || true; status=1; fi
}
check "server received lines" "$WORK/server.expected" "$WORK/server.out"
check "client 1 transcript" "$WORK/client1.expected" "$WORK/client1.out"
check "client 2 transcript" "$WORK/client2.expected" "$WORK/client2.out"
if [ "$status" -eq 0 ]; then echo "demo ($HOST): PASS (2 clients, 7 lines echoed)"; else echo "demo ($HOST): FAIL" >&2; fi
exit "$status"
